/*  test_manifest.c: the manifest parser: the embedded default, defaults,
    a file with every key, and one case per error class, each checked for
    its exact "source:line:column: key.path: " prefix and its problem text.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "manifest/manifest.h"

#define MANIFESTS TEST_DATA_DIR "/manifests/"

static char err[1024];

static manifest_t *
parse (const char *text)
{
    err[0] = 0;
    return manifest_parse (text, strlen (text), "t.yaml", err, sizeof err);
}

//  Fails unless text is refused with exactly "t.yaml:<pos>: <path>: " first
//  and problem somewhere after it.
static void
expect_error (const char *text, const char *pos, const char *path, const char *problem)
{
    manifest_t *m = parse (text);
    if (m) {
        print_error ("accepted: %s\n", text);
        manifest_destroy (&m);
        fail ();
    }
    char prefix[256];
    snprintf (prefix, sizeof prefix, "t.yaml:%s: %s: ", pos, path);
    if (strncmp (err, prefix, strlen (prefix)) != 0 || !strstr (err, problem)) {
        print_error ("input:   %s\nmessage: %s\nwanted:  %s...%s\n", text, err, prefix, problem);
        fail ();
    }
}

static void
test_default_manifest (void **state)
{
    size_t len = 0;
    const char *text = manifest_default_text (&len);
    assert_non_null (text);
    assert_true (len > 100);
    assert_int_equal (strlen (text), len);
    manifest_t *m = manifest_parse (text, len, "<embedded>", err, sizeof err);
    if (!m)
        print_error ("%s\n", err);
    assert_non_null (m);
    assert_string_equal (m->cluster_name, "local");
    assert_string_equal (m->grpc_listen, "127.0.0.1:7400");
    assert_string_equal (m->cluster_bind, "tcp://127.0.0.1:7401");
    assert_int_equal (m->vector_dim, 64);
    assert_int_equal (m->n_labels, 10);
    assert_string_equal (m->labels[3].name, "3");
    assert_string_equal (m->labels[3].description, "the digit three");
    assert_int_equal (manifest_label_index (m, "7"), 7);
    assert_int_equal (manifest_label_index (m, "10"), -1);
    assert_int_equal (m->n_workers, 2);
    const manifest_worker_t *w = manifest_worker (m, "worker-2");
    assert_non_null (w);
    assert_ptr_equal (w, &m->workers[1]);
    assert_int_equal (w->capacity, 4);
    assert_int_equal (w->n_actors, 2);
    assert_string_equal (w->actors[1].name, "retrain");
    assert_int_equal (w->actors[1].type, ACTOR_RETRAINING);
    assert_int_equal (m->workers[0].actors[1].type, ACTOR_ACTIVE_LEARNING);
    assert_null (manifest_worker (m, "worker-3"));
    assert_string_equal (m->model_type, "none");
    assert_string_equal (m->al_strategy, "margin");
    assert_true (m->al_target_accuracy > 0.949 && m->al_target_accuracy < 0.951);
    assert_string_equal (m->source_name, "<embedded>");
    assert_non_null (m->taxonomy_description);
    manifest_destroy (&m);
    assert_null (m);
}

static void
test_defaults (void **state)
{
    manifest_t *m = parse ("cluster: {name: x}\n");
    assert_non_null (m);
    assert_string_equal (m->cluster_name, "x");
    assert_string_equal (m->grpc_listen, "127.0.0.1:7400");
    assert_string_equal (m->cluster_bind, "tcp://127.0.0.1:7401");
    assert_string_equal (m->data_dir, "./annotate-data");
    assert_int_equal (m->heartbeat_ms, 1000);
    assert_int_equal (m->liveness, 3);
    assert_int_equal (m->batch_size, 256);
    assert_int_equal (m->max_pending, 1000000);
    assert_int_equal (m->max_message_bytes, 16u << 20);
    assert_int_equal (m->initial_map_bytes, 1024ull << 20);
    assert_int_equal (m->max_map_bytes, 0);
    assert_int_equal (m->grpc_threads, 8);
    assert_int_equal (m->max_watchers, 16);
    assert_int_equal (m->vector_dim, 0);
    assert_int_equal (m->max_text_bytes, 65536);
    assert_int_equal (m->max_meta_bytes, 16384);
    assert_null (m->taxonomy_description);
    assert_int_equal (m->n_labels, 0);
    assert_int_equal (m->n_workers, 0);
    assert_string_equal (m->model_type, "none");
    assert_int_equal (m->model_hash_bits, 18);
    assert_string_equal (m->al_strategy, "margin");
    assert_true (m->al_target_accuracy == 0.95);
    assert_int_equal (m->al_review_budget, 0);
    manifest_destroy (&m);

    //  Empty sections are empty mappings; the cluster name has its default
    m = parse ("cluster:\ncoordinator: {}\nworkers: []\ntaxonomy: {labels: ~}\n");
    assert_non_null (m);
    assert_string_equal (m->cluster_name, "annotate");
    manifest_destroy (&m);
}

static void
test_full_file (void **state)
{
    manifest_t *m = manifest_load (MANIFESTS "good-full.yaml", err, sizeof err);
    if (!m)
        print_error ("%s\n", err);
    assert_non_null (m);
    assert_string_equal (m->cluster_name, "full-test");
    assert_string_equal (m->grpc_listen, "0.0.0.0:9400");
    assert_string_equal (m->data_dir, "/var/lib/annotate");
    assert_int_equal (m->heartbeat_ms, 250);
    assert_int_equal (m->liveness, 5);
    assert_int_equal (m->batch_size, 64);
    assert_int_equal (m->max_pending, 5000);
    assert_int_equal (m->max_message_bytes, 4194304);
    assert_int_equal (m->initial_map_bytes, 64ull << 20);
    assert_int_equal (m->max_map_bytes, 4096ull << 20);
    assert_int_equal (m->grpc_threads, 2);
    assert_int_equal (m->max_watchers, 4);
    assert_int_equal (m->vector_dim, 3);
    assert_int_equal (m->max_text_bytes, 1024);
    assert_int_equal (m->max_meta_bytes, 0);
    assert_string_equal (m->taxonomy_description, "Sentiment of short reviews.\n");
    assert_int_equal (m->n_labels, 3);
    assert_int_equal (m->labels[0].n_examples, 3);
    assert_string_equal (m->labels[0].examples[2], "ünïcödé ✓");
    assert_string_equal (m->labels[1].examples[0], "awful");
    assert_null (m->labels[1].description);
    assert_int_equal (m->labels[2].n_examples, 0);
    assert_int_equal (m->n_workers, 3);
    assert_int_equal (m->workers[0].capacity, 1);
    assert_int_equal (m->workers[1].capacity, 4);
    assert_int_equal (m->workers[1].n_actors, 0);
    assert_int_equal (m->workers[2].capacity, 1024);
    assert_int_equal (m->workers[2].actors[0].type, ACTOR_ACTIVE_LEARNING);
    assert_string_equal (m->model_type, "linear");
    assert_int_equal (m->model_hash_bits, 20);
    assert_string_equal (m->al_strategy, "entropy");
    assert_true (m->al_target_accuracy == 1.0);
    assert_true (m->al_review_budget == UINT64_MAX);
    assert_string_equal (m->source_name, MANIFESTS "good-full.yaml");
    manifest_destroy (&m);

    m = manifest_load (MANIFESTS "good-minimal.yaml", err, sizeof err);
    assert_non_null (m);
    assert_string_equal (m->cluster_name, "x");
    manifest_destroy (&m);
}

static void
test_actor_types (void **state)
{
    assert_string_equal (actor_type_name (ACTOR_ANNOTATION), "annotation");
    assert_string_equal (actor_type_name (ACTOR_ACTIVE_LEARNING), "active_learning");
    assert_string_equal (actor_type_name (ACTOR_RETRAINING), "retraining");
    assert_string_equal (actor_type_name ((actor_type_t) 99), "unknown");
    assert_int_equal (actor_type_parse ("retraining"), ACTOR_RETRAINING);
    assert_int_equal (actor_type_parse ("annotation"), ACTOR_ANNOTATION);
    assert_int_equal (actor_type_parse ("Annotation"), 0);
    assert_int_equal (actor_type_parse (""), 0);
    assert_int_equal (actor_type_parse (NULL), 0);
}

static void
test_structure_errors (void **state)
{
    expect_error ("", "1:1", "(document)", "empty");
    expect_error ("# only a comment\n", "1:1", "(document)", "empty");
    expect_error ("- a\n- b\n", "1:1", "(document)", "must be a mapping");
    expect_error ("hello\n", "1:1", "(document)", "must be a mapping");
    expect_error ("cluster: {name: x}\nclustre: {}\n", "2:1", "(document)",
                  "unknown key \"clustre\" (expected one of: cluster, coordinator");
    expect_error ("coordinator:\n  heartbeat: 5\n", "2:3", "coordinator",
                  "unknown key \"heartbeat\"");
    expect_error ("workers:\n  - name: w\n    actors:\n      - {name: a, type: annotation, x: 1}\n",
                  "4:37", "workers[0].actors[0]", "unknown key \"x\"");
    expect_error ("coordinator:\n  liveness: 3\n  liveness: 4\n", "3:3", "coordinator.liveness",
                  "duplicate key (first at line 2, column 3)");
    expect_error ("cluster: {name: a}\ncluster: {name: b}\n", "2:1", "cluster", "duplicate key");
    expect_error ("coordinator: [1]\n", "1:14", "coordinator", "expected a mapping, got a sequence");
    expect_error ("workers: {name: w}\n", "1:10", "workers", "expected a sequence of workers");
    expect_error ("workers:\n  - w1\n", "2:5", "workers[0]", "expected a mapping");
    expect_error ("workers:\n  - capacity: 2\n", "2:5", "workers[0]", "missing required key \"name\"");
    expect_error ("workers:\n  - name: w\n    actors: [{name: a}]\n", "3:14", "workers[0].actors[0]",
                  "missing required key \"type\"");
    expect_error ("taxonomy:\n  labels:\n    - {description: d}\n", "3:7", "taxonomy.labels[0]",
                  "missing required key \"name\"");
    expect_error ("{? [a]: 1}\n", "1:4", "(document)", "keys must be scalars");
    expect_error ("cluster: {name: x}\n---\ncluster: {name: y}\n", "2:1", "(document)",
                  "more than one document");
}

static void
test_type_errors (void **state)
{
    expect_error ("coordinator:\n  liveness: [3]\n", "2:13", "coordinator.liveness",
                  "expected an integer, got a sequence");
    expect_error ("coordinator:\n  liveness: {a: 1}\n", "2:13", "coordinator.liveness",
                  "expected an integer, got a mapping");
    expect_error ("coordinator:\n  liveness:\n", "2:12", "coordinator.liveness",
                  "expected an integer, got null");
    expect_error ("items:\n  vector_dim: 6.4\n", "2:15", "items.vector_dim",
                  "expected an unsigned decimal integer, got \"6.4\"");
    expect_error ("items:\n  vector_dim: 0x10\n", "2:15", "items.vector_dim", "unsigned decimal");
    expect_error ("items:\n  vector_dim: 010\n", "2:15", "items.vector_dim", "leading zeros");
    expect_error ("items:\n  vector_dim: +5\n", "2:15", "items.vector_dim", "unsigned decimal");
    expect_error ("workers:\n  - name: w\n    capacity: \"4\"\n", "3:15", "workers[0].capacity",
                  "expected an integer, got a quoted string");
    expect_error ("coordinator:\n  batch_size: -1\n", "2:15", "coordinator.batch_size",
                  "must not be negative");
    expect_error ("cluster:\n  name: [a]\n", "2:9", "cluster.name", "expected a string, got a sequence");
    expect_error ("cluster:\n  name: null\n", "2:9", "cluster.name", "got null");
    expect_error ("model:\n  type: nonlinear\n", "2:9", "model.type",
                  "unknown model type \"nonlinear\" (expected none, linear)");
    expect_error ("active_learning:\n  strategy: random\n", "2:13", "active_learning.strategy",
                  "unknown strategy \"random\" (expected margin, least_confidence, entropy)");
    expect_error ("active_learning:\n  target_accuracy: high\n", "2:20",
                  "active_learning.target_accuracy", "expected a decimal number");
    expect_error ("active_learning:\n  target_accuracy: .nan\n", "2:20",
                  "active_learning.target_accuracy", "expected a decimal number");
    expect_error ("taxonomy:\n  labels: [{name: a, examples: [x, [y]]}]\n", "2:36",
                  "taxonomy.labels[0].examples[1]", "expected a string, got a sequence");
}

static void
test_range_errors (void **state)
{
    expect_error ("coordinator:\n  heartbeat_ms: 49\n", "2:17", "coordinator.heartbeat_ms",
                  "out of range: 49 (expected 50..60000)");
    expect_error ("coordinator:\n  heartbeat_ms: 60001\n", "2:17", "coordinator.heartbeat_ms",
                  "out of range");
    expect_error ("coordinator:\n  liveness: 1\n", "2:13", "coordinator.liveness", "expected 2..100");
    expect_error ("coordinator:\n  batch_size: 0\n", "2:15", "coordinator.batch_size", "1..65536");
    expect_error ("coordinator:\n  max_pending: 1000000001\n", "2:16", "coordinator.max_pending",
                  "out of range");
    expect_error ("coordinator:\n  max_pending: 99999999999999999999999\n", "2:16",
                  "coordinator.max_pending", "too large");
    expect_error ("coordinator:\n  max_message_bytes: 4095\n", "2:22",
                  "coordinator.max_message_bytes", "out of range");
    expect_error ("coordinator:\n  grpc_threads: 257\n", "2:17", "coordinator.grpc_threads",
                  "out of range");
    expect_error ("coordinator:\n  max_watchers: 0\n", "2:17", "coordinator.max_watchers",
                  "out of range");
    expect_error ("coordinator:\n  initial_map_mb: 0\n", "2:19", "coordinator.initial_map_mb",
                  "out of range");
    expect_error ("coordinator:\n  initial_map_mb: 512\n  max_map_mb: 256\n", "3:15",
                  "coordinator.max_map_mb", "smaller than initial_map_mb (512 MiB)");
    expect_error ("coordinator:\n  grpc_listen: \"\"\n", "2:16", "coordinator.grpc_listen",
                  "must not be empty");
    expect_error ("items:\n  vector_dim: 65537\n", "2:15", "items.vector_dim", "0..65536");
    expect_error ("workers: [{name: w, capacity: 0}]\n", "1:31", "workers[0].capacity", "1..1024");
    expect_error ("workers: [{name: w, capacity: 1025}]\n", "1:31", "workers[0].capacity", "1..1024");
    expect_error ("model: {hash_bits: 9}\n", "1:20", "model.hash_bits", "10..24");
    expect_error ("model: {hash_bits: 25}\n", "1:20", "model.hash_bits", "10..24");
    expect_error ("active_learning: {target_accuracy: 0}\n", "1:36",
                  "active_learning.target_accuracy", "(0, 1]");
    expect_error ("active_learning: {target_accuracy: 1.0001}\n", "1:36",
                  "active_learning.target_accuracy", "(0, 1]");
    expect_error ("active_learning: {review_budget: 18446744073709551616}\n", "1:34",
                  "active_learning.review_budget", "too large");

    //  The edges themselves are accepted
    manifest_t *m = parse ("coordinator: {heartbeat_ms: 50, liveness: 100, max_map_mb: 0}\n"
                           "items: {vector_dim: 65536}\nmodel: {hash_bits: 24}\n"
                           "active_learning: {target_accuracy: 1e-3}\n");
    if (!m)
        print_error ("%s\n", err);
    assert_non_null (m);
    assert_int_equal (m->heartbeat_ms, 50);
    assert_int_equal (m->vector_dim, 65536);
    assert_true (m->al_target_accuracy == 0.001);
    manifest_destroy (&m);
}

static void
test_name_errors (void **state)
{
    expect_error ("cluster:\n  name: \"\"\n", "2:9", "cluster.name", "must not be empty");
    expect_error ("workers:\n  - name:\n", "2:10", "workers[0].name", "must not be empty");
    char text[512], long_name[MANIFEST_MAX_NAME + 2];
    memset (long_name, 'a', sizeof long_name - 1);
    long_name[MANIFEST_MAX_NAME + 1] = 0;
    snprintf (text, sizeof text, "taxonomy:\n  labels:\n    - name: %s\n", long_name);
    expect_error (text, "3:13", "taxonomy.labels[0].name", "too long: 129 bytes (at most 128)");
    long_name[MANIFEST_MAX_NAME] = 0;   /* exactly the limit is fine */
    snprintf (text, sizeof text, "taxonomy:\n  labels:\n    - name: %s\n", long_name);
    manifest_t *m = parse (text);
    assert_non_null (m);
    assert_int_equal (strlen (m->labels[0].name), MANIFEST_MAX_NAME);
    manifest_destroy (&m);

    expect_error ("cluster:\n  name: \"a\\tb\"\n", "2:9", "cluster.name", "control characters");
    expect_error ("workers:\n  - name: w\n  - name: v\n  - name: w\n", "4:11", "workers[2].name",
                  "duplicate worker name \"w\" (first at line 2, column 11)");
    expect_error ("workers:\n  - {name: w1, actors: [{name: a, type: annotation}]}\n"
                  "  - {name: w2, actors: [{name: a, type: retraining}]}\n",
                  "3:32", "workers[1].actors[0].name", "duplicate actor name \"a\"");
    expect_error ("taxonomy:\n  labels: [{name: x}, {name: y}, {name: x}]\n", "2:41",
                  "taxonomy.labels[2].name", "duplicate label name \"x\" (first at line 2, column 19)");
    expect_error ("workers:\n  - name: w1\n  - name: w2\n    actors:\n      - {name: a, type: annotator}\n",
                  "5:25", "workers[1].actors[0].type",
                  "unknown actor type \"annotator\" (expected annotation, active_learning, "
                  "retraining)");
    expect_error ("workers: [{name: w, actors: [{name: a, type: [annotation]}]}]\n", "1:46",
                  "workers[0].actors[0].type", "expected a actor type");
    //  A worker and an actor may share a name: they live in different spaces
    m = parse ("workers: [{name: w, actors: [{name: w, type: annotation}]}]\n");
    assert_non_null (m);
    manifest_destroy (&m);
}

static void
test_utf8_errors (void **state)
{
    //  Raw invalid bytes are refused by the reader, at their position
    expect_error ("cluster:\n  name: caf\xe9\n", "2:12", "invalid input", "UTF-8");
    expect_error ("# comment \xff\ncluster: {name: x}\n", "1:11", "invalid input", "UTF-8");
    expect_error ("cluster:\n  name: \"\xc0\xaf\"\n", "2:10", "invalid input", "UTF-8");
    //  Escapes can produce a NUL or a lone surrogate: refused as values
    expect_error ("cluster:\n  name: \"a\\0b\"\n", "2:9", "cluster.name", "invalid UTF-8");
    expect_error ("taxonomy: {description: \"x\\x00\"}\n", "1:25", "taxonomy.description",
                  "invalid UTF-8");
    expect_error ("cluster:\n  name: \"\\ud800\"\n", "2:12", "syntax error",
                  "invalid Unicode character escape");
    //  A key with a NUL in it is refused before it is compared
    expect_error ("cluster: {\"na\\0me\": x}\n", "1:11", "cluster", "invalid UTF-8");
    //  Unknown keys are echoed escaped and bounded
    expect_error ("cluster: {\"a\\u001bb\": x}\n", "1:11", "cluster", "unknown key \"a\\x1bb\"");
    //  Embedded NUL in the raw text (text, len counts it)
    err[0] = 0;
    manifest_t *m = manifest_parse ("cluster: {name: a\0b}\n", 21, "t.yaml", err, sizeof err);
    assert_null (m);
    assert_non_null (strstr (err, "t.yaml:1:18: invalid input:"));
    //  UTF-8 names are fine
    m = parse ("cluster: {name: \"données-ü\"}\n");
    assert_non_null (m);
    assert_string_equal (m->cluster_name, "données-ü");
    manifest_destroy (&m);
}

static void
test_alias_anchor_tag_errors (void **state)
{
    expect_error ("cluster: &c {name: x}\ncoordinator: *c\n", "1:10", "cluster",
                  "anchors are not allowed");
    expect_error ("cluster: *nowhere\n", "1:10", "cluster", "aliases are not allowed");
    expect_error ("taxonomy:\n  labels: [{name: a, examples: [*x]}]\n", "2:33",
                  "taxonomy.labels[0].examples[0]", "aliases are not allowed");
    expect_error ("cluster: !!map {name: x}\n", "1:10", "cluster", "tags are not allowed");
    expect_error ("cluster: {name: !!str x}\n", "1:17", "cluster.name", "tags are not allowed");
    expect_error ("coordinator: {liveness: !!int 3}\n", "1:25", "coordinator.liveness",
                  "tags are not allowed");
}

static void
test_syntax_errors (void **state)
{
    expect_error ("cluster:\n  name: x\n bad: y\n", "3:2", "syntax error", "");
    expect_error ("cluster: {name: x\n", "2:1", "syntax error", "flow mapping");
    expect_error ("cluster: \"unterminated\n", "2:1", "syntax error", "quoted scalar");
    expect_error ("a: b: c\n", "1:5", "syntax error", "mapping values are not allowed");
    //  Deep nesting is refused before it costs anything
    char deep[1024];
    size_t n = 0;
    n += (size_t) snprintf (deep, sizeof deep, "cluster: ");
    for (int i = 0; i < 100; i++)
        deep[n++] = '[';
    for (int i = 0; i < 100; i++)
        deep[n++] = ']';
    deep[n++] = '\n';
    deep[n] = 0;
    expect_error (deep, "1:73", "(document)", "nesting is too deep");
}

//  Builds "<head><item 0>...<item n-1>" where each item is printf'd with i.
static char *
repeat (const char *head, const char *item_fmt, size_t n)
{
    size_t cap = strlen (head) + n * (strlen (item_fmt) + 24) + 1;
    char *text = malloc (cap);
    assert_non_null (text);
    size_t used = (size_t) snprintf (text, cap, "%s", head);
    for (size_t i = 0; i < n; i++)
        used += (size_t) snprintf (text + used, cap - used, item_fmt, i, i);
    return text;
}

static void
test_limits (void **state)
{
    char *text = repeat ("taxonomy:\n  labels:\n", "  - {name: l%zu}\n", MANIFEST_MAX_LABELS);
    manifest_t *m = parse (text);
    assert_non_null (m);
    assert_int_equal (m->n_labels, MANIFEST_MAX_LABELS);
    assert_int_equal (manifest_label_index (m, "l1023"), 1023);
    manifest_destroy (&m);
    free (text);

    text = repeat ("taxonomy:\n  labels:\n", "  - {name: l%zu}\n", MANIFEST_MAX_LABELS + 1);
    expect_error (text, "1027:5", "taxonomy.labels[1024]", "too many labels (at most 1024)");
    free (text);

    text = repeat ("workers:\n", "  - {name: w%zu}\n", MANIFEST_MAX_WORKERS + 1);
    expect_error (text, "1026:5", "workers[1024]", "too many workers (at most 1024)");
    free (text);

    text = repeat ("workers:\n  - name: w\n    actors:\n", "      - {name: a%zu, type: annotation}\n",
                   MANIFEST_MAX_ACTORS + 1);
    expect_error (text, "260:9", "workers[0].actors[256]", "too many actors (at most 256)");
    free (text);

    //  Many actors across many workers: duplicate checks stay fast and exact
    text = repeat ("workers:\n", "  - {name: w%zu, actors: [{name: a%zu, type: annotation}]}\n",
                   MANIFEST_MAX_WORKERS);
    m = parse (text);
    assert_non_null (m);
    assert_int_equal (m->n_workers, MANIFEST_MAX_WORKERS);
    assert_string_equal (manifest_worker (m, "w999")->actors[0].name, "a999");
    manifest_destroy (&m);
    free (text);

    //  Oversized input is refused before parsing
    size_t big = MANIFEST_MAX_BYTES + 1;
    text = malloc (big + 1);
    assert_non_null (text);
    memset (text, '#', big);
    text[big] = 0;
    err[0] = 0;
    assert_null (manifest_parse (text, big, "t.yaml", err, sizeof err));
    assert_non_null (strstr (err, "t.yaml:1:1: (document): "));
    assert_non_null (strstr (err, "more than the limit of 1048576"));
    free (text);
}

static void
test_billion_laughs (void **state)
{
    const char *text = "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
                       "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
                       "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
                       "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
                       "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
                       "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
                       "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
                       "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
                       "i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n";
    //  Refused at the first key (unknown), without expanding anything
    expect_error (text, "1:1", "(document)", "unknown key \"a\"");
}

static void
test_files (void **state)
{
    static const struct {
        const char *file, *where, *problem;
    } cases[] = {
        { "bad-unknown-actor-type.yaml", ":12:15: workers[1].actors[0].type: ",
          "unknown actor type \"annotator\" (expected annotation, active_learning, retraining)" },
        { "bad-duplicate-actor.yaml", ":5:21: workers[1].actors[0].name: ",
          "duplicate actor name \"shared\" (first at line 3, column 21)" },
        { "bad-billion-laughs.yaml", ":4:17: taxonomy.labels[0].examples: ", "anchors" },
        { "bad-syntax.yaml", ":3:2: syntax error: ", "" },
        { "bad-invalid-utf8.yaml", ":2:12: invalid input: ", "UTF-8" },
        { "bad-two-documents.yaml", ":2:1: (document): ", "more than one document" },
        { "bad-not-mapping.yaml", ":1:1: (document): ", "must be a mapping" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[512], want[600];
        snprintf (path, sizeof path, MANIFESTS "%s", cases[i].file);
        snprintf (want, sizeof want, "%s%s", path, cases[i].where);
        err[0] = 0;
        manifest_t *m = manifest_load (path, err, sizeof err);
        if (m || strncmp (err, want, strlen (want)) != 0 || !strstr (err, cases[i].problem)) {
            print_error ("file %s\nmessage: %s\nwanted:  %s...%s\n", cases[i].file, err, want,
                         cases[i].problem);
            manifest_destroy (&m);
            fail ();
        }
    }
}

static void
test_load_errors (void **state)
{
    assert_null (manifest_load (MANIFESTS "no-such-file.yaml", err, sizeof err));
    assert_non_null (strstr (err, "no-such-file.yaml"));
    assert_non_null (strstr (err, "No such file or directory"));

    assert_null (manifest_load (TEST_DATA_DIR, err, sizeof err));
    assert_non_null (strstr (err, TEST_DATA_DIR));
    assert_non_null (strstr (err, "Is a directory"));

    char path[] = "/tmp/test_manifest_XXXXXX";
    int fd = mkstemp (path);
    assert_true (fd >= 0);
    FILE *f = fdopen (fd, "w");
    assert_non_null (f);
    for (size_t i = 0; i <= MANIFEST_MAX_BYTES; i += 16)
        fputs ("# padding......\n", f);
    fclose (f);
    assert_null (manifest_load (path, err, sizeof err));
    assert_non_null (strstr (err, path));
    assert_non_null (strstr (err, "larger than"));
    unlink (path);

    //  A small err buffer is never overrun, and a NULL one is fine
    char tiny[8];
    assert_null (manifest_parse ("x: 1\n", 5, "t.yaml", tiny, sizeof tiny));
    assert_int_equal (strlen (tiny), 7);
    assert_null (manifest_parse ("x: 1\n", 5, "t.yaml", NULL, 0));
    manifest_destroy (NULL);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_default_manifest),
        cmocka_unit_test (test_defaults),
        cmocka_unit_test (test_full_file),
        cmocka_unit_test (test_actor_types),
        cmocka_unit_test (test_structure_errors),
        cmocka_unit_test (test_type_errors),
        cmocka_unit_test (test_range_errors),
        cmocka_unit_test (test_name_errors),
        cmocka_unit_test (test_utf8_errors),
        cmocka_unit_test (test_alias_anchor_tag_errors),
        cmocka_unit_test (test_syntax_errors),
        cmocka_unit_test (test_limits),
        cmocka_unit_test (test_billion_laughs),
        cmocka_unit_test (test_files),
        cmocka_unit_test (test_load_errors),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
