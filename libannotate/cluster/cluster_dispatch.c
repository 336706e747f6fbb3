/*  cluster_dispatch.c: turning pending items into batches for workers.

    A worker may hold `capacity` batches (its credits). While some alive
    annotating worker has a free credit, the actor builds a batch in one
    short read transaction: first items of dead workers' batches (the
    redelivery list, re-read from the store and skipped when their ticket
    is no longer current), then pending items with ticket > cursor. The
    cursor only moves forward and restarts at 0 with the actor, so after a
    coordinator restart everything still pending is dispatched again; the
    store's ticket check makes any duplicate result harmless.

    A batch is also bounded by max_message_bytes: it is closed before the
    next item would make the message too large.
*/
#include "cluster/cluster_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "util/util.h"

#define ITEM_OVERHEAD 16        /* tag + length of a WorkItem inside a Batch */

typedef struct {
    engine_t *e;
    MDB_txn *txn;
    size_t limit;               /* items */
    size_t max_bytes;
    size_t bytes;
    Annotate__V1__Item **items; /* unpacked, owned; WorkItems point into them */
    Annotate__V1__WorkItem *work;
    item_ref_t **refs;
    size_t n;
} build_t;

void
item_ref_free (void **item)
{
    item_ref_t *r = *item;
    if (!r)
        return;
    free (r->id);
    free (r);
    *item = NULL;
}

void
batch_free (batch_t **b_p)
{
    batch_t *b = *b_p;
    if (!b)
        return;
    for (size_t i = 0; i < b->n_items; i++)
        item_ref_free ((void **) &b->items[i]);
    free (b->items);
    free (b);
    *b_p = NULL;
}

static void
s_key (char *buf, size_t cap, uint64_t id)
{
    snprintf (buf, cap, "%" PRIu64, id);
}

batch_t *
engine_batch_take (engine_t *e, uint64_t batch_id)
{
    char key[24];
    s_key (key, sizeof key, batch_id);
    batch_t *b = zhashx_lookup (e->batches, key);
    if (!b)
        return NULL;
    zhashx_delete (e->batches, key);
    if (b->worker->in_flight)
        b->worker->in_flight--;
    e->in_flight_items -= b->n_items;
    return b;
}

void
engine_requeue (engine_t *e, item_ref_t **items, size_t n, bool front)
{
    /*  Walk backwards when prepending so the list keeps ticket order.  */
    for (size_t k = 0; k < n; k++) {
        size_t i = front ? n - 1 - k : k;
        if (front)
            zlistx_add_start (e->redeliver, items[i]);
        else
            zlistx_add_end (e->redeliver, items[i]);
        items[i] = NULL;
    }
}

/* ---- choosing a worker ------------------------------------------------ */

static worker_t *
s_pick_worker (engine_t *e)
{
    worker_t *best = NULL;
    for (worker_t *w = zhashx_first (e->workers); w; w = zhashx_next (e->workers)) {
        if (!w->alive || !w->annotates || w->in_flight >= w->capacity)
            continue;
        /*  Least loaded by share of capacity; ties go round robin.  */
        uint64_t load = (uint64_t) w->in_flight * 1024 / w->capacity;
        uint64_t best_load = best ? (uint64_t) best->in_flight * 1024 / best->capacity : 0;
        if (!best || load < best_load
            || (load == best_load && w->last_dispatch < best->last_dispatch))
            best = w;
    }
    return best;
}

/* ---- building a batch ------------------------------------------------- */

typedef enum { ADD_OK, ADD_FULL, ADD_TOO_BIG } add_t;

/*  Adds an item; takes ownership of item and ref on ADD_OK only.  */
static add_t
s_add (build_t *b, item_ref_t *ref, Annotate__V1__Item *item)
{
    Annotate__V1__WorkItem *w = &b->work[b->n];
    annotate__v1__work_item__init (w);
    w->id = ref->id;
    w->text = item->text;
    w->vector = item->vector;
    w->n_vector = item->n_vector;
    w->ticket = ref->ticket;
    size_t size = annotate__v1__work_item__get_packed_size (w) + ITEM_OVERHEAD;
    if (b->bytes + size > b->max_bytes)
        return b->n ? ADD_FULL : ADD_TOO_BIG;
    b->bytes += size;
    b->items[b->n] = item;
    b->refs[b->n] = ref;
    b->n++;
    return ADD_OK;
}

/*  Items of dead workers' batches go first, if still waiting for this
    very annotation (same ticket).  */
static void
s_take_redeliveries (build_t *b)
{
    engine_t *e = b->e;
    while (b->n < b->limit && zlistx_size (e->redeliver)) {
        item_ref_t *ref = zlistx_detach (e->redeliver, NULL);
        Annotate__V1__Item *item = NULL;
        item_state_t st;
        if (store_get_item (e->store, b->txn, ref->id, strlen (ref->id), &item, NULL, &st) != 0
            || st.ticket != ref->ticket) {
            if (item)
                protobuf_c_message_free_unpacked (&item->base, NULL);
            item_ref_free ((void **) &ref);
            continue;
        }
        add_t rc = s_add (b, ref, item);
        if (rc == ADD_OK)
            continue;
        protobuf_c_message_free_unpacked (&item->base, NULL);
        if (rc == ADD_FULL) {
            zlistx_add_start (e->redeliver, ref);
            break;
        }
        log_error (CLUSTER_LOG, "item %s does not fit in max_message_bytes; left pending", ref->id);
        item_ref_free ((void **) &ref);
    }
}

static bool
s_on_pending (void *arg, uint64_t ticket, const char *id, size_t id_len, const uint8_t *data,
              size_t len)
{
    build_t *b = arg;
    if (b->n >= b->limit)
        return false;
    Annotate__V1__Item *item = annotate__v1__item__unpack (NULL, len, data);
    if (!item) {
        log_error (CLUSTER_LOG, "pending item %.*s does not unpack; skipped", (int) id_len, id);
        b->e->cursor = ticket;
        return true;
    }
    item_ref_t *ref = calloc (1, sizeof *ref);
    ref->id = strndup (id, id_len);
    ref->ticket = ticket;
    add_t rc = s_add (b, ref, item);
    if (rc == ADD_OK) {
        b->e->cursor = ticket;
        return true;
    }
    protobuf_c_message_free_unpacked (&item->base, NULL);
    if (rc == ADD_TOO_BIG) {
        log_error (CLUSTER_LOG, "item %s does not fit in max_message_bytes; left pending", ref->id);
        b->e->cursor = ticket;
    }
    item_ref_free ((void **) &ref);
    return rc == ADD_TOO_BIG;
}

static void
s_build (engine_t *e, build_t *b, size_t limit)
{
    memset (b, 0, sizeof *b);
    b->e = e;
    b->limit = limit;
    b->max_bytes = e->max_message_bytes > 64 ? e->max_message_bytes - 64 : e->max_message_bytes;
    b->items = calloc (limit, sizeof *b->items);
    b->work = calloc (limit, sizeof *b->work);
    b->refs = calloc (limit, sizeof *b->refs);
    b->txn = store_read_begin (e->store);
    if (!b->txn)
        return;
    s_take_redeliveries (b);
    if (b->n < b->limit && !zlistx_size (e->redeliver))
        store_pending_after (e->store, b->txn, e->cursor, b->limit - b->n, s_on_pending, b);
    store_read_end (e->store, b->txn);
}

static void
s_build_free (build_t *b)
{
    for (size_t i = 0; i < b->n; i++) {
        protobuf_c_message_free_unpacked (&b->items[i]->base, NULL);
        item_ref_free ((void **) &b->refs[i]);
    }
    free (b->items);
    free (b->work);
    free (b->refs);
}

/*  Sends the built batch to w. On success the refs move into the in-flight
    table; on failure they go back to the front of the redelivery list.  */
static bool
s_send_batch (engine_t *e, worker_t *w, build_t *b)
{
    Annotate__V1__WorkItem **ptrs = calloc (b->n, sizeof *ptrs);
    for (size_t i = 0; i < b->n; i++)
        ptrs[i] = &b->work[i];
    Annotate__V1__Batch msg = ANNOTATE__V1__BATCH__INIT;
    msg.batch_id = e->next_batch_id++;
    msg.items = ptrs;
    msg.n_items = b->n;
    int rc = wire_send (e->router, w->identity, ANNOTATE__V1__MSG_TYPE__MSG_BATCH, msg.batch_id,
                        &msg.base);
    int saved = errno;
    free (ptrs);
    if (rc != 0) {
        engine_requeue (e, b->refs, b->n, true);
        if (saved == EHOSTUNREACH)
            engine_declare_dead (e, w, "its connection is gone");
        else
            log_warn (CLUSTER_LOG, "cannot send a batch to %s: %s", w->name, zmq_strerror (saved));
        return false;
    }
    batch_t *batch = calloc (1, sizeof *batch);
    batch->batch_id = msg.batch_id;
    batch->worker = w;
    batch->items = calloc (b->n, sizeof *batch->items);
    batch->n_items = b->n;
    for (size_t i = 0; i < b->n; i++) {
        batch->items[i] = b->refs[i];
        b->refs[i] = NULL;
    }
    char key[24];
    s_key (key, sizeof key, batch->batch_id);
    zhashx_insert (e->batches, key, batch);
    batch->sent_us = time_mono_us ();
    w->in_flight++;
    w->last_dispatch = ++e->dispatch_seq;
    e->in_flight_items += b->n;
    log_debug (CLUSTER_LOG, "batch %" PRIu64 " of %zu items to %s", batch->batch_id, b->n, w->name);
    return true;
}

void
engine_dispatch (engine_t *e)
{
    /*  Results already back up at the writer: handing out more work would
        only queue more of them.  */
    if (engine_writer_busy (e))
        return;
    worker_t *w;
    while ((w = s_pick_worker (e))) {
        size_t limit = e->manifest->batch_size;
        if (w->max_batch && w->max_batch < limit)
            limit = w->max_batch;
        build_t b;
        s_build (e, &b, limit);
        if (b.n == 0 && engine_sweep_fill (e, limit) > 0) {
            /* nothing new waits: bring older machine labels up to the current model */
            s_build_free (&b);
            s_build (e, &b, limit);
        }
        bool sent = b.n && s_send_batch (e, w, &b);
        s_build_free (&b);
        if (!sent)
            break;
    }
}

void
engine_park (engine_t *e, const char *id, uint64_t ticket)
{
    item_ref_t *ref = calloc (1, sizeof *ref);
    ref->id = strdup (id);
    ref->ticket = ticket;
    zlistx_add_end (e->parked, ref);
}

void
engine_expire_batches (engine_t *e)
{
    int64_t now = time_mono_us ();
    zlistx_t *late = NULL;
    for (batch_t *b = zhashx_first (e->batches); b; b = zhashx_next (e->batches))
        if (now - b->sent_us > CLUSTER_BATCH_TIMEOUT_US) {
            if (!late)
                late = zlistx_new ();
            zlistx_add_end (late, (void *) (uintptr_t) b->batch_id);
        }
    for (void *id = late ? zlistx_first (late) : NULL; id; id = zlistx_next (late)) {
        batch_t *b = engine_batch_take (e, (uint64_t) (uintptr_t) id);
        if (!b)
            continue;
        log_warn (CLUSTER_LOG, "batch %" PRIu64 " unanswered by %s for %lld s: dispatched again",
                  b->batch_id, b->worker->name, (long long) (CLUSTER_BATCH_TIMEOUT_US / 1000000));
        engine_requeue (e, b->items, b->n_items, true);
        b->n_items = 0;
        batch_free (&b);
        e->redelivered++;
    }
    zlistx_destroy (&late);
    if (zlistx_size (e->parked) && now >= e->next_park_retry_us) {
        e->next_park_retry_us = now + CLUSTER_PARK_RETRY_US;
        size_t n = zlistx_size (e->parked);
        item_ref_t *ref;
        while ((ref = zlistx_detach (e->parked, NULL))) {
            ref->attempts = 0;
            zlistx_add_end (e->redeliver, ref);
        }
        log_info (CLUSTER_LOG, "retrying %zu parked items", n);
    }
}
