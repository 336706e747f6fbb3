/*  progress.c: one self-overwriting status line on stderr for ingest.

    Only on a terminal: redirected stderr gets the per-line errors and
    nothing else. Redrawn at most ten times a second so a fast ingest does
    not spend its time on the terminal.  */
#include "ctl.h"

#include <stdlib.h>
#include <unistd.h>

#include "util/util.h"

struct ctl_progress {
    bool on;
    uint64_t total_bytes;
    int64_t start_us;
    int64_t last_draw_us;
    bool drawn;
};

ctl_progress_t *
ctl_progress_new (bool enabled, uint64_t total_bytes)
{
    ctl_progress_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->on = enabled && isatty (STDERR_FILENO);
    self->total_bytes = total_bytes;
    self->start_us = time_mono_us ();
    return self;
}

void
ctl_progress_update (ctl_progress_t *self, uint64_t items, uint64_t bytes)
{
    if (!self || !self->on)
        return;
    int64_t now = time_mono_us ();
    if (self->drawn && now - self->last_draw_us < 100000)
        return;
    self->last_draw_us = now;
    self->drawn = true;
    double secs = (double) (now - self->start_us) / 1e6;
    double rate = secs > 0 ? (double) items / secs : 0;
    if (self->total_bytes > 0) {
        double frac = (double) bytes / (double) self->total_bytes;
        frac = frac > 1 ? 1 : frac;
        int fill = (int) (frac * 30);
        char bar[31];
        for (int i = 0; i < 30; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[30] = '\0';
        fprintf (stderr, "\r[%s] %5.1f%%  %llu items  %.0f items/s \033[K", bar, frac * 100,
                 (unsigned long long) items, rate);
    }
    else
        fprintf (stderr, "\r%llu items  %.0f items/s \033[K", (unsigned long long) items, rate);
    fflush (stderr);
}

void
ctl_progress_clear (ctl_progress_t *self)
{
    if (self && self->on && self->drawn) {
        fputs ("\r\033[K", stderr);
        fflush (stderr);
        self->drawn = false;
    }
}

void
ctl_progress_destroy (ctl_progress_t **self_p)
{
    if (self_p && *self_p) {
        ctl_progress_clear (*self_p);
        free (*self_p);
        *self_p = NULL;
    }
}
