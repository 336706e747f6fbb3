/*  model_spec.c: checking a ModelSpec and deriving feature and training
    settings from it. See model_spec.h.  */
#include "actors/model_spec.h"

#include <math.h>
#include <string.h>

#include "al/al.h"

#include <czmq.h>

#include "manifest/manifest.h"
#include "util/util.h"

static bool
s_name_ok (const char *s)
{
    size_t n = s ? strlen (s) : 0;
    return n && n <= MANIFEST_MAX_NAME && utf8_valid (s, n);
}

static bool
s_finite_in (double v, double lo, double hi)
{
    return isfinite (v) && v >= lo && v <= hi;
}

const char *
model_spec_check (const Annotate__V1__ModelSpec *s)
{
    if (!s)
        return NULL;
    if (!s_name_ok (s->type))
        return "model type is not 1..128 bytes of UTF-8";
    if (s->hash_bits != 0 && (s->hash_bits < 10 || s->hash_bits > 24))
        return "hash_bits must be 0 or 10..24";
    if (s->ngram_max > 2)
        return "ngram_max must be 0..2";
    if (s->char_ngrams != 0 && (s->char_ngrams < 2 || s->char_ngrams > 6))
        return "char_ngrams must be 0 or 2..6";
    if (s->vector_dim > MANIFEST_MAX_VECTOR_DIM)
        return "vector_dim too large";
    if (s->vector_norm > VECTOR_NORM_MAX)
        return "unknown vector_norm";
    if (!s_finite_in (s->vector_scale, 0, 1e6) || !s_finite_in (s->c, 0, 1e9)
        || !s_finite_in (s->eps, 0, 1) || !s_finite_in (s->online_lr, 0, 100)
        || !s_finite_in (s->validation_fraction, 0, 0.9))
        return "a numeric setting is out of range";
    if (s->threshold_rule && *s->threshold_rule && !streq (s->threshold_rule, "pooled")
        && !streq (s->threshold_rule, "per_class"))
        return "threshold_rule must be pooled or per_class";
    if (s->uncertainty && *s->uncertainty && !al_strategy_find (s->uncertainty))
        return "unknown uncertainty strategy";
    if (!s_finite_in (s->target_accuracy, 0, 1) || !s_finite_in (s->confidence_z, 0, 10)
        || s->min_support > 1000000)
        return "an auto-accept setting is out of range";
    if (s->n_labels > MODEL_MAX_CLASSES)
        return "too many model labels";
    for (size_t i = 0; i < s->n_labels; i++) {
        if (!s_name_ok (s->labels[i]))
            return "a model label is not 1..128 bytes of UTF-8";
        for (size_t j = 0; j < i; j++)
            if (streq (s->labels[i], s->labels[j]))
                return "duplicate model label";
    }
    return NULL;
}

bool
model_spec_wants_model (const Annotate__V1__ModelSpec *s)
{
    return s && s->type && !streq (s->type, "none");
}

void
model_spec_features (const Annotate__V1__ModelSpec *s, features_config_t *out)
{
    features_config_default (out);
    if (!s)
        return;
    out->hash_bits = s->hash_bits;
    out->ngram_max = s->ngram_max ? s->ngram_max : out->ngram_max;
    out->char_ngrams = s->char_ngrams;
    out->vector_dim = s->vector_dim;
    out->vector_norm = (vector_norm_t) s->vector_norm;
    out->vector_scale = s->vector_scale > 0 ? s->vector_scale : 1.0f;
}

void
model_spec_train (const Annotate__V1__ModelSpec *s, model_train_config_t *out)
{
    model_train_config_default (out);
    if (!s)
        return;
    if (s->c > 0)
        out->C = s->c;
    if (s->eps > 0)
        out->eps = s->eps;
    out->calibrate = s->calibrate;
}

double
model_spec_validation_fraction (const Annotate__V1__ModelSpec *s)
{
    return s && s->validation_fraction > 0 ? s->validation_fraction : MODEL_SPEC_DEFAULT_VALID;
}

uint64_t
model_spec_max_bytes (const Annotate__V1__ModelSpec *s)
{
    features_config_t f;
    model_spec_features (s, &f);
    uint64_t classes = s && s->n_labels ? s->n_labels : MODEL_MAX_CLASSES;
    uint64_t dim = (f.hash_bits ? (uint64_t) 1 << f.hash_bits : 0) + f.vector_dim;
    /*  weights (float32, dim + 1 a class), names with their lengths, and a
        generous allowance for the header.  */
    uint64_t bytes = classes * (dim + 1) * 4 + classes * (MANIFEST_MAX_NAME + 8) + 65536;
    return bytes < MODEL_SPEC_MAX_BLOB ? bytes : MODEL_SPEC_MAX_BLOB;
}

Annotate__V1__ModelSpec *
model_spec_dup (const Annotate__V1__ModelSpec *s)
{
    if (!s)
        return NULL;
    size_t len = annotate__v1__model_spec__get_packed_size (s);
    uint8_t *buf = malloc (len ? len : 1);
    annotate__v1__model_spec__pack (s, buf);
    Annotate__V1__ModelSpec *copy = annotate__v1__model_spec__unpack (NULL, len, buf);
    free (buf);
    return copy;
}

void
model_spec_free (Annotate__V1__ModelSpec **spec_p)
{
    if (spec_p && *spec_p) {
        annotate__v1__model_spec__free_unpacked (*spec_p, NULL);
        *spec_p = NULL;
    }
}

bool
model_spec_same_features (const features_config_t *a, const features_config_t *b)
{
    return a->hash_bits == b->hash_bits && a->ngram_max == b->ngram_max
           && a->char_ngrams == b->char_ngrams && a->vector_dim == b->vector_dim
           && a->vector_norm == b->vector_norm && a->vector_scale == b->vector_scale;
}

const al_strategy_t *
model_spec_strategy (const Annotate__V1__ModelSpec *s)
{
    const al_strategy_t *st = s && s->uncertainty && *s->uncertainty
                                  ? al_strategy_find (s->uncertainty)
                                  : NULL;
    return st ? st : al_strategy_find (AL_DEFAULT_STRATEGY);
}

bool
model_spec_fit_config (const Annotate__V1__ModelSpec *s, al_fit_config_t *out)
{
    al_fit_config_default (out);
    if (!s || !(s->target_accuracy > 0))
        return false;
    out->target = s->target_accuracy;
    if (s->confidence_z > 0)
        out->z = s->confidence_z;
    if (s->min_support)
        out->min_support = s->min_support;
    out->pooled = !(s->threshold_rule && streq (s->threshold_rule, "per_class"));
    if (out->pooled && s->dataset_items) {
        out->dataset_items = s->dataset_items;
        out->dataset_human = s->dataset_human < s->dataset_items ? s->dataset_human
                                                                 : s->dataset_items;
    }
    return true;
}
