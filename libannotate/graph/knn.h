/*  knn.h: an exact k-nearest-neighbour graph over dense float vectors,
    built in blocks with OpenBLAS sgemm and kept up to date as points
    arrive.

    Points are appended with knn_add (an id and `dim` floats; nothing is
    computed yet). knn_update then brings the graph up to date with the
    points added since the last call: the new points are taken in blocks of
    rows, each block is multiplied by all points (one sgemm, block x n
    similarities), and every row of the block keeps its top k (itself
    excluded); the same block gives each old point its similarity to the
    new ones, which enter the old point's top-k list where they beat it.
    So an update of m new points against n costs O(m n dim) time, and the
    first update (or knn_build, which starts over) is the full O(n^2 dim)
    build. Memory: the vectors (n dim floats), the lists (n k indices and
    similarities) and one block of similarities, at most KNN_BLOCK_BYTES.

    Lists are kept sorted, best first: higher similarity first, equal
    similarities by lower point index, so a graph does not depend on the
    block size. A list is a sorted array of k: a candidate is compared with
    the current k-th (almost all stop there) and shifted into place
    otherwise; for k of at most a few dozen this beats a heap.

    Metrics. KNN_COSINE (the default): every vector is L2-normalised when
    added and the similarity is the dot product, in [-1, 1]. KNN_EUCLIDEAN:
    vectors are kept as given and the similarity is minus the squared
    Euclidean distance (2 x.y - |x|^2 - |y|^2, so higher is still nearer,
    and 0 for a duplicate): the graph scikit-learn's NearestNeighbors
    builds, for comparing label spreading with it on raw pixels.

    Where exact search stops scaling (measured on this project's machine,
    2 vCPUs, OpenBLAS with 2 threads, Fashion-MNIST, 784 floats, k 10, see
    bench/RESULTS.md "Label propagation"): n = 10,000 builds in about
    0.5 s and n = 60,000 in about 17 s; the cost grows as n^2, so 200,000
    items would take about 3 minutes and a million over an hour, and every
    new item costs a pass over all n vectors (an update of 100 new points
    against 60,000 takes a few tens of ms). Beyond a few hundred thousand
    items, or for per-item latency in milliseconds at that size, the
    approximate path is an inverted-file index (k-means into ~sqrt(n)
    cells with sgemm, each query scanning the nearest few cells, so an
    update costs O(sqrt(n) dim) per point) or an HNSW graph; both keep this
    API (add, update, neighbours) and trade a small recall loss, measured
    against this exact graph. Not built: at the pool sizes the project
    targets (tens of thousands) exact is affordable and gives the same
    graph as scikit-learn.

    Not thread-safe: one owner (the propagation actor) adds and updates.
*/
#ifndef ANNOTATE_GRAPH_KNN_H
#define ANNOTATE_GRAPH_KNN_H

#include <stddef.h>
#include <stdint.h>

#define KNN_MAX_DIM     65536
#define KNN_MAX_K       1024
#define KNN_MAX_ID      1024                    /* bytes of an id */
#define KNN_MAX_POINTS  ((size_t) INT32_MAX)      /* sgemm takes int sizes */
#define KNN_BLOCK_BYTES ((size_t) 64 << 20)     /* similarities held at once */

typedef enum { KNN_COSINE = 0, KNN_EUCLIDEAN = 1 } knn_metric_t;

typedef struct knn_t knn_t;

/*  A graph of k neighbours per point over vectors of dim floats; NULL when
    dim is not in 1..KNN_MAX_DIM, k not in 1..KNN_MAX_K, or out of memory.  */
knn_t *knn_new (size_t dim, size_t k);
void knn_destroy (knn_t **self_p);

/*  Chooses the metric; only before the first knn_add (else -1).  */
int knn_set_metric (knn_t *self, knn_metric_t metric);

/*  Rows per sgemm block (for tests and measurements; 0 restores the
    automatic choice, as many rows as KNN_BLOCK_BYTES allows, at most 1024).  */
void knn_set_block_rows (knn_t *self, size_t rows);

/*  Appends a point: id (valid UTF-8, at most KNN_MAX_ID bytes, copied; NULL
    for none) and dim floats (copied). Its neighbours are computed by the
    next knn_update. Returns 0, or -1 with err set (bad id, a non-finite
    value, a Euclidean vector whose squared norm overflows a float, more
    than KNN_MAX_POINTS points, out of memory); the graph is unchanged then.  */
int knn_add (knn_t *self, const char *id, const float *vec, char *err, size_t errlen);

/*  Computes the neighbours of the points added since the last update and
    updates the older points' lists with them. Returns 0, or -1 when out of
    memory (the pending points stay pending; the graph is as before).  */
int knn_update (knn_t *self);

/*  Forgets every list and builds the whole graph again (knn_update from
    nothing). Returns 0 or -1 as knn_update.  */
int knn_build (knn_t *self);

size_t knn_size (const knn_t *self);        /* points added */
size_t knn_pending (const knn_t *self);     /* added since the last update */
size_t knn_dim (const knn_t *self);
size_t knn_k (const knn_t *self);
knn_metric_t knn_metric (const knn_t *self);

/*  Point i's id (NULL if none) and its stored vector (normalised under
    KNN_COSINE); NULL when i is out of range.  */
const char *knn_id (const knn_t *self, size_t i);
const float *knn_vector (const knn_t *self, size_t i);

/*  Point i's neighbours, best first: *idx and *sim (either may be NULL)
    point at the count entries, valid until the next knn_add or update.
    Returns the count: min (k, points updated - 1); 0 for a point still
    pending or out of range.  */
size_t knn_neighbours (const knn_t *self, size_t i, const uint32_t **idx, const float **sim);

#endif
