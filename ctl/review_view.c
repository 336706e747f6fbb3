/*  review_view.c: what `annotatectl review` shows and what its keys mean.

    Pure functions (no I/O but the FILE they are given), so the unit test
    can check them: the key map, the terminal-safe escaping of untrusted
    text, the ASCII picture of image vectors, and one task on screen.

    Escaping: a review shows texts that anyone could have ingested. The
    text is decoded here (not trusted to be UTF-8) and everything a
    terminal could act on is rendered visibly instead: C0 controls (ESC
    starts every ANSI sequence), DEL, C1 controls (U+0080..U+009F; U+009B
    is a one-character CSI on some terminals), bidi overrides and isolates
    (they reorder what the person reads), line and paragraph separators,
    and malformed bytes. A person must see the text as stored, never have
    it repaint the screen.  */
#include "ctl.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

#define WRAP_WIDTH  76
#define TOP_SCORES  5
#define MAX_SCORES  4096     /* scores looked at; a hostile server may send more */
#define ID_CHARS    200

static const char label_keys[] = CTL_REVIEW_KEYS;
static const char own_keys[] = CTL_REVIEW_OWN_KEYS;
#define N_KEYS (sizeof label_keys - 1)

/* ---- keys ------------------------------------------------------------- */

void
ctl_keymap_init (ctl_keymap_t *km, char *const *labels, size_t n_labels)
{
    km->labels = labels;
    km->n_labels = n_labels;
    /* own keys only when all labels are distinct one-character keys */
    bool own = n_labels > 0;
    for (size_t i = 0; i < n_labels && own; i++) {
        const char *l = labels[i];
        own = l && l[0] && !l[1] && strchr (own_keys, l[0]);
        for (size_t j = 0; j < i && own; j++)
            own = labels[j][0] != l[0];
    }
    km->own_keys = own;
}

char
ctl_keymap_key (const ctl_keymap_t *km, size_t i)
{
    if (i >= km->n_labels)
        return '\0';
    if (km->own_keys)
        return km->labels[i][0];
    return i < N_KEYS ? label_keys[i] : '\0';
}

static ctl_key_t
command_key (int c)
{
    switch (c) {
    case '\n':
    case '\r':
    case '.':
        return CTL_KEY_ACCEPT;
    case ',':
        return CTL_KEY_SKIP;
    case '<':
        return CTL_KEY_UNDO;
    case '/':
        return CTL_KEY_NAME;
    case '?':
        return CTL_KEY_HELP;
    case 'q':
    case 4:     /* Ctrl-D in single-key mode */
    case -1:
        return CTL_KEY_QUIT;
    default:
        return CTL_KEY_UNKNOWN;
    }
}

ctl_key_t
ctl_keymap_parse (const ctl_keymap_t *km, int c, size_t *label)
{
    ctl_key_t cmd = command_key (c);
    /* c > 0: strchr would find the terminator for 0 */
    if (cmd != CTL_KEY_UNKNOWN || c <= 0 || c >= 0x80)
        return cmd;
    for (size_t i = 0; i < km->n_labels && (km->own_keys || i < N_KEYS); i++)
        if (ctl_keymap_key (km, i) == c) {
            *label = i;
            return CTL_KEY_LABEL;
        }
    return CTL_KEY_UNKNOWN;
}

const char *
ctl_review_reason_name (int reason)
{
    switch (reason) {
    case ANNOTATE__V1__REVIEW_REASON__REASON_UNCERTAIN:
        return "uncertain";
    case ANNOTATE__V1__REVIEW_REASON__REASON_VALIDATION:
        return "validation";
    case ANNOTATE__V1__REVIEW_REASON__REASON_COLD_START:
        return "cold start";
    default:
        return "unspecified";
    }
}

/* ---- escaping ----------------------------------------------------------- */

/*  Length of the well-formed UTF-8 character at p (n bytes left), its code
    point in *cp; 0 when malformed (overlong, surrogate, past U+10FFFF,
    truncated).  */
static size_t
utf8_char (const unsigned char *p, size_t n, uint32_t *cp)
{
    size_t len;
    uint32_t c, min;
    if (p[0] < 0x80) {
        *cp = p[0];
        return 1;
    }
    if ((p[0] & 0xE0) == 0xC0)
        len = 2, min = 0x80, c = p[0] & 0x1F;
    else if ((p[0] & 0xF0) == 0xE0)
        len = 3, min = 0x800, c = p[0] & 0x0F;
    else if ((p[0] & 0xF8) == 0xF0)
        len = 4, min = 0x10000, c = p[0] & 0x07;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (p[i] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    *cp = c;
    return len;
}

/*  Code points a terminal could act on, or that change how text reads.  */
static bool
unsafe_cp (uint32_t c)
{
    return c < 0x20 || (c >= 0x7F && c <= 0x9F) || c == 0x061C || c == 0x200E || c == 0x200F
           || (c >= 0x2028 && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069);
}

/*  Characters from p on: lead bytes and malformed bytes, roughly.  */
static size_t
count_chars (const unsigned char *p, size_t n)
{
    size_t chars = 0;
    for (size_t i = 0; i < n; i++)
        chars += (p[i] & 0xC0) != 0x80;
    return chars;
}

/*  Writes the visible form of code point c (len bytes at p) at out;
    returns the bytes written (at most 6).  */
static size_t
escape_one (uint32_t c, const unsigned char *p, size_t len, bool keep_newlines, char *out)
{
    if (len == 0)
        return (size_t) sprintf (out, "\\x%02x", p[0]);
    if (c == '\n' && keep_newlines) {
        out[0] = '\n';
        return 1;
    }
    if (c == '\n' || c == '\t' || c == '\r' || c == '\\') {
        out[0] = '\\';
        out[1] = c == '\n' ? 'n' : c == '\t' ? 't' : c == '\r' ? 'r' : '\\';
        return 2;
    }
    if (unsafe_cp (c))
        return (size_t) sprintf (out, c < 0x80 ? "\\x%02" PRIx32 : "\\u%04" PRIx32, c);
    memcpy (out, p, len);
    return len;
}

size_t
ctl_review_escape (const char *s, size_t max_chars, bool keep_newlines, char *out, size_t cap)
{
    const unsigned char *p = (const unsigned char *) (s ? s : "");
    size_t n = strlen ((const char *) p), i = 0, j = 0, shown = 0;
    if (cap == 0)
        return count_chars (p, n);
    /* 7: the longest form (6) and the terminator */
    while (i < n && shown < max_chars && j + 7 <= cap) {
        uint32_t c = 0;
        size_t len = utf8_char (p + i, n - i, &c);
        /* CR LF is one line break when lines are kept */
        if (len == 1 && c == '\r' && keep_newlines && p[i + 1] == '\n')
            len = 2, c = '\n';
        j += escape_one (c, p + i, len, keep_newlines, out + j);
        i += len ? len : 1;
        shown++;
    }
    out[j] = '\0';
    return count_chars (p + i, n - i);
}

/* ---- vectors ------------------------------------------------------------ */

size_t
ctl_review_art (const float *v, size_t n, char *out, size_t cap)
{
    static const char ramp[] = " .:-=+*#%@";
    size_t side = n == 64 ? 8 : n == 784 ? 28 : 0;
    if (cap)
        out[0] = '\0';
    if (!side || !v || cap < side * (2 * side + 1) + 1)
        return 0;
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++)
        if (isfinite (v[i])) {
            lo = v[i] < lo ? v[i] : lo;
            hi = v[i] > hi ? v[i] : hi;
        }
    double span = hi > lo ? hi - lo : 1.0;  /* flat or all non-finite: blank */
    size_t j = 0;
    for (size_t r = 0; r < side; r++) {
        for (size_t c = 0; c < side; c++) {
            double x = v[r * side + c];
            int level = isfinite (x) && hi > lo ? (int) ((x - lo) / span * 9.0 + 0.5) : 0;
            level = level < 0 ? 0 : level > 9 ? 9 : level;
            out[j++] = ramp[level];
            out[j++] = ramp[level];
        }
        out[j++] = '\n';
    }
    out[j] = '\0';
    return side;
}

/*  A short field (label, id): escaped, "..." when cut. cap >= max * 6 + 11. */
static char *
escape_short (const char *s, size_t max, char *out, size_t cap)
{
    if (ctl_review_escape (s, max, false, out, cap - 3))
        strcat (out, "...");
    return out;
}

static void
show_vector (FILE *out, const float *v, size_t n)
{
    double lo = INFINITY, hi = -INFINITY, sum = 0, sq = 0;
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite (v[i])) {
            bad++;
            continue;
        }
        lo = v[i] < lo ? v[i] : lo;
        hi = v[i] > hi ? v[i] : hi;
        sum += v[i];
        sq += (double) v[i] * v[i];
    }
    if (bad == n) {
        fprintf (out, "vector    %zu dims, no finite value\n", n);
        return;
    }
    fprintf (out, "vector    %zu dims, min %.3g, max %.3g, mean %.3g, norm %.3g", n, lo, hi,
             sum / (double) (n - bad), sqrt (sq));
    fprintf (out, bad ? ", %zu not finite\n" : "\n", bad);
    char art[28 * 57 + 1];
    if (ctl_review_art (v, n, art, sizeof art)) {
        for (char *line = art, *end; (end = strchr (line, '\n')); line = end + 1)
            fprintf (out, "          |%.*s|\n", (int) (end - line), line);
    }
}

/* ---- text --------------------------------------------------------------- */

/*  Prints escaped text (printable characters and '\n') in lines of at most
    WRAP_WIDTH characters, broken at a space when there is one.  */
static void
print_wrapped (FILE *out, const char *s, const char *first, const char *indent)
{
    const char *lead = first;
    while (*s) {
        const char *p = s, *brk = NULL;
        size_t chars = 0;
        while (*p && *p != '\n' && chars < WRAP_WIDTH) {
            if (*p == ' ')
                brk = p;
            for (p++; (*p & 0xC0) == 0x80; p++)
                ;
            chars++;
        }
        const char *end = p;
        if (*p == ' ')
            end = p;
        else if (*p && *p != '\n' && brk && brk > s)
            end = brk;
        fprintf (out, "%s%.*s\n", lead, (int) (end - s), s);
        lead = indent;
        s = end;
        if (*s == '\n' || *s == ' ')
            s++;
    }
}

static void
show_text (FILE *out, const char *text, size_t max_chars)
{
    if (!text || !*text) {
        fprintf (out, "text      (none)\n");
        return;
    }
    size_t cap = max_chars * 6 + 8;
    char *buf = malloc (cap);
    if (!buf) {
        fprintf (out, "text      (out of memory)\n");
        return;
    }
    size_t left = ctl_review_escape (text, max_chars, true, buf, cap);
    print_wrapped (out, buf, "text      ", "          ");
    if (left)
        fprintf (out, "          [... cut: %zu more characters]\n", left);
    free (buf);
}

/* ---- suggestion --------------------------------------------------------- */

static int
by_p_desc (const void *a, const void *b)
{
    float pa = (*(Annotate__V1__ClassScore *const *) a)->p;
    float pb = (*(Annotate__V1__ClassScore *const *) b)->p;
    pa = isfinite (pa) ? pa : -1.0f;
    pb = isfinite (pb) ? pb : -1.0f;
    return (pa < pb) - (pa > pb);
}

static void
show_scores (FILE *out, Annotate__V1__ClassScore **scores, size_t n)
{
    size_t k = 0;
    Annotate__V1__ClassScore **top = malloc ((n < MAX_SCORES ? n : MAX_SCORES) * sizeof *top);
    if (!top)
        return;
    for (size_t i = 0; i < n && k < MAX_SCORES; i++)
        if (scores[i])
            top[k++] = scores[i];
    qsort (top, k, sizeof *top, by_p_desc);
    fprintf (out, "          top:");
    for (size_t i = 0; i < k && i < TOP_SCORES; i++) {
        char label[256];
        fprintf (out, "%s %s %.3f", i ? "," : "",
                 escape_short (top[i]->label, 40, label, sizeof label), top[i]->p);
    }
    fprintf (out, "\n");
    free (top);
}

static void
show_suggestion (FILE *out, const Annotate__V1__Label *l)
{
    if (!l || !l->label || !*l->label) {
        fprintf (out, "suggest   (none: pick a label)\n");
        return;
    }
    char label[256];
    fprintf (out, "suggest   %s  %.3f  (%s", escape_short (l->label, 40, label, sizeof label),
             l->confidence, ctl_source_name (l->source));
    fprintf (out, l->model_version ? ", version %" PRIu64 ")\n" : ")\n", l->model_version);
    if (l->n_scores)
        show_scores (out, l->scores, l->n_scores);
}

void
ctl_review_show (FILE *out, const Annotate__V1__ReviewTask *t, const char *heading,
                 size_t max_chars)
{
    static const Annotate__V1__Item empty = ANNOTATE__V1__ITEM__INIT;
    const Annotate__V1__Item *it = t->item ? t->item : &empty;
    char id[ID_CHARS * 6 + 11];
    fprintf (out, "\n==== %s ====\n", heading);
    fprintf (out, "id        %s\n", escape_short (it->id, ID_CHARS, id, sizeof id));
    fprintf (out, "why       %s (priority %.3f)\n", ctl_review_reason_name (t->reason), t->priority);
    show_text (out, it->text, max_chars);
    if (it->n_vector && it->vector)
        show_vector (out, it->vector, it->n_vector);
    show_suggestion (out, t->suggestion);
}

void
ctl_review_keymap (FILE *out, const ctl_keymap_t *km)
{
    size_t col = 0, keyed = 0;
    fprintf (out, "keys:");
    for (size_t i = 0; i < km->n_labels && ctl_keymap_key (km, i); i++, keyed++) {
        char label[160], pair[180];
        int w = snprintf (pair, sizeof pair, "  %c %s", ctl_keymap_key (km, i),
                          escape_short (km->labels[i], 24, label, sizeof label));
        if (col && col + (size_t) w > WRAP_WIDTH) {
            fprintf (out, "\n     ");
            col = 0;
        }
        fputs (pair, out);
        col += (size_t) w;
    }
    if (keyed < km->n_labels)
        fprintf (out, "\n      (%zu more labels: type / and the name)", km->n_labels - keyed);
    fprintf (out, "\n      Enter or . accept   , skip   < undo   / label by name   ? keys   "
                  "q quit\n");
}
