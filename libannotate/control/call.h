/*  call.h: synchronous steps of one server-side gRPC call.

    Each control-plane thread owns a completion queue and handles one call
    at a time on it, so after starting a batch the thread can simply wait
    for that batch's tag: nothing else is pending on its queue. That keeps
    every handler straight-line code instead of a state machine, at the cost
    of one thread per concurrent call (bounded by coordinator.grpc_threads
    and coordinator.max_watchers).
*/
#ifndef ANNOTATE_CONTROL_CALL_H
#define ANNOTATE_CONTROL_CALL_H

#include <stdbool.h>
#include <stddef.h>

#include <grpc/grpc.h>
#include <protobuf-c/protobuf-c.h>

/*  A call step (receive a message, send one) that does not complete in
    this long is cancelled.  */
#define CALL_IDLE_MS 60000

typedef struct {
    grpc_completion_queue *cq;
    grpc_call *call;
    size_t max_message_bytes;
    bool sent_initial;
} call_t;

/*  Waits for one tag; returns the event's success flag. With a deadline
    (ms > 0) *timed_out tells whether it expired instead.  */
bool call_wait (call_t *c, void *tag);

/*  Receives the next request message. Returns NULL at the end of the
    client's stream (*ok true) or when the call failed (*ok false). The
    caller owns the buffer.  */
grpc_byte_buffer *call_recv (call_t *c, bool *ok);

/*  Unpacks a received buffer; NULL when malformed (the buffer is freed
    either way).  */
ProtobufCMessage *call_unpack (call_t *c, grpc_byte_buffer *buf,
                               const ProtobufCMessageDescriptor *desc);

/*  Sends one response message (server streaming). False when the call is
    gone (client cancelled, server shutting down).  */
bool call_send (call_t *c, const ProtobufCMessage *msg);

/*  Ends the call: an optional last message, the status and its details. */
void call_finish (call_t *c, grpc_status_code code, const char *details,
                  const ProtobufCMessage *msg);

/*  call_finish with a printf-formatted message and no response.  */
void call_fail (call_t *c, grpc_status_code code, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

/*  Receives the single request of a unary call and unpacks it; on failure
    the call is already answered (INVALID_ARGUMENT for a malformed message)
    and NULL is returned.  */
ProtobufCMessage *call_unary_request (call_t *c, const ProtobufCMessageDescriptor *desc);

#endif
