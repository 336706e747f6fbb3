/*  al.h: active learning: how unsure a machine label is, which items a
    person should see, and when a machine label may be accepted unseen.

    Everything here is a pure function over probability vectors, feature
    vectors and samples, so the same code runs in annotation actors (each
    label gets its uncertainty as it is made), in retraining actors (the
    per-class thresholds are refitted for every new model), in the
    coordinator (the batch a reviewer leases is made diverse) and in the
    benchmarks of bench/al.

    Uncertainty strategies are pluggable: a strategy is one file
    (al_<name>.c) defining an al_strategy_t, listed in al_strategy.c's
    table. Every score is in [0, 1], higher means a person's answer is
    worth more, and it is comparable across items of one model, which is
    what the review queue orders by.

    Calibrated auto-accept (the open, per-class form of SageMaker Ground
    Truth's automated labelling): a random validation sample of machine-
    labelled items is answered by people; for each class c, among the
    sample items the model assigns to c, the chosen threshold is the lowest
    confidence t such that the items with confidence >= t are accurate
    enough with margin: the Wilson lower bound of their accuracy (one-sided,
    z) reaches the target and there are at least min_support of them. The
    bound, not the point estimate, is what makes a small sample
    conservative: with few items nothing qualifies and nothing is
    auto-accepted.
*/
#ifndef ANNOTATE_AL_H
#define ANNOTATE_AL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "features/features.h"

/* ---- uncertainty ------------------------------------------------------- */

typedef struct {
    const char *name;       /* as written in the manifest */
    const char *summary;    /* one line, for --help and errors */
    /*  Uncertainty of one probability vector p[k] (k >= 1, sums to ~1;
        NaN or negative entries are treated as 0). In [0, 1].  */
    float (*score) (const float *p, size_t k);
} al_strategy_t;

/*  "least_confidence": 1 - max p, scaled by k/(k-1) into [0, 1].
    "margin" (the default): 1 - (p1 - p2), p1 >= p2 the two largest.
    "entropy": -sum p log p / log k.  */
const al_strategy_t *al_strategy_find (const char *name);
#define AL_DEFAULT_STRATEGY "margin"
/*  The strategies' names, NULL-terminated, in table order.  */
const char *const *al_strategy_names (void);

/* ---- intervals --------------------------------------------------------- */

/*  Wilson score interval of a binomial proportion correct/n at normal
    quantile z (1.645: 90% two-sided, i.e. 95% one-sided bounds). n 0 gives
    [0, 1].  */
void al_wilson (uint64_t correct, uint64_t n, double z, double *lo, double *hi);

/* ---- per-class thresholds ------------------------------------------------ */

typedef struct {
    float confidence;       /* the model's probability of its predicted class */
    uint32_t predicted;     /* class index */
    uint32_t truth;         /* the person's class index */
} al_sample_t;

typedef struct {
    double target;          /* accuracy the accepted labels must reach, (0, 1] */
    double z;               /* one-sided bound quantile, default 1.645 */
    uint32_t min_support;   /* sample items above a threshold, default 20 */
    bool pooled;            /* the pooled rule below instead of one bound per class */
    uint64_t dataset_items; /* pooled only: > 0 applies the target to the whole dataset */
    uint64_t dataset_human; /*   of which people (or gold) labelled this many */
} al_fit_config_t;

/*  The pooled rule (cfg->pooled): a bound per class needs some fifty
    sample items per class before a 0.95 target can be met at all, which a
    sample of a few hundred never gives ten classes. So the margin is taken
    on the accepted set as a whole: for a level L >= target, every class
    gets its lowest threshold whose point accuracy reaches L (with at
    least min_support sample items above it); L is the level, in steps of
    AL_LEVEL_STEP from the target up, that accepts the most sample items
    while the Wilson lower bound of all accepted sample items together
    still reaches the target. Each class's expected accuracy meets the
    target, and the claim about the accepted labels holds with the bound's
    confidence.  */
#define AL_LEVEL_STEP 0.0025

/*  The dataset rule (pooled, dataset_items > 0): people's labels count as
    right, so the auto-accepted part may be less accurate than the target
    as long as the whole dataset is not. Levels are tried from
    AL_DATASET_MIN_LEVEL up; a level qualifies when, with A the open items
    it would accept (the accepted share of the sample times the items
    people have not labelled) and lo the accepted sample's Wilson lower
    bound, (N - A + lo * A) / N reaches the target (people label the other
    N - A). The qualifying level that accepts the most wins.  */
#define AL_DATASET_MIN_LEVEL 0.5

typedef struct {
    bool enabled;           /* false: nothing of this class is auto-accepted */
    float threshold;        /* confidence >= threshold is accepted; 2 when disabled */
    uint32_t n_above;       /* sample items predicted this class at or above it */
    uint32_t n_correct;     /* of which the person agreed */
    double accuracy;        /* n_correct / n_above (0 when none) */
    double lower, upper;    /* Wilson interval at cfg->z */
    uint32_t n_predicted;   /* sample items predicted this class, any confidence */
} al_threshold_t;

void al_fit_config_default (al_fit_config_t *cfg);

/*  Fits out[n_classes] from the sample (items whose predicted or truth
    index is >= n_classes are ignored). A class with no qualifying
    threshold is disabled, with n_above/accuracy/interval describing all
    its sample items. Returns how many classes are enabled.  */
size_t al_fit_thresholds (const al_sample_t *sample, size_t n, size_t n_classes,
                          const al_fit_config_t *cfg, al_threshold_t *out);

/*  Expected accuracy of a set of auto-accepted labels, given how many of
    them each class has (count[n_classes]) and the fitted thresholds: the
    count-weighted accuracy, with the interval's bounds weighted the same
    way (a conservative combination). Classes with count 0 do not count;
    with no labels at all *acc = *lo = *hi = 0.  */
void al_expected_accuracy (const al_threshold_t *th, const uint64_t *count, size_t n_classes,
                           double *acc, double *lo, double *hi);

/*  The accepted set's accuracy as the pooled rule claims it: the enabled
    classes' sample items together, point estimate and Wilson interval at
    z. Zeros when no class is enabled.  */
void al_pooled_interval (const al_threshold_t *th, size_t n_classes, double z, double *acc,
                         double *lo, double *hi);

/* ---- diversity ----------------------------------------------------------- */

/*  Picks at most k of n candidates for one reviewer batch: repeatedly the
    candidate with the highest score * (1 - s), where s is its largest
    cosine similarity to the candidates already picked, skipping any whose
    s exceeds max_sim (near-identical items: one of them is enough per
    batch). Candidates are L2-normalised sparse vectors (features.h output
    is), NULL vectors are treated as unlike everything. Writes the chosen
    indices into out[k] in pick order; returns how many.  */
size_t al_diverse_pick (const sparse_vec_t *const *vecs, const float *scores, size_t n, size_t k,
                        float max_sim, size_t *out);

/*  Cosine similarity of two sparse vectors (0 when either is empty).  */
float al_cosine (const sparse_vec_t *a, const sparse_vec_t *b);

/* ---- agreement ------------------------------------------------------------ */

/*  Cohen's kappa of two raters over n items (a[i], b[i] class indices <
    n_classes). NaN when undefined (n 0, or expected agreement 1).  */
double al_cohen_kappa (const uint32_t *a, const uint32_t *b, size_t n, size_t n_classes);

/*  Fleiss' kappa: counts[i * n_classes + j] raters put item i in class j,
    every item with the same number of raters (>= 2). NaN when undefined. */
double al_fleiss_kappa (const uint32_t *counts, size_t n_items, size_t n_classes);

/* ---- sampling ------------------------------------------------------------- */

/*  A deterministic uniform draw in [0, 1) from an id and a seed (xxh3),
    the same on every machine: decides validation-sample membership and
    random cold-start order without any state.  */
double al_uniform (const char *id, size_t id_len, uint64_t seed);

#endif
