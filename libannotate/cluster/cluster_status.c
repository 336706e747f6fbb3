/*  cluster_status.c: what cluster_client_status answers, the rates behind
    it, and adopting a new manifest.

    Rates come from one sample a second (labels applied by the writer, and
    the store's last pending ticket, which grows by one per ingested item)
    kept in a ring of CLUSTER_RATE_SLOTS: the rate is the difference between
    the newest and the oldest sample over their time span, ~10 s.
*/
#include "cluster/cluster_internal.h"

#include <string.h>

#include "util/util.h"

void
engine_rate_tick (engine_t *e)
{
    int64_t now = time_mono_us ();
    if (now < e->next_rate_us)
        return;
    e->next_rate_us = now + 1000000;
    store_stats_t st;
    store_read_stats (e->store, &st);
    if (e->n_rates == CLUSTER_RATE_SLOTS) {
        memmove (&e->rates[0], &e->rates[1], (CLUSTER_RATE_SLOTS - 1) * sizeof e->rates[0]);
        e->n_rates--;
    }
    e->rates[e->n_rates++] = (rate_sample_t) { now, e->labels_applied, st.last_ticket };
}

static void
s_rates (engine_t *e, double *labels, double *ingest)
{
    *labels = *ingest = 0;
    if (e->n_rates < 2)
        return;
    const rate_sample_t *a = &e->rates[0], *z = &e->rates[e->n_rates - 1];
    double secs = (double) (z->t_us - a->t_us) / 1e6;
    if (secs <= 0)
        return;
    *labels = (double) (z->labels - a->labels) / secs;
    *ingest = z->tickets >= a->tickets ? (double) (z->tickets - a->tickets) / secs : 0;
}

/* ---- status ----------------------------------------------------------- */

/*  Status messages point into the engine's own strings; only the arrays
    are allocated here and freed after packing.  */
typedef struct {
    Annotate__V1__WorkerStatus *ws;
    Annotate__V1__WorkerStatus **wsp;
    char ***actor_names;
    size_t n_workers;
    Annotate__V1__ActorStatus *as;
    Annotate__V1__ActorStatus **asp;
    size_t n_actors;
    char **labels;
} status_arrays_t;

static void
s_fill_workers (engine_t *e, Annotate__V1__ClusterStatusResponse *r, status_arrays_t *a)
{
    size_t n = zhashx_size (e->workers), k = 0;
    a->ws = calloc (n ? n : 1, sizeof *a->ws);
    a->wsp = calloc (n ? n : 1, sizeof *a->wsp);
    a->actor_names = calloc (n ? n : 1, sizeof *a->actor_names);
    for (worker_t *w = zhashx_first (e->workers); w; w = zhashx_next (e->workers), k++) {
        Annotate__V1__WorkerStatus *s = &a->ws[k];
        annotate__v1__worker_status__init (s);
        s->name = w->name;
        s->state = w->alive ? "alive" : "dead";
        s->capacity = w->capacity;
        s->in_flight = w->in_flight;
        s->batches_done = w->batches_done;
        s->items_done = w->items_done;
        s->last_seen_ms = w->last_seen_ms;
        s->host = w->host ? w->host : "";
        s->tags = w->tags;
        s->n_tags = w->n_tags;
        const manifest_worker_t *mw = manifest_worker (e->manifest, w->name);
        if (mw && mw->n_actors) {
            a->actor_names[k] = calloc (mw->n_actors, sizeof (char *));
            for (size_t i = 0; i < mw->n_actors; i++)
                a->actor_names[k][i] = mw->actors[i].name;
            s->actors = a->actor_names[k];
            s->n_actors = mw->n_actors;
        }
        a->wsp[k] = s;
    }
    a->n_workers = k;
    r->workers = a->wsp;
    r->n_workers = k;
}

static void
s_fill_actors (engine_t *e, Annotate__V1__ClusterStatusResponse *r, status_arrays_t *a)
{
    const manifest_t *m = e->manifest;
    size_t n = 0;
    for (size_t i = 0; i < m->n_workers; i++)
        n += m->workers[i].n_actors;
    a->as = calloc (n ? n : 1, sizeof *a->as);
    a->asp = calloc (n ? n : 1, sizeof *a->asp);
    size_t k = 0;
    for (size_t i = 0; i < m->n_workers; i++) {
        const manifest_worker_t *mw = &m->workers[i];
        worker_t *w = zhashx_lookup (e->workers, mw->name);
        bool running = w && w->alive;
        for (size_t j = 0; j < mw->n_actors; j++, k++) {
            Annotate__V1__ActorStatus *s = &a->as[k];
            annotate__v1__actor_status__init (s);
            s->name = mw->actors[j].name;
            s->type = (char *) actor_type_name (mw->actors[j].type);
            s->worker = running ? mw->name : "";
            s->state = running ? "running" : "unplaced";
            a->asp[k] = s;
        }
    }
    a->n_actors = k;
    r->actors = a->asp;
    r->n_actors = k;
}

zframe_t *
engine_status (engine_t *e)
{
    Annotate__V1__ClusterStatusResponse r = ANNOTATE__V1__CLUSTER_STATUS_RESPONSE__INIT;
    status_arrays_t a = { 0 };
    store_stats_t st;
    store_read_stats (e->store, &st);
    const manifest_t *m = e->manifest;
    r.cluster = m->cluster_name;
    r.items = st.items;
    r.labelled = st.labelled;
    r.pending = st.pending;
    r.last_seq = st.last_seq;
    r.store_bytes = st.used_bytes;
    r.in_flight = e->in_flight_items;
    r.redelivered = e->redelivered;
    r.current_model = e->current_model;
    r.retrains = e->retrains;
    r.human_labels = st.human_labels;
    r.human_since_retrain = st.human_labels > e->human_at_order ? st.human_labels - e->human_at_order : 0;
    r.manifest_version = e->manifest_version;
    r.vector_dim = m->vector_dim;
    r.uptime_ms = time_now_ms () - e->started_ms;
    s_rates (e, &r.label_rate, &r.ingest_rate);
    a.labels = calloc (m->n_labels ? m->n_labels : 1, sizeof (char *));
    for (size_t i = 0; i < m->n_labels; i++)
        a.labels[i] = m->labels[i].name;
    r.labels = a.labels;
    r.n_labels = m->n_labels;
    s_fill_workers (e, &r, &a);
    s_fill_actors (e, &r, &a);

    size_t len = annotate__v1__cluster_status_response__get_packed_size (&r);
    zframe_t *f = zframe_new (NULL, len);
    annotate__v1__cluster_status_response__pack (&r, zframe_data (f));
    for (size_t i = 0; i < a.n_workers; i++)
        free (a.actor_names[i]);
    free (a.actor_names);
    free (a.ws);
    free (a.wsp);
    free (a.as);
    free (a.asp);
    free (a.labels);
    return f;
}

/* ---- manifest --------------------------------------------------------- */

int
engine_adopt_manifest (engine_t *e, const char *text, size_t len, uint64_t version, char *err,
                       size_t errlen)
{
    char merr[512];
    manifest_t *m = manifest_parse (text, len, "<applied manifest>", merr, sizeof merr);
    if (!m)
        return err_set (err, errlen, "%s", merr);
    manifest_destroy (&e->manifest);
    e->manifest = m;
    e->manifest_version = version;
    engine_refresh_placement (e);
    size_t n = 0;
    for (worker_t *w = zhashx_first (e->workers); w; w = zhashx_next (e->workers))
        if (w->alive) {
            engine_send_assign (e, w);
            engine_send_model (e, w);   /* the model may have been switched back on */
            n++;
        }
    log_info (CLUSTER_LOG, "adopted manifest version %llu; re-assigned %zu workers",
              (unsigned long long) version, n);
    return 0;
}
