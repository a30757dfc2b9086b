/* dl_progress.h — a one-line progress bar on stderr for long work
 * (generate, import). Drawn only when enabled (stderr is a TTY, or the
 * caller forces it with --progress); redrawn at most every 100 ms; shows
 * percent, done/total, rate (rows/s) and ETA. Single-threaded. */
#ifndef COPILOT_DL_PROGRESS_H
#define COPILOT_DL_PROGRESS_H
#include <stdbool.h>
#include <stdint.h>

typedef struct _dl_progress_t dl_progress_t;

/* `label` is copied; `total` may be 0 (unknown: no bar, no ETA). `force`
 * draws even when stderr is not a TTY. Returns NULL only on OOM. */
dl_progress_t *dl_progress_new (const char *label, uint64_t total, bool force);
/* Erases nothing; prints a final line with the totals when enabled. NULL-safe. */
void dl_progress_destroy (dl_progress_t **self_p);
/* Sets the absolute amount done and redraws when due. */
void dl_progress_set (dl_progress_t *self, uint64_t done);
/* Adds `n` to done. */
void dl_progress_add (dl_progress_t *self, uint64_t n);
/* Changes the total (estimates improve as work proceeds). */
void dl_progress_set_total (dl_progress_t *self, uint64_t total);
/* Forces a final draw and a newline. */
void dl_progress_finish (dl_progress_t *self);
/* True when the bar is drawn. */
bool dl_progress_enabled (const dl_progress_t *self);

#endif
