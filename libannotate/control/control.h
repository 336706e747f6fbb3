/*  control.h: the coordinator's gRPC control plane (annotate.v1.Annotate
    and grpc.health.v1.Health), on the gRPC C core.

    Threads: `threads` request threads, each with its own completion queue,
    take any unary or client-streaming call and run it to the end; and
    `max_watchers` watch threads take WatchLabels streams (a registered
    method, so a slow watcher never holds up ingest). Reads go straight to
    LMDB read transactions; writes go to the store writer, cluster questions
    to the cluster actor, each through a per-thread client.
*/
#ifndef ANNOTATE_CONTROL_H
#define ANNOTATE_CONTROL_H

#include <stddef.h>
#include <stdint.h>

#include "cluster/cluster.h"
#include "items/item.h"
#include "manifest/manifest.h"
#include "store/store.h"
#include "store/store_writer.h"

typedef struct {
    const char *listen;             /* host:port */
    store_t *store;
    store_writer_t *writer;
    cluster_t *cluster;
    const char *manifest_text;      /* the manifest in force (copied) */
    size_t manifest_len;
    uint64_t manifest_version;
    uint32_t threads;
    uint32_t max_watchers;
    size_t max_message_bytes;
    uint32_t ingest_wait_ms;        /* how long a stream waits for room when the queue is full */
} control_config_t;

typedef struct control control_t;

/*  The store policy a manifest implies (taxonomy, vector_dim, max_pending). */
store_policy_t *control_policy_new (const manifest_t *m);

/*  Starts the server; NULL with err set when the address cannot be bound. */
control_t *control_new (const control_config_t *config, char *err, size_t errlen);

/*  The port actually bound (useful with port 0).  */
int control_port (control_t *self);

/*  Stops accepting calls, cancels those in flight, joins the threads.  */
void control_destroy (control_t **self_p);

#endif
