/* str.c — safe string helpers that replace the banned libc functions.
 *
 * Design:
 *  - Copy/append/format never write past dst_size and always NUL-terminate;
 *    truncation is reported (-1) instead of silently accepted, so callers can
 *    treat it as an error.
 *  - Number parsing is strict: the whole string must be the number. strtoll
 *    and strtod skip leading white space and accept hex / "inf" / "nan", so we
 *    check the first character and the character set ourselves, then rely on
 *    errno (ERANGE) and the end pointer.
 *  - UTF-8 decoding follows RFC 3629 (no overlongs, no surrogates, nothing
 *    above U+10FFFF). str_utf8_decode is the single decoder used by the JSON
 *    escaper in buf.c, so "valid" means the same thing everywhere.
 *  - SHA-256 is a compact FIPS 180-4 implementation so copilot_core does not
 *    depend on OpenSSL. It is used for content ids, not for secrets.
 * Thread-safety: every function is reentrant (no shared state).
 */
#include "str.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
str_copy (char *dst, size_t dst_size, const char *src)
{
    if (dst == NULL || dst_size == 0)
        return -1;
    if (src == NULL) {
        dst[0] = '\0';
        return 0;
    }
    size_t n = strlen (src);
    int rc = 0;
    if (n >= dst_size) {
        n = dst_size - 1;
        rc = -1;
    }
    memcpy (dst, src, n);
    dst[n] = '\0';
    return rc;
}

int
str_append (char *dst, size_t dst_size, const char *src)
{
    if (dst == NULL || dst_size == 0)
        return -1;
    size_t used = strnlen (dst, dst_size);
    if (used == dst_size) {
        /* dst was not terminated within its size: terminate and report. */
        dst[dst_size - 1] = '\0';
        return -1;
    }
    return str_copy (dst + used, dst_size - used, src);
}

int
str_fmt (char *dst, size_t dst_size, const char *fmt, ...)
{
    if (dst == NULL || dst_size == 0)
        return -1;
    va_list ap;
    va_start (ap, fmt);
    int n = vsnprintf (dst, dst_size, fmt, ap);
    va_end (ap);
    if (n < 0) {
        dst[0] = '\0';
        return -1;
    }
    return (size_t) n >= dst_size ? -1 : 0;
}

int
str_to_i64 (const char *s, int64_t *out)
{
    if (s == NULL || out == NULL)
        return -1;
    /* strtoll would skip leading white space: require a sign or a digit. */
    const char *p = s;
    if (*p == '+' || *p == '-')
        p++;
    if (!isdigit ((unsigned char) *p))
        return -1;
    errno = 0;
    char *end = NULL;
    long long v = strtoll (s, &end, 10);
    if (errno != 0 || end == s || *end != '\0')
        return -1;
    *out = (int64_t) v;
    return 0;
}

int
str_to_int (const char *s, int min, int max, int *out)
{
    int64_t v;
    if (out == NULL || str_to_i64 (s, &v) != 0)
        return -1;
    if (v < (int64_t) min || v > (int64_t) max)
        return -1;
    *out = (int) v;
    return 0;
}

int
str_to_double (const char *s, double *out)
{
    if (s == NULL || out == NULL || *s == '\0')
        return -1;
    /* Decimal notation only: strtod would also take hex floats, "inf",
     * "nan" and leading white space. */
    const char *p = s;
    if (*p == '+' || *p == '-')
        p++;
    if (!isdigit ((unsigned char) *p) && !(*p == '.' && isdigit ((unsigned char) p[1])))
        return -1;
    for (const char *q = p; *q; q++) {
        if (!isdigit ((unsigned char) *q) && *q != '.' && *q != 'e' && *q != 'E' && *q != '+'
            && *q != '-')
            return -1;
    }
    errno = 0;
    char *end = NULL;
    double v = strtod (s, &end);
    if (errno != 0 || end == s || *end != '\0' || !isfinite (v))
        return -1;
    *out = v;
    return 0;
}

char *
str_dup (const char *s)
{
    if (s == NULL)
        return NULL;
    size_t n = strlen (s);
    char *d = malloc (n + 1);
    if (d == NULL)
        return NULL;
    memcpy (d, s, n + 1);
    return d;
}

char *
str_ndup (const char *s, size_t n)
{
    if (s == NULL)
        return NULL;
    size_t len = strnlen (s, n);
    char *d = malloc (len + 1);
    if (d == NULL)
        return NULL;
    memcpy (d, s, len);
    d[len] = '\0';
    return d;
}

bool
str_starts_with (const char *s, const char *prefix)
{
    if (s == NULL || prefix == NULL)
        return false;
    size_t n = strlen (prefix);
    return strncmp (s, prefix, n) == 0;
}

bool
str_ends_with (const char *s, const char *suffix)
{
    if (s == NULL || suffix == NULL)
        return false;
    size_t ls = strlen (s), lx = strlen (suffix);
    return lx <= ls && memcmp (s + ls - lx, suffix, lx) == 0;
}

static int
s_lower (int c)
{
    return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

bool
str_ieq (const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    while (*a && *b) {
        if (s_lower ((unsigned char) *a) != s_lower ((unsigned char) *b))
            return false;
        a++;
        b++;
    }
    return *a == *b;
}

const char *
str_icontains (const char *haystack, const char *needle)
{
    if (haystack == NULL || needle == NULL)
        return NULL;
    size_t n = strlen (needle);
    if (n == 0)
        return haystack;
    for (const char *h = haystack; *h; h++) {
        size_t i = 0;
        while (i < n && h[i] && s_lower ((unsigned char) h[i]) == s_lower ((unsigned char) needle[i]))
            i++;
        if (i == n)
            return h;
    }
    return NULL;
}

static bool
s_is_space (char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

char *
str_trim (char *s)
{
    if (s == NULL)
        return NULL;
    size_t start = 0, len = strlen (s);
    while (start < len && s_is_space (s[start]))
        start++;
    while (len > start && s_is_space (s[len - 1]))
        len--;
    if (start > 0)
        memmove (s, s + start, len - start);
    s[len - start] = '\0';
    return s;
}

int
str_utf8_decode (const char *s, size_t n, uint32_t *cp)
{
    if (s == NULL || n == 0)
        return 0;
    const unsigned char *u = (const unsigned char *) s;
    uint32_t c;
    int len;
    uint32_t min;
    if (u[0] < 0x80) {
        if (cp)
            *cp = u[0];
        return 1;
    } else if (u[0] >= 0xC2 && u[0] <= 0xDF) {
        len = 2; c = u[0] & 0x1F; min = 0x80;
    } else if (u[0] >= 0xE0 && u[0] <= 0xEF) {
        len = 3; c = u[0] & 0x0F; min = 0x800;
    } else if (u[0] >= 0xF0 && u[0] <= 0xF4) {
        len = 4; c = u[0] & 0x07; min = 0x10000;
    } else {
        return 0;   /* continuation byte, C0/C1 overlong lead, or F5..FF */
    }
    if (n < (size_t) len)
        return 0;
    for (int i = 1; i < len; i++) {
        if ((u[i] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (u[i] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    if (cp)
        *cp = c;
    return len;
}

bool
str_utf8_valid (const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        int l = str_utf8_decode (s + i, n - i, NULL);
        if (l == 0)
            return false;
        i += (size_t) l;
    }
    return true;
}

/* ---- SHA-256 (FIPS 180-4) ------------------------------------------------ */

static const uint32_t s_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define ROTR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void
s_sha256_block (uint32_t h[8], const unsigned char *p)
{
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t) p[4 * i] << 24 | (uint32_t) p[4 * i + 1] << 16
             | (uint32_t) p[4 * i + 2] << 8 | (uint32_t) p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ROTR (w[i - 15], 7) ^ ROTR (w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ROTR (w[i - 2], 17) ^ ROTR (w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t S1 = ROTR (e, 6) ^ ROTR (e, 11) ^ ROTR (e, 25);
        uint32_t ch = (e & f) ^ (~e & g);
        uint32_t t1 = hh + S1 + ch + s_k[i] + w[i];
        uint32_t S0 = ROTR (a, 2) ^ ROTR (a, 13) ^ ROTR (a, 22);
        uint32_t mj = (a & b) ^ (a & c) ^ (b & c);
        uint32_t t2 = S0 + mj;
        hh = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d;
    h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
}

void
str_sha256_hex (const void *data, size_t len, char out[65])
{
    uint32_t h[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                      0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };
    const unsigned char *p = data;
    size_t left = len;
    while (left >= 64) {
        s_sha256_block (h, p);
        p += 64;
        left -= 64;
    }
    /* Final block(s): the rest, 0x80, zero padding, 64-bit big-endian bit length. */
    unsigned char tail[128];
    memset (tail, 0, sizeof tail);
    if (left > 0)
        memcpy (tail, p, left);
    tail[left] = 0x80;
    size_t tlen = (left + 1 + 8 <= 64) ? 64 : 128;
    uint64_t bits = (uint64_t) len * 8u;
    for (int i = 0; i < 8; i++)
        tail[tlen - 1 - i] = (unsigned char) (bits >> (8 * i));
    s_sha256_block (h, tail);
    if (tlen == 128)
        s_sha256_block (h, tail + 64);
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 8; i++) {
        for (int j = 0; j < 4; j++) {
            unsigned char byte = (unsigned char) (h[i] >> (24 - 8 * j));
            out[8 * i + 2 * j] = hex[byte >> 4];
            out[8 * i + 2 * j + 1] = hex[byte & 15];
        }
    }
    out[64] = '\0';
}
