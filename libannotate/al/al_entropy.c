/*  al_entropy.c: the "entropy" strategy: Shannon entropy of the vector
    divided by log k, its largest value, so it is in [0, 1] for any number
    of classes. It counts every class's doubt, not just the top two.
*/
#include "al/al_internal.h"

static float
s_score (const float *p, size_t k)
{
    if (k <= 1)
        return 0.0f;
    double mass = al_prob_mass (p, k);
    if (!(mass > 0.0))
        return 1.0f;
    double h = 0.0;
    for (size_t i = 0; i < k; i++) {
        double v = al_prob (p, i, mass);
        if (v > 0.0)            /* 0 log 0 = 0 */
            h -= v * log (v);
    }
    return al_unit (h / log ((double) k));
}

const al_strategy_t al_entropy = {
    .name = "entropy",
    .summary = "-sum p log p / log k: how spread the whole vector is",
    .score = s_score,
};
