/*  fuzz_grpc_requests.c: every annotate.v1 request message, unpacked the
    way the coordinator's gRPC handlers unpack them (rpc_unpack_bounded),
    then checked the way they check them: the items of an IngestRequest
    with item_validate, the yaml of an ApplyManifestRequest with
    manifest_parse.

    Input layout: byte 0 picks the request type (modulo the count), the
    rest is the packed message.
*/
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "annotate/v1/annotate.pb-c.h"
#include "items/item.h"
#include "manifest/manifest.h"
#include "rpc/bytes.h"
#include "util/util.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static const ProtobufCMessageDescriptor *const s_requests[] = {
    &annotate__v1__ingest_request__descriptor,
    &annotate__v1__get_item_request__descriptor,
    &annotate__v1__list_items_request__descriptor,
    &annotate__v1__watch_labels_request__descriptor,
    &annotate__v1__cluster_status_request__descriptor,
    &annotate__v1__apply_manifest_request__descriptor,
    &annotate__v1__submit_label_request__descriptor,
    &annotate__v1__retrain_request__descriptor,
    &annotate__v1__list_models_request__descriptor,
    &annotate__v1__rollback_request__descriptor,
    &annotate__v1__next_review_request__descriptor,
    &annotate__v1__submit_review_request__descriptor,
    &annotate__v1__stats_request__descriptor,
};
#define N_REQUESTS (sizeof s_requests / sizeof s_requests[0])

static void
s_check_ingest (const Annotate__V1__IngestRequest *req)
{
    item_limits_t lim;
    item_limits_default (&lim);
    char err[512];
    for (size_t i = 0; i < req->n_items; i++)
        item_validate (req->items[i], &lim, i, err, sizeof err);
}

static void
s_check_apply (const Annotate__V1__ApplyManifestRequest *req)
{
    char err[512];
    /* as control/apply.c does: the string up to its NUL, a sane source name */
    const char *src = req->source_name && *req->source_name ? req->source_name : "<request>";
    if (strlen (src) > 256 || !utf8_valid (src, strlen (src)) || !*req->yaml)
        return;
    manifest_t *m = manifest_parse (req->yaml, strlen (req->yaml), src, err, sizeof err);
    manifest_destroy (&m);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const ProtobufCMessageDescriptor *desc = s_requests[data[0] % N_REQUESTS];
    ProtobufCMessage *msg = rpc_unpack_bounded (desc, size - 1, data + 1);
    if (!msg)
        return 0;
    if (desc == &annotate__v1__ingest_request__descriptor)
        s_check_ingest ((const Annotate__V1__IngestRequest *) msg);
    else if (desc == &annotate__v1__apply_manifest_request__descriptor)
        s_check_apply ((const Annotate__V1__ApplyManifestRequest *) msg);
    protobuf_c_message_free_unpacked (msg, NULL);
    return 0;
}
