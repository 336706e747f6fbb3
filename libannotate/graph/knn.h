/*  knn.h: an exact k-nearest-neighbour graph over dense float vectors,
    built in blocks with OpenBLAS sgemm and kept up to date as points
    arrive.

    Points are appended with knn_add (an id and `dim` floats; nothing is
    computed yet). knn_update then brings the graph up to date with the
    points added since the last call: the new points are taken in blocks of
    rows, each block is multiplied (sgemm) by the old points and by the new
    points from the block on, and every similarity is offered both ways:
    to the new point's top-k list (itself excluded) and to the other
    point's, where it beats that list's k-th.
    So an update of m new points against n costs O(m n dim) time, and the
    first update (or knn_build, which starts over) is the full O(n^2 dim)
    build. Memory: the vectors (n dim floats), the lists (n k indices and
    similarities) and one block of similarities, at most KNN_BLOCK_BYTES.

    Lists are kept sorted, best first: higher similarity first, equal
    similarities by lower point index, so a graph does not depend on the
    block size or on the order of updates (up to float rounding in sgemm). A list is a sorted array of k: a candidate is compared with
    the current k-th (almost all stop there) and shifted into place
    otherwise; for k of at most a few dozen this is as cheap as a heap and
    leaves the list sorted.

    Metrics. KNN_COSINE (the default): every vector is L2-normalised when
    added and the similarity is the dot product, in [-1, 1]. KNN_EUCLIDEAN:
    vectors are kept as given and the similarity is minus the squared
    Euclidean distance (2 x.y - |x|^2 - |y|^2, so higher is still nearer,
    and 0 for a duplicate): the graph scikit-learn's NearestNeighbors
    builds, for comparing label spreading with it on raw pixels.

    A full build computes each pair once (a block of rows against the
    points from the block on), so it costs n^2 dim / 2 multiply-adds, and
    nearly all of its time is sgemm: the top-k scan is a compare per pair
    against the list's current k-th (kept in a compact array).

    Where exact search stops scaling (measured on this project's shared
    machine, 2 vCPUs, OpenBLAS with 2 threads, Fashion-MNIST, 784 floats,
    k 9, three runs; bench/RESULTS.md "Label propagation"): n = 10,000
    builds in 0.56-1.2 s (scikit-learn's NearestNeighbors graph: 2.1-4.7 s)
    and n = 60,000 in 35-57 s (scikit-learn: 85-109 s); an update of 100
    new points against 60,000 takes 0.16-0.19 s. The cost grows as n^2: 200,000 items would take
    about 10 minutes to build and a million about 4 hours, and every new
    item costs a pass over all n vectors (3 ms per item at 60,000). So
    exact search is right up to about 100,000 items; beyond that, or for
    interactive per-item updates at that size, the approximate path is an
    inverted-file index (k-means into ~sqrt(n) cells with the same sgemm,
    each point searching its nearest few cells: O(n sqrt(n) dim) to build,
    O(sqrt(n) dim) per new item) or an HNSW graph (O(log n) per item).
    Both fit this API (add, update, neighbours) and lose a little recall,
    to be measured against this exact graph. Not built: at the pool sizes
    the project targets exact search is affordable and gives
    scikit-learn's graph.

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
