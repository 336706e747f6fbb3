/*  test_review.c: the review queue (store_review.c) and the leases that hand
    it to people (review/review.c).

    The store is driven the way its writer does it, one write transaction
    per step (store_write_begin, store_txn_*, store_write_commit), with no
    writer actor in between, so every assertion is about the store and the
    review_t alone. Covers routing (cold start, auto-accept by the current
    model's class thresholds, uncertainty, the validation sample), queue
    order and paging, what a person's label does to the queue and the
    counters, and a restart with a non-empty queue. The leases are in
    test_review_leases.c; the shared helpers in review_fixture.h.
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
#include "review_fixture.h"
#include "util/util.h"

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
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
