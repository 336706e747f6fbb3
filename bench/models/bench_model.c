/*  bench_model.c: the C side of the model benchmarks (bench/models/run.sh
    runs it beside bench/models/sklearn_side.py on the same files).

        bench_model data KIND TRAIN.jsonl TEST.jsonl [REPEAT] [SVM_PREFIX]
        bench_model memory
        bench_model embed [DIM] [CLASSES]

    KIND picks the features, the same ones sklearn_side.py builds:
      digits   64 grey levels / 16, no text
      fashion  784 pixels as given (0..1), no text
      spam     hashed text, 2^18 buckets, unigrams + bigrams (the defaults)

    `data` trains on TRAIN (all of it, no calibration: the same data
    scikit-learn gets) with liblinear's primal (L2R_LR) and dual
    (L2R_LR_DUAL) solvers REPEAT times each, measures test accuracy, then
    once more on 90% of TRAIN calibrated on the other 10% for the ECE on
    TEST; then per-item latency, features included, one at a time and in
    batches of 256: model_predict_items on the raw items (the annotation
    path), and features_extract + model_predict / model_predict_batch;
    and model_predict alone with feature-major
    weights (the library's layout) against a class-major loop. With
    SVM_PREFIX it also writes our features as SVM_PREFIX-{train,test}.svm
    so scikit-learn can be trained on exactly them.

    `memory` measures a 2^20-bucket, 10-class model: weight bytes and the
    resident-size delta of loading one.

    `embed` times scoring of fully dense DIM-value items (embeddings) by
    the per-item loop, sgemm and the class-major dense kernel
    (model_predict_batch's three paths).

    Environment: BENCH_SOLVERS=lbfgs trains only the solvers whose name
    contains it ("L2R_LR", "L2R_LR_DUAL", "lbfgs multinomial");
    BENCH_NO_TRAIN, BENCH_NO_CALIB, BENCH_NO_LATENCY skip those parts;
    BLAS_THREADS (default 1) and BLAS_TRAIN_THREADS (default 2) are the
    OpenBLAS threads for batched scoring and for L-BFGS training.

    Output: one JSON object a line on stdout; timings are medians.
*/
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "features/features.h"
#include "model/model.h"

/*  model_train with an explicit liblinear solver, from model_internal.h
    (which cannot be included here with model.h's public view alone), and
    the two solver_type values of <linear.h> (whose `struct model` clashes
    with model.h's).  */
enum { L2R_LR = 0, L2R_LR_DUAL = 7, LBFGS = -1 /* cfg.solver MODEL_SOLVER_LBFGS */ };
model_t *model_train_solver (int solver, const features_config_t *features,
                             const char *const *labels, size_t n_labels,
                             const model_example_t *train, size_t n_train,
                             const model_example_t *valid, size_t n_valid,
                             const model_train_config_t *cfg, model_metrics_t *metrics,
                             char *err, size_t errlen);
size_t model_predict_batch_mode (const model_t *self, const sparse_vec_t *const *xs, size_t n,
                                 float *proba, size_t *argmax, int mode);
void openblas_set_num_threads (int n);

#define MAX_LABELS 64
#define MAX_RUNS   9
#define BATCH      256

typedef struct {
    char *text;
    size_t text_len;
    float *vec;
    size_t n_vec;
    int32_t y;
} item_t;

typedef struct {
    item_t *items;
    size_t n;
    sparse_vec_t *x;
    model_example_t *ex;
} set_t;

static char *labels[MAX_LABELS];
static size_t n_labels;
static features_config_t fcfg;
static int blas_threads = 1;      /* BLAS_THREADS, for batched scoring */
static int train_threads = 2;     /* BLAS_TRAIN_THREADS, for the L-BFGS solver */

static double
now_s (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

static int
cmp_double (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

static double
median (double *v, int n)
{
    qsort (v, (size_t) n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void
die (const char *what)
{
    fprintf (stderr, "bench_model: %s\n", what);
    exit (1);
}

static int32_t
label_of (const char *truth, bool add)
{
    for (size_t k = 0; k < n_labels; k++)
        if (strcmp (labels[k], truth) == 0)
            return (int32_t) k;
    if (!add || n_labels == MAX_LABELS)
        die ("unknown or too many labels");
    labels[n_labels] = strdup (truth);
    return (int32_t) n_labels++;
}

static int
cmp_str (const void *a, const void *b)
{
    return strcmp (*(char *const *) a, *(char *const *) b);
}

static void
load (set_t *s, const char *path, bool add_labels)
{
    FILE *fp = fopen (path, "r");
    if (!fp)
        die (path);
    char *line = NULL;
    size_t cap = 0, alloc = 0;
    ssize_t len;
    while ((len = getline (&line, &cap, fp)) > 0) {
        json_error_t jerr;
        json_t *o = json_loadb (line, (size_t) len, 0, &jerr);
        if (!o)
            die ("bad JSON line");
        if (s->n == alloc) {
            alloc = alloc ? alloc * 2 : 1024;
            s->items = realloc (s->items, alloc * sizeof *s->items);
        }
        item_t *it = &s->items[s->n++];
        memset (it, 0, sizeof *it);
        json_t *t = json_object_get (o, "text"), *v = json_object_get (o, "vector");
        if (json_is_string (t)) {
            it->text_len = json_string_length (t);
            it->text = malloc (it->text_len + 1);
            memcpy (it->text, json_string_value (t), it->text_len + 1);
        }
        if ((it->n_vec = json_array_size (v))) {
            it->vec = malloc (it->n_vec * sizeof *it->vec);
            for (size_t j = 0; j < it->n_vec; j++)
                it->vec[j] = (float) json_number_value (json_array_get (v, j));
        }
        const char *truth = json_string_value (json_object_get (json_object_get (o, "meta"), "truth"));
        if (!truth)
            die ("item without meta.truth");
        it->y = label_of (truth, add_labels);
        json_decref (o);
    }
    free (line);
    fclose (fp);
}

/*  Class indices in name order, as scikit-learn's classes_.  */
static void
sort_labels (set_t *a)
{
    char *sorted[MAX_LABELS];
    int32_t remap[MAX_LABELS];
    memcpy (sorted, labels, n_labels * sizeof *labels);
    qsort (sorted, n_labels, sizeof *sorted, cmp_str);
    for (size_t k = 0; k < n_labels; k++)
        for (size_t j = 0; j < n_labels; j++)
            if (labels[k] == sorted[j])
                remap[k] = (int32_t) j;
    for (size_t i = 0; i < a->n; i++)
        a->items[i].y = remap[a->items[i].y];
    memcpy (labels, sorted, n_labels * sizeof *labels);
}

static int
extract (const item_t *it, sparse_vec_t *out)
{
    char err[256];
    return features_extract (&fcfg, it->text, it->text_len, it->vec, it->n_vec, out, err, sizeof err);
}

static double
featurize (set_t *s)
{
    double t0 = now_s ();
    s->x = calloc (s->n, sizeof *s->x);
    s->ex = calloc (s->n, sizeof *s->ex);
    for (size_t i = 0; i < s->n; i++) {
        sparse_vec_init (&s->x[i]);
        if (extract (&s->items[i], &s->x[i]) != 0)
            die ("features_extract failed");
        s->ex[i] = (model_example_t) { &s->x[i], s->items[i].y, 0 };
    }
    return now_s () - t0;
}

static void
set_kind (const char *kind)
{
    features_config_default (&fcfg);
    if (strcmp (kind, "digits") == 0 || strcmp (kind, "fashion") == 0) {
        fcfg.hash_bits = 0;
        fcfg.vector_dim = strcmp (kind, "digits") == 0 ? 64 : 784;
        fcfg.vector_norm = VECTOR_NORM_NONE;
        fcfg.vector_scale = strcmp (kind, "digits") == 0 ? 1.0f / 16 : 1.0f;
    }
    else if (strcmp (kind, "spam") != 0)
        die ("kind is digits, fashion or spam");
}

static double
accuracy (const model_t *m, const set_t *test)
{
    model_metrics_t mm;
    model_evaluate (m, test->ex, test->n, &mm);
    double a = mm.accuracy;
    model_metrics_free (&mm);
    return a;
}

static model_t *
train_timed (int solver, const set_t *train, double *secs)
{
    model_train_config_t cfg;
    model_train_config_default (&cfg);
    if (solver == LBFGS) {
        cfg.solver = MODEL_SOLVER_LBFGS;
        solver = L2R_LR;
        if (getenv ("LBFGS_MAX_ITER"))
            cfg.max_iter = (uint32_t) atoi (getenv ("LBFGS_MAX_ITER"));
    }
    char err[256];
    double t0 = now_s ();
    model_t *m = model_train_solver (solver, &fcfg, (const char *const *) labels, n_labels, train->ex,
                                     train->n, NULL, 0, &cfg, NULL, err, sizeof err);
    *secs = now_s () - t0;
    if (!m)
        die (err);
    return m;
}

static void
bench_training (const char *name, const set_t *train, const set_t *test, int repeat)
{
    const struct { int solver; const char *name; } solvers[] = {
        { L2R_LR, "L2R_LR" }, { L2R_LR_DUAL, "L2R_LR_DUAL" }, { LBFGS, "lbfgs multinomial" } };
    const char *only = getenv ("BENCH_SOLVERS");     /* e.g. "lbfgs": names containing it */
    openblas_set_num_threads (train_threads);
    for (size_t s = 0; s < 3; s++) {
        if (only && !strstr (solvers[s].name, only))
            continue;
        /*  The dual solver took 455 s on Fashion-MNIST's 60,000 items (vs
            27 s primal): measured once (BENCH_DUAL=1), skipped by default.  */
        if (solvers[s].solver == L2R_LR_DUAL && train->n > 20000 && !getenv ("BENCH_DUAL"))
            continue;
        double t[MAX_RUNS], acc = 0;
        int runs = 0;
        /*  A solver that needs over a minute is timed once.  */
        while (runs < repeat && (runs == 0 || t[0] < 60)) {
            model_t *m = train_timed (solvers[s].solver, train, &t[runs++]);
            acc = accuracy (m, test);
            model_destroy (&m);
        }
        printf ("{\"side\":\"c\",\"dataset\":\"%s\",\"what\":\"train\",\"solver\":\"%s\","
                "\"n_train\":%zu,\"n_test\":%zu,\"accuracy\":%.4f,\"train_s\":%.3f,\"runs\":%d,"
                "\"blas_threads\":%d}\n",
                name, solvers[s].name, train->n, test->n, acc, median (t, runs), runs, train_threads);
        fflush (stdout);
    }
}

/*  90% train, 10% calibration, ECE on the test set.  */
static void
bench_calibration (const char *name, const set_t *train, const set_t *test)
{
    model_example_t *fit = malloc (train->n * sizeof *fit), *cal = malloc (train->n * sizeof *cal);
    size_t nf = 0, nc = 0;
    for (size_t i = 0; i < train->n; i++)
        if (i % 10 == 9)
            cal[nc++] = train->ex[i];
        else
            fit[nf++] = train->ex[i];
    model_train_config_t cfg;
    model_train_config_default (&cfg);
    model_metrics_t mv, mt;
    char err[256];
    model_t *m = model_train (&fcfg, (const char *const *) labels, n_labels, fit, nf, cal, nc, &cfg,
                              &mv, err, sizeof err);
    if (!m)
        die (err);
    model_evaluate (m, test->ex, test->n, &mt);
    printf ("{\"side\":\"c\",\"dataset\":\"%s\",\"what\":\"calibration\",\"temperature\":%.4f,"
            "\"valid_ece_before\":%.4f,\"valid_ece_after\":%.4f,\"test_ece_before\":%.4f,"
            "\"test_ece_after\":%.4f,\"test_accuracy\":%.4f}\n",
            name, mv.temperature, mv.ece_uncalibrated, mv.ece, mt.ece_uncalibrated, mt.ece, mt.accuracy);
    fflush (stdout);
    model_metrics_free (&mv);
    model_metrics_free (&mt);
    model_destroy (&m);
    free (fit);
    free (cal);
}

/*  Features + scoring per item, timed over the whole test set, the way
    the annotation path does it: model_predict_items on `batch` raw items
    at a time (text and vector as loaded; it extracts the features
    itself), the text part's sparse vector reused between calls.  */
static double
items_us (const model_t *m, const set_t *test, size_t n, size_t batch)
{
    model_item_t *its = malloc (n * sizeof *its);
    for (size_t i = 0; i < n; i++)
        its[i] = (model_item_t) { test->items[i].text, test->items[i].text_len,
                                  test->items[i].vec, test->items[i].n_vec };
    sparse_vec_t scratch;
    sparse_vec_init (&scratch);
    float *p = malloc (BATCH * MAX_LABELS * sizeof *p);
    size_t am[BATCH];
    char err[256];
    volatile size_t sink = 0;
    double total = 0;
    for (size_t b = 0; b < n; b += batch) {
        size_t len = b + batch < n ? batch : n - b;
        double t0 = now_s ();
        if (model_predict_items (m, its + b, len, p, am, &scratch, err, sizeof err) != len)
            die (err);
        sink += am[0];
        total += now_s () - t0;
    }
    sparse_vec_free (&scratch);
    free (p), free (its);
    (void) sink;
    return total / (double) n * 1e6;
}

/*  The same through the sparse API: batch 1, features_extract +
    model_predict one at a time; larger batches, features_extract of each
    item of the batch into its own vector, then one model_predict_batch.  */
static double
latency_us (const model_t *m, const set_t *test, size_t n, size_t batch)
{
    sparse_vec_t xv[BATCH];
    const sparse_vec_t *xs[BATCH];
    for (size_t i = 0; i < BATCH; i++)
        sparse_vec_init (&xv[i]), xs[i] = &xv[i];
    float *p = malloc (BATCH * MAX_LABELS * sizeof *p);
    size_t am[BATCH];
    volatile size_t sink = 0;
    double total = 0;
    for (size_t b = 0; b < n; b += batch) {
        size_t end = b + batch < n ? b + batch : n;
        double t0 = now_s ();
        if (batch == 1) {
            extract (&test->items[b], &xv[0]);
            sink += model_predict (m, &xv[0], p);
        }
        else {
            for (size_t i = b; i < end; i++)
                extract (&test->items[i], &xv[i - b]);
            model_predict_batch (m, xs, end - b, p, am);
            sink += am[0];
        }
        total += now_s () - t0;
    }
    for (size_t i = 0; i < BATCH; i++)
        sparse_vec_free (&xv[i]);
    free (p);
    (void) sink;
    return total / (double) n * 1e6;
}

/*  Scoring alone (features precomputed) in batches of `batch` through
    one path of model_predict_batch_mode: 0 automatic, 1 the per-item
    loop, 2 sgemm, 3 the class-major dense kernel.  */
static double
batch_path_us (const model_t *m, const set_t *test, size_t n, size_t batch, int mode)
{
    const sparse_vec_t **xs = malloc (n * sizeof *xs);
    float *p = malloc (batch * MAX_LABELS * sizeof *p);
    for (size_t i = 0; i < n; i++)
        xs[i] = &test->x[i];
    double t0 = now_s ();
    for (size_t b = 0; b < n; b += batch)
        model_predict_batch_mode (m, xs + b, b + batch < n ? batch : n - b, p, NULL, mode);
    double us = (now_s () - t0) / (double) n * 1e6;
    free (xs), free (p);
    return us;
}

/*  The class-major alternative: one dot product per class over rows read
    from the serialised model (weights are its last n_classes * (dim + 1)
    floats, class-major).  */
static double
class_major_us (const model_t *m, const set_t *test, size_t n)
{
    uint8_t *blob;
    size_t len = model_serialize (m, &blob), dim = features_dim (&fcfg), nk = model_n_classes (m);
    float *w = malloc (nk * (dim + 1) * sizeof *w);
    memcpy (w, blob + len - nk * (dim + 1) * 4, nk * (dim + 1) * 4);   /* little-endian host */
    free (blob);
    float margin[MAX_LABELS];
    volatile float sink = 0;
    double t0 = now_s ();
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < nk; k++)
            margin[k] = sparse_vec_dot (&test->x[i], w + k * (dim + 1), dim) + w[k * (dim + 1) + dim];
        sink += margin[0];
    }
    double us = (now_s () - t0) / (double) n * 1e6;
    (void) sink;
    free (w);
    return us;
}

static double
predict_only_us (const model_t *m, const set_t *test, size_t n)
{
    float p[MAX_LABELS];
    volatile size_t sink = 0;
    double t0 = now_s ();
    for (size_t i = 0; i < n; i++)
        sink += model_predict (m, &test->x[i], p);
    (void) sink;
    return (now_s () - t0) / (double) n * 1e6;
}

static void
bench_latency (const char *name, const set_t *train, const set_t *test, int repeat)
{
    double secs;
    model_t *m = train_timed (L2R_LR, train, &secs);
    size_t n = test->n;
    double single[MAX_RUNS], batched[MAX_RUNS], fm[MAX_RUNS], cm[MAX_RUNS];
    double single_sp[MAX_RUNS], batched_sp[MAX_RUNS];
    for (int r = 0; r < repeat; r++) {
        single[r] = items_us (m, test, n, 1);
        batched[r] = items_us (m, test, n, BATCH);
        single_sp[r] = latency_us (m, test, n, 1);
        batched_sp[r] = latency_us (m, test, n, BATCH);
        fm[r] = predict_only_us (m, test, n);
        cm[r] = class_major_us (m, test, n);
    }
    /*  single_us and batch256_us_per_item: model_predict_items; *_sparse:
        features_extract + model_predict / model_predict_batch.  */
    printf ("{\"side\":\"c\",\"dataset\":\"%s\",\"what\":\"latency\",\"n\":%zu,"
            "\"blas_threads\":%d,\"single_us\":%.3f,\"batch256_us_per_item\":%.3f,"
            "\"single_us_sparse\":%.3f,\"batch256_us_per_item_sparse\":%.3f,"
            "\"predict_only_feature_major_us\":%.3f,\"predict_only_class_major_us\":%.3f}\n",
            name, n, blas_threads, median (single, repeat), median (batched, repeat),
            median (single_sp, repeat), median (batched_sp, repeat), median (fm, repeat),
            median (cm, repeat));
    /*  Loop against sgemm by batch size, scoring only: where
        model_predict_batch's BLAS_MIN_BATCH comes from.  */
    const size_t sizes[] = { 1, 2, 4, 8, 16, 32, 64, 256 };
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        double lo[MAX_RUNS], bl[MAX_RUNS], de[MAX_RUNS];
        for (int r = 0; r < repeat; r++) {
            lo[r] = batch_path_us (m, test, n, sizes[s], 1);
            bl[r] = batch_path_us (m, test, n, sizes[s], 2);
            de[r] = batch_path_us (m, test, n, sizes[s], 3);
        }
        printf ("{\"side\":\"c\",\"dataset\":\"%s\",\"what\":\"batch_path\",\"batch\":%zu,"
                "\"blas_threads\":%d,\"loop_us\":%.3f,\"sgemm_us\":%.3f,\"dense_us\":%.3f}\n",
                name, sizes[s], blas_threads, median (lo, repeat), median (bl, repeat),
                median (de, repeat));
    }
    fflush (stdout);
    model_destroy (&m);
}

static void
write_svm (const set_t *s, const char *path)
{
    FILE *fp = fopen (path, "w");
    if (!fp)
        die (path);
    for (size_t i = 0; i < s->n; i++) {
        fprintf (fp, "%d", s->items[i].y);
        for (size_t e = 0; e < s->x[i].n; e++)
            fprintf (fp, " %u:%.9g", s->x[i].idx[e] + 1, (double) s->x[i].val[e]);
        fputc ('\n', fp);
    }
    fclose (fp);
}

static int
cmd_data (int argc, char **argv)
{
    if (argc < 5)
        die ("usage: bench_model data KIND TRAIN TEST [REPEAT] [SVM_PREFIX]");
    const char *kind = argv[2];
    int repeat = argc > 5 ? atoi (argv[5]) : 3;
    repeat = repeat < 1 ? 1 : repeat > MAX_RUNS ? MAX_RUNS : repeat;
    set_kind (kind);
    if (getenv ("BLAS_THREADS"))
        blas_threads = atoi (getenv ("BLAS_THREADS"));
    blas_threads = blas_threads < 1 ? 1 : blas_threads;
    if (getenv ("BLAS_TRAIN_THREADS"))
        train_threads = atoi (getenv ("BLAS_TRAIN_THREADS"));
    train_threads = train_threads < 1 ? 1 : train_threads;
    set_t train = { 0 }, test = { 0 };
    load (&train, argv[3], true);
    sort_labels (&train);
    load (&test, argv[4], false);
    double ft = featurize (&train) + featurize (&test);
    printf ("{\"side\":\"c\",\"dataset\":\"%s\",\"what\":\"features\",\"items\":%zu,"
            "\"us_per_item\":%.3f}\n", kind, train.n + test.n, ft / (double) (train.n + test.n) * 1e6);
    if (argc > 6) {
        char path[4096];
        snprintf (path, sizeof path, "%s-train.svm", argv[6]);
        write_svm (&train, path);
        snprintf (path, sizeof path, "%s-test.svm", argv[6]);
        write_svm (&test, path);
    }
    if (!getenv ("BENCH_NO_TRAIN")) {
        bench_training (kind, &train, &test, repeat);
        if (!getenv ("BENCH_NO_CALIB"))
            bench_calibration (kind, &train, &test);
    }
    if (!getenv ("BENCH_NO_LATENCY")) {
        openblas_set_num_threads (blas_threads);
        bench_latency (kind, &train, &test, repeat);
    }
    return 0;
}

static long
rss_bytes (void)
{
    FILE *fp = fopen ("/proc/self/statm", "r");
    long pages = 0, rss = 0;
    if (fp) {
        if (fscanf (fp, "%ld %ld", &pages, &rss) != 2)
            rss = 0;
        fclose (fp);
    }
    return rss * sysconf (_SC_PAGESIZE);
}

/*  A 2^20-bucket text model with 10 classes: trained on synthetic texts
    (each class its own words), serialised, freed; then loaded again with
    the resident size measured around the load.  */
static int
cmd_memory (void)
{
    features_config_default (&fcfg);
    fcfg.hash_bits = 20;
    enum { N = 2000 };
    static sparse_vec_t xs[N];
    static model_example_t ex[N];
    static char *names[10] = { "c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9" };
    char text[256];
    for (int i = 0; i < N; i++) {
        int k = i % 10;
        snprintf (text, sizeof text, "word%d class%d shared%d tail%d", (i * 7919) % 5000, k, i % 13,
                  (i * 31 + k) % 97);
        sparse_vec_init (&xs[i]);
        char err[128];
        if (features_extract (&fcfg, text, strlen (text), NULL, 0, &xs[i], err, sizeof err) != 0)
            die (err);
        ex[i] = (model_example_t) { &xs[i], k, 0 };
    }
    model_train_config_t cfg;
    model_train_config_default (&cfg);
    char err[256];
    model_t *m = model_train (&fcfg, (const char *const *) names, 10, ex, N, NULL, 0, &cfg, NULL,
                              err, sizeof err);
    if (!m)
        die (err);
    uint8_t *blob;
    size_t len = model_serialize (m, &blob);
    model_destroy (&m);
    long before = rss_bytes ();
    m = model_deserialize (blob, len, err, sizeof err);
    long loaded = rss_bytes ();
    free (blob);
    long after_free_blob = rss_bytes ();
    model_t *copy = model_clone (m);
    long cloned = rss_bytes ();
    if (!m || !copy)
        die ("reload failed");
    size_t weights = 10 * (features_dim (&fcfg) + 1) * sizeof (float);
    printf ("{\"side\":\"c\",\"what\":\"memory\",\"hash_bits\":20,\"classes\":10,"
            "\"weight_bytes\":%zu,\"blob_bytes\":%zu,\"rss_delta_load\":%ld,"
            "\"rss_delta_clone\":%ld}\n",
            weights, len, loaded - before, cloned - after_free_blob);
    model_destroy (&copy);
    model_destroy (&m);
    for (int i = 0; i < N; i++)
        sparse_vec_free (&xs[i]);
    return 0;
}

/*  Fully dense inputs, like sentence embeddings: DIM random values an
    item (VECTOR_NORM_L2), 10 classes, a model fitted by 5 L-BFGS
    iterations (only its shape matters here); scoring alone, the per-item
    loop against sgemm by batch size.  */
static int
cmd_embed (int argc, char **argv)
{
    const size_t dim = argc > 2 ? (size_t) atoi (argv[2]) : 768, n = 10000;
    const size_t nk = argc > 3 ? (size_t) atoi (argv[3]) : 10;
    if (dim < 1 || dim > 4096 || nk < 2 || nk > MAX_LABELS)
        die ("DIM is 1..4096, CLASSES 2..64");
    features_config_default (&fcfg);
    fcfg.hash_bits = 0;
    fcfg.vector_dim = (uint32_t) dim;
    set_t test = { 0 };
    test.n = n;
    test.x = calloc (n, sizeof *test.x);
    test.ex = calloc (n, sizeof *test.ex);
    float *v = malloc (dim * sizeof *v);
    uint32_t seed = 1;
    char err[256];
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < dim; j++) {
            seed = seed * 1664525u + 1013904223u;
            v[j] = (float) (seed >> 8) / 16777216.0f - 0.5f + (j % nk == i % nk ? 0.3f : 0.0f);
        }
        sparse_vec_init (&test.x[i]);
        if (features_extract (&fcfg, NULL, 0, v, dim, &test.x[i], err, sizeof err) != 0)
            die (err);
        test.ex[i] = (model_example_t) { &test.x[i], (int32_t) (i % nk), 0 };
    }
    char *names[MAX_LABELS];
    for (size_t k = 0; k < nk; k++) {
        names[k] = malloc (8);
        snprintf (names[k], 8, "c%zu", k);
    }
    model_train_config_t cfg;
    model_train_config_default (&cfg);
    cfg.solver = MODEL_SOLVER_LBFGS;
    cfg.max_iter = 5;
    model_t *m = model_train (&fcfg, (const char *const *) names, nk, test.ex, 2000, NULL, 0, &cfg,
                              NULL, err, sizeof err);
    if (!m)
        die (err);
    openblas_set_num_threads (getenv ("BLAS_THREADS") ? atoi (getenv ("BLAS_THREADS")) : 1);
    const size_t sizes[] = { 1, 4, 16, 64, 256 };
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        double lo[3], bl[3], au[3], de[3];
        for (int r = 0; r < 3; r++) {
            lo[r] = batch_path_us (m, &test, n, sizes[s], 1);
            bl[r] = batch_path_us (m, &test, n, sizes[s], 2);
            au[r] = batch_path_us (m, &test, n, sizes[s], 0);
            de[r] = batch_path_us (m, &test, n, sizes[s], 3);
        }
        printf ("{\"side\":\"c\",\"dataset\":\"embed-%zu-%zuk\",\"what\":\"batch_path\","
                "\"batch\":%zu,\"loop_us\":%.3f,\"sgemm_us\":%.3f,\"dense_us\":%.3f,"
                "\"auto_us\":%.3f}\n",
                dim, nk, sizes[s], median (lo, 3), median (bl, 3), median (de, 3), median (au, 3));
    }
    model_destroy (&m);
    for (size_t k = 0; k < nk; k++)
        free (names[k]);
    for (size_t i = 0; i < n; i++)
        sparse_vec_free (&test.x[i]);
    free (test.x), free (test.ex), free (v);
    return 0;
}

int
main (int argc, char **argv)
{
    if (argc >= 2 && strcmp (argv[1], "data") == 0)
        return cmd_data (argc, argv);
    if (argc >= 2 && strcmp (argv[1], "memory") == 0)
        return cmd_memory ();
    if (argc >= 2 && strcmp (argv[1], "embed") == 0)
        return cmd_embed (argc, argv);
    die ("usage: bench_model data KIND TRAIN TEST [REPEAT] [SVM_PREFIX] | bench_model memory"
         " | bench_model embed [DIM] [CLASSES]");
    return 1;
}
