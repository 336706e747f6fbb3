/*  cluster_results.c: checking a worker's RESULT and handing its labels to
    the store writer.

    Every ItemLabel is untrusted: id (UTF-8, 1..256 bytes), ticket (non
    zero), source (a known LabelSource), label (empty exactly when the
    source is SOURCE_NONE, else one of the taxonomy's labels), confidence
    (finite, in [0,1]) and scores (at most one per taxonomy label, each a
    taxonomy label with p in [0,1]). For a batch we know, a label must also
    name one of the batch's items with its ticket. Refused labels are
    dropped; the batch items left without a label are dispatched again, at
    most CLUSTER_MAX_ATTEMPTS times.

    Each result becomes one STORE_REQ_LABELS request, sent asynchronously.
    The request, the label array and the unpacked Result its strings point
    into stay alive in a label_job_t until the writer answers.
*/
#include "cluster/cluster_internal.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "util/util.h"

void
label_job_free (void **item)
{
    label_job_t *job = *item;
    if (!job)
        return;
    if (job->result)
        protobuf_c_message_free_unpacked (&job->result->base, NULL);
    free (job->labels);
    free (job->lbls);
    free (job->worker_name);
    free (job);
    *item = NULL;
}

bool
engine_writer_busy (const engine_t *e)
{
    return e->outstanding >= CLUSTER_MAX_OUTSTANDING || zlistx_size (e->waiting) > 0;
}

/* ---- validation ------------------------------------------------------- */

static bool
s_prob_ok (float p)
{
    return isfinite (p) && p >= 0.0f && p <= 1.0f;
}

/*  NULL when the label is acceptable, else what is wrong with it.  */
static const char *
s_check_label (const engine_t *e, const Annotate__V1__ItemLabel *il)
{
    const manifest_t *m = e->manifest;
    size_t idlen = strlen (il->id);
    if (idlen == 0 || idlen > STORE_MAX_ID_BYTES || !utf8_valid (il->id, idlen))
        return "id must be 1..256 bytes of UTF-8";
    if (il->ticket == 0 && il->source != ANNOTATE__V1__LABEL_SOURCE__SOURCE_MODEL)
        return "ticket missing (only re-annotations by a model go without)";
    if (il->source < ANNOTATE__V1__LABEL_SOURCE__SOURCE_NONE
        || il->source > ANNOTATE__V1__LABEL_SOURCE__SOURCE_LLM)
        return "unknown source";
    /*  Annotation actors label with a model or say they cannot: people's,
        accepted, copied and the other sources are made elsewhere (and some
        would skip the review routing)  */
    if (il->source != ANNOTATE__V1__LABEL_SOURCE__SOURCE_MODEL
        && il->source != ANNOTATE__V1__LABEL_SOURCE__SOURCE_NONE)
        return "a worker may send only model labels or source none";
    if (il->source == ANNOTATE__V1__LABEL_SOURCE__SOURCE_MODEL
        && (il->model_version == 0 || il->model_version > e->latest_model))
        return "model_version is not a stored model";
    bool none = il->source == ANNOTATE__V1__LABEL_SOURCE__SOURCE_NONE;
    if (none && il->label[0])
        return "a SOURCE_NONE label must be empty";
    if (!none && manifest_label_index (m, il->label) < 0)
        return "label is not in the taxonomy";
    if (!s_prob_ok (il->confidence))
        return "confidence must be finite and in [0,1]";
    if (!s_prob_ok (il->uncertainty))
        return "uncertainty must be finite and in [0,1]";
    if (il->n_scores > m->n_labels)
        return "more scores than taxonomy labels";
    for (size_t i = 0; i < il->n_scores; i++) {
        if (manifest_label_index (m, il->scores[i]->label) < 0)
            return "a score names a label not in the taxonomy";
        if (!s_prob_ok (il->scores[i]->p))
            return "a score must be finite and in [0,1]";
    }
    return NULL;
}

/*  Index of the batch item a label answers, or -1. Marks it answered.  */
static ssize_t
s_match (batch_t *b, zhashx_t *index, bool *answered, const Annotate__V1__ItemLabel *il)
{
    void *v = zhashx_lookup (index, il->id);
    if (!v)
        return -1;
    size_t i = (size_t) (uintptr_t) v - 1;
    if (answered[i] || b->items[i]->ticket != il->ticket)
        return -1;
    answered[i] = true;
    return (ssize_t) i;
}

/* ---- submitting ------------------------------------------------------- */

static void
s_submit (engine_t *e, label_job_t *job)
{
    if (e->outstanding >= CLUSTER_MAX_OUTSTANDING) {
        zlistx_add_end (e->waiting, job);
        return;
    }
    if (store_client_send (e->client, &job->req) != 0) {
        log_error (CLUSTER_LOG, "cannot reach the store writer; %zu labels lost (items stay pending)",
                   job->req.n_labels);
        label_job_free ((void **) &job);
        return;
    }
    e->outstanding++;
}

void
engine_flush_waiting (engine_t *e)
{
    while (e->outstanding < CLUSTER_MAX_OUTSTANDING && zlistx_size (e->waiting))
        s_submit (e, zlistx_detach (e->waiting, NULL));
}

void
engine_on_writer_answer (engine_t *e)
{
    store_request_t *req = store_client_recv (e->client);
    if (!req)
        return;
    label_job_t *job = req->user;
    if (e->outstanding)
        e->outstanding--;
    if (req->status != STORE_OK) {
        /*  those items are still pending behind the cursor: retry later  */
        log_error (CLUSTER_LOG, "store refused %zu labels: %s; items parked", req->n_labels, req->err);
        for (size_t i = 0; i < req->n_labels; i++)
            engine_park (e, req->labels[i].id, req->labels[i].ticket);
    }
    else {
        e->labels_applied += req->applied;
        if (req->discarded)
            log_debug (CLUSTER_LOG, "%" PRIu64 " stale labels discarded by the store",
                       req->discarded);
    }
    label_job_free ((void **) &job);
    engine_flush_waiting (e);
}

/* ---- RESULT ----------------------------------------------------------- */

/*  Items of a known batch that came back without a valid label go out
    again, unless they failed too often.  */
static void
s_requeue_unanswered (engine_t *e, batch_t *b, const bool *answered)
{
    for (size_t i = 0; i < b->n_items; i++) {
        if (answered[i] || !b->items[i])
            continue;
        item_ref_t *ref = b->items[i];
        b->items[i] = NULL;
        if (++ref->attempts >= CLUSTER_MAX_ATTEMPTS) {
            log_error (CLUSTER_LOG, "item %s came back unlabelled %u times; parked, retried in %lld s",
                       ref->id, ref->attempts, (long long) (CLUSTER_PARK_RETRY_US / 1000000));
            zlistx_add_end (e->parked, ref);
        }
        else
            engine_requeue (e, &ref, 1, false);
    }
}

static label_job_t *
s_job_new (Annotate__V1__Result *res, const char *worker_name)
{
    label_job_t *job = calloc (1, sizeof *job);
    job->result = res;
    job->worker_name = strdup (worker_name);
    job->labels = calloc (res->n_labels ? res->n_labels : 1, sizeof *job->labels);
    job->lbls = calloc (res->n_labels ? res->n_labels : 1, sizeof *job->lbls);
    job->req.type = STORE_REQ_LABELS;
    job->req.labels = job->labels;
    job->req.user = job;
    return job;
}

static void
s_job_add (label_job_t *job, const Annotate__V1__ItemLabel *il)
{
    size_t k = job->req.n_labels++;
    Annotate__V1__Label *l = &job->lbls[k];
    annotate__v1__label__init (l);
    l->label = il->label;
    l->confidence = il->confidence;
    l->uncertainty = il->uncertainty;
    l->source = il->source;
    l->model_version = il->model_version;
    l->annotator = job->result->actor;
    l->worker = job->worker_name;
    l->scores = il->scores;
    l->n_scores = il->n_scores;
    job->labels[k].id = il->id;
    job->labels[k].ticket = il->ticket;
    job->labels[k].label = l;
}

void
engine_on_result (engine_t *e, worker_t *w, wire_msg_t *msg)
{
    Annotate__V1__Result *res = WIRE_BODY (msg, Annotate__V1__Result,
                                           ANNOTATE__V1__MSG_TYPE__MSG_RESULT);
    if (!res)
        return;
    const char *who = w ? w->name : "an unregistered peer";
    /*  Only the worker we gave the batch to may close it.  */
    batch_t *b = NULL;
    if (w) {
        char key[24];
        snprintf (key, sizeof key, "%" PRIu64, res->batch_id);
        batch_t *found = zhashx_lookup (e->batches, key);
        if (found && found->worker == w)
            b = engine_batch_take (e, res->batch_id);
    }
    size_t alen = strlen (res->actor);
    bool actor_ok = alen && alen <= MANIFEST_MAX_NAME && utf8_valid (res->actor, alen);
    zhashx_t *index = zhashx_new ();
    bool *answered = calloc (b && b->n_items ? b->n_items : 1, sizeof (bool));
    for (size_t i = 0; b && i < b->n_items; i++)
        zhashx_insert (index, b->items[i]->id, (void *) (uintptr_t) (i + 1));

    label_job_t *job = s_job_new (res, w ? w->name : "");
    msg->body = NULL;   /* the job owns the Result now */
    size_t refused = 0;
    const char *why = actor_ok ? NULL : "actor name must be 1..128 bytes of UTF-8";
    for (size_t i = 0; actor_ok && i < res->n_labels; i++) {
        const Annotate__V1__ItemLabel *il = res->labels[i];
        const char *bad = s_check_label (e, il);
        if (!bad && b && s_match (b, index, answered, il) < 0)
            bad = "not an item of this batch";
        if (bad) {
            refused++;
            why = why ? why : bad;
            continue;
        }
        s_job_add (job, il);
    }
    if (why)
        log_warn (CLUSTER_LOG, "result %" PRIu64 " from %s: refused %zu of %zu labels (%s)",
                  res->batch_id, who, actor_ok ? refused : res->n_labels, res->n_labels, why);
    if (b) {
        w->batches_done++;
        w->items_done += job->req.n_labels;
        s_requeue_unanswered (e, b, answered);
        batch_free (&b);
    }
    else
        log_debug (CLUSTER_LOG, "result for unknown batch %" PRIu64 " from %s: passed to the store",
                   res->batch_id, who);
    zhashx_destroy (&index);
    free (answered);
    if (job->req.n_labels)
        s_submit (e, job);
    else
        label_job_free ((void **) &job);
}
