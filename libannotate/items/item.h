/*  item.h: what makes an annotate.v1.Item acceptable, and items from JSONL.

    Two callers share this file. The coordinator's gRPC handlers run
    item_validate on every decoded Item before it reaches the store, so a
    hostile client can not plant ids with control characters, broken UTF-8,
    NaN vectors or meta that is not a JSON object. annotatectl parses JSONL
    files with item_reader_t + item_from_json, which end in the same
    item_validate, so a line the tool accepts is one the server accepts too
    (except for what only the server knows: the manifest's vector dimension
    and taxonomy, and which ids already exist).

    One JSONL line is one object:
        {"id": "a1", "text": "...", "vector": [0.1, 2], "meta": {...}, "label": "spam"}
    id is required (a string, or an integer which becomes its decimal
    string); the others are optional and may be null. Unknown keys are an
    error: a typo ("lable") must not silently drop a gold label.

    Errors are written into the caller's buffer. item_validate names the
    field as "items[<index>].<field>: <problem>" (the gRPC API convention);
    item_from_json names it as "<field>: <problem>", because the caller
    prefixes "FILE:LINE: ".
*/
#ifndef ANNOTATE_ITEM_H
#define ANNOTATE_ITEM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "annotate/v1/annotate.pb-c.h"

#define ITEM_META_MAX_DEPTH 32          /* nesting of meta objects and arrays */
#define ITEM_LINE_MAX       (8u << 20)  /* default longest JSONL line accepted */

typedef struct {
    size_t max_id_bytes;    /* 256; also bounds label */
    size_t max_text_bytes;  /* 65536 */
    size_t max_meta_bytes;  /* 16384, of the compact meta_json */
    size_t max_vector_dim;  /* 65536 */
} item_limits_t;

void item_limits_default (item_limits_t *lim);

/*  Structural check of a decoded Item. Does not look at content_hash or
    ingested_at_ms (output only: the store overwrites them) nor at the
    vector dimension the manifest wants. Returns 0, or -1 with err set.  */
int item_validate (const Annotate__V1__Item *item, const item_limits_t *lim, size_t index,
                   char *err, size_t errlen);

/*  Parses one JSONL line (len bytes, no trailing newline needed) into out,
    which it initialises; on success every string and the vector are
    malloc'ed and owned by out: free them with item_clear. On error out is
    left cleared. Returns 0, or -1 with err set.  */
int item_from_json (const char *line, size_t len, const item_limits_t *lim,
                    Annotate__V1__Item *out, char *err, size_t errlen);

/*  Frees what item_from_json allocated and re-initialises the item.  */
void item_clear (Annotate__V1__Item *item);

/* ---- reading lines ------------------------------------------------------ */

typedef struct item_reader item_reader_t;

typedef enum {
    ITEM_READ_LINE = 1,     /* *line / *len hold the line (without "\n" or "\r\n") */
    ITEM_READ_EOF = 0,
    ITEM_READ_TOO_LONG = -1,/* line longer than max_line: skipped to its newline */
    ITEM_READ_ERROR = -2    /* the stream failed (errno is set) */
} item_read_t;

/*  Reads lines from f (not owned, not closed). max_line 0 means
    ITEM_LINE_MAX. The buffer grows with the longest line seen, never past
    max_line.  */
item_reader_t *item_reader_new (FILE *f, size_t max_line);
void item_reader_destroy (item_reader_t **self_p);

/*  Next line. The pointer stays valid until the next call; the line is
    NUL-terminated at len for convenience (it may contain NUL bytes too).  */
item_read_t item_reader_next (item_reader_t *self, const char **line, size_t *len);

/*  1-based number of the line last returned (also for TOO_LONG).  */
uint64_t item_reader_line (const item_reader_t *self);

/*  Bytes consumed from the stream so far, for progress.  */
uint64_t item_reader_bytes (const item_reader_t *self);

#endif
