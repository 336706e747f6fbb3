/*  test_rpc_client.c: the parts of rpc/client.c that need no server:
    failures must come back as statuses, promptly, and never hang.

    A "closed" port refuses connections (UNAVAILABLE); a "silent" port
    accepts TCP but never speaks HTTP/2, so only deadlines end the calls.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "annotate/v1/annotate.pb-c.h"
#include "rpc/client.h"
#include "util/util.h"

/*  A listening socket on a free loopback port; its port in *port.  */
static int
listen_any (int *port)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
    assert_int_equal (bind (fd, (struct sockaddr *) &sa, sizeof sa), 0);
    assert_int_equal (listen (fd, 16), 0);
    socklen_t len = sizeof sa;
    getsockname (fd, (struct sockaddr *) &sa, &len);
    *port = ntohs (sa.sin_port);
    return fd;
}

static rpc_client_t *
client_for (int port)
{
    char addr[64], err[256];
    snprintf (addr, sizeof addr, "127.0.0.1:%d", port);
    rpc_client_t *c = rpc_client_new (addr, NULL, err, sizeof err);
    assert_non_null (c);
    return c;
}

static void
test_status_names (void **state)
{
    assert_string_equal (rpc_status_name (GRPC_STATUS_OK), "OK");
    assert_string_equal (rpc_status_name (GRPC_STATUS_INVALID_ARGUMENT), "INVALID_ARGUMENT");
    assert_string_equal (rpc_status_name (GRPC_STATUS_UNAUTHENTICATED), "UNAUTHENTICATED");
    assert_string_equal (rpc_status_name ((grpc_status_code) 99), "UNKNOWN_CODE");
    char err[64] = "";
    assert_null (rpc_client_new ("", NULL, err, sizeof err));
    assert_string_equal (err, "empty address");
}

static void
test_closed_port_unavailable (void **state)
{
    int port;
    close (listen_any (&port));   /* now nothing listens there */
    rpc_client_options_t opts = { .bearer_token = "secret" };
    char addr[64], err[256];
    snprintf (addr, sizeof addr, "127.0.0.1:%d", port);
    rpc_client_t *c = rpc_client_new (addr, &opts, err, sizeof err);
    assert_non_null (c);

    Annotate__V1__GetItemRequest req = ANNOTATE__V1__GET_ITEM_REQUEST__INIT;
    req.id = "x";
    ProtobufCMessage *resp = (ProtobufCMessage *) &req;
    rpc_status_t st = rpc_call (c, "/annotate.v1.Annotate/GetItem", &req.base,
                                &annotate__v1__get_item_response__descriptor, &resp, 5000);
    assert_int_equal (st.code, GRPC_STATUS_UNAVAILABLE);
    assert_null (resp);
    assert_false (rpc_client_ready (c));

    /* server streaming: the failure arrives as the end of the stream */
    Annotate__V1__WatchLabelsRequest w = ANNOTATE__V1__WATCH_LABELS_REQUEST__INIT;
    rpc_stream_t *s = rpc_sstream_open (c, "/annotate.v1.Annotate/WatchLabels", &w.base, 5000);
    assert_non_null (s);
    ProtobufCMessage *msg;
    assert_int_equal (rpc_sstream_recv (s, &annotate__v1__watch_labels_response__descriptor, &msg,
                                        5000, &st),
                      RPC_RECV_END);
    assert_int_equal (st.code, GRPC_STATUS_UNAVAILABLE);
    /* and stays ended */
    assert_int_equal (rpc_sstream_recv (s, &annotate__v1__watch_labels_response__descriptor, &msg,
                                        10, &st),
                      RPC_RECV_END);
    rpc_stream_destroy (&s);
    assert_null (s);

    /* client streaming: send fails, finish tells why */
    s = rpc_cstream_open (c, "/annotate.v1.Annotate/IngestStream", 5000);
    Annotate__V1__IngestRequest in = ANNOTATE__V1__INGEST_REQUEST__INIT;
    assert_int_equal (rpc_cstream_send (s, &in.base), -1);
    st = rpc_cstream_finish (&s, &annotate__v1__ingest_response__descriptor, &resp);
    assert_null (s);
    assert_null (resp);
    assert_int_equal (st.code, GRPC_STATUS_UNAVAILABLE);
    rpc_client_destroy (&c);
    assert_null (c);
}

static void
test_silent_server_deadlines (void **state)
{
    int port;
    int fd = listen_any (&port);
    rpc_client_t *c = client_for (port);

    Annotate__V1__ClusterStatusRequest req = ANNOTATE__V1__CLUSTER_STATUS_REQUEST__INIT;
    ProtobufCMessage *resp;
    int64_t t0 = time_mono_us ();
    rpc_status_t st = rpc_call (c, "/annotate.v1.Annotate/ClusterStatus", &req.base,
                                &annotate__v1__cluster_status_response__descriptor, &resp, 300);
    int64_t took_ms = (time_mono_us () - t0) / 1000;
    assert_int_equal (st.code, GRPC_STATUS_DEADLINE_EXCEEDED);
    assert_true (took_ms >= 250 && took_ms < 3000);
    assert_false (rpc_client_ready (c));   /* "never reached", not "slow" */

    /* a stream's send waits at most its op timeout, then the call is cancelled */
    rpc_stream_t *s = rpc_cstream_open (c, "/annotate.v1.Annotate/IngestStream", 300);
    Annotate__V1__IngestRequest in = ANNOTATE__V1__INGEST_REQUEST__INIT;
    t0 = time_mono_us ();
    assert_int_equal (rpc_cstream_send (s, &in.base), -1);
    st = rpc_cstream_finish (&s, &annotate__v1__ingest_response__descriptor, &resp);
    took_ms = (time_mono_us () - t0) / 1000;
    assert_int_equal (st.code, GRPC_STATUS_DEADLINE_EXCEEDED);
    assert_non_null (strstr (st.details, "no progress within 300 ms"));
    assert_true (took_ms < 3000);

    /* a watch whose request can not be sent within its op timeout ends
       with DEADLINE_EXCEEDED at the first recv, and destroy does not hang */
    Annotate__V1__WatchLabelsRequest w = ANNOTATE__V1__WATCH_LABELS_REQUEST__INIT;
    s = rpc_sstream_open (c, "/annotate.v1.Annotate/WatchLabels", &w.base, 300);
    ProtobufCMessage *msg;
    rpc_recv_t r = rpc_sstream_recv (s, &annotate__v1__watch_labels_response__descriptor, &msg,
                                     100, &st);
    assert_int_equal (r, RPC_RECV_END);
    assert_int_equal (st.code, GRPC_STATUS_DEADLINE_EXCEEDED);
    rpc_stream_destroy (&s);

    rpc_client_destroy (&c);
    close (fd);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_status_names),
        cmocka_unit_test (test_closed_port_unavailable),
        cmocka_unit_test (test_silent_server_deadlines),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
