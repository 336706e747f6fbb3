/*  cluster_internal.h: the cluster actor's private state, shared by the
    files that implement it (all of them run on the actor's one thread):

      cluster.c           public API, the actor's loop, control requests
      cluster_workers.c   registration, heartbeats, liveness, ASSIGN
      cluster_dispatch.c  credits, batches from `pending`, redelivery
      cluster_results.c   RESULT validation, label requests to the writer
      cluster_status.c    ClusterStatusResponse, rates, manifest adoption

    Memory is bounded by the cluster's shape, not by the item count: the
    actor keeps only the batches in flight (at most the sum of the workers'
    capacities), the items of dead workers' batches waiting to go out again,
    and at most CLUSTER_MAX_WAITING label jobs queued for the writer.
*/
#ifndef ANNOTATE_CLUSTER_INTERNAL_H
#define ANNOTATE_CLUSTER_INTERNAL_H

#include <czmq.h>

#include "annotate/v1/cluster.pb-c.h"
#include "cluster/cluster.h"
#include "manifest/manifest.h"
#include "wire/wire.h"

#define CLUSTER_LOG               "cluster"
#define CLUSTER_TICK_MS           50      /* dispatch / liveness timer */
#define CLUSTER_MAX_OUTSTANDING   64      /* label requests at the writer */
#define CLUSTER_MAX_WAITING       1024    /* label jobs queued behind them */
#define CLUSTER_MAX_WORKERS       4096    /* records, alive or dead */
#define CLUSTER_MAX_ATTEMPTS      5       /* an item unlabelled this often is left pending */
#define CLUSTER_MAX_TAGS          64
#define CLUSTER_MAX_TAG_BYTES     256
#define CLUSTER_MAX_TAG_TOTAL     2048
#define CLUSTER_MAX_DEAD          256     /* dead records kept for status; the oldest go first */
#define CLUSTER_BATCH_TIMEOUT_US  (120LL * 1000000) /* a batch unanswered this long goes out again */
#define CLUSTER_PARK_RETRY_US     (30LL * 1000000)  /* parked items are retried this often */
#define CLUSTER_MAX_HOST_BYTES    256
#define CLUSTER_MAX_CAPACITY      1024
#define CLUSTER_RATE_SLOTS        11      /* one sample a second: rates over ~10 s */

typedef struct {
    char *id;
    uint64_t ticket;
    uint32_t attempts;          /* times it came back unlabelled */
} item_ref_t;

typedef struct worker worker_t;

typedef struct {
    uint64_t batch_id;
    worker_t *worker;
    item_ref_t **items;         /* owned */
    size_t n_items;
    int64_t sent_us;            /* monotonic: unanswered too long, it goes out again */
} batch_t;

struct worker {
    char *name;
    char *host;
    uint32_t pid;
    char **tags;
    size_t n_tags;
    zframe_t *identity;         /* current routing id */
    char *idkey;                /* hex of identity: key in by_identity */
    uint32_t capacity;
    uint32_t in_flight;         /* batches it holds */
    bool alive;
    bool annotates;             /* the manifest places an annotation actor on it */
    uint32_t heartbeat_ms;      /* what its WELCOME told it */
    uint32_t liveness;
    uint32_t max_batch;         /* what its WELCOME told it */
    int64_t last_seen_us;       /* monotonic */
    int64_t last_seen_ms;       /* wall clock, for status */
    int64_t last_dispatch;      /* round-robin tie-break */
    uint64_t batches_done;
    uint64_t items_done;
};

typedef struct {
    store_request_t req;
    Annotate__V1__Result *result;   /* owns the strings the labels point into */
    store_label_t *labels;
    Annotate__V1__Label *lbls;
    char *worker_name;
} label_job_t;

typedef struct {
    int64_t t_us;
    uint64_t labels;
    uint64_t tickets;
} rate_sample_t;

typedef struct {
    zsock_t *pipe;
    zsock_t *router;            /* workers */
    zsock_t *ctl;               /* cluster_client_t requests */
    zsock_t *events;            /* writer commit events (SUB) */
    zpoller_t *poller;
    bool router_paused;         /* too many label jobs waiting: stop reading */
    store_t *store;
    store_writer_t *writer;
    store_client_t *client;
    manifest_t *manifest;
    uint64_t manifest_version;
    size_t max_message_bytes;

    zhashx_t *workers;          /* name -> worker_t, owns */
    zhashx_t *by_identity;      /* idkey -> worker_t, borrowed */
    int64_t next_heartbeat_us;
    int64_t dispatch_seq;

    zhashx_t *batches;          /* "%llu" batch id -> batch_t, owned (freed by hand) */
    zlistx_t *redeliver;        /* item_ref_t *, owns; dispatched before new items */
    zlistx_t *parked;           /* item_ref_t *, owns: failed too often, retried later */
    int64_t next_park_retry_us;
    uint64_t latest_model;      /* newest model version stored: labels may not claim more */
    uint64_t cursor;            /* highest pending ticket dispatched */
    uint64_t next_batch_id;
    uint64_t in_flight_items;
    uint64_t redelivered;       /* batches dispatched again after a worker died */

    size_t outstanding;         /* label jobs at the writer */
    zlistx_t *waiting;          /* label_job_t *, owns, not yet sent */
    uint64_t labels_applied;

    rate_sample_t rates[CLUSTER_RATE_SLOTS];
    size_t n_rates;
    int64_t next_rate_us;
    int64_t started_ms;

    /* learning loop (cluster_learning.c) */
    store_client_t *sync_client;    /* blocking writer calls (model versions) */
    uint64_t current_model;
    struct {
        uint64_t id;                /* 0: no order running */
        char *worker, *actor;
        int64_t started_us;
        uint64_t parent;
        uint8_t *blob;              /* upload being assembled */
        size_t blob_len, blob_total;
        uint64_t checksum;
    } order;
    struct {                        /* a refit order (cluster_refit.c) */
        uint64_t id;                /* 0: none running */
        char *worker;
        uint64_t version;           /* the model whose thresholds are refitted */
        int64_t started_us;
    } refit;
    uint64_t sample_at_fit;         /* validation answers when thresholds were last fitted */
    struct {                        /* a propagation order (cluster_propagate.c) */
        uint64_t id;                /* 0: none running */
        char *worker, *actor;
        int64_t started_us;
        float *threshold;           /* per label, from the first piece; > 1: never */
        char **threshold_label;     /* the labels, copied when the first piece came */
        size_t n_threshold;
        double claim_lower;
        bool have_info;
        uint64_t seen, stored;
        uint64_t sent;              /* items sent in its pages: the most labels it may answer */
    } prop;
    uint64_t human_at_prop;         /* human labels when the last propagation went out */
    uint64_t next_order;
    uint64_t human_at_order;        /* human label count when the last order went out */
    uint64_t retrains;
    int64_t last_order_us;
    int64_t next_trigger_us;
    bool cold_start_tried;
    uint64_t sweep_version;         /* re-annotating up to this model; 0: not sweeping */
    char *sweep_after;              /* item id the sweep continues after */
    uint64_t sweep_sent;

    int64_t drop_window_us;     /* log rate limit for malformed messages */
    size_t drops_logged, drops_suppressed;
} engine_t;

/* a page of training data being built (cluster_learning.c, cluster_propagate.c) */
typedef struct {
    Annotate__V1__TrainExample *ex;
    Annotate__V1__TrainExample **ptrs;
    Annotate__V1__Item **items;
    size_t n, cap, bytes, max_bytes;
    bool validation_only;       /* a refit order: only validation-sample items */
    bool full;                  /* an item did not fit: the page is not the last */
    char *last;
} page_t;

/* cluster_propagate.c */
uint64_t engine_start_propagation (engine_t *e, const char *reason, char *err, size_t errlen);
void engine_prop_tick (engine_t *e);
bool engine_is_prop (engine_t *e, uint64_t order, const worker_t *w);
bool engine_prop_page_item (void *arg, const char *id, size_t id_len, const item_state_t *st,
                            const uint8_t *label, size_t label_len, const uint8_t *item,
                            size_t item_len);
void engine_on_propagated (engine_t *e, worker_t *w, wire_msg_t *msg);
void engine_prop_clear (engine_t *e);
void engine_worker_orders_gone (engine_t *e, const char *worker);

/* cluster_refit.c */
/*  An active_learning actor on an alive worker, or NULL.  */
const manifest_actor_t *engine_al_actor (engine_t *e, worker_t **where);
/*  NULL when thresholds from a worker fit the taxonomy and the manifest.  */
const char *engine_check_thresholds (engine_t *e, const Annotate__V1__ModelInfo *info);
void engine_refit_tick (engine_t *e);
bool engine_is_refit (engine_t *e, uint64_t order, const worker_t *w);
void engine_on_refit_upload (engine_t *e, Annotate__V1__ModelUpload *up);
void engine_refit_clear (engine_t *e);
/*  Human answers on validation-sample items, from the store.  */
uint64_t engine_validation_answers (engine_t *e);

/* cluster_workers.c */
worker_t *engine_worker_of (engine_t *e, zframe_t *identity);
void engine_on_register (engine_t *e, wire_msg_t *msg);
void engine_on_goodbye (engine_t *e, worker_t *w);
void engine_send_reconnect (engine_t *e, zframe_t *identity);
void engine_declare_dead (engine_t *e, worker_t *w, const char *why);
void engine_heartbeat_tick (engine_t *e);
void engine_send_assign (engine_t *e, worker_t *w);
void engine_refresh_placement (engine_t *e);
void worker_free (void **item);
char *identity_key (zframe_t *identity);

/* cluster_dispatch.c */
void engine_dispatch (engine_t *e);
/*  Takes a batch out of the table: its items go back to redelivery (when
    requeue) and the worker's credit is returned. NULL if unknown.  */
batch_t *engine_batch_take (engine_t *e, uint64_t batch_id);
void engine_requeue (engine_t *e, item_ref_t **items, size_t n, bool front);
/*  Batches unanswered for CLUSTER_BATCH_TIMEOUT_US go out again, and
    parked items are retried every CLUSTER_PARK_RETRY_US.  */
void engine_expire_batches (engine_t *e);
/*  Keeps an item that failed too often for a later retry.  */
void engine_park (engine_t *e, const char *id, uint64_t ticket);
void batch_free (batch_t **b);
void item_ref_free (void **item);

/* cluster_results.c */
void engine_on_result (engine_t *e, worker_t *w, wire_msg_t *msg);
void engine_on_writer_answer (engine_t *e);
void engine_flush_waiting (engine_t *e);
void label_job_free (void **item);
bool engine_writer_busy (const engine_t *e);

/* cluster_status.c */
void engine_rate_tick (engine_t *e);
zframe_t *engine_status (engine_t *e);
int engine_adopt_manifest (engine_t *e, const char *text, size_t len, uint64_t version,
                           char *err, size_t errlen);

/* cluster_learning.c */
bool engine_learning_enabled (const engine_t *e);
void engine_model_spec (engine_t *e, Annotate__V1__ModelSpec *spec);
void engine_send_model (engine_t *e, worker_t *w);
void engine_model_changed (engine_t *e, uint64_t version);
/*  Returns the order id, or 0 with err set.  */
uint64_t engine_start_retrain (engine_t *e, const char *reason, char *err, size_t errlen);
void engine_learning_tick (engine_t *e);
void engine_on_train_pull (engine_t *e, worker_t *w, wire_msg_t *msg);
void engine_on_model_upload (engine_t *e, worker_t *w, wire_msg_t *msg);
void engine_send_correction (engine_t *e, const char *id, const char *label);
size_t engine_sweep_fill (engine_t *e, size_t room);
void engine_learning_init (engine_t *e);
void engine_learning_fini (engine_t *e);

#endif
