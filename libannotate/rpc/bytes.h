/*  bytes.h: protobuf-c messages to and from gRPC byte buffers.

    protoc-c emits no gRPC stubs, so both the server (control/) and the
    clients (annotatectl, benchmarks) move packed messages through
    grpc_byte_buffer with these two functions. Unpacking is bounded: a
    buffer larger than max_bytes is refused before it is flattened.
*/
#ifndef ANNOTATE_RPC_BYTES_H
#define ANNOTATE_RPC_BYTES_H

#include <grpc/byte_buffer.h>
#include <protobuf-c/protobuf-c.h>

/*  New byte buffer holding the packed message; NULL on allocation failure. */
grpc_byte_buffer *rpc_pack (const ProtobufCMessage *msg);

/*  Unpacks; NULL when the buffer is larger than max_bytes or malformed.
    *too_big tells which (may be NULL). Free with protobuf_c_message_free_unpacked. */
ProtobufCMessage *rpc_unpack (grpc_byte_buffer *buf, const ProtobufCMessageDescriptor *desc,
                              size_t max_bytes, int *too_big);

/*  protobuf_c_message_unpack with a memory budget proportional to len, so
    hostile input cannot make a small message unpack into a huge tree.
    Free the result with protobuf_c_message_free_unpacked (msg, NULL).  */
ProtobufCMessage *rpc_unpack_bounded (const ProtobufCMessageDescriptor *desc, size_t len,
                                      const uint8_t *data);

#endif
