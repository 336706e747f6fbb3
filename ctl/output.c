/*  output.c: names, escaping, times, and messages as JSON.

    JSON output mirrors the proto: ctl_message_json walks any message by its
    protobuf-c descriptor, so a field added to the .proto shows up in
    `-o json` without touching this file. Everything printed comes from the
    server and is treated as untrusted: table text is escaped.  */
#include "ctl.h"

#include <string.h>
#include <time.h>

static const char *source_names[] = { "unspecified", "none", "model", "human", "gold",
                                      "auto",        "propagation", "duplicate", "llm" };
static const char *status_names[] = { "unspecified", "pending", "labelled", "review",
                                      "accepted" };
#define N_SOURCES (sizeof source_names / sizeof source_names[0])
#define N_STATUSES (sizeof status_names / sizeof status_names[0])

const char *
ctl_source_name (int source)
{
    return source >= 0 && (size_t) source < N_SOURCES ? source_names[source] : "unknown";
}

int
ctl_source_parse (const char *name)
{
    for (size_t i = 1; i < N_SOURCES; i++)
        if (strcmp (name, source_names[i]) == 0)
            return (int) i;
    return -1;
}

const char *
ctl_status_name (int status)
{
    return status >= 0 && (size_t) status < N_STATUSES ? status_names[status] : "unknown";
}

int
ctl_status_parse (const char *name)
{
    for (size_t i = 1; i < N_STATUSES; i++)
        if (strcmp (name, status_names[i]) == 0)
            return (int) i;
    return -1;
}

char *
ctl_escape (const char *s, size_t max_chars, char *out, size_t cap)
{
    size_t j = 0, chars = 0;
    const unsigned char *p = (const unsigned char *) (s ? s : "");
    for (; *p; p++) {
        /* room is checked at the start of each character: at most 4 bytes
           for it and 4 for "...\0", so a character is never cut in half */
        bool lead = (*p & 0xC0) != 0x80;
        if (lead && (chars++ == max_chars || j + 9 > cap))
            break;
        if (!lead && j + 5 > cap)   /* stray continuation bytes from a broken server */
            break;
        if (*p == '\n' || *p == '\t' || *p == '\\')
            j += (size_t) snprintf (out + j, cap - j, "\\%c",
                                    *p == '\n' ? 'n' : *p == '\t' ? 't' : '\\');
        else if (*p < 0x20 || *p == 0x7F)
            j += (size_t) snprintf (out + j, cap - j, "\\x%02x", *p);
        else
            out[j++] = (char) *p;
    }
    if (*p) {
        memcpy (out + j, "...", 3);
        j += 3;
    }
    out[j] = '\0';
    return out;
}

char *
ctl_time (int64_t ms, char *out, size_t cap)
{
    if (ms <= 0) {
        snprintf (out, cap, "-");
        return out;
    }
    time_t secs = (time_t) (ms / 1000);
    struct tm tm;
    gmtime_r (&secs, &tm);
    char date[32];
    strftime (date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf (out, cap, "%s.%03dZ", date, (int) (ms % 1000));
    return out;
}

json_t *
ctl_json_u64 (uint64_t v)
{
    return json_integer (v > (uint64_t) INT64_MAX ? INT64_MAX : (json_int_t) v);
}

static json_t *
enum_json (const ProtobufCFieldDescriptor *f, int value)
{
    const ProtobufCEnumDescriptor *e = f->descriptor;
    if (strcmp (e->name, "annotate.v1.LabelSource") == 0)
        return json_string (ctl_source_name (value));
    if (strcmp (e->name, "annotate.v1.ItemStatus") == 0)
        return json_string (ctl_status_name (value));
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value (e, value);
    return v ? json_string (v->name) : json_integer (value);
}

static json_t *
bytes_json (const ProtobufCBinaryData *b)
{
    static const char hex[] = "0123456789abcdef";
    char buf[2 * 64 + 1];
    size_t n = b->len > 64 ? 64 : b->len;
    for (size_t i = 0; i < n; i++) {
        buf[2 * i] = hex[b->data[i] >> 4];
        buf[2 * i + 1] = hex[b->data[i] & 15];
    }
    buf[2 * n] = '\0';
    return json_string (buf);
}

/*  One value of field f stored at p.  */
static json_t *
value_json (const ProtobufCFieldDescriptor *f, const void *p)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        return json_integer (*(const int32_t *) p);
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        return json_integer (*(const uint32_t *) p);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        return json_integer (*(const int64_t *) p);
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return ctl_json_u64 (*(const uint64_t *) p);
    case PROTOBUF_C_TYPE_FLOAT:
        return json_real (*(const float *) p);
    case PROTOBUF_C_TYPE_DOUBLE:
        return json_real (*(const double *) p);
    case PROTOBUF_C_TYPE_BOOL:
        return json_boolean (*(const protobuf_c_boolean *) p);
    case PROTOBUF_C_TYPE_ENUM:
        return enum_json (f, *(const int *) p);
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *) p;
        /* the server promised UTF-8; if not, show that rather than fail */
        json_t *j = json_string (s ? s : "");
        return j ? j : json_string ("<invalid UTF-8>");
    }
    case PROTOBUF_C_TYPE_BYTES:
        return bytes_json ((const ProtobufCBinaryData *) p);
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *m = *(ProtobufCMessage *const *) p;
        return m ? ctl_message_json (m) : json_null ();
    }
    }
    return json_null ();
}

static size_t
element_size (ProtobufCType type)
{
    switch (type) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return 8;
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof (protobuf_c_boolean);
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof (void *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof (ProtobufCBinaryData);
    default:
        return 4;
    }
}

json_t *
ctl_message_json (const ProtobufCMessage *msg)
{
    json_t *obj = json_object ();
    const ProtobufCMessageDescriptor *d = msg->descriptor;
    const char *base = (const char *) msg;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        json_t *v;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *) (base + f->quantifier_offset);
            const char *arr = *(char *const *) (base + f->offset);
            v = json_array ();
            for (size_t k = 0; k < n && arr; k++)
                json_array_append_new (v, value_json (f, arr + k * element_size (f->type)));
        }
        else
            v = value_json (f, base + f->offset);
        json_object_set_new (obj, f->name, v);
    }
    return obj;
}

void
ctl_print_json (json_t *v, bool compact)
{
    /* 7 digits: floats (confidences, vectors) print as written, 0.9 not 0.899999976 */
    size_t flags = JSON_REAL_PRECISION (7) | (compact ? JSON_COMPACT : JSON_INDENT (2));
    json_dumpf (v, stdout, flags);
    fputc ('\n', stdout);
    json_decref (v);
}
