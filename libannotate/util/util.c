/*  util.c: logging, clocks, UTF-8 validation, small string helpers.  */
#include "util/util.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static _Atomic int s_level = LOG_LEVEL_INFO;

void log_set_level (log_level_t level) { atomic_store (&s_level, (int) level); }
log_level_t log_get_level (void) { return (log_level_t) atomic_load (&s_level); }

bool
log_level_parse (const char *text, log_level_t *out)
{
    static const char *names[] = { "debug", "info", "warn", "error" };
    for (int i = 0; i < 4; i++)
        if (strcmp (text, names[i]) == 0) {
            *out = (log_level_t) i;
            return true;
        }
    return false;
}

void
log_msg (log_level_t level, const char *subsystem, const char *fmt, ...)
{
    if ((int) level < atomic_load (&s_level))
        return;
    static const char *tags[] = { "D", "I", "W", "E" };
    char line[2048];
    int64_t now = time_now_ms ();
    int n = snprintf (line, sizeof line, "%lld.%03d %s %s: ", (long long) (now / 1000),
                      (int) (now % 1000), tags[level], subsystem);
    va_list ap;
    va_start (ap, fmt);
    if (n > 0 && (size_t) n < sizeof line)
        vsnprintf (line + n, sizeof line - (size_t) n, fmt, ap);
    va_end (ap);
    /* one fputs per line keeps lines from different threads whole */
    size_t len = strlen (line);
    if (len + 1 < sizeof line) {
        line[len] = '\n';
        line[len + 1] = 0;
    }
    fputs (line, stderr);
}

int64_t
time_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
time_mono_us (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

bool
utf8_valid (const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *) str;
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        if (c == 0)
            return false;
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        unsigned cp;
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
            cp = c & 0x1F;
        }
        else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            cp = c & 0x0F;
        }
        else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            cp = c & 0x07;
        }
        else
            return false;
        if (i + need >= len)
            return false;
        for (size_t k = 1; k <= need; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) || cp > 0x10FFFF
            || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += need + 1;
    }
    return true;
}

int
err_set (char *buf, size_t cap, const char *fmt, ...)
{
    if (buf && cap) {
        va_list ap;
        va_start (ap, fmt);
        vsnprintf (buf, cap, fmt, ap);
        va_end (ap);
    }
    return -1;
}

void
be64_put (uint8_t out[8], uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        out[i] = (uint8_t) (v & 0xFF);
        v >>= 8;
    }
}

uint64_t
be64_get (const uint8_t in[8])
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | in[i];
    return v;
}

bool
str_copy (char *dst, size_t cap, const char *src)
{
    if (!cap)
        return false;
    size_t n = strlen (src);
    bool whole = n < cap;
    if (!whole)
        n = cap - 1;
    memcpy (dst, src, n);
    dst[n] = 0;
    return whole;
}

void
inproc_endpoint (char *buf, size_t cap, const char *prefix)
{
    static _Atomic unsigned long serial;
    snprintf (buf, cap, "inproc://%s-%lu", prefix, atomic_fetch_add (&serial, 1) + 1);
}
