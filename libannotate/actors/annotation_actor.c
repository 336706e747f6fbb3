/*  annotation_actor.c: labels batches of items on a worker.

    Takes on its pipe:
      "BATCH" [batch_id be64] [packed Batch]
              -> "RESULT" [batch_id be64] [packed Result]: one ItemLabel per
                 item, in item order, exactly one answer per batch (an
                 unreadable batch gets an empty Result, so the coordinator
                 gets its credit back and dispatches the items again)
      "CONFIG" [packed Assign]  re-initialises the backend (new taxonomy,
                                new model spec: online_lr, uncertainty)
      "MODEL" [version be64] [model_t * | empty]
                                label with this model from the next batch on
                                (the actor owns it); empty: no model
      "CORRECT" [packed Corrections]
                                online update of its own model (model spec
                                online_lr; 0 or no model: ignored)
      "STATUS"                  -> "STATUS" [one line]
      "$TERM"                   stop

    With a model, batches are labelled by model_labeller.h (SOURCE_MODEL).
    Without one, by the "none" backend (annotation_backend.h): every item
    is answered with SOURCE_NONE, an empty label, confidence 0 and
    model_version 0, so the store records that an actor saw it, and no
    label is ever made up. The actor is single-threaded, so a new model
    takes over between two batches, never in the middle of one.
*/
#include "actors/annotation_backend.h"
#include "actors/model_labeller.h"
#include "actors/model_spec.h"

#include <inttypes.h>
#include <string.h>

#include "util/util.h"

#define LOG "annotation"

/* ---- the "none" backend ------------------------------------------------ */

static void *
s_none_init (const actor_config_t *config, char *err, size_t errlen)
{
    static int token;
    return &token;      /* no state, but non-NULL means "ready" */
}

static int
s_none_label (void *state, const Annotate__V1__Batch *batch, Annotate__V1__ItemLabel *out,
              char *err, size_t errlen)
{
    for (size_t i = 0; i < batch->n_items; i++) {
        out[i].label = "";
        out[i].confidence = 0;
        out[i].source = ANNOTATE__V1__LABEL_SOURCE__SOURCE_NONE;
        out[i].model_version = 0;
        out[i].n_scores = 0;
        out[i].scores = NULL;
    }
    return 0;
}

static void
s_none_destroy (void **state_p)
{
    *state_p = NULL;
}

const annotation_backend_t annotation_backend_none = { "none", s_none_init, s_none_label,
                                                       s_none_destroy };

const annotation_backend_t *
annotation_backend_find (const char *model_type)
{
    if (!model_type || streq (model_type, "none"))
        return &annotation_backend_none;
    return NULL;
}

/* ---- the actor -------------------------------------------------------- */

typedef struct {
    zsock_t *pipe;
    actor_config_t *config;
    const annotation_backend_t *backend;
    void *state;
    model_labeller_t *labeller;
    uint64_t batches, items, corrections;
} self_t;

static void
s_send_result (self_t *self, uint64_t batch_id, const Annotate__V1__Result *res)
{
    uint8_t idbuf[8];
    be64_put (idbuf, batch_id);
    size_t len = annotate__v1__result__get_packed_size (res);
    zframe_t *body = zframe_new (NULL, len);
    annotate__v1__result__pack (res, zframe_data (body));
    zmsg_t *m = zmsg_new ();
    zmsg_addstr (m, "RESULT");
    zmsg_addmem (m, idbuf, 8);
    zmsg_append (m, &body);
    zmsg_send (&m, self->pipe);
}

static void
s_on_batch (self_t *self, uint64_t batch_id, zframe_t *packed)
{
    Annotate__V1__Result res = ANNOTATE__V1__RESULT__INIT;
    res.batch_id = batch_id;
    res.actor = (char *) self->config->name;
    Annotate__V1__Batch *batch = packed ? annotate__v1__batch__unpack (NULL, zframe_size (packed),
                                                                       zframe_data (packed))
                                        : NULL;
    if (!batch) {
        log_error (LOG, "%s: batch %" PRIu64 " does not unpack; answered empty",
                   self->config->name, batch_id);
        s_send_result (self, batch_id, &res);
        return;
    }
    size_t n = batch->n_items;
    Annotate__V1__ItemLabel *labels = calloc (n ? n : 1, sizeof *labels);
    Annotate__V1__ItemLabel **ptrs = calloc (n ? n : 1, sizeof *ptrs);
    for (size_t i = 0; i < n; i++) {
        annotate__v1__item_label__init (&labels[i]);
        labels[i].id = batch->items[i]->id;
        labels[i].ticket = batch->items[i]->ticket;
        ptrs[i] = &labels[i];
    }
    char err[256] = "";
    if (model_labeller_model (self->labeller))
        model_labeller_label (self->labeller, batch, labels);
    else if (self->backend->label_batch (self->state, batch, labels, err, sizeof err) != 0) {
        log_error (LOG, "%s: backend %s failed on batch %" PRIu64 ": %s; answering SOURCE_NONE",
                   self->config->name, self->backend->name, batch_id, err);
        annotation_backend_none.label_batch (NULL, batch, labels, err, sizeof err);
    }
    res.labels = ptrs;
    res.n_labels = n;
    s_send_result (self, batch_id, &res);
    self->batches++;
    self->items += n;
    free (ptrs);
    free (labels);
    annotate__v1__batch__free_unpacked (batch, NULL);
}

static void
s_on_config (self_t *self, zframe_t *packed)
{
    actor_config_t *c = packed ? actor_config_from_assign (self->config->name,
                                                           self->config->worker,
                                                           zframe_data (packed),
                                                           zframe_size (packed))
                               : NULL;
    if (!c)
        return;
    char err[256] = "";
    self->backend->destroy (&self->state);
    self->state = self->backend->init (c, err, sizeof err);
    if (!self->state)
        log_error (LOG, "%s: backend %s: %s", c->name, self->backend->name, err);
    actor_config_free (&self->config);
    self->config = c;
    model_labeller_set_strategy (self->labeller, model_spec_strategy (c->model));
}

static void
s_on_model (self_t *self, zmsg_t *m)
{
    uint64_t version = 0;
    model_t *model = NULL;
    if (!actor_recv_model (m, &version, &model)) {
        log_error (LOG, "%s: malformed MODEL message ignored", self->config->name);
        return;
    }
    model_labeller_set (self->labeller, version, model);
    if (model)
        log_info (LOG, "%s: labelling with model version %" PRIu64, self->config->name, version);
    else
        log_info (LOG, "%s: no model: labelling SOURCE_NONE", self->config->name);
}

static void
s_on_correct (self_t *self, zframe_t *packed)
{
    float lr = self->config->model ? self->config->model->online_lr : 0;
    if (!packed || !model_labeller_model (self->labeller) || !(lr > 0))
        return;
    Annotate__V1__Corrections *cs = annotate__v1__corrections__unpack (NULL, zframe_size (packed),
                                                                       zframe_data (packed));
    if (!cs)
        return;
    size_t n = model_labeller_correct (self->labeller, cs, lr);
    self->corrections += n;
    log_debug (LOG, "%s: %zu of %zu corrections applied to model version %" PRIu64,
               self->config->name, n, cs->n_items, model_labeller_version (self->labeller));
    annotate__v1__corrections__free_unpacked (cs, NULL);
}

static void
s_status (self_t *self)
{
    char line[160];
    if (model_labeller_model (self->labeller))
        snprintf (line, sizeof line, "labelling with model version %" PRIu64 " (%" PRIu64
                  " corrections applied)", model_labeller_version (self->labeller),
                  self->corrections);
    else
        snprintf (line, sizeof line, "%s",
                  self->state ? "labelling (no model: SOURCE_NONE)" : "backend failed");
    zsock_send (self->pipe, "ss", "STATUS", line);
}

static bool
s_handle (self_t *self, zmsg_t *m)
{
    char *cmd = zmsg_popstr (m);
    bool go_on = true;
    if (!cmd || streq (cmd, "$TERM"))
        go_on = false;
    else if (streq (cmd, "BATCH")) {
        zframe_t *idf = zmsg_pop (m);
        zframe_t *body = zmsg_pop (m);
        uint64_t id = idf && zframe_size (idf) == 8 ? be64_get (zframe_data (idf)) : 0;
        s_on_batch (self, id, body);
        zframe_destroy (&idf);
        zframe_destroy (&body);
    }
    else if (streq (cmd, "CONFIG")) {
        zframe_t *body = zmsg_pop (m);
        s_on_config (self, body);
        zframe_destroy (&body);
    }
    else if (streq (cmd, "MODEL"))
        s_on_model (self, m);
    else if (streq (cmd, "CORRECT")) {
        zframe_t *body = zmsg_pop (m);
        s_on_correct (self, body);
        zframe_destroy (&body);
    }
    else if (streq (cmd, "STATUS"))
        s_status (self);
    zstr_free (&cmd);
    return go_on;
}

void
annotation_actor (zsock_t *pipe, void *args)
{
    self_t self = { pipe, actor_config_copy (args), NULL, NULL, NULL, 0, 0, 0 };
    self.backend = &annotation_backend_none;
    self.labeller = model_labeller_new (self.config->name);
    model_labeller_set_strategy (self.labeller, model_spec_strategy (self.config->model));
    char err[256] = "";
    self.state = self.backend->init (self.config, err, sizeof err);
    zsock_signal (pipe, 0);
    log_info (LOG, "%s started on %s (backend %s)", self.config->name, self.config->worker,
              self.backend->name);
    while (true) {
        zmsg_t *m = zmsg_recv (pipe);
        if (!m) {
            if (zsys_interrupted)
                break;
            continue;
        }
        bool go_on = s_handle (&self, m);
        zmsg_destroy (&m);
        if (!go_on)
            break;
    }
    log_info (LOG, "%s stopped after %" PRIu64 " batches, %" PRIu64 " items", self.config->name,
              self.batches, self.items);
    self.backend->destroy (&self.state);
    model_labeller_destroy (&self.labeller);
    actor_config_free (&self.config);
}
