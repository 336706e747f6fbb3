/*  review_fixture.h: the store and write helpers shared by test_review.c
    (the queue and routing) and test_review_leases.c (the leases): a store
    with active learning on, items ingested and labelled the way the
    writer does it, one write transaction per step. Include after cmocka.h. */
#ifndef ANNOTATE_TEST_REVIEW_FIXTURE_H
#define ANNOTATE_TEST_REVIEW_FIXTURE_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "txn_fixture.h"
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

/* ---- fixture (txn_fixture.h) ----------------------------------------- */

static inline int
setup (void **state)
{
    store_policy_t policy = { .vector_dim = 4, .labels = taxonomy, .n_labels = 2,
                              .al_enabled = true, .al_auto_accept = true,
                              .al_validation_rate = 0.0, .al_seed = 1 };
    return fx_setup (state, "test_review", policy);
}

static inline int
teardown (void **state)
{
    return fx_teardown (state);
}

/* ---- writes ------------------------------------------------------------------ */

/*  One item with a text and, when vec is given, a 4-float vector.  */
static inline void
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
static inline void
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

static inline bool
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
static inline uint64_t
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
static inline uint64_t
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

static inline void
cold (fx_t *fx, const char *id)
{
    assert_int_equal (machine (fx, id, TICKET, S_NONE, 0, "", 0.0f, 0.0f), 1);
}

/*  n items "<prefix>NNN", routed: cold start when unc is NULL, else a
    model-1 label "a" with uncertainty unc[i].  */
static inline void
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

static inline uint64_t
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

#endif
