/*  review.c: see review.h.  */
#include "review/review.h"

#include <czmq.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "al/al.h"
#include "util/util.h"

#define POOL_FACTOR       4       /* candidates per item asked for */
#define STRATIFIED_FACTOR 16      /* cold start: a wider pool to spread over */
#define MAX_CANDIDATES    1024
#define DONE_KEEP         65536   /* answered leases remembered for idempotency */
#define SKIP_KEEP         65536
#define SKIP_HIDE_MS      (15 * 60 * 1000)  /* a skipped item is not shown to the same person again */
#define HOUR_MS           (3600 * 1000)
#define ANSWER_RING       (1u << 16)

typedef struct {
    char *id;
    char reviewer[MANIFEST_MAX_NAME + 1];
    char lease[REVIEW_LEASE_BYTES];
    int64_t expires_ms;
} lease_t;

typedef struct {
    char *id;
    uint64_t seq;
    char label[MANIFEST_MAX_NAME + 1];
} done_t;

struct review {
    store_t *store;
    pthread_mutex_t lock;
    review_config_t cfg;
    zhashx_t *by_item;          /* id -> lease_t (owner) */
    zhashx_t *by_lease;         /* lease -> lease_t (borrowed) */
    zhashx_t *done;             /* lease -> done_t (owner) */
    zlistx_t *done_order;       /* lease strings, oldest first, for eviction */
    zhashx_t *skips;            /* "reviewer\x1f" id -> int64_t until (owner) */
    int64_t *answers;           /* ring of answer times, for the hourly budget */
    size_t answers_head, answers_n;
    uint64_t boot;              /* makes leases of another run never match */
    uint64_t next_lease;
};

static void
s_lease_free (void **p)
{
    lease_t *l = *p;
    if (l) {
        free (l->id);
        free (l);
        *p = NULL;
    }
}

static void
s_done_free (void **p)
{
    done_t *d = *p;
    if (d) {
        free (d->id);
        free (d);
        *p = NULL;
    }
}

review_t *
review_new (store_t *store)
{
    review_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->store = store;
    pthread_mutex_init (&self->lock, NULL);
    self->by_item = zhashx_new ();
    self->by_lease = zhashx_new ();
    self->done = zhashx_new ();
    self->done_order = zlistx_new ();
    self->skips = zhashx_new ();
    self->answers = calloc (ANSWER_RING, sizeof *self->answers);
    if (!self->by_item || !self->by_lease || !self->done || !self->done_order || !self->skips
        || !self->answers) {
        review_destroy (&self);
        return NULL;
    }
    zhashx_set_destructor (self->by_item, s_lease_free);
    zhashx_set_destructor (self->done, s_done_free);
    zhashx_set_destructor (self->skips, (zhashx_destructor_fn *) zstr_free);
    zlistx_set_destructor (self->done_order, (zlistx_destructor_fn *) zstr_free);
    zlistx_set_duplicator (self->done_order, (zlistx_duplicator_fn *) strdup);
    self->boot = (uint64_t) time_now_ms () * 2654435761u ^ (uint64_t) getpid ();
    review_config_t cfg = { .lease_s = 300, .diversity_max_sim = 0.95f, .validation_share = 0.25f };
    features_config_default (&cfg.features);
    self->cfg = cfg;
    return self;
}

void
review_destroy (review_t **self_p)
{
    review_t *self = self_p ? *self_p : NULL;
    if (!self)
        return;
    zhashx_destroy (&self->by_lease);
    zhashx_destroy (&self->by_item);
    zhashx_destroy (&self->done);
    zlistx_destroy (&self->done_order);
    zhashx_destroy (&self->skips);
    free (self->answers);
    pthread_mutex_destroy (&self->lock);
    free (self);
    *self_p = NULL;
}

void
review_config_from_manifest (const manifest_t *m, review_config_t *out)
{
    memset (out, 0, sizeof *out);
    out->lease_s = m->al_lease_s ? m->al_lease_s : 300;
    out->budget_total = m->al_review_budget;
    out->budget_per_hour = m->al_budget_per_hour;
    out->diversity_max_sim = (float) m->al_diversity_max_sim;
    out->validation_share = (float) m->al_validation_share;
    out->stratified = m->al_cold_start && strcmp (m->al_cold_start, "stratified") == 0;
    features_config_default (&out->features);
    out->features.hash_bits = m->model_hash_bits;
    out->features.ngram_max = m->model_ngram_max;
    out->features.char_ngrams = m->model_char_ngrams;
    out->features.vector_dim = m->vector_dim;
    out->features.vector_norm = (vector_norm_t) m->model_vector_norm;
    out->features.vector_scale = (float) m->model_vector_scale;
}

void
review_configure (review_t *self, const review_config_t *cfg)
{
    pthread_mutex_lock (&self->lock);
    self->cfg = *cfg;
    pthread_mutex_unlock (&self->lock);
}

/* ---- bookkeeping (under the lock) ----------------------------------------- */

static void
s_expire (review_t *self, int64_t now_ms)
{
    zlistx_t *gone = zlistx_new ();
    zlistx_set_destructor (gone, (zlistx_destructor_fn *) zstr_free);
    zlistx_set_duplicator (gone, (zlistx_duplicator_fn *) strdup);
    for (lease_t *l = zhashx_first (self->by_item); l; l = zhashx_next (self->by_item))
        if (l->expires_ms <= now_ms)
            zlistx_add_end (gone, l->id);
    for (char *id = zlistx_first (gone); id; id = zlistx_next (gone)) {
        lease_t *l = zhashx_lookup (self->by_item, id);
        zhashx_delete (self->by_lease, l->lease);
        zhashx_delete (self->by_item, id);
    }
    zlistx_destroy (&gone);
    if (zhashx_size (self->skips) > SKIP_KEEP)
        zhashx_purge (self->skips);     /* a skip is a courtesy, not a promise */
}

static uint64_t
s_answers_last_hour (review_t *self, int64_t now_ms)
{
    uint64_t n = 0;
    for (size_t i = 0; i < self->answers_n; i++) {
        size_t at = (self->answers_head + ANSWER_RING - 1 - i) % ANSWER_RING;
        if (self->answers[at] <= now_ms - HOUR_MS)
            break;
        n++;
    }
    return n;
}

static void
s_skip_key (char *out, size_t len, const char *reviewer, const char *id)
{
    snprintf (out, len, "%s\x1f%s", reviewer, id);
}

static bool
s_skipped (review_t *self, const char *reviewer, const char *id, size_t id_len, int64_t now_ms)
{
    char key[MANIFEST_MAX_NAME + STORE_MAX_ID_BYTES + 4];
    snprintf (key, sizeof key, "%s\x1f%.*s", reviewer, (int) id_len, id);
    const char *until = zhashx_lookup (self->skips, key);
    return until && strtoll (until, NULL, 10) > now_ms;
}

/*  Why no more may be leased now, or NULL.  */
static const char *
s_budget_spent (review_t *self, int64_t now_ms, uint64_t human_labels, char *why, size_t len)
{
    uint64_t out = zhashx_size (self->by_item);
    if (self->cfg.budget_total && human_labels + out >= self->cfg.budget_total) {
        snprintf (why, len, "review budget of %" PRIu64 " answers spent (%" PRIu64
                  " answered, %" PRIu64 " leased)", self->cfg.budget_total, human_labels, out);
        return why;
    }
    uint64_t hour = s_answers_last_hour (self, now_ms);
    if (self->cfg.budget_per_hour && hour + out >= self->cfg.budget_per_hour) {
        snprintf (why, len, "hourly review budget of %" PRIu64 " answers spent (%" PRIu64
                  " in the last hour, %" PRIu64 " leased)", self->cfg.budget_per_hour, hour, out);
        return why;
    }
    return NULL;
}

/* ---- picking a batch -------------------------------------------------------- */

typedef struct {
    review_t *self;
    MDB_txn *txn;
    const char *reviewer;
    int64_t now_ms;
    size_t want, scanned, scan_limit;
    char **ids;
    uint8_t *reasons;
    float *scores;
    sparse_vec_t *vecs;
    Annotate__V1__Item **items;         /* unpacked under the lock, featurised outside it */
    size_t n;
    size_t validation, max_validation;  /* validation-sample items taken, and the cap */
    bool features;
    features_config_t fcfg;             /* copied under the lock */
    float max_sim;
    bool stratified;
} pool_t;

/*  The candidate's item, read while the scan's transaction is open.  */
static void
s_keep_item (pool_t *p, size_t i, const char *id, size_t id_len)
{
    p->items[i] = NULL;
    if (p->features)
        store_get_item (p->self->store, p->txn, id, id_len, &p->items[i], NULL, NULL);
}

/*  Features of every candidate, with no lock held: they are what the
    diversity pick compares. An item without features is unlike all.  */
static void
s_featurise_all (pool_t *p)
{
    for (size_t i = 0; i < p->n; i++) {
        sparse_vec_init (&p->vecs[i]);
        Annotate__V1__Item *it = p->items[i];
        char err[128];
        if (it && features_extract (&p->fcfg, it->text, strlen (it->text), it->vector,
                                    it->n_vector, &p->vecs[i], err, sizeof err)
                      != 0)
            p->vecs[i].n = 0;
    }
}

static bool
s_on_entry (void *arg, const uint8_t *key, size_t key_len, const char *id, size_t id_len,
            uint8_t reason, float priority)
{
    (void) key;
    (void) key_len;
    pool_t *p = arg;
    p->scanned++;
    char idbuf[STORE_MAX_ID_BYTES + 1];
    if (id_len > STORE_MAX_ID_BYTES)
        return p->scanned < p->scan_limit;
    memcpy (idbuf, id, id_len);
    idbuf[id_len] = 0;
    bool sample = reason == ANNOTATE__V1__REVIEW_REASON__REASON_VALIDATION;
    if (sample && p->validation >= p->max_validation)
        return p->scanned < p->scan_limit;
    if (!zhashx_lookup (p->self->by_item, idbuf)
        && !s_skipped (p->self, p->reviewer, id, id_len, p->now_ms)
        && (p->ids[p->n] = strdup (idbuf)) != NULL) {
        p->validation += sample;
        p->reasons[p->n] = reason;
        p->scores[p->n] = priority;
        s_keep_item (p, p->n, id, id_len);
        p->n++;
    }
    return p->n < p->want && p->scanned < p->scan_limit;
}

static size_t
s_pick (pool_t *p, size_t max, size_t *order)
{
    bool cold = p->n > 0;
    for (size_t i = 0; i < p->n; i++)
        cold = cold && p->reasons[i] == ANNOTATE__V1__REVIEW_REASON__REASON_COLD_START;
    if (p->n <= max || !(p->max_sim > 0 || (cold && p->stratified))) {
        size_t n = p->n < max ? p->n : max;
        for (size_t i = 0; i < n; i++)
            order[i] = i;
        return n;
    }
    const sparse_vec_t **vp = calloc (p->n, sizeof *vp);
    if (!vp)
        return 0;
    for (size_t i = 0; i < p->n; i++)
        vp[i] = &p->vecs[i];
    size_t n;
    if (cold && p->stratified)      /* pure spread: every candidate scores alike */
        n = al_diverse_pick (vp, NULL, p->n, max, 1.0f, order);
    else
        n = al_diverse_pick (vp, p->scores, p->n, max, p->max_sim, order);
    free (vp);
    return n;
}

static void
s_pool_free (pool_t *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free (p->ids[i]);
        if (p->vecs)
            sparse_vec_free (&p->vecs[i]);
        if (p->items && p->items[i])
            protobuf_c_message_free_unpacked (&p->items[i]->base, NULL);
    }
    free (p->ids);
    free (p->reasons);
    free (p->scores);
    free (p->vecs);
    free (p->items);
}

static bool
s_grant (review_t *self, const char *reviewer, char *id, uint8_t reason, float priority,
         int64_t expires_ms, review_task_t *task)
{
    lease_t *l = calloc (1, sizeof *l);
    if (!l || !(l->id = strdup (id))) {
        free (l);
        return false;
    }
    snprintf (l->reviewer, sizeof l->reviewer, "%s", reviewer);
    snprintf (l->lease, sizeof l->lease, "%016" PRIx64 "-%" PRIu64, self->boot,
              ++self->next_lease);
    l->expires_ms = expires_ms;
    zhashx_insert (self->by_item, l->id, l);
    zhashx_insert (self->by_lease, l->lease, l);
    task->id = id;
    memcpy (task->lease, l->lease, sizeof task->lease);
    task->expires_ms = expires_ms;
    task->reason = reason;
    task->priority = priority;
    return true;
}

/*  How many more answers the budgets allow now, leases out counted.  */
static uint64_t
s_budget_left (review_t *self, int64_t now_ms, uint64_t human_labels)
{
    uint64_t left = (uint64_t) -1, leased = zhashx_size (self->by_item);
    if (self->cfg.budget_total)
        left = self->cfg.budget_total > human_labels + leased
                   ? self->cfg.budget_total - human_labels - leased
                   : 0;
    if (self->cfg.budget_per_hour) {
        uint64_t used = s_answers_last_hour (self, now_ms) + leased;
        uint64_t hour_left = self->cfg.budget_per_hour > used ? self->cfg.budget_per_hour - used : 0;
        left = hour_left < left ? hour_left : left;
    }
    return left;
}

/*  Phase 1, under the lock: the candidates from the head of the queue
    (and their items), the budget and the depth. False when none may be
    leased (why says so).  */
static bool
s_collect (review_t *self, pool_t *p, size_t *max, int64_t now_ms, char *why, size_t whylen,
           uint64_t *depth)
{
    MDB_txn *txn = store_read_begin (self->store);
    if (!txn) {
        snprintf (why, whylen, "the store cannot be read");
        return false;
    }
    store_review_stats_t st;
    store_review_stats (self->store, txn, &st);
    *depth = st.queue[0];
    s_expire (self, now_ms);
    bool ok = !s_budget_spent (self, now_ms, st.human_labels, why, whylen);
    if (ok) {
        uint64_t left = s_budget_left (self, now_ms, st.human_labels);
        if (*max > left)
            *max = (size_t) left;
        size_t want = *max * (self->cfg.stratified ? STRATIFIED_FACTOR : POOL_FACTOR);
        p->want = want > MAX_CANDIDATES ? MAX_CANDIDATES : want;
        /* the validation sample heads the queue; a share of each batch
           keeps it growing without starving the informative items */
        p->max_validation = (size_t) ((double) *max * self->cfg.validation_share + 0.999);
        p->scan_limit = zhashx_size (self->by_item) + p->want + 4096;
        p->features = self->cfg.diversity_max_sim > 0 || self->cfg.stratified;
        p->fcfg = self->cfg.features;
        p->max_sim = self->cfg.diversity_max_sim;
        p->stratified = self->cfg.stratified;
        p->txn = txn;
        p->ids = calloc (p->want, sizeof *p->ids);
        p->reasons = calloc (p->want, 1);
        p->scores = calloc (p->want, sizeof *p->scores);
        p->vecs = calloc (p->want, sizeof *p->vecs);
        p->items = calloc (p->want, sizeof *p->items);
        if (p->ids && p->reasons && p->scores && p->vecs && p->items)
            store_review_scan (self->store, txn, NULL, 0, (size_t) -1, s_on_entry, p);
        p->txn = NULL;
        if (!p->n)
            snprintf (why, whylen, "%s", st.queue[0] ? "every queued item is leased or was skipped by you"
                                                     : "the review queue is empty");
        ok = p->n > 0;
    }
    store_read_end (self->store, txn);
    return ok;
}

/*  Phase 3, under the lock again: grants the picked candidates that are
    still queued, not leased by someone else meanwhile, within budget.  */
static size_t
s_grant_picked (review_t *self, pool_t *p, const size_t *order, size_t n, const char *reviewer,
                int64_t now_ms, int64_t expires, review_task_t *out, char *why, size_t whylen)
{
    MDB_txn *txn = store_read_begin (self->store);
    if (!txn)
        return 0;
    store_review_stats_t st;
    store_review_stats (self->store, txn, &st);
    s_expire (self, now_ms);
    uint64_t left = s_budget_left (self, now_ms, st.human_labels);
    size_t granted = 0;
    for (size_t i = 0; i < n && granted < left; i++) {
        size_t k = order[i];
        item_state_t state;
        if (zhashx_lookup (self->by_item, p->ids[k])
            || store_get_item (self->store, txn, p->ids[k], strlen (p->ids[k]), NULL, NULL, &state)
                   != 0
            || !state.review)
            continue;   /* leased or answered while we picked */
        if (s_grant (self, reviewer, p->ids[k], p->reasons[k], p->scores[k], expires,
                     &out[granted])) {
            granted++;
            p->ids[k] = NULL;   /* the task owns it now */
        }
    }
    store_read_end (self->store, txn);
    if (!granted)
        snprintf (why, whylen, "the items picked were taken meanwhile: ask again");
    return granted;
}

size_t
review_lease (review_t *self, const char *reviewer, size_t max, uint32_t lease_s, int64_t now_ms,
              review_task_t *out, char *why, size_t whylen, uint64_t *depth)
{
    why[0] = 0;
    *depth = 0;
    if (max == 0)
        max = 1;
    if (max > REVIEW_MAX_BATCH)
        max = REVIEW_MAX_BATCH;
    pool_t p = { .self = self, .reviewer = reviewer, .now_ms = now_ms };
    pthread_mutex_lock (&self->lock);
    uint32_t length = lease_s ? lease_s : self->cfg.lease_s;
    bool any = s_collect (self, &p, &max, now_ms, why, whylen, depth);
    pthread_mutex_unlock (&self->lock);
    size_t granted = 0;
    if (any) {
        /* phase 2, no lock held: the features and the diversity pick */
        s_featurise_all (&p);
        size_t *order = calloc (max, sizeof *order);
        size_t n = order ? s_pick (&p, max, order) : 0;
        pthread_mutex_lock (&self->lock);
        granted = s_grant_picked (self, &p, order, n, reviewer, now_ms,
                                  now_ms + (int64_t) length * 1000, out, why, whylen);
        pthread_mutex_unlock (&self->lock);
        free (order);
    }
    s_pool_free (&p);
    return granted;
}

void
review_tasks_free (review_task_t *tasks, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free (tasks[i].id);
        tasks[i].id = NULL;
    }
}

/* ---- answers ---------------------------------------------------------------- */

review_check_t
review_check (review_t *self, const char *reviewer, const char *lease, const char *id,
              int64_t now_ms, uint64_t *seq, char *label, size_t label_len)
{
    review_check_t rc = REVIEW_OK;
    pthread_mutex_lock (&self->lock);
    s_expire (self, now_ms);
    done_t *d = lease && *lease ? zhashx_lookup (self->done, lease) : NULL;
    lease_t *held = zhashx_lookup (self->by_item, id);
    if (d && strcmp (d->id, id) == 0) {
        *seq = d->seq;
        snprintf (label, label_len, "%s", d->label);
        rc = REVIEW_DUPLICATE;
    }
    else if (held && strcmp (held->reviewer, reviewer) != 0
             && !(lease && strcmp (held->lease, lease) == 0))
        rc = REVIEW_HELD;   /* a late answer after the lease moved on to someone else */
    pthread_mutex_unlock (&self->lock);
    return rc;
}

static void
s_end_lease (review_t *self, const char *id)
{
    lease_t *l = zhashx_lookup (self->by_item, id);
    if (l) {
        zhashx_delete (self->by_lease, l->lease);
        zhashx_delete (self->by_item, id);
    }
}

void
review_done (review_t *self, const char *lease, const char *id, uint64_t seq, const char *label,
             bool counted, int64_t now_ms)
{
    pthread_mutex_lock (&self->lock);
    s_end_lease (self, id);
    if (lease && *lease && !zhashx_lookup (self->done, lease)) {
        done_t *d = calloc (1, sizeof *d);
        if (!d || !(d->id = strdup (id))) {
            free (d);       /* only the idempotency memory of this answer is lost */
            pthread_mutex_unlock (&self->lock);
            return;
        }
        d->seq = seq;
        snprintf (d->label, sizeof d->label, "%s", label);
        zhashx_insert (self->done, lease, d);
        zlistx_add_end (self->done_order, (void *) lease);
        while (zlistx_size (self->done_order) > DONE_KEEP) {
            char *old = zlistx_first (self->done_order);
            zhashx_delete (self->done, old);
            zlistx_delete (self->done_order, zlistx_cursor (self->done_order));
        }
    }
    if (counted) {
        self->answers[self->answers_head] = now_ms;
        self->answers_head = (self->answers_head + 1) % ANSWER_RING;
        if (self->answers_n < ANSWER_RING)
            self->answers_n++;
    }
    pthread_mutex_unlock (&self->lock);
}

void
review_release (review_t *self, const char *reviewer, const char *lease, const char *id,
                int64_t now_ms)
{
    (void) lease;
    char key[MANIFEST_MAX_NAME + STORE_MAX_ID_BYTES + 4];
    s_skip_key (key, sizeof key, reviewer, id);
    char until[32];
    snprintf (until, sizeof until, "%" PRId64, now_ms + SKIP_HIDE_MS);
    pthread_mutex_lock (&self->lock);
    lease_t *held = zhashx_lookup (self->by_item, id);
    if (held && strcmp (held->reviewer, reviewer) == 0)
        s_end_lease (self, id);
    zhashx_update (self->skips, key, strdup (until));
    pthread_mutex_unlock (&self->lock);
}

void
review_counts (review_t *self, int64_t now_ms, review_counts_t *out)
{
    pthread_mutex_lock (&self->lock);
    s_expire (self, now_ms);
    out->leased = zhashx_size (self->by_item);
    out->answers_last_hour = s_answers_last_hour (self, now_ms);
    out->budget_total = self->cfg.budget_total;
    out->budget_per_hour = self->cfg.budget_per_hour;
    pthread_mutex_unlock (&self->lock);
}
