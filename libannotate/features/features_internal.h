/*  features_internal.h: what features.c, tokenize.c and sparse.c share.

    One call of features_extract needs a few scratch arrays whose size
    follows the text (normalised bytes, token spans, hash keys, the radix
    sort's second buffer). They come from a scratch arena on the caller's
    stack, so a short text costs no malloc at all; a long one spills to a
    few heap blocks freed at the end of the call. Nothing is kept
    between calls except the output vector's own buffers, so the library
    is reentrant.
*/
#ifndef ANNOTATE_FEATURES_INTERNAL_H
#define ANNOTATE_FEATURES_INTERNAL_H

#include "features/features.h"

#define FSCRATCH_STACK    (32u * 1024u)
#define FSCRATCH_HEAP_MAX 64       /* growth doubles, so this is plenty */

typedef struct {
    _Alignas (8) unsigned char stack[FSCRATCH_STACK];
    size_t used;
    void *heap[FSCRATCH_HEAP_MAX];
    size_t n_heap;
} fscratch_t;

void fscratch_init (fscratch_t *s);
/*  8-byte aligned; NULL when out of memory.  */
void *fscratch_alloc (fscratch_t *s, size_t size);
void fscratch_free (fscratch_t *s);

/*  One token of the normalised text: byte offset, byte length and number
    of code points (for character n-grams).  */
typedef struct {
    uint32_t off, len, ncp;
} ftoken_t;

typedef struct {
    const char *text;       /* normalised UTF-8, not NUL-terminated */
    size_t len;
    ftoken_t *tok;
    size_t n_tok;
} ftokens_t;

/*  Normalises (NFKC, case fold, controls and default ignorables dropped)
    and splits text into tokens. Returns 0, or -1 with err set (invalid
    UTF-8, text too long, out of memory). Arrays live in s.  */
int ftokenize (const char *text, size_t len, fscratch_t *s, ftokens_t *out,
               char *err, size_t errlen);

/*  The 64-bit hash of the bigram a b from the unigram hashes of a and b
    (XXH3-64 of "w:" + token): ordered (a b and b a differ), and the
    splitmix64 finaliser spreads every input bit over the low bucket bits
    and the sign bit. Part of the model format.  */
static inline uint64_t
fbigram_hash (uint64_t ha, uint64_t hb)
{
    uint64_t z = ha * 0x9e3779b97f4a7c15u ^ hb;
    z ^= z >> 30;
    z *= 0xbf58476d1ce4e5b9u;
    z ^= z >> 27;
    z *= 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/*  Grows v's buffers to hold at least n entries; -1 when out of memory.  */
int sparse_vec_reserve (sparse_vec_t *v, size_t n);

/*  Sorts n keys ascending; tmp holds n keys.  */
void fsort_u32 (uint32_t *keys, uint32_t *tmp, size_t n);

/*  Sums occurrence keys (bucket << 1 | sign bit, the bit meaning -1) per
    bucket: keys[0..u) become the buckets whose sum is not 0, ascending,
    counts[0..u) their sums; returns u. tmp holds n keys.  */
size_t fcount_keys (uint32_t *keys, size_t n, int32_t *counts, uint32_t *tmp, fscratch_t *s);

#endif
