/*  cluster_workers.c: who the workers are and whether they are alive.

    A worker is known by name; its record survives its death (status shows
    it as "dead") and is taken over when a worker of that name registers
    again. Liveness is "any message within liveness * heartbeat_ms", using
    the heartbeat settings the worker was welcomed with, so a manifest that
    changes them never kills workers that were told the old values.
*/
#include "cluster/cluster_internal.h"

#include <errno.h>
#include <string.h>

#include "util/util.h"

char *
identity_key (zframe_t *identity)
{
    return zframe_strhex (identity);
}

void
worker_free (void **item)
{
    worker_t *w = *item;
    if (!w)
        return;
    free (w->name);
    free (w->host);
    for (size_t i = 0; i < w->n_tags; i++)
        free (w->tags[i]);
    free (w->tags);
    zframe_destroy (&w->identity);
    free (w->idkey);
    free (w);
    *item = NULL;
}

worker_t *
engine_worker_of (engine_t *e, zframe_t *identity)
{
    char *key = identity_key (identity);
    worker_t *w = zhashx_lookup (e->by_identity, key);
    free (key);
    return w;
}

static void
s_send (engine_t *e, worker_t *w, zframe_t *identity, Annotate__V1__MsgType type,
        const ProtobufCMessage *body)
{
    if (wire_send (e->router, identity, type, 0, body) == -1 && errno == EHOSTUNREACH && w
        && w->alive)
        engine_declare_dead (e, w, "its connection is gone");
}

void
engine_send_reconnect (engine_t *e, zframe_t *identity)
{
    wire_send (e->router, identity, ANNOTATE__V1__MSG_TYPE__MSG_RECONNECT, 0, NULL);
}

static void
s_reject (engine_t *e, zframe_t *identity, const char *name, const char *fmt, ...)
    __attribute__ ((format (printf, 4, 5)));

static void
s_reject (engine_t *e, zframe_t *identity, const char *name, const char *fmt, ...)
{
    char reason[256];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (reason, sizeof reason, fmt, ap);
    va_end (ap);
    log_warn (CLUSTER_LOG, "rejected worker %s: %s", name, reason);
    Annotate__V1__Reject rej = ANNOTATE__V1__REJECT__INIT;
    rej.reason = reason;
    wire_send (e->router, identity, ANNOTATE__V1__MSG_TYPE__MSG_REJECT, 0, &rej.base);
}

/* ---- placement -------------------------------------------------------- */

static bool
s_annotates (const manifest_t *m, const char *name)
{
    const manifest_worker_t *mw = manifest_worker (m, name);
    for (size_t i = 0; mw && i < mw->n_actors; i++)
        if (mw->actors[i].type == ACTOR_ANNOTATION)
            return true;
    return false;
}

void
engine_refresh_placement (engine_t *e)
{
    for (worker_t *w = zhashx_first (e->workers); w; w = zhashx_next (e->workers))
        w->annotates = s_annotates (e->manifest, w->name);
}

void
engine_send_assign (engine_t *e, worker_t *w)
{
    const manifest_t *m = e->manifest;
    const manifest_worker_t *mw = manifest_worker (m, w->name);
    size_t n = mw ? mw->n_actors : 0;
    Annotate__V1__ActorSpec *specs = n ? calloc (n, sizeof *specs) : NULL;
    Annotate__V1__ActorSpec **ptrs = n ? calloc (n, sizeof *ptrs) : NULL;
    for (size_t i = 0; i < n; i++) {
        annotate__v1__actor_spec__init (&specs[i]);
        specs[i].name = mw->actors[i].name;
        specs[i].type = (char *) actor_type_name (mw->actors[i].type);
        ptrs[i] = &specs[i];
    }
    char **labels = m->n_labels ? calloc (m->n_labels, sizeof *labels) : NULL;
    for (size_t i = 0; i < m->n_labels; i++)
        labels[i] = m->labels[i].name;
    Annotate__V1__Assign as = ANNOTATE__V1__ASSIGN__INIT;
    as.actors = ptrs;
    as.n_actors = n;
    as.labels = labels;
    as.n_labels = m->n_labels;
    as.vector_dim = m->vector_dim;
    as.manifest_version = e->manifest_version;
    Annotate__V1__ModelSpec spec;
    engine_model_spec (e, &spec);
    if (engine_learning_enabled (e))
        as.model = &spec;
    s_send (e, w, w->identity, ANNOTATE__V1__MSG_TYPE__MSG_ASSIGN, &as.base);
    free (spec.labels);
    free (labels);
    free (ptrs);
    free (specs);
}

/* ---- registration ----------------------------------------------------- */

/*  Text that reaches logs and the API must be printable: no control
    characters (log line injection), valid UTF-8, bounded.  */
static bool
s_printable (const char *s, size_t len)
{
    if (!utf8_valid (s, len))
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char) s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

static const char *
s_check_register (const Annotate__V1__Register *r)
{
    size_t nlen = strlen (r->name);
    if (nlen == 0 || nlen > MANIFEST_MAX_NAME || !s_printable (r->name, nlen))
        return "name must be 1..128 bytes of printable UTF-8";
    if (r->capacity < 1 || r->capacity > CLUSTER_MAX_CAPACITY)
        return "capacity must be 1..1024";
    size_t hlen = strlen (r->host);
    if (hlen > CLUSTER_MAX_HOST_BYTES || !s_printable (r->host, hlen))
        return "host must be at most 256 bytes of printable UTF-8";
    if (r->n_tags > CLUSTER_MAX_TAGS)
        return "at most 64 tags";
    size_t total = 0;
    for (size_t i = 0; i < r->n_tags; i++) {
        size_t tl = strlen (r->tags[i]);
        total += tl;
        if (tl == 0 || tl > CLUSTER_MAX_TAG_BYTES || !s_printable (r->tags[i], tl)
            || !strchr (r->tags[i], '='))
            return "tags must be key=value, 1..256 bytes of printable UTF-8";
    }
    if (total > CLUSTER_MAX_TAG_TOTAL)
        return "tags: at most 2 KiB in all";
    return NULL;
}

/*  Frees the oldest dead record when the table is full or too many dead
    records pile up (a peer registering random names must not grow the
    status without bound); false if all are alive.  */
static bool
s_make_room (engine_t *e)
{
    size_t dead = 0;
    for (worker_t *w = zhashx_first (e->workers); w; w = zhashx_next (e->workers))
        dead += !w->alive;
    if (zhashx_size (e->workers) < CLUSTER_MAX_WORKERS && dead < CLUSTER_MAX_DEAD)
        return true;
    worker_t *oldest = NULL;
    for (worker_t *w = zhashx_first (e->workers); w; w = zhashx_next (e->workers))
        if (!w->alive && (!oldest || w->last_seen_us < oldest->last_seen_us))
            oldest = w;
    if (!oldest)
        return false;
    zhashx_delete (e->by_identity, oldest->idkey);
    zhashx_delete (e->workers, oldest->name);
    return true;
}

static void
s_fill_record (engine_t *e, worker_t *w, zframe_t *identity, const Annotate__V1__Register *r,
               bool keep_batches)
{
    if (w->idkey)
        zhashx_delete (e->by_identity, w->idkey);
    zframe_destroy (&w->identity);
    free (w->idkey);
    w->identity = zframe_dup (identity);
    w->idkey = identity_key (identity);
    zhashx_update (e->by_identity, w->idkey, w);
    free (w->host);
    w->host = strdup (r->host);
    for (size_t i = 0; i < w->n_tags; i++)
        free (w->tags[i]);
    free (w->tags);
    w->n_tags = r->n_tags;
    w->tags = r->n_tags ? calloc (r->n_tags, sizeof (char *)) : NULL;
    for (size_t i = 0; i < r->n_tags; i++)
        w->tags[i] = strdup (r->tags[i]);
    w->pid = r->pid;
    w->capacity = r->capacity;
    if (!keep_batches)
        w->in_flight = 0;
    w->alive = true;
    w->annotates = s_annotates (e->manifest, w->name);
    w->heartbeat_ms = e->manifest->heartbeat_ms;
    w->liveness = e->manifest->liveness;
    w->max_batch = e->manifest->batch_size;
    w->last_seen_us = time_mono_us ();
    w->last_seen_ms = time_now_ms ();
}

/*  Validates a REGISTER and takes over or creates the record. NULL (after
    answering REJECT) when refused.  */
static worker_t *
s_admit (engine_t *e, zframe_t *identity, const Annotate__V1__Register *r)
{
    const char *bad = s_check_register (r);
    if (bad) {
        s_reject (e, identity, "(invalid)", "%s", bad);
        return NULL;
    }
    worker_t *w = zhashx_lookup (e->workers, r->name);
    worker_t *same_socket = engine_worker_of (e, identity);
    if (w && w->alive && !zframe_eq (w->identity, identity)) {
        /*  A holder whose connection is gone (a killed process restarting
            fast) fails this probe with EHOSTUNREACH and is declared dead.  */
        Annotate__V1__Heartbeat probe = ANNOTATE__V1__HEARTBEAT__INIT;
        probe.in_flight = w->in_flight;
        s_send (e, w, w->identity, ANNOTATE__V1__MSG_TYPE__MSG_HEARTBEAT, &probe.base);
        int64_t quiet_ms = (time_mono_us () - w->last_seen_us) / 1000;
        if (w->alive && quiet_ms <= 2 * (int64_t) w->heartbeat_ms) {
            s_reject (e, identity, r->name, "name taken: worker %s is alive", r->name);
            return NULL;
        }
    }
    /*  One socket, one live record: a re-register under a new name retires
        the old one; a record taken over from another socket gives its
        batches back. The same socket registering again (after RECONNECT)
        is the same process, still holding its batches: they stay.  */
    bool keep = w && w->alive && same_socket == w;
    if (same_socket && same_socket != w && same_socket->alive)
        engine_declare_dead (e, same_socket, "re-registered under another name");
    if (w && w->alive && !keep)
        engine_declare_dead (e, w, "registered again");
    if (!w) {
        if (!s_make_room (e)) {
            s_reject (e, identity, r->name, "too many workers");
            return NULL;
        }
        w = calloc (1, sizeof *w);
        w->name = strdup (r->name);
        zhashx_insert (e->workers, w->name, w);
    }
    s_fill_record (e, w, identity, r, keep);
    return w;
}

void
engine_on_register (engine_t *e, wire_msg_t *msg)
{
    Annotate__V1__Register *r = WIRE_BODY (msg, Annotate__V1__Register,
                                           ANNOTATE__V1__MSG_TYPE__MSG_REGISTER);
    uint32_t proto = msg->version != WIRE_VERSION ? msg->version : r ? r->protocol : 0;
    size_t nlen = r && r->name ? strnlen (r->name, MANIFEST_MAX_NAME + 1) : 0;
    const char *name = nlen && nlen <= MANIFEST_MAX_NAME && utf8_valid (r->name, nlen) ? r->name
                                                                                     : "?";
    if (proto != WIRE_VERSION || !r) {
        s_reject (e, msg->identity, name, "protocol version %u, coordinator speaks %d", proto,
                  WIRE_VERSION);
        return;
    }
    worker_t *w = s_admit (e, msg->identity, r);
    if (!w)
        return;
    Annotate__V1__Welcome wel = ANNOTATE__V1__WELCOME__INIT;
    wel.cluster = e->manifest->cluster_name;
    wel.heartbeat_ms = w->heartbeat_ms;
    wel.liveness = w->liveness;
    wel.max_batch = w->max_batch;
    s_send (e, w, w->identity, ANNOTATE__V1__MSG_TYPE__MSG_WELCOME, &wel.base);
    if (w->alive) {
        engine_send_assign (e, w);
        engine_send_model (e, w);
    }
    log_info (CLUSTER_LOG, "worker %s registered from %s pid %u (capacity %u%s)", w->name,
              w->host[0] ? w->host : "?", w->pid, w->capacity,
              w->annotates ? ", annotates" : "");
}

/* ---- leaving and dying ------------------------------------------------ */

/*  Marks w dead and sends its batches back to redelivery; returns how many. */
static size_t
s_retire (engine_t *e, worker_t *w)
{
    w->alive = false;
    engine_worker_orders_gone (e, w->name);
    /*  Collect first: taking a batch changes the table we walk.  */
    zlistx_t *ids = zlistx_new ();
    for (batch_t *b = zhashx_first (e->batches); b; b = zhashx_next (e->batches))
        if (b->worker == w)
            zlistx_add_end (ids, (void *) (uintptr_t) b->batch_id);
    size_t n = zlistx_size (ids);
    for (void *id = zlistx_first (ids); id; id = zlistx_next (ids)) {
        batch_t *b = engine_batch_take (e, (uint64_t) (uintptr_t) id);
        if (b) {
            engine_requeue (e, b->items, b->n_items, true);
            b->n_items = 0;
            batch_free (&b);
        }
    }
    zlistx_destroy (&ids);
    e->redelivered += n;
    w->in_flight = 0;
    return n;
}

void
engine_declare_dead (engine_t *e, worker_t *w, const char *why)
{
    if (!w->alive)
        return;
    size_t n = s_retire (e, w);
    log_warn (CLUSTER_LOG, "worker %s declared dead (%s); %zu batches to redeliver", w->name, why, n);
}

void
engine_on_goodbye (engine_t *e, worker_t *w)
{
    size_t n = s_retire (e, w);
    log_info (CLUSTER_LOG, "worker %s left; %zu batches to redeliver", w->name, n);
}

/*  Sends due heartbeats and declares silent workers dead. While worker
    messages are paused their silence would be ours, so only the liveness
    check waits; our heartbeats keep going so workers do not give up on us. */
void
engine_heartbeat_tick (engine_t *e)
{
    int64_t now = time_mono_us ();
    for (worker_t *w = zhashx_first (e->workers); w; w = zhashx_next (e->workers)) {
        if (!w->alive || e->router_paused)
            continue;
        int64_t limit_us = (int64_t) w->liveness * w->heartbeat_ms * 1000;
        if (now - w->last_seen_us > limit_us) {
            char why[96];
            snprintf (why, sizeof why, "silent for %lld ms",
                      (long long) ((now - w->last_seen_us) / 1000));
            engine_declare_dead (e, w, why);
        }
    }
    if (now < e->next_heartbeat_us)
        return;
    e->next_heartbeat_us = now + (int64_t) e->manifest->heartbeat_ms * 1000;
    for (worker_t *w = zhashx_first (e->workers); w; w = zhashx_next (e->workers)) {
        if (!w->alive)
            continue;
        Annotate__V1__Heartbeat hb = ANNOTATE__V1__HEARTBEAT__INIT;
        hb.in_flight = w->in_flight;
        /*  A full pipe (EAGAIN) only costs one heartbeat; a vanished peer
            is dead at once.  */
        if (wire_send (e->router, w->identity, ANNOTATE__V1__MSG_TYPE__MSG_HEARTBEAT, 0, &hb.base)
                == -1
            && errno == EHOSTUNREACH)
            engine_declare_dead (e, w, "its connection is gone");
    }
}
