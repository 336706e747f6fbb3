/*  fuzz_items_jsonl.c: item_from_json + item_validate on every line.

    annotatectl reads JSONL files a user hands it; each line goes through
    item_from_json and, when it parses, item_validate (what the server
    checks too). The input is split on '\n' the way item_reader_t does.
*/
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "items/item.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
s_one_line (const char *line, size_t len, const item_limits_t *lim, size_t index)
{
    char err[512];
    Annotate__V1__Item item;
    if (item_from_json (line, len, lim, &item, err, sizeof err) == 0)
        item_validate (&item, lim, index, err, sizeof err);
    item_clear (&item);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    item_limits_t lim;
    item_limits_default (&lim);
    const char *p = (const char *) data;
    const char *end = p + size;
    size_t index = 0;
    while (p < end) {
        const char *nl = memchr (p, '\n', (size_t) (end - p));
        size_t len = nl ? (size_t) (nl - p) : (size_t) (end - p);
        s_one_line (p, len, &lim, index++);
        p += len + (nl ? 1 : 0);
    }
    return 0;
}
