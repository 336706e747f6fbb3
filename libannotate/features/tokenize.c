/*  tokenize.c: text to normalised tokens.

    The reference is utf8proc_map with STABLE | COMPAT | COMPOSE | CASEFOLD
    | IGNORE | STRIPCC (NFKC, case folding, default ignorables and control
    characters dropped; line breaks, tabs and form feeds become spaces),
    followed by a split into maximal runs of letters (L*), marks (M*) and
    numbers (N*).

    utf8proc costs some 30 ns a code point, and most text is mostly ASCII,
    for which that pipeline is a byte table: A-Z fold to a-z, HT LF VT FF
    CR become separators, every other control character vanishes (so
    "ab\x01cd" is one token, as utf8proc has it). So the text is cut into
    ASCII runs, done by the table, and non-ASCII runs, each sent through
    utf8proc together with the ASCII character before it (a following
    combining mark may compose with it: "e" U+0301 is "é"). The cut before
    an ASCII character that is kept is a normalisation boundary: ASCII
    characters have combining class 0 and never compose with what precedes
    them, and case folding and the NFKC mappings act on one code point at a
    time. (Stripped control bytes are no boundary: see s_runs.) Token state
    carries across the cuts. test_features.c checks the result
    against utf8proc_map on random mixed text.

    Text must be valid UTF-8 with no NUL byte (utf8_valid, the project's
    one definition of acceptable text); anything else is refused with the
    offset of the first bad byte.
*/
#include "features/features_internal.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "util/util.h"

/*  Longest text accepted: token offsets are 32-bit and NFKC can grow a
    text several times over. Items are far shorter (64 KiB by default).  */
#define FEATURES_MAX_TEXT (16u << 20)

#define NORM_OPTIONS (UTF8PROC_STABLE | UTF8PROC_COMPAT | UTF8PROC_COMPOSE \
                      | UTF8PROC_CASEFOLD | UTF8PROC_IGNORE | UTF8PROC_STRIPCC)

enum { A_DROP = 0, A_SEP = 1 };

/*  Each ASCII byte under the reference pipeline: A_DROP, A_SEP, or the
    (case-folded) byte it contributes to a token.  */
static const unsigned char s_ascii[128] = {
      0,   0,   0,   0,   0,   0,   0,   0,   0,   1,   1,   1,   1,   1,   0,   0,
      0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,
      1,   1,   1,   1,   1,   1,   1,   1,   1,   1,   1,   1,   1,   1,   1,   1,
     48,  49,  50,  51,  52,  53,  54,  55,  56,  57,   1,   1,   1,   1,   1,   1,
      1,  97,  98,  99, 100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111,
    112, 113, 114, 115, 116, 117, 118, 119, 120, 121, 122,   1,   1,   1,   1,   1,
      1,  97,  98,  99, 100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111,
    112, 113, 114, 115, 116, 117, 118, 119, 120, 121, 122,   1,   1,   1,   1,   0,
};

/*  The growing result: normalised bytes, tokens, and the code point buffer
    utf8proc decomposes into. All from the scratch arena.  */
typedef struct {
    fscratch_t *s;
    char *norm;
    size_t w, norm_cap;
    ftoken_t *tok;
    size_t n_tok, tok_cap;
    bool in_tok;
    utf8proc_int32_t *cps;
    size_t cps_cap;
} builder_t;

void
fscratch_init (fscratch_t *s)
{
    s->used = 0;
    s->n_heap = 0;
}

void *
fscratch_alloc (fscratch_t *s, size_t size)
{
    size = (size + 7u) & ~(size_t) 7u;
    if (size == 0)
        size = 8;
    if (size <= FSCRATCH_STACK - s->used) {
        void *p = s->stack + s->used;
        s->used += size;
        return p;
    }
    if (s->n_heap == FSCRATCH_HEAP_MAX)
        return NULL;
    void *p = malloc (size);
    if (p)
        s->heap[s->n_heap++] = p;
    return p;
}

void
fscratch_free (fscratch_t *s)
{
    for (size_t i = 0; i < s->n_heap; i++)
        free (s->heap[i]);
    s->n_heap = 0;
    s->used = 0;
}

/*  Makes room for `need` more elements of `size` bytes at *p (holding
    `used`), doubling; the old block stays in the arena until the end.  */
static int
s_grow (fscratch_t *s, void **p, size_t *cap, size_t used, size_t need, size_t size)
{
    if (used + need <= *cap)
        return 0;
    size_t cap2 = *cap ? *cap : 64;
    while (cap2 < used + need)
        cap2 *= 2;
    void *q = fscratch_alloc (s, cap2 * size);
    if (!q)
        return -1;
    if (used)
        memcpy (q, *p, used * size);
    *p = q;
    *cap = cap2;
    return 0;
}

/*  Adds one code point of `nbytes` bytes to the current token, opening
    one if needed.  */
static inline void
s_tok_cp (builder_t *b, uint32_t nbytes)
{
    if (!b->in_tok) {
        b->tok[b->n_tok++] = (ftoken_t) { .off = (uint32_t) b->w };
        b->in_tok = true;
    }
    b->tok[b->n_tok - 1].len += nbytes;
    b->tok[b->n_tok - 1].ncp++;
}

/*  The hot loop of the common case, so it keeps its state in locals and
    settles the open token's length once per token, not once per byte.  */
static int
s_ascii_run (builder_t *b, const unsigned char *p, size_t n)
{
    if (s_grow (b->s, (void **) &b->norm, &b->norm_cap, b->w, n, 1) != 0
        || s_grow (b->s, (void **) &b->tok, &b->tok_cap, b->n_tok, n / 2 + 1, sizeof *b->tok) != 0)
        return -1;
    char *norm = b->norm;
    ftoken_t *tok = b->tok;
    size_t w = b->w, nt = b->n_tok, open = w;
    bool in = b->in_tok;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = s_ascii[p[i]];
        if (c > A_SEP) {
            if (!in) {
                tok[nt++] = (ftoken_t) { .off = (uint32_t) w };
                open = w;
                in = true;
            }
            norm[w++] = (char) c;
        }
        else if (c == A_SEP && in) {
            tok[nt - 1].len += (uint32_t) (w - open);
            tok[nt - 1].ncp += (uint32_t) (w - open);
            in = false;
        }
    }
    if (in) {
        tok[nt - 1].len += (uint32_t) (w - open);
        tok[nt - 1].ncp += (uint32_t) (w - open);
    }
    b->w = w;
    b->n_tok = nt;
    b->in_tok = in;
    return 0;
}

static bool
s_is_token_cp (utf8proc_int32_t cp)
{
    utf8proc_category_t cat = utf8proc_category (cp);
    return cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_NO;
}

/*  utf8proc_map's decompose and compose, into the builder's code point
    buffer instead of a malloc'd one. Returns the code point count or a
    utf8proc error.  */
static utf8proc_ssize_t
s_normalize (builder_t *b, const unsigned char *p, size_t n)
{
    if (s_grow (b->s, (void **) &b->cps, &b->cps_cap, 0, n + 16, sizeof *b->cps) != 0)
        return UTF8PROC_ERROR_NOMEM;
    utf8proc_ssize_t m = utf8proc_decompose (p, (utf8proc_ssize_t) n, b->cps,
                                             (utf8proc_ssize_t) b->cps_cap, NORM_OPTIONS);
    if (m > (utf8proc_ssize_t) b->cps_cap) {
        if (s_grow (b->s, (void **) &b->cps, &b->cps_cap, 0, (size_t) m, sizeof *b->cps) != 0)
            return UTF8PROC_ERROR_NOMEM;
        m = utf8proc_decompose (p, (utf8proc_ssize_t) n, b->cps, (utf8proc_ssize_t) b->cps_cap,
                                NORM_OPTIONS);
    }
    if (m < 0)
        return m;
    return utf8proc_normalize_utf32 (b->cps, m, NORM_OPTIONS);
}

static int
s_unicode_run (builder_t *b, const unsigned char *p, size_t n, char *err, size_t errlen)
{
    utf8proc_ssize_t m = s_normalize (b, p, n);
    if (m < 0 && m != UTF8PROC_ERROR_NOMEM)
        return err_set (err, errlen, "features: normalisation failed: %s", utf8proc_errmsg (m));
    if (m < 0 || s_grow (b->s, (void **) &b->norm, &b->norm_cap, b->w, (size_t) m * 4, 1) != 0
        || s_grow (b->s, (void **) &b->tok, &b->tok_cap, b->n_tok, (size_t) m / 2 + 1,
                   sizeof *b->tok) != 0)
        return err_set (err, errlen, "features: out of memory");
    for (utf8proc_ssize_t i = 0; i < m; i++) {
        if (!s_is_token_cp (b->cps[i])) {
            b->in_tok = false;
            continue;
        }
        utf8proc_ssize_t k = utf8proc_encode_char (b->cps[i], (utf8proc_uint8_t *) b->norm + b->w);
        s_tok_cp (b, (uint32_t) k);
        b->w += (size_t) k;
    }
    return 0;
}

/*  True for ASCII without NUL, valid as it is; eight bytes at a time.  */
static bool
s_plain_ascii (const char *text, size_t len)
{
    const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
    uint64_t bad = 0;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t x;
        memcpy (&x, text + i, 8);
        bad |= (x | ((x - ones) & ~x)) & highs;     /* a high bit, or a zero byte */
    }
    for (; i < len; i++)
        bad |= (unsigned char) text[i] >= 0x80 || text[i] == 0;
    return bad == 0;
}

/*  Byte offset of the first ill-formed sequence (or NUL), for the error
    message only.  */
static size_t
s_bad_offset (const char *text, size_t len)
{
    size_t i = 0;
    while (i < len) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t n = utf8proc_iterate ((const utf8proc_uint8_t *) text + i,
                                               (utf8proc_ssize_t) (len - i), &cp);
        if (n <= 0 || cp == 0)
            return i;
        i += (size_t) n;
    }
    return len;
}

/*  Cuts the text into ASCII and non-ASCII runs (see the top comment).
    A control byte that will be stripped is no boundary at all (utf8proc
    strips it before composing: "e" 0x01 U+0301 is "é"), so such bytes go
    with the non-ASCII run next to them, and a run is cut only before an
    ASCII byte that stays.  */
static int
s_runs (builder_t *b, const unsigned char *p, size_t len, char *err, size_t errlen)
{
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && p[j] < 0x80)
            j++;
        if (j == len)
            return s_ascii_run (b, p + i, len - i) == 0
                ? 0 : err_set (err, errlen, "features: out of memory");
        /* back over stripped bytes, then the byte a mark may compose with */
        size_t start = j;
        while (start > i && s_ascii[p[start - 1]] == A_DROP)
            start--;
        if (start > i)
            start--;
        if (start > i && s_ascii_run (b, p + i, start - i) != 0)
            return err_set (err, errlen, "features: out of memory");
        size_t k = j;
        while (k < len && (p[k] >= 0x80 || s_ascii[p[k]] == A_DROP))
            k++;
        if (s_unicode_run (b, p + start, k - start, err, errlen) != 0)
            return -1;
        i = k;
    }
    return 0;
}

int
ftokenize (const char *text, size_t len, fscratch_t *s, ftokens_t *out, char *err, size_t errlen)
{
    *out = (ftokens_t) { .text = "" };
    if (len == 0)
        return 0;
    if (!text)
        return err_set (err, errlen, "features: text is NULL but its length is %zu", len);
    if (len > FEATURES_MAX_TEXT)
        return err_set (err, errlen, "features: text of %zu bytes is longer than %u",
                        len, FEATURES_MAX_TEXT);
    if (!s_plain_ascii (text, len) && !utf8_valid (text, len))
        return err_set (err, errlen, "features: text is not valid UTF-8 (bad byte at offset %zu)",
                        s_bad_offset (text, len));
    /* sized for the usual case up front (NFKC rarely grows a text), so the
       growth below stays rare and the arena's heap blocks few */
    builder_t b = { .s = s };
    if (s_grow (s, (void **) &b.norm, &b.norm_cap, 0, len + 16, 1) != 0
        || s_grow (s, (void **) &b.tok, &b.tok_cap, 0, len / 2 + 2, sizeof *b.tok) != 0)
        return err_set (err, errlen, "features: out of memory");
    if (s_runs (&b, (const unsigned char *) text, len, err, errlen) != 0)
        return -1;
    out->text = b.norm ? b.norm : "";
    out->len = b.w;
    out->tok = b.tok;
    out->n_tok = b.n_tok;
    return 0;
}

int
features_tokens (const char *text, size_t len,
                 void (*fn) (void *arg, const char *tok, size_t tok_len), void *arg)
{
    fscratch_t *s = malloc (sizeof *s);
    if (!s)
        return -1;
    fscratch_init (s);
    ftokens_t t;
    int rc = ftokenize (text, len, s, &t, NULL, 0);
    if (rc == 0 && fn)
        for (size_t i = 0; i < t.n_tok; i++)
            fn (arg, t.text + t.tok[i].off, t.tok[i].len);
    fscratch_free (s);
    free (s);
    return rc;
}
