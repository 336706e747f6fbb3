/*  test_features.c: text and vectors to sparse features.

    Expected vectors are rebuilt here from first principles (XXH3 of the
    namespaced key strings, bigrams mixed from the unigram hashes, signed
    counts, log1p, L2 norm) rather than by calling the library, and
    normalisation is checked against utf8proc_map itself; a few indices
    are hard-coded so that any change of the model format shows up.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>
#include <xxhash.h>

#include "features/features.h"

/*  --- independent reference -------------------------------------------  */

typedef struct {
    uint32_t idx[4096];
    int32_t count[4096];
    size_t n;
} expect_t;

static void
expect_hash (expect_t *e, uint32_t bits, uint64_t h)
{
    uint32_t bucket = (uint32_t) (h & ((1u << bits) - 1));
    int32_t sign = (h >> 63) ? -1 : 1;
    for (size_t i = 0; i < e->n; i++)
        if (e->idx[i] == bucket) {
            e->count[i] += sign;
            return;
        }
    assert_true (e->n < 4096);
    e->idx[e->n] = bucket;
    e->count[e->n++] = sign;
}

static void
expect_key (expect_t *e, uint32_t bits, const char *key, size_t len)
{
    expect_hash (e, bits, XXH3_64bits_withSeed (key, len, FEATURES_SEED));
}

static void
expect_str (expect_t *e, uint32_t bits, const char *key)
{
    expect_key (e, bits, key, strlen (key));
}

static uint64_t
unigram_hash (const char *tok)
{
    char key[256];
    int n = snprintf (key, sizeof key, "w:%s", tok);
    assert_true (n > 0 && (size_t) n < sizeof key);
    return XXH3_64bits_withSeed (key, (size_t) n, FEATURES_SEED);
}

/*  The bigram a b as features.h defines it: the unigram hashes of a and
    b, multiplied, xored and put through the splitmix64 finaliser.  */
static void
expect_bigram (expect_t *e, uint32_t bits, const char *a, const char *b)
{
    uint64_t z = unigram_hash (a) * 0x9e3779b97f4a7c15u ^ unigram_hash (b);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    expect_hash (e, bits, z ^ (z >> 31));
}

static int
cmp_u32 (const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;
    return x < y ? -1 : x > y;
}

/*  out must equal the expected text part exactly in indices, closely in
    values.  */
static void
check_expect (const expect_t *e, const sparse_vec_t *out)
{
    uint32_t idx[4096];
    double val[4096], sumsq = 0;
    size_t n = 0;
    for (size_t i = 0; i < e->n; i++)
        if (e->count[i] != 0)
            idx[n++] = e->idx[i];
    qsort (idx, n, sizeof idx[0], cmp_u32);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < e->n; j++)
            if (e->idx[j] == idx[i]) {
                double c = e->count[j];
                val[i] = (c < 0 ? -1 : 1) * log1p (fabs (c));
                sumsq += val[i] * val[i];
            }
    assert_int_equal (out->n, n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal (out->idx[i], idx[i]);
        assert_float_equal (out->val[i], val[i] / sqrt (sumsq), 1e-6);
    }
}

static int
extract (const features_config_t *cfg, const char *text, sparse_vec_t *out)
{
    char err[256] = "";
    int rc = features_extract (cfg, text, text ? strlen (text) : 0, NULL, 0, out, err, sizeof err);
    if (rc != 0)
        assert_true (strlen (err) > 0);
    return rc;
}

static features_config_t
config (uint32_t bits, uint32_t ngram_max, uint32_t char_ngrams)
{
    features_config_t cfg;
    features_config_default (&cfg);
    cfg.hash_bits = bits;
    cfg.ngram_max = ngram_max;
    cfg.char_ngrams = char_ngrams;
    return cfg;
}

/*  Tokens joined by '|' into buf.  */
typedef struct {
    char buf[8192];
    size_t len;
    int n;
} joined_t;

static void
join_cb (void *arg, const char *tok, size_t len)
{
    joined_t *j = arg;
    assert_true (j->len + len + 2 < sizeof j->buf);
    if (j->n++)
        j->buf[j->len++] = '|';
    memcpy (j->buf + j->len, tok, len);
    j->len += len;
    j->buf[j->len] = 0;
}

#define TOKS(text, j) tokens_of (text, strlen (text), j)

static const char *
tokens_of (const char *text, size_t len, joined_t *j)
{
    memset (j, 0, sizeof *j);
    assert_int_equal (features_tokens (text, len, join_cb, j), 0);
    return j->buf;
}

/*  The reference: utf8proc_map, then runs of L, M and N code points.  */
static void
reference_tokens (const char *text, size_t len, joined_t *j)
{
    memset (j, 0, sizeof *j);
    utf8proc_uint8_t *norm = NULL;
    utf8proc_ssize_t n = utf8proc_map ((const utf8proc_uint8_t *) text, (utf8proc_ssize_t) len,
                                       &norm, UTF8PROC_STABLE | UTF8PROC_COMPAT | UTF8PROC_COMPOSE
                                       | UTF8PROC_CASEFOLD | UTF8PROC_IGNORE | UTF8PROC_STRIPCC);
    assert_true (n >= 0);
    utf8proc_ssize_t i = 0, start = -1;
    while (i <= n) {
        utf8proc_int32_t cp = -1;
        utf8proc_ssize_t k = 1;
        if (i < n)
            k = utf8proc_iterate (norm + i, n - i, &cp);
        assert_true (k > 0);
        utf8proc_category_t cat = cp >= 0 ? utf8proc_category (cp) : UTF8PROC_CATEGORY_CN;
        bool tok = cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_NO;
        if (tok && start < 0)
            start = i;
        if (!tok && start >= 0) {
            join_cb (j, (const char *) norm + start, (size_t) (i - start));
            start = -1;
        }
        i += k;
    }
    free (norm);
}

/*  --- config ----------------------------------------------------------  */

static void
test_config (void **state)
{
    features_config_t cfg;
    features_config_default (&cfg);
    assert_int_equal (cfg.hash_bits, 18);
    assert_int_equal (cfg.ngram_max, 2);
    assert_int_equal (cfg.char_ngrams, 0);
    assert_int_equal (cfg.vector_dim, 0);
    assert_int_equal (cfg.vector_norm, VECTOR_NORM_L2);
    assert_float_equal (cfg.vector_scale, 1.0f, 0);
    assert_int_equal (features_dim (&cfg), 1u << 18);
    assert_int_equal (features_config_check (&cfg, NULL, 0), 0);
    cfg.vector_dim = 10;
    assert_int_equal (features_dim (&cfg), (1u << 18) + 10);
    cfg.hash_bits = 0;
    assert_int_equal (features_dim (&cfg), 10);

    char err[128];
    sparse_vec_t v;
    sparse_vec_init (&v);
    const struct { uint32_t bits, ngram, chars; } bad[] = {
        { 9, 2, 0 }, { 25, 2, 0 }, { 40, 2, 0 }, { 18, 0, 0 }, { 18, 3, 0 }, { 18, 2, 1 }, { 18, 2, 7 },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cfg = config (bad[i].bits, bad[i].ngram, bad[i].chars);
        err[0] = 0;
        assert_int_equal (features_config_check (&cfg, err, sizeof err), -1);
        assert_true (strlen (err) > 0);
        assert_int_equal (features_dim (&cfg), 0);
        assert_int_equal (extract (&cfg, "hello", &v), -1);
    }
    cfg = config (18, 2, 0);
    cfg.vector_dim = 3;
    cfg.vector_scale = 0;
    assert_int_equal (features_config_check (&cfg, err, sizeof err), -1);
    cfg.vector_scale = NAN;
    assert_int_equal (features_config_check (&cfg, err, sizeof err), -1);
    cfg.vector_scale = 1;
    cfg.vector_norm = (vector_norm_t) 7;
    assert_int_equal (features_config_check (&cfg, err, sizeof err), -1);
    cfg.vector_norm = VECTOR_NORM_MAX;
    cfg.hash_bits = 24;
    cfg.vector_dim = UINT32_MAX;
    assert_int_equal (features_config_check (&cfg, err, sizeof err), -1);
    sparse_vec_free (&v);
}

/*  --- exact features --------------------------------------------------  */

static void
test_unigrams_and_bigrams (void **state)
{
    sparse_vec_t v;
    sparse_vec_init (&v);
    const char *text = "Hello, World! hello...";

    features_config_t cfg = config (18, 1, 0);
    assert_int_equal (extract (&cfg, text, &v), 0);
    expect_t *e = calloc (1, sizeof *e);
    expect_str (e, 18, "w:hello");
    expect_str (e, 18, "w:world");
    expect_str (e, 18, "w:hello");
    check_expect (e, &v);

    cfg = config (18, 2, 0);
    assert_int_equal (extract (&cfg, text, &v), 0);
    expect_bigram (e, 18, "hello", "world");
    expect_bigram (e, 18, "world", "hello");
    check_expect (e, &v);
    assert_int_equal (v.n, 4);

    /* a single token: one feature of value +-1 */
    assert_int_equal (extract (&cfg, "token", &v), 0);
    assert_int_equal (v.n, 1);
    uint64_t h = XXH3_64bits_withSeed ("w:token", 7, FEATURES_SEED);
    assert_int_equal (v.idx[0], (uint32_t) (h & ((1u << 18) - 1)));
    assert_float_equal (v.val[0], (h >> 63) ? -1.0f : 1.0f, 0);

    /* bigrams appear iff ngram_max is 2: one more feature per adjacent pair */
    const char *words = "alpha beta gamma delta epsilon zeta eta theta";
    cfg = config (24, 1, 0);
    assert_int_equal (extract (&cfg, words, &v), 0);
    assert_int_equal (v.n, 8);
    cfg = config (24, 2, 0);
    assert_int_equal (extract (&cfg, words, &v), 0);
    assert_int_equal (v.n, 15);
    free (e);
    sparse_vec_free (&v);
}

static void
test_char_ngrams (void **state)
{
    sparse_vec_t v;
    sparse_vec_init (&v);
    expect_t *e = calloc (1, sizeof *e);

    /* windows over " ab ", and the bigram */
    features_config_t cfg = config (20, 2, 3);
    assert_int_equal (extract (&cfg, "AB cd", &v), 0);
    const char *keys[] = { "w:ab", "w:cd", "c: ab", "c:ab ", "c: cd", "c:cd " };
    for (size_t i = 0; i < 6; i++)
        expect_str (e, 20, keys[i]);
    expect_bigram (e, 20, "ab", "cd");
    check_expect (e, &v);

    /* a padded token shorter than n is its own n-gram */
    memset (e, 0, sizeof *e);
    cfg = config (20, 1, 5);
    assert_int_equal (extract (&cfg, "x", &v), 0);
    expect_str (e, 20, "w:x");
    expect_str (e, 20, "c: x ");
    check_expect (e, &v);

    /* n-grams count code points, not bytes */
    memset (e, 0, sizeof *e);
    cfg = config (20, 1, 2);
    assert_int_equal (extract (&cfg, "\xc3\xa9t\xc3\xa9", &v), 0);   /* "été" */
    const char *utf[] = { "w:\xc3\xa9t\xc3\xa9", "c: \xc3\xa9", "c:\xc3\xa9t", "c:t\xc3\xa9",
                          "c:\xc3\xa9 " };
    for (size_t i = 0; i < 5; i++)
        expect_str (e, 20, utf[i]);
    check_expect (e, &v);

    /* repeated n-grams add up: "aaaa" with n 2 has " a", "aa" x3, "a " */
    memset (e, 0, sizeof *e);
    assert_int_equal (extract (&cfg, "aaaa", &v), 0);
    const char *rep[] = { "w:aaaa", "c: a", "c:aa", "c:aa", "c:aa", "c:a " };
    for (size_t i = 0; i < 6; i++)
        expect_str (e, 20, rep[i]);
    check_expect (e, &v);
    free (e);
    sparse_vec_free (&v);
}

/*  Indices and signs this implementation gives: part of the model format,
    so a change here means old models score garbage.  */
static void
test_golden (void **state)
{
    static const struct {
        const char *text;
        uint32_t bits, ngram, chars;
        size_t n;
        uint32_t idx[12];
        int sign[12];
    } golden[] = {
        { "The quick brown fox", 18, 2, 0, 7,
          { 32009, 44903, 118021, 119058, 159212, 182440, 198895 },
          { -1, 1, 1, -1, -1, 1, -1 } },
        { "\xef\xbc\xa3\xef\xbd\x81\xef\xbd\x86\xc3\xa9\xcc\x81 \xc3\x89" "COLE, 42!", 12, 2, 0, 5,
          { 893, 1410, 3204, 3540, 4088 },
          { 1, -1, 1, 1, -1 } },
        { "spam spam eggs", 10, 1, 3, 10,
          { 14, 75, 107, 342, 394, 503, 664, 735, 946, 1000 },
          { -1, 1, 1, 1, -1, -1, 1, 1, -1, 1 } },
    };
    sparse_vec_t v;
    sparse_vec_init (&v);
    for (size_t g = 0; g < sizeof golden / sizeof golden[0]; g++) {
        features_config_t cfg = config (golden[g].bits, golden[g].ngram, golden[g].chars);
        assert_int_equal (extract (&cfg, golden[g].text, &v), 0);
        assert_int_equal (v.n, golden[g].n);
        for (size_t i = 0; i < v.n; i++) {
            assert_int_equal (v.idx[i], golden[g].idx[i]);
            assert_int_equal (v.val[i] < 0 ? -1 : 1, golden[g].sign[i]);
        }
    }
    sparse_vec_free (&v);
}

/*  --- normalisation and tokens -------------------------------------------  */

static void
test_nfkc_casefold (void **state)
{
    joined_t a;
    assert_string_equal (TOKS ("\xef\xbc\xa6\xef\xbd\x95\xef\xbd\x8c\xef\xbd\x8c\xef\xbd\x97"
                                     "\xef\xbd\x89\xef\xbd\x84\xef\xbd\x94\xef\xbd\x88", &a),
                         "fullwidth");
    /* É precomposed and E + U+0301, upper and lower: all "école" precomposed */
    const char *ecole[] = { "\xc3\x89" "COLE", "E\xcc\x81" "COLE", "\xc3\xa9" "cole",
                            "e\xcc\x81" "cole", "\xc3\x89" "cole" };
    for (size_t i = 0; i < 5; i++)
        assert_string_equal (tokens_of (ecole[i], strlen (ecole[i]), &a), "\xc3\xa9" "cole");
    assert_string_equal (TOKS ("\xef\xac\x81sh", &a), "fish");           /* ﬁ ligature */
    assert_string_equal (TOKS ("Stra\xc3\x9f" "e", &a), "strasse");      /* ß folds */
    assert_string_equal (TOKS ("\xe2\x91\xa0 x\xc2\xb2", &a), "1|x2");   /* ① x² */
    /* soft hyphen is default-ignorable: dropped, not a separator */
    assert_string_equal (TOKS ("co\xc2\xad" "operate", &a), "cooperate");

    /* the same features whatever the form */
    sparse_vec_t v1, v2;
    sparse_vec_init (&v1);
    sparse_vec_init (&v2);
    features_config_t cfg = config (18, 2, 3);
    assert_int_equal (extract (&cfg, "\xc3\x89" "COLE de Ｐａｒｉｓ", &v1), 0);
    assert_int_equal (extract (&cfg, "e\xcc\x81" "cole DE paris", &v2), 0);
    assert_int_equal (v1.n, v2.n);
    assert_memory_equal (v1.idx, v2.idx, v1.n * sizeof v1.idx[0]);
    assert_memory_equal (v1.val, v2.val, v1.n * sizeof v1.val[0]);
    sparse_vec_free (&v1);
    sparse_vec_free (&v2);
}

static void
test_tokens (void **state)
{
    joined_t j;
    /* combining marks stay inside their token, composed or not */
    assert_string_equal (TOKS ("nai\xcc\x88ve", &j), "na\xc3\xafve");
    assert_string_equal (TOKS ("a\xcc\xb2" "b c", &j), "a\xcc\xb2" "b|c");    /* U+0332 */
    const char *hindi = "\xe0\xa4\xb9\xe0\xa4\xbf\xe0\xa4\xa8\xe0\xa5\x8d\xe0\xa4\xa6\xe0\xa5\x80";
    assert_string_equal (tokens_of (hindi, strlen (hindi), &j), hindi);
    /* separators: punctuation, symbols, spaces, '_' and apostrophes */
    assert_string_equal (TOKS ("don't stop_now; 3.14 a+b", &j), "don|t|stop|now|3|14|a|b");
    /* controls vanish; tab, newline, CR, VT, FF separate */
    assert_string_equal (TOKS ("ab\x01" "cd\x7f" "e", &j), "abcde");
    assert_string_equal (TOKS ("a\tb\nc\r\nd\x0b" "e\x0c" "f", &j), "a|b|c|d|e|f");
    /* C1 controls vanish too, and NEL separates */
    assert_string_equal (TOKS ("x\xc2\x80y\xc2\x85z", &j), "xy|z");
    assert_string_equal (TOKS ("", &j), "");
    assert_int_equal (j.n, 0);
    assert_string_equal (TOKS ("!?.,;:-- ... \t\n", &j), "");
    assert_int_equal (j.n, 0);
    assert_int_equal (features_tokens (NULL, 0, join_cb, &j), 0);
}

static uint32_t
rnd (uint64_t *s)
{
    *s = *s * 6364136223846793005u + 1442695040888963407u;
    return (uint32_t) (*s >> 33);
}

/*  Random text from pieces that stress normalisation at the boundaries
    between ASCII and the rest.  */
static size_t
random_text (uint64_t *seed, char *buf, size_t cap)
{
    static const char *pieces[] = {
        "a", "Z", "e", "E", "q", "0", "9", " ", ",", "'", "_", "<", "=", "\t", "\r", "\n", "\r\n",
        "\x01", "\x7f", "\x0b", "\xcc\x81", "\xcc\x88", "\xcc\xb8", "\xcc\xb2", "\xc3\xa9", "\xc3\x89",
        "\xc3\x9f", "\xef\xac\x81", "\xef\xbc\xa1", "\xc2\xad", "\xe2\x80\x8d", "\xe2\x80\x8b",
        "\xc2\x85", "\xc2\x80", "\xe1\x84\x80", "\xe1\x85\xa1", "\xe1\x86\xa8", "\xea\xb0\x80",
        "\xe2\x91\xa0", "\xc2\xb2", "\xc4\xb0", "\xce\xa3", "\xe3\x8c\x80", "\xef\xb7\xba",
        "\xf0\x9f\x98\x80", "\xe0\xa4\xb9", "\xe0\xa5\x8d", "\xe2\x80\xa8", "\xe3\x80\x80",
        "\xd9\xa3", "\xe2\x85\xa0", "\xe2\x84\xab", "\xe2\x84\xa6",
    };
    const size_t n_pieces = sizeof pieces / sizeof pieces[0];
    size_t len = 0;
    size_t want = rnd (seed) % (cap / 4);
    while (len < want) {
        const char *p = pieces[rnd (seed) % n_pieces];
        size_t l = strlen (p);
        if (len + l >= cap)
            break;
        memcpy (buf + len, p, l);
        len += l;
    }
    buf[len] = 0;
    return len;
}

static void
test_reference_normalisation (void **state)
{
    joined_t *got = malloc (sizeof *got), *ref = malloc (sizeof *ref);
    char text[1024];
    uint64_t seed = 12345;
    for (int round = 0; round < 3000; round++) {
        size_t len = random_text (&seed, text, sizeof text);
        tokens_of (text, len, got);
        reference_tokens (text, len, ref);
        if (strcmp (got->buf, ref->buf) != 0)
            fail_msg ("round %d: got \"%s\", utf8proc_map gives \"%s\"", round, got->buf, ref->buf);
    }
    free (got);
    free (ref);
}

/*  --- invalid input ----------------------------------------------------  */

static void
test_invalid_utf8 (void **state)
{
    static const struct {
        const char *bytes;
        size_t len;
    } bad[] = {
        { "ab\xc0\x80", 4 },                /* overlong NUL */
        { "\xe0\x80\xaf", 3 },              /* overlong '/' */
        { "x\xed\xa0\x80y", 5 },            /* surrogate U+D800 */
        { "ok \xe2\x82", 5 },               /* truncated euro sign */
        { "\xe2\x82 rest", 7 },             /* truncated, then more */
        { "caf\xff", 4 },                   /* 0xFF */
        { "\x80", 1 },                      /* lone continuation */
        { "\xf4\x90\x80\x80", 4 },          /* above U+10FFFF */
        { "a\0b", 3 },                      /* NUL */
    };
    features_config_t cfg = config (18, 2, 3);
    sparse_vec_t v;
    sparse_vec_init (&v);
    assert_int_equal (extract (&cfg, "some valid text first", &v), 0);
    assert_true (v.n > 0);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[256] = "";
        int rc = features_extract (&cfg, bad[i].bytes, bad[i].len, NULL, 0, &v, err, sizeof err);
        assert_int_equal (rc, -1);
        assert_int_equal (v.n, 0);
        assert_non_null (strstr (err, "UTF-8"));
        joined_t j;
        memset (&j, 0, sizeof j);
        assert_int_equal (features_tokens (bad[i].bytes, bad[i].len, join_cb, &j), -1);
        assert_int_equal (j.n, 0);
    }
    char err[256];
    assert_int_equal (features_extract (&cfg, "x\xed\xa0\x80y", 5, NULL, 0, &v, err, sizeof err), -1);
    assert_non_null (strstr (err, "offset 1"));
    /* hash_bits 0 ignores text but still refuses a bad one */
    cfg.hash_bits = 0;
    assert_int_equal (features_extract (&cfg, "\xff", 1, NULL, 0, &v, NULL, 0), -1);
    sparse_vec_free (&v);
}

static void
test_empty_text (void **state)
{
    features_config_t cfg = config (18, 2, 4);
    sparse_vec_t v;
    sparse_vec_init (&v);
    assert_int_equal (features_extract (&cfg, NULL, 0, NULL, 0, &v, NULL, 0), 0);
    assert_int_equal (v.n, 0);
    assert_int_equal (extract (&cfg, "", &v), 0);
    assert_int_equal (v.n, 0);
    assert_int_equal (extract (&cfg, "  ... !!! ??? --- (*) [] {} \xe2\x80\x94 \xc2\xbf", &v), 0);
    assert_int_equal (v.n, 0);
    assert_int_equal (extract (&cfg, "\x01\x02\xe2\x80\x8b\xc2\xad", &v), 0);
    assert_int_equal (v.n, 0);
    /* NULL with a length is an error, not a crash */
    assert_int_equal (features_extract (&cfg, NULL, 5, NULL, 0, &v, NULL, 0), -1);
    sparse_vec_free (&v);
}

/*  --- dense part ---------------------------------------------------------  */

static void
test_dense (void **state)
{
    features_config_t cfg = config (10, 2, 0);
    cfg.vector_dim = 4;
    const float vec[4] = { 3, 0, -4, 0 };
    const uint32_t base = 1u << 10;
    sparse_vec_t v;
    sparse_vec_init (&v);
    char err[256];

    cfg.vector_norm = VECTOR_NORM_L2;
    assert_int_equal (features_extract (&cfg, NULL, 0, vec, 4, &v, err, sizeof err), 0);
    assert_int_equal (v.n, 2);
    assert_int_equal (v.idx[0], base);
    assert_int_equal (v.idx[1], base + 2);
    assert_float_equal (v.val[0], 0.6f, 1e-7);
    assert_float_equal (v.val[1], -0.8f, 1e-7);

    cfg.vector_scale = 2;
    assert_int_equal (features_extract (&cfg, NULL, 0, vec, 4, &v, err, sizeof err), 0);
    assert_float_equal (v.val[0], 1.2f, 1e-6);
    assert_float_equal (v.val[1], -1.6f, 1e-6);

    cfg.vector_norm = VECTOR_NORM_MAX;
    cfg.vector_scale = 1;
    assert_int_equal (features_extract (&cfg, NULL, 0, vec, 4, &v, err, sizeof err), 0);
    assert_float_equal (v.val[0], 0.75f, 1e-7);
    assert_float_equal (v.val[1], -1.0f, 1e-7);

    cfg.vector_norm = VECTOR_NORM_NONE;
    cfg.vector_scale = 0.5f;
    assert_int_equal (features_extract (&cfg, NULL, 0, vec, 4, &v, err, sizeof err), 0);
    assert_float_equal (v.val[0], 1.5f, 0);
    assert_float_equal (v.val[1], -2.0f, 0);

    /* a zero vector adds nothing, under every norm */
    const float zero[4] = { 0 };
    for (int norm = 0; norm < 3; norm++) {
        cfg.vector_norm = (vector_norm_t) norm;
        assert_int_equal (features_extract (&cfg, NULL, 0, zero, 4, &v, err, sizeof err), 0);
        assert_int_equal (v.n, 0);
    }

    /* text then dense, sorted; the text part alone has norm 1 */
    cfg.vector_norm = VECTOR_NORM_L2;
    cfg.vector_scale = 1;
    assert_int_equal (features_extract (&cfg, "red green blue", 14, vec, 4, &v, err, sizeof err), 0);
    assert_int_equal (v.n, 5 + 2);
    double sumsq = 0;
    for (size_t i = 0; i < 5; i++) {
        assert_true (v.idx[i] < base);
        sumsq += (double) v.val[i] * v.val[i];
    }
    assert_float_equal (sumsq, 1.0, 1e-5);
    assert_int_equal (v.idx[5], base);
    assert_int_equal (v.idx[6], base + 2);

    /* no vector given: no dense part, no error */
    assert_int_equal (features_extract (&cfg, "red", 3, NULL, 0, &v, err, sizeof err), 0);
    assert_int_equal (v.n, 1);

    /* with hash_bits 0 the dense part starts at 0 */
    cfg.hash_bits = 0;
    assert_int_equal (features_extract (&cfg, "ignored words", 13, vec, 4, &v, err, sizeof err), 0);
    assert_int_equal (v.n, 2);
    assert_int_equal (v.idx[0], 0);
    assert_int_equal (v.idx[1], 2);
    assert_int_equal (features_dim (&cfg), 4);
    cfg.hash_bits = 10;

    /* wrong length, missing values, NaN and infinities are refused */
    assert_int_equal (features_extract (&cfg, "red", 3, vec, 3, &v, err, sizeof err), -1);
    assert_non_null (strstr (err, "expected 4"));
    assert_int_equal (v.n, 0);
    assert_int_equal (features_extract (&cfg, "red", 3, NULL, 4, &v, err, sizeof err), -1);
    const float nan[4] = { 1, NAN, 0, 0 }, inf[4] = { 0, 0, 0, -INFINITY };
    assert_int_equal (features_extract (&cfg, "red", 3, nan, 4, &v, err, sizeof err), -1);
    assert_non_null (strstr (err, "not finite"));
    assert_int_equal (features_extract (&cfg, "red", 3, inf, 4, &v, err, sizeof err), -1);
    /* a finite value that overflows once scaled */
    cfg.vector_norm = VECTOR_NORM_NONE;
    cfg.vector_scale = 10;
    const float big[4] = { 3e38f, 0, 0, 0 };
    assert_int_equal (features_extract (&cfg, "red", 3, big, 4, &v, err, sizeof err), -1);
    assert_int_equal (v.n, 0);

    /* the message names the first bad value, in the 4-wide part or after */
    cfg.vector_dim = 7;
    const float late[7] = { 0, 0, 0, 0, 0, 3e38f, 0 };
    assert_int_equal (features_extract (&cfg, "red", 3, late, 7, &v, err, sizeof err), -1);
    assert_non_null (strstr (err, "value 5 overflows"));
    cfg.vector_norm = VECTOR_NORM_L2;
    cfg.vector_scale = 1;
    const float tail[7] = { 1, 2, 3, 4, 5, 6, INFINITY }, mid[7] = { 1, 2, NAN, 4, 5, 6, NAN };
    assert_int_equal (features_extract (&cfg, "red", 3, tail, 7, &v, err, sizeof err), -1);
    assert_non_null (strstr (err, "value 6 is not finite"));
    assert_int_equal (features_extract (&cfg, "red", 3, mid, 7, &v, err, sizeof err), -1);
    assert_non_null (strstr (err, "value 2 is not finite"));
    assert_int_equal (v.n, 0);
    sparse_vec_free (&v);
}

/*  features_dense_factor says what features_extract multiplies the vector
    by, and refuses what it refuses, with the same messages.  */
static void
test_dense_factor (void **state)
{
    features_config_t cfg = config (10, 2, 0);
    cfg.vector_dim = 13;
    float vec[13];
    for (size_t i = 0; i < 13; i++)
        vec[i] = (float) ((int) (i * 7 % 11) - 5) * 0.37f;   /* zeros, signs, a 4-wide tail */
    sparse_vec_t v;
    sparse_vec_init (&v);
    char err[256];
    double f = -1;
    const float scales[] = { 1.0f, 0.0625f, 3.5f };
    for (int norm = 0; norm < 3; norm++)
        for (size_t s = 0; s < 3; s++) {
            cfg.vector_norm = (vector_norm_t) norm;
            cfg.vector_scale = scales[s];
            assert_int_equal (features_extract (&cfg, NULL, 0, vec, 13, &v, err, sizeof err), 0);
            assert_int_equal (features_dense_factor (&cfg, vec, 13, &f, err, sizeof err), 0);
            assert_true (f > 0);
            size_t e = 0;
            for (size_t i = 0; i < 13; i++) {
                if (vec[i] == 0)
                    continue;
                assert_int_equal (v.idx[e], 1024 + i);
                assert_float_equal (v.val[e], vec[i] * f, 1e-6 * fabs (v.val[e]));
                e++;
            }
            assert_int_equal (e, v.n);
        }
    double ss = 0;
    for (size_t i = 0; i < 13; i++)
        ss += (double) vec[i] * vec[i];
    cfg.vector_norm = VECTOR_NORM_L2;
    cfg.vector_scale = 1;
    assert_int_equal (features_dense_factor (&cfg, vec, 13, &f, err, sizeof err), 0);
    assert_float_equal (f, 1.0 / sqrt (ss), 1e-12);
    cfg.vector_norm = VECTOR_NORM_MAX;
    cfg.vector_scale = 1;
    assert_int_equal (features_dense_factor (&cfg, vec, 13, &f, err, sizeof err), 0);
    assert_float_equal (f, 1.0 / (double) (5 * 0.37f), 1e-9);

    /* an absent vector, or a zero one that would be normalised: factor 0;
       unnormalised, a zero vector just has zero values */
    const float zero[13] = { 0 };
    for (int norm = 0; norm < 3; norm++) {
        cfg.vector_norm = (vector_norm_t) norm;
        assert_int_equal (features_dense_factor (&cfg, zero, 13, &f, err, sizeof err), 0);
        assert_true (f == (norm == VECTOR_NORM_NONE ? 1.0 : 0.0));
    }
    assert_int_equal (features_dense_factor (&cfg, NULL, 0, &f, err, sizeof err), 0);
    assert_true (f == 0);

    /* the same refusals as features_extract */
    assert_int_equal (features_dense_factor (&cfg, vec, 12, &f, err, sizeof err), -1);
    assert_non_null (strstr (err, "expected 13"));
    assert_int_equal (features_dense_factor (&cfg, NULL, 13, &f, err, sizeof err), -1);
    vec[11] = NAN;
    assert_int_equal (features_dense_factor (&cfg, vec, 13, &f, err, sizeof err), -1);
    assert_non_null (strstr (err, "value 11 is not finite"));
    assert_true (f == 0);
    vec[11] = 3e38f;
    cfg.vector_norm = VECTOR_NORM_L2;           /* normalised first: no overflow */
    cfg.vector_scale = 10;
    assert_int_equal (features_dense_factor (&cfg, vec, 13, &f, err, sizeof err), 0);
    cfg.vector_norm = VECTOR_NORM_NONE;
    assert_int_equal (features_dense_factor (&cfg, vec, 13, &f, err, sizeof err), -1);
    assert_non_null (strstr (err, "value 11 overflows"));
    assert_int_equal (features_extract (&cfg, NULL, 0, vec, 13, &v, err, sizeof err), -1);
    assert_non_null (strstr (err, "value 11 overflows"));
    cfg.vector_scale = 1;                       /* at scale 1 a finite value stays finite */
    assert_int_equal (features_dense_factor (&cfg, vec, 13, &f, err, sizeof err), 0);
    assert_true (f == 1);
    cfg.hash_bits = 3;
    assert_int_equal (features_dense_factor (&cfg, vec, 13, &f, err, sizeof err), -1);
    assert_non_null (strstr (err, "hash_bits"));
    sparse_vec_free (&v);
}

static void
test_dot (void **state)
{
    sparse_vec_t v;
    sparse_vec_init (&v);
    assert_float_equal (sparse_vec_dot (&v, NULL, 0), 0, 0);
    uint32_t idx[] = { 1, 3, 7, 10 };
    float val[] = { 0.5f, -2, 4, 100 };
    v.idx = idx;
    v.val = val;
    v.n = 4;
    float dense[8] = { 9, 1, 9, 2, 9, 9, 9, 0.25f };
    /* index 10 lies past the row and is ignored */
    assert_float_equal (sparse_vec_dot (&v, dense, 8), 0.5f - 4 + 1, 1e-6);
    assert_float_equal (sparse_vec_dot (&v, dense, 4), 0.5f - 4, 1e-6);

    /* with real features: the dot with a row of ones is the sum of values */
    sparse_vec_t f;
    sparse_vec_init (&f);
    features_config_t cfg = config (10, 2, 0);
    assert_int_equal (extract (&cfg, "one two three two", &f), 0);
    float *ones = malloc (sizeof (float) << 10);
    double sum = 0;
    for (size_t i = 0; i < (1u << 10); i++)
        ones[i] = 1;
    for (size_t i = 0; i < f.n; i++)
        sum += f.val[i];
    assert_float_equal (sparse_vec_dot (&f, ones, 1u << 10), sum, 1e-5);
    /* the dot with itself is 1: unit norm */
    memset (ones, 0, sizeof (float) << 10);
    for (size_t i = 0; i < f.n; i++)
        ones[f.idx[i]] = f.val[i];
    assert_float_equal (sparse_vec_dot (&f, ones, 1u << 10), 1.0, 1e-5);
    free (ones);
    sparse_vec_free (&f);
}

/*  --- invariants on long random text -------------------------------------  */

static void
check_invariants (const features_config_t *cfg, const sparse_vec_t *v)
{
    size_t dim = features_dim (cfg);
    uint32_t text_end = cfg->hash_bits ? 1u << cfg->hash_bits : 0;
    double sumsq = 0;
    for (size_t i = 0; i < v->n; i++) {
        assert_true (v->idx[i] < dim);
        if (i)
            assert_true (v->idx[i - 1] < v->idx[i]);
        assert_true (isfinite (v->val[i]));
        assert_true (v->val[i] != 0);
        if (v->idx[i] < text_end)
            sumsq += (double) v->val[i] * v->val[i];
    }
    if (v->n)
        assert_float_equal (sumsq, 1.0, 1e-4);
}

static void
test_long_random_text (void **state)
{
    size_t cap = 300000;
    char *text = malloc (cap);
    uint64_t seed = 99;
    sparse_vec_t v, w;
    sparse_vec_init (&v);
    sparse_vec_init (&w);
    const uint32_t cfgs[][3] = { { 18, 2, 0 }, { 10, 2, 4 }, { 24, 1, 6 }, { 12, 2, 2 } };
    for (int round = 0; round < 12; round++) {
        size_t len = 0;
        /* words from a small vocabulary mixed with the stress pieces */
        while (len + 64 < cap / (round % 3 == 0 ? 1 : 8)) {
            if (rnd (&seed) % 3) {
                len += (size_t) snprintf (text + len, 64, "w%u ", rnd (&seed) % 5000);
            }
            else {
                char piece[256];
                uint64_t s2 = rnd (&seed);
                size_t l = random_text (&s2, piece, sizeof piece);
                memcpy (text + len, piece, l);
                len += l;
            }
        }
        const uint32_t *c = cfgs[round % 4];
        features_config_t cfg = config (c[0], c[1], c[2]);
        cfg.vector_dim = 8;
        float vec[8];
        for (int i = 0; i < 8; i++)
            vec[i] = (float) ((int) (rnd (&seed) % 5) - 2);
        char err[256];
        assert_int_equal (features_extract (&cfg, text, len, vec, 8, &v, err, sizeof err), 0);
        assert_true (v.n > 0);
        check_invariants (&cfg, &v);
        /* deterministic, and a fresh vector gives the same as a reused one */
        sparse_vec_t fresh;
        sparse_vec_init (&fresh);
        assert_int_equal (features_extract (&cfg, text, len, vec, 8, &fresh, err, sizeof err), 0);
        assert_int_equal (fresh.n, v.n);
        assert_memory_equal (fresh.idx, v.idx, v.n * sizeof v.idx[0]);
        assert_memory_equal (fresh.val, v.val, v.n * sizeof v.val[0]);
        sparse_vec_free (&fresh);
        /* a short text after a long one: the buffers are reset */
        assert_int_equal (extract (&cfg, "short", &w), 0);
        assert_int_equal (extract (&cfg, "short", &v), 0);
        assert_int_equal (v.n, w.n);
        assert_memory_equal (v.idx, w.idx, v.n * sizeof v.idx[0]);
    }
    free (text);
    sparse_vec_free (&v);
    sparse_vec_free (&w);
}

static void
count_cb (void *arg, const char *tok, size_t len)
{
    (*(size_t *) arg)++;
}

/*  NFKC can make a text much longer (U+FDFA is 18 code points); and there
    is a limit.  */
static void
test_sizes (void **state)
{
    const size_t copies = 20000;
    char *text = malloc (copies * 3 + 1);
    for (size_t i = 0; i < copies; i++)
        memcpy (text + 3 * i, "\xef\xb7\xba", 3);
    size_t n_tok = 0;
    assert_int_equal (features_tokens (text, copies * 3, count_cb, &n_tok), 0);
    assert_int_equal (n_tok, 3 * copies + 1);   /* the last word runs into the next first */
    features_config_t cfg = config (16, 2, 3);
    sparse_vec_t v;
    sparse_vec_init (&v);
    assert_int_equal (features_extract (&cfg, text, copies * 3, NULL, 0, &v, NULL, 0), 0);
    check_invariants (&cfg, &v);
    free (text);

    size_t big = (16u << 20) + 1;
    cfg = config (16, 1, 0);
    text = malloc (big);
    memset (text, 'a', big);
    char err[256];
    assert_int_equal (features_extract (&cfg, text, big, NULL, 0, &v, err, sizeof err), -1);
    assert_non_null (strstr (err, "longer"));
    /* the limit itself is fine: one token */
    assert_int_equal (features_extract (&cfg, text, big - 1, NULL, 0, &v, err, sizeof err), 0);
    check_invariants (&cfg, &v);
    free (text);
    sparse_vec_free (&v);
}

/*  Tokens whose buckets share their low bits defeat the counting table
    (count.c gives up and sorts instead); the result must not change.  */
static void
test_colliding_tokens (void **state)
{
    const uint32_t bits = 20;
    char *text = malloc (64 * 16);
    size_t len = 0;
    int found = 0;
    expect_t *e = calloc (1, sizeof *e);
    for (uint32_t i = 0; found < 64; i++) {
        char key[32];
        int kl = snprintf (key, sizeof key, "w:t%u", i);
        uint64_t h = XXH3_64bits_withSeed (key, (size_t) kl, FEATURES_SEED);
        if ((h & 0xff) != 0x5a)
            continue;
        len += (size_t) sprintf (text + len, "t%u ", i);
        expect_key (e, bits, key, (size_t) kl);
        found++;
    }
    sparse_vec_t v;
    sparse_vec_init (&v);
    features_config_t cfg = config (bits, 1, 0);
    assert_int_equal (features_extract (&cfg, text, len, NULL, 0, &v, NULL, 0), 0);
    check_expect (e, &v);
    free (e);
    free (text);
    sparse_vec_free (&v);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_config),
        cmocka_unit_test (test_unigrams_and_bigrams),
        cmocka_unit_test (test_char_ngrams),
        cmocka_unit_test (test_golden),
        cmocka_unit_test (test_nfkc_casefold),
        cmocka_unit_test (test_tokens),
        cmocka_unit_test (test_reference_normalisation),
        cmocka_unit_test (test_invalid_utf8),
        cmocka_unit_test (test_empty_text),
        cmocka_unit_test (test_dense),
        cmocka_unit_test (test_dense_factor),
        cmocka_unit_test (test_dot),
        cmocka_unit_test (test_long_random_text),
        cmocka_unit_test (test_colliding_tokens),
        cmocka_unit_test (test_sizes),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
