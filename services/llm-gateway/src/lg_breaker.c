/* lg_breaker.c — per-provider circuit breaker (closed / open / half-open).
 *
 * Data: the state, the consecutive-failure count, when the circuit opened,
 * and whether a half-open probe is in flight. A mutex guards them because the
 * daemon may run several workers against one provider. The clock is injected
 * through the `now_ms` arguments (monotonic milliseconds), never read here.
 */
#include "lg_breaker.h"

#include <pthread.h>
#include <stdlib.h>

struct _lg_breaker_t {
    pthread_mutex_t mu;
    lg_breaker_state_t state;
    int threshold;
    int failures;
    int64_t cooldown_ms;
    int64_t opened_ms;
    bool probe_out;
};

lg_breaker_t *
lg_breaker_new (int threshold, int64_t cooldown_ms)
{
    lg_breaker_t *self = calloc (1, sizeof *self);
    if (self == NULL)
        return NULL;
    pthread_mutex_init (&self->mu, NULL);
    self->threshold = threshold < 1 ? 1 : threshold;
    self->cooldown_ms = cooldown_ms < 0 ? 0 : cooldown_ms;
    return self;
}

void
lg_breaker_destroy (lg_breaker_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    pthread_mutex_destroy (&(*self_p)->mu);
    free (*self_p);
    *self_p = NULL;
}

bool
lg_breaker_allow (lg_breaker_t *self, int64_t now_ms)
{
    bool ok = false;
    pthread_mutex_lock (&self->mu);
    switch (self->state) {
    case LG_BREAKER_CLOSED:
        ok = true;
        break;
    case LG_BREAKER_OPEN:
        if (now_ms - self->opened_ms >= self->cooldown_ms) {
            self->state = LG_BREAKER_HALF_OPEN;
            self->probe_out = true;
            ok = true;
        }
        break;
    case LG_BREAKER_HALF_OPEN:
        if (!self->probe_out) {
            self->probe_out = true;
            ok = true;
        }
        break;
    }
    pthread_mutex_unlock (&self->mu);
    return ok;
}

bool
lg_breaker_record (lg_breaker_t *self, bool success, int64_t now_ms)
{
    bool tripped = false;
    pthread_mutex_lock (&self->mu);
    if (success) {
        self->state = LG_BREAKER_CLOSED;
        self->failures = 0;
        self->probe_out = false;
    }
    else {
        self->failures++;
        if (self->state == LG_BREAKER_HALF_OPEN
            || (self->state == LG_BREAKER_CLOSED && self->failures >= self->threshold)) {
            self->state = LG_BREAKER_OPEN;
            self->opened_ms = now_ms;
            self->probe_out = false;
            tripped = true;
        }
    }
    pthread_mutex_unlock (&self->mu);
    return tripped;
}

void
lg_breaker_release (lg_breaker_t *self)
{
    pthread_mutex_lock (&self->mu);
    if (self->state == LG_BREAKER_HALF_OPEN)
        self->probe_out = false;
    pthread_mutex_unlock (&self->mu);
}

lg_breaker_state_t
lg_breaker_state (lg_breaker_t *self)
{
    pthread_mutex_lock (&self->mu);
    lg_breaker_state_t s = self->state;
    pthread_mutex_unlock (&self->mu);
    return s;
}

int
lg_breaker_failures (lg_breaker_t *self)
{
    pthread_mutex_lock (&self->mu);
    int f = self->failures;
    pthread_mutex_unlock (&self->mu);
    return f;
}

const char *
lg_breaker_state_name (lg_breaker_state_t s)
{
    switch (s) {
    case LG_BREAKER_CLOSED: return "closed";
    case LG_BREAKER_OPEN: return "open";
    case LG_BREAKER_HALF_OPEN: return "half_open";
    }
    return "unknown";
}
