/*  test_store.c: writing to the LMDB store through its writer actor, the
    way the coordinator does: every write is a store_request_t, every read
    a short store_read_begin / _end.

    Covers opening (modes, reopen keeps everything, schema check), ingest
    semantics (counts, idempotence, conflicts, replace, gold labels, field
    validation, max_pending) and the label ticket rule (one event per
    annotation, never two). The read side is in test_store_read.c; group
    commit, map growth and STORE_FULL in test_store_writer.c.
*/
#include <math.h>

#include "store_fixture.h"

/* ---- opening -------------------------------------------------------------- */

static void
test_open_modes (void **state)
{
    fx_t *fx = *state;
    char path[128];
    struct stat sb;
    snprintf (path, sizeof path, "%s/data.mdb", fx->dir);
    assert_int_equal (stat (path, &sb), 0);
    assert_int_equal (sb.st_mode & 0777, 0600);

    /* a missing directory is created 0700 */
    char sub[128];
    snprintf (sub, sizeof sub, "%s/sub", fx->dir);
    store_config_t cfg = { .dir = sub, .initial_map_bytes = 1u << 20 };
    char err[256];
    store_t *s2 = store_open (&cfg, err, sizeof err);
    assert_non_null (s2);
    assert_int_equal (stat (sub, &sb), 0);
    assert_int_equal (sb.st_mode & 0777, 0700);
    store_destroy (&s2);
    assert_null (s2);

    /* no directory: a clear error, not a crash */
    store_config_t bad = { .dir = "" };
    err[0] = 0;
    assert_null (store_open (&bad, err, sizeof err));
    assert_non_null (strstr (err, "directory"));
    assert_null (store_open (NULL, err, sizeof err));
}

static void
test_schema_mismatch (void **state)
{
    fx_t *fx = *state;
    fx_stop (fx);
    store_config_t cfg = { .dir = fx->dir, .initial_map_bytes = 1u << 20 };
    char err[256];
    store_t *s = store_open (&cfg, err, sizeof err);
    assert_non_null (s);
    MDB_txn *txn;
    MDB_dbi meta;
    assert_int_equal (mdb_txn_begin (store_env (s), NULL, 0, &txn), 0);
    assert_int_equal (mdb_dbi_open (txn, "meta", 0, &meta), 0);
    uint8_t buf[8];
    be64_put (buf, 99);
    MDB_val key = { 6, "schema" }, val = { 8, buf };
    assert_int_equal (mdb_put (txn, meta, &key, &val, 0), 0);
    assert_int_equal (mdb_txn_commit (txn), 0);
    store_destroy (&s);

    err[0] = 0;
    assert_null (store_open (&cfg, err, sizeof err));
    assert_non_null (strstr (err, "schema version 99"));
    /* teardown expects a running fixture: start over on a fresh store */
    char path[128];
    snprintf (path, sizeof path, "%s/data.mdb", fx->dir);
    assert_int_equal (unlink (path), 0);
    snprintf (path, sizeof path, "%s/lock.mdb", fx->dir);
    unlink (path);
    store_policy_t p = policy_make (3, 0);
    fx_start (fx, &p);
}

/*  Everything acknowledged survives closing the environment.  */
static void
test_reopen_keeps_everything (void **state)
{
    fx_t *fx = *state;
    ingest_one (fx, "a", "alpha", NULL);
    ingest_one (fx, "b", "beta", NULL);
    ingest_one (fx, "g", "gold item", "dog");
    store_request_t req;
    assert_int_equal (label_one (fx, "a", ticket_of (fx, "a"), "cat", &req), STORE_OK);
    memset (&req, 0, sizeof req);
    req.type = STORE_REQ_MANIFEST;
    req.manifest_text = "version: 1\n";
    req.manifest_len = strlen (req.manifest_text);
    assert_int_equal (call (fx, &req), STORE_OK);
    store_stats_t before = stats (fx);
    uint64_t b_ticket = ticket_of (fx, "b");

    fx_stop (fx);
    store_policy_t p = policy_make (3, 0);
    fx_start (fx, &p);

    store_stats_t after = stats (fx);
    assert_int_equal (after.items, 3);
    assert_int_equal (after.labelled, 2);
    assert_int_equal (after.pending, 1);
    assert_int_equal (after.last_seq, before.last_seq);
    assert_int_equal (after.last_ticket, before.last_ticket);
    assert_int_equal (after.manifest_version, 1);
    seen_t h = history_after (fx, 0, 100);
    assert_int_equal (h.n, 2);
    assert_string_equal (h.id[0], "g");
    assert_string_equal (h.id[1], "a");
    seen_t pend = pending_after (fx, 0, 100);
    assert_int_equal (pend.n, 1);
    assert_string_equal (pend.id[0], "b");
    assert_int_equal (pend.key[0], b_ticket);
    char *t = text_of (fx, "a");
    assert_string_equal (t, "alpha");
    free (t);
    char *m = NULL;
    MDB_txn *txn = store_read_begin (fx->store);
    assert_int_equal (store_get_manifest (fx->store, txn, 1, &m, NULL, NULL), 0);
    store_read_end (fx->store, txn);
    assert_string_equal (m, "version: 1\n");
    free (m);
    /* tickets keep increasing after a reopen */
    ingest_one (fx, "c", "gamma", NULL);
    assert_int_equal (ticket_of (fx, "c"), before.last_ticket + 1);
}

/* ---- ingest --------------------------------------------------------------- */

static void
test_ingest_counts_and_idempotence (void **state)
{
    fx_t *fx = *state;
    Annotate__V1__Item a, b, g;
    item_set (&a, "a", "alpha");
    item_set (&b, "b", "beta");
    item_set (&g, "g", "gold");
    g.label = "cat";
    Annotate__V1__Item *items[] = { &a, &b, &g };
    store_request_t req;
    assert_int_equal (ingest (fx, items, 3, false, &req), STORE_OK);
    assert_int_equal (req.ingest.accepted, 3);
    assert_int_equal (req.ingest.unchanged, 0);
    assert_int_equal (req.ingest.replaced, 0);
    assert_int_equal (req.ingest.pending, 2);
    assert_int_equal (req.ingest.last_seq, 1);
    assert_int_equal (req.last_seq, 1);
    /* the caller's items are not modified by the store */
    assert_int_equal (a.content_hash.len, 0);
    assert_int_equal (a.ingested_at_ms, 0);
    store_stats_t s1 = stats (fx);

    assert_int_equal (ingest (fx, items, 3, false, &req), STORE_OK);
    assert_int_equal (req.ingest.accepted, 0);
    assert_int_equal (req.ingest.unchanged, 3);
    assert_int_equal (req.ingest.replaced, 0);
    assert_int_equal (req.ingest.pending, 2);
    store_stats_t s2 = stats (fx);
    assert_int_equal (s2.items, s1.items);
    assert_int_equal (s2.pending, s1.pending);
    assert_int_equal (s2.last_ticket, s1.last_ticket);
    assert_int_equal (s2.last_seq, s1.last_seq);
    /* also with replace set: identical content is never a replacement */
    assert_int_equal (ingest (fx, items, 3, true, &req), STORE_OK);
    assert_int_equal (req.ingest.unchanged, 3);
    assert_int_equal (req.ingest.replaced, 0);
    assert_int_equal (stats (fx).last_ticket, s1.last_ticket);
}

static void
test_ingest_conflict_writes_nothing (void **state)
{
    fx_t *fx = *state;
    ingest_one (fx, "a", "alpha", NULL);
    store_stats_t s1 = stats (fx);
    Annotate__V1__Item x, a2;
    item_set (&x, "x", "new one");
    item_set (&a2, "a", "alpha, edited");
    Annotate__V1__Item *items[] = { &x, &a2 };
    store_request_t req;
    assert_int_equal (ingest (fx, items, 2, false, &req), STORE_CONFLICT);
    assert_non_null (strstr (req.err, "items[1].id"));
    item_state_t st;
    assert_false (get_state (fx, "x", &st));
    char *t = text_of (fx, "a");
    assert_string_equal (t, "alpha");
    free (t);
    store_stats_t s2 = stats (fx);
    assert_int_equal (s2.items, s1.items);
    assert_int_equal (s2.pending, s1.pending);
    assert_int_equal (s2.last_ticket, s1.last_ticket);
}

static void
test_ingest_replace (void **state)
{
    fx_t *fx = *state;
    ingest_one (fx, "a", "alpha", NULL);
    ingest_one (fx, "b", "beta", NULL);
    uint64_t old = ticket_of (fx, "a");
    Annotate__V1__Item a2;
    item_set (&a2, "a", "alpha, edited");
    Annotate__V1__Item *items[] = { &a2 };
    store_request_t req;
    assert_int_equal (ingest (fx, items, 1, true, &req), STORE_OK);
    assert_int_equal (req.ingest.replaced, 1);
    assert_int_equal (req.ingest.accepted, 0);
    assert_int_equal (req.ingest.pending, 2);
    uint64_t fresh = ticket_of (fx, "a");
    assert_true (fresh > old);
    char *t = text_of (fx, "a");
    assert_string_equal (t, "alpha, edited");
    free (t);
    seen_t p = pending_after (fx, 0, 100);
    assert_int_equal (p.n, 2);
    assert_string_equal (p.id[0], "b");
    assert_string_equal (p.id[1], "a");
    assert_int_equal (p.key[1], fresh);
    for (size_t i = 0; i < p.n; i++)
        assert_true (p.key[i] != old);
    /* a result for the old content arrives late: discarded */
    assert_int_equal (label_one (fx, "a", old, "cat", &req), STORE_OK);
    assert_int_equal (req.applied, 0);
    assert_int_equal (req.discarded, 1);
    assert_int_equal (label_one (fx, "a", fresh, "dog", &req), STORE_OK);
    assert_int_equal (req.applied, 1);
}

/*  A labelled item replaced with new content has no current label any more
    (history keeps the old event) and is annotated again.  */
static void
test_replace_labelled_item (void **state)
{
    fx_t *fx = *state;
    ingest_one (fx, "g", "gold text", "cat");
    Annotate__V1__Item g2;
    item_set (&g2, "g", "other text");
    Annotate__V1__Item *items[] = { &g2 };
    store_request_t req;
    assert_int_equal (ingest (fx, items, 1, true, &req), STORE_OK);
    assert_int_equal (req.ingest.replaced, 1);
    Annotate__V1__Label *label = (void *) 1;
    item_state_t st;
    MDB_txn *txn = store_read_begin (fx->store);
    assert_int_equal (store_get_item (fx->store, txn, "g", 1, NULL, &label, &st), 0);
    store_read_end (fx->store, txn);
    assert_null (label);
    assert_int_equal (st.status, ANNOTATE__V1__ITEM_STATUS__STATUS_PENDING);
    assert_int_equal (st.source, 0);
    assert_int_not_equal (st.ticket, 0);
    assert_int_equal (st.label_seq, 0);  /* "0 if none": no current label */
    assert_int_equal (stats (fx).labelled, 0);
    assert_int_equal (item_history (fx, "g").n, 1);
}

static void
test_ingest_gold_label (void **state)
{
    fx_t *fx = *state;
    ingest_one (fx, "g", "gold text", "dog");
    seen_t h = history_after (fx, 0, 10);
    assert_int_equal (h.n, 1);
    assert_int_equal (h.key[0], 1);
    assert_string_equal (h.id[0], "g");
    assert_string_equal (h.label[0], "dog");
    assert_int_equal (h.source[0], ANNOTATE__V1__LABEL_SOURCE__SOURCE_GOLD);
    assert_int_equal (pending_after (fx, 0, 10).n, 0);
    item_state_t st;
    assert_true (get_state (fx, "g", &st));
    assert_int_equal (st.ticket, 0);
    assert_int_equal (st.label_seq, 1);
    assert_int_equal (st.source, ANNOTATE__V1__LABEL_SOURCE__SOURCE_GOLD);
    assert_int_equal (st.status, ANNOTATE__V1__ITEM_STATUS__STATUS_ACCEPTED);
    store_stats_t s = stats (fx);
    assert_int_equal (s.pending, 0);
    assert_int_equal (s.labelled, 1);
    assert_int_equal (s.last_ticket, 0);
}

/*  Each invalid field is refused with its path; nothing of the request is
    written even when earlier items were valid.  */
static void
expect_invalid (fx_t *fx, Annotate__V1__Item *bad, const char *field)
{
    Annotate__V1__Item ok;
    item_set (&ok, "fine", "a valid item before the bad one");
    Annotate__V1__Item *items[] = { &ok, bad };
    store_request_t req;
    assert_int_equal (ingest (fx, items, 2, false, &req), STORE_INVALID);
    if (!strstr (req.err, field))
        fail_msg ("error \"%s\" does not name %s", req.err, field);
    item_state_t st;
    assert_false (get_state (fx, "fine", &st));
    assert_int_equal (stats (fx).items, 0);
}

static void
test_ingest_invalid_fields (void **state)
{
    fx_t *fx = *state;
    Annotate__V1__Item it;
    item_set (&it, "x", "text");
    it.label = "bird";
    expect_invalid (fx, &it, "items[1].label");

    float v2[] = { 1, 2 };
    item_set (&it, "x", "text");
    it.vector = v2;
    it.n_vector = 2;
    expect_invalid (fx, &it, "items[1].vector");

    float vnan[] = { 1, NAN, 3 };
    it.vector = vnan;
    it.n_vector = 3;
    expect_invalid (fx, &it, "items[1].vector[1]");

    item_set (&it, "", "text");
    expect_invalid (fx, &it, "items[1].id");
    char long_id[STORE_MAX_ID_BYTES + 2];
    memset (long_id, 'i', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = 0;
    item_set (&it, long_id, "text");
    expect_invalid (fx, &it, "items[1].id");
    long_id[STORE_MAX_ID_BYTES] = 0;  /* exactly the limit is fine */
    ingest_one (fx, long_id, "text", NULL);
}

static void
test_ingest_vector_roundtrip (void **state)
{
    fx_t *fx = *state;
    float v[] = { 0.5f, -1.25f, 3.0f };
    Annotate__V1__Item it;
    item_set (&it, "v", "with a vector");
    it.vector = v;
    it.n_vector = 3;
    it.meta_json = "{\"k\":1}";
    Annotate__V1__Item *items[] = { &it };
    store_request_t req;
    assert_int_equal (ingest (fx, items, 1, false, &req), STORE_OK);
    Annotate__V1__Item *got = NULL;
    MDB_txn *txn = store_read_begin (fx->store);
    assert_int_equal (store_get_item (fx->store, txn, "v", 1, &got, NULL, NULL), 0);
    store_read_end (fx->store, txn);
    assert_int_equal (got->n_vector, 3);
    assert_memory_equal (got->vector, v, sizeof v);
    assert_string_equal (got->meta_json, "{\"k\":1}");
    assert_int_equal (got->content_hash.len, 16);
    assert_true (got->ingested_at_ms > 0);
    protobuf_c_message_free_unpacked (&got->base, NULL);
    /* a different vector is different content */
    v[0] = 0.75f;
    assert_int_equal (ingest (fx, items, 1, false, &req), STORE_CONFLICT);
}

static void
test_vectors_refused_without_dim (void **state)
{
    fx_t *fx = *state;
    fx_stop (fx);
    store_policy_t p = policy_make (0, 0);
    fx_start (fx, &p);
    float v[] = { 1, 2, 3 };
    Annotate__V1__Item it;
    item_set (&it, "x", "text");
    it.vector = v;
    it.n_vector = 3;
    expect_invalid (fx, &it, "items[1].vector");
    ingest_one (fx, "plain", "no vector is fine", NULL);
}

static void
test_max_pending (void **state)
{
    fx_t *fx = *state;
    fx_stop (fx);
    store_policy_t p = policy_make (3, 3);
    fx_start (fx, &p);
    ingest_one (fx, "a", "1", NULL);
    ingest_one (fx, "b", "2", NULL);
    ingest_one (fx, "c", "3", NULL);
    Annotate__V1__Item d;
    item_set (&d, "d", "4");
    Annotate__V1__Item *items[] = { &d };
    store_request_t req;
    assert_int_equal (ingest (fx, items, 1, false, &req), STORE_OVERLOADED);
    assert_non_null (strstr (req.err, "max_pending"));
    item_state_t st;
    assert_false (get_state (fx, "d", &st));
    assert_int_equal (stats (fx).pending, 3);
    /* one annotation done makes room for one more */
    assert_int_equal (label_one (fx, "a", ticket_of (fx, "a"), "cat", &req), STORE_OK);
    assert_int_equal (req.applied, 1);
    assert_int_equal (ingest (fx, items, 1, false, &req), STORE_OK);
    assert_int_equal (req.ingest.pending, 3);
}

/*  "Re-ingesting an id with identical content is always a no-op"
    (annotate.proto): a client retrying a batch whose answer it lost must
    not be refused just because the queue is full; it adds no pending item.  */
static void
test_max_pending_reingest_is_noop (void **state)
{
    fx_t *fx = *state;
    fx_stop (fx);
    store_policy_t p = policy_make (3, 2);
    fx_start (fx, &p);
    Annotate__V1__Item a, b;
    item_set (&a, "a", "1");
    item_set (&b, "b", "2");
    Annotate__V1__Item *items[] = { &a, &b };
    store_request_t req;
    assert_int_equal (ingest (fx, items, 2, false, &req), STORE_OK);
    assert_int_equal (req.ingest.pending, 2);
    if (ingest (fx, items, 2, false, &req) != STORE_OK)
        fail_msg ("identical re-ingest at max_pending refused: %s", req.err);
    assert_int_equal (req.ingest.unchanged, 2);
}

/* ---- labels --------------------------------------------------------------- */

static void
test_label_tickets (void **state)
{
    fx_t *fx = *state;
    ingest_one (fx, "a", "alpha", NULL);
    ingest_one (fx, "b", "beta", NULL);
    uint64_t ta = ticket_of (fx, "a"), tb = ticket_of (fx, "b");
    assert_int_equal (tb, ta + 1);
    store_request_t req;
    assert_int_equal (label_one (fx, "a", ta, "cat", &req), STORE_OK);
    assert_int_equal (req.applied, 1);
    assert_int_equal (req.discarded, 0);
    assert_int_equal (req.last_seq, 1);
    /* the same result delivered twice: discarded, no second event */
    assert_int_equal (label_one (fx, "a", ta, "cat", &req), STORE_OK);
    assert_int_equal (req.applied, 0);
    assert_int_equal (req.discarded, 1);
    assert_int_equal (stats (fx).last_seq, 1);
    assert_int_equal (item_history (fx, "a").n, 1);
    /* wrong ticket, unknown id, ticket 0: discarded */
    assert_int_equal (label_one (fx, "b", tb + 100, "dog", &req), STORE_OK);
    assert_int_equal (req.discarded, 1);
    assert_int_equal (label_one (fx, "b", ta, "dog", &req), STORE_OK);
    assert_int_equal (req.discarded, 1);
    assert_int_equal (label_one (fx, "nope", tb, "dog", &req), STORE_OK);
    assert_int_equal (req.discarded, 1);
    assert_int_equal (label_one (fx, "b", 0, "dog", &req), STORE_OK);
    assert_int_equal (req.discarded, 1);
    assert_int_equal (ticket_of (fx, "b"), tb);
    assert_int_equal (stats (fx).last_seq, 1);
    assert_int_equal (stats (fx).pending, 1);

    /* two results for one item in one request: only the first counts */
    Annotate__V1__Label lab = ANNOTATE__V1__LABEL__INIT;
    lab.label = "dog";
    lab.source = ANNOTATE__V1__LABEL_SOURCE__SOURCE_HUMAN;
    store_label_t two[] = { { "b", tb, &lab }, { "b", tb, &lab } };
    memset (&req, 0, sizeof req);
    req.type = STORE_REQ_LABELS;
    req.labels = two;
    req.n_labels = 2;
    assert_int_equal (call (fx, &req), STORE_OK);
    assert_int_equal (req.applied, 1);
    assert_int_equal (req.discarded, 1);
    assert_int_equal (stats (fx).last_seq, 2);
    assert_int_equal (stats (fx).pending, 0);
}

int
main (void)
{
    log_set_level (LOG_LEVEL_WARN);
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown (f, setup, teardown)
        T (test_open_modes),
        T (test_schema_mismatch),
        T (test_reopen_keeps_everything),
        T (test_ingest_counts_and_idempotence),
        T (test_ingest_conflict_writes_nothing),
        T (test_ingest_replace),
        T (test_replace_labelled_item),
        T (test_ingest_gold_label),
        T (test_ingest_invalid_fields),
        T (test_ingest_vector_roundtrip),
        T (test_vectors_refused_without_dim),
        T (test_max_pending),
        T (test_max_pending_reingest_is_noop),
        T (test_label_tickets),
#undef T
    };
    return cmocka_run_group_tests_name ("store", tests, NULL, NULL);
}
