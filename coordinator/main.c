/*  annotate-coordinator: owns the LMDB store, the gRPC control plane and
    the ZeroMQ socket workers join. Everything here is wiring: the work is
    done by libannotate's store writer, cluster actor and control plane.  */
#include <czmq.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/cluster.h"
#include "control/control.h"
#include "manifest/manifest.h"
#include "store/store.h"
#include "store/store_writer.h"
#include "util/util.h"

static void
usage (FILE *out)
{
    fputs ("usage: annotate-coordinator [options]\n"
           "\n"
           "Runs the coordinator of an annotate cluster: the label store (LMDB), the gRPC\n"
           "control plane and the ZeroMQ endpoint workers connect to.\n"
           "\n"
           "  --manifest FILE       cluster manifest (YAML); default: the last applied one\n"
           "                        in the data dir, else the embedded default\n"
           "  --data-dir DIR        where the store lives (overrides coordinator.data_dir)\n"
           "  --grpc-listen ADDR    gRPC address, HOST:PORT (overrides coordinator.grpc_listen)\n"
           "  --cluster-bind EP     ZeroMQ endpoint for workers, e.g. tcp://0.0.0.0:7401\n"
           "                        (overrides coordinator.cluster_bind)\n"
           "  --log-level LEVEL     debug, info, warn or error (default info)\n"
           "  --print-manifest      print the embedded default manifest and exit\n"
           "  --check-manifest FILE check a manifest and exit: 0 when valid, else 2 with\n"
           "                        file:line:column: what is wrong\n"
           "  --version             print the version and exit\n"
           "  -h, --help            this text\n"
           "\n"
           "Stops cleanly on SIGINT or SIGTERM.\n",
           out);
}

typedef struct {
    const char *manifest_path, *data_dir, *grpc_listen, *cluster_bind;
} options_t;

static int
parse_args (int argc, char **argv, options_t *o)
{
    static const struct option longopts[] = {
        { "manifest", required_argument, NULL, 'm' },  { "data-dir", required_argument, NULL, 'd' },
        { "grpc-listen", required_argument, NULL, 'g' }, { "cluster-bind", required_argument, NULL, 'c' },
        { "log-level", required_argument, NULL, 'l' }, { "print-manifest", no_argument, NULL, 'p' },
        { "version", no_argument, NULL, 'V' },         { "help", no_argument, NULL, 'h' },
        { "check-manifest", required_argument, NULL, 'k' },
        { NULL, 0, NULL, 0 },
    };
    int c;
    while ((c = getopt_long (argc, argv, "h", longopts, NULL)) != -1) {
        log_level_t level;
        switch (c) {
        case 'm': o->manifest_path = optarg; break;
        case 'd': o->data_dir = optarg; break;
        case 'g': o->grpc_listen = optarg; break;
        case 'c': o->cluster_bind = optarg; break;
        case 'l':
            if (!log_level_parse (optarg, &level)) {
                fprintf (stderr, "annotate-coordinator: --log-level: unknown level \"%s\"\n", optarg);
                return 2;
            }
            log_set_level (level);
            break;
        case 'p': {
            size_t len = 0;
            const char *def = manifest_default_text (&len);
            fwrite (def, 1, len, stdout);
            return 0;
        }
        case 'k': {
            char err[1024];
            manifest_t *m = manifest_load (optarg, err, sizeof err);
            if (!m) {
                fprintf (stderr, "%s\n", err);
                return 2;
            }
            printf ("%s: valid manifest (cluster %s, %zu labels, %zu workers)\n", optarg,
                    m->cluster_name, m->n_labels, m->n_workers);
            manifest_destroy (&m);
            return 0;
        }
        case 'V': puts ("annotate-coordinator 0.1.0"); return 0;
        case 'h': usage (stdout); return 0;
        default: usage (stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf (stderr, "annotate-coordinator: unexpected argument \"%s\"\n", argv[optind]);
        return 2;
    }
    return -1;
}

/*  Reads the manifest text to run with; stores a new version when it
    differs from the newest stored one.  */
static char *
choose_manifest (const options_t *o, store_t *store, uint64_t *stored_version, bool *store_it)
{
    char *stored = NULL;
    size_t stored_len = 0;
    MDB_txn *txn = store_read_begin (store);
    if (txn) {
        if (store_get_manifest (store, txn, 0, &stored, &stored_len, stored_version) != 0)
            *stored_version = 0;
        store_read_end (store, txn);
    }
    char *text = NULL;
    if (o->manifest_path) {
        zfile_t *f = zfile_new (NULL, o->manifest_path);
        zchunk_t *chunk = f && zfile_input (f) == 0 ? zfile_read (f, MANIFEST_MAX_BYTES + 1, 0) : NULL;
        if (chunk) {
            text = strndup ((const char *) zchunk_data (chunk), zchunk_size (chunk));
            zchunk_destroy (&chunk);
        }
        zfile_destroy (&f);
    }
    else if (stored) {
        text = stored;
        stored = NULL;
    }
    else {
        size_t len = 0;
        const char *def = manifest_default_text (&len);
        text = strndup (def, len);
    }
    if (o->manifest_path)
        *store_it = text && (!stored || strcmp (stored, text) != 0);
    else
        *store_it = *stored_version == 0;
    free (stored);
    return text;
}

static int
run (const options_t *o, manifest_t *boot)
{
    const char *data_dir = o->data_dir ? o->data_dir : boot->data_dir;
    char err[1024];
    store_config_t sc = { .dir = data_dir, .initial_map_bytes = boot->initial_map_bytes,
                          .max_map_bytes = boot->max_map_bytes };
    store_t *store = store_open (&sc, err, sizeof err);
    if (!store) {
        fprintf (stderr, "annotate-coordinator: %s\n", err);
        return 1;
    }
    uint64_t version = 0;
    bool store_it = false;
    char *text = choose_manifest (o, store, &version, &store_it);
    manifest_t *m = text ? manifest_parse (text, strlen (text), o->manifest_path ? o->manifest_path : "<stored>", err, sizeof err) : NULL;
    if (!m) {
        fprintf (stderr, "annotate-coordinator: %s\n", text ? err : "cannot read the manifest");
        free (text);
        store_destroy (&store);
        return 1;
    }
    store_policy_t *policy = control_policy_new (m);
    store_writer_t *writer = store_writer_new (store, policy);
    if (store_it) {
        store_client_t *client = store_client_new (writer);
        store_request_t r = { .type = STORE_REQ_MANIFEST, .manifest_text = text,
                              .manifest_len = strlen (text), .policy = policy };
        if (store_client_call (client, &r) == STORE_OK)
            version = r.version;
        store_client_destroy (&client);
    }
    store_policy_free (&policy);
    const char *grpc_listen = o->grpc_listen ? o->grpc_listen : m->grpc_listen;
    const char *cluster_bind = o->cluster_bind ? o->cluster_bind : m->cluster_bind;
    cluster_config_t cc = { .bind = cluster_bind, .manifest_text = text, .manifest_len = strlen (text),
                            .manifest_version = version, .store = store, .writer = writer,
                            .max_message_bytes = m->max_message_bytes };
    cluster_t *cluster = cluster_new (&cc, err, sizeof err);
    control_t *control = NULL;
    if (cluster) {
        control_config_t ctl = { .listen = grpc_listen, .store = store, .writer = writer,
                                 .cluster = cluster, .manifest_text = text,
                                 .manifest_len = strlen (text), .manifest_version = version,
                                 .threads = m->grpc_threads, .max_watchers = m->max_watchers,
                                 .max_message_bytes = m->max_message_bytes,
                                 .ingest_wait_ms = 30000 };
        control = control_new (&ctl, err, sizeof err);
    }
    int rc = 0;
    if (!cluster || !control) {
        fprintf (stderr, "annotate-coordinator: %s\n", err);
        rc = 1;
    }
    else {
        log_warn ("coordinator", "plain-text mode: gRPC and worker traffic are not encrypted or "
                                 "authenticated; use on a trusted host only");
        log_info ("coordinator", "ready: cluster %s, manifest version %llu, grpc %s, workers %s, data %s",
                  m->cluster_name, (unsigned long long) version, grpc_listen, cluster_bind, data_dir);
        while (!zsys_interrupted)
            zclock_sleep (100);
        log_info ("coordinator", "stopping");
    }
    control_destroy (&control);
    cluster_destroy (&cluster);
    store_writer_destroy (&writer);
    store_destroy (&store);
    manifest_destroy (&m);
    free (text);
    return rc;
}

int
main (int argc, char **argv)
{
    options_t o = { 0 };
    int rc = parse_args (argc, argv, &o);
    if (rc >= 0)
        return rc;
    zsys_init ();
    zsys_set_logstream (NULL);
    char err[1024];
    manifest_t *boot = NULL;
    if (o.manifest_path)
        boot = manifest_load (o.manifest_path, err, sizeof err);
    else {
        size_t len;
        const char *text = manifest_default_text (&len);
        boot = manifest_parse (text, len, "<embedded>", err, sizeof err);
    }
    if (!boot) {
        fprintf (stderr, "annotate-coordinator: %s\n", err);
        return 1;
    }
    rc = run (&o, boot);
    manifest_destroy (&boot);
    return rc;
}
