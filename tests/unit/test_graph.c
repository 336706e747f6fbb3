/*  test_graph.c: sketches, the exact kNN graph and label spreading.

    The kNN graph is checked against a brute-force double loop, and an
    incrementally updated graph against a full build. Label spreading is
    checked against numbers scikit-learn 1.2.1 printed for the same points
    (LabelSpreading(kernel='knn'), see test_spread_matches_sklearn), on a
    two-cluster case, and on the digits fixture against the accuracy
    scikit-learn reaches on the same split.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "features/features.h"
#include "graph/knn.h"
#include "graph/sketch.h"
#include "graph/spread.h"

/*  A fixed pseudo-random sequence (no libc rand: the same everywhere).  */
static uint64_t rng_state;
static double
uniform (void)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double) (rng_state >> 11) / 9007199254740992.0;
}
static float
gauss (void)
{
    double u = uniform () + 1e-12, v = uniform ();
    return (float) (sqrt (-2 * log (u)) * cos (6.283185307179586 * v));
}

/*  --- sketches ------------------------------------------------------------  */

static void
make_sparse (sparse_vec_t *v, size_t n, uint32_t stride)
{
    sparse_vec_init (v);
    v->idx = malloc (n * sizeof *v->idx);
    v->val = malloc (n * sizeof *v->val);
    v->n = v->cap = n;
    for (size_t i = 0; i < n; i++) {
        v->idx[i] = (uint32_t) (i * stride + 3);
        v->val[i] = (float) (1.0 + (double) i / 7.0);
    }
}

/*  Coordinate c of the sketch before normalisation, from the documented
    definition: sign bit (c mod 64) of XXH3-64 (le32 f, le32 c / 64).  */
static double
reference_coord (const sparse_vec_t *v, size_t c)
{
    double sum = 0;
    for (size_t i = 0; i < v->n; i++) {
        uint8_t buf[8];
        uint32_t f = v->idx[i], chunk = (uint32_t) (c / 64);
        for (int b = 0; b < 4; b++) {
            buf[b] = (uint8_t) (f >> (8 * b));
            buf[4 + b] = (uint8_t) (chunk >> (8 * b));
        }
        uint64_t h = XXH3_64bits_withSeed (buf, 8, SKETCH_SEED);
        sum += ((h >> (c % 64)) & 1) ? v->val[i] : -v->val[i];
    }
    return sum;
}

static void
test_sketch_determinism_and_norm (void **state)
{
    (void) state;
    sparse_vec_t v;
    make_sparse (&v, 40, 977);
    float a[200], b[200];
    assert_int_equal (sketch_sparse (&v, a, 200), 0);
    assert_int_equal (sketch_sparse (&v, b, 200), 0);
    assert_memory_equal (a, b, sizeof a);
    double ss = 0, ref_ss = 0, ref[200];
    for (size_t c = 0; c < 200; c++) {
        ss += (double) a[c] * a[c];
        ref[c] = reference_coord (&v, c);
        ref_ss += ref[c] * ref[c];
    }
    assert_true (fabs (ss - 1.0) < 1e-5);
    for (size_t c = 0; c < 200; c++)
        assert_true (fabs (a[c] - ref[c] / sqrt (ref_ss)) < 1e-6);
    assert_int_equal (sketch_sparse (&v, a, 0), -1);
    assert_int_equal (sketch_sparse (&v, a, SKETCH_MAX_DIM + 1), -1);
    sparse_vec_t empty = { 0 };
    assert_int_equal (sketch_sparse (&empty, a, 64), 0);
    for (size_t c = 0; c < 64; c++)
        assert_true (a[c] == 0.0f);

    /*  Cosine is roughly preserved: v against itself with half its
        features dropped (true cosine computed here).  */
    sparse_vec_t h;
    make_sparse (&h, 20, 977);
    double dot = 0, nv = 0, nh = 0;
    for (size_t i = 0; i < 40; i++) {
        nv += (double) v.val[i] * v.val[i];
        if (i < 20) {
            dot += (double) v.val[i] * h.val[i];
            nh += (double) h.val[i] * h.val[i];
        }
    }
    float sh[256], sv[256];
    sketch_sparse (&v, sv, 256);
    sketch_sparse (&h, sh, 256);
    double sdot = 0;
    for (size_t c = 0; c < 256; c++)
        sdot += (double) sv[c] * sh[c];
    assert_true (fabs (sdot - dot / sqrt (nv * nh)) < 0.2);

    float d[4] = { 3, 0, 4, NAN }, out[4];
    sketch_dense (d, 4, out);
    assert_true (fabs (out[0] - 0.6f) < 1e-6 && fabs (out[2] - 0.8f) < 1e-6 && out[3] == 0.0f);
    sparse_vec_free (&v);
    sparse_vec_free (&h);
}

static uint64_t
text_simhash (const char *text)
{
    features_config_t cfg;
    features_config_default (&cfg);
    sparse_vec_t v;
    sparse_vec_init (&v);
    char err[128];
    assert_int_equal (features_extract (&cfg, text, strlen (text), NULL, 0, &v, err, sizeof err), 0);
    uint64_t h = sketch_simhash64 (&v);
    sparse_vec_free (&v);
    return h;
}

static void
test_simhash_near_duplicates (void **state)
{
    (void) state;
    const char *base = "The delivery arrived two days late and the box was badly damaged, "
                       "but customer service replaced the broken lamp quickly and politely.";
    const char *near = "The delivery arrived two days late and the box was badly damaged, "
                       "but customer service replaced the broken lamp quickly and kindly.";
    const char *other = "Quarterly revenue grew eight percent on strong cloud demand while "
                        "hardware margins shrank in every region except Asia.";
    uint64_t hb = text_simhash (base), hn = text_simhash (near), ho = text_simhash (other);
    assert_int_equal (sketch_hamming (hb, text_simhash (base)), 0);
    /* case and width differences are normalised away by features.h */
    assert_int_equal (sketch_hamming (hb, text_simhash ("THE DELIVERY arrived two days late and "
        "the box was badly damaged, but customer service replaced the broken lamp quickly and "
        "politely.")), 0);
    int dn = sketch_hamming (hb, hn), d_o = sketch_hamming (hb, ho);
    print_message ("simhash: near %d bits, other %d bits\n", dn, d_o);
    assert_true (dn < d_o);
    assert_true (dn <= 16);
    assert_true (d_o >= 20);
    assert_int_equal (sketch_hamming (0, UINT64_MAX), 64);
    assert_int_equal (sketch_simhash64 (NULL), 0);
}

/*  --- kNN ------------------------------------------------------------------  */

#define N_PTS 400
#define DIM   24
#define K     10

static float *
random_points (size_t n, size_t dim, uint64_t seed)
{
    rng_state = seed;
    float *x = malloc (n * dim * sizeof *x);
    for (size_t i = 0; i < n * dim; i++)
        x[i] = gauss ();
    return x;
}

/*  Similarity as knn.h defines it, in double.  */
static double
brute_sim (const float *a, const float *b, size_t dim, knn_metric_t metric)
{
    double dot = 0, na = 0, nb = 0, d2 = 0;
    for (size_t j = 0; j < dim; j++) {
        dot += (double) a[j] * b[j];
        na += (double) a[j] * a[j];
        nb += (double) b[j] * b[j];
        d2 += ((double) a[j] - b[j]) * ((double) a[j] - b[j]);
    }
    return metric == KNN_COSINE ? dot / sqrt (na * nb) : -d2;
}

/*  Row i's k best by a full sort of a double loop.  */
static void
brute_row (const float *x, size_t n, size_t dim, size_t i, knn_metric_t metric, uint32_t *idx,
           double *sim)
{
    size_t cnt = 0;
    for (size_t j = 0; j < n; j++) {
        if (j == i)
            continue;
        double s = brute_sim (x + i * dim, x + j * dim, dim, metric);
        size_t pos = cnt < K ? cnt : K;
        if (pos == K && s <= sim[K - 1])
            continue;
        if (pos == K)
            pos--;
        while (pos > 0 && s > sim[pos - 1]) {
            sim[pos] = sim[pos - 1];
            idx[pos] = idx[pos - 1];
            pos--;
        }
        sim[pos] = s;
        idx[pos] = (uint32_t) j;
        if (cnt < K)
            cnt++;
    }
}

/*  Equal lists: the same similarity at every rank (to float rounding) and
    the same index unless two candidates are that close (a rounding tie).  */
static void
assert_same_row (const uint32_t *ia, const double *sa, const uint32_t *ib, const float *sb,
                 size_t cnt, double tol)
{
    for (size_t r = 0; r < cnt; r++) {
        assert_true (fabs (sa[r] - sb[r]) < tol);
        if (ia[r] != ib[r]) {
            bool tie = (r > 0 && fabs (sa[r] - sa[r - 1]) < tol)
                || (r + 1 < cnt && fabs (sa[r] - sa[r + 1]) < tol);
            assert_true (tie);
        }
    }
}

static knn_t *
graph_of (const float *x, size_t n, size_t dim, size_t k, knn_metric_t metric, size_t block)
{
    knn_t *g = knn_new (dim, k);
    assert_non_null (g);
    assert_int_equal (knn_set_metric (g, metric), 0);
    knn_set_block_rows (g, block);
    char id[32], err[128];
    for (size_t i = 0; i < n; i++) {
        snprintf (id, sizeof id, "p%zu", i);
        assert_int_equal (knn_add (g, id, x + i * dim, err, sizeof err), 0);
    }
    return g;
}

static void
check_against_brute (knn_metric_t metric)
{
    float *x = random_points (N_PTS, DIM, 42);
    knn_t *g = graph_of (x, N_PTS, DIM, K, metric, 37);    /* 37: blocks of uneven size */
    assert_int_equal (knn_pending (g), N_PTS);
    assert_int_equal (knn_neighbours (g, 0, NULL, NULL), 0);
    assert_int_equal (knn_build (g), 0);
    assert_int_equal (knn_pending (g), 0);
    double tol = metric == KNN_COSINE ? 1e-5 : 1e-3;
    for (size_t i = 0; i < N_PTS; i++) {
        uint32_t bi[K];
        double bs[K];
        brute_row (x, N_PTS, DIM, i, metric, bi, bs);
        const uint32_t *idx;
        const float *sim;
        assert_int_equal (knn_neighbours (g, i, &idx, &sim), K);
        assert_same_row (bi, bs, idx, sim, K, tol);
    }
    assert_string_equal (knn_id (g, 7), "p7");
    assert_null (knn_id (g, N_PTS));
    knn_destroy (&g);
    assert_null (g);
    free (x);
}

static void
test_knn_cosine_exact (void **state)
{
    (void) state;
    check_against_brute (KNN_COSINE);
}

static void
test_knn_euclidean_exact (void **state)
{
    (void) state;
    check_against_brute (KNN_EUCLIDEAN);
}

static void
test_knn_incremental_equals_full (void **state)
{
    (void) state;
    float *x = random_points (N_PTS, DIM, 7);
    knn_t *full = graph_of (x, N_PTS, DIM, K, KNN_COSINE, 0);
    assert_int_equal (knn_build (full), 0);

    knn_t *inc = knn_new (DIM, K);
    knn_set_block_rows (inc, 50);
    char err[128];
    size_t steps[] = { 5, 250, 251, 300, 399, N_PTS };   /* first update: 5 points < k */
    size_t added = 0;
    for (size_t s = 0; s < sizeof steps / sizeof *steps; s++) {
        for (; added < steps[s]; added++)
            assert_int_equal (knn_add (inc, NULL, x + added * DIM, err, sizeof err), 0);
        assert_int_equal (knn_update (inc), 0);
        if (s == 0)
            assert_int_equal (knn_neighbours (inc, 0, NULL, NULL), 4);
    }
    assert_int_equal (knn_update (inc), 0);     /* nothing pending: no-op */
    for (size_t i = 0; i < N_PTS; i++) {
        const uint32_t *fi, *ii;
        const float *fs, *is;
        assert_int_equal (knn_neighbours (full, i, &fi, &fs), K);
        assert_int_equal (knn_neighbours (inc, i, &ii, &is), K);
        double ds[K];
        for (size_t r = 0; r < K; r++)
            ds[r] = fs[r];
        assert_same_row (fi, ds, ii, is, K, 1e-5);
    }
    knn_destroy (&full);
    knn_destroy (&inc);
    free (x);
}

static void
test_knn_rejects_bad_input (void **state)
{
    (void) state;
    assert_null (knn_new (0, 5));
    assert_null (knn_new (4, 0));
    assert_null (knn_new (KNN_MAX_DIM + 1, 5));
    knn_t *g = knn_new (3, 2);
    char err[128];
    float ok[3] = { 1, 2, 3 }, bad[3] = { 1, NAN, 3 }, huge[3] = { 1e30f, 1e30f, 0 };
    assert_int_equal (knn_add (g, "a", bad, err, sizeof err), -1);
    assert_non_null (strstr (err, "not finite"));
    assert_int_equal (knn_add (g, "\xff\xfe", ok, err, sizeof err), -1);
    assert_int_equal (knn_add (g, "a", NULL, err, sizeof err), -1);
    assert_int_equal (knn_size (g), 0);
    assert_int_equal (knn_add (g, "a", ok, err, sizeof err), 0);
    assert_int_equal (knn_set_metric (g, KNN_EUCLIDEAN), -1);   /* too late */
    assert_int_equal (knn_update (g), 0);
    assert_int_equal (knn_neighbours (g, 0, NULL, NULL), 0);    /* alone */
    knn_destroy (&g);
    g = knn_new (3, 2);
    knn_set_metric (g, KNN_EUCLIDEAN);
    assert_int_equal (knn_add (g, "big", huge, err, sizeof err), -1);
    knn_destroy (&g);
    knn_destroy (&g);   /* NULL-safe */
}

/*  --- spreading ------------------------------------------------------------  */

/*  Three noisy clusters, and what scikit-learn 1.2.1 gives for them:
        LabelSpreading(kernel='knn', n_neighbors=4, alpha=0.9, max_iter=30,
                       tol=1e-3).fit(X, y), y = -1 but y[0] = 0,
                       y[6] = y[7] = 1, y[12] = 2
    (label_distributions_; n_iter_ 30, not converged). The graph is
    directed, so point 12's label barely leaves it: a symmetrised graph
    would give different numbers.  */
static const float SK_X[18][2] = {
    { -0.802f, -1.324f }, { -0.248f, 0.420f }, { 1.136f, 0.110f }, { -0.553f, -0.785f },
    { 0.749f, 1.635f }, { 0.273f, -1.233f }, { 1.542f, 1.600f }, { 2.703f, -1.732f },
    { 2.416f, -1.163f }, { 1.871f, -0.488f }, { 1.787f, 0.553f }, { 2.437f, -0.589f },
    { 1.610f, 2.830f }, { -0.443f, 1.743f }, { 0.219f, 1.827f }, { -0.089f, 2.021f },
    { 1.162f, 1.696f }, { 0.152f, 1.604f } };
static const double SK_DIST[18][3] = {
    { 0.850438322, 0.149561678, 0 }, { 0.794277976, 0.205722024, 0 },
    { 0.297644942, 0.702355058, 0 }, { 0.814578391, 0.185421609, 0 },
    { 0.038345263, 0.961654737, 0 }, { 0.774916776, 0.225083224, 0 },
    { 0.038347273, 0.961652727, 0 }, { 0.034535576, 0.965464424, 0 },
    { 0.048013177, 0.951986823, 0 }, { 0.102969351, 0.897030649, 0 },
    { 0.124663728, 0.875336272, 0 }, { 0.048013177, 0.951986823, 0 },
    { 0.020774668, 0.520920810, 0.458304522 }, { 0.038267898, 0.961732102, 0 },
    { 0.038310844, 0.961689156, 0 }, { 0.038265057, 0.961734943, 0 },
    { 0.038350041, 0.961649959, 0 }, { 0.038310844, 0.961689156, 0 } };

static void
test_spread_matches_sklearn (void **state)
{
    (void) state;
    knn_t *g = graph_of (&SK_X[0][0], 18, 2, 3, KNN_EUCLIDEAN, 0);
    assert_int_equal (knn_build (g), 0);
    int32_t y[18];
    for (size_t i = 0; i < 18; i++)
        y[i] = -1;
    y[0] = 0;
    y[6] = y[7] = 1;
    y[12] = 2;
    spread_config_t cfg;
    spread_config_default (&cfg);
    assert_int_equal (cfg.n_neighbors, 7);
    assert_true (cfg.alpha == 0.2 && cfg.max_iter == 30 && cfg.tol == 1e-3);
    cfg.n_neighbors = 4;
    cfg.alpha = 0.9;
    spread_t *sp = spread_new (&cfg);
    char err[128];
    assert_int_equal (spread_run (sp, g, y, 3, err, sizeof err), 0);
    assert_int_equal (spread_iterations (sp), 30);
    assert_false (spread_converged (sp));
    for (size_t i = 0; i < 18; i++) {
        const double *d = spread_distribution (sp, i);
        size_t best = 0;
        for (size_t c = 0; c < 3; c++) {
            assert_true (fabs (d[c] - SK_DIST[i][c]) < 1e-7);
            if (SK_DIST[i][c] > SK_DIST[i][best])
                best = c;
        }
        assert_int_equal (spread_label (sp, i), best);
        assert_true (fabs (spread_confidence (sp, i) - SK_DIST[i][best]) < 1e-7);
    }
    /* with alpha 0.5, scikit-learn converges after 8 iterations here (n_iter_) */
    cfg.alpha = 0.5;
    spread_destroy (&sp);
    sp = spread_new (&cfg);
    assert_int_equal (spread_run (sp, g, y, 3, err, sizeof err), 0);
    assert_int_equal (spread_iterations (sp), 8);
    assert_true (spread_converged (sp));
    spread_destroy (&sp);
    knn_destroy (&g);
}

static void
test_spread_two_clusters (void **state)
{
    (void) state;
    enum { N = 200, D = 8 };
    float *x = random_points (N, D, 99);
    for (size_t i = 0; i < N; i++)
        x[i * D] += i < N / 2 ? 10.0f : -10.0f;     /* two far clusters */
    knn_t *g = graph_of (x, N, D, 10, KNN_COSINE, 0);
    assert_int_equal (knn_build (g), 0);
    int32_t y[N];
    for (size_t i = 0; i < N; i++)
        y[i] = -1;
    y[3] = 0;
    y[150] = 1;
    spread_config_t cfg;
    spread_config_default (&cfg);
    cfg.alpha = 0.99;       /* one label per cluster: let it travel */
    cfg.max_iter = 1000;
    spread_t *sp = spread_new (&cfg);
    char err[128];
    assert_int_equal (spread_run (sp, g, y, 2, err, sizeof err), 0);
    assert_true (spread_converged (sp));
    for (size_t i = 0; i < N; i++) {
        assert_int_equal (spread_label (sp, i), i < N / 2 ? 0 : 1);
        assert_true (spread_confidence (sp, i) > 0.99);
    }
    assert_int_equal (spread_label (sp, N), -1);
    assert_null (spread_distribution (sp, N));

    /* bad input: a label out of range, a stale graph, a graph too small */
    y[5] = 2;
    assert_int_equal (spread_run (sp, g, y, 2, err, sizeof err), -1);
    assert_non_null (strstr (err, "label 2 of point 5"));
    assert_int_equal (spread_size (sp), 0);
    y[5] = -1;
    char e2[128];
    assert_int_equal (knn_add (g, NULL, x, e2, sizeof e2), 0);
    assert_int_equal (spread_run (sp, g, y, 2, err, sizeof err), -1);
    assert_non_null (strstr (err, "not yet updated"));
    spread_destroy (&sp);
    cfg.n_neighbors = 12;
    sp = spread_new (&cfg);
    knn_update (g);
    int32_t y2[N + 1];
    memcpy (y2, y, sizeof y);
    y2[N] = -1;
    assert_int_equal (spread_run (sp, g, y2, 2, err, sizeof err), -1);
    assert_non_null (strstr (err, "needs 11"));
    cfg.alpha = 1.0;
    assert_null (spread_new (&cfg));
    assert_int_equal (spread_config_check (&cfg, err, sizeof err), -1);
    spread_destroy (&sp);
    knn_destroy (&g);
    free (x);
}

/*  Digits fixture (300 items, 64 grey levels): every 10th item labelled,
    the rest predicted. scikit-learn 1.2.1, LabelSpreading(kernel='knn',
    alpha=0.2) on the raw pixels and the same split: accuracy on the 270
    unlabelled items 0.7926 with n_neighbors 7 (0.8074 with 10).  */
static void
test_spread_digits (void **state)
{
    (void) state;
    FILE *fp = fopen (TEST_DATA_DIR "/fixtures/digits-300.jsonl", "r");
    assert_non_null (fp);
    float (*x)[64] = malloc (300 * sizeof *x);
    int32_t truth[300], y[300];
    size_t n = 0;
    char *line = NULL;
    size_t cap = 0;
    while (n < 300 && getline (&line, &cap, fp) > 0) {
        json_t *o = json_loads (line, 0, NULL);
        assert_non_null (o);
        json_t *v = json_object_get (o, "vector");
        assert_int_equal (json_array_size (v), 64);
        for (size_t j = 0; j < 64; j++)
            x[n][j] = (float) json_number_value (json_array_get (v, j));
        truth[n] = atoi (json_string_value (json_object_get (json_object_get (o, "meta"), "truth")));
        y[n] = n % 10 == 0 ? truth[n] : -1;
        json_decref (o);
        n++;
    }
    free (line);
    fclose (fp);
    assert_int_equal (n, 300);
    knn_metric_t metrics[2] = { KNN_EUCLIDEAN, KNN_COSINE };
    for (int m = 0; m < 2; m++) {
        knn_t *g = graph_of (&x[0][0], n, 64, 9, metrics[m], 0);
        assert_int_equal (knn_build (g), 0);
        spread_config_t cfg;
        spread_config_default (&cfg);
        spread_t *sp = spread_new (&cfg);
        char err[128];
        assert_int_equal (spread_run (sp, g, y, 10, err, sizeof err), 0);
        size_t right = 0, total = 0;
        for (size_t i = 0; i < n; i++)
            if (y[i] < 0) {
                total++;
                right += spread_label (sp, i) == truth[i];
            }
        double acc = (double) right / (double) total;
        print_message ("digits-300, %s: accuracy %.4f (scikit-learn 0.7926)\n",
                       m == 0 ? "euclidean" : "cosine", acc);
        assert_true (acc >= 0.78);
        spread_destroy (&sp);
        knn_destroy (&g);
    }
    free (x);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_sketch_determinism_and_norm),
        cmocka_unit_test (test_simhash_near_duplicates),
        cmocka_unit_test (test_knn_cosine_exact),
        cmocka_unit_test (test_knn_euclidean_exact),
        cmocka_unit_test (test_knn_incremental_equals_full),
        cmocka_unit_test (test_knn_rejects_bad_input),
        cmocka_unit_test (test_spread_matches_sklearn),
        cmocka_unit_test (test_spread_two_clusters),
        cmocka_unit_test (test_spread_digits),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
