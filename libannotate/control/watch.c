/*  watch.c: WatchLabels, a server stream of label events in sequence order.

    A watcher is a cursor into the append-only history: the handler reads
    the events after its cursor from LMDB, sends them as one message, and
    advances. Because the history is the source, a watcher can resume from
    any sequence number, can never miss an event, and a slow watcher costs
    the writer nothing (readers never block LMDB's writer).

    At most one send is in flight per stream, so a client that stops
    reading stops the handler through HTTP/2 flow control instead of making
    it buffer. When caught up it checks for new events every POLL_MS; a
    RECV_CLOSE_ON_SERVER op started at the beginning tells it when the
    client went away.
*/
#include <stdlib.h>
#include <string.h>

#include "control/control_internal.h"
#include "rpc/bytes.h"
#include "util/util.h"

#define POLL_MS          2
#define DEFAULT_BATCH    256
#define MAX_BATCH        4096

typedef struct {
    Annotate__V1__LabelEvent **events;
    size_t n, max;
    Annotate__V1__LabelSource source;
    uint64_t cursor;                    /* highest seq looked at */
} watch_batch_t;

static bool
take_event (void *arg, uint64_t seq, const uint8_t *packed, size_t len)
{
    watch_batch_t *b = arg;
    b->cursor = seq;
    Annotate__V1__LabelEvent *ev = annotate__v1__label_event__unpack (NULL, len, packed);
    if (!ev)
        return true;
    if (b->source && (!ev->label || ev->label->source != b->source)) {
        protobuf_c_message_free_unpacked (&ev->base, NULL);
        return true;
    }
    b->events[b->n++] = ev;
    return b->n < b->max;
}

static void
batch_clear (watch_batch_t *b)
{
    for (size_t i = 0; i < b->n; i++)
        protobuf_c_message_free_unpacked (&b->events[i]->base, NULL);
    b->n = 0;
}

static uint64_t
current_last_seq (store_t *store)
{
    store_stats_t st;
    store_read_stats (store, &st);
    return st.last_seq;
}

/*  Reads the next events into b (b->n may stay 0 when caught up).  */
static void
fill_batch (store_t *store, watch_batch_t *b)
{
    MDB_txn *txn = store_read_begin (store);
    if (!txn)
        return;
    /* with a source filter most events may be skipped: bound the scan */
    store_history_after (store, txn, b->cursor, b->max * 8, take_event, b);
    store_read_end (store, txn);
}

static bool
start_send (call_t *c, watch_batch_t *b, void *tag, grpc_byte_buffer **buf)
{
    Annotate__V1__WatchLabelsResponse resp = ANNOTATE__V1__WATCH_LABELS_RESPONSE__INIT;
    resp.events = b->events;
    resp.n_events = b->n;
    *buf = rpc_pack (&resp.base);
    grpc_op op;
    memset (&op, 0, sizeof op);
    op.op = GRPC_OP_SEND_MESSAGE;
    op.data.send_message.send_message = *buf;
    return grpc_call_start_batch (c->call, &op, 1, tag, NULL) == GRPC_CALL_OK;
}

static bool
start_stream (call_t *c, void *close_tag, int *cancelled)
{
    grpc_op ops[2];
    memset (ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    ops[1].data.recv_close_on_server.cancelled = cancelled;
    c->sent_initial = true;
    return grpc_call_start_batch (c->call, ops, 2, close_tag, NULL) == GRPC_CALL_OK;
}

/*  Streams until the client leaves or the server shuts down.  */
static void
stream_events (handler_ctx_t *h, watch_batch_t *b)
{
    call_t *c = &h->call;
    int close_tag, send_tag, cancelled = 0;
    if (!start_stream (c, &close_tag, &cancelled))
        return;
    bool closed = false, sending = false;
    grpc_byte_buffer *buf = NULL;
    while (!closed) {
        if (!sending) {
            batch_clear (b);
            fill_batch (h->ctl->cfg.store, b);
            if (b->n) {
                sending = start_send (c, b, &send_tag, &buf);
                if (!sending)
                    break;
            }
        }
        gpr_timespec deadline = sending ? gpr_inf_future (GPR_CLOCK_MONOTONIC)
                                        : gpr_time_add (gpr_now (GPR_CLOCK_MONOTONIC),
                                                        gpr_time_from_millis (POLL_MS, GPR_TIMESPAN));
        grpc_event ev = grpc_completion_queue_next (c->cq, deadline, NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            break;
        if (ev.type != GRPC_OP_COMPLETE)
            continue;
        if (ev.tag == &close_tag)
            closed = true;
        else if (ev.tag == &send_tag) {
            sending = false;
            grpc_byte_buffer_destroy (buf);
            buf = NULL;
            if (!ev.success)
                break;
        }
    }
    /* the call ends by cancellation, which completes both ops: wait for
       whichever is still outstanding before the call is released */
    if (!closed || sending) {
        grpc_call_cancel (c->call, NULL);
        while (!closed || sending) {
            grpc_event ev = grpc_completion_queue_next (c->cq, gpr_inf_future (GPR_CLOCK_MONOTONIC), NULL);
            if (ev.type == GRPC_QUEUE_SHUTDOWN)
                break;
            if (ev.tag == &close_tag)
                closed = true;
            else if (ev.tag == &send_tag)
                sending = false;
        }
    }
    if (buf)
        grpc_byte_buffer_destroy (buf);
    batch_clear (b);
}

void
handle_watch (handler_ctx_t *h, grpc_byte_buffer *payload)
{
    Annotate__V1__WatchLabelsRequest *req = (Annotate__V1__WatchLabelsRequest *) rpc_unpack (
        payload, &annotate__v1__watch_labels_request__descriptor, h->call.max_message_bytes, NULL);
    if (!req) {
        call_fail (&h->call, GRPC_STATUS_INVALID_ARGUMENT,
                   "request: not a valid annotate.v1.WatchLabelsRequest message");
        return;
    }
    const char *bad = NULL;
    if ((int) req->source < 0 || req->source > ANNOTATE__V1__LABEL_SOURCE__SOURCE_LLM)
        bad = "source: unknown value";
    else if (req->max_batch > MAX_BATCH)
        bad = "max_batch: at most 4096";
    if (bad) {
        call_fail (&h->call, GRPC_STATUS_INVALID_ARGUMENT, "%s", bad);
        protobuf_c_message_free_unpacked (&req->base, NULL);
        return;
    }
    watch_batch_t b = { .max = req->max_batch ? req->max_batch : DEFAULT_BATCH,
                        .source = req->source,
                        .cursor = req->after_seq };
    if (req->from_now)
        b.cursor = current_last_seq (h->ctl->cfg.store);
    protobuf_c_message_free_unpacked (&req->base, NULL);
    b.events = calloc (b.max, sizeof *b.events);
    stream_events (h, &b);
    free (b.events);
}
