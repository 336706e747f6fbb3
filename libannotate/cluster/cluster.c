/*  cluster.c: the cluster actor's public API and its loop (see cluster.h).

    The actor polls five sockets: its pipe ($TERM), the workers' ROUTER,
    the control ROUTER (cluster_client_t requests), the writer's commit
    events and its own store client (answers to label requests). Every
    CLUSTER_TICK_MS it also sends due heartbeats, declares silent workers
    dead and tries to dispatch, so no wake-up is ever required for progress.

    Control messages (on the inproc ROUTER, from a cluster_client_t DEALER):
      [seq u64]["STATUS"]                         -> [seq][packed ClusterStatusResponse]
      [seq u64]["MANIFEST"][version be64][yaml]   -> [seq]["OK" | "ERROR <message>"]
*/
#include "cluster/cluster_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "util/util.h"

#define APPLY_TIMEOUT_MS 10000
#define DRAIN_TIMEOUT_MS 10000

struct cluster {
    zactor_t *actor;
    char ctl_endpoint[64];
};

struct cluster_client {
    zsock_t *dealer;
    uint64_t seq;
};

typedef struct {
    const cluster_config_t *config;
    const char *ctl_endpoint;
} actor_args_t;

/* ---- set-up and tear-down (actor thread) ------------------------------ */

static void
s_engine_destroy (engine_t **e_p)
{
    engine_t *e = *e_p;
    if (!e)
        return;
    zpoller_destroy (&e->poller);
    for (batch_t *b = e->batches ? zhashx_first (e->batches) : NULL; b; b = zhashx_next (e->batches))
        batch_free (&b);
    zhashx_destroy (&e->batches);
    zhashx_destroy (&e->by_identity);
    zhashx_destroy (&e->workers);
    zlistx_destroy (&e->redeliver);
    zlistx_destroy (&e->parked);
    zlistx_destroy (&e->waiting);
    engine_learning_fini (e);
    engine_prop_clear (e);
    store_client_destroy (&e->sync_client);
    store_client_destroy (&e->client);
    zsock_destroy (&e->events);
    zsock_destroy (&e->ctl);
    zsock_destroy (&e->router);
    manifest_destroy (&e->manifest);
    free (e);
    *e_p = NULL;
}

static zsock_t *
s_worker_router (const char *endpoint, size_t max_bytes, char *err, size_t errlen)
{
    zsock_t *r = zsock_new (ZMQ_ROUTER);
    if (!r) {
        err_set (err, errlen, "cluster: cannot create a ROUTER socket");
        return NULL;
    }
    /*  Unroutable sends fail with EHOSTUNREACH instead of vanishing, so a
        batch for a worker that just left is requeued at once.  */
    zsock_set_router_mandatory (r, 1);
    zsock_set_maxmsgsize (r, (int64_t) max_bytes + 1024);
    zsock_set_sndhwm (r, 1000);
    zsock_set_rcvhwm (r, 1000);
    zsock_set_sndtimeo (r, 0);
    zsock_set_linger (r, 0);
    if (zsock_bind (r, "%s", endpoint) == -1) {
        err_set (err, errlen, "cluster: cannot bind %s: %s", endpoint, zmq_strerror (zmq_errno ()));
        zsock_destroy (&r);
    }
    return r;
}

static engine_t *
s_engine_new (zsock_t *pipe, const actor_args_t *args, char *err, size_t errlen)
{
    const cluster_config_t *c = args->config;
    engine_t *e = calloc (1, sizeof *e);
    e->pipe = pipe;
    e->store = c->store;
    e->writer = c->writer;
    e->max_message_bytes = c->max_message_bytes ? c->max_message_bytes : (16u << 20);
    e->manifest_version = c->manifest_version;
    e->started_ms = time_now_ms ();
    e->next_batch_id = (uint64_t) e->started_ms * 1000;     /* unlike any id before a restart */
    e->workers = zhashx_new ();
    zhashx_set_destructor (e->workers, worker_free);
    e->by_identity = zhashx_new ();
    e->batches = zhashx_new ();
    e->redeliver = zlistx_new ();
    zlistx_set_destructor (e->redeliver, item_ref_free);
    e->parked = zlistx_new ();
    zlistx_set_destructor (e->parked, item_ref_free);
    e->waiting = zlistx_new ();
    zlistx_set_destructor (e->waiting, label_job_free);

    char merr[512];
    e->manifest = manifest_parse (c->manifest_text, c->manifest_len, "<cluster manifest>", merr,
                                  sizeof merr);
    if (!e->manifest) {
        err_set (err, errlen, "cluster: manifest: %s", merr);
        goto fail;
    }
    e->router = s_worker_router (c->bind, e->max_message_bytes, err, errlen);
    if (!e->router)
        goto fail;
    e->ctl = zsock_new_router (args->ctl_endpoint);
    e->events = zsock_new_sub (store_writer_events_endpoint (c->writer), "commit");
    e->client = store_client_new (c->writer);
    e->sync_client = store_client_new (c->writer);
    if (!e->ctl || !e->events || !e->client || !e->sync_client) {
        err_set (err, errlen, "cluster: cannot create internal sockets");
        goto fail;
    }
    e->poller = zpoller_new (pipe, e->router, e->ctl, e->events, store_client_socket (e->client),
                             NULL);
    /*  Only $TERM ends the actor; SIGINT is the owner's business.  */
    zpoller_set_nonstop (e->poller, true);
    engine_rate_tick (e);       /* rates count from here */
    engine_learning_init (e);
    return e;
fail:
    s_engine_destroy (&e);
    return NULL;
}

/*  Label requests still at the writer point into our memory: wait for
    their answers before freeing anything.  */
static void
s_drain_writer (engine_t *e)
{
    int64_t deadline = time_mono_us () + DRAIN_TIMEOUT_MS * 1000LL;
    zlistx_purge (e->waiting);
    while (e->outstanding && time_mono_us () < deadline) {
        if (zsock_events (store_client_socket (e->client)) & ZMQ_POLLIN)
            engine_on_writer_answer (e);
        else
            zclock_sleep (5);
    }
    if (e->outstanding) {
        log_error (CLUSTER_LOG, "writer did not answer %zu label requests; leaking them",
                   e->outstanding);
        e->client = NULL;   /* its socket may still receive pointers to them */
    }
}

/* ---- messages --------------------------------------------------------- */

/*  Hostile peers must not flood the log: at most DROP_LOG_PER_S warnings
    about dropped messages a second, then one line counting the rest.  */
#define DROP_LOG_PER_S 10

static bool
s_may_log_drop (engine_t *e)
{
    int64_t now = time_mono_us ();
    if (now - e->drop_window_us >= 1000000) {
        if (e->drops_suppressed)
            log_warn (CLUSTER_LOG, "%zu more malformed messages dropped", e->drops_suppressed);
        e->drop_window_us = now;
        e->drops_logged = 0;
        e->drops_suppressed = 0;
    }
    if (e->drops_logged < DROP_LOG_PER_S) {
        e->drops_logged++;
        return true;
    }
    e->drops_suppressed++;
    return false;
}

static void
s_on_worker_message (engine_t *e)
{
    wire_msg_t msg;
    char err[256];
    int rc = wire_recv (e->router, true, e->max_message_bytes, &msg, err, sizeof err);
    if (rc == WIRE_ENOMSG)
        return;
    worker_t *w = msg.identity ? engine_worker_of (e, msg.identity) : NULL;
    if (rc == WIRE_EVERSION) {
        /*  Another protocol: a REGISTER is answered REJECT (in
            engine_on_register), anything else is dropped.  */
        if (msg.type == ANNOTATE__V1__MSG_TYPE__MSG_REGISTER)
            engine_on_register (e, &msg);
        else if (s_may_log_drop (e))
            log_warn (CLUSTER_LOG, "dropped %s: %s", wire_type_name (msg.type), err);
        wire_msg_reset (&msg);
        return;
    }
    if (rc != WIRE_OK) {
        if (s_may_log_drop (e))
            log_warn (CLUSTER_LOG, "dropped a message from %s: %s",
                      w ? w->name : "an unknown peer", err);
        wire_msg_reset (&msg);
        return;
    }
    if (w && w->alive) {
        w->last_seen_us = time_mono_us ();
        w->last_seen_ms = time_now_ms ();
    }
    switch (msg.type) {
    case ANNOTATE__V1__MSG_TYPE__MSG_REGISTER:
        engine_on_register (e, &msg);
        break;
    case ANNOTATE__V1__MSG_TYPE__MSG_RESULT:
        /*  Applied even from an unknown peer: the store's ticket check makes
            a stale result harmless, and it may be the last copy.  */
        /*  From a known worker, even one declared dead, a result may be the
            last copy: the store's ticket check makes a stale one harmless.
            A peer that never registered gets nothing written.  */
        if (w)
            engine_on_result (e, w->alive ? w : NULL, &msg);
        if (!w || !w->alive)
            engine_send_reconnect (e, msg.identity);
        break;
    case ANNOTATE__V1__MSG_TYPE__MSG_HEARTBEAT:
        if (!w || !w->alive)
            engine_send_reconnect (e, msg.identity);
        break;
    case ANNOTATE__V1__MSG_TYPE__MSG_GOODBYE:
        if (w && w->alive)
            engine_on_goodbye (e, w);
        break;
    case ANNOTATE__V1__MSG_TYPE__MSG_TRAIN_PULL:
        if (w && w->alive)
            engine_on_train_pull (e, w, &msg);
        else
            engine_send_reconnect (e, msg.identity);
        break;
    case ANNOTATE__V1__MSG_TYPE__MSG_PROPAGATED:
        if (w && w->alive)
            engine_on_propagated (e, w, &msg);
        break;
    case ANNOTATE__V1__MSG_TYPE__MSG_MODEL_UPLOAD:
        if (w && w->alive)
            engine_on_model_upload (e, w, &msg);
        else
            engine_send_reconnect (e, msg.identity);
        break;
    default:
        if (s_may_log_drop (e))
            log_warn (CLUSTER_LOG, "unexpected %s from %s", wire_type_name (msg.type),
                      w ? w->name : "an unknown peer");
        if (!w || !w->alive)
            engine_send_reconnect (e, msg.identity);
        break;
    }
    wire_msg_reset (&msg);
}

static void
s_on_ctl (engine_t *e)
{
    zmsg_t *req = zmsg_recv (e->ctl);
    if (!req)
        return;
    zframe_t *id = zmsg_pop (req);
    zframe_t *seq = zmsg_pop (req);
    char *cmd = zmsg_popstr (req);
    zmsg_t *reply = zmsg_new ();
    zmsg_append (reply, &id);
    zmsg_append (reply, &seq);
    if (cmd && streq (cmd, "STATUS")) {
        zframe_t *body = engine_status (e);
        zmsg_append (reply, &body);
    }
    else if (cmd && streq (cmd, "MANIFEST") && zmsg_size (req) == 2) {
        zframe_t *vf = zmsg_pop (req);
        zframe_t *text = zmsg_pop (req);
        char err[600];
        uint64_t version = zframe_size (vf) == 8 ? be64_get (zframe_data (vf)) : 0;
        if (engine_adopt_manifest (e, (const char *) zframe_data (text), zframe_size (text),
                                   version, err, sizeof err) == 0)
            zmsg_addstr (reply, "OK");
        else
            zmsg_addstrf (reply, "ERROR %s", err);
        zframe_destroy (&vf);
        zframe_destroy (&text);
    }
    else if (cmd && streq (cmd, "RETRAIN") && zmsg_size (req) == 1) {
        char *reason = zmsg_popstr (req);
        char err[300];
        uint64_t order = engine_start_retrain (e, reason, err, sizeof err);
        if (order)
            zmsg_addstrf (reply, "OK %" PRIu64 " %s %s", order, e->order.actor, e->order.worker);
        else
            zmsg_addstrf (reply, "ERROR %s", err);
        zstr_free (&reason);
    }
    else if (cmd && streq (cmd, "PROPAGATE") && zmsg_size (req) == 1) {
        char *reason = zmsg_popstr (req);
        char err[300];
        uint64_t order = engine_start_propagation (e, reason, err, sizeof err);
        if (order)
            zmsg_addstrf (reply, "OK %" PRIu64 " %s %s", order, e->prop.actor, e->prop.worker);
        else
            zmsg_addstrf (reply, "ERROR %s", err);
        zstr_free (&reason);
    }
    else if (cmd && streq (cmd, "CORRECTION") && zmsg_size (req) == 2) {
        char *item_id = zmsg_popstr (req);
        char *label = zmsg_popstr (req);
        engine_send_correction (e, item_id, label);
        zmsg_addstr (reply, "OK");
        zstr_free (&item_id);
        zstr_free (&label);
    }
    else if (cmd && streq (cmd, "MODEL") && zmsg_size (req) == 1) {
        zframe_t *vf = zmsg_pop (req);
        if (zframe_size (vf) == 8) {
            engine_model_changed (e, be64_get (zframe_data (vf)));
            zmsg_addstr (reply, "OK");
        }
        else
            zmsg_addstr (reply, "ERROR bad version");
        zframe_destroy (&vf);
    }
    else
        zmsg_addstr (reply, "ERROR unknown request");
    zmsg_send (&reply, e->ctl);
    zstr_free (&cmd);
    zmsg_destroy (&req);
}

/*  Stops reading workers while too many label jobs wait for the writer:
    the credits then stop new results at the source.  */
static void
s_update_backpressure (engine_t *e)
{
    bool full = zlistx_size (e->waiting) >= CLUSTER_MAX_WAITING;
    if (full && !e->router_paused) {
        zpoller_remove (e->poller, e->router);
        e->router_paused = true;
        log_warn (CLUSTER_LOG, "store writer is behind: pausing worker messages");
    }
    else if (!full && e->router_paused) {
        zpoller_add (e->poller, e->router);
        e->router_paused = false;
    }
}

static bool
s_readable (zsock_t *sock)
{
    return sock && (zsock_events (sock) & ZMQ_POLLIN);
}

/*  Serves every socket that has input, a bounded number of messages each,
    so a busy worker socket cannot starve the writer's answers or control
    requests (zpoller only reports the first readable socket).  */
static void
s_service (engine_t *e)
{
    zsock_t *answers = store_client_socket (e->client);
    for (int i = 0; i < 256 && s_readable (answers); i++)
        engine_on_writer_answer (e);
    while (s_readable (e->events)) {
        zmsg_t *ev = zmsg_recv (e->events);     /* a wake-up only: dispatch reads the store */
        zmsg_destroy (&ev);
    }
    for (int i = 0; i < 16 && s_readable (e->ctl); i++)
        s_on_ctl (e);
    for (int i = 0; i < 64 && !e->router_paused && s_readable (e->router); i++) {
        s_on_worker_message (e);
        s_update_backpressure (e);
    }
}

static void
s_actor (zsock_t *pipe, void *argp)
{
    char err[600] = "";
    engine_t *e = s_engine_new (pipe, argp, err, sizeof err);
    zsock_signal (pipe, 0);
    if (!e) {
        zstr_sendf (pipe, "ERROR %s", err);
        char *term = zstr_recv (pipe);     /* wait for zactor_destroy */
        zstr_free (&term);
        return;
    }
    /*  argp lives on cluster_new's stack: not to be touched after "OK".  */
    log_info (CLUSTER_LOG, "listening for workers on %s", ((actor_args_t *) argp)->config->bind);
    zstr_send (pipe, "OK");
    bool running = true;
    while (running) {
        void *which = zpoller_wait (e->poller, CLUSTER_TICK_MS);
        if (which == pipe) {
            char *cmd = zstr_recv (pipe);
            running = !(cmd && streq (cmd, "$TERM"));
            zstr_free (&cmd);
            continue;
        }
        s_service (e);
        s_update_backpressure (e);
        engine_heartbeat_tick (e);
        engine_rate_tick (e);
        engine_learning_tick (e);
        engine_expire_batches (e);
        engine_dispatch (e);
    }
    s_drain_writer (e);
    log_info (CLUSTER_LOG, "stopped");
    s_engine_destroy (&e);
}

/* ---- public API ------------------------------------------------------- */

cluster_t *
cluster_new (const cluster_config_t *config, char *err, size_t errlen)
{
    if (!config || !config->bind || !config->manifest_text || !config->store || !config->writer) {
        err_set (err, errlen, "cluster: incomplete configuration");
        return NULL;
    }
    cluster_t *self = calloc (1, sizeof *self);
    inproc_endpoint (self->ctl_endpoint, sizeof self->ctl_endpoint, "cluster-ctl");
    actor_args_t args = { config, self->ctl_endpoint };
    self->actor = zactor_new (s_actor, &args);
    char *status = self->actor ? zstr_recv (self->actor) : NULL;
    if (!status || !streq (status, "OK")) {
        err_set (err, errlen, "%s",
                 status && strlen (status) > 6 ? status + 6 : "cluster: actor did not start");
        zstr_free (&status);
        zactor_destroy (&self->actor);
        free (self);
        return NULL;
    }
    zstr_free (&status);
    return self;
}

void
cluster_destroy (cluster_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zactor_destroy (&(*self_p)->actor);
    free (*self_p);
    *self_p = NULL;
}

cluster_client_t *
cluster_client_new (cluster_t *cluster)
{
    cluster_client_t *self = calloc (1, sizeof *self);
    self->dealer = zsock_new_dealer (cluster->ctl_endpoint);
    if (!self->dealer) {
        free (self);
        return NULL;
    }
    return self;
}

void
cluster_client_destroy (cluster_client_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zsock_destroy (&(*self_p)->dealer);
    free (*self_p);
    *self_p = NULL;
}

/*  Waits for the reply to request seq, skipping late replies to requests
    that timed out earlier. Returns the body frame or NULL.  */
static zframe_t *
s_client_wait (cluster_client_t *self, uint64_t seq, int timeout_ms)
{
    int64_t deadline = time_mono_us () + (int64_t) timeout_ms * 1000;
    zpoller_t *poller = zpoller_new (self->dealer, NULL);
    zframe_t *body = NULL;
    while (!body) {
        int64_t left = (deadline - time_mono_us ()) / 1000;
        if (left <= 0 || !zpoller_wait (poller, (int) left))
            break;
        zmsg_t *m = zmsg_recv (self->dealer);
        zframe_t *sf = m ? zmsg_pop (m) : NULL;
        if (sf && zframe_size (sf) == 8 && be64_get (zframe_data (sf)) == seq)
            body = zmsg_pop (m);
        zframe_destroy (&sf);
        zmsg_destroy (&m);
    }
    zpoller_destroy (&poller);
    return body;
}

static zframe_t *
s_client_call (cluster_client_t *self, zmsg_t **req_p, int timeout_ms)
{
    uint8_t seq[8];
    uint64_t n = ++self->seq;
    be64_put (seq, n);
    zmsg_pushmem (*req_p, seq, 8);
    if (zmsg_send (req_p, self->dealer) != 0) {
        zmsg_destroy (req_p);
        return NULL;
    }
    return s_client_wait (self, n, timeout_ms);
}

Annotate__V1__ClusterStatusResponse *
cluster_client_status (cluster_client_t *self, int timeout_ms)
{
    zmsg_t *req = zmsg_new ();
    zmsg_addstr (req, "STATUS");
    zframe_t *body = s_client_call (self, &req, timeout_ms);
    if (!body)
        return NULL;
    Annotate__V1__ClusterStatusResponse *st = annotate__v1__cluster_status_response__unpack (
        NULL, zframe_size (body), zframe_data (body));
    zframe_destroy (&body);
    return st;
}

int
cluster_client_apply (cluster_client_t *self, const char *manifest_text, size_t len,
                      uint64_t version, char *err, size_t errlen)
{
    uint8_t vbuf[8];
    be64_put (vbuf, version);
    zmsg_t *req = zmsg_new ();
    zmsg_addstr (req, "MANIFEST");
    zmsg_addmem (req, vbuf, 8);
    zmsg_addmem (req, manifest_text, len);
    zframe_t *body = s_client_call (self, &req, APPLY_TIMEOUT_MS);
    if (!body)
        return err_set (err, errlen, "cluster: no answer to the manifest update");
    int rc = 0;
    if (!zframe_streq (body, "OK")) {
        char *text = zframe_strdup (body);
        rc = err_set (err, errlen, "%s", strncmp (text, "ERROR ", 6) == 0 ? text + 6 : text);
        free (text);
    }
    zframe_destroy (&body);
    return rc;
}

/*  Sends a request whose answer is "OK..." or "ERROR message".  */
static int
s_client_simple (cluster_client_t *self, zmsg_t **req, int timeout_ms, char *out, size_t outlen,
                 char *err, size_t errlen)
{
    zframe_t *body = s_client_call (self, req, timeout_ms);
    if (!body)
        return err_set (err, errlen, "cluster actor did not answer");
    char *text = zframe_strdup (body);
    zframe_destroy (&body);
    int rc = 0;
    if (strncmp (text, "OK", 2) == 0) {
        if (out)
            str_copy (out, outlen, text[2] == ' ' ? text + 3 : "");
    }
    else
        rc = err_set (err, errlen, "%s", strncmp (text, "ERROR ", 6) == 0 ? text + 6 : text);
    free (text);
    return rc;
}

/*  RETRAIN and PROPAGATE: "OK <order> <actor> <worker>".  */
static int
s_client_order (cluster_client_t *self, const char *cmd, const char *reason, uint64_t *order,
                char *actor, size_t actor_len, char *worker, size_t worker_len, char *err,
                size_t errlen)
{
    zmsg_t *req = zmsg_new ();
    zmsg_addstr (req, cmd);
    zmsg_addstr (req, reason && *reason ? reason : "manual");
    char out[512];
    if (s_client_simple (self, &req, 5000, out, sizeof out, err, errlen) != 0)
        return -1;
    char a[256] = "", w[256] = "";
    unsigned long long o = 0;
    sscanf (out, "%llu %255s %255s", &o, a, w);
    *order = o;
    str_copy (actor, actor_len, a);
    str_copy (worker, worker_len, w);
    return 0;
}

int
cluster_client_retrain (cluster_client_t *self, const char *reason, uint64_t *order,
                        char *actor, size_t actor_len, char *worker, size_t worker_len,
                        char *err, size_t errlen)
{
    return s_client_order (self, "RETRAIN", reason, order, actor, actor_len, worker, worker_len,
                           err, errlen);
}

int
cluster_client_propagate (cluster_client_t *self, const char *reason, uint64_t *order,
                          char *actor, size_t actor_len, char *worker, size_t worker_len,
                          char *err, size_t errlen)
{
    return s_client_order (self, "PROPAGATE", reason, order, actor, actor_len, worker,
                           worker_len, err, errlen);
}

int
cluster_client_correction (cluster_client_t *self, const char *id, const char *label)
{
    zmsg_t *req = zmsg_new ();
    zmsg_addstr (req, "CORRECTION");
    zmsg_addstr (req, id);
    zmsg_addstr (req, label);
    return s_client_simple (self, &req, 2000, NULL, 0, NULL, 0);
}

int
cluster_client_model_changed (cluster_client_t *self, uint64_t version)
{
    uint8_t vb[8];
    be64_put (vb, version);
    zmsg_t *req = zmsg_new ();
    zmsg_addstr (req, "MODEL");
    zmsg_addmem (req, vb, 8);
    return s_client_simple (self, &req, 5000, NULL, 0, NULL, 0);
}
