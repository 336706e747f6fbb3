/*  table.c: columns as wide as their widest cell, two spaces apart.
    Widths count UTF-8 characters, not bytes, so ids in any script line up.
    Cells are copied as given: callers escape untrusted text first.  */
#include "ctl.h"

#include <stdlib.h>
#include <string.h>

struct ctl_table {
    size_t ncols;
    size_t nrows;
    size_t cap;
    char **cells;       /* row-major, row 0 is the header */
    size_t *width;
};

static size_t
display_width (const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char) *s & 0xC0) != 0x80;
    return n;
}

ctl_table_t *
ctl_table_new (size_t ncols, const char *const *headers)
{
    ctl_table_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->ncols = ncols;
    self->width = calloc (ncols, sizeof (size_t));
    if (!self->width) {
        free (self);
        return NULL;
    }
    ctl_table_row (self, headers);
    return self;
}

void
ctl_table_row (ctl_table_t *self, const char *const *cells)
{
    if (!self)
        return;
    if (self->nrows == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 16;
        char **grown = realloc (self->cells, cap * self->ncols * sizeof (char *));
        if (!grown)
            return;
        self->cells = grown;
        self->cap = cap;
    }
    for (size_t c = 0; c < self->ncols; c++) {
        char *copy = strdup (cells[c] ? cells[c] : "");
        self->cells[self->nrows * self->ncols + c] = copy;
        size_t w = copy ? display_width (copy) : 0;
        if (w > self->width[c])
            self->width[c] = w;
    }
    self->nrows++;
}

void
ctl_table_print (ctl_table_t *self, FILE *out)
{
    if (!self)
        return;
    for (size_t r = 0; r < self->nrows; r++) {
        for (size_t c = 0; c < self->ncols; c++) {
            const char *cell = self->cells[r * self->ncols + c];
            cell = cell ? cell : "";
            fputs (cell, out);
            if (c + 1 < self->ncols)
                for (size_t pad = display_width (cell); pad < self->width[c] + 2; pad++)
                    fputc (' ', out);
        }
        fputc ('\n', out);
    }
}

void
ctl_table_destroy (ctl_table_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ctl_table_t *self = *self_p;
    for (size_t i = 0; i < self->nrows * self->ncols; i++)
        free (self->cells[i]);
    free (self->cells);
    free (self->width);
    free (self);
    *self_p = NULL;
}
