/*  model_metrics.c: what a model is worth on labelled data: accuracy,
    per-class precision and recall, the expected calibration error, and
    the temperature fit that lowers it.

    ECE: predictions are put in 10 equal-width bins by confidence (the top
    probability); ECE is the support-weighted mean over bins of
    |accuracy - mean confidence|. 0 means "90% sure" is right 90% of the
    time.

    The temperature t rescales margins before the softmax. The validation
    NLL is convex in 1/t, hence unimodal in log t, so a golden-section
    search over log t in [0.05, 20] finds its minimum without derivatives.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_internal.h"
#include "util/util.h"

#define ECE_BINS 10

typedef struct {
    double conf[ECE_BINS], correct[ECE_BINS];
    uint64_t n[ECE_BINS], total;
} ece_bins_t;

static void
ece_add (ece_bins_t *b, double conf, bool correct)
{
    int i = (int) (conf * ECE_BINS);
    i = i < 0 ? 0 : i >= ECE_BINS ? ECE_BINS - 1 : i;
    b->conf[i] += conf;
    b->correct[i] += correct;
    b->n[i]++;
    b->total++;
}

static double
ece_value (const ece_bins_t *b)
{
    if (b->total == 0)
        return 0;
    double e = 0;
    for (int i = 0; i < ECE_BINS; i++)
        if (b->n[i])
            e += fabs (b->correct[i] - b->conf[i]) / (double) b->total;
    return e;
}

/*  Softmax of one row at temperature t into p; returns the arg-max.  */
static size_t
row_proba (const float *m, size_t k, double t, float *p)
{
    memcpy (p, m, k * sizeof *p);
    return model_softmax (p, k, t);
}

double
model_ece (const float *margins, const int32_t *y, size_t n, size_t k, double t)
{
    ece_bins_t bins = { 0 };
    float p[MODEL_MAX_CLASSES];
    for (size_t i = 0; i < n; i++) {
        size_t best = row_proba (margins + i * k, k, t, p);
        ece_add (&bins, p[best], (int32_t) best == y[i]);
    }
    return ece_value (&bins);
}

double
model_nll (const float *margins, const int32_t *y, size_t n, size_t k, double t)
{
    if (n == 0)
        return 0;
    double total = 0;
    for (size_t i = 0; i < n; i++) {
        const float *m = margins + i * k;
        double top = m[0], sum = 0;
        for (size_t c = 1; c < k; c++)
            top = m[c] > top ? m[c] : top;
        for (size_t c = 0; c < k; c++)
            sum += exp ((m[c] - top) / t);
        total += log (sum) - (m[y[i]] - top) / t;
    }
    return total / (double) n;
}

double
model_fit_temperature (const float *margins, const int32_t *y, size_t n, size_t k)
{
    if (n == 0)
        return 1.0;
    const double phi = (sqrt (5.0) - 1) / 2;
    double a = log (MODEL_MIN_TEMPERATURE), b = log (MODEL_MAX_TEMPERATURE);
    double c = b - phi * (b - a), d = a + phi * (b - a);
    double fc = model_nll (margins, y, n, k, exp (c));
    double fd = model_nll (margins, y, n, k, exp (d));
    while (b - a > 1e-4) {
        if (fc < fd) {
            b = d, d = c, fd = fc;
            c = b - phi * (b - a);
            fc = model_nll (margins, y, n, k, exp (c));
        }
        else {
            a = c, c = d, fc = fd;
            d = a + phi * (b - a);
            fd = model_nll (margins, y, n, k, exp (d));
        }
    }
    double t = exp ((a + b) / 2);
    /*  Never worse than leaving the margins alone.  */
    return model_nll (margins, y, n, k, t) <= model_nll (margins, y, n, k, 1.0) ? t : 1.0;
}

void
model_evaluate (const model_t *self, const model_example_t *ex, size_t n, model_metrics_t *out)
{
    size_t nk = self->n_classes;
    memset (out, 0, sizeof *out);
    out->n_valid = n;
    out->temperature = self->temperature;
    out->n_classes = nk;
    out->classes = calloc (nk, sizeof *out->classes);
    uint64_t *tp = calloc (nk, sizeof *tp), *predicted = calloc (nk, sizeof *predicted);
    if (!out->classes || !tp || !predicted) {
        free (tp), free (predicted);
        free (out->classes);
        out->classes = NULL, out->n_classes = 0;
        return;
    }
    ece_bins_t cal = { 0 }, raw = { 0 };
    float m[MODEL_MAX_CLASSES], p[MODEL_MAX_CLASSES];
    uint64_t right = 0, counted = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t y = ex[i].y;
        if (!ex[i].x || y < 0 || (size_t) y >= nk)
            continue;   /* unusable example: not counted anywhere */
        model_margins (self, ex[i].x, m);
        size_t best = row_proba (m, nk, self->temperature, p);
        ece_add (&cal, p[best], (int32_t) best == y);
        row_proba (m, nk, 1.0, p);
        ece_add (&raw, p[best], (int32_t) best == y);
        counted++;
        right += (int32_t) best == y;
        tp[best] += (int32_t) best == y;
        predicted[best]++;
        out->classes[y].support++;
    }
    out->n_valid = counted;
    out->accuracy = counted ? (double) right / (double) counted : 0;
    out->ece = ece_value (&cal);
    out->ece_uncalibrated = ece_value (&raw);
    for (size_t k = 0; k < nk; k++) {
        model_class_metrics_t *c = &out->classes[k];
        str_copy (c->label, sizeof c->label, self->labels[k]);
        c->precision = predicted[k] ? (double) tp[k] / (double) predicted[k] : 0;
        c->recall = c->support ? (double) tp[k] / (double) c->support : 0;
    }
    free (tp);
    free (predicted);
}

void
model_metrics_free (model_metrics_t *m)
{
    if (!m)
        return;
    free (m->classes);
    m->classes = NULL;
    m->n_classes = 0;
}
