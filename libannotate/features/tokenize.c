/*  tokenize.c: text to normalised tokens.

    The reference is utf8proc_map with STABLE | COMPAT | COMPOSE | CASEFOLD
    | IGNORE | STRIPCC (NFKC, case folding, default ignorables and control
    characters dropped; line breaks, tabs and form feeds become spaces),
    followed by a split into maximal runs of letters (L*), marks (M*) and
    numbers (N*).

    Most items are plain ASCII, and for ASCII that pipeline is a byte table:
    A-Z fold to a-z, HT LF VT FF CR become separators, every other control
    character vanishes (so "ab\x01cd" is one token, exactly as utf8proc
    does it). Any byte >= 0x80 sends the whole text through utf8proc
    instead, decomposed into a scratch buffer rather than utf8proc_map's
    malloc'd one. test_features.c checks that both paths agree.

    Text must be valid UTF-8 with no NUL byte (utf8_valid, the project's
    one definition of acceptable text); anything else is refused with the
    offset of the first bad byte.
*/
#include "features/features_internal.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "util/util.h"

/*  Longest text accepted: NFKC can grow a text several times over, and
    token offsets are 32-bit. Items are far shorter (64 KiB by default).  */
#define FEATURES_MAX_TEXT (16u << 20)

#define NORM_OPTIONS (UTF8PROC_STABLE | UTF8PROC_COMPAT | UTF8PROC_COMPOSE \
                      | UTF8PROC_CASEFOLD | UTF8PROC_IGNORE | UTF8PROC_STRIPCC)

enum { A_DROP = 0, A_SEP = 1, A_TOK = 2 };

/*  Class of each ASCII byte under the reference pipeline.  */
static unsigned char
s_ascii_class (unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return A_TOK;
    if (c >= 0x09 && c <= 0x0d)
        return A_SEP;               /* NLF, HT, VT, FF: turned into a space */
    if (c < 0x20 || c == 0x7f)
        return A_DROP;              /* other controls are stripped */
    return A_SEP;                   /* space, punctuation, symbols */
}

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

static int
s_ascii (const char *text, size_t len, fscratch_t *s, ftokens_t *out, char *err, size_t errlen)
{
    char *norm = fscratch_alloc (s, len);
    ftoken_t *tok = fscratch_alloc (s, (len / 2 + 1) * sizeof *tok);
    if (!norm || !tok)
        return err_set (err, errlen, "features: out of memory");
    size_t w = 0, n_tok = 0;
    bool in_tok = false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char) text[i];
        unsigned char k = s_ascii_class (c);
        if (k == A_TOK) {
            if (!in_tok) {
                tok[n_tok].off = (uint32_t) w;
                tok[n_tok].len = 0;
                n_tok++;
                in_tok = true;
            }
            norm[w++] = (char) (c >= 'A' && c <= 'Z' ? c + 32 : c);
            tok[n_tok - 1].len++;
        }
        else if (k == A_SEP)
            in_tok = false;
    }
    for (size_t t = 0; t < n_tok; t++)
        tok[t].ncp = tok[t].len;
    out->text = norm;
    out->len = w;
    out->tok = tok;
    out->n_tok = n_tok;
    return 0;
}

static bool
s_is_token_cp (utf8proc_int32_t cp)
{
    utf8proc_category_t cat = utf8proc_category (cp);
    return cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_NO;
}

/*  Decomposes into a scratch buffer (one retry if the first guess of its
    size was short), then composes in place: utf8proc_map, minus its malloc. */
static utf8proc_ssize_t
s_normalize (const char *text, size_t len, fscratch_t *s, utf8proc_int32_t **cps_p)
{
    const utf8proc_uint8_t *str = (const utf8proc_uint8_t *) text;
    utf8proc_ssize_t cap = (utf8proc_ssize_t) len + 16;
    utf8proc_int32_t *cps = fscratch_alloc (s, (size_t) cap * sizeof *cps);
    if (!cps)
        return UTF8PROC_ERROR_NOMEM;
    utf8proc_ssize_t n = utf8proc_decompose (str, (utf8proc_ssize_t) len, cps, cap, NORM_OPTIONS);
    if (n > cap) {
        cap = n;
        cps = fscratch_alloc (s, (size_t) cap * sizeof *cps);
        if (!cps)
            return UTF8PROC_ERROR_NOMEM;
        n = utf8proc_decompose (str, (utf8proc_ssize_t) len, cps, cap, NORM_OPTIONS);
    }
    if (n < 0)
        return n;
    *cps_p = cps;
    return utf8proc_normalize_utf32 (cps, n, NORM_OPTIONS);
}

static int
s_unicode (const char *text, size_t len, fscratch_t *s, ftokens_t *out, char *err, size_t errlen)
{
    utf8proc_int32_t *cps = NULL;
    utf8proc_ssize_t n = s_normalize (text, len, s, &cps);
    if (n == UTF8PROC_ERROR_NOMEM)
        return err_set (err, errlen, "features: out of memory");
    if (n < 0)
        return err_set (err, errlen, "features: normalisation failed: %s", utf8proc_errmsg (n));
    char *norm = fscratch_alloc (s, (size_t) n * 4);
    ftoken_t *tok = fscratch_alloc (s, ((size_t) n / 2 + 1) * sizeof *tok);
    if (!norm || !tok)
        return err_set (err, errlen, "features: out of memory");
    size_t w = 0, n_tok = 0;
    bool in_tok = false;
    for (utf8proc_ssize_t i = 0; i < n; i++) {
        if (!s_is_token_cp (cps[i])) {
            in_tok = false;
            continue;
        }
        if (!in_tok) {
            tok[n_tok] = (ftoken_t) { .off = (uint32_t) w };
            n_tok++;
            in_tok = true;
        }
        utf8proc_ssize_t k = utf8proc_encode_char (cps[i], (utf8proc_uint8_t *) norm + w);
        w += (size_t) k;
        tok[n_tok - 1].len += (uint32_t) k;
        tok[n_tok - 1].ncp++;
    }
    out->text = norm;
    out->len = w;
    out->tok = tok;
    out->n_tok = n_tok;
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
    bool ascii = true;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char) text[i] >= 0x80 || text[i] == 0) {
            ascii = false;
            break;
        }
    if (ascii)
        return s_ascii (text, len, s, out, err, errlen);
    if (!utf8_valid (text, len))
        return err_set (err, errlen, "features: text is not valid UTF-8 (bad byte at offset %zu)",
                        s_bad_offset (text, len));
    return s_unicode (text, len, s, out, err, errlen);
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
