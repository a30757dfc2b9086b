/* str.h — safe string helpers that replace the banned libc functions.
 * None of these allocate unless their name says dup. */
#ifndef COPILOT_STR_H
#define COPILOT_STR_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Copies at most dst_size-1 bytes and NUL-terminates. Returns 0, or -1 when
 * `src` was truncated (dst still NUL-terminated). dst_size must be > 0. */
int str_copy (char *dst, size_t dst_size, const char *src);
/* Appends like str_copy; -1 on truncation. */
int str_append (char *dst, size_t dst_size, const char *src);
/* snprintf that returns 0, or -1 on truncation or encoding error. */
int str_fmt (char *dst, size_t dst_size, const char *fmt, ...) __attribute__ ((format (printf, 3, 4)));

/* Strict integer/float parsing: the whole string must be a number, no
 * leading/trailing junk, in range. 0 on success, -1 otherwise (*out untouched). */
int str_to_i64 (const char *s, int64_t *out);
int str_to_int (const char *s, int min, int max, int *out);
int str_to_double (const char *s, double *out);

/* malloc'd copies; NULL on OOM (or NULL input for str_dup). */
char *str_dup (const char *s);
char *str_ndup (const char *s, size_t n);

bool str_starts_with (const char *s, const char *prefix);
bool str_ends_with (const char *s, const char *suffix);
/* ASCII case-insensitive equality / substring search. */
bool str_ieq (const char *a, const char *b);
const char *str_icontains (const char *haystack, const char *needle);
/* Trims ASCII whitespace in place; returns s. */
char *str_trim (char *s);
/* True when `s` (length n) is valid UTF-8. */
bool str_utf8_valid (const char *s, size_t n);
/* Decodes one UTF-8 sequence at s (n > 0 bytes available). Returns its length
 * (1..4) and sets *cp, or 0 when the bytes do not start a valid sequence
 * (overlong forms, surrogates, code points above U+10FFFF and truncated
 * sequences are invalid). Shared by str_utf8_valid and the JSON escaper. */
int str_utf8_decode (const char *s, size_t n, uint32_t *cp);
/* Lower-case hex SHA-256 of data into out[65]. */
void str_sha256_hex (const void *data, size_t len, char out[65]);

#endif
