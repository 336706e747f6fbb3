/*  knn.c: the exact blocked k-nearest-neighbour graph (see knn.h).  */
#include <cblas.h>
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "graph/knn.h"
#include "util/util.h"

#define MAX_BLOCK_ROWS 1024

struct knn_t {
    size_t dim, k;
    knn_metric_t metric;
    size_t n, cap;          /* points added, allocated */
    size_t n_done;          /* points 0 .. n_done - 1 have up-to-date lists */
    size_t block_rows;      /* 0: automatic */
    float *vec;             /* cap x dim */
    float *sqnorm;          /* cap: |x|^2, for KNN_EUCLIDEAN */
    char **ids;             /* cap */
    uint32_t *nbr;          /* cap x k, best first */
    float *sim;             /* cap x k */
    uint32_t *count;        /* cap */
    float *worst;           /* cap: the k-th similarity, -inf while fewer */
};

knn_t *
knn_new (size_t dim, size_t k)
{
    if (dim == 0 || dim > KNN_MAX_DIM || k == 0 || k > KNN_MAX_K)
        return NULL;
    knn_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->dim = dim;
    self->k = k;
    return self;
}

void
knn_destroy (knn_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    knn_t *self = *self_p;
    for (size_t i = 0; i < self->n; i++)
        free (self->ids[i]);
    free (self->ids);
    free (self->vec);
    free (self->sqnorm);
    free (self->nbr);
    free (self->sim);
    free (self->count);
    free (self->worst);
    free (self);
    *self_p = NULL;
}

int
knn_set_metric (knn_t *self, knn_metric_t metric)
{
    if (self->n > 0 || (metric != KNN_COSINE && metric != KNN_EUCLIDEAN))
        return -1;
    self->metric = metric;
    return 0;
}

void
knn_set_block_rows (knn_t *self, size_t rows)
{
    self->block_rows = rows > MAX_BLOCK_ROWS ? MAX_BLOCK_ROWS : rows;
}

/*  Grows every per-point array to hold at least want points. Each realloc
    that succeeds is kept, so a failure leaves a consistent (if larger)
    graph.  */
static int
reserve (knn_t *self, size_t want)
{
    if (want <= self->cap)
        return 0;
    size_t cap = self->cap ? self->cap * 2 : 256;
    while (cap < want)
        cap *= 2;
    if (cap > KNN_MAX_POINTS)
        cap = KNN_MAX_POINTS;
#define GROW(field, per)                                                              \
    do {                                                                              \
        void *p_ = realloc (self->field, cap * (per) * sizeof *self->field);          \
        if (!p_)                                                                      \
            return -1;                                                                \
        self->field = p_;                                                             \
    } while (0)
    GROW (vec, self->dim);
    GROW (sqnorm, 1);
    GROW (ids, 1);
    GROW (nbr, self->k);
    GROW (sim, self->k);
    GROW (count, 1);
    GROW (worst, 1);
#undef GROW
    self->cap = cap;
    return 0;
}

/*  Copies vec into slot dst, normalised under KNN_COSINE; fills sqnorm.  */
static int
store_vector (knn_t *self, const float *vec, float *dst, float *sqnorm, char *err, size_t errlen)
{
    double ss = 0;
    for (size_t j = 0; j < self->dim; j++) {
        if (!isfinite (vec[j]))
            return err_set (err, errlen, "knn: value %zu is not finite", j);
        ss += (double) vec[j] * vec[j];
    }
    if (ss > FLT_MAX / 4)
        return err_set (err, errlen, "knn: vector too large (squared norm %g)", ss);
    float scale = 1.0f;
    if (self->metric == KNN_COSINE && ss > 0)
        scale = (float) (1.0 / sqrt (ss));
    for (size_t j = 0; j < self->dim; j++)
        dst[j] = vec[j] * scale;
    *sqnorm = self->metric == KNN_COSINE ? (ss > 0 ? 1.0f : 0.0f) : (float) ss;
    return 0;
}

int
knn_add (knn_t *self, const char *id, const float *vec, char *err, size_t errlen)
{
    if (!vec)
        return err_set (err, errlen, "knn: no vector");
    if (self->n >= KNN_MAX_POINTS)
        return err_set (err, errlen, "knn: more than %zu points", KNN_MAX_POINTS);
    size_t id_len = id ? strlen (id) : 0;
    if (id && (id_len > KNN_MAX_ID || !utf8_valid (id, id_len)))
        return err_set (err, errlen, "knn: id is longer than %d bytes or not UTF-8", KNN_MAX_ID);
    if (reserve (self, self->n + 1) != 0)
        return err_set (err, errlen, "knn: out of memory at %zu points", self->n);
    size_t i = self->n;
    if (store_vector (self, vec, self->vec + i * self->dim, self->sqnorm + i, err, errlen) != 0)
        return -1;
    self->ids[i] = NULL;
    if (id && !(self->ids[i] = strdup (id)))
        return err_set (err, errlen, "knn: out of memory");
    self->count[i] = 0;
    self->n++;
    return 0;
}

/*  (s, j) ranks before (t, l): higher similarity, then lower index.  */
static inline bool
better (float s, uint32_t j, float t, uint32_t l)
{
    return s > t || (s == t && j < l);
}

/*  Offers candidate j with similarity s to point i's list. The caller has
    checked s >= worst[i], which almost every candidate fails.  */
static void
offer (knn_t *self, size_t i, uint32_t j, float s)
{
    uint32_t *L = self->nbr + i * self->k;
    float *S = self->sim + i * self->k;
    size_t cnt = self->count[i];
    if (cnt == self->k && !better (s, j, S[cnt - 1], L[cnt - 1]))
        return;
    size_t pos = cnt == self->k ? cnt - 1 : cnt;
    while (pos > 0 && better (s, j, S[pos - 1], L[pos - 1])) {
        S[pos] = S[pos - 1];
        L[pos] = L[pos - 1];
        pos--;
    }
    S[pos] = s;
    L[pos] = j;
    if (cnt < self->k)
        self->count[i] = (uint32_t) ++cnt;
    if (cnt == self->k)
        self->worst[i] = S[cnt - 1];
}

/*  Row i's similarities to the points j0, j0 + 1, ... (len of them), each
    pair offered both ways; a similarity is computed once per pair.  */
static void
scan_pairs (knn_t *self, size_t i, const float *row, size_t j0, size_t len)
{
    float *worst = self->worst;
    for (size_t c = 0; c < len; c++) {
        size_t j = j0 + c;
        float s = row[c];
        if (s >= worst[i])
            offer (self, i, (uint32_t) j, s);
        if (s >= worst[j])
            offer (self, j, (uint32_t) i, s);
    }
}

/*  Dot products to minus squared distances, for KNN_EUCLIDEAN: rows of
    points r0 .., columns of points c0 .. c0 + cols - 1.  */
static void
to_euclidean (const knn_t *self, float *block, size_t r0, size_t rows, size_t c0, size_t cols)
{
    for (size_t r = 0; r < rows; r++) {
        float ni = self->sqnorm[r0 + r];
        float *row = block + r * cols;
        for (size_t c = 0; c < cols; c++) {
            float d = ni + self->sqnorm[c0 + c] - 2.0f * row[c];
            row[c] = d > 0 ? -d : 0.0f;
        }
    }
}

static size_t
pick_block_rows (const knn_t *self, size_t pending)
{
    size_t rows = self->block_rows;
    if (rows == 0) {
        rows = KNN_BLOCK_BYTES / (self->n * sizeof (float));
        rows = rows > MAX_BLOCK_ROWS ? MAX_BLOCK_ROWS : rows < 1 ? 1 : rows;
    }
    return rows < pending ? rows : pending;
}

/*  block = similarities of points r0 .. r0 + rows - 1 to points c0 ..
    c0 + cols - 1 (row-major, cols wide).  */
static void
similarities (const knn_t *self, float *block, size_t r0, size_t rows, size_t c0, size_t cols)
{
    if (cols == 0)
        return;
    size_t d = self->dim;
    cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, (int) rows, (int) cols, (int) d, 1.0f,
                 self->vec + r0 * d, (int) d, self->vec + c0 * d, (int) d, 0.0f, block, (int) cols);
    if (self->metric == KNN_EUCLIDEAN)
        to_euclidean (self, block, r0, rows, c0, cols);
}

/*  One block of new points b0 .. b0 + nr - 1: against the old points
    0 .. m - 1, and against the new points from b0 on, of which each row
    takes only those after it (the pairs before were offered by earlier
    rows). So a full build computes each pair once: half of n^2 dim.  */
static void
update_block (knn_t *self, float *block, size_t m, size_t b0, size_t nr)
{
    size_t n = self->n, cols = n - b0;
    similarities (self, block, b0, nr, 0, m);
    for (size_t r = 0; r < nr; r++)
        scan_pairs (self, b0 + r, block + r * m, 0, m);
    similarities (self, block, b0, nr, b0, cols);
    for (size_t r = 0; r < nr; r++)
        scan_pairs (self, b0 + r, block + r * cols + r + 1, b0 + r + 1, cols - r - 1);
}

/*  Brings points m .. n - 1 up to date (m = 0: the whole graph). The block
    is allocated before anything changes, so a failure leaves the graph as
    it was.  */
static int
update_from (knn_t *self, size_t m)
{
    size_t n = self->n;
    if (m == n)
        return 0;
    size_t rows = pick_block_rows (self, n - m);
    float *block = malloc (rows * n * sizeof *block);
    if (!block)
        return -1;
    for (size_t i = m; i < n; i++) {
        self->count[i] = 0;
        self->worst[i] = -INFINITY;
    }
    for (size_t b0 = m; b0 < n; b0 += rows)
        update_block (self, block, m, b0, n - b0 < rows ? n - b0 : rows);
    free (block);
    self->n_done = n;
    return 0;
}

int
knn_update (knn_t *self)
{
    return update_from (self, self->n_done);
}

int
knn_build (knn_t *self)
{
    return update_from (self, 0);
}

size_t knn_size (const knn_t *self) { return self->n; }
size_t knn_pending (const knn_t *self) { return self->n - self->n_done; }
size_t knn_dim (const knn_t *self) { return self->dim; }
size_t knn_k (const knn_t *self) { return self->k; }
knn_metric_t knn_metric (const knn_t *self) { return self->metric; }

const char *
knn_id (const knn_t *self, size_t i)
{
    return i < self->n ? self->ids[i] : NULL;
}

const float *
knn_vector (const knn_t *self, size_t i)
{
    return i < self->n ? self->vec + i * self->dim : NULL;
}

size_t
knn_neighbours (const knn_t *self, size_t i, const uint32_t **idx, const float **sim)
{
    if (i >= self->n_done)
        return 0;
    if (idx)
        *idx = self->nbr + i * self->k;
    if (sim)
        *sim = self->sim + i * self->k;
    return self->count[i];
}
