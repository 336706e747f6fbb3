/*  features.h: items to sparse feature vectors, the same way on every
    machine.

    Text is normalised with utf8proc (NFKC, case folding, control characters
    dropped), split into tokens (runs of letters, marks and digits; every
    other code point separates), and its word unigrams (and, optionally,
    character n-grams of each token) are hashed with xxhash (XXH3-64, fixed
    seed, namespaced keys "w:" + token, "c:" + n-gram); a bigram of
    adjacent tokens a b hashes to a fixed 64-bit mix of the unigram hashes
    of a and b (fbigram_hash in features_internal.h: a multiply, an xor and
    the splitmix64 finaliser), so each token is hashed once. The low
    hash_bits bits of a hash pick one of 2^hash_bits buckets; bit 63 gives
    each feature a sign, so collisions cancel on average instead of adding
    up. Values are log(1 + term frequency); the text part is L2-normalised.
    A dense vector (embedding, pixels) is appended after the buckets, at
    indices 2^hash_bits .. 2^hash_bits + vector_dim - 1, scaled on its own
    (vector_norm) and weighted by vector_scale.

    Output is sorted by index with no duplicates, which is what liblinear
    and the dot products want. Nothing here depends on the host's byte
    order, locale or word size, so a model trained on one machine scores
    the same on another.
*/
#ifndef ANNOTATE_FEATURES_H
#define ANNOTATE_FEATURES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FEATURES_SEED 0x616e6e6fu       /* "anno": part of the model format */

typedef enum {
    VECTOR_NORM_NONE = 0,   /* values as given, times vector_scale */
    VECTOR_NORM_L2 = 1,     /* divided by the vector's L2 norm (zero vectors stay zero) */
    VECTOR_NORM_MAX = 2     /* divided by the largest absolute value */
} vector_norm_t;

typedef struct {
    uint32_t hash_bits;     /* 2^hash_bits text buckets, 10..24; 0: no text features */
    uint32_t ngram_max;     /* 1: unigrams, 2: unigrams + bigrams */
    uint32_t char_ngrams;   /* 0: off, else character n-grams of this length (2..6) */
    uint32_t vector_dim;    /* dense features appended; 0: none */
    vector_norm_t vector_norm;
    float vector_scale;     /* weight of the dense part after norm (> 0) */
} features_config_t;

typedef struct {
    uint32_t *idx;          /* ascending, unique */
    float *val;
    size_t n, cap;
} sparse_vec_t;

void sparse_vec_init (sparse_vec_t *v);
void sparse_vec_free (sparse_vec_t *v);
/*  Dot product with a dense row of `dim` floats; indices >= dim are ignored. */
float sparse_vec_dot (const sparse_vec_t *v, const float *dense, size_t dim);

/*  Fills the defaults: hash_bits 18, ngram_max 2, char_ngrams 0,
    vector_dim 0, VECTOR_NORM_L2, vector_scale 1.  */
void features_config_default (features_config_t *cfg);

/*  Returns 0 when every field is in range (hash_bits 0 or 10..24,
    ngram_max 1..2, char_ngrams 0 or 2..6, a known vector_norm, vector_scale
    finite and > 0 when vector_dim > 0, all indices within 32 bits), else -1
    with err naming the field. features_extract checks this too; a model
    loader should check a stored config with it.  */
int features_config_check (const features_config_t *cfg, char *err, size_t errlen);

/*  Number of feature indices: 2^hash_bits (or 0) + vector_dim; 0 for a
    config features_config_check refuses.  */
size_t features_dim (const features_config_t *cfg);

/*  Extracts features of one item into out (reset first; its buffers are
    reused between calls, so one sparse_vec_t per thread is enough).
    text may be NULL or empty; vec may be NULL (n_vec 0). Returns 0, or -1
    with err set when the text is not valid UTF-8 or n_vec is neither 0 nor
    cfg->vector_dim, or a vector value is not finite.  */
int features_extract (const features_config_t *cfg, const char *text, size_t text_len,
                      const float *vec, size_t n_vec, sparse_vec_t *out, char *err, size_t errlen);

/*  The dense part of an item without expanding it into (index, value)
    pairs: *factor is what features_extract multiplies each value by
    (vector_scale over the vector's norm), so its dense value i is
    vec[i] * *factor up to float rounding; 0 when there is nothing to add
    (no vector, or a zero vector under an L2 or max norm). The same checks as features_extract on the vector
    (length, finite values, no overflow once scaled): 0, or -1 with err
    set. For scoring dense inputs without a copy (model_predict_items).  */
int features_dense_factor (const features_config_t *cfg, const float *vec, size_t n_vec,
                           double *factor, char *err, size_t errlen);

/*  The normalised tokens of a text, for tests and debugging: calls fn for
    each token (not NUL-terminated). Returns -1 on invalid UTF-8.  */
int features_tokens (const char *text, size_t len,
                     void (*fn) (void *arg, const char *tok, size_t tok_len), void *arg);

#endif
