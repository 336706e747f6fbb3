/*  bytes.c: see bytes.h.  */
#include "rpc/bytes.h"

#include <stdlib.h>
#include <string.h>

#include <grpc/byte_buffer_reader.h>
#include <grpc/slice.h>

grpc_byte_buffer *
rpc_pack (const ProtobufCMessage *msg)
{
    size_t len = protobuf_c_message_get_packed_size (msg);
    grpc_slice slice = grpc_slice_malloc (len);
    protobuf_c_message_pack (msg, GRPC_SLICE_START_PTR (slice));
    grpc_byte_buffer *buf = grpc_raw_byte_buffer_create (&slice, 1);
    grpc_slice_unref (slice);
    return buf;
}

/*  protobuf-c allocates one struct per sub-message: a 16 MiB request of
    empty items would unpack into gigabytes. Unpacking draws on a budget
    proportional to the input (UNPACK_FACTOR times its size, plus a floor)
    and fails cleanly when it runs out.  */
#define UNPACK_FACTOR 16
#define UNPACK_FLOOR  (1u << 20)

typedef struct {
    size_t left;
} budget_t;

static void *
budget_alloc (void *data, size_t size)
{
    budget_t *b = data;
    if (size > b->left)
        return NULL;
    void *p = malloc (size);
    if (p)
        b->left -= size;
    return p;
}

static void
budget_free (void *data, void *ptr)
{
    (void) data;
    free (ptr);
}

ProtobufCMessage *
rpc_unpack_bounded (const ProtobufCMessageDescriptor *desc, size_t len, const uint8_t *data)
{
    budget_t budget = { len * UNPACK_FACTOR + UNPACK_FLOOR };
    ProtobufCAllocator alloc = { budget_alloc, budget_free, &budget };
    /* freed later with the default allocator: both end in free() */
    return protobuf_c_message_unpack (desc, &alloc, len, data);
}

ProtobufCMessage *
rpc_unpack (grpc_byte_buffer *buf, const ProtobufCMessageDescriptor *desc, size_t max_bytes,
            int *too_big)
{
    if (too_big)
        *too_big = 0;
    if (!buf)
        return NULL;
    size_t len = grpc_byte_buffer_length (buf);
    if (len > max_bytes) {
        if (too_big)
            *too_big = 1;
        return NULL;
    }
    grpc_byte_buffer_reader reader;
    if (!grpc_byte_buffer_reader_init (&reader, buf))
        return NULL;
    grpc_slice flat = grpc_byte_buffer_reader_readall (&reader);
    grpc_byte_buffer_reader_destroy (&reader);
    ProtobufCMessage *msg = rpc_unpack_bounded (desc, GRPC_SLICE_LENGTH (flat),
                                                GRPC_SLICE_START_PTR (flat));
    grpc_slice_unref (flat);
    return msg;
}
