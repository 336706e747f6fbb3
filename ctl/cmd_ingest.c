/*  cmd_ingest.c: `annotatectl ingest FILE|-`, JSONL items into the cluster
    over IngestStream (client streaming).

    Lines are parsed and validated here with the same code the server runs
    (items/item.h), so bad lines are reported as FILE:LINE and skipped
    before anything is sent. Valid items go out in batches of --batch items
    (and at most BATCH_MAX_BYTES packed, under gRPC's default 4 MiB message
    limit). Each send blocks until gRPC took the message: the server slows
    us down by reading slower, and memory stays at one batch.

    When the server rejects the stream, its message names "items[K]" of one
    request; we keep the line numbers of the last RING batches so the error
    can name the file line. The request is identified by a
    "requests[N]." or "message N: " prefix (N counts the stream's messages
    from 0), or trivially when only one request was sent.  */
#include "ctl.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "items/item.h"
#include "util/util.h"

#define BATCH_MAX_BYTES (3u << 20)
#define BATCH_MAX_ITEMS 100000
#define RING            256

static const char ingest_help[] =
    "usage: annotatectl ingest FILE|- [--batch N] [--strict] [--replace] [--no-progress]\n"
    "                          [-o table|json]\n"
    "\n"
    "Sends items from a JSONL file, one object a line:\n"
    "  {\"id\": \"a1\", \"text\": \"...\", \"vector\": [0.1, 0.2], \"meta\": {...}, \"label\": \"x\"}\n"
    "id is required (string or integer); label is an optional gold label.\n"
    "A bad line is reported as FILE:LINE: problem and skipped (exit 6 at the end).\n"
    "  --batch N       items per request (default 512)\n"
    "  --strict        stop at the first bad line (exit 5); nothing after it is sent\n"
    "  --replace       overwrite items whose id exists with other content\n"
    "                  (without it that is ALREADY_EXISTS, exit 5)\n"
    "  --no-progress   no progress line on stderr (it only shows on a terminal)\n";

typedef struct {
    uint64_t batch;
    bool strict, replace, no_progress;
} ingest_args_t;

typedef struct {
    uint64_t *lines;
    size_t n;
} sent_t;

typedef struct {
    ctl_t *ctl;
    const ingest_args_t *args;
    const char *name;           /* file name in messages */
    rpc_stream_t *stream;
    Annotate__V1__Item *items;  /* the batch being filled */
    Annotate__V1__Item **ptrs;
    uint64_t *lines;
    size_t n, bytes;
    sent_t ring[RING];          /* line numbers of the last RING requests sent */
    uint64_t requests, sent_items, skipped;
    uint64_t line;              /* last line read */
    /* the cluster's item rules, from ClusterStatus, so lines the server
       would refuse are skipped here instead of failing the whole stream */
    uint32_t vector_dim;
    char **labels;
    size_t n_labels;
} ingest_t;

static int
ingest_opt (ctl_t *ctl, void *argp, int opt, const char *arg)
{
    ingest_args_t *a = argp;
    switch (opt) {
    case 'b':
        if (!ctl_parse_u64 (arg, &a->batch) || a->batch == 0 || a->batch > BATCH_MAX_ITEMS)
            return ctl_usage (ctl, "--batch: expected 1..%d, not '%s'", BATCH_MAX_ITEMS, arg), -1;
        return 0;
    case 's':
        a->strict = true;
        return 0;
    case 'r':
        a->replace = true;
        return 0;
    case 'P':
        a->no_progress = true;
        return 0;
    }
    return -1;
}

/*  Sends the batch; -1 when the stream has failed.  */
static int
flush (ingest_t *self)
{
    if (self->n == 0)
        return 0;
    Annotate__V1__IngestRequest req = ANNOTATE__V1__INGEST_REQUEST__INIT;
    req.items = self->ptrs;
    req.n_items = self->n;
    req.replace = self->args->replace;
    int rc = rpc_cstream_send (self->stream, &req.base);
    sent_t *slot = &self->ring[self->requests % RING];
    memcpy (slot->lines, self->lines, self->n * sizeof (uint64_t));
    slot->n = self->n;
    self->requests++;
    self->sent_items += self->n;
    for (size_t i = 0; i < self->n; i++)
        item_clear (&self->items[i]);
    self->n = self->bytes = 0;
    return rc;
}

/*  Adds a parsed item (taking its fields); sends first if it would not fit. */
static int
add_item (ingest_t *self, Annotate__V1__Item *item, uint64_t line)
{
    size_t size = annotate__v1__item__get_packed_size (item) + 8;
    if (self->n > 0 && self->bytes + size > BATCH_MAX_BYTES && flush (self) != 0) {
        item_clear (item);
        return -1;
    }
    self->items[self->n] = *item;
    self->ptrs[self->n] = &self->items[self->n];
    self->lines[self->n] = line;
    self->n++;
    self->bytes += size;
    return self->n >= self->args->batch ? flush (self) : 0;
}

/*  Rewrites the server's "requests[N].items[K]..." or "items[K]..." as
    "FILE:LINE: ..." when the line is known.  */
static void
map_error (const ingest_t *self, const char *details, char *out, size_t cap)
{
    uint64_t req = 0, k;
    bool have_req = false;
    const char *p = strstr (details, "requests[");
    if (p && sscanf (p, "requests[%" SCNu64 "]", &req) == 1)
        have_req = true;
    else if ((p = strstr (details, "message ")) && sscanf (p, "message %" SCNu64, &req) == 1)
        have_req = true;
    else if (self->requests == 1)
        have_req = true;   /* req = 0 */
    const char *q = strstr (p ? p : details, "items[");
    if (have_req && q && sscanf (q, "items[%" SCNu64 "]", &k) == 1 && req < self->requests
        && self->requests - req <= RING && k < self->ring[req % RING].n) {
        snprintf (out, cap, "%s:%" PRIu64 ": %.900s", self->name, self->ring[req % RING].lines[k],
                  details);
        return;
    }
    snprintf (out, cap, "%.1000s", details);
}

static void
line_error (ingest_t *self, ctl_progress_t *progress, uint64_t line, const char *problem)
{
    char shown[600];
    ctl_progress_clear (progress);
    fprintf (stderr, "%s:%" PRIu64 ": %s\n", self->name, line, ctl_escape (problem, 400, shown,
                                                                            sizeof shown));
    self->skipped++;
}

typedef enum { READ_DONE, READ_STRICT_STOP, READ_IO_ERROR, READ_SEND_FAILED } read_end_t;

/*  The checks that depend on the cluster's manifest; 0 when the item fits. */
static int
check_cluster_rules (const ingest_t *self, const Annotate__V1__Item *item, char *err, size_t cap)
{
    if (item->n_vector && self->vector_dim == 0) {
        snprintf (err, cap, "vector: this cluster takes no vectors (items.vector_dim is 0)");
        return -1;
    }
    if (item->n_vector && item->n_vector != self->vector_dim) {
        snprintf (err, cap, "vector: dimension %zu, the cluster's manifest says %u",
                  item->n_vector, self->vector_dim);
        return -1;
    }
    if (item->label && *item->label) {
        for (size_t i = 0; i < self->n_labels; i++)
            if (strcmp (self->labels[i], item->label) == 0)
                return 0;
        snprintf (err, cap, "label: \"%.64s\" is not in the cluster's taxonomy", item->label);
        return -1;
    }
    return 0;
}

/*  Fetches the item rules from ClusterStatus; the exit code on failure. */
static int
fetch_rules (ingest_t *self, rpc_client_t *client)
{
    Annotate__V1__ClusterStatusRequest req = ANNOTATE__V1__CLUSTER_STATUS_REQUEST__INIT;
    ProtobufCMessage *resp = NULL;
    rpc_status_t st = rpc_call (client, CTL_METHOD ("ClusterStatus"), &req.base,
                                &annotate__v1__cluster_status_response__descriptor, &resp,
                                self->ctl->timeout_ms > 0 ? self->ctl->timeout_ms : 10000);
    if (st.code != GRPC_STATUS_OK)
        return ctl_fail (self->ctl, &st);
    Annotate__V1__ClusterStatusResponse *cs = (Annotate__V1__ClusterStatusResponse *) resp;
    self->vector_dim = cs->vector_dim;
    self->labels = calloc (cs->n_labels + 1, sizeof (char *));
    for (size_t i = 0; i < cs->n_labels; i++)
        self->labels[i] = strdup (cs->labels[i]);
    self->n_labels = cs->n_labels;
    protobuf_c_message_free_unpacked (resp, NULL);
    return CTL_EXIT_OK;
}

/*  Reads every line, sending batches as they fill.  */
static read_end_t
read_all (ingest_t *self, FILE *f, uint64_t total_bytes)
{
    item_limits_t lim;
    item_limits_default (&lim);
    item_reader_t *reader = item_reader_new (f, ITEM_LINE_MAX);
    ctl_progress_t *progress = ctl_progress_new (!self->args->no_progress, total_bytes);
    read_end_t end = READ_DONE;
    while (reader && end == READ_DONE) {
        const char *line;
        size_t len;
        item_read_t r = item_reader_next (reader, &line, &len);
        uint64_t no = self->line = item_reader_line (reader);
        char err[512];
        Annotate__V1__Item item;
        if (r == ITEM_READ_EOF)
            break;
        if (r == ITEM_READ_ERROR)
            end = READ_IO_ERROR;
        else if (r == ITEM_READ_TOO_LONG) {
            snprintf (err, sizeof err, "line longer than %u bytes", ITEM_LINE_MAX);
            line_error (self, progress, no, err);
            end = self->args->strict ? READ_STRICT_STOP : READ_DONE;
        }
        else if (item_from_json (line, len, &lim, &item, err, sizeof err) != 0) {
            line_error (self, progress, no, err);
            end = self->args->strict ? READ_STRICT_STOP : READ_DONE;
        }
        else if (check_cluster_rules (self, &item, err, sizeof err) != 0) {
            item_clear (&item);
            line_error (self, progress, no, err);
            end = self->args->strict ? READ_STRICT_STOP : READ_DONE;
        }
        else if (add_item (self, &item, no) != 0)
            end = READ_SEND_FAILED;
        ctl_progress_update (progress, self->sent_items + self->n, item_reader_bytes (reader));
    }
    ctl_progress_destroy (&progress);
    item_reader_destroy (&reader);
    /* under --strict the items before the bad line still go */
    if ((end == READ_DONE || end == READ_STRICT_STOP) && flush (self) != 0)
        end = READ_SEND_FAILED;
    return end;
}

static void
print_summary (const ingest_t *self, const Annotate__V1__IngestResponse *r, double secs,
               ctl_output_t output)
{
    double rate = secs > 0 ? (double) self->sent_items / secs : 0;
    if (output == CTL_OUT_JSON) {
        json_t *o = json_object ();
        json_object_set_new (o, "accepted", ctl_json_u64 (r->accepted));
        json_object_set_new (o, "unchanged", ctl_json_u64 (r->unchanged));
        json_object_set_new (o, "replaced", ctl_json_u64 (r->replaced));
        json_object_set_new (o, "pending", ctl_json_u64 (r->pending));
        json_object_set_new (o, "last_seq", ctl_json_u64 (r->last_seq));
        json_object_set_new (o, "sent", ctl_json_u64 (self->sent_items));
        json_object_set_new (o, "skipped_lines", ctl_json_u64 (self->skipped));
        json_object_set_new (o, "elapsed_s", json_real (secs));
        json_object_set_new (o, "items_per_s", json_real (rate));
        ctl_print_json (o, false);
        return;
    }
    printf ("accepted   %" PRIu64 "\n", r->accepted);
    printf ("unchanged  %" PRIu64 "\n", r->unchanged);
    printf ("replaced   %" PRIu64 "\n", r->replaced);
    printf ("skipped    %" PRIu64 " bad lines\n", self->skipped);
    printf ("pending    %" PRIu64 "\n", r->pending);
    printf ("elapsed    %.2f s (%.0f items/s)\n", secs, rate);
}

static bool
ingest_init (ingest_t *self, uint64_t batch)
{
    self->items = calloc (batch, sizeof *self->items);
    self->ptrs = calloc (batch, sizeof *self->ptrs);
    self->lines = calloc (batch, sizeof *self->lines);
    bool ok = self->items && self->ptrs && self->lines;
    for (size_t i = 0; ok && i < RING; i++)
        ok = (self->ring[i].lines = calloc (batch, sizeof (uint64_t))) != NULL;
    return ok;
}

static void
ingest_fini (ingest_t *self)
{
    for (size_t i = 0; self->items && i < self->n; i++)
        item_clear (&self->items[i]);
    for (size_t i = 0; i < RING; i++)
        free (self->ring[i].lines);
    for (size_t i = 0; i < self->n_labels; i++)
        free (self->labels[i]);
    free (self->labels);
    free (self->items);
    free (self->ptrs);
    free (self->lines);
    rpc_stream_destroy (&self->stream);
}

/*  Finishes the stream and reports; returns the exit code.  */
static int
finish (ingest_t *self, read_end_t end, int64_t start_us)
{
    ctl_t *ctl = self->ctl;
    ProtobufCMessage *resp;
    rpc_status_t st = rpc_cstream_finish (&self->stream,
                                          &annotate__v1__ingest_response__descriptor, &resp);
    if (st.code != GRPC_STATUS_OK) {
        rpc_status_t mapped = { .code = st.code };
        map_error (self, st.details, mapped.details, sizeof mapped.details);
        return ctl_fail (ctl, &mapped);
    }
    double secs = (double) (time_mono_us () - start_us) / 1e6;
    print_summary (self, (const Annotate__V1__IngestResponse *) resp, secs, ctl->output);
    protobuf_c_message_free_unpacked (resp, NULL);
    if (end == READ_STRICT_STOP)
        return ctl_error (ctl, CTL_EXIT_REJECTED, "stopped at the first bad line (--strict)");
    return self->skipped ? CTL_EXIT_SKIPPED : CTL_EXIT_OK;
}

int
cmd_ingest (ctl_t *ctl, int argc, char **argv)
{
    static const struct option longopts[] = {
        CTL_GLOBAL_LONGOPTS,
        { "batch", required_argument, NULL, 'b' }, { "strict", no_argument, NULL, 's' },
        { "replace", no_argument, NULL, 'r' },     { "no-progress", no_argument, NULL, 'P' },
        { NULL, 0, NULL, 0 }
    };
    ingest_args_t a = { .batch = 512 };
    int rc = ctl_getopt (ctl, argc, argv, "o:", longopts, ingest_help, ingest_opt, &a);
    if (rc != CTL_PARSED)
        return rc;
    if (optind + 1 != argc)
        return ctl_usage (ctl, optind >= argc ? "missing FILE (or - for stdin)"
                                              : "exactly one FILE, please");
    const char *path = argv[optind];
    bool use_stdin = strcmp (path, "-") == 0;
    FILE *f = use_stdin ? stdin : fopen (path, "r");
    if (!f)
        return ctl_error (ctl, CTL_EXIT_USAGE, "%s: %s", path, strerror (errno));
    struct stat sb;
    uint64_t total = fstat (fileno (f), &sb) == 0 && S_ISREG (sb.st_mode) ? (uint64_t) sb.st_size
                                                                         : 0;
    rpc_client_t *client = ctl_client (ctl);
    ingest_t self = { .ctl = ctl, .args = &a, .name = use_stdin ? "<stdin>" : path };
    if (!client || !ingest_init (&self, a.batch))
        rc = client ? ctl_error (ctl, CTL_EXIT_ERROR, "out of memory") : CTL_EXIT_USAGE;
    else if ((rc = fetch_rules (&self, client)) != CTL_EXIT_OK)
        ;
    else {
        int64_t start_us = time_mono_us ();
        self.stream = rpc_cstream_open (client, CTL_METHOD ("IngestStream"), ctl->timeout_ms);
        read_end_t end = self.stream ? read_all (&self, f, total) : READ_IO_ERROR;
        if (!self.stream)
            rc = ctl_error (ctl, CTL_EXIT_ERROR, "out of memory");
        else if (end == READ_IO_ERROR) {
            int saved = errno;
            rpc_stream_cancel (self.stream);
            rc = ctl_error (ctl, CTL_EXIT_ERROR, "%s: read error after line %" PRIu64 ": %s",
                            self.name, self.line, strerror (saved));
        }
        else
            rc = finish (&self, end, start_us);
    }
    ingest_fini (&self);
    if (!use_stdin)
        fclose (f);
    return rc;
}
