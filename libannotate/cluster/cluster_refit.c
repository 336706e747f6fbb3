/*  cluster_refit.c: the coordinator's side of threshold refits.

    A model's auto-accept thresholds are fitted when it is trained; people
    keep answering the validation sample afterwards, so every
    active_learning.refit_every new answers an active_learning actor is
    asked to refit the current model's thresholds on the whole sample (a
    RetrainOrder with refit set). It pulls the sample through the same
    TRAIN_PULL pages retraining uses, filtered to validation-sample items,
    and answers with a ModelUpload carrying only the info. The thresholds
    are checked like everything from the network (one per taxonomy label,
    values in range, for the version that is still current) and stored on
    that version (STORE_REQ_THRESHOLDS), where the routing picks them up.
    One refit runs at a time, beside (never instead of) a retrain order.
*/
#include "cluster/cluster_internal.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "al/al.h"
#include "util/util.h"

#define REFIT_TIMEOUT_US (5LL * 60 * 1000000)

void
engine_refit_clear (engine_t *e)
{
    free (e->refit.worker);
    memset (&e->refit, 0, sizeof e->refit);
}

const manifest_actor_t *
engine_al_actor (engine_t *e, worker_t **where)
{
    const manifest_t *m = e->manifest;
    for (size_t i = 0; i < m->n_workers; i++) {
        worker_t *w = zhashx_lookup (e->workers, m->workers[i].name);
        if (!w || !w->alive)
            continue;
        for (size_t a = 0; a < m->workers[i].n_actors; a++)
            if (m->workers[i].actors[a].type == ACTOR_ACTIVE_LEARNING) {
                *where = w;
                return &m->workers[i].actors[a];
            }
    }
    return NULL;
}

uint64_t
engine_validation_answers (engine_t *e)
{
    MDB_txn *txn = store_read_begin (e->store);
    store_review_stats_t rs = { 0 };
    if (txn)
        store_review_stats (e->store, txn, &rs);
    store_read_end (e->store, txn);
    return rs.validation_labels;
}

void
engine_refit_tick (engine_t *e)
{
    const manifest_t *m = e->manifest;
    if (!engine_learning_enabled (e) || !m->al_enabled || !m->al_auto_accept
        || !m->al_refit_every || !e->current_model)
        return;
    if (e->prop.id)
        return;     /* the same actor runs propagations: a refit would cancel it */
    if (e->refit.id) {
        if (time_mono_us () - e->refit.started_us < REFIT_TIMEOUT_US)
            return;
        log_warn (CLUSTER_LOG, "refit order %" PRIu64 " timed out", e->refit.id);
        engine_refit_clear (e);
    }
    uint64_t answers = engine_validation_answers (e);
    if (answers < e->sample_at_fit + m->al_refit_every)
        return;
    worker_t *w = NULL;
    const manifest_actor_t *actor = engine_al_actor (e, &w);
    if (!actor)
        return;
    Annotate__V1__ModelSpec spec;
    engine_model_spec (e, &spec);
    Annotate__V1__RetrainOrder o = ANNOTATE__V1__RETRAIN_ORDER__INIT;
    o.order = ++e->next_order;
    o.actor = actor->name;
    o.current_version = e->current_model;
    o.spec = &spec;
    o.reason = "validation sample grew";
    o.refit = true;
    int rc = wire_send (e->router, w->identity, ANNOTATE__V1__MSG_TYPE__MSG_RETRAIN, o.order, &o.base);
    free (spec.labels);
    e->sample_at_fit = answers;     /* also on failure: retry after as many new answers */
    if (rc != 0)
        return;
    e->refit.id = o.order;
    e->refit.worker = strdup (w->name);
    e->refit.version = e->current_model;
    e->refit.started_us = time_mono_us ();
    log_info (CLUSTER_LOG, "refit order %" PRIu64 " to %s/%s: thresholds of model %" PRIu64
              " on %" PRIu64 " validation answers", o.order, w->name, actor->name,
              e->current_model, answers);
}

bool
engine_is_refit (engine_t *e, uint64_t order, const worker_t *w)
{
    return e->refit.id && order == e->refit.id && e->refit.worker
           && strcmp (e->refit.worker, w->name) == 0;
}

static bool
s_unit (double v)
{
    return isfinite (v) && v >= 0.0 && v <= 1.0;
}

const char *
engine_check_thresholds (engine_t *e, const Annotate__V1__ModelInfo *info)
{
    const manifest_t *m = e->manifest;
    if (info->n_thresholds != m->n_labels)
        return "not one threshold per taxonomy label";
    for (size_t i = 0; i < info->n_thresholds; i++) {
        const Annotate__V1__ClassThreshold *t = info->thresholds[i];
        if (manifest_label_index (m, t->label) < 0)
            return "a threshold names a label not in the taxonomy";
        for (size_t j = 0; j < i; j++)
            if (strcmp (info->thresholds[j]->label, t->label) == 0)
                return "two thresholds for one label";
        if (!(isfinite (t->threshold) && t->threshold >= 0.0f && t->threshold <= 2.0f)
            || !s_unit (t->accuracy) || !s_unit (t->lower) || !s_unit (t->upper)
            || t->n_correct > t->n_above)
            return "a threshold's figures are out of range";
    }
    if (!s_unit (info->sample_accuracy) || !s_unit (info->sample_lower)
        || !s_unit (info->sample_upper) || !s_unit (info->accept_accuracy)
        || !s_unit (info->accept_lower) || !s_unit (info->accept_upper)
        || !s_unit (info->target_accuracy))
        return "sample figures out of range";
    if (info->threshold_rule && strcmp (info->threshold_rule, "pooled") != 0
        && strcmp (info->threshold_rule, "per_class") != 0)
        return "unknown threshold rule";
    /*  The claim must be the one the manifest asks for and hold up on the
        figures sent with it: one bad upload must not auto-accept all.  */
    /*  With auto-accept off the spec asks for no thresholds (target 0):
        then none may be enabled.  */
    bool wanted = m->al_enabled && m->al_auto_accept && strcmp (m->model_type, "none") != 0;
    if (fabs (info->target_accuracy - (wanted ? m->al_target_accuracy : 0.0)) > 1e-9)
        return "fitted for another target accuracy";
    size_t enabled = 0;
    uint64_t above = 0, correct = 0;
    for (size_t i = 0; i < info->n_thresholds; i++) {
        const Annotate__V1__ClassThreshold *t = info->thresholds[i];
        if (!t->enabled)
            continue;
        if (t->n_above < m->al_min_support || t->n_above > info->n_validation_sample)
            return "an enabled class has fewer sample items than min_support";
        enabled++;
        above += t->n_above;
        correct += t->n_correct;
    }
    if (enabled && !wanted)
        return "thresholds enabled while auto-accept is off";
    if (enabled && (info->accept_sample != above || above > info->n_validation_sample))
        return "accepted sample does not add up";
    bool dataset = m->al_target_scope && strcmp (m->al_target_scope, "dataset") == 0;
    if (enabled && !dataset) {
        double lo;
        al_wilson (correct, above, m->al_confidence_z, &lo, NULL);
        if (lo + 1e-9 < m->al_target_accuracy)
            return "the accepted sample's lower bound does not reach the target";
    }
    return NULL;
}

void
engine_on_refit_upload (engine_t *e, Annotate__V1__ModelUpload *up)
{
    uint64_t order = e->refit.id, version = e->refit.version;
    engine_refit_clear (e);
    if (up->error && *up->error) {
        log_warn (CLUSTER_LOG, "refit order %" PRIu64 " failed: %.200s", order, up->error);
        return;
    }
    const char *bad = !up->info || up->total_size || up->data.len ? "not a refit answer"
                                                                   : engine_check_thresholds (e, up->info);
    if (!bad && version != e->current_model)
        bad = "the current model changed meanwhile";
    if (bad) {
        log_warn (CLUSTER_LOG, "refit order %" PRIu64 " refused: %s", order, bad);
        return;
    }
    store_request_t r = { .type = STORE_REQ_THRESHOLDS, .model_version = version,
                          .info = up->info };
    if (store_client_call (e->sync_client, &r) != STORE_OK) {
        log_error (CLUSTER_LOG, "refit order %" PRIu64 ": %s", order, r.err);
        return;
    }
    size_t on = 0;
    for (size_t i = 0; i < up->info->n_thresholds; i++)
        on += up->info->thresholds[i]->enabled;
    log_info (CLUSTER_LOG, "model %" PRIu64 ": thresholds refitted on %u validation items, %zu "
              "classes auto-accepted, claimed accuracy %.3f [%.3f, %.3f]", version,
              up->info->n_validation_sample, on, up->info->accept_accuracy,
              up->info->accept_lower, up->info->accept_upper);
}
