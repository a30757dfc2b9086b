/* gw_auth.c — token hashes, constant-time checks, local bootstrap.
 *
 * Storage: an array of (role, 32-byte digest). A check hashes the presented
 * token once (str_sha256_hex) and compares it with EVERY stored digest
 * without early exit, so timing reveals neither which entry matched nor how
 * many bytes did. The highest matching role wins.
 *
 * Bootstrap writes files with O_CREAT|O_EXCL and mode 0600 so an existing
 * file is never overwritten, and the plain token files are readable only by
 * the owner. Randomness comes from getrandom (via uv_random); tokens are
 * secrets, the only place the gateway uses randomness.
 */
#include "gw_auth.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "str.h"

typedef struct {
    gw_role_t role;
    unsigned char digest[32];
} entry_t;

struct _gw_auth_t {
    entry_t *v;
    size_t n, cap;
};

gw_auth_t *
gw_auth_new (void)
{
    return calloc (1, sizeof (gw_auth_t));
}

void
gw_auth_destroy (gw_auth_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free ((*self_p)->v);
    free (*self_p);
    *self_p = NULL;
}

static int
s_hex (char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

static int
s_parse_digest (const char *hex, size_t n, unsigned char out[32])
{
    if (n != 64)
        return -1;
    for (size_t i = 0; i < 32; i++) {
        int hi = s_hex (hex[2 * i]), lo = s_hex (hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (unsigned char) (hi * 16 + lo);
    }
    return 0;
}

static int
s_add (gw_auth_t *self, gw_role_t role, const char *hex, size_t n)
{
    unsigned char d[32];
    if (s_parse_digest (hex, n, d) != 0)
        return GW_AUTH_E_INVALID;
    if (self->n == self->cap) {
        size_t nc = self->cap ? self->cap * 2 : 8;
        entry_t *nv = realloc (self->v, nc * sizeof *nv);
        if (!nv)
            return GW_AUTH_E_NOMEM;
        self->v = nv;
        self->cap = nc;
    }
    self->v[self->n].role = role;
    memcpy (self->v[self->n].digest, d, 32);
    self->n++;
    return GW_AUTH_OK;
}

int
gw_auth_add_hash (gw_auth_t *self, gw_role_t role, const char *sha256_hex)
{
    return s_add (self, role, sha256_hex, strlen (sha256_hex));
}

int
gw_auth_add_list (gw_auth_t *self, gw_role_t role, const char *list)
{
    const char *p = list;
    while (*p) {
        while (*p == ',' || *p == ' ' || *p == '\t')
            p++;
        if (!*p)
            break;
        const char *e = p;
        while (*e && *e != ',' && *e != ' ' && *e != '\t')
            e++;
        int rc = s_add (self, role, p, (size_t) (e - p));
        if (rc)
            return rc;
        p = e;
    }
    return GW_AUTH_OK;
}

int
gw_auth_load_file (gw_auth_t *self, const char *path, char *err, size_t err_size)
{
    FILE *f = fopen (path, "r");
    if (!f) {
        snprintf (err, err_size, "cannot read tokens file %s: %s", path, strerror (errno));
        return GW_AUTH_E_IO;
    }
    char line[512];
    int lineno = 0;
    int rc = GW_AUTH_OK;
    while (fgets (line, sizeof line, f)) {
        lineno++;
        char *s = str_trim (line);
        if (!*s || *s == '#')
            continue;
        char *save = NULL;
        char *role_s = strtok_r (s, " \t", &save);
        char *hash_s = strtok_r (NULL, " \t", &save);
        gw_role_t role;
        if (!role_s || !hash_s || gw_role_parse (role_s, &role) != 0) {
            snprintf (err, err_size, "%s:%d: expected '<viewer|admin> <sha256-hex> [label]'", path,
                      lineno);
            rc = GW_AUTH_E_INVALID;
            break;
        }
        rc = gw_auth_add_hash (self, role, hash_s);
        if (rc) {
            snprintf (err, err_size, "%s:%d: '%.16s...' is not a 64-character SHA-256 hex digest",
                      path, lineno, hash_s);
            break;
        }
    }
    fclose (f);
    return rc;
}

size_t
gw_auth_count (const gw_auth_t *self)
{
    return self ? self->n : 0;
}

gw_role_t
gw_auth_check_token (const gw_auth_t *self, const char *token)
{
    if (!self || !token || !token[0])
        return GW_ROLE_NONE;
    char hex[65];
    unsigned char d[32];
    str_sha256_hex (token, strlen (token), hex);
    if (s_parse_digest (hex, 64, d) != 0)
        return GW_ROLE_NONE;
    gw_role_t best = GW_ROLE_NONE;
    for (size_t i = 0; i < self->n; i++) {
        unsigned char diff = 0;
        for (size_t j = 0; j < 32; j++)
            diff |= (unsigned char) (self->v[i].digest[j] ^ d[j]);
        /* Branch-free select of the higher role on a match. */
        unsigned match = (unsigned) (diff == 0);
        unsigned higher = (unsigned) (self->v[i].role > best);
        best = (match & higher) ? self->v[i].role : best;
    }
    return best;
}

const char *
gw_auth_bearer (const char *header, size_t *len)
{
    if (!header)
        return NULL;
    while (*header == ' ')
        header++;
    if (strncasecmp (header, "bearer", 6) != 0 || (header[6] != ' ' && header[6] != '\t'))
        return NULL;
    const char *t = header + 7;
    while (*t == ' ' || *t == '\t')
        t++;
    size_t n = strlen (t);
    while (n && (t[n - 1] == ' ' || t[n - 1] == '\t'))
        n--;
    if (n == 0)
        return NULL;
    /* token68 characters only (RFC 6750 b64token). */
    for (size_t i = 0; i < n; i++) {
        char ch = t[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')
              || ch == '-' || ch == '.' || ch == '_' || ch == '~' || ch == '+' || ch == '/'
              || ch == '='))
            return NULL;
    }
    *len = n;
    return t;
}

int
gw_auth_random_token (char out[65])
{
    unsigned char r[32];
    if (uv_random (NULL, NULL, r, sizeof r, 0, NULL) != 0)
        return -1;
    static const char hx[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[2 * i] = hx[r[i] >> 4];
        out[2 * i + 1] = hx[r[i] & 15];
    }
    out[64] = '\0';
    return 0;
}

static int
s_write_new (const char *path, const char *text)
{
    int fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    size_t n = strlen (text), off = 0;
    while (off < n) {
        ssize_t w = write (fd, text + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            close (fd);
            return -1;
        }
        off += (size_t) w;
    }
    return close (fd);
}

int
gw_auth_bootstrap (gw_auth_t *self, const char *dir, bool *created, char *err, size_t err_size)
{
    *created = false;
    /* mkdir -p, each new level 0700. */
    char path[4096];
    if (str_copy (path, sizeof path, dir) != 0) {
        snprintf (err, err_size, "auth directory path too long");
        return GW_AUTH_E_INVALID;
    }
    for (char *p = path + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char saved = *p;
            *p = '\0';
            if (mkdir (path, 0700) != 0 && errno != EEXIST) {
                snprintf (err, err_size, "cannot create %s: %s", path, strerror (errno));
                return GW_AUTH_E_IO;
            }
            *p = saved;
            if (!saved)
                break;
        }
    }
    char tokens[4096], admin_p[4096], viewer_p[4096];
    if (str_fmt (tokens, sizeof tokens, "%s/tokens", dir) || str_fmt (admin_p, sizeof admin_p,
                                                                      "%s/admin.token", dir)
        || str_fmt (viewer_p, sizeof viewer_p, "%s/viewer.token", dir)) {
        snprintf (err, err_size, "auth directory path too long");
        return GW_AUTH_E_INVALID;
    }
    if (access (tokens, F_OK) == 0)
        return gw_auth_load_file (self, tokens, err, err_size);
    char admin[65], viewer[65], ah[65], vh[65];
    if (gw_auth_random_token (admin) || gw_auth_random_token (viewer)) {
        snprintf (err, err_size, "no randomness available for token generation");
        return GW_AUTH_E_IO;
    }
    str_sha256_hex (admin, 64, ah);
    str_sha256_hex (viewer, 64, vh);
    char body[512], a_line[80], v_line[80];
    snprintf (body, sizeof body,
              "# Gateway bearer tokens: <role> <sha256-hex of the token> [label].\n"
              "# Generated on first start; the plain tokens are in admin.token and viewer.token.\n"
              "admin %s local-admin\nviewer %s local-viewer\n",
              ah, vh);
    snprintf (a_line, sizeof a_line, "%s\n", admin);
    snprintf (v_line, sizeof v_line, "%s\n", viewer);
    /* Plain token files first: if the hash file exists, the tokens exist. */
    unlink (admin_p);
    unlink (viewer_p);
    if (s_write_new (admin_p, a_line) || s_write_new (viewer_p, v_line)
        || s_write_new (tokens, body)) {
        snprintf (err, err_size, "cannot write token files in %s: %s", dir, strerror (errno));
        return GW_AUTH_E_IO;
    }
    *created = true;
    int rc = gw_auth_add_hash (self, GW_ROLE_ADMIN, ah);
    if (!rc)
        rc = gw_auth_add_hash (self, GW_ROLE_VIEWER, vh);
    return rc;
}
