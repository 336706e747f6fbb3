/*  annotatectl: the command line client of an annotate cluster.

    Talks gRPC (annotate.v1.Annotate and grpc.health.v1.Health) to the
    coordinator; nothing here is privileged: any service can do the same
    through the .proto files. See docs/annotatectl.md.  */
#include "ctl.h"

#include <stdlib.h>
#include <string.h>

#define DEFAULT_ADDR       "127.0.0.1:7400"
#define DEFAULT_TIMEOUT_MS 10000

static const char usage_text[] =
    "usage: annotatectl [--addr HOST:PORT] [-o table|json] [--timeout SEC] COMMAND [ARGS]\n"
    "\n"
    "Commands:\n"
    "  status                 cluster counts, workers and actors\n"
    "  health                 gRPC health check; exit 0 only when SERVING\n"
    "  ingest FILE|-          send items from a JSONL file (one object a line)\n"
    "  get ID                 one item, its current label and label history\n"
    "  ls                     list items, filtered by label, source or status\n"
    "  watch                  follow label events as they are committed\n"
    "  apply -f FILE          apply (or --dry-run) a cluster manifest\n"
    "  label ID LABEL         a person's label for an item (SubmitLabel)\n"
    "  retrain                train a new model version now\n"
    "  propagate              spread known labels to unlabelled neighbours now\n"
    "  models                 model versions with their metrics\n"
    "  rollback VERSION       make an older model version current\n"
    "  stats                  active learning: queue, reviews, budget, accuracy, thresholds\n"
    "  review                 answer the review queue at the terminal, one key an item\n"
    "\n"
    "Options (also accepted after the command):\n"
    "  --addr HOST:PORT       coordinator address (default: $ANNOTATECTL_ADDR, else " DEFAULT_ADDR
    ")\n"
    "  -o, --output FORMAT    table (default) or json\n"
    "  --timeout SEC          deadline of each request (default 10)\n"
    "  --help                 this text; 'annotatectl COMMAND --help' for a command\n"
    "\n"
    "Exit codes:\n"
    "  0  ok\n"
    "  1  other server or internal error\n"
    "  2  usage error (bad arguments, unreadable input file)\n"
    "  3  not found\n"
    "  4  coordinator unreachable (UNAVAILABLE, or no connection before the deadline)\n"
    "  5  request rejected (INVALID_ARGUMENT, ALREADY_EXISTS, RESOURCE_EXHAUSTED,\n"
    "     FAILED_PRECONDITION), or a bad line under ingest --strict\n"
    "  6  ingest finished but some lines were skipped\n"
    "\n"
    "Errors are printed as 'annotatectl: COMMAND: CODE: details' on stderr.\n";

typedef struct {
    const char *name;
    int (*run) (ctl_t *ctl, int argc, char **argv);
} command_t;

static const command_t commands[] = {
    { "status", cmd_status }, { "health", cmd_health }, { "ingest", cmd_ingest },
    { "get", cmd_get },       { "ls", cmd_ls },         { "watch", cmd_watch },
    { "apply", cmd_apply },   { "label", cmd_label },   { "retrain", cmd_retrain },
    { "propagate", cmd_propagate },
    { "models", cmd_models }, { "rollback", cmd_rollback }, { "stats", cmd_stats },
    { "review", cmd_review },
};

int
main (int argc, char **argv)
{
    ctl_t ctl = { .output = CTL_OUT_TABLE, .timeout_ms = DEFAULT_TIMEOUT_MS };
    const char *env = getenv ("ANNOTATECTL_ADDR");
    ctl.addr = env && *env ? env : DEFAULT_ADDR;

    static const struct option longopts[] = { CTL_GLOBAL_LONGOPTS, { NULL, 0, NULL, 0 } };
    int opt;
    opterr = 0;
    while ((opt = getopt_long (argc, argv, "+o:", longopts, NULL)) != -1) {
        if (opt == CTL_OPT_HELP) {
            fputs (usage_text, stdout);
            return CTL_EXIT_OK;
        }
        if (opt == '?' || opt == ':')
            return ctl_usage (&ctl, "unknown or incomplete option '%s'", argv[optind - 1]);
        if (ctl_global_option (&ctl, opt, optarg) < 0)
            return CTL_EXIT_USAGE;
    }
    if (optind >= argc) {
        fputs (usage_text, stderr);
        return CTL_EXIT_USAGE;
    }
    const char *name = argv[optind];
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp (commands[i].name, name) == 0) {
            ctl.command = name;
            int rc = commands[i].run (&ctl, argc - optind, argv + optind);
            rpc_client_destroy (&ctl.client);
            return rc;
        }
    return ctl_usage (&ctl, "unknown command '%s'", name);
}
