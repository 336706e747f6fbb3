/*  cmd_status.c: `annotatectl status` (ClusterStatus) and `annotatectl
    health` (grpc.health.v1.Health/Check).  */
#include "ctl.h"

#include <inttypes.h>
#include <string.h>

#include "grpc/health/v1/health.pb-c.h"

static const char status_help[] =
    "usage: annotatectl status [-o table|json]\n"
    "\n"
    "Shows the cluster: item counts, rates, workers and actors (ClusterStatus).\n";

static const char health_help[] =
    "usage: annotatectl health [--service NAME]\n"
    "\n"
    "Runs the standard gRPC health check and prints SERVING, NOT_SERVING, UNKNOWN\n"
    "or SERVICE_UNKNOWN. Exits 0 only when SERVING.\n";

static void
join_escaped (char **list, size_t n, char *out, size_t cap)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && used + 64 < cap; i++) {
        char one[64];
        ctl_escape (list[i], 24, one, sizeof one);
        used += (size_t) snprintf (out + used, cap - used, "%s%s", i ? "," : "", one);
    }
}

static void
print_summary (const Annotate__V1__ClusterStatusResponse *r)
{
    char cluster[256];
    char labels[512];
    join_escaped (r->labels, r->n_labels, labels, sizeof labels);
    uint64_t up = (uint64_t) (r->uptime_ms > 0 ? r->uptime_ms : 0) / 1000;
    printf ("cluster      %s\n", ctl_escape (r->cluster, 80, cluster, sizeof cluster));
    printf ("uptime       %" PRIu64 "h%02" PRIu64 "m%02" PRIu64 "s\n", up / 3600, up / 60 % 60,
            up % 60);
    printf ("manifest     version %" PRIu64 ", vector_dim %u, %zu labels%s%s\n",
            r->manifest_version, r->vector_dim, r->n_labels, r->n_labels ? ": " : "", labels);
    printf ("items        %" PRIu64 " (labelled %" PRIu64 ", pending %" PRIu64
            ", in_flight %" PRIu64 ")\n",
            r->items, r->labelled, r->pending, r->in_flight);
    printf ("last_seq     %" PRIu64 "\n", r->last_seq);
    printf ("rates        ingest %.1f items/s, label %.1f events/s\n", r->ingest_rate,
            r->label_rate);
    printf ("redelivered  %" PRIu64 " batches\n", r->redelivered);
    if (r->current_model)
        printf ("model        version %" PRIu64 " current, %" PRIu64 " retrain orders\n",
                r->current_model, r->retrains);
    else
        printf ("model        none yet, %" PRIu64 " retrain orders\n", r->retrains);
    printf ("human        %" PRIu64 " labels (%" PRIu64 " since the last retrain)\n",
            r->human_labels, r->human_since_retrain);
    printf ("store        %.1f MiB\n", (double) r->store_bytes / (1024.0 * 1024.0));
}

static void
print_workers (const Annotate__V1__ClusterStatusResponse *r)
{
    static const char *const head[] = { "WORKER", "STATE", "CAPACITY", "IN_FLIGHT",
                                        "BATCHES_DONE", "ITEMS_DONE", "ACTORS" };
    ctl_table_t *t = ctl_table_new (7, head);
    for (size_t i = 0; i < r->n_workers; i++) {
        const Annotate__V1__WorkerStatus *w = r->workers[i];
        char name[160], state[64], cap[16], inf[16], batches[24], items[24], actors[512];
        ctl_escape (w->name, 40, name, sizeof name);
        ctl_escape (w->state, 12, state, sizeof state);
        snprintf (cap, sizeof cap, "%u", w->capacity);
        snprintf (inf, sizeof inf, "%u", w->in_flight);
        snprintf (batches, sizeof batches, "%" PRIu64, w->batches_done);
        snprintf (items, sizeof items, "%" PRIu64, w->items_done);
        join_escaped (w->actors, w->n_actors, actors, sizeof actors);
        const char *const row[] = { name, state, cap, inf, batches, items, actors };
        ctl_table_row (t, row);
    }
    printf ("\n");
    ctl_table_print (t, stdout);
    ctl_table_destroy (&t);
}

static void
print_actors (const Annotate__V1__ClusterStatusResponse *r)
{
    static const char *const head[] = { "ACTOR", "TYPE", "WORKER", "STATE" };
    ctl_table_t *t = ctl_table_new (4, head);
    for (size_t i = 0; i < r->n_actors; i++) {
        const Annotate__V1__ActorStatus *a = r->actors[i];
        char name[160], type[80], worker[160], state[80];
        const char *const row[] = {
            ctl_escape (a->name, 40, name, sizeof name),
            ctl_escape (a->type, 20, type, sizeof type),
            a->worker && *a->worker ? ctl_escape (a->worker, 40, worker, sizeof worker) : "-",
            ctl_escape (a->state, 20, state, sizeof state),
        };
        ctl_table_row (t, row);
    }
    printf ("\n");
    ctl_table_print (t, stdout);
    ctl_table_destroy (&t);
}

int
cmd_status (ctl_t *ctl, int argc, char **argv)
{
    static const struct option longopts[] = { CTL_GLOBAL_LONGOPTS, { NULL, 0, NULL, 0 } };
    int rc = ctl_getopt (ctl, argc, argv, "o:", longopts, status_help, NULL, NULL);
    if (rc != CTL_PARSED)
        return rc;
    if (optind < argc)
        return ctl_usage (ctl, "unexpected argument '%s'", argv[optind]);
    rpc_client_t *client = ctl_client (ctl);
    if (!client)
        return CTL_EXIT_USAGE;
    Annotate__V1__ClusterStatusRequest req = ANNOTATE__V1__CLUSTER_STATUS_REQUEST__INIT;
    ProtobufCMessage *resp;
    rpc_status_t st = rpc_call (client, CTL_METHOD ("ClusterStatus"), &req.base,
                                &annotate__v1__cluster_status_response__descriptor, &resp,
                                ctl->timeout_ms);
    if (st.code != GRPC_STATUS_OK)
        return ctl_fail (ctl, &st);
    const Annotate__V1__ClusterStatusResponse *r = (const Annotate__V1__ClusterStatusResponse *) resp;
    if (ctl->output == CTL_OUT_JSON)
        ctl_print_json (ctl_message_json (resp), false);
    else {
        print_summary (r);
        print_workers (r);
        print_actors (r);
    }
    protobuf_c_message_free_unpacked (resp, NULL);
    return CTL_EXIT_OK;
}

static int
health_opt (ctl_t *ctl, void *args, int opt, const char *arg)
{
    if (opt != 's')
        return -1;
    *(const char **) args = arg;
    return 0;
}

int
cmd_health (ctl_t *ctl, int argc, char **argv)
{
    static const struct option longopts[] = { CTL_GLOBAL_LONGOPTS,
                                              { "service", required_argument, NULL, 's' },
                                              { NULL, 0, NULL, 0 } };
    const char *service = "";
    int rc = ctl_getopt (ctl, argc, argv, "o:", longopts, health_help, health_opt, &service);
    if (rc != CTL_PARSED)
        return rc;
    if (optind < argc)
        return ctl_usage (ctl, "unexpected argument '%s'", argv[optind]);
    rpc_client_t *client = ctl_client (ctl);
    if (!client)
        return CTL_EXIT_USAGE;
    Grpc__Health__V1__HealthCheckRequest req = GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
    req.service = (char *) service;
    ProtobufCMessage *resp;
    rpc_status_t st = rpc_call (client, "/grpc.health.v1.Health/Check", &req.base,
                                &grpc__health__v1__health_check_response__descriptor, &resp,
                                ctl->timeout_ms);
    if (st.code != GRPC_STATUS_OK)
        return ctl_fail (ctl, &st);
    int status = ((Grpc__Health__V1__HealthCheckResponse *) resp)->status;
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value (
        &grpc__health__v1__health_check_response__serving_status__descriptor, status);
    const char *name = v ? v->name : "UNKNOWN";
    if (ctl->output == CTL_OUT_JSON) {
        json_t *o = json_object ();
        json_object_set_new (o, "status", json_string (name));
        ctl_print_json (o, false);
    }
    else
        printf ("%s\n", name);
    protobuf_c_message_free_unpacked (resp, NULL);
    return status == GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING
               ? CTL_EXIT_OK
               : CTL_EXIT_ERROR;
}
