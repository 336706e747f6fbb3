/*  test_model_batch.c: model_predict_batch against model_predict, and the
    multinomial L-BFGS solver (MODEL_SOLVER_LBFGS).

    Data: synthetic items with a text part (hashed words, 2^10 buckets) and
    a dense part (16 values), three classes, each class its own words and
    its own direction in the dense part, plus noise; and dense-only items
    (hash_bits 0). Seeds are fixed, so every run sees the same data.
*/
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "model/model_internal.h"

#define N_ITEMS 600
#define VDIM    16
#define NK      3

typedef struct {
    features_config_t f;
    sparse_vec_t x[N_ITEMS];
    model_example_t ex[N_ITEMS];
} data_t;

static const char *names[NK] = { "red", "green", "blue" };

static uint32_t
rnd (uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

static float
unif (uint32_t *s)
{
    return (float) rnd (s) / (float) (1u << 24) * 2.0f - 1.0f;
}

/*  Items of class i % NK: two words of the class among shared words (when
    with_text), a dense vector around the class's direction.  */
static data_t *
make_data (uint32_t hash_bits, uint32_t seed)
{
    data_t *d = calloc (1, sizeof *d);
    assert_non_null (d);
    features_config_default (&d->f);
    d->f.hash_bits = hash_bits;
    d->f.vector_dim = VDIM;
    d->f.vector_norm = VECTOR_NORM_NONE;
    uint32_t s = seed;
    for (size_t i = 0; i < N_ITEMS; i++) {
        int k = (int) (i % NK);
        char text[128];
        snprintf (text, sizeof text, "cls%d w%u shared%u cls%d x%u", k, rnd (&s) % 50, rnd (&s) % 7,
                  (k + (rnd (&s) % 4 == 0)) % NK, rnd (&s) % 30);
        float vec[VDIM];
        for (size_t j = 0; j < VDIM; j++)
            vec[j] = unif (&s) + (j % NK == (size_t) k ? 0.8f : 0.0f);
        if (i % 17 == 5)
            memset (vec, 0, sizeof vec);        /* some items without a dense part */
        sparse_vec_init (&d->x[i]);
        char err[128];
        assert_int_equal (features_extract (&d->f, hash_bits ? text : NULL,
                                            hash_bits ? strlen (text) : 0, vec, VDIM, &d->x[i],
                                            err, sizeof err), 0);
        d->ex[i] = (model_example_t) { &d->x[i], k, 0 };
    }
    return d;
}

static void
free_data (data_t **d_p)
{
    for (size_t i = 0; i < N_ITEMS; i++)
        sparse_vec_free (&(*d_p)->x[i]);
    free (*d_p);
    *d_p = NULL;
}

static model_t *
train (const data_t *d, model_solver_t solver, size_t n_train, model_metrics_t *mm)
{
    model_train_config_t cfg;
    model_train_config_default (&cfg);
    assert_int_equal (cfg.solver, MODEL_SOLVER_AUTO);
    cfg.solver = solver;
    char err[256] = "";
    model_t *m = model_train (&d->f, names, NK, d->ex, n_train, d->ex + n_train, N_ITEMS - n_train,
                              &cfg, mm, err, sizeof err);
    if (!m)
        fail_msg ("model_train: %s", err);
    return m;
}

/*  Every path and batch size gives model_predict's probabilities.  */
static void
check_batch_equals_single (const model_t *m, const data_t *d)
{
    const sparse_vec_t *xs[N_ITEMS];
    for (size_t i = 0; i < N_ITEMS; i++)
        xs[i] = &d->x[i];
    float *want = malloc (N_ITEMS * NK * sizeof *want), *got = malloc (N_ITEMS * NK * sizeof *got);
    size_t want_am[N_ITEMS], got_am[N_ITEMS];
    assert_non_null (want);
    assert_non_null (got);
    for (size_t i = 0; i < N_ITEMS; i++)
        want_am[i] = model_predict (m, xs[i], want + i * NK);
    const size_t sizes[] = { 1, 3, 7, 8, 100, 256, 257, N_ITEMS };
    for (int mode = MODEL_BATCH_AUTO; mode <= MODEL_BATCH_BLAS; mode++)
        for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
            memset (got, 0xff, N_ITEMS * NK * sizeof *got);
            for (size_t b = 0; b < N_ITEMS; b += sizes[s]) {
                size_t len = N_ITEMS - b < sizes[s] ? N_ITEMS - b : sizes[s];
                size_t r = mode == MODEL_BATCH_AUTO
                               ? model_predict_batch (m, xs + b, len, got + b * NK, got_am + b)
                               : model_predict_batch_mode (m, xs + b, len, got + b * NK, got_am + b,
                                                           (model_batch_mode_t) mode);
                assert_int_equal (r, len);
            }
            size_t differ = 0;
            for (size_t i = 0; i < N_ITEMS; i++) {
                float sum = 0;
                for (size_t k = 0; k < NK; k++) {
                    assert_float_equal (got[i * NK + k], want[i * NK + k], 2e-5);
                    sum += got[i * NK + k];
                }
                assert_float_equal (sum, 1.0f, 1e-5);
                differ += got_am[i] != want_am[i];
            }
            assert_true (differ <= 1);          /* only a near-tie may flip */
        }
    free (want);
    free (got);
}

static void
test_batch_mixed (void **state)
{
    (void) state;
    data_t *d = make_data (10, 7);
    model_t *m = train (d, MODEL_SOLVER_LIBLINEAR, 450, NULL);
    check_batch_equals_single (m, d);
    /*  The weights are read live: an online update shows at once.  */
    model_online_update (m, &d->x[0], 1, 0.5f);
    check_batch_equals_single (m, d);
    model_destroy (&m);
    free_data (&d);
}

static void
test_batch_dense_only (void **state)
{
    (void) state;
    data_t *d = make_data (0, 11);
    model_t *m = train (d, MODEL_SOLVER_LIBLINEAR, 450, NULL);
    check_batch_equals_single (m, d);
    model_destroy (&m);
    free_data (&d);
}

static void
test_batch_edge (void **state)
{
    (void) state;
    data_t *d = make_data (10, 3);
    model_t *m = train (d, MODEL_SOLVER_LIBLINEAR, 450, NULL);
    float p[2 * NK], q[NK];
    size_t am[2];
    assert_int_equal (model_predict_batch (m, NULL, 0, p, NULL), 0);
    /*  A NULL item scores as an empty vector: the biases alone.  */
    const sparse_vec_t *xs[2] = { NULL, &d->x[1] };
    sparse_vec_t empty;
    sparse_vec_init (&empty);
    model_predict (m, &empty, q);
    for (int mode = MODEL_BATCH_LOOP; mode <= MODEL_BATCH_BLAS; mode++) {
        assert_int_equal (model_predict_batch_mode (m, xs, 2, p, am, (model_batch_mode_t) mode), 2);
        for (size_t k = 0; k < NK; k++)
            assert_float_equal (p[k], q[k], 1e-6);
    }
    model_destroy (&m);
    free_data (&d);
}

/*  More classes than model_margins unrolls: the automatic choice takes
    sgemm for dense batches and must still agree with model_predict.  */
static void
test_batch_many_classes (void **state)
{
    (void) state;
    enum { K = 20, N = 300, D = 24 };
    features_config_t f;
    features_config_default (&f);
    f.hash_bits = 0;
    f.vector_dim = D;
    f.vector_norm = VECTOR_NORM_NONE;
    sparse_vec_t *x = calloc (N, sizeof *x);
    model_example_t ex[N];
    const sparse_vec_t *xs[N];
    char *lab[K], err[256];
    for (size_t k = 0; k < K; k++) {
        lab[k] = malloc (8);
        snprintf (lab[k], 8, "k%zu", k);
    }
    uint32_t s = 42;
    for (size_t i = 0; i < N; i++) {
        float v[D];
        for (size_t j = 0; j < D; j++)
            v[j] = unif (&s) + (j == i % K ? 1.0f : 0.0f) + 0.01f;
        sparse_vec_init (&x[i]);
        assert_int_equal (features_extract (&f, NULL, 0, v, D, &x[i], err, sizeof err), 0);
        ex[i] = (model_example_t) { &x[i], (int32_t) (i % K), 0 };
        xs[i] = &x[i];
    }
    model_train_config_t cfg;
    model_train_config_default (&cfg);
    cfg.solver = MODEL_SOLVER_LBFGS;
    cfg.max_iter = 20;
    model_t *m = model_train (&f, (const char *const *) lab, K, ex, N, NULL, 0, &cfg, NULL, err,
                              sizeof err);
    assert_non_null (m);
    float *want = malloc (N * K * sizeof *want), *got = malloc (N * K * sizeof *got);
    for (size_t i = 0; i < N; i++)
        model_predict (m, xs[i], want + i * K);
    assert_int_equal (model_predict_batch (m, xs, N, got, NULL), N);
    for (size_t i = 0; i < N * K; i++)
        assert_float_equal (got[i], want[i], 2e-5);
    free (want), free (got);
    model_destroy (&m);
    for (size_t i = 0; i < N; i++)
        sparse_vec_free (&x[i]);
    for (size_t k = 0; k < K; k++)
        free (lab[k]);
    free (x);
}

/*  The L-BFGS solver learns the data as well as liblinear does, its
    probabilities are calibrated-ish and the batch matches it too.  */
static void
test_lbfgs_learns (void **state)
{
    (void) state;
    for (uint32_t hb = 0; hb <= 10; hb += 10) {
        data_t *d = make_data (hb, 5 + hb);
        model_metrics_t ml, mb;
        model_t *lib = train (d, MODEL_SOLVER_LIBLINEAR, 450, &ml);
        model_t *lb = train (d, MODEL_SOLVER_LBFGS, 450, &mb);
        assert_true (mb.accuracy > 0.8);
        assert_true (mb.accuracy >= ml.accuracy - 0.03);
        assert_true (mb.ece < 0.15);
        check_batch_equals_single (lb, d);
        /*  Serialises like any model.  */
        uint8_t *blob;
        size_t len = model_serialize (lb, &blob);
        char err[128];
        model_t *back = model_deserialize (blob, len, err, sizeof err);
        assert_non_null (back);
        float p[NK], q[NK];
        assert_int_equal (model_predict (back, &d->x[3], p), model_predict (lb, &d->x[3], q));
        free (blob);
        model_destroy (&back);
        model_metrics_free (&ml);
        model_metrics_free (&mb);
        model_destroy (&lib);
        model_destroy (&lb);
        free_data (&d);
    }
}

/*  A class absent from the training set never wins there; fewer than two
    present classes is an error, as with liblinear.  */
static void
test_lbfgs_absent_class (void **state)
{
    (void) state;
    data_t *d = make_data (10, 9);
    model_example_t two[N_ITEMS];
    size_t n = 0;
    for (size_t i = 0; i < N_ITEMS; i++)
        if (d->ex[i].y != 2)
            two[n++] = d->ex[i];
    model_train_config_t cfg;
    model_train_config_default (&cfg);
    cfg.solver = MODEL_SOLVER_LBFGS;
    char err[256];
    model_t *m = model_train (&d->f, names, NK, two, n, NULL, 0, &cfg, NULL, err, sizeof err);
    assert_non_null (m);
    float p[NK];
    for (size_t i = 0; i < n; i++)
        assert_int_not_equal (model_predict (m, two[i].x, p), 2);
    model_destroy (&m);
    size_t n0 = 0;
    for (size_t i = 0; i < n; i++)
        if (two[i].y == 0)
            two[n0++] = two[i];
    assert_null (model_train (&d->f, names, NK, two, n0, NULL, 0, &cfg, NULL, err, sizeof err));
    assert_non_null (strstr (err, "two classes"));
    free_data (&d);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_batch_mixed),
        cmocka_unit_test (test_batch_dense_only),
        cmocka_unit_test (test_batch_edge),
        cmocka_unit_test (test_batch_many_classes),
        cmocka_unit_test (test_lbfgs_learns),
        cmocka_unit_test (test_lbfgs_absent_class),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
