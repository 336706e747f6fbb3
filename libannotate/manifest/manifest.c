/*  manifest.c: the manifest schema and the public API (see manifest.h).

    A manifest_t starts with every documented default, then the schema walk
    over the YAML tree overwrites what the file sets. Each section is a
    key table plus one field handler; the generic walk (manifest_value.c)
    refuses unknown and duplicate keys, so a file either matches the schema
    completely or fails with one precise "file:line:column: key: problem".
*/
#include "manifest/manifest_private.h"
#include "util/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const char annotate_default_manifest[];
extern const size_t annotate_default_manifest_len;

#define MIB               (1024ull * 1024ull)
#define MAX_ADDRESS_BYTES 4096  /* listen addresses, endpoints and paths */
#define MAX_MAP_MB        (1024ull * 1024ull)   /* 1 TiB */

static const char *const actor_types[] = { "annotation", "active_learning", "retraining" };
static const char *const model_types[] = { "none", "linear" };
static const char *const strategies[] = { "margin", "least_confidence", "entropy" };

const char *
actor_type_name (actor_type_t type)
{
    if (type >= ACTOR_ANNOTATION && type <= ACTOR_RETRAINING)
        return actor_types[type - 1];
    return "unknown";
}

actor_type_t
actor_type_parse (const char *name)
{
    for (size_t i = 0; name && i < 3; i++)
        if (strcmp (name, actor_types[i]) == 0)
            return (actor_type_t) (i + 1);
    return (actor_type_t) 0;
}

const char *
manifest_default_text (size_t *len)
{
    if (len)
        *len = annotate_default_manifest_len;
    return annotate_default_manifest;
}

/* ---- cluster, coordinator, items, model, active_learning ------------- */

static int
cluster_field (mparse_t *p, void *target, size_t field, const ynode_t *v, const char *path)
{
    return mget_string (p, v, path, MSTR_NAME, MANIFEST_MAX_NAME, &p->m->cluster_name);
}

static const char *const coordinator_keys[]
    = { "grpc_listen",    "cluster_bind",   "data_dir",   "heartbeat_ms",
        "liveness",       "batch_size",     "max_pending", "max_message_bytes",
        "initial_map_mb", "max_map_mb",     "grpc_threads", "max_watchers" };

static int
coordinator_field (mparse_t *p, void *target, size_t field, const ynode_t *v, const char *path)
{
    manifest_t *m = p->m;
    uint64_t mb;
    switch (field) {
    case 0:
        return mget_string (p, v, path, MSTR_NONEMPTY, MAX_ADDRESS_BYTES, &m->grpc_listen);
    case 1:
        return mget_string (p, v, path, MSTR_NONEMPTY, MAX_ADDRESS_BYTES, &m->cluster_bind);
    case 2:
        return mget_string (p, v, path, MSTR_NONEMPTY, MAX_ADDRESS_BYTES, &m->data_dir);
    case 3:
        return mget_u32 (p, v, path, 50, 60000, &m->heartbeat_ms);
    case 4:
        return mget_u32 (p, v, path, 2, 100, &m->liveness);
    case 5:
        return mget_u32 (p, v, path, 1, 65536, &m->batch_size);
    case 6:
        return mget_u64 (p, v, path, 1, 1000000000ull, &m->max_pending);
    case 7:
        return mget_u64 (p, v, path, 4096, 1024 * MIB, &m->max_message_bytes);
    case 8:
        p->initial_map_node = v;
        if (mget_u64 (p, v, path, 1, MAX_MAP_MB, &mb))
            return -1;
        m->initial_map_bytes = mb * MIB;
        return 0;
    case 9:
        p->max_map_node = v;
        if (mget_u64 (p, v, path, 0, MAX_MAP_MB, &mb))
            return -1;
        m->max_map_bytes = mb * MIB;
        return 0;
    case 10:
        return mget_u32 (p, v, path, 1, 256, &m->grpc_threads);
    default:
        return mget_u32 (p, v, path, 1, 1024, &m->max_watchers);
    }
}

static const char *const items_keys[] = { "vector_dim", "max_text_bytes", "max_meta_bytes", "dedup" };

static int
items_field (mparse_t *p, void *target, size_t field, const ynode_t *v, const char *path)
{
    manifest_t *m = p->m;
    if (field == 0)
        return mget_u32 (p, v, path, 0, MANIFEST_MAX_VECTOR_DIM, &m->vector_dim);
    if (field == 1)
        return mget_u32 (p, v, path, 1, 1024 * MIB, &m->max_text_bytes);
    if (field == 2)
        return mget_u32 (p, v, path, 0, 1024 * MIB, &m->max_meta_bytes);
    return mget_bool (p, v, path, &m->dedup);
}

static const char *const model_keys[] = {
    "type",  "hash_bits", "ngram_max", "char_ngrams", "vector_norm",   "vector_scale",
    "c",     "eps",       "calibrate", "online_lr",   "validation_fraction", "retrain_after",
    "retrain_interval_s", "publish_tolerance", "min_train", "reannotate",
};
#define N_MODEL_KEYS (sizeof model_keys / sizeof model_keys[0])
static const char *const vector_norms[] = { "none", "l2", "max" };

static int
model_choice (mparse_t *p, const ynode_t *v, const char *path)
{
    manifest_t *m = p->m;
    size_t i;
    if (mget_choice (p, v, path, "model type", model_types, 2, &i))
        return -1;
    char *copy = strdup (model_types[i]);
    if (!copy)
        return mfail (p, v, path, "out of memory");
    free (m->model_type);
    m->model_type = copy;
    return 0;
}

static int
model_field (mparse_t *p, void *target, size_t field, const ynode_t *v, const char *path)
{
    manifest_t *m = p->m;
    size_t i;
    switch (field) {
    case 0: return model_choice (p, v, path);
    case 1: return mget_u32 (p, v, path, 10, 24, &m->model_hash_bits);
    case 2: return mget_u32 (p, v, path, 1, 2, &m->model_ngram_max);
    case 3:
        if (mget_u32 (p, v, path, 0, 6, &m->model_char_ngrams))
            return -1;
        if (m->model_char_ngrams == 1)
            return mfail (p, v, path, "out of range: 1 (expected 0 for off, or 2..6)");
        return 0;
    case 4:
        if (mget_choice (p, v, path, "vector norm", vector_norms, 3, &i))
            return -1;
        m->model_vector_norm = (uint32_t) i;
        return 0;
    case 5: return mget_double (p, v, path, 0.0, 1000.0, true, &m->model_vector_scale);
    case 6: return mget_double (p, v, path, 0.0, 1e6, true, &m->model_c);
    case 7: return mget_double (p, v, path, 0.0, 1.0, true, &m->model_eps);
    case 8: return mget_bool (p, v, path, &m->model_calibrate);
    case 9: return mget_double (p, v, path, 0.0, 10.0, false, &m->model_online_lr);
    case 10: return mget_double (p, v, path, 0.0, 0.5, true, &m->model_validation_fraction);
    case 11: return mget_u64 (p, v, path, 0, UINT64_MAX, &m->model_retrain_after);
    case 12: return mget_u64 (p, v, path, 0, 31536000, &m->model_retrain_interval_s);
    case 13: return mget_double (p, v, path, 0.0, 1.0, false, &m->model_publish_tolerance);
    case 14: return mget_u64 (p, v, path, 2, UINT64_MAX, &m->model_min_train);
    default: return mget_bool (p, v, path, &m->model_reannotate);
    }
}

static const char *const al_keys[]
    = { "strategy",     "target_accuracy", "review_budget", "review_budget_per_hour",
        "validation_rate", "validation_max", "confidence_z",  "min_support",
        "auto_accept",  "lease_s",         "cold_start",    "diversity_max_sim",
        "enabled",      "seed",            "validation_share", "threshold_rule",
        "target_scope", "refit_every" };
#define N_AL_KEYS (sizeof al_keys / sizeof al_keys[0])
static const char *const cold_starts[] = { "random", "stratified" };
static const char *const threshold_rules[] = { "pooled", "per_class" };
static const char *const target_scopes[] = { "labels", "dataset" };

static int
al_choice (mparse_t *p, const ynode_t *v, const char *path, const char *what,
           const char *const *choices, size_t n, char **out)
{
    size_t i;
    if (mget_choice (p, v, path, what, choices, n, &i))
        return -1;
    char *copy = strdup (choices[i]);
    if (!copy)
        return mfail (p, v, path, "out of memory");
    free (*out);
    *out = copy;
    return 0;
}

static int
al_field (mparse_t *p, void *target, size_t field, const ynode_t *v, const char *path)
{
    (void) target;
    manifest_t *m = p->m;
    switch (field) {
    case 0: return al_choice (p, v, path, "strategy", strategies, 3, &m->al_strategy);
    case 1: return mget_fraction (p, v, path, &m->al_target_accuracy);
    case 2: return mget_u64 (p, v, path, 0, UINT64_MAX, &m->al_review_budget);
    case 3: return mget_u64 (p, v, path, 0, UINT64_MAX, &m->al_budget_per_hour);
    case 4: return mget_double (p, v, path, 0.0, 1.0, false, &m->al_validation_rate);
    case 5: return mget_u64 (p, v, path, 0, UINT64_MAX, &m->al_validation_max);
    case 6: return mget_double (p, v, path, 0.0, 10.0, false, &m->al_confidence_z);
    case 7: return mget_u32 (p, v, path, 1, 1000000, &m->al_min_support);
    case 8: return mget_bool (p, v, path, &m->al_auto_accept);
    case 9: return mget_u32 (p, v, path, 5, 86400, &m->al_lease_s);
    case 10: return al_choice (p, v, path, "cold_start", cold_starts, 2, &m->al_cold_start);
    case 11: return mget_double (p, v, path, 0.0, 1.0, false, &m->al_diversity_max_sim);
    case 12: return mget_bool (p, v, path, &m->al_enabled);
    case 13: return mget_u64 (p, v, path, 0, UINT64_MAX, &m->al_seed);
    case 14: return mget_double (p, v, path, 0.0, 1.0, false, &m->al_validation_share);
    case 15: return al_choice (p, v, path, "threshold_rule", threshold_rules, 2, &m->al_threshold_rule);
    case 16: return al_choice (p, v, path, "target_scope", target_scopes, 2, &m->al_target_scope);
    default: return mget_u64 (p, v, path, 0, UINT64_MAX, &m->al_refit_every);
    }
}

static const char *const prop_keys[]
    = { "n_neighbors", "alpha", "max_iter", "tol", "sketch_dim", "every" };

static int
prop_field (mparse_t *p, void *target, size_t field, const ynode_t *v, const char *path)
{
    (void) target;
    manifest_t *m = p->m;
    switch (field) {
    case 0: return mget_u32 (p, v, path, 2, 200, &m->prop_n_neighbors);
    case 1: return mget_double (p, v, path, 0.0, 1.0, true, &m->prop_alpha);
    case 2: return mget_u32 (p, v, path, 1, 10000, &m->prop_max_iter);
    case 3: return mget_double (p, v, path, 0.0, 1.0, true, &m->prop_tol);
    case 4: return mget_u32 (p, v, path, 16, 4096, &m->prop_sketch_dim);
    default: return mget_u64 (p, v, path, 0, UINT64_MAX, &m->prop_every);
    }
}

/* ---- taxonomy ---------------------------------------------------------- */

static const char *const label_keys[] = { "name", "description", "examples" };

static int
label_field (mparse_t *p, void *target, size_t field, const ynode_t *v, const char *path)
{
    manifest_label_t *label = target;
    if (field == 0) {
        if (mget_string (p, v, path, MSTR_NAME, MANIFEST_MAX_NAME, &label->name))
            return -1;
        return mnameset_add (p, &p->label_names, label->name, v, path, "label");
    }
    if (field == 1)
        return mget_string (p, v, path, MSTR_NULLABLE, 0, &label->description);
    long n = mget_sequence (p, v, path, SIZE_MAX / sizeof (char *), "examples");
    if (n <= 0)
        return (int) n;
    label->examples = calloc ((size_t) n, sizeof (char *));
    if (!label->examples)
        return mfail (p, v, path, "out of memory");
    label->n_examples = (size_t) n;
    for (size_t i = 0; i < (size_t) n; i++) {
        char child[MPATH_MAX];
        mpath_index (child, path, i);
        if (mget_string (p, v->items[i], child, MSTR_ANY, 0, &label->examples[i]))
            return -1;
    }
    return 0;
}

static const char *const taxonomy_keys[] = { "description", "labels" };

static int
taxonomy_field (mparse_t *p, void *target, size_t field, const ynode_t *v, const char *path)
{
    manifest_t *m = p->m;
    if (field == 0)
        return mget_string (p, v, path, MSTR_NULLABLE, 0, &m->taxonomy_description);
    long n = mget_sequence (p, v, path, MANIFEST_MAX_LABELS, "labels");
    if (n <= 0)
        return (int) n;
    m->labels = calloc ((size_t) n, sizeof (manifest_label_t));
    if (!m->labels)
        return mfail (p, v, path, "out of memory");
    m->n_labels = (size_t) n;
    for (size_t i = 0; i < (size_t) n; i++) {
        char child[MPATH_MAX];
        mpath_index (child, path, i);
        uint32_t seen;
        if (mwalk_map (p, v->items[i], child, false, label_keys, 3, label_field, &m->labels[i],
                       &seen))
            return -1;
        if (!(seen & 1))
            return mfail (p, v->items[i], child, "missing required key \"name\"");
    }
    return 0;
}

/* ---- workers ------------------------------------------------------------ */

static const char *const actor_keys[] = { "name", "type" };

static int
actor_field (mparse_t *p, void *target, size_t field, const ynode_t *v, const char *path)
{
    manifest_actor_t *actor = target;
    if (field == 0) {
        if (mget_string (p, v, path, MSTR_NAME, MANIFEST_MAX_NAME, &actor->name))
            return -1;
        return mnameset_add (p, &p->actor_names, actor->name, v, path, "actor");
    }
    size_t i;
    if (mget_choice (p, v, path, "actor type", actor_types, 3, &i))
        return -1;
    actor->type = (actor_type_t) (i + 1);
    return 0;
}

static int
worker_actors (mparse_t *p, manifest_worker_t *worker, const ynode_t *v, const char *path)
{
    long n = mget_sequence (p, v, path, MANIFEST_MAX_ACTORS, "actors");
    if (n <= 0)
        return (int) n;
    worker->actors = calloc ((size_t) n, sizeof (manifest_actor_t));
    if (!worker->actors)
        return mfail (p, v, path, "out of memory");
    worker->n_actors = (size_t) n;
    for (size_t i = 0; i < (size_t) n; i++) {
        char child[MPATH_MAX];
        mpath_index (child, path, i);
        uint32_t seen;
        if (mwalk_map (p, v->items[i], child, false, actor_keys, 2, actor_field,
                       &worker->actors[i], &seen))
            return -1;
        if (!(seen & 1))
            return mfail (p, v->items[i], child, "missing required key \"name\"");
        if (!(seen & 2))
            return mfail (p, v->items[i], child, "missing required key \"type\"");
    }
    return 0;
}

static const char *const worker_keys[] = { "name", "capacity", "actors" };

static int
worker_field (mparse_t *p, void *target, size_t field, const ynode_t *v, const char *path)
{
    manifest_worker_t *worker = target;
    if (field == 0) {
        if (mget_string (p, v, path, MSTR_NAME, MANIFEST_MAX_NAME, &worker->name))
            return -1;
        return mnameset_add (p, &p->worker_names, worker->name, v, path, "worker");
    }
    if (field == 1)
        return mget_u32 (p, v, path, 1, 1024, &worker->capacity);
    return worker_actors (p, worker, v, path);
}

static int
parse_workers (mparse_t *p, const ynode_t *v, const char *path)
{
    manifest_t *m = p->m;
    long n = mget_sequence (p, v, path, MANIFEST_MAX_WORKERS, "workers");
    if (n <= 0)
        return (int) n;
    m->workers = calloc ((size_t) n, sizeof (manifest_worker_t));
    if (!m->workers)
        return mfail (p, v, path, "out of memory");
    m->n_workers = (size_t) n;
    for (size_t i = 0; i < (size_t) n; i++) {
        char child[MPATH_MAX];
        mpath_index (child, path, i);
        m->workers[i].capacity = 4;
        uint32_t seen;
        if (mwalk_map (p, v->items[i], child, false, worker_keys, 3, worker_field,
                       &m->workers[i], &seen))
            return -1;
        if (!(seen & 1))
            return mfail (p, v->items[i], child, "missing required key \"name\"");
    }
    return 0;
}

/* ---- the document -------------------------------------------------------- */

static const char *const root_keys[]
    = { "cluster", "coordinator", "items", "taxonomy", "workers", "model", "active_learning",
        "propagation" };
static const char *const cluster_keys[] = { "name" };

static int
root_field (mparse_t *p, void *target, size_t field, const ynode_t *v, const char *path)
{
    uint32_t seen;
    switch (field) {
    case 0:
        return mwalk_map (p, v, path, true, cluster_keys, 1, cluster_field, NULL, &seen);
    case 1:
        return mwalk_map (p, v, path, true, coordinator_keys, 12, coordinator_field, NULL, &seen);
    case 2:
        return mwalk_map (p, v, path, true, items_keys, 4, items_field, NULL, &seen);
    case 3:
        return mwalk_map (p, v, path, true, taxonomy_keys, 2, taxonomy_field, NULL, &seen);
    case 4:
        return parse_workers (p, v, path);
    case 5:
        return mwalk_map (p, v, path, true, model_keys, N_MODEL_KEYS, model_field, NULL, &seen);
    case 6:
        return mwalk_map (p, v, path, true, al_keys, N_AL_KEYS, al_field, NULL, &seen);
    default:
        return mwalk_map (p, v, path, true, prop_keys, 6, prop_field, NULL, &seen);
    }
}

static int
set_defaults (manifest_t *m, const char *source_name)
{
    m->heartbeat_ms = 1000;
    m->liveness = 3;
    m->batch_size = 256;
    m->max_pending = 1000000;
    m->max_message_bytes = 16 * MIB;
    m->initial_map_bytes = 1024 * MIB;
    m->max_map_bytes = 0;
    m->grpc_threads = 8;
    m->max_watchers = 16;
    m->vector_dim = 0;
    m->max_text_bytes = 65536;
    m->dedup = true;
    m->max_meta_bytes = 16384;
    m->model_hash_bits = 18;
    m->model_ngram_max = 2;
    m->model_vector_norm = 1;
    m->model_vector_scale = 1.0;
    m->model_c = 1.0;
    m->model_eps = 0.01;
    m->model_calibrate = true;
    m->model_online_lr = 0.1;
    m->model_validation_fraction = 0.2;
    m->model_retrain_after = 50;
    m->model_min_train = 20;
    m->model_reannotate = true;
    m->al_target_accuracy = 0.95;
    m->al_review_budget = 0;
    m->al_validation_rate = 0.05;
    m->al_validation_max = 1000;
    m->al_confidence_z = 1.645;
    m->al_min_support = 5;
    m->al_auto_accept = true;
    m->al_lease_s = 300;
    m->al_diversity_max_sim = 0.95;
    m->al_enabled = true;
    m->al_seed = 1;
    m->al_validation_share = 0.25;
    m->al_cold_start = strdup ("random");
    m->al_threshold_rule = strdup ("pooled");
    m->al_target_scope = strdup ("labels");
    m->al_refit_every = 20;
    m->prop_n_neighbors = 7;
    m->prop_alpha = 0.2;
    m->prop_max_iter = 30;
    m->prop_tol = 1e-3;
    m->prop_sketch_dim = 256;
    m->prop_every = 0;
    m->cluster_name = strdup ("annotate");
    m->grpc_listen = strdup ("127.0.0.1:7400");
    m->cluster_bind = strdup ("tcp://127.0.0.1:7401");
    m->data_dir = strdup ("./annotate-data");
    m->model_type = strdup ("none");
    m->al_strategy = strdup ("margin");
    m->source_name = strdup (source_name);
    return m->cluster_name && m->grpc_listen && m->cluster_bind && m->data_dir && m->model_type
                   && m->al_strategy && m->al_cold_start && m->al_threshold_rule && m->al_target_scope && m->source_name
               ? 0
               : -1;
}

//  Checks that span several keys, after the walk.
static int
check_cross (mparse_t *p)
{
    manifest_t *m = p->m;
    if (m->max_map_bytes && m->max_map_bytes < m->initial_map_bytes)
        return mfail (p, p->max_map_node, "coordinator.max_map_mb",
                      "smaller than initial_map_mb (%llu MiB); use 0 for no limit",
                      (unsigned long long) (m->initial_map_bytes / MIB));
    return 0;
}

static int
parse_tree (mparse_t *p, const ynode_t *root)
{
    if (mcheck_node (p, root, ""))
        return -1;
    if (root->kind != YNODE_MAPPING)
        return mfail (p, root, "", "a manifest must be a mapping (keys such as cluster, "
                                   "coordinator, workers), got %s",
                      root->kind == YNODE_SEQUENCE ? "a sequence" : "a scalar");
    uint32_t seen;
    if (mwalk_map (p, root, "", false, root_keys, 8, root_field, NULL, &seen))
        return -1;
    return check_cross (p);
}

manifest_t *
manifest_parse (const char *text, size_t len, const char *source_name, char *err, size_t errlen)
{
    if (!source_name)
        source_name = "<input>";
    if (err && errlen)
        err[0] = 0;
    if (len > MANIFEST_MAX_BYTES) {
        err_set (err, errlen, "%s:1:1: (document): the manifest is %zu bytes, more than the "
                              "limit of %u", source_name, len, MANIFEST_MAX_BYTES);
        return NULL;
    }
    ynode_t *root = ytree_load (text, len, source_name, err, errlen);
    if (!root) {
        if (!err || !errlen || !err[0])
            err_set (err, errlen, "%s:1:1: (document): the manifest is empty (expected a "
                                  "mapping with keys such as cluster, coordinator, workers)",
                     source_name);
        return NULL;
    }
    mparse_t p = { .source = source_name, .err = err, .errlen = errlen };
    p.m = calloc (1, sizeof (manifest_t));
    int rc = -1;
    if (!p.m || set_defaults (p.m, source_name))
        mfail (&p, root, "", "out of memory");
    else
        rc = parse_tree (&p, root);
    mnameset_free (&p.worker_names);
    mnameset_free (&p.actor_names);
    mnameset_free (&p.label_names);
    ytree_destroy (&root);
    if (rc != 0)
        manifest_destroy (&p.m);
    return p.m;
}

//  Reads at most MANIFEST_MAX_BYTES + 1 bytes, so an oversized file is
//  detected without reading it all.
static char *
read_bounded (FILE *f, size_t *len, int *error)
{
    size_t cap = 65536, used = 0;
    char *buf = malloc (cap);
    while (buf) {
        if (used == cap) {
            if (cap > MANIFEST_MAX_BYTES)
                break;
            cap = cap * 2 > MANIFEST_MAX_BYTES + 1 ? MANIFEST_MAX_BYTES + 1 : cap * 2;
            char *bigger = realloc (buf, cap);
            if (!bigger) {
                free (buf);
                buf = NULL;
                break;
            }
            buf = bigger;
        }
        size_t n = fread (buf + used, 1, cap - used, f);
        used += n;
        if (n == 0) {
            if (ferror (f)) {
                *error = errno ? errno : EIO;
                free (buf);
                return NULL;
            }
            break;
        }
    }
    if (!buf)
        *error = ENOMEM;
    *len = used;
    return buf;
}

manifest_t *
manifest_load (const char *path, char *err, size_t errlen)
{
    if (!path) {
        err_set (err, errlen, "(null): no manifest path given");
        return NULL;
    }
    bool is_stdin = strcmp (path, "-") == 0;
    FILE *f = is_stdin ? stdin : fopen (path, "rb");
    if (!f) {
        err_set (err, errlen, "%s: cannot open: %s", path, strerror (errno));
        return NULL;
    }
    errno = 0;
    int error = 0;
    size_t len = 0;
    char *text = read_bounded (f, &len, &error);
    if (!is_stdin)
        fclose (f);
    if (!text) {
        err_set (err, errlen, "%s: cannot read: %s", path, strerror (error));
        return NULL;
    }
    manifest_t *m = NULL;
    if (len > MANIFEST_MAX_BYTES)
        err_set (err, errlen, "%s: larger than the limit of %u bytes", path, MANIFEST_MAX_BYTES);
    else
        m = manifest_parse (text, len, path, err, errlen);
    free (text);
    return m;
}

void
manifest_destroy (manifest_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    manifest_t *self = *self_p;
    for (size_t i = 0; i < self->n_labels; i++) {
        manifest_label_t *label = &self->labels[i];
        for (size_t j = 0; j < label->n_examples; j++)
            free (label->examples[j]);
        free (label->examples);
        free (label->name);
        free (label->description);
    }
    free (self->labels);
    for (size_t i = 0; i < self->n_workers; i++) {
        manifest_worker_t *worker = &self->workers[i];
        for (size_t j = 0; j < worker->n_actors; j++)
            free (worker->actors[j].name);
        free (worker->actors);
        free (worker->name);
    }
    free (self->workers);
    free (self->cluster_name);
    free (self->grpc_listen);
    free (self->cluster_bind);
    free (self->data_dir);
    free (self->taxonomy_description);
    free (self->model_type);
    free (self->al_strategy);
    free (self->al_cold_start);
    free (self->al_threshold_rule);
    free (self->al_target_scope);
    free (self->source_name);
    free (self);
    *self_p = NULL;
}

const manifest_worker_t *
manifest_worker (const manifest_t *self, const char *name)
{
    for (size_t i = 0; self && name && i < self->n_workers; i++)
        if (self->workers[i].name && strcmp (self->workers[i].name, name) == 0)
            return &self->workers[i];
    return NULL;
}

int
manifest_label_index (const manifest_t *self, const char *label)
{
    for (size_t i = 0; self && label && i < self->n_labels; i++)
        if (self->labels[i].name && strcmp (self->labels[i].name, label) == 0)
            return (int) i;
    return -1;
}
