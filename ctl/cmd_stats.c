/*  cmd_stats.c: `annotatectl stats`, the active-learning numbers (Stats).

    One screen for the person running the review: what the labels are made
    of (counts by source), how much work waits for people and why, how fast
    it goes against the budget, and how good the machine labels are: the
    auto-accepted labels' estimated accuracy and the current model's
    accuracy on the random validation sample, each with its Wilson
    interval, and the per-class auto-accept thresholds.

    Estimates without data behind them (no model, nothing measured in the
    validation sample: an interval whose upper bound is 0) print "-" with
    the reason, never a made-up 0.000.  */
#include "ctl.h"

#include <inttypes.h>
#include <string.h>

static const char stats_help[] =
    "usage: annotatectl stats [--json] [-o table|json]\n"
    "\n"
    "Shows the active-learning state (Stats): items by label source, the review\n"
    "queue (uncertain, validation, cold start) and leased items, reviews and\n"
    "the review budget, the strategy and target accuracy, the estimated\n"
    "accuracy of auto-accepted labels and of the current model on the validation\n"
    "sample (point estimate [Wilson interval]), human agreement with the\n"
    "suggestions, and the per-class auto-accept thresholds.\n"
    "  --json   the whole StatsResponse as JSON (same as -o json)\n";

/*  Sources in the order people ask about them; human and auto always shown.  */
static const struct {
    int source;
    bool always;
} source_order[] = {
    { ANNOTATE__V1__LABEL_SOURCE__SOURCE_HUMAN, true },
    { ANNOTATE__V1__LABEL_SOURCE__SOURCE_GOLD, false },
    { ANNOTATE__V1__LABEL_SOURCE__SOURCE_AUTO, true },
    { ANNOTATE__V1__LABEL_SOURCE__SOURCE_MODEL, false },
    { ANNOTATE__V1__LABEL_SOURCE__SOURCE_NONE, false },
    { ANNOTATE__V1__LABEL_SOURCE__SOURCE_PROPAGATION, false },
    { ANNOTATE__V1__LABEL_SOURCE__SOURCE_DUPLICATE, false },
    { ANNOTATE__V1__LABEL_SOURCE__SOURCE_LLM, false },
};
#define N_SOURCE_ORDER (sizeof source_order / sizeof source_order[0])

static uint64_t
source_count (const Annotate__V1__StatsResponse *r, int source)
{
    uint64_t n = 0;     /* summed: a repeated entry must not hide counts */
    for (size_t i = 0; i < r->n_sources; i++)
        if (r->sources[i] && (int) r->sources[i]->source == source)
            n += r->sources[i]->count;
    return n;
}

static void
print_items (const Annotate__V1__StatsResponse *r)
{
    char line[512];
    size_t used = 0;
    line[0] = '\0';
    for (size_t i = 0; i < N_SOURCE_ORDER; i++) {
        uint64_t n = source_count (r, source_order[i].source);
        if (n == 0 && !source_order[i].always)
            continue;
        used += (size_t) snprintf (line + used, sizeof line - used, "%s%s %" PRIu64,
                                   used ? ", " : "", ctl_source_name (source_order[i].source), n);
    }
    printf ("items           %" PRIu64 " (%s)\n", r->items, line);
}

/*  "0.962 [0.941, 0.976]", or "-" with why when there is nothing to measure.  */
static const char *
estimate (double p, double lo, double hi, bool known, const char *why, char *out, size_t cap)
{
    if (known)
        snprintf (out, cap, "%.3f [%.3f, %.3f]", p, lo, hi);
    else
        snprintf (out, cap, "- (%s)", why);
    return out;
}

static void
print_budget (const Annotate__V1__StatsResponse *r)
{
    char total[32], hour[32];
    snprintf (total, sizeof total, "%" PRIu64, r->budget_total);
    snprintf (hour, sizeof hour, "%" PRIu64, r->budget_per_hour);
    printf ("budget          total %s, per hour %s\n", r->budget_total ? total : "unlimited",
            r->budget_per_hour ? hour : "unlimited");
}

static void
print_summary (const Annotate__V1__StatsResponse *r)
{
    char strategy[160], buf[96];
    print_items (r);
    printf ("queue           %" PRIu64 " waiting (uncertain %" PRIu64 ", validation %" PRIu64
            ", cold start %" PRIu64 "), %" PRIu64 " leased\n",
            r->queue_depth, r->queue_uncertain, r->queue_validation, r->queue_cold_start,
            r->leased);
    printf ("reviews         %" PRIu64 " (last hour %" PRIu64 ", %.1f/h)\n", r->reviews,
            r->reviews_last_hour, r->reviews_per_hour);
    print_budget (r);
    printf ("validation      %" PRIu64 " human answers on the validation sample\n",
            r->validation_labels);
    printf ("duplicates      %" PRIu64 " items labelled for free (exact copies of others)\n",
            r->duplicates);
    printf ("strategy        %s\n",
            r->strategy && *r->strategy ? ctl_escape (r->strategy, 40, strategy, sizeof strategy)
                                        : "-");
    printf ("target          %.3f accuracy\n", r->target_accuracy);
    if (r->current_model)
        printf ("model           version %" PRIu64 "\n", r->current_model);
    else
        printf ("model           none yet\n");
    /* a Wilson interval has upper > 0 as soon as one item was measured */
    printf ("auto accuracy   %s\n",
            estimate (r->auto_accuracy, r->auto_lower, r->auto_upper, r->auto_upper > 0,
                      "nothing measured yet", buf, sizeof buf));
    bool model_known = r->current_model && r->model_upper > 0;
    printf ("model accuracy  %s%s\n",
            estimate (r->model_accuracy, r->model_lower, r->model_upper, model_known,
                      r->current_model ? "empty validation sample" : "no model yet", buf,
                      sizeof buf),
            model_known ? " on the validation sample" : "");
    if (r->reviews)
        printf ("agreement       %.3f of reviews accepted the suggestion\n", r->human_agreement);
    else
        printf ("agreement       - (no reviews yet)\n");
}

static void
print_thresholds (const Annotate__V1__StatsResponse *r)
{
    static const char *const head[] = { "LABEL",    "AUTO",     "THRESHOLD",
                                        "N_ABOVE",  "ACCURACY", "INTERVAL" };
    ctl_table_t *t = ctl_table_new (6, head);
    for (size_t i = 0; i < r->n_thresholds; i++) {
        const Annotate__V1__ClassThreshold *c = r->thresholds[i];
        if (!c)
            continue;
        char label[160], thr[16], above[16], acc[16], interval[40];
        snprintf (thr, sizeof thr, "%.3f", c->threshold);
        snprintf (above, sizeof above, "%u", c->n_above);
        /* no validation item above the threshold: nothing was measured */
        snprintf (acc, sizeof acc, c->n_above ? "%.3f" : "-", c->accuracy);
        snprintf (interval, sizeof interval, c->n_above ? "[%.3f, %.3f]" : "-", c->lower,
                  c->upper);
        const char *const row[] = { ctl_escape (c->label, 40, label, sizeof label),
                                    c->enabled ? "on" : "off", thr, above, acc, interval };
        ctl_table_row (t, row);
    }
    printf ("\n");
    ctl_table_print (t, stdout);
    ctl_table_destroy (&t);
}

static int
stats_opt (ctl_t *ctl, void *args, int opt, const char *arg)
{
    if (opt != 'j')
        return -1;
    ctl->output = CTL_OUT_JSON;
    return 0;
}

int
cmd_stats (ctl_t *ctl, int argc, char **argv)
{
    static const struct option longopts[] = { CTL_GLOBAL_LONGOPTS,
                                              { "json", no_argument, NULL, 'j' },
                                              { NULL, 0, NULL, 0 } };
    int rc = ctl_getopt (ctl, argc, argv, "o:", longopts, stats_help, stats_opt, NULL);
    if (rc != CTL_PARSED)
        return rc;
    if (optind < argc)
        return ctl_usage (ctl, "unexpected argument '%s'", argv[optind]);
    rpc_client_t *client = ctl_client (ctl);
    if (!client)
        return CTL_EXIT_USAGE;
    Annotate__V1__StatsRequest req = ANNOTATE__V1__STATS_REQUEST__INIT;
    ProtobufCMessage *resp;
    rpc_status_t st = rpc_call (client, CTL_METHOD ("Stats"), &req.base,
                                &annotate__v1__stats_response__descriptor, &resp, ctl->timeout_ms);
    if (st.code != GRPC_STATUS_OK)
        return ctl_fail (ctl, &st);
    if (ctl->output == CTL_OUT_JSON)
        ctl_print_json (ctl_message_json (resp), false);
    else
        ctl_print_stats ((const Annotate__V1__StatsResponse *) resp);
    protobuf_c_message_free_unpacked (resp, NULL);
    return CTL_EXIT_OK;
}

void
ctl_print_stats (const Annotate__V1__StatsResponse *r)
{
    print_summary (r);
    if (r->n_thresholds)
        print_thresholds (r);
}
