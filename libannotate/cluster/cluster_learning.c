/*  cluster_learning.c: the coordinator's half of the learning loop.

    - Models: the current version lives in the store; it is sent in 1 MiB
      ModelChunks to every worker when it registers and to all workers when
      a new version becomes current (publish or rollback).
    - Retraining: one order at a time, to a retraining actor the manifest
      places on an alive worker. Triggers: the first time min_train items
      are labelled (cold start), every retrain_after human labels, every
      retrain_interval_s, or a Retrain call. The actor pulls the training
      set page by page (TrainPull / TrainData: the worker sets the pace, so
      nothing queues here) and uploads the model in chunks. The upload is
      checked (size bound, checksum, model_deserialize, class count) and
      published when it is not worse on validation than its parent
      (publish_tolerance); rejected versions are kept too, marked so.
    - Corrections: a person's label is broadcast to annotating workers, who
      take one online SGD step, so the model feels it before the retrain.
    - Re-annotation: after a new current version, items whose label came
      from no model or an older one are dispatched again (ticket 0), only
      when nothing new is waiting, a few batches at a time; the store
      applies such a label only over an older machine label.
*/
#include "cluster/cluster_internal.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "model/model.h"
#include "util/util.h"

#define CHUNK_BYTES        (1u << 20)
#define TRAIN_PAGE_MAX     2000
#define ORDER_TIMEOUT_US   (30LL * 60 * 1000000)
#define TRIGGER_EVERY_US   500000
#define SWEEP_SCAN_MAX     4096
#define MAX_MODEL_BYTES    (2ull << 30)

/* ---- model spec -------------------------------------------------------- */

typedef struct {
    const char *name;
    uint32_t id;
} label_order_t;

static int
s_cmp_label (const void *a, const void *b)
{
    const label_order_t *x = a, *y = b;
    if (x->id != y->id)
        return x->id == 0 ? 1 : y->id == 0 ? -1 : (x->id < y->id ? -1 : 1);
    return strcmp (x->name, y->name);
}

bool
engine_learning_enabled (const engine_t *e)
{
    return strcmp (e->manifest->model_type, "linear") == 0;
}

/*  Fills spec from the manifest; class order is the labels' stable ids, so
    a model's class k means the same label across manifest versions.
    spec->labels is allocated (names borrowed): free it with free().  */
void
engine_model_spec (engine_t *e, Annotate__V1__ModelSpec *spec)
{
    const manifest_t *m = e->manifest;
    annotate__v1__model_spec__init (spec);
    spec->type = m->model_type;
    spec->hash_bits = m->model_hash_bits;
    spec->ngram_max = m->model_ngram_max;
    spec->char_ngrams = m->model_char_ngrams;
    spec->vector_dim = m->vector_dim;
    spec->vector_norm = m->model_vector_norm;
    spec->vector_scale = (float) m->model_vector_scale;
    spec->c = m->model_c;
    spec->eps = m->model_eps;
    spec->calibrate = m->model_calibrate;
    spec->online_lr = (float) m->model_online_lr;
    spec->validation_fraction = (float) m->model_validation_fraction;
    spec->uncertainty = m->al_strategy;
    bool al = m->al_enabled && strcmp (m->model_type, "none") != 0;
    spec->target_accuracy = al && m->al_auto_accept ? m->al_target_accuracy : 0.0;
    spec->confidence_z = m->al_confidence_z;
    spec->min_support = m->al_min_support;
    spec->threshold_rule = m->al_threshold_rule;
    if (m->al_target_scope && streq (m->al_target_scope, "dataset")) {
        store_stats_t ss;
        if (store_read_stats (e->store, &ss)) {
            spec->dataset_items = ss.items;
            spec->dataset_human = ss.training;
        }
    }
    label_order_t *order = calloc (m->n_labels + 1, sizeof *order);
    MDB_txn *txn = store_read_begin (e->store);
    for (size_t i = 0; i < m->n_labels; i++)
        order[i] = (label_order_t) { m->labels[i].name,
                                     txn ? store_label_id (e->store, txn, m->labels[i].name) : 0 };
    store_read_end (e->store, txn);
    qsort (order, m->n_labels, sizeof *order, s_cmp_label);
    spec->labels = calloc (m->n_labels + 1, sizeof (char *));
    for (size_t i = 0; i < m->n_labels; i++)
        spec->labels[i] = (char *) order[i].name;
    spec->n_labels = m->n_labels;
    free (order);
}

/* ---- sending models ------------------------------------------------------ */

static bool
s_send_chunks (engine_t *e, worker_t *w, uint64_t version, const uint8_t *blob, size_t len)
{
    uint64_t sum = XXH3_64bits (blob, len);
    for (size_t off = 0; off < len || off == 0; off += CHUNK_BYTES) {
        Annotate__V1__ModelChunk c = ANNOTATE__V1__MODEL_CHUNK__INIT;
        c.version = version;
        c.offset = off;
        c.total_size = len;
        c.checksum = sum;
        c.data.data = (uint8_t *) blob + off;
        c.data.len = len - off < CHUNK_BYTES ? len - off : CHUNK_BYTES;
        if (wire_send (e->router, w->identity, ANNOTATE__V1__MSG_TYPE__MSG_MODEL, version, &c.base)
            != 0) {
            log_warn (CLUSTER_LOG, "cannot send model %" PRIu64 " to %s", version, w->name);
            return false;
        }
        if (len == 0)
            break;
    }
    return true;
}

void
engine_send_model (engine_t *e, worker_t *w)
{
    if (!e->current_model || !w->alive || !engine_learning_enabled (e))
        return;
    MDB_txn *txn = store_read_begin (e->store);
    const uint8_t *blob;
    size_t len;
    uint64_t version;
    if (txn && store_get_model (e->store, txn, e->current_model, &blob, &len, &version) == 0
        && s_send_chunks (e, w, version, blob, len))
        log_info (CLUSTER_LOG, "model %" PRIu64 " (%zu bytes) sent to %s", version, len, w->name);
    store_read_end (e->store, txn);
}

static void
s_broadcast_model (engine_t *e)
{
    for (worker_t *w = zhashx_first (e->workers); w; w = zhashx_next (e->workers))
        if (w->alive)
            engine_send_model (e, w);
}

/*  A new current version: tell everyone, then bring old labels up to it. */
void
engine_model_changed (engine_t *e, uint64_t version)
{
    e->current_model = version;
    s_broadcast_model (e);
    if (e->manifest->model_reannotate && version) {
        free (e->sweep_after);
        e->sweep_after = strdup ("");
        e->sweep_version = version;
        e->sweep_sent = 0;
        log_info (CLUSTER_LOG, "re-annotating older machine labels with model %" PRIu64, version);
    }
}

/* ---- retrain orders -------------------------------------------------------- */

static void
s_order_clear (engine_t *e)
{
    free (e->order.worker);
    free (e->order.actor);
    free (e->order.blob);
    memset (&e->order, 0, sizeof e->order);
}

/*  A retraining actor on an alive worker, or NULL.  */
static const manifest_actor_t *
s_retrainer (engine_t *e, worker_t **where)
{
    const manifest_t *m = e->manifest;
    for (size_t i = 0; i < m->n_workers; i++) {
        worker_t *w = zhashx_lookup (e->workers, m->workers[i].name);
        if (!w || !w->alive)
            continue;
        for (size_t a = 0; a < m->workers[i].n_actors; a++)
            if (m->workers[i].actors[a].type == ACTOR_RETRAINING) {
                *where = w;
                return &m->workers[i].actors[a];
            }
    }
    return NULL;
}

uint64_t
engine_start_retrain (engine_t *e, const char *reason, char *err, size_t errlen)
{
    if (!engine_learning_enabled (e)) {
        err_set (err, errlen, "model.type is none: no model to train");
        return 0;
    }
    if (e->order.id && time_mono_us () - e->order.started_us < ORDER_TIMEOUT_US) {
        err_set (err, errlen, "retrain order %" PRIu64 " is still running", e->order.id);
        return 0;
    }
    store_stats_t st;
    store_read_stats (e->store, &st);
    if (st.training < 2) {
        err_set (err, errlen, "%" PRIu64 " items have a human or gold label: too few to train",
                 st.training);
        return 0;
    }
    worker_t *w = NULL;
    const manifest_actor_t *actor = s_retrainer (e, &w);
    if (!actor) {
        err_set (err, errlen, "no retraining actor is running (the manifest places none, or its "
                              "worker is down)");
        return 0;
    }
    s_order_clear (e);
    e->order.id = ++e->next_order;
    e->order.worker = strdup (w->name);
    e->order.actor = strdup (actor->name);
    e->order.started_us = time_mono_us ();
    e->order.parent = e->current_model;
    e->human_at_order = st.human_labels;
    e->human_at_prop = st.human_labels;
    e->sample_at_fit = engine_validation_answers (e);
    e->last_order_us = time_mono_us ();
    e->retrains++;
    Annotate__V1__ModelSpec spec;
    engine_model_spec (e, &spec);
    Annotate__V1__RetrainOrder o = ANNOTATE__V1__RETRAIN_ORDER__INIT;
    o.order = e->order.id;
    o.actor = actor->name;
    o.current_version = e->current_model;
    o.spec = &spec;
    o.reason = (char *) reason;
    int rc = wire_send (e->router, w->identity, ANNOTATE__V1__MSG_TYPE__MSG_RETRAIN, o.order, &o.base);
    free (spec.labels);
    if (rc != 0) {
        s_order_clear (e);
        err_set (err, errlen, "cannot reach worker %s", w->name);
        return 0;
    }
    log_info (CLUSTER_LOG, "retrain order %" PRIu64 " (%s) to %s/%s: %" PRIu64 " labelled items",
              o.order, reason, w->name, actor->name, st.training);
    return o.order;
}

/*  Cold start, every retrain_after human labels, every interval.  */
void
engine_learning_tick (engine_t *e)
{
    int64_t now = time_mono_us ();
    if (!engine_learning_enabled (e) || now < e->next_trigger_us)
        return;
    e->next_trigger_us = now + TRIGGER_EVERY_US;
    engine_refit_tick (e);
    engine_prop_tick (e);
    if (e->order.id) {
        if (now - e->order.started_us > ORDER_TIMEOUT_US) {
            log_warn (CLUSTER_LOG, "retrain order %" PRIu64 " timed out", e->order.id);
            s_order_clear (e);
        }
        return;
    }
    const manifest_t *m = e->manifest;
    store_stats_t st;
    store_read_stats (e->store, &st);
    const char *why = NULL;
    if (!e->current_model && st.training >= m->model_min_train && !e->cold_start_tried)
        why = "cold start";
    else if (m->model_retrain_after && st.human_labels >= e->human_at_order + m->model_retrain_after)
        why = "human labels";
    else if (m->model_retrain_interval_s && e->last_order_us
             && now - e->last_order_us > (int64_t) m->model_retrain_interval_s * 1000000)
        why = "interval";
    if (!why)
        return;
    char err[256];
    uint64_t order = engine_start_retrain (e, why, err, sizeof err);
    if (order == 0 || e->order.id != order) {
        /* e.g. no retraining actor yet: try again later, quietly */
        e->next_trigger_us = now + 5 * 1000000LL;
        return;
    }
    if (strcmp (why, "cold start") == 0)
        e->cold_start_tried = true;
}

/* ---- training data ------------------------------------------------------------ */


static bool
s_on_training (void *arg, const char *id, size_t id_len, const char *label, size_t label_len,
               const uint8_t *item, size_t item_len, bool validation)
{
    page_t *p = arg;
    bool alone_too_big = item_len + label_len + 64 > p->max_bytes;
    if (p->n >= p->cap || (p->bytes + item_len + label_len + 64 > p->max_bytes && !alone_too_big)) {
        p->full = true;
        return false;
    }
    if (alone_too_big) {    /* larger than any page: passed over, paging goes on */
        free (p->last);
        p->last = strndup (id, id_len);
        return true;
    }
    if (p->validation_only && !validation) {
        free (p->last);     /* skipped, but paging goes on after it */
        p->last = strndup (id, id_len);
        return true;
    }
    Annotate__V1__Item *it = annotate__v1__item__unpack (NULL, item_len, item);
    free (p->last);
    p->last = strndup (id, id_len);
    if (!it)
        return true;
    Annotate__V1__TrainExample *x = &p->ex[p->n];
    annotate__v1__train_example__init (x);
    x->id = it->id;
    x->text = it->text;
    x->vector = it->vector;
    x->n_vector = it->n_vector;
    x->label = strndup (label, label_len);
    x->validation = validation;
    p->items[p->n] = it;
    p->ptrs[p->n] = x;
    p->n++;
    p->bytes += item_len + label_len + 64;
    return true;
}

void
engine_on_train_pull (engine_t *e, worker_t *w, wire_msg_t *msg)
{
    Annotate__V1__TrainPull *pull = WIRE_BODY (msg, Annotate__V1__TrainPull,
                                               ANNOTATE__V1__MSG_TYPE__MSG_TRAIN_PULL);
    Annotate__V1__TrainData data = ANNOTATE__V1__TRAIN_DATA__INIT;
    data.order = pull ? pull->order : 0;
    size_t alen = pull && pull->after_id ? strlen (pull->after_id) : 0;
    const char *bad = NULL;     /* data.error starts as protobuf-c's "" */
    bool refit = pull && engine_is_refit (e, pull->order, w);
    bool prop = pull && engine_is_prop (e, pull->order, w);
    if (!pull || (!refit && !prop && (!e->order.id || pull->order != e->order.id
                                      || strcmp (w->name, e->order.worker) != 0)))
        bad = "no such retrain order";
    else if (alen > STORE_MAX_ID_BYTES || !utf8_valid (pull->after_id, alen))
        bad = "after_id: not an item id";
    if (bad) {
        data.error = (char *) bad;
        wire_send (e->router, w->identity, ANNOTATE__V1__MSG_TYPE__MSG_TRAIN_DATA, data.order,
                   &data.base);
        return;
    }
    size_t want = pull->max_items && pull->max_items < TRAIN_PAGE_MAX ? pull->max_items : TRAIN_PAGE_MAX;
    page_t p = { .cap = want, .max_bytes = e->max_message_bytes / 2, .validation_only = refit };
    p.ex = calloc (want, sizeof *p.ex);
    p.ptrs = calloc (want, sizeof *p.ptrs);
    p.items = calloc (want, sizeof *p.items);
    MDB_txn *txn = p.ex && p.ptrs && p.items ? store_read_begin (e->store) : NULL;
    size_t seen = 0;
    if (txn && prop) {
        /* every item: a page ends when it is full or the scan went far enough */
        char *last = NULL;
        seen = store_scan_items (e->store, txn, alen ? pull->after_id : NULL, want,
                                 engine_prop_page_item, &p, &last);
        free (last);
        e->prop.sent += p.n;
    }
    else if (txn)
        seen = store_training_after (e->store, txn, pull->after_id, want, s_on_training, &p);
    store_read_end (e->store, txn);
    data.examples = p.ptrs;
    data.n_examples = p.n;
    data.next_after = p.last ? p.last : pull->after_id;
    data.done = seen < want && !p.full;
    if (wire_send (e->router, w->identity, ANNOTATE__V1__MSG_TYPE__MSG_TRAIN_DATA, data.order,
                   &data.base) != 0)
        log_warn (CLUSTER_LOG, "cannot send training data to %s", w->name);
    for (size_t i = 0; i < p.n; i++) {
        free (p.ex[i].label);
        protobuf_c_message_free_unpacked (&p.items[i]->base, NULL);
    }
    free (p.ex);
    free (p.ptrs);
    free (p.items);
    free (p.last);
}

/* ---- uploads ------------------------------------------------------------------- */

static size_t
s_expected_max_size (engine_t *e)
{
    const manifest_t *m = e->manifest;
    uint64_t dim = (1ull << m->model_hash_bits) + m->vector_dim + 1;
    return (size_t) (dim * (m->n_labels ? m->n_labels : 1) * sizeof (float) + (1u << 20));
}

/*  Stores the assembled model and publishes it when it is not worse.  */
static void
s_finish_upload (engine_t *e, Annotate__V1__ModelInfo *info)
{
    char err[256];
    model_t *m = model_deserialize (e->order.blob, e->order.blob_len, err, sizeof err);
    Annotate__V1__ModelSpec spec;
    engine_model_spec (e, &spec);
    bool fits = m && model_n_classes (m) == spec.n_labels;
    for (size_t k = 0; fits && k < spec.n_labels; k++)
        fits = strcmp (model_label (m, k), spec.labels[k]) == 0;
    free (spec.labels);
    model_destroy (&m);
    if (!fits) {
        log_warn (CLUSTER_LOG, "retrain order %" PRIu64 ": uploaded model refused: %s", e->order.id,
                  err[0] ? err : "its classes are not the taxonomy's");
        return;
    }
    double tol = e->manifest->model_publish_tolerance;
    bool publish = !e->current_model || info->parent != e->current_model
                   || info->accuracy + tol >= info->baseline_accuracy;
    char reason[256];
    if (!e->current_model)
        snprintf (reason, sizeof reason, "first model");
    else if (info->parent != e->current_model)
        snprintf (reason, sizeof reason, "current model changed during training; published");
    else
        snprintf (reason, sizeof reason, "validation accuracy %.4f vs %.4f for version %" PRIu64,
                  info->accuracy, info->baseline_accuracy, info->parent);
    /*  info belongs to the unpacked upload: our strings go in for the
        store's copy and the originals come back before it is freed  */
    char *saved_status = info->status, *saved_reason = info->reason;
    info->status = publish ? "published" : "rejected";
    info->reason = reason;
    info->size_bytes = e->order.blob_len;
    store_request_t r = { .type = STORE_REQ_MODEL, .blob = e->order.blob,
                          .blob_len = e->order.blob_len, .info = info, .make_current = publish };
    store_client_call (e->sync_client, &r);
    info->status = saved_status;
    info->reason = saved_reason;
    if (r.status != STORE_OK) {
        log_error (CLUSTER_LOG, "cannot store the model of order %" PRIu64 ": %s", e->order.id, r.err);
        return;
    }
    if (r.model_version > e->latest_model)
        e->latest_model = r.model_version;
    log_info (CLUSTER_LOG, "model %" PRIu64 " %s: %s", r.model_version,
              publish ? "published" : "rejected", reason);
    if (publish)
        engine_model_changed (e, r.model_version);
}

void
engine_on_model_upload (engine_t *e, worker_t *w, wire_msg_t *msg)
{
    Annotate__V1__ModelUpload *up = WIRE_BODY (msg, Annotate__V1__ModelUpload,
                                               ANNOTATE__V1__MSG_TYPE__MSG_MODEL_UPLOAD);
    if (up && engine_is_refit (e, up->order, w)) {
        engine_on_refit_upload (e, up);
        return;
    }
    if (!up || !e->order.id || up->order != e->order.id || strcmp (w->name, e->order.worker) != 0)
        return;
    if (up->error && *up->error) {
        log_warn (CLUSTER_LOG, "retrain order %" PRIu64 " failed on %s: %.200s", up->order, w->name,
                  up->error);
        s_order_clear (e);
        return;
    }
    if (up->offset == 0) {
        if (up->total_size == 0 || up->total_size > MAX_MODEL_BYTES
            || up->total_size > s_expected_max_size (e)) {
            log_warn (CLUSTER_LOG, "retrain order %" PRIu64 ": model of %" PRIu64 " bytes refused",
                      up->order, up->total_size);
            s_order_clear (e);
            return;
        }
        free (e->order.blob);
        e->order.blob = malloc (up->total_size);
        e->order.blob_total = up->total_size;
        e->order.blob_len = 0;
        e->order.checksum = up->checksum;
    }
    if (!e->order.blob || up->offset != e->order.blob_len || up->total_size != e->order.blob_total
        || up->checksum != e->order.checksum || up->data.len > e->order.blob_total - e->order.blob_len) {
        log_warn (CLUSTER_LOG, "retrain order %" PRIu64 ": chunk out of order; order dropped", up->order);
        s_order_clear (e);
        return;
    }
    memcpy (e->order.blob + e->order.blob_len, up->data.data, up->data.len);
    e->order.blob_len += up->data.len;
    if (e->order.blob_len < e->order.blob_total)
        return;
    if (XXH3_64bits (e->order.blob, e->order.blob_len) != e->order.checksum || !up->info)
        log_warn (CLUSTER_LOG, "retrain order %" PRIu64 ": checksum or info missing; dropped", up->order);
    else {
        up->info->order = up->order;
        up->info->parent = e->order.parent;
        s_finish_upload (e, up->info);
    }
    s_order_clear (e);
}

/* ---- corrections ------------------------------------------------------------------ */

void
engine_send_correction (engine_t *e, const char *id, const char *label)
{
    if (!engine_learning_enabled (e) || !e->current_model)
        return;
    Annotate__V1__Item *item = NULL;
    MDB_txn *txn = store_read_begin (e->store);
    if (txn)
        store_get_item (e->store, txn, id, strlen (id), &item, NULL, NULL);
    store_read_end (e->store, txn);
    if (!item)
        return;
    Annotate__V1__Correction c = ANNOTATE__V1__CORRECTION__INIT;
    c.id = item->id;
    c.text = item->text;
    c.vector = item->vector;
    c.n_vector = item->n_vector;
    c.label = (char *) label;
    Annotate__V1__Correction *cp = &c;
    Annotate__V1__Corrections cs = ANNOTATE__V1__CORRECTIONS__INIT;
    cs.items = &cp;
    cs.n_items = 1;
    for (worker_t *w = zhashx_first (e->workers); w; w = zhashx_next (e->workers))
        if (w->alive && w->annotates)
            wire_send (e->router, w->identity, ANNOTATE__V1__MSG_TYPE__MSG_CORRECTION, 0, &cs.base);
    protobuf_c_message_free_unpacked (&item->base, NULL);
}

/* ---- re-annotation sweep ------------------------------------------------------------- */

typedef struct {
    engine_t *e;
    item_ref_t **refs;
    size_t n, cap;
} sweep_t;

static bool
s_on_sweep_item (void *arg, const char *id, size_t id_len, const item_state_t *st,
                 const uint8_t *label, size_t label_len, const uint8_t *item, size_t item_len)
{
    sweep_t *s = arg;
    if (st->ticket || (st->flags & ITEM_FLAG_DUPLICATE)
        || (st->source != ANNOTATE__V1__LABEL_SOURCE__SOURCE_NONE
            && st->source != ANNOTATE__V1__LABEL_SOURCE__SOURCE_MODEL))
        return true;
    if (st->source == ANNOTATE__V1__LABEL_SOURCE__SOURCE_MODEL && label) {
        Annotate__V1__Label *l = annotate__v1__label__unpack (NULL, label_len, label);
        bool fresh = l && l->model_version >= s->e->sweep_version;
        if (l)
            protobuf_c_message_free_unpacked (&l->base, NULL);
        if (fresh)
            return true;
    }
    item_ref_t *ref = calloc (1, sizeof *ref);
    ref->id = strndup (id, id_len);
    s->refs[s->n++] = ref;
    (void) item;
    (void) item_len;
    return s->n < s->cap;
}

/*  Queues up to `room` items for re-annotation on the redelivery list
    (ticket 0). Returns how many; ends the sweep at the end of the store. */
size_t
engine_sweep_fill (engine_t *e, size_t room)
{
    if (!e->sweep_version || !e->sweep_after || room == 0)
        return 0;
    if (e->sweep_version != e->current_model) {
        e->sweep_version = 0;
        return 0;
    }
    sweep_t s = { .e = e, .cap = room };
    s.refs = calloc (room, sizeof *s.refs);
    char *last = NULL;
    MDB_txn *txn = store_read_begin (e->store);
    size_t seen = txn ? store_scan_items (e->store, txn, e->sweep_after, SWEEP_SCAN_MAX,
                                          s_on_sweep_item, &s, &last) : 0;
    store_read_end (e->store, txn);
    engine_requeue (e, s.refs, s.n, false);
    free (s.refs);
    free (e->sweep_after);
    e->sweep_after = last;
    e->sweep_sent += s.n;
    if (!last || (seen == 0 && s.n == 0)) {
        log_info (CLUSTER_LOG, "re-annotation with model %" PRIu64 " queued %" PRIu64 " items",
                  e->sweep_version, e->sweep_sent);
        e->sweep_version = 0;
        free (e->sweep_after);
        e->sweep_after = NULL;
    }
    return s.n;
}

void
engine_learning_init (engine_t *e)
{
    store_stats_t st;
    store_read_stats (e->store, &st);
    e->current_model = st.current_model;
    e->latest_model = st.models;
    e->human_at_order = st.human_labels;
    e->human_at_prop = st.human_labels;
    e->sample_at_fit = engine_validation_answers (e);
    e->cold_start_tried = st.models > 0;
}

void
engine_learning_fini (engine_t *e)
{
    s_order_clear (e);
    engine_refit_clear (e);
    free (e->sweep_after);
    e->sweep_after = NULL;
}
