/* buf.c — capped dynamic buffer (curl's dynbuf idea, c-patterns §1.7).
 *
 * Data structure: one heap block `data` of `alloc` bytes holding `len` bytes
 * of content plus a NUL; `cap` is the hard maximum content length. `data` is
 * NULL until the first append (and again after buf_detach); buf_data()
 * returns "" in that case, so the content is always a valid C string.
 *
 * Growth doubles the block but never beyond cap + 1. Every append first
 * computes its exact size, checks it against the cap and reserves memory, and
 * only then writes: a failing append leaves the content byte-for-byte
 * unchanged (all-or-nothing).
 *
 * The JSON string escaper lives here because it writes into a buf_t and must
 * be the only one in the project (log lines, HTTP bodies, prompts). It makes
 * two passes over the input: one to size the output, one to write it.
 *
 * Threading: a buf_t has one owner; no locking.
 */
#include "buf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "str.h"

struct _buf_t {
    char *data;
    size_t len;
    size_t alloc;
    size_t cap;
};

/* Keep cap + 1 and doubling free of overflow. */
#define BUF_MAX_CAP (SIZE_MAX / 4)

buf_t *
buf_new (size_t cap)
{
    buf_t *self = calloc (1, sizeof *self);
    if (self == NULL)
        return NULL;
    self->cap = cap > BUF_MAX_CAP ? BUF_MAX_CAP : cap;
    return self;
}

void
buf_destroy (buf_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    free ((*self_p)->data);
    free (*self_p);
    *self_p = NULL;
}

/* Makes room for `extra` more content bytes (plus the NUL). */
static int
s_reserve (buf_t *self, size_t extra)
{
    if (extra > self->cap - self->len)
        return BUF_E_TOOBIG;
    size_t need = self->len + extra + 1;
    if (need <= self->alloc)
        return BUF_OK;
    size_t n = self->alloc ? self->alloc : 64;
    while (n < need)
        n *= 2;
    if (n > self->cap + 1)
        n = self->cap + 1;
    char *d = realloc (self->data, n);
    if (d == NULL)
        return BUF_E_NOMEM;
    if (self->data == NULL)
        d[0] = '\0';
    self->data = d;
    self->alloc = n;
    return BUF_OK;
}

int
buf_append (buf_t *self, const void *data, size_t len)
{
    if (self == NULL)
        return BUF_E_NOMEM;
    int rc = s_reserve (self, len);
    if (rc != BUF_OK)
        return rc;
    if (len > 0)
        memcpy (self->data + self->len, data, len);
    self->len += len;
    self->data[self->len] = '\0';
    return BUF_OK;
}

int
buf_puts (buf_t *self, const char *s)
{
    return buf_append (self, s, s ? strlen (s) : 0);
}

int
buf_vprintf (buf_t *self, const char *fmt, va_list ap)
{
    if (self == NULL || fmt == NULL)
        return BUF_E_NOMEM;
    va_list ap2;
    va_copy (ap2, ap);
    size_t room = self->data ? self->alloc - self->len : 0;
    int n = vsnprintf (room ? self->data + self->len : NULL, room, fmt, ap2);
    va_end (ap2);
    if (n < 0) {
        if (self->data)
            self->data[self->len] = '\0';
        return BUF_E_NOMEM;   /* encoding error: nothing sensible to append */
    }
    if ((size_t) n < room) {
        /* Fitted in place; alloc <= cap + 1 guarantees len + n <= cap. */
        self->len += (size_t) n;
        return BUF_OK;
    }
    if (self->data)
        self->data[self->len] = '\0';   /* undo the partial write */
    int rc = s_reserve (self, (size_t) n);
    if (rc != BUF_OK)
        return rc;
    va_copy (ap2, ap);
    vsnprintf (self->data + self->len, (size_t) n + 1, fmt, ap2);
    va_end (ap2);
    self->len += (size_t) n;
    return BUF_OK;
}

int
buf_printf (buf_t *self, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    int rc = buf_vprintf (self, fmt, ap);
    va_end (ap);
    return rc;
}

/* ---- JSON escaping ------------------------------------------------------- */

/* Escapes the character at s[0..n) into out (up to 6 bytes); returns the
 * number of output bytes and sets *used to the input bytes consumed. */
static size_t
s_esc_char (const char *s, size_t n, char out[6], size_t *used)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char c = (unsigned char) s[0];
    *used = 1;
    switch (c) {
    case '"': out[0] = '\\'; out[1] = '"'; return 2;
    case '\\': out[0] = '\\'; out[1] = '\\'; return 2;
    case '\b': out[0] = '\\'; out[1] = 'b'; return 2;
    case '\f': out[0] = '\\'; out[1] = 'f'; return 2;
    case '\n': out[0] = '\\'; out[1] = 'n'; return 2;
    case '\r': out[0] = '\\'; out[1] = 'r'; return 2;
    case '\t': out[0] = '\\'; out[1] = 't'; return 2;
    default: break;
    }
    if (c < 0x20 || c == 0x7f) {
        memcpy (out, "\\u00", 4);
        out[4] = hex[c >> 4];
        out[5] = hex[c & 15];
        return 6;
    }
    if (c < 0x80) {
        out[0] = (char) c;
        return 1;
    }
    int l = str_utf8_decode (s, n, NULL);
    if (l == 0) {
        memcpy (out, "\\ufffd", 6);
        return 6;
    }
    memcpy (out, s, (size_t) l);
    *used = (size_t) l;
    return (size_t) l;
}

/* Output size of escaping s[0..n), stopping before the character that would
 * make it exceed max_out; *in_used receives the input bytes covered. */
static size_t
s_esc_len (const char *s, size_t n, size_t max_out, size_t *in_used)
{
    size_t i = 0, o = 0;
    char tmp[6];
    while (i < n) {
        size_t used;
        size_t k = s_esc_char (s + i, n - i, tmp, &used);
        if (k > max_out - o)
            break;
        o += k;
        i += used;
    }
    *in_used = i;
    return o;
}

/* Writes the escape of s[0..n) at the end of the (already reserved) buffer. */
static void
s_esc_write (buf_t *self, const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t used;
        char tmp[6];
        size_t k = s_esc_char (s + i, n - i, tmp, &used);
        memcpy (self->data + self->len, tmp, k);
        self->len += k;
        i += used;
    }
}

int
buf_json_strn (buf_t *self, const char *s, size_t n)
{
    if (self == NULL)
        return BUF_E_NOMEM;
    if (s == NULL)
        return buf_append (self, "null", 4);
    size_t used;
    size_t olen = s_esc_len (s, n, SIZE_MAX - 2, &used);
    if (olen > BUF_MAX_CAP)
        return BUF_E_TOOBIG;
    int rc = s_reserve (self, olen + 2);
    if (rc != BUF_OK)
        return rc;
    self->data[self->len++] = '"';
    s_esc_write (self, s, n);
    self->data[self->len++] = '"';
    self->data[self->len] = '\0';
    return BUF_OK;
}

int
buf_json_str (buf_t *self, const char *s)
{
    return buf_json_strn (self, s, s ? strlen (s) : 0);
}

int
buf_json_str_limit (buf_t *self, const char *s, size_t limit, const char *marker, bool *truncated)
{
    if (truncated)
        *truncated = false;
    if (self == NULL)
        return BUF_E_NOMEM;
    if (s == NULL)
        return limit >= 4 ? buf_append (self, "null", 4) : BUF_E_TOOBIG;
    if (limit < 2)
        return BUF_E_TOOBIG;
    size_t n = strlen (s), used;
    size_t olen = s_esc_len (s, n, limit - 2, &used);
    size_t mlen = 0, mn = 0;
    bool cut = used < n;
    if (cut && marker) {
        mn = strlen (marker);
        size_t mused;
        mlen = s_esc_len (marker, mn, SIZE_MAX - 2, &mused);
        if (mlen > limit - 2)
            return BUF_E_TOOBIG;
        /* Shrink the kept prefix until prefix + marker fit. */
        olen = s_esc_len (s, n, limit - 2 - mlen, &used);
    }
    int rc = s_reserve (self, olen + mlen + 2);
    if (rc != BUF_OK)
        return rc;
    self->data[self->len++] = '"';
    s_esc_write (self, s, used);
    if (cut && marker)
        s_esc_write (self, marker, mn);
    self->data[self->len++] = '"';
    self->data[self->len] = '\0';
    if (truncated)
        *truncated = cut;
    return BUF_OK;
}

/* ---- accessors ----------------------------------------------------------- */

const char *
buf_data (const buf_t *self)
{
    return (self && self->data) ? self->data : "";
}

size_t
buf_len (const buf_t *self)
{
    return self ? self->len : 0;
}

size_t
buf_cap (const buf_t *self)
{
    return self ? self->cap : 0;
}

void
buf_reset (buf_t *self)
{
    if (self == NULL)
        return;
    self->len = 0;
    if (self->data)
        self->data[0] = '\0';
}

void
buf_truncate (buf_t *self, size_t len)
{
    if (self == NULL || len >= self->len)
        return;
    self->len = len;
    self->data[len] = '\0';
}

char *
buf_detach (buf_t *self)
{
    if (self == NULL)
        return NULL;
    char *d = self->data;
    if (d == NULL) {
        d = malloc (1);
        if (d == NULL)
            return NULL;
        d[0] = '\0';
    }
    self->data = NULL;
    self->len = 0;
    self->alloc = 0;
    return d;
}

const char *
buf_strerror (int code)
{
    switch (code) {
    case BUF_OK: return "ok";
    case BUF_E_TOOBIG: return "buffer cap exceeded";
    case BUF_E_NOMEM: return "out of memory";
    default: return "unknown buffer error";
    }
}
