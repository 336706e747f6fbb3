/*  test_wire.c: the cluster message codec, over a real ROUTER/DEALER pair.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "wire/wire.h"

typedef struct {
    zsock_t *router;
    zsock_t *dealer;
} pair_t;

static int
setup (void **state)
{
    static int counter = 0;
    pair_t *p = calloc (1, sizeof *p);
    char ep[64];
    snprintf (ep, sizeof ep, "inproc://test-wire-%d", counter++);
    p->router = zsock_new_router (ep);
    p->dealer = zsock_new (ZMQ_DEALER);
    zsock_set_rcvtimeo (p->router, 2000);
    zsock_set_rcvtimeo (p->dealer, 2000);
    assert_int_equal (zsock_connect (p->dealer, "%s", ep), 0);
    *state = p;
    return 0;
}

static int
teardown (void **state)
{
    pair_t *p = *state;
    zsock_destroy (&p->dealer);
    zsock_destroy (&p->router);
    free (p);
    return 0;
}

/*  Sends n raw frames (data[i] of sizes[i] bytes) as one message.  */
static void
send_raw (zsock_t *sock, int n, const void *const *data, const size_t *sizes)
{
    zmsg_t *m = zmsg_new ();
    for (int i = 0; i < n; i++)
        zmsg_addmem (m, data[i], sizes[i]);
    assert_int_equal (zmsg_send (&m, sock), 0);
}

static size_t
pack_header (uint8_t *buf, uint32_t version, int type, uint64_t corr)
{
    Annotate__V1__Header h = ANNOTATE__V1__HEADER__INIT;
    h.version = version;
    h.type = (Annotate__V1__MsgType) type;
    h.correlation = corr;
    return annotate__v1__header__pack (&h, buf);
}

/*  After a refused message the socket must be in sync: a good one follows.  */
static void
assert_next_ok (pair_t *p)
{
    assert_int_equal (wire_send (p->dealer, NULL, ANNOTATE__V1__MSG_TYPE__MSG_GOODBYE, 5, NULL), 0);
    wire_msg_t m;
    char err[256];
    assert_int_equal (wire_recv (p->router, true, 1 << 20, &m, err, sizeof err), WIRE_OK);
    assert_int_equal (m.type, ANNOTATE__V1__MSG_TYPE__MSG_GOODBYE);
    assert_int_equal (m.correlation, 5);
    wire_msg_reset (&m);
}

static void
test_roundtrip_register (void **state)
{
    pair_t *p = *state;
    Annotate__V1__Register r = ANNOTATE__V1__REGISTER__INIT;
    char *tags[] = { "zone=a", "gpu=no" };
    r.name = "w1";
    r.capacity = 4;
    r.protocol = 1;
    r.host = "h";
    r.pid = 42;
    r.tags = tags;
    r.n_tags = 2;
    assert_int_equal (wire_send (p->dealer, NULL, ANNOTATE__V1__MSG_TYPE__MSG_REGISTER, 0, &r.base), 0);
    wire_msg_t m;
    char err[256];
    assert_int_equal (wire_recv (p->router, true, 1 << 20, &m, err, sizeof err), WIRE_OK);
    assert_non_null (m.identity);
    assert_int_equal (m.version, 1);
    Annotate__V1__Register *got = WIRE_BODY (&m, Annotate__V1__Register, ANNOTATE__V1__MSG_TYPE__MSG_REGISTER);
    assert_non_null (got);
    assert_string_equal (got->name, "w1");
    assert_int_equal (got->capacity, 4);
    assert_int_equal (got->pid, 42);
    assert_int_equal (got->n_tags, 2);
    assert_string_equal (got->tags[1], "gpu=no");

    /* and back to the dealer through the identity */
    Annotate__V1__Welcome w = ANNOTATE__V1__WELCOME__INIT;
    w.cluster = "c";
    w.heartbeat_ms = 100;
    w.liveness = 3;
    w.max_batch = 7;
    assert_int_equal (wire_send (p->router, m.identity, ANNOTATE__V1__MSG_TYPE__MSG_WELCOME, 0, &w.base), 0);
    wire_msg_reset (&m);
    assert_int_equal (wire_recv (p->dealer, false, 1 << 20, &m, err, sizeof err), WIRE_OK);
    assert_null (m.identity);
    Annotate__V1__Welcome *gw = WIRE_BODY (&m, Annotate__V1__Welcome, ANNOTATE__V1__MSG_TYPE__MSG_WELCOME);
    assert_non_null (gw);
    assert_string_equal (gw->cluster, "c");
    assert_int_equal (gw->max_batch, 7);
    wire_msg_reset (&m);
}

/*  Every type goes dealer -> router and decodes to its own descriptor.  */
static void
test_roundtrip_all_types (void **state)
{
    pair_t *p = *state;
    Annotate__V1__Reject rej = ANNOTATE__V1__REJECT__INIT;
    rej.reason = "no";
    Annotate__V1__Heartbeat hb = ANNOTATE__V1__HEARTBEAT__INIT;
    hb.in_flight = 3;
    Annotate__V1__ActorSpec spec = ANNOTATE__V1__ACTOR_SPEC__INIT;
    spec.name = "a1";
    spec.type = "annotation";
    Annotate__V1__ActorSpec *specs[] = { &spec };
    char *labels[] = { "x", "y" };
    Annotate__V1__Assign as = ANNOTATE__V1__ASSIGN__INIT;
    as.actors = specs;
    as.n_actors = 1;
    as.labels = labels;
    as.n_labels = 2;
    as.vector_dim = 2;
    as.manifest_version = 9;
    float vec[] = { 0.5f, 1.5f };
    Annotate__V1__WorkItem wi = ANNOTATE__V1__WORK_ITEM__INIT;
    wi.id = "i1";
    wi.text = "hello";
    wi.vector = vec;
    wi.n_vector = 2;
    wi.ticket = 77;
    Annotate__V1__WorkItem *wis[] = { &wi };
    Annotate__V1__Batch b = ANNOTATE__V1__BATCH__INIT;
    b.batch_id = 11;
    b.items = wis;
    b.n_items = 1;
    Annotate__V1__ItemLabel il = ANNOTATE__V1__ITEM_LABEL__INIT;
    il.id = "i1";
    il.source = ANNOTATE__V1__LABEL_SOURCE__SOURCE_NONE;
    il.ticket = 77;
    Annotate__V1__ItemLabel *ils[] = { &il };
    Annotate__V1__Result res = ANNOTATE__V1__RESULT__INIT;
    res.batch_id = 11;
    res.actor = "a1";
    res.labels = ils;
    res.n_labels = 1;

    struct {
        Annotate__V1__MsgType type;
        const ProtobufCMessage *body;
    } cases[] = {
        { ANNOTATE__V1__MSG_TYPE__MSG_REJECT, &rej.base },
        { ANNOTATE__V1__MSG_TYPE__MSG_HEARTBEAT, &hb.base },
        { ANNOTATE__V1__MSG_TYPE__MSG_ASSIGN, &as.base },
        { ANNOTATE__V1__MSG_TYPE__MSG_BATCH, &b.base },
        { ANNOTATE__V1__MSG_TYPE__MSG_RESULT, &res.base },
        { ANNOTATE__V1__MSG_TYPE__MSG_RECONNECT, NULL },
        { ANNOTATE__V1__MSG_TYPE__MSG_GOODBYE, NULL },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal (wire_send (p->dealer, NULL, cases[i].type, 100 + i, cases[i].body), 0);
        wire_msg_t m;
        char err[256];
        assert_int_equal (wire_recv (p->router, true, 1 << 20, &m, err, sizeof err), WIRE_OK);
        assert_int_equal (m.type, cases[i].type);
        assert_int_equal (m.correlation, 100 + i);
        if (cases[i].body) {
            assert_non_null (m.body);
            assert_ptr_equal (m.body->descriptor, cases[i].body->descriptor);
            /* same bytes after a round trip */
            size_t a = protobuf_c_message_get_packed_size (cases[i].body);
            size_t bsz = protobuf_c_message_get_packed_size (m.body);
            assert_int_equal (a, bsz);
        }
        else
            assert_null (m.body);
        assert_string_not_equal (wire_type_name (m.type), "UNKNOWN");
        wire_msg_reset (&m);
    }
    /* deep check of the batch */
    assert_int_equal (wire_send (p->dealer, NULL, ANNOTATE__V1__MSG_TYPE__MSG_BATCH, 11, &b.base), 0);
    wire_msg_t m;
    assert_int_equal (wire_recv (p->router, true, 0, &m, NULL, 0), WIRE_OK);
    Annotate__V1__Batch *gb = WIRE_BODY (&m, Annotate__V1__Batch, ANNOTATE__V1__MSG_TYPE__MSG_BATCH);
    assert_non_null (gb);
    assert_int_equal (gb->n_items, 1);
    assert_string_equal (gb->items[0]->text, "hello");
    assert_int_equal (gb->items[0]->n_vector, 2);
    assert_true (gb->items[0]->vector[1] == 1.5f);
    assert_int_equal (gb->items[0]->ticket, 77);
    wire_msg_reset (&m);
}

/*  The learning-loop messages: each type maps to its own body and
    survives a round trip field by field, in both directions.  */
static void
test_roundtrip_learning (void **state)
{
    pair_t *p = *state;
    uint8_t blob[3000];
    for (size_t i = 0; i < sizeof blob; i++)
        blob[i] = (uint8_t) (i * 7);
    Annotate__V1__ModelChunk mc = ANNOTATE__V1__MODEL_CHUNK__INIT;
    mc.version = 4;
    mc.offset = 1024;
    mc.total_size = 4024;
    mc.data.data = blob;
    mc.data.len = sizeof blob;
    mc.checksum = 0x1234567890abcdefULL;

    float vec[] = { 1.0f, -2.0f };
    Annotate__V1__Correction co = ANNOTATE__V1__CORRECTION__INIT;
    co.id = "i9";
    co.text = "t";
    co.vector = vec;
    co.n_vector = 2;
    co.label = "cat";
    Annotate__V1__Correction *cos[] = { &co };
    Annotate__V1__Corrections cs = ANNOTATE__V1__CORRECTIONS__INIT;
    cs.items = cos;
    cs.n_items = 1;

    char *labels[] = { "cat", "dog" };
    Annotate__V1__ModelSpec spec = ANNOTATE__V1__MODEL_SPEC__INIT;
    spec.type = "linear";
    spec.hash_bits = 12;
    spec.vector_dim = 2;
    spec.c = 4.5;
    spec.online_lr = 0.25f;
    spec.labels = labels;
    spec.n_labels = 2;
    Annotate__V1__RetrainOrder ro = ANNOTATE__V1__RETRAIN_ORDER__INIT;
    ro.order = 17;
    ro.actor = "rt";
    ro.current_version = 3;
    ro.spec = &spec;
    ro.reason = "manual";

    Annotate__V1__TrainPull tp = ANNOTATE__V1__TRAIN_PULL__INIT;
    tp.order = 17;
    tp.after_id = "i8";
    tp.max_items = 1000;

    Annotate__V1__TrainExample te = ANNOTATE__V1__TRAIN_EXAMPLE__INIT;
    te.id = "i9";
    te.vector = vec;
    te.n_vector = 2;
    te.label = "dog";
    te.source = ANNOTATE__V1__LABEL_SOURCE__SOURCE_HUMAN;
    Annotate__V1__TrainExample *tes[] = { &te };
    Annotate__V1__TrainData td = ANNOTATE__V1__TRAIN_DATA__INIT;
    td.order = 17;
    td.examples = tes;
    td.n_examples = 1;
    td.next_after = "i9";
    td.done = true;

    Annotate__V1__ModelInfo info = ANNOTATE__V1__MODEL_INFO__INIT;
    info.accuracy = 0.93;
    info.class_count = 2;
    info.trained_by = "w1/rt";
    Annotate__V1__ModelUpload up = ANNOTATE__V1__MODEL_UPLOAD__INIT;
    up.order = 17;
    up.offset = 0;
    up.total_size = sizeof blob;
    up.data.data = blob;
    up.data.len = sizeof blob;
    up.checksum = 99;
    up.info = &info;

    struct {
        Annotate__V1__MsgType type;
        const ProtobufCMessage *body;
        const char *name;
    } cases[] = {
        { ANNOTATE__V1__MSG_TYPE__MSG_MODEL, &mc.base, "MODEL" },
        { ANNOTATE__V1__MSG_TYPE__MSG_CORRECTION, &cs.base, "CORRECTION" },
        { ANNOTATE__V1__MSG_TYPE__MSG_RETRAIN, &ro.base, "RETRAIN" },
        { ANNOTATE__V1__MSG_TYPE__MSG_TRAIN_PULL, &tp.base, "TRAIN_PULL" },
        { ANNOTATE__V1__MSG_TYPE__MSG_TRAIN_DATA, &td.base, "TRAIN_DATA" },
        { ANNOTATE__V1__MSG_TYPE__MSG_MODEL_UPLOAD, &up.base, "MODEL_UPLOAD" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bool known = false;
        assert_ptr_equal (wire_body_descriptor (cases[i].type, &known), cases[i].body->descriptor);
        assert_true (known);
        assert_string_equal (wire_type_name (cases[i].type), cases[i].name);
        /* coordinator -> worker and worker -> coordinator both decode */
        assert_int_equal (wire_send (p->dealer, NULL, cases[i].type, 0, cases[i].body), 0);
        wire_msg_t m;
        char err[256];
        assert_int_equal (wire_recv (p->router, true, 1 << 20, &m, err, sizeof err), WIRE_OK);
        assert_int_equal (m.type, cases[i].type);
        assert_ptr_equal (m.body->descriptor, cases[i].body->descriptor);
        size_t a = protobuf_c_message_get_packed_size (cases[i].body);
        uint8_t *x = malloc (a), *y = malloc (a);
        protobuf_c_message_pack (cases[i].body, x);
        assert_int_equal (protobuf_c_message_get_packed_size (m.body), a);
        protobuf_c_message_pack (m.body, y);
        assert_memory_equal (x, y, a);
        free (x);
        free (y);
        assert_int_equal (wire_send (p->router, m.identity, cases[i].type, 0, m.body), 0);
        wire_msg_reset (&m);
        assert_int_equal (wire_recv (p->dealer, false, 1 << 20, &m, err, sizeof err), WIRE_OK);
        assert_int_equal (m.type, cases[i].type);
        wire_msg_reset (&m);
    }
    /* field checks on the two with payloads */
    wire_msg_t m;
    assert_int_equal (wire_send (p->dealer, NULL, ANNOTATE__V1__MSG_TYPE__MSG_MODEL, 0, &mc.base), 0);
    assert_int_equal (wire_recv (p->router, true, 0, &m, NULL, 0), WIRE_OK);
    Annotate__V1__ModelChunk *gc = WIRE_BODY (&m, Annotate__V1__ModelChunk, ANNOTATE__V1__MSG_TYPE__MSG_MODEL);
    assert_non_null (gc);
    assert_int_equal (gc->version, 4);
    assert_int_equal (gc->offset, 1024);
    assert_int_equal (gc->total_size, 4024);
    assert_int_equal (gc->data.len, sizeof blob);
    assert_memory_equal (gc->data.data, blob, sizeof blob);
    assert_true (gc->checksum == 0x1234567890abcdefULL);
    wire_msg_reset (&m);
    assert_int_equal (wire_send (p->dealer, NULL, ANNOTATE__V1__MSG_TYPE__MSG_RETRAIN, 0, &ro.base), 0);
    assert_int_equal (wire_recv (p->router, true, 0, &m, NULL, 0), WIRE_OK);
    Annotate__V1__RetrainOrder *gr = WIRE_BODY (&m, Annotate__V1__RetrainOrder, ANNOTATE__V1__MSG_TYPE__MSG_RETRAIN);
    assert_non_null (gr);
    assert_non_null (gr->spec);
    assert_int_equal (gr->spec->hash_bits, 12);
    assert_true (gr->spec->c == 4.5);
    assert_true (gr->spec->online_lr == 0.25f);
    assert_int_equal (gr->spec->n_labels, 2);
    assert_string_equal (gr->spec->labels[1], "dog");
    wire_msg_reset (&m);
    /* a truncated chunk body is refused like any other */
    uint8_t h[32];
    size_t hl = pack_header (h, 1, ANNOTATE__V1__MSG_TYPE__MSG_MODEL, 0);
    const uint8_t junk[] = { 0x22, 0x7f, 0x01 };   /* data: claims 127 bytes, has 1 */
    const void *d[] = { h, junk };
    size_t s[] = { hl, sizeof junk };
    send_raw (p->dealer, 2, d, s);
    char err[256];
    assert_int_equal (wire_recv (p->router, true, 0, &m, err, sizeof err), WIRE_EMALFORMED);
    assert_non_null (strstr (err, "MODEL body"));
    wire_msg_reset (&m);
    assert_next_ok (p);
}

static void
test_missing_frame (void **state)
{
    pair_t *p = *state;
    uint8_t h[32];
    size_t hl = pack_header (h, 1, ANNOTATE__V1__MSG_TYPE__MSG_HEARTBEAT, 0);
    const void *d[] = { h };
    size_t s[] = { hl };
    send_raw (p->dealer, 1, d, s);
    wire_msg_t m;
    char err[256];
    assert_int_equal (wire_recv (p->router, true, 1 << 20, &m, err, sizeof err), WIRE_EMALFORMED);
    assert_non_null (strstr (err, "frames"));
    wire_msg_reset (&m);
    assert_next_ok (p);
}

static void
test_extra_frames (void **state)
{
    pair_t *p = *state;
    uint8_t h[32];
    size_t hl = pack_header (h, 1, ANNOTATE__V1__MSG_TYPE__MSG_HEARTBEAT, 0);
    const void *d[] = { h, "", "x", "y", "z" };
    size_t s[] = { hl, 0, 1, 1, 1 };
    send_raw (p->dealer, 5, d, s);
    wire_msg_t m;
    char err[256];
    assert_int_equal (wire_recv (p->router, true, 1 << 20, &m, err, sizeof err), WIRE_EMALFORMED);
    assert_non_null (strstr (err, "6 frames"));
    wire_msg_reset (&m);
    assert_next_ok (p);
}

static void
test_garbage_header (void **state)
{
    pair_t *p = *state;
    const uint8_t junk[] = { 0xff, 0xff, 0xff, 0xff, 0x0f };
    const void *d[] = { junk, "" };
    size_t s[] = { sizeof junk, 0 };
    send_raw (p->dealer, 2, d, s);
    wire_msg_t m;
    char err[256];
    assert_int_equal (wire_recv (p->router, true, 1 << 20, &m, err, sizeof err), WIRE_EMALFORMED);
    assert_non_null (strstr (err, "header"));
    wire_msg_reset (&m);
    assert_next_ok (p);
}

static void
test_garbage_body (void **state)
{
    pair_t *p = *state;
    uint8_t h[32];
    size_t hl = pack_header (h, 1, ANNOTATE__V1__MSG_TYPE__MSG_BATCH, 3);
    /* field 2 (items), length-delimited, claims 100 bytes but has 2 */
    const uint8_t junk[] = { 0x12, 0x64, 0x01, 0x02 };
    const void *d[] = { h, junk };
    size_t s[] = { hl, sizeof junk };
    send_raw (p->dealer, 2, d, s);
    wire_msg_t m;
    char err[256];
    assert_int_equal (wire_recv (p->router, true, 1 << 20, &m, err, sizeof err), WIRE_EMALFORMED);
    assert_non_null (strstr (err, "BATCH body"));
    assert_null (m.body);
    wire_msg_reset (&m);
    assert_next_ok (p);
}

static void
test_oversized (void **state)
{
    pair_t *p = *state;
    uint8_t h[32];
    size_t hl = pack_header (h, 1, ANNOTATE__V1__MSG_TYPE__MSG_REJECT, 0);
    size_t big = 5000;
    uint8_t *body = calloc (1, big);
    const void *d[] = { h, body };
    size_t s[] = { hl, big };
    send_raw (p->dealer, 2, d, s);
    free (body);
    wire_msg_t m;
    char err[256];
    assert_int_equal (wire_recv (p->router, true, 4096, &m, err, sizeof err), WIRE_EMALFORMED);
    assert_non_null (strstr (err, "exceeds"));
    wire_msg_reset (&m);
    /* an oversized header alone is refused too */
    uint8_t hh[128];
    memset (hh, 0, sizeof hh);
    const void *d2[] = { hh, "" };
    size_t s2[] = { sizeof hh, 0 };
    send_raw (p->dealer, 2, d2, s2);
    assert_int_equal (wire_recv (p->router, true, 4096, &m, err, sizeof err), WIRE_EMALFORMED);
    assert_non_null (strstr (err, "header frame of 128"));
    wire_msg_reset (&m);
    assert_next_ok (p);
}

static void
test_wrong_version (void **state)
{
    pair_t *p = *state;
    Annotate__V1__Register r = ANNOTATE__V1__REGISTER__INIT;
    r.name = "old";
    r.capacity = 1;
    r.protocol = 7;
    assert_int_equal (wire_send_version (p->dealer, NULL, 7, ANNOTATE__V1__MSG_TYPE__MSG_REGISTER, 0, &r.base), 0);
    wire_msg_t m;
    char err[256];
    assert_int_equal (wire_recv (p->router, true, 1 << 20, &m, err, sizeof err), WIRE_EVERSION);
    assert_int_equal (m.version, 7);
    assert_int_equal (m.type, ANNOTATE__V1__MSG_TYPE__MSG_REGISTER);
    assert_non_null (m.identity);
    Annotate__V1__Register *got = WIRE_BODY (&m, Annotate__V1__Register, ANNOTATE__V1__MSG_TYPE__MSG_REGISTER);
    assert_non_null (got);
    assert_string_equal (got->name, "old");
    assert_non_null (strstr (err, "version 7"));
    /* the coordinator can still answer */
    Annotate__V1__Reject rej = ANNOTATE__V1__REJECT__INIT;
    rej.reason = "protocol version 7, coordinator speaks 1";
    assert_int_equal (wire_send (p->router, m.identity, ANNOTATE__V1__MSG_TYPE__MSG_REJECT, 0, &rej.base), 0);
    wire_msg_reset (&m);
    assert_int_equal (wire_recv (p->dealer, false, 0, &m, err, sizeof err), WIRE_OK);
    assert_int_equal (m.type, ANNOTATE__V1__MSG_TYPE__MSG_REJECT);
    wire_msg_reset (&m);
    assert_next_ok (p);
}

static void
test_unknown_type (void **state)
{
    pair_t *p = *state;
    int bad[] = { 0, 17, 999 };     /* 17: the first type after MSG_PROPAGATED */
    for (size_t i = 0; i < 3; i++) {
        uint8_t h[32];
        size_t hl = pack_header (h, 1, bad[i], 0);
        const void *d[] = { h, "" };
        size_t s[] = { hl, 0 };
        send_raw (p->dealer, 2, d, s);
        wire_msg_t m;
        char err[256];
        assert_int_equal (wire_recv (p->router, true, 1 << 20, &m, err, sizeof err), WIRE_EMALFORMED);
        assert_non_null (strstr (err, "unknown message type"));
        assert_int_equal (m.type, 0);
        wire_msg_reset (&m);
    }
    assert_next_ok (p);
    bool known = true;
    assert_null (wire_body_descriptor ((Annotate__V1__MsgType) 42, &known));
    assert_false (known);
}

/*  The dealer side (no identity) counts frames too.  */
static void
test_dealer_side_frames (void **state)
{
    pair_t *p = *state;
    /* learn the dealer's identity first */
    assert_int_equal (wire_send (p->dealer, NULL, ANNOTATE__V1__MSG_TYPE__MSG_HEARTBEAT, 0, NULL), 0);
    wire_msg_t m;
    char err[256];
    assert_int_equal (wire_recv (p->router, true, 0, &m, err, sizeof err), WIRE_OK);
    zframe_t *id = zframe_dup (m.identity);
    wire_msg_reset (&m);
    zmsg_t *raw = zmsg_new ();
    zmsg_append (raw, &id);
    zmsg_addstr (raw, "only-one");
    assert_int_equal (zmsg_send (&raw, p->router), 0);
    assert_int_equal (wire_recv (p->dealer, false, 0, &m, err, sizeof err), WIRE_EMALFORMED);
    assert_non_null (strstr (err, "1 frames, expected 2"));
    wire_msg_reset (&m);
}

static void
test_timeout_is_enomsg (void **state)
{
    pair_t *p = *state;
    zsock_set_rcvtimeo (p->router, 10);
    wire_msg_t m;
    assert_int_equal (wire_recv (p->router, true, 0, &m, NULL, 0), WIRE_ENOMSG);
    wire_msg_reset (&m);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_roundtrip_register, setup, teardown),
        cmocka_unit_test_setup_teardown (test_roundtrip_all_types, setup, teardown),
        cmocka_unit_test_setup_teardown (test_roundtrip_learning, setup, teardown),
        cmocka_unit_test_setup_teardown (test_missing_frame, setup, teardown),
        cmocka_unit_test_setup_teardown (test_extra_frames, setup, teardown),
        cmocka_unit_test_setup_teardown (test_garbage_header, setup, teardown),
        cmocka_unit_test_setup_teardown (test_garbage_body, setup, teardown),
        cmocka_unit_test_setup_teardown (test_oversized, setup, teardown),
        cmocka_unit_test_setup_teardown (test_wrong_version, setup, teardown),
        cmocka_unit_test_setup_teardown (test_unknown_type, setup, teardown),
        cmocka_unit_test_setup_teardown (test_dealer_side_frames, setup, teardown),
        cmocka_unit_test_setup_teardown (test_timeout_is_enomsg, setup, teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
