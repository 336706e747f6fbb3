/*  cmd_learning.c: the learning loop from the command line.

      label ID LABEL [--by WHO]   SubmitLabel: a person's label for one item
      retrain [--reason TEXT]     Retrain: order a new model version now
      models [--classes]          ListModels: every version with its metrics
      rollback VERSION            Rollback: make an older version current

    The server checks everything (the label against the taxonomy, the id,
    whether a retraining actor is placed); these commands only shape the
    request and print the answer, so their exit codes are the usual
    mapping of gRPC codes (ctl_fail).  */
#include "ctl.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static const char label_help[] =
    "usage: annotatectl label ID LABEL [--by WHO] [-o table|json]\n"
    "\n"
    "Stores a person's label for item ID (SubmitLabel, source human). It is\n"
    "applied to the annotation actors' models at once and counts toward the\n"
    "next retrain. Prints the sequence number of the label event.\n"
    "  --by WHO   the annotator (default: $USER, else anonymous)\n"
    "Exit 3 when the id is unknown, 5 when LABEL is not in the taxonomy.\n";

static const char propagate_help[] =
    "usage: annotatectl propagate [--reason TEXT] [-o table|json]\n"
    "\n"
    "Orders an active_learning actor to spread the known labels (people's,\n"
    "gold, auto-accepted) to their unlabelled neighbours now (Propagate):\n"
    "label spreading over a kNN graph of the items. A result whose\n"
    "confidence meets its class threshold (fitted on the validation sample)\n"
    "is stored as source propagation; 'annotatectl stats' counts them.\n"
    "  --reason TEXT   recorded with the order (default: manual)\n"
    "Exit 5 when no propagation is possible (e.g. no active_learning actor).\n";

static const char retrain_help[] =
    "usage: annotatectl retrain [--reason TEXT] [-o table|json]\n"
    "\n"
    "Orders a retraining actor to train a new model version now (Retrain).\n"
    "Prints the order id and the actor and worker that took it. The new\n"
    "version shows up in 'annotatectl models' when training is done.\n"
    "  --reason TEXT   recorded with the order (default: manual)\n"
    "Exit 5 when no retraining is possible (e.g. no retraining actor placed).\n";

static const char models_help[] =
    "usage: annotatectl models [--classes] [-o table|json]\n"
    "\n"
    "Lists the model versions, oldest first (ListModels): status (current,\n"
    "published, rejected), validation accuracy, the parent's accuracy on the\n"
    "same split (BASELINE), expected calibration error, training and\n"
    "validation sizes, training time, creation time, who trained it.\n"
    "  --classes   also per-class precision, recall and support\n"
    "-o json prints an array of ModelInfo objects (always with classes).\n";

static const char rollback_help[] =
    "usage: annotatectl rollback VERSION [-o table|json]\n"
    "\n"
    "Makes model VERSION current again (Rollback); workers switch to it and\n"
    "items labelled by other versions are re-annotated in the background.\n"
    "Exit 3 when the version is unknown.\n";

/*  Runs one unary call; on failure prints it and returns the exit code.  */
static int
call (ctl_t *ctl, const char *method, const ProtobufCMessage *req,
      const ProtobufCMessageDescriptor *desc, ProtobufCMessage **resp)
{
    rpc_client_t *client = ctl_client (ctl);
    if (!client)
        return CTL_EXIT_USAGE;
    rpc_status_t st = rpc_call (client, method, req, desc, resp, ctl->timeout_ms);
    return st.code == GRPC_STATUS_OK ? CTL_EXIT_OK : ctl_fail (ctl, &st);
}

/*  -o json of the whole response, or fn's table; frees the response.  */
static int
print_and_free (ctl_t *ctl, ProtobufCMessage *resp, void (*fn) (const ProtobufCMessage *))
{
    if (ctl->output == CTL_OUT_JSON)
        ctl_print_json (ctl_message_json (resp), false);
    else
        fn (resp);
    protobuf_c_message_free_unpacked (resp, NULL);
    return CTL_EXIT_OK;
}

/*  One string option (--by, --reason) into *args.  */
static int
string_opt (ctl_t *ctl, void *args, int opt, const char *arg)
{
    (void) ctl;
    if (opt != 's')
        return -1;
    *(const char **) args = arg;
    return 0;
}

/* ---- label ------------------------------------------------------------------ */

static void
print_label (const ProtobufCMessage *m)
{
    printf ("seq %" PRIu64 "\n", ((const Annotate__V1__SubmitLabelResponse *) m)->seq);
}

int
cmd_label (ctl_t *ctl, int argc, char **argv)
{
    static const struct option longopts[] = { CTL_GLOBAL_LONGOPTS,
                                              { "by", required_argument, NULL, 's' },
                                              { NULL, 0, NULL, 0 } };
    const char *by = NULL;
    int rc = ctl_getopt (ctl, argc, argv, "o:", longopts, label_help, string_opt, &by);
    if (rc != CTL_PARSED)
        return rc;
    if (argc - optind != 2)
        return ctl_usage (ctl, "expected ID LABEL");
    if (!by) {
        const char *user = getenv ("USER");
        by = user && *user ? user : "anonymous";
    }
    Annotate__V1__SubmitLabelRequest req = ANNOTATE__V1__SUBMIT_LABEL_REQUEST__INIT;
    req.id = argv[optind];
    req.label = argv[optind + 1];
    req.annotator = (char *) by;
    ProtobufCMessage *resp;
    rc = call (ctl, CTL_METHOD ("SubmitLabel"), &req.base,
               &annotate__v1__submit_label_response__descriptor, &resp);
    return rc != CTL_EXIT_OK ? rc : print_and_free (ctl, resp, print_label);
}

/* ---- retrain ---------------------------------------------------------------- */

static void
print_order (uint64_t order, const char *actor_name, const char *worker_name)
{
    char actor[256], worker[256];
    printf ("order   %" PRIu64 "\n", order);
    printf ("actor   %s\n", ctl_escape (actor_name, 80, actor, sizeof actor));
    printf ("worker  %s\n", ctl_escape (worker_name, 80, worker, sizeof worker));
}

static void
print_retrain (const ProtobufCMessage *m)
{
    const Annotate__V1__RetrainResponse *r = (const Annotate__V1__RetrainResponse *) m;
    print_order (r->order, r->actor, r->worker);
}

static void
print_propagate (const ProtobufCMessage *m)
{
    const Annotate__V1__PropagateResponse *r = (const Annotate__V1__PropagateResponse *) m;
    print_order (r->order, r->actor, r->worker);
}

/*  The [--reason TEXT] of retrain and propagate; CTL_PARSED when *reason is set.  */
static int
reason_opt (ctl_t *ctl, int argc, char **argv, const char *help, const char **reason)
{
    static const struct option longopts[] = { CTL_GLOBAL_LONGOPTS,
                                              { "reason", required_argument, NULL, 's' },
                                              { NULL, 0, NULL, 0 } };
    *reason = "manual";
    int rc = ctl_getopt (ctl, argc, argv, "o:", longopts, help, string_opt, reason);
    if (rc == CTL_PARSED && optind < argc)
        return ctl_usage (ctl, "unexpected argument '%s'", argv[optind]);
    return rc;
}

int
cmd_retrain (ctl_t *ctl, int argc, char **argv)
{
    Annotate__V1__RetrainRequest req = ANNOTATE__V1__RETRAIN_REQUEST__INIT;
    const char *reason;
    int rc = reason_opt (ctl, argc, argv, retrain_help, &reason);
    if (rc != CTL_PARSED)
        return rc;
    req.reason = (char *) reason;
    ProtobufCMessage *resp;
    rc = call (ctl, CTL_METHOD ("Retrain"), &req.base,
               &annotate__v1__retrain_response__descriptor, &resp);
    return rc != CTL_EXIT_OK ? rc : print_and_free (ctl, resp, print_retrain);
}

int
cmd_propagate (ctl_t *ctl, int argc, char **argv)
{
    Annotate__V1__PropagateRequest req = ANNOTATE__V1__PROPAGATE_REQUEST__INIT;
    const char *reason;
    int rc = reason_opt (ctl, argc, argv, propagate_help, &reason);
    if (rc != CTL_PARSED)
        return rc;
    req.reason = (char *) reason;
    ProtobufCMessage *resp;
    rc = call (ctl, CTL_METHOD ("Propagate"), &req.base,
               &annotate__v1__propagate_response__descriptor, &resp);
    return rc != CTL_EXIT_OK ? rc : print_and_free (ctl, resp, print_propagate);
}

/* ---- models ----------------------------------------------------------------- */

static void
models_table (const Annotate__V1__ListModelsResponse *r)
{
    static const char *const head[] = { "VERSION", "STATUS", "ACCURACY", "BASELINE", "ECE",
                                        "N_TRAIN", "N_VALID", "TRAIN_MS", "CREATED",
                                        "TRAINED_BY" };
    ctl_table_t *t = ctl_table_new (10, head);
    for (size_t i = 0; i < r->n_models; i++) {
        const Annotate__V1__ModelInfo *m = r->models[i];
        char ver[24], status[64], acc[16], base[16], ece[16], ntr[24], nva[24], ms[24];
        char created[40], by[200];
        snprintf (ver, sizeof ver, "%" PRIu64, m->version);
        snprintf (acc, sizeof acc, "%.3f", m->accuracy);
        /* a first model has no parent to compare with */
        snprintf (base, sizeof base, m->parent ? "%.3f" : "-", m->baseline_accuracy);
        snprintf (ece, sizeof ece, "%.3f", m->ece);
        snprintf (ntr, sizeof ntr, "%" PRIu64, m->n_train);
        snprintf (nva, sizeof nva, "%" PRIu64, m->n_valid);
        snprintf (ms, sizeof ms, "%.0f", m->train_ms);
        const char *const row[] = {
            ver, ctl_escape (m->status, 12, status, sizeof status), acc, base, ece, ntr, nva, ms,
            ctl_time (m->created_ms, created, sizeof created),
            m->trained_by && *m->trained_by ? ctl_escape (m->trained_by, 40, by, sizeof by) : "-",
        };
        ctl_table_row (t, row);
    }
    ctl_table_print (t, stdout);
    ctl_table_destroy (&t);
}

static void
classes_table (const Annotate__V1__ListModelsResponse *r)
{
    static const char *const head[] = { "VERSION", "CLASS", "PRECISION", "RECALL", "SUPPORT" };
    ctl_table_t *t = ctl_table_new (5, head);
    for (size_t i = 0; i < r->n_models; i++) {
        const Annotate__V1__ModelInfo *m = r->models[i];
        for (size_t k = 0; k < m->n_classes; k++) {
            const Annotate__V1__ClassMetrics *c = m->classes[k];
            char ver[24], label[160], prec[16], rec[16], sup[24];
            snprintf (ver, sizeof ver, "%" PRIu64, m->version);
            snprintf (prec, sizeof prec, "%.3f", c->precision);
            snprintf (rec, sizeof rec, "%.3f", c->recall);
            snprintf (sup, sizeof sup, "%" PRIu64, c->support);
            const char *const row[] = { ver, ctl_escape (c->label, 40, label, sizeof label), prec,
                                        rec, sup };
            ctl_table_row (t, row);
        }
    }
    printf ("\n");
    ctl_table_print (t, stdout);
    ctl_table_destroy (&t);
}

static int
models_opt (ctl_t *ctl, void *args, int opt, const char *arg)
{
    (void) ctl;
    (void) arg;
    if (opt != 'c')
        return -1;
    *(bool *) args = true;
    return 0;
}

int
cmd_models (ctl_t *ctl, int argc, char **argv)
{
    static const struct option longopts[] = { CTL_GLOBAL_LONGOPTS,
                                              { "classes", no_argument, NULL, 'c' },
                                              { NULL, 0, NULL, 0 } };
    bool classes = false;
    int rc = ctl_getopt (ctl, argc, argv, "o:", longopts, models_help, models_opt, &classes);
    if (rc != CTL_PARSED)
        return rc;
    if (optind < argc)
        return ctl_usage (ctl, "unexpected argument '%s'", argv[optind]);
    Annotate__V1__ListModelsRequest req = ANNOTATE__V1__LIST_MODELS_REQUEST__INIT;
    ProtobufCMessage *resp;
    rc = call (ctl, CTL_METHOD ("ListModels"), &req.base,
               &annotate__v1__list_models_response__descriptor, &resp);
    if (rc != CTL_EXIT_OK)
        return rc;
    const Annotate__V1__ListModelsResponse *r = (const Annotate__V1__ListModelsResponse *) resp;
    if (ctl->output == CTL_OUT_JSON) {
        json_t *list = json_array ();
        for (size_t i = 0; i < r->n_models; i++)
            json_array_append_new (list, ctl_message_json (&r->models[i]->base));
        ctl_print_json (list, false);
    }
    else if (r->n_models == 0)
        printf ("no model versions yet\n");
    else {
        models_table (r);
        if (classes)
            classes_table (r);
    }
    protobuf_c_message_free_unpacked (resp, NULL);
    return CTL_EXIT_OK;
}

/* ---- rollback --------------------------------------------------------------- */

static void
print_rollback (const ProtobufCMessage *m)
{
    printf ("current model: version %" PRIu64 "\n",
            ((const Annotate__V1__RollbackResponse *) m)->current);
}

int
cmd_rollback (ctl_t *ctl, int argc, char **argv)
{
    static const struct option longopts[] = { CTL_GLOBAL_LONGOPTS, { NULL, 0, NULL, 0 } };
    int rc = ctl_getopt (ctl, argc, argv, "o:", longopts, rollback_help, NULL, NULL);
    if (rc != CTL_PARSED)
        return rc;
    if (argc - optind != 1)
        return ctl_usage (ctl, "expected one VERSION");
    Annotate__V1__RollbackRequest req = ANNOTATE__V1__ROLLBACK_REQUEST__INIT;
    if (!ctl_parse_u64 (argv[optind], &req.version) || req.version == 0)
        return ctl_usage (ctl, "VERSION: expected a number > 0, not '%s'", argv[optind]);
    ProtobufCMessage *resp;
    rc = call (ctl, CTL_METHOD ("Rollback"), &req.base,
               &annotate__v1__rollback_response__descriptor, &resp);
    return rc != CTL_EXIT_OK ? rc : print_and_free (ctl, resp, print_rollback);
}
