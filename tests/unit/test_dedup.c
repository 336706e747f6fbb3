/*  test_dedup.c: exact duplicates in the store (store_dedup.c).

    The store is driven directly, one write transaction per step
    (store_write_begin, store_txn_*, store_write_commit), as the writer
    does it. Covers: what counts as a duplicate (tokens after NFKC and case
    folding, exact vector bytes), that a duplicate never waits for
    annotation, how the canonical item's labels follow to it (no label,
    model, human) and that a person's own label on a duplicate stands,
    what is never deduplicated (gold, empty content, policy off), what a
    replace does to a group, the duplicate's history, and a restart.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store/store.h"
#include "txn_fixture.h"
#include "util/util.h"

#define TICKET  ((uint64_t) -1)      /* machine (): the item's pending ticket */
#define DIM     4

#define S_NONE  ANNOTATE__V1__LABEL_SOURCE__SOURCE_NONE
#define S_MODEL ANNOTATE__V1__LABEL_SOURCE__SOURCE_MODEL
#define S_HUMAN ANNOTATE__V1__LABEL_SOURCE__SOURCE_HUMAN
#define S_GOLD  ANNOTATE__V1__LABEL_SOURCE__SOURCE_GOLD
#define S_DUP   ANNOTATE__V1__LABEL_SOURCE__SOURCE_DUPLICATE

static char *taxonomy[] = { "a", "b" };

/* ---- fixture (txn_fixture.h) ----------------------------------------- */

static int
setup (void **state)
{
    store_policy_t policy = { .vector_dim = DIM, .labels = taxonomy, .n_labels = 2,
                              .dedup = true };
    return fx_setup (state, "test_dedup", policy);
}

static int
teardown (void **state)
{
    return fx_teardown (state);
}

/* ---- writes ------------------------------------------------------------------ */

/*  One item: text (may be NULL), an optional DIM-float vector and gold
    label. Returns the ingest result; fails the test on an error.  */
static store_ingest_result_t
put (fx_t *fx, const char *id, const char *text, const float *vec, const char *gold,
     bool replace)
{
    Annotate__V1__Item it = ANNOTATE__V1__ITEM__INIT;
    it.id = (char *) id;
    it.text = (char *) (text ? text : "");
    if (vec) {
        it.vector = (float *) vec;
        it.n_vector = DIM;
    }
    if (gold)
        it.label = (char *) gold;
    Annotate__V1__Item *items[] = { &it };
    store_ingest_result_t res;
    char err[256] = "";
    MDB_txn *txn = wbegin (fx);
    store_status_t s = store_txn_ingest (fx->store, txn, &fx->policy, items, 1, replace, 1000,
                                         &res, err, sizeof err);
    if (s != STORE_OK)
        fail_msg ("ingest %s: %s", id, err);
    wcommit (fx, txn);
    return res;
}

static void
ingest (fx_t *fx, const char *id, const char *text)
{
    store_ingest_result_t res = put (fx, id, text, NULL, NULL, false);
    assert_int_equal (res.accepted, 1);
}

typedef struct {
    const char *id;
    uint64_t ticket;
} ticket_probe_t;

static bool
on_pending (void *arg, uint64_t ticket, const char *id, size_t id_len, const uint8_t *item,
            size_t item_len)
{
    (void) item;
    (void) item_len;
    ticket_probe_t *p = arg;
    if (strlen (p->id) == id_len && memcmp (p->id, id, id_len) == 0) {
        p->ticket = ticket;
        return false;
    }
    return true;
}

/*  The item's ticket as the dispatcher sees it (0: not listed).  */
static uint64_t
pending_ticket (fx_t *fx, const char *id)
{
    ticket_probe_t p = { id, 0 };
    MDB_txn *txn = store_read_begin (fx->store);
    assert_non_null (txn);
    store_pending_after (fx->store, txn, 0, 100000, on_pending, &p);
    store_read_end (fx->store, txn);
    return p.ticket;
}

/*  A machine label (source NONE or MODEL). ticket TICKET: the item's
    pending ticket; 0: a re-annotation. Returns how many were applied.  */
static uint64_t
machine (fx_t *fx, const char *id, uint64_t ticket, int source, uint64_t version,
         const char *label, float confidence)
{
    Annotate__V1__Label lab = ANNOTATE__V1__LABEL__INIT;
    lab.label = (char *) (label ? label : "");
    lab.confidence = confidence;
    lab.uncertainty = 0.25f;
    lab.source = (Annotate__V1__LabelSource) source;
    lab.model_version = version;
    lab.annotator = "unit-test";
    if (ticket == TICKET) {
        ticket = pending_ticket (fx, id);
        assert_int_not_equal (ticket, 0);
    }
    store_label_t l = { .id = id, .ticket = ticket, .label = &lab };
    uint64_t applied = 0, discarded = 0;
    char err[256] = "";
    MDB_txn *txn = wbegin (fx);
    store_status_t s = store_txn_labels (fx->store, txn, &fx->policy, &l, 1, 2000, &applied,
                                         &discarded, err, sizeof err);
    if (s != STORE_OK)
        fail_msg ("labels %s: %s", id, err);
    wcommit (fx, txn);
    assert_int_equal (applied + discarded, 1);
    return applied;
}

static uint64_t
human (fx_t *fx, const char *id, const char *label)
{
    uint64_t seq = 0;
    char err[256] = "";
    MDB_txn *txn = wbegin (fx);
    store_status_t s = store_txn_human_label (fx->store, txn, &fx->policy, id, label, "ana", 3000,
                                              &seq, NULL, err, sizeof err);
    if (s != STORE_OK)
        fail_msg ("human %s: %s", id, err);
    wcommit (fx, txn);
    assert_true (seq > 0);
    return seq;
}

/* ---- reads ---------------------------------------------------------------- */

static item_state_t
state_of (fx_t *fx, const char *id)
{
    item_state_t st;
    MDB_txn *txn = store_read_begin (fx->store);
    assert_non_null (txn);
    int rc = store_get_item (fx->store, txn, id, strlen (id), NULL, NULL, &st);
    store_read_end (fx->store, txn);
    if (rc)
        fail_msg ("item %s: not found", id);
    return st;
}

static bool
is_dup (fx_t *fx, const char *id)
{
    return (state_of (fx, id).flags & ITEM_FLAG_DUPLICATE) != 0;
}

/*  Current label (NULL: none); free with label_free.  */
static Annotate__V1__Label *
label_of (fx_t *fx, const char *id)
{
    Annotate__V1__Label *label = NULL;
    MDB_txn *txn = store_read_begin (fx->store);
    assert_non_null (txn);
    assert_int_equal (store_get_item (fx->store, txn, id, strlen (id), NULL, &label, NULL), 0);
    store_read_end (fx->store, txn);
    return label;
}

static void
label_free (Annotate__V1__Label *label)
{
    if (label)
        protobuf_c_message_free_unpacked (&label->base, NULL);
}

typedef struct {
    char canon[STORE_MAX_ID_BYTES + 1];
    uint64_t members;
} dinfo_t;

static dinfo_t
dinfo (fx_t *fx, const char *id)
{
    dinfo_t d;
    MDB_txn *txn = store_read_begin (fx->store);
    assert_non_null (txn);
    store_dedup_info (fx->store, txn, id, strlen (id), d.canon, sizeof d.canon, &d.members);
    store_read_end (fx->store, txn);
    return d;
}

static store_review_stats_t
rstats (fx_t *fx)
{
    store_review_stats_t s;
    MDB_txn *txn = store_read_begin (fx->store);
    assert_non_null (txn);
    store_review_stats (fx->store, txn, &s);
    store_read_end (fx->store, txn);
    return s;
}

#define MAX_EV 32

typedef struct {
    size_t n;
    uint64_t seq[MAX_EV];
    int source[MAX_EV];
    char label[MAX_EV][16];
    char dup_of[MAX_EV][32];
    float confidence[MAX_EV];
} events_t;

static bool
on_event (void *arg, uint64_t seq, const uint8_t *packed, size_t len)
{
    events_t *e = arg;
    Annotate__V1__LabelEvent *ev = annotate__v1__label_event__unpack (NULL, len, packed);
    assert_non_null (ev);
    assert_non_null (ev->label);
    assert_true (e->n < MAX_EV);
    e->seq[e->n] = seq;
    e->source[e->n] = ev->label->source;
    str_copy (e->label[e->n], sizeof e->label[0], ev->label->label);
    str_copy (e->dup_of[e->n], sizeof e->dup_of[0], ev->label->duplicate_of);
    e->confidence[e->n] = ev->label->confidence;
    e->n++;
    protobuf_c_message_free_unpacked (&ev->base, NULL);
    return true;
}

static events_t
history (fx_t *fx, const char *id)
{
    events_t e = { 0 };
    MDB_txn *txn = store_read_begin (fx->store);
    assert_non_null (txn);
    size_t n = store_item_history (fx->store, txn, id, strlen (id), on_event, &e);
    store_read_end (fx->store, txn);
    assert_int_equal (n, e.n);
    return e;
}

/*  Asserts that id's current label is a copy of canon's: source
    duplicate, same label and confidence, duplicate_of naming canon.  */
static void
assert_copy_of (fx_t *fx, const char *id, const char *canon)
{
    Annotate__V1__Label *orig = label_of (fx, canon);
    Annotate__V1__Label *copy = label_of (fx, id);
    assert_non_null (orig);
    assert_non_null (copy);
    assert_int_equal (copy->source, S_DUP);
    assert_string_equal (copy->label, orig->label);
    assert_float_equal (copy->confidence, orig->confidence, 0.0f);
    assert_string_equal (copy->duplicate_of, canon);
    assert_int_equal (state_of (fx, id).source, S_DUP);
    label_free (orig);
    label_free (copy);
}

/* ---- 1. what a duplicate is --------------------------------------------------- */

static void
test_text_duplicate (void **state)
{
    fx_t *fx = *state;
    ingest (fx, "A", "Hello, World!");
    ingest (fx, "B", "hello   world");
    assert_int_not_equal (pending_ticket (fx, "A"), 0);

    /* B never waits for annotation */
    item_state_t b = state_of (fx, "B");
    assert_true (b.flags & ITEM_FLAG_DUPLICATE);
    assert_int_equal (b.ticket, 0);
    assert_int_equal (pending_ticket (fx, "B"), 0);
    assert_false (is_dup (fx, "A"));
    assert_int_equal (rstats (fx).duplicates, 1);

    dinfo_t d = dinfo (fx, "B");
    assert_string_equal (d.canon, "A");
    assert_int_equal (d.members, 0);
    d = dinfo (fx, "A");
    assert_string_equal (d.canon, "");
    assert_int_equal (d.members, 1);

    /* NFKC: full-width letters are the same tokens */
    ingest (fx, "C", "\xef\xbc\xa8\xef\xbd\x85\xef\xbd\x8c\xef\xbd\x8c\xef\xbd\x8f WORLD");
    assert_true (is_dup (fx, "C"));
    assert_string_equal (dinfo (fx, "C").canon, "A");
    assert_int_equal (dinfo (fx, "A").members, 2);
    assert_int_equal (rstats (fx).duplicates, 2);

    /* other tokens, other order: not a duplicate */
    ingest (fx, "D", "hello world again");
    ingest (fx, "E", "world hello");
    assert_false (is_dup (fx, "D"));
    assert_false (is_dup (fx, "E"));
    assert_int_not_equal (pending_ticket (fx, "D"), 0);
    assert_int_not_equal (pending_ticket (fx, "E"), 0);
    assert_string_equal (dinfo (fx, "D").canon, "");
    assert_int_equal (dinfo (fx, "A").members, 2);
    assert_int_equal (rstats (fx).duplicates, 2);

    /* re-ingesting the same duplicate is a no-op, not a second member */
    store_ingest_result_t res = put (fx, "B", "hello   world", NULL, NULL, false);
    assert_int_equal (res.unchanged, 1);
    assert_int_equal (dinfo (fx, "A").members, 2);
    assert_int_equal (rstats (fx).duplicates, 2);
}

static void
test_vector_duplicate (void **state)
{
    fx_t *fx = *state;
    const float v1[DIM] = { 0.5f, 1.0f, -2.0f, 3.0f };
    const float v2[DIM] = { 0.5f, 1.0f, -2.0f, 3.0001f };

    /* same text, another vector: not a duplicate */
    put (fx, "T1", "same text", v1, NULL, false);
    put (fx, "T2", "same text", v2, NULL, false);
    assert_false (is_dup (fx, "T2"));
    assert_int_not_equal (pending_ticket (fx, "T2"), 0);
    /* same text (normalised) and same vector: a duplicate */
    put (fx, "T3", "SAME  text.", v1, NULL, false);
    assert_true (is_dup (fx, "T3"));
    assert_string_equal (dinfo (fx, "T3").canon, "T1");

    /* no text, same vector bytes: a duplicate */
    put (fx, "V1", NULL, v2, NULL, false);
    put (fx, "V2", NULL, v2, NULL, false);
    assert_false (is_dup (fx, "V1"));
    assert_true (is_dup (fx, "V2"));
    assert_int_equal (pending_ticket (fx, "V2"), 0);
    assert_string_equal (dinfo (fx, "V2").canon, "V1");
    /* a vector alone is not the same content as a text with that vector */
    assert_false (is_dup (fx, "T2"));
    put (fx, "V3", NULL, v1, NULL, false);
    assert_false (is_dup (fx, "V3"));
    assert_int_equal (rstats (fx).duplicates, 2);
}

/* ---- 2. labels follow --------------------------------------------------------- */

static void
test_labels_follow (void **state)
{
    fx_t *fx = *state;
    ingest (fx, "A", "Hello, World!");
    ingest (fx, "B", "hello   world");
    assert_null (label_of (fx, "B"));

    /* no label yet (no model): B gets a "no label" event, no pointer */
    assert_int_equal (machine (fx, "A", TICKET, S_NONE, 0, "", 0.0f), 1);
    Annotate__V1__Label *l = label_of (fx, "B");
    assert_non_null (l);
    assert_int_equal (l->source, S_NONE);
    assert_string_equal (l->duplicate_of, "");
    label_free (l);

    /* a model label (a re-annotation: A's ticket is spent) */
    assert_int_equal (machine (fx, "A", 0, S_MODEL, 1, "a", 0.8f), 1);
    assert_copy_of (fx, "B", "A");
    l = label_of (fx, "B");
    assert_int_equal (l->model_version, 1);
    label_free (l);
    assert_int_equal (rstats (fx).by_source[S_DUP], 1);
    assert_int_equal (rstats (fx).by_source[S_MODEL], 1);

    /* a duplicate takes no label of its own from a model */
    assert_int_equal (machine (fx, "B", 0, S_MODEL, 2, "b", 0.9f), 0);
    assert_copy_of (fx, "B", "A");

    /* an item ingested after A was labelled gets the copy at once */
    ingest (fx, "C", "HELLO world");
    assert_true (is_dup (fx, "C"));
    assert_copy_of (fx, "C", "A");
    assert_int_equal (pending_ticket (fx, "C"), 0);

    /* a person's label on A: copied, source duplicate; only A trains */
    human (fx, "A", "b");
    assert_copy_of (fx, "B", "A");
    assert_copy_of (fx, "C", "A");
    l = label_of (fx, "B");
    assert_string_equal (l->label, "b");
    label_free (l);
    store_review_stats_t rs = rstats (fx);
    assert_int_equal (rs.human_labels, 1);
    assert_int_equal (rs.by_source[S_HUMAN], 1);
    assert_int_equal (rs.by_source[S_DUP], 2);

    /* a person's label on B itself stands */
    human (fx, "B", "a");
    human (fx, "A", "a");
    human (fx, "A", "b");
    l = label_of (fx, "B");
    assert_int_equal (l->source, S_HUMAN);
    assert_string_equal (l->label, "a");
    assert_string_equal (l->duplicate_of, "");
    label_free (l);
    assert_int_equal (state_of (fx, "B").source, S_HUMAN);
    /* ... while C, still a copy, follows */
    assert_copy_of (fx, "C", "A");
    l = label_of (fx, "C");
    assert_string_equal (l->label, "b");
    label_free (l);
    assert_int_equal (rstats (fx).duplicates, 2);
}

/*  With active learning on, the canonical item's "no label" puts it in
    the cold-start queue; its duplicate is never shown to a person.  */
static void
test_duplicate_not_reviewed (void **state)
{
    fx_t *fx = *state;
    fx->policy.al_enabled = true;
    fx->policy.al_seed = 7;
    ingest (fx, "A", "Hello, World!");
    ingest (fx, "B", "hello   world");
    assert_int_equal (machine (fx, "A", TICKET, S_NONE, 0, "", 0.0f), 1);
    assert_int_equal (rstats (fx).queue[0], 1);
    assert_int_not_equal (state_of (fx, "A").review, 0);
    assert_int_equal (state_of (fx, "B").review, 0);
}

/* ---- 3. never deduplicated --------------------------------------------------- */

static void
test_gold_never_dedup (void **state)
{
    fx_t *fx = *state;
    /* a gold item is no canonical item ... */
    put (fx, "G", "Hello, World!", NULL, "a", false);
    ingest (fx, "A", "hello world");
    assert_false (is_dup (fx, "A"));
    assert_int_not_equal (pending_ticket (fx, "A"), 0);
    assert_int_equal (dinfo (fx, "G").members, 0);
    /* ... nor a duplicate */
    ingest (fx, "B", "HELLO WORLD");
    assert_true (is_dup (fx, "B"));
    assert_string_equal (dinfo (fx, "B").canon, "A");
    put (fx, "H", "hello, world", NULL, "b", false);
    item_state_t h = state_of (fx, "H");
    assert_false (h.flags & ITEM_FLAG_DUPLICATE);
    assert_int_equal (h.source, S_GOLD);
    assert_string_equal (dinfo (fx, "H").canon, "");
    assert_int_equal (dinfo (fx, "A").members, 1);
    assert_int_equal (rstats (fx).duplicates, 1);

    /* a label on A does not reach the gold items */
    human (fx, "A", "b");
    Annotate__V1__Label *l = label_of (fx, "G");
    assert_int_equal (l->source, S_GOLD);
    assert_string_equal (l->label, "a");
    label_free (l);
    assert_int_equal (history (fx, "G").n, 1);
    assert_int_equal (history (fx, "H").n, 1);
}

static void
test_empty_never_dedup (void **state)
{
    fx_t *fx = *state;
    ingest (fx, "E1", "");
    ingest (fx, "E2", "");
    /* punctuation only: no token either */
    ingest (fx, "P1", "!!! ...");
    ingest (fx, "P2", "!!! ...");
    const char *ids[] = { "E1", "E2", "P1", "P2" };
    for (size_t i = 0; i < 4; i++) {
        assert_false (is_dup (fx, ids[i]));
        assert_int_not_equal (pending_ticket (fx, ids[i]), 0);
        assert_int_equal (dinfo (fx, ids[i]).members, 0);
    }
    assert_int_equal (rstats (fx).duplicates, 0);
}

static void
test_policy_off (void **state)
{
    fx_t *fx = *state;
    fx->policy.dedup = false;
    ingest (fx, "A", "Hello, World!");
    ingest (fx, "B", "Hello, World!");
    ingest (fx, "C", "hello world");
    assert_false (is_dup (fx, "B"));
    assert_false (is_dup (fx, "C"));
    assert_int_not_equal (pending_ticket (fx, "B"), 0);
    assert_int_not_equal (pending_ticket (fx, "C"), 0);
    assert_int_equal (dinfo (fx, "A").members, 0);
    assert_int_equal (rstats (fx).duplicates, 0);
    /* a label on A stays on A */
    human (fx, "A", "a");
    assert_null (label_of (fx, "B"));
    assert_null (label_of (fx, "C"));
}

/* ---- 4. replace --------------------------------------------------------------- */

static void
test_replace_canonical (void **state)
{
    fx_t *fx = *state;
    ingest (fx, "A", "Hello, World!");
    ingest (fx, "B", "hello   world");
    assert_int_equal (machine (fx, "A", TICKET, S_MODEL, 1, "a", 0.7f), 1);
    assert_copy_of (fx, "B", "A");
    assert_int_equal (rstats (fx).duplicates, 1);

    store_ingest_result_t res = put (fx, "A", "something else entirely", NULL, NULL, true);
    assert_int_equal (res.replaced, 1);

    /* B stands alone now: out of the members, unflagged, queued */
    item_state_t b = state_of (fx, "B");
    assert_false (b.flags & ITEM_FLAG_DUPLICATE);
    assert_int_not_equal (b.ticket, 0);
    assert_int_equal (pending_ticket (fx, "B"), b.ticket);
    assert_int_equal (dinfo (fx, "A").members, 0);
    assert_string_equal (dinfo (fx, "B").canon, "");
    assert_int_equal (rstats (fx).duplicates, 0);
    /* A is queued again too, after B */
    uint64_t ta = pending_ticket (fx, "A");
    assert_int_not_equal (ta, 0);
    assert_true (ta > b.ticket);
    assert_false (is_dup (fx, "A"));

    /* a new label on A no longer reaches B; B's own ticket works */
    size_t nb = history (fx, "B").n;
    assert_int_equal (machine (fx, "A", TICKET, S_MODEL, 1, "b", 0.6f), 1);
    assert_int_equal (history (fx, "B").n, nb);
    assert_int_equal (machine (fx, "B", TICKET, S_MODEL, 1, "a", 0.9f), 1);
    Annotate__V1__Label *l = label_of (fx, "B");
    assert_int_equal (l->source, S_MODEL);
    label_free (l);
    assert_int_equal (pending_ticket (fx, "B"), 0);

    /* the new content of A is a canonical item again */
    ingest (fx, "N", "Something else, entirely!");
    assert_true (is_dup (fx, "N"));
    assert_string_equal (dinfo (fx, "N").canon, "A");
    assert_int_equal (rstats (fx).duplicates, 1);
}

static void
test_replace_duplicate (void **state)
{
    fx_t *fx = *state;
    ingest (fx, "A", "Hello, World!");
    ingest (fx, "B", "hello   world");
    ingest (fx, "C", "HELLO WORLD");
    assert_int_equal (dinfo (fx, "A").members, 2);
    assert_int_equal (rstats (fx).duplicates, 2);

    store_ingest_result_t res = put (fx, "B", "goodbye world", NULL, NULL, true);
    assert_int_equal (res.replaced, 1);
    assert_false (is_dup (fx, "B"));
    assert_int_not_equal (pending_ticket (fx, "B"), 0);
    assert_string_equal (dinfo (fx, "B").canon, "");
    assert_int_equal (dinfo (fx, "A").members, 1);
    assert_string_equal (dinfo (fx, "C").canon, "A");
    assert_int_equal (rstats (fx).duplicates, 1);

    /* a label on A reaches C only */
    human (fx, "A", "a");
    assert_copy_of (fx, "C", "A");
    assert_null (label_of (fx, "B"));

    /* a duplicate replaced by other words of the same content stays one,
       and is counted once */
    res = put (fx, "C", "hello, world!!", NULL, NULL, true);
    assert_int_equal (res.replaced, 1);
    assert_true (is_dup (fx, "C"));
    assert_string_equal (dinfo (fx, "C").canon, "A");
    assert_int_equal (dinfo (fx, "A").members, 1);
    assert_int_equal (rstats (fx).duplicates, 1);
    assert_int_equal (pending_ticket (fx, "C"), 0);
    assert_copy_of (fx, "C", "A");
}

/*  A detached duplicate that a person labelled itself keeps its label and
    its place in `training`: it is not sent to annotation again (it once
    was, and the model's answer replaced the person's label).  */
static void
test_replace_keeps_human_duplicate (void **state)
{
    fx_t *fx = *state;
    ingest (fx, "A", "Hello, World!");
    ingest (fx, "B", "hello   world");
    human (fx, "B", "a");
    store_stats_t before;
    assert_true (store_read_stats (fx->store, &before));
    assert_int_equal (before.training, 1);

    put (fx, "A", "something else entirely", NULL, NULL, true);
    assert_false (is_dup (fx, "B"));
    assert_int_equal (rstats (fx).duplicates, 0);
    Annotate__V1__Label *l = label_of (fx, "B");
    assert_int_equal (l->source, S_HUMAN);
    label_free (l);
    /* the person's answer stands: nothing left to annotate */
    assert_int_equal (pending_ticket (fx, "B"), 0);
    assert_int_equal (state_of (fx, "B").ticket, 0);
}

/* ---- 5. history --------------------------------------------------------------- */

static void
test_history (void **state)
{
    fx_t *fx = *state;
    ingest (fx, "A", "Hello, World!");
    ingest (fx, "B", "hello   world");
    assert_int_equal (history (fx, "B").n, 0);

    assert_int_equal (machine (fx, "A", TICKET, S_NONE, 0, "", 0.0f), 1);
    assert_int_equal (machine (fx, "A", 0, S_MODEL, 1, "a", 0.6f), 1);
    assert_int_equal (machine (fx, "A", 0, S_MODEL, 2, "b", 0.9f), 1);
    human (fx, "A", "a");

    events_t a = history (fx, "A");
    events_t b = history (fx, "B");
    assert_int_equal (a.n, 4);
    assert_int_equal (b.n, 4);
    const char *labels[] = { "", "a", "b", "a" };
    const int sources[] = { S_NONE, S_DUP, S_DUP, S_DUP };
    const int a_sources[] = { S_NONE, S_MODEL, S_MODEL, S_HUMAN };
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal (a.source[i], a_sources[i]);
        assert_int_equal (b.source[i], sources[i]);
        assert_string_equal (b.label[i], labels[i]);
        assert_string_equal (b.dup_of[i], i == 0 ? "" : "A");
        assert_float_equal (b.confidence[i], a.confidence[i], 0.0f);
        /* each copy is written right after the label it copies */
        assert_int_equal (b.seq[i], a.seq[i] + 1);
        if (i)
            assert_true (b.seq[i] > b.seq[i - 1]);
    }
    /* the current label is the newest event */
    assert_int_equal (state_of (fx, "B").label_seq, b.seq[3]);

    /* a late duplicate starts with one copy of the current label */
    ingest (fx, "C", "Hello world");
    events_t c = history (fx, "C");
    assert_int_equal (c.n, 1);
    assert_int_equal (c.source[0], S_DUP);
    assert_string_equal (c.label[0], "a");
    assert_string_equal (c.dup_of[0], "A");
}

/* ---- 6. restart --------------------------------------------------------------- */

static void
test_restart (void **state)
{
    fx_t *fx = *state;
    ingest (fx, "A", "Hello, World!");
    ingest (fx, "B", "hello   world");
    assert_int_equal (machine (fx, "A", TICKET, S_MODEL, 1, "a", 0.7f), 1);

    store_destroy (&fx->store);
    assert_null (fx->store);
    fx_open (fx);

    assert_true (is_dup (fx, "B"));
    assert_string_equal (dinfo (fx, "B").canon, "A");
    assert_int_equal (dinfo (fx, "A").members, 1);
    assert_int_equal (rstats (fx).duplicates, 1);
    assert_int_equal (pending_ticket (fx, "B"), 0);
    assert_copy_of (fx, "B", "A");

    human (fx, "A", "b");
    assert_copy_of (fx, "B", "A");
    Annotate__V1__Label *l = label_of (fx, "B");
    assert_string_equal (l->label, "b");
    label_free (l);
    assert_int_equal (history (fx, "B").n, 2);

    /* and a new duplicate still finds its canonical item */
    ingest (fx, "C", "HELLO WORLD");
    assert_true (is_dup (fx, "C"));
    assert_string_equal (dinfo (fx, "C").canon, "A");
    assert_int_equal (dinfo (fx, "A").members, 2);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_text_duplicate, setup, teardown),
        cmocka_unit_test_setup_teardown (test_vector_duplicate, setup, teardown),
        cmocka_unit_test_setup_teardown (test_labels_follow, setup, teardown),
        cmocka_unit_test_setup_teardown (test_duplicate_not_reviewed, setup, teardown),
        cmocka_unit_test_setup_teardown (test_gold_never_dedup, setup, teardown),
        cmocka_unit_test_setup_teardown (test_empty_never_dedup, setup, teardown),
        cmocka_unit_test_setup_teardown (test_policy_off, setup, teardown),
        cmocka_unit_test_setup_teardown (test_replace_canonical, setup, teardown),
        cmocka_unit_test_setup_teardown (test_replace_duplicate, setup, teardown),
        cmocka_unit_test_setup_teardown (test_replace_keeps_human_duplicate, setup, teardown),
        cmocka_unit_test_setup_teardown (test_history, setup, teardown),
        cmocka_unit_test_setup_teardown (test_restart, setup, teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
