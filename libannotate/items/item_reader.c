/*  item_reader.c: bounded line reader for JSONL (see item.h).

    The buffer starts small and doubles up to max_line, so a file of short
    lines costs little memory and one enormous line costs at most max_line
    bytes: the rest of such a line is read and thrown away up to its
    newline, and the caller gets ITEM_READ_TOO_LONG for that line number.  */
#include "items/item.h"

#include <stdbool.h>
#include <stdlib.h>

struct item_reader {
    FILE *file;
    char *buf;
    size_t cap;         /* allocated, including room for the terminating NUL */
    size_t max_line;
    uint64_t line;
    uint64_t bytes;
};

item_reader_t *
item_reader_new (FILE *f, size_t max_line)
{
    item_reader_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->file = f;
    self->max_line = max_line ? max_line : ITEM_LINE_MAX;
    self->cap = self->max_line + 1 < 4096 ? self->max_line + 1 : 4096;
    self->buf = malloc (self->cap);
    if (!self->buf) {
        free (self);
        return NULL;
    }
    return self;
}

void
item_reader_destroy (item_reader_t **self_p)
{
    if (self_p && *self_p) {
        free ((*self_p)->buf);
        free (*self_p);
        *self_p = NULL;
    }
}

/*  Room for one more byte plus the NUL; false once max_line is reached.  */
static bool
ensure_room (item_reader_t *self, size_t len)
{
    if (len + 1 < self->cap)
        return true;
    if (len >= self->max_line)
        return false;
    size_t cap = self->cap * 2;
    if (cap > self->max_line + 1)
        cap = self->max_line + 1;
    char *buf = realloc (self->buf, cap);
    if (!buf)
        return false;
    self->buf = buf;
    self->cap = cap;
    return true;
}

item_read_t
item_reader_next (item_reader_t *self, const char **line, size_t *len)
{
    size_t n = 0;
    bool too_long = false;
    int c;
    flockfile (self->file);
    while ((c = getc_unlocked (self->file)) != EOF) {
        self->bytes++;
        if (c == '\n')
            break;
        if (too_long)
            continue;
        if (!ensure_room (self, n))
            too_long = true;
        else
            self->buf[n++] = (char) c;
    }
    bool failed = ferror (self->file);
    funlockfile (self->file);
    if (c == EOF && n == 0 && !too_long)
        return failed ? ITEM_READ_ERROR : ITEM_READ_EOF;
    self->line++;
    if (too_long)
        return ITEM_READ_TOO_LONG;
    if (n > 0 && self->buf[n - 1] == '\r')
        n--;
    self->buf[n] = '\0';
    *line = self->buf;
    *len = n;
    return ITEM_READ_LINE;
}

uint64_t
item_reader_line (const item_reader_t *self)
{
    return self->line;
}

uint64_t
item_reader_bytes (const item_reader_t *self)
{
    return self->bytes;
}
