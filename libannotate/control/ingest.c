/*  ingest.c: Ingest (unary batch) and IngestStream (client streaming).

    Each request message is checked field by field (item_validate), then
    handed to the store writer as one request; the answer comes only after
    the group commit that holds it, so an acknowledged item is on disk.

    Flow control: when the pending queue is at max_pending, unary Ingest
    answers RESOURCE_EXHAUSTED at once; IngestStream stops reading and
    retries for up to ingest_wait_ms, so HTTP/2 flow control slows the
    client down instead of failing it, and only then gives up with
    RESOURCE_EXHAUSTED.
*/
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "control/control_internal.h"
#include "util/util.h"

#define MAX_ITEMS_PER_REQUEST 100000

/*  Answers an error; in a stream the message number comes first, so the
    client can map items[k] back to its input ("message 3: items[7].id: ...").  */
static void
fail_at (handler_ctx_t *h, long message, grpc_status_code code, const char *err)
{
    if (message < 0)
        call_finish (&h->call, code, err, NULL);
    else
        call_fail (&h->call, code, "message %ld: %s", message, err);
}

/*  Field checks; on failure the call is answered and false returned.  */
static bool
check_request (handler_ctx_t *h, const Annotate__V1__IngestRequest *req, long message)
{
    char err[512];
    if (req->n_items > MAX_ITEMS_PER_REQUEST) {
        snprintf (err, sizeof err, "items: %zu items in one message, at most %d", req->n_items,
                  MAX_ITEMS_PER_REQUEST);
        fail_at (h, message, GRPC_STATUS_INVALID_ARGUMENT, err);
        return false;
    }
    pthread_mutex_lock (&h->ctl->lock);
    item_limits_t limits = h->ctl->limits;
    pthread_mutex_unlock (&h->ctl->lock);
    for (size_t i = 0; i < req->n_items; i++)
        if (item_validate (req->items[i], &limits, i, err, sizeof err) != 0) {
            fail_at (h, message, GRPC_STATUS_INVALID_ARGUMENT, err);
            return false;
        }
    return true;
}

/*  Writes one message's items; waits for room when `wait` is set.  */
static store_status_t
write_items (handler_ctx_t *h, const Annotate__V1__IngestRequest *req, bool wait,
             store_request_t *r)
{
    int64_t give_up = time_mono_us () + (int64_t) h->ctl->cfg.ingest_wait_ms * 1000;
    for (;;) {
        memset (r, 0, sizeof *r);
        r->type = STORE_REQ_INGEST;
        r->items = req->items;
        r->n_items = req->n_items;
        r->replace = req->replace;
        store_client_call (h->store, r);
        if (r->status != STORE_OVERLOADED || !wait || time_mono_us () > give_up)
            return r->status;
        usleep (20 * 1000);
    }
}

static void
add_result (Annotate__V1__IngestResponse *resp, const store_request_t *r)
{
    resp->accepted += r->ingest.accepted;
    resp->unchanged += r->ingest.unchanged;
    resp->replaced += r->ingest.replaced;
    resp->pending = r->ingest.pending;
    resp->last_seq = r->last_seq;
}

void
handle_ingest (handler_ctx_t *h)
{
    Annotate__V1__IngestRequest *req = (Annotate__V1__IngestRequest *) call_unary_request (
        &h->call, &annotate__v1__ingest_request__descriptor);
    if (!req)
        return;
    if (check_request (h, req, -1)) {
        store_request_t r;
        Annotate__V1__IngestResponse resp = ANNOTATE__V1__INGEST_RESPONSE__INIT;
        if (write_items (h, req, false, &r) == STORE_OK) {
            add_result (&resp, &r);
            call_finish (&h->call, GRPC_STATUS_OK, NULL, &resp.base);
        }
        else
            call_finish (&h->call, control_store_code (r.status), r.err, NULL);
    }
    protobuf_c_message_free_unpacked (&req->base, NULL);
}

void
handle_ingest_stream (handler_ctx_t *h)
{
    Annotate__V1__IngestResponse resp = ANNOTATE__V1__INGEST_RESPONSE__INIT;
    uint64_t messages = 0;
    for (;;) {
        bool ok;
        grpc_byte_buffer *buf = call_recv (&h->call, &ok);
        if (!ok) {
            call_fail (&h->call, GRPC_STATUS_CANCELLED, "stream broken after %llu messages",
                       (unsigned long long) messages);
            return;
        }
        if (!buf)
            break; /* the client half-closed: answer the totals */
        Annotate__V1__IngestRequest *req = (Annotate__V1__IngestRequest *) call_unpack (
            &h->call, buf, &annotate__v1__ingest_request__descriptor);
        if (!req) {
            call_fail (&h->call, GRPC_STATUS_INVALID_ARGUMENT,
                       "message %llu: not a valid annotate.v1.IngestRequest",
                       (unsigned long long) messages);
            return;
        }
        bool good = check_request (h, req, (long) messages);
        store_request_t r;
        if (good && write_items (h, req, true, &r) != STORE_OK) {
            fail_at (h, (long) messages, control_store_code (r.status), r.err);
            good = false;
        }
        if (good)
            add_result (&resp, &r);
        protobuf_c_message_free_unpacked (&req->base, NULL);
        if (!good)
            return;
        messages++;
    }
    call_finish (&h->call, GRPC_STATUS_OK, NULL, &resp.base);
}
