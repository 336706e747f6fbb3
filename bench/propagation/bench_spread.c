/*  bench_spread.c: the C side of the label-propagation benchmark
    (bench/propagation/run.sh runs it beside sklearn_spread.py on the same
    split files).

        bench_spread spread NAME DATA.jsonl N METRICS NEIGHBOURS SPLIT.json...
        bench_spread knn DATA.jsonl N K REPEAT

    spread: reads the first N items of DATA.jsonl ("vector" as given, the
    class from meta.truth), builds the kNN graph once per metric
    (METRICS: comma list of euclidean, cosine; k = the largest of
    NEIGHBOURS minus 1; built 3 times, the median time reported), and for each split file (sklearn_spread.py
    splits: {"seed", "frac", "labelled": [line numbers]}) and each
    n_neighbors in NEIGHBOURS (comma list) runs spread_run with alpha 0.2,
    max_iter 30, tol 1e-3. One JSON line per run: accuracy on the
    unlabelled items, graph build and spreading seconds, iterations, and
    how many unlabelled items no label reached (label -1, counted wrong;
    scikit-learn gives those its first class). Last,
    the process's peak resident memory.

    knn: builds the cosine graph over the first N items REPEAT times and
    prints each build's seconds (loading excluded).

    BLAS threads: OPENBLAS_NUM_THREADS, as the caller sets it.
*/
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "graph/knn.h"
#include "graph/spread.h"

#define MAX_CLASSES 64
#define MAX_NN      8

typedef struct {
    float *x;
    int32_t *truth;
    size_t n, dim;
    char *classes[MAX_CLASSES];
    size_t n_classes;
} data_t;

static double
now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

static void
die (const char *msg, const char *arg)
{
    fprintf (stderr, "bench_spread: %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
    exit (1);
}

static int32_t
class_of (data_t *d, const char *name)
{
    for (size_t c = 0; c < d->n_classes; c++)
        if (strcmp (d->classes[c], name) == 0)
            return (int32_t) c;
    if (d->n_classes == MAX_CLASSES)
        die ("too many classes", name);
    d->classes[d->n_classes] = strdup (name);
    return (int32_t) d->n_classes++;
}

static void
parse_line (data_t *d, const char *line, size_t cap)
{
    json_error_t jerr;
    json_t *o = json_loads (line, 0, &jerr);
    json_t *v = o ? json_object_get (o, "vector") : NULL;
    const char *truth = json_string_value (json_object_get (json_object_get (o, "meta"), "truth"));
    if (!json_is_array (v) || !truth)
        die ("item without vector or meta.truth", jerr.text);
    if (d->n == 0) {
        d->dim = json_array_size (v);
        d->x = malloc (cap * d->dim * sizeof *d->x);
        d->truth = malloc (cap * sizeof *d->truth);
        if (!d->x || !d->truth || d->dim == 0)
            die ("out of memory or empty vector", NULL);
    }
    if (json_array_size (v) != d->dim)
        die ("vectors of different lengths", NULL);
    for (size_t j = 0; j < d->dim; j++)
        d->x[d->n * d->dim + j] = (float) json_number_value (json_array_get (v, j));
    d->truth[d->n++] = class_of (d, truth);
    json_decref (o);
}

static void
load (data_t *d, const char *path, size_t limit)
{
    FILE *fp = fopen (path, "r");
    if (!fp)
        die ("cannot open", path);
    char *line = NULL;
    size_t cap = 0;
    memset (d, 0, sizeof *d);
    while (d->n < limit && getline (&line, &cap, fp) > 0)
        parse_line (d, line, limit);
    free (line);
    fclose (fp);
    if (d->n == 0)
        die ("no items in", path);
}

static knn_t *
build (const data_t *d, knn_metric_t metric, size_t k, double *secs)
{
    knn_t *g = knn_new (d->dim, k);
    char err[256];
    if (!g || knn_set_metric (g, metric) != 0)
        die ("knn_new failed", NULL);
    for (size_t i = 0; i < d->n; i++)
        if (knn_add (g, NULL, d->x + i * d->dim, err, sizeof err) != 0)
            die ("knn_add", err);
    double t0 = now ();
    if (knn_build (g) != 0)
        die ("knn_build: out of memory", NULL);
    *secs = now () - t0;
    return g;
}

/*  One split file's labels: truth for the listed lines, -1 elsewhere.  */
static void
read_split (const data_t *d, const char *path, int32_t *y, long *seed, double *frac)
{
    json_error_t jerr;
    json_t *o = json_load_file (path, 0, &jerr);
    json_t *lab = json_object_get (o, "labelled");
    if (!json_is_array (lab))
        die ("bad split file", path);
    *seed = (long) json_integer_value (json_object_get (o, "seed"));
    *frac = json_number_value (json_object_get (o, "frac"));
    for (size_t i = 0; i < d->n; i++)
        y[i] = -1;
    for (size_t i = 0; i < json_array_size (lab); i++) {
        json_int_t j = json_integer_value (json_array_get (lab, i));
        if (j < 0 || (size_t) j >= d->n)
            die ("split index out of range", path);
        y[j] = d->truth[j];
    }
    json_decref (o);
}

static size_t
parse_list (const char *text, size_t *out, size_t cap)
{
    size_t n = 0;
    char *copy = strdup (text), *save = NULL;
    for (char *t = strtok_r (copy, ",", &save); t && n < cap; t = strtok_r (NULL, ",", &save))
        out[n++] = (size_t) strtoul (t, NULL, 10);
    free (copy);
    return n;
}

static void
run_spread (const char *name, const data_t *d, const char *metric_name, knn_metric_t metric,
            const size_t *nn, size_t n_nn, char **splits, size_t n_splits)
{
    size_t kmax = 1;
    for (size_t i = 0; i < n_nn; i++)
        kmax = nn[i] - 1 > kmax ? nn[i] - 1 : kmax;
    /* the machine is shared: the graph's time is the median of 3 builds */
    double t[3];
    knn_t *g = NULL;
    for (int r = 0; r < 3; r++) {
        knn_destroy (&g);
        g = build (d, metric, kmax, &t[r]);
    }
    double lo = t[0] < t[1] ? t[0] : t[1], hi = t[0] < t[1] ? t[1] : t[0];
    double knn_s = t[2] < lo ? lo : t[2] > hi ? hi : t[2];
    int32_t *y = malloc (d->n * sizeof *y);
    char err[256];
    for (size_t s = 0; s < n_splits; s++) {
        long seed;
        double frac;
        read_split (d, splits[s], y, &seed, &frac);
        for (size_t v = 0; v < n_nn; v++) {
            spread_config_t cfg;
            spread_config_default (&cfg);
            cfg.n_neighbors = nn[v];
            spread_t *sp = spread_new (&cfg);
            double t0 = now ();
            if (!sp || spread_run (sp, g, y, d->n_classes, err, sizeof err) != 0)
                die ("spread_run", err);
            double spread_s = now () - t0;
            size_t right = 0, total = 0, unreached = 0;
            for (size_t i = 0; i < d->n; i++)
                if (y[i] < 0) {
                    total++;
                    right += spread_label (sp, i) == d->truth[i];
                    unreached += spread_label (sp, i) < 0;
                }
            printf ("{\"side\":\"ours\",\"data\":\"%s\",\"n\":%zu,\"metric\":\"%s\",\"seed\":%ld,"
                    "\"frac\":%g,\"n_neighbors\":%zu,\"acc\":%.6f,\"knn_s\":%.4f,"
                    "\"spread_s\":%.4f,\"time_s\":%.4f,\"n_iter\":%zu,\"unreached\":%zu}\n",
                    name, d->n, metric_name, seed, frac, nn[v], (double) right / (double) total,
                    knn_s, spread_s, knn_s + spread_s, spread_iterations (sp), unreached);
            fflush (stdout);
            spread_destroy (&sp);
        }
    }
    free (y);
    knn_destroy (&g);
}

static int
cmd_spread (int argc, char **argv)
{
    if (argc < 8)
        die ("usage: bench_spread spread NAME DATA.jsonl N METRICS NEIGHBOURS SPLIT.json...", NULL);
    data_t d;
    load (&d, argv[3], strtoul (argv[4], NULL, 10));
    size_t nn[MAX_NN];
    size_t n_nn = parse_list (argv[6], nn, MAX_NN);
    for (size_t i = 0; i < n_nn; i++)
        if (nn[i] < 2 || nn[i] > KNN_MAX_K)
            die ("n_neighbors out of range", argv[6]);
    char *copy = strdup (argv[5]), *save = NULL;
    for (char *m = strtok_r (copy, ",", &save); m; m = strtok_r (NULL, ",", &save)) {
        knn_metric_t metric = strcmp (m, "cosine") == 0 ? KNN_COSINE : KNN_EUCLIDEAN;
        if (metric == KNN_EUCLIDEAN && strcmp (m, "euclidean") != 0)
            die ("unknown metric", m);
        run_spread (argv[2], &d, m, metric, nn, n_nn, argv + 7, (size_t) (argc - 7));
    }
    free (copy);
    struct rusage ru;
    getrusage (RUSAGE_SELF, &ru);
    printf ("{\"side\":\"ours\",\"data\":\"%s\",\"n\":%zu,\"maxrss_mb\":%.1f}\n", argv[2], d.n,
            (double) ru.ru_maxrss / 1024.0);
    return 0;
}

static int
cmd_knn (int argc, char **argv)
{
    if (argc < 6)
        die ("usage: bench_spread knn DATA.jsonl N K REPEAT", NULL);
    data_t d;
    load (&d, argv[2], strtoul (argv[3], NULL, 10));
    size_t k = strtoul (argv[4], NULL, 10), repeat = strtoul (argv[5], NULL, 10);
    for (size_t r = 0; r < repeat; r++) {
        double secs;
        knn_t *g = build (&d, KNN_COSINE, k, &secs);
        /* an update of 100 new points against the built graph */
        char err[256];
        size_t extra = d.n < 100 ? d.n : 100;
        for (size_t i = 0; i < extra; i++)
            knn_add (g, NULL, d.x + i * d.dim, err, sizeof err);
        double t0 = now ();
        knn_update (g);
        double upd = now () - t0;
        printf ("{\"side\":\"ours\",\"what\":\"knn\",\"n\":%zu,\"dim\":%zu,\"k\":%zu,"
                "\"build_s\":%.3f,\"update100_s\":%.4f}\n", d.n, d.dim, k, secs, upd);
        fflush (stdout);
        knn_destroy (&g);
    }
    return 0;
}

int
main (int argc, char **argv)
{
    if (argc >= 2 && strcmp (argv[1], "spread") == 0)
        return cmd_spread (argc, argv);
    if (argc >= 2 && strcmp (argv[1], "knn") == 0)
        return cmd_knn (argc, argv);
    die ("usage: bench_spread spread|knn ...", NULL);
    return 1;
}
