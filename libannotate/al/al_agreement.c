/*  al_agreement.c: how much people agree beyond chance: Cohen's kappa for
    two raters, Fleiss' kappa for any fixed number of raters.

    Both are (observed - expected) / (1 - expected), with the textbook
    expected agreements: Cohen's from each rater's own class margins,
    Fleiss' from the pooled class proportions. Anything that makes the
    ratio meaningless (no items, expected agreement 1, a class index out
    of range, items with different numbers of raters) gives NaN, which
    callers show as "undefined" instead of a misleading number.
*/
#include <math.h>
#include <stdlib.h>

#include "al/al_internal.h"

/*  Counts each rater's classes into ca and cb and returns how many items
    they agree on, or SIZE_MAX when an index is out of range.  */
static size_t
s_cohen_count (const uint32_t *a, const uint32_t *b, size_t n, size_t n_classes,
               size_t *ca, size_t *cb)
{
    size_t agree = 0;
    for (size_t i = 0; i < n; i++) {
        if (a[i] >= n_classes || b[i] >= n_classes)
            return SIZE_MAX;
        ca[a[i]]++;
        cb[b[i]]++;
        agree += a[i] == b[i];
    }
    return agree;
}

double
al_cohen_kappa (const uint32_t *a, const uint32_t *b, size_t n, size_t n_classes)
{
    if (!a || !b || n == 0 || n_classes == 0 || n_classes > SIZE_MAX / 2 / sizeof (size_t))
        return NAN;
    size_t *ca = calloc (2 * n_classes, sizeof *ca);
    if (!ca)
        return NAN;
    size_t *cb = ca + n_classes;
    size_t agree = s_cohen_count (a, b, n, n_classes, ca, cb);
    double kappa = NAN;
    if (agree != SIZE_MAX) {
        double nn = (double) n, po = (double) agree / nn, pe = 0.0;
        for (size_t c = 0; c < n_classes; c++)
            pe += ((double) ca[c] / nn) * ((double) cb[c] / nn);
        if (pe < 1.0)
            kappa = (po - pe) / (1.0 - pe);
    }
    free (ca);
    return kappa;
}

/*  How many raters put an item anywhere (the sum of its row).  */
static uint64_t
s_row_raters (const uint32_t *row, size_t n_classes)
{
    uint64_t sum = 0;
    for (size_t j = 0; j < n_classes; j++)
        sum += row[j];
    return sum;
}

double
al_fleiss_kappa (const uint32_t *counts, size_t n_items, size_t n_classes)
{
    if (!counts || n_items == 0 || n_classes == 0 || n_items > SIZE_MAX / n_classes)
        return NAN;
    uint64_t raters = s_row_raters (counts, n_classes);
    if (raters < 2)
        return NAN;
    double *pj = calloc (n_classes, sizeof *pj);
    if (!pj)
        return NAN;
    double r = (double) raters, pbar = 0.0, pe = 0.0, kappa = NAN;
    for (size_t i = 0; i < n_items; i++) {
        const uint32_t *row = counts + i * n_classes;
        if (s_row_raters (row, n_classes) != raters)
            goto done;
        double sq = 0.0;
        for (size_t j = 0; j < n_classes; j++) {
            sq += (double) row[j] * row[j];
            pj[j] += row[j];
        }
        pbar += (sq - r) / (r * (r - 1.0));
    }
    pbar /= (double) n_items;
    for (size_t j = 0; j < n_classes; j++) {
        double p = pj[j] / ((double) n_items * r);
        pe += p * p;
    }
    if (pe < 1.0)
        kappa = (pbar - pe) / (1.0 - pe);
done:
    free (pj);
    return kappa;
}
