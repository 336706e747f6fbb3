/*  model_lbfgs.c: multinomial logistic (softmax) regression by L-BFGS,
    the MODEL_SOLVER_LBFGS of model_train.

    Objective: the one of scikit-learn's LogisticRegression(solver="lbfgs",
    multi_class="multinomial", C), divided by the total example weight S
    (which moves no minimum, and keeps the numbers near 1 in float32):

        f(W, b) = (1/S) sum_i s_i (-log softmax (x_i W + b)_{y_i})
                  + 1/(2 C S) ||W||^2

    with s_i the example weight (model_example_t.weight, 0 meaning 1) and
    the bias row b not regularised. Classes absent from the training set
    take no part (their probability is held at 0); model_train gives them
    their bias afterwards, as for liblinear.

    Objective and gradient: the dense part of the features (indices from
    2^hash_bits on) is gathered once into a row-major n x vector_dim float
    matrix X, so the margins are one sgemm X Wd and the gradient of the
    dense block one more, X^T G (OpenBLAS, with however many threads the
    caller gave it); the hashed text part goes through sparse loops, one
    short weight row per nonzero, like model_margins. Sums of losses are
    kept in double.

    Optimiser: L-BFGS with the last M = 10 pairs, the two-loop recursion,
    and a bracketing line search for the weak Wolfe conditions (c1 1e-4,
    c2 0.9; step 1 first, times 4 while the slope is still steep, bisection
    once bracketed, quadratic interpolation on an Armijo failure). Stops
    after max_iter iterations (100 by default, scikit-learn's), or when
    the largest gradient component is below GTOL (1e-5, on the objective
    divided by S), or when an iteration lowers f by less than FTOL (1e-9)
    relatively.

*/
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_internal.h"
#include "util/util.h"

#define M              10
#define GTOL           1e-5
#define FTOL           1e-9
#define MAX_LS         20
#define C1             1e-4
#define C2             0.9
#define BLOCK          2048
#define MAX_DENSE_CELLS ((size_t) 1 << 28)    /* X at most 1 GiB */

typedef struct {
    const model_example_t *ex;
    size_t n, nk, dim, off, vd, np;
    float bias;
    float *X;               /* n x vd, the dense part; NULL when vd is 0 */
    float *Z;               /* n x nk: margins, then d loss / d margins */
    bool present[MODEL_MAX_CLASSES];
    double inv_s, lambda;   /* 1/S and 1/(C S) */
} prob_t;

static float
weight_of (const model_example_t *e)
{
    return isfinite (e->weight) && e->weight > 0 ? e->weight : 1.0f;
}

/*  Float vectors, double sum (OpenBLAS's vectorised dsdot).  */
static double
dot (const float *a, const float *b, size_t n)
{
    return cblas_dsdot ((int) n, a, 1, b, 1);
}

/*  Margins of examples lo .. hi - 1 into their rows of p->Z.  */
static void
margins (prob_t *p, const float *w, size_t lo, size_t hi)
{
    const size_t nk = p->nk;
    const float *brow = w + p->dim * nk;
    for (size_t i = lo; i < hi; i++) {
        float *z = p->Z + i * nk;
        for (size_t k = 0; k < nk; k++)
            z[k] = p->bias * brow[k];
        const sparse_vec_t *x = p->ex[i].x;
        for (size_t e = 0; e < x->n && x->idx[e] < p->off; e++) {
            const float v = x->val[e], *wr = w + (size_t) x->idx[e] * nk;
            for (size_t k = 0; k < nk; k++)
                z[k] += v * wr[k];
        }
    }
    if (p->vd)
        cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, (int) (hi - lo), (int) nk,
                     (int) p->vd, 1.0f, p->X + lo * p->vd, (int) p->vd, w + p->off * nk, (int) nk,
                     1.0f, p->Z + lo * nk, (int) nk);
}

/*  Loss of the margins in rows lo .. hi - 1 of p->Z, which become
    s_i / S (p_ik - [k = y_i]).  */
static double
softmax_loss (prob_t *p, size_t lo, size_t hi)
{
    const size_t nk = p->nk;
    double loss = 0;
    for (size_t i = lo; i < hi; i++) {
        float *z = p->Z + i * nk, top = -INFINITY, sum = 0;
        for (size_t k = 0; k < nk; k++)
            if (p->present[k] && z[k] > top)
                top = z[k];
        const size_t y = (size_t) p->ex[i].y;
        const float zy = z[y] - top;
        for (size_t k = 0; k < nk; k++) {
            z[k] = p->present[k] ? expf (z[k] - top) : 0.0f;
            sum += z[k];
        }
        const double s = weight_of (&p->ex[i]) * p->inv_s;
        loss += s * (log ((double) sum) - (double) zy);
        const float scale = (float) s / sum;
        for (size_t k = 0; k < nk; k++)
            z[k] *= scale;
        z[y] -= (float) s;
    }
    return loss;
}

/*  Adds the gradient of rows lo .. hi - 1 (p->Z holding d loss / d
    margins) to g.  */
static void
gradient (prob_t *p, float *g, size_t lo, size_t hi)
{
    const size_t nk = p->nk;
    float *gb = g + p->dim * nk;
    for (size_t i = lo; i < hi; i++) {
        const float *z = p->Z + i * nk;
        for (size_t k = 0; k < nk; k++)
            gb[k] += p->bias * z[k];
        const sparse_vec_t *x = p->ex[i].x;
        for (size_t e = 0; e < x->n && x->idx[e] < p->off; e++) {
            const float v = x->val[e];
            float *gr = g + (size_t) x->idx[e] * nk;
            for (size_t k = 0; k < nk; k++)
                gr[k] += v * z[k];
        }
    }
    if (p->vd)
        cblas_sgemm (CblasRowMajor, CblasTrans, CblasNoTrans, (int) p->vd, (int) nk,
                     (int) (hi - lo), 1.0f, p->X + lo * p->vd, (int) p->vd, p->Z + lo * nk,
                     (int) nk, 1.0f, g + p->off * nk, (int) nk);
}

/*  f (w) and its gradient into g. Blocks of BLOCK rows: the forward and
    the backward product of a block run while its rows of X are still in
    cache, so X (188 MB for Fashion-MNIST) streams from memory once an
    evaluation instead of twice.  */
static double
eval (prob_t *p, const float *w, float *g)
{
    memset (g, 0, p->np * sizeof *g);
    double f = 0;
    for (size_t lo = 0; lo < p->n; lo += BLOCK) {
        size_t hi = p->n - lo < BLOCK ? p->n : lo + BLOCK;
        margins (p, w, lo, hi);
        f += softmax_loss (p, lo, hi);
        gradient (p, g, lo, hi);
    }
    const size_t nw = p->dim * p->nk;      /* all but the bias row */
    cblas_saxpy ((int) nw, (float) p->lambda, w, 1, g, 1);
    return f + 0.5 * p->lambda * dot (w, w, nw);
}

static double
norm_inf (const float *a, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fabs (a[i]) > m ? fabs (a[i]) : m;
    return m;
}

typedef struct {
    float *x, *g, *d, *xn, *gn, *s[M], *y[M];
    double rho[M];
    size_t len, head;       /* stored pairs; the newest is at head - 1 (mod M) */
} lbfgs_t;

/*  d = -H g by the two-loop recursion over the stored pairs.  */
static void
direction (lbfgs_t *L, size_t np)
{
    double alpha[M];
    for (size_t i = 0; i < np; i++)
        L->d[i] = -L->g[i];
    for (size_t t = 0; t < L->len; t++) {
        size_t j = (L->head + M - 1 - t) % M;
        alpha[j] = L->rho[j] * dot (L->s[j], L->d, np);
        cblas_saxpy ((int) np, (float) -alpha[j], L->y[j], 1, L->d, 1);
    }
    if (L->len) {
        size_t j = (L->head + M - 1) % M;
        double yy = dot (L->y[j], L->y[j], np);
        cblas_sscal ((int) np, (float) (1.0 / (L->rho[j] * yy)), L->d, 1);
    }
    for (size_t t = L->len; t-- > 0;) {
        size_t j = (L->head + M - 1 - t) % M;
        double beta = L->rho[j] * dot (L->y[j], L->d, np);
        cblas_saxpy ((int) np, (float) (alpha[j] - beta), L->s[j], 1, L->d, 1);
    }
}

/*  Weak Wolfe step along d from (x, f, g) into (xn, *fn, gn). False when
    no step lowered f.  */
static bool
line_search (prob_t *p, lbfgs_t *L, double f, double gd, double a, double *fn)
{
    const size_t np = p->np;
    double lo = 0, hi = INFINITY, best_a = 0;
    for (int t = 0; t < MAX_LS; t++) {
        for (size_t i = 0; i < np; i++)
            L->xn[i] = L->x[i] + (float) a * L->d[i];
        *fn = eval (p, L->xn, L->gn);
        if (!isfinite (*fn) || *fn > f + C1 * a * gd) {
            hi = a;
            /*  Minimum of the quadratic through f, gd and *fn, kept
                within the bracket's first half.  */
            double q = isfinite (*fn) ? -gd * a * a / (2 * (*fn - f - gd * a)) : lo;
            double q_lo = lo + 0.1 * (hi - lo), q_hi = lo + 0.5 * (hi - lo);
            a = q < q_lo ? q_lo : q > q_hi ? q_hi : q;
            continue;
        }
        best_a = a;
        if (dot (L->gn, L->d, np) >= C2 * gd)
            return true;
        lo = a;
        a = isinf (hi) ? 4 * a : (lo + hi) / 2;
    }
    if (best_a == 0)
        return false;
    for (size_t i = 0; i < np; i++)
        L->xn[i] = L->x[i] + (float) best_a * L->d[i];
    *fn = eval (p, L->xn, L->gn);
    return true;
}

/*  Keeps (xn - x, gn - g) when its curvature is positive; moves to xn.  */
static void
accept (lbfgs_t *L, size_t np)
{
    float *s = L->s[L->head], *y = L->y[L->head];
    for (size_t i = 0; i < np; i++) {
        s[i] = L->xn[i] - L->x[i];
        y[i] = L->gn[i] - L->g[i];
    }
    double sy = dot (s, y, np);
    if (sy > 1e-10 * dot (y, y, np)) {
        L->rho[L->head] = 1.0 / sy;
        L->head = (L->head + 1) % M;
        L->len += L->len < M;
    }
    float *t = L->x; L->x = L->xn; L->xn = t;
    t = L->g; L->g = L->gn; L->gn = t;
}

static int
minimise (prob_t *p, float *w, uint32_t max_iter)
{
    const size_t np = p->np;
    lbfgs_t L = { 0 };
    float **bufs[] = { &L.x, &L.g, &L.d, &L.xn, &L.gn };
    int rc = 0;
    for (size_t b = 0; b < 5 && rc == 0; b++)
        rc = (*bufs[b] = malloc (np * sizeof (float))) ? 0 : -1;
    for (size_t j = 0; j < M && rc == 0; j++)
        rc = (L.s[j] = malloc (np * sizeof (float))) && (L.y[j] = malloc (np * sizeof (float)))
                 ? 0 : -1;
    if (rc == 0) {
        memcpy (L.x, w, np * sizeof *w);
        double f = eval (p, L.x, L.g);
        for (uint32_t it = 0; it < max_iter && norm_inf (L.g, np) > GTOL; it++) {
            direction (&L, np);
            double gd = dot (L.g, L.d, np);
            if (!(gd < 0)) {            /* not a descent direction: restart from -g */
                L.len = 0;
                direction (&L, np);
                gd = dot (L.g, L.d, np);
            }
            double a = L.len ? 1.0 : 1.0 / sqrt (dot (L.g, L.g, np)), fn;
            if (!line_search (p, &L, f, gd, a > 1 ? 1 : a, &fn))
                break;
            accept (&L, np);
            bool flat = f - fn <= FTOL * fmax (fabs (f), 1.0);
            f = fn;
            if (flat)
                break;
        }
        memcpy (w, L.x, np * sizeof *w);
    }
    for (size_t b = 0; b < 5; b++)
        free (*bufs[b]);
    for (size_t j = 0; j < M; j++)
        free (L.s[j]), free (L.y[j]);
    return rc;
}

/*  The dense part of every example into p->X.  */
static int
gather_dense (prob_t *p)
{
    if (!p->vd)
        return 0;
    if (p->n > (size_t) INT32_MAX || p->vd > (size_t) INT32_MAX || p->n > MAX_DENSE_CELLS / p->vd)
        return -1;
    p->X = calloc (p->n * p->vd, sizeof *p->X);
    if (!p->X)
        return -1;
    for (size_t i = 0; i < p->n; i++) {
        const sparse_vec_t *x = p->ex[i].x;
        float *row = p->X + i * p->vd;
        for (size_t e = 0; e < x->n; e++)
            if (x->idx[e] >= p->off && x->idx[e] < p->dim)
                row[x->idx[e] - p->off] = x->val[e];
    }
    return 0;
}

int
model_lbfgs_fit (model_t *m, const model_example_t *ex, size_t n, const model_train_config_t *cfg,
                 char *err, size_t errlen)
{
    prob_t p = { .ex = ex, .n = n, .nk = m->n_classes, .dim = m->dim, .bias = m->bias };
    p.off = model_dense_offset (m);
    p.vd = m->dim - p.off;
    p.np = (m->dim + 1) * m->n_classes;
    double s_sum = 0;
    for (size_t i = 0; i < n; i++) {
        p.present[ex[i].y] = true;
        s_sum += weight_of (&ex[i]);
    }
    if (n == 0 || p.np > (size_t) INT32_MAX)
        return err_set (err, errlen, "nothing to train on, or too many weights for L-BFGS");
    p.inv_s = 1.0 / s_sum;
    p.lambda = 1.0 / (cfg->C * s_sum);
    if (gather_dense (&p) != 0)
        return err_set (err, errlen, "out of memory for the %zu x %zu dense matrix", n, p.vd);
    p.Z = malloc (n * p.nk * sizeof *p.Z);
    int rc = p.Z ? minimise (&p, m->w, cfg->max_iter ? cfg->max_iter : 100) : -1;
    if (rc != 0)
        err_set (err, errlen, "out of memory for L-BFGS (%zu weights)", p.np);
    free (p.X);
    free (p.Z);
    return rc;
}
