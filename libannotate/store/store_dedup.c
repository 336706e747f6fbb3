/*  store_dedup.c: exact duplicates share one label.

    Two items are duplicates when their normalised content is equal: the
    text's tokens after NFKC and case folding (features_tokens, the same
    normalisation the model sees, so "Hello, World" and "hello world" are
    one item) and the exact bytes of the vector. At ingest a new item's
    normalised hash (XXH3-128) is looked up in `dup_hash`:
      - unseen: the item becomes the canonical item of that content;
      - seen: the item is a duplicate of the canonical one. It never goes
        to annotation or review; it carries the canonical item's label
        (source duplicate, Label.duplicate_of naming the canonical item),
        and every later label of the canonical item (a model, a person,
        auto-acceptance) is copied to it in the same transaction. A
        duplicate that a person labels itself keeps that label: copies
        only replace labels that are themselves copies (or "no label").
    `dup_members` (dupsort) lists each canonical item's duplicates. Items
    that come with a gold label, and items with neither text tokens nor a
    vector, are never deduplicated. Replacing a canonical item's content
    forgets it as the canonical item of the old content: its duplicates
    become items of their own, queued for annotation unless a person
    labelled them. A replace whose new content normalises to the old one
    (new meta, other spelling) leaves the group as it is.
*/
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "features/features.h"
#include "store/store_internal.h"
#include "util/util.h"

typedef struct {
    XXH3_state_t *st;
    size_t tokens;
} norm_t;

static void
s_token (void *arg, const char *tok, size_t len)
{
    norm_t *n = arg;
    XXH3_128bits_update (n->st, tok, len);
    XXH3_128bits_update (n->st, "\x1f", 1);
    n->tokens++;
}

/*  The normalised content hash; false when the item has nothing to
    compare (no token, no vector) or its text is not valid UTF-8.  */
static bool
s_norm_hash (const Annotate__V1__Item *it, uint8_t out[16])
{
    norm_t n = { XXH3_createState (), 0 };
    if (!n.st)
        return false;
    XXH3_128bits_reset (n.st);
    size_t len = it->text ? strlen (it->text) : 0;
    bool ok = features_tokens (it->text ? it->text : "", len, s_token, &n) == 0;
    uint64_t dim = it->n_vector;
    XXH3_128bits_update (n.st, "\x1e", 1);
    XXH3_128bits_update (n.st, &dim, sizeof dim);
    if (dim)
        XXH3_128bits_update (n.st, it->vector, dim * sizeof (float));
    XXH128_canonical_t c;
    XXH128_canonicalFromHash (&c, XXH3_128bits_digest (n.st));
    XXH3_freeState (n.st);
    memcpy (out, c.digest, 16);
    return ok && (n.tokens || dim);
}

/*  The canonical item's current label, copied for a duplicate.  */
static Annotate__V1__Label *
s_canonical_label (store_t *self, MDB_txn *txn, const MDB_val *canon)
{
    MDB_val val;
    if (mdb_get (txn, self->labels, (MDB_val *) canon, &val) != 0)
        return NULL;
    return annotate__v1__label__unpack (NULL, val.mv_size, val.mv_data);
}

/*  A label as a duplicate carries it: source duplicate, pointing at the
    canonical item. "No label" (source none: no model yet) stays what it
    is, there being nothing to point at.  */
static void
s_as_copy (const Annotate__V1__Label *label, const char *canon, int64_t now_ms,
           Annotate__V1__Label *copy)
{
    *copy = *label;
    if (label->source != ANNOTATE__V1__LABEL_SOURCE__SOURCE_NONE) {
        copy->source = ANNOTATE__V1__LABEL_SOURCE__SOURCE_DUPLICATE;
        copy->duplicate_of = (char *) canon;
    }
    copy->time_ms = now_ms;
    copy->reason = ANNOTATE__V1__REVIEW_REASON__REASON_UNSPECIFIED;
    copy->threshold = 0.0f;
}

static int
s_copy_label (store_t *self, MDB_txn *txn, const char *member, size_t member_len,
              const char *canon, const Annotate__V1__Label *label, int64_t now_ms,
              uint64_t *last_seq)
{
    char id[STORE_MAX_ID_BYTES + 1];
    memcpy (id, member, member_len);
    id[member_len] = 0;
    item_state_t st;
    if (store_get_state (self, txn, id, member_len, &st) != 0)
        return 0;
    /* a person's (or gold) label on the duplicate itself stands */
    if (st.source && st.source != ANNOTATE__V1__LABEL_SOURCE__SOURCE_DUPLICATE
        && st.source != ANNOTATE__V1__LABEL_SOURCE__SOURCE_NONE)
        return 0;
    Annotate__V1__Label copy;
    s_as_copy (label, canon, now_ms, &copy);
    int rc = store_append_event (self, txn, ++*last_seq, id, &copy, &st);
    MDB_val key = { member_len, id };
    if (!rc)
        rc = store_put_state (self, txn, &key, &st);
    return rc;
}

int
store_dedup_ingest (store_t *self, MDB_txn *txn, const Annotate__V1__Item *it, item_state_t *st,
                    int64_t now_ms, uint64_t *last_seq, bool *duplicate)
{
    *duplicate = false;
    uint8_t h[16];
    if ((it->label && *it->label) || !s_norm_hash (it, h))
        return 0;
    MDB_val hkey = { 16, h }, val;
    MDB_val ikey = { strlen (it->id), it->id };
    int rc = mdb_get (txn, self->dup_hash, &hkey, &val);
    if (rc == MDB_NOTFOUND)
        return mdb_put (txn, self->dup_hash, &hkey, &ikey, 0);
    if (rc)
        return rc;
    if (val.mv_size == ikey.mv_size && memcmp (val.mv_data, ikey.mv_data, val.mv_size) == 0)
        return 0;   /* itself (a replace with the same normalised content) */
    char canon[STORE_MAX_ID_BYTES + 1];
    size_t clen = val.mv_size <= STORE_MAX_ID_BYTES ? val.mv_size : STORE_MAX_ID_BYTES;
    memcpy (canon, val.mv_data, clen);
    canon[clen] = 0;
    MDB_val ckey = { clen, canon };
    rc = mdb_put (txn, self->dup_members, &ckey, &ikey, MDB_NODUPDATA);
    if (rc == MDB_KEYEXIST)
        rc = 0;     /* already a member (a replace with the same normalised content) */
    else if (!rc)
        rc = store_count_add (self, txn, "dups", 1);
    if (rc)
        return rc;
    *duplicate = true;
    st->flags |= ITEM_FLAG_DUPLICATE;
    st->status = ANNOTATE__V1__ITEM_STATUS__STATUS_PENDING;
    Annotate__V1__Label *label = s_canonical_label (self, txn, &ckey);
    if (!label)
        return 0;   /* the canonical item is not labelled yet: its first label comes over */
    Annotate__V1__Label copy;
    s_as_copy (label, canon, now_ms, &copy);
    rc = store_append_event (self, txn, ++*last_seq, it->id, &copy, st);
    protobuf_c_message_free_unpacked (&label->base, NULL);
    return rc;
}

int
store_dedup_follow (store_t *self, MDB_txn *txn, const char *canon, const Annotate__V1__Label *label,
                    int64_t now_ms, uint64_t *last_seq)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open (txn, self->dup_members, &cur);
    if (rc)
        return rc;
    MDB_val key = { strlen (canon), (void *) canon }, val;
    /* members are collected first: writing while the cursor walks the
       same database would invalidate it */
    size_t n = 0, cap = 0;
    MDB_val *members = NULL;
    for (rc = mdb_cursor_get (cur, &key, &val, MDB_SET_KEY); rc == 0;
         rc = mdb_cursor_get (cur, &key, &val, MDB_NEXT_DUP)) {
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            MDB_val *grown = realloc (members, cap * sizeof *members);
            if (!grown) {
                rc = ENOMEM;
                break;
            }
            members = grown;
        }
        char *copy = malloc (val.mv_size ? val.mv_size : 1);
        if (!copy) {
            rc = ENOMEM;
            break;
        }
        memcpy (copy, val.mv_data, val.mv_size);
        members[n++] = (MDB_val) { val.mv_size, copy };
    }
    mdb_cursor_close (cur);
    if (rc == MDB_NOTFOUND)
        rc = 0;
    for (size_t i = 0; i < n; i++) {
        if (!rc && members[i].mv_size <= STORE_MAX_ID_BYTES)
            rc = s_copy_label (self, txn, members[i].mv_data, members[i].mv_size, canon, label,
                               now_ms, last_seq);
        free (members[i].mv_data);
    }
    free (members);
    return rc;
}

/*  Detached duplicates of a replaced canonical item become items of their
    own: out of the members list, no longer flagged, and queued for
    annotation with a fresh ticket (their copied label stays until then).  */
/*  The first duplicate of canon into id (NUL-terminated); MDB_NOTFOUND
    when it has none left.  */
static int
s_first_member (store_t *self, MDB_txn *txn, MDB_val *canon, char *id)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open (txn, self->dup_members, &cur);
    if (rc)
        return rc;
    MDB_val key = *canon, val;
    rc = mdb_cursor_get (cur, &key, &val, MDB_SET_KEY);
    if (rc == 0) {
        size_t len = val.mv_size <= STORE_MAX_ID_BYTES ? val.mv_size : STORE_MAX_ID_BYTES;
        memcpy (id, val.mv_data, len);
        id[len] = 0;
        if (len != val.mv_size) {   /* cannot be an item id: just drop it */
            rc = mdb_cursor_del (cur, 0);
            if (rc == 0)
                rc = MDB_INCOMPATIBLE;
        }
    }
    mdb_cursor_close (cur);
    return rc;
}

static int
s_detach_one (store_t *self, MDB_txn *txn, const char *id, uint64_t *last_ticket)
{
    MDB_val mkey = { strlen (id), (void *) id };
    item_state_t st;
    if (store_get_state (self, txn, id, mkey.mv_size, &st) != 0
        || !(st.flags & ITEM_FLAG_DUPLICATE))
        return 0;
    st.flags &= (uint8_t) ~ITEM_FLAG_DUPLICATE;
    int rc = store_count_add (self, txn, "dups", -1);
    /* a label of its own (a person's) stands: only copies need a model */
    bool own = st.source && st.source != ANNOTATE__V1__LABEL_SOURCE__SOURCE_DUPLICATE
               && st.source != ANNOTATE__V1__LABEL_SOURCE__SOURCE_NONE;
    if (!rc && !own) {
        uint8_t kb[8];
        be64_put (kb, ++*last_ticket);
        MDB_val tkey = { 8, kb };
        rc = mdb_put (txn, self->pending, &tkey, &mkey, MDB_APPEND);
        st.ticket = *last_ticket;
    }
    return rc ? rc : store_put_state (self, txn, &mkey, &st);
}

/*  Detached duplicates of a replaced canonical item become items of their
    own: out of the members list, no longer flagged, and queued for
    annotation with a fresh ticket unless a person labelled them (their
    copied label stays until the model's comes). One member at a time, so
    a group of any size costs constant memory.  */
static int
s_detach_members (store_t *self, MDB_txn *txn, MDB_val *canon, uint64_t *last_ticket)
{
    char id[STORE_MAX_ID_BYTES + 1];
    int rc;
    while ((rc = s_first_member (self, txn, canon, id)) == 0 || rc == MDB_INCOMPATIBLE) {
        if (rc == MDB_INCOMPATIBLE)
            continue;
        MDB_val mkey = { strlen (id), id };
        rc = mdb_del (txn, self->dup_members, canon, &mkey);
        if (!rc)
            rc = s_detach_one (self, txn, id, last_ticket);
        if (rc)
            return rc;
    }
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/*  A replaced item is no longer the canonical item of its old content, nor
    a duplicate of anything.  */
int
store_dedup_forget (store_t *self, MDB_txn *txn, const char *id, size_t id_len,
                    const Annotate__V1__Item *next, uint64_t *last_ticket)
{
    MDB_val ikey = { id_len, (void *) id }, val;
    if (mdb_get (txn, self->items, &ikey, &val) != 0)
        return 0;
    Annotate__V1__Item *old = annotate__v1__item__unpack (NULL, val.mv_size, val.mv_data);
    if (!old)
        return 0;
    uint8_t h[16], hn[16];
    int rc = 0;
    /* the same normalised content (only meta or spelling changed): the
       group stays as it is */
    bool same = next && !(next->label && *next->label) && s_norm_hash (next, hn)
                && s_norm_hash (old, h) && memcmp (h, hn, 16) == 0;
    if (!same && s_norm_hash (old, h)) {
        MDB_val hkey = { 16, h }, cur;
        if (mdb_get (txn, self->dup_hash, &hkey, &cur) == 0 && cur.mv_size == id_len
            && memcmp (cur.mv_data, id, id_len) == 0) {
            rc = mdb_del (txn, self->dup_hash, &hkey, NULL);
            if (!rc)
                rc = s_detach_members (self, txn, &ikey, last_ticket);
        }
        else if (mdb_get (txn, self->dup_hash, &hkey, &cur) == 0) {
            rc = mdb_del (txn, self->dup_members, &cur, &ikey);     /* it was a duplicate */
            if (!rc)
                rc = store_count_add (self, txn, "dups", -1);
        }
    }
    protobuf_c_message_free_unpacked (&old->base, NULL);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/*  The canonical item of a duplicate (into canon, NUL-terminated; empty
    when the item is none), and how many duplicates a canonical item has. */
void
store_dedup_info (store_t *self, MDB_txn *txn, const char *id, size_t id_len, char *canon,
                  size_t canon_len, uint64_t *members)
{
    canon[0] = 0;
    *members = 0;
    MDB_val key = { id_len, (void *) id }, val;
    MDB_cursor *cur;
    if (mdb_cursor_open (txn, self->dup_members, &cur) == 0) {
        if (mdb_cursor_get (cur, &key, &val, MDB_SET_KEY) == 0) {
            size_t count = 0;
            mdb_cursor_count (cur, &count);
            *members = count;
        }
        mdb_cursor_close (cur);
    }
    item_state_t st;
    if (store_get_state (self, txn, id, id_len, &st) != 0 || !(st.flags & ITEM_FLAG_DUPLICATE)
        || mdb_get (txn, self->items, &key, &val) != 0)
        return;
    Annotate__V1__Item *it = annotate__v1__item__unpack (NULL, val.mv_size, val.mv_data);
    uint8_t h[16];
    if (it && s_norm_hash (it, h)) {
        MDB_val hkey = { 16, h };
        if (mdb_get (txn, self->dup_hash, &hkey, &val) == 0)
            snprintf (canon, canon_len, "%.*s", (int) val.mv_size, (const char *) val.mv_data);
    }
    if (it)
        protobuf_c_message_free_unpacked (&it->base, NULL);
}
