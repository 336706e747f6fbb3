/*  store_writer.h: the single LMDB writer, as an actor.

    Every write in the coordinator goes through this actor, which owns the
    only write transaction. It takes requests from many threads, applies all
    that are waiting in one transaction and commits once (group commit: one
    fsync for many clients' items and labels), then answers each. A request
    is answered only after its commit returned, so an acknowledged item or
    label is on disk. On MDB_MAP_FULL the map grows and the group is redone.

    Clients talk to it through a store_client_t, one per thread (ZeroMQ
    sockets are not thread-safe). Requests travel as pointers over inproc
    sockets: the caller owns the request and must keep it alive until the
    answer arrives.

    Messages it takes (on its own inproc ROUTER, reached via store_client_t):
      [ptr to store_request_t]  -> answered with the same pointer
    and on its pipe: "$TERM".

    After every commit it publishes on a PUB socket (see
    store_writer_events_endpoint) one message of two frames: "commit" and
    16 bytes: be64 last_ticket, be64 last_seq. Subscribers (the cluster
    actor, watch streams) use it as a wake-up only; the store is the truth.
*/
#ifndef ANNOTATE_STORE_WRITER_H
#define ANNOTATE_STORE_WRITER_H

#include <czmq.h>

#include "store/store.h"

typedef enum {
    STORE_REQ_INGEST = 1,
    STORE_REQ_LABELS = 2,
    STORE_REQ_MANIFEST = 3,     /* store a manifest version and adopt its policy */
    STORE_REQ_SYNC = 4,         /* no-op; answered after everything before it committed */
    STORE_REQ_HUMAN_LABEL = 5,  /* a person's label for one item */
    STORE_REQ_MODEL = 6,        /* store a trained model version */
    STORE_REQ_SET_MODEL = 7,    /* make a stored version current (rollback) */
    STORE_REQ_THRESHOLDS = 8,   /* refitted auto-accept thresholds of a stored version */
    STORE_REQ_PROPAGATED = 9    /* label propagation results (labels + accepted) */
} store_req_type_t;

typedef struct {
    store_req_type_t type;
    /* in: */
    Annotate__V1__Item *const *items;   /* INGEST */
    size_t n_items;
    bool replace;
    const store_label_t *labels;        /* LABELS, PROPAGATED */
    const bool *accepted;               /* PROPAGATED: per label, its class threshold was met */
    size_t n_labels;
    const char *manifest_text;          /* MANIFEST: already validated by the caller */
    size_t manifest_len;
    const store_policy_t *policy;       /* MANIFEST: new policy, copied by the writer */
    const char *id, *label, *annotator; /* HUMAN_LABEL */
    const uint8_t *blob;                /* MODEL */
    size_t blob_len;
    Annotate__V1__ModelInfo *info;      /* MODEL: version and created_ms are filled in;
                                           THRESHOLDS: the refit (thresholds and sample fields) */
    bool make_current;                  /* MODEL */
    uint64_t model_version;             /* SET_MODEL, THRESHOLDS in; MODEL out */
    void *user;                         /* caller's cookie, untouched */
    /* out: */
    store_status_t status;
    char err[512];
    store_ingest_result_t ingest;
    uint64_t applied, discarded;        /* LABELS */
    uint64_t version;                   /* MANIFEST */
    uint64_t seq;                       /* HUMAN_LABEL: the event written (or found) */
    bool duplicate;                     /* HUMAN_LABEL: the same answer was already current */
    uint64_t last_seq;                  /* history end after the commit */
} store_request_t;

typedef struct store_writer store_writer_t;
typedef struct store_client store_client_t;

/*  Starts the writer actor with an initial policy (copied).  */
store_writer_t *store_writer_new (store_t *store, const store_policy_t *policy);
void store_writer_destroy (store_writer_t **self_p);

/*  inproc endpoint of the commit-event PUB socket; connect a SUB to it.  */
const char *store_writer_events_endpoint (store_writer_t *self);

/*  A per-thread handle. Blocking calls send one request and wait for its
    answer; the async pair lets an actor keep working meanwhile.  */
store_client_t *store_client_new (store_writer_t *writer);
void store_client_destroy (store_client_t **self_p);
/*  Sends and waits; returns req->status.  */
store_status_t store_client_call (store_client_t *self, store_request_t *req);
/*  Sends without waiting; the answer (the same pointer) is read from
    store_client_socket with store_client_recv.  */
int store_client_send (store_client_t *self, store_request_t *req);
store_request_t *store_client_recv (store_client_t *self);
zsock_t *store_client_socket (store_client_t *self);

/*  Copies a policy into freshly allocated memory / frees such a copy.  */
store_policy_t *store_policy_copy (const store_policy_t *src);
void store_policy_free (store_policy_t **p);

#endif
