/*  wire.h: the coordinator <-> worker message codec (cluster.proto).

    A message on the wire is [Header][body] on a DEALER, and
    [identity][Header][body] on the coordinator's ROUTER. The Header carries
    the protocol version, the message type and a correlation id (the batch
    id for BATCH/RESULT); the body is the protobuf the type names, or empty
    for RECONNECT and GOODBYE.

    wire_recv reads one whole message frame by frame and always drains every
    frame of it, even when the message is refused, so a bad message can
    never desynchronise the socket. It checks, in order: frame count, frame
    sizes against max_bytes, the Header (parses, known type), the version,
    and the body (parses with the descriptor chosen from the type). Every
    refusal comes with a one-line reason in err.

    A version mismatch is special: the peer is speaking another protocol,
    and the coordinator must still be able to answer it (REJECT for a
    REGISTER). wire_recv then returns WIRE_EVERSION with identity, type,
    version and, when it parses, the body filled in.

    Sends never block: they use ZMQ_DONTWAIT and return -1 with errno
    (EAGAIN at the high-water mark, EHOSTUNREACH for a vanished peer on a
    ROUTER_MANDATORY socket).
*/
#ifndef ANNOTATE_WIRE_H
#define ANNOTATE_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <czmq.h>

#include "annotate/v1/cluster.pb-c.h"

#define WIRE_VERSION          1
#define WIRE_MAX_HEADER_BYTES 64      /* a Header packs to at most ~20 bytes */
#define WIRE_MAX_IDENTITY     255     /* ZeroMQ routing ids are at most 255 bytes */

typedef enum {
    WIRE_OK = 0,
    WIRE_EMALFORMED = -1,   /* frames, sizes, header or body refused; message dropped */
    WIRE_EVERSION = -2,     /* well-formed but another protocol version; see above */
    WIRE_ENOMSG = -3        /* nothing to read (interrupted, or no message waiting) */
} wire_status_t;

typedef struct {
    zframe_t *identity;                 /* ROUTER side: the sender (owned), else NULL */
    Annotate__V1__Header *header;       /* owned; NULL when the header did not parse */
    ProtobufCMessage *body;             /* owned; NULL for RECONNECT/GOODBYE or on error */
    Annotate__V1__MsgType type;         /* copied from the header, 0 if unknown */
    uint32_t version;                   /* copied from the header */
    uint64_t correlation;               /* copied from the header */
} wire_msg_t;

/*  Name of a message type for logs ("REGISTER"), "UNKNOWN" otherwise.  */
const char *wire_type_name (Annotate__V1__MsgType type);

/*  The body descriptor of a type; NULL for types without a body and for
    unknown types (*known tells which; may be NULL).  */
const ProtobufCMessageDescriptor *wire_body_descriptor (Annotate__V1__MsgType type, bool *known);

/*  Packs and sends one message at WIRE_VERSION. identity is borrowed (sent
    with the message, not destroyed). body may be NULL (empty body frame).
    0, or -1 with errno set.  */
int wire_send (zsock_t *sock, zframe_t *identity, Annotate__V1__MsgType type,
               uint64_t correlation, const ProtobufCMessage *body);

/*  Same with an explicit version (tests speak a wrong version on purpose).  */
int wire_send_version (zsock_t *sock, zframe_t *identity, uint32_t version,
                       Annotate__V1__MsgType type, uint64_t correlation,
                       const ProtobufCMessage *body);

/*  Same with a body that is already packed (the worker forwards what its
    actors produce without unpacking it again).  */
int wire_send_packed (zsock_t *sock, zframe_t *identity, uint32_t version,
                      Annotate__V1__MsgType type, uint64_t correlation,
                      const uint8_t *body, size_t body_len);

/*  Receives one message (blocking unless the socket has a receive
    timeout). router: expect the identity frame. max_bytes: largest frame
    accepted (0: no limit). Returns a wire_status_t. On WIRE_OK and
    WIRE_EVERSION *out holds what was decoded; on WIRE_EMALFORMED it may
    still hold the identity and header (so the caller can log who sent it).
    Always call wire_msg_reset afterwards.  */
int wire_recv (zsock_t *sock, bool router, size_t max_bytes, wire_msg_t *out,
               char *err, size_t errlen);

/*  Frees what a wire_msg_t holds and zeroes it.  */
void wire_msg_reset (wire_msg_t *msg);

/*  Typed views of the body; NULL when the type differs.  */
#define WIRE_BODY(msg, Type, TYPE_ENUM) \
    ((msg)->type == (TYPE_ENUM) && (msg)->body ? (Type *) (msg)->body : NULL)

#endif
