/*  model.c: the model object: allocation, copies, accessors, scoring and
    the online update. Training is in model_train.c, the file format in
    model_io.c, measurement in model_metrics.c; the representation (and
    why weights are feature-major) is in model_internal.h.

    Scoring is the hot path of annotation, so model_predict allocates
    nothing: the caller's proba buffer holds the margins first, then the
    probabilities. It only reads the model, so threads may share one.
*/
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_internal.h"
#include "util/util.h"

void
model_train_config_default (model_train_config_t *cfg)
{
    cfg->C = 1.0;
    cfg->eps = 0.01;
    cfg->calibrate = true;
    cfg->solver = MODEL_SOLVER_AUTO;
    cfg->max_iter = 0;
}

bool
model_features_valid (const features_config_t *cfg, char *err, size_t errlen)
{
    if (features_config_check (cfg, err, errlen) != 0)
        return false;
    if (cfg->vector_dim > MODEL_MAX_VECTOR_DIM)
        return err_set (err, errlen, "vector_dim %u above %u", cfg->vector_dim, MODEL_MAX_VECTOR_DIM), false;
    if (features_dim (cfg) == 0)
        return err_set (err, errlen, "no features: hash_bits and vector_dim are both 0"), false;
    return true;
}

bool
model_label_valid (const char *name, size_t len)
{
    return len >= 1 && len <= MODEL_MAX_LABEL && utf8_valid (name, len);
}

model_t *
model_alloc (const features_config_t *features, const char *const *labels, size_t n_labels,
             char *err, size_t errlen)
{
    if (!model_features_valid (features, err, errlen))
        return NULL;
    if (n_labels < 2 || n_labels > MODEL_MAX_CLASSES)
        return err_set (err, errlen, "%zu classes: need 2..%d", n_labels, MODEL_MAX_CLASSES), NULL;
    for (size_t k = 0; k < n_labels; k++) {
        if (!labels[k] || !model_label_valid (labels[k], strlen (labels[k])))
            return err_set (err, errlen, "class %zu: name must be 1..%d bytes of UTF-8", k,
                            MODEL_MAX_LABEL), NULL;
        for (size_t j = 0; j < k; j++)
            if (strcmp (labels[j], labels[k]) == 0)
                return err_set (err, errlen, "class name \"%s\" appears twice", labels[k]), NULL;
    }
    size_t dim = features_dim (features);
    if (dim + 1 > SIZE_MAX / sizeof (float) / n_labels)
        return err_set (err, errlen, "model too large"), NULL;

    model_t *self = calloc (1, sizeof *self);
    if (!self)
        return err_set (err, errlen, "out of memory"), NULL;
    self->features = *features;
    self->dim = dim;
    self->n_classes = n_labels;
    self->temperature = 1.0;
    self->bias = 1.0f;
    self->labels = calloc (n_labels, sizeof *self->labels);
    self->w = calloc ((dim + 1) * n_labels, sizeof (float));
    bool ok = self->labels && self->w;
    for (size_t k = 0; ok && k < n_labels; k++)
        ok = (self->labels[k] = strdup (labels[k])) != NULL;
    if (!ok) {
        model_destroy (&self);
        return err_set (err, errlen, "out of memory for %zu x %zu weights", n_labels, dim + 1), NULL;
    }
    model_dense_sync (self);    /* zero, like w */
    return self;
}

void
model_destroy (model_t **self_p)
{
    model_t *self = *self_p;
    if (!self)
        return;
    if (self->labels)
        for (size_t k = 0; k < self->n_classes; k++)
            free (self->labels[k]);
    free (self->labels);
    free (self->w);
    free (self->wt);
    free (self);
    *self_p = NULL;
}

model_t *
model_clone (const model_t *self)
{
    model_t *copy = model_alloc (&self->features, (const char *const *) self->labels,
                                 self->n_classes, NULL, 0);
    if (!copy)
        return NULL;
    copy->temperature = self->temperature;
    copy->bias = self->bias;
    memcpy (copy->w, self->w, (self->dim + 1) * self->n_classes * sizeof (float));
    model_dense_sync (copy);
    return copy;
}

size_t
model_n_classes (const model_t *self)
{
    return self->n_classes;
}

const char *
model_label (const model_t *self, size_t k)
{
    return k < self->n_classes ? self->labels[k] : NULL;
}

const features_config_t *
model_features (const model_t *self)
{
    return &self->features;
}

/*  acc[0..K) += sum of val[i] * row idx[i], for a K known at compile time
    (the switch below instantiates it), so the class loop is unrolled into
    4-wide vector operations even at -O2. Rows are K floats apart and need
    not be aligned; loads go through memcpy. Classes are summed in the same
    order as the plain loop, so the margins are bit-for-bit the same.  */
typedef float v4f __attribute__ ((vector_size (16)));

static inline __attribute__ ((always_inline)) void
s_margins_k (const float *restrict w, const uint32_t *restrict idx, const float *restrict val,
             size_t n, size_t dim, float *restrict acc, const size_t K)
{
    enum { V = 4 };         /* K <= 16 */
    v4f a[V];
    float t[4];
    const size_t nv = K / 4, tail = K % 4;
    for (size_t c = 0; c < nv; c++)
        memcpy (&a[c], acc + 4 * c, sizeof a[c]);
    for (size_t k = 0; k < tail; k++)
        t[k] = acc[4 * nv + k];
    for (size_t i = 0; i < n; i++) {
        if (idx[i] >= dim)
            continue;
        const float v = val[i];
        const float *row = w + (size_t) idx[i] * K;
        for (size_t c = 0; c < nv; c++) {
            v4f r;
            memcpy (&r, row + 4 * c, sizeof r);
            a[c] += v * r;
        }
        for (size_t k = 0; k < tail; k++)
            t[k] += v * row[4 * nv + k];
    }
    for (size_t c = 0; c < nv; c++)
        memcpy (acc + 4 * c, &a[c], sizeof a[c]);
    for (size_t k = 0; k < tail; k++)
        acc[4 * nv + k] = t[k];
}

/*  Accumulates in a local array the compiler knows does not alias the
    weights; up to 16 classes get an unrolled kernel of their own.  */
void
model_margins (const model_t *self, const sparse_vec_t *x, float *out)
{
    const size_t nk = self->n_classes, dim = self->dim, n = x->n;
    const float *restrict w = self->w;
    const uint32_t *restrict idx = x->idx;
    const float *restrict val = x->val;
    float acc[MODEL_MAX_CLASSES];
    for (size_t k = 0; k < nk; k++)
        acc[k] = self->bias * w[dim * nk + k];
    switch (nk) {
#define K_CASE(K) case K: s_margins_k (w, idx, val, n, dim, acc, K); break;
    K_CASE (2) K_CASE (3) K_CASE (4) K_CASE (5) K_CASE (6) K_CASE (7) K_CASE (8)
    K_CASE (9) K_CASE (10) K_CASE (11) K_CASE (12) K_CASE (13) K_CASE (14) K_CASE (15)
    K_CASE (16)
#undef K_CASE
    default:
        for (size_t i = 0; i < n; i++) {
            if (idx[i] >= dim)
                continue;
            const float v = val[i];
            const float *restrict row = w + (size_t) idx[i] * nk;
            for (size_t k = 0; k < nk; k++)
                acc[k] += v * row[k];
        }
    }
    memcpy (out, acc, nk * sizeof *out);
}

size_t
model_softmax (float *m, size_t n, double t)
{
    size_t best = 0;
    for (size_t k = 1; k < n; k++)
        if (m[k] > m[best])
            best = k;
    float inv = (float) (1.0 / t), top = m[best], sum = 0;
    for (size_t k = 0; k < n; k++) {
        m[k] = expf ((m[k] - top) * inv);
        sum += m[k];
    }
    for (size_t k = 0; k < n; k++)
        m[k] /= sum;       /* sum >= 1: the arg-max contributes exp (0) */
    return best;
}

size_t
model_predict (const model_t *self, const sparse_vec_t *x, float *proba)
{
    model_margins (self, x, proba);
    return model_softmax (proba, self->n_classes, self->temperature);
}

/*  The gradient of -log p_y with respect to w_k is (p_k - [k == y]) x, so
    one step costs a pass over x's nonzeros per class, nothing more. A
    dense feature's weights are also in wt (model_dense.c): the updated
    row is copied there, so the two stay equal.  */
void
model_online_update (model_t *self, const sparse_vec_t *x, int32_t y, float lr)
{
    size_t nk = self->n_classes;
    if (y < 0 || (size_t) y >= nk || !isfinite (lr) || lr <= 0)
        return;
    float g[MODEL_MAX_CLASSES];
    model_predict (self, x, g);
    g[y] -= 1.0f;
    for (size_t k = 0; k < nk; k++)
        g[k] *= lr;
    const size_t off = model_dense_offset (self);
    for (size_t i = 0; i < x->n; i++) {
        uint32_t j = x->idx[i];
        const float v = x->val[i];
        if (j >= self->dim || !isfinite (v))
            continue;
        float *row = self->w + (size_t) j * nk;
        for (size_t k = 0; k < nk; k++)
            row[k] -= g[k] * v;
        if (self->wt && j >= off)
            for (size_t k = 0; k < nk; k++)
                self->wt[k * self->wt_stride + (j - off)] = row[k];
    }
    float *brow = self->w + self->dim * nk;
    for (size_t k = 0; k < nk; k++)
        brow[k] -= g[k] * self->bias;
}
