/*  cmd_items.c: `annotatectl get ID` (GetItem) and `annotatectl ls`
    (ListItems, paged).  */
#include "ctl.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static const char get_help[] =
    "usage: annotatectl get ID [--no-history] [-o table|json]\n"
    "\n"
    "Shows one item: text, vector length, meta, status, current label and the\n"
    "label history (oldest first). Exits 3 when the id is unknown.\n";

static const char ls_help[] =
    "usage: annotatectl ls [--label L] [--source S] [--status S] [--limit N]\n"
    "                      [--page-token T] [--all] [-o table|json]\n"
    "\n"
    "Lists items (id order), filtered by current label, label source or status.\n"
    "  --limit N        at most N items (default 100)\n"
    "  --page-token T   continue where a previous listing stopped\n"
    "  --all            every matching item, however many pages\n"
    "Sources: none model human gold auto propagation duplicate llm\n"
    "Statuses: pending labelled review accepted\n";

/* ---- get ------------------------------------------------------------------ */

static const char *
or_dash (const char *s, char *buf, size_t cap)
{
    return s && *s ? ctl_escape (s, 80, buf, cap) : "-";
}

static void
print_label (const Annotate__V1__Label *l)
{
    char buf[4][512];
    printf ("label        %s\n", l->label && *l->label ? ctl_escape (l->label, 80, buf[0], 512)
                                                       : "(none)");
    printf ("  confidence %.3f\n", l->confidence);
    printf ("  source     %s\n", ctl_source_name (l->source));
    printf ("  model      %" PRIu64 "\n", l->model_version);
    printf ("  annotator  %s\n", or_dash (l->annotator, buf[1], 512));
    printf ("  worker     %s\n", or_dash (l->worker, buf[2], 512));
    printf ("  time       %s\n", ctl_time (l->time_ms, buf[3], 64));
    if (l->source == ANNOTATE__V1__LABEL_SOURCE__SOURCE_MODEL
        || l->source == ANNOTATE__V1__LABEL_SOURCE__SOURCE_AUTO)
        printf ("  uncertainty %.3f\n", l->uncertainty);
    if (l->source == ANNOTATE__V1__LABEL_SOURCE__SOURCE_AUTO)
        printf ("  threshold  %.3f (auto-accepted)\n", l->threshold);
    if (l->reason == ANNOTATE__V1__REVIEW_REASON__REASON_UNCERTAIN)
        printf ("  asked      the model was unsure\n");
    else if (l->reason == ANNOTATE__V1__REVIEW_REASON__REASON_VALIDATION)
        printf ("  asked      validation sample\n");
    else if (l->reason == ANNOTATE__V1__REVIEW_REASON__REASON_COLD_START)
        printf ("  asked      cold start\n");
    if (l->duplicate_of && *l->duplicate_of)
        printf ("  copied from %s\n", ctl_escape (l->duplicate_of, 200, buf[1], 512));
}

static void
print_history (Annotate__V1__LabelEvent **events, size_t n)
{
    static const char *const head[] = { "SEQ", "LABEL", "SOURCE", "CONFIDENCE", "MODEL", "TIME" };
    ctl_table_t *t = ctl_table_new (6, head);
    for (size_t i = 0; i < n; i++) {
        const Annotate__V1__Label *l = events[i]->label;
        char seq[24], label[160], conf[16], model[24], when[40];
        snprintf (seq, sizeof seq, "%" PRIu64, events[i]->seq);
        snprintf (conf, sizeof conf, "%.3f", l ? l->confidence : 0.0f);
        snprintf (model, sizeof model, l && l->model_version ? "%" PRIu64 : "-",
                  l ? l->model_version : 0);
        const char *const row[] = {
            seq, l ? ctl_escape (l->label, 40, label, sizeof label) : "-",
            l ? ctl_source_name (l->source) : "-", conf, model,
            ctl_time (l ? l->time_ms : 0, when, sizeof when),
        };
        ctl_table_row (t, row);
    }
    printf ("\n");
    ctl_table_print (t, stdout);
    ctl_table_destroy (&t);
}

static void
print_item (const Annotate__V1__GetItemResponse *r)
{
    static char buf[1024];
    const Annotate__V1__Item *it = r->item;
    printf ("id           %s\n", ctl_escape (it ? it->id : "", 200, buf, sizeof buf));
    printf ("status       %s\n", ctl_status_name (r->status));
    if (it) {
        printf ("text         %s\n", ctl_escape (it->text, 200, buf, sizeof buf));
        printf ("vector       %zu dims\n", it->n_vector);
        printf ("meta         %s\n", it->meta_json && *it->meta_json
                                         ? ctl_escape (it->meta_json, 200, buf, sizeof buf)
                                         : "-");
        printf ("ingested     %s\n", ctl_time (it->ingested_at_ms, buf, sizeof buf));
    }
    if (r->duplicate_of && *r->duplicate_of)
        printf ("duplicate of %s (shares its label)\n",
                ctl_escape (r->duplicate_of, 200, buf, sizeof buf));
    if (r->duplicates)
        printf ("duplicates   %" PRIu64 " items share this item's label\n", r->duplicates);
    if (r->label)
        print_label (r->label);
    else
        printf ("label        (not labelled yet)\n");
    if (r->n_history)
        print_history (r->history, r->n_history);
}

static int
get_opt (ctl_t *ctl, void *args, int opt, const char *arg)
{
    if (opt != 'n')
        return -1;
    *(bool *) args = true;
    return 0;
}

int
cmd_get (ctl_t *ctl, int argc, char **argv)
{
    static const struct option longopts[] = { CTL_GLOBAL_LONGOPTS,
                                              { "no-history", no_argument, NULL, 'n' },
                                              { NULL, 0, NULL, 0 } };
    bool no_history = false;
    int rc = ctl_getopt (ctl, argc, argv, "o:", longopts, get_help, get_opt, &no_history);
    if (rc != CTL_PARSED)
        return rc;
    if (optind + 1 != argc)
        return ctl_usage (ctl, optind >= argc ? "missing ID" : "exactly one ID, please");
    rpc_client_t *client = ctl_client (ctl);
    if (!client)
        return CTL_EXIT_USAGE;
    Annotate__V1__GetItemRequest req = ANNOTATE__V1__GET_ITEM_REQUEST__INIT;
    req.id = argv[optind];
    req.no_history = no_history;
    ProtobufCMessage *resp;
    rpc_status_t st = rpc_call (client, CTL_METHOD ("GetItem"), &req.base,
                                &annotate__v1__get_item_response__descriptor, &resp,
                                ctl->timeout_ms);
    if (st.code != GRPC_STATUS_OK)
        return ctl_fail (ctl, &st);
    if (ctl->output == CTL_OUT_JSON)
        ctl_print_json (ctl_message_json (resp), false);
    else
        print_item ((const Annotate__V1__GetItemResponse *) resp);
    protobuf_c_message_free_unpacked (resp, NULL);
    return CTL_EXIT_OK;
}

/* ---- ls ------------------------------------------------------------------- */

typedef struct {
    Annotate__V1__ListItemsRequest req;
    uint64_t limit;
    bool all;
} ls_args_t;

static int
ls_opt (ctl_t *ctl, void *argp, int opt, const char *arg)
{
    ls_args_t *a = argp;
    int v;
    switch (opt) {
    case 'l':
        a->req.label = (char *) arg;
        return 0;
    case 's':
        if ((v = ctl_source_parse (arg)) < 0)
            return ctl_usage (ctl, "--source: unknown source '%s'", arg), -1;
        a->req.source = v;
        return 0;
    case 'S':
        if ((v = ctl_status_parse (arg)) < 0)
            return ctl_usage (ctl, "--status: unknown status '%s'", arg), -1;
        a->req.status = v;
        return 0;
    case 'n':
        if (!ctl_parse_u64 (arg, &a->limit) || a->limit == 0)
            return ctl_usage (ctl, "--limit: expected a number > 0, not '%s'", arg), -1;
        return 0;
    case 'p':
        a->req.page_token = (char *) arg;
        return 0;
    case 'a':
        a->all = true;
        return 0;
    }
    return -1;
}

static void
add_rows (ctl_table_t *t, json_t *list, const Annotate__V1__ListItemsResponse *r, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const Annotate__V1__ItemSummary *s = r->items[i];
        if (list) {
            json_array_append_new (list, ctl_message_json (&s->base));
            continue;
        }
        char id[400], label[160], conf[16], text[400];
        snprintf (conf, sizeof conf, s->label ? "%.3f" : "-", s->label ? s->label->confidence : 0);
        const char *const row[] = {
            ctl_escape (s->id, 64, id, sizeof id),
            ctl_status_name (s->status),
            s->label ? ctl_escape (s->label->label, 32, label, sizeof label) : "-",
            s->label ? ctl_source_name (s->label->source) : "-",
            conf,
            ctl_escape (s->text_preview, 60, text, sizeof text),
        };
        ctl_table_row (t, row);
    }
}

int
cmd_ls (ctl_t *ctl, int argc, char **argv)
{
    static const struct option longopts[] = {
        CTL_GLOBAL_LONGOPTS,
        { "label", required_argument, NULL, 'l' },  { "source", required_argument, NULL, 's' },
        { "status", required_argument, NULL, 'S' }, { "limit", required_argument, NULL, 'n' },
        { "page-token", required_argument, NULL, 'p' }, { "all", no_argument, NULL, 'a' },
        { NULL, 0, NULL, 0 }
    };
    ls_args_t a = { .req = ANNOTATE__V1__LIST_ITEMS_REQUEST__INIT, .limit = 100 };
    int rc = ctl_getopt (ctl, argc, argv, "o:", longopts, ls_help, ls_opt, &a);
    if (rc != CTL_PARSED)
        return rc;
    if (optind < argc)
        return ctl_usage (ctl, "unexpected argument '%s'", argv[optind]);
    rpc_client_t *client = ctl_client (ctl);
    if (!client)
        return CTL_EXIT_USAGE;
    static const char *const head[] = { "ID", "STATUS", "LABEL", "SOURCE", "CONFIDENCE", "TEXT" };
    ctl_table_t *table = ctl->output == CTL_OUT_TABLE ? ctl_table_new (6, head) : NULL;
    json_t *list = ctl->output == CTL_OUT_JSON ? json_array () : NULL;
    uint64_t shown = 0;
    char *token = NULL;   /* next page token, owned */
    rc = CTL_EXIT_OK;
    for (;;) {
        uint64_t want = a.all ? 1000 : a.limit - shown;
        a.req.page_size = (uint32_t) (want > 1000 ? 1000 : want);
        ProtobufCMessage *resp;
        rpc_status_t st = rpc_call (client, CTL_METHOD ("ListItems"), &a.req.base,
                                    &annotate__v1__list_items_response__descriptor, &resp,
                                    ctl->timeout_ms);
        if (st.code != GRPC_STATUS_OK) {
            rc = ctl_fail (ctl, &st);
            break;
        }
        const Annotate__V1__ListItemsResponse *r = (const Annotate__V1__ListItemsResponse *) resp;
        size_t n = r->n_items;
        if (!a.all && n > a.limit - shown)
            n = (size_t) (a.limit - shown);
        add_rows (table, list, r, n);
        shown += n;
        /* a page that did not move forward would loop forever: stop */
        bool stuck = token && strcmp (token, r->next_page_token) == 0;
        free (token);
        token = r->next_page_token && *r->next_page_token ? strdup (r->next_page_token) : NULL;
        protobuf_c_message_free_unpacked (resp, NULL);
        if (!token || stuck || (!a.all && shown >= a.limit))
            break;
        a.req.page_token = token;
    }
    if (rc == CTL_EXIT_OK && table) {
        ctl_table_print (table, stdout);
        char shown_token[512];
        if (token && !a.all)
            fprintf (stderr, "more items: continue with --page-token %s\n",
                     ctl_escape (token, 400, shown_token, sizeof shown_token));
    }
    if (rc == CTL_EXIT_OK && list) {
        json_t *o = json_object ();
        json_object_set_new (o, "items", list);
        json_object_set_new (o, "next_page_token", json_string (token && !a.all ? token : ""));
        ctl_print_json (o, false);
    }
    else if (list)
        json_decref (list);
    ctl_table_destroy (&table);
    free (token);
    return rc;
}
