/*  test_store_learning.c: the store's part of the learning loop: human
    labels, the re-annotation rule (ticket 0), the training set, model
    versions and rollback, stable taxonomy ids.  */
#include "store_fixture.h"

static store_status_t
human (fx_t *fx, const char *id, const char *label, store_request_t *req)
{
    memset (req, 0, sizeof *req);
    req->type = STORE_REQ_HUMAN_LABEL;
    req->id = id;
    req->label = label;
    req->annotator = "ana";
    return call (fx, req);
}

/*  A machine label by model `version`; ticket 0 is a re-annotation.  */
static store_status_t
machine (fx_t *fx, const char *id, uint64_t ticket, uint64_t version, const char *label,
         store_request_t *req)
{
    Annotate__V1__Label lab = ANNOTATE__V1__LABEL__INIT;
    lab.label = (char *) label;
    lab.confidence = 0.6f;
    lab.source = version ? ANNOTATE__V1__LABEL_SOURCE__SOURCE_MODEL
                         : ANNOTATE__V1__LABEL_SOURCE__SOURCE_NONE;
    lab.model_version = version;
    store_label_t l = { .id = id, .ticket = ticket, .label = &lab };
    memset (req, 0, sizeof *req);
    req->type = STORE_REQ_LABELS;
    req->labels = &l;
    req->n_labels = 1;
    return call (fx, req);
}

typedef struct {
    const char *want;
    bool found;
} probe_t;

static bool
on_training (void *arg, const char *id, size_t id_len, const char *label, size_t label_len,
             const uint8_t *item, size_t item_len, bool validation)
{
    (void) validation;
    probe_t *p = arg;
    if (strlen (p->want) == id_len && memcmp (p->want, id, id_len) == 0)
        p->found = true;
    return true;
}

static bool
in_training (fx_t *fx, const char *id)
{
    probe_t p = { id, false };
    MDB_txn *txn = store_read_begin (fx->store);
    store_training_after (fx->store, txn, NULL, 1000, on_training, &p);
    store_read_end (fx->store, txn);
    return p.found;
}

static void
test_human_label (void **state)
{
    fx_t *fx = *state;
    ingest_one (fx, "a", "hello", NULL);
    assert_int_not_equal (ticket_of (fx, "a"), 0);
    store_request_t r;
    assert_int_equal (human (fx, "a", "dog", &r), STORE_OK);
    assert_true (r.seq > 0);
    item_state_t st;
    assert_true (get_state (fx, "a", &st));
    assert_int_equal (st.ticket, 0);            /* left the pending queue */
    assert_int_equal (st.source, ANNOTATE__V1__LABEL_SOURCE__SOURCE_HUMAN);
    assert_int_equal (st.status, ANNOTATE__V1__ITEM_STATUS__STATUS_ACCEPTED);
    store_stats_t s = stats (fx);
    assert_int_equal (s.pending, 0);
    assert_int_equal (s.human_labels, 1);
    assert_int_equal (s.training, 1);
    assert_true (in_training (fx, "a"));
    seen_t h = item_history (fx, "a");
    assert_int_equal (h.n, 1);
    assert_string_equal (h.label[0], "dog");
    /* a late machine result for the old ticket must not override the person */
    assert_int_equal (machine (fx, "a", 1, 1, "cat", &r), STORE_OK);
    assert_int_equal (r.applied, 0);
    assert_int_equal (human (fx, "a", "horse", &r), STORE_INVALID);
    assert_non_null (strstr (r.err, "label"));
    assert_int_equal (human (fx, "nope", "dog", &r), STORE_NOT_FOUND);
    assert_int_equal (stats (fx).human_labels, 1);
}

static void
test_reannotation_rule (void **state)
{
    fx_t *fx = *state;
    ingest_one (fx, "m", "machine", NULL);
    ingest_one (fx, "g", "gold", "cat");
    store_request_t r;
    assert_int_equal (machine (fx, "m", ticket_of (fx, "m"), 0, "", &r), STORE_OK); /* none */
    assert_int_equal (r.applied, 1);
    assert_int_equal (machine (fx, "m", 0, 1, "cat", &r), STORE_OK);   /* over none: applies */
    assert_int_equal (r.applied, 1);
    assert_int_equal (machine (fx, "m", 0, 1, "dog", &r), STORE_OK);   /* same version: no */
    assert_int_equal (r.applied, 0);
    assert_int_equal (machine (fx, "m", 0, 2, "dog", &r), STORE_OK);   /* newer: applies */
    assert_int_equal (r.applied, 1);
    assert_int_equal (machine (fx, "m", 0, 1, "cat", &r), STORE_OK);   /* older: no */
    assert_int_equal (r.applied, 0);
    assert_int_equal (machine (fx, "g", 0, 9, "dog", &r), STORE_OK);   /* never over gold */
    assert_int_equal (r.applied, 0);
    assert_int_equal (item_history (fx, "m").n, 3);
    assert_int_equal (item_history (fx, "g").n, 1);
    /* an item still pending is not re-annotated: its ticket decides */
    ingest_one (fx, "p", "pending", NULL);
    assert_int_equal (machine (fx, "p", 0, 3, "dog", &r), STORE_OK);
    assert_int_equal (r.applied, 0);
    assert_true (in_training (fx, "g"));
    assert_false (in_training (fx, "m"));
}

static void
test_replace_leaves_training (void **state)
{
    fx_t *fx = *state;
    ingest_one (fx, "x", "one", "cat");
    assert_true (in_training (fx, "x"));
    Annotate__V1__Item it;
    item_set (&it, "x", "two");
    Annotate__V1__Item *items[] = { &it };
    store_request_t r;
    assert_int_equal (ingest (fx, items, 1, true, &r), STORE_OK);
    assert_false (in_training (fx, "x"));
    assert_int_equal (stats (fx).training, 0);
}

static void
test_models_and_rollback (void **state)
{
    fx_t *fx = *state;
    uint8_t blob1[] = "model-one", blob2[] = "model-two";
    Annotate__V1__ModelInfo info = ANNOTATE__V1__MODEL_INFO__INIT;
    info.accuracy = 0.9;
    info.status = "published";
    store_request_t r = { .type = STORE_REQ_MODEL, .blob = blob1, .blob_len = sizeof blob1,
                          .info = &info, .make_current = true };
    assert_int_equal (call (fx, &r), STORE_OK);
    assert_int_equal (r.model_version, 1);
    info.status = "rejected";
    r = (store_request_t) { .type = STORE_REQ_MODEL, .blob = blob2, .blob_len = sizeof blob2,
                            .info = &info, .make_current = false };
    assert_int_equal (call (fx, &r), STORE_OK);
    assert_int_equal (r.model_version, 2);
    store_stats_t s = stats (fx);
    assert_int_equal (s.current_model, 1);
    assert_int_equal (s.models, 2);
    MDB_txn *txn = store_read_begin (fx->store);
    const uint8_t *blob;
    size_t len;
    uint64_t v;
    assert_int_equal (store_get_model (fx->store, txn, 0, &blob, &len, &v), 0);
    assert_int_equal (v, 1);
    assert_memory_equal (blob, blob1, sizeof blob1);
    store_read_end (fx->store, txn);
    r = (store_request_t) { .type = STORE_REQ_SET_MODEL, .model_version = 2 };
    assert_int_equal (call (fx, &r), STORE_OK);
    assert_int_equal (stats (fx).current_model, 2);
    r = (store_request_t) { .type = STORE_REQ_SET_MODEL, .model_version = 7 };
    assert_int_equal (call (fx, &r), STORE_NOT_FOUND);
    assert_int_equal (stats (fx).current_model, 2);
}

static void
test_taxonomy_ids_are_stable (void **state)
{
    fx_t *fx = *state;
    char *v1[] = { "cat", "dog" }, *v2[] = { "dog", "bird" };
    store_policy_t p1 = { .labels = v1, .n_labels = 2 }, p2 = { .labels = v2, .n_labels = 2 };
    store_request_t r = { .type = STORE_REQ_MANIFEST, .manifest_text = "a", .manifest_len = 1,
                          .policy = &p1 };
    assert_int_equal (call (fx, &r), STORE_OK);
    r = (store_request_t) { .type = STORE_REQ_MANIFEST, .manifest_text = "b", .manifest_len = 1,
                            .policy = &p2 };
    assert_int_equal (call (fx, &r), STORE_OK);
    MDB_txn *txn = store_read_begin (fx->store);
    assert_int_equal (store_label_id (fx->store, txn, "cat"), 1);
    assert_int_equal (store_label_id (fx->store, txn, "dog"), 2);
    assert_int_equal (store_label_id (fx->store, txn, "bird"), 3);
    assert_int_equal (store_label_id (fx->store, txn, "fish"), 0);
    store_read_end (fx->store, txn);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_human_label, setup, teardown),
        cmocka_unit_test_setup_teardown (test_reannotation_rule, setup, teardown),
        cmocka_unit_test_setup_teardown (test_replace_leaves_training, setup, teardown),
        cmocka_unit_test_setup_teardown (test_models_and_rollback, setup, teardown),
        cmocka_unit_test_setup_teardown (test_taxonomy_ids_are_stable, setup, teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
