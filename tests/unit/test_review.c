/*  test_review.c: the review queue (store_review.c) and the leases that hand
    it to people (review/review.c).

    The store is driven the way its writer does it, one write transaction
    per step (store_write_begin, store_txn_*, store_write_commit), with no
    writer actor in between, so every assertion is about the store and the
    review_t alone. Covers routing (cold start, auto-accept by the current
    model's class thresholds, uncertainty, the validation sample), queue
    order and paging, what a person's label does to the queue and the
    counters, a restart with a non-empty queue, and leases: concurrency,
    expiry, idempotent answers, skips, budgets and the diversity pick.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "al/al.h"
#include "review/review.h"
#include "store/store.h"
#include "store_fixture.h"
#include "util/util.h"

#define T0          1700000000000LL     /* a fixed "now" for the leases */
#define MAX_Q       256
#define TICKET      ((uint64_t) -1)      /* machine (): the item's pending ticket */

#define R_UNCERTAIN  ANNOTATE__V1__REVIEW_REASON__REASON_UNCERTAIN
#define R_VALIDATION ANNOTATE__V1__REVIEW_REASON__REASON_VALIDATION
#define R_COLD       ANNOTATE__V1__REVIEW_REASON__REASON_COLD_START
#define S_NONE       ANNOTATE__V1__LABEL_SOURCE__SOURCE_NONE
#define S_MODEL      ANNOTATE__V1__LABEL_SOURCE__SOURCE_MODEL
#define S_HUMAN      ANNOTATE__V1__LABEL_SOURCE__SOURCE_HUMAN
#define S_AUTO       ANNOTATE__V1__LABEL_SOURCE__SOURCE_AUTO

static char *taxonomy[] = { "a", "b" };

/* ---- fixture (store_fixture.h) ----------------------------------------- */

static int
setup (void **state)
{
    store_policy_t policy = { .vector_dim = 4, .labels = taxonomy, .n_labels = 2,
                              .al_enabled = true, .al_auto_accept = true,
                              .al_validation_rate = 0.0, .al_seed = 1 };
    return fx_setup (state, "test_review", policy);
}

static int
teardown (void **state)
{
    return fx_teardown (state);
}

/* ---- writes ------------------------------------------------------------------ */

/*  One item with a text and, when vec is given, a 4-float vector.  */
static void
ingest (fx_t *fx, const char *id, const char *text, const float *vec)
{
    Annotate__V1__Item it = ANNOTATE__V1__ITEM__INIT;
    it.id = (char *) id;
    it.text = (char *) text;
    if (vec) {
        it.vector = (float *) vec;
        it.n_vector = 4;
    }
    Annotate__V1__Item *items[] = { &it };
    store_ingest_result_t res;
    char err[256] = "";
    MDB_txn *txn = wbegin (fx);
    store_status_t s = store_txn_ingest (fx->store, txn, &fx->policy, items, 1, false, 1000, &res,
                                         err, sizeof err);
    if (s != STORE_OK)
        fail_msg ("ingest %s: %s", id, err);
    wcommit (fx, txn);
    assert_int_equal (res.accepted, 1);
}

/*  Ingests n items "<prefix><i>" with distinct texts.  */
static void
ingest_n (fx_t *fx, const char *prefix, size_t n)
{
    static const char *words[] = { "alpha", "bravo", "charlie", "delta", "echo", "foxtrot",
                                   "golf", "hotel", "india", "juliet", "kilo", "lima" };
    for (size_t i = 0; i < n; i++) {
        char id[32], text[96];
        snprintf (id, sizeof id, "%s%03zu", prefix, i);
        snprintf (text, sizeof text, "%s %s %s %zu", words[i % 12], words[(i / 12) % 12],
                  words[(i * 7 + 3) % 12], i);
        ingest (fx, id, text, NULL);
    }
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

/*  The item's pending ticket, as the dispatcher would read it.  */
static uint64_t
pending_ticket (fx_t *fx, const char *id)
{
    ticket_probe_t p = { id, 0 };
    MDB_txn *txn = store_read_begin (fx->store);
    store_pending_after (fx->store, txn, 0, 100000, on_pending, &p);
    store_read_end (fx->store, txn);
    return p.ticket;
}

/*  A machine label. ticket TICKET: the item's pending ticket.
    Returns how many were applied (0 or 1).  */
static uint64_t
machine (fx_t *fx, const char *id, uint64_t ticket, int source, uint64_t version,
         const char *label, float confidence, float uncertainty)
{
    Annotate__V1__Label lab = ANNOTATE__V1__LABEL__INIT;
    lab.label = (char *) (label ? label : "");
    lab.confidence = confidence;
    lab.uncertainty = uncertainty;
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

static void
cold (fx_t *fx, const char *id)
{
    assert_int_equal (machine (fx, id, TICKET, S_NONE, 0, "", 0.0f, 0.0f), 1);
}

/*  n items "<prefix>NNN", routed: cold start when unc is NULL, else a
    model-1 label "a" with uncertainty unc[i].  */
static void
queue_n (fx_t *fx, const char *prefix, size_t n, const float *unc)
{
    ingest_n (fx, prefix, n);
    for (size_t i = 0; i < n; i++) {
        char id[32];
        snprintf (id, sizeof id, "%s%03zu", prefix, i);
        if (unc)
            assert_int_equal (machine (fx, id, TICKET, S_MODEL, 1, "a", 0.6f, unc[i]), 1);
        else
            cold (fx, id);
    }
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

/*  A model version whose thresholds are "a": enabled at th_a, "b": disabled.  */
static uint64_t
put_model (fx_t *fx, float th_a, bool make_current)
{
    Annotate__V1__ClassThreshold ta = ANNOTATE__V1__CLASS_THRESHOLD__INIT;
    Annotate__V1__ClassThreshold tb = ANNOTATE__V1__CLASS_THRESHOLD__INIT;
    ta.label = "a";
    ta.enabled = true;
    ta.threshold = th_a;
    tb.label = "b";
    tb.enabled = false;
    tb.threshold = 0.5f;     /* disabled: must never accept, whatever the value */
    Annotate__V1__ClassThreshold *ths[] = { &ta, &tb };
    Annotate__V1__ModelInfo info = ANNOTATE__V1__MODEL_INFO__INIT;
    info.status = "published";
    info.thresholds = ths;
    info.n_thresholds = 2;
    static const uint8_t blob[] = "model-blob";
    uint64_t version = 0;
    MDB_txn *txn = wbegin (fx);
    assert_int_equal (store_txn_put_model (fx->store, txn, blob, sizeof blob, &info, make_current,
                                           500, &version),
                      STORE_OK);
    wcommit (fx, txn);
    assert_true (version > 0);
    return version;
}

/* ---- reads ------------------------------------------------------------------- */

static item_state_t
state_of (fx_t *fx, const char *id)
{
    item_state_t st;
    MDB_txn *txn = store_read_begin (fx->store);
    int rc = store_get_item (fx->store, txn, id, strlen (id), NULL, NULL, &st);
    store_read_end (fx->store, txn);
    if (rc)
        fail_msg ("no item %s", id);
    return st;
}

/*  The stored current label (free with protobuf_c_message_free_unpacked).  */
static Annotate__V1__Label *
label_of (fx_t *fx, const char *id)
{
    Annotate__V1__Label *label = NULL;
    MDB_txn *txn = store_read_begin (fx->store);
    int rc = store_get_item (fx->store, txn, id, strlen (id), NULL, &label, NULL);
    store_read_end (fx->store, txn);
    assert_int_equal (rc, 0);
    assert_non_null (label);
    return label;
}

static store_review_stats_t
rstats (fx_t *fx)
{
    store_review_stats_t st;
    MDB_txn *txn = store_read_begin (fx->store);
    store_review_stats (fx->store, txn, &st);
    store_read_end (fx->store, txn);
    return st;
}

typedef struct {
    size_t n;
    char id[MAX_Q][40];
    uint8_t reason[MAX_Q];
    float priority[MAX_Q];
    uint8_t key[MAX_Q][4 + 40];
    size_t key_len[MAX_Q];
} queue_t;

static bool
on_queue (void *arg, const uint8_t *key, size_t key_len, const char *id, size_t id_len,
          uint8_t reason, float priority)
{
    queue_t *q = arg;
    assert_true (q->n < MAX_Q && id_len < sizeof q->id[0] && key_len <= sizeof q->key[0]);
    memcpy (q->id[q->n], id, id_len);
    q->id[q->n][id_len] = 0;
    q->reason[q->n] = reason;
    q->priority[q->n] = priority;
    memcpy (q->key[q->n], key, key_len);
    q->key_len[q->n] = key_len;
    q->n++;
    return true;
}

static queue_t *
scan (fx_t *fx)
{
    queue_t *q = calloc (1, sizeof *q);
    MDB_txn *txn = store_read_begin (fx->store);
    size_t n = store_review_scan (fx->store, txn, NULL, 0, MAX_Q, on_queue, q);
    store_read_end (fx->store, txn);
    assert_int_equal (n, q->n);
    return q;
}

static ssize_t
queue_find (const queue_t *q, const char *id)
{
    for (size_t i = 0; i < q->n; i++)
        if (strcmp (q->id[i], id) == 0)
            return (ssize_t) i;
    return -1;
}

/* ---- 1. routing: cold start ------------------------------------------------ */

static void
test_cold_start_routing (void **state)
{
    fx_t *fx = *state;
    queue_n (fx, "c", 5, NULL);
    for (size_t i = 0; i < 5; i++) {
        char id[16];
        snprintf (id, sizeof id, "c%03zu", i);
        item_state_t st = state_of (fx, id);
        assert_int_equal (st.review, R_COLD);
        assert_int_equal (st.ticket, 0);
        assert_int_equal (st.source, S_NONE);
        /* the code marks a queued item STATUS_REVIEW (append_event), which
           is what the proto's "waiting for a person" means */
        assert_int_equal (st.status, ANNOTATE__V1__ITEM_STATUS__STATUS_REVIEW);
    }
    store_review_stats_t s = rstats (fx);
    assert_int_equal (s.queue[0], 5);
    assert_int_equal (s.queue[R_COLD], 5);
    assert_int_equal (s.queue[R_UNCERTAIN], 0);
    assert_int_equal (s.queue[R_VALIDATION], 0);
    assert_int_equal (s.by_source[S_NONE], 5);
    assert_int_equal (s.by_source[0], 0);
    queue_t *q = scan (fx);
    assert_int_equal (q->n, 5);
    for (size_t i = 0; i < q->n; i++) {
        assert_int_equal (q->reason[i], R_COLD);
        /* a random but fixed order: the seeded uniform draw of the id */
        float want = (float) al_uniform (q->id[i], strlen (q->id[i]), 1);
        assert_float_equal (q->priority[i], want, 1e-6);
        if (i)
            assert_true (q->priority[i - 1] >= q->priority[i]);
    }
    free (q);
}

/* ---- 2. routing: class thresholds ------------------------------------------ */

static void
test_threshold_routing (void **state)
{
    fx_t *fx = *state;
    uint64_t v1 = put_model (fx, 0.9f, true);
    uint64_t v2 = put_model (fx, 0.9f, false);
    ingest_n (fx, "t", 6);
    /* "a" above its threshold: auto-accepted, not queued */
    assert_int_equal (machine (fx, "t000", TICKET, S_MODEL, v1, "a", 0.95f, 0.05f), 1);
    item_state_t st = state_of (fx, "t000");
    assert_int_equal (st.source, S_AUTO);
    assert_int_equal (st.review, 0);
    assert_int_equal (st.status, ANNOTATE__V1__ITEM_STATUS__STATUS_ACCEPTED);
    Annotate__V1__Label *l = label_of (fx, "t000");
    assert_int_equal (l->source, S_AUTO);
    assert_float_equal (l->threshold, 0.9f, 1e-6);
    assert_int_equal (l->model_version, v1);
    protobuf_c_message_free_unpacked (&l->base, NULL);
    /* "a" below it: queued by uncertainty */
    assert_int_equal (machine (fx, "t001", TICKET, S_MODEL, v1, "a", 0.5f, 0.37f), 1);
    /* "b" is disabled: queued even when sure */
    assert_int_equal (machine (fx, "t002", TICKET, S_MODEL, v1, "b", 0.999f, 0.01f), 1);
    /* another model version's label: its thresholds do not apply */
    assert_int_equal (machine (fx, "t003", TICKET, S_MODEL, v2, "a", 0.99f, 0.02f), 1);
    /* exactly at the threshold: accepted (>=) */
    assert_int_equal (machine (fx, "t004", TICKET, S_MODEL, v1, "a", 0.9f, 0.1f), 1);
    assert_int_equal (state_of (fx, "t004").source, S_AUTO);

    for (int i = 1; i <= 3; i++) {
        char id[16];
        snprintf (id, sizeof id, "t%03d", i);
        st = state_of (fx, id);
        assert_int_equal (st.source, S_MODEL);
        assert_int_equal (st.review, R_UNCERTAIN);
        assert_int_equal (st.status, ANNOTATE__V1__ITEM_STATUS__STATUS_REVIEW);
        l = label_of (fx, id);
        assert_int_equal (l->source, S_MODEL);
        assert_float_equal (l->threshold, 0.0f, 1e-9);
        protobuf_c_message_free_unpacked (&l->base, NULL);
    }
    queue_t *q = scan (fx);
    assert_int_equal (q->n, 3);
    ssize_t at = queue_find (q, "t001");
    assert_true (at >= 0);
    assert_int_equal (q->reason[at], R_UNCERTAIN);
    assert_float_equal (q->priority[at], 0.37f, 1e-6);
    assert_true (queue_find (q, "t000") < 0);
    assert_true (queue_find (q, "t004") < 0);
    free (q);

    store_review_stats_t s = rstats (fx);
    assert_int_equal (s.queue[0], 3);
    assert_int_equal (s.queue[R_UNCERTAIN], 3);
    assert_int_equal (s.by_source[S_AUTO], 2);
    assert_int_equal (s.by_source[S_MODEL], 3);
    assert_int_equal (s.by_source[0], 1);      /* t005 never labelled */

    /* v2 becomes current: its re-annotation (ticket 0) re-routes the
       queued t001, which now passes and leaves the queue */
    MDB_txn *txn = wbegin (fx);
    assert_int_equal (store_txn_set_current_model (fx->store, txn, v2), STORE_OK);
    wcommit (fx, txn);
    assert_int_equal (machine (fx, "t001", 0, S_MODEL, v2, "a", 0.97f, 0.03f), 1);
    st = state_of (fx, "t001");
    assert_int_equal (st.source, S_AUTO);
    assert_int_equal (st.review, 0);
    /* ... and a re-annotation never replaces an auto-accepted label */
    assert_int_equal (machine (fx, "t000", 0, S_MODEL, v2 + 1, "b", 0.5f, 0.5f), 0);
    s = rstats (fx);
    assert_int_equal (s.queue[0], 2);
    assert_int_equal (s.queue[R_UNCERTAIN], 2);
    assert_int_equal (s.by_source[S_AUTO], 3);
    assert_int_equal (s.by_source[S_MODEL], 2);
}

/* ---- 3. queue order ------------------------------------------------------------ */

static void
test_queue_order (void **state)
{
    fx_t *fx = *state;
    const float unc[] = { 0.2f, 0.9f, 0.5f };
    queue_n (fx, "q", 3, unc);
    queue_t *q = scan (fx);
    assert_int_equal (q->n, 3);
    assert_string_equal (q->id[0], "q001");
    assert_string_equal (q->id[1], "q002");
    assert_string_equal (q->id[2], "q000");
    assert_float_equal (q->priority[0], 0.9f, 1e-6);
    assert_float_equal (q->priority[1], 0.5f, 1e-6);
    assert_float_equal (q->priority[2], 0.2f, 1e-6);

    /* paging: one at a time, each page after the previous key */
    queue_t *p = calloc (1, sizeof *p);
    MDB_txn *txn = store_read_begin (fx->store);
    assert_int_equal (store_review_scan (fx->store, txn, NULL, 0, 1, on_queue, p), 1);
    for (size_t i = 1; i < 3; i++)
        assert_int_equal (store_review_scan (fx->store, txn, p->key[i - 1], p->key_len[i - 1], 1,
                                             on_queue, p),
                          1);
    assert_int_equal (store_review_scan (fx->store, txn, p->key[2], p->key_len[2], 1, on_queue, p),
                      0);
    store_read_end (fx->store, txn);
    assert_int_equal (p->n, 3);
    for (size_t i = 0; i < 3; i++)
        assert_string_equal (p->id[i], q->id[i]);
    free (p);
    free (q);
}

/* ---- 4. validation sample ------------------------------------------------------ */

typedef struct {
    size_t n;
    char id[16][16];
    bool validation[16];
} training_t;

static bool
on_training (void *arg, const char *id, size_t id_len, const char *label, size_t label_len,
             const uint8_t *item, size_t item_len, bool validation)
{
    (void) label;
    (void) label_len;
    (void) item;
    (void) item_len;
    training_t *t = arg;
    assert_true (t->n < 16 && id_len < sizeof t->id[0]);
    memcpy (t->id[t->n], id, id_len);
    t->id[t->n][id_len] = 0;
    t->validation[t->n] = validation;
    t->n++;
    return true;
}

static void
test_validation_sample (void **state)
{
    fx_t *fx = *state;
    fx->policy.al_validation_rate = 1.0;
    fx->policy.al_validation_max = 3;
    const float unc[] = { 0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f };
    queue_n (fx, "v", 6, unc);
    store_review_stats_t s = rstats (fx);
    assert_int_equal (s.validation_sampled, 3);
    assert_int_equal (s.queue[0], 6);
    assert_int_equal (s.queue[R_VALIDATION], 3);
    assert_int_equal (s.queue[R_UNCERTAIN], 3);
    queue_t *q = scan (fx);
    assert_int_equal (q->n, 6);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal (q->reason[i], R_VALIDATION);
        assert_true (state_of (fx, q->id[i]).flags & ITEM_FLAG_VALIDATION);
    }
    for (size_t i = 3; i < 6; i++) {
        assert_int_equal (q->reason[i], R_UNCERTAIN);
        assert_false (state_of (fx, q->id[i]).flags & ITEM_FLAG_VALIDATION);
    }
    char val_id[40], unc_id[40];
    snprintf (val_id, sizeof val_id, "%s", q->id[0]);
    snprintf (unc_id, sizeof unc_id, "%s", q->id[3]);
    free (q);

    human (fx, val_id, "b");
    human (fx, unc_id, "a");
    s = rstats (fx);
    assert_int_equal (s.validation_labels, 1);
    assert_int_equal (s.queue[0], 4);
    assert_int_equal (s.queue[R_VALIDATION], 2);
    assert_int_equal (s.queue[R_UNCERTAIN], 2);
    Annotate__V1__Label *l = label_of (fx, val_id);
    assert_int_equal (l->reason, R_VALIDATION);
    protobuf_c_message_free_unpacked (&l->base, NULL);

    training_t t = { 0 };
    MDB_txn *txn = store_read_begin (fx->store);
    store_training_after (fx->store, txn, NULL, 100, on_training, &t);
    store_read_end (fx->store, txn);
    assert_int_equal (t.n, 2);
    for (size_t i = 0; i < t.n; i++) {
        if (strcmp (t.id[i], val_id) == 0)
            assert_true (t.validation[i]);
        else {
            assert_string_equal (t.id[i], unc_id);
            assert_false (t.validation[i]);
        }
    }
}

/* ---- 5. a person's label ---------------------------------------------------------- */

static void
test_human_dequeues (void **state)
{
    fx_t *fx = *state;
    ingest_n (fx, "h", 3);
    assert_int_equal (machine (fx, "h000", TICKET, S_MODEL, 1, "a", 0.6f, 0.4f), 1);
    assert_int_equal (machine (fx, "h001", TICKET, S_MODEL, 1, "b", 0.6f, 0.6f), 1);
    cold (fx, "h002");
    store_review_stats_t s = rstats (fx);
    assert_int_equal (s.queue[0], 3);
    assert_int_equal (s.by_source[S_MODEL], 2);
    assert_int_equal (s.by_source[S_NONE], 1);

    human (fx, "h000", "a");            /* agrees with the model */
    item_state_t st = state_of (fx, "h000");
    assert_int_equal (st.review, 0);
    assert_int_equal (st.source, S_HUMAN);
    assert_int_equal (st.status, ANNOTATE__V1__ITEM_STATUS__STATUS_ACCEPTED);
    Annotate__V1__Label *l = label_of (fx, "h000");
    assert_int_equal (l->source, S_HUMAN);
    assert_int_equal (l->reason, R_UNCERTAIN);
    assert_string_equal (l->label, "a");
    protobuf_c_message_free_unpacked (&l->base, NULL);
    s = rstats (fx);
    assert_int_equal (s.reviews_agreed, 1);
    assert_int_equal (s.queue[0], 2);
    assert_int_equal (s.queue[R_UNCERTAIN], 1);
    assert_int_equal (s.by_source[S_MODEL], 1);
    assert_int_equal (s.by_source[S_HUMAN], 1);

    human (fx, "h001", "a");            /* disagrees */
    human (fx, "h002", "b");            /* cold start: nothing to agree with */
    l = label_of (fx, "h002");
    assert_int_equal (l->reason, R_COLD);
    protobuf_c_message_free_unpacked (&l->base, NULL);
    s = rstats (fx);
    assert_int_equal (s.reviews_agreed, 1);
    assert_int_equal (s.queue[0], 0);
    assert_int_equal (s.queue[R_UNCERTAIN], 0);
    assert_int_equal (s.queue[R_COLD], 0);
    assert_int_equal (s.by_source[S_MODEL], 0);
    assert_int_equal (s.by_source[S_NONE], 0);
    assert_int_equal (s.by_source[S_HUMAN], 3);
    assert_int_equal (s.human_labels, 3);
    queue_t *q = scan (fx);
    assert_int_equal (q->n, 0);
    free (q);

    /* a late machine result cannot put a person's item back in the queue */
    assert_int_equal (machine (fx, "h000", 0, S_MODEL, 9, "b", 0.5f, 0.5f), 0);
    assert_int_equal (rstats (fx).queue[0], 0);
}

/* ---- 6. restart ---------------------------------------------------------------------- */

static void
test_restart_keeps_queue (void **state)
{
    fx_t *fx = *state;
    fx->policy.al_validation_rate = 1.0;
    fx->policy.al_validation_max = 1;
    const float unc[] = { 0.3f, 0.8f, 0.55f, 0.1f };
    queue_n (fx, "r", 4, unc);          /* r000 is the one validation draw */
    queue_n (fx, "c", 1, NULL);
    human (fx, "r002", "b");
    queue_t *before = scan (fx);
    store_review_stats_t sb = rstats (fx);
    assert_int_equal (before->n, 4);
    assert_int_equal (sb.queue[0], 4);

    store_destroy (&fx->store);
    assert_null (fx->store);
    fx_open (fx);

    queue_t *after = scan (fx);
    store_review_stats_t sa = rstats (fx);
    assert_int_equal (after->n, before->n);
    for (size_t i = 0; i < before->n; i++) {
        assert_string_equal (after->id[i], before->id[i]);
        assert_int_equal (after->reason[i], before->reason[i]);
        assert_float_equal (after->priority[i], before->priority[i], 1e-9);
    }
    assert_memory_equal (&sa, &sb, sizeof sa);
    /* and it keeps working: the next label routes as before */
    ingest (fx, "late", "late item", NULL);
    assert_int_equal (machine (fx, "late", TICKET, S_MODEL, 1, "a", 0.6f, 0.99f), 1);
    queue_t *more = scan (fx);
    assert_int_equal (more->n, 5);
    assert_string_equal (more->id[0], "r000");
    assert_int_equal (more->reason[0], R_VALIDATION);
    assert_string_equal (more->id[1], "late");
    free (more);
    free (before);
    free (after);
}

/* ---- 7. leases ------------------------------------------------------------------------ */

#define N_CONC     600
#define N_THREADS  8

typedef struct {
    review_t *rv;
    pthread_barrier_t start;    /* every thread leases from the same moment */
    pthread_mutex_t lock;
    char granted[N_CONC * 2][16];
    size_t n_granted, dups, errors;
} shared_t;

typedef struct {
    shared_t *sh;
    int index;
} worker_t;

static void *
lease_worker (void *arg)
{
    worker_t *w = arg;
    shared_t *sh = w->sh;
    char name[16];
    snprintf (name, sizeof name, "rev%d", w->index);
    pthread_barrier_wait (&sh->start);
    for (int round = 0; round < 1000; round++) {
        review_task_t tasks[3];
        char why[256];
        uint64_t depth;
        size_t n = review_lease (sh->rv, name, 3, 300, T0, tasks, why, sizeof why, &depth);
        if (n == 0)
            break;
        /* cmocka asserts are not thread-safe: count, assert in the test */
        pthread_mutex_lock (&sh->lock);
        if (n > 3)
            sh->errors++;
        for (size_t i = 0; i < n && i < 3; i++) {
            for (size_t k = 0; k < sh->n_granted; k++)
                if (strcmp (sh->granted[k], tasks[i].id) == 0)
                    sh->dups++;
            if (sh->n_granted < N_CONC * 2)
                snprintf (sh->granted[sh->n_granted++], 16, "%s", tasks[i].id);
        }
        pthread_mutex_unlock (&sh->lock);
        review_tasks_free (tasks, n < 3 ? n : 3);
    }
    return NULL;
}

static void
test_leases_concurrent (void **state)
{
    fx_t *fx = *state;
    queue_n (fx, "k", N_CONC, NULL);
    shared_t *sh = calloc (1, sizeof *sh);
    review_t *rv = sh->rv = review_new (fx->store);
    assert_non_null (rv);
    pthread_mutex_init (&sh->lock, NULL);
    pthread_barrier_init (&sh->start, NULL, N_THREADS);
    pthread_t th[N_THREADS];
    worker_t w[N_THREADS];
    for (int i = 0; i < N_THREADS; i++) {
        w[i] = (worker_t) { sh, i };
        assert_int_equal (pthread_create (&th[i], NULL, lease_worker, &w[i]), 0);
    }
    for (int i = 0; i < N_THREADS; i++)
        pthread_join (th[i], NULL);
    assert_int_equal (sh->errors, 0);
    assert_int_equal (sh->dups, 0);
    assert_int_equal (sh->n_granted, N_CONC);  /* every queued item, once */
    review_counts_t c;
    review_counts (rv, T0, &c);
    assert_int_equal (c.leased, N_CONC);
    /* exhausted: nothing more, and a message that says why */
    review_task_t t[1];
    char why[256];
    uint64_t depth;
    assert_int_equal (review_lease (rv, "late", 1, 300, T0, t, why, sizeof why, &depth), 0);
    assert_int_equal (depth, N_CONC);
    assert_non_null (strstr (why, "leased"));
    pthread_mutex_destroy (&sh->lock);
    pthread_barrier_destroy (&sh->start);
    free (sh);
    review_destroy (&rv);
    assert_null (rv);
}

static size_t
lease (review_t *rv, const char *who, size_t max, uint32_t lease_s, int64_t now,
       review_task_t *out, char *why)
{
    uint64_t depth;
    return review_lease (rv, who, max, lease_s, now, out, why, 256, &depth);
}

static void
test_lease_expiry_check_release (void **state)
{
    fx_t *fx = *state;
    const float unc[] = { 0.9f, 0.6f, 0.3f };
    queue_n (fx, "e", 3, unc);
    review_t *rv = review_new (fx->store);
    review_task_t t1[1], t2[1], t3[1], t4[3];
    char why[256];
    uint64_t seq = 0;
    char label[64];

    /* r1 takes the head for one second */
    assert_int_equal (lease (rv, "r1", 1, 1, T0, t1, why), 1);
    assert_string_equal (t1[0].id, "e000");
    assert_int_equal (t1[0].expires_ms, T0 + 1000);
    assert_int_equal (t1[0].reason, R_UNCERTAIN);
    assert_float_equal (t1[0].priority, 0.9f, 1e-6);
    /* while it holds it, r2 gets the next one */
    assert_int_equal (lease (rv, "r2", 1, 300, T0 + 500, t2, why), 1);
    assert_string_equal (t2[0].id, "e001");
    /* after expiry the head is offered again */
    assert_int_equal (lease (rv, "r3", 1, 300, T0 + 1500, t3, why), 1);
    assert_string_equal (t3[0].id, "e000");
    assert_string_not_equal (t3[0].lease, t1[0].lease);

    /* r1's late answer: the item moved on to r3 */
    assert_int_equal (review_check (rv, "r1", t1[0].lease, "e000", T0 + 1600, &seq, label,
                                    sizeof label),
                      REVIEW_HELD);
    assert_int_equal (review_check (rv, "r3", t3[0].lease, "e000", T0 + 1600, &seq, label,
                                    sizeof label),
                      REVIEW_OK);
    uint64_t s = human (fx, "e000", "b");
    review_done (rv, t3[0].lease, "e000", s, "b", true, T0 + 1700);
    seq = 0;
    label[0] = 0;
    assert_int_equal (review_check (rv, "r3", t3[0].lease, "e000", T0 + 1800, &seq, label,
                                    sizeof label),
                      REVIEW_DUPLICATE);
    assert_int_equal (seq, s);
    assert_string_equal (label, "b");
    review_counts_t c;
    review_counts (rv, T0 + 1800, &c);
    assert_int_equal (c.leased, 1);             /* r2's */
    assert_int_equal (c.answers_last_hour, 1);

    /* r2 skips e001: others get it, r2 does not (within the hide window) */
    review_release (rv, "r2", t2[0].lease, "e001", T0 + 2000);
    review_counts (rv, T0 + 2000, &c);
    assert_int_equal (c.leased, 0);
    assert_int_equal (lease (rv, "r2", 3, 300, T0 + 2100, t4, why), 1);
    assert_string_equal (t4[0].id, "e002");
    review_tasks_free (t4, 1);
    review_task_t t5[3];
    assert_int_equal (lease (rv, "r4", 3, 300, T0 + 2200, t5, why), 1);
    assert_string_equal (t5[0].id, "e001");
    review_tasks_free (t5, 1);
    /* r2 alone, everything left leased or skipped by it */
    assert_int_equal (lease (rv, "r2", 3, 300, T0 + 2300, t4, why), 0);
    assert_non_null (strstr (why, "skipped"));
    /* once the hide window and the leases are over, r2 sees it again */
    int64_t later = T0 + 2000 + 16 * 60 * 1000;
    assert_int_equal (lease (rv, "r2", 3, 300, later, t4, why), 2);
    assert_string_equal (t4[0].id, "e001");
    assert_string_equal (t4[1].id, "e002");
    review_tasks_free (t4, 2);

    review_tasks_free (t1, 1);
    review_tasks_free (t2, 1);
    review_tasks_free (t3, 1);
    review_destroy (&rv);
}

static void
test_lease_budget (void **state)
{
    fx_t *fx = *state;
    queue_n (fx, "b", 6, NULL);
    review_t *rv = review_new (fx->store);
    review_config_t cfg = { .lease_s = 300, .budget_total = 2 };
    features_config_default (&cfg.features);
    review_configure (rv, &cfg);
    review_task_t t[5];
    char why[256];
    assert_int_equal (lease (rv, "r1", 1, 0, T0, t, why), 1);
    assert_int_equal (t[0].expires_ms, T0 + 300 * 1000);   /* the configured length */
    review_tasks_free (t, 1);
    assert_int_equal (lease (rv, "r2", 1, 0, T0, t, why), 1);
    review_tasks_free (t, 1);
    assert_int_equal (lease (rv, "r3", 1, 0, T0, t, why), 0);
    assert_non_null (strstr (why, "budget"));
    review_destroy (&rv);

    /* a batch larger than what is left is cut to the budget */
    rv = review_new (fx->store);
    review_configure (rv, &cfg);
    assert_int_equal (lease (rv, "r1", 5, 0, T0, t, why), 2);
    review_tasks_free (t, 2);
    assert_int_equal (lease (rv, "r1", 5, 0, T0, t, why), 0);
    assert_non_null (strstr (why, "budget"));
    review_destroy (&rv);

    /* answers count against it too: one human label, budget 2 -> one lease */
    human (fx, "b005", "a");
    rv = review_new (fx->store);
    review_configure (rv, &cfg);
    assert_int_equal (lease (rv, "r1", 5, 0, T0, t, why), 1);
    review_tasks_free (t, 1);
    review_destroy (&rv);
}

/*  budget_per_hour caps "answers in the last hour plus leases out" for
    the size of one batch too, not only for whether any lease is granted
    (a batch of 5 with budget_per_hour 2 once got all 5).  */
static void
test_lease_hourly_budget_caps_batch (void **state)
{
    fx_t *fx = *state;
    queue_n (fx, "p", 6, NULL);
    review_t *rv = review_new (fx->store);
    review_config_t cfg = { .lease_s = 300, .budget_per_hour = 2 };
    features_config_default (&cfg.features);
    review_configure (rv, &cfg);
    review_task_t t[5];
    char why[256];
    size_t n = lease (rv, "r1", 5, 0, T0, t, why);
    review_tasks_free (t, n);
    size_t more = lease (rv, "r2", 1, 0, T0, t, why);
    review_tasks_free (t, more);
    review_destroy (&rv);
    assert_int_equal (n, 2);
    assert_int_equal (more, 0);
    assert_non_null (strstr (why, "hourly"));
}

/* ---- 8. diversity ---------------------------------------------------------------------- */

static size_t
diverse_batch (fx_t *fx, float max_sim, review_task_t *t)
{
    review_t *rv = review_new (fx->store);
    review_config_t cfg = { .lease_s = 300, .diversity_max_sim = max_sim };
    features_config_default (&cfg.features);
    cfg.features.hash_bits = 0;
    cfg.features.vector_dim = 4;
    review_configure (rv, &cfg);
    char why[256];
    size_t n = lease (rv, "r1", 2, 0, T0, t, why);
    review_destroy (&rv);
    return n;
}

static void
test_diversity_pick (void **state)
{
    fx_t *fx = *state;
    const float twin[4] = { 1, 0.5f, 0, 0 }, other[4] = { 0, 0, 1, 0 };
    ingest (fx, "twin1", "first twin", twin);
    ingest (fx, "twin2", "second twin", twin);
    ingest (fx, "other", "the different one", other);
    assert_int_equal (machine (fx, "twin1", TICKET, S_MODEL, 1, "a", 0.6f, 0.9f), 1);
    assert_int_equal (machine (fx, "twin2", TICKET, S_MODEL, 1, "a", 0.6f, 0.8f), 1);
    assert_int_equal (machine (fx, "other", TICKET, S_MODEL, 1, "a", 0.6f, 0.3f), 1);
    review_task_t t[2];
    assert_int_equal (diverse_batch (fx, 0.95f, t), 2);
    bool twin_seen = false, other_seen = false;
    for (int i = 0; i < 2; i++) {
        if (strcmp (t[i].id, "other") == 0)
            other_seen = true;
        else if (strncmp (t[i].id, "twin", 4) == 0) {
            assert_false (twin_seen);       /* one twin is enough */
            twin_seen = true;
        }
    }
    assert_true (twin_seen);
    assert_true (other_seen);
    review_tasks_free (t, 2);
    /* without the diversity pick the batch is just the queue's head */
    assert_int_equal (diverse_batch (fx, 0.0f, t), 2);
    assert_string_equal (t[0].id, "twin1");
    assert_string_equal (t[1].id, "twin2");
    review_tasks_free (t, 2);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_cold_start_routing, setup, teardown),
        cmocka_unit_test_setup_teardown (test_threshold_routing, setup, teardown),
        cmocka_unit_test_setup_teardown (test_queue_order, setup, teardown),
        cmocka_unit_test_setup_teardown (test_validation_sample, setup, teardown),
        cmocka_unit_test_setup_teardown (test_human_dequeues, setup, teardown),
        cmocka_unit_test_setup_teardown (test_restart_keeps_queue, setup, teardown),
        cmocka_unit_test_setup_teardown (test_leases_concurrent, setup, teardown),
        cmocka_unit_test_setup_teardown (test_lease_expiry_check_release, setup, teardown),
        cmocka_unit_test_setup_teardown (test_lease_budget, setup, teardown),
        cmocka_unit_test_setup_teardown (test_lease_hourly_budget_caps_batch, setup, teardown),
        cmocka_unit_test_setup_teardown (test_diversity_pick, setup, teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
