/*  model_labeller.c: labelling with a model, and online corrections.
    See model_labeller.h.  */
#include "actors/model_labeller.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "al/al.h"
#include "features/features.h"
#include "util/util.h"

#define LOG "annotation"

struct model_labeller {
    char *actor;
    model_t *model;
    uint64_t version;
    size_t n_classes;
    sparse_vec_t x;             /* reused for every item */
    float *proba;               /* n_classes */
    size_t *order;              /* n_classes, class indices by probability */
    bool warned;                /* a feature failure was logged for this model */
    const al_strategy_t *strategy;  /* scores each label's uncertainty */
    /* what the last label call handed out */
    Annotate__V1__ClassScore *scores;
    Annotate__V1__ClassScore **score_ptrs;
    size_t scores_cap;
};

model_labeller_t *
model_labeller_new (const char *actor_name)
{
    model_labeller_t *self = calloc (1, sizeof *self);
    self->actor = strdup (actor_name ? actor_name : "?");
    self->strategy = al_strategy_find (AL_DEFAULT_STRATEGY);
    sparse_vec_init (&self->x);
    return self;
}

void
model_labeller_destroy (model_labeller_t **self_p)
{
    model_labeller_t *self = self_p ? *self_p : NULL;
    if (!self)
        return;
    model_destroy (&self->model);
    sparse_vec_free (&self->x);
    free (self->proba);
    free (self->order);
    free (self->scores);
    free (self->score_ptrs);
    free (self->actor);
    free (self);
    *self_p = NULL;
}

void
model_labeller_set_strategy (model_labeller_t *self, const al_strategy_t *strategy)
{
    if (strategy)
        self->strategy = strategy;
}

void
model_labeller_set (model_labeller_t *self, uint64_t version, model_t *model)
{
    model_destroy (&self->model);
    free (self->proba);
    free (self->order);
    self->proba = NULL;
    self->order = NULL;
    self->model = model;
    self->version = model ? version : 0;
    self->n_classes = model ? model_n_classes (model) : 0;
    self->warned = false;
    if (model) {
        self->proba = calloc (self->n_classes, sizeof *self->proba);
        self->order = calloc (self->n_classes, sizeof *self->order);
    }
}

const model_t *
model_labeller_model (const model_labeller_t *self)
{
    return self->model;
}

uint64_t
model_labeller_version (const model_labeller_t *self)
{
    return self->version;
}

static int
s_features (model_labeller_t *self, const char *text, const float *vec, size_t n_vec,
            const char *id)
{
    char err[256] = "";
    const char *t = text ? text : "";
    if (features_extract (model_features (self->model), t, strlen (t), vec, n_vec, &self->x, err,
                          sizeof err)
        == 0)
        return 0;
    if (!self->warned)
        log_warn (LOG, "%s: no features for item '%.64s' (model version %" PRIu64
                  "): %s; such items get SOURCE_NONE (logged once per model)",
                  self->actor, id, self->version, err);
    self->warned = true;
    return -1;
}

/*  The k most probable classes into self->order[0..k-1], highest first.
    A partial selection sort: k is at most 10.  */
static void
s_top (model_labeller_t *self, size_t k)
{
    for (size_t i = 0; i < self->n_classes; i++)
        self->order[i] = i;
    for (size_t i = 0; i < k; i++) {
        size_t best = i;
        for (size_t j = i + 1; j < self->n_classes; j++)
            if (self->proba[self->order[j]] > self->proba[self->order[best]])
                best = j;
        size_t t = self->order[i];
        self->order[i] = self->order[best];
        self->order[best] = t;
    }
}

static void
s_reserve_scores (model_labeller_t *self, size_t n)
{
    if (n <= self->scores_cap)
        return;
    free (self->scores);
    free (self->score_ptrs);
    self->scores = calloc (n, sizeof *self->scores);
    self->score_ptrs = calloc (n, sizeof *self->score_ptrs);
    self->scores_cap = n;
}

static void
s_none (Annotate__V1__ItemLabel *out)
{
    out->label = "";
    out->confidence = 0;
    out->source = ANNOTATE__V1__LABEL_SOURCE__SOURCE_NONE;
    out->model_version = 0;
    out->n_scores = 0;
    out->scores = NULL;
}

void
model_labeller_label (model_labeller_t *self, const Annotate__V1__Batch *batch,
                      Annotate__V1__ItemLabel *out)
{
    size_t k = self->n_classes <= LABELLER_ALL_SCORES ? self->n_classes : LABELLER_TOP_K;
    s_reserve_scores (self, batch->n_items * k);
    for (size_t i = 0; i < batch->n_items; i++) {
        const Annotate__V1__WorkItem *it = batch->items[i];
        if (!self->model || s_features (self, it->text, it->vector, it->n_vector, it->id) != 0) {
            s_none (&out[i]);
            continue;
        }
        size_t best = model_predict (self->model, &self->x, self->proba);
        s_top (self, k);
        out[i].label = (char *) model_label (self->model, best);
        out[i].confidence = self->proba[best];
        out[i].uncertainty = self->strategy ? self->strategy->score (self->proba, self->n_classes)
                                            : 0.0f;
        out[i].source = ANNOTATE__V1__LABEL_SOURCE__SOURCE_MODEL;
        out[i].model_version = self->version;
        Annotate__V1__ClassScore *sc = &self->scores[i * k];
        Annotate__V1__ClassScore **sp = &self->score_ptrs[i * k];
        for (size_t j = 0; j < k; j++) {
            annotate__v1__class_score__init (&sc[j]);
            sc[j].label = (char *) model_label (self->model, self->order[j]);
            sc[j].p = self->proba[self->order[j]];
            sp[j] = &sc[j];
        }
        out[i].scores = sp;
        out[i].n_scores = k;
    }
}

static int32_t
s_class_of (const model_labeller_t *self, const char *label)
{
    for (size_t k = 0; k < self->n_classes; k++)
        if (strcmp (model_label (self->model, k), label) == 0)
            return (int32_t) k;
    return -1;
}

size_t
model_labeller_correct (model_labeller_t *self, const Annotate__V1__Corrections *cs, float lr)
{
    if (!self->model || !(lr > 0))
        return 0;
    size_t applied = 0;
    for (size_t i = 0; i < cs->n_items; i++) {
        const Annotate__V1__Correction *c = cs->items[i];
        int32_t y = s_class_of (self, c->label);
        if (y < 0 || s_features (self, c->text, c->vector, c->n_vector, c->id) != 0)
            continue;
        model_online_update (self->model, &self->x, y, lr);
        applied++;
    }
    return applied;
}
