/*  features.c: one item (text and dense vector) to a sparse vector.

    Hash keys carry a namespace so the kinds of text feature never collide
    systematically: "w:" + token for unigrams, "c:" + n-gram for character
    n-grams, each hashed once with XXH3-64 (seed FEATURES_SEED). A bigram
    of adjacent tokens a b is not hashed from its bytes: its hash is
    fbigram_hash (h(a), h(b)) of the two unigram hashes (XXH3-64 of "w:" +
    token), a multiply, an xor and the splitmix64 finaliser, so each token
    is hashed once and no bigram string is built. Character n-grams are
    taken over code points of the token padded with one space on each side
    (scikit-learn's char_wb), so word starts and ends are features of their
    own; a padded token shorter than n gives itself as its one n-gram.

    Of each 64-bit hash the low hash_bits bits pick the bucket, bit 63 the
    sign. Each occurrence adds +1 or -1 to its bucket; a bucket's value is
    sign(c) * log1p(|c|) of its summed count c, buckets that cancel to 0
    are dropped, and the text part is scaled to unit L2 norm. log1p of the
    common small counts comes from a table, so the values are the same
    whatever libm the host has.

    Occurrences are gathered as 32-bit keys (bucket << 1 | sign) straight
    into the output's index buffer, summed per bucket and sorted there (see
    count.c and sparse.c): no per-token allocation, and the output's
    buffers are reused from one item to the next.
*/
#include "features/features_internal.h"

#include <math.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "util/util.h"

/*  log1p(c) for c = 0..32, correctly rounded (Python's math.log1p).  */
static const double s_log1p[] = {
    0.0, 0.6931471805599453, 1.0986122886681096, 1.3862943611198906,
    1.6094379124341003, 1.791759469228055, 1.9459101490553132, 2.0794415416798357,
    2.1972245773362196, 2.302585092994046, 2.3978952727983707, 2.4849066497880004,
    2.5649493574615367, 2.639057329615259, 2.70805020110221, 2.772588722239781,
    2.833213344056216, 2.8903717578961645, 2.9444389791664403, 2.995732273553991,
    3.044522437723423, 3.091042453358316, 3.1354942159291497, 3.1780538303479458,
    3.2188758248682006, 3.258096538021482, 3.295836866004329, 3.332204510175204,
    3.367295829986474, 3.4011973816621555, 3.4339872044851463, 3.4657359027997265,
    3.4965075614664802,
};
#define LOG1P_TABLE ((int64_t) (sizeof s_log1p / sizeof s_log1p[0]))

void
features_config_default (features_config_t *cfg)
{
    *cfg = (features_config_t) {
        .hash_bits = 18,
        .ngram_max = 2,
        .char_ngrams = 0,
        .vector_dim = 0,
        .vector_norm = VECTOR_NORM_L2,
        .vector_scale = 1.0f,
    };
}

int
features_config_check (const features_config_t *cfg, char *err, size_t errlen)
{
    if (!cfg)
        return err_set (err, errlen, "features: no config");
    if (cfg->hash_bits != 0 && (cfg->hash_bits < 10 || cfg->hash_bits > 24))
        return err_set (err, errlen, "features: hash_bits %u is not 0 or 10..24", cfg->hash_bits);
    if (cfg->ngram_max != 1 && cfg->ngram_max != 2)
        return err_set (err, errlen, "features: ngram_max %u is not 1 or 2", cfg->ngram_max);
    if (cfg->char_ngrams != 0 && (cfg->char_ngrams < 2 || cfg->char_ngrams > 6))
        return err_set (err, errlen, "features: char_ngrams %u is not 0 or 2..6", cfg->char_ngrams);
    if (cfg->vector_norm != VECTOR_NORM_NONE && cfg->vector_norm != VECTOR_NORM_L2
        && cfg->vector_norm != VECTOR_NORM_MAX)
        return err_set (err, errlen, "features: unknown vector_norm %d", (int) cfg->vector_norm);
    if (cfg->vector_dim > 0 && !(isfinite (cfg->vector_scale) && cfg->vector_scale > 0))
        return err_set (err, errlen, "features: vector_scale %g is not a positive number",
                        (double) cfg->vector_scale);
    uint64_t base = cfg->hash_bits ? (uint64_t) 1 << cfg->hash_bits : 0;
    if (base + cfg->vector_dim > (uint64_t) UINT32_MAX + 1)
        return err_set (err, errlen, "features: vector_dim %u is too large", cfg->vector_dim);
    return 0;
}

size_t
features_dim (const features_config_t *cfg)
{
    if (features_config_check (cfg, NULL, 0) != 0)
        return 0;
    size_t base = cfg->hash_bits ? (size_t) 1 << cfg->hash_bits : 0;
    return base + cfg->vector_dim;
}

static inline uint32_t
s_key_of (uint64_t h, uint32_t mask)
{
    return (uint32_t) (h & mask) << 1 | (uint32_t) (h >> 63);
}

static inline uint32_t
s_key (const char *key, size_t len, uint32_t mask)
{
    return s_key_of (XXH3_64bits_withSeed (key, len, FEATURES_SEED), mask);
}

static size_t
s_n_char_grams (uint32_t ncp, uint32_t n)
{
    size_t padded = (size_t) ncp + 2;
    return padded >= n ? padded - n + 1 : 1;
}

static size_t
s_cp_len (unsigned char lead)
{
    return lead < 0x80 ? 1 : lead < 0xe0 ? 2 : lead < 0xf0 ? 3 : 4;
}

/*  Character n-grams of one token; returns the number of keys written.
    pad gets "c: " + token + " "; each n-gram is hashed where it lies, with
    the two bytes before it briefly overwritten by the "c:" prefix.  */
static size_t
s_char_grams (const char *tok, size_t len, uint32_t ncp, uint32_t n, uint32_t mask,
              char *pad, uint32_t *keys)
{
    pad[0] = 'c';
    pad[1] = ':';
    pad[2] = ' ';
    memcpy (pad + 3, tok, len);
    pad[3 + len] = ' ';
    char *p = pad + 2;
    const char *end = pad + 4 + len;
    if ((size_t) ncp + 2 <= n) {
        /* too short for a window: the padded token is its only n-gram */
        keys[0] = s_key (pad, len + 4, mask);
        return 1;
    }
    char *q = p;
    for (uint32_t i = 0; i < n; i++)
        q += s_cp_len ((unsigned char) *q);
    size_t k = 0;
    for (;;) {
        char save0 = p[-2], save1 = p[-1];
        p[-2] = 'c';
        p[-1] = ':';
        keys[k++] = s_key (p - 2, (size_t) (q - p) + 2, mask);
        p[-2] = save0;
        p[-1] = save1;
        if (q == end)
            break;
        p += s_cp_len ((unsigned char) *p);
        q += s_cp_len ((unsigned char) *q);
    }
    return k;
}

/*  All occurrence keys of the text, into keys (sized by the caller);
    uh holds n_tok unigram hashes.  */
static size_t
s_gather (const features_config_t *cfg, const ftokens_t *t, char *kb, uint64_t *uh,
          uint32_t *keys)
{
    uint32_t mask = ((uint32_t) 1 << cfg->hash_bits) - 1;
    size_t k = 0;
    kb[0] = 'w';
    kb[1] = ':';
    for (size_t i = 0; i < t->n_tok; i++) {
        memcpy (kb + 2, t->text + t->tok[i].off, t->tok[i].len);
        uh[i] = XXH3_64bits_withSeed (kb, 2 + t->tok[i].len, FEATURES_SEED);
        keys[k++] = s_key_of (uh[i], mask);
    }
    if (cfg->ngram_max >= 2)
        for (size_t i = 1; i < t->n_tok; i++)
            keys[k++] = s_key_of (fbigram_hash (uh[i - 1], uh[i]), mask);
    if (cfg->char_ngrams)
        for (size_t i = 0; i < t->n_tok; i++)
            k += s_char_grams (t->text + t->tok[i].off, t->tok[i].len, t->tok[i].ncp,
                               cfg->char_ngrams, mask, kb, keys + k);
    return k;
}

static double
s_log1p_count (int32_t c)
{
    int64_t a = c < 0 ? -(int64_t) c : c;
    double v = a < LOG1P_TABLE ? s_log1p[a] : log1p ((double) a);
    return c < 0 ? -v : v;
}

/*  (bucket, count) pairs to values, L2 normalised.  */
static void
s_values (sparse_vec_t *out, const int32_t *counts, size_t n)
{
    double sumsq = 0;
    for (size_t i = 0; i < n; i++) {
        double v = s_log1p_count (counts[i]);
        sumsq += v * v;
    }
    double norm = sqrt (sumsq);
    for (size_t i = 0; i < n; i++)
        out->val[i] = (float) (s_log1p_count (counts[i]) / norm);
    out->n = n;
}

static int
s_text (const features_config_t *cfg, const ftokens_t *t, fscratch_t *s, sparse_vec_t *out,
        char *err, size_t errlen)
{
    size_t n_keys = t->n_tok;
    if (cfg->ngram_max >= 2 && t->n_tok > 1)
        n_keys += t->n_tok - 1;
    if (cfg->char_ngrams)
        for (size_t i = 0; i < t->n_tok; i++)
            n_keys += s_n_char_grams (t->tok[i].ncp, cfg->char_ngrams);
    if (n_keys == 0)
        return 0;
    char *kb = fscratch_alloc (s, t->len + 32);
    uint64_t *uh = fscratch_alloc (s, t->n_tok * sizeof *uh);
    uint32_t *tmp = fscratch_alloc (s, n_keys * sizeof *tmp);
    int32_t *counts = fscratch_alloc (s, n_keys * sizeof *counts);
    if (!kb || !uh || !tmp || !counts || sparse_vec_reserve (out, n_keys) != 0)
        return err_set (err, errlen, "features: out of memory for %zu features", n_keys);
    size_t k = s_gather (cfg, t, kb, uh, out->idx);
    size_t u = fcount_keys (out->idx, k, counts, tmp, s);
    s_values (out, counts, u);
    return 0;
}

/*  Index of the first value that is not finite (all exponent bits set),
    or n. Four values at a time with no branch but the loop's: this runs
    over every pixel of every item.  */
typedef uint32_t v4u __attribute__ ((vector_size (16)));

static size_t
s_first_nonfinite (const float *v, size_t n)
{
    const v4u expo = { 0x7f800000u, 0x7f800000u, 0x7f800000u, 0x7f800000u };
    v4u bad4 = { 0, 0, 0, 0 };
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        v4u x;
        memcpy (&x, v + i, sizeof x);
        bad4 |= (v4u) ((x & expo) == expo);
    }
    bool bad = (bad4[0] | bad4[1] | bad4[2] | bad4[3]) != 0;
    for (; i < n; i++)
        bad |= !isfinite (v[i]);
    if (!bad)
        return n;
    for (i = 0; i < n && isfinite (v[i]); i++)
        ;
    return i;
}

/*  Dense values at base + i, zeros skipped. Pixels are often half zeros
    in no pattern, so every value is written and the count advances by
    (y != 0): no branch per value. Without a norm, v / 1.0 is v, so the
    division goes (the result is the same float).  */
static size_t
s_dense_put (const float *restrict vec, size_t n_vec, double norm, double scale, uint32_t base,
             uint32_t *restrict idx, float *restrict val)
{
    size_t w = 0;
    if (norm == 1.0)
        for (size_t i = 0; i < n_vec; i++) {
            float y = (float) ((double) vec[i] * scale);
            idx[w] = base + (uint32_t) i;
            val[w] = y;
            w += y != 0.0f;
        }
    else
        for (size_t i = 0; i < n_vec; i++) {
            float y = (float) ((double) vec[i] / norm * scale);
            idx[w] = base + (uint32_t) i;
            val[w] = y;
            w += y != 0.0f;
        }
    return w;
}

static int
s_dense (const features_config_t *cfg, const float *vec, size_t n_vec, sparse_vec_t *out,
         char *err, size_t errlen)
{
    double norm = 1.0;
    if (cfg->vector_norm == VECTOR_NORM_L2) {
        double ss = 0;
        for (size_t i = 0; i < n_vec; i++)
            ss += (double) vec[i] * vec[i];
        norm = sqrt (ss);
    }
    else if (cfg->vector_norm == VECTOR_NORM_MAX) {
        norm = 0;
        for (size_t i = 0; i < n_vec; i++)
            if (fabs ((double) vec[i]) > norm)
                norm = fabs ((double) vec[i]);
    }
    if (norm == 0)
        return 0;               /* a zero vector adds nothing */
    if (sparse_vec_reserve (out, out->n + n_vec) != 0)
        return err_set (err, errlen, "features: out of memory for %zu dense values", n_vec);
    uint32_t base = cfg->hash_bits ? (uint32_t) 1 << cfg->hash_bits : 0;
    size_t w = s_dense_put (vec, n_vec, norm, cfg->vector_scale, base, out->idx + out->n,
                            out->val + out->n);
    size_t bad = s_first_nonfinite (out->val + out->n, w);
    if (bad < w)
        return err_set (err, errlen, "features: vector value %u overflows once scaled",
                        out->idx[out->n + bad] - base);
    out->n += w;
    return 0;
}

static int
s_check_vector (const features_config_t *cfg, const float *vec, size_t n_vec,
                char *err, size_t errlen)
{
    if (n_vec != 0 && n_vec != cfg->vector_dim)
        return err_set (err, errlen, "features: vector has %zu values, expected %u",
                        n_vec, cfg->vector_dim);
    if (n_vec != 0 && !vec)
        return err_set (err, errlen, "features: vector is NULL but has %zu values", n_vec);
    size_t bad = s_first_nonfinite (vec, n_vec);
    if (bad < n_vec)
        return err_set (err, errlen, "features: vector value %zu is not finite", bad);
    return 0;
}

/*  Largest |v[i]| of n finite values, four at a time (no branch per value:
    the compiler does not vectorise a float max without -ffast-math).  */
typedef float v4f __attribute__ ((vector_size (16)));
typedef int32_t v4i __attribute__ ((vector_size (16)));

static double
s_max_abs (const float *v, size_t n)
{
    const v4i abs_mask = { 0x7fffffff, 0x7fffffff, 0x7fffffff, 0x7fffffff };
    v4f m4 = { 0, 0, 0, 0 };
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        v4f x;
        memcpy (&x, v + i, sizeof x);
        x = (v4f) ((v4i) x & abs_mask);
        v4i gt = x > m4;
        m4 = (v4f) (((v4i) x & gt) | ((v4i) m4 & ~gt));
    }
    float m = 0;
    for (size_t k = 0; k < 4; k++)
        m = m4[k] > m ? m4[k] : m;
    for (; i < n; i++)
        m = fabsf (v[i]) > m ? fabsf (v[i]) : m;
    return m;
}

/*  Sum of squares in double with four partial sums, so the additions do
    not wait on each other (features_extract's serial sum differs from it
    in the last bits of a double only).  */
static double
s_sum_sq (const float *v, size_t n)
{
    double s[4] = { 0, 0, 0, 0 };
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        for (size_t k = 0; k < 4; k++)
            s[k] += (double) v[i + k] * v[i + k];
    for (; i < n; i++)
        s[0] += (double) v[i] * v[i];
    return (s[0] + s[1]) + (s[2] + s[3]);
}

int
features_dense_factor (const features_config_t *cfg, const float *vec, size_t n_vec,
                       double *factor, char *err, size_t errlen)
{
    if (!factor)
        return err_set (err, errlen, "features: no factor output");
    *factor = 0;
    if (features_config_check (cfg, err, errlen) != 0
        || s_check_vector (cfg, vec, n_vec, err, errlen) != 0)
        return -1;
    if (n_vec == 0)
        return 0;
    double norm = 1.0, scale = cfg->vector_scale;
    if (cfg->vector_norm == VECTOR_NORM_L2)
        norm = sqrt (s_sum_sq (vec, n_vec));
    else if (cfg->vector_norm == VECTOR_NORM_MAX)
        norm = s_max_abs (vec, n_vec);
    if (norm == 0)
        return 0;
    /*  A normalised value is at most 1 in size, so only an unnormalised
        vector with a scale above 1 can overflow; its largest value tells.  */
    if (norm == 1.0 && scale > 1.0 && isinf ((float) (s_max_abs (vec, n_vec) * scale))) {
        size_t i = 0;
        while (i < n_vec && !isinf ((float) ((double) vec[i] * scale)))
            i++;
        return err_set (err, errlen, "features: vector value %zu overflows once scaled", i);
    }
    *factor = scale / norm;
    return 0;
}

int
features_extract (const features_config_t *cfg, const char *text, size_t text_len,
                  const float *vec, size_t n_vec, sparse_vec_t *out, char *err, size_t errlen)
{
    if (!out)
        return err_set (err, errlen, "features: no output vector");
    out->n = 0;
    if (features_config_check (cfg, err, errlen) != 0
        || s_check_vector (cfg, vec, n_vec, err, errlen) != 0)
        return -1;
    fscratch_t s;
    fscratch_init (&s);
    ftokens_t t;
    int rc = ftokenize (text, text_len, &s, &t, err, errlen);
    if (rc == 0 && cfg->hash_bits)
        rc = s_text (cfg, &t, &s, out, err, errlen);
    fscratch_free (&s);
    if (rc == 0 && n_vec)
        rc = s_dense (cfg, vec, n_vec, out, err, errlen);
    if (rc != 0)
        out->n = 0;
    return rc;
}
