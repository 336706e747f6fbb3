/*  wire.c: packing, sending, receiving and checking cluster messages.
    See wire.h for the rules; the order of the checks matters: nothing is
    unpacked before the frame count and sizes were checked.  */
#include "wire/wire.h"

#include <errno.h>
#include <string.h>

#include "rpc/bytes.h"
#include "util/util.h"

#define MAX_FRAMES 3        /* identity + header + body */

const char *
wire_type_name (Annotate__V1__MsgType type)
{
    switch (type) {
    case ANNOTATE__V1__MSG_TYPE__MSG_REGISTER: return "REGISTER";
    case ANNOTATE__V1__MSG_TYPE__MSG_WELCOME: return "WELCOME";
    case ANNOTATE__V1__MSG_TYPE__MSG_REJECT: return "REJECT";
    case ANNOTATE__V1__MSG_TYPE__MSG_HEARTBEAT: return "HEARTBEAT";
    case ANNOTATE__V1__MSG_TYPE__MSG_ASSIGN: return "ASSIGN";
    case ANNOTATE__V1__MSG_TYPE__MSG_BATCH: return "BATCH";
    case ANNOTATE__V1__MSG_TYPE__MSG_RESULT: return "RESULT";
    case ANNOTATE__V1__MSG_TYPE__MSG_RECONNECT: return "RECONNECT";
    case ANNOTATE__V1__MSG_TYPE__MSG_GOODBYE: return "GOODBYE";
    case ANNOTATE__V1__MSG_TYPE__MSG_MODEL: return "MODEL";
    case ANNOTATE__V1__MSG_TYPE__MSG_CORRECTION: return "CORRECTION";
    case ANNOTATE__V1__MSG_TYPE__MSG_RETRAIN: return "RETRAIN";
    case ANNOTATE__V1__MSG_TYPE__MSG_TRAIN_PULL: return "TRAIN_PULL";
    case ANNOTATE__V1__MSG_TYPE__MSG_TRAIN_DATA: return "TRAIN_DATA";
    case ANNOTATE__V1__MSG_TYPE__MSG_MODEL_UPLOAD: return "MODEL_UPLOAD";
    case ANNOTATE__V1__MSG_TYPE__MSG_PROPAGATED: return "PROPAGATED";
    default: return "UNKNOWN";
    }
}

const ProtobufCMessageDescriptor *
wire_body_descriptor (Annotate__V1__MsgType type, bool *known)
{
    const ProtobufCMessageDescriptor *d = NULL;
    bool k = true;
    switch (type) {
    case ANNOTATE__V1__MSG_TYPE__MSG_REGISTER: d = &annotate__v1__register__descriptor; break;
    case ANNOTATE__V1__MSG_TYPE__MSG_WELCOME: d = &annotate__v1__welcome__descriptor; break;
    case ANNOTATE__V1__MSG_TYPE__MSG_REJECT: d = &annotate__v1__reject__descriptor; break;
    case ANNOTATE__V1__MSG_TYPE__MSG_HEARTBEAT: d = &annotate__v1__heartbeat__descriptor; break;
    case ANNOTATE__V1__MSG_TYPE__MSG_ASSIGN: d = &annotate__v1__assign__descriptor; break;
    case ANNOTATE__V1__MSG_TYPE__MSG_BATCH: d = &annotate__v1__batch__descriptor; break;
    case ANNOTATE__V1__MSG_TYPE__MSG_RESULT: d = &annotate__v1__result__descriptor; break;
    case ANNOTATE__V1__MSG_TYPE__MSG_MODEL: d = &annotate__v1__model_chunk__descriptor; break;
    case ANNOTATE__V1__MSG_TYPE__MSG_CORRECTION: d = &annotate__v1__corrections__descriptor; break;
    case ANNOTATE__V1__MSG_TYPE__MSG_RETRAIN: d = &annotate__v1__retrain_order__descriptor; break;
    case ANNOTATE__V1__MSG_TYPE__MSG_TRAIN_PULL: d = &annotate__v1__train_pull__descriptor; break;
    case ANNOTATE__V1__MSG_TYPE__MSG_TRAIN_DATA: d = &annotate__v1__train_data__descriptor; break;
    case ANNOTATE__V1__MSG_TYPE__MSG_MODEL_UPLOAD:
        d = &annotate__v1__model_upload__descriptor;
        break;
    case ANNOTATE__V1__MSG_TYPE__MSG_PROPAGATED: d = &annotate__v1__propagated__descriptor; break;
    case ANNOTATE__V1__MSG_TYPE__MSG_RECONNECT:
    case ANNOTATE__V1__MSG_TYPE__MSG_GOODBYE: break;
    default: k = false; break;
    }
    if (known)
        *known = k;
    return d;
}

/* ---- sending ---------------------------------------------------------- */

static int
s_send_part (void *handle, const void *data, size_t len, int flags, bool retry_eintr)
{
    int rc;
    do
        rc = zmq_send (handle, data, len, flags | ZMQ_DONTWAIT);
    while (rc == -1 && retry_eintr && errno == EINTR);
    return rc == -1 ? -1 : 0;
}

int
wire_send_packed (zsock_t *sock, zframe_t *identity, uint32_t version, Annotate__V1__MsgType type,
                  uint64_t correlation, const uint8_t *body, size_t body_len)
{
    Annotate__V1__Header hdr = ANNOTATE__V1__HEADER__INIT;
    hdr.version = version;
    hdr.type = type;
    hdr.correlation = correlation;
    uint8_t hbuf[WIRE_MAX_HEADER_BYTES];
    size_t hlen = annotate__v1__header__pack (&hdr, hbuf);

    void *handle = zsock_resolve (sock);
    /*  With ROUTER_MANDATORY an unroutable identity fails here, before any
        part is queued; after the first part only a signal can interrupt
        the rest, so those parts are retried rather than leaving half a
        message queued for the next send to complete.  */
    bool started = false;
    if (identity) {
        if (s_send_part (handle, zframe_data (identity), zframe_size (identity), ZMQ_SNDMORE, false))
            return -1;
        started = true;
    }
    if (s_send_part (handle, hbuf, hlen, ZMQ_SNDMORE, started))
        return -1;
    return s_send_part (handle, body_len ? (const void *) body : (const void *) "", body_len, 0, true);
}

int
wire_send_version (zsock_t *sock, zframe_t *identity, uint32_t version, Annotate__V1__MsgType type,
                   uint64_t correlation, const ProtobufCMessage *body)
{
    if (!body)
        return wire_send_packed (sock, identity, version, type, correlation, NULL, 0);
    size_t len = protobuf_c_message_get_packed_size (body);
    uint8_t stack[512];
    uint8_t *buf = len <= sizeof stack ? stack : malloc (len);
    if (!buf) {
        errno = ENOMEM;
        return -1;
    }
    protobuf_c_message_pack (body, buf);
    int rc = wire_send_packed (sock, identity, version, type, correlation, buf, len);
    int saved = errno;
    if (buf != stack)
        free (buf);
    errno = saved;
    return rc;
}

int
wire_send (zsock_t *sock, zframe_t *identity, Annotate__V1__MsgType type, uint64_t correlation,
           const ProtobufCMessage *body)
{
    return wire_send_version (sock, identity, WIRE_VERSION, type, correlation, body);
}

/* ---- receiving -------------------------------------------------------- */

void
wire_msg_reset (wire_msg_t *msg)
{
    if (!msg)
        return;
    zframe_destroy (&msg->identity);
    if (msg->header)
        protobuf_c_message_free_unpacked (&msg->header->base, NULL);
    if (msg->body)
        protobuf_c_message_free_unpacked (msg->body, NULL);
    memset (msg, 0, sizeof *msg);
}

/*  Reads every frame of one message, keeping at most MAX_FRAMES. Returns
    the total frame count (0: nothing received).  */
static size_t
s_recv_frames (zsock_t *sock, zframe_t **frames, size_t *max_seen)
{
    size_t n = 0;
    *max_seen = 0;
    while (true) {
        zframe_t *f = zframe_recv (sock);
        /* ZeroMQ delivers a multipart message whole, so once its first
           frame is in, the rest is already here: a signal (EINTR) in
           between must not leave frames behind for the next read */
        while (!f && n > 0 && errno == EINTR)
            f = zframe_recv (sock);
        if (!f)
            break;      /* nothing read, or a real error mid-message: refused below */
        bool more = zframe_more (f);
        if (zframe_size (f) > *max_seen)
            *max_seen = zframe_size (f);
        if (n < MAX_FRAMES)
            frames[n] = f;
        else
            zframe_destroy (&f);
        n++;
        if (!more)
            break;
    }
    return n;
}

static int
s_decode_header (zframe_t *hf, wire_msg_t *out, char *err, size_t errlen)
{
    if (zframe_size (hf) > WIRE_MAX_HEADER_BYTES)
        return err_set (err, errlen, "header frame of %zu bytes (max %d)", zframe_size (hf),
                        WIRE_MAX_HEADER_BYTES);
    out->header = annotate__v1__header__unpack (NULL, zframe_size (hf), zframe_data (hf));
    if (!out->header)
        return err_set (err, errlen, "header frame is not a valid Header protobuf");
    out->version = out->header->version;
    out->correlation = out->header->correlation;
    bool known = false;
    wire_body_descriptor (out->header->type, &known);
    if (!known || out->header->type == ANNOTATE__V1__MSG_TYPE__MSG_UNSPECIFIED)
        return err_set (err, errlen, "unknown message type %d", (int) out->header->type);
    out->type = out->header->type;
    return 0;
}

static int
s_decode_body (zframe_t *bf, wire_msg_t *out, char *err, size_t errlen)
{
    const ProtobufCMessageDescriptor *desc = wire_body_descriptor (out->type, NULL);
    if (!desc)
        return 0;       /* RECONNECT / GOODBYE carry nothing; extra bytes are ignored */
    out->body = rpc_unpack_bounded (desc, zframe_size (bf), zframe_data (bf));
    if (!out->body)
        return err_set (err, errlen, "%s body (%zu bytes) is not a valid %s protobuf",
                        wire_type_name (out->type), zframe_size (bf), desc->short_name);
    return 0;
}

int
wire_recv (zsock_t *sock, bool router, size_t max_bytes, wire_msg_t *out, char *err,
           size_t errlen)
{
    memset (out, 0, sizeof *out);
    if (err && errlen)
        err[0] = 0;
    zframe_t *frames[MAX_FRAMES] = { NULL, NULL, NULL };
    size_t largest = 0;
    size_t n = s_recv_frames (sock, frames, &largest);
    if (n == 0)
        return WIRE_ENOMSG;

    size_t expect = router ? 3 : 2;
    size_t first = router ? 1 : 0;
    int rc = WIRE_EMALFORMED;
    if (router) {
        out->identity = frames[0];
        frames[0] = NULL;
    }
    if (n != expect) {
        err_set (err, errlen, "message has %zu frames, expected %zu", n, expect);
        goto done;
    }
    if (router && zframe_size (out->identity) > WIRE_MAX_IDENTITY) {
        err_set (err, errlen, "identity frame of %zu bytes", zframe_size (out->identity));
        goto done;
    }
    if (max_bytes && largest > max_bytes) {
        err_set (err, errlen, "frame of %zu bytes exceeds max_message_bytes %zu", largest,
                 max_bytes);
        goto done;
    }
    if (s_decode_header (frames[first], out, err, errlen))
        goto done;
    if (s_decode_body (frames[first + 1], out, err, errlen) && out->version == WIRE_VERSION)
        goto done;
    if (out->version != WIRE_VERSION) {
        err_set (err, errlen, "protocol version %u, this side speaks %d", out->version,
                 WIRE_VERSION);
        rc = WIRE_EVERSION;
        goto done;
    }
    rc = WIRE_OK;
done:
    for (size_t i = 0; i < MAX_FRAMES; i++)
        zframe_destroy (&frames[i]);
    return rc;
}
