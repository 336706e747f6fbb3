/*  model_train.c: model_train, on liblinear.

    The sparse vectors become one liblinear problem (feature j is liblinear
    index j + 1, and a constant bias feature with index dim + 1 is appended
    to every row, as liblinear expects the caller to do), shared read-only
    by all classes. Each class present in the training set is then one
    binary L2-regularised logistic regression (one-vs-rest, as liblinear's
    own multi-class loop does), solved by liblinear's primal trust-region
    Newton method, the `liblinear` solver of scikit-learn. The binary
    problems are independent, so they run on a small pool of threads: with
    2 cores a 10-class retrain takes about half the wall time of
    liblinear's serial loop. (cfg->solver MODEL_SOLVER_LBFGS trains one
    multinomial model by L-BFGS instead: model_lbfgs.c.) The primal solver draws no random numbers, so
    the result is the same whatever the thread schedule. liblinear itself
    is wrapped in model_liblinear.c.

    With exactly two classes present a single binary problem is solved and
    the second class gets the negated weights.

    Classes in `labels` but absent from the training set cannot be learnt;
    they get zero weights and a bias 20 below the lowest winning margin on
    the training set, so they never win there, and online updates can still
    raise them when a person uses such a class.

    Example weights (model_example_t.weight) are ignored: liblinear 2.3,
    the Debian version, has no per-instance weights (problem.W arrived in
    liblinear 2.40 and is not in this build).
*/
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/model_internal.h"
#include "model/model_liblinear.h"
#include "util/util.h"

#define MAX_THREADS 8

typedef struct {
    ll_problem_t *prob;             /* shared, read-only */
    const model_example_t *ex;
    size_t n;
    int solver;
    double C, eps;
    model_t *model;
    const int32_t *classes;         /* the present classes, one binary problem each */
    size_t n_todo;
    atomic_size_t next;
    atomic_int failed;
} job_t;

/*  "positive vs the rest" into weight column `col`, times sign.  */
static int
train_binary (job_t *job, double *y, int32_t positive, size_t col, float sign)
{
    for (size_t i = 0; i < job->n; i++)
        y[i] = job->ex[i].y == positive ? 1.0 : -1.0;
    model_t *m = job->model;
    return ll_train_binary (job->prob, y, job->solver, job->C, job->eps, m->w + col, m->n_classes,
                            sign);
}

static void *
worker (void *arg)
{
    job_t *job = arg;
    double *y = malloc (job->n * sizeof *y);
    if (!y) {
        atomic_store (&job->failed, 1);
        return NULL;
    }
    for (size_t t; (t = atomic_fetch_add (&job->next, 1)) < job->n_todo;) {
        int32_t c = job->classes[t];
        if (train_binary (job, y, c, (size_t) c, 1.0f))
            atomic_store (&job->failed, 1);
    }
    free (y);
    return NULL;
}

/*  One-vs-rest over the present classes on up to MAX_THREADS threads.  */
static int
train_all (job_t *job)
{
    long cpus = sysconf (_SC_NPROCESSORS_ONLN);
    size_t n_threads = cpus < 1 ? 1 : cpus > MAX_THREADS ? MAX_THREADS : (size_t) cpus;
    if (n_threads > job->n_todo)
        n_threads = job->n_todo;
    pthread_t tid[MAX_THREADS];
    size_t started = 0;
    for (size_t t = 1; t < n_threads; t++, started++)
        if (pthread_create (&tid[t - 1], NULL, worker, job) != 0)
            break;
    worker (job);
    for (size_t t = 0; t < started; t++)
        pthread_join (tid[t], NULL);
    return atomic_load (&job->failed) ? -1 : 0;
}

/*  Two classes: one binary problem, the second class the negation.  */
static int
train_pair (job_t *job)
{
    model_t *m = job->model;
    size_t nk = m->n_classes, a = (size_t) job->classes[0], b = (size_t) job->classes[1];
    double *y = malloc (job->n * sizeof *y);
    int rc = y ? train_binary (job, y, job->classes[0], a, 1.0f) : -1;
    for (size_t j = 0; rc == 0 && j <= m->dim; j++)
        m->w[j * nk + b] = -m->w[j * nk + a];
    free (y);
    return rc;
}

/*  The liblinear problem and the training proper.  */
static int
fit (job_t *job)
{
    const sparse_vec_t **xs = malloc ((job->n ? job->n : 1) * sizeof *xs);
    if (!xs)
        return -1;
    for (size_t i = 0; i < job->n; i++)
        xs[i] = job->ex[i].x;
    job->prob = ll_problem_new (xs, job->n, job->model->dim);
    free (xs);
    if (!job->prob)
        return -1;
    ll_silence ();
    int rc = job->n_todo == 2 ? train_pair (job) : train_all (job);
    ll_problem_destroy (&job->prob);
    return rc;
}

/*  Bias of the classes nobody used: 20 below the lowest winning margin
    on the training set (and below -20).  */
static void
set_absent_bias (model_t *m, const model_example_t *ex, size_t n, const bool *present)
{
    size_t nk = m->n_classes;
    float floor_m = 0, margins[MODEL_MAX_CLASSES];
    for (size_t i = 0; i < n; i++) {
        model_margins (m, ex[i].x, margins);
        float top = -INFINITY;
        for (size_t k = 0; k < nk; k++)
            if (present[k] && margins[k] > top)
                top = margins[k];
        floor_m = top < floor_m ? top : floor_m;
    }
    for (size_t k = 0; k < nk; k++)
        if (!present[k])
            m->w[m->dim * nk + k] = floor_m - 20.0f;
}

static int
check_examples (const model_example_t *ex, size_t n, size_t n_labels, const char *what,
                char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        if (!ex[i].x)
            return err_set (err, errlen, "%s example %zu has no features", what, i);
        if (ex[i].y < 0 || (size_t) ex[i].y >= n_labels)
            return err_set (err, errlen, "%s example %zu: class %d out of range (0..%zu)", what, i,
                            ex[i].y, n_labels - 1);
    }
    return 0;
}

/*  Fits the temperature on the validation margins.  */
static int
calibrate (model_t *m, const model_example_t *valid, size_t n_valid)
{
    size_t nk = m->n_classes;
    float *margins = malloc (n_valid * nk * sizeof *margins);
    int32_t *y = malloc (n_valid * sizeof *y);
    if (!margins || !y) {
        free (margins), free (y);
        return -1;
    }
    for (size_t i = 0; i < n_valid; i++) {
        model_margins (m, valid[i].x, margins + i * nk);
        y[i] = valid[i].y;
    }
    m->temperature = model_fit_temperature (margins, y, n_valid, nk);
    free (margins), free (y);
    return 0;
}

model_t *
model_train_solver (int solver, const features_config_t *features, const char *const *labels,
                    size_t n_labels, const model_example_t *train_ex, size_t n_train,
                    const model_example_t *valid, size_t n_valid, const model_train_config_t *cfg,
                    model_metrics_t *metrics, char *err, size_t errlen)
{
    int64_t t0 = time_mono_us ();
    if (err && errlen)
        err[0] = '\0';
    if (metrics)
        memset (metrics, 0, sizeof *metrics);
    if (!(cfg->C > 0) || !isfinite (cfg->C) || !(cfg->eps > 0) || !isfinite (cfg->eps))
        return err_set (err, errlen, "C and eps must be finite and positive"), NULL;
    if (cfg->solver != MODEL_SOLVER_LIBLINEAR && cfg->solver != MODEL_SOLVER_LBFGS
        && cfg->solver != MODEL_SOLVER_AUTO)
        return err_set (err, errlen, "unknown solver %d", (int) cfg->solver), NULL;
    model_solver_t chosen = cfg->solver;
    if (chosen == MODEL_SOLVER_AUTO) {
        /* text features are the indices below the dense offset */
        size_t text_dim = features->hash_bits ? (size_t) 1 << features->hash_bits : 0;
        bool text = false;
        for (size_t i = 0; i < n_train && !text; i++)
            text = train_ex[i].x && train_ex[i].x->n && train_ex[i].x->idx[0] < text_dim;
        /* L-BFGS is chosen for its speed on large dense sets; on small ones
           both are instant and liblinear is what the shipped manifests were
           tuned with */
        chosen = text || n_train < MODEL_LBFGS_MIN_EXAMPLES ? MODEL_SOLVER_LIBLINEAR
                                                            : MODEL_SOLVER_LBFGS;
    }
    if (n_train > INT32_MAX)
        return err_set (err, errlen, "too many training examples (%zu)", n_train), NULL;
    model_t *m = model_alloc (features, labels, n_labels, err, errlen);
    if (!m)
        return NULL;
    if (m->dim + 1 > INT32_MAX
        || check_examples (train_ex, n_train, n_labels, "training", err, errlen)
        || check_examples (valid, n_valid, n_labels, "validation", err, errlen)) {
        if (m->dim + 1 > INT32_MAX)
            err_set (err, errlen, "too many features for liblinear");
        model_destroy (&m);
        return NULL;
    }
    bool present[MODEL_MAX_CLASSES] = { false };
    int32_t classes[MODEL_MAX_CLASSES];
    size_t n_present = 0;
    for (size_t i = 0; i < n_train; i++)
        present[train_ex[i].y] = true;
    for (size_t k = 0; k < n_labels; k++)
        if (present[k])
            classes[n_present++] = (int32_t) k;
    if (n_present < 2) {
        err_set (err, errlen, "need examples of at least two classes, got %zu", n_present);
        model_destroy (&m);
        return NULL;
    }

    job_t job = { .ex = train_ex, .n = n_train, .solver = solver, .C = cfg->C, .eps = cfg->eps,
                  .model = m, .classes = classes, .n_todo = n_present };
    int rc = chosen == MODEL_SOLVER_LBFGS ? model_lbfgs_fit (m, train_ex, n_train, cfg, err, errlen)
                                               : fit (&job);
    if (rc == 0 && n_present < n_labels)
        set_absent_bias (m, train_ex, n_train, present);
    if (rc == 0 && cfg->calibrate && n_valid > 0)
        rc = calibrate (m, valid, n_valid);
    if (rc != 0) {
        if (err && errlen && !*err)
            err_set (err, errlen, "liblinear training failed (out of memory?)");
        model_destroy (&m);
        return NULL;
    }
    model_dense_sync (m);       /* the solvers wrote w only */
    if (metrics) {
        model_evaluate (m, valid, n_valid, metrics);
        metrics->n_train = n_train;
        metrics->train_ms = (double) (time_mono_us () - t0) / 1000.0;
    }
    return m;
}

model_t *
model_train (const features_config_t *features, const char *const *labels, size_t n_labels,
             const model_example_t *train_ex, size_t n_train, const model_example_t *valid,
             size_t n_valid, const model_train_config_t *cfg, model_metrics_t *metrics, char *err,
             size_t errlen)
{
    return model_train_solver (MODEL_SOLVER_DEFAULT, features, labels, n_labels, train_ex, n_train,
                               valid, n_valid, cfg, metrics, err, errlen);
}
