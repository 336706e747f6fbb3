/*  client.c: see client.h.

    Every call is an rpc_stream_t internally (a unary call is a stream with
    one message each way). At open, the RECV_STATUS_ON_CLIENT op is started
    on its own tag, so a server that fails the call early completes it, and
    pending sends then fail instead of blocking. Ops are waited for with
    grpc_completion_queue_pluck on fixed tags (each call has its own queue).
    A wait that exceeds its bound cancels the call, which makes every
    pending op complete promptly, so destroy never waits on the network.  */
#include "rpc/client.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>

#include "rpc/bytes.h"

#define DEFAULT_MAX_RECV (64u << 20)

#define TAG_SEND   ((void *) 1)
#define TAG_STATUS ((void *) 2)
#define TAG_RECV   ((void *) 3)

struct rpc_client {
    grpc_channel *channel;
    grpc_metadata md[1];        /* authorization, when a token is set */
    size_t n_md;
    size_t max_recv;
};

struct rpc_stream {
    rpc_client_t *client;
    grpc_completion_queue *cq;
    grpc_call *call;
    int64_t op_timeout_ms;
    bool metadata_sent;         /* SEND_INITIAL_METADATA went with the first send */
    bool initial_received;      /* RECV_INITIAL_METADATA was asked for */
    bool recv_pending;
    bool status_pending;
    grpc_byte_buffer *recv_buf;
    grpc_metadata_array initial_md;
    /* status op results */
    grpc_metadata_array trailing_md;
    grpc_status_code code;
    grpc_slice details;
    const char *error_string;
};

static const char *status_names[] = {
    "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
    "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED",
    "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
};

const char *
rpc_status_name (grpc_status_code code)
{
    if ((unsigned) code < sizeof status_names / sizeof status_names[0])
        return status_names[code];
    return "UNKNOWN_CODE";
}

static void
status_set (rpc_status_t *st, grpc_status_code code, const char *fmt, ...)
{
    st->code = code;
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (st->details, sizeof st->details, fmt, ap);
    va_end (ap);
}

/*  Details come from the server: bounded copy, controls made visible.  */
static void
status_copy_details (rpc_status_t *st, const uint8_t *p, size_t len)
{
    if (len >= sizeof st->details)
        len = sizeof st->details - 1;
    for (size_t i = 0; i < len; i++)
        st->details[i] = (p[i] < 0x20 && p[i] != '\n') || p[i] == 0x7F ? '?' : (char) p[i];
    st->details[len] = '\0';
}

/* ---- client --------------------------------------------------------------- */

static grpc_channel_credentials *
make_credentials (const rpc_client_options_t *opts)
{
    if (opts && opts->tls)
        return grpc_ssl_credentials_create (opts->tls_root_pem, NULL, NULL, NULL);
    return grpc_insecure_credentials_create ();
}

rpc_client_t *
rpc_client_new (const char *addr, const rpc_client_options_t *opts, char *err, size_t errlen)
{
    if (!addr || !*addr) {
        snprintf (err, errlen, "empty address");
        return NULL;
    }
    rpc_client_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, errlen, "out of memory");
        return NULL;
    }
    grpc_init ();
    self->max_recv = opts && opts->max_recv_bytes ? opts->max_recv_bytes : DEFAULT_MAX_RECV;
    grpc_arg args[2];
    args[0].type = GRPC_ARG_INTEGER;
    args[0].key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
    args[0].value.integer = self->max_recv > INT32_MAX ? INT32_MAX : (int) self->max_recv;
    args[1].type = GRPC_ARG_STRING;
    args[1].key = GRPC_ARG_PRIMARY_USER_AGENT_STRING;
    args[1].value.string = (char *) (opts && opts->user_agent ? opts->user_agent : "annotate");
    grpc_channel_args chargs = { 2, args };
    grpc_channel_credentials *creds = make_credentials (opts);
    self->channel = creds ? grpc_channel_create (addr, creds, &chargs) : NULL;
    if (creds)
        grpc_channel_credentials_release (creds);
    if (!self->channel) {
        snprintf (err, errlen, "cannot create a channel to %s", addr);
        free (self);
        grpc_shutdown ();
        return NULL;
    }
    if (opts && opts->bearer_token) {
        char *value = malloc (strlen (opts->bearer_token) + 8);
        if (value) {
            sprintf (value, "Bearer %s", opts->bearer_token);
            self->md[0].key = grpc_slice_from_static_string ("authorization");
            self->md[0].value = grpc_slice_from_copied_string (value);
            self->n_md = 1;
            free (value);
        }
    }
    return self;
}

void
rpc_client_destroy (rpc_client_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rpc_client_t *self = *self_p;
    for (size_t i = 0; i < self->n_md; i++) {
        grpc_slice_unref (self->md[i].key);
        grpc_slice_unref (self->md[i].value);
    }
    grpc_channel_destroy (self->channel);
    free (self);
    *self_p = NULL;
    grpc_shutdown ();
}

bool
rpc_client_ready (rpc_client_t *self)
{
    return grpc_channel_check_connectivity_state (self->channel, 0) == GRPC_CHANNEL_READY;
}

/* ---- streams: plumbing ---------------------------------------------------- */

static gpr_timespec
deadline_after (int64_t ms)
{
    if (ms <= 0)
        return gpr_inf_future (GPR_CLOCK_MONOTONIC);
    return gpr_time_add (gpr_now (GPR_CLOCK_MONOTONIC), gpr_time_from_millis (ms, GPR_TIMESPAN));
}

/*  Waits for tag; when timeout_ms passes first, cancels the call with
    DEADLINE_EXCEEDED and waits for the (now prompt) completion. Returns
    the op's success flag.  */
static int
wait_tag (rpc_stream_t *self, void *tag, int64_t timeout_ms, const char *what)
{
    grpc_event ev = grpc_completion_queue_pluck (self->cq, tag, deadline_after (timeout_ms), NULL);
    if (ev.type == GRPC_QUEUE_TIMEOUT) {
        char msg[128];
        snprintf (msg, sizeof msg, "%s: no progress within %lld ms", what, (long long) timeout_ms);
        grpc_call_cancel_with_status (self->call, GRPC_STATUS_DEADLINE_EXCEEDED, msg, NULL);
        ev = grpc_completion_queue_pluck (self->cq, tag, gpr_inf_future (GPR_CLOCK_MONOTONIC),
                                          NULL);
    }
    return ev.type == GRPC_OP_COMPLETE && ev.success;
}

/*  Creates the call and starts the status op. deadline_ms <= 0: none.  */
static rpc_stream_t *
stream_new (rpc_client_t *client, const char *method, int64_t deadline_ms, int64_t op_timeout_ms)
{
    rpc_stream_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->client = client;
    self->op_timeout_ms = op_timeout_ms;
    self->code = GRPC_STATUS_UNKNOWN;
    self->details = grpc_empty_slice ();
    grpc_metadata_array_init (&self->initial_md);
    grpc_metadata_array_init (&self->trailing_md);
    self->cq = grpc_completion_queue_create_for_pluck (NULL);
    grpc_slice path = grpc_slice_from_static_string (method);
    gpr_timespec deadline = deadline_ms > 0 ? deadline_after (deadline_ms)
                                            : gpr_inf_future (GPR_CLOCK_REALTIME);
    self->call = grpc_channel_create_call (client->channel, NULL, GRPC_PROPAGATE_DEFAULTS, self->cq,
                                           path, NULL, deadline, NULL);
    grpc_op op;
    memset (&op, 0, sizeof op);
    op.op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    op.data.recv_status_on_client.trailing_metadata = &self->trailing_md;
    op.data.recv_status_on_client.status = &self->code;
    op.data.recv_status_on_client.status_details = &self->details;
    op.data.recv_status_on_client.error_string = &self->error_string;
    if (grpc_call_start_batch (self->call, &op, 1, TAG_STATUS, NULL) == GRPC_CALL_OK)
        self->status_pending = true;
    return self;
}

/*  The call's final status (waits for it once).  */
static void
stream_status (rpc_stream_t *self, rpc_status_t *st)
{
    if (self->status_pending) {
        wait_tag (self, TAG_STATUS, self->op_timeout_ms, "status");
        self->status_pending = false;
    }
    st->code = self->code;
    status_copy_details (st, GRPC_SLICE_START_PTR (self->details),
                         GRPC_SLICE_LENGTH (self->details));
    if (st->code != GRPC_STATUS_OK && st->details[0] == '\0' && self->error_string)
        status_copy_details (st, (const uint8_t *) self->error_string,
                             strlen (self->error_string));
}

/*  A batch of ops on tag: initial metadata (once) in front, the message
    when msg is not NULL, then the flags. Returns the batch's success.  */
static int
stream_send (rpc_stream_t *self, const ProtobufCMessage *msg, bool close)
{
    grpc_op ops[3];
    size_t n = 0;
    memset (ops, 0, sizeof ops);
    if (!self->metadata_sent) {
        ops[n].op = GRPC_OP_SEND_INITIAL_METADATA;
        ops[n].data.send_initial_metadata.count = self->client->n_md;
        ops[n].data.send_initial_metadata.metadata = self->client->md;
        n++;
        self->metadata_sent = true;
    }
    grpc_byte_buffer *buf = NULL;
    if (msg) {
        buf = rpc_pack (msg);
        if (!buf)
            return 0;
        ops[n].op = GRPC_OP_SEND_MESSAGE;
        ops[n].data.send_message.send_message = buf;
        n++;
    }
    if (close)
        ops[n++].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    int ok = 0;
    if (grpc_call_start_batch (self->call, ops, n, TAG_SEND, NULL) == GRPC_CALL_OK)
        ok = wait_tag (self, TAG_SEND, self->op_timeout_ms, "send");
    if (buf)
        grpc_byte_buffer_destroy (buf);
    return ok;
}

/*  Starts RECV_MESSAGE (with RECV_INITIAL_METADATA the first time).  */
static bool
stream_start_recv (rpc_stream_t *self)
{
    grpc_op ops[2];
    size_t n = 0;
    memset (ops, 0, sizeof ops);
    if (!self->initial_received) {
        ops[n].op = GRPC_OP_RECV_INITIAL_METADATA;
        ops[n].data.recv_initial_metadata.recv_initial_metadata = &self->initial_md;
        n++;
        self->initial_received = true;
    }
    ops[n].op = GRPC_OP_RECV_MESSAGE;
    ops[n].data.recv_message.recv_message = &self->recv_buf;
    n++;
    if (grpc_call_start_batch (self->call, ops, n, TAG_RECV, NULL) != GRPC_CALL_OK)
        return false;
    self->recv_pending = true;
    return true;
}

/*  Takes the received buffer and decodes it; NULL when there is none or it
    does not decode (status set then).  */
static ProtobufCMessage *
stream_take_message (rpc_stream_t *self, const ProtobufCMessageDescriptor *desc, rpc_status_t *st)
{
    if (!self->recv_buf)
        return NULL;
    int too_big = 0;
    ProtobufCMessage *msg = rpc_unpack (self->recv_buf, desc, self->client->max_recv, &too_big);
    grpc_byte_buffer_destroy (self->recv_buf);
    self->recv_buf = NULL;
    if (!msg && too_big)
        status_set (st, GRPC_STATUS_RESOURCE_EXHAUSTED, "%s larger than %zu bytes", desc->name,
                    self->client->max_recv);
    else if (!msg)
        status_set (st, GRPC_STATUS_INTERNAL, "malformed %s from the server", desc->name);
    return msg;
}

void
rpc_stream_cancel (rpc_stream_t *self)
{
    if (self && self->call)
        grpc_call_cancel (self->call, NULL);
}

void
rpc_stream_destroy (rpc_stream_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rpc_stream_t *self = *self_p;
    if (self->status_pending || self->recv_pending)
        grpc_call_cancel (self->call, NULL);
    gpr_timespec forever = gpr_inf_future (GPR_CLOCK_MONOTONIC);
    if (self->recv_pending)
        grpc_completion_queue_pluck (self->cq, TAG_RECV, forever, NULL);
    if (self->status_pending)
        grpc_completion_queue_pluck (self->cq, TAG_STATUS, forever, NULL);
    if (self->recv_buf)
        grpc_byte_buffer_destroy (self->recv_buf);
    grpc_metadata_array_destroy (&self->initial_md);
    grpc_metadata_array_destroy (&self->trailing_md);
    grpc_slice_unref (self->details);
    gpr_free ((void *) self->error_string);
    grpc_call_unref (self->call);
    grpc_completion_queue_shutdown (self->cq);
    while (grpc_completion_queue_pluck (self->cq, NULL, forever, NULL).type != GRPC_QUEUE_SHUTDOWN)
        ;
    grpc_completion_queue_destroy (self->cq);
    free (self);
    *self_p = NULL;
}

/* ---- unary ------------------------------------------------------------------ */

rpc_status_t
rpc_call (rpc_client_t *self, const char *method, const ProtobufCMessage *req,
          const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp, int64_t timeout_ms)
{
    rpc_status_t st;
    *resp = NULL;
    grpc_byte_buffer *buf = rpc_pack (req);
    rpc_stream_t *s = buf ? stream_new (self, method, timeout_ms, 0) : NULL;
    if (!s) {
        if (buf)
            grpc_byte_buffer_destroy (buf);
        status_set (&st, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return st;
    }
    /* one batch for everything: one wake-up per call. The call deadline
       bounds every wait, so the waits need no bound of their own. */
    grpc_op ops[5];
    memset (ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[0].data.send_initial_metadata.count = self->n_md;
    ops[0].data.send_initial_metadata.metadata = self->md;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = buf;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &s->initial_md;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &s->recv_buf;
    s->metadata_sent = s->initial_received = true;
    if (grpc_call_start_batch (s->call, ops, 5, TAG_RECV, NULL) == GRPC_CALL_OK)
        wait_tag (s, TAG_RECV, 0, "call");
    grpc_byte_buffer_destroy (buf);
    stream_status (s, &st);
    if (st.code == GRPC_STATUS_OK) {
        *resp = stream_take_message (s, resp_desc, &st);
        if (!*resp && st.code == GRPC_STATUS_OK)
            status_set (&st, GRPC_STATUS_INTERNAL, "server sent no %s", resp_desc->name);
    }
    rpc_stream_destroy (&s);
    return st;
}

/* ---- client streaming --------------------------------------------------------- */

rpc_stream_t *
rpc_cstream_open (rpc_client_t *self, const char *method, int64_t op_timeout_ms)
{
    return stream_new (self, method, 0, op_timeout_ms);
}

int
rpc_cstream_send (rpc_stream_t *self, const ProtobufCMessage *msg)
{
    return stream_send (self, msg, false) ? 0 : -1;
}

rpc_status_t
rpc_cstream_finish (rpc_stream_t **self_p, const ProtobufCMessageDescriptor *resp_desc,
                    ProtobufCMessage **resp)
{
    rpc_stream_t *self = *self_p;
    rpc_status_t st;
    *resp = NULL;
    stream_send (self, NULL, true);
    if (stream_start_recv (self)) {
        wait_tag (self, TAG_RECV, self->op_timeout_ms, "response");
        self->recv_pending = false;
    }
    stream_status (self, &st);
    if (st.code == GRPC_STATUS_OK) {
        *resp = stream_take_message (self, resp_desc, &st);
        if (!*resp && st.code == GRPC_STATUS_OK)
            status_set (&st, GRPC_STATUS_INTERNAL, "server sent no %s", resp_desc->name);
    }
    rpc_stream_destroy (self_p);
    return st;
}

/* ---- server streaming ----------------------------------------------------------- */

rpc_stream_t *
rpc_sstream_open (rpc_client_t *self, const char *method, const ProtobufCMessage *req,
                  int64_t op_timeout_ms)
{
    rpc_stream_t *s = stream_new (self, method, 0, op_timeout_ms);
    if (s)
        stream_send (s, req, true);   /* a failure shows in the status */
    return s;
}

rpc_recv_t
rpc_sstream_recv (rpc_stream_t *self, const ProtobufCMessageDescriptor *desc,
                  ProtobufCMessage **msg, int64_t timeout_ms, rpc_status_t *status)
{
    *msg = NULL;
    if (!self->recv_pending && self->status_pending && !stream_start_recv (self)) {
        status_set (status, GRPC_STATUS_INTERNAL, "cannot start a receive");
        rpc_stream_cancel (self);
    }
    if (self->recv_pending) {
        grpc_event ev = grpc_completion_queue_pluck (self->cq, TAG_RECV,
                                                     deadline_after (timeout_ms), NULL);
        if (ev.type == GRPC_QUEUE_TIMEOUT)
            return RPC_RECV_TIMEOUT;
        self->recv_pending = false;
        if (ev.success && self->recv_buf) {
            *msg = stream_take_message (self, desc, status);
            if (*msg)
                return RPC_RECV_MESSAGE;
            /* undecodable: end the call, report the local reason */
            rpc_status_t ignored;
            rpc_stream_cancel (self);
            stream_status (self, &ignored);
            return RPC_RECV_END;
        }
    }
    stream_status (self, status);
    return RPC_RECV_END;
}
