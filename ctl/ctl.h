/*  ctl.h: what annotatectl's files share.

    main.c parses the global options and dispatches; each cmd_*.c file is
    one or two commands; output.c turns messages into tables and JSON;
    table.c lays out columns; progress.c draws the ingest progress bar.
    A command returns its exit code (CTL_EXIT_*), never calls exit().

    Every command also accepts the global options after its name
    (`annotatectl status -o json`), because that is how people type.
*/
#ifndef ANNOTATE_CTL_H
#define ANNOTATE_CTL_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "annotate/v1/annotate.pb-c.h"
#include "rpc/client.h"

enum {
    CTL_EXIT_OK = 0,
    CTL_EXIT_ERROR = 1,         /* other server or internal error */
    CTL_EXIT_USAGE = 2,         /* bad arguments or unreadable input file */
    CTL_EXIT_NOT_FOUND = 3,
    CTL_EXIT_UNREACHABLE = 4,   /* UNAVAILABLE, or no connection before the deadline */
    CTL_EXIT_REJECTED = 5,      /* INVALID_ARGUMENT, ALREADY_EXISTS, RESOURCE_EXHAUSTED,
                                   FAILED_PRECONDITION, or a bad line under --strict */
    CTL_EXIT_SKIPPED = 6        /* ingest done, but some lines were skipped */
};

typedef enum { CTL_OUT_TABLE = 0, CTL_OUT_JSON = 1 } ctl_output_t;

typedef struct {
    const char *addr;
    ctl_output_t output;
    int64_t timeout_ms;
    const char *command;        /* for error messages */
    rpc_client_t *client;       /* made on first use by ctl_client */
} ctl_t;

#define CTL_METHOD(name) "/annotate.v1.Annotate/" name

/*  Long options every command accepts; append to a command's table. The
    short codes are 'o' and the values below.  */
enum { CTL_OPT_ADDR = 0x100, CTL_OPT_TIMEOUT, CTL_OPT_HELP };
#define CTL_GLOBAL_LONGOPTS                                                                     \
    { "addr", required_argument, NULL, CTL_OPT_ADDR },                                          \
        { "output", required_argument, NULL, 'o' },                                             \
        { "timeout", required_argument, NULL, CTL_OPT_TIMEOUT },                                \
        { "help", no_argument, NULL, CTL_OPT_HELP }

/*  Handles a global option inside a command's getopt loop: 1 handled,
    0 not a global option, -1 bad value (message printed).  */
int ctl_global_option (ctl_t *ctl, int opt, const char *arg);

/*  Prints "annotatectl: CMD: message" and the hint to --help; returns 2. */
int ctl_usage (ctl_t *ctl, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));
/*  Prints "annotatectl: CMD: message"; returns code.  */
int ctl_error (ctl_t *ctl, int code, const char *fmt, ...) __attribute__ ((format (printf, 3, 4)));

/*  The client, created on first use; NULL after printing an error.  */
rpc_client_t *ctl_client (ctl_t *ctl);

/*  Exit code for a status; DEADLINE_EXCEEDED without a connection counts
    as unreachable.  */
int ctl_exit_code (ctl_t *ctl, grpc_status_code code);
/*  Prints "annotatectl: CMD: CODE: details" and returns the exit code.  */
int ctl_fail (ctl_t *ctl, const rpc_status_t *st);

/*  The getopt loop of a command: global options and --help handled here,
    the others passed to fn (which prints its own usage error and returns
    -1). Returns CTL_PARSED to go on (operands from optind), else the exit
    code (0 after --help).  */
#define CTL_PARSED (-1)
typedef int (*ctl_opt_fn) (ctl_t *ctl, void *args, int opt, const char *arg);
int ctl_getopt (ctl_t *ctl, int argc, char **argv, const char *shortopts,
                const struct option *longopts, const char *help, ctl_opt_fn fn, void *args);

bool ctl_parse_u64 (const char *s, uint64_t *out);
bool ctl_parse_seconds (const char *s, int64_t *ms);

/* ---- output.c --------------------------------------------------------- */

const char *ctl_source_name (int source);      /* "none", "model", ... */
int ctl_source_parse (const char *name);       /* -1 if unknown */
const char *ctl_status_name (int status);      /* "pending", ... */
int ctl_status_parse (const char *name);
/*  Printable copy: controls escaped (\n, \t, \xNN), cut after max_chars
    characters with "...". Returns out.  */
char *ctl_escape (const char *s, size_t max_chars, char *out, size_t cap);
/*  "2024-05-01T12:00:00.123Z", or "-" for 0.  */
char *ctl_time (int64_t ms, char *out, size_t cap);
/*  Any message as JSON, field names as in the proto; the two annotate
    enums as their short names, bytes as hex.  */
json_t *ctl_message_json (const ProtobufCMessage *msg);
json_t *ctl_json_u64 (uint64_t v);
/*  Dumps to stdout (indented, or one line when compact), then decrefs.  */
void ctl_print_json (json_t *v, bool compact);

/* ---- table.c ---------------------------------------------------------- */

typedef struct ctl_table ctl_table_t;
ctl_table_t *ctl_table_new (size_t ncols, const char *const *headers);
/*  Adds a row of ncols strings (copied).  */
void ctl_table_row (ctl_table_t *self, const char *const *cells);
void ctl_table_print (ctl_table_t *self, FILE *out);
void ctl_table_destroy (ctl_table_t **self_p);

/* ---- progress.c ------------------------------------------------------- */

typedef struct ctl_progress ctl_progress_t;
/*  Draws only when enabled and stderr is a terminal. total_bytes 0: unknown. */
ctl_progress_t *ctl_progress_new (bool enabled, uint64_t total_bytes);
void ctl_progress_update (ctl_progress_t *self, uint64_t items, uint64_t bytes);
/*  Erases the bar so later messages start on a clean line.  */
void ctl_progress_clear (ctl_progress_t *self);
void ctl_progress_destroy (ctl_progress_t **self_p);

/* ---- review_view.c: the review screen's pure parts (tests call them) -- */

/*  Label keys in taxonomy order: digits, then letters without 'q' (quit).
    When every label is itself one such character (a digit taxonomy
    "0".."9"), each label is its own key instead, so '7' means "7".
    Commands are never a digit or a letter other than q, so no taxonomy
    can collide with them.  */
#define CTL_REVIEW_KEYS     "123456789abcdefghijklmnoprstuvwxyz"
#define CTL_REVIEW_OWN_KEYS "0123456789abcdefghijklmnoprstuvwxyz"
typedef enum {
    CTL_KEY_UNKNOWN = 0,
    CTL_KEY_LABEL,      /* a label key: *label is its index */
    CTL_KEY_ACCEPT,     /* Enter or '.' */
    CTL_KEY_SKIP,       /* ',' */
    CTL_KEY_UNDO,       /* '<' */
    CTL_KEY_NAME,       /* '/': a label typed by name */
    CTL_KEY_HELP,       /* '?' */
    CTL_KEY_QUIT        /* 'q', Ctrl-D, EOF (-1) */
} ctl_key_t;

typedef struct {
    char *const *labels;    /* borrowed: the taxonomy */
    size_t n_labels;
    bool own_keys;          /* every label is its own key */
} ctl_keymap_t;

void ctl_keymap_init (ctl_keymap_t *km, char *const *labels, size_t n_labels);
/*  The key of label i, '\0' when it has none (past the 34 keys).  */
char ctl_keymap_key (const ctl_keymap_t *km, size_t i);
/*  What key c (a byte, or -1 for end of input) means.  */
ctl_key_t ctl_keymap_parse (const ctl_keymap_t *km, int c, size_t *label);
/*  Terminal-safe copy of untrusted text: decoded as UTF-8; C0 and C1
    controls, DEL, bidi controls, line separators and malformed bytes become
    \xNN or \uNNNN, '\\' is doubled; '\n' stays a line break when
    keep_newlines. At most max_chars characters (and what fits in cap) are
    copied; returns how many characters were left out (0: all shown).  */
size_t ctl_review_escape (const char *s, size_t max_chars, bool keep_newlines, char *out,
                          size_t cap);
/*  A grey ASCII picture of a 64 (8x8) or 784 (28x28) value vector, two
    characters a pixel, one line a row. Returns the side, 0 for other
    sizes or when cap is too small (out is then "").  */
size_t ctl_review_art (const float *v, size_t n, char *out, size_t cap);
/*  Prints task t for a person: heading, id, why it was picked, the text
    (escaped, wrapped, cut after max_chars with a note), a vector summary
    and picture, the suggestion with its top probabilities.  */
void ctl_review_show (FILE *out, const Annotate__V1__ReviewTask *t, const char *heading,
                      size_t max_chars);
/*  The key map: one "KEY LABEL" pair per label, then the commands.  */
void ctl_review_keymap (FILE *out, const ctl_keymap_t *km);
const char *ctl_review_reason_name (int reason);

/*  stats: the table output of a StatsResponse (cmd_stats.c).  */
void ctl_print_stats (const Annotate__V1__StatsResponse *r);

/* ---- commands --------------------------------------------------------- */

int cmd_status (ctl_t *ctl, int argc, char **argv);
int cmd_health (ctl_t *ctl, int argc, char **argv);
int cmd_ingest (ctl_t *ctl, int argc, char **argv);
int cmd_get (ctl_t *ctl, int argc, char **argv);
int cmd_ls (ctl_t *ctl, int argc, char **argv);
int cmd_watch (ctl_t *ctl, int argc, char **argv);
int cmd_apply (ctl_t *ctl, int argc, char **argv);
int cmd_label (ctl_t *ctl, int argc, char **argv);
int cmd_retrain (ctl_t *ctl, int argc, char **argv);
int cmd_propagate (ctl_t *ctl, int argc, char **argv);
int cmd_models (ctl_t *ctl, int argc, char **argv);
int cmd_rollback (ctl_t *ctl, int argc, char **argv);
int cmd_stats (ctl_t *ctl, int argc, char **argv);
int cmd_review (ctl_t *ctl, int argc, char **argv);

#endif
