/*  sparse.c: the sparse vector and the key sort behind it.

    A text yields one 32-bit key per feature occurrence (bucket and sign),
    a few hundred for a page of text. Up to 4096 keys are scattered on
    their top bits into about one bin per key and finished by insertion
    sort (one pass over the keys, then almost nothing to do); more keys,
    or keys piled into a few bins, go through an LSD radix sort, 8 bits a
    pass and only as many passes as the largest key needs, skipping a pass
    whose digit is the same in every key. No comparisons through function
    pointers, no allocation: the caller passes the second buffer.
*/
#include "features/features_internal.h"

#include <stdlib.h>
#include <string.h>

#define BIN_BITS_MAX 12     /* bin sort up to 4096 keys */

void
sparse_vec_init (sparse_vec_t *v)
{
    v->idx = NULL;
    v->val = NULL;
    v->n = 0;
    v->cap = 0;
}

void
sparse_vec_free (sparse_vec_t *v)
{
    if (!v)
        return;
    free (v->idx);
    free (v->val);
    sparse_vec_init (v);
}

int
sparse_vec_reserve (sparse_vec_t *v, size_t n)
{
    if (n <= v->cap)
        return 0;
    size_t cap = v->cap ? v->cap : 64;
    while (cap < n) {
        if (cap > SIZE_MAX / 2 / sizeof (uint32_t))
            return -1;
        cap *= 2;
    }
    /* each buffer is committed as soon as it grows, so a failure halfway
       leaves a consistent (if lopsided) vector behind */
    uint32_t *idx = realloc (v->idx, cap * sizeof *idx);
    if (!idx)
        return -1;
    v->idx = idx;
    float *val = realloc (v->val, cap * sizeof *val);
    if (!val)
        return -1;
    v->val = val;
    v->cap = cap;
    return 0;
}

float
sparse_vec_dot (const sparse_vec_t *v, const float *dense, size_t dim)
{
    if (!v || !dense)
        return 0.0f;
    double sum = 0.0;
    for (size_t i = 0; i < v->n; i++) {
        /* indices ascend, so the first one past dim ends the loop */
        if (v->idx[i] >= dim)
            break;
        sum += (double) v->val[i] * dense[v->idx[i]];
    }
    return (float) sum;
}

static void
s_insertion (uint32_t *keys, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        uint32_t k = keys[i];
        size_t j = i;
        while (j > 0 && keys[j - 1] > k) {
            keys[j] = keys[j - 1];
            j--;
        }
        keys[j] = k;
    }
}

/*  One stable counting pass on the digit at shift, src to dst; false
    (nothing moved) when every key has the same digit.  */
static bool
s_radix_pass (const uint32_t *src, uint32_t *dst, size_t n, unsigned shift)
{
    size_t count[256] = { 0 };
    for (size_t i = 0; i < n; i++)
        count[(src[i] >> shift) & 0xffu]++;
    if (count[(src[0] >> shift) & 0xffu] == n)
        return false;
    size_t sum = 0;
    for (size_t d = 0; d < 256; d++) {
        size_t c = count[d];
        count[d] = sum;
        sum += c;
    }
    for (size_t i = 0; i < n; i++)
        dst[count[(src[i] >> shift) & 0xffu]++] = src[i];
    return true;
}

/*  Insertion sort that gives up (false, keys in some order) once it has
    moved more than `budget` keys.  */
static bool
s_insertion_bounded (uint32_t *keys, size_t n, size_t budget)
{
    size_t moved = 0;
    for (size_t i = 1; i < n; i++) {
        uint32_t k = keys[i];
        size_t j = i;
        while (j > 0 && keys[j - 1] > k) {
            keys[j] = keys[j - 1];
            j--;
        }
        keys[j] = k;
        moved += i - j;
        if (moved > budget)
            return false;
    }
    return true;
}

/*  One scatter on the top bits into about one bin per key, then insertion
    sort, which only has to order each bin's few keys (repeated keys cost
    nothing). Hash keys spread evenly, but text is hostile: many distinct
    keys in one bin would make the insertion sort quadratic, so it stops
    after a few moves a key and the caller falls back to the radix sort.  */
static bool
s_bin_sort (uint32_t *keys, uint32_t *tmp, size_t n, uint32_t max)
{
    unsigned kbits = 32u - (unsigned) __builtin_clz (max | 1u);
    unsigned bbits = 4;
    while (bbits < BIN_BITS_MAX && ((size_t) 1 << bbits) < n)
        bbits++;
    unsigned shift = kbits > bbits ? kbits - bbits : 0;
    uint32_t count[1u << BIN_BITS_MAX];
    size_t bins = (size_t) 1 << bbits;
    memset (count, 0, bins * sizeof count[0]);
    for (size_t i = 0; i < n; i++)
        count[keys[i] >> shift]++;
    uint32_t sum = 0;
    for (size_t d = 0; d < bins; d++) {
        uint32_t c = count[d];
        count[d] = sum;
        sum += c;
    }
    for (size_t i = 0; i < n; i++)
        tmp[count[keys[i] >> shift]++] = keys[i];
    if (!s_insertion_bounded (tmp, n, 8 * n))
        return false;
    memcpy (keys, tmp, n * sizeof *keys);
    return true;
}

void
fsort_u32 (uint32_t *keys, uint32_t *tmp, size_t n)
{
    if (n < 32) {
        s_insertion (keys, n);
        return;
    }
    uint32_t max = 0;
    for (size_t i = 0; i < n; i++)
        if (keys[i] > max)
            max = keys[i];
    if (n <= ((size_t) 1 << BIN_BITS_MAX) && s_bin_sort (keys, tmp, n, max))
        return;
    uint32_t *src = keys, *dst = tmp;
    for (unsigned shift = 0; shift < 32 && (max >> shift) != 0; shift += 8)
        if (s_radix_pass (src, dst, n, shift)) {
            uint32_t *t = src;
            src = dst;
            dst = t;
        }
    if (src != keys)
        memcpy (keys, src, n * sizeof *keys);
}
