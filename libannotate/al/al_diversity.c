/*  al_diversity.c: a reviewer batch that is uncertain AND varied.

    Greedy maximal-marginal-relevance: each round takes the candidate with
    the highest score * (1 - s), s its largest cosine similarity to what
    has been picked. Each candidate keeps s as a running maximum, so a
    round compares every remaining candidate with the last pick only:
    k rounds of n cosines, fine for the few thousand candidates a batch is
    drawn from. A candidate whose s exceeds max_sim is dropped for good
    (s only grows). Similarities below 0 count as 0: an item opposite to
    the batch is worth its own score, not more. Ties go to the lower
    index, so the same input always gives the same batch.
*/
#include <math.h>
#include <stdlib.h>

#include "al/al_internal.h"

static bool
s_usable (const sparse_vec_t *v)
{
    return v && v->n > 0 && v->idx && v->val;
}

static double
s_norm2 (const sparse_vec_t *v)
{
    double sum = 0.0;
    for (size_t i = 0; i < v->n; i++)
        sum += (double) v->val[i] * v->val[i];
    return sum;
}

float
al_cosine (const sparse_vec_t *a, const sparse_vec_t *b)
{
    if (!s_usable (a) || !s_usable (b))
        return 0.0f;
    /*  Both index lists ascend: one merge pass finds the shared ones.  */
    double dot = 0.0;
    size_t i = 0, j = 0;
    while (i < a->n && j < b->n) {
        if (a->idx[i] < b->idx[j])
            i++;
        else if (a->idx[i] > b->idx[j])
            j++;
        else
            dot += (double) a->val[i++] * b->val[j++];
    }
    /*  Normalised again rather than trusted to be unit length: the
        vectors may come from a store written by another version.  */
    double norm = sqrt (s_norm2 (a) * s_norm2 (b));
    if (!(norm > 0.0) || !isfinite (norm) || !isfinite (dot))
        return 0.0f;
    double cos = dot / norm;
    return cos > 1.0 ? 1.0f : cos < -1.0 ? -1.0f : (float) cos;
}

/*  A candidate's own worth: scores are hostile too (NaN and negatives
    are 0); no scores at all means pure diversity.  */
static double
s_score (const float *scores, size_t i)
{
    if (!scores)
        return 1.0;
    float v = scores[i];
    return (isfinite (v) && v > 0.0f) ? (double) v : 0.0;
}

/*  The best candidate still eligible, or n when none is.  */
static size_t
s_best (const float *scores, const float *sim, const bool *gone, size_t n)
{
    size_t best = n;
    double best_gain = -1.0;
    for (size_t i = 0; i < n; i++) {
        if (gone[i])
            continue;
        double gain = s_score (scores, i) * (1.0 - (double) sim[i]);
        if (gain > best_gain) {
            best_gain = gain;
            best = i;
        }
    }
    return best;
}

size_t
al_diverse_pick (const sparse_vec_t *const *vecs, const float *scores, size_t n, size_t k,
                 float max_sim, size_t *out)
{
    if (!out || k == 0 || n == 0)
        return 0;
    float *sim = calloc (n, sizeof *sim);
    bool *gone = calloc (n, sizeof *gone);
    size_t picked = 0;
    while (sim && gone && picked < k) {
        size_t best = s_best (scores, sim, gone, n);
        if (best == n)
            break;
        out[picked++] = best;
        gone[best] = true;
        const sparse_vec_t *last = vecs ? vecs[best] : NULL;
        for (size_t i = 0; i < n; i++) {
            if (gone[i])
                continue;
            float s = al_cosine (last, vecs ? vecs[i] : NULL);
            if (s > sim[i])
                sim[i] = s;
            if (sim[i] > max_sim)
                gone[i] = true;
        }
    }
    free (sim);
    free (gone);
    return picked;
}
