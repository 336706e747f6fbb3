/*  model_io.c: the model file format (model_serialize, model_deserialize).

    All integers and floats little-endian, whatever the host:

        "ANNM"                      4 bytes
        format version              u32 (MODEL_FORMAT_VERSION)
        features_config_t           u32 hash_bits, ngram_max, char_ngrams,
                                    vector_dim, vector_norm; f32 vector_scale
        n_classes                   u32, 2..MODEL_MAX_CLASSES
        class names                 n_classes times: u32 length, bytes (UTF-8,
                                    1..127 bytes, no NUL, distinct)
        temperature                 f64, in [0.05, 20]
        bias                        f32, the bias feature's value
        weights                     f32, n_classes rows of dim + 1 (the last
                                    one the bias weight), dim = features_dim

    A blob is refused unless every field is in range and the weights end
    exactly at the end of the blob: the size is checked before anything is
    allocated, so a hostile length cannot make us reserve gigabytes.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_internal.h"
#include "util/util.h"

#define MAGIC "ANNM"

typedef struct {
    const uint8_t *p;
    size_t left;
} reader_t;

static bool
get_u32 (reader_t *r, uint32_t *v)
{
    if (r->left < 4)
        return false;
    *v = (uint32_t) r->p[0] | (uint32_t) r->p[1] << 8 | (uint32_t) r->p[2] << 16
         | (uint32_t) r->p[3] << 24;
    r->p += 4, r->left -= 4;
    return true;
}

static bool
get_f32 (reader_t *r, float *v)
{
    uint32_t bits;
    if (!get_u32 (r, &bits))
        return false;
    memcpy (v, &bits, 4);
    return true;
}

static bool
get_f64 (reader_t *r, double *v)
{
    uint32_t lo, hi;
    if (!get_u32 (r, &lo) || !get_u32 (r, &hi))
        return false;
    uint64_t bits = (uint64_t) hi << 32 | lo;
    memcpy (v, &bits, 8);
    return true;
}

static uint8_t *
put_u32 (uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t) v, p[1] = (uint8_t) (v >> 8), p[2] = (uint8_t) (v >> 16), p[3] = (uint8_t) (v >> 24);
    return p + 4;
}

static uint8_t *
put_f32 (uint8_t *p, float v)
{
    uint32_t bits;
    memcpy (&bits, &v, 4);
    return put_u32 (p, bits);
}

static uint8_t *
put_f64 (uint8_t *p, double v)
{
    uint64_t bits;
    memcpy (&bits, &v, 8);
    p = put_u32 (p, (uint32_t) bits);
    return put_u32 (p, (uint32_t) (bits >> 32));
}

size_t
model_serialize (const model_t *self, uint8_t **out)
{
    size_t nk = self->n_classes, size = 4 + 4 + 24 + 4 + 8 + 4;
    for (size_t k = 0; k < nk; k++)
        size += 4 + strlen (self->labels[k]);
    size += nk * (self->dim + 1) * 4;
    uint8_t *buf = malloc (size), *p = buf;
    *out = buf;
    if (!buf)
        return 0;
    memcpy (p, MAGIC, 4);
    p = put_u32 (p + 4, MODEL_FORMAT_VERSION);
    const features_config_t *f = &self->features;
    p = put_u32 (p, f->hash_bits);
    p = put_u32 (p, f->ngram_max);
    p = put_u32 (p, f->char_ngrams);
    p = put_u32 (p, f->vector_dim);
    p = put_u32 (p, (uint32_t) f->vector_norm);
    p = put_f32 (p, f->vector_scale);
    p = put_u32 (p, (uint32_t) nk);
    for (size_t k = 0; k < nk; k++) {
        size_t len = strlen (self->labels[k]);
        p = put_u32 (p, (uint32_t) len);
        memcpy (p, self->labels[k], len);
        p += len;
    }
    p = put_f64 (p, self->temperature);
    p = put_f32 (p, self->bias);
    for (size_t k = 0; k < nk; k++)
        for (size_t j = 0; j <= self->dim; j++)
            p = put_f32 (p, self->w[j * nk + k]);
    return size;
}

static bool
read_features (reader_t *r, features_config_t *f, char *err, size_t errlen)
{
    uint32_t norm;
    if (!get_u32 (r, &f->hash_bits) || !get_u32 (r, &f->ngram_max) || !get_u32 (r, &f->char_ngrams)
        || !get_u32 (r, &f->vector_dim) || !get_u32 (r, &norm) || !get_f32 (r, &f->vector_scale))
        return err_set (err, errlen, "model blob truncated in the features config"), false;
    if (norm > VECTOR_NORM_MAX)
        return err_set (err, errlen, "model blob: unknown vector_norm %u", norm), false;
    f->vector_norm = (vector_norm_t) norm;
    return model_features_valid (f, err, errlen);
}

/*  Class names into names[] (malloc'ed, NUL-terminated); false on error,
    names already read are left for the caller to free.  */
static bool
read_labels (reader_t *r, char **names, uint32_t n, char *err, size_t errlen)
{
    for (uint32_t k = 0; k < n; k++) {
        uint32_t len;
        if (!get_u32 (r, &len) || len > r->left)
            return err_set (err, errlen, "model blob truncated in class name %u", k), false;
        if (!model_label_valid ((const char *) r->p, len))
            return err_set (err, errlen, "model blob: class name %u is not 1..%d bytes of UTF-8", k,
                            MODEL_MAX_LABEL), false;
        if (!(names[k] = strndup ((const char *) r->p, len)))
            return err_set (err, errlen, "out of memory"), false;
        r->p += len, r->left -= len;
    }
    return true;
}

/*  Everything after the class names; the model's sizes are known.  */
static bool
read_weights (reader_t *r, model_t *m, char *err, size_t errlen)
{
    if (!get_f64 (r, &m->temperature) || !get_f32 (r, &m->bias))
        return err_set (err, errlen, "model blob truncated before the weights"), false;
    if (!(m->temperature >= MODEL_MIN_TEMPERATURE && m->temperature <= MODEL_MAX_TEMPERATURE))
        return err_set (err, errlen, "model blob: temperature out of range"), false;
    if (!isfinite (m->bias))
        return err_set (err, errlen, "model blob: bias is not finite"), false;
    size_t nk = m->n_classes, row = m->dim + 1;
    for (size_t k = 0; k < nk; k++)
        for (size_t j = 0; j < row; j++) {
            float v;
            get_f32 (r, &v);     /* the caller checked the length */
            if (!isfinite (v))
                return err_set (err, errlen, "model blob: weight %zu of class %zu not finite", j, k), false;
            m->w[j * nk + k] = v;
        }
    model_dense_sync (m);
    return true;
}

model_t *
model_deserialize (const uint8_t *buf, size_t len, char *err, size_t errlen)
{
    reader_t r = { buf, len };
    uint32_t version, n;
    features_config_t f;
    if (!buf || len < 8 || memcmp (buf, MAGIC, 4) != 0)
        return err_set (err, errlen, "not a model blob (bad magic)"), NULL;
    r.p += 4, r.left -= 4;
    get_u32 (&r, &version);
    if (version != MODEL_FORMAT_VERSION)
        return err_set (err, errlen, "model format version %u, expected %d", version,
                        MODEL_FORMAT_VERSION), NULL;
    if (!read_features (&r, &f, err, errlen))
        return NULL;
    if (!get_u32 (&r, &n))
        return err_set (err, errlen, "model blob truncated before the class count"), NULL;
    if (n < 2 || n > MODEL_MAX_CLASSES)
        return err_set (err, errlen, "model blob: %u classes (need 2..%d)", n, MODEL_MAX_CLASSES), NULL;
    char **names = calloc (n, sizeof *names);
    if (!names)
        return err_set (err, errlen, "out of memory"), NULL;
    model_t *m = NULL;
    if (read_labels (&r, names, n, err, errlen)) {
        /*  Sizes must match the blob before anything big is allocated.  */
        size_t row = features_dim (&f) + 1;
        if (row > (SIZE_MAX - 12) / 4 / n || r.left != 12 + (size_t) n * row * 4)
            err_set (err, errlen, "model blob: %zu bytes after the class names, expected %zu",
                     r.left, row <= (SIZE_MAX - 12) / 4 / n ? 12 + (size_t) n * row * 4 : 0);
        else if ((m = model_alloc (&f, (const char *const *) names, n, err, errlen))
                 && !read_weights (&r, m, err, errlen))
            model_destroy (&m);
    }
    for (uint32_t k = 0; k < n; k++)
        free (names[k]);
    free (names);
    return m;
}
