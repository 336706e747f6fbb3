/*  read.c: the read-only calls: GetItem, ListItems, ClusterStatus and the
    standard health check. They read LMDB in short read transactions, which
    never wait for the writer.
*/
#include <stdlib.h>
#include <string.h>

#include "control/control_internal.h"
#include "grpc/health/v1/health.pb-c.h"
#include "util/util.h"

#define MAX_HISTORY       10000   /* events returned by one GetItem */
#define DEFAULT_PAGE      100
#define MAX_PAGE          1000
#define SCAN_PER_CALL     200000  /* keys one ListItems may visit before it pages */
#define PREVIEW_BYTES     80

/*  Checks an id from a request; answers INVALID_ARGUMENT naming `field`. */
static bool
check_id (handler_ctx_t *h, const char *id, const char *field)
{
    size_t len = id ? strlen (id) : 0;
    if (len == 0 || len > STORE_MAX_ID_BYTES || !utf8_valid (id, len)) {
        call_fail (&h->call, GRPC_STATUS_INVALID_ARGUMENT,
                   "%s: must be 1..%d bytes of valid UTF-8", field, STORE_MAX_ID_BYTES);
        return false;
    }
    return true;
}

/* ---- GetItem ------------------------------------------------------------ */

typedef struct {
    Annotate__V1__LabelEvent **events;
    size_t n, cap;
} events_t;

static bool
collect_event (void *arg, uint64_t seq, const uint8_t *packed, size_t len)
{
    events_t *e = arg;
    if (e->n >= MAX_HISTORY)
        return false;
    Annotate__V1__LabelEvent *ev = annotate__v1__label_event__unpack (NULL, len, packed);
    if (!ev)
        return true;
    if (e->n == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 16;
        e->events = realloc (e->events, e->cap * sizeof *e->events);
    }
    e->events[e->n++] = ev;
    (void) seq;
    return true;
}

void
handle_get_item (handler_ctx_t *h)
{
    Annotate__V1__GetItemRequest *req = (Annotate__V1__GetItemRequest *) call_unary_request (
        &h->call, &annotate__v1__get_item_request__descriptor);
    if (!req)
        return;
    if (!check_id (h, req->id, "id")) {
        protobuf_c_message_free_unpacked (&req->base, NULL);
        return;
    }
    store_t *store = h->ctl->cfg.store;
    Annotate__V1__GetItemResponse resp = ANNOTATE__V1__GET_ITEM_RESPONSE__INIT;
    events_t ev = { 0 };
    item_state_t st;
    MDB_txn *txn = store_read_begin (store);
    int rc = txn ? store_get_item (store, txn, req->id, strlen (req->id), &resp.item, &resp.label, &st)
                 : -1;
    if (rc == 0 && !req->no_history)
        store_item_history (store, txn, req->id, strlen (req->id), collect_event, &ev);
    char canon[STORE_MAX_ID_BYTES + 1] = "";
    if (rc == 0)
        store_dedup_info (store, txn, req->id, strlen (req->id), canon, sizeof canon,
                          &resp.duplicates);
    resp.duplicate_of = canon;
    store_read_end (store, txn);
    if (rc == MDB_NOTFOUND)
        call_fail (&h->call, GRPC_STATUS_NOT_FOUND, "item \"%.256s\" not found", req->id);
    else if (rc != 0)
        call_fail (&h->call, GRPC_STATUS_INTERNAL, "store: cannot read item");
    else {
        resp.status = (Annotate__V1__ItemStatus) st.status;
        resp.history = ev.events;
        resp.n_history = ev.n;
        call_finish (&h->call, GRPC_STATUS_OK, NULL, &resp.base);
    }
    if (resp.item)
        protobuf_c_message_free_unpacked (&resp.item->base, NULL);
    if (resp.label)
        protobuf_c_message_free_unpacked (&resp.label->base, NULL);
    for (size_t i = 0; i < ev.n; i++)
        protobuf_c_message_free_unpacked (&ev.events[i]->base, NULL);
    free (ev.events);
    protobuf_c_message_free_unpacked (&req->base, NULL);
}

/* ---- ListItems ------------------------------------------------------------ */

typedef struct {
    const Annotate__V1__ListItemsRequest *req;
    Annotate__V1__ItemSummary **items;
    size_t n, want;
} list_t;

/*  Longest prefix of at most max bytes that ends on a character boundary. */
static size_t
utf8_prefix (const char *s, size_t max)
{
    size_t len = strlen (s);
    if (len <= max)
        return len;
    while (max > 0 && ((unsigned char) s[max] & 0xC0) == 0x80)
        max--;
    return max;
}

static bool
list_visit (void *arg, const char *id, size_t id_len, const item_state_t *st, const uint8_t *label,
            size_t label_len, const uint8_t *item, size_t item_len)
{
    list_t *l = arg;
    const Annotate__V1__ListItemsRequest *req = l->req;
    if (req->status && st->status != (uint8_t) req->status)
        return true;
    if (req->source && st->source != (uint8_t) req->source)
        return true;
    Annotate__V1__Label *lab = label ? annotate__v1__label__unpack (NULL, label_len, label) : NULL;
    if (req->label && *req->label && (!lab || strcmp (lab->label, req->label) != 0)) {
        if (lab)
            protobuf_c_message_free_unpacked (&lab->base, NULL);
        return true;
    }
    Annotate__V1__ItemSummary *s = malloc (sizeof *s);
    annotate__v1__item_summary__init (s);
    s->id = strndup (id, id_len);
    s->status = (Annotate__V1__ItemStatus) st->status;
    s->label = lab;
    Annotate__V1__Item *it = annotate__v1__item__unpack (NULL, item_len, item);
    s->text_preview = it ? strndup (it->text, utf8_prefix (it->text, PREVIEW_BYTES)) : strdup ("");
    if (it)
        protobuf_c_message_free_unpacked (&it->base, NULL);
    l->items[l->n++] = s;
    return l->n < l->want;
}

static void
free_summaries (list_t *l)
{
    for (size_t i = 0; i < l->n; i++) {
        Annotate__V1__ItemSummary *s = l->items[i];
        free (s->id);
        free (s->text_preview);
        if (s->label)
            protobuf_c_message_free_unpacked (&s->label->base, NULL);
        free (s);
    }
    free (l->items);
}

void
handle_list_items (handler_ctx_t *h)
{
    Annotate__V1__ListItemsRequest *req = (Annotate__V1__ListItemsRequest *) call_unary_request (
        &h->call, &annotate__v1__list_items_request__descriptor);
    if (!req)
        return;
    const char *bad = NULL;
    if (req->page_size > MAX_PAGE)
        bad = "page_size: at most 1000";
    else if (req->page_token && *req->page_token
             && (strlen (req->page_token) > STORE_MAX_ID_BYTES
                 || !utf8_valid (req->page_token, strlen (req->page_token))))
        bad = "page_token: not a token this server issued";
    else if (req->label && !utf8_valid (req->label, strlen (req->label)))
        bad = "label: invalid UTF-8";
    else if ((int) req->source < 0 || req->source > ANNOTATE__V1__LABEL_SOURCE__SOURCE_LLM)
        bad = "source: unknown value";
    else if ((int) req->status < 0 || req->status > ANNOTATE__V1__ITEM_STATUS__STATUS_ACCEPTED)
        bad = "status: unknown value";
    if (bad) {
        call_fail (&h->call, GRPC_STATUS_INVALID_ARGUMENT, "%s", bad);
        protobuf_c_message_free_unpacked (&req->base, NULL);
        return;
    }
    list_t l = { .req = req, .want = req->page_size ? req->page_size : DEFAULT_PAGE };
    l.items = calloc (l.want, sizeof *l.items);
    store_t *store = h->ctl->cfg.store;
    char *last = NULL;
    MDB_txn *txn = store_read_begin (store);
    if (txn)
        store_scan_items (store, txn, req->page_token, SCAN_PER_CALL, list_visit, &l, &last);
    store_read_end (store, txn);
    Annotate__V1__ListItemsResponse resp = ANNOTATE__V1__LIST_ITEMS_RESPONSE__INIT;
    resp.items = l.items;
    resp.n_items = l.n;
    resp.next_page_token = last ? last : "";
    if (txn)
        call_finish (&h->call, GRPC_STATUS_OK, NULL, &resp.base);
    else
        call_fail (&h->call, GRPC_STATUS_UNAVAILABLE, "store: cannot read");
    free (last);
    free_summaries (&l);
    protobuf_c_message_free_unpacked (&req->base, NULL);
}

/* ---- ClusterStatus ----------------------------------------------------------- */

void
handle_cluster_status (handler_ctx_t *h)
{
    Annotate__V1__ClusterStatusRequest *req = (Annotate__V1__ClusterStatusRequest *)
        call_unary_request (&h->call, &annotate__v1__cluster_status_request__descriptor);
    if (!req)
        return;
    protobuf_c_message_free_unpacked (&req->base, NULL);
    Annotate__V1__ClusterStatusResponse *resp =
        h->cluster ? cluster_client_status (h->cluster, 2000) : NULL;
    if (!resp) {
        call_fail (&h->call, GRPC_STATUS_UNAVAILABLE, "cluster actor did not answer");
        return;
    }
    store_t *store = h->ctl->cfg.store;
    store_stats_t st;
    if (store_read_stats (store, &st)) {
        resp->items = st.items;
        resp->labelled = st.labelled;
        resp->pending = st.pending;
        resp->last_seq = st.last_seq;
        resp->store_bytes = st.used_bytes;
    }
    /* strings owned by the unpacked message are replaced by ours for the
       reply, then restored so free_unpacked frees only what it allocated */
    control_t *ctl = h->ctl;
    /*  copies taken under the lock; the (possibly slow) send happens after */
    pthread_mutex_lock (&ctl->lock);
    char *cluster_name = resp->cluster;
    size_t n_labels = resp->n_labels;
    char **labels = resp->labels;
    resp->cluster = strdup (ctl->manifest->cluster_name);
    resp->vector_dim = ctl->manifest->vector_dim;
    resp->manifest_version = ctl->manifest_version;
    size_t n_names = ctl->manifest->n_labels;
    char **names = calloc (n_names + 1, sizeof (char *));
    for (size_t i = 0; i < n_names; i++)
        names[i] = strdup (ctl->manifest->labels[i].name);
    pthread_mutex_unlock (&ctl->lock);
    resp->n_labels = n_names;
    resp->labels = names;
    resp->uptime_ms = time_now_ms () - ctl->started_ms;
    call_finish (&h->call, GRPC_STATUS_OK, NULL, &resp->base);
    free (resp->cluster);
    for (size_t i = 0; i < n_names; i++)
        free (names[i]);
    free (names);
    resp->cluster = cluster_name;
    resp->labels = labels;
    resp->n_labels = n_labels;
    protobuf_c_message_free_unpacked (&resp->base, NULL);
}

/* ---- grpc.health.v1.Health/Check ---------------------------------------------- */

void
handle_health (handler_ctx_t *h)
{
    Grpc__Health__V1__HealthCheckRequest *req = (Grpc__Health__V1__HealthCheckRequest *)
        call_unary_request (&h->call, &grpc__health__v1__health_check_request__descriptor);
    if (!req)
        return;
    bool known = !req->service || !*req->service || strcmp (req->service, "annotate.v1.Annotate") == 0;
    protobuf_c_message_free_unpacked (&req->base, NULL);
    if (!known) {
        call_fail (&h->call, GRPC_STATUS_NOT_FOUND, "unknown service");
        return;
    }
    Grpc__Health__V1__HealthCheckResponse resp = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
    resp.status = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
    call_finish (&h->call, GRPC_STATUS_OK, NULL, &resp.base);
}
