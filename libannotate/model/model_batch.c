/*  model_batch.c: model_predict_batch, scoring many examples at once.

    Dense inputs (pixels, embeddings) are what one item at a time does
    badly: every item reads the whole dense block of the weights, row by
    row, with an inner loop only n_classes long. A batch instead gathers
    the dense part of its items (feature indices 2^hash_bits .. dim - 1)
    into a row-major matrix X and multiplies it by the dense block of the
    weights in one OpenBLAS sgemm. The feature-major layout of model_t
    (model_internal.h) already is that block as a row-major
    vector_dim x n_classes matrix, so nothing is copied and an online
    update is seen at once. The hashed text part stays sparse: it is added
    item by item, reading one short weight row per nonzero, as
    model_margins does.

    Items without any dense nonzero get no row in X. Which path a batch
    takes is decided per batch (choose_mode): measured on this project's
    2-vCPU machine, sgemm wins only when there are many classes, since the
    per-item loop has a vectorised kernel for up to 16 (model.c) and a
    product only n_classes wide is a poor case for OpenBLAS; models
    without a dense part always take the loop. MODEL_BATCH_DENSE (rows of
    16 items gathered and scored by model_dense_dots, the class-major
    kernel of model_predict_items) is there to be forced and measured:
    gathering sparse vectors back into rows cost more than it saved on
    digits and Fashion (bench/RESULTS.md "Dense fast path"), so the
    automatic choice does not take it; raw dense items should go through
    model_predict_items instead. X is at most CHUNK rows,
    so the memory a call takes is bounded; when even that cannot be had
    the loop is used, so a call always scores everything. The number of
    BLAS threads is the caller's business (openblas_set_num_threads);
    nothing here changes it.
*/
#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_internal.h"

#define BLAS_MIN_BATCH   1
#define BLAS_MIN_DENSITY 0.5
#define LOOP_MAX_CLASSES 16
#define CHUNK          256
#define DENSE_ROWS     16       /* items gathered at once for model_dense_dots */

size_t
model_dense_offset (const model_t *self)
{
    return self->features.hash_bits ? (size_t) 1 << self->features.hash_bits : 0;
}

static size_t
score_loop (const model_t *self, const sparse_vec_t *const *xs, size_t n, float *proba,
            size_t *argmax)
{
    static const sparse_vec_t empty = { 0 };
    const size_t nk = self->n_classes;
    for (size_t i = 0; i < n; i++) {
        size_t best = model_predict (self, xs[i] ? xs[i] : &empty, proba + i * nk);
        if (argmax)
            argmax[i] = best;
    }
    return n;
}

/*  Bias and text part of x into out[n_classes] (model_margins over the
    entries below the dense offset: x is sorted, so they are a prefix);
    its dense values into row, zeroed first. True when x has a dense
    nonzero.  */
static bool
split_item (const model_t *self, const sparse_vec_t *x, float *out, float *row)
{
    const size_t dim = self->dim, off = model_dense_offset (self);
    size_t lo = 0, hi = x ? x->n : 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (x->idx[mid] < off)
            lo = mid + 1;
        else
            hi = mid;
    }
    const sparse_vec_t text = { x ? x->idx : NULL, x ? x->val : NULL, lo, lo };
    model_margins (self, &text, out);
    memset (row, 0, (dim - off) * sizeof *row);
    bool dense = false;
    for (size_t e = lo; x && e < x->n && x->idx[e] < dim; e++) {
        row[x->idx[e] - off] = x->val[e];
        dense = true;
    }
    return dense;
}

/*  One chunk of at most CHUNK items: X gathers the dense rows, Z receives
    X times the dense block, each added to its item's margins.  */
static void
score_chunk (const model_t *self, const sparse_vec_t *const *xs, size_t n, float *proba,
             size_t *argmax, float *X, float *Z, size_t *rows)
{
    const size_t nk = self->n_classes, off = model_dense_offset (self), vd = self->dim - off;
    size_t nr = 0;
    for (size_t i = 0; i < n; i++)
        if (split_item (self, xs[i], proba + i * nk, X + nr * vd))
            rows[nr++] = i;
    if (nr > 0)
        cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, (int) nr, (int) nk, (int) vd, 1.0f,
                     X, (int) vd, self->w + off * nk, (int) nk, 0.0f, Z, (int) nk);
    for (size_t r = 0; r < nr; r++) {
        float *out = proba + rows[r] * nk;
        for (size_t k = 0; k < nk; k++)
            out[k] += Z[r * nk + k];
    }
    for (size_t i = 0; i < n; i++) {
        size_t best = model_softmax (proba + i * nk, nk, self->temperature);
        if (argmax)
            argmax[i] = best;
    }
}

/*  Up to DENSE_ROWS items: dense rows gathered into X, model_dense_dots
    adds them to the text part's margins.  */
static void
score_rows_dense (const model_t *self, const sparse_vec_t *const *xs, size_t n, float *proba,
                  size_t *argmax, float *X)
{
    const size_t nk = self->n_classes, vd = self->dim - model_dense_offset (self);
    const float *rows[DENSE_ROWS];
    float *outs[DENSE_ROWS];
    const double factor[DENSE_ROWS] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 };
    size_t nr = 0;
    for (size_t i = 0; i < n; i++)
        if (split_item (self, xs[i], proba + i * nk, X + nr * vd)) {
            rows[nr] = X + nr * vd;
            outs[nr++] = proba + i * nk;
        }
    model_dense_dots (self, rows, factor, outs, nr);
    for (size_t i = 0; i < n; i++) {
        size_t best = model_softmax_fast (proba + i * nk, nk, self->temperature);
        if (argmax)
            argmax[i] = best;
    }
}

static size_t
score_dense (const model_t *self, const sparse_vec_t *const *xs, size_t n, float *proba,
             size_t *argmax)
{
    const size_t nk = self->n_classes, vd = self->dim - model_dense_offset (self);
    float *X = malloc (DENSE_ROWS * vd * sizeof *X);
    if (!X)
        return score_loop (self, xs, n, proba, argmax);
    for (size_t b = 0; b < n; b += DENSE_ROWS) {
        size_t len = n - b < DENSE_ROWS ? n - b : DENSE_ROWS;
        score_rows_dense (self, xs + b, len, proba + b * nk, argmax ? argmax + b : NULL, X);
    }
    free (X);
    return n;
}

/*  Nonzero dense cells of the batch over all its dense cells.  */
static double
dense_density (const model_t *self, const sparse_vec_t *const *xs, size_t n)
{
    const size_t off = model_dense_offset (self), vd = self->dim - off;
    size_t cells = 0;
    for (size_t i = 0; i < n; i++) {
        const sparse_vec_t *x = xs[i];
        for (size_t e = x ? x->n : 0; e-- > 0 && x->idx[e] >= off;)
            cells += x->idx[e] < self->dim;
    }
    return n && vd ? (double) cells / ((double) n * (double) vd) : 0;
}

/*  sgemm multiplies every dense cell, zero or not, while the loop
    touches nonzeros only; and with up to LOOP_MAX_CLASSES classes
    model_margins has an unrolled vector kernel that OpenBLAS's sgemm, on
    a product only n_classes wide, does not beat (bench/models: 768-value
    embeddings, 10 classes, loop 2.7 vs sgemm 3.9 us an item; 64 classes,
    loop 100+ vs sgemm 10 us). So: sgemm for more classes than that when
    at least half the dense cells of the batch are nonzero.  */
static model_batch_mode_t
choose_mode (const model_t *self, const sparse_vec_t *const *xs, size_t n)
{
    if (self->dim == model_dense_offset (self) || n == 0)
        return MODEL_BATCH_LOOP;
    if (self->n_classes > LOOP_MAX_CLASSES && n >= BLAS_MIN_BATCH
        && dense_density (self, xs, n) >= BLAS_MIN_DENSITY)
        return MODEL_BATCH_BLAS;
    return MODEL_BATCH_LOOP;
}

size_t
model_predict_batch_mode (const model_t *self, const sparse_vec_t *const *xs, size_t n,
                          float *proba, size_t *argmax, model_batch_mode_t mode)
{
    const size_t nk = self->n_classes, vd = self->dim - model_dense_offset (self);
    if (mode == MODEL_BATCH_AUTO)
        mode = choose_mode (self, xs, n);
    if (mode == MODEL_BATCH_DENSE && self->wt)
        return score_dense (self, xs, n, proba, argmax);
    bool blas = vd > 0 && vd <= MODEL_MAX_VECTOR_DIM && mode == MODEL_BATCH_BLAS;
    if (!blas)
        return score_loop (self, xs, n, proba, argmax);
    size_t rows_max = n < CHUNK ? n : CHUNK;
    float *X = malloc (rows_max * vd * sizeof *X);
    float *Z = malloc (rows_max * nk * sizeof *Z);
    size_t *rows = malloc (rows_max * sizeof *rows);
    if (!X || !Z || !rows) {
        free (X), free (Z), free (rows);
        return score_loop (self, xs, n, proba, argmax);
    }
    for (size_t b = 0; b < n; b += CHUNK) {
        size_t len = n - b < CHUNK ? n - b : CHUNK;
        score_chunk (self, xs + b, len, proba + b * nk, argmax ? argmax + b : NULL, X, Z, rows);
    }
    free (X), free (Z), free (rows);
    return n;
}

size_t
model_predict_batch (const model_t *self, const sparse_vec_t *const *xs, size_t n, float *proba,
                     size_t *argmax)
{
    return model_predict_batch_mode (self, xs, n, proba, argmax, MODEL_BATCH_AUTO);
}
