/*  fuzz_wire.c: wire_recv on arbitrary multipart messages.

    wire.h has no socket-free decoder, so the input is sent through real
    inproc sockets: a PAIR pair for the worker's side (router false) and a
    DEALER -> ROUTER pair for the coordinator's side (router true, the
    ROUTER adds the identity frame itself).

    Input layout:
        byte 0      bits 0-2: frame count - 1 (1..8 frames)
                    bit 3:    router side
                    bit 4:    max_bytes 64 instead of 0 (no limit)
        then, for every frame but the last, a 2-byte little-endian length
        (clamped to what is left) and the frame bytes; the last frame is
        whatever remains.
*/
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <czmq.h>

#include "wire/wire.h"

#define MAX_FUZZ_FRAMES 8

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static zsock_t *s_pair_tx, *s_pair_rx, *s_dealer, *s_router;

/*  Runs before czmq's own atexit handler (registered earlier), which
    would otherwise report the sockets as dangling.  */
static void
s_close_sockets (void)
{
    zsock_destroy (&s_pair_tx);
    zsock_destroy (&s_pair_rx);
    zsock_destroy (&s_dealer);
    zsock_destroy (&s_router);
}

/*  The sockets live for the whole run: creating them per input would
    make the run about socket setup, not decoding.  */
int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    zsys_handler_set (NULL);        /* libFuzzer owns the signals */
    zsys_set_linger (0);
    s_pair_rx = zsock_new_pair ("@inproc://fuzz-wire-pair");
    s_pair_tx = zsock_new_pair (">inproc://fuzz-wire-pair");
    s_router = zsock_new_router ("@inproc://fuzz-wire-router");
    s_dealer = zsock_new_dealer (">inproc://fuzz-wire-router");
    if (!s_pair_rx || !s_pair_tx || !s_router || !s_dealer)
        abort ();
    atexit (s_close_sockets);
    /* a message is queued whole before zframe_send returns (inproc), so
       the receiver never waits; the timeout only guards against a bug */
    zsock_set_rcvtimeo (s_pair_rx, 2000);
    zsock_set_rcvtimeo (s_router, 2000);
    zsock_set_sndtimeo (s_pair_tx, 2000);
    zsock_set_sndtimeo (s_dealer, 2000);
    return 0;
}

static bool
s_send_frames (zsock_t *tx, const uint8_t *data, size_t size, size_t n_frames)
{
    for (size_t i = 0; i < n_frames; i++) {
        size_t len = size;
        if (i + 1 < n_frames) {
            len = 0;
            if (size >= 2) {
                len = (size_t) data[0] | (size_t) data[1] << 8;
                data += 2;
                size -= 2;
            }
            else {
                data += size;
                size = 0;
            }
            if (len > size)
                len = size;
        }
        /* libFuzzer's -timeout watchdog is a SIGALRM: a send it
           interrupts (EINTR) is retried, not a finding */
        int rc;
        do
            rc = zmq_send (zsock_resolve (tx), data, len, i + 1 < n_frames ? ZMQ_SNDMORE : 0);
        while (rc == -1 && errno == EINTR);
        if (rc == -1)
            return false;
        data += len;
        size -= len;
    }
    return true;
}

/*  zsock_events returns garbage when getsockopt is interrupted.  */
static int
s_events (zsock_t *sock)
{
    int events = 0;
    size_t len = sizeof events;
    int rc;
    do
        rc = zmq_getsockopt (zsock_resolve (sock), ZMQ_EVENTS, &events, &len);
    while (rc == -1 && errno == EINTR);
    if (rc == -1)
        abort ();
    return events;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t n_frames = (size_t) (data[0] & 7) + 1;
    bool router = (data[0] & 8) != 0;
    size_t max_bytes = (data[0] & 16) ? 64 : 0;
    zsock_t *tx = router ? s_dealer : s_pair_tx;
    zsock_t *rx = router ? s_router : s_pair_rx;

    if (!s_send_frames (tx, data + 1, size - 1, n_frames))
        abort ();       /* a send that fails would desynchronise the next input */

    char err[256];
    wire_msg_t msg;
    /* libFuzzer's -timeout watchdog is a SIGALRM that can interrupt the
       read before the first frame (EINTR): that is not a finding */
    int rc = WIRE_ENOMSG;
    for (int tries = 0; rc == WIRE_ENOMSG && tries < 3; tries++)
        rc = wire_recv (rx, router, max_bytes, &msg, err, sizeof err);
    if (rc == WIRE_ENOMSG)
        abort ();       /* the message was sent whole: it must be read */
    if (rc == WIRE_OK && msg.body)
        protobuf_c_message_get_packed_size (msg.body);
    (void) wire_type_name (msg.type);
    wire_msg_reset (&msg);
    /* wire_recv drains a whole message: nothing may be left behind */
    if (s_events (rx) & ZMQ_POLLIN)
        abort ();
    return 0;
}
