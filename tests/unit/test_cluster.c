/*  test_cluster.c: the coordinator's cluster actor against a real store and
    writer, with fake workers (DEALER sockets driven by the test) speaking
    the wire protocol, and a real agent (the worker runtime) in a thread.

    Covers: REGISTER -> WELCOME + ASSIGN; BATCH -> RESULT -> labels in the
    store exactly once; duplicate and late results (no second event);
    REJECT for a wrong protocol version, a taken name, bad fields; a silent
    worker declared dead and its batch redelivered to another worker;
    RECONNECT for unknown peers; label validation with redelivery; status;
    manifest apply; bind failure; a real agent labelling with SOURCE_NONE.
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
#include <unistd.h>

#include "agent/agent.h"
#include "cluster/cluster.h"
#include "store/store.h"
#include "store/store_writer.h"
#include "util/util.h"
#include "wire/wire.h"

#define T_REGISTER  ANNOTATE__V1__MSG_TYPE__MSG_REGISTER
#define T_WELCOME   ANNOTATE__V1__MSG_TYPE__MSG_WELCOME
#define T_REJECT    ANNOTATE__V1__MSG_TYPE__MSG_REJECT
#define T_HEARTBEAT ANNOTATE__V1__MSG_TYPE__MSG_HEARTBEAT
#define T_ASSIGN    ANNOTATE__V1__MSG_TYPE__MSG_ASSIGN
#define T_BATCH     ANNOTATE__V1__MSG_TYPE__MSG_BATCH
#define T_RESULT    ANNOTATE__V1__MSG_TYPE__MSG_RESULT
#define T_RECONNECT ANNOTATE__V1__MSG_TYPE__MSG_RECONNECT

static const char *MANIFEST =
    "cluster:\n"
    "  name: testc\n"
    "coordinator:\n"
    "  heartbeat_ms: 100\n"
    "  liveness: 3\n"
    "  batch_size: 4\n"
    "taxonomy:\n"
    "  labels:\n"
    "    - { name: cat }\n"
    "    - { name: dog }\n"
    "workers:\n"
    "  - name: w1\n"
    "    capacity: 2\n"
    "    actors:\n"
    "      - { name: ann-1, type: annotation }\n"
    "  - name: w2\n"
    "    actors:\n"
    "      - { name: ann-2, type: annotation }\n"
    "      - { name: al, type: active_learning }\n";

/* ---- fixture ---------------------------------------------------------- */

typedef struct {
    char dir[64];
    char endpoint[128];
    store_t *store;
    store_writer_t *writer;
    store_client_t *client;
    cluster_t *cluster;
} fx_t;

static char *taxonomy[] = { "cat", "dog" };

static int
rm_entry (const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove (path);
}

static int
setup (void **state)
{
    static int counter;
    fx_t *fx = calloc (1, sizeof *fx);
    strcpy (fx->dir, "/tmp/test_cluster.XXXXXX");
    if (!mkdtemp (fx->dir))
        return -1;
    snprintf (fx->endpoint, sizeof fx->endpoint, "ipc://%s/cluster-%d.sock", fx->dir, counter++);
    store_config_t scfg = { .dir = fx->dir, .initial_map_bytes = 4u << 20 };
    char err[600] = "";
    fx->store = store_open (&scfg, err, sizeof err);
    if (!fx->store)
        fail_msg ("store_open: %s", err);
    store_policy_t policy = { .vector_dim = 0, .labels = taxonomy, .n_labels = 2 };
    fx->writer = store_writer_new (fx->store, &policy);
    fx->client = store_client_new (fx->writer);
    /*  Workers may only claim model versions the store holds: the fake
        workers below label with version 3.  */
    for (int v = 1; v <= 3; v++) {
        Annotate__V1__ModelInfo info = ANNOTATE__V1__MODEL_INFO__INIT;
        static const uint8_t blob[] = "not a real model";
        store_request_t mreq = { .type = STORE_REQ_MODEL, .blob = blob, .blob_len = sizeof blob,
                                 .info = &info, .make_current = false };
        if (store_client_call (fx->client, &mreq) != STORE_OK)
            fail_msg ("storing model %d: %s", v, mreq.err);
    }
    cluster_config_t cfg = { .bind = fx->endpoint, .manifest_text = MANIFEST,
                             .manifest_len = strlen (MANIFEST), .manifest_version = 1,
                             .store = fx->store, .writer = fx->writer,
                             .max_message_bytes = 1 << 20 };
    fx->cluster = cluster_new (&cfg, err, sizeof err);
    if (!fx->cluster)
        fail_msg ("cluster_new: %s", err);
    *state = fx;
    return 0;
}

static int
teardown (void **state)
{
    fx_t *fx = *state;
    cluster_destroy (&fx->cluster);
    store_client_destroy (&fx->client);
    store_writer_destroy (&fx->writer);
    store_destroy (&fx->store);
    nftw (fx->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    free (fx);
    return 0;
}

static void
ingest (fx_t *fx, const char *const *ids, size_t n)
{
    Annotate__V1__Item *items = calloc (n, sizeof *items);
    Annotate__V1__Item **ptrs = calloc (n, sizeof *ptrs);
    for (size_t i = 0; i < n; i++) {
        annotate__v1__item__init (&items[i]);
        items[i].id = (char *) ids[i];
        items[i].text = "some text";
        ptrs[i] = &items[i];
    }
    store_request_t req = { .type = STORE_REQ_INGEST, .items = ptrs, .n_items = n };
    assert_int_equal (store_client_call (fx->client, &req), STORE_OK);
    free (ptrs);
    free (items);
}

typedef struct {
    Annotate__V1__Label *label;
    item_state_t state;
    size_t history;
} got_t;

static bool
count_event (void *arg, uint64_t seq, const uint8_t *packed, size_t len)
{
    (*(size_t *) arg)++;
    return true;
}

static bool
get_item (fx_t *fx, const char *id, got_t *out)
{
    memset (out, 0, sizeof *out);
    MDB_txn *txn = store_read_begin (fx->store);
    Annotate__V1__Item *item = NULL;
    int rc = store_get_item (fx->store, txn, id, strlen (id), &item, &out->label, &out->state);
    size_t seen = 0;
    out->history = store_item_history (fx->store, txn, id, strlen (id), count_event, &seen);
    store_read_end (fx->store, txn);
    if (item)
        protobuf_c_message_free_unpacked (&item->base, NULL);
    return rc == 0;
}

static void
got_free (got_t *g)
{
    if (g->label)
        protobuf_c_message_free_unpacked (&g->label->base, NULL);
    g->label = NULL;
}

/*  Waits for the writer to commit everything sent before this call.  */
static void
sync_writer (fx_t *fx)
{
    store_request_t req = { .type = STORE_REQ_SYNC };
    store_client_call (fx->client, &req);
}

/* ---- fake workers ----------------------------------------------------- */

typedef struct {
    zsock_t *sock;
    int64_t next_hb;
    bool heartbeat;     /* false: play dead */
} fw_t;

static fw_t *
fw_new (fx_t *fx)
{
    fw_t *fw = calloc (1, sizeof *fw);
    fw->sock = zsock_new_dealer (fx->endpoint);
    zsock_set_linger (fw->sock, 0);
    fw->heartbeat = true;
    assert_non_null (fw->sock);
    return fw;
}

static void
fw_destroy (fw_t **fw_p)
{
    zsock_destroy (&(*fw_p)->sock);
    free (*fw_p);
    *fw_p = NULL;
}

static void
fw_register (fw_t *fw, const char *name, uint32_t capacity, uint32_t version)
{
    Annotate__V1__Register r = ANNOTATE__V1__REGISTER__INIT;
    r.name = (char *) name;
    r.capacity = capacity;
    r.protocol = version;
    r.host = "testhost";
    r.pid = 1;
    assert_int_equal (wire_send_version (fw->sock, NULL, version, T_REGISTER, 0, &r.base), 0);
}

/*  Next message other than HEARTBEAT, heartbeating meanwhile; false on
    timeout.  */
static bool
fw_next (fw_t *fw, int timeout_ms, wire_msg_t *m)
{
    int64_t deadline = time_mono_us () + timeout_ms * 1000LL;
    zpoller_t *p = zpoller_new (fw->sock, NULL);
    bool got = false;
    while (!got && time_mono_us () < deadline) {
        if (fw->heartbeat && time_mono_us () >= fw->next_hb) {
            wire_send (fw->sock, NULL, T_HEARTBEAT, 0, NULL);
            fw->next_hb = time_mono_us () + 40000;
        }
        if (!zpoller_wait (p, 10))
            continue;
        char err[256];
        int rc = wire_recv (fw->sock, false, 0, m, err, sizeof err);
        if (rc != WIRE_OK)
            fail_msg ("fake worker got a bad message: %s", err);
        if (m->type == T_HEARTBEAT)
            wire_msg_reset (m);
        else
            got = true;
    }
    zpoller_destroy (&p);
    return got;
}

static void
fw_expect (fw_t *fw, Annotate__V1__MsgType type, wire_msg_t *m)
{
    if (!fw_next (fw, 3000, m))
        fail_msg ("no %s within 3 s", wire_type_name (type));
    if (m->type != type)
        fail_msg ("expected %s, got %s", wire_type_name (type), wire_type_name (m->type));
}

/*  Heartbeats for ms, failing on any other message.  */
static void
fw_idle (fw_t *fw, int ms)
{
    wire_msg_t m;
    if (fw_next (fw, ms, &m))
        fail_msg ("unexpected %s", wire_type_name (m.type));
}

static void
fw_join (fw_t *fw, const char *name, uint32_t capacity)
{
    fw_register (fw, name, capacity, 1);
    wire_msg_t m;
    fw_expect (fw, T_WELCOME, &m);
    wire_msg_reset (&m);
    fw_expect (fw, T_ASSIGN, &m);
    wire_msg_reset (&m);
}

/*  Answers every item of a batch with `label` (source MODEL) or, when
    label is NULL, SOURCE_NONE.  */
static void
fw_answer (fw_t *fw, const Annotate__V1__Batch *b, const char *label, float confidence)
{
    Annotate__V1__ItemLabel *ils = calloc (b->n_items, sizeof *ils);
    Annotate__V1__ItemLabel **ptrs = calloc (b->n_items, sizeof *ptrs);
    for (size_t i = 0; i < b->n_items; i++) {
        annotate__v1__item_label__init (&ils[i]);
        ils[i].id = b->items[i]->id;
        ils[i].ticket = b->items[i]->ticket;
        ils[i].label = label ? (char *) label : "";
        ils[i].source = label ? ANNOTATE__V1__LABEL_SOURCE__SOURCE_MODEL
                              : ANNOTATE__V1__LABEL_SOURCE__SOURCE_NONE;
        ils[i].confidence = confidence;
        ils[i].model_version = 3;
        ptrs[i] = &ils[i];
    }
    Annotate__V1__Result r = ANNOTATE__V1__RESULT__INIT;
    r.batch_id = b->batch_id;
    r.actor = "ann-1";
    r.labels = ptrs;
    r.n_labels = b->n_items;
    assert_int_equal (wire_send (fw->sock, NULL, T_RESULT, b->batch_id, &r.base), 0);
    free (ptrs);
    free (ils);
}

/*  Waits (heartbeating) until the item has a current label.  */
static void
wait_labelled (fx_t *fx, fw_t *fw, const char *id, got_t *g)
{
    for (int i = 0; i < 300; i++) {
        if (get_item (fx, id, g) && g->label)
            return;
        got_free (g);
        if (fw)
            fw_idle (fw, 10);
        else
            zclock_sleep (10);
    }
    fail_msg ("item %s was never labelled", id);
}

static Annotate__V1__ClusterStatusResponse *
status (fx_t *fx)
{
    cluster_client_t *c = cluster_client_new (fx->cluster);
    Annotate__V1__ClusterStatusResponse *st = cluster_client_status (c, 2000);
    cluster_client_destroy (&c);
    assert_non_null (st);
    return st;
}

static Annotate__V1__WorkerStatus *
worker_status (Annotate__V1__ClusterStatusResponse *st, const char *name)
{
    for (size_t i = 0; i < st->n_workers; i++)
        if (streq (st->workers[i]->name, name))
            return st->workers[i];
    return NULL;
}

/* ---- tests ------------------------------------------------------------ */

static void
test_register_batch_result (void **state)
{
    fx_t *fx = *state;
    const char *ids[] = { "a", "b", "c" };
    ingest (fx, ids, 3);
    fw_t *fw = fw_new (fx);
    fw_register (fw, "w1", 2, 1);
    wire_msg_t m;
    fw_expect (fw, T_WELCOME, &m);
    Annotate__V1__Welcome *wel = (Annotate__V1__Welcome *) m.body;
    assert_string_equal (wel->cluster, "testc");
    assert_int_equal (wel->heartbeat_ms, 100);
    assert_int_equal (wel->liveness, 3);
    assert_int_equal (wel->max_batch, 4);
    wire_msg_reset (&m);
    fw_expect (fw, T_ASSIGN, &m);
    Annotate__V1__Assign *as = (Annotate__V1__Assign *) m.body;
    assert_int_equal (as->n_actors, 1);
    assert_string_equal (as->actors[0]->name, "ann-1");
    assert_string_equal (as->actors[0]->type, "annotation");
    assert_int_equal (as->n_labels, 2);
    assert_string_equal (as->labels[1], "dog");
    assert_int_equal (as->manifest_version, 1);
    wire_msg_reset (&m);

    fw_expect (fw, T_BATCH, &m);
    Annotate__V1__Batch *b = (Annotate__V1__Batch *) m.body;
    assert_int_equal (b->n_items, 3);
    assert_int_equal (m.correlation, b->batch_id);
    assert_string_equal (b->items[0]->id, "a");
    assert_string_equal (b->items[2]->text, "some text");
    assert_true (b->items[0]->ticket > 0);
    fw_answer (fw, b, "cat", 0.9f);

    got_t g;
    wait_labelled (fx, fw, "c", &g);
    assert_string_equal (g.label->label, "cat");
    assert_int_equal (g.label->source, ANNOTATE__V1__LABEL_SOURCE__SOURCE_MODEL);
    assert_string_equal (g.label->annotator, "ann-1");
    assert_string_equal (g.label->worker, "w1");
    assert_int_equal (g.label->model_version, 3);
    assert_int_equal (g.state.ticket, 0);
    assert_int_equal (g.history, 1);
    got_free (&g);

    /* the same result again: the store discards it */
    fw_answer (fw, b, "dog", 0.8f);
    wire_msg_reset (&m);
    fw_idle (fw, 200);
    sync_writer (fx);
    for (size_t i = 0; i < 3; i++) {
        assert_true (get_item (fx, ids[i], &g));
        assert_non_null (g.label);
        assert_string_equal (g.label->label, "cat");
        assert_int_equal (g.history, 1);
        got_free (&g);
    }
    Annotate__V1__ClusterStatusResponse *st = status (fx);
    Annotate__V1__WorkerStatus *ws = worker_status (st, "w1");
    assert_non_null (ws);
    assert_string_equal (ws->state, "alive");
    assert_int_equal (ws->batches_done, 1);
    assert_int_equal (ws->items_done, 3);
    assert_int_equal (ws->in_flight, 0);
    assert_int_equal (ws->capacity, 2);
    assert_string_equal (ws->host, "testhost");
    assert_int_equal (st->labelled, 3);
    assert_int_equal (st->pending, 0);
    assert_int_equal (st->in_flight, 0);
    assert_string_equal (st->cluster, "testc");
    assert_int_equal (st->n_labels, 2);
    /* actors: ann-1 runs on w1, w2's are unplaced */
    assert_int_equal (st->n_actors, 3);
    for (size_t i = 0; i < st->n_actors; i++) {
        if (streq (st->actors[i]->name, "ann-1")) {
            assert_string_equal (st->actors[i]->state, "running");
            assert_string_equal (st->actors[i]->worker, "w1");
        }
        else
            assert_string_equal (st->actors[i]->state, "unplaced");
    }
    protobuf_c_message_free_unpacked (&st->base, NULL);
    fw_destroy (&fw);
}

static void
expect_reject (fw_t *fw, const char *needle)
{
    wire_msg_t m;
    fw->heartbeat = false;
    fw_expect (fw, T_REJECT, &m);
    Annotate__V1__Reject *rej = (Annotate__V1__Reject *) m.body;
    if (!strstr (rej->reason, needle))
        fail_msg ("reject reason '%s' lacks '%s'", rej->reason, needle);
    wire_msg_reset (&m);
}

static void
test_rejects (void **state)
{
    fx_t *fx = *state;
    fw_t *old = fw_new (fx);
    fw_register (old, "w1", 2, 2);      /* header and body speak version 2 */
    expect_reject (old, "protocol version 2, coordinator speaks 1");
    fw_destroy (&old);

    fw_t *odd = fw_new (fx);
    Annotate__V1__Register r = ANNOTATE__V1__REGISTER__INIT;
    r.name = "w1";
    r.capacity = 1;
    r.protocol = 9;                     /* header 1, body says 9 */
    assert_int_equal (wire_send (odd->sock, NULL, T_REGISTER, 0, &r.base), 0);
    expect_reject (odd, "protocol version 9");
    fw_destroy (&odd);

    fw_t *bad = fw_new (fx);
    fw_register (bad, "w1", 0, 1);
    expect_reject (bad, "capacity");
    fw_register (bad, "", 1, 1);
    expect_reject (bad, "name");
    fw_register (bad, "bad\xff", 1, 1);
    expect_reject (bad, "name");
    fw_destroy (&bad);

    fw_t *a = fw_new (fx);
    fw_join (a, "w1", 1);
    fw_t *b = fw_new (fx);
    fw_register (b, "w1", 1, 1);
    expect_reject (b, "name taken");
    fw_destroy (&b);

    Annotate__V1__ClusterStatusResponse *st = status (fx);
    assert_int_equal (st->n_workers, 1);
    protobuf_c_message_free_unpacked (&st->base, NULL);

    /*  A holder whose connection closed (killed, restarting at once) does
        not block its name: well within liveness, the new one is welcome. */
    fw_destroy (&a);
    zclock_sleep (30);
    fw_t *c = fw_new (fx);
    fw_join (c, "w1", 1);
    st = status (fx);
    assert_string_equal (worker_status (st, "w1")->state, "alive");
    protobuf_c_message_free_unpacked (&st->base, NULL);
    fw_destroy (&c);
}

static void
test_unknown_peer_reconnect (void **state)
{
    fx_t *fx = *state;
    fw_t *fw = fw_new (fx);
    wire_msg_t m;
    fw_expect (fw, T_RECONNECT, &m);    /* its heartbeat is from a stranger */
    wire_msg_reset (&m);
    fw_destroy (&fw);
}

static void
test_dead_worker_redelivery (void **state)
{
    fx_t *fx = *state;
    const char *ids[] = { "x1", "x2" };
    ingest (fx, ids, 2);
    fw_t *w1 = fw_new (fx);
    fw_join (w1, "w1", 2);
    wire_msg_t b1;
    fw_expect (w1, T_BATCH, &b1);
    Annotate__V1__Batch *batch1 = (Annotate__V1__Batch *) b1.body;
    assert_int_equal (batch1->n_items, 2);

    w1->heartbeat = false;              /* w1 hangs */
    fw_t *w2 = fw_new (fx);
    fw_join (w2, "w2", 1);
    wire_msg_t b2;
    fw_expect (w2, T_BATCH, &b2);       /* after w1 was declared dead */
    Annotate__V1__Batch *batch2 = (Annotate__V1__Batch *) b2.body;
    assert_int_equal (batch2->n_items, 2);
    assert_int_not_equal (batch2->batch_id, batch1->batch_id);
    for (size_t i = 0; i < 2; i++) {
        assert_string_equal (batch2->items[i]->id, batch1->items[i]->id);
        assert_int_equal (batch2->items[i]->ticket, batch1->items[i]->ticket);
    }
    Annotate__V1__ClusterStatusResponse *st = status (fx);
    assert_string_equal (worker_status (st, "w1")->state, "dead");
    assert_int_equal (st->redelivered, 1);
    assert_int_equal (st->in_flight, 2);
    assert_int_equal (worker_status (st, "w2")->in_flight, 1);
    protobuf_c_message_free_unpacked (&st->base, NULL);

    fw_answer (w2, batch2, "dog", 0.5f);
    got_t g;
    wait_labelled (fx, w2, "x2", &g);
    assert_string_equal (g.label->worker, "w2");
    got_free (&g);

    /* w1 comes back with its late result: told to reconnect, no new event */
    fw_answer (w1, batch1, "cat", 0.9f);
    wire_msg_t m;
    fw_expect (w1, T_RECONNECT, &m);
    wire_msg_reset (&m);
    fw_idle (w2, 200);
    sync_writer (fx);
    for (size_t i = 0; i < 2; i++) {
        assert_true (get_item (fx, ids[i], &g));
        assert_string_equal (g.label->label, "dog");
        assert_int_equal (g.history, 1);
        got_free (&g);
    }
    /* and it may take its name back once dead */
    w1->heartbeat = true;
    fw_join (w1, "w1", 2);
    st = status (fx);
    assert_string_equal (worker_status (st, "w1")->state, "alive");
    assert_int_equal (st->n_workers, 2);
    protobuf_c_message_free_unpacked (&st->base, NULL);
    wire_msg_reset (&b1);
    wire_msg_reset (&b2);
    fw_destroy (&w1);
    fw_destroy (&w2);
}

static void
test_invalid_labels_redelivered (void **state)
{
    fx_t *fx = *state;
    const char *ids[] = { "v1", "v2" };
    ingest (fx, ids, 2);
    fw_t *fw = fw_new (fx);
    fw_join (fw, "w1", 1);
    wire_msg_t m;
    fw_expect (fw, T_BATCH, &m);
    Annotate__V1__Batch *b = (Annotate__V1__Batch *) m.body;
    assert_int_equal (b->n_items, 2);
    fw_answer (fw, b, "horse", 0.9f);   /* not in the taxonomy */
    wire_msg_reset (&m);
    fw_expect (fw, T_BATCH, &m);        /* both come back */
    b = (Annotate__V1__Batch *) m.body;
    assert_int_equal (b->n_items, 2);
    fw_answer (fw, b, "cat", NAN);      /* confidence not finite */
    wire_msg_reset (&m);
    fw_expect (fw, T_BATCH, &m);
    b = (Annotate__V1__Batch *) m.body;
    fw_answer (fw, b, NULL, 0);         /* SOURCE_NONE is fine */
    got_t g;
    wait_labelled (fx, fw, "v2", &g);
    assert_int_equal (g.label->source, ANNOTATE__V1__LABEL_SOURCE__SOURCE_NONE);
    assert_string_equal (g.label->label, "");
    assert_int_equal (g.history, 1);
    got_free (&g);
    wire_msg_reset (&m);
    fw_destroy (&fw);
}

static void
test_apply_manifest (void **state)
{
    fx_t *fx = *state;
    fw_t *fw = fw_new (fx);
    fw_join (fw, "w2", 1);
    cluster_client_t *c = cluster_client_new (fx->cluster);
    char err[600];
    assert_int_equal (cluster_client_apply (c, "cluster: [", 10, 2, err, sizeof err), -1);
    assert_true (strlen (err) > 0);
    char *moved = strdup (MANIFEST);
    /* w2 loses its active learning actor: a fresh ASSIGN follows */
    char *cut = strstr (moved, "      - { name: al");
    *cut = 0;
    assert_int_equal (cluster_client_apply (c, moved, strlen (moved), 2, err, sizeof err), 0);
    wire_msg_t m;
    fw_expect (fw, T_ASSIGN, &m);
    Annotate__V1__Assign *as = (Annotate__V1__Assign *) m.body;
    assert_int_equal (as->n_actors, 1);
    assert_string_equal (as->actors[0]->name, "ann-2");
    assert_int_equal (as->manifest_version, 2);
    wire_msg_reset (&m);
    Annotate__V1__ClusterStatusResponse *st = cluster_client_status (c, 2000);
    assert_non_null (st);
    assert_int_equal (st->manifest_version, 2);
    assert_int_equal (st->n_actors, 2);
    protobuf_c_message_free_unpacked (&st->base, NULL);
    free (moved);
    cluster_client_destroy (&c);
    fw_destroy (&fw);
}

static void
test_bind_failure (void **state)
{
    fx_t *fx = *state;
    zsock_t *taken = zsock_new (ZMQ_ROUTER);
    int port = zsock_bind (taken, "tcp://127.0.0.1:*");
    assert_true (port > 0);
    char ep[64];
    snprintf (ep, sizeof ep, "tcp://127.0.0.1:%d", port);
    cluster_config_t cfg = { .bind = ep, .manifest_text = MANIFEST,
                             .manifest_len = strlen (MANIFEST), .manifest_version = 1,
                             .store = fx->store, .writer = fx->writer };
    char err[600] = "";
    assert_null (cluster_new (&cfg, err, sizeof err));
    assert_non_null (strstr (err, "cannot bind"));
    cfg.bind = "tcp://127.0.0.1:0";
    cfg.manifest_text = "nonsense: [";
    cfg.manifest_len = strlen (cfg.manifest_text);
    assert_null (cluster_new (&cfg, err, sizeof err));
    assert_non_null (strstr (err, "manifest"));
    zsock_destroy (&taken);
}

/* ---- a real agent ----------------------------------------------------- */

typedef struct {
    agent_t *agent;
    int rc;
} run_t;

static void *
run_agent (void *arg)
{
    run_t *r = arg;
    r->rc = agent_run (r->agent);
    return NULL;
}

static void
test_real_agent (void **state)
{
    fx_t *fx = *state;
    /*  400 items in batches of 4: far more results than label requests
        may be outstanding at the writer, so the bound must release.  */
    enum { N = 400 };
    static char names[N][8];
    const char *ids[N];
    for (int i = 0; i < N; i++) {
        snprintf (names[i], sizeof names[i], "r%d", i);
        ids[i] = names[i];
    }
    ingest (fx, ids, N);
    const char *tags[] = { "zone=test" };
    agent_config_t cfg = { .coordinator = fx->endpoint, .name = "w1", .capacity = 2,
                           .tags = tags, .n_tags = 1 };
    run_t r = { agent_new (&cfg), -1 };
    assert_non_null (r.agent);
    pthread_t t;
    pthread_create (&t, NULL, run_agent, &r);
    for (size_t i = 0; i < N; i++) {
        got_t g;
        wait_labelled (fx, NULL, ids[i], &g);
        assert_int_equal (g.label->source, ANNOTATE__V1__LABEL_SOURCE__SOURCE_NONE);
        assert_string_equal (g.label->label, "");
        assert_true (g.label->confidence == 0.0f);
        assert_int_equal (g.label->model_version, 0);
        assert_string_equal (g.label->annotator, "ann-1");
        assert_string_equal (g.label->worker, "w1");
        assert_int_equal (g.history, 1);
        got_free (&g);
    }
    Annotate__V1__ClusterStatusResponse *st = status (fx);
    Annotate__V1__WorkerStatus *ws = worker_status (st, "w1");
    assert_non_null (ws);
    assert_int_equal (ws->items_done, N);
    protobuf_c_message_free_unpacked (&st->base, NULL);
    zclock_sleep (1100);    /* one more rate sample */
    st = status (fx);
    ws = worker_status (st, "w1");
    if (!(st->label_rate > 0 && st->ingest_rate > 0))
        fail_msg ("rates: label %f ingest %f", st->label_rate, st->ingest_rate);
    assert_int_equal (ws->n_tags, 1);
    assert_string_equal (ws->tags[0], "zone=test");
    protobuf_c_message_free_unpacked (&st->base, NULL);

    agent_stop (r.agent);
    pthread_join (t, NULL);
    assert_int_equal (r.rc, 0);
    agent_destroy (&r.agent);
    /* its GOODBYE marks it dead at once */
    zclock_sleep (100);
    st = status (fx);
    assert_string_equal (worker_status (st, "w1")->state, "dead");
    protobuf_c_message_free_unpacked (&st->base, NULL);

    /* an agent of another protocol version is rejected and ends with 1 */
    cfg.protocol_version = 2;
    agent_t *old = agent_new (&cfg);
    assert_int_equal (agent_run (old), 1);
    agent_destroy (&old);
}

int
main (void)
{
    log_set_level (LOG_LEVEL_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_register_batch_result, setup, teardown),
        cmocka_unit_test_setup_teardown (test_rejects, setup, teardown),
        cmocka_unit_test_setup_teardown (test_unknown_peer_reconnect, setup, teardown),
        cmocka_unit_test_setup_teardown (test_dead_worker_redelivery, setup, teardown),
        cmocka_unit_test_setup_teardown (test_invalid_labels_redelivered, setup, teardown),
        cmocka_unit_test_setup_teardown (test_apply_manifest, setup, teardown),
        cmocka_unit_test_setup_teardown (test_bind_failure, setup, teardown),
        cmocka_unit_test_setup_teardown (test_real_agent, setup, teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
