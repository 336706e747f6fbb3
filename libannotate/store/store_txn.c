/*  store_txn.c: the write operations, each run inside a transaction the
    writer owns.

    A function here may leave partial writes behind when it fails; the
    writer runs every request in its own nested transaction and aborts just
    that one, so a failed request never leaves a trace and never spoils the
    other requests of its group commit. Cheap checks (dimensions, taxonomy,
    limits) run before the first write so most failures cost nothing.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "store/store_internal.h"
#include "util/util.h"

/* ---- transactions ----------------------------------------------------- */

int
store_write_begin (store_t *self, MDB_txn **txn)
{
    return mdb_txn_begin (self->env, NULL, 0, txn);
}

int
store_write_commit (store_t *self, MDB_txn *txn)
{
    int rc = mdb_txn_commit (txn);
    if (rc == MDB_MAP_FULL)
        store_grow (self);
    return rc;
}

void
store_write_abort (store_t *self, MDB_txn *txn)
{
    (void) self;
    mdb_txn_abort (txn);
}

/* ---- helpers ------------------------------------------------------------ */

static store_status_t
lmdb_status (int rc, char *err, size_t errlen, const char *what)
{
    if (rc == MDB_MAP_FULL) {
        err_set (err, errlen, "store full: %s", what);
        return STORE_FULL;
    }
    err_set (err, errlen, "store: %s: %s", what, mdb_strerror (rc));
    return STORE_IO;
}

/*  mdb_del that treats "already gone" as done.  */
static int
del_if_present (MDB_txn *txn, MDB_dbi dbi, MDB_val *key)
{
    int rc = mdb_del (txn, dbi, key, NULL);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/*  Takes an item out of the pending queue (no-op without a ticket).  */
static int
drop_ticket (store_t *self, MDB_txn *txn, item_state_t *st)
{
    int rc = 0;
    if (st->ticket) {
        uint8_t kb[8];
        be64_put (kb, st->ticket);
        MDB_val tkey = { 8, kb };
        rc = del_if_present (txn, self->pending, &tkey);
    }
    st->ticket = 0;
    return rc;
}

/*  Packs msg straight into LMDB's page with MDB_RESERVE: no extra copy.  */
static int
put_packed (MDB_txn *txn, MDB_dbi dbi, MDB_val *key, const ProtobufCMessage *msg, unsigned flags)
{
    MDB_val val = { protobuf_c_message_get_packed_size (msg), NULL };
    int rc = mdb_put (txn, dbi, key, &val, flags | MDB_RESERVE);
    if (rc == 0)
        protobuf_c_message_pack (msg, val.mv_data);
    return rc;
}

static void
content_hash (const Annotate__V1__Item *item, uint8_t out[16])
{
    XXH3_state_t *st = XXH3_createState ();
    XXH3_128bits_reset (st);
    const char *parts[3] = { item->text, item->meta_json, item->label };
    for (int i = 0; i < 3; i++) {
        uint64_t len = parts[i] ? strlen (parts[i]) : 0;
        XXH3_128bits_update (st, &len, sizeof len);
        if (len)
            XXH3_128bits_update (st, parts[i], len);
    }
    uint64_t dim = item->n_vector;
    XXH3_128bits_update (st, &dim, sizeof dim);
    if (dim)
        XXH3_128bits_update (st, item->vector, dim * sizeof (float));
    XXH128_hash_t h = XXH3_128bits_digest (st);
    XXH3_freeState (st);
    XXH128_canonical_t c;
    XXH128_canonicalFromHash (&c, h);
    memcpy (out, c.digest, 16);
}

static bool
in_taxonomy (const store_policy_t *policy, const char *label)
{
    for (size_t i = 0; i < policy->n_labels; i++)
        if (strcmp (policy->labels[i], label) == 0)
            return true;
    return false;
}

static uint8_t
status_for_source (Annotate__V1__LabelSource source)
{
    switch (source) {
    case ANNOTATE__V1__LABEL_SOURCE__SOURCE_HUMAN:
    case ANNOTATE__V1__LABEL_SOURCE__SOURCE_GOLD:
    case ANNOTATE__V1__LABEL_SOURCE__SOURCE_AUTO:
    case ANNOTATE__V1__LABEL_SOURCE__SOURCE_PROPAGATION:  /* stored only when accepted */
        return ANNOTATE__V1__ITEM_STATUS__STATUS_ACCEPTED;
    default:
        return ANNOTATE__V1__ITEM_STATUS__STATUS_LABELLED;
    }
}

int
store_put_state (store_t *self, MDB_txn *txn, MDB_val *key, const item_state_t *st)
{
    MDB_val val = { sizeof *st, (void *) st };
    return mdb_put (txn, self->state, key, &val, 0);
}

/*  Keeps `training` equal to the items whose current label is human or
    gold. Re-annotation never replaces those, so only they add entries.  */
static int
update_training (store_t *self, MDB_txn *txn, MDB_val *key, const Annotate__V1__Label *label)
{
    int rc;
    if (label->source == ANNOTATE__V1__LABEL_SOURCE__SOURCE_HUMAN
        || label->source == ANNOTATE__V1__LABEL_SOURCE__SOURCE_GOLD) {
        MDB_val val = { strlen (label->label), label->label };
        rc = mdb_put (txn, self->training, key, &val, 0);
    }
    else
        rc = del_if_present (txn, self->training, key);
    return rc;
}

/*  Appends one history event and makes it the item's current label.  */
int
store_append_event (store_t *self, MDB_txn *txn, uint64_t seq, const char *id,
                    const Annotate__V1__Label *label, item_state_t *st)
{
    Annotate__V1__LabelEvent ev = ANNOTATE__V1__LABEL_EVENT__INIT;
    ev.seq = seq;
    ev.item_id = (char *) id;
    ev.label = (Annotate__V1__Label *) label;
    uint8_t kb[8];
    be64_put (kb, seq);
    MDB_val skey = { 8, kb };
    int rc = put_packed (txn, self->history, &skey, &ev.base, MDB_APPEND);
    MDB_val ikey = { strlen (id), (void *) id };
    if (!rc) {
        MDB_val sval = { 8, kb };
        rc = mdb_put (txn, self->item_seq, &ikey, &sval, 0);
    }
    if (!rc)
        rc = put_packed (txn, self->labels, &ikey, &label->base, 0);
    if (!rc)
        rc = store_count_source (self, txn, st->source, (uint8_t) label->source);
    if (!rc) {
        st->label_seq = seq;
        st->source = (uint8_t) label->source;
        st->status = st->review ? ANNOTATE__V1__ITEM_STATUS__STATUS_REVIEW
                                : status_for_source (label->source);
        rc = update_training (self, txn, &ikey, label);
    }
    return rc;
}

int
store_put_meta_u64 (store_t *self, MDB_txn *txn, const char *name, uint64_t v)
{
    uint8_t buf[8];
    be64_put (buf, v);
    MDB_val key = { strlen (name), (void *) name }, val = { 8, buf };
    return mdb_put (txn, self->meta, &key, &val, 0);
}

/* ---- ingest ------------------------------------------------------------ */

static store_status_t
check_items (const store_policy_t *policy, Annotate__V1__Item *const *items, size_t n,
             char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        const Annotate__V1__Item *it = items[i];
        size_t id_len = it->id ? strlen (it->id) : 0;
        if (id_len == 0 || id_len > STORE_MAX_ID_BYTES) {
            err_set (err, errlen, "items[%zu].id: must be 1..%d bytes", i, STORE_MAX_ID_BYTES);
            return STORE_INVALID;
        }
        if (it->n_vector && policy->vector_dim == 0) {
            err_set (err, errlen,
                     "items[%zu].vector: this cluster takes no vectors (items.vector_dim is 0)", i);
            return STORE_INVALID;
        }
        if (it->n_vector && it->n_vector != policy->vector_dim) {
            err_set (err, errlen, "items[%zu].vector: dimension %zu, the manifest says %u", i,
                     it->n_vector, policy->vector_dim);
            return STORE_INVALID;
        }
        for (size_t k = 0; k < it->n_vector; k++)
            if (!isfinite (it->vector[k])) {
                err_set (err, errlen, "items[%zu].vector[%zu]: not a finite number", i, k);
                return STORE_INVALID;
            }
        if (it->label && *it->label && !in_taxonomy (policy, it->label)) {
            err_set (err, errlen, "items[%zu].label: \"%.64s\" is not in the taxonomy", i,
                     it->label);
            return STORE_INVALID;
        }
    }
    return STORE_OK;
}

/*  Writes one new or replacing item: the record, then either its gold label
    or a pending ticket.  */
static int
write_item (store_t *self, MDB_txn *txn, const store_policy_t *policy, Annotate__V1__Item *it,
            const uint8_t hash[16], int64_t now_ms, uint64_t *last_seq, uint64_t *last_ticket,
            item_state_t *st)
{
    MDB_val key = { strlen (it->id), it->id };
    /* the stored record carries the hash and time; the caller's item is
       restored afterwards because it belongs to the request */
    ProtobufCBinaryData saved_hash = it->content_hash;
    int64_t saved_at = it->ingested_at_ms;
    it->content_hash = (ProtobufCBinaryData) { 16, (uint8_t *) hash };
    it->ingested_at_ms = now_ms;
    int rc = put_packed (txn, self->items, &key, &it->base, 0);
    it->content_hash = saved_hash;
    it->ingested_at_ms = saved_at;
    if (rc)
        return rc;
    memcpy (st->hash, hash, 16);
    if (it->label && *it->label) {
        Annotate__V1__Label gold = ANNOTATE__V1__LABEL__INIT;
        gold.label = it->label;
        gold.confidence = 1.0f;
        gold.source = ANNOTATE__V1__LABEL_SOURCE__SOURCE_GOLD;
        gold.time_ms = now_ms;
        gold.annotator = "ingest";
        rc = store_append_event (self, txn, ++*last_seq, it->id, &gold, st);
    }
    else {
        bool duplicate = false;
        if (policy->dedup)
            rc = store_dedup_ingest (self, txn, it, st, now_ms, last_seq, &duplicate);
        if (!rc && !duplicate) {
            uint8_t kb[8];
            be64_put (kb, ++*last_ticket);
            MDB_val tkey = { 8, kb };
            rc = mdb_put (txn, self->pending, &tkey, &key, MDB_APPEND);
            st->ticket = *last_ticket;
            st->status = ANNOTATE__V1__ITEM_STATUS__STATUS_PENDING;
        }
    }
    if (!rc)
        rc = store_put_state (self, txn, &key, st);
    return rc;
}

/*  An existing id: identical content is a no-op, other content is a
    conflict unless replace is set. Replacing drops the pending ticket and
    the current label (history keeps every past event).  */
static int
replace_prepare (store_t *self, MDB_txn *txn, MDB_val *key, const Annotate__V1__Item *next,
                 item_state_t *st, uint64_t *last_ticket)
{
    int rc = drop_ticket (self, txn, st);
    if (!rc)
        rc = store_dedup_forget (self, txn, key->mv_data, key->mv_size, next, last_ticket);
    if (!rc)
        rc = del_if_present (txn, self->labels, key);
    if (!rc)
        rc = del_if_present (txn, self->training, key);
    if (!rc)
        rc = store_review_dequeue (self, txn, key->mv_data, key->mv_size, st);
    if (!rc)
        rc = store_count_source (self, txn, st->source, 0);
    st->flags = 0;      /* new content: a new sample draw, a new duplicate check */
    st->source = 0;
    st->label_seq = 0;  /* no current label any more (history keeps it) */
    return rc;
}

store_status_t
store_txn_ingest (store_t *self, MDB_txn *txn, const store_policy_t *policy,
                  Annotate__V1__Item *const *items, size_t n, bool replace, int64_t now_ms,
                  store_ingest_result_t *res, char *err, size_t errlen)
{
    memset (res, 0, sizeof *res);
    store_status_t status = check_items (policy, items, n, err, errlen);
    if (status != STORE_OK)
        return status;
    MDB_stat pst;
    mdb_stat (txn, self->pending, &pst);
    uint64_t pending_before = pst.ms_entries;
    uint64_t last_seq = store_last_key (txn, self->history);
    uint64_t last_ticket = store_meta_u64 (self, txn, "last_ticket");
    for (size_t i = 0; i < n; i++) {
        Annotate__V1__Item *it = items[i];
        uint8_t hash[16];
        content_hash (it, hash);
        MDB_val key = { strlen (it->id), it->id };
        item_state_t st;
        int rc = store_get_state (self, txn, it->id, key.mv_size, &st);
        if (rc == 0) {
            if (memcmp (st.hash, hash, 16) == 0) {
                res->unchanged++;
                continue;
            }
            if (!replace) {
                err_set (err, errlen,
                         "items[%zu].id: \"%.64s\" exists with different content "
                         "(set replace to overwrite it)",
                         i, it->id);
                return STORE_CONFLICT;
            }
            rc = replace_prepare (self, txn, &key, it, &st, &last_ticket);
            res->replaced++;
        }
        else if (rc == MDB_NOTFOUND) {
            memset (&st, 0, sizeof st);
            rc = 0;
            res->accepted++;
        }
        if (!rc)
            rc = write_item (self, txn, policy, it, hash, now_ms, &last_seq, &last_ticket, &st);
        if (rc)
            return lmdb_status (rc, err, errlen, "writing items");
    }
    /* checked after the loop so that only items that really join the queue
       count: identical re-ingests and gold-labelled items never do. The
       writer aborts this request's nested transaction on the way out. */
    mdb_stat (txn, self->pending, &pst);
    if (policy->max_pending && pst.ms_entries > pending_before
        && pst.ms_entries > policy->max_pending) {
        err_set (err, errlen, "%llu items are waiting for annotation (max_pending %llu): retry later",
                 (unsigned long long) pending_before, (unsigned long long) policy->max_pending);
        return STORE_OVERLOADED;
    }
    int rc = store_put_meta_u64 (self, txn, "last_ticket", last_ticket);
    if (rc)
        return lmdb_status (rc, err, errlen, "writing meta");
    res->pending = pst.ms_entries;
    res->last_seq = last_seq;
    return STORE_OK;
}

/* ---- labels ------------------------------------------------------------ */

/*  May a re-annotation (ticket 0) by model version v replace the current
    label? Only labels from no model or an older model give way.  */
static bool
reannotation_applies (store_t *self, MDB_txn *txn, MDB_val *key, const item_state_t *st,
                      const Annotate__V1__Label *l)
{
    if (l->source != ANNOTATE__V1__LABEL_SOURCE__SOURCE_MODEL || l->model_version == 0
        || (st->flags & ITEM_FLAG_DUPLICATE))
        return false;
    if (st->source == 0 || st->source == ANNOTATE__V1__LABEL_SOURCE__SOURCE_NONE)
        return st->ticket == 0;
    if (st->source != ANNOTATE__V1__LABEL_SOURCE__SOURCE_MODEL)
        return false;
    MDB_val val;
    if (mdb_get (txn, self->labels, key, &val) != 0)
        return false;
    Annotate__V1__Label *cur = annotate__v1__label__unpack (NULL, val.mv_size, val.mv_data);
    bool newer = cur && cur->model_version < l->model_version;
    if (cur)
        protobuf_c_message_free_unpacked (&cur->base, NULL);
    return newer;
}

store_status_t
store_txn_labels (store_t *self, MDB_txn *txn, const store_policy_t *policy,
                  const store_label_t *labels, size_t n, int64_t now_ms, uint64_t *applied,
                  uint64_t *discarded, char *err, size_t errlen)
{
    *applied = *discarded = 0;
    uint64_t last_seq = store_last_key (txn, self->history);
    if (policy && policy->al_enabled)
        store_review_refresh (self, txn);
    for (size_t i = 0; i < n; i++) {
        const store_label_t *l = &labels[i];
        size_t id_len = l->id ? strlen (l->id) : 0;
        item_state_t st;
        MDB_val key = { id_len, (void *) l->id };
        if (!l->label || id_len == 0 || id_len > STORE_MAX_ID_BYTES
            || store_get_state (self, txn, l->id, id_len, &st) != 0
            || (l->ticket != 0 && st.ticket != l->ticket)
            || (l->ticket == 0 && !reannotation_applies (self, txn, &key, &st, l->label))) {
            ++*discarded;
            continue;
        }
        Annotate__V1__Label copy = *l->label;
        copy.time_ms = now_ms;
        copy.threshold = 0.0f;
        copy.reason = ANNOTATE__V1__REVIEW_REASON__REASON_UNSPECIFIED;
        int rc = store_review_route (self, txn, policy, l->id, id_len, &st, &copy);
        if (!rc)
            rc = store_append_event (self, txn, ++last_seq, l->id, &copy, &st);
        if (!rc)
            rc = store_dedup_follow (self, txn, l->id, &copy, now_ms, &last_seq);
        if (!rc)
            rc = drop_ticket (self, txn, &st);
        if (!rc)
            rc = store_put_state (self, txn, &key, &st);
        if (rc)
            return lmdb_status (rc, err, errlen, "writing labels");
        ++*applied;
    }
    return STORE_OK;
}

/* ---- human labels ---------------------------------------------------------- */

/*  Whether the item's current label is this person's with this label.  */
static bool
s_same_human_label (store_t *self, MDB_txn *txn, const char *id, size_t id_len,
                    const char *label, const char *annotator)
{
    MDB_val key = { id_len, (void *) id }, val;
    if (mdb_get (txn, self->labels, &key, &val) != 0)
        return false;
    Annotate__V1__Label *cur = annotate__v1__label__unpack (NULL, val.mv_size, val.mv_data);
    bool same = cur && cur->label && cur->annotator && strcmp (cur->label, label) == 0
                && strcmp (cur->annotator, annotator) == 0;
    if (cur)
        protobuf_c_message_free_unpacked (&cur->base, NULL);
    return same;
}

store_status_t
store_txn_human_label (store_t *self, MDB_txn *txn, const store_policy_t *policy, const char *id,
                       const char *label, const char *annotator, int64_t now_ms, uint64_t *seq,
                       bool *duplicate, char *err, size_t errlen)
{
    if (duplicate)
        *duplicate = false;
    size_t id_len = id ? strlen (id) : 0;
    if (id_len == 0 || id_len > STORE_MAX_ID_BYTES) {
        err_set (err, errlen, "id: must be 1..%d bytes", STORE_MAX_ID_BYTES);
        return STORE_INVALID;
    }
    if (!label || !*label || !in_taxonomy (policy, label)) {
        err_set (err, errlen, "label: \"%.64s\" is not in the taxonomy", label ? label : "");
        return STORE_INVALID;
    }
    item_state_t st;
    if (store_get_state (self, txn, id, id_len, &st) != 0) {
        err_set (err, errlen, "item \"%.256s\" not found", id);
        return STORE_NOT_FOUND;
    }
    const char *who = annotator && *annotator ? annotator : "anonymous";
    if (st.source == ANNOTATE__V1__LABEL_SOURCE__SOURCE_HUMAN
        && s_same_human_label (self, txn, id, id_len, label, who)) {
        *seq = st.label_seq;    /* the same answer again (a retry): nothing new */
        if (duplicate)
            *duplicate = true;
        return STORE_OK;
    }
    Annotate__V1__Label human = ANNOTATE__V1__LABEL__INIT;
    human.label = (char *) label;
    human.confidence = 1.0f;
    human.source = ANNOTATE__V1__LABEL_SOURCE__SOURCE_HUMAN;
    human.time_ms = now_ms;
    human.annotator = (char *) who;
    *seq = store_last_key (txn, self->history) + 1;
    int rc = store_review_human (self, txn, id, id_len, &st, &human);
    if (!rc)
        rc = store_append_event (self, txn, *seq, id, &human, &st);
    uint64_t last = *seq;
    if (!rc)
        rc = store_dedup_follow (self, txn, id, &human, now_ms, &last);
    /* a person answered first: a queued annotation is no longer needed */
    if (!rc)
        rc = drop_ticket (self, txn, &st);
    MDB_val key = { id_len, (void *) id };
    if (!rc)
        rc = store_put_state (self, txn, &key, &st);
    if (!rc)
        rc = store_put_meta_u64 (self, txn, "human_labels",
                                 store_meta_u64 (self, txn, "human_labels") + 1);
    return rc ? lmdb_status (rc, err, errlen, "writing a human label") : STORE_OK;
}

/* ---- models ------------------------------------------------------------------ */

store_status_t
store_txn_put_model (store_t *self, MDB_txn *txn, const uint8_t *blob, size_t len,
                     Annotate__V1__ModelInfo *info, bool make_current, int64_t now_ms,
                     uint64_t *version)
{
    uint64_t v = store_last_key (txn, self->models) + 1;
    uint8_t kb[8];
    be64_put (kb, v);
    MDB_val key = { 8, kb }, val = { len, (void *) blob };
    int rc = mdb_put (txn, self->models, &key, &val, MDB_APPEND);
    if (!rc) {
        info->version = v;
        info->created_ms = now_ms;
        rc = put_packed (txn, self->model_info, &key, &info->base, MDB_APPEND);
    }
    if (!rc && make_current)
        rc = store_put_meta_u64 (self, txn, "current_model", v);
    if (rc)
        return rc == MDB_MAP_FULL ? STORE_FULL : STORE_IO;
    *version = v;
    return STORE_OK;
}

store_status_t
store_txn_set_current_model (store_t *self, MDB_txn *txn, uint64_t version)
{
    uint8_t kb[8];
    be64_put (kb, version);
    MDB_val key = { 8, kb }, val;
    if (version == 0 || mdb_get (txn, self->models, &key, &val) != 0)
        return STORE_NOT_FOUND;
    int rc = store_put_meta_u64 (self, txn, "current_model", version);
    return rc ? (rc == MDB_MAP_FULL ? STORE_FULL : STORE_IO) : STORE_OK;
}

/* ---- manifests ----------------------------------------------------------- */

store_status_t
store_txn_put_manifest (store_t *self, MDB_txn *txn, const char *text, size_t len,
                        const store_policy_t *policy, uint64_t *version)
{
    uint64_t v = store_last_key (txn, self->manifests) + 1;
    uint8_t kb[8];
    be64_put (kb, v);
    MDB_val key = { 8, kb }, val = { len, (void *) text };
    int rc = mdb_put (txn, self->manifests, &key, &val, MDB_APPEND);
    /* labels keep their id for good: new names get the next one */
    MDB_stat st;
    mdb_stat (txn, self->taxonomy, &st);
    uint64_t next_id = st.ms_entries + 1;
    for (size_t i = 0; !rc && policy && i < policy->n_labels; i++) {
        MDB_val lk = { strlen (policy->labels[i]), policy->labels[i] }, lv;
        if (mdb_get (txn, self->taxonomy, &lk, &lv) == 0)
            continue;
        uint8_t ib[8];
        be64_put (ib, next_id++);
        lv = (MDB_val) { 8, ib };
        rc = mdb_put (txn, self->taxonomy, &lk, &lv, 0);
    }
    if (rc)
        return rc == MDB_MAP_FULL ? STORE_FULL : STORE_IO;
    *version = v;
    return STORE_OK;
}
