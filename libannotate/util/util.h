/*  util.h: small helpers every subsystem uses: logging, clocks, UTF-8
    checks, error buffers, big-endian keys.

    Logging goes to stderr, one line per event, prefixed with the unix time,
    the level and the subsystem, so several processes can share a terminal.
    Secrets never go through here: callers pass ids and counts, not payloads.
*/
#ifndef ANNOTATE_UTIL_H
#define ANNOTATE_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { LOG_LEVEL_DEBUG = 0, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR } log_level_t;

void log_set_level (log_level_t level);
log_level_t log_get_level (void);
/*  Parses "debug", "info", "warn", "error"; false if unknown.  */
bool log_level_parse (const char *text, log_level_t *out);
void log_msg (log_level_t level, const char *subsystem, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

#define log_debug(sub, ...) log_msg (LOG_LEVEL_DEBUG, sub, __VA_ARGS__)
#define log_info(sub, ...)  log_msg (LOG_LEVEL_INFO, sub, __VA_ARGS__)
#define log_warn(sub, ...)  log_msg (LOG_LEVEL_WARN, sub, __VA_ARGS__)
#define log_error(sub, ...) log_msg (LOG_LEVEL_ERROR, sub, __VA_ARGS__)

/*  Wall clock in unix milliseconds, and a monotonic clock in microseconds
    for durations and deadlines.  */
int64_t time_now_ms (void);
int64_t time_mono_us (void);

/*  True when the len bytes at s are well-formed UTF-8 (no overlongs, no
    surrogates, nothing above U+10FFFF). NUL bytes are rejected too: every
    string we accept must survive a round trip through C APIs.  */
bool utf8_valid (const char *s, size_t len);

/*  printf into a caller's error buffer; safe with buf == NULL or cap == 0.
    Returns -1 so "return err_set (...)" reads naturally.  */
int err_set (char *buf, size_t cap, const char *fmt, ...) __attribute__ ((format (printf, 3, 4)));

/*  Big-endian u64 keys sort numerically under LMDB's default memcmp order.  */
void be64_put (uint8_t out[8], uint64_t v);
uint64_t be64_get (const uint8_t in[8]);

/*  A process-unique inproc endpoint, "inproc://<prefix>-<n>". Names are
    never reused: ZeroMQ releases a closed socket's name in the background,
    so reusing one (e.g. an object's address) can make a later bind fail. */
void inproc_endpoint (char *buf, size_t cap, const char *prefix);

/*  Copies at most cap-1 bytes and always terminates; returns false if cut. */
bool str_copy (char *dst, size_t cap, const char *src);

#endif
