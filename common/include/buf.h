/* buf.h — capped dynamic buffer (curl's dynbuf idea).
 *
 * A buf_t grows on demand but never past its hard cap: an append that would
 * exceed the cap fails with BUF_E_TOOBIG and leaves the content unchanged.
 * The content is always NUL-terminated. Not thread-safe (one owner).
 */
#ifndef COPILOT_BUF_H
#define COPILOT_BUF_H
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct _buf_t buf_t;

enum { BUF_OK = 0, BUF_E_TOOBIG = -1, BUF_E_NOMEM = -2 };

/* New empty buffer holding at most `cap` bytes (excluding the NUL). NULL on OOM. */
buf_t *buf_new (size_t cap);
/* Frees and sets *self_p = NULL; NULL-safe. */
void buf_destroy (buf_t **self_p);

/* Appends `len` bytes. 0, BUF_E_TOOBIG or BUF_E_NOMEM (content unchanged on error). */
int buf_append (buf_t *self, const void *data, size_t len);
/* Appends a NUL-terminated string. */
int buf_puts (buf_t *self, const char *s);
/* Appends printf-formatted text; all-or-nothing like buf_append. */
int buf_printf (buf_t *self, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));
int buf_vprintf (buf_t *self, const char *fmt, va_list ap);
/* Appends `s` as a JSON string literal (quotes and escapes included). This
 * is the project's one JSON string escaper: `"` and `\` are escaped, control
 * characters (U+0000..U+001F and DEL) become \b \f \n \r \t or \u00XX,
 * valid UTF-8 is copied as is, and every byte that does not start a valid
 * UTF-8 sequence becomes \ufffd. A NULL `s` appends the literal null. */
int buf_json_str (buf_t *self, const char *s);
/* Like buf_json_str for the first `n` bytes of `s` (embedded NULs become \u0000). */
int buf_json_strn (buf_t *self, const char *s, size_t n);
/* Like buf_json_str, but the literal (quotes included) uses at most `limit`
 * bytes. When the whole escaped text does not fit, the longest prefix that
 * ends on a character boundary is kept, `marker` (may be NULL) is appended
 * inside the quotes, and *truncated (may be NULL) is set to true. Returns 0,
 * BUF_E_TOOBIG when `limit` cannot hold the quotes plus the escaped marker or
 * the buffer's cap is reached, or BUF_E_NOMEM (content unchanged on error). */
int buf_json_str_limit (buf_t *self, const char *s, size_t limit, const char *marker,
                        bool *truncated);

/* Content (NUL-terminated, owned by the buffer) and its length. */
const char *buf_data (const buf_t *self);
size_t buf_len (const buf_t *self);
size_t buf_cap (const buf_t *self);
/* Empties the buffer, keeping its cap. */
void buf_reset (buf_t *self);
/* Shortens the content to `len` bytes (no-op if len >= current length). */
void buf_truncate (buf_t *self, size_t len);
/* Transfers ownership of the content to the caller (free()), resets self.
 * Returns NULL on OOM. */
char *buf_detach (buf_t *self);

const char *buf_strerror (int code);
#endif
