/*  cmd_review.c: `annotatectl review`, the review queue for a person at a
    terminal (NextReview, SubmitReview; SubmitLabel for undo).

    The loop: lease --batch tasks, show each (review_view.c), read one key,
    send the answer, and lease again until the server says the queue is
    exhausted or the person quits. Keys: a label key (ctl_keymap_t: in
    the taxonomy order of ClusterStatus.labels, or each label its own key
    for one-character taxonomies like digits), Enter or '.' to accept
    the suggestion, ',' skip, '<' undo, '/' a label by name, '?' the keys,
    'q' quit. Pressing the suggested label's key is an accept.

    Terminal: when stdin is a terminal it is switched to non-canonical,
    no-echo mode to read single keys, and the saved mode comes back on every
    way out: the normal return and errors (one exit path), SIGINT, SIGTERM
    and SIGHUP (the handler restores at once, the loop then ends cleanly),
    and Ctrl-Z (restored while stopped, single-key mode again when
    continued).
    Keys are read with poll in short slices because gRPC's threads may take
    the signal, and a read() in this thread would then never see EINTR.
    When stdin is not a terminal, one line is one answer (its first byte is
    the key, an empty line is Enter, "/NAME" a label by name), so tests
    drive it through a pipe.

    Undo re-opens answered tasks of this session (copies of the last
    UNDO_DEPTH; '<' again goes further back); the new answer is sent with
    SubmitLabel, so the item's history keeps both. On quit, the leased
    tasks not yet answered are given back with ACTION_SKIP, so they return
    to the queue now rather than at lease expiry; they are not counted as
    skips.

    Errors: a rejected answer (NOT_FOUND, INVALID_ARGUMENT,
    FAILED_PRECONDITION, ALREADY_EXISTS, ABORTED, RESOURCE_EXHAUSTED, e.g.
    an expired lease) is printed and the loop goes on; any other failure
    ends the session with the usual exit code, after the summary.  */
#include "ctl.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "util/util.h"

#define UNDO_DEPTH        32
#define DEFAULT_BATCH     5
#define MAX_BATCH         100
#define MAX_LEASE_S       86400
#define DEFAULT_MAX_CHARS 1000
#define MAX_MAX_CHARS     65536
#define MAX_REVIEWER      128
#define NAME_CAP          1024
#define SLICE_MS          200

static const char review_help[] =
    "usage: annotatectl review [--reviewer NAME] [--batch N] [--lease-s S]\n"
    "                          [--max-chars N] [-o table|json]\n"
    "\n"
    "Review queue for a person (NextReview, SubmitReview). Leases N items at a\n"
    "time and shows each: id, text, vector, the suggestion with its top\n"
    "probabilities, and why it was picked. One key answers:\n"
    "  1-9, a-z (no q)   the label shown next to the key (taxonomy order; when\n"
    "                    all labels are single digits or letters, their own key)\n"
    "  Enter or .        accept the suggestion\n"
    "  ,                 skip: the item goes back to the queue\n"
    "  <                 undo: answer the previous item again (SubmitLabel);\n"
    "                    < again goes further back, , cancels\n"
    "  /                 type a label by name (for more than 34 labels)\n"
    "  ?                 show the keys      q  quit (also Ctrl-D, Ctrl-C)\n"
    "When stdin is not a terminal, each line is one answer (first character is\n"
    "the key, an empty line is Enter, /NAME a label by name).\n"
    "  --reviewer NAME   who answers (default: $USER, else anonymous)\n"
    "  --batch N         items leased at a time, 1..100 (default 5)\n"
    "  --lease-s S       lease length in seconds (default: the manifest's)\n"
    "  --max-chars N     text shown per item before it is cut (default 1000)\n"
    "Ends when the queue is exhausted or on quit, with a summary (-o json: as\n"
    "one JSON object). Leased items not answered are given back on quit.\n";

/* ---- terminal ------------------------------------------------------------ */

static struct termios saved_tty, raw_tty;
static volatile sig_atomic_t tty_raw;       /* stdin is in single-key mode */
static volatile sig_atomic_t stop_signal;   /* a signal asked us to end */

static void
on_stop (int sig)
{
    int e = errno;
    stop_signal = sig;
    if (tty_raw)
        tcsetattr (STDIN_FILENO, TCSANOW, &saved_tty);
    tty_raw = 0;
    errno = e;
}

/*  Ctrl-Z: give the shell a sane terminal and stop right here (the signal,
    raised again with its default action, is unblocked inside the handler);
    once continued, take the terminal back. When the kernel discards the
    stop (an orphaned process group) we simply go on in single-key mode.  */
static void
on_tstp (int sig)
{
    int e = errno;
    bool raw = tty_raw;
    if (raw)
        tcsetattr (STDIN_FILENO, TCSANOW, &saved_tty);
    struct sigaction dfl, mine;
    memset (&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset (&dfl.sa_mask);
    sigaction (SIGTSTP, &dfl, &mine);
    sigset_t set;
    sigemptyset (&set);
    sigaddset (&set, SIGTSTP);
    raise (SIGTSTP);
    pthread_sigmask (SIG_UNBLOCK, &set, NULL);     /* stops here until SIGCONT */
    sigaction (SIGTSTP, &mine, NULL);
    if (raw && tty_raw)
        tcsetattr (STDIN_FILENO, TCSANOW, &raw_tty);
    errno = e;
}

typedef struct {
    struct sigaction old[4];
} signals_t;

static const int handled[4] = { SIGINT, SIGTERM, SIGHUP, SIGTSTP };

static void
signals_install (signals_t *s, bool tty)
{
    for (size_t i = 0; i < 4; i++) {
        struct sigaction sa;
        memset (&sa, 0, sizeof sa);
        sa.sa_handler = handled[i] == SIGTSTP ? on_tstp : on_stop;
        sigemptyset (&sa.sa_mask);
        /* no SA_RESTART: a wait is cut short */
        if (tty || handled[i] != SIGTSTP)
            sigaction (handled[i], &sa, &s->old[i]);
    }
}

static void
signals_restore (signals_t *s, bool tty)
{
    for (size_t i = 0; i < 4; i++)
        if (tty || handled[i] != SIGTSTP)
            sigaction (handled[i], &s->old[i], NULL);
}

/*  Single-key mode; false (line mode) if stdin is not a terminal.  */
static bool
tty_enter (void)
{
    if (!isatty (STDIN_FILENO) || tcgetattr (STDIN_FILENO, &saved_tty) != 0)
        return false;
    raw_tty = saved_tty;
    raw_tty.c_lflag &= ~(tcflag_t) (ICANON | ECHO);    /* ISIG stays: Ctrl-C, Ctrl-Z work */
    raw_tty.c_cc[VMIN] = 1;
    raw_tty.c_cc[VTIME] = 0;
    if (tcsetattr (STDIN_FILENO, TCSAFLUSH, &raw_tty) != 0)
        return false;
    tty_raw = 1;
    return true;
}

static void
tty_leave (void)
{
    if (tty_raw)
        tcsetattr (STDIN_FILENO, TCSANOW, &saved_tty);
    tty_raw = 0;
}

/*  One byte of stdin, waiting in slices so a stop signal is seen; -1 at
    end of input, on error, or when asked to stop.  */
static int
next_byte (int64_t wait_ms)
{
    for (int64_t waited = 0; !stop_signal && (wait_ms < 0 || waited < wait_ms);
         waited += SLICE_MS) {
        struct pollfd pfd = { .fd = STDIN_FILENO, .events = POLLIN };
        int r = poll (&pfd, 1, wait_ms >= 0 && wait_ms < SLICE_MS ? (int) wait_ms : SLICE_MS);
        if (r < 0 && errno != EINTR)
            return -1;
        if (r <= 0)
            continue;
        unsigned char b;
        ssize_t n = read (STDIN_FILENO, &b, 1);
        if (n == 1)
            return b;
        if (n == 0 || (errno != EINTR && errno != EAGAIN))
            return -1;
    }
    return -1;
}

/*  A line (without its end) into buf; -1 when input ended before any byte.  */
static int
read_line (char *buf, size_t cap)
{
    size_t n = 0;
    int b = next_byte (-1);
    if (b < 0)
        return -1;
    for (; b >= 0 && b != '\n'; b = next_byte (-1))
        if (n + 1 < cap)
            buf[n++] = (char) b;
    if (n && buf[n - 1] == '\r')
        n--;
    buf[n] = '\0';
    return 0;
}

/*  The next answer key: a byte, '\n' for Enter, -1 for end. In line mode
    the rest of the line goes to rest (for "/NAME"). Escape sequences and
    multi-byte keys come back as ESC (unknown), their tail drained.  */
static int
read_key (bool raw, char *rest, size_t cap)
{
    fflush (stdout);
    rest[0] = '\0';
    if (raw) {
        int b = next_byte (-1);
        if (b == 0x1b || b >= 0x80) {
            while (next_byte (30) >= 0)
                ;
            return 0x1b;
        }
        return b;
    }
    char line[NAME_CAP];
    if (read_line (line, sizeof line) < 0)
        return -1;
    if (!line[0])
        return '\n';
    str_copy (rest, cap, line + 1);
    return (unsigned char) line[0];
}

/* ---- session ------------------------------------------------------------ */

typedef struct {
    Annotate__V1__ReviewTask *task;     /* a copy: its batch is gone by then */
    int action;                         /* ACTION_ACCEPT, _CORRECT or _SKIP */
    char *label;                        /* as recorded; NULL after a skip */
} done_t;

typedef struct {
    ctl_t *ctl;
    const char *reviewer;
    uint32_t batch;
    uint32_t lease_s;
    size_t max_chars;
    bool raw;
    bool quit;
    int rc;                             /* fatal exit code; OK while going on */
    char **labels;                      /* the taxonomy, owned by status */
    size_t n_labels;
    ctl_keymap_t keys;
    ProtobufCMessage *status;
    done_t done[UNDO_DEPTH];            /* ring: the last answers */
    size_t n_done;
    uint64_t accepted, corrected, skipped, revised, failed;
    int64_t started_us;
} review_t;

static Annotate__V1__ReviewTask *
task_copy (const Annotate__V1__ReviewTask *t)
{
    size_t n = annotate__v1__review_task__get_packed_size (t);
    uint8_t *buf = malloc (n ? n : 1);
    if (!buf)
        return NULL;
    annotate__v1__review_task__pack (t, buf);
    Annotate__V1__ReviewTask *copy = annotate__v1__review_task__unpack (NULL, n, buf);
    free (buf);
    return copy;
}

static void
done_clear (done_t *d)
{
    if (d->task)
        annotate__v1__review_task__free_unpacked (d->task, NULL);
    free (d->label);
    memset (d, 0, sizeof *d);
}

static void
count_answer (review_t *r, int action, int delta)
{
    uint64_t *c = action == ANNOTATE__V1__REVIEW_ACTION__ACTION_ACCEPT    ? &r->accepted
                  : action == ANNOTATE__V1__REVIEW_ACTION__ACTION_CORRECT ? &r->corrected
                                                                         : &r->skipped;
    *c += (uint64_t) (int64_t) delta;
}

static void
remember (review_t *r, const Annotate__V1__ReviewTask *t, int action, const char *label)
{
    done_t *d = &r->done[r->n_done % UNDO_DEPTH];
    done_clear (d);
    d->task = task_copy (t);
    d->action = action;
    d->label = label ? strdup (label) : NULL;
    if (d->task)
        r->n_done++;
    count_answer (r, action, 1);
}

static const char *
suggested (const Annotate__V1__ReviewTask *t)
{
    const Annotate__V1__Label *l = t->suggestion;
    return l && l->label && *l->label ? l->label : NULL;
}

/*  A failure that concerns one answer (the session goes on), or the
    connection or server (it ends).  */
static bool
item_level (grpc_status_code code)
{
    return code == GRPC_STATUS_NOT_FOUND || code == GRPC_STATUS_INVALID_ARGUMENT
           || code == GRPC_STATUS_FAILED_PRECONDITION || code == GRPC_STATUS_ALREADY_EXISTS
           || code == GRPC_STATUS_ABORTED || code == GRPC_STATUS_RESOURCE_EXHAUSTED;
}

/*  One unary call; on failure prints it, sets r->rc if fatal, returns false. */
static bool
call (review_t *r, const char *method, const ProtobufCMessage *req,
      const ProtobufCMessageDescriptor *desc, ProtobufCMessage **resp)
{
    rpc_status_t st = rpc_call (r->ctl->client, method, req, desc, resp, r->ctl->timeout_ms);
    if (st.code == GRPC_STATUS_OK)
        return true;
    int code = ctl_fail (r->ctl, &st);
    if (item_level (st.code))
        r->failed++;
    else
        r->rc = code;
    return false;
}

/*  Label for a typed name: must be in the taxonomy.  */
static const char *
label_named (review_t *r, const char *name)
{
    for (size_t i = 0; i < r->n_labels; i++)
        if (strcmp (r->labels[i], name) == 0)
            return r->labels[i];
    char shown[NAME_CAP];
    ctl_review_escape (name, 64, false, shown, sizeof shown);
    printf ("'%s' is not a label of the taxonomy\n", shown);
    return NULL;
}

/*  "/": the rest of the line, or (single-key mode) a line read now with
    the terminal's own editing and echo.  */
static const char *
read_name (review_t *r, const char *rest)
{
    char name[NAME_CAP];
    if (r->raw) {
        printf ("label: ");
        fflush (stdout);
        tty_leave ();
        int got = read_line (name, sizeof name);
        if (!stop_signal && tcsetattr (STDIN_FILENO, TCSANOW, &raw_tty) == 0)
            tty_raw = 1;
        if (got < 0)
            return NULL;
    }
    else
        str_copy (name, sizeof name, rest);
    return name[0] ? label_named (r, name) : NULL;
}

/*  What the person chose: *action and *label set, true; false for keys
    that answer nothing (help, unknown, ...), with *key telling which.  */
static bool
choose (review_t *r, const Annotate__V1__ReviewTask *t, ctl_key_t *key, int *action,
        const char **label)
{
    char rest[NAME_CAP];
    size_t li = 0;
    int c = read_key (r->raw, rest, sizeof rest);
    *key = ctl_keymap_parse (&r->keys, c, &li);
    *label = NULL;
    switch (*key) {
    case CTL_KEY_SKIP:
        *action = ANNOTATE__V1__REVIEW_ACTION__ACTION_SKIP;
        return true;
    case CTL_KEY_ACCEPT:
        if (!(*label = suggested (t))) {
            printf ("no suggestion to accept: pick a label\n");
            return false;
        }
        *action = ANNOTATE__V1__REVIEW_ACTION__ACTION_ACCEPT;
        return true;
    case CTL_KEY_LABEL:
    case CTL_KEY_NAME:
        *label = *key == CTL_KEY_LABEL ? r->labels[li] : read_name (r, rest);
        if (!*label)
            return false;
        /* the suggested label's key agrees with the model: an accept */
        *action = suggested (t) && strcmp (suggested (t), *label) == 0
                      ? ANNOTATE__V1__REVIEW_ACTION__ACTION_ACCEPT
                      : ANNOTATE__V1__REVIEW_ACTION__ACTION_CORRECT;
        return true;
    case CTL_KEY_HELP:
        ctl_review_keymap (stdout, &r->keys);
        return false;
    case CTL_KEY_UNKNOWN:
        if (c >= 0x21 && c < 0x7f)
            printf ("key '%c' means nothing here (? shows the keys)\n", c);
        else
            printf ("unknown key (? shows the keys)\n");
        return false;
    default:    /* quit, undo: the caller's */
        return false;
    }
}

static const char *
action_word (int action)
{
    return action == ANNOTATE__V1__REVIEW_ACTION__ACTION_ACCEPT    ? "accepted"
           : action == ANNOTATE__V1__REVIEW_ACTION__ACTION_CORRECT ? "corrected"
                                                                  : "skipped";
}

/* ---- undo ------------------------------------------------------------- */

/*  Sends the new answer for an answered task with SubmitLabel.  */
static void
relabel (review_t *r, done_t *d, const char *label)
{
    char shown[256];
    ctl_review_escape (label, 40, false, shown, sizeof shown);
    if (d->label && strcmp (d->label, label) == 0) {
        printf ("same answer as before (%s): nothing sent\n", shown);
        return;
    }
    Annotate__V1__SubmitLabelRequest req = ANNOTATE__V1__SUBMIT_LABEL_REQUEST__INIT;
    req.id = d->task->item ? d->task->item->id : (char *) "";
    req.label = (char *) label;
    req.annotator = (char *) r->reviewer;
    ProtobufCMessage *resp;
    if (!call (r, CTL_METHOD ("SubmitLabel"), &req.base,
               &annotate__v1__submit_label_response__descriptor, &resp))
        return;
    int action = suggested (d->task) && strcmp (suggested (d->task), label) == 0
                     ? ANNOTATE__V1__REVIEW_ACTION__ACTION_ACCEPT
                     : ANNOTATE__V1__REVIEW_ACTION__ACTION_CORRECT;
    printf ("revised: %s (seq %" PRIu64 ")\n", shown,
            ((Annotate__V1__SubmitLabelResponse *) resp)->seq);
    protobuf_c_message_free_unpacked (resp, NULL);
    count_answer (r, d->action, -1);
    count_answer (r, action, 1);
    free (d->label);
    d->label = strdup (label);
    d->action = action;
    r->revised++;
}

static void
undo (review_t *r)
{
    size_t kept = r->n_done < UNDO_DEPTH ? r->n_done : UNDO_DEPTH;
    if (!kept) {
        printf ("nothing to undo yet\n");
        return;
    }
    for (size_t k = 0; k < kept && !r->quit && !r->rc;) {
        done_t *d = &r->done[(r->n_done - 1 - k) % UNDO_DEPTH];
        char heading[256], was[160];
        ctl_review_escape (d->label ? d->label : "", 40, false, was, sizeof was);
        snprintf (heading, sizeof heading, "undo: answer %zu back, was %s%s%s", k + 1,
                  action_word (d->action), d->label ? " " : "", was);
        ctl_review_show (stdout, d->task, heading, r->max_chars);
        printf ("answer again (, cancels, < goes further back)\n");
        for (;;) {
            ctl_key_t key;
            int action;
            const char *label;
            printf ("> ");
            if (choose (r, d->task, &key, &action, &label)) {
                if (action == ANNOTATE__V1__REVIEW_ACTION__ACTION_SKIP)
                    printf ("undo cancelled: nothing sent\n");
                else
                    relabel (r, d, label);
                return;
            }
            if (key == CTL_KEY_QUIT) {
                r->quit = true;
                return;
            }
            if (key == CTL_KEY_UNDO) {
                if (k + 1 < kept)
                    break;
                printf ("no earlier answer kept\n");
            }
        }
        k++;
    }
}

/* ---- answering ------------------------------------------------------------ */

static bool
submit (review_t *r, const Annotate__V1__ReviewTask *t, int action, const char *label,
        bool quiet)
{
    Annotate__V1__SubmitReviewRequest req = ANNOTATE__V1__SUBMIT_REVIEW_REQUEST__INIT;
    req.reviewer = (char *) r->reviewer;
    req.lease = t->lease ? t->lease : (char *) "";
    req.id = t->item && t->item->id ? t->item->id : (char *) "";
    req.action = action;
    req.label = action == ANNOTATE__V1__REVIEW_ACTION__ACTION_CORRECT ? (char *) label : (char *) "";
    ProtobufCMessage *resp;
    if (!call (r, CTL_METHOD ("SubmitReview"), &req.base,
               &annotate__v1__submit_review_response__descriptor, &resp)) {
        if (!r->rc && !quiet)
            printf ("not recorded; next item\n");
        return false;
    }
    const Annotate__V1__SubmitReviewResponse *s = (const Annotate__V1__SubmitReviewResponse *) resp;
    if (!quiet) {
        char shown[256];
        ctl_review_escape (s->label && *s->label ? s->label : label ? label : "", 40, false, shown,
                           sizeof shown);
        printf ("%s%s%s", action_word (action), *shown ? ": " : "", shown);
        printf (s->seq ? " (seq %" PRIu64 ")" : "", s->seq);
        printf ("%s\n", s->duplicate ? " (already recorded)" : "");
    }
    protobuf_c_message_free_unpacked (resp, NULL);
    return true;
}

static void
heading_for (const Annotate__V1__ReviewTask *t, size_t i, size_t n, uint64_t depth, char *out,
             size_t cap)
{
    int64_t left_s = (t->lease_expires_ms - time_now_ms ()) / 1000;
    char lease[48];
    if (t->lease_expires_ms <= 0)
        snprintf (lease, sizeof lease, "-");
    else if (left_s <= 0)
        snprintf (lease, sizeof lease, "expired");
    else
        snprintf (lease, sizeof lease, "%" PRId64 "m%02" PRId64 "s left", left_s / 60, left_s % 60);
    snprintf (out, cap, "item %zu/%zu  queue %" PRIu64 "  lease %s", i + 1, n, depth, lease);
}

/*  Shows task t and reads keys until it is answered (true) or the session
    ends (false: quit, a stop signal, a fatal error).  */
static bool
answer_task (review_t *r, const Annotate__V1__ReviewTask *t, const char *heading)
{
    if (r->raw)     /* keys typed ahead must not answer an item not seen yet */
        tcflush (STDIN_FILENO, TCIFLUSH);
    ctl_review_show (stdout, t, heading, r->max_chars);
    for (;;) {
        if (stop_signal || r->quit || r->rc)
            return false;
        ctl_key_t key;
        int action;
        const char *label;
        printf ("> ");
        if (choose (r, t, &key, &action, &label)) {
            if (submit (r, t, action, label, false))
                remember (r, t, action, label);
            return !r->rc;      /* a rejected answer moves on too */
        }
        if (key == CTL_KEY_QUIT)
            r->quit = true;
        else if (key == CTL_KEY_UNDO) {
            undo (r);
            if (!r->quit && !r->rc && !stop_signal)
                ctl_review_show (stdout, t, heading, r->max_chars);
        }
    }
}

/*  Gives unanswered leased tasks back to the queue (a skip the person
    did not make: not counted).  */
static void
release (review_t *r, Annotate__V1__ReviewTask **tasks, size_t n)
{
    size_t given = 0;
    uint64_t failed = r->failed;
    for (size_t i = 0; i < n && !r->rc; i++)
        given += submit (r, tasks[i], ANNOTATE__V1__REVIEW_ACTION__ACTION_SKIP, NULL, true);
    r->failed = failed;
    if (given)
        printf ("gave back %zu leased item%s\n", given, given == 1 ? "" : "s");
}

/*  One NextReview and its tasks; false when the session is over.  */
static bool
review_batch (review_t *r)
{
    Annotate__V1__NextReviewRequest req = ANNOTATE__V1__NEXT_REVIEW_REQUEST__INIT;
    req.reviewer = (char *) r->reviewer;
    req.max_items = r->batch;
    req.lease_s = r->lease_s;
    ProtobufCMessage *resp;
    uint64_t failed = r->failed;    /* counts answers, not this */
    if (!call (r, CTL_METHOD ("NextReview"), &req.base,
               &annotate__v1__next_review_response__descriptor, &resp)) {
        if (!r->rc)     /* rejected (e.g. a bad reviewer name): nothing more to do */
            r->rc = CTL_EXIT_REJECTED;
        r->failed = failed;
        return false;
    }
    const Annotate__V1__NextReviewResponse *nr = (const Annotate__V1__NextReviewResponse *) resp;
    if (nr->n_tasks == 0) {
        char why[512];
        ctl_review_escape (nr->exhausted && *nr->exhausted ? nr->exhausted : "queue empty", 200,
                           false, why, sizeof why);
        printf ("\nnothing to review: %s (queue depth %" PRIu64 ")\n", why, nr->queue_depth);
        protobuf_c_message_free_unpacked (resp, NULL);
        return false;
    }
    size_t i = 0;
    for (; i < nr->n_tasks; i++) {
        char heading[160];
        if (!nr->tasks[i])
            continue;
        heading_for (nr->tasks[i], i, nr->n_tasks, nr->queue_depth, heading, sizeof heading);
        if (!answer_task (r, nr->tasks[i], heading))
            break;
    }
    bool all = i == nr->n_tasks;
    if (!all && !r->rc)
        release (r, nr->tasks + i, nr->n_tasks - i);
    protobuf_c_message_free_unpacked (resp, NULL);
    return all && !r->rc;
}

static void
print_summary (review_t *r)
{
    double elapsed = (double) (time_mono_us () - r->started_us) / 1e6;
    uint64_t answered = r->accepted + r->corrected;
    double per_min = elapsed > 0 ? (double) answered * 60.0 / elapsed : 0.0;
    if (r->ctl->output == CTL_OUT_JSON) {
        json_t *o = json_object ();
        json_object_set_new (o, "answered", ctl_json_u64 (answered));
        json_object_set_new (o, "accepted", ctl_json_u64 (r->accepted));
        json_object_set_new (o, "corrected", ctl_json_u64 (r->corrected));
        json_object_set_new (o, "skipped", ctl_json_u64 (r->skipped));
        json_object_set_new (o, "revised", ctl_json_u64 (r->revised));
        json_object_set_new (o, "not_recorded", ctl_json_u64 (r->failed));
        json_object_set_new (o, "elapsed_s", json_real (elapsed));
        json_object_set_new (o, "per_minute", json_real (per_min));
        ctl_print_json (o, true);
        return;
    }
    uint64_t secs = (uint64_t) elapsed;
    printf ("\nanswered  %" PRIu64 " (accepted %" PRIu64 ", corrected %" PRIu64 ")\n", answered,
            r->accepted, r->corrected);
    printf ("skipped   %" PRIu64 "\n", r->skipped);
    if (r->revised)
        printf ("revised   %" PRIu64 " (undo)\n", r->revised);
    if (r->failed)
        printf ("rejected  %" PRIu64 " answers not recorded\n", r->failed);
    printf ("elapsed   %" PRIu64 "m%02" PRIu64 "s\n", secs / 60, secs % 60);
    printf ("rate      %.1f answers/min\n", per_min);
}

/* ---- command -------------------------------------------------------------- */

static int
review_opt (ctl_t *ctl, void *args, int opt, const char *arg)
{
    review_t *r = args;
    uint64_t v = 0;
    switch (opt) {
    case 'r':
        if (!*arg || strlen (arg) > MAX_REVIEWER || !utf8_valid (arg, strlen (arg)))
            return ctl_usage (ctl, "--reviewer: expected 1..%d bytes of UTF-8", MAX_REVIEWER), -1;
        r->reviewer = arg;
        return 0;
    case 'b':
        if (!ctl_parse_u64 (arg, &v) || v < 1 || v > MAX_BATCH)
            return ctl_usage (ctl, "--batch: expected 1..%d, not '%s'", MAX_BATCH, arg), -1;
        r->batch = (uint32_t) v;
        return 0;
    case 'l':
        if (!ctl_parse_u64 (arg, &v) || v > MAX_LEASE_S)
            return ctl_usage (ctl, "--lease-s: expected 0..%d seconds, not '%s'", MAX_LEASE_S,
                              arg),
                   -1;
        r->lease_s = (uint32_t) v;
        return 0;
    case 'm':
        if (!ctl_parse_u64 (arg, &v) || v < 1 || v > MAX_MAX_CHARS)
            return ctl_usage (ctl, "--max-chars: expected 1..%d, not '%s'", MAX_MAX_CHARS, arg),
                   -1;
        r->max_chars = (size_t) v;
        return 0;
    }
    return -1;
}

/*  The taxonomy, from ClusterStatus: label keys follow its order.  */
static bool
load_labels (review_t *r)
{
    Annotate__V1__ClusterStatusRequest req = ANNOTATE__V1__CLUSTER_STATUS_REQUEST__INIT;
    rpc_status_t st = rpc_call (r->ctl->client, CTL_METHOD ("ClusterStatus"), &req.base,
                                &annotate__v1__cluster_status_response__descriptor, &r->status,
                                r->ctl->timeout_ms);
    if (st.code != GRPC_STATUS_OK) {
        r->rc = ctl_fail (r->ctl, &st);
        return false;
    }
    const Annotate__V1__ClusterStatusResponse *cs =
        (const Annotate__V1__ClusterStatusResponse *) r->status;
    r->labels = cs->labels;
    r->n_labels = cs->n_labels;
    for (size_t i = 0; i < r->n_labels; i++)
        if (!r->labels[i])      /* protobuf-c never does this; a NULL would crash strcmp */
            r->n_labels = i;
    ctl_keymap_init (&r->keys, r->labels, r->n_labels);
    return true;
}

static void
session (review_t *r)
{
    signals_t sigs;
    stop_signal = 0;
    r->raw = tty_enter ();
    signals_install (&sigs, r->raw);
    char who[MAX_REVIEWER * 6 + 8];
    ctl_review_escape (r->reviewer, MAX_REVIEWER, false, who, sizeof who);
    printf ("reviewing as %s%s\n", who, r->raw ? "" : " (line mode: one answer a line)");
    ctl_review_keymap (stdout, &r->keys);
    r->started_us = time_mono_us ();
    while (!r->quit && !stop_signal && review_batch (r))
        ;
    tty_leave ();
    signals_restore (&sigs, r->raw);
    print_summary (r);
}

int
cmd_review (ctl_t *ctl, int argc, char **argv)
{
    static const struct option longopts[] = {
        CTL_GLOBAL_LONGOPTS,
        { "reviewer", required_argument, NULL, 'r' },  { "batch", required_argument, NULL, 'b' },
        { "lease-s", required_argument, NULL, 'l' },   { "max-chars", required_argument, NULL, 'm' },
        { NULL, 0, NULL, 0 }
    };
    static review_t r;  /* large (the undo ring); one session per process */
    memset (&r, 0, sizeof r);
    r.ctl = ctl;
    r.batch = DEFAULT_BATCH;
    r.max_chars = DEFAULT_MAX_CHARS;
    int rc = ctl_getopt (ctl, argc, argv, "o:", longopts, review_help, review_opt, &r);
    if (rc != CTL_PARSED)
        return rc;
    if (optind < argc)
        return ctl_usage (ctl, "unexpected argument '%s'", argv[optind]);
    if (!r.reviewer) {
        const char *user = getenv ("USER");
        bool ok = user && *user && strlen (user) <= MAX_REVIEWER && utf8_valid (user, strlen (user));
        r.reviewer = ok ? user : "anonymous";
    }
    if (!ctl_client (ctl))
        return CTL_EXIT_USAGE;
    if (load_labels (&r))
        session (&r);
    for (size_t i = 0; i < UNDO_DEPTH; i++)
        done_clear (&r.done[i]);
    if (r.status)
        protobuf_c_message_free_unpacked (r.status, NULL);
    return r.rc;
}
