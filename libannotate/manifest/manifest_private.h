/*  manifest_private.h: the pieces the manifest parser is built from, shared
    by manifest.c (schema and public API), manifest_tree.c (libyaml events to
    a node tree) and manifest_value.c (typed, position-aware value checks).

    Parsing runs in two steps. First the libyaml event stream becomes a small
    tree of ynode_t, each node remembering its 1-based line and column. The
    tree keeps aliases as alias nodes and never expands them, so a hostile
    "billion laughs" file costs no more than its own size; anchors, aliases
    and tags are then refused when the schema walk meets them, so the error
    can name the key path. Second, the schema walk visits every node: each
    mapping key must be known to the schema, so a successful walk has
    checked every node of the document.
*/
#ifndef ANNOTATE_MANIFEST_PRIVATE_H
#define ANNOTATE_MANIFEST_PRIVATE_H

#include "manifest/manifest.h"

#include <stdarg.h>

/* ---- tree (manifest_tree.c) ------------------------------------------ */

#define YTREE_MAX_DEPTH 64      /* the schema needs 6; deeper input is hostile */

typedef enum { YNODE_SCALAR = 1, YNODE_MAPPING, YNODE_SEQUENCE, YNODE_ALIAS } ynode_kind_t;

typedef struct ynode_s ynode_t;
struct ynode_s {
    ynode_kind_t kind;
    size_t line, column;        /* 1-based */
    bool plain;                 /* scalar written without quotes or block style */
    bool anchored;
    bool tagged;
    char *value;                /* scalar text, NUL-terminated; may hold NULs itself */
    size_t length;
    ynode_t **items;            /* mapping: key, value, key, value, ... */
    size_t n_items;
    size_t cap;
};

/*  Parses YAML text into a tree. Returns NULL with *err filled on a syntax
    or encoding error, or with *err empty when the stream has no document.  */
ynode_t *ytree_load (const char *text, size_t len, const char *source, char *err, size_t errlen);
void ytree_destroy (ynode_t **self_p);

/* ---- parse context and value checks (manifest_value.c) ---------------- */

#define MPATH_MAX 256           /* key paths: known keys and indexes only */

typedef struct {
    const char *name;
    const ynode_t *node;
} nameset_entry_t;

/*  Open-addressing set of names, so duplicate checks stay linear even with
    a quarter of a million actors.  */
typedef struct {
    nameset_entry_t *slots;
    size_t cap;                 /* power of two, or 0 */
    size_t count;
} nameset_t;

typedef struct {
    const char *source;
    char *err;
    size_t errlen;
    manifest_t *m;
    nameset_t worker_names;
    nameset_t actor_names;
    nameset_t label_names;
    const ynode_t *initial_map_node;
    const ynode_t *max_map_node;
} mparse_t;

/*  Writes "source:line:column: path: message" and returns -1.  */
int mfail (mparse_t *p, const ynode_t *node, const char *path, const char *fmt, ...)
    __attribute__ ((format (printf, 4, 5)));

/*  A printable, bounded, quoted copy of untrusted text for error messages.  */
void mdisplay (char *out, size_t cap, const char *s, size_t len);

void mpath_key (char *out, const char *parent, const char *key);
void mpath_index (char *out, const char *parent, size_t index);

bool ynode_is_null (const ynode_t *node);

/*  Refuses aliases, anchors and tags on any node.  */
int mcheck_node (mparse_t *p, const ynode_t *node, const char *path);

int mget_u64 (mparse_t *p, const ynode_t *node, const char *path, uint64_t min, uint64_t max,
              uint64_t *out);
int mget_u32 (mparse_t *p, const ynode_t *node, const char *path, uint32_t min, uint32_t max,
              uint32_t *out);
/*  A number in (0, 1].  */
int mget_fraction (mparse_t *p, const ynode_t *node, const char *path, double *out);
/*  A decimal number in [min, max] (or (min, max] when min_open).  */
int mget_double (mparse_t *p, const ynode_t *node, const char *path, double min, double max,
                 bool min_open, double *out);
/*  true or false, unquoted.  */
int mget_bool (mparse_t *p, const ynode_t *node, const char *path, bool *out);

typedef enum {
    MSTR_ANY = 0,               /* any string, even empty */
    MSTR_NONEMPTY = 1,
    MSTR_NULLABLE = 2,          /* null gives NULL */
    MSTR_NAME = 4               /* 1..MANIFEST_MAX_NAME bytes, no control characters */
} mstr_flags_t;

/*  Replaces *out (freeing the old value) with a checked copy.  */
int mget_string (mparse_t *p, const ynode_t *node, const char *path, int flags, size_t max_len,
                 char **out);
/*  *out is the index of the matching choice; "what" names it in errors.  */
int mget_choice (mparse_t *p, const ynode_t *node, const char *path, const char *what,
                 const char *const *choices, size_t n_choices, size_t *out);

/*  Number of items in a sequence (null counts as empty), or -1 when the
    node is not a sequence or holds more than max items.  */
long mget_sequence (mparse_t *p, const ynode_t *node, const char *path, size_t max, const char *what);

typedef int (*mfield_fn) (mparse_t *p, void *target, size_t field, const ynode_t *value,
                          const char *path);

/*  Walks a mapping whose keys must be among keys[] (at most 32), each at
    most once, calling fn for each. A null node counts as an empty mapping
    when allow_null. *seen gets a bit per key found.  */
int mwalk_map (mparse_t *p, const ynode_t *map, const char *path, bool allow_null,
               const char *const *keys, size_t n_keys, mfield_fn fn, void *target, uint32_t *seen);

/*  Adds name to set; a duplicate is an error ("duplicate <what> ...").  */
int mnameset_add (mparse_t *p, nameset_t *set, const char *name, const ynode_t *node,
                  const char *path, const char *what);
void mnameset_free (nameset_t *set);

#endif
