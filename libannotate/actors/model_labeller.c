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
    size_t *order;              /* n_classes, class indices by probability */
    bool warned;                /* a feature failure was logged for this model */
    const al_strategy_t *strategy;  /* scores each label's uncertainty */
    /* the batch being labelled: items, probability rows, arg-max classes */
    model_item_t *items;
    float *rows;
    size_t *best;
    size_t batch_cap;
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
    free (self->order);
    free (self->scores);
    free (self->score_ptrs);
    free (self->items);
    free (self->rows);
    free (self->best);
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
    free (self->order);
    self->order = NULL;
    free (self->items);
    free (self->rows);
    free (self->best);
    self->items = NULL;
    self->rows = NULL;
    self->best = NULL;
    self->batch_cap = 0;
    self->model = model;
    self->version = model ? version : 0;
    self->n_classes = model ? model_n_classes (model) : 0;
    self->warned = false;
    if (model) {
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

/*  The k most probable classes of row p into self->order[0..k-1],
    highest first. A partial selection sort: k is at most 10.  */
static void
s_top (model_labeller_t *self, const float *p, size_t k)
{
    for (size_t i = 0; i < self->n_classes; i++)
        self->order[i] = i;
    for (size_t i = 0; i < k; i++) {
        size_t best = i;
        for (size_t j = i + 1; j < self->n_classes; j++)
            if (p[self->order[j]] > p[self->order[best]])
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

/*  Room for a batch: the items and their probability rows.  */
static bool
s_reserve_batch (model_labeller_t *self, size_t n)
{
    if (n <= self->batch_cap)
        return true;
    free (self->items);
    free (self->rows);
    free (self->best);
    self->items = calloc (n, sizeof *self->items);
    self->rows = calloc (n * self->n_classes, sizeof *self->rows);
    self->best = calloc (n, sizeof *self->best);
    self->batch_cap = self->items && self->rows && self->best ? n : 0;
    return self->batch_cap != 0;
}

void
model_labeller_label (model_labeller_t *self, const Annotate__V1__Batch *batch,
                      Annotate__V1__ItemLabel *out)
{
    size_t n = batch->n_items;
    size_t k = self->n_classes <= LABELLER_ALL_SCORES ? self->n_classes : LABELLER_TOP_K;
    s_reserve_scores (self, n * k);
    if (!self->model || !s_reserve_batch (self, n)) {
        for (size_t i = 0; i < n; i++)
            s_none (&out[i]);
        return;
    }
    /*  One call for the batch: dense vectors are scored straight from the
        message, never copied into (index, value) pairs.  */
    for (size_t i = 0; i < n; i++) {
        const Annotate__V1__WorkItem *it = batch->items[i];
        const char *t = it->text ? it->text : "";
        self->items[i] = (model_item_t) { t, strlen (t), it->vector, it->n_vector };
    }
    char err[256] = "";
    model_predict_items (self->model, self->items, n, self->rows, self->best, &self->x, err,
                         sizeof err);
    for (size_t i = 0; i < n; i++) {
        const float *p = self->rows + i * self->n_classes;
        if (self->best[i] == MODEL_NO_CLASS) {
            if (!self->warned)
                log_warn (LOG, "%s: no features for item '%.64s' (model version %" PRIu64
                          "): %s; such items get SOURCE_NONE (logged once per model)",
                          self->actor, batch->items[i]->id, self->version, err);
            self->warned = true;
            s_none (&out[i]);
            continue;
        }
        size_t best = self->best[i];
        s_top (self, p, k);
        out[i].label = (char *) model_label (self->model, best);
        out[i].confidence = p[best];
        out[i].uncertainty = self->strategy ? self->strategy->score (p, self->n_classes) : 0.0f;
        out[i].source = ANNOTATE__V1__LABEL_SOURCE__SOURCE_MODEL;
        out[i].model_version = self->version;
        Annotate__V1__ClassScore *sc = &self->scores[i * k];
        Annotate__V1__ClassScore **sp = &self->score_ptrs[i * k];
        for (size_t j = 0; j < k; j++) {
            annotate__v1__class_score__init (&sc[j]);
            sc[j].label = (char *) model_label (self->model, self->order[j]);
            sc[j].p = p[self->order[j]];
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
