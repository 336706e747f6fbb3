/*  store_fixture.h: what the store unit tests share: a temp directory
    with a store, a writer and a client (setup / teardown), requests with a
    timeout, and readers that collect history and pending entries. Only
    test_store.c and test_store_read.c include it.
*/
#ifndef ANNOTATE_TEST_STORE_FIXTURE_H
#define ANNOTATE_TEST_STORE_FIXTURE_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
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

static inline store_policy_t
policy_make (uint32_t dim, uint64_t max_pending)
{
    return (store_policy_t) { .vector_dim = dim, .max_pending = max_pending,
                              .labels = taxonomy, .n_labels = 2 };
}

static inline void
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

static inline void
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
static inline store_status_t
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

static inline int
rm_entry (const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove (path);
}

static inline int
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

static inline int
teardown (void **state)
{
    fx_t *fx = *state;
    fx_stop (fx);
    nftw (fx->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    free (fx);
    return 0;
}

/* ---- requests ------------------------------------------------------------- */

static inline void
item_set (Annotate__V1__Item *it, const char *id, const char *text)
{
    annotate__v1__item__init (it);
    it->id = (char *) id;
    it->text = (char *) text;
}

static inline store_status_t
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
static inline void
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

static inline store_status_t
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

static inline store_stats_t
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
static inline bool
get_state (fx_t *fx, const char *id, item_state_t *st)
{
    MDB_txn *txn = store_read_begin (fx->store);
    int rc = store_get_item (fx->store, txn, id, strlen (id), NULL, NULL, st);
    store_read_end (fx->store, txn);
    return rc == 0;
}

static inline uint64_t
ticket_of (fx_t *fx, const char *id)
{
    item_state_t st;
    assert_true (get_state (fx, id, &st));
    return st.ticket;
}

/*  Stored text of an item, or NULL (caller frees).  */
static inline char *
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

static inline bool
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

static inline seen_t
history_after (fx_t *fx, uint64_t after, size_t max)
{
    seen_t s = { 0 };
    MDB_txn *txn = store_read_begin (fx->store);
    size_t n = store_history_after (fx->store, txn, after, max, on_event, &s);
    store_read_end (fx->store, txn);
    assert_int_equal (n, s.n);
    return s;
}

static inline seen_t
item_history (fx_t *fx, const char *id)
{
    seen_t s = { 0 };
    MDB_txn *txn = store_read_begin (fx->store);
    size_t n = store_item_history (fx->store, txn, id, strlen (id), on_event, &s);
    store_read_end (fx->store, txn);
    assert_int_equal (n, s.n);
    return s;
}

static inline bool
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

static inline seen_t
pending_after (fx_t *fx, uint64_t after, size_t max)
{
    seen_t s = { 0 };
    MDB_txn *txn = store_read_begin (fx->store);
    size_t n = store_pending_after (fx->store, txn, after, max, on_pending, &s);
    store_read_end (fx->store, txn);
    assert_int_equal (n, s.n);
    return s;
}

#endif
