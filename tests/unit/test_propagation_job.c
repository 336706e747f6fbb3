/*  test_propagation_job.c: the label-spreading job of a propagate order:
    labels reach every unlabelled item of its cluster, validation items are
    held out and fit the thresholds, results come in correct pieces, and
    bad input fails with a message.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/propagation_job.h"

static uint64_t rng_state;
static double
uniform (void)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}

static char *labels_ab[] = { "a", "b" };

static void
spec_init (Annotate__V1__ModelSpec *spec, uint32_t hash_bits, uint32_t vector_dim)
{
    annotate__v1__model_spec__init (spec);
    spec->type = "none";
    spec->hash_bits = hash_bits;
    spec->vector_dim = vector_dim;
    spec->labels = labels_ab;
    spec->n_labels = 2;
    spec->target_accuracy = 0.9;
    spec->threshold_rule = "pooled";
    spec->min_support = 3;
}

/*  Kinds of example in the dense case, by id prefix.  */
enum { KIND_LABELLED, KIND_OPEN, KIND_VALID };
#define N_LABELLED 3 /* a cluster */
#define N_OPEN 40
#define N_VALID 15

static void
add_dense (propagation_job_t *job, int cluster, int kind, int i, const char *label)
{
    float v[4];
    for (int d = 0; d < 4; d++)
        v[d] = (float)(uniform () - 0.5) * 0.2f;
    v[cluster ? 1 : 0] += 1.0f;
    char id[64];
    snprintf (id, sizeof id, "%s-%c-%d",
              kind == KIND_LABELLED ? "lab"
              : kind == KIND_OPEN   ? "open"
                                    : "val",
              cluster ? 'b' : 'a', i);
    Annotate__V1__TrainExample ex;
    annotate__v1__train_example__init (&ex);
    ex.id = id;
    ex.vector = v;
    ex.n_vector = 4;
    ex.label = (char *)label;
    ex.validation = kind == KIND_VALID;
    propagation_job_add (job, &ex);
}

static propagation_job_t *
dense_job (void)
{
    Annotate__V1__ModelSpec spec;
    spec_init (&spec, 0, 4);
    char err[256] = "";
    propagation_job_t *job = propagation_job_new (&spec, NULL, err, sizeof err);
    assert_non_null (job);
    rng_state = 42;
    for (int c = 0; c < 2; c++) {
        const char *name = c ? "b" : "a";
        for (int i = 0; i < N_LABELLED; i++)
            add_dense (job, c, KIND_LABELLED, i, name);
        for (int i = 0; i < N_OPEN; i++)
            add_dense (job, c, KIND_OPEN, i, i % 5 == 0 ? "unknown-class" : "");
        for (int i = 0; i < N_VALID; i++)
            add_dense (job, c, KIND_VALID, i, name);
    }
    return job;
}

static void
test_dense_clusters (void **state)
{
    (void)state;
    propagation_job_t *job = dense_job ();
    assert_int_equal (propagation_job_size (job), 2 * (N_LABELLED + N_OPEN + N_VALID));
    char err[256] = "";
    assert_int_equal (propagation_job_run (job, err, sizeof err), 0);

    Annotate__V1__Propagated out;
    size_t total = 0, pieces = 0, expect = 2 * N_OPEN;
    bool seen_done = false;
    while (propagation_job_next (job, 7, &out)) {
        assert_false (seen_done);
        pieces++;
        assert_true (out.n_labels <= 7);
        if (pieces == 1) {
            Annotate__V1__ModelInfo *info = out.info;
            assert_non_null (info);
            assert_int_equal (info->n_thresholds, 2);
            for (size_t c = 0; c < 2; c++) {
                assert_string_equal (info->thresholds[c]->label, labels_ab[c]);
                assert_true (info->thresholds[c]->enabled);
                assert_true (info->thresholds[c]->threshold <= 1.0f);
            }
            assert_int_equal (info->n_validation_sample, 2 * N_VALID);
            assert_true (info->sample_accuracy == 1.0);
            assert_true (info->sample_lower >= 0.9);
            assert_true (info->target_accuracy == 0.9);
            assert_string_equal (info->threshold_rule, "pooled");
            assert_int_equal (info->accept_sample, 2 * N_VALID);
        } else
            assert_null (out.info);
        if (!out.done)
            assert_int_equal (out.n_labels, 7);
        seen_done = out.done;
        for (size_t j = 0; j < out.n_labels; j++) {
            Annotate__V1__ItemLabel *l = out.labels[j];
            assert_true (strncmp (l->id, "open-", 5) == 0);
            char want[2] = { l->id[5], 0 };
            assert_string_equal (l->label, want);
            assert_true (l->confidence > 0.9f);
            assert_true (fabsf (l->uncertainty - (1.0f - l->confidence)) < 1e-6f);
            assert_int_equal (l->source, ANNOTATE__V1__LABEL_SOURCE__SOURCE_PROPAGATION);
            assert_int_equal (l->ticket, 0);
            assert_int_equal (l->model_version, 0);
            assert_int_equal (l->n_scores, 0);
        }
        total += out.n_labels;
    }
    assert_true (seen_done);
    assert_int_equal (total, expect);
    assert_int_equal (pieces, (expect + 6) / 7);
    assert_false (propagation_job_next (job, 7, &out));
    propagation_job_destroy (&job);
    assert_null (job);
}

static void
test_one_piece_default (void **state)
{
    (void)state;
    propagation_job_t *job = dense_job ();
    char err[256] = "";
    assert_int_equal (propagation_job_run (job, err, sizeof err), 0);
    Annotate__V1__Propagated out;
    assert_true (propagation_job_next (job, 0, &out));
    assert_non_null (out.info);
    assert_true (out.done);
    assert_int_equal (out.n_labels, 2 * N_OPEN);
    assert_false (propagation_job_next (job, 0, &out));
    propagation_job_destroy (&job);
}

/*  A validation answer is held out of the spreading: a wrong answer in
    cluster a is predicted "a" and counts as a miss.  */
static void
test_validation_held_out (void **state)
{
    (void)state;
    propagation_job_t *job = dense_job ();
    add_dense (job, 0, KIND_VALID, 99, "b");
    char err[256] = "";
    assert_int_equal (propagation_job_run (job, err, sizeof err), 0);
    Annotate__V1__Propagated out;
    assert_true (propagation_job_next (job, 0, &out));
    assert_int_equal (out.info->n_validation_sample, 2 * N_VALID + 1);
    assert_true (fabs (out.info->sample_accuracy - 30.0 / 31.0) < 1e-9);
    assert_int_equal (out.n_labels, 2 * N_OPEN);
    propagation_job_destroy (&job);
}

static const char *topic_a[]
    = { "cat", "kitten", "purr", "meow", "whiskers", "litter", "paws", "tabby" };
static const char *topic_b[]
    = { "stock", "bond", "market", "shares", "trading", "dividend", "broker", "yield" };

static void
add_text (propagation_job_t *job, int topic, int i, const char *label)
{
    const char **words = topic ? topic_b : topic_a;
    char text[256] = "", id[32];
    for (int w = 0; w < 5; w++) {
        strcat (text, words[(i * 3 + w) % 8]);
        strcat (text, " ");
    }
    snprintf (id, sizeof id, "t%c-%d", topic ? 'b' : 'a', i);
    Annotate__V1__TrainExample ex;
    annotate__v1__train_example__init (&ex);
    ex.id = id;
    ex.text = text;
    ex.label = (char *)label;
    propagation_job_add (job, &ex);
}

static void
test_text_topics (void **state)
{
    (void)state;
    Annotate__V1__ModelSpec spec;
    spec_init (&spec, 10, 0);
    spec.ngram_max = 1;
    Annotate__V1__PropagationSpec prop;
    annotate__v1__propagation_spec__init (&prop);
    prop.n_neighbors = 4;
    prop.sketch_dim = 128;
    char err[256] = "";
    propagation_job_t *job = propagation_job_new (&spec, &prop, err, sizeof err);
    assert_non_null (job);
    for (int t = 0; t < 2; t++)
        for (int i = 0; i < 8; i++)
            add_text (job, t, i, i < 2 ? (t ? "b" : "a") : "");
    /*  Features that fail are skipped: invalid UTF-8 and an empty text.  */
    Annotate__V1__TrainExample bad;
    annotate__v1__train_example__init (&bad);
    bad.id = "bad";
    bad.text = "\xff\xfe";
    propagation_job_add (job, &bad);
    bad.text = "";
    propagation_job_add (job, &bad);
    assert_int_equal (propagation_job_size (job), 16);
    assert_int_equal (propagation_job_skipped (job), 2);

    assert_int_equal (propagation_job_run (job, err, sizeof err), 0);
    Annotate__V1__Propagated out;
    assert_true (propagation_job_next (job, 0, &out));
    assert_true (out.done);
    assert_int_equal (out.n_labels, 12);
    for (size_t j = 0; j < out.n_labels; j++) {
        char want[2] = { out.labels[j]->id[1], 0 };
        assert_string_equal (out.labels[j]->label, want);
        assert_true (out.labels[j]->confidence > 0.5f);
    }
    /*  No validation sample: nothing may be auto-accepted.  */
    assert_int_equal (out.info->n_validation_sample, 0);
    assert_false (out.info->thresholds[0]->enabled);
    assert_false (out.info->thresholds[1]->enabled);
    propagation_job_destroy (&job);
}

static void
test_bad_inputs (void **state)
{
    (void)state;
    char err[256] = "";
    Annotate__V1__ModelSpec spec;
    spec_init (&spec, 0, 4);

    /*  One labelled example (validation ones do not count).  */
    propagation_job_t *job = propagation_job_new (&spec, NULL, err, sizeof err);
    assert_non_null (job);
    rng_state = 7;
    add_dense (job, 0, KIND_LABELLED, 0, "a");
    add_dense (job, 1, KIND_VALID, 0, "b");
    for (int i = 0; i < 10; i++)
        add_dense (job, i % 2, KIND_OPEN, i, "");
    assert_int_equal (propagation_job_run (job, err, sizeof err), -1);
    assert_non_null (strstr (err, "labelled"));
    Annotate__V1__Propagated out;
    assert_false (propagation_job_next (job, 0, &out));
    propagation_job_destroy (&job);

    /*  A vector of the wrong length or with a NaN is skipped.  */
    job = propagation_job_new (&spec, NULL, err, sizeof err);
    float v[4] = { 1, 0, NAN, 0 };
    Annotate__V1__TrainExample ex;
    annotate__v1__train_example__init (&ex);
    ex.id = "x";
    ex.vector = v;
    ex.n_vector = 3;
    propagation_job_add (job, &ex);
    ex.n_vector = 4;
    propagation_job_add (job, &ex);
    assert_int_equal (propagation_job_size (job), 0);
    err[0] = 0;
    assert_int_equal (propagation_job_run (job, err, sizeof err), -1);
    assert_true (strlen (err) > 0);
    propagation_job_destroy (&job);

    /*  Bad specs.  */
    spec.hash_bits = 5;
    err[0] = 0;
    assert_null (propagation_job_new (&spec, NULL, err, sizeof err));
    assert_true (strlen (err) > 0);
    spec.hash_bits = 0;
    spec.vector_dim = 0;
    assert_null (propagation_job_new (&spec, NULL, err, sizeof err));
    spec.vector_dim = 4;
    spec.n_labels = 1;
    assert_null (propagation_job_new (&spec, NULL, err, sizeof err));
    spec.n_labels = 2;
    Annotate__V1__PropagationSpec prop;
    annotate__v1__propagation_spec__init (&prop);
    prop.alpha = 1.5;
    assert_null (propagation_job_new (&spec, &prop, err, sizeof err));
    assert_null (propagation_job_new (NULL, NULL, err, sizeof err));
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_dense_clusters),      cmocka_unit_test (test_one_piece_default),
        cmocka_unit_test (test_validation_held_out), cmocka_unit_test (test_text_topics),
        cmocka_unit_test (test_bad_inputs),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
