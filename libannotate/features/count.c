/*  count.c: signed occurrence keys to (bucket, count) pairs.

    A text gives one key per feature occurrence, bucket << 1 | sign, and
    repeats are common ("the", and most character n-grams), so the keys are
    first summed per bucket in a small open-addressing table and only the
    distinct buckets are sorted. That keeps the sort's input free of long
    runs of equal keys, which would defeat its bin sort (see sparse.c).

    The buckets are hash bits, so the table needs no further mixing; but
    text is hostile and a known seed lets anyone make tokens that share
    low bits, so a probe sequence longer than PROBE_MAX abandons the table
    and the raw keys are sorted and merged instead: slower, never
    quadratic.
*/
#include "features/features_internal.h"

#include <string.h>

#define PROBE_MAX 32

/*  Sorted raw keys to pairs, merging runs of one bucket.  */
static size_t
s_merge_sorted (uint32_t *keys, size_t n, int32_t *counts)
{
    size_t w = 0;
    for (size_t i = 0; i < n;) {
        uint32_t bucket = keys[i] >> 1;
        int32_t c = 0;
        for (; i < n && keys[i] >> 1 == bucket; i++)
            c += (keys[i] & 1) ? -1 : 1;
        if (c != 0) {
            keys[w] = bucket;
            counts[w] = c;
            w++;
        }
    }
    return w;
}

typedef struct {
    uint32_t *key;          /* bucket + 1; 0 is an empty slot */
    int32_t *count;
    uint32_t mask;
} table_t;

/*  The slot of bucket, or -1 after PROBE_MAX occupied slots of others.  */
static inline long
s_slot (const table_t *t, uint32_t bucket)
{
    uint32_t k = bucket + 1;
    uint32_t i = bucket & t->mask;
    for (int probe = 0; probe < PROBE_MAX; probe++, i = (i + 1) & t->mask)
        if (t->key[i] == k || t->key[i] == 0)
            return (long) i;
    return -1;
}

/*  0 with the distinct nonzero buckets in keys[0..*u) ascending, or -1 if
    the table gave up (keys untouched).  */
static int
s_table (uint32_t *keys, size_t n, int32_t *counts, uint32_t *tmp, fscratch_t *s, size_t *u)
{
    size_t size = 64;
    while (size < 2 * n)
        size *= 2;
    table_t t = { .key = fscratch_alloc (s, size * sizeof (uint32_t)),
                  .count = fscratch_alloc (s, size * sizeof (int32_t)),
                  .mask = (uint32_t) (size - 1) };
    if (!t.key || !t.count)
        return -1;
    memset (t.key, 0, size * sizeof (uint32_t));
    /* slots in use, in order of first use, so collecting the buckets costs
       their number rather than the table's size; tmp is free until the sort */
    uint32_t *used = tmp;
    size_t n_used = 0;
    /* whether a bucket is new is a coin toss for the branch predictor, so
       both cases run the same stores */
    for (size_t i = 0; i < n; i++) {
        long slot = s_slot (&t, keys[i] >> 1);
        if (slot < 0)
            return -1;
        bool fresh = t.key[slot] == 0;
        t.key[slot] = (keys[i] >> 1) + 1;
        used[n_used] = (uint32_t) slot;
        n_used += fresh;
        t.count[slot] = (fresh ? 0 : t.count[slot]) + 1 - 2 * (int32_t) (keys[i] & 1);
    }
    size_t w = 0;
    for (size_t i = 0; i < n_used; i++)
        if (t.count[used[i]])
            keys[w++] = t.key[used[i]] - 1;
    fsort_u32 (keys, tmp, w);
    for (size_t i = 0; i < w; i++)
        counts[i] = t.count[s_slot (&t, keys[i])];
    *u = w;
    return 0;
}

size_t
fcount_keys (uint32_t *keys, size_t n, int32_t *counts, uint32_t *tmp, fscratch_t *s)
{
    size_t u;
    if (n >= 32 && s_table (keys, n, counts, tmp, s, &u) == 0)
        return u;
    fsort_u32 (keys, tmp, n);
    return s_merge_sorted (keys, n, counts);
}
