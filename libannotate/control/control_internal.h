/*  control_internal.h: state shared by the control plane's files. The
    per-thread context holds the only sockets a handler may use.
*/
#ifndef ANNOTATE_CONTROL_INTERNAL_H
#define ANNOTATE_CONTROL_INTERNAL_H

#include <pthread.h>

#include "control/call.h"
#include "control/control.h"
#include "manifest/manifest.h"
#include "review/review.h"

struct control {
    control_config_t cfg;
    grpc_server *server;
    void *watch_method;
    grpc_completion_queue **cqs;    /* threads + max_watchers + 1 (shutdown) */
    pthread_t *tids;
    size_t n_threads;
    int port;
    bool started;
    int64_t started_ms;
    item_limits_t limits;
    /* the manifest in force; ApplyManifest replaces it */
    pthread_mutex_t lock;
    char *manifest_text;
    size_t manifest_len;
    uint64_t manifest_version;
    manifest_t *manifest;
    review_t *review;           /* review leases (review.h), thread-safe */
};

typedef struct {
    control_t *ctl;
    call_t call;
    store_client_t *store;
    cluster_client_t *cluster;
    grpc_metadata_array *metadata;
} handler_ctx_t;

void handle_ingest (handler_ctx_t *h);
void handle_ingest_stream (handler_ctx_t *h);
void handle_get_item (handler_ctx_t *h);
void handle_list_items (handler_ctx_t *h);
void handle_cluster_status (handler_ctx_t *h);
void handle_apply_manifest (handler_ctx_t *h);
void handle_health (handler_ctx_t *h);
void handle_watch (handler_ctx_t *h, grpc_byte_buffer *payload);
void handle_submit_label (handler_ctx_t *h);
void handle_retrain (handler_ctx_t *h);
void handle_list_models (handler_ctx_t *h);
void handle_rollback (handler_ctx_t *h);
void handle_next_review (handler_ctx_t *h);
void handle_submit_review (handler_ctx_t *h);
void handle_stats (handler_ctx_t *h);
void handle_propagate (handler_ctx_t *h);

/*  A string field: at most max bytes (1..max when required) of valid
    UTF-8; else the call is failed with INVALID_ARGUMENT naming field.  */
bool control_check_text (handler_ctx_t *h, const char *s, size_t max, bool required,
                         const char *field);
#define MAX_ANNOTATOR_BYTES 128

/*  The gRPC code for a store status.  */
grpc_status_code control_store_code (store_status_t status);

#endif
