/*  al_sample.c: stateless uniform draws from an id and a seed.

    XXH3-64 of the id bytes with the seed; the top 53 bits (all a double's
    mantissa holds) over 2^53 give [0, 1) exactly, with no rounding up to
    1. XXH3's output is specified byte for byte, so every machine draws
    the same number for the same item, which is what lets a validation
    sample be decided anywhere without storing it.
*/
#include <xxhash.h>

#include "al/al_internal.h"

double
al_uniform (const char *id, size_t id_len, uint64_t seed)
{
    if (!id)
        id_len = 0;
    XXH64_hash_t h = XXH3_64bits_withSeed (id_len ? id : "", id_len, seed);
    return (double) (h >> 11) * 0x1.0p-53;
}
