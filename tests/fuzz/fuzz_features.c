/*  fuzz_features.c: features_extract and features_tokens on arbitrary text.

    Item text comes from clients; the feature extractor normalises it with
    utf8proc and hashes it. The config is the one the manifests use, with
    character trigrams on so that path runs too.
*/
#include <stddef.h>
#include <stdint.h>

#include "features/features.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
s_count (void *arg, const char *tok, size_t tok_len)
{
    size_t *bytes = arg;
    /* touch the token so ASan sees an out-of-bounds one */
    if (tok_len)
        *bytes += (size_t) (unsigned char) tok[0] + (size_t) (unsigned char) tok[tok_len - 1];
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    features_config_t cfg;
    features_config_default (&cfg);
    cfg.hash_bits = 18;
    cfg.ngram_max = 2;
    cfg.char_ngrams = 3;

    char err[256];
    sparse_vec_t v;
    sparse_vec_init (&v);
    if (features_extract (&cfg, (const char *) data, size, NULL, 0, &v, err, sizeof err) == 0) {
        size_t dim = features_dim (&cfg);
        for (size_t i = 0; i < v.n; i++) {
            if (v.idx[i] >= dim || (i && v.idx[i] <= v.idx[i - 1]))
                __builtin_trap ();      /* the header promises sorted, unique, in range */
        }
    }
    sparse_vec_free (&v);

    size_t bytes = 0;
    features_tokens ((const char *) data, size, s_count, &bytes);
    return 0;
}
