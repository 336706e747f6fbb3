/*  model.h: multi-class logistic regression over sparse features.

    Training: liblinear's L2-regularised logistic regression (one-vs-rest
    for more than two classes; the solver scikit-learn's `liblinear` option
    uses). Scores: the one-vs-rest margins are turned into a probability
    vector by a softmax with a temperature fitted on held-out data (the
    calibration step), so `confidence` means what it says; the expected
    calibration error (ECE) is measured before and after.

    Between retrains: model_online_update takes one SGD step on the
    logistic loss of one example, so a person's correction moves the model
    at once.

    Format (model_serialize): little-endian, "ANNM" magic, format version,
    the features_config_t, class count and names, temperature, bias, then
    the weights as float32, class-major (n_classes rows of dim + 1 floats,
    the last one the bias). A loaded model is checked field by field: a
    truncated or hostile blob is refused, never trusted.
*/
#ifndef ANNOTATE_MODEL_H
#define ANNOTATE_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "features/features.h"

#define MODEL_FORMAT_VERSION 1
#define MODEL_MAX_CLASSES    1024

typedef struct model model_t;

typedef struct {
    const sparse_vec_t *x;
    int32_t y;              /* class index, 0..n_classes-1 */
    float weight;           /* 0 means 1 */
} model_example_t;

/*  Training solver. Zero is the default, so a zeroed config keeps it.  */
typedef enum {
    MODEL_SOLVER_LIBLINEAR = 0, /* one-vs-rest, liblinear's primal trust-region Newton */
    MODEL_SOLVER_LBFGS = 1,     /* multinomial (softmax) regression, L-BFGS (model_lbfgs.c) */
    MODEL_SOLVER_AUTO = 2       /* L-BFGS when the examples carry dense features only and there
                                   are at least MODEL_LBFGS_MIN_EXAMPLES (measured faster than
                                   scikit-learn on Fashion-MNIST at equal accuracy), liblinear
                                   otherwise (faster on sparse hashed text) */
} model_solver_t;

#define MODEL_LBFGS_MIN_EXAMPLES 5000

typedef struct {
    double C;               /* inverse regularisation strength, default 1 */
    double eps;             /* liblinear stopping tolerance, default 0.01 */
    bool calibrate;         /* fit the temperature on the validation set (default true) */
    model_solver_t solver;  /* model_train_config_default: MODEL_SOLVER_AUTO */
    uint32_t max_iter;      /* L-BFGS iterations; 0 means 100 (scikit-learn's default) */
} model_train_config_t;

typedef struct {
    char label[128];
    double precision, recall;
    uint64_t support;       /* validation examples of this class */
} model_class_metrics_t;

typedef struct {
    uint64_t n_train, n_valid;
    double accuracy;                /* on the validation set */
    double ece;                     /* expected calibration error, 10 equal-width bins, after calibration */
    double ece_uncalibrated;
    double temperature;
    double train_ms;
    size_t n_classes;
    model_class_metrics_t *classes; /* n_classes entries, owned by the metrics */
} model_metrics_t;

void model_train_config_default (model_train_config_t *cfg);

/*  Trains on `train`, calibrates and measures on `valid` (may be empty:
    no calibration, metrics over nothing). labels are the class names in
    class-index order (copied). NULL with err set on failure (e.g. fewer
    than two classes present in train).  */
model_t *model_train (const features_config_t *features, const char *const *labels,
                      size_t n_labels, const model_example_t *train, size_t n_train,
                      const model_example_t *valid, size_t n_valid,
                      const model_train_config_t *cfg, model_metrics_t *metrics,
                      char *err, size_t errlen);

void model_destroy (model_t **self_p);
model_t *model_clone (const model_t *self);

size_t model_n_classes (const model_t *self);
const char *model_label (const model_t *self, size_t k);
const features_config_t *model_features (const model_t *self);

/*  Probability vector of one example into proba[n_classes] (sums to 1).
    Returns the arg-max class.  */
size_t model_predict (const model_t *self, const sparse_vec_t *x, float *proba);

/*  Probability vectors of n examples into proba[n * n_classes] (row i
    for xs[i]) and, when argmax is not NULL, their arg-max classes into
    argmax[n]. The same probabilities as model_predict up to float
    rounding; the dense part of the features (indices from 2^hash_bits on)
    of a large, dense enough batch with many classes is scored as one
    matrix product (OpenBLAS sgemm), the hashed text part item by item.
    For dense inputs model_predict_items (below) is faster: it skips the
    (index, value) copy altogether. A NULL xs[i] scores as an
    empty vector. Returns n. Reads the model only, like model_predict.  */
size_t model_predict_batch (const model_t *self, const sparse_vec_t *const *xs, size_t n,
                            float *proba, size_t *argmax);

/*  One item as it arrives, for model_predict_items: text (NULL or
    text_len bytes of UTF-8) and dense vector (n_vec 0 or the features'
    vector_dim values).  */
typedef struct {
    const char *text;
    size_t text_len;
    const float *vec;
    size_t n_vec;
} model_item_t;

#define MODEL_NO_CLASS SIZE_MAX     /* argmax of an item whose features failed */

/*  Features and probabilities of n raw items in one call: the same as
    features_extract then model_predict per item (up to float rounding,
    ~1e-6), but faster on dense vectors: they are never expanded into
    (index, value) pairs; the features' norm and scale become one factor
    per item (features_dense_factor) and the dense part is scored by
    class-major dot products over the raw values, two items at a time. The
    text part goes through features_extract into scratch (reused between
    calls like features_extract's output; NULL: a temporary one). Rows of
    proba are n_classes apart; argmax (may be NULL) gets the arg-max
    classes. An item whose features fail (invalid UTF-8, wrong vector
    length, values not finite) gets a zero row and MODEL_NO_CLASS, and the
    first such error goes to err. Returns the number of items scored.
    Reads the model only.  */
size_t model_predict_items (const model_t *self, const model_item_t *items, size_t n,
                            float *proba, size_t *argmax, sparse_vec_t *scratch,
                            char *err, size_t errlen);

/*  One SGD step on the logistic loss of (x, y) with learning rate lr.  */
void model_online_update (model_t *self, const sparse_vec_t *x, int32_t y, float lr);

/*  Accuracy, per-class precision/recall and ECE on a set of examples.  */
void model_evaluate (const model_t *self, const model_example_t *ex, size_t n,
                     model_metrics_t *out);
void model_metrics_free (model_metrics_t *m);

/*  Serialises into a malloc'ed buffer; returns its size.  */
size_t model_serialize (const model_t *self, uint8_t **out);
/*  NULL with err set when the blob is not a valid model.  */
model_t *model_deserialize (const uint8_t *buf, size_t len, char *err, size_t errlen);

#endif
