/*  sketch.c: random-projection sketches and SimHash (see sketch.h).  */
#include <math.h>
#include <string.h>
#include <xxhash.h>

#include "graph/sketch.h"

/*  XXH3-64 of (a, b) as two little-endian u32s: the same on every host.  */
static uint64_t
hash_pair (uint32_t a, uint32_t b)
{
    uint8_t buf[8];
    for (int i = 0; i < 4; i++) {
        buf[i] = (uint8_t) (a >> (8 * i));
        buf[4 + i] = (uint8_t) (b >> (8 * i));
    }
    return XXH3_64bits_withSeed (buf, sizeof buf, SKETCH_SEED);
}

static void
normalise (float *out, size_t n)
{
    double ss = 0;
    for (size_t i = 0; i < n; i++)
        ss += (double) out[i] * out[i];
    if (ss <= 0)
        return;
    float inv = (float) (1.0 / sqrt (ss));
    for (size_t i = 0; i < n; i++)
        out[i] *= inv;
}

/*  Adds val * (sign of R[c][f]) to out[c] for the 64 coordinates c of one
    chunk, from the bits of one hash.  */
static void
add_chunk (float *out, size_t n, uint64_t bits, float val)
{
    for (size_t c = 0; c < n; c++)
        out[c] += ((bits >> c) & 1) ? val : -val;
}

int
sketch_sparse (const sparse_vec_t *v, float *out, size_t dim)
{
    if (!out || dim == 0 || dim > SKETCH_MAX_DIM)
        return -1;
    memset (out, 0, dim * sizeof *out);
    for (size_t i = 0; v && i < v->n; i++) {
        float val = v->val[i];
        if (!isfinite (val) || val == 0)
            continue;
        for (size_t chunk = 0; chunk * 64 < dim; chunk++) {
            size_t width = dim - chunk * 64 < 64 ? dim - chunk * 64 : 64;
            add_chunk (out + chunk * 64, width, hash_pair (v->idx[i], (uint32_t) chunk), val);
        }
    }
    normalise (out, dim);
    return 0;
}

void
sketch_dense (const float *v, size_t n, float *out)
{
    for (size_t i = 0; i < n; i++)
        out[i] = isfinite (v[i]) ? v[i] : 0.0f;
    normalise (out, n);
}

uint64_t
sketch_simhash64 (const sparse_vec_t *v)
{
    double acc[64] = { 0 };
    for (size_t i = 0; v && i < v->n; i++) {
        double val = v->val[i];
        if (!isfinite (val))
            continue;
        uint64_t h = hash_pair (v->idx[i], 0xffffffffu);
        for (int b = 0; b < 64; b++)
            acc[b] += ((h >> b) & 1) ? val : -val;
    }
    uint64_t out = 0;
    for (int b = 0; b < 64; b++)
        if (acc[b] > 0)
            out |= (uint64_t) 1 << b;
    return out;
}

int
sketch_hamming (uint64_t a, uint64_t b)
{
    return __builtin_popcountll (a ^ b);
}
