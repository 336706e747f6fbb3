/*  agent_actors.c: the actors an agent hosts, and the batches they hold.

    ASSIGN carries the whole actor set: actors not in it are stopped, new
    ones started (with a copy of the current model, if any), kept ones get
    the new taxonomy and model spec ("CONFIG"). An assignment that does not
    check out (names, types, sizes, model spec) is ignored as a whole.

    A batch is checked (item count against WELCOME's max_batch, ids, UTF-8,
    vector size, tickets) and handed to the annotation actor holding the
    fewest batches. Every batch gets exactly one RESULT back to the
    coordinator: the actor's, or an empty one when the batch was refused,
    no annotation actor exists, or its actor was stopped while holding it.
    An empty RESULT returns the credit; the coordinator dispatches the
    items again.
*/
#include "agent/agent_internal.h"

#include <inttypes.h>
#include <string.h>

#include "actors/model_spec.h"
#include "util/util.h"

#define MAX_ID_BYTES 256

/* ---- hosted actors ---------------------------------------------------- */

static void
s_hold (hosted_t *h, uint64_t batch_id)
{
    if (h->n_batches == h->cap_batches) {
        h->cap_batches = h->cap_batches ? h->cap_batches * 2 : 8;
        h->batches = realloc (h->batches, h->cap_batches * sizeof *h->batches);
    }
    h->batches[h->n_batches++] = batch_id;
}

static void
s_release (hosted_t *h, uint64_t batch_id)
{
    for (size_t i = 0; i < h->n_batches; i++)
        if (h->batches[i] == batch_id) {
            memmove (&h->batches[i], &h->batches[i + 1], (h->n_batches - i - 1) * sizeof (uint64_t));
            h->n_batches--;
            return;
        }
}

/*  Stops an actor; batches it still held are answered empty.  */
static void
s_hosted_stop (agent_t *self, hosted_t **h_p)
{
    hosted_t *h = *h_p;
    if (self->poller && h->actor)
        zpoller_remove (self->poller, h->actor);
    zactor_destroy (&h->actor);
    for (size_t i = 0; i < h->n_batches; i++)
        agent_send_empty_result (self, h->batches[i], h->name);
    log_info (AGENT_LOG, "actor %s (%s) stopped", h->name, actor_type_name (h->type));
    free (h->batches);
    free (h->name);
    free (h);
    *h_p = NULL;
}

void
agent_stop_actors (agent_t *self)
{
    for (size_t i = 0; i < self->n_actors; i++)
        s_hosted_stop (self, &self->actors[i]);
    self->n_actors = 0;
}

uint32_t
agent_in_flight (const agent_t *self)
{
    size_t n = 0;
    for (size_t i = 0; i < self->n_actors; i++)
        n += self->actors[i]->n_batches;
    return (uint32_t) n;
}

void
agent_send_empty_result (agent_t *self, uint64_t batch_id, const char *actor)
{
    if (!self->dealer)
        return;
    Annotate__V1__Result res = ANNOTATE__V1__RESULT__INIT;
    res.batch_id = batch_id;
    res.actor = (char *) actor;
    wire_send_version (self->dealer, NULL, self->protocol, ANNOTATE__V1__MSG_TYPE__MSG_RESULT,
                       batch_id, &res.base);
}

/* ---- ASSIGN ----------------------------------------------------------- */

static bool
s_name_ok (const char *s)
{
    size_t n = strlen (s);
    return n && n <= MANIFEST_MAX_NAME && utf8_valid (s, n);
}

static const char *
s_check_assign (const Annotate__V1__Assign *as)
{
    if (as->n_actors > MANIFEST_MAX_ACTORS)
        return "too many actors";
    for (size_t i = 0; i < as->n_actors; i++) {
        if (!s_name_ok (as->actors[i]->name))
            return "an actor name is not 1..128 bytes of UTF-8";
        if (!actor_type_parse (as->actors[i]->type))
            return "unknown actor type";
        for (size_t j = 0; j < i; j++)
            if (streq (as->actors[i]->name, as->actors[j]->name))
                return "duplicate actor name";
    }
    if (as->n_labels > MANIFEST_MAX_LABELS)
        return "too many labels";
    for (size_t i = 0; i < as->n_labels; i++)
        if (!s_name_ok (as->labels[i]))
            return "a label is not 1..128 bytes of UTF-8";
    if (as->vector_dim > MANIFEST_MAX_VECTOR_DIM)
        return "vector_dim too large";
    return model_spec_check (as->model);
}

static const Annotate__V1__ActorSpec *
s_spec_of (const Annotate__V1__Assign *as, const hosted_t *h)
{
    for (size_t i = 0; i < as->n_actors; i++)
        if (streq (as->actors[i]->name, h->name) && actor_type_parse (as->actors[i]->type) == h->type)
            return as->actors[i];
    return NULL;
}

static void
s_send_config (agent_t *self, hosted_t *h)
{
    zmsg_t *m = zmsg_new ();
    zmsg_addstr (m, "CONFIG");
    zmsg_addmem (m, self->assign, self->assign_len);
    zmsg_send (&m, h->actor);
}

static void
s_start (agent_t *self, const Annotate__V1__Assign *as, const Annotate__V1__ActorSpec *spec,
         hosted_t **keep, size_t *n_keep)
{
    actor_type_t type = actor_type_parse (spec->type);
    actor_config_t cfg = { spec->name, self->name, as->labels, as->n_labels, as->vector_dim,
                           as->manifest_version, as->model };
    zactor_t *actor = actor_start (type, &cfg);
    if (!actor) {
        log_error (AGENT_LOG, "cannot start actor %s (%s)", spec->name, spec->type);
        return;
    }
    hosted_t *h = calloc (1, sizeof *h);
    h->name = strdup (spec->name);
    h->type = type;
    h->actor = actor;
    zpoller_add (self->poller, actor);
    keep[(*n_keep)++] = h;
    log_info (AGENT_LOG, "actor %s (%s) started", h->name, spec->type);
    agent_give_model (self, h);
}

void
agent_on_assign (agent_t *self, const Annotate__V1__Assign *as)
{
    const char *bad = s_check_assign (as);
    if (bad) {
        log_error (AGENT_LOG, "ignored an assignment from the coordinator: %s", bad);
        return;
    }
    free (self->assign);
    self->assign_len = annotate__v1__assign__get_packed_size (as);
    self->assign = malloc (self->assign_len ? self->assign_len : 1);
    annotate__v1__assign__pack (as, self->assign);
    if (self->assigned)
        annotate__v1__assign__free_unpacked (self->assigned, NULL);
    self->assigned = annotate__v1__assign__unpack (NULL, self->assign_len, self->assign);
    self->vector_dim = as->vector_dim;
    agent_learning_assigned (self);

    hosted_t **next = calloc (as->n_actors ? as->n_actors : 1, sizeof *next);
    size_t n = 0;
    for (size_t i = 0; i < self->n_actors; i++) {
        hosted_t *h = self->actors[i];
        if (s_spec_of (as, h)) {
            s_send_config (self, h);
            next[n++] = h;
        }
        else
            s_hosted_stop (self, &self->actors[i]);
    }
    for (size_t i = 0; i < as->n_actors; i++) {
        actor_type_t type = actor_type_parse (as->actors[i]->type);
        bool have = false;
        for (size_t k = 0; k < n; k++)
            have = have || (streq (next[k]->name, as->actors[i]->name) && next[k]->type == type);
        if (!have)
            s_start (self, as, as->actors[i], next, &n);
    }
    free (self->actors);
    self->actors = next;
    self->n_actors = n;
    log_info (AGENT_LOG, "worker %s hosts %zu actors (manifest version %" PRIu64 ")", self->name,
              n, as->manifest_version);
}

/* ---- BATCH ------------------------------------------------------------ */

/*  NULL when the item is usable, else why not.  */
static const char *
s_check_item (const agent_t *self, const Annotate__V1__WorkItem *it)
{
    size_t idlen = strlen (it->id);
    if (idlen == 0 || idlen > MAX_ID_BYTES || !utf8_valid (it->id, idlen))
        return "an item id is not 1..256 bytes of UTF-8";
    if (!utf8_valid (it->text, strlen (it->text)))
        return "an item text is not UTF-8";
    if (it->n_vector && it->n_vector != self->vector_dim)
        return "an item vector has the wrong dimension";
    /* ticket 0: a re-annotation by the current model (see cluster.proto) */
    return NULL;
}

/*  Whole-batch problems; single bad items are only left out (they come
    back unanswered and the coordinator retries or parks them), so one bad
    item never costs its neighbours their labels.  */
static const char *
s_check_batch (const agent_t *self, uint64_t correlation, const Annotate__V1__Batch *b)
{
    if (b->batch_id != correlation)
        return "batch id differs from the header's";
    if (self->max_batch && b->n_items > self->max_batch)
        return "more items than max_batch";
    return NULL;
}

static hosted_t *
s_least_busy_annotator (agent_t *self)
{
    hosted_t *best = NULL;
    for (size_t i = 0; i < self->n_actors; i++) {
        hosted_t *h = self->actors[i];
        if (h->type == ACTOR_ANNOTATION && (!best || h->n_batches < best->n_batches))
            best = h;
    }
    return best;
}

void
agent_on_batch (agent_t *self, uint64_t correlation, const Annotate__V1__Batch *b)
{
    const char *bad = s_check_batch (self, correlation, b);
    hosted_t *h = bad ? NULL : s_least_busy_annotator (self);
    if (bad || !h) {
        log_warn (AGENT_LOG, "batch %" PRIu64 " answered empty: %s", b->batch_id,
                  bad ? bad : "no annotation actor here");
        agent_send_empty_result (self, b->batch_id, "");
        return;
    }
    /* the batch handed on holds only the usable items */
    Annotate__V1__WorkItem **good = calloc (b->n_items + 1, sizeof *good);
    size_t n_good = 0, dropped = 0;
    const char *why = NULL;
    for (size_t i = 0; i < b->n_items; i++) {
        const char *item_bad = s_check_item (self, b->items[i]);
        if (item_bad) {
            why = why ? why : item_bad;
            dropped++;
        }
        else
            good[n_good++] = b->items[i];
    }
    if (dropped)
        log_warn (AGENT_LOG, "batch %" PRIu64 ": %zu of %zu items left out: %s", b->batch_id,
                  dropped, b->n_items, why);
    Annotate__V1__Batch fwd = *b;
    fwd.items = good;
    fwd.n_items = n_good;
    uint8_t idbuf[8];
    be64_put (idbuf, b->batch_id);
    size_t len = annotate__v1__batch__get_packed_size (&fwd);
    zframe_t *body = zframe_new (NULL, len);
    annotate__v1__batch__pack (&fwd, zframe_data (body));
    free (good);
    zmsg_t *m = zmsg_new ();
    zmsg_addstr (m, "BATCH");
    zmsg_addmem (m, idbuf, 8);
    zmsg_append (m, &body);
    if (zmsg_send (&m, h->actor) != 0) {
        zmsg_destroy (&m);
        agent_send_empty_result (self, b->batch_id, h->name);
        return;
    }
    s_hold (h, b->batch_id);
}

/* ---- from actors ------------------------------------------------------ */

static void
s_on_actor (agent_t *self, hosted_t *h)
{
    zmsg_t *m = zmsg_recv (h->actor);
    char *cmd = m ? zmsg_popstr (m) : NULL;
    if (cmd && streq (cmd, "RESULT") && zmsg_size (m) == 2) {
        zframe_t *idf = zmsg_pop (m);
        zframe_t *body = zmsg_pop (m);
        uint64_t id = zframe_size (idf) == 8 ? be64_get (zframe_data (idf)) : 0;
        s_release (h, id);
        if (wire_send_packed (self->dealer, NULL, self->protocol,
                              ANNOTATE__V1__MSG_TYPE__MSG_RESULT, id, zframe_data (body),
                              zframe_size (body))
            != 0)
            log_warn (AGENT_LOG, "result of batch %" PRIu64 " not sent: %s", id,
                      zmq_strerror (zmq_errno ()));
        zframe_destroy (&idf);
        zframe_destroy (&body);
    }
    else if (cmd && (streq (cmd, "PULL") || streq (cmd, "UPLOAD") || streq (cmd, "PROPAGATED")))
        agent_on_learning_reply (self, h, cmd, m);
    else if (cmd && streq (cmd, "STATUS")) {
        char *line = zmsg_popstr (m);
        log_info (AGENT_LOG, "actor %s: %s", h->name, line ? line : "?");
        zstr_free (&line);
    }
    zstr_free (&cmd);
    zmsg_destroy (&m);
}

void
agent_service_actors (agent_t *self)
{
    for (size_t i = 0; i < self->n_actors; i++) {
        hosted_t *h = self->actors[i];
        for (int k = 0; k < 64 && (zsock_events (zactor_sock (h->actor)) & ZMQ_POLLIN); k++)
            s_on_actor (self, h);
    }
}
