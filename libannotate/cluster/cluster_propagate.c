/*  cluster_propagate.c: the coordinator's side of label propagation.

    On `annotatectl propagate` (or every propagation.every people's labels)
    an active_learning actor gets a RetrainOrder with propagate set. It
    pulls every item through the usual TRAIN_PULL pages, here built from
    the whole store: an item's label is sent only when it counts as known
    (a person's, gold, auto-accepted or an accepted propagation); the
    validation sample comes with people's answers and the validation flag,
    so the actor can leave those items unlabelled and measure itself on
    them; duplicates are left out (they follow their canonical item). The
    actor spreads the known labels over the kNN graph and answers with
    MSG_PROPAGATED pieces: the first carries the per-class thresholds it
    fitted on the validation sample (checked here like a refit's), every
    piece labels for items that came unlabelled. A label whose confidence
    meets its class threshold is stored as source `propagation` and counts
    as accepted; one that does not is not stored, but when it disagrees with
    the item's machine label the item moves up the review queue (the store,
    STORE_REQ_PROPAGATED). One propagation runs at a time.
*/
#include "cluster/cluster_internal.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

#define PROP_TIMEOUT_US (30LL * 60 * 1000000)
#define PROP_MAX_LABELS 10000     /* per piece */

void
engine_prop_clear (engine_t *e)
{
    free (e->prop.worker);
    free (e->prop.actor);
    for (size_t i = 0; i < e->prop.n_threshold; i++)
        free (e->prop.threshold_label[i]);
    free (e->prop.threshold_label);
    free (e->prop.threshold);
    memset (&e->prop, 0, sizeof e->prop);
}

static void
s_prop_spec (const manifest_t *m, Annotate__V1__PropagationSpec *p)
{
    annotate__v1__propagation_spec__init (p);
    p->n_neighbors = m->prop_n_neighbors;
    p->alpha = m->prop_alpha;
    p->max_iter = m->prop_max_iter;
    p->tol = m->prop_tol;
    p->sketch_dim = m->prop_sketch_dim;
}

uint64_t
engine_start_propagation (engine_t *e, const char *reason, char *err, size_t errlen)
{
    if (!engine_learning_enabled (e)) {
        err_set (err, errlen, "model.type is none: propagation needs the model's features");
        return 0;
    }
    if (e->prop.id && time_mono_us () - e->prop.started_us < PROP_TIMEOUT_US) {
        err_set (err, errlen, "propagation order %" PRIu64 " is still running", e->prop.id);
        return 0;
    }
    if (e->refit.id) {      /* the same actor runs both: one would cancel the other */
        err_set (err, errlen, "a threshold refit (order %" PRIu64 ") is running: try again in a "
                              "moment", e->refit.id);
        return 0;
    }
    worker_t *w = NULL;
    const manifest_actor_t *actor = engine_al_actor (e, &w);
    if (!actor) {
        err_set (err, errlen, "no active_learning actor is running (the manifest places none, or "
                              "its worker is down)");
        return 0;
    }
    engine_prop_clear (e);
    Annotate__V1__ModelSpec spec;
    engine_model_spec (e, &spec);
    Annotate__V1__PropagationSpec ps;
    s_prop_spec (e->manifest, &ps);
    Annotate__V1__RetrainOrder o = ANNOTATE__V1__RETRAIN_ORDER__INIT;
    o.order = ++e->next_order;
    o.actor = actor->name;
    o.current_version = e->current_model;
    o.spec = &spec;
    o.reason = (char *) reason;
    o.propagate = true;
    o.propagation = &ps;
    int rc = wire_send (e->router, w->identity, ANNOTATE__V1__MSG_TYPE__MSG_RETRAIN, o.order, &o.base);
    free (spec.labels);
    if (rc != 0) {
        err_set (err, errlen, "cannot reach worker %s", w->name);
        return 0;
    }
    e->prop.worker = strdup (w->name);
    e->prop.actor = strdup (actor->name);
    if (!e->prop.worker || !e->prop.actor) {
        engine_prop_clear (e);
        err_set (err, errlen, "out of memory");
        return 0;
    }
    e->prop.id = o.order;
    e->prop.started_us = time_mono_us ();
    store_stats_t st;
    if (store_read_stats (e->store, &st))
        e->human_at_prop = st.human_labels;
    log_info (CLUSTER_LOG, "propagation order %" PRIu64 " (%s) to %s/%s", o.order, reason, w->name,
              actor->name);
    return o.order;
}

void
engine_prop_tick (engine_t *e)
{
    const manifest_t *m = e->manifest;
    if (e->prop.id && time_mono_us () - e->prop.started_us > PROP_TIMEOUT_US) {
        log_warn (CLUSTER_LOG, "propagation order %" PRIu64 " timed out", e->prop.id);
        engine_prop_clear (e);
    }
    if (!m->prop_every || e->prop.id || !engine_learning_enabled (e))
        return;
    store_stats_t st;
    if (!store_read_stats (e->store, &st) || st.human_labels < e->human_at_prop + m->prop_every)
        return;
    char err[256];
    if (!engine_start_propagation (e, "people's labels", err, sizeof err))
        e->human_at_prop = st.human_labels;     /* retry after as many more */
}

/*  A worker that died or left answers none of its orders: they end now
    rather than at their timeout (a retrain has its own timeout).  */
void
engine_worker_orders_gone (engine_t *e, const char *worker)
{
    if (e->prop.id && e->prop.worker && strcmp (e->prop.worker, worker) == 0) {
        log_warn (CLUSTER_LOG, "propagation order %" PRIu64 " lost with worker %s", e->prop.id,
                  worker);
        engine_prop_clear (e);
    }
    if (e->refit.id && e->refit.worker && strcmp (e->refit.worker, worker) == 0)
        engine_refit_clear (e);
}

bool
engine_is_prop (engine_t *e, uint64_t order, const worker_t *w)
{
    return e->prop.id && order == e->prop.id && e->prop.worker
           && strcmp (e->prop.worker, w->name) == 0;
}

/* ---- pages of every item ------------------------------------------------------ */

static bool
s_known (uint8_t source)
{
    return source == ANNOTATE__V1__LABEL_SOURCE__SOURCE_HUMAN
           || source == ANNOTATE__V1__LABEL_SOURCE__SOURCE_GOLD
           || source == ANNOTATE__V1__LABEL_SOURCE__SOURCE_AUTO
           || source == ANNOTATE__V1__LABEL_SOURCE__SOURCE_PROPAGATION;
}

bool
engine_prop_page_item (void *arg, const char *id, size_t id_len, const item_state_t *st,
                       const uint8_t *label, size_t label_len, const uint8_t *item, size_t item_len)
{
    page_t *p = arg;
    bool alone_too_big = item_len + 64 > p->max_bytes;
    if (p->n >= p->cap || (p->bytes + item_len + 64 > p->max_bytes && !alone_too_big)) {
        p->full = true;
        return false;
    }
    free (p->last);
    p->last = strndup (id, id_len);
    if ((st->flags & ITEM_FLAG_DUPLICATE) || alone_too_big)
        return true;    /* a copy, or larger than any page: passed over */
    Annotate__V1__Item *it = annotate__v1__item__unpack (NULL, item_len, item);
    if (!it)
        return true;
    Annotate__V1__TrainExample *x = &p->ex[p->n];
    annotate__v1__train_example__init (x);
    x->id = it->id;
    x->text = it->text;
    x->vector = it->vector;
    x->n_vector = it->n_vector;
    x->validation = (st->flags & ITEM_FLAG_VALIDATION)
                    && st->source == ANNOTATE__V1__LABEL_SOURCE__SOURCE_HUMAN;
    x->label = strdup ("");
    if (label && (s_known (st->source) || x->validation)) {
        Annotate__V1__Label *l = annotate__v1__label__unpack (NULL, label_len, label);
        if (l && l->label) {
            free (x->label);
            x->label = strdup (l->label);
            x->source = l->source;
        }
        if (l)
            protobuf_c_message_free_unpacked (&l->base, NULL);
    }
    p->items[p->n] = it;
    p->ptrs[p->n] = x;
    p->n++;
    p->bytes += item_len + 64;
    return true;
}

/* ---- results -------------------------------------------------------------------- */

static float
s_threshold (const engine_t *e, const char *label)
{
    for (size_t i = 0; i < e->prop.n_threshold; i++)
        if (strcmp (e->prop.threshold_label[i], label) == 0)
            return e->prop.threshold[i];
    return 2.0f;
}

/*  The first piece: the thresholds, in taxonomy order.  */
static const char *
s_take_info (engine_t *e, const Annotate__V1__ModelInfo *info)
{
    const char *bad = engine_check_thresholds (e, info);
    if (bad)
        return bad;
    const manifest_t *m = e->manifest;
    /*  names copied: a manifest applied meanwhile must not shift them  */
    e->prop.threshold = calloc (m->n_labels ? m->n_labels : 1, sizeof *e->prop.threshold);
    e->prop.threshold_label = calloc (m->n_labels ? m->n_labels : 1, sizeof (char *));
    if (!e->prop.threshold || !e->prop.threshold_label)
        return "out of memory";
    for (size_t i = 0; i < m->n_labels; i++) {
        if (!(e->prop.threshold_label[i] = strdup (m->labels[i].name)))
            return "out of memory";
        e->prop.n_threshold = i + 1;
        e->prop.threshold[i] = 2.0f;
        for (size_t j = 0; j < info->n_thresholds; j++) {
            const Annotate__V1__ClassThreshold *t = info->thresholds[j];
            if (t->enabled && strcmp (t->label, m->labels[i].name) == 0)
                e->prop.threshold[i] = t->threshold;
        }
    }
    e->prop.claim_lower = info->accept_lower;
    e->prop.have_info = true;
    return NULL;
}

static bool
s_label_ok (const engine_t *e, const Annotate__V1__ItemLabel *il)
{
    size_t idlen = il->id ? strlen (il->id) : 0;
    return idlen && idlen <= STORE_MAX_ID_BYTES && utf8_valid (il->id, idlen)
           && il->source == ANNOTATE__V1__LABEL_SOURCE__SOURCE_PROPAGATION && il->label
           && manifest_label_index (e->manifest, il->label) >= 0 && isfinite (il->confidence)
           && il->confidence >= 0.0f && il->confidence <= 1.0f;
}

static void
s_store_piece (engine_t *e, const Annotate__V1__Propagated *p, const char *worker)
{
    size_t n = p->n_labels;
    store_label_t *labels = calloc (n ? n : 1, sizeof *labels);
    Annotate__V1__Label *lbls = calloc (n ? n : 1, sizeof *lbls);
    bool *accepted = calloc (n ? n : 1, sizeof *accepted);
    size_t k = 0;
    for (size_t i = 0; labels && lbls && accepted && i < n; i++) {
        const Annotate__V1__ItemLabel *il = p->labels[i];
        if (!s_label_ok (e, il))
            continue;
        Annotate__V1__Label *l = &lbls[k];
        annotate__v1__label__init (l);
        l->label = il->label;
        l->confidence = il->confidence;
        l->uncertainty = 1.0f - il->confidence;
        l->source = ANNOTATE__V1__LABEL_SOURCE__SOURCE_PROPAGATION;
        l->annotator = e->prop.actor;
        l->worker = (char *) worker;
        float th = s_threshold (e, il->label);
        l->threshold = th <= 1.0f ? th : 0.0f;
        accepted[k] = il->confidence >= th;
        labels[k] = (store_label_t) { il->id, 0, l };
        k++;
    }
    store_request_t r = { .type = STORE_REQ_PROPAGATED, .labels = labels, .n_labels = k,
                          .accepted = accepted };
    if (k && store_client_call (e->sync_client, &r) != STORE_OK)
        log_error (CLUSTER_LOG, "propagation order %" PRIu64 ": %s", e->prop.id, r.err);
    else {
        e->prop.stored += r.applied;
        e->prop.seen += k;
    }
    free (labels);
    free (lbls);
    free (accepted);
}

void
engine_on_propagated (engine_t *e, worker_t *w, wire_msg_t *msg)
{
    Annotate__V1__Propagated *p = WIRE_BODY (msg, Annotate__V1__Propagated,
                                             ANNOTATE__V1__MSG_TYPE__MSG_PROPAGATED);
    if (!p || !engine_is_prop (e, p->order, w))
        return;
    if (p->error && *p->error) {
        log_warn (CLUSTER_LOG, "propagation order %" PRIu64 " failed on %s: %.200s", p->order,
                  w->name, p->error);
        engine_prop_clear (e);
        return;
    }
    if (!e->prop.have_info) {
        const char *bad = p->info ? s_take_info (e, p->info) : "the first piece has no thresholds";
        if (bad) {
            log_warn (CLUSTER_LOG, "propagation order %" PRIu64 " refused: %s", p->order, bad);
            engine_prop_clear (e);
            return;
        }
    }
    if (p->n_labels > PROP_MAX_LABELS || e->prop.seen + p->n_labels > e->prop.sent) {
        log_warn (CLUSTER_LOG, "propagation order %" PRIu64 ": a piece of %zu labels refused "
                  "(more than the %" PRIu64 " items sent)", p->order, p->n_labels, e->prop.sent);
        engine_prop_clear (e);
        return;
    }
    s_store_piece (e, p, w->name);
    if (p->done) {
        log_info (CLUSTER_LOG, "propagation order %" PRIu64 " done: %" PRIu64 " items reached, %"
                  PRIu64 " labels accepted (claimed accuracy >= %.3f)", p->order, e->prop.seen,
                  e->prop.stored, e->prop.claim_lower);
        engine_prop_clear (e);
    }
}
