/*  agent_learning.c: the learning loop on a worker's side of the wire.

    MSG_MODEL    chunks are assembled into one model at a time, strictly in
                 order of offset. A chunk at offset 0 of another version
                 starts over (a newer model, or a rollback); any other
                 chunk that does not continue the assembly abandons it. The
                 size is bounded by 2 GiB and by what the assigned model
                 spec can produce, memory grows only with data received,
                 and the whole blob must match the xxh3-64 checksum before
                 model_deserialize (which trusts nothing) sees it. A loaded
                 model must fit the assignment (classes in the taxonomy,
                 vector size). The agent keeps it unchanged and gives every
                 annotation and retraining actor its own model_clone.
    MSG_CORRECTION is checked and forwarded to every annotation actor.
    MSG_RETRAIN  goes to the retraining actor it names, if hosted here; a
                 refit order (thresholds only) to the active_learning actor
                 it names.
    MSG_TRAIN_DATA goes to the actor running that order.
    From either, PULL and UPLOAD go out as MSG_TRAIN_PULL and
    MSG_MODEL_UPLOAD unchanged.
*/
#include "agent/agent_internal.h"

#include <inttypes.h>
#include <string.h>
#include <xxhash.h>

#include "actors/model_spec.h"
#include "util/util.h"

#define MAX_ID_BYTES 256

/* ---- handing models to actors ------------------------------------------ */

static bool
s_wants_model (const hosted_t *h)
{
    return h->type == ACTOR_ANNOTATION || h->type == ACTOR_RETRAINING
           || h->type == ACTOR_ACTIVE_LEARNING;
}

/*  Actors that run orders and pull training data.  */
static bool
s_runs_orders (const hosted_t *h)
{
    return h->type == ACTOR_RETRAINING || h->type == ACTOR_ACTIVE_LEARNING;
}

void
agent_give_model (agent_t *self, hosted_t *h)
{
    if (!self->model || !s_wants_model (h))
        return;
    model_t *copy = model_clone (self->model);
    if (!copy || actor_send_model (zactor_sock (h->actor), self->model_version, copy) != 0)
        log_error (AGENT_LOG, "actor %s did not get model version %" PRIu64, h->name,
                   self->model_version);
}

static void
s_tell_no_model (agent_t *self)
{
    for (size_t i = 0; i < self->n_actors; i++)
        if (s_wants_model (self->actors[i]))
            actor_send_model (zactor_sock (self->actors[i]->actor), 0, NULL);
}

static void
s_assembly_reset (agent_t *self)
{
    free (self->assembly.buf);
    memset (&self->assembly, 0, sizeof self->assembly);
}

void
agent_learning_assigned (agent_t *self)
{
    if (self->assigned && model_spec_wants_model (self->assigned->model))
        return;
    s_assembly_reset (self);
    if (self->model) {
        log_info (AGENT_LOG, "worker %s: the model spec asks for no model: version %" PRIu64
                  " unloaded", self->name, self->model_version);
        model_destroy (&self->model);
        self->model_version = 0;
        s_tell_no_model (self);
    }
}

void
agent_learning_destroy (agent_t *self)
{
    s_assembly_reset (self);
    model_destroy (&self->model);
}

/* ---- MSG_MODEL --------------------------------------------------------- */

/*  NULL when the model fits the assignment, else why not.  */
static const char *
s_check_model (const agent_t *self, const model_t *model, char *why, size_t cap)
{
    const Annotate__V1__Assign *as = self->assigned;
    size_t n = model_n_classes (model);
    if (n < 2) {
        err_set (why, cap, "it has %zu classes", n);
        return why;
    }
    for (size_t k = 0; k < n; k++) {
        bool found = false;
        for (size_t j = 0; j < as->n_labels && !found; j++)
            found = streq (as->labels[j], model_label (model, k));
        if (!found) {
            err_set (why, cap, "its class '%.64s' is not in the taxonomy", model_label (model, k));
            return why;
        }
    }
    uint32_t vdim = model_features (model)->vector_dim;
    if (vdim != as->vector_dim) {
        err_set (why, cap, "it expects vectors of %u values, items have %u", vdim, as->vector_dim);
        return why;
    }
    return NULL;
}

static void
s_load (agent_t *self)
{
    model_assembly_t *a = &self->assembly;
    char err[256] = "";
    model_t *model = NULL;
    if (XXH3_64bits (a->buf, a->total) != a->checksum)
        err_set (err, sizeof err, "checksum mismatch");
    else if ((model = model_deserialize (a->buf, a->total, err, sizeof err)) != NULL
             && s_check_model (self, model, err, sizeof err))
        model_destroy (&model);
    if (!model) {
        log_error (AGENT_LOG, "worker %s: model version %" PRIu64 " refused: %s", self->name,
                   a->version, err);
        s_assembly_reset (self);
        return;
    }
    model_destroy (&self->model);
    self->model = model;
    self->model_version = a->version;
    log_info (AGENT_LOG, "worker %s: model version %" PRIu64 " loaded (%zu classes, %" PRIu64
              " bytes)", self->name, a->version, model_n_classes (model), a->total);
    s_assembly_reset (self);
    for (size_t i = 0; i < self->n_actors; i++)
        agent_give_model (self, self->actors[i]);
}

/*  Whether the chunk may start a new assembly.  */
static bool
s_start_ok (agent_t *self, const Annotate__V1__ModelChunk *c)
{
    if (self->model && c->version == self->model_version) {
        log_debug (AGENT_LOG, "model version %" PRIu64 " is loaded already", c->version);
        return false;
    }
    uint64_t limit = model_spec_max_bytes (self->assigned->model);
    if (c->total_size > limit) {
        log_error (AGENT_LOG, "worker %s: model version %" PRIu64 " of %" PRIu64
                   " bytes refused: the model spec allows at most %" PRIu64, self->name,
                   c->version, c->total_size, limit);
        return false;
    }
    return true;
}

void
agent_on_model_chunk (agent_t *self, const Annotate__V1__ModelChunk *c)
{
    model_assembly_t *a = &self->assembly;
    if (!self->assigned || !model_spec_wants_model (self->assigned->model)) {
        log_warn (AGENT_LOG, "a model chunk came before an assignment with a model spec: dropped");
        return;
    }
    if (c->version == 0 || c->total_size == 0 || c->data.len == 0) {
        log_warn (AGENT_LOG, "a model chunk without version, size or data: dropped");
        return;
    }
    if (a->version && (c->version != a->version || c->offset != a->received
                       || c->total_size != a->total || c->checksum != a->checksum)) {
        if (c->offset != 0 || c->version == a->version)
            log_warn (AGENT_LOG, "model version %" PRIu64 " abandoned at %" PRIu64 " of %" PRIu64
                      " bytes: chunk of version %" PRIu64 " at offset %" PRIu64, a->version,
                      a->received, a->total, c->version, c->offset);
        s_assembly_reset (self);
    }
    if (!a->version) {
        if (c->offset != 0 || !s_start_ok (self, c))
            return;
        a->version = c->version;
        a->total = c->total_size;
        a->checksum = c->checksum;
    }
    if (c->data.len > a->total - a->received) {
        log_warn (AGENT_LOG, "model version %" PRIu64 ": chunk overruns total_size: abandoned",
                  a->version);
        s_assembly_reset (self);
        return;
    }
    if (a->received + c->data.len > a->cap) {
        size_t want = a->cap ? a->cap * 2 : c->data.len;
        if (want < a->received + c->data.len)
            want = a->received + c->data.len;
        a->cap = want < a->total ? want : a->total;
        a->buf = realloc (a->buf, a->cap);
    }
    memcpy (a->buf + a->received, c->data.data, c->data.len);
    a->received += c->data.len;
    if (a->received == a->total)
        s_load (self);
}

/* ---- MSG_CORRECTION ---------------------------------------------------- */

static const char *
s_check_corrections (const agent_t *self, const Annotate__V1__Corrections *cs)
{
    for (size_t i = 0; i < cs->n_items; i++) {
        const Annotate__V1__Correction *c = cs->items[i];
        size_t idlen = strlen (c->id), llen = strlen (c->label);
        if (idlen == 0 || idlen > MAX_ID_BYTES || !utf8_valid (c->id, idlen))
            return "an id is not 1..256 bytes of UTF-8";
        if (!utf8_valid (c->text, strlen (c->text)))
            return "a text is not UTF-8";
        if (llen == 0 || llen > MANIFEST_MAX_NAME || !utf8_valid (c->label, llen))
            return "a label is not 1..128 bytes of UTF-8";
        if (c->n_vector && c->n_vector != self->vector_dim)
            return "a vector has the wrong dimension";
    }
    return NULL;
}

/*  Sends [cmd][packed body] to an actor.  */
static void
s_forward (hosted_t *h, const char *cmd, const ProtobufCMessage *body)
{
    size_t len = protobuf_c_message_get_packed_size (body);
    zframe_t *f = zframe_new (NULL, len);
    protobuf_c_message_pack (body, zframe_data (f));
    zmsg_t *m = zmsg_new ();
    zmsg_addstr (m, cmd);
    zmsg_append (m, &f);
    if (zmsg_send (&m, zactor_sock (h->actor)) != 0) {
        log_warn (AGENT_LOG, "actor %s did not take %s", h->name, cmd);
        zmsg_destroy (&m);
    }
}

void
agent_on_corrections (agent_t *self, const Annotate__V1__Corrections *cs)
{
    const char *bad = s_check_corrections (self, cs);
    if (bad) {
        log_warn (AGENT_LOG, "corrections dropped: %s", bad);
        return;
    }
    if (!self->model) {
        log_debug (AGENT_LOG, "%zu corrections ignored: no model loaded", cs->n_items);
        return;
    }
    for (size_t i = 0; i < self->n_actors; i++)
        if (self->actors[i]->type == ACTOR_ANNOTATION)
            s_forward (self->actors[i], "CORRECT", &cs->base);
}

/* ---- retrain orders ---------------------------------------------------- */

void
agent_on_retrain (agent_t *self, const Annotate__V1__RetrainOrder *o)
{
    const char *bad = o->order == 0 ? "order 0" : model_spec_check (o->spec);
    if (bad) {
        log_warn (AGENT_LOG, "retrain order dropped: %s", bad);
        return;
    }
    int want = o->refit || o->propagate ? ACTOR_ACTIVE_LEARNING : ACTOR_RETRAINING;
    hosted_t *h = NULL;
    for (size_t i = 0; i < self->n_actors && !h; i++)
        if ((int) self->actors[i]->type == want && streq (self->actors[i]->name, o->actor))
            h = self->actors[i];
    if (!h) {
        log_warn (AGENT_LOG, "%s order %" PRIu64 " for actor '%.128s', which worker %s "
                  "does not host: dropped",
                  o->refit ? "refit" : o->propagate ? "propagate" : "retrain", o->order, o->actor,
                  self->name);
        return;
    }
    h->order = o->order;
    s_forward (h, "RETRAIN", &o->base);
}

void
agent_on_train_data (agent_t *self, const Annotate__V1__TrainData *d)
{
    for (size_t i = 0; i < self->n_actors; i++) {
        hosted_t *h = self->actors[i];
        if (s_runs_orders (h) && h->order && h->order == d->order) {
            s_forward (h, "DATA", &d->base);
            if (d->error[0])
                h->order = 0;
            return;
        }
    }
    log_warn (AGENT_LOG, "training data for order %" PRIu64 ", which no actor here runs: dropped",
              d->order);
}

/*  Sends what an actor packed, unchanged; correlation = the order.  */
static void
s_send_packed (agent_t *self, Annotate__V1__MsgType type, uint64_t order, zframe_t *body)
{
    if (!self->dealer
        || wire_send_packed (self->dealer, NULL, self->protocol, type, order, zframe_data (body),
                             zframe_size (body))
               != 0)
        log_warn (AGENT_LOG, "%s not sent: %s", wire_type_name (type), zmq_strerror (zmq_errno ()));
}

void
agent_on_learning_reply (agent_t *self, hosted_t *h, const char *cmd, zmsg_t *m)
{
    zframe_t *body = zmsg_first (m);
    if (!body || !s_runs_orders (h))
        return;
    if (streq (cmd, "PULL")) {
        Annotate__V1__TrainPull *p = annotate__v1__train_pull__unpack (NULL, zframe_size (body),
                                                                       zframe_data (body));
        if (p)
            s_send_packed (self, ANNOTATE__V1__MSG_TYPE__MSG_TRAIN_PULL, p->order, body);
        if (p)
            annotate__v1__train_pull__free_unpacked (p, NULL);
        return;
    }
    if (streq (cmd, "PROPAGATED")) {
        Annotate__V1__Propagated *p = annotate__v1__propagated__unpack (NULL, zframe_size (body),
                                                                        zframe_data (body));
        if (!p)
            return;
        s_send_packed (self, ANNOTATE__V1__MSG_TYPE__MSG_PROPAGATED, p->order, body);
        if ((p->done || p->error[0]) && p->order == h->order)
            h->order = 0;
        annotate__v1__propagated__free_unpacked (p, NULL);
        return;
    }
    Annotate__V1__ModelUpload *up = annotate__v1__model_upload__unpack (NULL, zframe_size (body),
                                                                        zframe_data (body));
    if (!up)
        return;
    s_send_packed (self, ANNOTATE__V1__MSG_TYPE__MSG_MODEL_UPLOAD, up->order, body);
    /*  The last chunk, or a failure, ends the order's routing.  */
    if ((up->info || up->error[0]) && up->order == h->order)
        h->order = 0;
    annotate__v1__model_upload__free_unpacked (up, NULL);
}
