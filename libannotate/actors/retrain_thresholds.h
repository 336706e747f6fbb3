/*  retrain_thresholds.h: the auto-accept policy of a freshly trained
    model, fitted by the retraining actor on the validation sample.

    The validation sample is people's answers on machine-labelled items
    drawn at random (store_review.c), held out of training. The new model
    scores each of them; al_fit_thresholds picks, per class, the lowest
    confidence at which the accepted labels are accurate enough with
    margin: by default (the pooled rule) each class's accuracy above its
    threshold reaches a common level and the Wilson lower bound of all
    accepted sample items together reaches the target; with per_class, each
    class's own bound must (al.h has both rules). The result travels
    in the model's ModelInfo, so the thresholds always belong to exactly
    the model version they were measured on; the coordinator's store uses
    the current version's.
*/
#ifndef ANNOTATE_RETRAIN_THRESHOLDS_H
#define ANNOTATE_RETRAIN_THRESHOLDS_H

#include "annotate/v1/annotate.pb-c.h"
#include "annotate/v1/cluster.pb-c.h"
#include "al/al.h"
#include "model/model.h"

typedef struct {
    Annotate__V1__ClassThreshold *items;    /* what info->thresholds points into */
    Annotate__V1__ClassThreshold **ptrs;
} retrain_thresholds_t;

/*  Fills info->thresholds, n_validation_sample, sample_accuracy and its
    interval, and target_accuracy. With no target in the spec, or no
    sample, every class is disabled (nothing is auto-accepted). th owns the
    memory info then points to; free it after info is sent.  */
void retrain_fit_thresholds (const model_t *model, const Annotate__V1__ModelSpec *spec,
                             const model_example_t *sample, size_t n,
                             retrain_thresholds_t *th, Annotate__V1__ModelInfo *info);

/*  The same from a sample already scored (predicted class, confidence,
    truth; correct of n predicted right), by whatever made the predictions
    (a model, label spreading). labels[k] are the class names (borrowed
    until th is freed). th is freed first, so it can be refilled. 0, or -1
    when out of memory (info untouched).  */
int retrain_fill_thresholds (const al_sample_t *s, size_t n, uint64_t correct,
                             const char *const *labels, size_t k,
                             const Annotate__V1__ModelSpec *spec, retrain_thresholds_t *th,
                             Annotate__V1__ModelInfo *info);

void retrain_thresholds_free (retrain_thresholds_t *th);

#endif
