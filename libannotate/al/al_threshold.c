/*  al_threshold.c: Wilson intervals and the per-class auto-accept
    thresholds they justify (see al.h for the rule).

    Fitting keeps the usable sample items (both indices in range, a
    confidence that is not NaN), sorts them once by (class, confidence
    descending) and walks each class's run from the top. Only at the end
    of a run of equal confidences is the set "confidence >= t" well
    defined, so that is the only place a threshold is tried: tied items
    are all in or all out, whatever order the sort left them in. Every
    boundary is tried and the lowest qualifying one kept, because the
    bound is not monotone in t (a bad stretch high up can be outweighed
    further down). One sort, one pass: O(n log n).
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "al/al_internal.h"

void
al_wilson (uint64_t correct, uint64_t n, double z, double *lo, double *hi)
{
    double l = 0.0, h = 1.0;
    if (correct > n)
        correct = n;
    if (z < 0)
        z = -z;
    /*  An unusable z or n claims nothing: the whole interval.  */
    if (n > 0 && isfinite (z)) {
        double nn = (double) n, p = (double) correct / nn, z2 = z * z;
        double denom = 1.0 + z2 / nn;
        double centre = (p + z2 / (2.0 * nn)) / denom;
        double half = z / denom * sqrt (p * (1.0 - p) / nn + z2 / (4.0 * nn * nn));
        l = centre - half;
        h = centre + half;
        l = l < 0.0 ? 0.0 : l > 1.0 ? 1.0 : l;
        h = h < 0.0 ? 0.0 : h > 1.0 ? 1.0 : h;
    }
    if (lo)
        *lo = l;
    if (hi)
        *hi = h;
}

void
al_fit_config_default (al_fit_config_t *cfg)
{
    cfg->target = 0.95;
    cfg->z = 1.645;
    cfg->min_support = 20;
    cfg->pooled = false;
    cfg->dataset_items = 0;
    cfg->dataset_human = 0;
}

typedef struct {
    float conf;
    uint32_t cls;
    bool correct;
} s_item_t;

static int
s_item_cmp (const void *a, const void *b)
{
    const s_item_t *x = a, *y = b;
    if (x->cls != y->cls)
        return x->cls < y->cls ? -1 : 1;
    if (x->conf != y->conf)
        return x->conf > y->conf ? -1 : 1;
    return 0;
}

static uint32_t
s_u32 (size_t v)
{
    return v > UINT32_MAX ? UINT32_MAX : (uint32_t) v;
}

/*  Fills the statistics of a set of n items of which `correct` agreed. */
static void
s_stats (al_threshold_t *t, size_t correct, size_t n, double z)
{
    t->n_above = s_u32 (n);
    t->n_correct = s_u32 (correct);
    t->accuracy = n ? (double) correct / (double) n : 0.0;
    al_wilson (correct, n, z, &t->lower, &t->upper);
}

static void
s_disabled (al_threshold_t *t)
{
    *t = (al_threshold_t) { .enabled = false, .threshold = 2.0f, .upper = 1.0 };
}

/*  The usable items, sorted; NULL when there are none or memory ran out
    (either way nothing can be justified).  */
static s_item_t *
s_collect (const al_sample_t *sample, size_t n, size_t n_classes, size_t *count)
{
    *count = 0;
    if (!sample || n == 0 || n > SIZE_MAX / sizeof (s_item_t))
        return NULL;
    s_item_t *items = malloc (n * sizeof *items);
    if (!items)
        return NULL;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        const al_sample_t *s = &sample[i];
        if (s->predicted >= n_classes || s->truth >= n_classes || isnan (s->confidence))
            continue;
        items[m++] = (s_item_t) { s->confidence, s->predicted, s->predicted == s->truth };
    }
    qsort (items, m, sizeof *items, s_item_cmp);
    *count = m;
    return items;
}

/*  Fits one class from its run of items (confidence descending); returns
    whether a threshold qualified.  */
static bool
s_fit_class (const s_item_t *run, size_t n, const al_fit_config_t *cfg, al_threshold_t *out)
{
    size_t correct = 0, best_n = 0, best_correct = 0;
    bool found = false;
    float best_t = 2.0f;
    for (size_t i = 0; i < n; i++) {
        correct += run[i].correct;
        if (i + 1 < n && run[i + 1].conf == run[i].conf)
            continue;           /* inside a tie: not a boundary */
        double lo;
        al_wilson (correct, i + 1, cfg->z, &lo, NULL);
        if (i + 1 >= cfg->min_support && lo >= cfg->target) {
            found = true;
            best_t = run[i].conf;
            best_n = i + 1;
            best_correct = correct;
        }
    }
    if (found) {
        s_stats (out, best_correct, best_n, cfg->z);
        out->threshold = best_t;
    }
    else
        s_stats (out, correct, n, cfg->z);
    out->enabled = found;
    out->n_predicted = s_u32 (n);
    return found;
}

/* ---- pooled fitting ---------------------------------------------------- */

/*  The lowest boundary of one class's run whose point accuracy reaches
    level with at least min_support items; false if none.  */
static bool
s_class_at_level (const s_item_t *run, size_t n, double level, uint32_t min_support,
                  size_t *n_above, size_t *n_correct)
{
    size_t correct = 0;
    bool found = false;
    for (size_t i = 0; i < n; i++) {
        correct += run[i].correct;
        if (i + 1 < n && run[i + 1].conf == run[i].conf)
            continue;
        if (i + 1 >= min_support && (double) correct >= level * (double) (i + 1)) {
            found = true;
            *n_above = i + 1;
            *n_correct = correct;
        }
    }
    return found;
}

/*  The dataset rule: the sample is a random draw from the items, so the
    share of it the thresholds accept estimates the share of the open
    (not yet human-labelled) items they would accept, A of them; people
    label the other H = N - A. The whole dataset meets the target when
    (H + lo * A) / N >= target, lo the accepted sample's lower bound.  */
static bool
s_dataset_meets (const al_fit_config_t *cfg, size_t accepted, size_t n_sample, double lo)
{
    double n = (double) cfg->dataset_items;
    double open = cfg->dataset_items > cfg->dataset_human
                      ? (double) (cfg->dataset_items - cfg->dataset_human)
                      : 0.0;
    double a = n_sample ? open * (double) accepted / (double) n_sample : 0.0;
    return (n - a + lo * a) >= cfg->target * n;
}

/*  Tries one level: every class at its lowest threshold whose accuracy
    reaches it; returns the accepted sample size when the pooled Wilson
    lower bound of those items meets the target (or, with the dataset rule,
    keeps the whole dataset at it), else 0.  */
static size_t
s_try_level (const s_item_t *items, const size_t *run_start, const size_t *run_len,
             size_t n_runs, size_t n_sample, double level, const al_fit_config_t *cfg,
             size_t *above, size_t *correct)
{
    size_t total = 0, total_correct = 0;
    for (size_t r = 0; r < n_runs; r++) {
        above[r] = correct[r] = 0;
        if (s_class_at_level (items + run_start[r], run_len[r], level, cfg->min_support,
                              &above[r], &correct[r])) {
            total += above[r];
            total_correct += correct[r];
        }
    }
    double lo;
    al_wilson (total_correct, total, cfg->z, &lo, NULL);
    if (!total)
        return 0;
    if (!cfg->dataset_items)
        return lo >= cfg->target ? total : 0;
    return s_dataset_meets (cfg, total, n_sample, lo) ? total : 0;
}

static size_t
s_fit_pooled (const s_item_t *items, size_t m, size_t n_classes, const al_fit_config_t *cfg,
              al_threshold_t *out)
{
    size_t *start = calloc (n_classes + 1, sizeof *start), *len = calloc (n_classes + 1, sizeof *len);
    size_t *above = calloc (n_classes + 1, sizeof *above), *corr = calloc (n_classes + 1, sizeof *corr);
    size_t *best_above = calloc (n_classes + 1, sizeof *best_above);
    size_t n_runs = 0, best = 0;
    double best_level = 0;
    for (size_t i = 0; start && len && i < m; n_runs++) {
        start[n_runs] = i;
        while (i < m && items[i].cls == items[start[n_runs]].cls)
            i++;
        len[n_runs] = i - start[n_runs];
    }
    /*  From the target up: lower levels accept more, so the first level
        whose pooled bound holds is usually the widest; every level is
        still tried because the bound is not monotone in the level.  */
    double from = cfg->dataset_items ? AL_DATASET_MIN_LEVEL : cfg->target;
    for (double level = from; start && len && above && corr && best_above && level <= 1.0;
         level += AL_LEVEL_STEP) {
        size_t got = s_try_level (items, start, len, n_runs, m, level, cfg, above, corr);
        if (got > best) {
            best = got;
            best_level = level;
            memcpy (best_above, above, n_runs * sizeof *above);
        }
    }
    size_t enabled = 0;
    for (size_t r = 0; r < n_runs; r++) {
        const s_item_t *run = items + start[r];
        al_threshold_t *t = &out[run[0].cls];
        size_t a = 0, c = 0;
        bool on = best && best_above[r]
                  && s_class_at_level (run, len[r], best_level, cfg->min_support, &a, &c);
        if (!on) {
            for (size_t i = 0; i < len[r]; i++)
                c += run[i].correct;
            a = len[r];
        }
        s_stats (t, c, a, cfg->z);
        t->enabled = on;
        t->threshold = on ? run[a - 1].conf : 2.0f;
        t->n_predicted = s_u32 (len[r]);
        enabled += on;
    }
    free (start);
    free (len);
    free (above);
    free (corr);
    free (best_above);
    return enabled;
}

size_t
al_fit_thresholds (const al_sample_t *sample, size_t n, size_t n_classes,
                   const al_fit_config_t *cfg, al_threshold_t *out)
{
    if (!out || n_classes == 0)
        return 0;
    al_fit_config_t def;
    if (!cfg) {
        al_fit_config_default (&def);
        cfg = &def;
    }
    for (size_t c = 0; c < n_classes; c++)
        s_disabled (&out[c]);
    size_t m;
    s_item_t *items = s_collect (sample, n, n_classes, &m);
    if (cfg->pooled) {
        size_t enabled = items ? s_fit_pooled (items, m, n_classes, cfg, out) : 0;
        free (items);
        return enabled;
    }
    size_t enabled = 0;
    for (size_t start = 0; start < m;) {
        size_t end = start;
        while (end < m && items[end].cls == items[start].cls)
            end++;
        enabled += s_fit_class (items + start, end - start, cfg, &out[items[start].cls]);
        start = end;
    }
    free (items);
    return enabled;
}

void
al_expected_accuracy (const al_threshold_t *th, const uint64_t *count, size_t n_classes,
                      double *acc, double *lo, double *hi)
{
    double total = 0.0, a = 0.0, l = 0.0, h = 0.0;
    for (size_t c = 0; th && count && c < n_classes; c++) {
        if (count[c] == 0)
            continue;
        double w = (double) count[c];
        total += w;
        a += w * th[c].accuracy;
        l += w * th[c].lower;
        h += w * th[c].upper;
    }
    if (acc)
        *acc = total > 0.0 ? a / total : 0.0;
    if (lo)
        *lo = total > 0.0 ? l / total : 0.0;
    if (hi)
        *hi = total > 0.0 ? h / total : 0.0;
}

void
al_pooled_interval (const al_threshold_t *th, size_t n_classes, double z, double *acc, double *lo,
                    double *hi)
{
    uint64_t n = 0, correct = 0;
    for (size_t c = 0; th && c < n_classes; c++)
        if (th[c].enabled) {
            n += th[c].n_above;
            correct += th[c].n_correct;
        }
    if (acc)
        *acc = n ? (double) correct / (double) n : 0.0;
    if (n)
        al_wilson (correct, n, z, lo, hi);
    else {
        if (lo)
            *lo = 0.0;
        if (hi)
            *hi = 0.0;
    }
}
