/*  client.h: a small blocking gRPC client over the C core.

    protoc-c emits no stubs, so callers name the method path
    ("/annotate.v1.Annotate/GetItem") and pass protobuf-c messages; they
    travel through rpc_pack / rpc_unpack (bytes.h).

    One rpc_client_t owns one channel (one HTTP/2 connection, reconnected by
    gRPC as needed). Every call, unary or streaming, gets its own
    completion queue created for pluck, so calls never see each other's
    events and a client may be used from several threads at once (one
    stream per thread). Everything blocks the calling thread; there are no
    callbacks.

    Statuses: a finished call always yields an rpc_status_t, also when the
    failure is local (no connection: UNAVAILABLE; deadline: DEADLINE_EXCEEDED;
    a response that does not decode: INTERNAL). gRPC completes a client batch
    with success == 1 even when the RPC failed, so this file always reads
    the status op and never trusts batch success alone.

    Options are a struct so TLS and credentials are added without changing
    callers: opts may be NULL, and a zeroed struct means "insecure, no
    token, defaults".

    Ownership (see ../../shared notes): received byte buffers, the status
    details slice, error_string and metadata arrays are freed here; messages
    handed back to the caller are freed by the caller with
    protobuf_c_message_free_unpacked (NULL allocator).

    grpc_init is called by every rpc_client_new and grpc_shutdown by every
    rpc_client_destroy; gRPC counts them, so the library stays up while any
    client (or a server in the same process) lives.
*/
#ifndef ANNOTATE_RPC_CLIENT_H
#define ANNOTATE_RPC_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <grpc/status.h>
#include <protobuf-c/protobuf-c.h>

typedef struct {
    /* Sent as "authorization: Bearer <token>" on every call when not NULL. */
    const char *bearer_token;
    /* TLS: when tls is set, the channel uses SSL credentials with these
       PEM root certificates (NULL: gRPC's default roots). */
    bool tls;
    const char *tls_root_pem;
    /* Largest response message accepted; 0: 64 MiB. */
    size_t max_recv_bytes;
    /* Primary user agent; NULL: "annotate". */
    const char *user_agent;
} rpc_client_options_t;

typedef struct {
    grpc_status_code code;
    char details[1024];     /* from the server or a local explanation; control
                               characters except '\n' replaced with '?' */
} rpc_status_t;

typedef struct rpc_client rpc_client_t;
typedef struct rpc_stream rpc_stream_t;

/*  Creates the channel; does not connect yet (gRPC connects on the first
    call). NULL with err set if addr is empty or the channel cannot be made. */
rpc_client_t *rpc_client_new (const char *addr, const rpc_client_options_t *opts, char *err,
                              size_t errlen);
void rpc_client_destroy (rpc_client_t **self_p);

/*  True while the channel holds a ready connection. After a call ended in
    DEADLINE_EXCEEDED this tells "server slow" (true) from "never reached"
    (false).  */
bool rpc_client_ready (rpc_client_t *self);

/*  "OK", "CANCELLED", ..., "UNAUTHENTICATED"; "UNKNOWN_CODE" otherwise.  */
const char *rpc_status_name (grpc_status_code code);

/*  Unary call. timeout_ms <= 0: no deadline. On OK, *resp is the decoded
    response (caller frees); otherwise *resp is NULL.  */
rpc_status_t rpc_call (rpc_client_t *self, const char *method, const ProtobufCMessage *req,
                       const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp,
                       int64_t timeout_ms);

/* ---- client streaming (IngestStream) ------------------------------------ */

/*  Starts the call. op_timeout_ms bounds each send and the finish (not the
    whole stream, which may run for hours); <= 0: no bound. Returns NULL
    only when out of memory.  */
rpc_stream_t *rpc_cstream_open (rpc_client_t *self, const char *method, int64_t op_timeout_ms);

/*  Sends one message and waits until gRPC has taken it. This wait is the
    flow control: a server that stops reading stops the sender here. 0 on
    success; -1 when the call has failed (server status, cancel, timeout):
    then call rpc_cstream_finish to learn why.  */
int rpc_cstream_send (rpc_stream_t *self, const ProtobufCMessage *msg);

/*  Half-closes, waits for the response and status, destroys the stream.
    On OK *resp is the decoded response (caller frees).  */
rpc_status_t rpc_cstream_finish (rpc_stream_t **self_p, const ProtobufCMessageDescriptor *resp_desc,
                                 ProtobufCMessage **resp);

/* ---- server streaming (WatchLabels) ------------------------------------- */

/*  Starts the call and sends the one request. Failures (no connection...)
    show up as RPC_RECV_END from the first rpc_sstream_recv. Returns NULL
    only when out of memory.  */
rpc_stream_t *rpc_sstream_open (rpc_client_t *self, const char *method,
                                const ProtobufCMessage *req, int64_t op_timeout_ms);

typedef enum {
    RPC_RECV_MESSAGE = 1,   /* *msg holds the next message (caller frees) */
    RPC_RECV_END = 0,       /* the stream ended: *status says how (OK or not) */
    RPC_RECV_TIMEOUT = 2    /* nothing within timeout_ms; the stream stays open */
} rpc_recv_t;

/*  Waits up to timeout_ms (<= 0: forever) for the next message.  */
rpc_recv_t rpc_sstream_recv (rpc_stream_t *self, const ProtobufCMessageDescriptor *desc,
                             ProtobufCMessage **msg, int64_t timeout_ms, rpc_status_t *status);

/*  Cancels the call (no-op once it ended); the stream still needs destroy. */
void rpc_stream_cancel (rpc_stream_t *self);

/*  Cancels if still running and frees everything.  */
void rpc_stream_destroy (rpc_stream_t **self_p);

#endif
