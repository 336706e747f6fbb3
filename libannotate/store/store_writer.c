/*  store_writer.c: the single LMDB writer actor (see store_writer.h).

    Loop: wait for a request, then take every request already queued (up to
    GROUP_MAX), run each in a nested transaction of one parent transaction,
    commit the parent once, answer everyone, publish a commit event. One
    fsync covers the whole group, which is what lets many concurrent ingest
    streams and label results share the disk.

    MDB_MAP_FULL anywhere (a put or the commit) aborts the group, grows the
    map and runs the same group again: requests are immutable inputs, so a
    redo gives the same answers. When the map may not grow, every request of
    the group is answered STORE_FULL and the store is left as it was.
*/
#include "store/store_writer.h"

#include <errno.h>
#include <stdlib.h>
#include <inttypes.h>
#include <string.h>

#include "util/util.h"

#define GROUP_MAX 256

struct store_writer {
    zactor_t *actor;
    bool started;       /* set by the actor before its first signal */
    char requests_ep[64];
    char events_ep[64];
};

struct store_client {
    zsock_t *dealer;
};

typedef struct {
    store_t *store;
    store_policy_t *policy;
    zsock_t *router;
    zsock_t *events;
    zframe_t *ids[GROUP_MAX];
    store_request_t *reqs[GROUP_MAX];
    size_t n;
} writer_state_t;

/* ---- policy copies ----------------------------------------------------- */

store_policy_t *
store_policy_copy (const store_policy_t *src)
{
    store_policy_t *p = calloc (1, sizeof *p);
    *p = *src;
    p->labels = src->n_labels ? calloc (src->n_labels, sizeof (char *)) : NULL;
    for (size_t i = 0; i < src->n_labels; i++)
        p->labels[i] = strdup (src->labels[i]);
    return p;
}

void
store_policy_free (store_policy_t **pp)
{
    if (!pp || !*pp)
        return;
    store_policy_t *p = *pp;
    for (size_t i = 0; i < p->n_labels; i++)
        free (p->labels[i]);
    free (p->labels);
    free (p);
    *pp = NULL;
}

/* ---- applying a group ---------------------------------------------------- */

static store_status_t
apply_one (writer_state_t *w, MDB_txn *txn, store_request_t *r, int64_t now)
{
    switch (r->type) {
    case STORE_REQ_INGEST:
        return store_txn_ingest (w->store, txn, w->policy, r->items, r->n_items, r->replace, now,
                                 &r->ingest, r->err, sizeof r->err);
    case STORE_REQ_LABELS:
        return store_txn_labels (w->store, txn, w->policy, r->labels, r->n_labels, now, &r->applied,
                                 &r->discarded, r->err, sizeof r->err);
    case STORE_REQ_MANIFEST: {
        store_status_t s = store_txn_put_manifest (w->store, txn, r->manifest_text,
                                                   r->manifest_len, r->policy, &r->version);
        if (s != STORE_OK)
            err_set (r->err, sizeof r->err, "store: cannot save the manifest");
        return s;
    }
    case STORE_REQ_SYNC:
        return STORE_OK;
    case STORE_REQ_HUMAN_LABEL:
        return store_txn_human_label (w->store, txn, w->policy, r->id, r->label, r->annotator, now,
                                      &r->seq, &r->duplicate, r->err, sizeof r->err);
    case STORE_REQ_MODEL: {
        store_status_t s = store_txn_put_model (w->store, txn, r->blob, r->blob_len, r->info,
                                                r->make_current, now, &r->model_version);
        if (s != STORE_OK)
            err_set (r->err, sizeof r->err, "store: cannot save the model");
        return s;
    }
    case STORE_REQ_PROPAGATED:
        return store_txn_propagated (w->store, txn, r->labels, r->accepted, r->n_labels, now,
                                     &r->applied, r->err, sizeof r->err);
    case STORE_REQ_THRESHOLDS: {
        store_status_t s = store_txn_set_thresholds (w->store, txn, r->model_version, r->info);
        if (s == STORE_NOT_FOUND)
            err_set (r->err, sizeof r->err, "store: no model version %" PRIu64, r->model_version);
        else if (s != STORE_OK)
            err_set (r->err, sizeof r->err, "store: cannot save the thresholds of version %" PRIu64,
                     r->model_version);
        return s;
    }
    case STORE_REQ_SET_MODEL: {
        store_status_t s = store_txn_set_current_model (w->store, txn, r->model_version);
        if (s == STORE_NOT_FOUND)
            err_set (r->err, sizeof r->err, "model version %llu not found",
                     (unsigned long long) r->model_version);
        return s;
    }
    }
    err_set (r->err, sizeof r->err, "store: unknown request type %d", (int) r->type);
    return STORE_INVALID;
}

/*  One attempt at the whole group. Returns 0, MDB_MAP_FULL (redo after a
    grow), or another LMDB error for the commit.  */
static int
try_group (writer_state_t *w)
{
    MDB_txn *parent;
    int rc = store_write_begin (w->store, &parent);
    if (rc)
        return rc;
    int64_t now = time_now_ms ();
    for (size_t i = 0; i < w->n; i++) {
        store_request_t *r = w->reqs[i];
        r->err[0] = 0;
        MDB_txn *child;
        rc = mdb_txn_begin (store_env (w->store), parent, 0, &child);
        if (rc) {
            mdb_txn_abort (parent);
            return rc;
        }
        r->status = apply_one (w, child, r, now);
        if (r->status == STORE_OK)
            rc = mdb_txn_commit (child);
        else {
            mdb_txn_abort (child);
            store_forget_caches (w->store);
        }
        if (r->status == STORE_FULL || rc == MDB_MAP_FULL) {
            mdb_txn_abort (parent);
            store_forget_caches (w->store);
            return MDB_MAP_FULL;
        }
        if (rc) {
            mdb_txn_abort (parent);
            store_forget_caches (w->store);
            return rc;
        }
    }
    rc = mdb_txn_commit (parent);  /* run_group grows on MDB_MAP_FULL, once */
    if (rc)
        store_forget_caches (w->store);
    return rc;
}

static void
run_group (writer_state_t *w)
{
    int rc;
    for (;;) {
        rc = try_group (w);
        if (rc != MDB_MAP_FULL)
            break;
        if (!store_grow (w->store))
            break;
    }
    store_stats_t st;
    store_read_stats (w->store, &st);
    for (size_t i = 0; i < w->n; i++) {
        store_request_t *r = w->reqs[i];
        if (rc == MDB_MAP_FULL) {
            r->status = STORE_FULL;
            err_set (r->err, sizeof r->err,
                     "store full: the map reached max_map_mb, or the disk is full");
        }
        else if (rc) {
            r->status = rc == ENOSPC ? STORE_FULL : STORE_IO;
            err_set (r->err, sizeof r->err, "store: commit failed: %s", mdb_strerror (rc));
        }
        else if (r->status == STORE_OK && r->type == STORE_REQ_MANIFEST && r->policy) {
            store_policy_free (&w->policy);
            w->policy = store_policy_copy (r->policy);
        }
        r->last_seq = st.last_seq;
    }
    if (rc)
        log_error ("store", "group of %zu requests failed: %s", w->n, mdb_strerror (rc));
    for (size_t i = 0; i < w->n; i++) {
        zmsg_t *reply = zmsg_new ();
        zmsg_append (reply, &w->ids[i]);
        zmsg_addmem (reply, &w->reqs[i], sizeof (void *));
        zmsg_send (&reply, w->router);
    }
    uint8_t ev[16];
    be64_put (ev, st.last_ticket);
    be64_put (ev + 8, st.last_seq);
    zsock_send (w->events, "sb", "commit", ev, sizeof ev);
    w->n = 0;
}

/*  Takes one [identity][pointer] message; false if none was waiting.  */
static bool
take_request (writer_state_t *w, bool wait)
{
    if (!wait && !(zsock_events (w->router) & ZMQ_POLLIN))
        return false;
    zmsg_t *msg = zmsg_recv (w->router);
    if (!msg)
        return false;
    zframe_t *id = zmsg_pop (msg);
    zframe_t *ptr = zmsg_pop (msg);
    if (id && ptr && zframe_size (ptr) == sizeof (void *)) {
        memcpy (&w->reqs[w->n], zframe_data (ptr), sizeof (void *));
        w->ids[w->n++] = id;
        id = NULL;
    }
    else
        log_error ("store", "writer: malformed request dropped");
    zframe_destroy (&id);
    zframe_destroy (&ptr);
    zmsg_destroy (&msg);
    return true;
}

static void
writer_actor (zsock_t *pipe, void *args)
{
    void **a = args;
    writer_state_t w = { .store = a[0], .policy = a[1] };
    struct store_writer *self = a[2];
    w.router = zsock_new_router (self->requests_ep);
    w.events = zsock_new_pub (self->events_ep);
    self->started = w.router && w.events;
    zsock_signal (pipe, self->started ? 0 : 1);
    zpoller_t *poller = zpoller_new (pipe, w.router, NULL);
    /*  Only $TERM stops the writer: a signal must not strand the clients
        still waiting for their commits (they are answered first).  */
    zpoller_set_nonstop (poller, true);
    while (w.router && w.events) {
        void *which = zpoller_wait (poller, -1);
        if (which == pipe || zpoller_terminated (poller)) {
            char *cmd = zstr_recv (pipe);
            bool term = !cmd || streq (cmd, "$TERM");
            zstr_free (&cmd);
            if (term)
                break;
            continue;
        }
        if (which != w.router)
            continue;
        take_request (&w, true);
        while (w.n < GROUP_MAX && take_request (&w, false))
            ;
        if (w.n)
            run_group (&w);
    }
    zpoller_destroy (&poller);
    zsock_destroy (&w.router);
    zsock_destroy (&w.events);
    store_policy_free (&w.policy);
}

store_writer_t *
store_writer_new (store_t *store, const store_policy_t *policy)
{
    store_writer_t *self = calloc (1, sizeof *self);
    inproc_endpoint (self->requests_ep, sizeof self->requests_ep, "store-writer");
    inproc_endpoint (self->events_ep, sizeof self->events_ep, "store-events");
    void *args[3] = { store, store_policy_copy (policy), self };
    self->actor = zactor_new (writer_actor, args);
    if (!self->started) {
        log_error ("store", "writer could not bind %s", self->requests_ep);
        store_writer_destroy (&self);
    }
    return self;
}

void
store_writer_destroy (store_writer_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zactor_destroy (&(*self_p)->actor);
    free (*self_p);
    *self_p = NULL;
}

const char *
store_writer_events_endpoint (store_writer_t *self)
{
    return self->events_ep;
}

store_client_t *
store_client_new (store_writer_t *writer)
{
    store_client_t *self = calloc (1, sizeof *self);
    self->dealer = zsock_new_dealer (writer->requests_ep);
    if (!self->dealer) {
        free (self);
        return NULL;
    }
    return self;
}

void
store_client_destroy (store_client_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zsock_destroy (&(*self_p)->dealer);
    free (*self_p);
    *self_p = NULL;
}

int
store_client_send (store_client_t *self, store_request_t *req)
{
    return zsock_send (self->dealer, "b", &req, sizeof req);
}

store_request_t *
store_client_recv (store_client_t *self)
{
    zframe_t *f = zframe_recv (self->dealer);
    /*  The writer still holds the request: a receive cut short by a signal
        must wait on, or the caller would free memory the writer uses.  */
    while (!f && zmq_errno () == EINTR)
        f = zframe_recv (self->dealer);
    store_request_t *req = NULL;
    if (f && zframe_size (f) == sizeof req)
        memcpy (&req, zframe_data (f), sizeof req);
    zframe_destroy (&f);
    return req;
}

store_status_t
store_client_call (store_client_t *self, store_request_t *req)
{
    if (store_client_send (self, req) != 0) {
        req->status = STORE_IO;
        err_set (req->err, sizeof req->err, "store: writer unreachable");
        return req->status;
    }
    store_request_t *back = store_client_recv (self);
    if (back != req) {
        req->status = STORE_IO;
        err_set (req->err, sizeof req->err, "store: writer gave no answer");
    }
    return req->status;
}

zsock_t *
store_client_socket (store_client_t *self)
{
    return self->dealer;
}
