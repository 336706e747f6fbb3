/*  test_al.c: active learning: uncertainty strategies, Wilson intervals,
    per-class auto-accept thresholds, diverse batches, agreement and the
    stateless uniform draw.

    Expected values are worked out by hand (in the comments) or taken from
    the textbook examples they are named after, never by calling the code
    under test a second way.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <xxhash.h>

#include "al/al.h"

#define assert_near(a, b, eps) do {                                         \
        double a_ = (a), b_ = (b);                                          \
        if (!(fabs (a_ - b_) <= (eps)))                                     \
            fail_msg ("%s = %.9g, expected %.9g (+- %g)", #a, a_, b_, (double) (eps)); \
    } while (0)

static float
score (const char *strategy, const float *p, size_t k)
{
    const al_strategy_t *s = al_strategy_find (strategy);
    assert_non_null (s);
    return s->score (p, k);
}

/*  --- strategies ---------------------------------------------------------  */

static void
test_strategy_table (void **state)
{
    const char *const *names = al_strategy_names ();
    assert_string_equal (names[0], "margin");
    assert_string_equal (names[1], "least_confidence");
    assert_string_equal (names[2], "entropy");
    assert_null (names[3]);
    for (size_t i = 0; names[i]; i++) {
        const al_strategy_t *s = al_strategy_find (names[i]);
        assert_non_null (s);
        assert_string_equal (s->name, names[i]);
        assert_non_null (s->summary);
        assert_non_null (s->score);
    }
    assert_non_null (al_strategy_find (AL_DEFAULT_STRATEGY));
    assert_null (al_strategy_find ("Margin"));
    assert_null (al_strategy_find ("margin "));
    assert_null (al_strategy_find (""));
    assert_null (al_strategy_find (NULL));
}

static void
test_strategy_values (void **state)
{
    const char *const *names = al_strategy_names ();
    float uniform4[] = { 0.25f, 0.25f, 0.25f, 0.25f };
    float onehot[] = { 0.0f, 1.0f, 0.0f };
    for (size_t i = 0; names[i]; i++) {
        assert_near (score (names[i], uniform4, 4), 1.0, 1e-6);
        assert_near (score (names[i], onehot, 3), 0.0, 1e-6);
    }
    /* margin: 1 - (0.6 - 0.4) = 0.8; with three classes only the top two count */
    float two[] = { 0.6f, 0.4f };
    assert_near (score ("margin", two, 2), 0.8, 1e-6);
    float three[] = { 0.2f, 0.5f, 0.3f };
    assert_near (score ("margin", three, 3), 0.8, 1e-6);
    /* least confidence, k = 3: (1 - 0.5) * 3/2 = 0.75 (unscaled it would be 0.5) */
    assert_near (score ("least_confidence", three, 3), 0.75, 1e-6);
    /* k = 2: (1 - 0.6) * 2 = 0.8 */
    assert_near (score ("least_confidence", two, 2), 0.8, 1e-6);
    /* entropy of a fair coin is 1 bit = log 2, / log 2 = 1 */
    float coin[] = { 0.5f, 0.5f };
    assert_near (score ("entropy", coin, 2), 1.0, 1e-6);
    /* [0.9, 0.1]: -(0.9 ln 0.9 + 0.1 ln 0.1) / ln 2 = 0.468996 */
    float skew[] = { 0.9f, 0.1f };
    assert_near (score ("entropy", skew, 2), 0.468996, 1e-5);
    /* [0.5, 0.3, 0.2]: (0.346574 + 0.361192 + 0.321888) / ln 3 = 1.029654 / 1.098612 = 0.937231 */
    assert_near (score ("entropy", three, 3), 0.937231, 1e-5);
}

static void
test_strategy_hostile (void **state)
{
    const char *const *names = al_strategy_names ();
    float nan_entry[] = { NAN, 0.6f, 0.4f };
    float negative[] = { 0.6f, -5.0f, 0.4f };
    float inf_entry[] = { INFINITY, 0.6f, 0.4f };
    float all_nan[] = { NAN, NAN, NAN };
    float all_neg[] = { -1.0f, -2.0f };
    float unnormalised[] = { 3.0f, 2.0f };
    float huge[] = { 3e38f, 3e38f, 3e38f };
    float one[] = { 0.7f };
    /* bad entries count as 0: the same as [0.6, 0.4] */
    assert_near (score ("margin", nan_entry, 3), 0.8, 1e-6);
    assert_near (score ("margin", negative, 3), 0.8, 1e-6);
    assert_near (score ("margin", inf_entry, 3), 0.8, 1e-6);
    assert_near (score ("margin", unnormalised, 2), 0.8, 1e-6);
    assert_near (score ("entropy", huge, 3), 1.0, 1e-6);
    for (size_t i = 0; names[i]; i++) {
        assert_near (score (names[i], NULL, 0), 0.0, 0);
        assert_near (score (names[i], nan_entry, 0), 0.0, 0);
        assert_near (score (names[i], one, 1), 0.0, 0);
        assert_near (score (names[i], all_nan, 1), 0.0, 0);
        /* nothing usable: as unsure as it gets */
        assert_near (score (names[i], all_nan, 3), 1.0, 0);
        assert_near (score (names[i], all_neg, 2), 1.0, 0);
        /* pseudo-random garbage never escapes [0, 1] */
        uint32_t x = 12345;
        for (int round = 0; round < 1000; round++) {
            float p[7];
            for (size_t j = 0; j < 7; j++) {
                x = x * 1664525u + 1013904223u;
                uint32_t bits = x;
                memcpy (&p[j], &bits, sizeof bits);
            }
            float s = score (names[i], p, 1 + round % 7);
            assert_false (isnan (s));
            assert_true (s >= 0.0f && s <= 1.0f);
        }
    }
}

/*  --- Wilson -----------------------------------------------------------------  */

static void
test_wilson (void **state)
{
    double lo, hi;
    /* 95/100 at z 1.96: the textbook [0.888, 0.978] */
    al_wilson (95, 100, 1.96, &lo, &hi);
    assert_near (lo, 0.888, 5e-4);
    assert_near (hi, 0.978, 5e-4);
    al_wilson (0, 0, 1.96, &lo, &hi);
    assert_near (lo, 0.0, 0);
    assert_near (hi, 1.0, 0);
    /* 10/10 at z 1.645: p 1, centre (1 + 0.1353) ... lower 0.787028, upper 1 */
    al_wilson (10, 10, 1.645, &lo, &hi);
    assert_near (lo, 0.787028, 1e-5);
    assert_near (hi, 1.0, 1e-12);
    /* 0/10 mirrors it */
    al_wilson (0, 10, 1.645, &lo, &hi);
    assert_near (lo, 0.0, 1e-12);
    assert_near (hi, 1.0 - 0.787028, 1e-5);
    /* z 0: the point estimate */
    al_wilson (3, 4, 0.0, &lo, &hi);
    assert_near (lo, 0.75, 1e-12);
    assert_near (hi, 0.75, 1e-12);
    /* hostile: more correct than items is all correct; NaN z claims nothing */
    double lo2, hi2;
    al_wilson (50, 10, 1.645, &lo, &hi);
    al_wilson (10, 10, 1.645, &lo2, &hi2);
    assert_near (lo, lo2, 0);
    al_wilson (5, 10, NAN, &lo, &hi);
    assert_near (lo, 0.0, 0);
    assert_near (hi, 1.0, 0);
    al_wilson (5, 10, 1.645, NULL, NULL);
}

/*  --- thresholds -----------------------------------------------------------  */

static size_t
add_band (al_sample_t *s, size_t n, uint32_t cls, float conf, size_t count, size_t correct)
{
    for (size_t i = 0; i < count; i++)
        s[n++] = (al_sample_t) { .confidence = conf, .predicted = cls,
                                 .truth = i < correct ? cls : cls + 1 };
    return n;
}

/*  Class 0: 100 items at 0.99 all right, 100 at 0.8 with 90 right, 100 at
    0.6 with 50 right (z 1.645, z^2 = 2.706025). By hand:
      t 0.99: 100/100, p 1:    centre (1 + 0.013530) / 1.027060 = 0.986826,
              half 1.601707 * sqrt (2.706025 / 40000) = 0.013174 -> lower 0.973653
      t 0.8:  190/200, p 0.95: centre (0.95 + 0.006765) / 1.013530 = 0.944015,
              half 1.623040 * sqrt (0.0002375 + 0.0000169) = 0.025888 -> lower 0.918105
      t 0.6:  240/300, p 0.8:  lower 0.759404
    So target 0.95 can only be met at 0.99, and target 0.9 is met at 0.8
    too: the lower threshold wins. 0.6 qualifies for neither.  */
static void
test_fit_known (void **state)
{
    static al_sample_t s[400];
    size_t n = 0;
    n = add_band (s, n, 0, 0.6f, 100, 50);
    n = add_band (s, n, 0, 0.99f, 100, 100);
    n = add_band (s, n, 0, 0.8f, 100, 90);
    /* class 1: only 10 items, all right at 0.99: lower 0.787, support 10 < 20 */
    n = add_band (s, n, 1, 0.99f, 10, 10);
    al_fit_config_t cfg;
    al_fit_config_default (&cfg);
    assert_near (cfg.z, 1.645, 0);
    assert_near (cfg.target, 0.95, 0);
    assert_int_equal (cfg.min_support, 20);

    al_threshold_t th[3];
    assert_int_equal (al_fit_thresholds (s, n, 3, &cfg, th), 1);
    assert_true (th[0].enabled);
    assert_true (th[0].threshold == 0.99f);
    assert_int_equal (th[0].n_above, 100);
    assert_int_equal (th[0].n_correct, 100);
    assert_near (th[0].accuracy, 1.0, 0);
    assert_near (th[0].lower, 0.973653, 1e-5);
    assert_int_equal (th[0].n_predicted, 300);

    assert_false (th[1].enabled);
    assert_true (th[1].threshold == 2.0f);
    assert_int_equal (th[1].n_above, 10);
    assert_int_equal (th[1].n_correct, 10);
    assert_int_equal (th[1].n_predicted, 10);
    assert_near (th[1].lower, 0.787028, 1e-5);

    /* class 2: never predicted */
    assert_false (th[2].enabled);
    assert_true (th[2].threshold == 2.0f);
    assert_int_equal (th[2].n_above, 0);
    assert_int_equal (th[2].n_predicted, 0);
    assert_near (th[2].accuracy, 0.0, 0);
    assert_near (th[2].lower, 0.0, 0);
    assert_near (th[2].upper, 1.0, 0);

    /* a lower target enables a lower threshold */
    cfg.target = 0.9;
    assert_int_equal (al_fit_thresholds (s, n, 3, &cfg, th), 1);
    assert_true (th[0].threshold == 0.8f);
    assert_int_equal (th[0].n_above, 200);
    assert_int_equal (th[0].n_correct, 190);
    assert_near (th[0].accuracy, 0.95, 1e-12);
    assert_near (th[0].lower, 0.918105, 1e-5);

    /* and a smaller support lets class 1 in: 10/10, lower 0.787 >= 0.75 */
    cfg.target = 0.75;
    cfg.min_support = 5;
    assert_int_equal (al_fit_thresholds (s, n, 3, &cfg, th), 2);
    assert_true (th[1].enabled);
    assert_true (th[1].threshold == 0.99f);

    /* an unreachable target disables everything, with stats over all items */
    cfg.target = 1.0;
    assert_int_equal (al_fit_thresholds (s, n, 3, &cfg, th), 0);
    assert_false (th[0].enabled);
    assert_int_equal (th[0].n_above, 300);
    assert_int_equal (th[0].n_correct, 240);
    assert_near (th[0].accuracy, 0.8, 1e-12);
}

/*  19 items at 0.95, all right, then 5 tied at 0.9 of which 1 is right;
    min_support 20, target 0.85. Splitting the tie after its right item
    would give 20/20 (lower 0.8808, qualifies); the whole tie gives 20/24
    (lower 0.6762) and 19 alone lacks support, so the class stays off.
    The right item is put first, then last, among the ties.  */
static void
test_fit_ties (void **state)
{
    al_fit_config_t cfg = { .target = 0.85, .z = 1.645, .min_support = 20 };
    for (int order = 0; order < 2; order++) {
        al_sample_t s[24];
        size_t n = add_band (s, 0, 0, 0.95f, 19, 19);
        if (order == 0)
            n = add_band (s, n, 0, 0.9f, 5, 1);
        else {
            n = add_band (s, n, 0, 0.9f, 4, 0);
            n = add_band (s, n, 0, 0.9f, 1, 1);
        }
        al_threshold_t th[2];
        assert_int_equal (al_fit_thresholds (s, n, 2, &cfg, th), 0);
        assert_false (th[0].enabled);
        assert_int_equal (th[0].n_above, 24);
        assert_int_equal (th[0].n_correct, 20);
    }
    /* 30 tied items all right: the threshold is their value, all 30 in */
    al_sample_t s[30];
    size_t n = add_band (s, 0, 0, 0.7f, 30, 30);
    al_threshold_t th;
    assert_int_equal (al_fit_thresholds (s, n, 1, &cfg, &th), 1);
    assert_true (th.threshold == 0.7f);
    assert_int_equal (th.n_above, 30);
}

/*  The lowest qualifying threshold is kept even below one that fails: 20
    items at 0.99 with 15 right (lower ~0.56), then 200 at 0.9 all right:
    215/220 has lower ~0.955 >= 0.9.  */
static void
test_fit_not_monotone (void **state)
{
    static al_sample_t s[220];
    size_t n = add_band (s, 0, 0, 0.99f, 20, 15);
    n = add_band (s, n, 0, 0.9f, 200, 200);
    al_fit_config_t cfg = { .target = 0.9, .z = 1.645, .min_support = 20 };
    al_threshold_t th[2];
    assert_int_equal (al_fit_thresholds (s, n, 2, &cfg, th), 1);
    assert_true (th[0].threshold == 0.9f);
    assert_int_equal (th[0].n_above, 220);
    assert_int_equal (th[0].n_correct, 215);
}

static void
test_fit_hostile (void **state)
{
    al_fit_config_t cfg = { .target = 0.9, .z = 1.645, .min_support = 5 };
    al_threshold_t th[2];
    /* nothing at all */
    assert_int_equal (al_fit_thresholds (NULL, 0, 2, &cfg, th), 0);
    assert_false (th[0].enabled);
    assert_false (th[1].enabled);
    assert_true (th[1].threshold == 2.0f);
    assert_int_equal (al_fit_thresholds (NULL, 0, 0, &cfg, NULL), 0);

    static al_sample_t s[64];
    size_t n = add_band (s, 0, 0, 0.9f, 40, 40);
    /* ignored: predicted out of range, truth out of range, NaN confidence */
    s[n++] = (al_sample_t) { .confidence = 0.5f, .predicted = 7, .truth = 0 };
    s[n++] = (al_sample_t) { .confidence = 0.5f, .predicted = 0, .truth = 9 };
    s[n++] = (al_sample_t) { .confidence = NAN, .predicted = 0, .truth = 1 };
    s[n++] = (al_sample_t) { .confidence = 0.5f, .predicted = UINT32_MAX, .truth = UINT32_MAX };
    assert_int_equal (al_fit_thresholds (s, n, 2, &cfg, th), 1);
    assert_true (th[0].threshold == 0.9f);
    assert_int_equal (th[0].n_above, 40);
    assert_int_equal (th[0].n_predicted, 40);
    assert_false (th[1].enabled);
    /* add_band's wrong answers name class 1 as truth: with one class they
       are ignored, leaving 5/5 (lower 0.649: enough for 0.6, not 0.9) */
    n = add_band (s, 0, 0, 0.9f, 10, 5);
    assert_int_equal (al_fit_thresholds (s, n, 1, &cfg, th), 0);
    assert_int_equal (th[0].n_above, 5);
    assert_int_equal (th[0].n_correct, 5);
    cfg.target = 0.6;
    assert_int_equal (al_fit_thresholds (s, n, 1, &cfg, th), 1);
    /* no config: the defaults (support 20 is too much for 5 items) */
    assert_int_equal (al_fit_thresholds (s, n, 1, NULL, th), 0);
}

static void
test_expected_accuracy (void **state)
{
    al_threshold_t th[3] = {
        { .accuracy = 0.9, .lower = 0.8, .upper = 0.95 },
        { .accuracy = 0.5, .lower = 0.4, .upper = 0.6 },
        { .accuracy = 0.0, .lower = 0.0, .upper = 1.0 },
    };
    /* (3 * 0.9 + 1 * 0.5) / 4 = 0.8; lower (2.4 + 0.4) / 4 = 0.7;
       upper (2.85 + 0.6) / 4 = 0.8625; class 2 has no labels and no say */
    uint64_t count[3] = { 3, 1, 0 };
    double acc, lo, hi;
    al_expected_accuracy (th, count, 3, &acc, &lo, &hi);
    assert_near (acc, 0.8, 1e-12);
    assert_near (lo, 0.7, 1e-12);
    assert_near (hi, 0.8625, 1e-12);
    uint64_t none[3] = { 0, 0, 0 };
    al_expected_accuracy (th, none, 3, &acc, &lo, &hi);
    assert_near (acc, 0.0, 0);
    assert_near (lo, 0.0, 0);
    assert_near (hi, 0.0, 0);
}

/*  --- diversity ------------------------------------------------------------  */

static sparse_vec_t
vec (uint32_t *idx, float *val, size_t n)
{
    return (sparse_vec_t) { .idx = idx, .val = val, .n = n, .cap = n };
}

static void
test_cosine (void **state)
{
    uint32_t ia[] = { 1, 5, 9 }, ib[] = { 0, 5, 9, 12 };
    float va[] = { 1.0f, 2.0f, 2.0f }, vb[] = { 7.0f, 3.0f, -4.0f, 0.0f };
    sparse_vec_t a = vec (ia, va, 3), b = vec (ib, vb, 4), empty = vec (NULL, NULL, 0);
    /* dot = 2*3 + 2*(-4) = -2; |a| = 3, |b| = sqrt (49 + 9 + 16) = sqrt 74 */
    assert_near (al_cosine (&a, &b), -2.0 / (3.0 * sqrt (74.0)), 1e-6);
    assert_near (al_cosine (&b, &a), -2.0 / (3.0 * sqrt (74.0)), 1e-6);
    assert_near (al_cosine (&a, &a), 1.0, 1e-6);
    assert_near (al_cosine (&a, &empty), 0.0, 0);
    assert_near (al_cosine (NULL, &a), 0.0, 0);
    uint32_t iz[] = { 1 };
    float vz[] = { 0.0f }, vn[] = { NAN };
    sparse_vec_t zero = vec (iz, vz, 1), nan = vec (iz, vn, 1);
    assert_near (al_cosine (&a, &zero), 0.0, 0);
    assert_near (al_cosine (&a, &nan), 0.0, 0);
}

static void
test_diverse_pick (void **state)
{
    /* A and its duplicate A2, C at cosine 0.6 to A, B orthogonal to all */
    uint32_t ia[] = { 1, 5 }, ib[] = { 2 }, ic[] = { 1 };
    float va[] = { 0.6f, 0.8f }, vb[] = { 1.0f }, vc[] = { 1.0f };
    sparse_vec_t a = vec (ia, va, 2), a2 = vec (ia, va, 2), b = vec (ib, vb, 1), c = vec (ic, vc, 1);
    const sparse_vec_t *three[] = { &a2, &a, &b };
    float s3[] = { 0.8f, 0.9f, 0.5f };
    size_t out[8];
    /* best first (A), then B: the duplicate's gain is 0.8 * (1 - 1) = 0 */
    for (int lax = 0; lax < 2; lax++) {
        assert_int_equal (al_diverse_pick (three, s3, 3, 2, lax ? 1.0f : 0.95f, out), 2);
        assert_int_equal (out[0], 1);
        assert_int_equal (out[1], 2);
    }
    /* k > n: without a similarity cap everything is picked once */
    assert_int_equal (al_diverse_pick (three, s3, 3, 8, 1.0f, out), 3);
    assert_int_equal (out[0], 1);
    assert_int_equal (out[1], 2);
    assert_int_equal (out[2], 0);
    /* with the cap the duplicate is never picked */
    assert_int_equal (al_diverse_pick (three, s3, 3, 8, 0.95f, out), 2);

    /* max_sim: C (0.6 to A) is dropped at cap 0.5 though it scores 0.85;
       at cap 0.7 it stays, gains 0.85 * 0.4 = 0.34 < B's 0.5, comes last */
    const sparse_vec_t *four[] = { &a, &c, &b };
    float s4[] = { 0.9f, 0.85f, 0.5f };
    assert_int_equal (al_diverse_pick (four, s4, 3, 3, 0.5f, out), 2);
    assert_int_equal (out[0], 0);
    assert_int_equal (out[1], 2);
    assert_int_equal (al_diverse_pick (four, s4, 3, 3, 0.7f, out), 3);
    assert_int_equal (out[0], 0);
    assert_int_equal (out[1], 2);
    assert_int_equal (out[2], 1);

    /* NULL vectors are unlike everything; NaN scores count as 0 */
    const sparse_vec_t *nulls[] = { NULL, &a, NULL };
    float sn[] = { NAN, 0.3f, 0.6f };
    assert_int_equal (al_diverse_pick (nulls, sn, 3, 3, 0.1f, out), 3);
    assert_int_equal (out[0], 2);
    assert_int_equal (out[1], 1);
    assert_int_equal (out[2], 0);
    assert_int_equal (al_diverse_pick (nulls, sn, 3, 0, 0.1f, out), 0);
    assert_int_equal (al_diverse_pick (nulls, sn, 0, 3, 0.1f, out), 0);
    assert_int_equal (al_diverse_pick (nulls, sn, 3, 3, 0.1f, NULL), 0);
}

/*  --- agreement -------------------------------------------------------------  */

static void
test_cohen (void **state)
{
    /* the classic 2x2: 50 items, both yes 20, A yes B no 5, A no B yes 10,
       both no 15. po 0.7, pe 0.5 * 0.6 + 0.5 * 0.4 = 0.5, kappa 0.4 */
    uint32_t a[50], b[50];
    size_t n = 0;
    for (int i = 0; i < 20; i++, n++) { a[n] = 1; b[n] = 1; }
    for (int i = 0; i < 5; i++, n++)  { a[n] = 1; b[n] = 0; }
    for (int i = 0; i < 10; i++, n++) { a[n] = 0; b[n] = 1; }
    for (int i = 0; i < 15; i++, n++) { a[n] = 0; b[n] = 0; }
    assert_near (al_cohen_kappa (a, b, n, 2), 0.4, 1e-12);
    assert_near (al_cohen_kappa (a, a, n, 2), 1.0, 1e-12);
    /* unused classes change nothing */
    assert_near (al_cohen_kappa (a, b, n, 5), 0.4, 1e-12);
    /* undefined: no items, everything in one class, index out of range */
    assert_true (isnan (al_cohen_kappa (a, b, 0, 2)));
    uint32_t same[3] = { 1, 1, 1 };
    assert_true (isnan (al_cohen_kappa (same, same, 3, 2)));
    b[7] = 2;
    assert_true (isnan (al_cohen_kappa (a, b, n, 2)));
    assert_true (isnan (al_cohen_kappa (a, b, n, 0)));
    assert_true (isnan (al_cohen_kappa (NULL, b, n, 2)));
}

static void
test_fleiss (void **state)
{
    /* Wikipedia's example: 10 items, 14 raters, 5 categories: kappa 0.210 */
    static const uint32_t wiki[10][5] = {
        { 0, 0, 0, 0, 14 }, { 0, 2, 6, 4, 2 }, { 0, 0, 3, 5, 6 }, { 0, 3, 9, 2, 0 },
        { 2, 2, 8, 1, 1 }, { 7, 7, 0, 0, 0 }, { 3, 2, 6, 3, 0 }, { 2, 5, 3, 2, 2 },
        { 6, 5, 2, 1, 0 }, { 0, 2, 2, 3, 7 },
    };
    assert_near (al_fleiss_kappa (&wiki[0][0], 10, 5), 0.210, 5e-4);
    /* Pbar 0.378022, Pe 0.212755 -> 0.209931 */
    assert_near (al_fleiss_kappa (&wiki[0][0], 10, 5), 0.209931, 1e-6);
    static const uint32_t perfect[3][3] = { { 4, 0, 0 }, { 0, 4, 0 }, { 0, 0, 4 } };
    assert_near (al_fleiss_kappa (&perfect[0][0], 3, 3), 1.0, 1e-12);
    /* undefined: every rating in one class, one rater, unequal raters, nothing */
    static const uint32_t one_class[2][2] = { { 3, 0 }, { 3, 0 } };
    assert_true (isnan (al_fleiss_kappa (&one_class[0][0], 2, 2)));
    static const uint32_t single[2][2] = { { 1, 0 }, { 0, 1 } };
    assert_true (isnan (al_fleiss_kappa (&single[0][0], 2, 2)));
    static const uint32_t uneven[2][2] = { { 3, 0 }, { 1, 1 } };
    assert_true (isnan (al_fleiss_kappa (&uneven[0][0], 2, 2)));
    assert_true (isnan (al_fleiss_kappa (NULL, 2, 2)));
    assert_true (isnan (al_fleiss_kappa (&wiki[0][0], 0, 5)));
    assert_true (isnan (al_fleiss_kappa (&wiki[0][0], SIZE_MAX / 2, 5)));
}

/*  --- sampling ---------------------------------------------------------------  */

static void
test_uniform (void **state)
{
    double u = al_uniform ("item-1", 6, 42);
    assert_near (u, al_uniform ("item-1", 6, 42), 0);
    /* the top 53 bits of XXH3 over 2^53 */
    uint64_t h = XXH3_64bits_withSeed ("item-1", 6, 42);
    assert_near (u, (double) (h >> 11) / 9007199254740992.0, 0);
    assert_true (u != al_uniform ("item-1", 6, 43));
    assert_true (u != al_uniform ("item-2", 6, 42));
    /* only the given bytes count */
    assert_near (al_uniform ("item-1xyz", 6, 42), u, 0);
    double e = al_uniform (NULL, 5, 42);
    assert_true (e >= 0.0 && e < 1.0);
    assert_near (e, al_uniform ("", 0, 42), 0);

    double sum = 0.0;
    size_t low = 0;
    for (int i = 0; i < 10000; i++) {
        char id[32];
        int len = snprintf (id, sizeof id, "item-%d", i);
        double v = al_uniform (id, (size_t) len, 7);
        assert_true (v >= 0.0 && v < 1.0);
        sum += v;
        low += v < 0.1;
    }
    double mean = sum / 10000.0;
    if (mean < 0.49 || mean > 0.51)
        fail_msg ("mean of 10k draws %.4f", mean);
    /* a tenth below 0.1, give or take 5 standard deviations (30) */
    assert_in_range (low, 850, 1150);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_strategy_table),
        cmocka_unit_test (test_strategy_values),
        cmocka_unit_test (test_strategy_hostile),
        cmocka_unit_test (test_wilson),
        cmocka_unit_test (test_fit_known),
        cmocka_unit_test (test_fit_ties),
        cmocka_unit_test (test_fit_not_monotone),
        cmocka_unit_test (test_fit_hostile),
        cmocka_unit_test (test_expected_accuracy),
        cmocka_unit_test (test_cosine),
        cmocka_unit_test (test_diverse_pick),
        cmocka_unit_test (test_cohen),
        cmocka_unit_test (test_fleiss),
        cmocka_unit_test (test_uniform),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
