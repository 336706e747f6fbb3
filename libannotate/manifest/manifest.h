/*  manifest.h: the cluster manifest, parsed from YAML with libyaml.

    A manifest declares one cluster: where the coordinator listens and keeps
    its data, which workers exist and which actors each hosts, the taxonomy
    of labels, the item format, and sections later subsystems fill (model,
    active learning). The parser is strict: unknown keys, wrong types,
    duplicate keys, out-of-range numbers and duplicate names are errors, and
    every error names "file:line:column: key: problem" so a person can fix
    the file without guessing.

    A parsed manifest_t is immutable; consumers that live on other threads
    parse their own copy from the text (manifests are small), so nothing is
    shared between threads.
*/
#ifndef ANNOTATE_MANIFEST_H
#define ANNOTATE_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MANIFEST_MAX_BYTES      (1u << 20)   /* larger input is refused */
#define MANIFEST_MAX_NAME       128          /* names of cluster, workers, actors, labels */
#define MANIFEST_MAX_LABELS     1024
#define MANIFEST_MAX_WORKERS    1024
#define MANIFEST_MAX_ACTORS     256          /* per worker */
#define MANIFEST_MAX_VECTOR_DIM 65536

typedef enum {
    ACTOR_ANNOTATION = 1,       /* "annotation": labels batches of items */
    ACTOR_ACTIVE_LEARNING = 2,  /* "active_learning": routes to review / auto-accept */
    ACTOR_RETRAINING = 3        /* "retraining": trains new model versions */
} actor_type_t;

const char *actor_type_name (actor_type_t type);
/*  Returns 0 when the name is unknown.  */
actor_type_t actor_type_parse (const char *name);

typedef struct {
    char *name;                 /* unique across the whole manifest */
    actor_type_t type;
} manifest_actor_t;

typedef struct {
    char *name;                 /* unique; a worker started with --name NAME gets these actors */
    uint32_t capacity;          /* batches it may hold at once, default 4; 1..1024 */
    manifest_actor_t *actors;
    size_t n_actors;
} manifest_worker_t;

typedef struct {
    char *name;                 /* unique, valid UTF-8, 1..MANIFEST_MAX_NAME bytes */
    char *description;          /* may be NULL */
    char **examples;            /* may be empty */
    size_t n_examples;
} manifest_label_t;

typedef struct {
    char *cluster_name;         /* cluster.name, default "annotate" */

    /* coordinator: */
    char *grpc_listen;          /* coordinator.grpc_listen, default "127.0.0.1:7400" */
    char *cluster_bind;         /* coordinator.cluster_bind (ZeroMQ), default "tcp://127.0.0.1:7401" */
    char *data_dir;             /* coordinator.data_dir, default "./annotate-data" */
    uint32_t heartbeat_ms;      /* coordinator.heartbeat_ms, default 1000; 50..60000 */
    uint32_t liveness;          /* coordinator.liveness, default 3; 2..100 */
    uint32_t batch_size;        /* coordinator.batch_size, default 256; 1..65536 */
    uint64_t max_pending;       /* coordinator.max_pending, default 1000000; 1..1e9 */
    uint64_t max_message_bytes; /* coordinator.max_message_bytes, default 16 MiB; 4 KiB..1 GiB */
    uint64_t initial_map_bytes; /* coordinator.initial_map_mb * MiB, default 1024 MiB */
    uint64_t max_map_bytes;     /* coordinator.max_map_mb * MiB, 0 = no limit (default) */
    uint32_t grpc_threads;      /* coordinator.grpc_threads, default 8; 1..256 */
    uint32_t max_watchers;      /* coordinator.max_watchers, default 16; 1..1024 */

    /* items: */
    uint32_t vector_dim;        /* items.vector_dim, default 0 (no vectors); 0..MANIFEST_MAX_VECTOR_DIM */
    uint32_t max_text_bytes;    /* items.max_text_bytes, default 65536 */
    uint32_t max_meta_bytes;    /* items.max_meta_bytes, default 16384 */
    bool dedup;                 /* items.dedup, default true: exact duplicates share one label */

    /* taxonomy: */
    char *taxonomy_description; /* taxonomy.description, may be NULL */
    manifest_label_t *labels;   /* taxonomy.labels */
    size_t n_labels;

    /* workers: */
    manifest_worker_t *workers;
    size_t n_workers;

    /* model: */
    char *model_type;           /* model.type: "none" (default) or "linear" */
    uint32_t model_hash_bits;   /* model.hash_bits, default 18; 10..24 */
    uint32_t model_ngram_max;   /* model.ngram_max, default 2; 1..2 */
    uint32_t model_char_ngrams; /* model.char_ngrams, default 0 (off); 0 or 2..6 */
    uint32_t model_vector_norm; /* model.vector_norm: "l2" (default), "max", "none" (features.h order) */
    double model_vector_scale;  /* model.vector_scale, default 1; (0, 1000] */
    double model_c;             /* model.c, liblinear C, default 1; (0, 1e6] */
    double model_eps;           /* model.eps, default 0.01; (0, 1] */
    bool model_calibrate;       /* model.calibrate, default true */
    double model_online_lr;     /* model.online_lr, default 0.1; [0, 10] (0: no online updates) */
    double model_validation_fraction;  /* model.validation_fraction, default 0.2; (0, 0.5] */
    uint64_t model_retrain_after;      /* model.retrain_after human labels, default 50; 0: never */
    uint64_t model_retrain_interval_s; /* model.retrain_interval_s, default 0: never */
    double model_publish_tolerance;    /* model.publish_tolerance, default 0; [0, 1] */
    uint64_t model_min_train;          /* model.min_train labelled items before a first model, default 20 */
    bool model_reannotate;             /* model.reannotate, default true */

    /* active_learning: */
    char *al_strategy;          /* active_learning.strategy: "margin" (default), "least_confidence", "entropy" */
    double al_target_accuracy;  /* active_learning.target_accuracy, default 0.95; (0,1] */
    uint64_t al_review_budget;  /* active_learning.review_budget (answers in all), default 0 = unlimited */
    uint64_t al_budget_per_hour;/* active_learning.review_budget_per_hour, default 0 = unlimited */
    double al_validation_rate;  /* active_learning.validation_rate, default 0.05; [0, 1] */
    uint64_t al_validation_max; /* active_learning.validation_max, default 1000; 0 = no limit */
    double al_confidence_z;     /* active_learning.confidence_z, default 1.645 (95% one-sided) */
    uint32_t al_min_support;    /* active_learning.min_support, default 5 (per class) */
    char *al_threshold_rule;    /* active_learning.threshold_rule: "pooled" (default) or "per_class" */
    uint64_t al_refit_every;    /* active_learning.refit_every new validation answers, the current
                                   model's thresholds are refitted by an active_learning actor;
                                   default 20, 0: only at retrains */
    char *al_target_scope;      /* active_learning.target_scope: "labels" (default: the auto-accepted
                                   labels meet the target) or "dataset" (people's and auto labels together) */
    bool al_auto_accept;        /* active_learning.auto_accept, default true */
    uint32_t al_lease_s;        /* active_learning.lease_s, default 300; 5..86400 */
    char *al_cold_start;        /* active_learning.cold_start: "random" (default) or "stratified" */
    double al_diversity_max_sim;/* active_learning.diversity_max_sim, default 0.95; 0: no diversity */
    bool al_enabled;            /* active_learning.enabled, default true (needs model.type != none) */
    uint64_t al_seed;           /* active_learning.seed, default 1: sample draw, cold-start order */
    double al_validation_share; /* active_learning.validation_share, default 0.25: of each review batch */

    /* propagation: label spreading over the kNN graph (graph/spread.h) */
    uint32_t prop_n_neighbors;  /* propagation.n_neighbors, default 7 (as scikit-learn); 2..200 */
    double prop_alpha;          /* propagation.alpha, default 0.2; (0, 1] */
    uint32_t prop_max_iter;     /* propagation.max_iter, default 30 */
    double prop_tol;            /* propagation.tol, default 1e-3 */
    uint32_t prop_sketch_dim;   /* propagation.sketch_dim, default 256: text sketch size */
    uint64_t prop_every;        /* propagation.every people's labels a run is ordered; 0: on demand */

    char *source_name;          /* the file name errors were reported against */
} manifest_t;

/*  Parses YAML text. source_name is used in error messages ("<embedded>",
    a path, "-"). On error returns NULL and writes "file:line:column: ..."
    into err.  */
manifest_t *manifest_parse (const char *text, size_t len, const char *source_name,
                            char *err, size_t errlen);

/*  Reads and parses a file; errors as above (I/O errors name the path).  */
manifest_t *manifest_load (const char *path, char *err, size_t errlen);

/*  The manifest compiled into the binary (deploy/default.yaml).  */
const char *manifest_default_text (size_t *len);

void manifest_destroy (manifest_t **self_p);

/*  Lookups; NULL / -1 when absent.  */
const manifest_worker_t *manifest_worker (const manifest_t *self, const char *name);
int manifest_label_index (const manifest_t *self, const char *label);

#endif
