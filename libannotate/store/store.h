/*  store.h: the durable state of a cluster, in one LMDB environment.

    Named databases (keys are UTF-8 item ids unless said otherwise):
      items     id -> packed annotate.v1.Item (text, vector, meta, content hash)
      labels    id -> packed annotate.v1.Label, the current label
      state     id -> item_state_t (status, pending ticket, last label seq)
      history   be64 seq -> packed annotate.v1.LabelEvent, append only
      item_seq  id -> be64 seq (dupsort): an item's events, for GetItem
      pending   be64 ticket -> id: items waiting for annotation, in ingest order
      manifests be64 version -> manifest YAML text
      models    be64 version -> model blob (model.h format)
      model_info be64 version -> packed annotate.v1.ModelInfo
      training  id -> label name: items whose current label is human or gold
      review    be32 priority key + id -> nothing: the review queue, most
                informative first (store_review.c)
      dup_hash  xxh3-128 of normalised content -> canonical item id
      dup_members canonical id -> duplicate ids (dupsort) (store_dedup.c)
      taxonomy  label name -> be32 stable id (never reused, never renumbered)
      meta      "schema", "last_ticket", "current_model", "human_labels" -> be64

    Invariants:
      - history sequence numbers start at 1, increase by one per event and
        are never reused; an item's current label is its newest event.
      - an item is in `pending` iff its state.ticket != 0; a label result is
        applied only when it carries that same ticket, and applying it clears
        the ticket in the same transaction. So a redelivered or late batch can
        never write a second label event for the same annotation.
      - only the writer (store_writer.h) opens write transactions; every
        other thread reads through store_read_begin / store_read_end, which
        never block the writer.
      - a label with ticket 0 is a re-annotation by a newer model: it is
        applied only when the item's current label came from no model or an
        older model version, never over a human, gold or auto label.
      - `training` holds exactly the items whose current label is human or
        gold, which is what retraining reads.
      - an item is in `review` iff state.review != 0, under the key made of
        state.priority and its id; meta "queue_<reason>" counts them.
      - meta "src_<n>" counts the items whose current label has source n
        (0: no label yet), kept in the transaction that changes the label.
      - the map grows (doubling) when LMDB reports MDB_MAP_FULL, up to
        max_map_bytes when set; readers hold a shared lock so a resize never
        happens under an open read transaction.
*/
#ifndef ANNOTATE_STORE_H
#define ANNOTATE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>

#include "annotate/v1/annotate.pb-c.h"

#define STORE_SCHEMA_VERSION 1
#define STORE_MAX_ID_BYTES   256

typedef struct store store_t;

typedef struct {
    const char *dir;            /* created (0700) if missing; data file is 0600 */
    uint64_t initial_map_bytes; /* 0: 1 GiB */
    uint64_t max_map_bytes;     /* 0: no limit beyond the disk */
    bool no_sync;               /* benchmarks of the store alone only: loses durability */
} store_config_t;

typedef struct {
    uint8_t status;             /* Annotate__V1__ItemStatus */
    uint8_t source;             /* Annotate__V1__LabelSource of the current label, 0 if none */
    uint8_t review;             /* Annotate__V1__ReviewReason while in the review queue, else 0 */
    uint8_t flags;              /* ITEM_FLAG_* */
    uint8_t priority[4];        /* big-endian queue key while in the review queue */
    uint64_t ticket;            /* key in `pending`, 0 when not waiting */
    uint64_t label_seq;         /* seq of the current label event, 0 if none */
    uint8_t hash[16];           /* content hash, as in Item.content_hash */
} item_state_t;

#define ITEM_FLAG_VALIDATION 1u  /* drawn into the random validation sample */
#define ITEM_FLAG_DUPLICATE  2u  /* an exact duplicate: shares its canonical item's label */

typedef struct {
    uint64_t items;             /* entries in `items` */
    uint64_t labelled;          /* items with a current label */
    uint64_t pending;           /* entries in `pending` */
    uint64_t last_seq;          /* newest history seq, 0 if none */
    uint64_t last_ticket;       /* newest pending ticket ever issued */
    uint64_t manifest_version;  /* newest stored manifest, 0 if none */
    uint64_t current_model;     /* 0: none */
    uint64_t models;            /* model versions stored */
    uint64_t training;          /* items with a human or gold label */
    uint64_t human_labels;      /* human label events ever written */
    uint64_t map_bytes;         /* current map size */
    uint64_t used_bytes;        /* pages in use * page size */
} store_stats_t;

store_t *store_open (const store_config_t *config, char *err, size_t errlen);
void store_destroy (store_t **self_p);
MDB_env *store_env (store_t *self);

/* ---- reading (any thread) -------------------------------------------- */

/*  Begins a read transaction for this thread; returns NULL (and logs) only
    if LMDB cannot. Pair every call with store_read_end. Keep them short:
    a read transaction pins old pages and blocks a map resize.  */
MDB_txn *store_read_begin (store_t *self);
void store_read_end (store_t *self, MDB_txn *txn);

void store_stats (store_t *self, MDB_txn *txn, store_stats_t *out);
/*  store_stats in a read transaction of its own; false (and *out zeroed)
    when none could be opened.  */
bool store_read_stats (store_t *self, store_stats_t *out);

/*  Item, current label (NULL if none), state. Return 0, or MDB_NOTFOUND.
    Unpacked objects are freed with protobuf_c_message_free_unpacked.  */
int store_get_item (store_t *self, MDB_txn *txn, const char *id, size_t id_len,
                    Annotate__V1__Item **item, Annotate__V1__Label **label,
                    item_state_t *state);

/*  Calls fn for each history event of one item, oldest first. The item's
    events are found through an index, not a scan. Returns the count.  */
typedef bool (*store_event_fn) (void *arg, uint64_t seq, const uint8_t *packed, size_t len);
size_t store_item_history (store_t *self, MDB_txn *txn, const char *id, size_t id_len,
                           store_event_fn fn, void *arg);

/*  Calls fn for events with seq > after_seq in order until fn returns
    false or max events were seen. Returns the number passed to fn.  */
size_t store_history_after (store_t *self, MDB_txn *txn, uint64_t after_seq, size_t max,
                            store_event_fn fn, void *arg);

/*  Pending items with ticket > after_ticket, in ticket order, until fn
    returns false or max were seen. item is a borrowed, packed Item.  */
typedef bool (*store_pending_fn) (void *arg, uint64_t ticket, const char *id, size_t id_len,
                                  const uint8_t *item, size_t item_len);
size_t store_pending_after (store_t *self, MDB_txn *txn, uint64_t after_ticket, size_t max,
                            store_pending_fn fn, void *arg);

/*  Items in id order starting after `after_id` (NULL: from the first),
    visiting at most scan_limit keys. fn returns false to stop. Returns the
    last id visited in *last (caller frees), for paging.  */
typedef bool (*store_item_fn) (void *arg, const char *id, size_t id_len,
                               const item_state_t *state, const uint8_t *label, size_t label_len,
                               const uint8_t *item, size_t item_len);
size_t store_scan_items (store_t *self, MDB_txn *txn, const char *after_id, size_t scan_limit,
                         store_item_fn fn, void *arg, char **last);

/*  Manifest text of a version (0: newest). Caller frees *text.  */
int store_get_manifest (store_t *self, MDB_txn *txn, uint64_t version, char **text, size_t *len,
                        uint64_t *version_out);

/*  A stored model: a pointer into the map, valid until the read
    transaction ends. version 0 means the current one. 0 or MDB_NOTFOUND. */
int store_get_model (store_t *self, MDB_txn *txn, uint64_t version, const uint8_t **blob,
                     size_t *len, uint64_t *version_out);

/*  One model's ModelInfo (free with protobuf_c_message_free_unpacked);
    0 or MDB_NOTFOUND.  */
int store_get_model_info (store_t *self, MDB_txn *txn, uint64_t version,
                          Annotate__V1__ModelInfo **info);
/*  Calls fn with every model's packed ModelInfo, oldest first.  */
size_t store_list_models (store_t *self, MDB_txn *txn, store_event_fn fn, void *arg);

/*  Items with a human or gold label, in id order after after_id ("" or NULL:
    from the first), until fn returns false or max were seen.  */
typedef bool (*store_training_fn) (void *arg, const char *id, size_t id_len, const char *label,
                                   size_t label_len, const uint8_t *item, size_t item_len,
                                   bool validation);
size_t store_training_after (store_t *self, MDB_txn *txn, const char *after_id, size_t max,
                             store_training_fn fn, void *arg);

/* ---- the review queue (store_review.c) ------------------------------- */

/*  Queue entries in priority order (most informative first), starting
    after (after_key, after_len) (NULL: from the head), until fn returns
    false or max were seen. key is the entry's opaque queue key (pass it
    back as after_key to page on). Returns the count.  */
typedef bool (*store_review_fn) (void *arg, const uint8_t *key, size_t key_len, const char *id,
                                 size_t id_len, uint8_t reason, float priority);
size_t store_review_scan (store_t *self, MDB_txn *txn, const uint8_t *after_key, size_t after_len,
                          size_t max, store_review_fn fn, void *arg);

typedef struct {
    uint64_t by_source[16];     /* items by source of their current label; [0]: no label */
    uint64_t queue[4];          /* review queue by reason ([0]: total) */
    uint64_t validation_labels; /* human answers on validation-sample items */
    uint64_t validation_sampled;/* items ever drawn into the validation sample */
    uint64_t reviews_agreed;    /* human labels equal to the machine label they replaced */
    uint64_t reviews_suggested; /* human labels that replaced a machine label */
    uint64_t human_labels;
    uint64_t duplicates;        /* items ingested as exact duplicates */
} store_review_stats_t;

void store_review_stats (store_t *self, MDB_txn *txn, store_review_stats_t *out);

/*  The canonical item of a duplicate (canon empty when id is none) and the
    number of duplicates of a canonical item.  */
void store_dedup_info (store_t *self, MDB_txn *txn, const char *id, size_t id_len, char *canon,
                       size_t canon_len, uint64_t *members);

/*  Stable id of a taxonomy label, 0 if it never was in a manifest.  */
uint32_t store_label_id (store_t *self, MDB_txn *txn, const char *label);

/* ---- writing (the writer thread only; see store_writer.h) ------------ */

typedef enum {
    STORE_OK = 0,
    STORE_INVALID = 1,      /* a field is invalid; message names it */
    STORE_CONFLICT = 2,     /* id exists with other content and replace is off */
    STORE_FULL = 3,         /* map at max_map_bytes, or the disk is full */
    STORE_OVERLOADED = 4,   /* max_pending reached */
    STORE_IO = 5,           /* LMDB failed otherwise */
    STORE_NOT_FOUND = 6     /* no such item or model version */
} store_status_t;

/*  What ingest checks items against; owned by the writer.  */
typedef struct {
    uint32_t vector_dim;        /* 0: vectors are refused */
    uint64_t max_pending;
    char **labels;              /* taxonomy; a gold label must be one of these */
    size_t n_labels;
    /* active learning (store_review.c): with al_enabled, every machine
       label is routed as it is committed: into the validation sample, to
       auto-acceptance by the current model's class thresholds, or into the
       review queue by its uncertainty. */
    bool al_enabled;
    bool al_auto_accept;
    double al_validation_rate;  /* share of machine-labelled items sampled */
    uint64_t al_validation_max; /* stop sampling after this many; 0: never stop */
    uint64_t al_seed;           /* of the sample draw and the cold-start order */
    bool dedup;                 /* exact duplicates share their canonical item's label */
} store_policy_t;

typedef struct {
    uint64_t accepted, unchanged, replaced, pending, last_seq;
} store_ingest_result_t;

/*  One transaction's worth of work. All of a request's items are applied or
    none: on any error nothing of that request is written and err names the
    field ("items[3].vector: ..."). These run inside the writer's open txn.  */
store_status_t store_txn_ingest (store_t *self, MDB_txn *txn, const store_policy_t *policy,
                                 Annotate__V1__Item *const *items, size_t n, bool replace,
                                 int64_t now_ms, store_ingest_result_t *res,
                                 char *err, size_t errlen);

typedef struct {
    const char *id;
    uint64_t ticket;            /* must equal the item's state.ticket */
    const Annotate__V1__Label *label;  /* time_ms is set by the store */
} store_label_t;

/*  Applies labels whose ticket still matches; others are counted in
    *discarded (late or redelivered results). Each applied label appends one
    history event.  */
store_status_t store_txn_labels (store_t *self, MDB_txn *txn, const store_policy_t *policy,
                                 const store_label_t *labels, size_t n, int64_t now_ms,
                                 uint64_t *applied, uint64_t *discarded, char *err,
                                 size_t errlen);

/*  Stores a manifest version and gives every label of the policy that has
    none a stable id.  */
store_status_t store_txn_put_manifest (store_t *self, MDB_txn *txn, const char *text, size_t len,
                                       const store_policy_t *policy, uint64_t *version);

/*  A person's label: one history event (source human), the item leaves the
    pending queue and the review queue (its reason is recorded in the
    label), joins `training`, and the human counter grows. Idempotent: when
    the item's current label already is this person's with this label (a
    retried call), nothing is written, *seq is that event and *duplicate
    (may be NULL) is set.  */
store_status_t store_txn_human_label (store_t *self, MDB_txn *txn, const store_policy_t *policy,
                                      const char *id, const char *label, const char *annotator,
                                      int64_t now_ms, uint64_t *seq, bool *duplicate, char *err,
                                      size_t errlen);

/*  Stores a model as the next version (info->version and created_ms are
    set here); makes it current when asked.  */
store_status_t store_txn_put_model (store_t *self, MDB_txn *txn, const uint8_t *blob, size_t len,
                                    Annotate__V1__ModelInfo *info, bool make_current,
                                    int64_t now_ms, uint64_t *version);

/*  Replaces a stored version's auto-accept thresholds and validation-
    sample figures (thresholds, n_validation_sample, sample_*,
    target_accuracy, threshold_rule, accept_*) with info's; the routing
    picks them up in the next label transaction. STORE_NOT_FOUND if the
    version is absent.  */
store_status_t store_txn_set_thresholds (store_t *self, MDB_txn *txn, uint64_t version,
                                         const Annotate__V1__ModelInfo *info);
/*  Label propagation results (store_review.c). An accepted label (its
    class threshold met) replaces an item's label when that is none or a
    machine label, never a person's, gold, auto or a duplicate's, and never
    on a validation-sample item (people answer those): it is stored as
    source propagation, the item leaves the review queue and its
    duplicates follow. A label that was not accepted is not stored; when
    it disagrees with the item's machine label and the item waits for
    review as uncertain, the item moves up the queue (priority = the larger
    of its uncertainty and the propagation's confidence). *applied counts
    the labels stored.  */
store_status_t store_txn_propagated (store_t *self, MDB_txn *txn, const store_label_t *labels,
                                     const bool *accepted, size_t n, int64_t now_ms,
                                     uint64_t *applied, char *err, size_t errlen);
/*  Makes a stored version current (rollback); STORE_NOT_FOUND if absent.  */
store_status_t store_txn_set_current_model (store_t *self, MDB_txn *txn, uint64_t version);

/*  Write transaction helpers for the writer: begin, commit with MAP_FULL
    handling. store_write_commit returns MDB_MAP_FULL after growing the map
    (the caller redoes the transaction), or another LMDB code.  */
int store_write_begin (store_t *self, MDB_txn **txn);
int store_write_commit (store_t *self, MDB_txn *txn);
void store_write_abort (store_t *self, MDB_txn *txn);
/*  Drops what the writer caches from the store (the current model's
    thresholds): called after any abort, so nothing read or written in a
    transaction that did not commit is used again.  */
void store_forget_caches (store_t *self);
/*  Grows the map after MDB_MAP_FULL; false when max_map_bytes forbids.  */
bool store_grow (store_t *self);

#endif
