/*  item.c: see item.h.  */
#include "items/item.h"

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "util/util.h"

void
item_limits_default (item_limits_t *lim)
{
    lim->max_id_bytes = 256;
    lim->max_text_bytes = 65536;
    lim->max_meta_bytes = 16384;
    lim->max_vector_dim = 65536;
}

/*  C0 controls, DEL, and C1 controls (U+0080..U+009F, encoded C2 80..C2 9F):
    an id is printed in logs and terminals and used as a key, so none of
    these. Assumes valid UTF-8.  */
static bool
has_control (const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *) s;
    for (size_t i = 0; i < len; i++) {
        if (p[i] < 0x20 || p[i] == 0x7F)
            return true;
        if (p[i] == 0xC2 && i + 1 < len && p[i + 1] >= 0x80 && p[i + 1] <= 0x9F)
            return true;
    }
    return false;
}

static size_t
safe_len (const char *s)
{
    return s ? strlen (s) : 0;
}

/*  A UTF-8 string field within max bytes; control characters refused when
    no_control. where is "items[3]." or "".  */
static int
check_text (const char *where, const char *field, const char *s, size_t max, bool no_control,
            char *err, size_t errlen)
{
    size_t len = safe_len (s);
    if (len > max)
        return err_set (err, errlen, "%s%s: %zu bytes, at most %zu allowed", where, field, len, max);
    if (!utf8_valid (s, len))
        return err_set (err, errlen, "%s%s: not valid UTF-8", where, field);
    if (no_control && has_control (s, len))
        return err_set (err, errlen, "%s%s: contains a control character", where, field);
    return 0;
}

/*  True when v nests no deeper than max (an object or array is one level).  */
static bool
json_depth_ok (json_t *v, int depth, int max)
{
    if (json_is_object (v) || json_is_array (v)) {
        if (depth >= max)
            return false;
        if (json_is_object (v)) {
            const char *key;
            json_t *child;
            json_object_foreach (v, key, child)
                if (!json_depth_ok (child, depth + 1, max))
                    return false;
        }
        else {
            size_t i;
            json_t *child;
            json_array_foreach (v, i, child)
                if (!json_depth_ok (child, depth + 1, max))
                    return false;
        }
    }
    return true;
}

static int
check_meta (const char *where, const char *meta, const item_limits_t *lim, char *err,
            size_t errlen)
{
    size_t len = safe_len (meta);
    if (len == 0)
        return 0;
    if (check_text (where, "meta_json", meta, lim->max_meta_bytes, false, err, errlen))
        return -1;
    json_error_t jerr;
    json_t *root = json_loadb (meta, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return err_set (err, errlen, "%smeta_json: not JSON: %s (column %d)", where, jerr.text,
                        jerr.column);
    int rc = 0;
    if (!json_is_object (root))
        rc = err_set (err, errlen, "%smeta_json: must be a JSON object", where);
    else if (!json_depth_ok (root, 0, ITEM_META_MAX_DEPTH))
        rc = err_set (err, errlen, "%smeta_json: nested deeper than %d levels", where,
                      ITEM_META_MAX_DEPTH);
    json_decref (root);
    return rc;
}

static int
check_vector (const char *where, const Annotate__V1__Item *item, const item_limits_t *lim,
              char *err, size_t errlen)
{
    if (item->n_vector > lim->max_vector_dim)
        return err_set (err, errlen, "%svector: %zu components, at most %zu allowed", where,
                        item->n_vector, lim->max_vector_dim);
    if (item->n_vector > 0 && !item->vector)
        return err_set (err, errlen, "%svector: missing data", where);
    for (size_t i = 0; i < item->n_vector; i++)
        if (!isfinite (item->vector[i]))
            return err_set (err, errlen, "%svector[%zu]: not a finite number", where, i);
    return 0;
}

static int
validate (const Annotate__V1__Item *item, const item_limits_t *lim, const char *where, char *err,
          size_t errlen)
{
    if (!item)
        return err_set (err, errlen, "%s: missing", where);
    if (safe_len (item->id) == 0)
        return err_set (err, errlen, "%sid: required", where);
    if (check_text (where, "id", item->id, lim->max_id_bytes, true, err, errlen)
        || check_text (where, "text", item->text, lim->max_text_bytes, false, err, errlen)
        || check_text (where, "label", item->label, lim->max_id_bytes, true, err, errlen)
        || check_meta (where, item->meta_json, lim, err, errlen)
        || check_vector (where, item, lim, err, errlen))
        return -1;
    return 0;
}

int
item_validate (const Annotate__V1__Item *item, const item_limits_t *lim, size_t index, char *err,
               size_t errlen)
{
    char where[48];
    snprintf (where, sizeof where, "items[%zu].", index);
    return validate (item, lim, where, err, errlen);
}

/* ---- JSONL -------------------------------------------------------------- */

static char *
dup_bytes (const char *s, size_t len)
{
    char *copy = malloc (len + 1);
    if (copy) {
        memcpy (copy, s, len);
        copy[len] = '\0';
    }
    return copy;
}

/*  A string member (null means absent); *dst stays the empty default then.  */
static int
take_string (json_t *val, const char *field, char **dst, char *err, size_t errlen)
{
    if (json_is_null (val))
        return 0;
    if (!json_is_string (val))
        return err_set (err, errlen, "%s: must be a string", field);
    char *copy = dup_bytes (json_string_value (val), json_string_length (val));
    if (!copy)
        return err_set (err, errlen, "%s: out of memory", field);
    *dst = copy;
    return 0;
}

static int
take_id (json_t *val, Annotate__V1__Item *out, char *err, size_t errlen)
{
    if (json_is_integer (val)) {
        char num[32];
        snprintf (num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value (val));
        out->id = dup_bytes (num, strlen (num));
        return out->id ? 0 : err_set (err, errlen, "id: out of memory");
    }
    if (json_is_null (val))
        return err_set (err, errlen, "id: required");
    if (!json_is_string (val))
        return err_set (err, errlen, "id: must be a string or an integer");
    return take_string (val, "id", &out->id, err, errlen);
}

static int
take_vector (json_t *val, const item_limits_t *lim, Annotate__V1__Item *out, char *err,
             size_t errlen)
{
    if (json_is_null (val))
        return 0;
    if (!json_is_array (val))
        return err_set (err, errlen, "vector: must be an array of numbers");
    size_t n = json_array_size (val);
    if (n > lim->max_vector_dim)
        return err_set (err, errlen, "vector: %zu components, at most %zu allowed", n,
                        lim->max_vector_dim);
    if (n == 0)
        return 0;
    out->vector = malloc (n * sizeof (float));
    if (!out->vector)
        return err_set (err, errlen, "vector: out of memory");
    out->n_vector = n;
    for (size_t i = 0; i < n; i++) {
        json_t *x = json_array_get (val, i);
        if (!json_is_number (x))
            return err_set (err, errlen, "vector[%zu]: must be a number", i);
        double d = json_number_value (x);
        if (!isfinite (d) || fabs (d) > FLT_MAX)
            return err_set (err, errlen, "vector[%zu]: %g is outside the float range", i, d);
        out->vector[i] = (float) d;
    }
    return 0;
}

static int
take_meta (json_t *val, const item_limits_t *lim, Annotate__V1__Item *out, char *err,
           size_t errlen)
{
    if (json_is_null (val))
        return 0;
    if (!json_is_object (val))
        return err_set (err, errlen, "meta: must be a JSON object");
    if (!json_depth_ok (val, 0, ITEM_META_MAX_DEPTH))
        return err_set (err, errlen, "meta: nested deeper than %d levels", ITEM_META_MAX_DEPTH);
    size_t flags = JSON_COMPACT | JSON_PRESERVE_ORDER;
    size_t n = json_dumpb (val, NULL, 0, flags);
    if (n > lim->max_meta_bytes)
        return err_set (err, errlen, "meta: %zu bytes as compact JSON, at most %zu allowed", n,
                        lim->max_meta_bytes);
    if (n == 2)   /* "{}": same as no meta */
        return 0;
    char *buf = malloc (n + 1);
    if (!buf)
        return err_set (err, errlen, "meta: out of memory");
    json_dumpb (val, buf, n, flags);
    buf[n] = '\0';
    out->meta_json = buf;
    return 0;
}

/*  Keys come from the input: show at most 40 bytes, controls as '?'.  */
static void
printable_key (const char *key, char *out, size_t cap)
{
    size_t j = 0;
    for (size_t i = 0; key[i] && j + 4 < cap && i < 40; i++)
        out[j++] = ((unsigned char) key[i] < 0x20 || key[i] == 0x7F) ? '?' : key[i];
    if (strlen (key) > 40 && j + 4 < cap) {
        memcpy (out + j, "...", 3);
        j += 3;
    }
    out[j] = '\0';
}

static int
take_member (const char *key, json_t *val, const item_limits_t *lim, Annotate__V1__Item *out,
             char *err, size_t errlen)
{
    if (strcmp (key, "id") == 0)
        return take_id (val, out, err, errlen);
    if (strcmp (key, "text") == 0)
        return take_string (val, "text", &out->text, err, errlen);
    if (strcmp (key, "label") == 0)
        return take_string (val, "label", &out->label, err, errlen);
    if (strcmp (key, "vector") == 0)
        return take_vector (val, lim, out, err, errlen);
    if (strcmp (key, "meta") == 0)
        return take_meta (val, lim, out, err, errlen);
    char shown[64];
    printable_key (key, shown, sizeof shown);
    return err_set (err, errlen, "unknown key \"%s\" (expected id, text, vector, meta, label)",
                    shown);
}

static bool
blank (const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
            return false;
    return true;
}

int
item_from_json (const char *line, size_t len, const item_limits_t *lim, Annotate__V1__Item *out,
                char *err, size_t errlen)
{
    annotate__v1__item__init (out);
    if (blank (line, len))
        return err_set (err, errlen, "empty line");
    if (!utf8_valid (line, len))
        return err_set (err, errlen, "not valid UTF-8 (or contains a NUL byte)");
    json_error_t jerr;
    json_t *root = json_loadb (line, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return err_set (err, errlen, "invalid JSON: %s (column %d)", jerr.text, jerr.column);
    int rc = 0;
    if (!json_is_object (root))
        rc = err_set (err, errlen, "not a JSON object");
    const char *key;
    json_t *val;
    if (rc == 0)
        json_object_foreach (root, key, val)
            if ((rc = take_member (key, val, lim, out, err, errlen)) != 0)
                break;
    json_decref (root);
    if (rc == 0 && safe_len (out->id) == 0)
        rc = err_set (err, errlen, "id: required");
    if (rc == 0)
        rc = validate (out, lim, "", err, errlen);
    if (rc != 0)
        item_clear (out);
    return rc;
}

static void
free_string (char **s)
{
    if (*s && *s != protobuf_c_empty_string)
        free (*s);
    *s = NULL;
}

void
item_clear (Annotate__V1__Item *item)
{
    if (!item)
        return;
    free_string (&item->id);
    free_string (&item->text);
    free_string (&item->label);
    free_string (&item->meta_json);
    free (item->vector);
    annotate__v1__item__init (item);
}
