/*  test_store_read.c: the read side of the LMDB store (store_get_item,
    store_history_after, store_item_history, store_pending_after,
    store_scan_items, store_stats, store_get_manifest) over data written
    through the writer actor, and manifest versions with policy adoption.
*/
#include "store_fixture.h"

static void
test_get_item (void **state)
{
    fx_t *fx = *state;
    ingest_one (fx, "a", "alpha", NULL);
    Annotate__V1__Item *item = NULL;
    Annotate__V1__Label *label = (void *) 1;
    item_state_t st;
    MDB_txn *txn = store_read_begin (fx->store);
    assert_int_equal (store_get_item (fx->store, txn, "a", 1, &item, &label, &st), 0);
    assert_int_equal (store_get_item (fx->store, txn, "zz", 2, NULL, NULL, NULL), MDB_NOTFOUND);
    assert_int_equal (store_get_item (fx->store, txn, "", 0, NULL, NULL, NULL), MDB_NOTFOUND);
    store_read_end (fx->store, txn);
    assert_string_equal (item->id, "a");
    assert_string_equal (item->text, "alpha");
    assert_null (label);
    assert_int_equal (st.status, ANNOTATE__V1__ITEM_STATUS__STATUS_PENDING);
    assert_int_equal (st.label_seq, 0);
    assert_memory_equal (st.hash, item->content_hash.data, 16);
    protobuf_c_message_free_unpacked (&item->base, NULL);

    int64_t t0 = time_now_ms ();
    store_request_t req;
    assert_int_equal (label_one (fx, "a", st.ticket, "dog", &req), STORE_OK);
    txn = store_read_begin (fx->store);
    assert_int_equal (store_get_item (fx->store, txn, "a", 1, &item, &label, &st), 0);
    store_read_end (fx->store, txn);
    assert_non_null (label);
    assert_string_equal (label->label, "dog");
    assert_string_equal (label->annotator, "unit-test");
    assert_int_equal (label->source, ANNOTATE__V1__LABEL_SOURCE__SOURCE_MODEL);
    assert_true (label->time_ms >= t0 - 1000);  /* set by the store, not 12345 */
    assert_int_equal (st.status, ANNOTATE__V1__ITEM_STATUS__STATUS_LABELLED);
    assert_int_equal (st.source, ANNOTATE__V1__LABEL_SOURCE__SOURCE_MODEL);
    assert_int_equal (st.ticket, 0);
    assert_int_equal (st.label_seq, 1);
    protobuf_c_message_free_unpacked (&item->base, NULL);
    protobuf_c_message_free_unpacked (&label->base, NULL);
}

/*  Labels a few items several times over (through replace) and checks the
    history: seqs 1..N without gaps, in order, each item's events oldest
    first, and history_after's bounds.  */
static void
test_history (void **state)
{
    fx_t *fx = *state;
    const char *ids[] = { "h0", "h1", "h2", "h3" };
    for (int i = 0; i < 4; i++)
        ingest_one (fx, ids[i], "v1", NULL);
    store_request_t req;
    for (int i = 0; i < 4; i++)
        assert_int_equal (label_one (fx, ids[i], ticket_of (fx, ids[i]), "cat", &req), STORE_OK);
    Annotate__V1__Item it;
    item_set (&it, "h1", "v2");
    Annotate__V1__Item *items[] = { &it };
    assert_int_equal (ingest (fx, items, 1, true, &req), STORE_OK);
    assert_int_equal (label_one (fx, "h1", ticket_of (fx, "h1"), "dog", &req), STORE_OK);
    ingest_one (fx, "h4", "gold", "dog");

    seen_t all = history_after (fx, 0, 100);
    assert_int_equal (all.n, 6);
    for (size_t i = 0; i < all.n; i++)
        assert_int_equal (all.key[i], i + 1);
    assert_string_equal (all.id[4], "h1");
    assert_string_equal (all.label[4], "dog");
    assert_string_equal (all.id[5], "h4");
    assert_int_equal (stats (fx).last_seq, 6);

    seen_t tail = history_after (fx, 3, 2);
    assert_int_equal (tail.n, 2);
    assert_int_equal (tail.key[0], 4);
    assert_int_equal (tail.key[1], 5);
    assert_int_equal (history_after (fx, 6, 10).n, 0);
    assert_int_equal (history_after (fx, 0, 0).n, 0);
    seen_t stop = { .stop_after = 2 };
    MDB_txn *txn = store_read_begin (fx->store);
    assert_int_equal (store_history_after (fx->store, txn, 0, 100, on_event, &stop), 2);
    store_read_end (fx->store, txn);

    seen_t h1 = item_history (fx, "h1");
    assert_int_equal (h1.n, 2);
    assert_int_equal (h1.key[0], 2);
    assert_string_equal (h1.label[0], "cat");
    assert_int_equal (h1.key[1], 5);
    assert_string_equal (h1.label[1], "dog");
    assert_int_equal (item_history (fx, "h0").n, 1);
    assert_int_equal (item_history (fx, "none").n, 0);
}

static void
test_pending_order (void **state)
{
    fx_t *fx = *state;
    char ids[10][8];
    for (int i = 0; i < 10; i++) {
        /* ids out of alphabetical order: pending is by ticket, not id */
        snprintf (ids[i], sizeof ids[i], "p%d", 9 - i);
        ingest_one (fx, ids[i], ids[i], NULL);
    }
    store_request_t req;
    for (int i = 0; i < 10; i += 3)   /* label 0, 3, 6, 9 */
        assert_int_equal (label_one (fx, ids[i], ticket_of (fx, ids[i]), "cat", &req), STORE_OK);
    seen_t p = pending_after (fx, 0, 100);
    const int left[] = { 1, 2, 4, 5, 7, 8 };
    assert_int_equal (p.n, 6);
    for (size_t i = 0; i < p.n; i++) {
        assert_string_equal (p.id[i], ids[left[i]]);
        assert_int_equal (p.key[i], ticket_of (fx, ids[left[i]]));
    }
    seen_t page = pending_after (fx, p.key[1], 2);
    assert_int_equal (page.n, 2);
    assert_string_equal (page.id[0], ids[4]);
    assert_string_equal (page.id[1], ids[5]);
    assert_int_equal (pending_after (fx, p.key[5], 10).n, 0);
    assert_int_equal (stats (fx).pending, 6);
}

typedef struct {
    size_t n;
    char ids[64][16];
    size_t labelled;
} scan_t;

static bool
on_item (void *arg, const char *id, size_t id_len, const item_state_t *state,
         const uint8_t *label, size_t label_len, const uint8_t *item, size_t item_len)
{
    scan_t *s = arg;
    assert_true (s->n < 64 && id_len < 16);
    memcpy (s->ids[s->n], id, id_len);
    s->ids[s->n][id_len] = 0;
    s->n++;
    Annotate__V1__Item *it = annotate__v1__item__unpack (NULL, item_len, item);
    assert_non_null (it);
    assert_memory_equal (it->id, id, id_len);
    protobuf_c_message_free_unpacked (&it->base, NULL);
    if (label_len) {
        assert_int_not_equal (state->label_seq, 0);
        s->labelled++;
    }
    return true;
}

static void
test_scan_paging (void **state)
{
    fx_t *fx = *state;
    char id[16];
    for (int i = 0; i < 25; i++) {
        snprintf (id, sizeof id, "s%02d", i);
        ingest_one (fx, id, id, i % 5 == 0 ? "cat" : NULL);
    }
    scan_t s = { 0 };
    char *last = NULL, *after = NULL;
    size_t pages = 0;
    do {
        size_t before = s.n;
        size_t n = store_scan_items (fx->store, NULL, NULL, 0, on_item, &s, &last);
        assert_int_equal (n, 0);   /* scan_limit 0 does nothing */
        MDB_txn *txn = store_read_begin (fx->store);
        n = store_scan_items (fx->store, txn, after, 10, on_item, &s, &last);
        store_read_end (fx->store, txn);
        assert_int_equal (n, s.n - before);
        assert_true (n <= 10);
        free (after);
        after = last;
        pages++;
    } while (after && pages < 10);
    assert_true (pages >= 3 && pages <= 4);
    assert_int_equal (s.n, 25);
    assert_int_equal (s.labelled, 5);
    for (int i = 0; i < 25; i++) {
        snprintf (id, sizeof id, "s%02d", i);
        assert_string_equal (s.ids[i], id);
    }
    /* after_id need not exist: the scan starts at the next id */
    scan_t t = { 0 };
    MDB_txn *txn = store_read_begin (fx->store);
    store_scan_items (fx->store, txn, "s10x", 3, on_item, &t, &last);
    store_read_end (fx->store, txn);
    assert_int_equal (t.n, 3);
    assert_string_equal (t.ids[0], "s11");
    assert_non_null (last);
    assert_string_equal (last, "s13");
    free (last);
}

static void
test_stats (void **state)
{
    fx_t *fx = *state;
    store_stats_t s = stats (fx);
    assert_int_equal (s.items, 0);
    assert_int_equal (s.last_seq, 0);
    assert_int_equal (s.last_ticket, 0);
    assert_int_equal (s.manifest_version, 0);
    assert_int_equal (s.map_bytes, 4u << 20);
    ingest_one (fx, "a", "alpha", NULL);
    ingest_one (fx, "b", "beta", NULL);
    ingest_one (fx, "c", "gamma", NULL);
    ingest_one (fx, "g", "gold", "dog");
    store_request_t req;
    assert_int_equal (label_one (fx, "b", ticket_of (fx, "b"), "cat", &req), STORE_OK);
    s = stats (fx);
    assert_int_equal (s.items, 4);
    assert_int_equal (s.labelled, 2);
    assert_int_equal (s.pending, 2);
    assert_int_equal (s.last_seq, 2);
    assert_int_equal (s.last_ticket, 3);
    assert_true (s.used_bytes > 0 && s.used_bytes <= s.map_bytes);
}

/* ---- manifests ------------------------------------------------------------ */

static store_status_t
put_manifest (fx_t *fx, const char *text, const store_policy_t *policy, store_request_t *req)
{
    memset (req, 0, sizeof *req);
    req->type = STORE_REQ_MANIFEST;
    req->manifest_text = text;
    req->manifest_len = strlen (text);
    req->policy = policy;
    return call (fx, req);
}

static void
test_manifests (void **state)
{
    fx_t *fx = *state;
    store_request_t req;
    char *text = NULL;
    MDB_txn *txn = store_read_begin (fx->store);
    assert_int_equal (store_get_manifest (fx->store, txn, 0, &text, NULL, NULL), MDB_NOTFOUND);
    store_read_end (fx->store, txn);

    Annotate__V1__Item it;
    item_set (&it, "b1", "a bird");
    it.label = "bird";
    Annotate__V1__Item *items[] = { &it };
    assert_int_equal (ingest (fx, items, 1, false, &req), STORE_INVALID);

    /* version 1 carries no policy: the writer keeps the old one */
    assert_int_equal (put_manifest (fx, "v: one", NULL, &req), STORE_OK);
    assert_int_equal (req.version, 1);
    assert_int_equal (ingest (fx, items, 1, false, &req), STORE_INVALID);

    char *labels[] = { "cat", "dog", "bird" };
    store_policy_t p2 = { .vector_dim = 3, .labels = labels, .n_labels = 3 };
    assert_int_equal (put_manifest (fx, "v: two", &p2, &req), STORE_OK);
    assert_int_equal (req.version, 2);
    labels[2] = "overwritten";  /* the writer holds its own copy */
    assert_int_equal (ingest (fx, items, 1, false, &req), STORE_OK);
    assert_int_equal (req.ingest.accepted, 1);

    size_t len = 0;
    uint64_t v = 0;
    txn = store_read_begin (fx->store);
    assert_int_equal (store_get_manifest (fx->store, txn, 1, &text, &len, &v), 0);
    assert_string_equal (text, "v: one");
    assert_int_equal (len, 6);
    assert_int_equal (v, 1);
    free (text);
    assert_int_equal (store_get_manifest (fx->store, txn, 0, &text, &len, &v), 0);
    assert_string_equal (text, "v: two");
    assert_int_equal (v, 2);
    free (text);
    assert_int_equal (store_get_manifest (fx->store, txn, 3, &text, &len, &v), MDB_NOTFOUND);
    store_read_end (fx->store, txn);
    assert_int_equal (stats (fx).manifest_version, 2);

    /* a policy with fewer labels refuses what it dropped */
    char *only_cat[] = { "cat" };
    store_policy_t p3 = { .vector_dim = 3, .labels = only_cat, .n_labels = 1 };
    assert_int_equal (put_manifest (fx, "v: three", &p3, &req), STORE_OK);
    item_set (&it, "d1", "a dog");
    it.label = "dog";
    assert_int_equal (ingest (fx, items, 1, false, &req), STORE_INVALID);
    assert_non_null (strstr (req.err, "items[0].label"));
}

static void
test_sync_and_unknown_request (void **state)
{
    fx_t *fx = *state;
    /* the blocking call itself, once (everything else uses call () to
       turn a silent writer into a failure rather than a hang) */
    store_request_t req = { .type = STORE_REQ_SYNC, .status = STORE_IO };
    assert_int_equal (store_client_call (fx->client, &req), STORE_OK);
    Annotate__V1__Item it;
    item_set (&it, "direct", "through store_client_call");
    Annotate__V1__Item *items[] = { &it };
    memset (&req, 0, sizeof req);
    req.type = STORE_REQ_INGEST;
    req.items = items;
    req.n_items = 1;
    assert_int_equal (store_client_call (fx->client, &req), STORE_OK);
    assert_int_equal (req.ingest.accepted, 1);
    memset (&req, 0, sizeof req);
    req.type = (store_req_type_t) 99;
    assert_int_equal (call (fx, &req), STORE_INVALID);
    assert_non_null (strstr (req.err, "unknown request"));
    ingest_one (fx, "after", "still works", NULL);
}

int
main (void)
{
    log_set_level (LOG_LEVEL_WARN);
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown (f, setup, teardown)
        T (test_get_item),
        T (test_history),
        T (test_pending_order),
        T (test_scan_paging),
        T (test_stats),
        T (test_manifests),
        T (test_sync_and_unknown_request),
#undef T
    };
    return cmocka_run_group_tests_name ("store_read", tests, NULL, NULL);
}
