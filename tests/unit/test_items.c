/*  test_items.c: item_validate, item_from_json and item_reader_t.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <math.h>

#include "items/item.h"

static item_limits_t lim;

/*  Parses s; expects failure whose message contains want.  */
static void
expect_bad (const char *s, size_t len, const char *want)
{
    Annotate__V1__Item item;
    char err[512] = "";
    int rc = item_from_json (s, len, &lim, &item, err, sizeof err);
    if (rc == 0 || !strstr (err, want))
        fail_msg ("input %.60s: rc %d, err \"%s\", wanted \"%s\"", s, rc, err, want);
    assert_null (item.vector);   /* cleared on error */
}

static void
bad (const char *s, const char *want)
{
    expect_bad (s, strlen (s), want);
}

static void
test_good_line (void **state)
{
    const char *line = "{\"id\": \"a1\", \"text\": \"héllo\", \"vector\": [0.5, -2, 1e3],"
                       " \"meta\": {\"k\": [1, 2], \"s\": \"x\"}, \"label\": \"spam\"}";
    Annotate__V1__Item item;
    char err[256] = "";
    assert_int_equal (item_from_json (line, strlen (line), &lim, &item, err, sizeof err), 0);
    assert_string_equal (item.id, "a1");
    assert_string_equal (item.text, "héllo");
    assert_string_equal (item.label, "spam");
    assert_string_equal (item.meta_json, "{\"k\":[1,2],\"s\":\"x\"}");
    assert_int_equal (item.n_vector, 3);
    assert_true (item.vector[0] == 0.5f && item.vector[1] == -2.0f && item.vector[2] == 1000.0f);
    assert_int_equal (item_validate (&item, &lim, 0, err, sizeof err), 0);
    item_clear (&item);
    assert_string_equal (item.id, "");
    assert_null (item.vector);
}

static void
test_minimal_and_integer_id (void **state)
{
    Annotate__V1__Item item;
    char err[256] = "";
    const char *line = "  {\"id\": 12345, \"text\": null}\r";
    assert_int_equal (item_from_json (line, strlen (line), &lim, &item, err, sizeof err), 0);
    assert_string_equal (item.id, "12345");
    assert_string_equal (item.text, "");
    assert_string_equal (item.meta_json, "");
    assert_int_equal (item.n_vector, 0);
    item_clear (&item);
    item_clear (&item);   /* twice is harmless */
}

static void
test_bad_json (void **state)
{
    bad ("{\"id\": \"a\"", "invalid JSON");
    bad ("not json", "invalid JSON");
    bad ("[1, 2]", "not a JSON object");
    bad ("{\"id\": \"a\", \"id\": \"b\"}", "invalid JSON");   /* duplicate key */
    bad ("   \t ", "empty line");
    bad ("", "empty line");
}

static void
test_id_rules (void **state)
{
    bad ("{\"text\": \"x\"}", "id: required");
    bad ("{\"id\": \"\"}", "id: required");
    bad ("{\"id\": null}", "id: required");
    bad ("{\"id\": 1.5}", "id: must be a string or an integer");
    bad ("{\"id\": \"a\\nb\"}", "id: contains a control character");
    bad ("{\"id\": \"a\\u0085b\"}", "id: contains a control character");   /* C1 */
    bad ("{\"id\": \"a\\u0000b\"}", "invalid JSON");                         /* NUL */
    char line[400];
    snprintf (line, sizeof line, "{\"id\": \"%0300d\"}", 7);
    bad (line, "id: 300 bytes, at most 256");
}

static void
test_types (void **state)
{
    bad ("{\"id\": \"a\", \"text\": 5}", "text: must be a string");
    bad ("{\"id\": \"a\", \"label\": [\"x\"]}", "label: must be a string");
    bad ("{\"id\": \"a\", \"vector\": \"1,2\"}", "vector: must be an array");
    bad ("{\"id\": \"a\", \"vector\": [1, \"2\"]}", "vector[1]: must be a number");
    bad ("{\"id\": \"a\", \"meta\": [1]}", "meta: must be a JSON object");
    bad ("{\"id\": \"a\", \"meta\": \"{}\"}", "meta: must be a JSON object");
    bad ("{\"id\": \"a\", \"lable\": \"x\"}", "unknown key \"lable\"");
}

static void
test_invalid_utf8 (void **state)
{
    bad ("{\"id\": \"a\xff\"}", "not valid UTF-8");
    bad ("{\"id\": \"\xc0\xaf\"}", "not valid UTF-8");          /* overlong '/' */
    bad ("{\"id\": \"a\", \"text\": \"\xed\xa0\x80\"}", "not valid UTF-8");   /* surrogate */
    const char nul[] = "{\"id\": \"a\0b\"}";
    expect_bad (nul, sizeof nul - 1, "not valid UTF-8");
}

static void
test_vectors (void **state)
{
    bad ("{\"id\": \"a\", \"vector\": [1e39]}", "vector[0]: ");          /* beyond float */
    bad ("{\"id\": \"a\", \"vector\": [0, -1e300]}", "vector[1]: ");
    bad ("{\"id\": \"a\", \"vector\": [NaN]}", "invalid JSON");
    bad ("{\"id\": \"a\", \"vector\": [1e999]}", "invalid JSON");        /* jansson overflow */
    item_limits_t small = lim;
    small.max_vector_dim = 2;
    Annotate__V1__Item item;
    char err[256];
    const char *line = "{\"id\": \"a\", \"vector\": [1, 2, 3]}";
    assert_int_equal (item_from_json (line, strlen (line), &small, &item, err, sizeof err), -1);
    assert_non_null (strstr (err, "vector: 3 components, at most 2"));
}

static void
test_meta_limits (void **state)
{
    char deep[400] = "{\"id\": \"a\", \"meta\": ";
    for (int i = 0; i < 40; i++)
        strcat (deep, "{\"a\":");
    strcat (deep, "1");
    for (int i = 0; i < 41; i++)
        strcat (deep, "}");
    bad (deep, "meta: nested deeper than");
    item_limits_t small = lim;
    small.max_meta_bytes = 10;
    Annotate__V1__Item item;
    char err[256];
    const char *line = "{\"id\": \"a\", \"meta\": {\"key\": \"a long value\"}}";
    assert_int_equal (item_from_json (line, strlen (line), &small, &item, err, sizeof err), -1);
    assert_non_null (strstr (err, "meta: 22 bytes"));
}

static void
test_validate_decoded (void **state)
{
    Annotate__V1__Item item;
    annotate__v1__item__init (&item);
    char err[256] = "";
    assert_int_equal (item_validate (&item, &lim, 3, err, sizeof err), -1);
    assert_string_equal (err, "items[3].id: required");

    item.id = "ok";
    float v[2] = { 1.0f, 0.0f };
    v[1] = nanf ("");
    item.vector = v;
    item.n_vector = 2;
    assert_int_equal (item_validate (&item, &lim, 3, err, sizeof err), -1);
    assert_string_equal (err, "items[3].vector[1]: not a finite number");

    v[1] = 2.0f;
    item.meta_json = "[1,2]";
    assert_int_equal (item_validate (&item, &lim, 0, err, sizeof err), -1);
    assert_string_equal (err, "items[0].meta_json: must be a JSON object");
    item.meta_json = "{\"a\":";
    assert_int_equal (item_validate (&item, &lim, 0, err, sizeof err), -1);
    assert_non_null (strstr (err, "items[0].meta_json: not JSON"));
    item.meta_json = "{\"a\": 1}";
    item.text = "t\xfe";
    assert_int_equal (item_validate (&item, &lim, 9, err, sizeof err), -1);
    assert_string_equal (err, "items[9].text: not valid UTF-8");
    item.text = "fine";
    item.label = "x\ty";
    assert_int_equal (item_validate (&item, &lim, 9, err, sizeof err), -1);
    assert_string_equal (err, "items[9].label: contains a control character");
    item.label = "spam";
    assert_int_equal (item_validate (&item, &lim, 9, err, sizeof err), 0);
}

static void
test_reader_lines (void **state)
{
    /* line 3 is too long (limit 16), line 5 is the last, without newline */
    const char data[] = "{\"id\":\"a\"}\n\r\n0123456789abcdefghijklmnop\nshort\r\nlast";
    FILE *f = fmemopen ((void *) data, sizeof data - 1, "r");
    assert_non_null (f);
    item_reader_t *r = item_reader_new (f, 16);
    const char *line;
    size_t len;
    assert_int_equal (item_reader_next (r, &line, &len), ITEM_READ_LINE);
    assert_int_equal (item_reader_line (r), 1);
    assert_string_equal (line, "{\"id\":\"a\"}");
    assert_int_equal (item_reader_next (r, &line, &len), ITEM_READ_LINE);
    assert_int_equal (item_reader_line (r), 2);
    assert_int_equal (len, 0);
    assert_int_equal (item_reader_next (r, &line, &len), ITEM_READ_TOO_LONG);
    assert_int_equal (item_reader_line (r), 3);
    assert_int_equal (item_reader_next (r, &line, &len), ITEM_READ_LINE);
    assert_int_equal (item_reader_line (r), 4);
    assert_string_equal (line, "short");
    assert_int_equal (item_reader_next (r, &line, &len), ITEM_READ_LINE);
    assert_int_equal (item_reader_line (r), 5);
    assert_int_equal (len, 4);
    assert_memory_equal (line, "last", 4);
    assert_int_equal (item_reader_next (r, &line, &len), ITEM_READ_EOF);
    assert_int_equal (item_reader_next (r, &line, &len), ITEM_READ_EOF);
    assert_int_equal (item_reader_bytes (r), sizeof data - 1);
    item_reader_destroy (&r);
    assert_null (r);
    fclose (f);
}

static void
test_reader_grows_to_limit (void **state)
{
    /* a 100 kB line passes with the default limit, the buffer grows */
    size_t n = 100000;
    char *big = malloc (n + 2);
    memset (big, 'x', n);
    big[n] = '\n';
    big[n + 1] = 'y';
    FILE *f = fmemopen (big, n + 2, "r");
    item_reader_t *r = item_reader_new (f, 0);
    const char *line;
    size_t len;
    assert_int_equal (item_reader_next (r, &line, &len), ITEM_READ_LINE);
    assert_int_equal (len, n);
    assert_int_equal (item_reader_next (r, &line, &len), ITEM_READ_LINE);
    assert_string_equal (line, "y");
    assert_int_equal (item_reader_line (r), 2);
    item_reader_destroy (&r);
    fclose (f);
    free (big);
}

int
main (void)
{
    item_limits_default (&lim);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_good_line),
        cmocka_unit_test (test_minimal_and_integer_id),
        cmocka_unit_test (test_bad_json),
        cmocka_unit_test (test_id_rules),
        cmocka_unit_test (test_types),
        cmocka_unit_test (test_invalid_utf8),
        cmocka_unit_test (test_vectors),
        cmocka_unit_test (test_meta_limits),
        cmocka_unit_test (test_validate_decoded),
        cmocka_unit_test (test_reader_lines),
        cmocka_unit_test (test_reader_grows_to_limit),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
