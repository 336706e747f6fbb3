/*  model_spec.h: the manifest's model section as workers get it
    (ModelSpec in ASSIGN and in every RETRAIN order), checked and turned
    into the feature and training settings of features.h and model.h.

    A spec comes from the network, so model_spec_check bounds every field
    before anything is sized from it. Zero means "the default" only where
    zero is not a meaningful value (ngram_max, vector_scale, C, eps,
    validation_fraction); hash_bits 0 really means "no text features".
*/
#ifndef ANNOTATE_MODEL_SPEC_H
#define ANNOTATE_MODEL_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "annotate/v1/cluster.pb-c.h"
#include "features/features.h"
#include "al/al.h"
#include "model/model.h"

#define MODEL_SPEC_MAX_BLOB ((uint64_t) 2 << 30)  /* 2 GiB: no model is larger */
#define MODEL_SPEC_DEFAULT_VALID 0.2

/*  NULL when the spec is usable, else why not (one phrase).  */
const char *model_spec_check (const Annotate__V1__ModelSpec *spec);

/*  True when the spec asks for a model at all (present, type not "none").  */
bool model_spec_wants_model (const Annotate__V1__ModelSpec *spec);

void model_spec_features (const Annotate__V1__ModelSpec *spec, features_config_t *out);
void model_spec_train (const Annotate__V1__ModelSpec *spec, model_train_config_t *out);
double model_spec_validation_fraction (const Annotate__V1__ModelSpec *spec);

/*  The largest serialised model the spec can produce (weights of every
    class plus names and header), capped at MODEL_SPEC_MAX_BLOB.  */
uint64_t model_spec_max_bytes (const Annotate__V1__ModelSpec *spec);

/*  Deep copy (NULL in, NULL out) and free.  */
Annotate__V1__ModelSpec *model_spec_dup (const Annotate__V1__ModelSpec *spec);
void model_spec_free (Annotate__V1__ModelSpec **spec_p);

/*  The active-learning strategy the spec names (the default when it names
    none; model_spec_check refuses unknown names).  */
const al_strategy_t *model_spec_strategy (const Annotate__V1__ModelSpec *spec);
/*  The auto-accept threshold fit the spec asks for; false when it asks for
    none (target_accuracy 0).  */
bool model_spec_fit_config (const Annotate__V1__ModelSpec *spec, al_fit_config_t *out);
/*  Whether two feature configurations extract the same features.  */
bool model_spec_same_features (const features_config_t *a, const features_config_t *b);

#endif
