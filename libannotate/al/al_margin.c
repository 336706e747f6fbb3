/*  al_margin.c: the "margin" strategy (the default): 1 - (p1 - p2), p1 and
    p2 the two largest probabilities. It looks only at the decision the
    model is torn between, which is what a person's answer settles, and
    is cheap and well calibrated across many classes, where entropy is
    dominated by the long tail.
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
    double p1 = 0.0, p2 = 0.0;
    for (size_t i = 0; i < k; i++) {
        double v = al_prob (p, i, mass);
        if (v > p1) {
            p2 = p1;
            p1 = v;
        }
        else if (v > p2)
            p2 = v;
    }
    return al_unit (1.0 - (p1 - p2));
}

const al_strategy_t al_margin = {
    .name = "margin",
    .summary = "1 - (p1 - p2): how close the two likeliest classes are (default)",
    .score = s_score,
};
