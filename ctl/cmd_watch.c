/*  cmd_watch.c: `annotatectl watch`, label events as they are committed
    (WatchLabels, server streaming).

    The stream is read in short slices (200 ms) so that SIGINT, --count and
    --idle-timeout are noticed promptly; output is flushed after every
    message so a pipe (`annotatectl watch -o json | jq`) sees events live.  */
#include "ctl.h"

#include <inttypes.h>
#include <signal.h>
#include <string.h>

#include "util/util.h"

#define SLICE_MS 200

static const char watch_help[] =
    "usage: annotatectl watch [--after SEQ] [--from-now] [--source S] [--count N]\n"
    "                         [--idle-timeout SEC] [-o table|json]\n"
    "\n"
    "Prints label events in sequence order, one line each (json: one object a\n"
    "line with seq, id, label, source, confidence, model_version, time_ms,\n"
    "annotator, worker).\n"
    "  --after SEQ          events with seq > SEQ (default 0: from the start)\n"
    "  --from-now           only events committed from now on\n"
    "  --source S           only this source (none model human gold auto\n"
    "                       propagation duplicate llm)\n"
    "  --count N            exit 0 after N events\n"
    "  --idle-timeout SEC   exit 0 after SEC seconds without events\n"
    "Ctrl-C ends it with exit 0.\n";

static volatile sig_atomic_t interrupted;

static void
on_sigint (int sig)
{
    interrupted = 1;
}

typedef struct {
    Annotate__V1__WatchLabelsRequest req;
    uint64_t count;         /* 0: no limit */
    int64_t idle_ms;        /* 0: none */
} watch_args_t;

static int
watch_opt (ctl_t *ctl, void *argp, int opt, const char *arg)
{
    watch_args_t *a = argp;
    int v;
    switch (opt) {
    case 'a':
        if (!ctl_parse_u64 (arg, &a->req.after_seq))
            return ctl_usage (ctl, "--after: expected a sequence number, not '%s'", arg), -1;
        return 0;
    case 'f':
        a->req.from_now = true;
        return 0;
    case 's':
        if ((v = ctl_source_parse (arg)) < 0)
            return ctl_usage (ctl, "--source: unknown source '%s'", arg), -1;
        a->req.source = v;
        return 0;
    case 'c':
        if (!ctl_parse_u64 (arg, &a->count) || a->count == 0)
            return ctl_usage (ctl, "--count: expected a number > 0, not '%s'", arg), -1;
        return 0;
    case 'i':
        if (!ctl_parse_seconds (arg, &a->idle_ms) || a->idle_ms == 0)
            return ctl_usage (ctl, "--idle-timeout: expected seconds > 0, not '%s'", arg), -1;
        return 0;
    }
    return -1;
}

static void
print_event (ctl_t *ctl, const Annotate__V1__LabelEvent *e)
{
    static const Annotate__V1__Label none = ANNOTATE__V1__LABEL__INIT;
    const Annotate__V1__Label *l = e->label ? e->label : &none;
    if (ctl->output == CTL_OUT_JSON) {
        json_t *o = json_object ();
        json_object_set_new (o, "seq", ctl_json_u64 (e->seq));
        json_object_set_new (o, "id", json_string (e->item_id ? e->item_id : ""));
        json_object_set_new (o, "label", json_string (l->label ? l->label : ""));
        json_object_set_new (o, "source", json_string (ctl_source_name (l->source)));
        json_object_set_new (o, "confidence", json_real (l->confidence));
        json_object_set_new (o, "model_version", ctl_json_u64 (l->model_version));
        json_object_set_new (o, "time_ms", json_integer (l->time_ms));
        json_object_set_new (o, "annotator", json_string (l->annotator ? l->annotator : ""));
        json_object_set_new (o, "worker", json_string (l->worker ? l->worker : ""));
        ctl_print_json (o, true);
        return;
    }
    char id[400], label[200];
    printf ("%-10" PRIu64 " %-24s %-16s %-11s %.3f\n", e->seq,
            ctl_escape (e->item_id, 64, id, sizeof id), ctl_escape (l->label, 40, label, sizeof label),
            ctl_source_name (l->source), l->confidence);
}

/*  Reads until a stop condition; returns the exit code.  */
static int
watch_loop (ctl_t *ctl, rpc_stream_t *s, const watch_args_t *a)
{
    uint64_t seen = 0;
    int64_t last_us = time_mono_us ();
    while (!interrupted) {
        ProtobufCMessage *msg;
        rpc_status_t st;
        rpc_recv_t r = rpc_sstream_recv (s, &annotate__v1__watch_labels_response__descriptor, &msg,
                                         SLICE_MS, &st);
        if (r == RPC_RECV_END)
            return interrupted ? CTL_EXIT_OK
                   : st.code == GRPC_STATUS_OK ? CTL_EXIT_OK : ctl_fail (ctl, &st);
        if (r == RPC_RECV_TIMEOUT) {
            if (a->idle_ms && time_mono_us () - last_us >= a->idle_ms * 1000)
                return CTL_EXIT_OK;
            continue;
        }
        const Annotate__V1__WatchLabelsResponse *w = (const Annotate__V1__WatchLabelsResponse *) msg;
        for (size_t i = 0; i < w->n_events && (!a->count || seen < a->count); i++, seen++)
            print_event (ctl, w->events[i]);
        fflush (stdout);
        protobuf_c_message_free_unpacked (msg, NULL);
        if (a->count && seen >= a->count)
            return CTL_EXIT_OK;
        last_us = time_mono_us ();
    }
    return CTL_EXIT_OK;
}

int
cmd_watch (ctl_t *ctl, int argc, char **argv)
{
    static const struct option longopts[] = {
        CTL_GLOBAL_LONGOPTS,
        { "after", required_argument, NULL, 'a' },  { "from-now", no_argument, NULL, 'f' },
        { "source", required_argument, NULL, 's' }, { "count", required_argument, NULL, 'c' },
        { "idle-timeout", required_argument, NULL, 'i' }, { NULL, 0, NULL, 0 }
    };
    watch_args_t a = { .req = ANNOTATE__V1__WATCH_LABELS_REQUEST__INIT };
    int rc = ctl_getopt (ctl, argc, argv, "o:", longopts, watch_help, watch_opt, &a);
    if (rc != CTL_PARSED)
        return rc;
    if (optind < argc)
        return ctl_usage (ctl, "unexpected argument '%s'", argv[optind]);
    rpc_client_t *client = ctl_client (ctl);
    if (!client)
        return CTL_EXIT_USAGE;

    struct sigaction sa;
    memset (&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset (&sa.sa_mask);
    sigaction (SIGINT, &sa, NULL);
    sigaction (SIGTERM, &sa, NULL);

    if (ctl->output == CTL_OUT_TABLE)
        printf ("%-10s %-24s %-16s %-11s %s\n", "SEQ", "ID", "LABEL", "SOURCE", "CONFIDENCE");
    rpc_stream_t *s = rpc_sstream_open (client, CTL_METHOD ("WatchLabels"), &a.req.base,
                                        ctl->timeout_ms);
    if (!s)
        return ctl_error (ctl, CTL_EXIT_ERROR, "out of memory");
    rc = watch_loop (ctl, s, &a);
    rpc_stream_destroy (&s);
    return rc;
}
