/*  cmd_apply.c: `annotatectl apply -f FILE [--dry-run]` (ApplyManifest).
    The file is read whole, at most 1 MiB (the server's limit too), and
    sent as text: the coordinator parses and validates it, and its errors
    name the file given here as source_name.  */
#include "ctl.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define APPLY_MAX_BYTES (1u << 20)

static const char apply_help[] =
    "usage: annotatectl apply -f FILE [--dry-run] [-o table|json]\n"
    "\n"
    "Sends a cluster manifest (YAML, at most 1 MiB; FILE may be - for stdin)\n"
    "to the coordinator, which validates it and stores it as a new version.\n"
    "  -f, --file FILE   the manifest\n"
    "  --dry-run         validate and show the changes, store nothing\n";

typedef struct {
    const char *file;
    bool dry_run;
} apply_args_t;

static int
apply_opt (ctl_t *ctl, void *argp, int opt, const char *arg)
{
    apply_args_t *a = argp;
    if (opt == 'f')
        a->file = arg;
    else if (opt == 'd')
        a->dry_run = true;
    else
        return -1;
    return 0;
}

/*  Whole file, NUL-terminated; NULL with a message printed.  */
static char *
read_bounded (ctl_t *ctl, const char *path, size_t *len)
{
    bool stdin_ = strcmp (path, "-") == 0;
    FILE *f = stdin_ ? stdin : fopen (path, "rb");
    if (!f) {
        ctl_error (ctl, CTL_EXIT_USAGE, "%s: %s", path, strerror (errno));
        return NULL;
    }
    char *buf = malloc (APPLY_MAX_BYTES + 2);
    size_t n = buf ? fread (buf, 1, APPLY_MAX_BYTES + 1, f) : 0;
    bool failed = !buf || ferror (f);
    if (!stdin_)
        fclose (f);
    if (failed) {
        ctl_error (ctl, CTL_EXIT_USAGE, "%s: cannot read", path);
        free (buf);
        return NULL;
    }
    if (n > APPLY_MAX_BYTES) {
        ctl_error (ctl, CTL_EXIT_USAGE, "%s: larger than %u bytes", path, APPLY_MAX_BYTES);
        free (buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

int
cmd_apply (ctl_t *ctl, int argc, char **argv)
{
    static const struct option longopts[] = { CTL_GLOBAL_LONGOPTS,
                                              { "file", required_argument, NULL, 'f' },
                                              { "dry-run", no_argument, NULL, 'd' },
                                              { NULL, 0, NULL, 0 } };
    apply_args_t a = { 0 };
    int rc = ctl_getopt (ctl, argc, argv, "o:f:", longopts, apply_help, apply_opt, &a);
    if (rc != CTL_PARSED)
        return rc;
    if (optind < argc)
        return ctl_usage (ctl, "unexpected argument '%s'", argv[optind]);
    if (!a.file)
        return ctl_usage (ctl, "missing -f FILE");
    size_t len;
    char *text = read_bounded (ctl, a.file, &len);
    if (!text)
        return CTL_EXIT_USAGE;
    if (strlen (text) != len) {
        free (text);
        return ctl_error (ctl, CTL_EXIT_USAGE, "%s: contains a NUL byte", a.file);
    }
    rpc_client_t *client = ctl_client (ctl);
    if (!client) {
        free (text);
        return CTL_EXIT_USAGE;
    }
    Annotate__V1__ApplyManifestRequest req = ANNOTATE__V1__APPLY_MANIFEST_REQUEST__INIT;
    req.yaml = text;
    req.dry_run = a.dry_run;
    req.source_name = (char *) a.file;
    ProtobufCMessage *resp;
    rpc_status_t st = rpc_call (client, CTL_METHOD ("ApplyManifest"), &req.base,
                                &annotate__v1__apply_manifest_response__descriptor, &resp,
                                ctl->timeout_ms);
    free (text);
    if (st.code != GRPC_STATUS_OK)
        return ctl_fail (ctl, &st);
    const Annotate__V1__ApplyManifestResponse *r = (const Annotate__V1__ApplyManifestResponse *) resp;
    if (ctl->output == CTL_OUT_JSON)
        ctl_print_json (ctl_message_json (resp), false);
    else {
        if (a.dry_run)
            printf ("dry run: manifest is valid, nothing stored\n");
        else if (r->applied)
            printf ("applied: version %" PRIu64 "\n", r->version);
        else
            printf ("not applied (version %" PRIu64 ")\n", r->version);
        printf ("%zu change%s\n", r->n_changes, r->n_changes == 1 ? "" : "s");
        for (size_t i = 0; i < r->n_changes; i++) {
            char line[600];
            printf ("  %s\n", ctl_escape (r->changes[i], 200, line, sizeof line));
        }
    }
    protobuf_c_message_free_unpacked (resp, NULL);
    return CTL_EXIT_OK;
}
