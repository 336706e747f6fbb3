/*  model_labeller.h: an annotation actor's model: labels batches with it
    and applies people's corrections to it as online updates.

    Each annotation actor owns one labeller and the labeller owns its model
    outright (a clone nobody else sees), so online updates need no locks.
    Items are featurised with the model's own features_config_t, the one
    it was trained with, so a model never scores features it never saw.

    label: per item, label = arg-max class, confidence = its probability,
    source SOURCE_MODEL, the model version, the uncertainty (the strategy
    set with model_labeller_set_strategy), and scores for every class when
    there are at most 10, else the top 5 (highest first). An item whose
    features cannot be extracted is answered SOURCE_NONE (logged once per
    model). The strings and score arrays it sets stay valid until the next
    label call, set, or destroy.
*/
#ifndef ANNOTATE_MODEL_LABELLER_H
#define ANNOTATE_MODEL_LABELLER_H

#include <stddef.h>
#include <stdint.h>

#include "annotate/v1/cluster.pb-c.h"
#include "al/al.h"
#include "model/model.h"

#define LABELLER_ALL_SCORES 10  /* up to this many classes: a score for each */
#define LABELLER_TOP_K      5   /* beyond: the top 5 */

typedef struct model_labeller model_labeller_t;

model_labeller_t *model_labeller_new (const char *actor_name);
void model_labeller_destroy (model_labeller_t **self_p);

/*  Takes ownership of model (NULL: no model); the previous one is freed.  */
void model_labeller_set (model_labeller_t *self, uint64_t version, model_t *model);
/*  The active-learning strategy that scores each label's uncertainty
    (default: margin); NULL keeps the current one.  */
void model_labeller_set_strategy (model_labeller_t *self, const al_strategy_t *strategy);
const model_t *model_labeller_model (const model_labeller_t *self);
uint64_t model_labeller_version (const model_labeller_t *self);

/*  Fills label, confidence, source, model_version and scores of out[i]
    for every item. Needs a model.  */
void model_labeller_label (model_labeller_t *self, const Annotate__V1__Batch *batch,
                           Annotate__V1__ItemLabel *out);

/*  One SGD step per correction whose label is one of the model's classes;
    returns how many were applied. lr <= 0 or no model: none.  */
size_t model_labeller_correct (model_labeller_t *self, const Annotate__V1__Corrections *cs,
                               float lr);

#endif
