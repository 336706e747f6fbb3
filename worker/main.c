/*  annotate-worker: hosts actors for an annotate coordinator.

    Thin: parses the command line and runs the agent (libannotate/agent)
    until SIGINT/SIGTERM. Exit codes: 0 after a clean leave, 1 when the
    coordinator rejected the worker, 2 for usage errors.
*/
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <czmq.h>

#include "agent/agent.h"
#include "util/util.h"

#define MAX_TAGS AGENT_MAX_TAGS

static void
s_usage (FILE *out)
{
    fprintf (out,
             "usage: annotate-worker [--coordinator ENDPOINT] [--name NAME] [--capacity N]\n"
             "                       [--tag key=value]... [--log-level debug|info|warn|error]\n"
             "                       [--help] [--version]\n"
             "\n"
             "  --coordinator ENDPOINT  ZeroMQ endpoint of the coordinator (default %s)\n"
             "  --name NAME             worker name; the manifest's workers[].name decides which\n"
             "                          actors it hosts (default: hostname-pid)\n"
             "  --capacity N            batches it may hold at once, 1..1024 (default 4)\n"
             "  --tag key=value         a label shown in cluster status (repeatable, at most %d)\n"
             "  --log-level LEVEL       debug, info, warn or error (default info)\n",
             AGENT_DEFAULT_ENDPOINT, MAX_TAGS);
}

static int
s_usage_error (const char *fmt, const char *arg)
{
    fprintf (stderr, "annotate-worker: ");
    fprintf (stderr, fmt, arg);
    fprintf (stderr, "\nTry 'annotate-worker --help'.\n");
    return 2;
}

static bool
s_parse_u32 (const char *s, uint32_t lo, uint32_t hi, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul (s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v < lo || v > hi)
        return false;
    *out = (uint32_t) v;
    return true;
}

int
main (int argc, char **argv)
{
    agent_config_t cfg = { 0 };
    const char *tags[MAX_TAGS];
    char default_name[320];
    char host[256] = "worker";
    gethostname (host, sizeof host - 1);
    host[sizeof host - 1] = 0;
    snprintf (default_name, sizeof default_name, "%.120s-%d", host, (int) getpid ());
    cfg.name = default_name;
    cfg.coordinator = AGENT_DEFAULT_ENDPOINT;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (streq (a, "--help") || streq (a, "-h")) {
            s_usage (stdout);
            return 0;
        }
        if (streq (a, "--version")) {
            printf ("annotate-worker 0.1.0 (cluster protocol %d)\n", 1);
            return 0;
        }
        bool takes = streq (a, "--coordinator") || streq (a, "--name") || streq (a, "--capacity")
                     || streq (a, "--tag") || streq (a, "--log-level")
                     || streq (a, "--protocol-version");
        if (!takes)
            return s_usage_error ("unknown option '%s'", a);
        if (!v)
            return s_usage_error ("option '%s' needs a value", a);
        i++;
        if (streq (a, "--coordinator"))
            cfg.coordinator = v;
        else if (streq (a, "--name"))
            cfg.name = v;
        else if (streq (a, "--capacity")) {
            if (!s_parse_u32 (v, 1, 1024, &cfg.capacity))
                return s_usage_error ("--capacity must be a number in 1..1024, not '%s'", v);
        }
        else if (streq (a, "--tag")) {
            if (cfg.n_tags == MAX_TAGS)
                return s_usage_error ("too many --tag options (at most %s)", "64");
            const char *eq = strchr (v, '=');
            if (!eq || eq == v || strlen (v) > 256)
                return s_usage_error ("--tag must be key=value, not '%s'", v);
            tags[cfg.n_tags++] = v;
        }
        else if (streq (a, "--log-level")) {
            log_level_t level;
            if (!log_level_parse (v, &level))
                return s_usage_error ("--log-level must be debug, info, warn or error, not '%s'", v);
            log_set_level (level);
        }
        else if (streq (a, "--protocol-version")) {
            /*  Hidden: lets tests play a worker of another protocol.  */
            if (!s_parse_u32 (v, 1, UINT32_MAX, &cfg.protocol_version))
                return s_usage_error ("--protocol-version must be a positive number, not '%s'", v);
        }
    }
    cfg.tags = tags;
    size_t nlen = strlen (cfg.name);
    if (nlen == 0 || nlen > 128 || !utf8_valid (cfg.name, nlen))
        return s_usage_error ("--name must be 1..128 bytes of UTF-8: '%s'", cfg.name);
    if (!cfg.coordinator[0])
        return s_usage_error ("--coordinator must not be empty%s", "");

    zsys_init ();
    agent_t *agent = agent_new (&cfg);
    if (!agent)
        return 2;
    int rc = agent_run (agent);
    agent_destroy (&agent);
    return rc;
}
