/*  bench_ingest: items per second from ingest to durable label, and the
    latency from ingest to the WatchLabels event, for a running cluster;
    and the same per-item work done in one process without the cluster
    (the baseline), so the two can be compared in the same run.

      bench_ingest cluster --addr HOST:PORT [--items N] [--batch B] [--text-bytes L] [--rate R]
      bench_ingest inproc  --dir DIR        [--items N] [--batch B] [--text-bytes L]

    Each prints one JSON line: mode, items, batch, seconds, items_per_s,
    and for the cluster p50_ms / p99_ms / max_ms.

    cluster: one thread streams short-text items through IngestStream in
    messages of B items; another watches WatchLabels from the current end.
    An item's latency is the time from just before its message was handed
    to gRPC to the arrival of its label event. The rate is items over the
    time from the first send to the last event: ingest to durable label.
    Without --rate the sender offers items as fast as the cluster takes
    them, so latencies include the backlog; with --rate R it paces messages
    to R items per second and latencies show the pipeline itself.

    inproc: per batch, what the cluster does per item minus the network:
    pack and unpack the IngestRequest, commit the items to LMDB (durable),
    build a label per item as the placeholder annotation actor does, commit
    the labels and their history events (durable), read the events back.
*/
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "annotate/v1/annotate.pb-c.h"
#include "rpc/client.h"
#include "store/store.h"
#include "util/util.h"

typedef struct {
    const char *mode, *addr, *dir;
    size_t items, batch, text_bytes;
    double rate;    /* items per second to offer; 0: as fast as accepted */
} opts_t;

static const char *s_words[] = { "refund", "order", "late", "great", "broken", "thanks",
                                 "price", "delivery", "support", "account", "login", "crash" };

static void
make_text (char *buf, size_t cap, size_t i)
{
    size_t n = 0;
    n += (size_t) snprintf (buf, cap, "item %zu:", i);
    for (size_t k = 0; n + 10 < cap; k++)
        n += (size_t) snprintf (buf + n, cap - n, " %s", s_words[(i * 7 + k * 3) % 12]);
}

/*  Fills items [from, from+n) with ids "<prefix><i>" and short texts.  */
static void
fill_batch (Annotate__V1__Item *items, Annotate__V1__Item **ptrs, char (*ids)[32], char **texts,
            const char *prefix, size_t from, size_t n, size_t text_bytes)
{
    for (size_t k = 0; k < n; k++) {
        annotate__v1__item__init (&items[k]);
        snprintf (ids[k], 32, "%s%zu", prefix, from + k);
        make_text (texts[k], text_bytes + 1, from + k);
        items[k].id = ids[k];
        items[k].text = texts[k];
        ptrs[k] = &items[k];
    }
}

/* ---- cluster mode ----------------------------------------------------------- */

typedef struct {
    rpc_client_t *client;
    size_t items;
    char prefix[32];
    int64_t *sent_us;   /* per item, written by the sender before the send */
    int64_t *seen_us;   /* per item, written by the watcher */
    size_t seen;
    int64_t last_us;
    uint64_t after_seq;
    volatile int ready;
} watch_ctx_t;

static void *
watch_thread (void *arg)
{
    watch_ctx_t *w = arg;
    Annotate__V1__WatchLabelsRequest req = ANNOTATE__V1__WATCH_LABELS_REQUEST__INIT;
    req.after_seq = w->after_seq;
    req.max_batch = 4096;
    rpc_stream_t *s = rpc_sstream_open (w->client, "/annotate.v1.Annotate/WatchLabels", &req.base, 0);
    w->ready = 1;
    size_t plen = strlen (w->prefix);
    while (w->seen < w->items) {
        ProtobufCMessage *msg = NULL;
        rpc_status_t st;
        rpc_recv_t r = rpc_sstream_recv (s, &annotate__v1__watch_labels_response__descriptor, &msg,
                                         30000, &st);
        if (r != RPC_RECV_MESSAGE) {
            fprintf (stderr, "bench: watch ended: %s %s\n", rpc_status_name (st.code), st.details);
            break;
        }
        int64_t now = time_mono_us ();
        Annotate__V1__WatchLabelsResponse *resp = (Annotate__V1__WatchLabelsResponse *) msg;
        for (size_t i = 0; i < resp->n_events; i++) {
            const char *id = resp->events[i]->item_id;
            if (strncmp (id, w->prefix, plen) != 0)
                continue;
            size_t idx = strtoull (id + plen, NULL, 10);
            if (idx < w->items && !w->seen_us[idx]) {
                w->seen_us[idx] = now;
                w->seen++;
            }
        }
        w->last_us = now;
        protobuf_c_message_free_unpacked (msg, NULL);
    }
    rpc_stream_destroy (&s);
    return NULL;
}

static int
cmp_i64 (const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
    return x < y ? -1 : x > y;
}

static uint64_t
current_seq (rpc_client_t *c)
{
    Annotate__V1__ClusterStatusRequest req = ANNOTATE__V1__CLUSTER_STATUS_REQUEST__INIT;
    ProtobufCMessage *resp = NULL;
    rpc_status_t st = rpc_call (c, "/annotate.v1.Annotate/ClusterStatus", &req.base,
                                &annotate__v1__cluster_status_response__descriptor, &resp, 10000);
    if (st.code != GRPC_STATUS_OK) {
        fprintf (stderr, "bench: status: %s %s\n", rpc_status_name (st.code), st.details);
        exit (1);
    }
    uint64_t seq = ((Annotate__V1__ClusterStatusResponse *) resp)->last_seq;
    protobuf_c_message_free_unpacked (resp, NULL);
    return seq;
}

static int
run_cluster (const opts_t *o)
{
    char err[256];
    rpc_client_t *c = rpc_client_new (o->addr, NULL, err, sizeof err);
    if (!c) {
        fprintf (stderr, "bench: %s\n", err);
        return 1;
    }
    watch_ctx_t w = { .client = c, .items = o->items };
    snprintf (w.prefix, sizeof w.prefix, "b%lld-", (long long) time_now_ms ());
    w.sent_us = calloc (o->items, sizeof (int64_t));
    w.seen_us = calloc (o->items, sizeof (int64_t));
    w.after_seq = current_seq (c);
    pthread_t tid;
    pthread_create (&tid, NULL, watch_thread, &w);
    while (!w.ready)
        usleep (1000);
    Annotate__V1__Item *items = calloc (o->batch, sizeof *items);
    Annotate__V1__Item **ptrs = calloc (o->batch, sizeof *ptrs);
    char (*ids)[32] = calloc (o->batch, 32);
    char **texts = calloc (o->batch, sizeof (char *));
    for (size_t k = 0; k < o->batch; k++)
        texts[k] = malloc (o->text_bytes + 1);
    int64_t t0 = time_mono_us ();
    rpc_stream_t *s = rpc_cstream_open (c, "/annotate.v1.Annotate/IngestStream", 60000);
    for (size_t from = 0; from < o->items; from += o->batch) {
        size_t n = o->items - from < o->batch ? o->items - from : o->batch;
        fill_batch (items, ptrs, ids, texts, w.prefix, from, n, o->text_bytes);
        Annotate__V1__IngestRequest req = ANNOTATE__V1__INGEST_REQUEST__INIT;
        req.items = ptrs;
        req.n_items = n;
        if (o->rate > 0) {
            /* open-loop pacing: latency is measured at a load the cluster can carry */
            int64_t due = t0 + (int64_t) ((double) from / o->rate * 1e6);
            int64_t wait = due - time_mono_us ();
            if (wait > 0)
                usleep ((useconds_t) wait);
        }
        int64_t now = time_mono_us ();
        for (size_t k = 0; k < n; k++)
            w.sent_us[from + k] = now;
        if (rpc_cstream_send (s, &req.base) != 0)
            break;
    }
    ProtobufCMessage *resp = NULL;
    rpc_status_t st = rpc_cstream_finish (&s, &annotate__v1__ingest_response__descriptor, &resp);
    if (resp)
        protobuf_c_message_free_unpacked (resp, NULL);
    if (st.code != GRPC_STATUS_OK)
        fprintf (stderr, "bench: ingest: %s %s\n", rpc_status_name (st.code), st.details);
    pthread_join (tid, NULL);
    int rc = w.seen == o->items ? 0 : 1;
    int64_t *lat = calloc (o->items, sizeof (int64_t));
    size_t nl = 0;
    for (size_t i = 0; i < o->items; i++)
        if (w.seen_us[i])
            lat[nl++] = w.seen_us[i] - w.sent_us[i];
    qsort (lat, nl, sizeof *lat, cmp_i64);
    double secs = (double) (w.last_us - t0) / 1e6;
    printf ("{\"mode\":\"cluster\",\"items\":%zu,\"labelled\":%zu,\"batch\":%zu,\"rate\":%.0f,"
            "\"seconds\":%.3f,\"items_per_s\":%.0f,\"p50_ms\":%.2f,\"p99_ms\":%.2f,\"max_ms\":%.2f}\n",
            o->items, w.seen, o->batch, o->rate, secs, (double) w.seen / secs,
            nl ? lat[nl / 2] / 1000.0 : 0, nl ? lat[nl * 99 / 100] / 1000.0 : 0,
            nl ? lat[nl - 1] / 1000.0 : 0);
    for (size_t k = 0; k < o->batch; k++)
        free (texts[k]);
    free (texts);
    free (ids);
    free (ptrs);
    free (items);
    free (lat);
    free (w.sent_us);
    free (w.seen_us);
    rpc_client_destroy (&c);
    return rc;
}

/* ---- in-process baseline ----------------------------------------------------- */

static bool
count_event (void *arg, uint64_t seq, const uint8_t *packed, size_t len)
{
    Annotate__V1__LabelEvent *ev = annotate__v1__label_event__unpack (NULL, len, packed);
    if (ev) {
        ++*(size_t *) arg;
        protobuf_c_message_free_unpacked (&ev->base, NULL);
    }
    (void) seq;
    return true;
}

/*  One write transaction, committed durably; false on failure.  */
static bool
commit_ingest (store_t *store, const store_policy_t *policy, Annotate__V1__IngestRequest *req)
{
    MDB_txn *txn;
    store_ingest_result_t res;
    char err[256];
    if (store_write_begin (store, &txn))
        return false;
    if (store_txn_ingest (store, txn, policy, req->items, req->n_items, false, time_now_ms (), &res,
                          err, sizeof err)
        != STORE_OK) {
        fprintf (stderr, "bench: %s\n", err);
        store_write_abort (store, txn);
        return false;
    }
    return store_write_commit (store, txn) == 0;
}

static bool
commit_labels (store_t *store, Annotate__V1__IngestRequest *req, uint64_t first_ticket)
{
    store_label_t *labels = calloc (req->n_items, sizeof *labels);
    Annotate__V1__Label none = ANNOTATE__V1__LABEL__INIT;
    none.source = ANNOTATE__V1__LABEL_SOURCE__SOURCE_NONE;
    none.annotator = "annotate-1";
    none.worker = "inproc";
    for (size_t k = 0; k < req->n_items; k++)
        labels[k] = (store_label_t) { req->items[k]->id, first_ticket + k, &none };
    MDB_txn *txn;
    uint64_t applied = 0, discarded = 0;
    char err[256];
    bool ok = store_write_begin (store, &txn) == 0;
    if (ok && store_txn_labels (store, txn, NULL, labels, req->n_items, time_now_ms (), &applied,
                                &discarded, err, sizeof err) != STORE_OK) {
        store_write_abort (store, txn);
        ok = false;
    }
    else if (ok)
        ok = store_write_commit (store, txn) == 0 && applied == req->n_items;
    free (labels);
    return ok;
}

static int
run_inproc (const opts_t *o)
{
    char err[256];
    store_config_t sc = { .dir = o->dir };
    store_t *store = store_open (&sc, err, sizeof err);
    if (!store) {
        fprintf (stderr, "bench: %s\n", err);
        return 1;
    }
    store_policy_t policy = { .vector_dim = 64, .max_pending = 0 };
    Annotate__V1__Item *items = calloc (o->batch, sizeof *items);
    Annotate__V1__Item **ptrs = calloc (o->batch, sizeof *ptrs);
    char (*ids)[32] = calloc (o->batch, 32);
    char **texts = calloc (o->batch, sizeof (char *));
    for (size_t k = 0; k < o->batch; k++)
        texts[k] = malloc (o->text_bytes + 1);
    char prefix[32];
    snprintf (prefix, sizeof prefix, "i%lld-", (long long) time_now_ms ());
    size_t events = 0;
    uint64_t seq = 0, ticket = 0;
    MDB_txn *rt = store_read_begin (store);
    store_stats_t st;
    store_stats (store, rt, &st);
    store_read_end (store, rt);
    seq = st.last_seq;
    ticket = st.last_ticket;
    int64_t t0 = time_mono_us ();
    bool ok = true;
    for (size_t from = 0; ok && from < o->items; from += o->batch) {
        size_t n = o->items - from < o->batch ? o->items - from : o->batch;
        fill_batch (items, ptrs, ids, texts, prefix, from, n, o->text_bytes);
        Annotate__V1__IngestRequest out = ANNOTATE__V1__INGEST_REQUEST__INIT;
        out.items = ptrs;
        out.n_items = n;
        /* the wire: the request is packed by the client and unpacked by the server */
        size_t len = protobuf_c_message_get_packed_size (&out.base);
        uint8_t *buf = malloc (len);
        protobuf_c_message_pack (&out.base, buf);
        Annotate__V1__IngestRequest *in = annotate__v1__ingest_request__unpack (NULL, len, buf);
        free (buf);
        ok = in && commit_ingest (store, &policy, in) && commit_labels (store, in, ticket + 1);
        ticket += n;
        if (in)
            protobuf_c_message_free_unpacked (&in->base, NULL);
        rt = store_read_begin (store);
        size_t got = 0;
        store_history_after (store, rt, seq, n, count_event, &got);
        store_read_end (store, rt);
        seq += got;
        events += got;
    }
    double secs = (double) (time_mono_us () - t0) / 1e6;
    printf ("{\"mode\":\"inproc\",\"items\":%zu,\"labelled\":%zu,\"batch\":%zu,\"seconds\":%.3f,"
            "\"items_per_s\":%.0f}\n",
            o->items, events, o->batch, secs, (double) events / secs);
    for (size_t k = 0; k < o->batch; k++)
        free (texts[k]);
    free (texts);
    free (ids);
    free (ptrs);
    free (items);
    store_destroy (&store);
    return ok && events == o->items ? 0 : 1;
}

int
main (int argc, char **argv)
{
    opts_t o = { .items = 100000, .batch = 256, .text_bytes = 48 };
    static const struct option longopts[] = {
        { "addr", required_argument, NULL, 'a' },  { "dir", required_argument, NULL, 'd' },
        { "items", required_argument, NULL, 'n' }, { "batch", required_argument, NULL, 'b' },
        { "text-bytes", required_argument, NULL, 't' }, { "rate", required_argument, NULL, 'r' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int c;
    while ((c = getopt_long (argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'a': o.addr = optarg; break;
        case 'd': o.dir = optarg; break;
        case 'n': o.items = strtoull (optarg, NULL, 10); break;
        case 'b': o.batch = strtoull (optarg, NULL, 10); break;
        case 't': o.text_bytes = strtoull (optarg, NULL, 10); break;
        case 'r': o.rate = strtod (optarg, NULL); break;
        default:
            fputs ("usage: bench_ingest cluster --addr HOST:PORT | inproc --dir DIR\n"
                   "       [--items N] [--batch B] [--text-bytes L] [--rate ITEMS_PER_S]\n",
                   c == 'h' ? stdout : stderr);
            return c == 'h' ? 0 : 2;
        }
    }
    o.mode = optind < argc ? argv[optind] : "";
    if (!o.items || !o.batch || o.batch > 65536 || o.text_bytes < 16 || o.text_bytes > 4096) {
        fputs ("bench_ingest: --items > 0, 1 <= --batch <= 65536, 16 <= --text-bytes <= 4096\n", stderr);
        return 2;
    }
    if (strcmp (o.mode, "cluster") == 0 && o.addr)
        return run_cluster (&o);
    if (strcmp (o.mode, "inproc") == 0 && o.dir)
        return run_inproc (&o);
    fputs ("bench_ingest: give cluster --addr HOST:PORT or inproc --dir DIR\n", stderr);
    return 2;
}
