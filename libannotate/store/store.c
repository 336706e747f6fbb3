/*  store.c: the LMDB environment, its named databases, and the read side.

    Design notes:
    - One environment, opened MDB_NOTLS so a read transaction is not tied
      to a thread-local reader slot; every reader opens and closes its own
      short transaction.
    - LMDB forbids changing the map size while any transaction of this
      process is open. Readers therefore hold `resize` shared for the life
      of their transaction and store_grow takes it exclusively; the lock
      prefers writers so a steady stream of readers cannot starve a resize.
    - Sequence numbers and tickets are read from the databases inside each
      write transaction (MDB_LAST, meta), never cached across transactions,
      so an aborted or redone transaction cannot leave a counter ahead of
      the data.
*/
#include "store/store_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "util/util.h"

#define DEFAULT_MAP_BYTES (1024ull << 20)

static int
open_dbis (store_t *self, char *err, size_t errlen)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin (self->env, NULL, 0, &txn);
    if (rc)
        return err_set (err, errlen, "lmdb: begin: %s", mdb_strerror (rc));
    struct {
        const char *name;
        unsigned flags;
        MDB_dbi *dbi;
    } dbs[] = {
        { "items", 0, &self->items },         { "labels", 0, &self->labels },
        { "state", 0, &self->state },         { "history", 0, &self->history },
        { "item_seq", MDB_DUPSORT | MDB_DUPFIXED, &self->item_seq },
        { "pending", 0, &self->pending },     { "manifests", 0, &self->manifests },
        { "meta", 0, &self->meta },           { "models", 0, &self->models },
        { "model_info", 0, &self->model_info }, { "training", 0, &self->training },
        { "taxonomy", 0, &self->taxonomy }, { "review", 0, &self->review },
        { "dup_hash", 0, &self->dup_hash },
        { "dup_members", MDB_DUPSORT, &self->dup_members },
    };
    for (size_t i = 0; i < sizeof dbs / sizeof dbs[0]; i++) {
        rc = mdb_dbi_open (txn, dbs[i].name, dbs[i].flags | MDB_CREATE, dbs[i].dbi);
        if (rc) {
            mdb_txn_abort (txn);
            return err_set (err, errlen, "lmdb: open database %s: %s", dbs[i].name,
                            mdb_strerror (rc));
        }
    }
    /* schema version: written once, checked on every later open */
    MDB_val key = { 6, (void *) "schema" }, val;
    rc = mdb_get (txn, self->meta, &key, &val);
    if (rc == MDB_NOTFOUND) {
        uint8_t buf[8];
        be64_put (buf, STORE_SCHEMA_VERSION);
        val = (MDB_val) { 8, buf };
        rc = mdb_put (txn, self->meta, &key, &val, 0);
    }
    else if (rc == 0 && (val.mv_size != 8 || be64_get (val.mv_data) != STORE_SCHEMA_VERSION)) {
        mdb_txn_abort (txn);
        return err_set (err, errlen, "store %s has schema version %llu, this build reads %d",
                        self->dir,
                        val.mv_size == 8 ? (unsigned long long) be64_get (val.mv_data) : 0ull,
                        STORE_SCHEMA_VERSION);
    }
    if (rc == 0)
        rc = store_review_migrate (self, txn);
    if (rc == 0)
        rc = mdb_txn_commit (txn);
    else
        mdb_txn_abort (txn);
    if (rc)
        return err_set (err, errlen, "lmdb: init: %s", mdb_strerror (rc));
    return 0;
}

store_t *
store_open (const store_config_t *config, char *err, size_t errlen)
{
    if (!config || !config->dir || !*config->dir) {
        err_set (err, errlen, "store: no data directory");
        return NULL;
    }
    if (mkdir (config->dir, 0700) != 0 && errno != EEXIST) {
        err_set (err, errlen, "store: cannot create %s: %s", config->dir, strerror (errno));
        return NULL;
    }
    store_t *self = calloc (1, sizeof *self);
    self->dir = strdup (config->dir);
    self->max_map_bytes = config->max_map_bytes;
    uint64_t map = config->initial_map_bytes ? config->initial_map_bytes : DEFAULT_MAP_BYTES;
    if (self->max_map_bytes && map > self->max_map_bytes)
        map = self->max_map_bytes;

    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init (&attr);
    pthread_rwlockattr_setkind_np (&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init (&self->resize, &attr);
    pthread_rwlockattr_destroy (&attr);

    int rc = mdb_env_create (&self->env);
    if (!rc)
        rc = mdb_env_set_maxdbs (self->env, 32);
    if (!rc)
        rc = mdb_env_set_maxreaders (self->env, 512);
    if (!rc)
        rc = mdb_env_set_mapsize (self->env, (size_t) map);
    unsigned flags = MDB_NOTLS | (config->no_sync ? MDB_NOSYNC : 0);
    if (!rc)
        rc = mdb_env_open (self->env, self->dir, flags, 0600);
    if (rc) {
        err_set (err, errlen, "store: cannot open %s: %s", self->dir, mdb_strerror (rc));
        store_destroy (&self);
        return NULL;
    }
    MDB_envinfo info;
    mdb_env_info (self->env, &info);
    self->map_bytes = info.me_mapsize;
    if (open_dbis (self, err, errlen) != 0) {
        store_destroy (&self);
        return NULL;
    }
    log_info ("store", "opened %s (map %llu MiB)", self->dir,
              (unsigned long long) (self->map_bytes >> 20));
    return self;
}

void
store_destroy (store_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    store_t *self = *self_p;
    if (self->env)
        mdb_env_close (self->env);
    pthread_rwlock_destroy (&self->resize);
    store_review_free (self);
    free (self->dir);
    free (self);
    *self_p = NULL;
}

MDB_env *
store_env (store_t *self)
{
    return self->env;
}

MDB_txn *
store_read_begin (store_t *self)
{
    pthread_rwlock_rdlock (&self->resize);
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin (self->env, NULL, MDB_RDONLY, &txn);
    if (rc) {
        pthread_rwlock_unlock (&self->resize);
        log_error ("store", "read transaction: %s", mdb_strerror (rc));
        return NULL;
    }
    return txn;
}

void
store_read_end (store_t *self, MDB_txn *txn)
{
    if (!txn)
        return;
    mdb_txn_abort (txn);
    pthread_rwlock_unlock (&self->resize);
}

bool
store_grow (store_t *self)
{
    uint64_t next = self->map_bytes * 2;
    if (self->max_map_bytes && next > self->max_map_bytes)
        next = self->max_map_bytes;
    if (next <= self->map_bytes)
        return false;
    pthread_rwlock_wrlock (&self->resize);
    int rc = mdb_env_set_mapsize (self->env, (size_t) next);
    pthread_rwlock_unlock (&self->resize);
    if (rc) {
        log_error ("store", "cannot grow map to %llu MiB: %s", (unsigned long long) (next >> 20),
                   mdb_strerror (rc));
        return false;
    }
    log_info ("store", "map grown from %llu to %llu MiB",
              (unsigned long long) (self->map_bytes >> 20), (unsigned long long) (next >> 20));
    self->map_bytes = next;
    return true;
}

uint64_t
store_last_key (MDB_txn *txn, MDB_dbi dbi)
{
    MDB_cursor *cur;
    if (mdb_cursor_open (txn, dbi, &cur))
        return 0;
    MDB_val k, v;
    uint64_t last = 0;
    if (mdb_cursor_get (cur, &k, &v, MDB_LAST) == 0 && k.mv_size == 8)
        last = be64_get (k.mv_data);
    mdb_cursor_close (cur);
    return last;
}

static uint64_t
entries (MDB_txn *txn, MDB_dbi dbi)
{
    MDB_stat st;
    return mdb_stat (txn, dbi, &st) == 0 ? st.ms_entries : 0;
}

uint64_t
store_meta_u64 (store_t *self, MDB_txn *txn, const char *name)
{
    MDB_val key = { strlen (name), (void *) name }, val;
    if (mdb_get (txn, self->meta, &key, &val) == 0 && val.mv_size == 8)
        return be64_get (val.mv_data);
    return 0;
}

void
store_stats (store_t *self, MDB_txn *txn, store_stats_t *out)
{
    memset (out, 0, sizeof *out);
    out->items = entries (txn, self->items);
    out->labelled = entries (txn, self->labels);
    out->pending = entries (txn, self->pending);
    out->last_seq = store_last_key (txn, self->history);
    out->last_ticket = store_meta_u64 (self, txn, "last_ticket");
    out->manifest_version = store_last_key (txn, self->manifests);
    out->current_model = store_meta_u64 (self, txn, "current_model");
    out->models = entries (txn, self->models);
    out->training = entries (txn, self->training);
    out->human_labels = store_meta_u64 (self, txn, "human_labels");
    MDB_envinfo info;
    MDB_stat st;
    mdb_env_info (self->env, &info);
    mdb_env_stat (self->env, &st);
    out->map_bytes = info.me_mapsize;
    out->used_bytes = (uint64_t) (info.me_last_pgno + 1) * st.ms_psize;
}

bool
store_read_stats (store_t *self, store_stats_t *out)
{
    MDB_txn *txn = store_read_begin (self);
    if (!txn) {
        memset (out, 0, sizeof *out);
        return false;
    }
    store_stats (self, txn, out);
    store_read_end (self, txn);
    return true;
}

int
store_get_state (store_t *self, MDB_txn *txn, const char *id, size_t id_len, item_state_t *state)
{
    MDB_val key = { id_len, (void *) id }, val;
    int rc = mdb_get (txn, self->state, &key, &val);
    if (rc)
        return rc;
    if (val.mv_size != sizeof *state)
        return MDB_CORRUPTED;
    memcpy (state, val.mv_data, sizeof *state);
    return 0;
}

int
store_get_item (store_t *self, MDB_txn *txn, const char *id, size_t id_len,
                Annotate__V1__Item **item, Annotate__V1__Label **label, item_state_t *state)
{
    if (!id_len || id_len > STORE_MAX_ID_BYTES)
        return MDB_NOTFOUND;
    MDB_val key = { id_len, (void *) id }, val;
    int rc = mdb_get (txn, self->items, &key, &val);
    if (rc)
        return rc;
    if (item) {
        *item = annotate__v1__item__unpack (NULL, val.mv_size, val.mv_data);
        if (!*item)
            return MDB_CORRUPTED;
    }
    if (label) {
        *label = NULL;
        if (mdb_get (txn, self->labels, &key, &val) == 0)
            *label = annotate__v1__label__unpack (NULL, val.mv_size, val.mv_data);
    }
    if (state) {
        memset (state, 0, sizeof *state);
        store_get_state (self, txn, id, id_len, state);
    }
    return 0;
}

size_t
store_item_history (store_t *self, MDB_txn *txn, const char *id, size_t id_len, store_event_fn fn,
                    void *arg)
{
    MDB_cursor *cur;
    if (!id_len || id_len > STORE_MAX_ID_BYTES || mdb_cursor_open (txn, self->item_seq, &cur))
        return 0;
    MDB_val key = { id_len, (void *) id }, val;
    size_t n = 0;
    int rc = mdb_cursor_get (cur, &key, &val, MDB_SET_KEY);
    while (rc == 0) {
        if (val.mv_size == 8) {
            MDB_val ev;
            MDB_val seqkey = { 8, val.mv_data };
            if (mdb_get (txn, self->history, &seqkey, &ev) == 0) {
                n++;
                if (!fn (arg, be64_get (val.mv_data), ev.mv_data, ev.mv_size))
                    break;
            }
        }
        rc = mdb_cursor_get (cur, &key, &val, MDB_NEXT_DUP);
    }
    mdb_cursor_close (cur);
    return n;
}

/*  Positions cur on the first key > after in a database of big-endian
    u64 keys. MDB_NOTFOUND when there is none (also for after = UINT64_MAX,
    where after + 1 would wrap to the start).  */
static int
cursor_after_u64 (MDB_cursor *cur, uint64_t after, uint8_t kb[8], MDB_val *key, MDB_val *val)
{
    if (after == UINT64_MAX)
        return MDB_NOTFOUND;
    be64_put (kb, after + 1);
    *key = (MDB_val) { 8, kb };
    return mdb_cursor_get (cur, key, val, MDB_SET_RANGE);
}

/*  Positions cur on the first key > after (NULL or "": the first key) in a
    database of string keys.  */
static int
cursor_after_str (MDB_cursor *cur, const char *after, MDB_val *key, MDB_val *val)
{
    size_t len = after ? strlen (after) : 0;
    if (!len)
        return mdb_cursor_get (cur, key, val, MDB_FIRST);
    *key = (MDB_val) { len, (void *) after };
    int rc = mdb_cursor_get (cur, key, val, MDB_SET_RANGE);
    if (rc == 0 && key->mv_size == len && memcmp (key->mv_data, after, len) == 0)
        rc = mdb_cursor_get (cur, key, val, MDB_NEXT);
    return rc;
}

size_t
store_history_after (store_t *self, MDB_txn *txn, uint64_t after_seq, size_t max, store_event_fn fn,
                     void *arg)
{
    MDB_cursor *cur;
    if (max == 0 || mdb_cursor_open (txn, self->history, &cur))
        return 0;
    uint8_t kb[8];
    MDB_val key, val;
    size_t n = 0;
    int rc = cursor_after_u64 (cur, after_seq, kb, &key, &val);
    while (rc == 0 && n < max) {
        if (key.mv_size == 8) {
            n++;
            if (!fn (arg, be64_get (key.mv_data), val.mv_data, val.mv_size))
                break;
        }
        rc = mdb_cursor_get (cur, &key, &val, MDB_NEXT);
    }
    mdb_cursor_close (cur);
    return n;
}

size_t
store_pending_after (store_t *self, MDB_txn *txn, uint64_t after_ticket, size_t max,
                     store_pending_fn fn, void *arg)
{
    MDB_cursor *cur;
    if (max == 0 || mdb_cursor_open (txn, self->pending, &cur))
        return 0;
    uint8_t kb[8];
    MDB_val key, val;
    size_t n = 0;
    int rc = cursor_after_u64 (cur, after_ticket, kb, &key, &val);
    while (rc == 0 && n < max) {
        MDB_val item;
        if (key.mv_size == 8 && mdb_get (txn, self->items, &val, &item) == 0) {
            n++;
            if (!fn (arg, be64_get (key.mv_data), val.mv_data, val.mv_size, item.mv_data,
                     item.mv_size))
                break;
        }
        rc = mdb_cursor_get (cur, &key, &val, MDB_NEXT);
    }
    mdb_cursor_close (cur);
    return n;
}

size_t
store_scan_items (store_t *self, MDB_txn *txn, const char *after_id, size_t scan_limit,
                  store_item_fn fn, void *arg, char **last)
{
    MDB_cursor *cur;
    *last = NULL;
    if (scan_limit == 0 || mdb_cursor_open (txn, self->items, &cur))
        return 0;
    MDB_val key, val;
    int rc = cursor_after_str (cur, after_id, &key, &val);
    size_t n = 0;
    MDB_val last_key = { 0, NULL };
    while (rc == 0 && n < scan_limit) {
        n++;
        last_key = key;
        item_state_t st;
        memset (&st, 0, sizeof st);
        store_get_state (self, txn, key.mv_data, key.mv_size, &st);
        MDB_val lab = { 0, NULL };
        mdb_get (txn, self->labels, &key, &lab);
        if (!fn (arg, key.mv_data, key.mv_size, &st, lab.mv_data, lab.mv_size, val.mv_data,
                 val.mv_size))
            break;
        rc = mdb_cursor_get (cur, &key, &val, MDB_NEXT);
    }
    if (last_key.mv_data && (rc == 0 || n >= scan_limit)) {
        *last = malloc (last_key.mv_size + 1);
        memcpy (*last, last_key.mv_data, last_key.mv_size);
        (*last)[last_key.mv_size] = 0;
    }
    mdb_cursor_close (cur);
    return n;
}

int
store_get_manifest (store_t *self, MDB_txn *txn, uint64_t version, char **text, size_t *len,
                    uint64_t *version_out)
{
    if (version == 0)
        version = store_last_key (txn, self->manifests);
    if (version == 0)
        return MDB_NOTFOUND;
    uint8_t kb[8];
    be64_put (kb, version);
    MDB_val key = { 8, kb }, val;
    int rc = mdb_get (txn, self->manifests, &key, &val);
    if (rc)
        return rc;
    *text = malloc (val.mv_size + 1);
    memcpy (*text, val.mv_data, val.mv_size);
    (*text)[val.mv_size] = 0;
    if (len)
        *len = val.mv_size;
    if (version_out)
        *version_out = version;
    return 0;
}

int
store_get_model (store_t *self, MDB_txn *txn, uint64_t version, const uint8_t **blob, size_t *len,
                 uint64_t *version_out)
{
    if (version == 0)
        version = store_meta_u64 (self, txn, "current_model");
    if (version == 0)
        return MDB_NOTFOUND;
    uint8_t kb[8];
    be64_put (kb, version);
    MDB_val key = { 8, kb }, val;
    int rc = mdb_get (txn, self->models, &key, &val);
    if (rc)
        return rc;
    *blob = val.mv_data;
    *len = val.mv_size;
    if (version_out)
        *version_out = version;
    return 0;
}

size_t
store_list_models (store_t *self, MDB_txn *txn, store_event_fn fn, void *arg)
{
    MDB_cursor *cur;
    if (mdb_cursor_open (txn, self->model_info, &cur))
        return 0;
    MDB_val key, val;
    size_t n = 0;
    int rc = mdb_cursor_get (cur, &key, &val, MDB_FIRST);
    while (rc == 0) {
        if (key.mv_size == 8) {
            n++;
            if (!fn (arg, be64_get (key.mv_data), val.mv_data, val.mv_size))
                break;
        }
        rc = mdb_cursor_get (cur, &key, &val, MDB_NEXT);
    }
    mdb_cursor_close (cur);
    return n;
}

size_t
store_training_after (store_t *self, MDB_txn *txn, const char *after_id, size_t max,
                      store_training_fn fn, void *arg)
{
    MDB_cursor *cur;
    if (max == 0 || mdb_cursor_open (txn, self->training, &cur))
        return 0;
    MDB_val key, val;
    int rc = cursor_after_str (cur, after_id, &key, &val);
    size_t n = 0;
    while (rc == 0 && n < max) {
        MDB_val item;
        if (mdb_get (txn, self->items, &key, &item) == 0) {
            item_state_t st;
            bool validation = store_get_state (self, txn, key.mv_data, key.mv_size, &st) == 0
                              && (st.flags & ITEM_FLAG_VALIDATION);
            n++;
            if (!fn (arg, key.mv_data, key.mv_size, val.mv_data, val.mv_size, item.mv_data,
                     item.mv_size, validation))
                break;
        }
        rc = mdb_cursor_get (cur, &key, &val, MDB_NEXT);
    }
    mdb_cursor_close (cur);
    return n;
}

uint32_t
store_label_id (store_t *self, MDB_txn *txn, const char *label)
{
    MDB_val key = { strlen (label), (void *) label }, val;
    if (mdb_get (txn, self->taxonomy, &key, &val) == 0 && val.mv_size == 8)
        return (uint32_t) be64_get (val.mv_data);
    return 0;
}

int
store_get_model_info (store_t *self, MDB_txn *txn, uint64_t version,
                      Annotate__V1__ModelInfo **info)
{
    uint8_t kb[8];
    be64_put (kb, version);
    MDB_val key = { 8, kb }, val;
    *info = NULL;
    int rc = mdb_get (txn, self->model_info, &key, &val);
    if (rc)
        return rc;
    *info = annotate__v1__model_info__unpack (NULL, val.mv_size, val.mv_data);
    return *info ? 0 : MDB_CORRUPTED;
}
