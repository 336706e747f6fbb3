/*  cluster.h: the coordinator's cluster actor.

    Owns the ROUTER socket workers connect to. It registers workers (checking
    the protocol version), exchanges heartbeats, declares silent workers dead,
    places the manifest's actors on workers by name (MSG_ASSIGN), and feeds
    annotation actors: it reads pending items from the store in ticket order,
    packs them into batches of manifest.batch_size and hands each to a worker
    holding a credit (a worker holds at most `capacity` batches). Results go
    to the store writer asynchronously; batches held by a dead worker are
    dispatched again. Nothing is queued without bound: the store's `pending`
    database is the queue, and the actor only keeps the batches in flight.

    It learns of new items from the writer's commit events and from a timer,
    so a missed event only delays dispatch, never loses an item.

    Other threads talk to it through a cluster_client_t (one per thread):
      STATUS            -> a packed ClusterStatusResponse with workers,
                           actors, in_flight, redelivered and rates filled in
      MANIFEST <yaml>   -> "OK" or "ERROR <message>"; adopts the manifest's
                           placement, batch size, heartbeat settings and
                           taxonomy, and re-assigns actors on workers
      RETRAIN <reason>  -> "OK <order> <actor> <worker>" or "ERROR <message>"
      PROPAGATE <reason> -> the same, for a label propagation order
      CORRECTION <id> <label> -> "OK" (online update broadcast)
      MODEL <version>   -> "OK" (a new current version: distribute it)
*/
#ifndef ANNOTATE_CLUSTER_H
#define ANNOTATE_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#include "annotate/v1/annotate.pb-c.h"
#include "store/store.h"
#include "store/store_writer.h"

typedef struct {
    const char *bind;               /* ZeroMQ endpoint, e.g. "tcp://127.0.0.1:7401" */
    const char *manifest_text;      /* current manifest (the actor parses its own copy) */
    size_t manifest_len;
    uint64_t manifest_version;
    store_t *store;                 /* for read transactions on `pending` and `items` */
    store_writer_t *writer;         /* the actor makes its own store_client_t */
    size_t max_message_bytes;       /* frames larger than this are dropped and logged */
} cluster_config_t;

typedef struct cluster cluster_t;
typedef struct cluster_client cluster_client_t;

/*  Starts the actor; NULL with err set when the endpoint cannot be bound
    (e.g. the port is taken) or the manifest does not parse.  */
cluster_t *cluster_new (const cluster_config_t *config, char *err, size_t errlen);
void cluster_destroy (cluster_t **self_p);

cluster_client_t *cluster_client_new (cluster_t *cluster);
void cluster_client_destroy (cluster_client_t **self_p);

/*  Returns a status to be freed with protobuf_c_message_free_unpacked, or
    NULL when the actor does not answer within timeout_ms.  */
Annotate__V1__ClusterStatusResponse *cluster_client_status (cluster_client_t *self, int timeout_ms);

/*  0 when adopted; -1 with err set otherwise.  */
int cluster_client_apply (cluster_client_t *self, const char *manifest_text, size_t len,
                          uint64_t version, char *err, size_t errlen);

/*  Orders a retrain now. 0 with the order id, the actor and worker that
    took it; -1 with err set (no retraining actor, one running, no data). */
int cluster_client_retrain (cluster_client_t *self, const char *reason, uint64_t *order,
                            char *actor, size_t actor_len, char *worker, size_t worker_len,
                            char *err, size_t errlen);

/*  Orders a label propagation now (an active_learning actor runs it). 0
    with the order, actor and worker; -1 with err set.  */
int cluster_client_propagate (cluster_client_t *self, const char *reason, uint64_t *order,
                              char *actor, size_t actor_len, char *worker, size_t worker_len,
                              char *err, size_t errlen);

/*  A person labelled id: annotation actors take an online step. 0 or -1. */
int cluster_client_correction (cluster_client_t *self, const char *id, const char *label);

/*  The current model version changed in the store (rollback): send it to
    the workers and re-annotate. 0 or -1.  */
int cluster_client_model_changed (cluster_client_t *self, uint64_t version);

#endif
