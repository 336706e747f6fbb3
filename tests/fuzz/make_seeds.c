/*  make_seeds.c: writes the generated seed corpora of the fuzz harnesses.

        fuzz_make_seeds CORPUS_DIR      (CORPUS_DIR: tests/fuzz/corpus)

    fuzz_wire:          well-formed messages of most types in the harness's
                        frame layout (fuzz_wire.c), on both sides
    fuzz_grpc_requests: one packed message per request type, prefixed by
                        the harness's type byte
    fuzz_model:         models trained on the first 20 digits of
                        tests/data/fixtures/digits-300.jsonl, one with
                        hash_bits 10 (text and pixels), one pixels only

    The output is deterministic but for training float noise; it is
    committed, so CI never runs this.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "annotate/v1/annotate.pb-c.h"
#include "annotate/v1/cluster.pb-c.h"
#include "manifest/manifest.h"
#include "model/model.h"

static const char *s_root;

static void
s_write (const char *harness, const char *name, const uint8_t *prefix, size_t plen,
         const uint8_t *data, size_t len)
{
    char path[1024];
    snprintf (path, sizeof path, "%s/%s/%s", s_root, harness, name);
    FILE *f = fopen (path, "wb");
    if (!f || fwrite (prefix, 1, plen, f) != plen || fwrite (data, 1, len, f) != len) {
        fprintf (stderr, "make_seeds: cannot write %s\n", path);
        exit (1);
    }
    fclose (f);
}

static uint8_t *
s_pack (const ProtobufCMessage *msg, size_t *len)
{
    *len = protobuf_c_message_get_packed_size (msg);
    uint8_t *buf = malloc (*len ? *len : 1);
    protobuf_c_message_pack (msg, buf);
    return buf;
}

/* ---- fuzz_wire ---------------------------------------------------------- */

static void
s_wire (const char *name, bool router, uint32_t version, Annotate__V1__MsgType type,
        uint64_t correlation, const ProtobufCMessage *body)
{
    Annotate__V1__Header h = ANNOTATE__V1__HEADER__INIT;
    h.version = version;
    h.type = type;
    h.correlation = correlation;
    size_t hlen, blen = 0;
    uint8_t *hbuf = s_pack (&h.base, &hlen);
    uint8_t *bbuf = body ? s_pack (body, &blen) : NULL;
    /* 2 frames: [2-byte header length][header][body] */
    uint8_t *buf = malloc (3 + hlen + blen);
    buf[0] = (uint8_t) (1 | (router ? 8 : 0));
    buf[1] = (uint8_t) hlen;
    buf[2] = (uint8_t) (hlen >> 8);
    memcpy (buf + 3, hbuf, hlen);
    if (blen)
        memcpy (buf + 3 + hlen, bbuf, blen);
    s_write ("fuzz_wire", name, NULL, 0, buf, 3 + hlen + blen);
    free (buf);
    free (hbuf);
    free (bbuf);
}

static void
s_wire_seeds (void)
{
    Annotate__V1__Register reg = ANNOTATE__V1__REGISTER__INIT;
    char *tags[] = { "zone=a", "gpu=0" };
    reg.name = "w1";
    reg.capacity = 4;
    reg.protocol = 1;
    reg.host = "host-\xc3\xa9";
    reg.pid = 4242;
    reg.n_tags = 2;
    reg.tags = tags;
    s_wire ("register", true, 1, ANNOTATE__V1__MSG_TYPE__MSG_REGISTER, 0, &reg.base);
    s_wire ("register-v2", true, 2, ANNOTATE__V1__MSG_TYPE__MSG_REGISTER, 0, &reg.base);

    Annotate__V1__Welcome wel = ANNOTATE__V1__WELCOME__INIT;
    wel.cluster = "annotate";
    wel.heartbeat_ms = 1000;
    wel.liveness = 3;
    wel.max_batch = 256;
    s_wire ("welcome", false, 1, ANNOTATE__V1__MSG_TYPE__MSG_WELCOME, 0, &wel.base);

    Annotate__V1__Heartbeat hb = ANNOTATE__V1__HEARTBEAT__INIT;
    hb.in_flight = 2;
    s_wire ("heartbeat", true, 1, ANNOTATE__V1__MSG_TYPE__MSG_HEARTBEAT, 0, &hb.base);
    s_wire ("goodbye", true, 1, ANNOTATE__V1__MSG_TYPE__MSG_GOODBYE, 0, NULL);
    s_wire ("reconnect", false, 1, ANNOTATE__V1__MSG_TYPE__MSG_RECONNECT, 0, NULL);

    Annotate__V1__ActorSpec a1 = ANNOTATE__V1__ACTOR_SPEC__INIT, a2 = ANNOTATE__V1__ACTOR_SPEC__INIT;
    a1.name = "annotator";
    a1.type = "annotation";
    a2.name = "learner";
    a2.type = "active_learning";
    Annotate__V1__ActorSpec *actors[] = { &a1, &a2 };
    char *labels[] = { "spam", "ham" };
    Annotate__V1__ModelSpec spec = ANNOTATE__V1__MODEL_SPEC__INIT;
    spec.type = "linear";
    spec.hash_bits = 18;
    spec.ngram_max = 2;
    spec.vector_norm = 1;
    spec.vector_scale = 1;
    spec.c = 1;
    spec.eps = 0.01;
    spec.calibrate = true;
    spec.online_lr = 0.1f;
    spec.validation_fraction = 0.2f;
    spec.n_labels = 2;
    spec.labels = labels;
    Annotate__V1__Assign as = ANNOTATE__V1__ASSIGN__INIT;
    as.n_actors = 2;
    as.actors = actors;
    as.n_labels = 2;
    as.labels = labels;
    as.manifest_version = 3;
    as.model = &spec;
    s_wire ("assign", false, 1, ANNOTATE__V1__MSG_TYPE__MSG_ASSIGN, 0, &as.base);

    float vec[] = { 0.5f, -1.0f, 3.0f };
    Annotate__V1__WorkItem w1 = ANNOTATE__V1__WORK_ITEM__INIT, w2 = ANNOTATE__V1__WORK_ITEM__INIT;
    w1.id = "a1";
    w1.text = "Win a FREE prize now!";
    w1.ticket = 7;
    w2.id = "a2";
    w2.text = "caf\xc3\xa9 \xe2\x82\xac";
    w2.n_vector = 3;
    w2.vector = vec;
    Annotate__V1__WorkItem *wis[] = { &w1, &w2 };
    Annotate__V1__Batch b = ANNOTATE__V1__BATCH__INIT;
    b.batch_id = 99;
    b.n_items = 2;
    b.items = wis;
    s_wire ("batch", false, 1, ANNOTATE__V1__MSG_TYPE__MSG_BATCH, 99, &b.base);

    Annotate__V1__ClassScore cs = ANNOTATE__V1__CLASS_SCORE__INIT;
    cs.label = "spam";
    cs.p = 0.9f;
    Annotate__V1__ClassScore *scores[] = { &cs };
    Annotate__V1__ItemLabel il = ANNOTATE__V1__ITEM_LABEL__INIT;
    il.id = "a1";
    il.label = "spam";
    il.confidence = 0.9f;
    il.source = ANNOTATE__V1__LABEL_SOURCE__SOURCE_MODEL;
    il.model_version = 2;
    il.n_scores = 1;
    il.scores = scores;
    il.ticket = 7;
    Annotate__V1__ItemLabel *ils[] = { &il };
    Annotate__V1__Result r = ANNOTATE__V1__RESULT__INIT;
    r.batch_id = 99;
    r.actor = "annotator";
    r.n_labels = 1;
    r.labels = ils;
    s_wire ("result", true, 1, ANNOTATE__V1__MSG_TYPE__MSG_RESULT, 99, &r.base);

    uint8_t blob[] = "ANNM\x01\x00\x00\x00";
    Annotate__V1__ModelChunk mc = ANNOTATE__V1__MODEL_CHUNK__INIT;
    mc.version = 2;
    mc.total_size = 8;
    mc.data.len = 8;
    mc.data.data = blob;
    mc.checksum = 12345;
    s_wire ("model", false, 1, ANNOTATE__V1__MSG_TYPE__MSG_MODEL, 0, &mc.base);

    Annotate__V1__Correction co = ANNOTATE__V1__CORRECTION__INIT;
    co.id = "a1";
    co.text = "not spam";
    co.label = "ham";
    Annotate__V1__Correction *cos[] = { &co };
    Annotate__V1__Corrections cor = ANNOTATE__V1__CORRECTIONS__INIT;
    cor.n_items = 1;
    cor.items = cos;
    s_wire ("correction", false, 1, ANNOTATE__V1__MSG_TYPE__MSG_CORRECTION, 0, &cor.base);

    Annotate__V1__TrainPull tp = ANNOTATE__V1__TRAIN_PULL__INIT;
    tp.order = 5;
    tp.after_id = "a1";
    tp.max_items = 500;
    s_wire ("train-pull", true, 1, ANNOTATE__V1__MSG_TYPE__MSG_TRAIN_PULL, 0, &tp.base);

    Annotate__V1__TrainExample te = ANNOTATE__V1__TRAIN_EXAMPLE__INIT;
    te.id = "a2";
    te.text = "hello";
    te.n_vector = 3;
    te.vector = vec;
    te.label = "ham";
    te.source = ANNOTATE__V1__LABEL_SOURCE__SOURCE_HUMAN;
    Annotate__V1__TrainExample *tes[] = { &te };
    Annotate__V1__TrainData td = ANNOTATE__V1__TRAIN_DATA__INIT;
    td.order = 5;
    td.n_examples = 1;
    td.examples = tes;
    td.next_after = "a2";
    s_wire ("train-data", false, 1, ANNOTATE__V1__MSG_TYPE__MSG_TRAIN_DATA, 0, &td.base);

    Annotate__V1__RetrainOrder ro = ANNOTATE__V1__RETRAIN_ORDER__INIT;
    ro.order = 5;
    ro.actor = "retrainer";
    ro.current_version = 1;
    ro.spec = &spec;
    ro.reason = "manual";
    s_wire ("retrain", false, 1, ANNOTATE__V1__MSG_TYPE__MSG_RETRAIN, 0, &ro.base);
}

/* ---- fuzz_grpc_requests -------------------------------------------------- */

static void
s_request (const char *name, uint8_t index, const ProtobufCMessage *msg)
{
    size_t len;
    uint8_t *buf = s_pack (msg, &len);
    s_write ("fuzz_grpc_requests", name, &index, 1, buf, len);
    free (buf);
}

static void
s_grpc_seeds (void)
{
    /* the indices are fuzz_grpc_requests.c's s_requests order */
    float vec[] = { 0.1f, 2.0f };
    Annotate__V1__Item i1 = ANNOTATE__V1__ITEM__INIT, i2 = ANNOTATE__V1__ITEM__INIT;
    i1.id = "a1";
    i1.text = "Win a FREE prize now!";
    i1.meta_json = "{\"src\":\"mail\",\"n\":[1,2,{\"x\":null}]}";
    i1.label = "spam";
    i2.id = "caf\xc3\xa9-2";
    i2.text = "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e text";
    i2.n_vector = 2;
    i2.vector = vec;
    Annotate__V1__Item *items[] = { &i1, &i2 };
    Annotate__V1__IngestRequest ing = ANNOTATE__V1__INGEST_REQUEST__INIT;
    ing.n_items = 2;
    ing.items = items;
    ing.replace = true;
    s_request ("ingest", 0, &ing.base);

    Annotate__V1__GetItemRequest gi = ANNOTATE__V1__GET_ITEM_REQUEST__INIT;
    gi.id = "a1";
    s_request ("get-item", 1, &gi.base);
    Annotate__V1__ListItemsRequest li = ANNOTATE__V1__LIST_ITEMS_REQUEST__INIT;
    s_request ("list-items", 2, &li.base);
    Annotate__V1__WatchLabelsRequest wl = ANNOTATE__V1__WATCH_LABELS_REQUEST__INIT;
    s_request ("watch-labels", 3, &wl.base);
    Annotate__V1__ClusterStatusRequest st = ANNOTATE__V1__CLUSTER_STATUS_REQUEST__INIT;
    s_request ("cluster-status", 4, &st.base);

    size_t ylen;
    const char *yaml = manifest_default_text (&ylen);
    char *y = strndup (yaml, ylen);
    Annotate__V1__ApplyManifestRequest am = ANNOTATE__V1__APPLY_MANIFEST_REQUEST__INIT;
    am.yaml = y;
    am.dry_run = true;
    am.source_name = "default.yaml";
    s_request ("apply-manifest", 5, &am.base);
    free (y);

    Annotate__V1__SubmitLabelRequest sl = ANNOTATE__V1__SUBMIT_LABEL_REQUEST__INIT;
    sl.id = "a1";
    sl.label = "ham";
    sl.annotator = "ann\xc3\xa9";
    s_request ("submit-label", 6, &sl.base);
    Annotate__V1__RetrainRequest rr = ANNOTATE__V1__RETRAIN_REQUEST__INIT;
    rr.reason = "manual";
    s_request ("retrain", 7, &rr.base);
    Annotate__V1__ListModelsRequest lm = ANNOTATE__V1__LIST_MODELS_REQUEST__INIT;
    s_request ("list-models", 8, &lm.base);
    Annotate__V1__RollbackRequest rb = ANNOTATE__V1__ROLLBACK_REQUEST__INIT;
    rb.version = 3;
    s_request ("rollback", 9, &rb.base);
}

/* ---- fuzz_model ---------------------------------------------------------- */

#define N_DIGITS 20

static void
s_model (const char *name, uint32_t hash_bits)
{
    features_config_t cfg;
    features_config_default (&cfg);
    cfg.hash_bits = hash_bits;
    cfg.ngram_max = 1;
    cfg.vector_dim = 64;
    cfg.vector_norm = VECTOR_NORM_NONE;
    cfg.vector_scale = 1.0f / 16;

    FILE *f = fopen (TEST_DATA_DIR "/fixtures/digits-300.jsonl", "r");
    if (!f)
        exit (1);
    sparse_vec_t xs[N_DIGITS];
    model_example_t ex[N_DIGITS];
    char line[8192], err[256];
    size_t n = 0;
    while (n < N_DIGITS && fgets (line, sizeof line, f)) {
        json_t *o = json_loads (line, 0, NULL);
        json_t *v = json_object_get (o, "vector");
        const char *truth = json_string_value (json_object_get (json_object_get (o, "meta"), "truth"));
        float vec[64];
        if (!o || json_array_size (v) != 64 || !truth)
            exit (1);
        for (size_t j = 0; j < 64; j++)
            vec[j] = (float) json_number_value (json_array_get (v, j));
        sparse_vec_init (&xs[n]);
        if (features_extract (&cfg, "digit", 5, vec, 64, &xs[n], err, sizeof err) != 0)
            exit (1);
        ex[n] = (model_example_t) { .x = &xs[n], .y = truth[0] - '0', .weight = 1 };
        json_decref (o);
        n++;
    }
    fclose (f);

    const char *labels[] = { "0", "1", "2", "3", "4", "5", "6", "7", "8", "9" };
    model_train_config_t tc;
    model_train_config_default (&tc);
    tc.calibrate = false;
    model_t *m = model_train (&cfg, labels, 10, ex, n, NULL, 0, &tc, NULL, err, sizeof err);
    if (!m) {
        fprintf (stderr, "make_seeds: %s\n", err);
        exit (1);
    }
    uint8_t *blob = NULL;
    size_t len = model_serialize (m, &blob);
    s_write ("fuzz_model", name, NULL, 0, blob, len);
    free (blob);
    model_destroy (&m);
    for (size_t i = 0; i < n; i++)
        sparse_vec_free (&xs[i]);
}

int
main (int argc, char **argv)
{
    if (argc != 2) {
        fprintf (stderr, "usage: fuzz_make_seeds CORPUS_DIR\n");
        return 2;
    }
    s_root = argv[1];
    s_wire_seeds ();
    s_grpc_seeds ();
    s_model ("digits-h10.model", 10);
    s_model ("digits-vec.model", 0);
    return 0;
}
