/*  fuzz_model.c: model_deserialize on arbitrary bytes.

    Models are read back from the store and shipped to workers; a
    truncated or hostile blob must be refused. When one loads, it must
    also be usable: it scores a small sparse vector and a short text.
*/
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
s_score (const model_t *m)
{
    size_t k = model_n_classes (m);
    size_t dim = features_dim (model_features (m));
    float *proba = calloc (k ? k : 1, sizeof *proba);
    if (!proba)
        return;

    /* a few indices spread over the model's range (and one past it) */
    uint32_t idx[4] = { 0, (uint32_t) (dim / 2), dim ? (uint32_t) (dim - 1) : 0, (uint32_t) dim };
    float val[4] = { 1.0f, -0.5f, 0.25f, 2.0f };
    sparse_vec_t x = { .idx = idx, .val = val, .n = 4, .cap = 4 };
    if (dim < 3)
        x.n = 1;
    size_t best = model_predict (m, &x, proba);
    if (k && best >= k)
        __builtin_trap ();

    sparse_vec_t t;
    sparse_vec_init (&t);
    char err[256];
    static const char text[] = "win a free prize now, caf\xc3\xa9 \xe2\x82\xac 1000";
    if (features_extract (model_features (m), text, sizeof text - 1, NULL, 0, &t, err, sizeof err) == 0)
        model_predict (m, &t, proba);
    sparse_vec_free (&t);
    for (size_t i = 0; i < k; i++)
        (void) model_label (m, i);
    free (proba);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    char err[256];
    model_t *m = model_deserialize (data, size, err, sizeof err);
    if (m)
        s_score (m);
    model_destroy (&m);
    return 0;
}
