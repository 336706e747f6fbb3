/*  apply.c: ApplyManifest: check a new manifest, say what would change,
    and (unless dry_run) store it as the next version, hand its policy to
    the store writer and its placement to the cluster actor.

    Settings that bind sockets or open files (listen addresses, data_dir,
    message limits) cannot change under a running process: they are stored
    with the version and reported as taking effect at the next restart.
*/
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/control_internal.h"
#include "util/util.h"

#define MAX_CHANGES 256

typedef struct {
    char *lines[MAX_CHANGES];
    size_t n;
} changes_t;

static void
change (changes_t *c, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

static void
change (changes_t *c, const char *fmt, ...)
{
    if (c->n >= MAX_CHANGES)
        return;
    char buf[512];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (buf, sizeof buf, fmt, ap);
    va_end (ap);
    c->lines[c->n++] = strdup (buf);
}

static const char *
actor_home (const manifest_t *m, const char *actor, actor_type_t *type)
{
    for (size_t w = 0; w < m->n_workers; w++)
        for (size_t a = 0; a < m->workers[w].n_actors; a++)
            if (strcmp (m->workers[w].actors[a].name, actor) == 0) {
                if (type)
                    *type = m->workers[w].actors[a].type;
                return m->workers[w].name;
            }
    return NULL;
}

static void
diff_actors (const manifest_t *old, const manifest_t *new, changes_t *c)
{
    for (size_t w = 0; w < new->n_workers; w++)
        for (size_t a = 0; a < new->workers[w].n_actors; a++) {
            const manifest_actor_t *act = &new->workers[w].actors[a];
            actor_type_t old_type = 0;
            const char *was = actor_home (old, act->name, &old_type);
            if (!was)
                change (c, "start actor %s (%s) on %s", act->name, actor_type_name (act->type),
                        new->workers[w].name);
            else if (strcmp (was, new->workers[w].name) != 0)
                change (c, "move actor %s from %s to %s", act->name, was, new->workers[w].name);
            else if (old_type != act->type)
                change (c, "restart actor %s as %s", act->name, actor_type_name (act->type));
        }
    for (size_t w = 0; w < old->n_workers; w++)
        for (size_t a = 0; a < old->workers[w].n_actors; a++)
            if (!actor_home (new, old->workers[w].actors[a].name, NULL))
                change (c, "stop actor %s on %s", old->workers[w].actors[a].name,
                        old->workers[w].name);
}

/*  The model section, key by key: features change what a model means, so
    a change there is worth seeing before it happens.  */
static void
diff_model (const manifest_t *old, const manifest_t *new, changes_t *c)
{
#define U(field, key)                                                                          \
    if (old->field != new->field)                                                              \
        change (c, "model." key ": %llu -> %llu", (unsigned long long) old->field,              \
                (unsigned long long) new->field);
#define D(field, key)                                                                          \
    if (old->field != new->field)                                                              \
        change (c, "model." key ": %g -> %g", old->field, new->field);
    U (model_hash_bits, "hash_bits")
    U (model_ngram_max, "ngram_max")
    U (model_char_ngrams, "char_ngrams")
    U (model_vector_norm, "vector_norm")
    D (model_vector_scale, "vector_scale")
    D (model_c, "c")
    D (model_eps, "eps")
    U (model_calibrate, "calibrate")
    D (model_online_lr, "online_lr")
    D (model_validation_fraction, "validation_fraction")
    U (model_retrain_after, "retrain_after")
    U (model_retrain_interval_s, "retrain_interval_s")
    D (model_publish_tolerance, "publish_tolerance")
    U (model_min_train, "min_train")
    U (model_reannotate, "reannotate")
#undef U
#undef D
}

static void
diff_manifests (const manifest_t *old, const manifest_t *new, changes_t *c)
{
    for (size_t i = 0; i < new->n_workers; i++)
        if (!manifest_worker (old, new->workers[i].name))
            change (c, "add worker %s (capacity %u)", new->workers[i].name, new->workers[i].capacity);
        else if (manifest_worker (old, new->workers[i].name)->capacity != new->workers[i].capacity)
            change (c, "worker %s: capacity %u -> %u", new->workers[i].name,
                    manifest_worker (old, new->workers[i].name)->capacity, new->workers[i].capacity);
    for (size_t i = 0; i < old->n_workers; i++)
        if (!manifest_worker (new, old->workers[i].name))
            change (c, "remove worker %s", old->workers[i].name);
    diff_actors (old, new, c);
    for (size_t i = 0; i < new->n_labels; i++)
        if (manifest_label_index (old, new->labels[i].name) < 0)
            change (c, "add label %s", new->labels[i].name);
    for (size_t i = 0; i < old->n_labels; i++)
        if (manifest_label_index (new, old->labels[i].name) < 0)
            change (c, "remove label %s (existing labels are kept)", old->labels[i].name);
    if (old->vector_dim != new->vector_dim)
        change (c, "items.vector_dim: %u -> %u", old->vector_dim, new->vector_dim);
    if (old->batch_size != new->batch_size)
        change (c, "coordinator.batch_size: %u -> %u", old->batch_size, new->batch_size);
    if (old->max_pending != new->max_pending)
        change (c, "coordinator.max_pending: %llu -> %llu", (unsigned long long) old->max_pending,
                (unsigned long long) new->max_pending);
    if (old->max_text_bytes != new->max_text_bytes || old->max_meta_bytes != new->max_meta_bytes)
        change (c, "items.max_text_bytes / max_meta_bytes: %u / %u -> %u / %u", old->max_text_bytes,
                old->max_meta_bytes, new->max_text_bytes, new->max_meta_bytes);
    if (strcmp (old->model_type, new->model_type) != 0)
        change (c, "model.type: %s -> %s", old->model_type, new->model_type);
    diff_model (old, new, c);
    if (old->heartbeat_ms != new->heartbeat_ms || old->liveness != new->liveness)
        change (c, "heartbeats: %u ms x %u -> %u ms x %u", old->heartbeat_ms, old->liveness,
                new->heartbeat_ms, new->liveness);
    if (strcmp (old->grpc_listen, new->grpc_listen) != 0
        || strcmp (old->cluster_bind, new->cluster_bind) != 0
        || strcmp (old->data_dir, new->data_dir) != 0
        || old->max_message_bytes != new->max_message_bytes)
        change (c, "listen addresses, data_dir or message limits: take effect at the next restart");
}

store_policy_t *
control_policy_new (const manifest_t *m)
{
    store_policy_t p = { .vector_dim = m->vector_dim, .max_pending = m->max_pending,
                         .n_labels = m->n_labels };
    p.al_enabled = m->al_enabled && strcmp (m->model_type, "none") != 0;
    p.al_auto_accept = m->al_auto_accept;
    p.al_validation_rate = m->al_validation_rate;
    p.al_validation_max = m->al_validation_max;
    p.al_seed = m->al_seed;
    p.dedup = m->dedup;
    p.labels = calloc (m->n_labels + 1, sizeof (char *));
    for (size_t i = 0; i < m->n_labels; i++)
        p.labels[i] = m->labels[i].name;
    store_policy_t *copy = store_policy_copy (&p);
    free (p.labels);
    return copy;
}

/*  Stores the version and tells the writer and the cluster actor; returns
    false with the call answered on failure.  */
static bool
commit_manifest (handler_ctx_t *h, const Annotate__V1__ApplyManifestRequest *req,
                 const manifest_t *m, uint64_t *version)
{
    store_policy_t *policy = control_policy_new (m);
    store_request_t r = { .type = STORE_REQ_MANIFEST, .manifest_text = req->yaml,
                          .manifest_len = strlen (req->yaml), .policy = policy };
    store_client_call (h->store, &r);
    store_policy_free (&policy);
    if (r.status != STORE_OK) {
        call_finish (&h->call, control_store_code (r.status), r.err, NULL);
        return false;
    }
    *version = r.version;
    return true;
}

void
handle_apply_manifest (handler_ctx_t *h)
{
    Annotate__V1__ApplyManifestRequest *req = (Annotate__V1__ApplyManifestRequest *)
        call_unary_request (&h->call, &annotate__v1__apply_manifest_request__descriptor);
    if (!req)
        return;
    const char *src = req->source_name && *req->source_name ? req->source_name : "<request>";
    char err[1024];
    manifest_t *m = NULL;
    size_t len = strlen (req->yaml);
    if (strlen (src) > 256 || !utf8_valid (src, strlen (src)))
        call_fail (&h->call, GRPC_STATUS_INVALID_ARGUMENT, "source_name: too long or not UTF-8");
    else if (len == 0)
        call_fail (&h->call, GRPC_STATUS_INVALID_ARGUMENT, "yaml: empty manifest");
    else if (!(m = manifest_parse (req->yaml, len, src, err, sizeof err)))
        call_fail (&h->call, GRPC_STATUS_INVALID_ARGUMENT, "%s", err);
    else {
        control_t *ctl = h->ctl;
        /* one apply at a time, so the diff is against what is really in force */
        pthread_mutex_lock (&ctl->lock);
        changes_t c = { 0 };
        diff_manifests (ctl->manifest, m, &c);
        Annotate__V1__ApplyManifestResponse resp = ANNOTATE__V1__APPLY_MANIFEST_RESPONSE__INIT;
        resp.changes = c.lines;
        resp.n_changes = c.n;
        bool ok = true;
        char cerr[512] = "";
        if (!req->dry_run && (ok = commit_manifest (h, req, m, &resp.version))) {
            /* stored, and the writer checks items against it: in force here */
            resp.applied = true;
            manifest_destroy (&ctl->manifest);
            ctl->manifest = m;
            m = NULL;
            free (ctl->manifest_text);
            ctl->manifest_text = strdup (req->yaml);
            ctl->manifest_len = len;
            ctl->manifest_version = resp.version;
            ctl->limits.max_text_bytes = ctl->manifest->max_text_bytes;
            ctl->limits.max_meta_bytes = ctl->manifest->max_meta_bytes;
            review_config_t rc;
            review_config_from_manifest (ctl->manifest, &rc);
            review_configure (ctl->review, &rc);
            if (h->cluster
                && cluster_client_apply (h->cluster, req->yaml, len, resp.version, cerr, sizeof cerr) != 0)
                ok = false;
            log_info ("control", "manifest version %llu applied (%zu changes)",
                      (unsigned long long) resp.version, c.n);
        }
        pthread_mutex_unlock (&ctl->lock);
        if (ok)
            call_finish (&h->call, GRPC_STATUS_OK, NULL, &resp.base);
        else if (cerr[0])
            call_fail (&h->call, GRPC_STATUS_INTERNAL,
                       "stored as version %llu and in force for ingest, but the cluster actor "
                       "did not adopt it: %s",
                       (unsigned long long) resp.version, cerr);
        for (size_t i = 0; i < c.n; i++)
            free (c.lines[i]);
    }
    manifest_destroy (&m);
    protobuf_c_message_free_unpacked (&req->base, NULL);
}
