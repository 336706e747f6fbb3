/*  common.c: option values, errors and exit codes shared by the commands.  */
#include "ctl.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

int
ctl_global_option (ctl_t *ctl, int opt, const char *arg)
{
    switch (opt) {
    case CTL_OPT_ADDR:
        if (!arg || !*arg) {
            ctl_usage (ctl, "--addr: empty address");
            return -1;
        }
        ctl->addr = arg;
        return 1;
    case 'o':
        if (strcmp (arg, "table") == 0)
            ctl->output = CTL_OUT_TABLE;
        else if (strcmp (arg, "json") == 0)
            ctl->output = CTL_OUT_JSON;
        else {
            ctl_usage (ctl, "-o: expected table or json, not '%s'", arg);
            return -1;
        }
        return 1;
    case CTL_OPT_TIMEOUT:
        if (!ctl_parse_seconds (arg, &ctl->timeout_ms) || ctl->timeout_ms == 0) {
            ctl_usage (ctl, "--timeout: expected seconds > 0, not '%s'", arg);
            return -1;
        }
        return 1;
    default:
        return 0;
    }
}

int
ctl_getopt (ctl_t *ctl, int argc, char **argv, const char *shortopts,
            const struct option *longopts, const char *help, ctl_opt_fn fn, void *args)
{
    int opt;
    optind = 0;     /* glibc: start over, argv[0] is the command */
    opterr = 0;
    while ((opt = getopt_long (argc, argv, shortopts, longopts, NULL)) != -1) {
        if (opt == CTL_OPT_HELP) {
            fputs (help, stdout);
            return CTL_EXIT_OK;
        }
        if (opt == '?' || opt == ':')
            return ctl_usage (ctl, "unknown option or missing value: '%s'", argv[optind - 1]);
        int rc = ctl_global_option (ctl, opt, optarg);
        if (rc == 0)
            rc = fn ? (fn (ctl, args, opt, optarg) == 0 ? 1 : -1) : -1;
        if (rc < 0)
            return CTL_EXIT_USAGE;
    }
    return CTL_PARSED;
}

static void
vprint (ctl_t *ctl, const char *fmt, va_list ap)
{
    fprintf (stderr, "annotatectl: ");
    if (ctl->command)
        fprintf (stderr, "%s: ", ctl->command);
    vfprintf (stderr, fmt, ap);
    fputc ('\n', stderr);
}

int
ctl_usage (ctl_t *ctl, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    vprint (ctl, fmt, ap);
    va_end (ap);
    fprintf (stderr, "Try 'annotatectl %s%s--help'.\n", ctl->command ? ctl->command : "",
             ctl->command ? " " : "");
    return CTL_EXIT_USAGE;
}

int
ctl_error (ctl_t *ctl, int code, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    vprint (ctl, fmt, ap);
    va_end (ap);
    return code;
}

rpc_client_t *
ctl_client (ctl_t *ctl)
{
    if (!ctl->client) {
        char err[256];
        rpc_client_options_t opts = { .user_agent = "annotatectl/0.1" };
        ctl->client = rpc_client_new (ctl->addr, &opts, err, sizeof err);
        if (!ctl->client)
            ctl_error (ctl, CTL_EXIT_USAGE, "%s", err);
    }
    return ctl->client;
}

int
ctl_exit_code (ctl_t *ctl, grpc_status_code code)
{
    switch (code) {
    case GRPC_STATUS_OK:
        return CTL_EXIT_OK;
    case GRPC_STATUS_NOT_FOUND:
        return CTL_EXIT_NOT_FOUND;
    case GRPC_STATUS_UNAVAILABLE:
        return CTL_EXIT_UNREACHABLE;
    case GRPC_STATUS_DEADLINE_EXCEEDED:
        return ctl->client && !rpc_client_ready (ctl->client) ? CTL_EXIT_UNREACHABLE
                                                              : CTL_EXIT_ERROR;
    case GRPC_STATUS_INVALID_ARGUMENT:
    case GRPC_STATUS_ALREADY_EXISTS:
    case GRPC_STATUS_RESOURCE_EXHAUSTED:
    case GRPC_STATUS_FAILED_PRECONDITION:
        return CTL_EXIT_REJECTED;
    default:
        return CTL_EXIT_ERROR;
    }
}

int
ctl_fail (ctl_t *ctl, const rpc_status_t *st)
{
    int code = ctl_exit_code (ctl, st->code);
    const char *hint = code == CTL_EXIT_UNREACHABLE ? " (is a coordinator listening at " : "";
    if (*hint)
        return ctl_error (ctl, code, "%s: %s%s%s?)", rpc_status_name (st->code), st->details, hint,
                          ctl->addr);
    return ctl_error (ctl, code, "%s: %s", rpc_status_name (st->code), st->details);
}

bool
ctl_parse_u64 (const char *s, uint64_t *out)
{
    if (!s || *s < '0' || *s > '9')
        return false;
    errno = 0;
    char *end;
    unsigned long long v = strtoull (s, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

bool
ctl_parse_seconds (const char *s, int64_t *ms)
{
    if (!s || !*s)
        return false;
    errno = 0;
    char *end;
    double v = strtod (s, &end);
    if (errno || *end || !isfinite (v) || v < 0 || v > 1e9)
        return false;
    *ms = (int64_t) (v * 1000.0 + 0.5);
    return true;
}
