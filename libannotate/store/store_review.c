/*  store_review.c: routing of machine labels, the review queue and the
    counters `annotatectl stats` shows.

    Routing happens in the transaction that commits a machine label, so a
    label and where it went are never out of step, whatever crashes:
      - no model yet (SOURCE_NONE): the item joins the queue as cold start,
        in a random but fixed order (al_uniform of its id);
      - a model label: a random share of items (policy al_validation_rate,
        drawn once per item from its id) joins the validation sample and
        the queue's head: people answer those first, they are held out of
        training and they are what the auto-accept thresholds are fitted
        on; otherwise, when the current model's threshold for the label's
        class is met, the label itself is stored as SOURCE_AUTO (with the
        threshold); otherwise the item joins the queue under its
        uncertainty.
    Only a label from the current model version is auto-accepted: the
    thresholds were fitted for that model and say nothing of another. A
    newer model re-annotates queued items (the cluster's sweep), which
    re-routes them, so the queue is re-scored whenever the model changes.

    Queue keys are a big-endian 32-bit priority (0 = first) followed by the
    id, so the B-tree keeps the queue sorted and an item's key can be
    rebuilt from its state (item_state_t.priority) to move or remove it.

    The thresholds of the current model are cached here, on the writer
    thread, and reloaded from its ModelInfo whenever meta current_model or
    meta th_gen (bumped by every refit) differs from what was loaded; the
    writer drops the cache whenever it aborts a transaction, so a cache
    filled from writes that never committed cannot outlive them.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "al/al.h"
#include "store/store_internal.h"
#include "util/util.h"

#define VALIDATION_SEED_MIX 0x76616c6964617465ull   /* "validate" */
#define KEY_MAX (4 + STORE_MAX_ID_BYTES)

/* ---- counters ------------------------------------------------------------ */

int
store_count_add (store_t *self, MDB_txn *txn, const char *name, int64_t delta)
{
    uint64_t v = store_meta_u64 (self, txn, name);
    if (delta < 0 && v < (uint64_t) -delta)
        v = 0;      /* never wraps, even on a store that predates a counter */
    else
        v += (uint64_t) delta;
    return store_put_meta_u64 (self, txn, name, v);
}

static int
count_named (store_t *self, MDB_txn *txn, const char *prefix, unsigned n, int64_t delta)
{
    char name[32];
    snprintf (name, sizeof name, "%s%u", prefix, n);
    return store_count_add (self, txn, name, delta);
}

int
store_count_source (store_t *self, MDB_txn *txn, uint8_t old_source, uint8_t new_source)
{
    if (old_source == new_source)
        return 0;
    int rc = 0;
    if (old_source)
        rc = count_named (self, txn, "src_", old_source, -1);
    if (!rc && new_source)
        rc = count_named (self, txn, "src_", new_source, 1);
    return rc;
}

/* ---- the queue -------------------------------------------------------------- */

static size_t
queue_key (uint8_t out[KEY_MAX], const uint8_t priority[4], const char *id, size_t id_len)
{
    memcpy (out, priority, 4);
    memcpy (out + 4, id, id_len);
    return 4 + id_len;
}

/*  Higher score first: the key grows as the score falls. Key 0 is kept
    for the validation sample, which goes before everything.  */
static void
priority_of (float score, uint8_t out[4])
{
    if (!(score >= 0.0f))
        score = 0.0f;
    if (score > 1.0f)
        score = 1.0f;
    uint32_t k = 1u + (uint32_t) ((double) (1.0f - score) * 4294967293.0);
    out[0] = (uint8_t) (k >> 24);
    out[1] = (uint8_t) (k >> 16);
    out[2] = (uint8_t) (k >> 8);
    out[3] = (uint8_t) k;
}

static float
score_of (const uint8_t key[4])
{
    uint32_t k = (uint32_t) key[0] << 24 | (uint32_t) key[1] << 16 | (uint32_t) key[2] << 8 | key[3];
    if (k == 0)
        return 1.0f;
    return (float) (1.0 - (double) (k - 1) / 4294967293.0);
}

int
store_review_dequeue (store_t *self, MDB_txn *txn, const char *id, size_t id_len,
                      item_state_t *st)
{
    if (!st->review)
        return 0;
    uint8_t kb[KEY_MAX];
    MDB_val key = { queue_key (kb, st->priority, id, id_len), kb };
    int rc = mdb_del (txn, self->review, &key, NULL);
    if (rc == MDB_NOTFOUND)
        rc = 0;
    if (!rc)
        rc = count_named (self, txn, "queue_", st->review, -1);
    if (!rc)
        rc = count_named (self, txn, "queue_", 0, -1);
    st->review = 0;
    memset (st->priority, 0, 4);
    return rc;
}

static int
enqueue (store_t *self, MDB_txn *txn, const char *id, size_t id_len, item_state_t *st,
         uint8_t reason, float score)
{
    if (reason == ANNOTATE__V1__REVIEW_REASON__REASON_VALIDATION)
        memset (st->priority, 0, 4);
    else
        priority_of (score, st->priority);
    uint8_t kb[KEY_MAX];
    MDB_val key = { queue_key (kb, st->priority, id, id_len), kb }, val = { 1, &reason };
    int rc = mdb_put (txn, self->review, &key, &val, 0);
    if (!rc)
        rc = count_named (self, txn, "queue_", reason, 1);
    if (!rc)
        rc = count_named (self, txn, "queue_", 0, 1);
    st->review = reason;
    return rc;
}

/* ---- thresholds of the current model ------------------------------------------ */

static void
thresholds_clear (store_t *self)
{
    for (size_t i = 0; i < self->th.n; i++)
        free (self->th.labels[i]);
    free (self->th.labels);
    free (self->th.value);
    self->th.labels = NULL;
    self->th.value = NULL;
    self->th.n = 0;
}

void
store_review_free (store_t *self)
{
    thresholds_clear (self);
}

void
store_forget_caches (store_t *self)
{
    thresholds_clear (self);
    self->th.version = 0;
    self->th.gen = 0;
}

static void
thresholds_load (store_t *self, MDB_txn *txn, uint64_t version)
{
    thresholds_clear (self);
    self->th.version = version;
    uint8_t kb[8];
    be64_put (kb, version);
    MDB_val key = { 8, kb }, val;
    if (version == 0 || mdb_get (txn, self->model_info, &key, &val) != 0)
        return;
    Annotate__V1__ModelInfo *info
        = annotate__v1__model_info__unpack (NULL, val.mv_size, val.mv_data);
    if (!info)
        return;
    size_t n = info->n_thresholds;
    self->th.labels = calloc (n ? n : 1, sizeof (char *));
    self->th.value = calloc (n ? n : 1, sizeof (float));
    if (self->th.labels && self->th.value) {
        for (size_t i = 0; i < n; i++) {
            const Annotate__V1__ClassThreshold *t = info->thresholds[i];
            char *name = strdup (t->label ? t->label : "");
            if (!name)
                break;
            self->th.labels[i] = name;
            /* a disabled class, or a value outside (0, 1], never accepts */
            self->th.value[i] = t->enabled && t->threshold > 0.0f && t->threshold <= 1.0f
                                    ? t->threshold
                                    : 2.0f;
            self->th.n = i + 1;
        }
    }
    protobuf_c_message_free_unpacked (&info->base, NULL);
}

void
store_review_refresh (store_t *self, MDB_txn *txn)
{
    uint64_t current = store_meta_u64 (self, txn, "current_model");
    uint64_t gen = store_meta_u64 (self, txn, "th_gen");
    if (current != self->th.version || gen != self->th.gen || !self->th.labels) {
        thresholds_load (self, txn, current);
        self->th.gen = gen;
    }
}

store_status_t
store_txn_set_thresholds (store_t *self, MDB_txn *txn, uint64_t version,
                          const Annotate__V1__ModelInfo *fit)
{
    uint8_t kb[8];
    be64_put (kb, version);
    MDB_val key = { 8, kb }, val;
    if (version == 0 || !fit || mdb_get (txn, self->model_info, &key, &val) != 0)
        return STORE_NOT_FOUND;
    Annotate__V1__ModelInfo *info
        = annotate__v1__model_info__unpack (NULL, val.mv_size, val.mv_data);
    if (!info)
        return STORE_IO;
    /*  fit's fields are borrowed for the repack, the stored ones are put
        back before the unpacked message is freed  */
    Annotate__V1__ModelInfo saved = *info;
    info->thresholds = fit->thresholds;
    info->n_thresholds = fit->n_thresholds;
    info->n_validation_sample = fit->n_validation_sample;
    info->sample_accuracy = fit->sample_accuracy;
    info->sample_lower = fit->sample_lower;
    info->sample_upper = fit->sample_upper;
    info->target_accuracy = fit->target_accuracy;
    info->threshold_rule = fit->threshold_rule;
    info->accept_accuracy = fit->accept_accuracy;
    info->accept_lower = fit->accept_lower;
    info->accept_upper = fit->accept_upper;
    info->accept_sample = fit->accept_sample;
    MDB_val out = { protobuf_c_message_get_packed_size (&info->base), NULL };
    int rc = mdb_put (txn, self->model_info, &key, &out, MDB_RESERVE);
    if (!rc)
        protobuf_c_message_pack (&info->base, out.mv_data);
    info->thresholds = saved.thresholds;
    info->n_thresholds = saved.n_thresholds;
    info->threshold_rule = saved.threshold_rule;
    protobuf_c_message_free_unpacked (&info->base, NULL);
    if (!rc)
        rc = store_count_add (self, txn, "th_gen", 1);
    return rc == 0 ? STORE_OK : rc == MDB_MAP_FULL ? STORE_FULL : STORE_IO;
}

static float
threshold_for (store_t *self, const Annotate__V1__Label *label)
{
    if (label->model_version == 0 || label->model_version != self->th.version || !label->label)
        return 2.0f;
    for (size_t i = 0; i < self->th.n; i++)
        if (strcmp (self->th.labels[i], label->label) == 0)
            return self->th.value[i];
    return 2.0f;
}

/* ---- routing ----------------------------------------------------------------- */

static bool
draw_validation (store_t *self, MDB_txn *txn, const store_policy_t *policy, const char *id,
                 size_t id_len)
{
    if (policy->al_validation_rate <= 0.0)
        return false;
    if (policy->al_validation_max
        && store_meta_u64 (self, txn, "val_sampled") >= policy->al_validation_max)
        return false;
    return al_uniform (id, id_len, policy->al_seed ^ VALIDATION_SEED_MIX)
           < policy->al_validation_rate;
}

static int
route_model_label (store_t *self, MDB_txn *txn, const store_policy_t *policy, const char *id,
                   size_t id_len, item_state_t *st, Annotate__V1__Label *label)
{
    int rc = 0;
    if (!(st->flags & ITEM_FLAG_VALIDATION) && draw_validation (self, txn, policy, id, id_len)) {
        st->flags |= ITEM_FLAG_VALIDATION;
        rc = store_count_add (self, txn, "val_sampled", 1);
    }
    if (rc)
        return rc;
    if (st->flags & ITEM_FLAG_VALIDATION)
        return enqueue (self, txn, id, id_len, st, ANNOTATE__V1__REVIEW_REASON__REASON_VALIDATION,
                        1.0f);
    float th = policy->al_auto_accept ? threshold_for (self, label) : 2.0f;
    if (label->confidence >= th) {
        label->source = ANNOTATE__V1__LABEL_SOURCE__SOURCE_AUTO;
        label->threshold = th;
        return 0;
    }
    return enqueue (self, txn, id, id_len, st, ANNOTATE__V1__REVIEW_REASON__REASON_UNCERTAIN,
                    label->uncertainty);
}

int
store_review_route (store_t *self, MDB_txn *txn, const store_policy_t *policy, const char *id,
                    size_t id_len, item_state_t *st, Annotate__V1__Label *label)
{
    int rc = store_review_dequeue (self, txn, id, id_len, st);
    if (rc || !policy || !policy->al_enabled)
        return rc;
    switch (label->source) {
    case ANNOTATE__V1__LABEL_SOURCE__SOURCE_NONE:
        return enqueue (self, txn, id, id_len, st, ANNOTATE__V1__REVIEW_REASON__REASON_COLD_START,
                        (float) al_uniform (id, id_len, policy->al_seed));
    case ANNOTATE__V1__LABEL_SOURCE__SOURCE_MODEL:
        return route_model_label (self, txn, policy, id, id_len, st, label);
    default:
        return 0;   /* people, gold and the other sources are final here */
    }
}

/*  Bookkeeping of a person's answer, before its event is written: the
    item leaves the queue, the label records why it was asked, and the
    validation and agreement counters move.  */
int
store_review_human (store_t *self, MDB_txn *txn, const char *id, size_t id_len, item_state_t *st,
                    Annotate__V1__Label *human)
{
    human->reason = (Annotate__V1__ReviewReason) st->review;
    int rc = store_review_dequeue (self, txn, id, id_len, st);
    if (!rc && (st->flags & ITEM_FLAG_VALIDATION)
        && st->source != ANNOTATE__V1__LABEL_SOURCE__SOURCE_HUMAN) {
        human->reason = ANNOTATE__V1__REVIEW_REASON__REASON_VALIDATION;
        rc = store_count_add (self, txn, "val_labels", 1);
    }
    if (rc || (st->source != ANNOTATE__V1__LABEL_SOURCE__SOURCE_MODEL
               && st->source != ANNOTATE__V1__LABEL_SOURCE__SOURCE_AUTO))
        return rc;
    rc = store_count_add (self, txn, "suggested", 1);   /* answers that had a suggestion */
    if (rc)
        return rc;
    MDB_val key = { id_len, (void *) id }, val;
    if (mdb_get (txn, self->labels, &key, &val) != 0)
        return 0;
    Annotate__V1__Label *cur = annotate__v1__label__unpack (NULL, val.mv_size, val.mv_data);
    bool agreed = cur && cur->label && strcmp (cur->label, human->label) == 0;
    if (cur)
        protobuf_c_message_free_unpacked (&cur->base, NULL);
    return agreed ? store_count_add (self, txn, "agreed", 1) : 0;
}

/* ---- reading ------------------------------------------------------------------ */

size_t
store_review_scan (store_t *self, MDB_txn *txn, const uint8_t *after_key, size_t after_len,
                   size_t max, store_review_fn fn, void *arg)
{
    MDB_cursor *cur;
    if (max == 0 || mdb_cursor_open (txn, self->review, &cur))
        return 0;
    MDB_val key = { after_len, (void *) after_key }, val;
    int rc;
    if (after_key && after_len) {
        rc = mdb_cursor_get (cur, &key, &val, MDB_SET_RANGE);
        if (rc == 0 && key.mv_size == after_len && memcmp (key.mv_data, after_key, after_len) == 0)
            rc = mdb_cursor_get (cur, &key, &val, MDB_NEXT);
    }
    else
        rc = mdb_cursor_get (cur, &key, &val, MDB_FIRST);
    size_t n = 0;
    while (rc == 0 && n < max) {
        if (key.mv_size > 4) {
            const uint8_t *k = key.mv_data;
            uint8_t reason = val.mv_size >= 1 ? ((const uint8_t *) val.mv_data)[0] : 0;
            n++;
            if (!fn (arg, k, key.mv_size, (const char *) k + 4, key.mv_size - 4, reason,
                     score_of (k)))
                break;
        }
        rc = mdb_cursor_get (cur, &key, &val, MDB_NEXT);
    }
    mdb_cursor_close (cur);
    return n;
}

void
store_review_stats (store_t *self, MDB_txn *txn, store_review_stats_t *out)
{
    memset (out, 0, sizeof *out);
    char name[32];
    uint64_t labelled = 0;
    for (unsigned i = 1; i < 16; i++) {
        snprintf (name, sizeof name, "src_%u", i);
        out->by_source[i] = store_meta_u64 (self, txn, name);
        labelled += out->by_source[i];
    }
    MDB_stat st;
    uint64_t items = mdb_stat (txn, self->items, &st) == 0 ? st.ms_entries : 0;
    out->by_source[0] = items > labelled ? items - labelled : 0;
    for (unsigned i = 0; i < 4; i++) {
        snprintf (name, sizeof name, "queue_%u", i);
        out->queue[i] = store_meta_u64 (self, txn, name);
    }
    out->validation_labels = store_meta_u64 (self, txn, "val_labels");
    out->validation_sampled = store_meta_u64 (self, txn, "val_sampled");
    out->reviews_agreed = store_meta_u64 (self, txn, "agreed");
    out->reviews_suggested = store_meta_u64 (self, txn, "suggested");
    out->human_labels = store_meta_u64 (self, txn, "human_labels");
    out->duplicates = store_meta_u64 (self, txn, "dups");
}

/*  Stores written before the counters existed: count the current labels
    by source once, so `stats` is right from the first call.  */
int
store_review_migrate (store_t *self, MDB_txn *txn)
{
    MDB_val key = { 10, (void *) "src_counts" }, val;
    if (mdb_get (txn, self->meta, &key, &val) == 0)
        return 0;
    uint64_t counts[256] = { 0 };
    MDB_cursor *cur;
    int rc = mdb_cursor_open (txn, self->state, &cur);
    if (rc)
        return rc;
    for (rc = mdb_cursor_get (cur, &key, &val, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get (cur, &key, &val, MDB_NEXT)) {
        item_state_t st;
        if (val.mv_size == sizeof st) {
            memcpy (&st, val.mv_data, sizeof st);
            counts[st.source]++;
        }
    }
    mdb_cursor_close (cur);
    if (rc != MDB_NOTFOUND)
        return rc;
    rc = 0;
    for (unsigned i = 1; i < 16 && !rc; i++)
        if (counts[i])
            rc = count_named (self, txn, "src_", i, (int64_t) counts[i]);
    if (!rc)
        rc = store_put_meta_u64 (self, txn, "src_counts", 1);
    return rc;
}

/* ---- label propagation --------------------------------------------------------- */

/*  A propagation that disagrees with the machine label of an uncertain
    queued item makes it more worth a person's look.  */
static int
s_disagreement (store_t *self, MDB_txn *txn, const char *id, size_t id_len, item_state_t *st,
                const Annotate__V1__Label *prop)
{
    if (st->review != ANNOTATE__V1__REVIEW_REASON__REASON_UNCERTAIN
        || st->source != ANNOTATE__V1__LABEL_SOURCE__SOURCE_MODEL)
        return 0;
    MDB_val key = { id_len, (void *) id }, val;
    if (mdb_get (txn, self->labels, &key, &val) != 0)
        return 0;
    Annotate__V1__Label *cur = annotate__v1__label__unpack (NULL, val.mv_size, val.mv_data);
    int rc = 0;
    if (cur && cur->label && strcmp (cur->label, prop->label) != 0) {
        float score = cur->uncertainty > prop->confidence ? cur->uncertainty : prop->confidence;
        if (score > score_of (st->priority)) {
            rc = store_review_dequeue (self, txn, id, id_len, st);
            if (!rc)
                rc = enqueue (self, txn, id, id_len, st,
                              ANNOTATE__V1__REVIEW_REASON__REASON_UNCERTAIN, score);
            if (!rc)
                rc = store_put_state (self, txn, &key, st);
        }
    }
    if (cur)
        protobuf_c_message_free_unpacked (&cur->base, NULL);
    return rc;
}

store_status_t
store_txn_propagated (store_t *self, MDB_txn *txn, const store_label_t *labels,
                      const bool *accepted, size_t n, int64_t now_ms, uint64_t *applied,
                      char *err, size_t errlen)
{
    *applied = 0;
    uint64_t last_seq = store_last_key (txn, self->history);
    for (size_t i = 0; i < n; i++) {
        const store_label_t *l = &labels[i];
        size_t id_len = l->id ? strlen (l->id) : 0;
        item_state_t st;
        if (!l->label || !l->label->label || id_len == 0 || id_len > STORE_MAX_ID_BYTES
            || store_get_state (self, txn, l->id, id_len, &st) != 0
            || (st.flags & (ITEM_FLAG_DUPLICATE | ITEM_FLAG_VALIDATION))
            || (st.source && st.source != ANNOTATE__V1__LABEL_SOURCE__SOURCE_NONE
                && st.source != ANNOTATE__V1__LABEL_SOURCE__SOURCE_MODEL))
            continue;
        int rc = 0;
        if (!accepted[i])
            rc = s_disagreement (self, txn, l->id, id_len, &st, l->label);
        else {
            Annotate__V1__Label copy = *l->label;
            copy.time_ms = now_ms;
            copy.source = ANNOTATE__V1__LABEL_SOURCE__SOURCE_PROPAGATION;
            rc = store_review_dequeue (self, txn, l->id, id_len, &st);
            if (!rc && st.ticket) {
                /* labelled before an annotation actor got to it */
                uint8_t kb[8];
                be64_put (kb, st.ticket);
                MDB_val tkey = { 8, kb };
                rc = mdb_del (txn, self->pending, &tkey, NULL);
                if (rc == MDB_NOTFOUND)
                    rc = 0;
                st.ticket = 0;
            }
            if (!rc)
                rc = store_append_event (self, txn, ++last_seq, l->id, &copy, &st);
            MDB_val key = { id_len, (void *) l->id };
            if (!rc)
                rc = store_put_state (self, txn, &key, &st);
            if (!rc)
                rc = store_dedup_follow (self, txn, l->id, &copy, now_ms, &last_seq);
            if (!rc)
                ++*applied;
        }
        if (rc) {
            err_set (err, errlen, "store: writing propagated labels: %s", mdb_strerror (rc));
            return rc == MDB_MAP_FULL ? STORE_FULL : STORE_IO;
        }
    }
    return STORE_OK;
}
