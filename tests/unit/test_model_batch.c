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

#define VMAX    24

typedef struct {
    features_config_t f;
    sparse_vec_t x[N_ITEMS];
    model_example_t ex[N_ITEMS];
    char text[N_ITEMS][128];            /* the raw items, for model_predict_items */
    float vec[N_ITEMS][VMAX];
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
make_data_cfg (uint32_t hash_bits, uint32_t seed, uint32_t vdim, vector_norm_t norm, float scale)
{
    data_t *d = calloc (1, sizeof *d);
    assert_non_null (d);
    assert_true (vdim <= VMAX);
    features_config_default (&d->f);
    d->f.hash_bits = hash_bits;
    d->f.vector_dim = vdim;
    d->f.vector_norm = norm;
    d->f.vector_scale = scale;
    uint32_t s = seed;
    for (size_t i = 0; i < N_ITEMS; i++) {
        int k = (int) (i % NK);
        char *text = d->text[i];
        snprintf (text, sizeof d->text[i], "cls%d w%u shared%u cls%d x%u", k, rnd (&s) % 50,
                  rnd (&s) % 7, (k + (rnd (&s) % 4 == 0)) % NK, rnd (&s) % 30);
        float *vec = d->vec[i];
        for (size_t j = 0; j < vdim; j++)
            vec[j] = unif (&s) + (j % NK == (size_t) k ? 0.8f : 0.0f);
        if (i % 17 == 5)
            memset (vec, 0, vdim * sizeof *vec);   /* some items without a dense part */
        sparse_vec_init (&d->x[i]);
        char err[128];
        assert_int_equal (features_extract (&d->f, hash_bits ? text : NULL,
                                            hash_bits ? strlen (text) : 0, vec, vdim, &d->x[i],
                                            err, sizeof err), 0);
        d->ex[i] = (model_example_t) { &d->x[i], k, 0 };
    }
    return d;
}

static data_t *
make_data (uint32_t hash_bits, uint32_t seed)
{
    return make_data_cfg (hash_bits, seed, VDIM, VECTOR_NORM_NONE, 1.0f);
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
    for (int mode = MODEL_BATCH_AUTO; mode <= MODEL_BATCH_DENSE; mode++)
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
    for (int mode = MODEL_BATCH_LOOP; mode <= MODEL_BATCH_DENSE; mode++) {
        assert_int_equal (model_predict_batch_mode (m, xs, 2, p, am, (model_batch_mode_t) mode), 2);
        for (size_t k = 0; k < NK; k++)
            assert_float_equal (p[k], q[k], 1e-6);
    }
    model_destroy (&m);
    free_data (&d);
}

/*  More classes than model_margins unrolls: every path (the automatic
    choice takes sgemm for dense batches) must still agree with
    model_predict.  */
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
    for (int mode = MODEL_BATCH_AUTO; mode <= MODEL_BATCH_DENSE; mode++) {
        memset (got, 0xff, N * K * sizeof *got);
        assert_int_equal (model_predict_batch_mode (m, xs, N, got, NULL, (model_batch_mode_t) mode),
                          N);
        for (size_t i = 0; i < N * K; i++)
            assert_float_equal (got[i], want[i], 2e-5);
    }
    free (want), free (got);
    model_destroy (&m);
    for (size_t i = 0; i < N; i++)
        sparse_vec_free (&x[i]);
    for (size_t k = 0; k < K; k++)
        free (lab[k]);
    free (x);
}

/*  model_predict_items on the raw items of d gives what features_extract
    + model_predict give, at every batch size, with or without a scratch
    vector. The text goes in even when hash_bits is 0 (it is ignored).  */
static void
check_items_equal_single (const model_t *m, const data_t *d)
{
    static model_item_t items[N_ITEMS];
    for (size_t i = 0; i < N_ITEMS; i++)
        items[i] = (model_item_t) { d->text[i], strlen (d->text[i]), d->vec[i], d->f.vector_dim };
    float *want = malloc (N_ITEMS * NK * sizeof *want), *got = malloc (N_ITEMS * NK * sizeof *got);
    size_t want_am[N_ITEMS], got_am[N_ITEMS];
    assert_non_null (want);
    assert_non_null (got);
    for (size_t i = 0; i < N_ITEMS; i++)
        want_am[i] = model_predict (m, &d->x[i], want + i * NK);
    sparse_vec_t scratch;
    sparse_vec_init (&scratch);
    const size_t sizes[] = { 1, 2, 3, 255, 256, 257, N_ITEMS };
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        memset (got, 0xff, N_ITEMS * NK * sizeof *got);
        for (size_t b = 0; b < N_ITEMS; b += sizes[s]) {
            size_t len = N_ITEMS - b < sizes[s] ? N_ITEMS - b : sizes[s];
            char err[256] = "x";
            assert_int_equal (model_predict_items (m, items + b, len, got + b * NK, got_am + b,
                                                   s % 2 ? &scratch : NULL, err, sizeof err),
                              len);
            assert_string_equal (err, "");
        }
        size_t differ = 0;
        for (size_t i = 0; i < N_ITEMS; i++) {
            float sum = 0;
            for (size_t k = 0; k < NK; k++) {
                assert_float_equal (got[i * NK + k], want[i * NK + k], 1e-5);
                sum += got[i * NK + k];
            }
            assert_float_equal (sum, 1.0f, 1e-5);
            differ += got_am[i] != want_am[i];
        }
        assert_true (differ <= 1);          /* only a near-tie may flip */
    }
    sparse_vec_free (&scratch);
    free (want);
    free (got);
}

/*  Every norm and scale, text or not, a dense length that is not a
    multiple of 8 (the kernels' scalar tail); and the class-major copy of
    the weights follows online updates, clones and reloads.  */
static void
test_items (void **state)
{
    (void) state;
    const struct { uint32_t hb, vdim; vector_norm_t norm; float scale; } cases[] = {
        { 0, 16, VECTOR_NORM_NONE, 1.0f }, { 10, 16, VECTOR_NORM_NONE, 0.25f },
        { 0, 19, VECTOR_NORM_L2, 2.0f }, { 10, 23, VECTOR_NORM_MAX, 1.0f },
        { 0, 5, VECTOR_NORM_NONE, 3.0f }, { 10, 0, VECTOR_NORM_L2, 1.0f },
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        data_t *d = make_data_cfg (cases[c].hb, 20 + (uint32_t) c, cases[c].vdim, cases[c].norm,
                                   cases[c].scale);
        model_t *m = train (d, MODEL_SOLVER_LIBLINEAR, 450, NULL);
        assert_true ((m->wt != NULL) == (cases[c].vdim > 0));
        check_items_equal_single (m, d);
        for (size_t i = 0; i < 40; i++)
            model_online_update (m, &d->x[i], (int32_t) ((i + 1) % NK), 0.3f);
        check_items_equal_single (m, d);
        model_t *copy = model_clone (m);
        assert_non_null (copy);
        check_items_equal_single (copy, d);
        uint8_t *blob;
        size_t len = model_serialize (m, &blob);
        char err[128];
        model_t *back = model_deserialize (blob, len, err, sizeof err);
        assert_non_null (back);
        check_items_equal_single (back, d);
        /*  Without the copy (too large, out of memory) the items go the
            sparse way, with the same result.  */
        free (back->wt);
        back->wt = NULL;
        check_items_equal_single (back, d);
        free (blob);
        model_destroy (&back);
        model_destroy (&copy);
        model_destroy (&m);
        free_data (&d);
    }
}

/*  Both kernels, and many classes (tiles of 4 and a rest): the margins are
    the dense block of w times the vector, computed here in double.  */
static void
test_dense_kernels (void **state)
{
    (void) state;
    enum { K = 23, D = 21, N = 9 };
    features_config_t f;
    features_config_default (&f);
    f.hash_bits = 10;
    f.vector_dim = D;
    char *lab[K];
    for (size_t k = 0; k < K; k++) {
        lab[k] = malloc (8);
        snprintf (lab[k], 8, "k%zu", k);
    }
    model_t *m = model_alloc (&f, (const char *const *) lab, K, NULL, 0);
    assert_non_null (m);
    uint32_t s = 99;
    for (size_t j = 0; j < (m->dim + 1) * K; j++)
        m->w[j] = unif (&s);
    model_dense_sync (m);
    float vec[N][D], got[2][N][K];
    const float *rows[N];
    float *outs[2][N];
    double factor[N];
    for (size_t i = 0; i < N; i++) {
        for (size_t j = 0; j < D; j++)
            vec[i][j] = unif (&s) * 4;
        rows[i] = vec[i];
        factor[i] = 0.5 + (double) i;
        for (int g = 0; g < 2; g++) {
            outs[g][i] = got[g][i];
            for (size_t k = 0; k < K; k++)
                got[g][i][k] = (float) k;        /* the kernels add to what is there */
        }
    }
    assert_int_equal (model_dense_dots_kernel (m, rows, factor, outs[0], N, MODEL_KERNEL_BASE),
                      MODEL_KERNEL_BASE);
    model_kernel_t used = model_dense_dots_kernel (m, rows, factor, outs[1], N, MODEL_KERNEL_AVX2);
    print_message ("dense kernel: %s\n", used == MODEL_KERNEL_AVX2 ? "avx2" : "baseline");
    const size_t off = 1u << 10;
    for (size_t i = 0; i < N; i++)
        for (size_t k = 0; k < K; k++) {
            double want = (double) k;
            for (size_t j = 0; j < D; j++)
                want += factor[i] * (double) m->w[(off + j) * K + k] * vec[i][j];
            for (int g = 0; g < 2; g++)
                assert_float_equal (got[g][i][k], want, 1e-4 * (1 + fabs (want)));
        }
    model_destroy (&m);
    for (size_t k = 0; k < K; k++)
        free (lab[k]);
}

/*  The vectorised softmax of the batched paths against model_softmax:
    class counts around the 4-wide steps, margins from far below to far
    above the arg-max's, temperatures at both ends of the range.  */
static void
test_softmax_fast (void **state)
{
    (void) state;
    uint32_t s = 5;
    const double temps[] = { MODEL_MIN_TEMPERATURE, 0.7, 1.0, 3.0, MODEL_MAX_TEMPERATURE };
    for (size_t n = 2; n <= 37; n++)
        for (size_t t = 0; t < sizeof temps / sizeof *temps; t++) {
            float a[40], b[40];
            for (size_t k = 0; k < n; k++)
                a[k] = b[k] = unif (&s) * (float) (1 + k % 5) * 30.0f;
            size_t want = model_softmax (a, n, temps[t]);
            assert_int_equal (model_softmax_fast (b, n, temps[t]), want);
            float sum = 0;
            for (size_t k = 0; k < n; k++) {
                assert_float_equal (b[k], a[k], 1e-6 * (a[k] > 1e-3 ? a[k] : 1e-3));
                sum += b[k];
            }
            assert_float_equal (sum, 1.0f, 1e-5);
        }
}

/*  Bad items get a zero row and MODEL_NO_CLASS; the first one is named in
    err; the others are scored as usual.  */
static void
test_items_errors (void **state)
{
    (void) state;
    data_t *d = make_data (10, 13);
    model_t *m = train (d, MODEL_SOLVER_LIBLINEAR, 450, NULL);
    float nan_vec[VDIM];
    memcpy (nan_vec, d->vec[3], sizeof nan_vec);
    nan_vec[7] = NAN;
    model_item_t items[6] = {
        { d->text[0], strlen (d->text[0]), d->vec[0], VDIM },
        { "bad \xff utf-8", 12, d->vec[1], VDIM },
        { d->text[2], strlen (d->text[2]), d->vec[2], VDIM - 1 },
        { d->text[3], strlen (d->text[3]), nan_vec, VDIM },
        { NULL, 5, NULL, 0 },                   /* nothing at all: the biases alone */
        { d->text[5], strlen (d->text[5]), NULL, VDIM },
    };
    float p[6 * NK], q[NK];
    size_t am[6];
    char err[256];
    assert_int_equal (model_predict_items (m, items, 6, p, am, NULL, err, sizeof err), 2);
    assert_non_null (strstr (err, "item 1:"));
    assert_non_null (strstr (err, "UTF-8"));
    assert_int_equal (model_predict (m, &d->x[0], q), am[0]);
    for (size_t k = 0; k < NK; k++)
        assert_float_equal (p[k], q[k], 1e-5);
    sparse_vec_t empty;
    sparse_vec_init (&empty);
    assert_int_equal (model_predict (m, &empty, q), am[4]);
    for (size_t k = 0; k < NK; k++)
        assert_float_equal (p[4 * NK + k], q[k], 1e-6);
    const size_t bad[] = { 1, 2, 3, 5 };
    for (size_t b = 0; b < 4; b++) {
        assert_int_equal (am[bad[b]], MODEL_NO_CLASS);
        for (size_t k = 0; k < NK; k++)
            assert_true (p[bad[b] * NK + k] == 0.0f);
    }
    /*  err names the first failure even when it is not the first item.  */
    assert_int_equal (model_predict_items (m, items + 2, 2, p, NULL, NULL, err, sizeof err), 0);
    assert_non_null (strstr (err, "item 0:"));
    assert_non_null (strstr (err, "expected 16"));
    assert_int_equal (model_predict_items (m, items + 3, 1, p, am, NULL, NULL, 0), 0);
    assert_int_equal (model_predict_items (m, items, 0, p, am, NULL, err, sizeof err), 0);
    model_destroy (&m);
    free_data (&d);
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
        cmocka_unit_test (test_items),
        cmocka_unit_test (test_dense_kernels),
        cmocka_unit_test (test_items_errors),
        cmocka_unit_test (test_softmax_fast),
        cmocka_unit_test (test_lbfgs_learns),
        cmocka_unit_test (test_lbfgs_absent_class),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
