/*  al_internal.h: what the active-learning files share and nobody else
    needs: the strategies (one file each, listed in al_strategy.c) and the
    cleaning of hostile probability vectors they all do the same way.

    A probability vector comes from a model, a worker or a wire message,
    so it may hold NaN, infinities, negative entries or not sum to 1.
    Every strategy reads it through al_prob_mass (sum of the usable
    entries) and al_prob (one entry, renormalised by that sum), so each
    one sees a proper distribution and the scores stay comparable. A
    vector with no usable mass at all says nothing about the item, which
    makes it the most worth a person's look: every strategy scores it 1.
*/
#ifndef ANNOTATE_AL_INTERNAL_H
#define ANNOTATE_AL_INTERNAL_H

#include <math.h>

#include "al/al.h"

extern const al_strategy_t al_margin;
extern const al_strategy_t al_least_confidence;
extern const al_strategy_t al_entropy;

/*  One entry as a probability: NaN, infinite and negative entries are 0. */
static inline double
al_prob_raw (float v)
{
    return (isfinite (v) && v > 0.0f) ? (double) v : 0.0;
}

/*  Sum of the usable entries (in double: k large finite floats cannot
    overflow it).  */
static inline double
al_prob_mass (const float *p, size_t k)
{
    double sum = 0.0;
    for (size_t i = 0; i < k; i++)
        sum += al_prob_raw (p[i]);
    return sum;
}

/*  Entry i renormalised by mass (> 0).  */
static inline double
al_prob (const float *p, size_t i, double mass)
{
    return al_prob_raw (p[i]) / mass;
}

/*  A score as returned: in [0, 1], never NaN.  */
static inline float
al_unit (double x)
{
    if (!(x > 0.0))
        return 0.0f;
    return x >= 1.0 ? 1.0f : (float) x;
}

#endif
