/*  spread.h: label spreading (Zhou et al., "Learning with local and global
    consistency", 2004) over a kNN graph, computed exactly as
    scikit-learn's LabelSpreading(kernel='knn') (version 1.2) computes it,
    so its figures can be compared one to one.

    What scikit-learn does, and so what this does:
    - The affinity W is NearestNeighbors(n_neighbors).kneighbors_graph(X,
      mode='connectivity'): row i has a 1 at each of i's n_neighbors
      nearest points, the point itself among them. W is NOT symmetrised.
    - scipy's csgraph.laplacian(W, normed=True) takes the degree of j as
      the column sum of W minus its diagonal (in-degree: how many other
      points count j among their neighbours); a degree of 0 counts as 1.
      LabelSpreading negates the Laplacian and zeroes its diagonal, so
      S[i][j] = W[i][j] / sqrt (d_i d_j) for j != i, and the self link is
      dropped. Here W's row i is the first n_neighbors - 1 entries of i's
      knn list (knn.h excludes the point itself), which is the same matrix.
    - Y is the one-hot matrix of the given labels (zero rows for
      unlabelled points). F starts at Y; each iteration first stops if
      sum |F - F_previous| < tol (F_previous starts at 0), else sets
      F <- alpha S F + (1 - alpha) Y (soft clamping: labelled points can
      move), at most max_iter times.
    - Each row of F is divided by its sum; the label is its argmax (the
      first on ties) and the confidence its maximum: scikit-learn's
      label_distributions_ and transduction_.
    Deviations: a row with no mass at all (a point no label reached) gets
    label -1 and confidence 0, where scikit-learn says classes_[0]. And
    when a point has an exact duplicate, scikit-learn's neighbour search
    may list the duplicate instead of the point itself; knn.h always
    excludes the point itself, so the graphs can differ in such rows (and
    in how ties between equally near points are broken).

    Cost per iteration: O(n (n_neighbors - 1) n_classes), one pass over a
    sparse matrix; memory: three n x n_classes arrays of doubles and the
    graph's n (n_neighbors - 1) weights.
*/
#ifndef ANNOTATE_GRAPH_SPREAD_H
#define ANNOTATE_GRAPH_SPREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "graph/knn.h"

#define SPREAD_MAX_CLASSES 4096
#define SPREAD_MAX_ITER    100000

typedef struct {
    size_t n_neighbors;     /* as scikit-learn, counting the point itself: 7 */
    double alpha;           /* weight of the neighbours, in (0, 1): 0.2 */
    size_t max_iter;        /* 30 */
    double tol;             /* stop when sum |F - F_previous| < tol: 1e-3 */
} spread_config_t;

typedef struct spread_t spread_t;

/*  scikit-learn's defaults for LabelSpreading: 7, 0.2, 30, 1e-3.  */
void spread_config_default (spread_config_t *cfg);

/*  0 when n_neighbors is in 1..KNN_MAX_K + 1, alpha in (0, 1), max_iter in
    1..SPREAD_MAX_ITER and tol finite and >= 0; else -1 with err naming the
    field.  */
int spread_config_check (const spread_config_t *cfg, char *err, size_t errlen);

/*  A spreader with a copy of cfg; NULL when cfg fails the check or out of
    memory.  */
spread_t *spread_new (const spread_config_t *cfg);
void spread_destroy (spread_t **self_p);

/*  Spreads labels over graph: labels[i] is point i's class in
    0..n_classes - 1, or -1 when unlabelled (knn_size (graph) entries).
    The graph must be up to date (knn_pending 0) with knn_k >=
    n_neighbors - 1. Returns 0, or -1 with err set (bad label, too many
    classes, stale or too small graph, out of memory); the previous result
    is dropped either way.  */
int spread_run (spread_t *self, const knn_t *graph, const int32_t *labels, size_t n_classes,
                char *err, size_t errlen);

/*  The result of the last successful run. For i out of range: -1, 0, NULL.  */
size_t spread_size (const spread_t *self);
size_t spread_classes (const spread_t *self);
int32_t spread_label (const spread_t *self, size_t i);
double spread_confidence (const spread_t *self, size_t i);
const double *spread_distribution (const spread_t *self, size_t i);   /* n_classes, sums to 1 or all 0 */
/*  Iterations run (scikit-learn's n_iter_) and whether tol was reached.  */
size_t spread_iterations (const spread_t *self);
bool spread_converged (const spread_t *self);

#endif
