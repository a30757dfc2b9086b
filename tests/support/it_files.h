/* it_files.h — file helpers shared by the tests: copy a file (the tests
 * never open the read-only fixture for writing, they work on a copy in a
 * temp dir) and read a whole file into memory (logs, CLI output).
 * Header-only (static inline), no dependency beyond libc, so unit and
 * integration tests can both include it; include dir tests/support. */
#ifndef IT_FILES_H
#define IT_FILES_H
#include <stdio.h>
#include <stdlib.h>

/* Copies the file `from` to `to` (created or truncated), 64 KiB at a time.
 * Returns 0, or -1 when either file cannot be opened or a read, write or
 * the final close fails (`to` may then be partly written). */
static inline int
itf_copy_file (const char *from, const char *to)
{
    FILE *in = fopen (from, "rb"), *out = fopen (to, "wb");
    char buf[65536];
    size_t n;
    int rc = (in && out) ? 0 : -1;
    while (rc == 0 && (n = fread (buf, 1, sizeof buf, in)) > 0)
        if (fwrite (buf, 1, n, out) != n)
            rc = -1;
    if (in)
        fclose (in);
    if (out && fclose (out) != 0)
        rc = -1;
    return rc;
}

/* Reads the whole file at `path`. Returns a NUL-terminated malloc'd copy
 * the caller frees, or NULL when the file cannot be opened or memory runs
 * out. Embedded NUL bytes are kept (the string then reads shorter). */
static inline char *
itf_slurp (const char *path)
{
    FILE *f = fopen (path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, len = 0;
    char *b = malloc (cap);
    while (b) {
        if (cap - len < 2) {
            char *nb = realloc (b, cap * 2);
            if (!nb) {
                free (b);
                b = NULL;
                break;
            }
            b = nb;
            cap *= 2;
        }
        size_t r = fread (b + len, 1, cap - 1 - len, f);
        len += r;
        if (r == 0)
            break;
    }
    fclose (f);
    if (b)
        b[len] = '\0';
    return b;
}

#endif
