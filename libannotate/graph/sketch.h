/*  sketch.h: small dense fingerprints of items for the neighbour graph and
    for near-duplicate detection.

    The kNN graph (knn.h) wants every item as a short dense float vector
    whose dot products approximate cosine similarity. Text arrives as a
    hashed sparse vector of 2^18 or so buckets (features.h), far too wide
    to multiply with BLAS, so sketch_sparse projects it to `dim` floats with
    a random sign matrix R (dim x 2^32, entries +-1), y = R x, then
    L2-normalises y. By Johnson-Lindenstrauss, y.y' approximates x.x' for
    L2-normalised x with an error of order 1/sqrt(dim): 128 or 256 is
    plenty to find neighbours.

    R is never stored: the sign of R[c][f] is bit (c mod 64) of
    XXH3-64 (f, c / 64) under SKETCH_SEED, the 8 hashed bytes being f and
    c / 64 as little-endian u32s. One hash gives 64 coordinates, so a
    feature costs dim / 64 hashes. Nothing depends on the host's byte
    order or word size: the same item gives the same sketch on every
    machine, and a stored sketch stays valid across restarts (changing
    SKETCH_SEED or the bit layout changes the format).

    Dense items (pixels, embeddings) need no projection: sketch_dense is a
    plain L2-normalised copy.

    sketch_simhash64 is Charikar's SimHash of a sparse vector: bit b is
    set when sum_f val[f] * (+1 if bit b of XXH3-64 (f, 0xffffffff) else -1) > 0. The
    Hamming distance of two SimHashes estimates the angle between the
    vectors (P[bit differs] = angle / pi), so near-identical texts differ
    in few bits and unrelated ones in about 32; sketch_hamming counts them.
*/
#ifndef ANNOTATE_GRAPH_SKETCH_H
#define ANNOTATE_GRAPH_SKETCH_H

#include <stddef.h>
#include <stdint.h>

#include "features/features.h"

#define SKETCH_SEED     0x736b6574u     /* "sket": part of the sketch format */
#define SKETCH_MAX_DIM  4096

/*  Random projection of v to dim floats (1..SKETCH_MAX_DIM), then
    L2-normalised. Non-finite values in v are skipped. Returns 0, or -1
    when dim is out of range. A vector with no (finite, nonzero) value
    gives all zeros.  */
int sketch_sparse (const sparse_vec_t *v, float *out, size_t dim);

/*  out = v / |v| (n floats; out may be v). Non-finite values become 0;
    a zero vector stays zero.  */
void sketch_dense (const float *v, size_t n, float *out);

/*  64-bit SimHash of v (0 for an empty vector).  */
uint64_t sketch_simhash64 (const sparse_vec_t *v);

/*  Number of differing bits, 0..64.  */
int sketch_hamming (uint64_t a, uint64_t b);

#endif
