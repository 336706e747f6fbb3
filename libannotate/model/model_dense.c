/*  model_dense.c: scoring dense inputs (pixels, embeddings) fast.

    Two costs dominated a dense item: features_extract copying the vector
    into (index, value) pairs, and model_margins reading the feature-major
    weights one short row per value (model_internal.h says why that layout
    suits hashed text). model_predict_items does neither: the features'
    norm and scale become one factor per item (features_dense_factor), and
    the raw vector is dotted with each class's dense weights, which
    model_t keeps a second time class-major (wt), so each dot product runs
    over two contiguous arrays. Scaling after the sum instead of per value
    changes the margins by float rounding only.

    The kernel takes two items and four classes at a time: eight
    accumulators, and per 8 values two loads of x and four of weights for
    eight multiply-adds, so loads, not the floating-point units, bound it.
    The weights of a 784 x 10 model are 31 KB, so they stay in L1/L2 over
    a batch. It is compiled twice: for AVX2 + FMA (picked at run time with
    __builtin_cpu_supports, so the binary runs on any x86-64) and for the
    baseline (SSE2, 4-float vectors, the same tiles).

    Probabilities come from model_softmax_fast, whose exp is four values
    at a time: libm's expf, one call per class, cost as much as the dot
    products on digits (64 values).

    wt costs the dense block's size again (31 KB for Fashion; none for
    text-only models; refused above MODEL_DENSE_MAX_BYTES, which then
    score the slower way). It is a copy of part of w and must follow it: model_dense_sync rebuilds
    it after training, loading and cloning; model_online_update (model.c)
    copies each row it changes, so the two stay bit-equal.
*/
#include <stdlib.h>
#include <string.h>

#include "model/model_internal.h"
#include "util/util.h"

#define CHUNK 256           /* items a model_dense_dots call */
#define CT    4             /* classes a tile */

void
model_dense_sync (model_t *m)
{
    const size_t off = model_dense_offset (m), vd = m->dim - off, nk = m->n_classes;
    const size_t stride = (vd + 7) & ~(size_t) 7;
    if (vd == 0 || stride > MODEL_DENSE_MAX_BYTES / sizeof (float) / nk) {
        free (m->wt);
        m->wt = NULL;
        return;
    }
    if (!m->wt) {
        /*  32-byte rows for the AVX loads; the size is a multiple of 32.  */
        m->wt = aligned_alloc (32, nk * stride * sizeof (float));
        if (!m->wt)
            return;
        memset (m->wt, 0, nk * stride * sizeof (float));
        m->wt_stride = stride;
    }
    for (size_t j = 0; j < vd; j++) {
        const float *row = m->w + (off + j) * nk;
        for (size_t k = 0; k < nk; k++)
            m->wt[k * stride + j] = row[k];
    }
}

typedef float v8f __attribute__ ((vector_size (32)));
typedef float v4f __attribute__ ((vector_size (16)));

/*  outs[t][k0 + c] += factor[t] * (x[t] . class k0 + c's weights) for
    t < NT items and c < nc classes, VT vectors of W floats at a time; NT
    and nc are constants where it is inlined, and the loops are unrolled
    (-O2 alone does not), so the accumulators live in registers. Vectors
    are loaded through memcpy: rows of x need not be aligned. Defined for
    8-float vectors (AVX) and 4-float ones (SSE2: with 8-float vectors
    there, GCC keeps the accumulators in memory).  */
#define UNROLL _Pragma ("GCC unroll 8")
#define DEFINE_TILE(NAME, VT, W)                                                               \
    static inline __attribute__ ((always_inline)) void                                         \
    NAME (const float *restrict wt, size_t stride, const float *const *x, size_t n,            \
          const double *factor, float *const *outs, size_t k0, const size_t NT, const size_t nc) \
    {                                                                                          \
        VT a[2][CT];                                                                           \
        UNROLL for (size_t t = 0; t < NT; t++)                                                 \
            UNROLL for (size_t c = 0; c < nc; c++)                                             \
                memset (&a[t][c], 0, sizeof a[t][c]);                                          \
        const size_t nb = n / W * W;                                                           \
        for (size_t j = 0; j < nb; j += W) {                                                   \
            VT xv[2];                                                                          \
            UNROLL for (size_t t = 0; t < NT; t++)                                             \
                memcpy (&xv[t], x[t] + j, sizeof xv[t]);                                       \
            UNROLL for (size_t c = 0; c < nc; c++) {                                           \
                VT w;                                                                          \
                memcpy (&w, wt + (k0 + c) * stride + j, sizeof w);                             \
                UNROLL for (size_t t = 0; t < NT; t++)                                         \
                    a[t][c] += xv[t] * w;                                                      \
            }                                                                                  \
        }                                                                                      \
        UNROLL for (size_t t = 0; t < NT; t++)                                                 \
            UNROLL for (size_t c = 0; c < nc; c++) {                                           \
                float s = 0;                                                                   \
                UNROLL for (size_t l = 0; l < W; l++)                                          \
                    s += a[t][c][l];                                                           \
                const float *wr = wt + (k0 + c) * stride;                                      \
                for (size_t j = nb; j < n; j++)                                                \
                    s += x[t][j] * wr[j];                                                      \
                outs[t][k0 + c] += (float) (factor[t] * (double) s);                           \
            }                                                                                  \
    }

DEFINE_TILE (s_tile8, v8f, 8)
DEFINE_TILE (s_tile4, v4f, 4)

static inline __attribute__ ((always_inline)) void
s_tile (const float *restrict wt, size_t stride, const float *const *x, size_t n,
        const double *factor, float *const *outs, size_t k0, const size_t NT, const size_t nc,
        const size_t W)
{
    if (W == 8)
        s_tile8 (wt, stride, x, n, factor, outs, k0, NT, nc);
    else
        s_tile4 (wt, stride, x, n, factor, outs, k0, NT, nc);
}

/*  All classes of NT items: tiles of CT classes, then the rest.  */
static inline __attribute__ ((always_inline)) void
s_items (const model_t *m, const float *const *x, const double *factor, float *const *outs,
         const size_t NT, const size_t W)
{
    const size_t nk = m->n_classes, stride = m->wt_stride, vd = m->dim - model_dense_offset (m);
    size_t k0 = 0;
    for (; k0 + CT <= nk; k0 += CT)
        s_tile (m->wt, stride, x, vd, factor, outs, k0, NT, CT, W);
    switch (nk - k0) {
    case 3: s_tile (m->wt, stride, x, vd, factor, outs, k0, NT, 3, W); break;
    case 2: s_tile (m->wt, stride, x, vd, factor, outs, k0, NT, 2, W); break;
    case 1: s_tile (m->wt, stride, x, vd, factor, outs, k0, NT, 1, W); break;
    default: break;
    }
}

#if defined(__x86_64__) || defined(__i386__)
#define HAVE_AVX2_KERNEL 1
/*  fp-contract lets the multiply-adds fuse (the build's -std=c11 turns
    contraction off elsewhere); it changes rounding only.  */
#if defined(__clang__)       /* clang has no optimize attribute; -ffp-contract=on fuses */
#define AVX2_KERNEL __attribute__ ((target ("avx2,fma")))
#else
#define AVX2_KERNEL __attribute__ ((target ("avx2,fma"), optimize ("fp-contract=fast")))
#endif
AVX2_KERNEL static void
s_dots_avx2 (const model_t *m, const float *const *rows, const double *factor,
             float *const *outs, size_t n)
{
    size_t i = 0;
    for (; i + 2 <= n; i += 2)
        s_items (m, rows + i, factor + i, outs + i, 2, 8);
    if (i < n)
        s_items (m, rows + i, factor + i, outs + i, 1, 8);
}
#endif

static void
s_dots_base (const model_t *m, const float *const *rows, const double *factor,
             float *const *outs, size_t n)
{
    size_t i = 0;
    for (; i + 2 <= n; i += 2)
        s_items (m, rows + i, factor + i, outs + i, 2, 4);
    if (i < n)
        s_items (m, rows + i, factor + i, outs + i, 1, 4);
}

model_kernel_t
model_dense_dots_kernel (const model_t *m, const float *const *rows, const double *factor,
                         float *const *outs, size_t n, model_kernel_t kernel)
{
#ifdef HAVE_AVX2_KERNEL
    if (kernel != MODEL_KERNEL_BASE && __builtin_cpu_supports ("avx2")
        && __builtin_cpu_supports ("fma")) {
        s_dots_avx2 (m, rows, factor, outs, n);
        return MODEL_KERNEL_AVX2;
    }
#endif
    s_dots_base (m, rows, factor, outs, n);
    return MODEL_KERNEL_BASE;
}

void
model_dense_dots (const model_t *m, const float *const *rows, const double *factor,
                  float *const *outs, size_t n)
{
    model_dense_dots_kernel (m, rows, factor, outs, n, MODEL_KERNEL_AUTO);
}

/*  exp (x) of four floats, x <= 0 (softmax arguments): Cephes' expf, x =
    n ln 2 + r with |r| <= ln 2 / 2, a degree-5 polynomial for e^r and the
    exponent bits for 2^n; relative error about 1e-7. Below -87 it gives
    e^-87 (not 0), too small to matter next to the arg-max's 1. libm's
    expf is a call per value, which on 10 classes cost a third of a
    digits item.  */
typedef int32_t v4i __attribute__ ((vector_size (16)));

static inline v4f
s_exp4 (v4f x)
{
    const v4f lo = { -87.0f, -87.0f, -87.0f, -87.0f };
    x = (v4f) (((v4i) x & (x >= lo)) | ((v4i) lo & ~(x >= lo)));
    v4f fx = x * 1.44269504088896341f + 0.5f;
    v4f n = __builtin_convertvector (__builtin_convertvector (fx, v4i), v4f);
    n -= (v4f) ((v4i) (v4f) { 1, 1, 1, 1 } & (n > fx));      /* truncation to floor */
    v4f r = x - n * 0.693359375f + n * 2.12194440e-4f;
    v4f y = 1.9875691500e-4f * r + 1.3981999507e-3f;
    y = y * r + 8.3334519073e-3f;
    y = y * r + 4.1665795894e-2f;
    y = y * r + 1.6666665459e-1f;
    y = y * r + 5.0000001201e-1f;
    y = y * r * r + r + 1.0f;
    v4i e = (__builtin_convertvector (n, v4i) + 127) << 23;
    return y * (v4f) e;
}

size_t
model_softmax_fast (float *m, size_t n, double t)
{
    size_t best = 0;
    for (size_t k = 1; k < n; k++)
        if (m[k] > m[best])
            best = k;
    const float inv = (float) (1.0 / t), top = m[best];
    float sum = 0;
    size_t k = 0;
    for (; k + 4 <= n; k += 4) {
        v4f v;
        memcpy (&v, m + k, sizeof v);
        v = s_exp4 ((v - top) * inv);
        memcpy (m + k, &v, sizeof v);
        sum += (v[0] + v[1]) + (v[2] + v[3]);
    }
    if (k < n) {
        v4f v = { 0, 0, 0, 0 };
        memcpy (&v, m + k, (n - k) * sizeof *m);
        v = s_exp4 ((v - top) * inv);
        memcpy (m + k, &v, (n - k) * sizeof *m);
        for (; k < n; k++)
            sum += m[k];
    }
    const float norm = 1.0f / sum;          /* sum >= 1: the arg-max contributes exp (0) */
    for (k = 0; k < n; k++)
        m[k] *= norm;
    return best;
}

/*  What model_predict_items carries from item to item.  */
typedef struct {
    const model_t *m;
    sparse_vec_t *x;        /* text part of the current item */
    char *err;
    size_t errlen;
    bool failed;            /* err holds the first failure */
} items_ctx_t;

static bool
s_fail (items_ctx_t *c, size_t i, const char *why)
{
    if (!c->failed)
        err_set (c->err, c->errlen, "item %zu: %s", i, why);
    c->failed = true;
    return false;
}

/*  Margins of item i without its dense part into out; *factor (0: no dense
    part to add) for model_dense_dots. Without wt, the whole item goes
    through features_extract and model_margins instead.  */
static bool
s_item (items_ctx_t *c, const model_item_t *it, size_t i, float *out, double *factor)
{
    const features_config_t *cfg = &c->m->features;
    const char *text = it->text ? it->text : "";
    const size_t text_len = it->text ? it->text_len : 0;
    char why[256] = "";
    *factor = 0;
    if (!c->m->wt) {
        if (features_extract (cfg, text, text_len, it->vec, it->n_vec, c->x, why, sizeof why) != 0)
            return s_fail (c, i, why);
        model_margins (c->m, c->x, out);
        return true;
    }
    if (features_dense_factor (cfg, it->vec, it->n_vec, factor, why, sizeof why) != 0)
        return s_fail (c, i, why);
    if (text_len == 0) {
        const size_t nk = c->m->n_classes;
        const float *brow = c->m->w + c->m->dim * nk;
        for (size_t k = 0; k < nk; k++)
            out[k] = c->m->bias * brow[k];  /* model_margins of nothing */
        return true;
    }
    if (features_extract (cfg, text, text_len, NULL, 0, c->x, why, sizeof why) != 0)
        return s_fail (c, i, why);
    model_margins (c->m, c->x, out);
    return true;
}

/*  At most CHUNK items, the first being item `base` of the call.  */
static size_t
s_chunk (items_ctx_t *c, const model_item_t *items, size_t n, size_t base, float *proba,
         size_t *argmax)
{
    const size_t nk = c->m->n_classes;
    const float *rows[CHUNK];
    double factor[CHUNK];
    float *outs[CHUNK];
    bool ok[CHUNK];
    size_t nr = 0, scored = 0;
    for (size_t i = 0; i < n; i++) {
        float *out = proba + i * nk;
        ok[i] = s_item (c, &items[i], base + i, out, &factor[nr]);
        if (ok[i] && factor[nr] != 0) {
            rows[nr] = items[i].vec;
            outs[nr++] = out;
        }
    }
    if (nr > 0)
        model_dense_dots (c->m, rows, factor, outs, nr);
    for (size_t i = 0; i < n; i++) {
        float *out = proba + i * nk;
        size_t best = MODEL_NO_CLASS;
        if (ok[i]) {
            best = model_softmax_fast (out, nk, c->m->temperature);
            scored++;
        }
        else
            memset (out, 0, nk * sizeof *out);
        if (argmax)
            argmax[i] = best;
    }
    return scored;
}

size_t
model_predict_items (const model_t *self, const model_item_t *items, size_t n, float *proba,
                     size_t *argmax, sparse_vec_t *scratch, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    sparse_vec_t local;
    sparse_vec_init (&local);
    items_ctx_t c = { self, scratch ? scratch : &local, err, errlen, false };
    size_t scored = 0;
    for (size_t b = 0; b < n; b += CHUNK) {
        size_t len = n - b < CHUNK ? n - b : CHUNK;
        scored += s_chunk (&c, items + b, len, b, proba + b * self->n_classes,
                           argmax ? argmax + b : NULL);
    }
    sparse_vec_free (&local);
    return scored;
}
