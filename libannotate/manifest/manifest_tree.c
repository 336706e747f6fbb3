/*  manifest_tree.c: turns libyaml's event stream into a ynode_t tree.

    The event API is used instead of libyaml's document loader because the
    loader resolves aliases silently and hides anchors and tags; here they
    stay visible on the nodes so the schema walk can refuse them by key
    path. Aliases are never expanded. Nesting is bounded (YTREE_MAX_DEPTH),
    only one document is accepted, and the input must be UTF-8.
*/
#include "manifest/manifest_private.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

typedef struct {
    const char *text;
    size_t len;
    const char *source;
    char *err;
    size_t errlen;
    ynode_t *root;
    ynode_t *stack[YTREE_MAX_DEPTH];
    size_t depth;
    int documents;
} builder_t;

void
ytree_destroy (ynode_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ynode_t *self = *self_p;
    //  Depth is bounded by YTREE_MAX_DEPTH, so recursion is safe
    for (size_t i = 0; i < self->n_items; i++)
        ytree_destroy (&self->items[i]);
    free (self->items);
    free (self->value);
    free (self);
    *self_p = NULL;
}

static ynode_t *
node_new (ynode_kind_t kind, yaml_mark_t mark)
{
    ynode_t *node = calloc (1, sizeof (ynode_t));
    if (node) {
        node->kind = kind;
        node->line = mark.line + 1;
        node->column = mark.column + 1;
    }
    return node;
}

static int
fail_at (builder_t *b, yaml_mark_t mark, const char *what, const char *problem)
{
    return err_set (b->err, b->errlen, "%s:%zu:%zu: %s: %s", b->source, mark.line + 1,
                    mark.column + 1, what, problem);
}

//  Attaches node to the open container, or makes it the root; takes it.
static int
attach (builder_t *b, ynode_t *node, yaml_mark_t mark)
{
    if (!node)
        return fail_at (b, mark, "(document)", "out of memory");
    if (b->depth == 0) {
        b->root = node;
        return 0;
    }
    ynode_t *parent = b->stack[b->depth - 1];
    if (parent->n_items == parent->cap) {
        size_t cap = parent->cap ? parent->cap * 2 : 8;
        ynode_t **items = realloc (parent->items, cap * sizeof (ynode_t *));
        if (!items) {
            ytree_destroy (&node);
            return fail_at (b, mark, "(document)", "out of memory");
        }
        parent->items = items;
        parent->cap = cap;
    }
    parent->items[parent->n_items++] = node;
    return 0;
}

static int
on_scalar (builder_t *b, const yaml_event_t *ev)
{
    ynode_t *node = node_new (YNODE_SCALAR, ev->start_mark);
    if (node) {
        size_t len = ev->data.scalar.length;
        node->value = malloc (len + 1);
        if (!node->value) {
            ytree_destroy (&node);
            return attach (b, NULL, ev->start_mark);
        }
        memcpy (node->value, ev->data.scalar.value, len);
        node->value[len] = 0;
        node->length = len;
        node->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        node->anchored = ev->data.scalar.anchor != NULL;
        node->tagged = ev->data.scalar.tag != NULL;
    }
    return attach (b, node, ev->start_mark);
}

static int
on_collection_start (builder_t *b, const yaml_event_t *ev)
{
    if (b->depth == YTREE_MAX_DEPTH)
        return fail_at (b, ev->start_mark, "(document)", "nesting is too deep");
    bool is_map = ev->type == YAML_MAPPING_START_EVENT;
    ynode_t *node = node_new (is_map ? YNODE_MAPPING : YNODE_SEQUENCE, ev->start_mark);
    if (node) {
        node->anchored = (is_map ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor)
                         != NULL;
        node->tagged
            = (is_map ? ev->data.mapping_start.tag : ev->data.sequence_start.tag) != NULL;
    }
    if (attach (b, node, ev->start_mark))
        return -1;
    b->stack[b->depth++] = node;
    return 0;
}

static int
on_event (builder_t *b, const yaml_event_t *ev)
{
    switch (ev->type) {
    case YAML_DOCUMENT_START_EVENT:
        if (b->documents++ > 0)
            return fail_at (b, ev->start_mark, "(document)",
                            "more than one document (a manifest is a single YAML document)");
        return 0;
    case YAML_SCALAR_EVENT:
        return on_scalar (b, ev);
    case YAML_ALIAS_EVENT:
        //  Kept as a leaf, never expanded; the schema walk refuses it
        return attach (b, node_new (YNODE_ALIAS, ev->start_mark), ev->start_mark);
    case YAML_MAPPING_START_EVENT:
    case YAML_SEQUENCE_START_EVENT:
        return on_collection_start (b, ev);
    case YAML_MAPPING_END_EVENT:
    case YAML_SEQUENCE_END_EVENT:
        if (b->depth > 0)
            b->depth--;
        return 0;
    default:
        return 0;
    }
}

//  Reader errors carry a byte offset, not a mark; count lines ourselves.
static void
offset_position (const char *text, size_t len, size_t offset, size_t *line, size_t *column)
{
    *line = 1;
    *column = 1;
    if (offset > len)
        offset = len;
    for (size_t i = 0; i < offset; i++) {
        unsigned char c = (unsigned char) text[i];
        if (c == '\n' || (c == '\r' && (i + 1 >= len || text[i + 1] != '\n'))) {
            (*line)++;
            *column = 1;
        }
        else if (c != '\r' && (c & 0xC0) != 0x80)
            (*column)++;
    }
}

static int
fail_parser (builder_t *b, const yaml_parser_t *parser)
{
    const char *problem = parser->problem ? parser->problem : "unknown error";
    if (parser->error == YAML_MEMORY_ERROR)
        return err_set (b->err, b->errlen, "%s:1:1: (document): out of memory", b->source);
    if (parser->error == YAML_READER_ERROR) {
        size_t line, column;
        offset_position (b->text, b->len, parser->problem_offset, &line, &column);
        if (parser->problem_value >= 0)
            return err_set (b->err, b->errlen, "%s:%zu:%zu: invalid input: %s (0x%x)", b->source,
                            line, column, problem, (unsigned) parser->problem_value);
        return err_set (b->err, b->errlen, "%s:%zu:%zu: invalid input: %s", b->source, line,
                        column, problem);
    }
    size_t line = parser->problem_mark.line + 1;
    size_t column = parser->problem_mark.column + 1;
    if (parser->context)
        return err_set (b->err, b->errlen,
                        "%s:%zu:%zu: syntax error: %s (%s at line %zu, column %zu)", b->source,
                        line, column, problem, parser->context, parser->context_mark.line + 1,
                        parser->context_mark.column + 1);
    return err_set (b->err, b->errlen, "%s:%zu:%zu: syntax error: %s", b->source, line, column,
                    problem);
}

ynode_t *
ytree_load (const char *text, size_t len, const char *source, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = 0;
    builder_t b = { .text = text, .len = len, .source = source, .err = err, .errlen = errlen };
    yaml_parser_t parser;
    if (!yaml_parser_initialize (&parser)) {
        err_set (err, errlen, "%s:1:1: (document): out of memory", source);
        return NULL;
    }
    //  Forced UTF-8: a UTF-16 byte order mark must not switch decoders
    yaml_parser_set_encoding (&parser, YAML_UTF8_ENCODING);
    yaml_parser_set_input_string (&parser, (const unsigned char *) (text ? text : ""),
                                  text ? len : 0);
    bool done = false;
    int rc = 0;
    while (!done && rc == 0) {
        yaml_event_t ev;
        if (!yaml_parser_parse (&parser, &ev)) {
            rc = fail_parser (&b, &parser);
            break;
        }
        done = ev.type == YAML_STREAM_END_EVENT;
        rc = on_event (&b, &ev);
        yaml_event_delete (&ev);
    }
    yaml_parser_delete (&parser);
    if (rc != 0)
        ytree_destroy (&b.root);
    return b.root;
}
