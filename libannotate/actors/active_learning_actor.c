/*  active_learning_actor.c: keeps the auto-accept thresholds of the
    current model in step with the validation sample, between retrains,
    and runs label propagation (propagation_job.h) on propagate orders.

    People keep answering the random validation sample; each answer makes
    the estimate of what the current model's confidence means a little
    better. The coordinator sends this actor a refit order every
    active_learning.refit_every new sample answers (a RetrainOrder with
    refit set, naming the current version); the actor pulls the sample
    (TRAIN_DATA pages that hold only validation-sample items), scores it
    with its copy of that model, fits the thresholds with the manifest's
    rule (retrain_thresholds.h, the same code a retraining actor runs for
    a new model) and uploads them as a ModelUpload with info only. The
    coordinator stores them on that version, and routing uses them from
    the next label on. An order for a version this actor does not hold
    (the model changed meanwhile) fails at once: the next order will name
    the new one.

    Takes on its pipe:
      "RETRAIN" [packed RetrainOrder]  a refit order (refit set) or a propagate order
                                       (propagate set: pull every item, spread, answer
                                       with "PROPAGATED" pieces)
      "DATA" [packed TrainData]        a page of the validation sample
      "MODEL" [version be64] [model_t * | empty]  the current model
      "CONFIG" [packed Assign]         the model spec to fall back on
      "STATUS"                         -> "STATUS" [one line]
      "$TERM"                          stop
    Sends:
      "PULL" [packed TrainPull]        the next page
      "UPLOAD" [packed ModelUpload]    the refitted thresholds (info), or an error
      "PROPAGATED" [packed Propagated] propagation results, or an error
*/
#include "actors/actors.h"
#include "actors/propagation_job.h"
#include "actors/retrain_thresholds.h"

#include <inttypes.h>
#include <string.h>

#include "actors/model_spec.h"
#include "util/util.h"

#define LOG "active_learning"
#define PAGE_ITEMS      1000
#define MAX_EXAMPLES    200000      /* a validation sample is a few thousand at most */
#define MAX_ID_BYTES    256
#define DATA_TIMEOUT_MS 60000

typedef struct {
    zsock_t *pipe;
    actor_config_t *config;
    model_t *model;
    uint64_t version;
    Annotate__V1__RetrainOrder *order;      /* NULL: idle */
    propagation_job_t *job;                 /* a propagate order's, else NULL */
    features_config_t features;
    zhashx_t *classes;                      /* label -> class index + 1 */
    char *after;
    sparse_vec_t *x;
    int32_t *y;
    size_t n, cap;
    int64_t last_data_us;
    uint64_t refits, failed;
    char status[200];
} self_t;

static void
s_send (self_t *self, const char *cmd, const ProtobufCMessage *body)
{
    size_t len = protobuf_c_message_get_packed_size (body);
    zframe_t *f = zframe_new (NULL, len);
    protobuf_c_message_pack (body, zframe_data (f));
    zmsg_t *m = zmsg_new ();
    zmsg_addstr (m, cmd);
    zmsg_append (m, &f);
    if (zmsg_send (&m, self->pipe) != 0)
        zmsg_destroy (&m);
}

static void
s_reset (self_t *self)
{
    for (size_t i = 0; i < self->n; i++)
        sparse_vec_free (&self->x[i]);
    free (self->x);
    free (self->y);
    self->x = NULL;
    self->y = NULL;
    self->n = self->cap = 0;
    zhashx_destroy (&self->classes);
    zstr_free (&self->after);
    propagation_job_destroy (&self->job);
    if (self->order)
        annotate__v1__retrain_order__free_unpacked (self->order, NULL);
    self->order = NULL;
}

static void
s_fail (self_t *self, const char *why)
{
    log_warn (LOG, "%s: %s order %" PRIu64 " failed: %s", self->config->name,
              self->order->propagate ? "propagation" : "refit", self->order->order, why);
    if (self->order->propagate) {
        Annotate__V1__Propagated p = ANNOTATE__V1__PROPAGATED__INIT;
        p.order = self->order->order;
        p.error = (char *) why;
        s_send (self, "PROPAGATED", &p.base);
    }
    else {
        Annotate__V1__ModelUpload up = ANNOTATE__V1__MODEL_UPLOAD__INIT;
        up.order = self->order->order;
        up.error = (char *) why;
        s_send (self, "UPLOAD", &up.base);
    }
    snprintf (self->status, sizeof self->status, "idle; order %" PRIu64 " failed: %.120s",
              self->order->order, why);
    self->failed++;
    s_reset (self);
}

static void
s_pull (self_t *self)
{
    Annotate__V1__TrainPull p = ANNOTATE__V1__TRAIN_PULL__INIT;
    p.order = self->order->order;
    p.after_id = self->after;
    p.max_items = PAGE_ITEMS;
    s_send (self, "PULL", &p.base);
}

static void
s_on_order (self_t *self, zframe_t *packed)
{
    Annotate__V1__RetrainOrder *o = packed ? annotate__v1__retrain_order__unpack (
                                                 NULL, zframe_size (packed), zframe_data (packed))
                                           : NULL;
    if (!o)
        return;
    if (self->order)
        s_fail (self, "superseded by a newer order");
    self->order = o;
    const Annotate__V1__ModelSpec *spec = o->spec ? o->spec : self->config->model;
    const char *bad = NULL;
    if (o->propagate) {
        char err[256] = "";
        if (!spec || !(self->job = propagation_job_new (spec, o->propagation, err, sizeof err))) {
            s_fail (self, spec ? err : "no model spec");
            return;
        }
        self->after = strdup ("");
        self->last_data_us = time_mono_us ();
        snprintf (self->status, sizeof self->status, "propagation %" PRIu64 ": pulling items",
                  o->order);
        s_pull (self);
        return;
    }
    if (!o->refit)
        bad = "not a refit or propagate order";
    else if (!spec)
        bad = "no model spec";
    else if ((bad = model_spec_check (spec)) != NULL)
        ;
    else if (!self->model || self->version != o->current_version)
        bad = "this actor does not hold the model version the order names";
    else if (model_n_classes (self->model) != spec->n_labels)
        bad = "the model's classes are not the spec's";
    if (bad) {
        s_fail (self, bad);
        return;
    }
    model_spec_features (spec, &self->features);
    self->classes = zhashx_new ();
    for (size_t k = 0; k < spec->n_labels; k++)
        zhashx_insert (self->classes, model_label (self->model, k), (void *) (uintptr_t) (k + 1));
    self->after = strdup ("");
    self->last_data_us = time_mono_us ();
    snprintf (self->status, sizeof self->status, "refit %" PRIu64 ": pulling the sample",
              o->order);
    s_pull (self);
}

static void
s_add (self_t *self, const Annotate__V1__TrainExample *ex)
{
    size_t idlen = strlen (ex->id);
    void *k = ex->validation && idlen && idlen <= MAX_ID_BYTES
                  ? zhashx_lookup (self->classes, ex->label)
                  : NULL;
    if (!k || self->n >= MAX_EXAMPLES)
        return;
    if (self->n == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 256;
        sparse_vec_t *x = realloc (self->x, cap * sizeof *x);
        if (x)
            self->x = x;
        int32_t *y = x ? realloc (self->y, cap * sizeof *y) : NULL;
        if (y)
            self->y = y;
        if (!x || !y)
            return;     /* out of memory: the sample is cut here */
        self->cap = cap;
    }
    sparse_vec_t *x = &self->x[self->n];
    sparse_vec_init (x);
    char err[160];
    if (features_extract (&self->features, ex->text, strlen (ex->text), ex->vector,
                          ex->n_vector, x, err, sizeof err)
        != 0) {
        sparse_vec_free (x);
        return;
    }
    self->y[self->n++] = (int32_t) ((uintptr_t) k - 1);
}

static void
s_fit (self_t *self)
{
    const Annotate__V1__ModelSpec *spec = self->order->spec ? self->order->spec
                                                            : self->config->model;
    model_example_t *ex = calloc (self->n ? self->n : 1, sizeof *ex);
    if (!ex) {
        s_fail (self, "out of memory");
        return;
    }
    for (size_t i = 0; i < self->n; i++)
        ex[i] = (model_example_t) { &self->x[i], self->y[i], 0 };
    Annotate__V1__ModelInfo info = ANNOTATE__V1__MODEL_INFO__INIT;
    retrain_thresholds_t th;
    retrain_fit_thresholds (self->model, spec, ex, self->n, &th, &info);
    info.version = self->version;
    info.order = self->order->order;
    Annotate__V1__ModelUpload up = ANNOTATE__V1__MODEL_UPLOAD__INIT;
    up.order = self->order->order;
    up.info = &info;
    s_send (self, "UPLOAD", &up.base);
    size_t enabled = 0;
    for (size_t c = 0; c < info.n_thresholds; c++)
        enabled += info.thresholds[c]->enabled;
    log_info (LOG, "%s: refit %" PRIu64 " of model %" PRIu64 ": %zu sample items, %zu of %zu "
              "classes auto-accepted, claimed accuracy %.3f [%.3f, %.3f]",
              self->config->name, self->order->order, self->version, self->n, enabled,
              info.n_thresholds, info.accept_accuracy, info.accept_lower, info.accept_upper);
    snprintf (self->status, sizeof self->status,
              "idle; refit %" PRIu64 ": %zu sample items, %zu classes auto-accepted",
              self->order->order, self->n, enabled);
    retrain_thresholds_free (&th);
    free (ex);
    self->refits++;
    s_reset (self);
}

/*  Spreads the labels and sends the results in pieces.  */
static void
s_propagate (self_t *self)
{
    char err[256] = "";
    size_t n = propagation_job_size (self->job);
    int64_t t0 = time_mono_us ();
    if (propagation_job_run (self->job, err, sizeof err) != 0) {
        s_fail (self, err[0] ? err : "propagation failed");
        return;
    }
    size_t pieces = 0, labels = 0;
    Annotate__V1__Propagated p;
    while (propagation_job_next (self->job, 0, &p)) {
        p.order = self->order->order;
        s_send (self, "PROPAGATED", &p.base);
        pieces++;
        labels += p.n_labels;
    }
    log_info (LOG, "%s: propagation %" PRIu64 ": %zu items, %zu labels spread in %.0f ms, sent "
              "in %zu pieces", self->config->name, self->order->order, n, labels,
              (double) (time_mono_us () - t0) / 1000.0, pieces);
    snprintf (self->status, sizeof self->status, "idle; propagation %" PRIu64 ": %zu labels",
              self->order->order, labels);
    self->refits++;
    s_reset (self);
}

static void
s_on_data (self_t *self, zframe_t *packed)
{
    Annotate__V1__TrainData *d = packed ? annotate__v1__train_data__unpack (
                                              NULL, zframe_size (packed), zframe_data (packed))
                                        : NULL;
    if (!d)
        return;
    if (!self->order || d->order != self->order->order)
        ;   /* stale page of an order that ended */
    else if (d->error[0])
        s_fail (self, "cancelled by the coordinator");
    else {
        self->last_data_us = time_mono_us ();
        for (size_t i = 0; i < d->n_examples; i++) {
            if (self->job)
                propagation_job_add (self->job, d->examples[i]);
            else
                s_add (self, d->examples[i]);
        }
        size_t nlen = strlen (d->next_after);
        if (self->job && d->done)
            s_propagate (self);
        else if (d->done || self->n >= MAX_EXAMPLES)
            s_fit (self);
        else if (!nlen || nlen > MAX_ID_BYTES || streq (d->next_after, self->after))
            s_fail (self, "sample pages make no progress (next_after)");
        else {
            zstr_free (&self->after);
            self->after = strdup (d->next_after);
            s_pull (self);
        }
    }
    annotate__v1__train_data__free_unpacked (d, NULL);
}

static void
s_on_model (self_t *self, zmsg_t *m)
{
    uint64_t version = 0;
    model_t *model = NULL;
    if (!actor_recv_model (m, &version, &model))
        return;
    if (self->order && self->order->refit)
        s_fail (self, "the current model changed during the refit");
    model_destroy (&self->model);
    self->model = model;
    self->version = model ? version : 0;
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
    if (self->order && !self->order->spec)
        s_fail (self, "the model spec changed during the refit");
    actor_config_free (&self->config);
    self->config = c;
}

static bool
s_handle (self_t *self, zmsg_t *m)
{
    char *cmd = zmsg_popstr (m);
    bool go_on = cmd && !streq (cmd, "$TERM");
    if (go_on && streq (cmd, "MODEL"))
        s_on_model (self, m);
    else if (go_on && streq (cmd, "STATUS"))
        zsock_send (self->pipe, "ss", "STATUS", self->status);
    else if (go_on) {
        zframe_t *body = zmsg_pop (m);
        if (streq (cmd, "RETRAIN"))
            s_on_order (self, body);
        else if (streq (cmd, "DATA"))
            s_on_data (self, body);
        else if (streq (cmd, "CONFIG"))
            s_on_config (self, body);
        zframe_destroy (&body);
    }
    zstr_free (&cmd);
    return go_on;
}

void
active_learning_actor (zsock_t *pipe, void *args)
{
    self_t self;
    memset (&self, 0, sizeof self);
    self.pipe = pipe;
    self.config = actor_config_copy (args);
    str_copy (self.status, sizeof self.status, "idle: waiting for a refit order");
    zpoller_t *poller = zpoller_new (pipe, NULL);
    zsock_signal (pipe, 0);
    log_info (LOG, "%s started on %s", self.config->name, self.config->worker);
    while (!zsys_interrupted) {
        if (zpoller_wait (poller, 1000)) {
            zmsg_t *m = zmsg_recv (pipe);
            bool go_on = m && s_handle (&self, m);
            zmsg_destroy (&m);
            if (!go_on)
                break;
        }
        if (self.order && time_mono_us () - self.last_data_us > DATA_TIMEOUT_MS * 1000LL)
            s_fail (&self, "no sample data for 60 s");
    }
    log_info (LOG, "%s stopped (%" PRIu64 " refits, %" PRIu64 " failed)", self.config->name,
              self.refits, self.failed);
    s_reset (&self);
    model_destroy (&self.model);
    zpoller_destroy (&poller);
    actor_config_free (&self.config);
}
