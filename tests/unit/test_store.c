/*  test_store.c: the LMDB store through its writer actor, the way the
    coordinator uses it: every write is a store_request_t sent with
    store_client_call, every read a short store_read_begin / _end.

    Covers opening (modes, reopen, schema check), ingest semantics (counts,
    idempotence, conflicts, replace, gold labels, validation, max_pending),
    the label ticket rule (one event per annotation, never two), the read
    side (history, item history, pending, scan paging, stats) and manifest
    versions with policy adoption. Map growth, STORE_FULL, group commit and
    commit events are in test_store_writer.c.
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
#include <unistd.h>

#include "store/store.h"
#include "store/store_writer.h"
#include "util/util.h"

/* ---- fixture -------------------------------------------------------------- */

typedef struct {
    char dir[64];
    store_t *store;
    store_writer_t *writer;
    store_client_t *client;
} fx_t;

static char *taxonomy[] = { "cat", "dog" };

static store_policy_t
policy_make (uint32_t dim, uint64_t max_pending)
{
    return (store_policy_t) { .vector_dim = dim, .max_pending = max_pending,
                              .labels = taxonomy, .n_labels = 2 };
}

static void
fx_start (fx_t *fx, const store_policy_t *policy)
{
    store_config_t cfg = { .dir = fx->dir, .initial_map_bytes = 4u << 20 };
    char err[256] = "";
    fx->store = store_open (&cfg, err, sizeof err);
    if (!fx->store)
        fail_msg ("store_open: %s", err);
    fx->writer = store_writer_new (fx->store, policy);
    assert_non_null (fx->writer);
    fx->client = store_client_new (fx->writer);
    assert_non_null (fx->client);
}

static void
fx_stop (fx_t *fx)
{
    store_client_destroy (&fx->client);
    store_writer_destroy (&fx->writer);
    store_destroy (&fx->store);
    /* the writer's inproc endpoint is named after its address, and ZeroMQ
       releases a closed socket's name asynchronously: a new writer at the
       same address can fail to bind (see test_writer_restart in
       test_store_writer.c). Give the reaper a moment.  */
    zclock_sleep (20);
}

/*  store_client_call, but a writer that never answers fails the test
    instead of hanging it.  */
static store_status_t
call (fx_t *fx, store_request_t *req)
{
    assert_int_equal (store_client_send (fx->client, req), 0);
    zpoller_t *poller = zpoller_new (store_client_socket (fx->client), NULL);
    void *ready = zpoller_wait (poller, 10000);
    zpoller_destroy (&poller);
    if (!ready)
        fail_msg ("the store writer did not answer within 10 s");
    assert_ptr_equal (store_client_recv (fx->client), req);
    return req->status;
}

static int
rm_entry (const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove (path);
}

static int
setup (void **state)
{
    fx_t *fx = calloc (1, sizeof *fx);
    strcpy (fx->dir, "/tmp/test_store.XXXXXX");
    if (!mkdtemp (fx->dir))
        return -1;
    store_policy_t p = policy_make (3, 0);
    fx_start (fx, &p);
    *state = fx;
    return 0;
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

/* ---- requests ------------------------------------------------------------- */

static void
item_set (Annotate__V1__Item *it, const char *id, const char *text)
{
    annotate__v1__item__init (it);
    it->id = (char *) id;
    it->text = (char *) text;
}

static store_status_t
ingest (fx_t *fx, Annotate__V1__Item **items, size_t n, bool replace, store_request_t *req)
{
    memset (req, 0, sizeof *req);
    req->type = STORE_REQ_INGEST;
    req->items = items;
    req->n_items = n;
    req->replace = replace;
    return call (fx, req);
}

/*  Ingests one text item (with an optional gold label); asserts success.  */
static void
ingest_one (fx_t *fx, const char *id, const char *text, const char *gold)
{
    Annotate__V1__Item it;
    item_set (&it, id, text);
    if (gold)
        it.label = (char *) gold;
    Annotate__V1__Item *items[] = { &it };
    store_request_t req;
    if (ingest (fx, items, 1, false, &req) != STORE_OK)
        fail_msg ("ingest %s: %s", id, req.err);
}

static store_status_t
label_one (fx_t *fx, const char *id, uint64_t ticket, const char *label, store_request_t *req)
{
    Annotate__V1__Label lab = ANNOTATE__V1__LABEL__INIT;
    lab.label = (char *) label;
    lab.confidence = 0.75f;
    lab.source = ANNOTATE__V1__LABEL_SOURCE__SOURCE_MODEL;
    lab.time_ms = 12345;        /* the store must overwrite it */
    lab.annotator = "unit-test";
    store_label_t l = { .id = id, .ticket = ticket, .label = &lab };
    memset (req, 0, sizeof *req);
    req->type = STORE_REQ_LABELS;
    req->labels = &l;
    req->n_labels = 1;
    return call (fx, req);
}

/* ---- reads ---------------------------------------------------------------- */

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

/*  State of an item; false when it does not exist.  */
static bool
get_state (fx_t *fx, const char *id, item_state_t *st)
{
    MDB_txn *txn = store_read_begin (fx->store);
    int rc = store_get_item (fx->store, txn, id, strlen (id), NULL, NULL, st);
    store_read_end (fx->store, txn);
    return rc == 0;
}

static uint64_t
ticket_of (fx_t *fx, const char *id)
{
    item_state_t st;
    assert_true (get_state (fx, id, &st));
    return st.ticket;
}

/*  Stored text of an item, or NULL (caller frees).  */
static char *
text_of (fx_t *fx, const char *id)
{
    Annotate__V1__Item *item = NULL;
    MDB_txn *txn = store_read_begin (fx->store);
    int rc = store_get_item (fx->store, txn, id, strlen (id), &item, NULL, NULL);
    store_read_end (fx->store, txn);
    if (rc)
        return NULL;
    char *text = strdup (item->text);
    protobuf_c_message_free_unpacked (&item->base, NULL);
    return text;
}

#define MAX_SEEN 128

typedef struct {
    size_t n, stop_after;
    uint64_t key[MAX_SEEN];
    char id[MAX_SEEN][32];
    char label[MAX_SEEN][16];
    int source[MAX_SEEN];
} seen_t;

static bool
on_event (void *arg, uint64_t seq, const uint8_t *packed, size_t len)
{
    seen_t *s = arg;
    Annotate__V1__LabelEvent *ev = annotate__v1__label_event__unpack (NULL, len, packed);
    assert_non_null (ev);
    assert_non_null (ev->label);
    assert_int_equal (ev->seq, seq);
    assert_true (s->n < MAX_SEEN);
    s->key[s->n] = seq;
    str_copy (s->id[s->n], sizeof s->id[0], ev->item_id);
    str_copy (s->label[s->n], sizeof s->label[0], ev->label->label);
    s->source[s->n] = ev->label->source;
    s->n++;
    protobuf_c_message_free_unpacked (&ev->base, NULL);
    return s->stop_after == 0 || s->n < s->stop_after;
}

static seen_t
history_after (fx_t *fx, uint64_t after, size_t max)
{
    seen_t s = { 0 };
    MDB_txn *txn = store_read_begin (fx->store);
    size_t n = store_history_after (fx->store, txn, after, max, on_event, &s);
    store_read_end (fx->store, txn);
    assert_int_equal (n, s.n);
    return s;
}

static seen_t
item_history (fx_t *fx, const char *id)
{
    seen_t s = { 0 };
    MDB_txn *txn = store_read_begin (fx->store);
    size_t n = store_item_history (fx->store, txn, id, strlen (id), on_event, &s);
    store_read_end (fx->store, txn);
    assert_int_equal (n, s.n);
    return s;
}

static bool
on_pending (void *arg, uint64_t ticket, const char *id, size_t id_len, const uint8_t *item,
            size_t item_len)
{
    seen_t *s = arg;
    Annotate__V1__Item *it = annotate__v1__item__unpack (NULL, item_len, item);
    assert_non_null (it);
    assert_int_equal (strlen (it->id), id_len);
    assert_memory_equal (it->id, id, id_len);
    protobuf_c_message_free_unpacked (&it->base, NULL);
    assert_true (s->n < MAX_SEEN && id_len < sizeof s->id[0]);
    s->key[s->n] = ticket;
    memcpy (s->id[s->n], id, id_len);
    s->id[s->n][id_len] = 0;
    s->n++;
    return s->stop_after == 0 || s->n < s->stop_after;
}

static seen_t
pending_after (fx_t *fx, uint64_t after, size_t max)
{
    seen_t s = { 0 };
    MDB_txn *txn = store_read_begin (fx->store);
    size_t n = store_pending_after (fx->store, txn, after, max, on_pending, &s);
    store_read_end (fx->store, txn);
    assert_int_equal (n, s.n);
    return s;
}

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
        T (test_get_item),
        T (test_history),
        T (test_pending_order),
        T (test_scan_paging),
        T (test_stats),
        T (test_manifests),
        T (test_sync_and_unknown_request),
#undef T
    };
    return cmocka_run_group_tests_name ("store", tests, NULL, NULL);
}
