/*  manifest_value.c: typed, strict reads of manifest tree nodes.

    Every read checks the node's kind, refuses aliases, anchors and tags,
    and reports failures as "source:line:column: key.path: problem" at the
    offending node. Numbers are plain decimal scalars only: no sign, no
    leading zeros (YAML 1.1 reads 010 as octal), no underscores, no hex, so
    what a person reads is what the program gets. Text from the input is
    echoed only through mdisplay, which bounds and escapes it.
*/
#include "manifest/manifest_private.h"
#include "util/util.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MDISPLAY_MAX 48         /* bytes of untrusted text echoed in errors */

int
mfail (mparse_t *p, const ynode_t *node, const char *path, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (msg, sizeof msg, fmt, ap);
    va_end (ap);
    size_t line = node ? node->line : 1;
    size_t column = node ? node->column : 1;
    return err_set (p->err, p->errlen, "%s:%zu:%zu: %s: %s", p->source, line, column,
                    path && *path ? path : "(document)", msg);
}

//  Length of the well-formed UTF-8 sequence at s, or 0.
static size_t
utf8_seq_len (const char *s, size_t avail)
{
    unsigned char c = (unsigned char) s[0];
    size_t n = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
    if (n == 0 || n > avail || !utf8_valid (s, n))
        return 0;
    return n;
}

void
mdisplay (char *out, size_t cap, const char *s, size_t len)
{
    size_t o = 0, i = 0;
    if (cap < 16) {
        if (cap)
            out[0] = 0;
        return;
    }
    out[o++] = '"';
    //  Leave room for an escape, the "..." and the closing quote
    while (i < len && i < MDISPLAY_MAX && o + 10 < cap) {
        unsigned char c = (unsigned char) s[i];
        size_t n = utf8_seq_len (s + i, len - i);
        if (n == 1 && c >= 0x20 && c != 0x7F && c != '"' && c != '\\')
            out[o++] = (char) c;
        else if (n > 1) {
            memcpy (out + o, s + i, n);
            o += n;
            i += n;
            continue;
        }
        else
            o += (size_t) snprintf (out + o, cap - o, "\\x%02x", c);
        i++;
    }
    if (i < len)
        o += (size_t) snprintf (out + o, cap - o, "...");
    out[o++] = '"';
    out[o] = 0;
}

void
mpath_key (char *out, const char *parent, const char *key)
{
    if (parent && *parent)
        snprintf (out, MPATH_MAX, "%s.%s", parent, key);
    else
        snprintf (out, MPATH_MAX, "%s", key);
}

void
mpath_index (char *out, const char *parent, size_t index)
{
    snprintf (out, MPATH_MAX, "%s[%zu]", parent, index);
}

bool
ynode_is_null (const ynode_t *node)
{
    if (!node || node->kind != YNODE_SCALAR || !node->plain)
        return false;
    const char *v = node->value;
    return node->length == 0 || strcmp (v, "~") == 0 || strcmp (v, "null") == 0
           || strcmp (v, "Null") == 0 || strcmp (v, "NULL") == 0;
}

static const char *
kind_name (const ynode_t *node)
{
    if (node->kind == YNODE_MAPPING)
        return "a mapping";
    if (node->kind == YNODE_SEQUENCE)
        return "a sequence";
    if (node->kind == YNODE_ALIAS)
        return "an alias";
    if (ynode_is_null (node))
        return "null";
    return node->plain ? "a plain scalar" : "a quoted string";
}

int
mcheck_node (mparse_t *p, const ynode_t *node, const char *path)
{
    if (node->kind == YNODE_ALIAS)
        return mfail (p, node, path, "aliases are not allowed (they allow unbounded expansion)");
    if (node->anchored)
        return mfail (p, node, path, "anchors are not allowed (aliases are refused)");
    if (node->tagged)
        return mfail (p, node, path, "tags are not allowed");
    return 0;
}

//  A plain scalar of digits, echoed in errors when it is not.
static int
scalar_for_number (mparse_t *p, const ynode_t *node, const char *path, const char *what)
{
    if (mcheck_node (p, node, path))
        return -1;
    if (node->kind != YNODE_SCALAR || ynode_is_null (node) || !node->plain)
        return mfail (p, node, path, "expected %s, got %s", what, kind_name (node));
    return 0;
}

int
mget_u64 (mparse_t *p, const ynode_t *node, const char *path, uint64_t min, uint64_t max,
          uint64_t *out)
{
    if (scalar_for_number (p, node, path, "an integer"))
        return -1;
    const char *v = node->value;
    char shown[MDISPLAY_MAX * 4 + 16];
    mdisplay (shown, sizeof shown, v, node->length);
    if (v[0] == '-')
        return mfail (p, node, path, "must not be negative, got %s", shown);
    if (strspn (v, "0123456789") != node->length)
        return mfail (p, node, path, "expected an unsigned decimal integer, got %s", shown);
    if (v[0] == '0' && node->length > 1)
        return mfail (p, node, path, "leading zeros are not allowed, got %s", shown);
    errno = 0;
    char *end = NULL;
    unsigned long long n = strtoull (v, &end, 10);
    if (errno == ERANGE || end != v + node->length)
        return mfail (p, node, path, "out of range: %s is too large", shown);
    if (n < min || n > max)
        return mfail (p, node, path, "out of range: %llu (expected %llu..%llu)", n,
                      (unsigned long long) min, (unsigned long long) max);
    *out = (uint64_t) n;
    return 0;
}

int
mget_u32 (mparse_t *p, const ynode_t *node, const char *path, uint32_t min, uint32_t max,
          uint32_t *out)
{
    uint64_t v;
    if (mget_u64 (p, node, path, min, max, &v))
        return -1;
    *out = (uint32_t) v;
    return 0;
}

int
mget_double (mparse_t *p, const ynode_t *node, const char *path, double min, double max,
             bool min_open, double *out)
{
    if (scalar_for_number (p, node, path, "a number"))
        return -1;
    const char *v = node->value;
    char shown[MDISPLAY_MAX * 4 + 16];
    mdisplay (shown, sizeof shown, v, node->length);
    //  strtod would also take "nan", "inf", hex floats and leading space
    bool shape = (v[0] >= '0' && v[0] <= '9') || v[0] == '.';
    if (!shape || strspn (v, "0123456789.eE+-") != node->length)
        return mfail (p, node, path, "expected a decimal number, got %s", shown);
    errno = 0;
    char *end = NULL;
    double d = strtod (v, &end);
    if (end != v + node->length)
        return mfail (p, node, path, "expected a decimal number, got %s", shown);
    if (errno == ERANGE || !isfinite (d) || d > max || d < min || (min_open && d == min))
        return mfail (p, node, path, "out of range: %s (expected a number in %c%g, %g])", shown,
                      min_open ? '(' : '[', min, max);
    *out = d;
    return 0;
}

int
mget_fraction (mparse_t *p, const ynode_t *node, const char *path, double *out)
{
    return mget_double (p, node, path, 0.0, 1.0, true, out);
}

int
mget_bool (mparse_t *p, const ynode_t *node, const char *path, bool *out)
{
    if (mcheck_node (p, node, path))
        return -1;
    if (node->kind == YNODE_SCALAR && node->plain) {
        if (node->length == 4 && memcmp (node->value, "true", 4) == 0) {
            *out = true;
            return 0;
        }
        if (node->length == 5 && memcmp (node->value, "false", 5) == 0) {
            *out = false;
            return 0;
        }
    }
    return mfail (p, node, path, "expected true or false");
}

static bool
has_control (const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char) s[i];
        if (c < 0x20 || c == 0x7F)
            return true;
    }
    return false;
}

int
mget_string (mparse_t *p, const ynode_t *node, const char *path, int flags, size_t max_len,
             char **out)
{
    if (mcheck_node (p, node, path))
        return -1;
    if ((flags & MSTR_NULLABLE) && ynode_is_null (node)) {
        free (*out);
        *out = NULL;
        return 0;
    }
    if (node->kind != YNODE_SCALAR)
        return mfail (p, node, path, "expected a string, got %s", kind_name (node));
    bool nonempty = flags & (MSTR_NONEMPTY | MSTR_NAME);
    if (node->length == 0 && nonempty)
        return mfail (p, node, path, "must not be empty");
    if (ynode_is_null (node))
        return mfail (p, node, path, "expected a string, got null (quote it to mean the text)");
    if (!utf8_valid (node->value, node->length))
        return mfail (p, node, path, "invalid UTF-8 (or a NUL byte) in the value");
    if (flags & MSTR_NAME) {
        if (max_len == 0 || max_len > MANIFEST_MAX_NAME)
            max_len = MANIFEST_MAX_NAME;
        if (has_control (node->value, node->length))
            return mfail (p, node, path, "names must not contain control characters");
    }
    if (max_len && node->length > max_len)
        return mfail (p, node, path, "too long: %zu bytes (at most %zu)", node->length, max_len);
    char *copy = strdup (node->value);
    if (!copy)
        return mfail (p, node, path, "out of memory");
    free (*out);
    *out = copy;
    return 0;
}

int
mget_choice (mparse_t *p, const ynode_t *node, const char *path, const char *what,
             const char *const *choices, size_t n_choices, size_t *out)
{
    if (mcheck_node (p, node, path))
        return -1;
    char expected[256] = "";
    size_t used = 0;
    for (size_t i = 0; i < n_choices && used < sizeof expected; i++)
        used += (size_t) snprintf (expected + used, sizeof expected - used, "%s%s", i ? ", " : "",
                                   choices[i]);
    if (node->kind != YNODE_SCALAR || ynode_is_null (node))
        return mfail (p, node, path, "expected a %s (%s), got %s", what, expected,
                      kind_name (node));
    for (size_t i = 0; i < n_choices; i++)
        if (node->length == strlen (choices[i]) && strcmp (node->value, choices[i]) == 0) {
            *out = i;
            return 0;
        }
    char shown[MDISPLAY_MAX * 4 + 16];
    mdisplay (shown, sizeof shown, node->value, node->length);
    return mfail (p, node, path, "unknown %s %s (expected %s)", what, shown, expected);
}

long
mget_sequence (mparse_t *p, const ynode_t *node, const char *path, size_t max, const char *what)
{
    if (mcheck_node (p, node, path))
        return -1;
    if (ynode_is_null (node))
        return 0;
    if (node->kind != YNODE_SEQUENCE)
        return mfail (p, node, path, "expected a sequence of %s, got %s", what, kind_name (node));
    if (node->n_items > max) {
        char child[MPATH_MAX];
        mpath_index (child, path, max);
        return mfail (p, node->items[max], child, "too many %s (at most %zu)", what, max);
    }
    return (long) node->n_items;
}

static int
check_key (mparse_t *p, const ynode_t *key, const char *path)
{
    if (mcheck_node (p, key, path))
        return -1;
    if (key->kind != YNODE_SCALAR)
        return mfail (p, key, path, "keys must be scalars, got %s", kind_name (key));
    if (!utf8_valid (key->value, key->length))
        return mfail (p, key, path, "invalid UTF-8 (or a NUL byte) in a key");
    return 0;
}

static int
unknown_key (mparse_t *p, const ynode_t *key, const char *path, const char *const *keys,
             size_t n_keys)
{
    char shown[MDISPLAY_MAX * 4 + 16];
    mdisplay (shown, sizeof shown, key->value, key->length);
    char expected[400] = "";
    size_t used = 0;
    for (size_t i = 0; i < n_keys && used < sizeof expected; i++)
        used += (size_t) snprintf (expected + used, sizeof expected - used, "%s%s", i ? ", " : "",
                                   keys[i]);
    return mfail (p, key, path, "unknown key %s (expected one of: %s)", shown, expected);
}

int
mwalk_map (mparse_t *p, const ynode_t *map, const char *path, bool allow_null,
           const char *const *keys, size_t n_keys, mfield_fn fn, void *target, uint32_t *seen)
{
    const ynode_t *first[32] = { NULL };
    *seen = 0;
    if (n_keys > 32)
        return mfail (p, map, path, "internal error: schema too wide");
    if (mcheck_node (p, map, path))
        return -1;
    if (allow_null && ynode_is_null (map))
        return 0;
    if (map->kind != YNODE_MAPPING)
        return mfail (p, map, path, "expected a mapping, got %s", kind_name (map));
    for (size_t i = 0; i + 1 < map->n_items; i += 2) {
        const ynode_t *key = map->items[i];
        if (check_key (p, key, path))
            return -1;
        size_t k = 0;
        while (k < n_keys && !(key->length == strlen (keys[k]) && strcmp (key->value, keys[k]) == 0))
            k++;
        if (k == n_keys)
            return unknown_key (p, key, path, keys, n_keys);
        char child[MPATH_MAX];
        mpath_key (child, path, keys[k]);
        if (first[k])
            return mfail (p, key, child, "duplicate key (first at line %zu, column %zu)",
                          first[k]->line, first[k]->column);
        first[k] = key;
        *seen |= 1u << k;
        if (fn (p, target, k, map->items[i + 1], child))
            return -1;
    }
    return 0;
}

static uint64_t
name_hash (const char *s)
{
    uint64_t h = 1469598103934665603ULL;     /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char) *s) * 1099511628211ULL;
    return h;
}

static int
nameset_grow (nameset_t *set)
{
    size_t cap = set->cap ? set->cap * 2 : 64;
    nameset_entry_t *slots = calloc (cap, sizeof (nameset_entry_t));
    if (!slots)
        return -1;
    for (size_t i = 0; i < set->cap; i++) {
        if (!set->slots[i].name)
            continue;
        size_t j = name_hash (set->slots[i].name) & (cap - 1);
        while (slots[j].name)
            j = (j + 1) & (cap - 1);
        slots[j] = set->slots[i];
    }
    free (set->slots);
    set->slots = slots;
    set->cap = cap;
    return 0;
}

int
mnameset_add (mparse_t *p, nameset_t *set, const char *name, const ynode_t *node,
              const char *path, const char *what)
{
    if ((set->count + 1) * 2 > set->cap && nameset_grow (set))
        return mfail (p, node, path, "out of memory");
    size_t j = name_hash (name) & (set->cap - 1);
    while (set->slots[j].name) {
        if (strcmp (set->slots[j].name, name) == 0) {
            char shown[MDISPLAY_MAX * 4 + 16];
            mdisplay (shown, sizeof shown, name, strlen (name));
            const ynode_t *prev = set->slots[j].node;
            return mfail (p, node, path, "duplicate %s name %s (first at line %zu, column %zu)",
                          what, shown, prev->line, prev->column);
        }
        j = (j + 1) & (set->cap - 1);
    }
    set->slots[j].name = name;
    set->slots[j].node = node;
    set->count++;
    return 0;
}

void
mnameset_free (nameset_t *set)
{
    free (set->slots);
    set->slots = NULL;
    set->cap = set->count = 0;
}
