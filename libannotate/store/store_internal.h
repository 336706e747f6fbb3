/*  store_internal.h: the store's private state, shared by store.c (the
    environment and the read side) and store_txn.c (the write operations).
    Nothing outside store/ includes this.
*/
#ifndef ANNOTATE_STORE_INTERNAL_H
#define ANNOTATE_STORE_INTERNAL_H

#include <pthread.h>

#include "store/store.h"

struct store {
    MDB_env *env;
    MDB_dbi items, labels, state, history, item_seq, pending, manifests, meta;
    MDB_dbi models, model_info, training, taxonomy, review, dup_hash, dup_members;
    struct {                    /* the current model's auto-accept thresholds (writer only) */
        uint64_t version;
        uint64_t gen;           /* meta th_gen when loaded: refits bump it */
        size_t n;
        char **labels;
        float *value;
    } th;
    pthread_rwlock_t resize;    /* shared by readers, exclusive for a map resize */
    uint64_t map_bytes;         /* written by the writer thread only */
    uint64_t max_map_bytes;
    char *dir;
};

uint64_t store_last_key (MDB_txn *txn, MDB_dbi dbi);
uint64_t store_meta_u64 (store_t *self, MDB_txn *txn, const char *name);
int store_put_meta_u64 (store_t *self, MDB_txn *txn, const char *name, uint64_t v);
int store_get_state (store_t *self, MDB_txn *txn, const char *id, size_t id_len,
                     item_state_t *state);

/* store_txn.c */
int store_append_event (store_t *self, MDB_txn *txn, uint64_t seq, const char *id,
                        const Annotate__V1__Label *label, item_state_t *st);
int store_put_state (store_t *self, MDB_txn *txn, MDB_val *key, const item_state_t *st);

/* store_dedup.c */
int store_dedup_ingest (store_t *self, MDB_txn *txn, const Annotate__V1__Item *it,
                        item_state_t *st, int64_t now_ms, uint64_t *last_seq, bool *duplicate);
/*  Copies a canonical item's new label to its duplicates.  */
int store_dedup_follow (store_t *self, MDB_txn *txn, const char *canon,
                        const Annotate__V1__Label *label, int64_t now_ms, uint64_t *last_seq);
int store_dedup_forget (store_t *self, MDB_txn *txn, const char *id, size_t id_len,
                        const Annotate__V1__Item *next, uint64_t *last_ticket);

/* store_review.c */
int store_count_add (store_t *self, MDB_txn *txn, const char *name, int64_t delta);
int store_count_source (store_t *self, MDB_txn *txn, uint8_t old_source, uint8_t new_source);
int store_review_dequeue (store_t *self, MDB_txn *txn, const char *id, size_t id_len,
                          item_state_t *st);
/*  Routes a machine label before its event is written: may turn it into
    an auto-accepted label, may queue the item (see store_review.c).  */
int store_review_route (store_t *self, MDB_txn *txn, const store_policy_t *policy, const char *id,
                        size_t id_len, item_state_t *st, Annotate__V1__Label *label);
int store_review_human (store_t *self, MDB_txn *txn, const char *id, size_t id_len,
                        item_state_t *st, Annotate__V1__Label *human);
void store_review_refresh (store_t *self, MDB_txn *txn);
int store_review_migrate (store_t *self, MDB_txn *txn);
void store_review_free (store_t *self);

#endif
