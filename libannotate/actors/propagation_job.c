/*  propagation_job.c: label spreading for a propagate order. See
    propagation_job.h.  */
#include "actors/propagation_job.h"

#include <czmq.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "actors/model_spec.h"
#include "actors/retrain_thresholds.h"
#include "al/al.h"
#include "features/features.h"
#include "graph/knn.h"
#include "graph/sketch.h"
#include "graph/spread.h"
#include "util/util.h"

#define DEFAULT_SKETCH_DIM 256

/*  Per example: the class given for spreading (-1: none) and, for a
    validation item, the person's class (-1: none or unknown).  */
typedef struct {
    int32_t label;
    int32_t truth;
    bool validation;
} entry_t;

struct propagation_job {
    Annotate__V1__ModelSpec *spec; /* own copy: class names outlive the caller's */
    features_config_t features;
    spread_config_t spread_cfg;
    size_t dim;        /* sketch floats per item */
    zhashx_t *classes; /* name -> index + 1 */
    knn_t *graph;
    spread_t *spread;
    entry_t *entries; /* one per graph point */
    size_t n, cap;
    size_t skipped;
    sparse_vec_t x; /* reused extraction buffer */
    float *sketch;  /* reused, dim floats */
    /* results */
    bool ran, info_sent, done_sent;
    size_t cursor;
    Annotate__V1__ModelInfo info;
    retrain_thresholds_t th;                /* what info's thresholds point into */
    Annotate__V1__ItemLabel *piece;
    Annotate__V1__ItemLabel **piece_ptrs;
    size_t piece_cap;
};

static int
s_configure (propagation_job_t *self, const Annotate__V1__PropagationSpec *prop, char *err,
             size_t errlen)
{
    spread_config_default (&self->spread_cfg);
    size_t sketch_dim = DEFAULT_SKETCH_DIM;
    if (prop) {
        if (prop->n_neighbors)
            self->spread_cfg.n_neighbors = prop->n_neighbors;
        if (prop->alpha != 0)
            self->spread_cfg.alpha = prop->alpha;
        if (prop->max_iter)
            self->spread_cfg.max_iter = prop->max_iter;
        if (prop->tol != 0)
            self->spread_cfg.tol = prop->tol;
        if (prop->sketch_dim)
            sketch_dim = prop->sketch_dim;
    }
    if (spread_config_check (&self->spread_cfg, err, errlen) != 0)
        return -1;
    if (self->spread_cfg.n_neighbors < 2)
        return err_set (err, errlen, "propagation: n_neighbors must be at least 2");
    if (sketch_dim > SKETCH_MAX_DIM)
        return err_set (err, errlen, "propagation: sketch_dim must be in 1..%d", SKETCH_MAX_DIM);
    model_spec_features (self->spec, &self->features);
    if (features_config_check (&self->features, err, errlen) != 0)
        return -1;
    self->dim = self->features.hash_bits ? sketch_dim : self->features.vector_dim;
    if (self->dim == 0 || self->dim > KNN_MAX_DIM)
        return err_set (err, errlen, "propagation: the spec has no usable features");
    return 0;
}

static int
s_classes (propagation_job_t *self, char *err, size_t errlen)
{
    if (self->spec->n_labels < 2)
        return err_set (err, errlen, "propagation: the spec needs at least 2 labels");
    if (self->spec->n_labels > SPREAD_MAX_CLASSES)
        return err_set (err, errlen, "propagation: too many labels");
    self->classes = zhashx_new ();
    if (!self->classes)
        return err_set (err, errlen, "propagation: out of memory");
    for (size_t c = 0; c < self->spec->n_labels; c++)
        zhashx_insert (self->classes, self->spec->labels[c], (void *)(uintptr_t)(c + 1));
    return 0;
}

propagation_job_t *
propagation_job_new (const Annotate__V1__ModelSpec *spec, const Annotate__V1__PropagationSpec *prop,
                     char *err, size_t errlen)
{
    const char *why = spec ? model_spec_check (spec) : "no model spec";
    if (why) {
        err_set (err, errlen, "propagation: %s", why);
        return NULL;
    }
    propagation_job_t *self = calloc (1, sizeof *self);
    if (!self || !(self->spec = model_spec_dup (spec))) {
        free (self);
        err_set (err, errlen, "propagation: out of memory");
        return NULL;
    }
    sparse_vec_init (&self->x);
    annotate__v1__model_info__init (&self->info);
    if (s_configure (self, prop, err, errlen) != 0 || s_classes (self, err, errlen) != 0) {
        propagation_job_destroy (&self);
        return NULL;
    }
    self->graph = knn_new (self->dim, self->spread_cfg.n_neighbors - 1);
    self->spread = spread_new (&self->spread_cfg);
    self->sketch = calloc (self->dim, sizeof *self->sketch);
    if (!self->graph || !self->spread || !self->sketch) {
        propagation_job_destroy (&self);
        err_set (err, errlen, "propagation: out of memory");
        return NULL;
    }
    return self;
}

void
propagation_job_destroy (propagation_job_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    propagation_job_t *self = *self_p;
    model_spec_free (&self->spec);
    zhashx_destroy (&self->classes);
    knn_destroy (&self->graph);
    spread_destroy (&self->spread);
    sparse_vec_free (&self->x);
    free (self->sketch);
    free (self->entries);
    retrain_thresholds_free (&self->th);
    free (self->piece);
    free (self->piece_ptrs);
    free (self);
    *self_p = NULL;
}

/*  The sketch of one example into self->sketch; false when its features
    fail or say nothing (an all-zero sketch has no neighbours to speak of).  */
static bool
s_sketch (propagation_job_t *self, const Annotate__V1__TrainExample *ex)
{
    char err[200];
    if (self->features.hash_bits == 0) {
        double factor;
        if (!ex->vector || ex->n_vector != self->features.vector_dim
            || features_dense_factor (&self->features, ex->vector, ex->n_vector, &factor, err,
                                      sizeof err)
                   != 0)
            return false;
        sketch_dense (ex->vector, ex->n_vector, self->sketch);
    } else {
        const char *text = ex->text ? ex->text : "";
        if (features_extract (&self->features, text, strlen (text), ex->vector, ex->n_vector,
                              &self->x, err, sizeof err)
            != 0)
            return false;
        if (sketch_sparse (&self->x, self->sketch, self->dim) != 0)
            return false;
    }
    for (size_t i = 0; i < self->dim; i++)
        if (self->sketch[i] != 0)
            return true;
    return false;
}

static int32_t
s_class (const propagation_job_t *self, const char *label)
{
    if (!label || !*label)
        return -1;
    void *k = zhashx_lookup (self->classes, label);
    return k ? (int32_t)((uintptr_t)k - 1) : -1;
}

void
propagation_job_add (propagation_job_t *self, const Annotate__V1__TrainExample *ex)
{
    if (!self || !ex || self->n >= PROPAGATION_JOB_MAX_EXAMPLES) {
        if (self)
            self->skipped++;
        return;
    }
    size_t idlen = ex->id ? strlen (ex->id) : 0;
    if (!idlen || idlen > KNN_MAX_ID || !utf8_valid (ex->id, idlen) || !s_sketch (self, ex)) {
        self->skipped++;
        return;
    }
    if (self->n == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 1024;
        entry_t *e = realloc (self->entries, cap * sizeof *e);
        if (!e) {
            self->skipped++;
            return;
        }
        self->entries = e;
        self->cap = cap;
    }
    char err[200];
    if (knn_add (self->graph, ex->id, self->sketch, err, sizeof err) != 0) {
        self->skipped++;
        return;
    }
    int32_t c = s_class (self, ex->label);
    self->entries[self->n++]
        = (entry_t){ ex->validation ? -1 : c, ex->validation ? c : -1, ex->validation };
    self->ran = false;
}

size_t
propagation_job_size (const propagation_job_t *self)
{
    return self ? self->n : 0;
}

size_t
propagation_job_skipped (const propagation_job_t *self)
{
    return self ? self->skipped : 0;
}

/*  The validation items the spreading reached, as a threshold sample.  */
static al_sample_t *
s_sample (const propagation_job_t *self, size_t *n_out, uint64_t *correct)
{
    al_sample_t *s = calloc (self->n ? self->n : 1, sizeof *s);
    size_t n = 0;
    *correct = 0;
    for (size_t i = 0; s && i < self->n; i++) {
        int32_t got = spread_label (self->spread, i);
        if (self->entries[i].truth < 0 || got < 0)
            continue;
        s[n++] = (al_sample_t){ (float)spread_confidence (self->spread, i), (uint32_t)got,
                                (uint32_t)self->entries[i].truth };
        if (got == self->entries[i].truth)
            ++*correct;
    }
    *n_out = n;
    return s;
}

/*  Fills self->info from the fit on the validation sample, the same way a
    retraining actor does for a model (retrain_thresholds.h).  */
static int
s_fit (propagation_job_t *self)
{
    size_t n;
    uint64_t correct;
    al_sample_t *s = s_sample (self, &n, &correct);
    Annotate__V1__ModelInfo *info = &self->info;
    annotate__v1__model_info__init (info);
    int rc = s ? retrain_fill_thresholds (s, n, correct, (const char *const *) self->spec->labels,
                                          self->spec->n_labels, self->spec, &self->th, info)
               : -1;
    info->class_count = (uint32_t) self->spec->n_labels;
    info->hash_bits = self->features.hash_bits;
    free (s);
    return rc;
}

int
propagation_job_run (propagation_job_t *self, char *err, size_t errlen)
{
    if (!self)
        return err_set (err, errlen, "propagation: no job");
    self->ran = false;
    size_t labelled = 0;
    for (size_t i = 0; i < self->n; i++)
        labelled += self->entries[i].label >= 0;
    if (self->n < 2)
        return err_set (err, errlen, "propagation: %zu usable items, at least 2 needed", self->n);
    if (labelled < 2)
        return err_set (err, errlen,
                        "propagation: %zu labelled items (validation aside), at least 2 needed",
                        labelled);
    if (knn_update (self->graph) != 0)
        return err_set (err, errlen, "propagation: out of memory building the graph of %zu items",
                        self->n);
    int32_t *labels = malloc (self->n * sizeof *labels);
    if (!labels)
        return err_set (err, errlen, "propagation: out of memory");
    for (size_t i = 0; i < self->n; i++)
        labels[i] = self->entries[i].label;
    int rc = spread_run (self->spread, self->graph, labels, self->spec->n_labels, err, errlen);
    free (labels);
    if (rc != 0)
        return -1;
    if (s_fit (self) != 0)
        return err_set (err, errlen, "propagation: out of memory fitting thresholds");
    self->ran = true;
    self->info_sent = self->done_sent = false;
    self->cursor = 0;
    return 0;
}

/*  Whether example i goes out: unlabelled, not validation, reached.  */
static bool
s_output (const propagation_job_t *self, size_t i)
{
    const entry_t *e = &self->entries[i];
    return e->label < 0 && !e->validation && spread_label (self->spread, i) >= 0;
}

static bool
s_reserve (propagation_job_t *self, size_t max)
{
    if (max <= self->piece_cap)
        return true;
    Annotate__V1__ItemLabel *p = calloc (max, sizeof *p);
    Annotate__V1__ItemLabel **pp = calloc (max, sizeof *pp);
    if (!p || !pp) {
        free (p);
        free (pp);
        return false;
    }
    free (self->piece);
    free (self->piece_ptrs);
    self->piece = p;
    self->piece_ptrs = pp;
    self->piece_cap = max;
    return true;
}

bool
propagation_job_next (propagation_job_t *self, size_t max_labels, Annotate__V1__Propagated *out)
{
    if (!self || !out || !self->ran || self->done_sent)
        return false;
    size_t max = max_labels ? max_labels : PROPAGATION_JOB_PIECE;
    annotate__v1__propagated__init (out);
    if (!s_reserve (self, max))
        return false;
    size_t n = 0;
    for (; self->cursor < self->n && n < max; self->cursor++) {
        size_t i = self->cursor;
        if (!s_output (self, i))
            continue;
        Annotate__V1__ItemLabel *l = &self->piece[n];
        annotate__v1__item_label__init (l);
        int32_t c = spread_label (self->spread, i);
        l->id = (char *)knn_id (self->graph, i);
        l->label = self->spec->labels[c];
        l->confidence = (float)spread_confidence (self->spread, i);
        l->uncertainty = 1.0f - l->confidence;
        l->source = ANNOTATE__V1__LABEL_SOURCE__SOURCE_PROPAGATION;
        self->piece_ptrs[n++] = l;
    }
    /*  Skip past the non-output tail so the piece that empties it is done.  */
    while (self->cursor < self->n && !s_output (self, self->cursor))
        self->cursor++;
    out->labels = self->piece_ptrs;
    out->n_labels = n;
    if (!self->info_sent) {
        out->info = &self->info;
        self->info_sent = true;
    }
    out->done = self->cursor >= self->n;
    self->done_sent = out->done;
    return true;
}
