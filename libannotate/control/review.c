/*  review.c: the control calls of active learning: NextReview (lease
    items from the review queue), SubmitReview (accept, correct or skip)
    and Stats.

    An answer is durable before it is acknowledged: the writer commits the
    human label (which takes the item out of the queue in the same
    transaction), then the lease ends and the annotation actors get the
    correction as an online step. Answers are idempotent: the same lease
    answered twice returns the first answer's event with duplicate set,
    and after a restart (leases are not durable) an answer equal to the
    item's current human label by the same reviewer is recognised too.
*/
#include <stdlib.h>
#include <string.h>

#include "al/al.h"
#include "control/control_internal.h"
#include "util/util.h"

/* ---- NextReview ---------------------------------------------------------- */

static void
s_fill_task (store_t *store, MDB_txn *txn, const review_task_t *t, Annotate__V1__ReviewTask *out)
{
    annotate__v1__review_task__init (out);
    Annotate__V1__Item *item = NULL;
    Annotate__V1__Label *label = NULL;
    if (txn && store_get_item (store, txn, t->id, strlen (t->id), &item, &label, NULL) == 0) {
        out->item = item;
        out->suggestion = label;
    }
    out->reason = (Annotate__V1__ReviewReason) t->reason;
    out->priority = t->priority;
    out->lease = (char *) t->lease;
    out->lease_expires_ms = t->expires_ms;
}

static void
s_free_tasks (Annotate__V1__ReviewTask *tasks, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (tasks[i].item)
            protobuf_c_message_free_unpacked (&tasks[i].item->base, NULL);
        if (tasks[i].suggestion)
            protobuf_c_message_free_unpacked (&tasks[i].suggestion->base, NULL);
    }
}

void
handle_next_review (handler_ctx_t *h)
{
    Annotate__V1__NextReviewRequest *req = (Annotate__V1__NextReviewRequest *) call_unary_request (
        &h->call, &annotate__v1__next_review_request__descriptor);
    if (!req)
        return;
    if (!control_check_text (h, req->reviewer, MAX_ANNOTATOR_BYTES, true, "reviewer"))
        ;
    else if (req->max_items > REVIEW_MAX_BATCH)
        call_fail (&h->call, GRPC_STATUS_INVALID_ARGUMENT, "max_items: at most %d",
                   REVIEW_MAX_BATCH);
    else if (req->lease_s > 86400)
        call_fail (&h->call, GRPC_STATUS_INVALID_ARGUMENT, "lease_s: at most 86400");
    else {
        review_task_t tasks[REVIEW_MAX_BATCH];
        char why[256];
        uint64_t depth = 0;
        size_t n = review_lease (h->ctl->review, req->reviewer, req->max_items ? req->max_items : 1,
                                 req->lease_s, time_now_ms (), tasks, why, sizeof why, &depth);
        Annotate__V1__ReviewTask rt[REVIEW_MAX_BATCH];
        Annotate__V1__ReviewTask *rp[REVIEW_MAX_BATCH];
        MDB_txn *txn = n ? store_read_begin (h->ctl->cfg.store) : NULL;
        for (size_t i = 0; i < n; i++) {
            s_fill_task (h->ctl->cfg.store, txn, &tasks[i], &rt[i]);
            rp[i] = &rt[i];
        }
        if (txn)
            store_read_end (h->ctl->cfg.store, txn);
        Annotate__V1__NextReviewResponse resp = ANNOTATE__V1__NEXT_REVIEW_RESPONSE__INIT;
        resp.tasks = rp;
        resp.n_tasks = n;
        resp.exhausted = n ? "" : why;
        resp.queue_depth = depth;
        call_finish (&h->call, GRPC_STATUS_OK, NULL, &resp.base);
        s_free_tasks (rt, n);
        review_tasks_free (tasks, n);
    }
    protobuf_c_message_free_unpacked (&req->base, NULL);
}

/* ---- SubmitReview --------------------------------------------------------- */

/*  What an answer is checked against: the machine suggestion to accept,
    and the reviewer's own answer when it already is the current label
    (a repeat, e.g. after a restart lost the lease table).  */
typedef struct {
    char suggestion[MANIFEST_MAX_NAME + 1];
    char mine[MANIFEST_MAX_NAME + 1];
    uint64_t mine_seq;      /* 0: the current label is not this reviewer's */
} current_t;

static int
s_current (handler_ctx_t *h, const char *id, const char *reviewer, current_t *c)
{
    memset (c, 0, sizeof *c);
    MDB_txn *txn = store_read_begin (h->ctl->cfg.store);
    if (!txn)
        return -1;
    Annotate__V1__Label *label = NULL;
    item_state_t st;
    int rc = store_get_item (h->ctl->cfg.store, txn, id, strlen (id), NULL, &label, &st);
    store_read_end (h->ctl->cfg.store, txn);
    if (rc == 0 && label && label->label) {
        if (label->source == ANNOTATE__V1__LABEL_SOURCE__SOURCE_MODEL
            || label->source == ANNOTATE__V1__LABEL_SOURCE__SOURCE_AUTO
            || label->source == ANNOTATE__V1__LABEL_SOURCE__SOURCE_PROPAGATION
            || label->source == ANNOTATE__V1__LABEL_SOURCE__SOURCE_LLM)
            snprintf (c->suggestion, sizeof c->suggestion, "%s", label->label);
        if (label->source == ANNOTATE__V1__LABEL_SOURCE__SOURCE_HUMAN && label->annotator
            && streq (label->annotator, reviewer)) {
            snprintf (c->mine, sizeof c->mine, "%s", label->label);
            c->mine_seq = st.label_seq;
        }
    }
    if (label)
        protobuf_c_message_free_unpacked (&label->base, NULL);
    return rc;
}

static void
s_reply (handler_ctx_t *h, uint64_t seq, bool duplicate, const char *label)
{
    Annotate__V1__SubmitReviewResponse resp = ANNOTATE__V1__SUBMIT_REVIEW_RESPONSE__INIT;
    resp.seq = seq;
    resp.duplicate = duplicate;
    resp.label = (char *) label;
    call_finish (&h->call, GRPC_STATUS_OK, NULL, &resp.base);
}

/*  Writes the answer (the store itself refuses to write the same answer
    twice: a concurrent retry comes back as a duplicate).  */
static void
s_answer (handler_ctx_t *h, const Annotate__V1__SubmitReviewRequest *req, const char *answer)
{
    store_request_t r = { .type = STORE_REQ_HUMAN_LABEL, .id = req->id, .label = answer,
                          .annotator = req->reviewer };
    if (store_client_call (h->store, &r) != STORE_OK) {
        call_finish (&h->call, control_store_code (r.status), r.err, NULL);
        return;
    }
    review_done (h->ctl->review, req->lease, req->id, r.seq, answer, !r.duplicate, time_now_ms ());
    if (h->cluster && !r.duplicate)
        cluster_client_correction (h->cluster, req->id, answer);
    s_reply (h, r.seq, r.duplicate, answer);
}

static void
s_submit (handler_ctx_t *h, const Annotate__V1__SubmitReviewRequest *req)
{
    int64_t now = time_now_ms ();
    if (req->action == ANNOTATE__V1__REVIEW_ACTION__ACTION_SKIP) {
        review_release (h->ctl->review, req->reviewer, req->lease, req->id, now);
        s_reply (h, 0, false, "");
        return;
    }
    char dup_label[MANIFEST_MAX_NAME + 1];
    uint64_t seq = 0;
    review_check_t check = review_check (h->ctl->review, req->reviewer, req->lease, req->id, now,
                                         &seq, dup_label, sizeof dup_label);
    if (check == REVIEW_DUPLICATE) {
        s_reply (h, seq, true, dup_label);
        return;
    }
    if (check == REVIEW_HELD) {
        call_fail (&h->call, GRPC_STATUS_FAILED_PRECONDITION,
                   "item \"%.256s\" is leased to another reviewer now (your lease expired)",
                   req->id);
        return;
    }
    current_t c;
    if (s_current (h, req->id, req->reviewer, &c) != 0) {
        call_fail (&h->call, GRPC_STATUS_NOT_FOUND, "item \"%.256s\" not found", req->id);
        return;
    }
    bool accept = req->action == ANNOTATE__V1__REVIEW_ACTION__ACTION_ACCEPT;
    /* the same answer again after the lease table was lost: the stored one */
    if (c.mine_seq && (accept || streq (c.mine, req->label))) {
        review_done (h->ctl->review, req->lease, req->id, c.mine_seq, c.mine, false, now);
        s_reply (h, c.mine_seq, true, c.mine);
        return;
    }
    if (accept && !c.suggestion[0]) {
        call_fail (&h->call, GRPC_STATUS_FAILED_PRECONDITION,
                   "item \"%.256s\" has no machine suggestion to accept: answer with a label",
                   req->id);
        return;
    }
    s_answer (h, req, accept ? c.suggestion : req->label);
}

void
handle_submit_review (handler_ctx_t *h)
{
    Annotate__V1__SubmitReviewRequest *req = (Annotate__V1__SubmitReviewRequest *)
        call_unary_request (&h->call, &annotate__v1__submit_review_request__descriptor);
    if (!req)
        return;
    bool correct = req->action == ANNOTATE__V1__REVIEW_ACTION__ACTION_CORRECT;
    if (!control_check_text (h, req->reviewer, MAX_ANNOTATOR_BYTES, true, "reviewer")
        || !control_check_text (h, req->id, STORE_MAX_ID_BYTES, true, "id")
        || !control_check_text (h, req->lease, REVIEW_LEASE_BYTES - 1, false, "lease")
        || !control_check_text (h, req->label, MANIFEST_MAX_NAME, correct, "label"))
        ;
    else if (req->action != ANNOTATE__V1__REVIEW_ACTION__ACTION_ACCEPT && !correct
             && req->action != ANNOTATE__V1__REVIEW_ACTION__ACTION_SKIP)
        call_fail (&h->call, GRPC_STATUS_INVALID_ARGUMENT,
                   "action: must be ACTION_ACCEPT, ACTION_CORRECT or ACTION_SKIP");
    else
        s_submit (h, req);
    protobuf_c_message_free_unpacked (&req->base, NULL);
}

/* ---- Stats ----------------------------------------------------------------- */

static void
s_stats_from_store (handler_ctx_t *h, Annotate__V1__StatsResponse *resp,
                    Annotate__V1__SourceCount *sc, Annotate__V1__SourceCount **scp,
                    Annotate__V1__ModelInfo **info)
{
    store_t *store = h->ctl->cfg.store;
    MDB_txn *txn = store_read_begin (store);
    if (!txn)
        return;
    store_stats_t ss;
    store_stats (store, txn, &ss);
    store_review_stats_t rs;
    store_review_stats (store, txn, &rs);
    resp->items = ss.items;
    for (size_t i = 0; i < 16; i++) {
        annotate__v1__source_count__init (&sc[i]);
        sc[i].source = (Annotate__V1__LabelSource) i;
        sc[i].count = rs.by_source[i];
        scp[i] = &sc[i];
    }
    resp->sources = scp;
    resp->n_sources = ANNOTATE__V1__LABEL_SOURCE__SOURCE_LLM + 1;
    resp->queue_depth = rs.queue[0];
    resp->queue_uncertain = rs.queue[ANNOTATE__V1__REVIEW_REASON__REASON_UNCERTAIN];
    resp->queue_validation = rs.queue[ANNOTATE__V1__REVIEW_REASON__REASON_VALIDATION];
    resp->queue_cold_start = rs.queue[ANNOTATE__V1__REVIEW_REASON__REASON_COLD_START];
    resp->reviews = rs.human_labels;
    resp->duplicates = rs.duplicates;
    resp->validation_labels = rs.validation_labels;
    resp->human_agreement = rs.reviews_suggested
                                ? (double) rs.reviews_agreed / (double) rs.reviews_suggested
                                : 0;
    resp->current_model = ss.current_model;
    *info = NULL;
    if (ss.current_model && store_get_model_info (store, txn, ss.current_model, info) == 0 && *info) {
        resp->thresholds = (*info)->thresholds;
        resp->n_thresholds = (*info)->n_thresholds;
        resp->model_accuracy = (*info)->sample_accuracy;
        resp->model_lower = (*info)->sample_lower;
        resp->model_upper = (*info)->sample_upper;
        resp->auto_accuracy = (*info)->accept_accuracy;
        resp->auto_lower = (*info)->accept_lower;
        resp->auto_upper = (*info)->accept_upper;
    }
    store_read_end (store, txn);
}

void
handle_stats (handler_ctx_t *h)
{
    Annotate__V1__StatsRequest *req = (Annotate__V1__StatsRequest *) call_unary_request (
        &h->call, &annotate__v1__stats_request__descriptor);
    if (!req)
        return;
    Annotate__V1__StatsResponse resp = ANNOTATE__V1__STATS_RESPONSE__INIT;
    Annotate__V1__SourceCount sc[16];
    Annotate__V1__SourceCount *scp[16];
    Annotate__V1__ModelInfo *info = NULL;
    s_stats_from_store (h, &resp, sc, scp, &info);
    review_counts_t rc;
    review_counts (h->ctl->review, time_now_ms (), &rc);
    resp.leased = rc.leased;
    resp.reviews_last_hour = rc.answers_last_hour;
    resp.reviews_per_hour = (double) rc.answers_last_hour;
    resp.budget_total = rc.budget_total;
    resp.budget_per_hour = rc.budget_per_hour;
    pthread_mutex_lock (&h->ctl->lock);
    char *strategy = strdup (h->ctl->manifest->al_strategy);
    resp.target_accuracy = h->ctl->manifest->al_target_accuracy;
    pthread_mutex_unlock (&h->ctl->lock);
    resp.strategy = strategy ? strategy : "";
    call_finish (&h->call, GRPC_STATUS_OK, NULL, &resp.base);
    free (strategy);
    if (info)
        protobuf_c_message_free_unpacked (&info->base, NULL);
    protobuf_c_message_free_unpacked (&req->base, NULL);
}
