/*  spread.c: label spreading over the kNN graph (see spread.h).  */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "graph/spread.h"
#include "util/util.h"

/*  S in compressed rows: row i's entries are col[row[i] .. row[i + 1]).  */
typedef struct {
    size_t *row;
    uint32_t *col;
    double *w;
} csr_t;

struct spread_t {
    spread_config_t cfg;
    size_t n, n_classes;
    double *dist;           /* n x n_classes, normalised rows */
    int32_t *label;
    double *conf;
    size_t n_iter;
    bool converged;
};

void
spread_config_default (spread_config_t *cfg)
{
    cfg->n_neighbors = 7;
    cfg->alpha = 0.2;
    cfg->max_iter = 30;
    cfg->tol = 1e-3;
}

int
spread_config_check (const spread_config_t *cfg, char *err, size_t errlen)
{
    if (cfg->n_neighbors < 1 || cfg->n_neighbors > KNN_MAX_K + 1)
        return err_set (err, errlen, "spread: n_neighbors must be in 1..%d", KNN_MAX_K + 1);
    if (!(cfg->alpha > 0 && cfg->alpha < 1))
        return err_set (err, errlen, "spread: alpha must be in (0, 1)");
    if (cfg->max_iter < 1 || cfg->max_iter > SPREAD_MAX_ITER)
        return err_set (err, errlen, "spread: max_iter must be in 1..%d", SPREAD_MAX_ITER);
    if (!isfinite (cfg->tol) || cfg->tol < 0)
        return err_set (err, errlen, "spread: tol must be finite and >= 0");
    return 0;
}

spread_t *
spread_new (const spread_config_t *cfg)
{
    if (!cfg || spread_config_check (cfg, NULL, 0) != 0)
        return NULL;
    spread_t *self = calloc (1, sizeof *self);
    if (self)
        self->cfg = *cfg;
    return self;
}

static void
drop_result (spread_t *self)
{
    free (self->dist);
    free (self->label);
    free (self->conf);
    self->dist = NULL;
    self->label = NULL;
    self->conf = NULL;
    self->n = self->n_classes = self->n_iter = 0;
    self->converged = false;
}

void
spread_destroy (spread_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    drop_result (*self_p);
    free (*self_p);
    *self_p = NULL;
}

static void
csr_free (csr_t *s)
{
    free (s->row);
    free (s->col);
    free (s->w);
}

/*  S = D^-1/2 W D^-1/2 without the diagonal, D the in-degrees (0 as 1),
    W's row i the first `per` neighbours of i.  */
static int
build_matrix (const knn_t *g, size_t per, csr_t *s)
{
    size_t n = knn_size (g);
    s->row = calloc (n + 1, sizeof *s->row);
    s->col = malloc ((n * per + 1) * sizeof *s->col);
    s->w = malloc ((n * per + 1) * sizeof *s->w);
    double *deg = calloc (n + 1, sizeof *deg);
    if (!s->row || !s->col || !s->w || !deg) {
        free (deg);
        return -1;
    }
    size_t e = 0;
    for (size_t i = 0; i < n; i++) {
        const uint32_t *idx;
        size_t cnt = knn_neighbours (g, i, &idx, NULL);
        for (size_t r = 0; r < cnt && r < per; r++) {
            s->col[e++] = idx[r];
            deg[idx[r]] += 1;
        }
        s->row[i + 1] = e;
    }
    for (size_t j = 0; j < n; j++)
        deg[j] = deg[j] > 0 ? 1.0 / sqrt (deg[j]) : 1.0;
    for (size_t i = 0; i < n; i++)
        for (size_t p = s->row[i]; p < s->row[i + 1]; p++)
            s->w[p] = deg[i] * deg[s->col[p]];
    free (deg);
    return 0;
}

/*  out = alpha S f + (1 - alpha) Y.  */
static void
step (const csr_t *s, const int32_t *labels, size_t n, size_t nc, double alpha,
      const double *f, double *out)
{
    for (size_t i = 0; i < n; i++) {
        double *o = out + i * nc;
        memset (o, 0, nc * sizeof *o);
        for (size_t p = s->row[i]; p < s->row[i + 1]; p++) {
            const double *fj = f + (size_t) s->col[p] * nc;
            double w = s->w[p];
            for (size_t c = 0; c < nc; c++)
                o[c] += w * fj[c];
        }
        for (size_t c = 0; c < nc; c++)
            o[c] *= alpha;
        if (labels[i] >= 0)
            o[labels[i]] += 1.0 - alpha;
    }
}

static double
l1_change (const double *a, const double *b, size_t len)
{
    double sum = 0;
    for (size_t i = 0; i < len; i++)
        sum += fabs (a[i] - b[i]);
    return sum;
}

/*  Normalises each row and reads off its label and confidence.  */
static void
finish (spread_t *self)
{
    size_t nc = self->n_classes;
    for (size_t i = 0; i < self->n; i++) {
        double *row = self->dist + i * nc, sum = 0;
        size_t best = 0;
        for (size_t c = 0; c < nc; c++) {
            sum += row[c];
            if (row[c] > row[best])
                best = c;
        }
        if (!(sum > 0)) {
            self->label[i] = -1;
            self->conf[i] = 0;
            continue;
        }
        for (size_t c = 0; c < nc; c++)
            row[c] /= sum;
        self->label[i] = (int32_t) best;
        self->conf[i] = row[best];
    }
}

static int
check_input (const spread_t *self, const knn_t *g, const int32_t *labels, size_t nc,
             char *err, size_t errlen)
{
    if (!g || (!labels && knn_size (g) > 0))
        return err_set (err, errlen, "spread: no graph or no labels");
    if (nc < 1 || nc > SPREAD_MAX_CLASSES)
        return err_set (err, errlen, "spread: n_classes must be in 1..%d", SPREAD_MAX_CLASSES);
    if (knn_pending (g) > 0)
        return err_set (err, errlen, "spread: graph has %zu points not yet updated",
                        knn_pending (g));
    if (knn_k (g) + 1 < self->cfg.n_neighbors)
        return err_set (err, errlen, "spread: graph keeps %zu neighbours, n_neighbors %zu needs %zu",
                        knn_k (g), self->cfg.n_neighbors, self->cfg.n_neighbors - 1);
    size_t n = knn_size (g);
    if (n > SIZE_MAX / sizeof (double) / nc)
        return err_set (err, errlen, "spread: %zu points x %zu classes is too large", n, nc);
    for (size_t i = 0; i < n; i++)
        if (labels[i] < -1 || labels[i] >= (int64_t) nc)
            return err_set (err, errlen, "spread: label %d of point %zu is not in -1..%zu",
                            (int) labels[i], i, nc - 1);
    return 0;
}

int
spread_run (spread_t *self, const knn_t *g, const int32_t *labels, size_t nc, char *err,
            size_t errlen)
{
    drop_result (self);
    if (check_input (self, g, labels, nc, err, errlen) != 0)
        return -1;
    size_t n = knn_size (g), len = n * nc;
    csr_t s = { 0 };
    double *f = calloc (len + 1, sizeof *f), *prev = calloc (len + 1, sizeof *prev);
    self->label = malloc ((n + 1) * sizeof *self->label);
    self->conf = malloc ((n + 1) * sizeof *self->conf);
    if (!f || !prev || !self->label || !self->conf
        || build_matrix (g, self->cfg.n_neighbors - 1, &s) != 0) {
        free (f);
        free (prev);
        csr_free (&s);
        drop_result (self);
        return err_set (err, errlen, "spread: out of memory for %zu points", n);
    }
    for (size_t i = 0; i < n; i++)
        if (labels[i] >= 0)
            f[i * nc + (size_t) labels[i]] = 1.0;
    size_t it = 0;
    for (; it < self->cfg.max_iter; it++) {
        if (l1_change (f, prev, len) < self->cfg.tol) {
            self->converged = true;
            break;
        }
        double *t = prev;
        prev = f;
        f = t;
        step (&s, labels, n, nc, self->cfg.alpha, prev, f);
    }
    csr_free (&s);
    free (prev);
    self->dist = f;
    self->n = n;
    self->n_classes = nc;
    self->n_iter = it;
    finish (self);
    return 0;
}

size_t spread_size (const spread_t *self) { return self->n; }
size_t spread_classes (const spread_t *self) { return self->n_classes; }
size_t spread_iterations (const spread_t *self) { return self->n_iter; }
bool spread_converged (const spread_t *self) { return self->converged; }

int32_t
spread_label (const spread_t *self, size_t i)
{
    return i < self->n ? self->label[i] : -1;
}

double
spread_confidence (const spread_t *self, size_t i)
{
    return i < self->n ? self->conf[i] : 0.0;
}

const double *
spread_distribution (const spread_t *self, size_t i)
{
    return i < self->n ? self->dist + i * self->n_classes : NULL;
}
