/* dl_progress.c — stderr progress bar.
 *
 * Redraws with '\r' at most every 100 ms (monotonic clock) so the cost per
 * update is a clock read. Disabled unless stderr is a TTY or the caller
 * forces it (--progress); when forced on a non-TTY it prints one line per
 * redraw period of 2 s instead of '\r' updates, which keeps logs readable. */
#include "dl_progress.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct _dl_progress_t {
    char label[48];
    uint64_t total;
    uint64_t done;
    int64_t start_ns;
    int64_t last_draw_ns;
    bool enabled;
    bool tty;
    bool drawn;
};

static int64_t
s_mono_ns (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

dl_progress_t *
dl_progress_new (const char *label, uint64_t total, bool force)
{
    dl_progress_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    snprintf (self->label, sizeof self->label, "%s", label ? label : "");
    self->total = total;
    self->tty = isatty (STDERR_FILENO) == 1;
    self->enabled = self->tty || force;
    self->start_ns = s_mono_ns ();
    self->last_draw_ns = 0;
    return self;
}

static void
s_human (double v, char *out, size_t size)
{
    if (v >= 1e9)
        snprintf (out, size, "%.2fG", v / 1e9);
    else if (v >= 1e6)
        snprintf (out, size, "%.2fM", v / 1e6);
    else if (v >= 1e4)
        snprintf (out, size, "%.1fk", v / 1e3);
    else
        snprintf (out, size, "%.0f", v);
}

static void
s_draw (dl_progress_t *self, int64_t now, bool final)
{
    double secs = (double) (now - self->start_ns) / 1e9;
    double rate = secs > 0 ? (double) self->done / secs : 0;
    char done[16], rate_s[16], line[160];
    s_human ((double) self->done, done, sizeof done);
    s_human (rate, rate_s, sizeof rate_s);
    if (self->total > 0) {
        double frac = (double) self->done / (double) self->total;
        if (frac > 1)
            frac = 1;
        char bar[26];
        int fill = (int) (frac * 24);
        for (int i = 0; i < 24; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[24] = '\0';
        double eta = rate > 0 && !final ? ((double) self->total - (double) self->done) / rate : 0;
        if (eta < 0)
            eta = 0;
        snprintf (line, sizeof line, "%s [%s] %3.0f%% %s rows %s rows/s %s%.0fs", self->label, bar,
                  frac * 100, done, rate_s, final ? "in " : "eta ", final ? secs : eta);
    } else {
        snprintf (line, sizeof line, "%s %s rows %s rows/s %.1fs", self->label, done, rate_s, secs);
    }
    if (self->tty)
        fprintf (stderr, "\r%-100s%s", line, final ? "\n" : "");
    else
        fprintf (stderr, "%s\n", line);
    fflush (stderr);
    self->drawn = true;
    self->last_draw_ns = now;
}

static void
s_maybe_draw (dl_progress_t *self)
{
    if (!self->enabled)
        return;
    int64_t now = s_mono_ns ();
    int64_t period = self->tty ? 100000000LL : 2000000000LL;
    if (now - self->last_draw_ns >= period)
        s_draw (self, now, false);
}

void
dl_progress_set (dl_progress_t *self, uint64_t done)
{
    if (!self)
        return;
    self->done = done;
    s_maybe_draw (self);
}

void
dl_progress_add (dl_progress_t *self, uint64_t n)
{
    if (!self)
        return;
    self->done += n;
    s_maybe_draw (self);
}

void
dl_progress_set_total (dl_progress_t *self, uint64_t total)
{
    if (self)
        self->total = total;
}

void
dl_progress_finish (dl_progress_t *self)
{
    if (!self || !self->enabled)
        return;
    if (self->total < self->done)
        self->total = self->done;
    s_draw (self, s_mono_ns (), true);
    self->enabled = false;
}

bool
dl_progress_enabled (const dl_progress_t *self)
{
    return self && self->enabled;
}

void
dl_progress_destroy (dl_progress_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    dl_progress_finish (*self_p);
    free (*self_p);
    *self_p = NULL;
}
