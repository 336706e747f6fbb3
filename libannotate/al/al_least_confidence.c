/*  al_least_confidence.c: the "least_confidence" strategy: 1 - max p,
    scaled by k / (k - 1) so that a uniform vector (max p = 1/k) scores 1
    whatever the number of classes.
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
    double top = 0.0;
    for (size_t i = 0; i < k; i++) {
        double v = al_prob (p, i, mass);
        if (v > top)
            top = v;
    }
    return al_unit ((1.0 - top) * (double) k / (double) (k - 1));
}

const al_strategy_t al_least_confidence = {
    .name = "least_confidence",
    .summary = "1 - max p, scaled to [0, 1]: how unsure the model is of its choice",
    .score = s_score,
};
