/* lg_test_util.h — small helpers shared by the llm-gateway unit tests
 * (header-only: each test is one translation unit). */
#ifndef LG_TEST_UTIL_H
#define LG_TEST_UTIL_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reads a whole file into a malloc'd NUL-terminated string (NULL on error). */
static inline char *
lg_test_slurp (const char *path)
{
    FILE *f = fopen (path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc (cap);
    size_t n;
    while (buf && (n = fread (buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len < 2) {
            char *nb = realloc (buf, cap * 2);
            if (nb == NULL) {
                free (buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose (f);
    if (buf)
        buf[len] = '\0';
    return buf;
}

static inline int
lg_test_write (const char *path, const char *data)
{
    FILE *f = fopen (path, "wb");
    if (f == NULL)
        return -1;
    size_t n = strlen (data);
    int rc = fwrite (data, 1, n, f) == n ? 0 : -1;
    fclose (f);
    return rc;
}
#endif
