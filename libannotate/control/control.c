/*  control.c: the gRPC server's life: bind, threads, dispatch, shutdown.

    The C core has no generated service stubs in C, so calls are taken with
    grpc_server_request_call and dispatched on the method path. Unknown
    methods get UNIMPLEMENTED. WatchLabels is a registered method so its
    long-lived streams land only on the watch threads.

    Shutdown order (anything else aborts or hangs in 1.51): shutdown and
    notify, cancel every call, wait for the notification, join threads,
    destroy the server, then shut down and drain every queue.
*/
#include "control/control_internal.h"

#include <stdlib.h>
#include <string.h>

#include <grpc/grpc_security.h>

#include "util/util.h"

#define SVC "/annotate.v1.Annotate/"

typedef struct {
    control_t *ctl;
    size_t index;
    bool watch;
} thread_arg_t;

static const struct {
    const char *method;
    void (*fn) (handler_ctx_t *);
} s_methods[] = {
    { SVC "Ingest", handle_ingest },
    { SVC "IngestStream", handle_ingest_stream },
    { SVC "GetItem", handle_get_item },
    { SVC "ListItems", handle_list_items },
    { SVC "ClusterStatus", handle_cluster_status },
    { SVC "ApplyManifest", handle_apply_manifest },
    { SVC "SubmitLabel", handle_submit_label },
    { SVC "Retrain", handle_retrain },
    { SVC "ListModels", handle_list_models },
    { SVC "Rollback", handle_rollback },
    { SVC "NextReview", handle_next_review },
    { SVC "SubmitReview", handle_submit_review },
    { SVC "Stats", handle_stats },
    { SVC "Propagate", handle_propagate },
    { "/grpc.health.v1.Health/Check", handle_health },
};

grpc_status_code
control_store_code (store_status_t status)
{
    switch (status) {
    case STORE_OK:
        return GRPC_STATUS_OK;
    case STORE_INVALID:
        return GRPC_STATUS_INVALID_ARGUMENT;
    case STORE_CONFLICT:
        return GRPC_STATUS_ALREADY_EXISTS;
    case STORE_FULL:
    case STORE_OVERLOADED:
        return GRPC_STATUS_RESOURCE_EXHAUSTED;
    case STORE_NOT_FOUND:
        return GRPC_STATUS_NOT_FOUND;
    case STORE_IO:
        break;
    }
    return GRPC_STATUS_INTERNAL;
}

static void
dispatch (handler_ctx_t *h, const grpc_slice *method)
{
    size_t len = GRPC_SLICE_LENGTH (*method);
    const char *m = (const char *) GRPC_SLICE_START_PTR (*method);
    for (size_t i = 0; i < sizeof s_methods / sizeof s_methods[0]; i++)
        if (strlen (s_methods[i].method) == len && memcmp (s_methods[i].method, m, len) == 0) {
            s_methods[i].fn (h);
            return;
        }
    char name[160];
    snprintf (name, sizeof name, "%.*s", (int) (len < 128 ? len : 128), m);
    for (char *p = name; *p; p++)
        if ((unsigned char) *p < 0x20 || (unsigned char) *p >= 0x7f)
            *p = '?';
    call_fail (&h->call, GRPC_STATUS_UNIMPLEMENTED, "method %s is not served here", name);
}

/*  Takes one call on this thread's queue and runs it; false at shutdown. */
static bool
serve_one (control_t *ctl, handler_ctx_t *h, grpc_completion_queue *cq, bool watch)
{
    grpc_call *call = NULL;
    grpc_call_details details;
    grpc_metadata_array md;
    gpr_timespec deadline;
    grpc_byte_buffer *payload = NULL;
    grpc_call_details_init (&details);
    grpc_metadata_array_init (&md);
    int tag;
    grpc_call_error e;
    if (watch)
        e = grpc_server_request_registered_call (ctl->server, ctl->watch_method, &call, &deadline,
                                                 &md, &payload, cq, cq, &tag);
    else
        e = grpc_server_request_call (ctl->server, &call, &details, &md, cq, cq, &tag);
    bool ok = false;
    if (e == GRPC_CALL_OK) {
        h->call = (call_t) { .cq = cq, .call = NULL, .max_message_bytes = ctl->cfg.max_message_bytes };
        ok = call_wait (&h->call, &tag);
    }
    if (ok && call) {
        h->call.call = call;
        h->metadata = &md;
        if (watch)
            handle_watch (h, payload);
        else
            dispatch (h, &details.method);
    }
    if (payload)
        grpc_byte_buffer_destroy (payload);
    if (call)
        grpc_call_unref (call);
    grpc_call_details_destroy (&details);
    grpc_metadata_array_destroy (&md);
    return ok;
}

static void *
thread_main (void *arg)
{
    thread_arg_t *a = arg;
    control_t *ctl = a->ctl;
    handler_ctx_t h = { .ctl = ctl };
    h.store = store_client_new (ctl->cfg.writer);
    h.cluster = ctl->cfg.cluster ? cluster_client_new (ctl->cfg.cluster) : NULL;
    while (serve_one (ctl, &h, ctl->cqs[a->index], a->watch))
        ;
    store_client_destroy (&h.store);
    cluster_client_destroy (&h.cluster);
    free (a);
    return NULL;
}

static grpc_server *
create_server (const control_config_t *cfg)
{
    grpc_arg args[3];
    memset (args, 0, sizeof args);
    /* a taken port must fail loudly, not silently share connections */
    args[0].type = GRPC_ARG_INTEGER;
    args[0].key = GRPC_ARG_ALLOW_REUSEPORT;
    args[0].value.integer = 0;
    args[1].type = GRPC_ARG_INTEGER;
    args[1].key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
    args[1].value.integer = (int) cfg->max_message_bytes;
    args[2].type = GRPC_ARG_INTEGER;
    args[2].key = GRPC_ARG_MAX_SEND_MESSAGE_LENGTH;
    args[2].value.integer = (int) cfg->max_message_bytes;
    grpc_channel_args cargs = { 3, args };
    return grpc_server_create (&cargs, NULL);
}

static bool
adopt_manifest (control_t *self, const char *text, size_t len, char *err, size_t errlen)
{
    manifest_t *m = manifest_parse (text, len, "<current>", err, errlen);
    if (!m)
        return false;
    self->manifest = m;
    self->manifest_text = malloc (len + 1);
    memcpy (self->manifest_text, text, len);
    self->manifest_text[len] = 0;
    self->manifest_len = len;
    item_limits_default (&self->limits);
    self->limits.max_text_bytes = m->max_text_bytes;
    self->limits.max_meta_bytes = m->max_meta_bytes;
    review_config_t rc;
    review_config_from_manifest (m, &rc);
    review_configure (self->review, &rc);
    return true;
}

control_t *
control_new (const control_config_t *config, char *err, size_t errlen)
{
    control_t *self = calloc (1, sizeof *self);
    self->cfg = *config;
    self->cfg.manifest_text = NULL;
    self->manifest_version = config->manifest_version;
    self->started_ms = time_now_ms ();
    pthread_mutex_init (&self->lock, NULL);
    self->review = review_new (config->store);
    if (!self->review) {
        err_set (err, errlen, "out of memory");
        control_destroy (&self);
        return NULL;
    }
    if (!adopt_manifest (self, config->manifest_text, config->manifest_len, err, errlen)) {
        control_destroy (&self);
        return NULL;
    }
    grpc_init ();
    self->server = create_server (config);
    self->watch_method = grpc_server_register_method (
        self->server, SVC "WatchLabels", NULL, GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 0);
    self->n_threads = config->threads + config->max_watchers;
    self->cqs = calloc (self->n_threads + 1, sizeof *self->cqs);
    for (size_t i = 0; i <= self->n_threads; i++) {
        self->cqs[i] = grpc_completion_queue_create_for_next (NULL);
        grpc_server_register_completion_queue (self->server, self->cqs[i], NULL);
    }
    grpc_server_credentials *creds = grpc_insecure_server_credentials_create ();
    self->port = grpc_server_add_http2_port (self->server, config->listen, creds);
    grpc_server_credentials_release (creds);
    if (self->port <= 0) {
        err_set (err, errlen, "control: cannot listen on %s (address in use or invalid)",
                 config->listen);
        control_destroy (&self);
        return NULL;
    }
    grpc_server_start (self->server);
    self->started = true;
    self->tids = calloc (self->n_threads, sizeof *self->tids);
    for (size_t i = 0; i < self->n_threads; i++) {
        thread_arg_t *a = malloc (sizeof *a);
        *a = (thread_arg_t) { self, i, i >= config->threads };
        pthread_create (&self->tids[i], NULL, thread_main, a);
    }
    log_info ("control", "gRPC control plane on %s (%u request threads, %u watch slots)",
              config->listen, config->threads, config->max_watchers);
    return self;
}

int
control_port (control_t *self)
{
    return self->port;
}

static void
drain_and_destroy (grpc_completion_queue *cq)
{
    grpc_completion_queue_shutdown (cq);
    while (grpc_completion_queue_next (cq, gpr_inf_future (GPR_CLOCK_REALTIME), NULL).type
           != GRPC_QUEUE_SHUTDOWN)
        ;
    grpc_completion_queue_destroy (cq);
}

void
control_destroy (control_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    control_t *self = *self_p;
    if (self->server && !self->started) {
        grpc_server_destroy (self->server);
        for (size_t i = 0; i <= self->n_threads; i++)
            drain_and_destroy (self->cqs[i]);
        grpc_shutdown ();
    }
    else if (self->server) {
        grpc_completion_queue *scq = self->cqs[self->n_threads];
        int tag;
        grpc_server_shutdown_and_notify (self->server, scq, &tag);
        grpc_server_cancel_all_calls (self->server);
        for (;;) {
            grpc_event ev = grpc_completion_queue_next (scq, gpr_inf_future (GPR_CLOCK_REALTIME), NULL);
            if (ev.type != GRPC_OP_COMPLETE || ev.tag == &tag)
                break;
        }
        for (size_t i = 0; self->tids && i < self->n_threads; i++)
            pthread_join (self->tids[i], NULL);
        grpc_server_destroy (self->server);
        for (size_t i = 0; i <= self->n_threads; i++)
            drain_and_destroy (self->cqs[i]);
        grpc_shutdown ();
    }
    free (self->cqs);
    free (self->tids);
    manifest_destroy (&self->manifest);
    free (self->manifest_text);
    review_destroy (&self->review);
    pthread_mutex_destroy (&self->lock);
    free (self);
    *self_p = NULL;
}
