/*  fuzz_manifest.c: manifest_parse on arbitrary bytes.

    The coordinator parses manifests from files and from ApplyManifest
    requests, so the YAML text is hostile: it must be refused with an
    error, never crash, leak or loop.
*/
#include <stddef.h>
#include <stdint.h>

#include "manifest/manifest.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    char err[512];
    manifest_t *m = manifest_parse ((const char *) data, size, "<fuzz>", err, sizeof err);
    if (m) {
        /* the lookups walk what the parser built */
        if (m->n_workers)
            manifest_worker (m, m->workers[0].name);
        if (m->n_labels)
            manifest_label_index (m, m->labels[m->n_labels - 1].name);
    }
    manifest_destroy (&m);
    return 0;
}
