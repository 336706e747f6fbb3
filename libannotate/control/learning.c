/*  learning.c: the control calls of the learning loop: SubmitLabel (a
    person's label), Retrain, ListModels, Rollback and Propagate.

    A human label is durable before anything else happens: the writer
    commits it, then the cluster actor broadcasts it as a correction so
    annotation actors take an online step. A lost broadcast costs only that
    step; the label itself counts toward the next retrain either way.
*/
#include <stdlib.h>
#include <string.h>

#include "control/control_internal.h"
#include "util/util.h"


bool
control_check_text (handler_ctx_t *h, const char *s, size_t max, bool required, const char *field)
{
    size_t len = s ? strlen (s) : 0;
    if ((required && len == 0) || len > max || !utf8_valid (s ? s : "", len)) {
        call_fail (&h->call, GRPC_STATUS_INVALID_ARGUMENT, "%s: %s1..%zu bytes of valid UTF-8",
                   field, required ? "must be " : "at most ", max);
        return false;
    }
    return true;
}

void
handle_submit_label (handler_ctx_t *h)
{
    Annotate__V1__SubmitLabelRequest *req = (Annotate__V1__SubmitLabelRequest *)
        call_unary_request (&h->call, &annotate__v1__submit_label_request__descriptor);
    if (!req)
        return;
    if (control_check_text (h, req->id, STORE_MAX_ID_BYTES, true, "id")
        && control_check_text (h, req->label, MANIFEST_MAX_NAME, true, "label")
        && control_check_text (h, req->annotator, MAX_ANNOTATOR_BYTES, false, "annotator")) {
        store_request_t r = { .type = STORE_REQ_HUMAN_LABEL, .id = req->id, .label = req->label,
                              .annotator = req->annotator };
        if (store_client_call (h->store, &r) != STORE_OK)
            call_finish (&h->call, control_store_code (r.status), r.err, NULL);
        else {
            if (h->cluster && !r.duplicate)     /* a retry takes no second online step */
                cluster_client_correction (h->cluster, req->id, req->label);
            Annotate__V1__SubmitLabelResponse resp = ANNOTATE__V1__SUBMIT_LABEL_RESPONSE__INIT;
            resp.seq = r.seq;
            call_finish (&h->call, GRPC_STATUS_OK, NULL, &resp.base);
        }
    }
    protobuf_c_message_free_unpacked (&req->base, NULL);
}

void
handle_retrain (handler_ctx_t *h)
{
    Annotate__V1__RetrainRequest *req = (Annotate__V1__RetrainRequest *) call_unary_request (
        &h->call, &annotate__v1__retrain_request__descriptor);
    if (!req)
        return;
    if (control_check_text (h, req->reason, 200, false, "reason")) {
        char actor[256], worker[256], err[512];
        Annotate__V1__RetrainResponse resp = ANNOTATE__V1__RETRAIN_RESPONSE__INIT;
        if (!h->cluster)
            call_fail (&h->call, GRPC_STATUS_UNAVAILABLE, "cluster actor unavailable");
        else if (cluster_client_retrain (h->cluster, req->reason, &resp.order, actor, sizeof actor,
                                         worker, sizeof worker, err, sizeof err) != 0)
            call_fail (&h->call, GRPC_STATUS_FAILED_PRECONDITION, "%s", err);
        else {
            resp.actor = actor;
            resp.worker = worker;
            call_finish (&h->call, GRPC_STATUS_OK, NULL, &resp.base);
        }
    }
    protobuf_c_message_free_unpacked (&req->base, NULL);
}

typedef struct {
    Annotate__V1__ModelInfo **infos;
    size_t n, cap;
    uint64_t current;
} models_t;

static bool
collect_model (void *arg, uint64_t version, const uint8_t *packed, size_t len)
{
    models_t *m = arg;
    Annotate__V1__ModelInfo *info = annotate__v1__model_info__unpack (NULL, len, packed);
    if (!info)
        return true;
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 16;
        m->infos = realloc (m->infos, m->cap * sizeof *m->infos);
    }
    m->infos[m->n++] = info;
    (void) version;
    return true;
}

void
handle_list_models (handler_ctx_t *h)
{
    Annotate__V1__ListModelsRequest *req = (Annotate__V1__ListModelsRequest *) call_unary_request (
        &h->call, &annotate__v1__list_models_request__descriptor);
    if (!req)
        return;
    protobuf_c_message_free_unpacked (&req->base, NULL);
    store_t *store = h->ctl->cfg.store;
    models_t m = { 0 };
    MDB_txn *txn = store_read_begin (store);
    if (txn) {
        store_stats_t st;
        store_stats (store, txn, &st);
        m.current = st.current_model;
        store_list_models (store, txn, collect_model, &m);
        store_read_end (store, txn);
    }
    /* "current" is a fact of the store, not of the stored info */
    char **saved = calloc (m.n + 1, sizeof (char *));
    for (size_t i = 0; i < m.n; i++) {
        saved[i] = m.infos[i]->status;
        if (m.infos[i]->version == m.current)
            m.infos[i]->status = "current";
    }
    Annotate__V1__ListModelsResponse resp = ANNOTATE__V1__LIST_MODELS_RESPONSE__INIT;
    resp.models = m.infos;
    resp.n_models = m.n;
    resp.current = m.current;
    if (txn)
        call_finish (&h->call, GRPC_STATUS_OK, NULL, &resp.base);
    else
        call_fail (&h->call, GRPC_STATUS_UNAVAILABLE, "store: cannot read");
    for (size_t i = 0; i < m.n; i++) {
        m.infos[i]->status = saved[i];
        protobuf_c_message_free_unpacked (&m.infos[i]->base, NULL);
    }
    free (saved);
    free (m.infos);
}

void
handle_rollback (handler_ctx_t *h)
{
    Annotate__V1__RollbackRequest *req = (Annotate__V1__RollbackRequest *) call_unary_request (
        &h->call, &annotate__v1__rollback_request__descriptor);
    if (!req)
        return;
    uint64_t version = req->version;
    protobuf_c_message_free_unpacked (&req->base, NULL);
    if (version == 0) {
        call_fail (&h->call, GRPC_STATUS_INVALID_ARGUMENT, "version: required");
        return;
    }
    store_request_t r = { .type = STORE_REQ_SET_MODEL, .model_version = version };
    if (store_client_call (h->store, &r) != STORE_OK) {
        call_finish (&h->call, control_store_code (r.status), r.err, NULL);
        return;
    }
    if (h->cluster && cluster_client_model_changed (h->cluster, version) != 0) {
        call_fail (&h->call, GRPC_STATUS_INTERNAL,
                   "version %llu is current in the store, but the cluster actor did not answer",
                   (unsigned long long) version);
        return;
    }
    log_info ("control", "rolled back to model version %llu", (unsigned long long) version);
    Annotate__V1__RollbackResponse resp = ANNOTATE__V1__ROLLBACK_RESPONSE__INIT;
    resp.current = version;
    call_finish (&h->call, GRPC_STATUS_OK, NULL, &resp.base);
}

void
handle_propagate (handler_ctx_t *h)
{
    Annotate__V1__PropagateRequest *req = (Annotate__V1__PropagateRequest *) call_unary_request (
        &h->call, &annotate__v1__propagate_request__descriptor);
    if (!req)
        return;
    if (control_check_text (h, req->reason, 200, false, "reason")) {
        char actor[256], worker[256], err[512];
        Annotate__V1__PropagateResponse resp = ANNOTATE__V1__PROPAGATE_RESPONSE__INIT;
        if (!h->cluster)
            call_fail (&h->call, GRPC_STATUS_UNAVAILABLE, "cluster actor unavailable");
        else if (cluster_client_propagate (h->cluster, req->reason, &resp.order, actor,
                                           sizeof actor, worker, sizeof worker, err, sizeof err)
                 != 0)
            call_fail (&h->call, GRPC_STATUS_FAILED_PRECONDITION, "%s", err);
        else {
            resp.actor = actor;
            resp.worker = worker;
            call_finish (&h->call, GRPC_STATUS_OK, NULL, &resp.base);
        }
    }
    protobuf_c_message_free_unpacked (&req->base, NULL);
}
