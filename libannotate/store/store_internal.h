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
    MDB_dbi models, model_info, training, taxonomy;
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

#endif
