/*  agent.c: the worker runtime's connection to the coordinator.

    States: unregistered (REGISTER sent, waiting for WELCOME) and registered.
    Any message from the coordinator counts as liveness. Silence for
    liveness * heartbeat_ms means the coordinator is gone or restarted: the
    DEALER is recreated (dropping whatever was queued for the dead peer)
    and the agent registers again. RECONNECT (the coordinator does not know
    us, e.g. after its restart) re-registers on the same socket.

    Actors keep running across re-registrations, so results of batches
    dispatched before a coordinator restart are still delivered; the
    store's ticket check makes them harmless if they are stale.
*/
#include "agent/agent_internal.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "util/util.h"

#define TICK_MS        50
#define LINGER_MS      500

static char *
s_hostname (void)
{
    char host[256] = "";
    if (gethostname (host, sizeof host - 1) != 0 || !utf8_valid (host, strlen (host)))
        str_copy (host, sizeof host, "unknown");
    return strdup (host);
}

static bool
s_check_config (const agent_config_t *c)
{
    size_t nlen = c->name ? strlen (c->name) : 0;
    if (nlen == 0 || nlen > MANIFEST_MAX_NAME || !utf8_valid (c->name, nlen)) {
        log_error (AGENT_LOG, "worker name must be 1..128 bytes of UTF-8");
        return false;
    }
    if (c->capacity > 1024) {
        log_error (AGENT_LOG, "capacity must be 1..1024");
        return false;
    }
    if (c->n_tags > AGENT_MAX_TAGS) {
        log_error (AGENT_LOG, "at most %d tags", AGENT_MAX_TAGS);
        return false;
    }
    for (size_t i = 0; i < c->n_tags; i++) {
        size_t tl = strlen (c->tags[i]);
        const char *eq = strchr (c->tags[i], '=');
        if (!eq || eq == c->tags[i] || tl > 256 || !utf8_valid (c->tags[i], tl)) {
            log_error (AGENT_LOG, "tag '%.64s' must be key=value (UTF-8, at most 256 bytes)",
                       c->tags[i]);
            return false;
        }
    }
    return true;
}

agent_t *
agent_new (const agent_config_t *c)
{
    if (!c || !s_check_config (c))
        return NULL;
    agent_t *self = calloc (1, sizeof *self);
    self->endpoint = strdup (c->coordinator ? c->coordinator : AGENT_DEFAULT_ENDPOINT);
    self->name = strdup (c->name);
    self->host = s_hostname ();
    self->capacity = c->capacity ? c->capacity : 4;
    self->n_tags = c->n_tags;
    self->tags = c->n_tags ? calloc (c->n_tags, sizeof (char *)) : NULL;
    for (size_t i = 0; i < c->n_tags; i++)
        self->tags[i] = strdup (c->tags[i]);
    self->max_message_bytes = c->max_message_bytes ? c->max_message_bytes : (16u << 20);
    self->heartbeat_ms = c->heartbeat_ms ? c->heartbeat_ms : 1000;
    self->liveness = c->liveness ? c->liveness : 3;
    self->protocol = c->protocol_version ? c->protocol_version : WIRE_VERSION;
    self->exit_code = -1;
    atomic_init (&self->stop, false);
    return self;
}

void
agent_destroy (agent_t **self_p)
{
    agent_t *self = self_p ? *self_p : NULL;
    if (!self)
        return;
    agent_stop_actors (self);
    zpoller_destroy (&self->poller);
    zsock_destroy (&self->dealer);
    free (self->endpoint);
    free (self->name);
    free (self->host);
    for (size_t i = 0; i < self->n_tags; i++)
        free (self->tags[i]);
    free (self->tags);
    free (self->cluster);
    free (self->actors);
    free (self->assign);
    if (self->assigned)
        annotate__v1__assign__free_unpacked (self->assigned, NULL);
    agent_learning_destroy (self);
    free (self);
    *self_p = NULL;
}

void
agent_stop (agent_t *self)
{
    atomic_store (&self->stop, true);
}

/* ---- the connection --------------------------------------------------- */

static void
s_send (agent_t *self, Annotate__V1__MsgType type, const ProtobufCMessage *body)
{
    if (wire_send_version (self->dealer, NULL, self->protocol, type, 0, body) != 0)
        log_warn (AGENT_LOG, "cannot send %s: %s", wire_type_name (type), zmq_strerror (errno));
}

static void
s_register (agent_t *self)
{
    Annotate__V1__Register r = ANNOTATE__V1__REGISTER__INIT;
    r.name = self->name;
    r.capacity = self->capacity;
    r.protocol = self->protocol;
    r.host = self->host;
    r.pid = (uint32_t) getpid ();
    r.tags = self->tags;
    r.n_tags = self->n_tags;
    self->registered = false;
    self->register_sent_us = time_mono_us ();
    s_send (self, ANNOTATE__V1__MSG_TYPE__MSG_REGISTER, &r.base);
}

/*  A fresh DEALER: a new routing id, and nothing queued for an old peer.  */
static int
s_connect (agent_t *self)
{
    if (self->dealer) {
        zpoller_remove (self->poller, self->dealer);
        zsock_set_linger (self->dealer, 0);
        zsock_destroy (&self->dealer);
    }
    self->dealer = zsock_new (ZMQ_DEALER);
    if (!self->dealer)
        return -1;
    zsock_set_maxmsgsize (self->dealer, (int64_t) self->max_message_bytes + 1024);
    zsock_set_sndhwm (self->dealer, 4096);
    zsock_set_linger (self->dealer, LINGER_MS);
    if (zsock_connect (self->dealer, "%s", self->endpoint) != 0) {
        log_error (AGENT_LOG, "cannot connect to %s: %s", self->endpoint,
                   zmq_strerror (zmq_errno ()));
        zsock_destroy (&self->dealer);
        return -1;
    }
    zpoller_add (self->poller, self->dealer);
    self->last_recv_us = time_mono_us ();
    s_register (self);
    return 0;
}

static void
s_on_welcome (agent_t *self, const Annotate__V1__Welcome *w)
{
    size_t clen = strlen (w->cluster);
    free (self->cluster);
    self->cluster = strdup (clen && clen <= MANIFEST_MAX_NAME && utf8_valid (w->cluster, clen)
                                ? w->cluster
                                : "?");
    /*  Clamp what we are told: a bad value must not make us spin or sleep. */
    if (w->heartbeat_ms >= 10 && w->heartbeat_ms <= 600000)
        self->heartbeat_ms = w->heartbeat_ms;
    if (w->liveness >= 2 && w->liveness <= 100)
        self->liveness = w->liveness;
    self->max_batch = w->max_batch <= 65536 ? w->max_batch : 65536;
    self->registered = true;
    self->next_heartbeat_us = 0;
    log_info (AGENT_LOG, "worker %s registered with %s", self->name, self->cluster);
}

static void
s_on_message (agent_t *self)
{
    wire_msg_t m;
    char err[256];
    int rc = wire_recv (self->dealer, false, self->max_message_bytes, &m, err, sizeof err);
    if (rc == WIRE_ENOMSG)
        return;
    self->last_recv_us = time_mono_us ();
    /*  A REJECT is read even in another protocol version: it is how a
        coordinator tells an old worker why it will get no work.  */
    if ((rc == WIRE_OK || rc == WIRE_EVERSION) && m.type == ANNOTATE__V1__MSG_TYPE__MSG_REJECT) {
        Annotate__V1__Reject *rej = (Annotate__V1__Reject *) m.body;
        const char *reason = rej ? rej->reason : "(no reason)";
        size_t rlen = strnlen (reason, 1024);
        log_error (AGENT_LOG, "coordinator rejected worker %s: %.*s", self->name, (int) rlen,
                   utf8_valid (reason, rlen) ? reason : "(unreadable reason)");
        self->exit_code = 1;
    }
    else if (rc != WIRE_OK)
        log_warn (AGENT_LOG, "dropped a message from the coordinator: %s", err);
    else
        switch (m.type) {
        case ANNOTATE__V1__MSG_TYPE__MSG_WELCOME:
            s_on_welcome (self, (Annotate__V1__Welcome *) m.body);
            break;
        case ANNOTATE__V1__MSG_TYPE__MSG_ASSIGN:
            agent_on_assign (self, (Annotate__V1__Assign *) m.body);
            break;
        case ANNOTATE__V1__MSG_TYPE__MSG_BATCH:
            agent_on_batch (self, m.correlation, (Annotate__V1__Batch *) m.body);
            break;
        case ANNOTATE__V1__MSG_TYPE__MSG_MODEL:
            agent_on_model_chunk (self, (Annotate__V1__ModelChunk *) m.body);
            break;
        case ANNOTATE__V1__MSG_TYPE__MSG_CORRECTION:
            agent_on_corrections (self, (Annotate__V1__Corrections *) m.body);
            break;
        case ANNOTATE__V1__MSG_TYPE__MSG_RETRAIN:
            agent_on_retrain (self, (Annotate__V1__RetrainOrder *) m.body);
            break;
        case ANNOTATE__V1__MSG_TYPE__MSG_TRAIN_DATA:
            agent_on_train_data (self, (Annotate__V1__TrainData *) m.body);
            break;
        case ANNOTATE__V1__MSG_TYPE__MSG_HEARTBEAT:
            break;
        case ANNOTATE__V1__MSG_TYPE__MSG_RECONNECT:
            /*  Several may come for messages sent before we re-registered:
                one REGISTER per heartbeat interval is enough.  */
            if (time_mono_us () - self->register_sent_us > (int64_t) self->heartbeat_ms * 1000) {
                log_info (AGENT_LOG, "coordinator does not know us: registering again");
                s_register (self);
            }
            break;
        default:
            log_warn (AGENT_LOG, "unexpected %s from the coordinator", wire_type_name (m.type));
            break;
        }
    wire_msg_reset (&m);
}

static void
s_tick (agent_t *self)
{
    int64_t now = time_mono_us ();
    int64_t silence_us = (int64_t) self->liveness * self->heartbeat_ms * 1000;
    int64_t since = self->registered ? self->last_recv_us : self->register_sent_us;
    if (now - since > silence_us) {
        log_warn (AGENT_LOG, "coordinator at %s silent for %lld ms: reconnecting", self->endpoint,
                  (long long) ((now - since) / 1000));
        if (s_connect (self) != 0)
            self->exit_code = 1;
        return;
    }
    if (self->registered && now >= self->next_heartbeat_us) {
        self->next_heartbeat_us = now + (int64_t) self->heartbeat_ms * 1000;
        Annotate__V1__Heartbeat hb = ANNOTATE__V1__HEARTBEAT__INIT;
        hb.in_flight = agent_in_flight (self);
        s_send (self, ANNOTATE__V1__MSG_TYPE__MSG_HEARTBEAT, &hb.base);
    }
}

int
agent_run (agent_t *self)
{
    self->poller = zpoller_new (NULL);
    self->exit_code = -1;
    if (s_connect (self) != 0)
        return 1;
    log_info (AGENT_LOG, "worker %s connecting to %s (capacity %u)", self->name, self->endpoint,
              self->capacity);
    while (self->exit_code < 0 && !zsys_interrupted && !atomic_load (&self->stop)) {
        /*  zpoller reports one socket: serve all that are readable so busy
            actors cannot starve the coordinator's messages or the reverse. */
        zpoller_wait (self->poller, TICK_MS);
        for (int i = 0; i < 64 && self->exit_code < 0 && self->dealer
                        && (zsock_events (self->dealer) & ZMQ_POLLIN);
             i++)
            s_on_message (self);
        agent_service_actors (self);
        if (self->exit_code < 0)
            s_tick (self);
    }
    if (self->exit_code < 0) {
        self->exit_code = 0;
        if (self->registered)
            s_send (self, ANNOTATE__V1__MSG_TYPE__MSG_GOODBYE, NULL);
        log_info (AGENT_LOG, "worker %s leaving", self->name);
    }
    agent_stop_actors (self);
    zpoller_destroy (&self->poller);
    /*  Linger only to get a GOODBYE out: a REGISTER still queued for an
        absent coordinator must not reach it after we are gone.  */
    if (self->exit_code != 0 || !self->registered)
        zsock_set_linger (self->dealer, 0);
    zsock_destroy (&self->dealer);
    return self->exit_code;
}
