/*  test_store_writer.c: the writer actor under load and at its limits.

    Group commit (a failing request does not spoil the good ones committed
    with it), many client threads at once (tickets and seqs stay dense and
    unique), commit events, map growth from 1 MiB while readers keep
    reading, STORE_FULL at max_map_bytes with everything acknowledged still
    there after a reopen, and restarting the writer in one process.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "store/store_writer.h"
#include "util/util.h"

#define MIB (1024ull * 1024ull)

typedef struct {
    char dir[64];
    store_config_t cfg;
    store_t *store;
    store_writer_t *writer;
    store_client_t *client;
} fx_t;

static char *taxonomy[] = { "cat", "dog" };
static const store_policy_t policy = { .vector_dim = 0, .labels = taxonomy, .n_labels = 2 };

static void
fx_start (fx_t *fx)
{
    char err[256] = "";
    fx->store = store_open (&fx->cfg, err, sizeof err);
    if (!fx->store)
        fail_msg ("store_open: %s", err);
    fx->writer = store_writer_new (fx->store, &policy);
    fx->client = store_client_new (fx->writer);
    assert_non_null (fx->client);
}

static void
fx_stop (fx_t *fx)
{
    store_client_destroy (&fx->client);
    store_writer_destroy (&fx->writer);
    store_destroy (&fx->store);
    zclock_sleep (20);  /* see test_writer_restart */
}

static int
rm_entry (const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove (path);
}

static int
setup_map (void **state, uint64_t initial, uint64_t max)
{
    fx_t *fx = calloc (1, sizeof *fx);
    strcpy (fx->dir, "/tmp/test_store_writer.XXXXXX");
    if (!mkdtemp (fx->dir))
        return -1;
    fx->cfg = (store_config_t) { .dir = fx->dir, .initial_map_bytes = initial,
                                 .max_map_bytes = max };
    fx_start (fx);
    *state = fx;
    return 0;
}

static int
setup (void **state)
{
    return setup_map (state, 8 * MIB, 0);
}

static int
setup_small (void **state)
{
    return setup_map (state, 1 * MIB, 0);
}

static int
setup_capped (void **state)
{
    return setup_map (state, 1 * MIB, 2 * MIB);
}

static int
teardown (void **state)
{
    fx_t *fx = *state;
    fx_stop (fx);
    nftw (fx->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    free (fx);
    return 0;
}

/* ---- helpers -------------------------------------------------------------- */

/*  Waits for one answer on a client; a writer that stays silent fails the
    test instead of hanging it.  */
static store_request_t *
recv_answer (store_client_t *client, int timeout_ms)
{
    zpoller_t *poller = zpoller_new (store_client_socket (client), NULL);
    void *ready = zpoller_wait (poller, timeout_ms);
    zpoller_destroy (&poller);
    if (!ready)
        return NULL;
    return store_client_recv (client);
}

static store_status_t
call (store_client_t *client, store_request_t *req)
{
    assert_int_equal (store_client_send (client, req), 0);
    if (recv_answer (client, 30000) != req)
        fail_msg ("the store writer did not answer");
    return req->status;
}

static void
ingest_init (store_request_t *req, Annotate__V1__Item **items, size_t n)
{
    memset (req, 0, sizeof *req);
    req->type = STORE_REQ_INGEST;
    req->items = items;
    req->n_items = n;
}

static store_stats_t
stats (fx_t *fx)
{
    store_stats_t st;
    MDB_txn *txn = store_read_begin (fx->store);
    assert_non_null (txn);
    store_stats (fx->store, txn, &st);
    store_read_end (fx->store, txn);
    return st;
}

/*  A text of len bytes that encodes its id at both ends, so a read-back
    can tell a truncated or mixed-up record.  */
static char *
big_text (const char *id, size_t len)
{
    char *t = malloc (len + 1);
    for (size_t i = 0; i < len; i++)
        t[i] = (char) ('a' + (i * 7 + strlen (id)) % 26);
    size_t n = strlen (id);
    memcpy (t, id, n);
    memcpy (t + len - n, id, n);
    t[len] = 0;
    return t;
}

static bool
text_matches (fx_t *fx, MDB_txn *txn, const char *id, size_t len)
{
    Annotate__V1__Item *item = NULL;
    if (store_get_item (fx->store, txn, id, strlen (id), &item, NULL, NULL) != 0)
        return false;
    char *want = big_text (id, len);
    bool ok = strcmp (item->text, want) == 0;
    free (want);
    protobuf_c_message_free_unpacked (&item->base, NULL);
    return ok;
}

/*  Ingests n_items fresh items of item_len bytes in one request.  */
static store_status_t
ingest_big (fx_t *fx, const char *prefix, int first, int n_items, size_t item_len,
            store_request_t *req)
{
    Annotate__V1__Item items[16];
    Annotate__V1__Item *ptrs[16];
    char ids[16][32];
    assert_true (n_items <= 16);
    for (int i = 0; i < n_items; i++) {
        snprintf (ids[i], sizeof ids[i], "%s%05d", prefix, first + i);
        annotate__v1__item__init (&items[i]);
        items[i].id = ids[i];
        items[i].text = big_text (ids[i], item_len);
        ptrs[i] = &items[i];
    }
    ingest_init (req, ptrs, (size_t) n_items);
    store_status_t s = call (fx->client, req);
    for (int i = 0; i < n_items; i++)
        free (items[i].text);
    return s;
}

/* ---- group commit --------------------------------------------------------- */

/*  Drains commit events; returns how many arrived within wait_ms.  */
static int
drain_commits (zsock_t *sub, int wait_ms)
{
    int n = 0;
    zpoller_t *poller = zpoller_new (sub, NULL);
    while (zpoller_wait (poller, wait_ms)) {
        char *topic = NULL;
        zframe_t *body = NULL;
        assert_int_equal (zsock_recv (sub, "sf", &topic, &body), 0);
        assert_string_equal (topic, "commit");
        assert_int_equal (zframe_size (body), 16);
        zstr_free (&topic);
        zframe_destroy (&body);
        n++;
    }
    zpoller_destroy (&poller);
    return n;
}

/*  A filler request keeps the writer busy (one fsync) while a bad and a
    good request queue up behind it from two clients; they are then applied
    in one group. The bad one must leave no trace, the good one must be
    committed. Grouping is likely but not certain, so a few rounds run and
    at least one must have grouped (counted through commit events).  */
static void
test_failure_does_not_spoil_group (void **state)
{
    fx_t *fx = *state;
    store_client_t *other = store_client_new (fx->writer);
    zsock_t *sub = zsock_new_sub (store_writer_events_endpoint (fx->writer), "");
    assert_non_null (sub);
    zclock_sleep (50);  /* let the subscription reach the PUB socket */
    int grouped = 0;
    for (int round = 0; round < 5; round++) {
        char fid[16], gid[16], bid[16];
        snprintf (fid, sizeof fid, "fill%d", round);
        snprintf (gid, sizeof gid, "good%d", round);
        snprintf (bid, sizeof bid, "bad%d", round);
        Annotate__V1__Item fill, good, bad1, bad2;
        annotate__v1__item__init (&fill);
        fill.id = fid;
        fill.text = "filler";
        annotate__v1__item__init (&good);
        good.id = gid;
        good.text = "good";
        good.label = "cat";     /* one history event: marks its group in last_seq */
        annotate__v1__item__init (&bad1);
        bad1.id = bid;
        bad1.text = "fine on its own";
        annotate__v1__item__init (&bad2);
        bad2.id = "x";
        bad2.text = "bad";
        bad2.label = "not-a-label";
        Annotate__V1__Item *f[] = { &fill }, *g[] = { &good }, *b[] = { &bad1, &bad2 };
        store_request_t rf, rg, rb;
        ingest_init (&rf, f, 1);
        ingest_init (&rb, b, 2);
        ingest_init (&rg, g, 1);
        drain_commits (sub, 0);
        assert_int_equal (store_client_send (fx->client, &rf), 0);
        assert_int_equal (store_client_send (other, &rb), 0);
        assert_int_equal (store_client_send (fx->client, &rg), 0);
        assert_ptr_equal (recv_answer (fx->client, 10000), &rf);
        assert_ptr_equal (recv_answer (fx->client, 10000), &rg);
        assert_ptr_equal (recv_answer (other, 10000), &rb);
        assert_int_equal (rf.status, STORE_OK);
        assert_int_equal (rg.status, STORE_OK);
        assert_int_equal (rg.ingest.accepted, 1);
        assert_int_equal (rb.status, STORE_INVALID);
        assert_non_null (strstr (rb.err, "items[1].label"));
        MDB_txn *txn = store_read_begin (fx->store);
        assert_int_equal (store_get_item (fx->store, txn, gid, strlen (gid), NULL, NULL, NULL), 0);
        assert_int_equal (store_get_item (fx->store, txn, bid, strlen (bid), NULL, NULL, NULL),
                          MDB_NOTFOUND);
        store_read_end (fx->store, txn);
        /* every answer carries the history end after its group's commit,
           and only the good request adds an event */
        int commits = drain_commits (sub, 100);
        if (commits == 1
            || (commits == 2 && rb.last_seq == rg.last_seq && rf.last_seq < rg.last_seq))
            grouped++;
    }
    store_stats_t st = stats (fx);
    assert_int_equal (st.items, 10);
    assert_int_equal (st.pending, 5);
    assert_int_equal (st.last_ticket, 5);
    assert_int_equal (st.last_seq, 5);
    zsock_destroy (&sub);
    store_client_destroy (&other);
    print_message ("bad and good request shared a group in %d of 5 rounds\n", grouped);
    if (!grouped)
        fail_msg ("the bad and the good request never shared a group commit");
}

static void
test_commit_events (void **state)
{
    fx_t *fx = *state;
    zsock_t *sub = zsock_new_sub (store_writer_events_endpoint (fx->writer), "commit");
    assert_non_null (sub);
    zclock_sleep (50);
    Annotate__V1__Item a, g;
    annotate__v1__item__init (&a);
    a.id = "a";
    a.text = "alpha";
    annotate__v1__item__init (&g);
    g.id = "g";
    g.text = "gold";
    g.label = "cat";
    Annotate__V1__Item *items[] = { &a, &g };
    store_request_t req;
    ingest_init (&req, items, 2);
    assert_int_equal (call (fx->client, &req), STORE_OK);
    assert_int_equal (req.last_seq, 1);
    char *topic = NULL;
    zframe_t *body = NULL;
    zpoller_t *poller = zpoller_new (sub, NULL);
    assert_non_null (zpoller_wait (poller, 5000));
    zpoller_destroy (&poller);
    assert_int_equal (zsock_recv (sub, "sf", &topic, &body), 0);
    assert_string_equal (topic, "commit");
    assert_int_equal (zframe_size (body), 16);
    assert_int_equal (be64_get (zframe_data (body)), 1);      /* last_ticket */
    assert_int_equal (be64_get (zframe_data (body) + 8), 1);  /* last_seq */
    zstr_free (&topic);
    zframe_destroy (&body);
    zsock_destroy (&sub);
}

/* ---- many clients ---------------------------------------------------------- */

#define THREADS     4
#define PER_THREAD  40
#define PER_REQUEST 5

typedef struct {
    fx_t *fx;
    int index;
    int failures;
} worker_arg_t;

/*  Each thread has its own client (sockets are per thread) and ingests
    PER_THREAD requests, then labels its items from the store's tickets.  */
static void *
ingest_thread (void *p)
{
    worker_arg_t *w = p;
    store_client_t *client = store_client_new (w->fx->writer);
    for (int r = 0; r < PER_THREAD && client; r++) {
        char ids[PER_REQUEST][32];
        Annotate__V1__Item items[PER_REQUEST], *ptrs[PER_REQUEST];
        for (int i = 0; i < PER_REQUEST; i++) {
            snprintf (ids[i], sizeof ids[i], "t%d-r%03d-i%d", w->index, r, i);
            annotate__v1__item__init (&items[i]);
            items[i].id = ids[i];
            items[i].text = ids[i];
            ptrs[i] = &items[i];
        }
        store_request_t req = { .type = STORE_REQ_INGEST, .items = ptrs,
                                .n_items = PER_REQUEST };
        if (store_client_call (client, &req) != STORE_OK || req.ingest.accepted != PER_REQUEST)
            w->failures++;
        if (r % 2)
            continue;
        /* label the first item of every other request */
        item_state_t st;
        MDB_txn *txn = store_read_begin (w->fx->store);
        int rc = store_get_item (w->fx->store, txn, ids[0], strlen (ids[0]), NULL, NULL, &st);
        store_read_end (w->fx->store, txn);
        Annotate__V1__Label lab = ANNOTATE__V1__LABEL__INIT;
        lab.label = "dog";
        lab.source = ANNOTATE__V1__LABEL_SOURCE__SOURCE_MODEL;
        store_label_t l = { ids[0], st.ticket, &lab };
        store_request_t lr = { .type = STORE_REQ_LABELS, .labels = &l, .n_labels = 1 };
        if (rc || store_client_call (client, &lr) != STORE_OK || lr.applied != 1)
            w->failures++;
    }
    store_client_destroy (&client);
    return NULL;
}

static bool
check_ticket (void *arg, uint64_t ticket, const char *id, size_t id_len, const uint8_t *item,
              size_t item_len)
{
    uint64_t *prev = arg;
    assert_true (ticket > *prev);
    *prev = ticket;
    return true;
}

static bool
check_seq (void *arg, uint64_t seq, const uint8_t *packed, size_t len)
{
    uint64_t *prev = arg;
    assert_int_equal (seq, *prev + 1);
    *prev = seq;
    return true;
}

static void
test_many_clients (void **state)
{
    fx_t *fx = *state;
    pthread_t th[THREADS];
    worker_arg_t args[THREADS];
    for (int i = 0; i < THREADS; i++) {
        args[i] = (worker_arg_t) { fx, i, 0 };
        assert_int_equal (pthread_create (&th[i], NULL, ingest_thread, &args[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join (th[i], NULL);
        assert_int_equal (args[i].failures, 0);
    }
    const uint64_t total = THREADS * PER_THREAD * PER_REQUEST;
    const uint64_t labelled = THREADS * PER_THREAD / 2;
    store_stats_t st = stats (fx);
    assert_int_equal (st.items, total);
    assert_int_equal (st.last_ticket, total);   /* one ticket per item, none reused */
    assert_int_equal (st.pending, total - labelled);
    assert_int_equal (st.labelled, labelled);
    assert_int_equal (st.last_seq, labelled);
    uint64_t prev = 0;
    MDB_txn *txn = store_read_begin (fx->store);
    assert_int_equal (store_pending_after (fx->store, txn, 0, total, check_ticket, &prev),
                      total - labelled);
    prev = 0;
    assert_int_equal (store_history_after (fx->store, txn, 0, total, check_seq, &prev), labelled);
    store_read_end (fx->store, txn);
}

/* ---- map growth ------------------------------------------------------------- */

#define GROW_ITEMS    200
#define GROW_ITEM_LEN (100 * 1000)
#define GROW_BATCH    10

typedef struct {
    fx_t *fx;
    atomic_bool stop;
    atomic_int ingested;     /* items acknowledged so far */
    long reads, bad;
} reader_arg_t;

/*  Reads acknowledged items over and over while the writer grows the map
    under it: a resize under an open read transaction would unmap the
    pages this thread is reading.  */
static void *
reader_thread (void *p)
{
    reader_arg_t *r = p;
    while (!atomic_load (&r->stop)) {
        int n = atomic_load (&r->ingested);
        MDB_txn *txn = store_read_begin (r->fx->store);
        if (!txn) {
            r->bad++;
            break;
        }
        char id[32];
        snprintf (id, sizeof id, "g%05d", n ? (int) (r->reads % n) : 0);
        if (n && !text_matches (r->fx, txn, id, GROW_ITEM_LEN))
            r->bad++;
        store_read_end (r->fx->store, txn);
        r->reads++;
    }
    return NULL;
}

static void
test_map_growth (void **state)
{
    fx_t *fx = *state;
    uint64_t map0 = stats (fx).map_bytes;
    assert_true (map0 <= 1 * MIB);
    reader_arg_t r = { .fx = fx };
    pthread_t th;
    assert_int_equal (pthread_create (&th, NULL, reader_thread, &r), 0);
    store_request_t req;
    for (int i = 0; i < GROW_ITEMS; i += GROW_BATCH) {
        store_status_t s = ingest_big (fx, "g", i, GROW_BATCH, GROW_ITEM_LEN, &req);
        if (s != STORE_OK)
            fail_msg ("ingest at item %d: %s", i, req.err);
        assert_int_equal (req.ingest.accepted, GROW_BATCH);
        atomic_store (&r.ingested, i + GROW_BATCH);
    }
    atomic_store (&r.stop, true);
    pthread_join (th, NULL);
    assert_int_equal (r.bad, 0);
    assert_true (r.reads > 0);

    store_stats_t st = stats (fx);
    assert_int_equal (st.items, GROW_ITEMS);
    assert_true (st.map_bytes >= 16 * MIB);
    assert_true (st.used_bytes >= (uint64_t) GROW_ITEMS * GROW_ITEM_LEN);
    assert_true (st.used_bytes <= st.map_bytes);
    MDB_txn *txn = store_read_begin (fx->store);
    char id[32];
    for (int i = 0; i < GROW_ITEMS; i++) {
        snprintf (id, sizeof id, "g%05d", i);
        if (!text_matches (fx, txn, id, GROW_ITEM_LEN))
            fail_msg ("item %s is not what was ingested", id);
    }
    store_read_end (fx->store, txn);
}

/*  With max_map_bytes the writer refuses cleanly once the map may not
    grow; what it acknowledged before is intact after a reopen, and the
    request that did not fit left nothing behind.  */
static void
test_store_full (void **state)
{
    fx_t *fx = *state;
    const int batch = 4;
    const size_t len = 50 * 1000;
    store_request_t req;
    int acked = 0;
    store_status_t s = STORE_OK;
    while (acked < 400) {
        s = ingest_big (fx, "f", acked, batch, len, &req);
        if (s != STORE_OK)
            break;
        acked += batch;
    }
    assert_int_equal (s, STORE_FULL);
    assert_non_null (strstr (req.err, "store full"));
    assert_non_null (strstr (req.err, "max_map"));
    /* the whole 2 MiB were usable: growth happened before it gave up */
    assert_true ((uint64_t) acked * len > 1 * MIB);
    store_stats_t st = stats (fx);
    assert_int_equal (st.map_bytes, 2 * MIB);
    assert_int_equal (st.items, (uint64_t) acked);
    /* the writer still answers */
    store_request_t sync = { .type = STORE_REQ_SYNC };
    call (fx->client, &sync);

    fx_stop (fx);
    fx_start (fx);
    st = stats (fx);
    assert_int_equal (st.items, (uint64_t) acked);
    assert_int_equal (st.pending, (uint64_t) acked);
    assert_int_equal (st.last_ticket, (uint64_t) acked);
    MDB_txn *txn = store_read_begin (fx->store);
    char id[32];
    for (int i = 0; i < acked; i++) {
        snprintf (id, sizeof id, "f%05d", i);
        if (!text_matches (fx, txn, id, len))
            fail_msg ("acknowledged item %s lost or damaged", id);
    }
    snprintf (id, sizeof id, "f%05d", acked);
    assert_int_equal (store_get_item (fx->store, txn, id, strlen (id), NULL, NULL, NULL),
                      MDB_NOTFOUND);
    store_read_end (fx->store, txn);
    /* still full after the reopen with the same cap */
    assert_int_equal (ingest_big (fx, "f", acked, batch, len, &req), STORE_FULL);

    /* a larger cap lets the same store take more */
    fx_stop (fx);
    fx->cfg.max_map_bytes = 8 * MIB;
    fx_start (fx);
    assert_int_equal (ingest_big (fx, "f", acked, batch, len, &req), STORE_OK);
    assert_int_equal (stats (fx).items, (uint64_t) acked + batch);
}

/*  Many small items fill the map so that LMDB can report MDB_MAP_FULL from
    the commit itself (saving the freelist) rather than from a put. The
    writer must still grow to the cap and redo the group: STORE_FULL is only
    allowed once the capped map is really used.  */
static void
test_full_only_at_cap (void **state)
{
    fx_t *fx = *state;
    fx_stop (fx);
    fx->cfg.no_sync = true;     /* hundreds of commits; durability is not the point */
    fx_start (fx);
    char text[101];
    memset (text, 'x', 100);
    text[100] = 0;
    int acked = 0;
    store_request_t req;
    for (;;) {
        Annotate__V1__Item items[10], *ptrs[10];
        char ids[10][16];
        for (int i = 0; i < 10; i++) {
            snprintf (ids[i], sizeof ids[i], "s%07d", acked + i);
            annotate__v1__item__init (&items[i]);
            items[i].id = ids[i];
            items[i].text = text;
            ptrs[i] = &items[i];
        }
        ingest_init (&req, ptrs, 10);
        if (call (fx->client, &req) != STORE_OK || acked > 100000)
            break;
        acked += 10;
    }
    assert_int_equal (req.status, STORE_FULL);
    store_stats_t st = stats (fx);
    if (st.used_bytes <= 3 * MIB / 2)
        fail_msg ("STORE_FULL after %d items with %llu of %llu bytes used: the map was not "
                  "grown to max_map_bytes before giving up", acked,
                  (unsigned long long) st.used_bytes, (unsigned long long) st.map_bytes);
    assert_int_equal (st.items, (uint64_t) acked);
}

/* ---- writer lifecycle -------------------------------------------------------- */

/*  A process may stop and start its writer (tests do; a coordinator could
    on reconfiguration). Every new writer must answer.  */
static void
test_writer_restart (void **state)
{
    fx_t *fx = *state;
    store_client_destroy (&fx->client);
    store_writer_destroy (&fx->writer);
    for (int round = 0; round < 500; round++) {
        fx->writer = store_writer_new (fx->store, &policy);
        fx->client = store_client_new (fx->writer);
        assert_non_null (fx->client);
        store_request_t req = { .type = STORE_REQ_SYNC, .status = STORE_IO };
        assert_int_equal (store_client_send (fx->client, &req), 0);
        if (recv_answer (fx->client, 2000) != &req)
            fail_msg ("writer %d never answered: its inproc endpoint is named after its "
                      "address and a new writer at a freed writer's address can fail to bind",
                      round);
        assert_int_equal (req.status, STORE_OK);
        store_client_destroy (&fx->client);
        store_writer_destroy (&fx->writer);
    }
    fx->writer = store_writer_new (fx->store, &policy);
    fx->client = store_client_new (fx->writer);
}

int
main (void)
{
    log_set_level (LOG_LEVEL_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_failure_does_not_spoil_group, setup, teardown),
        cmocka_unit_test_setup_teardown (test_commit_events, setup, teardown),
        cmocka_unit_test_setup_teardown (test_many_clients, setup, teardown),
        cmocka_unit_test_setup_teardown (test_map_growth, setup_small, teardown),
        cmocka_unit_test_setup_teardown (test_store_full, setup_capped, teardown),
        cmocka_unit_test_setup_teardown (test_full_only_at_cap, setup_capped, teardown),
        cmocka_unit_test_setup_teardown (test_writer_restart, setup, teardown),
    };
    return cmocka_run_group_tests_name ("store_writer", tests, NULL, NULL);
}
