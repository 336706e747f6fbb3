/*  model_internal.h: the model's representation, shared by model.c,
    model_train.c, model_io.c and model_metrics.c. Not for other modules.

    Weights are kept feature-major in memory: row j holds the n_classes
    weights of feature j next to each other, row dim the biases. Scoring
    a sparse vector then reads one short contiguous row per nonzero (one
    cache line for up to 16 classes) instead of n_classes rows far apart,
    which is what makes hashed text with 2^18+ buckets fast. The file
    format is class-major as model.h says; model_io.c transposes.
*/
#ifndef ANNOTATE_MODEL_INTERNAL_H
#define ANNOTATE_MODEL_INTERNAL_H

#include "model/model.h"

#define MODEL_MAX_LABEL        127      /* bytes of a class name (model_class_metrics_t.label) */
#define MODEL_MAX_VECTOR_DIM   (1u << 20)
#define MODEL_MIN_TEMPERATURE  0.05
#define MODEL_MAX_TEMPERATURE  20.0

struct model {
    features_config_t features;
    size_t dim;             /* feature indices; weight row dim is the bias */
    size_t n_classes;
    char **labels;          /* n_classes NUL-terminated names */
    double temperature;
    float bias;             /* value of the bias feature (1) */
    float *w;               /* (dim + 1) * n_classes, feature-major */
    /*  The dense block of w again, class-major (model_dense.c): row k holds
        class k's weights of the dense features, wt_stride floats apart
        (vector_dim rounded up to 8, zero padded). A copy, kept equal to w
        by model_dense_sync after every bulk write and by
        model_online_update; NULL without a dense part, or when too large
        or out of memory (then scoring goes through w alone).  */
    float *wt;
    size_t wt_stride;
};

/*  liblinear solver model_train uses: L2R_LR (0), the primal trust-region
    Newton method; bench/models measured L2R_LR_DUAL (7) against it.  */
#define MODEL_SOLVER_DEFAULT   0

/*  model_train with a given liblinear solver_type (L2R_LR or
    L2R_LR_DUAL), for the benchmarks.  */
model_t *model_train_solver (int solver, const features_config_t *features,
                             const char *const *labels, size_t n_labels,
                             const model_example_t *train, size_t n_train,
                             const model_example_t *valid, size_t n_valid,
                             const model_train_config_t *cfg, model_metrics_t *metrics,
                             char *err, size_t errlen);

/*  Allocates a model with zero weights, copying labels. NULL with err set
    when the sizes are out of range or memory is short.  */
model_t *model_alloc (const features_config_t *features, const char *const *labels,
                      size_t n_labels, char *err, size_t errlen);

/*  True when cfg is a configuration features_extract accepts and a model
    may carry (ranges from features.h).  */
bool model_features_valid (const features_config_t *cfg, char *err, size_t errlen);

/*  True when name is a usable class name: 1..MODEL_MAX_LABEL bytes of UTF-8.  */
bool model_label_valid (const char *name, size_t len);

/*  Raw one-vs-rest margins of x into out[n_classes].  */
void model_margins (const model_t *self, const sparse_vec_t *x, float *out);

/*  In place: out[k] = softmax (m[k] / t). Returns the arg-max.  */
size_t model_softmax (float *m, size_t n, double t);

/*  model_softmax with a vectorised exp (model_dense.c): the same up to
    ~1e-7 relative, for the batched paths, where libm's expf per value was
    a third of the cost of a small dense item.  */
size_t model_softmax_fast (float *m, size_t n, double t);

/*  Mean negative log-likelihood of the true classes under softmax (m / t);
    margins is n rows of k floats.  */
double model_nll (const float *margins, const int32_t *y, size_t n, size_t k, double t);

/*  Temperature in [MODEL_MIN_TEMPERATURE, MODEL_MAX_TEMPERATURE] minimising
    model_nll (golden-section search over log t).  */
double model_fit_temperature (const float *margins, const int32_t *y, size_t n, size_t k);

/*  Expected calibration error over 10 equal-width confidence bins of
    softmax (m / t).  */
double model_ece (const float *margins, const int32_t *y, size_t n, size_t k, double t);

/*  model_predict_batch with the path forced, for tests and benchmarks:
    MODEL_BATCH_AUTO picks as model_predict_batch does, MODEL_BATCH_LOOP
    calls model_predict per item, MODEL_BATCH_BLAS uses sgemm for the
    dense part whatever the batch size, MODEL_BATCH_DENSE the class-major
    kernel of model_dense.c.  */
typedef enum {
    MODEL_BATCH_AUTO = 0, MODEL_BATCH_LOOP = 1, MODEL_BATCH_BLAS = 2,
    MODEL_BATCH_DENSE = 3   /* dense rows gathered, model_dense_dots (needs wt, else the loop) */
} model_batch_mode_t;
size_t model_predict_batch_mode (const model_t *self, const sparse_vec_t *const *xs, size_t n,
                                 float *proba, size_t *argmax, model_batch_mode_t mode);

/*  First feature index of the dense part: 2^hash_bits, or 0 without text.  */
size_t model_dense_offset (const model_t *self);

/*  (Re)builds m->wt from m->w; call after writing m->w other than through
    model_online_update. Leaves wt NULL (and scoring on the slower paths)
    when there is no dense part, it would exceed MODEL_DENSE_MAX_BYTES, or
    memory is short.  */
#define MODEL_DENSE_MAX_BYTES ((size_t) 256 << 20)
void model_dense_sync (model_t *m);

/*  Adds factor[i] * (dense block of the weights . rows[i]) to the margins
    outs[i][0..n_classes) for i < n; rows[i] holds the vector_dim dense
    values of item i. Class-major dot products, two items at a time, with
    an AVX2 kernel where the CPU has it. Needs m->wt.  */
void model_dense_dots (const model_t *m, const float *const *rows, const double *factor,
                       float *const *outs, size_t n);

/*  model_dense_dots with the kernel chosen, for tests and benchmarks:
    MODEL_KERNEL_AVX2 falls back to the baseline on a CPU without AVX2 and
    FMA. Returns the kernel used.  */
typedef enum { MODEL_KERNEL_AUTO = 0, MODEL_KERNEL_BASE = 1, MODEL_KERNEL_AVX2 = 2 } model_kernel_t;
model_kernel_t model_dense_dots_kernel (const model_t *m, const float *const *rows,
                                        const double *factor, float *const *outs, size_t n,
                                        model_kernel_t kernel);

/*  Fits m's weights (already allocated, zero) by multinomial L-BFGS on
    the training examples (model_lbfgs.c). 0, or -1 with err set.  */
int model_lbfgs_fit (model_t *m, const model_example_t *ex, size_t n,
                     const model_train_config_t *cfg, char *err, size_t errlen);

#endif
