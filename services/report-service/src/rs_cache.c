/* rs_cache.c — LRU cache of report results.
 *
 * Keys are SHA-256 hex digests of (report id, canonical resolved parameters,
 * data version), so a new data version can never return a stale result
 * even before the daemon receives data.changed; rs_cache_clear drops
 * everything on data.changed to free memory. Values are jansson references.
 * A doubly linked list keeps recency; lookups scan the list (the cache holds
 * tens of entries, and each entry stands for a full report run).
 */
#include <stdlib.h>
#include <string.h>

#include "rs_internal.h"
#include "str.h"

typedef struct entry {
    struct entry *prev, *next;
    char key[65];
    json_t *value;
} entry_t;

struct _rs_cache_t {
    size_t cap, n;
    entry_t *head, *tail;
};

rs_cache_t *
rs_cache_new (size_t capacity)
{
    rs_cache_t *c = calloc (1, sizeof *c);
    if (c)
        c->cap = capacity ? capacity : 64;
    return c;
}

static void
s_unlink (rs_cache_t *c, entry_t *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        c->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        c->tail = e->prev;
    e->prev = e->next = NULL;
}

static void
s_push_front (rs_cache_t *c, entry_t *e)
{
    e->prev = NULL;
    e->next = c->head;
    if (c->head)
        c->head->prev = e;
    c->head = e;
    if (!c->tail)
        c->tail = e;
}

void
rs_cache_clear (rs_cache_t *c)
{
    entry_t *e = c->head;
    while (e) {
        entry_t *n = e->next;
        json_decref (e->value);
        free (e);
        e = n;
    }
    c->head = c->tail = NULL;
    c->n = 0;
}

void
rs_cache_destroy (rs_cache_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rs_cache_clear (*self_p);
    free (*self_p);
    *self_p = NULL;
}

json_t *
rs_cache_get (rs_cache_t *c, const char *key)
{
    for (entry_t *e = c->head; e; e = e->next)
        if (strcmp (e->key, key) == 0) {
            s_unlink (c, e);
            s_push_front (c, e);
            return e->value;
        }
    return NULL;
}

int
rs_cache_put (rs_cache_t *c, const char *key, json_t *value)
{
    for (entry_t *e = c->head; e; e = e->next)
        if (strcmp (e->key, key) == 0) {
            json_decref (e->value);
            e->value = json_incref (value);
            s_unlink (c, e);
            s_push_front (c, e);
            return 0;
        }
    entry_t *e = calloc (1, sizeof *e);
    if (!e)
        return -1;
    str_copy (e->key, sizeof e->key, key);
    e->value = json_incref (value);
    s_push_front (c, e);
    c->n++;
    while (c->n > c->cap && c->tail) {
        entry_t *old = c->tail;
        s_unlink (c, old);
        json_decref (old->value);
        free (old);
        c->n--;
    }
    return 0;
}

size_t
rs_cache_size (const rs_cache_t *c)
{
    return c->n;
}
