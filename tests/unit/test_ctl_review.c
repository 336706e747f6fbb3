/*  test_ctl_review.c: the pure parts of `annotatectl review` and `stats`:
    the key map (no label key is a command), terminal-safe escaping of
    hostile text, the vector picture, one task on screen, and the stats
    table from a made-up StatsResponse. The ctl sources are compiled into
    this test (tests/CMakeLists.txt): they are not in the library.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"

/* ---- keys ----------------------------------------------------------------- */

static char *words[40];
static char word_buf[40][8];

static ctl_keymap_t
keymap_of (size_t n)
{
    for (size_t i = 0; i < n; i++) {
        snprintf (word_buf[i], sizeof word_buf[i], "L%zu", i);
        words[i] = word_buf[i];
    }
    ctl_keymap_t km;
    ctl_keymap_init (&km, words, n);
    return km;
}

static void
test_keys_never_collide (void **state)
{
    const size_t n = strlen (CTL_REVIEW_KEYS);
    assert_int_equal (n, 34);
    ctl_keymap_t km = keymap_of (40);
    assert_false (km.own_keys);
    for (size_t i = 0; i < n; i++) {
        char k = ctl_keymap_key (&km, i);
        size_t li = 999;
        assert_int_equal (ctl_keymap_parse (&km, k, &li), CTL_KEY_LABEL);
        assert_int_equal (li, i);
        for (size_t j = 0; j < i; j++)
            assert_int_not_equal (ctl_keymap_key (&km, j), k);
    }
    assert_int_equal (ctl_keymap_key (&km, n), '\0');
    assert_null (strchr (CTL_REVIEW_KEYS, 'q'));
    assert_null (strchr (CTL_REVIEW_OWN_KEYS, 'q'));
    assert_int_equal (ctl_keymap_key (&km, 0), '1');
    assert_int_equal (ctl_keymap_key (&km, 9), 'a');
    /* no key character is a command, whatever the labels */
    size_t li;
    ctl_keymap_t none = keymap_of (0);
    for (const char *k = CTL_REVIEW_OWN_KEYS; *k; k++)
        assert_int_equal (ctl_keymap_parse (&none, *k, &li), CTL_KEY_UNKNOWN);
}

static void
test_keys_own (void **state)
{
    /* a digit taxonomy: '7' is "7", not the eighth label */
    char *digits[] = { "0", "1", "2", "3", "4", "5", "6", "7", "8", "9" };
    ctl_keymap_t km;
    ctl_keymap_init (&km, digits, 10);
    assert_true (km.own_keys);
    size_t li = 999;
    assert_int_equal (ctl_keymap_parse (&km, '7', &li), CTL_KEY_LABEL);
    assert_int_equal (li, 7);
    assert_int_equal (ctl_keymap_parse (&km, '0', &li), CTL_KEY_LABEL);
    assert_int_equal (li, 0);
    assert_int_equal (ctl_keymap_key (&km, 3), '3');
    assert_int_equal (ctl_keymap_parse (&km, 'a', &li), CTL_KEY_UNKNOWN);
    /* not all one key character, a duplicate, 'q', upper case: order keys */
    char *mixed[] = { "0", "1", "ten" };
    char *dup[] = { "a", "b", "a" };
    char *q[] = { "p", "q" };
    char *upper[] = { "A", "B" };
    ctl_keymap_init (&km, mixed, 3);
    assert_false (km.own_keys);
    assert_int_equal (ctl_keymap_key (&km, 0), '1');
    ctl_keymap_init (&km, dup, 3);
    assert_false (km.own_keys);
    ctl_keymap_init (&km, q, 2);
    assert_false (km.own_keys);
    assert_int_equal (ctl_keymap_parse (&km, 'q', &li), CTL_KEY_QUIT);
    ctl_keymap_init (&km, upper, 2);
    assert_false (km.own_keys);
}

static void
test_keys_commands (void **state)
{
    size_t li = 999;
    ctl_keymap_t km3 = keymap_of (3), km9 = keymap_of (9), km34 = keymap_of (34);
    assert_int_equal (ctl_keymap_parse (&km3, '\n', &li), CTL_KEY_ACCEPT);
    assert_int_equal (ctl_keymap_parse (&km3, '\r', &li), CTL_KEY_ACCEPT);
    assert_int_equal (ctl_keymap_parse (&km3, '.', &li), CTL_KEY_ACCEPT);
    assert_int_equal (ctl_keymap_parse (&km3, ',', &li), CTL_KEY_SKIP);
    assert_int_equal (ctl_keymap_parse (&km3, '<', &li), CTL_KEY_UNDO);
    assert_int_equal (ctl_keymap_parse (&km3, '/', &li), CTL_KEY_NAME);
    assert_int_equal (ctl_keymap_parse (&km3, '?', &li), CTL_KEY_HELP);
    assert_int_equal (ctl_keymap_parse (&km34, 'q', &li), CTL_KEY_QUIT);
    assert_int_equal (ctl_keymap_parse (&km3, -1, &li), CTL_KEY_QUIT);
    assert_int_equal (ctl_keymap_parse (&km3, 4, &li), CTL_KEY_QUIT);
    /* keys past the taxonomy, other bytes, NUL: nothing */
    assert_int_equal (ctl_keymap_parse (&km3, '4', &li), CTL_KEY_UNKNOWN);
    assert_int_equal (ctl_keymap_parse (&km9, 'a', &li), CTL_KEY_UNKNOWN);
    assert_int_equal (ctl_keymap_parse (&km34, 'A', &li), CTL_KEY_UNKNOWN);
    assert_int_equal (ctl_keymap_parse (&km34, '0', &li), CTL_KEY_UNKNOWN);
    assert_int_equal (ctl_keymap_parse (&km34, 0, &li), CTL_KEY_UNKNOWN);
    assert_int_equal (ctl_keymap_parse (&km34, 0x1b, &li), CTL_KEY_UNKNOWN);
    assert_int_equal (ctl_keymap_parse (&km34, 0xe9, &li), CTL_KEY_UNKNOWN);
    assert_int_equal (li, 999);
}

/* ---- escaping --------------------------------------------------------------- */

static char *
esc (const char *s, size_t max, bool keep, size_t *left)
{
    static char out[4096];
    size_t l = ctl_review_escape (s, max, keep, out, sizeof out);
    if (left)
        *left = l;
    return out;
}

static void
test_escape_controls (void **state)
{
    assert_string_equal (esc ("a\x1b[31mred\x1b[0m", 100, false, NULL), "a\\x1b[31mred\\x1b[0m");
    assert_string_equal (esc ("bell\x07 del\x7f", 100, false, NULL), "bell\\x07 del\\x7f");
    assert_string_equal (esc ("tab\there\\", 100, false, NULL), "tab\\there\\\\");
    assert_string_equal (esc ("l1\nl2\r\nl3\r", 100, false, NULL), "l1\\nl2\\r\\nl3\\r");
    assert_string_equal (esc ("l1\nl2\r\nl3\r", 100, true, NULL), "l1\nl2\nl3\\r");
    /* C1 CSI (U+009B), NEL, bidi override and isolate, line separator */
    assert_string_equal (esc ("x\xc2\x9b" "2J", 100, false, NULL), "x\\u009b2J");
    assert_string_equal (esc ("\xc2\x85", 100, false, NULL), "\\u0085");
    assert_string_equal (esc ("abc\xe2\x80\xae" "fed", 100, false, NULL), "abc\\u202efed");
    assert_string_equal (esc ("\xe2\x81\xa6x\xe2\x80\xa8", 100, false, NULL), "\\u2066x\\u2028");
}

static void
test_escape_utf8 (void **state)
{
    const char *ok = "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x8e\x89 \xc2\xa0";
    assert_string_equal (esc (ok, 100, false, NULL), ok);
    /* malformed: stray continuation, overlong '/', surrogate, past U+10FFFF,
       cut at the end; each bad byte shown on its own */
    assert_string_equal (esc ("a\x80" "b", 100, false, NULL), "a\\x80b");
    assert_string_equal (esc ("\xc0\xaf", 100, false, NULL), "\\xc0\\xaf");
    assert_string_equal (esc ("\xed\xa0\x80", 100, false, NULL), "\\xed\\xa0\\x80");
    assert_string_equal (esc ("\xf4\x90\x80\x80", 100, false, NULL), "\\xf4\\x90\\x80\\x80");
    assert_string_equal (esc ("ok\xe6\x97", 100, false, NULL), "ok\\xe6\\x97");
    assert_string_equal (esc ("\xff\xfe", 100, false, NULL), "\\xff\\xfe");
    assert_string_equal (esc (NULL, 100, false, NULL), "");
}

static void
test_escape_cut (void **state)
{
    size_t left = 0;
    assert_string_equal (esc ("abcdef", 4, false, &left), "abcd");
    assert_int_equal (left, 2);
    assert_string_equal (esc ("\xc3\xa9\xc3\xa9\xc3\xa9", 1, false, &left), "\xc3\xa9");
    assert_int_equal (left, 2);
    assert_string_equal (esc ("abc", 3, false, &left), "abc");
    assert_int_equal (left, 0);
    /* a small buffer cuts too, never in the middle of a character */
    char small[10];
    memset (small, 'Z', sizeof small);
    left = ctl_review_escape ("\x1b\x1b\x1b\x1b", 100, false, small, 9);
    assert_string_equal (small, "\\x1b");
    assert_int_equal (left, 3);
    assert_int_equal (small[9], 'Z');
    assert_int_equal (ctl_review_escape ("abc", 100, false, small, 0), 3);
}

/*  Random bytes: what comes out is always terminal-safe and in bounds.  */
static void
test_escape_random (void **state)
{
    srand (7);
    char in[257], out[200 * 6 + 8 + 1];
    for (int round = 0; round < 20000; round++) {
        size_t n = (size_t) (rand () % 256);
        for (size_t i = 0; i < n; i++)
            in[i] = (char) (1 + rand () % 255);
        in[n] = '\0';
        bool keep = round & 1;
        out[sizeof out - 1] = 'Z';
        ctl_review_escape (in, 200, keep, out, sizeof out - 1);
        assert_int_equal (out[sizeof out - 1], 'Z');
        const unsigned char *p = (const unsigned char *) out;
        for (; *p; p++) {
            assert_true (*p >= 0x20 || (keep && *p == '\n'));
            assert_int_not_equal (*p, 0x7f);
            if (*p == 0xc2)
                assert_false (p[1] >= 0x80 && p[1] <= 0x9f);
        }
        assert_true ((size_t) ((const char *) p - out) < sizeof out - 1);
    }
}

/* ---- vector picture ----------------------------------------------------------- */

static void
test_art (void **state)
{
    float v[784];
    char out[28 * 57 + 1];
    for (size_t i = 0; i < 64; i++)
        v[i] = (float) i;
    assert_int_equal (ctl_review_art (v, 64, out, sizeof out), 8);
    assert_int_equal (strlen (out), 8 * 17);
    assert_memory_equal (out, "  ", 2);                   /* the minimum */
    assert_memory_equal (out + 7 * 17 + 14, "@@\n", 3);   /* the maximum */
    for (size_t r = 0; r < 8; r++)
        assert_int_equal (out[r * 17 + 16], '\n');

    for (size_t i = 0; i < 784; i++)
        v[i] = i == 0 ? NAN : i == 1 ? INFINITY : (float) (i % 28);
    assert_int_equal (ctl_review_art (v, 784, out, sizeof out), 28);
    assert_int_equal (strlen (out), 28 * 57);
    assert_int_equal (out[0], ' ');

    assert_int_equal (ctl_review_art (v, 100, out, sizeof out), 0);
    assert_string_equal (out, "");
    assert_int_equal (ctl_review_art (v, 784, out, 100), 0);
    assert_string_equal (out, "");
    for (size_t i = 0; i < 64; i++)
        v[i] = 3.0f;    /* flat: blank, no division by zero */
    assert_int_equal (ctl_review_art (v, 64, out, sizeof out), 8);
    assert_null (strpbrk (out, ".:-=+*#%@"));
}

/* ---- a task on screen ---------------------------------------------------------- */

static char *
show (const Annotate__V1__ReviewTask *t, size_t max_chars)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream (&buf, &len);
    assert_non_null (f);
    ctl_review_show (f, t, "item 1/1", max_chars);
    fclose (f);
    return buf;
}

static void
test_show_task (void **state)
{
    Annotate__V1__Item item = ANNOTATE__V1__ITEM__INIT;
    Annotate__V1__Label sug = ANNOTATE__V1__LABEL__INIT;
    Annotate__V1__ClassScore s1 = ANNOTATE__V1__CLASS_SCORE__INIT, s2 = s1, s3 = s1;
    Annotate__V1__ClassScore *scores[] = { &s1, &s2, &s3 };
    Annotate__V1__ReviewTask t = ANNOTATE__V1__REVIEW_TASK__INIT;
    float vec[64] = { 0 };
    vec[63] = 1.0f;
    item.id = "id\x1b]0;pwned\x07";
    item.text = "line one \x1b[2J\nline two \xe2\x80\xae done";
    item.vector = vec;
    item.n_vector = 64;
    s1.label = "ham", s1.p = 0.25f;
    s2.label = "spam", s2.p = 0.70f;
    s3.label = "other", s3.p = NAN;
    sug.label = "spam", sug.confidence = 0.7f, sug.source = 2, sug.model_version = 4;
    sug.scores = scores, sug.n_scores = 3;
    t.item = &item, t.suggestion = &sug, t.reason = 2, t.priority = 0.5f;

    char *out = show (&t, 1000);
    assert_null (strchr (out, 0x1b));
    assert_null (strchr (out, 0x07));
    assert_null (strstr (out, "\xe2\x80\xae"));
    assert_non_null (strstr (out, "id        id\\x1b]0;pwned\\x07\n"));
    assert_non_null (strstr (out, "text      line one \\x1b[2J\n          line two \\u202e done\n"));
    assert_non_null (strstr (out, "why       validation (priority 0.500)"));
    assert_non_null (strstr (out, "vector    64 dims"));
    assert_non_null (strstr (out, "|              @@|"));
    assert_non_null (strstr (out, "suggest   spam  0.700  (model, version 4)"));
    assert_non_null (strstr (out, "top: spam 0.700, ham 0.250, other nan"));
    free (out);

    /* long text: wrapped at 76 and cut with a note; no suggestion */
    char longtext[3001];
    memset (longtext, 'x', 3000);
    longtext[3000] = '\0';
    item.text = longtext;
    item.n_vector = 0;
    t.suggestion = NULL;
    out = show (&t, 200);
    assert_non_null (strstr (out, "[... cut: 2800 more characters]"));
    assert_non_null (strstr (out, "suggest   (none: pick a label)"));
    for (char *line = out; *line;) {
        char *end = strchr (line, '\n');
        assert_non_null (end);
        assert_true (end - line <= 10 + 76);
        line = end + 1;
    }
    free (out);
}

static void
test_keymap (void **state)
{
    ctl_keymap_t km = keymap_of (40);
    words[1] = "bad\x1b[0m";
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream (&buf, &len);
    ctl_review_keymap (f, &km);
    fclose (f);
    assert_non_null (strstr (buf, "1 L0"));
    assert_non_null (strstr (buf, "2 bad\\x1b[0m"));
    assert_non_null (strstr (buf, "p L24"));    /* 'q' left out */
    assert_non_null (strstr (buf, "r L25"));
    assert_non_null (strstr (buf, "z L33"));
    assert_null (strstr (buf, "L34"));
    assert_non_null (strstr (buf, "6 more labels"));
    assert_null (strchr (buf, 0x1b));
    free (buf);
}

/* ---- stats ---------------------------------------------------------------------- */

/*  ctl_print_stats prints to stdout: catch it in a temporary file.  */
static char *
stats_text (const Annotate__V1__StatsResponse *r)
{
    static char buf[8192];
    FILE *tmp = tmpfile ();
    assert_non_null (tmp);
    fflush (stdout);
    int saved = dup (STDOUT_FILENO);
    dup2 (fileno (tmp), STDOUT_FILENO);
    ctl_print_stats (r);
    fflush (stdout);
    dup2 (saved, STDOUT_FILENO);
    close (saved);
    rewind (tmp);
    size_t n = fread (buf, 1, sizeof buf - 1, tmp);
    buf[n] = '\0';
    fclose (tmp);
    return buf;
}

static void
test_stats_text (void **state)
{
    Annotate__V1__StatsResponse r = ANNOTATE__V1__STATS_RESPONSE__INIT;
    Annotate__V1__SourceCount human = ANNOTATE__V1__SOURCE_COUNT__INIT, model = human, gold = human;
    Annotate__V1__SourceCount *sources[] = { &model, &human, &gold };
    Annotate__V1__ClassThreshold on = ANNOTATE__V1__CLASS_THRESHOLD__INIT, off = on;
    Annotate__V1__ClassThreshold *thr[] = { &on, &off };
    human.source = 3, human.count = 42;
    model.source = 2, model.count = 500;
    gold.source = 4, gold.count = 0;
    on.label = "spam", on.enabled = true, on.threshold = 0.91f, on.n_above = 20;
    on.accuracy = 0.95, on.lower = 0.761, on.upper = 0.99;
    off.label = "ham\x1b[1m", off.threshold = 1.0f;
    r.items = 1000, r.sources = sources, r.n_sources = 3;
    r.queue_depth = 7, r.queue_uncertain = 4, r.queue_validation = 2, r.queue_cold_start = 1;
    r.leased = 3, r.reviews = 10, r.reviews_last_hour = 6, r.reviews_per_hour = 6.0;
    r.budget_total = 0, r.budget_per_hour = 100, r.validation_labels = 30;
    r.strategy = "margin", r.target_accuracy = 0.95, r.current_model = 3;
    r.auto_accuracy = 0.962, r.auto_lower = 0.941, r.auto_upper = 0.976;
    r.human_agreement = 0.8, r.thresholds = thr, r.n_thresholds = 2;

    const char *out = stats_text (&r);
    assert_non_null (strstr (out, "items           1000 (human 42, auto 0, model 500)\n"));
    assert_null (strstr (out, "gold"));
    assert_non_null (strstr (out, "7 waiting (uncertain 4, validation 2, cold start 1), 3 leased"));
    assert_non_null (strstr (out, "total unlimited, per hour 100"));
    assert_non_null (strstr (out, "auto accuracy   0.962 [0.941, 0.976]\n"));
    /* the model's interval is all zero: nothing measured, not 0.000 */
    assert_non_null (strstr (out, "model accuracy  - (empty validation sample)"));
    assert_non_null (strstr (out, "agreement       0.800"));
    assert_non_null (strstr (out, "spam        on    0.910      20       0.950     [0.761, 0.990]"));
    assert_non_null (strstr (out, "ham\\x1b[1m  off   1.000      0        -         -"));
    assert_null (strchr (out, 0x1b));

    r.current_model = 0, r.auto_upper = 0, r.reviews = 0, r.budget_total = 500;
    r.n_thresholds = 0;
    out = stats_text (&r);
    assert_non_null (strstr (out, "model           none yet"));
    assert_non_null (strstr (out, "model accuracy  - (no model yet)"));
    assert_non_null (strstr (out, "auto accuracy   - (nothing measured yet)"));
    assert_non_null (strstr (out, "agreement       - (no reviews yet)"));
    assert_non_null (strstr (out, "total 500, per hour 100"));
    assert_null (strstr (out, "THRESHOLD"));
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_keys_never_collide),
        cmocka_unit_test (test_keys_own),
        cmocka_unit_test (test_keys_commands),
        cmocka_unit_test (test_escape_controls),
        cmocka_unit_test (test_escape_utf8),
        cmocka_unit_test (test_escape_cut),
        cmocka_unit_test (test_escape_random),
        cmocka_unit_test (test_art),
        cmocka_unit_test (test_show_task),
        cmocka_unit_test (test_keymap),
        cmocka_unit_test (test_stats_text),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
