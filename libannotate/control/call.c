/*  call.c: see call.h.  */
#include "control/call.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "rpc/bytes.h"
#include "util/util.h"

bool
call_wait (call_t *c, void *tag)
{
    for (;;) {
        grpc_event ev = grpc_completion_queue_next (c->cq, gpr_inf_future (GPR_CLOCK_REALTIME), NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            return false;
        if (ev.type == GRPC_OP_COMPLETE && ev.tag == tag)
            return ev.success != 0;
        /* a tag of an earlier batch of this call: nothing waits for it */
    }
}

/*  Waits for tag at most CALL_IDLE_MS; then the call is cancelled (which
    completes the batch with failure), so a client that opens calls and
    sends nothing cannot hold a control-plane thread for ever.  */
static bool
wait_bounded (call_t *c, void *tag)
{
    gpr_timespec deadline = gpr_time_add (gpr_now (GPR_CLOCK_MONOTONIC),
                                          gpr_time_from_millis (CALL_IDLE_MS, GPR_TIMESPAN));
    for (;;) {
        grpc_event ev = grpc_completion_queue_next (c->cq, deadline, NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            return false;
        if (ev.type == GRPC_QUEUE_TIMEOUT) {
            log_warn ("control", "call idle for %d s: cancelled", CALL_IDLE_MS / 1000);
            grpc_call_cancel_with_status (c->call, GRPC_STATUS_DEADLINE_EXCEEDED,
                                          "idle for too long", NULL);
            call_wait (c, tag);
            return false;
        }
        if (ev.type == GRPC_OP_COMPLETE && ev.tag == tag)
            return ev.success != 0;
    }
}

static bool
run_ops (call_t *c, grpc_op *ops, size_t n)
{
    int tag;
    if (grpc_call_start_batch (c->call, ops, n, &tag, NULL) != GRPC_CALL_OK)
        return false;
    return wait_bounded (c, &tag);
}

grpc_byte_buffer *
call_recv (call_t *c, bool *ok)
{
    grpc_byte_buffer *buf = NULL;
    grpc_op ops[2];
    size_t n = 0;
    memset (ops, 0, sizeof ops);
    if (!c->sent_initial) {
        ops[n].op = GRPC_OP_SEND_INITIAL_METADATA;
        n++;
        c->sent_initial = true;
    }
    ops[n].op = GRPC_OP_RECV_MESSAGE;
    ops[n].data.recv_message.recv_message = &buf;
    n++;
    *ok = run_ops (c, ops, n);
    if (!*ok && buf) {
        grpc_byte_buffer_destroy (buf);
        buf = NULL;
    }
    return buf;
}

ProtobufCMessage *
call_unpack (call_t *c, grpc_byte_buffer *buf, const ProtobufCMessageDescriptor *desc)
{
    ProtobufCMessage *msg = rpc_unpack (buf, desc, c->max_message_bytes, NULL);
    grpc_byte_buffer_destroy (buf);
    return msg;
}

bool
call_send (call_t *c, const ProtobufCMessage *msg)
{
    grpc_op ops[2];
    size_t n = 0;
    memset (ops, 0, sizeof ops);
    if (!c->sent_initial) {
        ops[n].op = GRPC_OP_SEND_INITIAL_METADATA;
        n++;
        c->sent_initial = true;
    }
    grpc_byte_buffer *buf = rpc_pack (msg);
    ops[n].op = GRPC_OP_SEND_MESSAGE;
    ops[n].data.send_message.send_message = buf;
    n++;
    bool ok = run_ops (c, ops, n);
    grpc_byte_buffer_destroy (buf);
    return ok;
}

void
call_finish (call_t *c, grpc_status_code code, const char *details, const ProtobufCMessage *msg)
{
    grpc_op ops[4];
    size_t n = 0;
    memset (ops, 0, sizeof ops);
    if (!c->sent_initial) {
        ops[n].op = GRPC_OP_SEND_INITIAL_METADATA;
        n++;
        c->sent_initial = true;
    }
    grpc_byte_buffer *buf = NULL;
    if (msg && code == GRPC_STATUS_OK) {
        buf = rpc_pack (msg);
        ops[n].op = GRPC_OP_SEND_MESSAGE;
        ops[n].data.send_message.send_message = buf;
        n++;
    }
    grpc_slice detail = grpc_slice_from_copied_string (details ? details : "");
    ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[n].data.send_status_from_server.status = code;
    ops[n].data.send_status_from_server.status_details = &detail;
    n++;
    int cancelled = 0;
    ops[n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    ops[n].data.recv_close_on_server.cancelled = &cancelled;
    n++;
    run_ops (c, ops, n);
    grpc_slice_unref (detail);
    if (buf)
        grpc_byte_buffer_destroy (buf);
}

void
call_fail (call_t *c, grpc_status_code code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (msg, sizeof msg, fmt, ap);
    va_end (ap);
    call_finish (c, code, msg, NULL);
}

ProtobufCMessage *
call_unary_request (call_t *c, const ProtobufCMessageDescriptor *desc)
{
    bool ok;
    grpc_byte_buffer *buf = call_recv (c, &ok);
    if (!ok) {
        call_fail (c, GRPC_STATUS_CANCELLED, "call failed before the request arrived");
        return NULL;
    }
    if (!buf) {
        call_fail (c, GRPC_STATUS_INVALID_ARGUMENT, "request: no message");
        return NULL;
    }
    ProtobufCMessage *msg = call_unpack (c, buf, desc);
    if (!msg)
        call_fail (c, GRPC_STATUS_INVALID_ARGUMENT, "request: not a valid %s message",
                   desc->name);
    return msg;
}
