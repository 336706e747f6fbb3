/*  bench_al.c: the C side of the active-learning benchmarks (bench/al/run.sh
    runs it beside bench/al/sklearn_al.py on the same split files).

        bench_al NAME KIND TRAIN.jsonl TEST.jsonl BATCH BUDGET STRATEGIES SPLIT.json...

    KIND picks the features as bench_model does (digits: 64 grey levels / 16;
    fashion: 784 pixels as given; spam: hashed unigrams + bigrams, 2^18
    buckets). STRATEGIES is a comma list of random, least_confidence,
    margin, entropy and margin_diverse (the top 4 * BATCH by margin, then
    al_diverse_pick, max_sim 0.95). Each SPLIT.json (bench/al/splits.py)
    gives one seed's pool, test items, validation sample V and cold-start
    seed set, as line numbers of TRAIN and TEST.

    The loop, per seed and strategy, with a simulated reviewer answering
    from meta.truth: train on the labelled items (model_train, default
    config, no calibration set), score the test set (accuracy) and the pool;
    fit per-class thresholds on V (al_fit_thresholds) and auto-accept the
    unlabelled pool items at or above their predicted class's threshold,
    under two rules (see bench/al/README.md): "fixed", target 0.95 per
    class, and "dataset", the per-class target chosen so that the claimed
    lower bound of the whole dataset's accuracy is >= 0.95; then pick the
    next BATCH items by the strategy, until BUDGET labels (V excluded).
    The same model_train / model_predict_batch / al_* code the cluster's
    actors run, in process.

    Output: one JSON object a line on stdout ("what": "full" for the
    full-supervision accuracy of a seed, "round" for each round).
    Environment: BENCH_AL_SOLVER=lbfgs|liblinear overrides the default
    solver choice (MODEL_SOLVER_AUTO).
*/
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "al/al.h"
#include "features/features.h"
#include "model/model.h"

#define MAX_LABELS   64
#define TARGET       0.95
#define MAX_SIM      0.95f
#define DIVERSE_POOL 4

typedef struct {
    sparse_vec_t *x;
    int32_t *y;
    size_t n;
} set_t;

/*  One auto-accept outcome. claim/claim_lo: al_expected_accuracy's
    count-weighted per-class figures; pooled/pooled_lo: the V items that
    pass their class's threshold, pooled, and their Wilson lower bound.  */
typedef struct {
    double share, whole, auto_acc, claim, claim_lo, pooled, pooled_lo, target;
    size_t n_auto, n_human;
} share_t;

/*  One seed's split, and the state of one (seed, strategy) run.  */
typedef struct {
    size_t *pool, n_pool;           /* train-set indices */
    size_t *test, n_test;           /* test-set indices */
    uint8_t *state;                 /* per pool position: 0 open, 1 labelled, 2 in V */
    size_t *seed_set, n_seed;       /* pool positions */
    size_t n_valid;
    const sparse_vec_t **px, **tx;  /* pool and test vectors */
    float *proba;                   /* n_pool * n_labels */
    size_t *pred, *tpred;
    size_t *order;                  /* random strategy: pool positions, shuffled */
    size_t next_random;
} run_t;

static char *labels[MAX_LABELS];
static size_t n_labels;
static features_config_t fcfg;
static const char *data_name;

static double
now_s (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

static void
die (const char *what, const char *detail)
{
    fprintf (stderr, "bench_al: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    exit (1);
}

static void *
xcalloc (size_t n, size_t size)
{
    void *p = calloc (n ? n : 1, size);
    if (!p)
        die ("out of memory", NULL);
    return p;
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
        die ("KIND is digits, fashion or spam", kind);
}

static int32_t
label_of (const char *truth)
{
    for (size_t k = 0; k < n_labels; k++)
        if (strcmp (labels[k], truth) == 0)
            return (int32_t) k;
    if (n_labels == MAX_LABELS)
        die ("too many labels", truth);
    labels[n_labels] = strdup (truth);
    return (int32_t) n_labels++;
}

/*  Reads a JSONL file and extracts every item's features at once (the raw
    vectors are not kept).  */
static void
load (set_t *s, const char *path)
{
    FILE *fp = fopen (path, "r");
    if (!fp)
        die ("cannot open", path);
    char *line = NULL, err[256];
    size_t cap = 0, alloc = 0;
    ssize_t len;
    float *vec = NULL;
    size_t vec_cap = 0;
    while ((len = getline (&line, &cap, fp)) > 0) {
        json_error_t jerr;
        json_t *o = json_loadb (line, (size_t) len, 0, &jerr);
        if (!o)
            die ("bad JSON line in", path);
        if (s->n == alloc) {
            alloc = alloc ? alloc * 2 : 1024;
            s->x = realloc (s->x, alloc * sizeof *s->x);
            s->y = realloc (s->y, alloc * sizeof *s->y);
            if (!s->x || !s->y)
                die ("out of memory", NULL);
        }
        json_t *t = json_object_get (o, "text"), *v = json_object_get (o, "vector");
        size_t n_vec = json_array_size (v);
        if (n_vec > vec_cap) {
            vec_cap = n_vec;
            vec = realloc (vec, vec_cap * sizeof *vec);
            if (!vec)
                die ("out of memory", NULL);
        }
        for (size_t j = 0; j < n_vec; j++)
            vec[j] = (float) json_number_value (json_array_get (v, j));
        const char *truth = json_string_value (json_object_get (json_object_get (o, "meta"), "truth"));
        if (!truth)
            die ("item without meta.truth in", path);
        sparse_vec_init (&s->x[s->n]);
        if (features_extract (&fcfg, json_string_value (t), json_is_string (t) ? json_string_length (t) : 0,
                              vec, n_vec, &s->x[s->n], err, sizeof err) != 0)
            die ("features_extract", err);
        s->y[s->n++] = label_of (truth);
        json_decref (o);
    }
    free (line);
    free (vec);
    fclose (fp);
}

static int
cmp_str (const void *a, const void *b)
{
    return strcmp (*(char *const *) a, *(char *const *) b);
}

/*  Class indices in name order, as scikit-learn's classes_.  */
static void
sort_labels (set_t *a, set_t *b)
{
    char *sorted[MAX_LABELS];
    int32_t remap[MAX_LABELS] = { 0 };
    memcpy (sorted, labels, n_labels * sizeof *labels);
    qsort (sorted, n_labels, sizeof *sorted, cmp_str);
    for (size_t k = 0; k < n_labels; k++)
        for (size_t j = 0; j < n_labels; j++)
            if (labels[k] == sorted[j])
                remap[k] = (int32_t) j;
    for (size_t i = 0; i < a->n; i++)
        a->y[i] = remap[a->y[i]];
    for (size_t i = 0; b != a && i < b->n; i++)
        b->y[i] = remap[b->y[i]];
    memcpy (labels, sorted, n_labels * sizeof *labels);
}

/*  An array of indices < limit from a split file, malloc'ed.  */
static size_t *
index_array (json_t *doc, const char *key, size_t limit, size_t *n)
{
    json_t *a = json_object_get (doc, key);
    if (!json_is_array (a))
        die ("split file lacks", key);
    *n = json_array_size (a);
    size_t *out = xcalloc (*n, sizeof *out);
    for (size_t i = 0; i < *n; i++) {
        json_int_t v = json_integer_value (json_array_get (a, i));
        if (v < 0 || (size_t) v >= limit)
            die ("index out of range in", key);
        out[i] = (size_t) v;
    }
    return out;
}

/*  Pool position of each train index listed under key (which must be in
    the pool), as a malloc'ed array.  */
static size_t *
pool_positions (json_t *doc, const char *key, const size_t *where, size_t n_train, size_t *n)
{
    size_t *idx = index_array (doc, key, n_train, n);
    for (size_t i = 0; i < *n; i++) {
        if (where[idx[i]] == SIZE_MAX)
            die ("item outside the pool in", key);
        idx[i] = where[idx[i]];
    }
    return idx;
}

static void
load_split (run_t *r, const char *path, const set_t *train, const set_t *test)
{
    json_error_t jerr;
    json_t *doc = json_load_file (path, 0, &jerr);
    if (!doc)
        die ("bad split file", path);
    memset (r, 0, sizeof *r);
    r->pool = index_array (doc, "pool", train->n, &r->n_pool);
    r->test = index_array (doc, "test_idx", test->n, &r->n_test);
    size_t *where = xcalloc (train->n, sizeof *where);
    for (size_t i = 0; i < train->n; i++)
        where[i] = SIZE_MAX;
    for (size_t p = 0; p < r->n_pool; p++)
        where[r->pool[p]] = p;
    size_t *valid = pool_positions (doc, "valid", where, train->n, &r->n_valid);
    r->seed_set = pool_positions (doc, "seed_set", where, train->n, &r->n_seed);
    r->state = xcalloc (r->n_pool, 1);
    for (size_t i = 0; i < r->n_valid; i++)
        r->state[valid[i]] = 2;
    r->px = xcalloc (r->n_pool, sizeof *r->px);
    r->tx = xcalloc (r->n_test, sizeof *r->tx);
    for (size_t p = 0; p < r->n_pool; p++)
        r->px[p] = &train->x[r->pool[p]];
    for (size_t i = 0; i < r->n_test; i++)
        r->tx[i] = &test->x[r->test[i]];
    r->proba = xcalloc (r->n_pool * n_labels, sizeof *r->proba);
    r->pred = xcalloc (r->n_pool, sizeof *r->pred);
    r->tpred = xcalloc (r->n_test, sizeof *r->tpred);
    r->order = xcalloc (r->n_pool, sizeof *r->order);
    free (valid);
    free (where);
    json_decref (doc);
}

static void
run_reset (run_t *r, uint64_t seed)
{
    for (size_t p = 0; p < r->n_pool; p++)
        if (r->state[p] == 1)
            r->state[p] = 0;
    for (size_t i = 0; i < r->n_seed; i++)
        r->state[r->seed_set[i]] = 1;
    /*  Fisher-Yates with splitmix64: the random strategy's order.  */
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t p = 0; p < r->n_pool; p++)
        r->order[p] = p;
    for (size_t p = r->n_pool; p > 1; p--) {
        uint64_t z = (s += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        size_t j = (size_t) (z % p), t = r->order[p - 1];
        r->order[p - 1] = r->order[j];
        r->order[j] = t;
    }
    r->next_random = 0;
}

static model_t *
train_on (const run_t *r, const set_t *train, int only_labelled, double *secs)
{
    model_example_t *ex = xcalloc (r->n_pool, sizeof *ex);
    size_t n = 0;
    for (size_t p = 0; p < r->n_pool; p++)
        if (!only_labelled || r->state[p] == 1)
            ex[n++] = (model_example_t) { r->px[p], train->y[r->pool[p]], 0 };
    model_train_config_t cfg;
    model_train_config_default (&cfg);
    const char *solver = getenv ("BENCH_AL_SOLVER");
    if (solver && strcmp (solver, "lbfgs") == 0)
        cfg.solver = MODEL_SOLVER_LBFGS;
    else if (solver && strcmp (solver, "liblinear") == 0)
        cfg.solver = MODEL_SOLVER_LIBLINEAR;
    char err[256];
    double t0 = now_s ();
    model_t *m = model_train (&fcfg, (const char *const *) labels, n_labels, ex, n, NULL, 0, &cfg,
                              NULL, err, sizeof err);
    *secs = now_s () - t0;
    if (!m)
        die ("model_train", err);
    free (ex);
    return m;
}

static double
test_accuracy (run_t *r, const model_t *m, const set_t *test)
{
    float *p = xcalloc (r->n_test * n_labels, sizeof *p);
    model_predict_batch (m, r->tx, r->n_test, p, r->tpred);
    size_t ok = 0;
    for (size_t i = 0; i < r->n_test; i++)
        ok += (int32_t) r->tpred[i] == test->y[r->test[i]];
    free (p);
    return (double) ok / (double) r->n_test;
}

/*  The auto-accept outcome over the open pool items (neither labelled nor
    in V) for per-class thresholds fitted at `target`.  */
static void
share_at (const run_t *r, const set_t *train, const al_sample_t *sample, double target, share_t *out)
{
    al_fit_config_t cfg;
    al_fit_config_default (&cfg);
    cfg.target = target;
    al_threshold_t th[MAX_LABELS];
    al_fit_thresholds (sample, r->n_valid, n_labels, &cfg, th);
    uint64_t count[MAX_LABELS] = { 0 };
    size_t correct = 0, n_auto = 0;
    for (size_t p = 0; p < r->n_pool; p++) {
        if (r->state[p] != 0)
            continue;
        size_t c = r->pred[p];
        float conf = r->proba[p * n_labels + c];
        if (th[c].enabled && conf >= th[c].threshold) {
            count[c]++;
            n_auto++;
            correct += (int32_t) c == train->y[r->pool[p]];
        }
    }
    double hi;
    memset (out, 0, sizeof *out);
    al_expected_accuracy (th, count, n_labels, &out->claim, &out->claim_lo, &hi);
    size_t v_n = 0, v_ok = 0;
    for (size_t i = 0; i < r->n_valid; i++) {
        uint32_t c = sample[i].predicted;
        if (th[c].enabled && sample[i].confidence >= th[c].threshold)
            v_n++, v_ok += sample[i].truth == c;
    }
    al_wilson (v_ok, v_n, cfg.z, &out->pooled_lo, &hi);
    out->pooled = v_n ? (double) v_ok / (double) v_n : 0;
    out->target = target;
    out->n_auto = n_auto;
    out->n_human = r->n_pool - n_auto;
    out->share = (double) out->n_human / (double) r->n_pool;
    out->whole = (double) (out->n_human + correct) / (double) r->n_pool;
    out->auto_acc = n_auto ? (double) correct / (double) n_auto : 0;
}

/*  The dataset-level rule: over per-class targets 0.995, 0.990, ... 0.300,
    the one with the fewest human labels among those whose claimed lower
    bound for the whole dataset, (humans + lo * n_auto) / N, is at least
    TARGET; nothing auto-accepted when none qualifies. lo is the pooled
    bound (into *pooled) or al_expected_accuracy's per-class one (into
    *per_class).  */
static void
share_dataset_rule (const run_t *r, const set_t *train, const al_sample_t *sample, share_t *pooled,
                    share_t *per_class)
{
    share_at (r, train, sample, 1.0, pooled);
    *per_class = *pooled;
    for (int t = 995; t >= 300; t -= 5) {
        share_t s;
        share_at (r, train, sample, t / 1000.0, &s);
        double n = (double) r->n_pool, h = (double) s.n_human, a = (double) s.n_auto;
        if ((h + s.pooled_lo * a) / n >= TARGET && s.n_human < pooled->n_human)
            *pooled = s;
        if ((h + s.claim_lo * a) / n >= TARGET && s.n_human < per_class->n_human)
            *per_class = s;
    }
}

static void
print_share (const char *key, const share_t *s, bool pooled)
{
    printf (",\"%s\":{\"target\":%.3f,\"share\":%.5f,\"whole\":%.5f,\"n_auto\":%zu,\"auto_acc\":%.5f,"
            "\"claim\":%.5f,\"claim_lo\":%.5f}",
            key, s->target, s->share, s->whole, s->n_auto, s->auto_acc, pooled ? s->pooled : s->claim,
            pooled ? s->pooled_lo : s->claim_lo);
}

typedef struct {
    float score;
    size_t pos;
} cand_t;

static int
cmp_cand (const void *a, const void *b)
{
    const cand_t *x = a, *y = b;
    if (x->score != y->score)
        return x->score < y->score ? 1 : -1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/*  An L2-normalised copy, for al_diverse_pick (pixel vectors are not).  */
static void
normalised (const sparse_vec_t *src, sparse_vec_t *dst)
{
    if (dst->cap < src->n) {
        dst->cap = src->n;
        dst->idx = realloc (dst->idx, dst->cap * sizeof *dst->idx);
        dst->val = realloc (dst->val, dst->cap * sizeof *dst->val);
        if (!dst->idx || !dst->val)
            die ("out of memory", NULL);
    }
    double ss = 0;
    for (size_t e = 0; e < src->n; e++)
        ss += (double) src->val[e] * src->val[e];
    float inv = ss > 0 ? (float) (1 / sqrt (ss)) : 0;
    for (size_t e = 0; e < src->n; e++)
        dst->idx[e] = src->idx[e], dst->val[e] = src->val[e] * inv;
    dst->n = src->n;
}

/*  Up to b items of the top DIVERSE_POOL * b candidates (sorted), diverse
    by al_diverse_pick; filled up by score when it returns fewer.  */
static size_t
pick_diverse (run_t *r, const cand_t *cand, size_t n_cand, size_t b)
{
    size_t n = n_cand < DIVERSE_POOL * b ? n_cand : DIVERSE_POOL * b, picked;
    sparse_vec_t *vs = xcalloc (n, sizeof *vs);
    const sparse_vec_t **vp = xcalloc (n, sizeof *vp);
    float *sc = xcalloc (n, sizeof *sc);
    size_t *out = xcalloc (n, sizeof *out);
    for (size_t i = 0; i < n; i++) {
        sparse_vec_init (&vs[i]);
        normalised (r->px[cand[i].pos], &vs[i]);
        vp[i] = &vs[i];
        sc[i] = cand[i].score;
    }
    picked = al_diverse_pick (vp, sc, n, b, MAX_SIM, out);
    for (size_t i = 0; i < picked; i++)
        r->state[cand[out[i]].pos] = 1;
    for (size_t i = 0; i < n && picked < b; i++)
        if (r->state[cand[i].pos] == 0)
            r->state[cand[i].pos] = 1, picked++;
    for (size_t i = 0; i < n; i++)
        sparse_vec_free (&vs[i]);
    free (vs), free (vp), free (sc), free (out);
    return picked;
}

/*  Labels the next b open pool items the strategy picks. Returns how many.  */
static size_t
pick (run_t *r, const char *strategy, size_t b)
{
    size_t picked = 0;
    if (strcmp (strategy, "random") == 0) {
        for (; r->next_random < r->n_pool && picked < b; r->next_random++)
            if (r->state[r->order[r->next_random]] == 0)
                r->state[r->order[r->next_random]] = 1, picked++;
        return picked;
    }
    int diverse = strcmp (strategy, "margin_diverse") == 0;
    const al_strategy_t *st = al_strategy_find (diverse ? "margin" : strategy);
    if (!st)
        die ("unknown strategy", strategy);
    cand_t *cand = xcalloc (r->n_pool, sizeof *cand);
    size_t n = 0;
    for (size_t p = 0; p < r->n_pool; p++)
        if (r->state[p] == 0)
            cand[n++] = (cand_t) { st->score (r->proba + p * n_labels, n_labels), p };
    qsort (cand, n, sizeof *cand, cmp_cand);
    if (diverse)
        picked = pick_diverse (r, cand, n, b);
    else
        for (; picked < b && picked < n; picked++)
            r->state[cand[picked].pos] = 1;
    free (cand);
    return picked;
}

/*  The share an oracle would need with this model: people label the
    labelled items, V and the open items below a global confidence cut,
    the cut as low as it can go with the auto-accepted errors, counted
    from gold, within (1 - TARGET) * N. A floor for any threshold rule
    that ranks by confidence.  */
static double
oracle_share (const run_t *r, const set_t *train)
{
    cand_t *c = xcalloc (r->n_pool, sizeof *c);
    size_t n = 0, errors = 0, best = 0;
    for (size_t p = 0; p < r->n_pool; p++)
        if (r->state[p] == 0)
            c[n++] = (cand_t) { r->proba[p * n_labels + r->pred[p]], p };
    qsort (c, n, sizeof *c, cmp_cand);
    double allowed = (1 - TARGET) * (double) r->n_pool;
    for (size_t i = 0; i < n; i++) {
        errors += (int32_t) r->pred[c[i].pos] != train->y[r->pool[c[i].pos]];
        if ((double) errors > allowed)
            break;
        best = i + 1;
    }
    free (c);
    return (double) (r->n_pool - best) / (double) r->n_pool;
}

static void
run_strategy (run_t *r, const set_t *train, const set_t *test, int seed, const char *strategy,
              size_t batch, size_t budget)
{
    run_reset (r, (uint64_t) seed);
    al_sample_t *sample = xcalloc (r->n_valid, sizeof *sample);
    size_t n_labelled = r->n_seed;
    for (int round = 0;; round++) {
        double train_s;
        model_t *m = train_on (r, train, 1, &train_s);
        double acc = test_accuracy (r, m, test);
        model_predict_batch (m, r->px, r->n_pool, r->proba, r->pred);
        size_t ns = 0;
        for (size_t p = 0; p < r->n_pool; p++)
            if (r->state[p] == 2)
                sample[ns++] = (al_sample_t) { r->proba[p * n_labels + r->pred[p]], (uint32_t) r->pred[p],
                                               (uint32_t) train->y[r->pool[p]] };
        share_t fixed, dataset, per_class;
        share_at (r, train, sample, TARGET, &fixed);
        share_dataset_rule (r, train, sample, &dataset, &per_class);
        printf ("{\"side\":\"c\",\"what\":\"round\",\"data\":\"%s\",\"seed\":%d,\"strategy\":\"%s\","
                "\"round\":%d,\"labels\":%zu,\"n_valid\":%zu,\"n_pool\":%zu,\"acc\":%.5f,\"train_s\":%.3f,"
                "\"oracle_share\":%.5f",
                data_name, seed, strategy, round, n_labelled, r->n_valid, r->n_pool, acc, train_s,
                oracle_share (r, train));
        print_share ("fixed", &fixed, false);
        print_share ("dataset", &dataset, true);
        print_share ("dataset_pc", &per_class, false);
        printf ("}\n");
        fflush (stdout);
        size_t b = n_labelled >= budget ? 0 : budget - n_labelled < batch ? budget - n_labelled : batch;
        size_t got = b ? pick (r, strategy, b) : 0;
        model_destroy (&m);
        if (got == 0)
            break;
        n_labelled += got;
    }
    free (sample);
}

static void
run_seed (const char *path, const set_t *train, const set_t *test, char **strategies, size_t n_strat,
          size_t batch, size_t budget)
{
    run_t r;
    load_split (&r, path, train, test);
    json_error_t jerr;
    json_t *doc = json_load_file (path, 0, &jerr);
    int seed = (int) json_integer_value (json_object_get (doc, "seed"));
    json_decref (doc);
    double secs;
    model_t *full = train_on (&r, train, 0, &secs);
    printf ("{\"side\":\"c\",\"what\":\"full\",\"data\":\"%s\",\"seed\":%d,\"n_pool\":%zu,\"acc\":%.5f,"
            "\"train_s\":%.3f}\n",
            data_name, seed, r.n_pool, test_accuracy (&r, full, test), secs);
    fflush (stdout);
    model_destroy (&full);
    for (size_t s = 0; s < n_strat; s++)
        run_strategy (&r, train, test, seed, strategies[s], batch, budget);
    free (r.pool), free (r.test), free (r.state), free (r.seed_set), free (r.px), free (r.tx);
    free (r.proba), free (r.pred), free (r.tpred), free (r.order);
}

int
main (int argc, char **argv)
{
    if (argc < 9)
        die ("usage: bench_al NAME KIND TRAIN.jsonl TEST.jsonl BATCH BUDGET STRATEGIES SPLIT.json...",
             NULL);
    data_name = argv[1];
    set_kind (argv[2]);
    long batch = atol (argv[5]), budget = atol (argv[6]);
    if (batch < 1 || budget < batch)
        die ("BATCH must be >= 1 and BUDGET >= BATCH", NULL);
    char *strategies[16], *save = NULL;
    size_t n_strat = 0;
    for (char *t = strtok_r (argv[7], ",", &save); t && n_strat < 16; t = strtok_r (NULL, ",", &save))
        strategies[n_strat++] = t;
    set_t train = { 0 }, test_own = { 0 }, *test = &train;
    load (&train, argv[3]);
    if (strcmp (argv[3], argv[4]) != 0) {
        load (&test_own, argv[4]);
        test = &test_own;
    }
    sort_labels (&train, test);
    for (int i = 8; i < argc; i++)
        run_seed (argv[i], &train, test, strategies, n_strat, (size_t) batch, (size_t) budget);
    return 0;
}
