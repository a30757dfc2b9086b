/* lg_sse.c — incremental Server-Sent Events parser.
 *
 * Design: a line buffer collects bytes up to a line terminator (LF, CR or
 * CRLF; a CR at the end of one chunk sets `pending_cr` so that an LF starting
 * the next chunk is swallowed). Each complete line is interpreted at once:
 * "data:" appends to the data buffer (with '\n' between lines), "event:"
 * sets the event name, a blank line dispatches. Both buffers are buf_t with
 * the same cap, so a hostile stream cannot grow memory without bound.
 *
 * Per the WHATWG rules a single space after the colon is removed, an event
 * with no data lines is not dispatched, and an unterminated event at EOF is
 * dropped. Threading: one owner, no locks.
 */
#include "lg_sse.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "lg_error.h"

struct _lg_sse_t {
    buf_t *line;
    buf_t *data;
    char event[64];
    bool has_data;
    bool pending_cr;
    size_t events;
    lg_sse_fn fn;
    void *arg;
};

lg_sse_t *
lg_sse_new (size_t max_event, lg_sse_fn fn, void *arg)
{
    lg_sse_t *self = calloc (1, sizeof *self);
    if (self == NULL)
        return NULL;
    self->line = buf_new (max_event);
    self->data = buf_new (max_event);
    if (self->line == NULL || self->data == NULL) {
        lg_sse_destroy (&self);
        return NULL;
    }
    self->fn = fn;
    self->arg = arg;
    return self;
}

void
lg_sse_destroy (lg_sse_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    buf_destroy (&(*self_p)->line);
    buf_destroy (&(*self_p)->data);
    free (*self_p);
    *self_p = NULL;
}

static int
s_map_buf (int rc)
{
    return rc == BUF_E_TOOBIG ? LG_E_TOOBIG : rc == 0 ? 0 : LG_E_NOMEM;
}

static int
s_dispatch (lg_sse_t *self)
{
    int rc = 0;
    if (self->has_data) {
        self->events++;
        if (self->fn)
            rc = self->fn (self->arg, self->event[0] ? self->event : "message",
                           buf_data (self->data), buf_len (self->data));
    }
    buf_reset (self->data);
    self->has_data = false;
    self->event[0] = '\0';
    return rc;
}

static int
s_line (lg_sse_t *self)
{
    const char *l = buf_data (self->line);
    size_t n = buf_len (self->line);
    int rc = 0;
    if (n == 0)
        rc = s_dispatch (self);
    else if (l[0] != ':') {
        const char *colon = memchr (l, ':', n);
        size_t flen = colon ? (size_t) (colon - l) : n;
        const char *v = colon ? colon + 1 : l + n;
        size_t vlen = n - (size_t) (v - l);
        if (vlen > 0 && v[0] == ' ') {
            v++;
            vlen--;
        }
        if (flen == 4 && memcmp (l, "data", 4) == 0) {
            if (self->has_data)
                rc = s_map_buf (buf_append (self->data, "\n", 1));
            if (rc == 0)
                rc = s_map_buf (buf_append (self->data, v, vlen));
            self->has_data = true;
        }
        else if (flen == 5 && memcmp (l, "event", 5) == 0) {
            size_t c = vlen < sizeof self->event - 1 ? vlen : sizeof self->event - 1;
            memcpy (self->event, v, c);
            self->event[c] = '\0';
        }
        /* id:, retry: and unknown fields are irrelevant for completions. */
    }
    buf_reset (self->line);
    return rc;
}

int
lg_sse_feed (lg_sse_t *self, const char *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        if (self->pending_cr) {
            self->pending_cr = false;
            if (p[i] == '\n') {
                i++;
                continue;
            }
        }
        /* Find the next terminator in the remaining bytes. */
        size_t j = i;
        while (j < n && p[j] != '\n' && p[j] != '\r')
            j++;
        if (j > i) {
            int rc = s_map_buf (buf_append (self->line, p + i, j - i));
            if (rc != 0)
                return rc;
        }
        if (j == n)
            break;
        if (p[j] == '\r')
            self->pending_cr = true;
        i = j + 1;
        int rc = s_line (self);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int
lg_sse_finish (lg_sse_t *self)
{
    int partial = (buf_len (self->line) > 0 || self->has_data) ? 1 : 0;
    buf_reset (self->line);
    buf_reset (self->data);
    self->has_data = false;
    self->event[0] = '\0';
    return partial;
}

size_t
lg_sse_events (const lg_sse_t *self)
{
    return self->events;
}
