/* gw_static.c — static file serving with traversal protection.
 *
 * Resolution (gw_static_resolve): percent-decode the raw path once (a
 * double-encoded "%252e" stays the literal name "%2e"), split on '/', skip
 * empty segments, refuse ".", "..", names starting with '.', backslashes and
 * control bytes; join under the root; a directory becomes its index.html;
 * then realpath() the result and require it to be the root or below it, so a
 * symlink cannot lead outside. Only regular files are served.
 *
 * Caching: the ETag is derived from size and mtime (seconds and
 * nanoseconds), like nginx's; the same file gives the same tag across
 * restarts. HTML gets "Cache-Control: no-cache" so a new UI build is picked
 * up at once; other assets get max-age.
 */
#include "gw_static.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "str.h"

struct _gw_static_t {
    char *root;          /* realpath of the root, no trailing slash */
    size_t root_len;
    int max_age_s;
    size_t max_file_bytes;
};

gw_static_t *
gw_static_new (const char *root, int max_age_s, size_t max_file_bytes)
{
    char *real = realpath (root, NULL);
    if (!real)
        return NULL;
    struct stat st;
    if (stat (real, &st) != 0 || !S_ISDIR (st.st_mode)) {
        free (real);
        errno = ENOTDIR;
        return NULL;
    }
    gw_static_t *self = calloc (1, sizeof *self);
    if (!self) {
        free (real);
        return NULL;
    }
    self->root = real;
    self->root_len = strlen (real);
    if (self->root_len == 1 && real[0] == '/')
        self->root_len = 0;   /* root "/": every path is below it */
    self->max_age_s = max_age_s;
    self->max_file_bytes = max_file_bytes;
    return self;
}

void
gw_static_destroy (gw_static_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free ((*self_p)->root);
    free (*self_p);
    *self_p = NULL;
}

const char *
gw_static_root (const gw_static_t *self)
{
    return self->root;
}

static const struct {
    const char *ext;
    const char *type;
} s_types[] = {
    { ".html", "text/html; charset=utf-8" },
    { ".htm", "text/html; charset=utf-8" },
    { ".css", "text/css; charset=utf-8" },
    { ".js", "text/javascript; charset=utf-8" },
    { ".mjs", "text/javascript; charset=utf-8" },
    { ".json", "application/json; charset=utf-8" },
    { ".map", "application/json; charset=utf-8" },
    { ".txt", "text/plain; charset=utf-8" },
    { ".md", "text/markdown; charset=utf-8" },
    { ".svg", "image/svg+xml" },
    { ".png", "image/png" },
    { ".jpg", "image/jpeg" },
    { ".jpeg", "image/jpeg" },
    { ".gif", "image/gif" },
    { ".webp", "image/webp" },
    { ".ico", "image/x-icon" },
    { ".woff", "font/woff" },
    { ".woff2", "font/woff2" },
    { ".ttf", "font/ttf" },
    { ".otf", "font/otf" },
    { ".wasm", "application/wasm" },
    { ".webmanifest", "application/manifest+json" },
    { ".yaml", "application/yaml" },
    { ".yml", "application/yaml" },
};

const char *
gw_static_mime (const char *path)
{
    const char *slash = strrchr (path, '/');
    const char *base = slash ? slash + 1 : path;
    const char *dot = strrchr (base, '.');
    if (dot) {
        for (size_t i = 0; i < sizeof s_types / sizeof s_types[0]; i++)
            if (str_ieq (dot, s_types[i].ext))
                return s_types[i].type;
    }
    return "application/octet-stream";
}

static bool
s_is_html (const char *type)
{
    return strncmp (type, "text/html", 9) == 0;
}

int
gw_static_resolve (const gw_static_t *self, const char *raw_path, char **out)
{
    *out = NULL;
    if (!raw_path || raw_path[0] != '/')
        return GW_STATIC_E_BADPATH;
    char decoded[PATH_MAX];
    if (gw_url_decode (raw_path, strlen (raw_path), decoded, sizeof decoded, false) < 0)
        return GW_STATIC_E_BADPATH;
    char joined[PATH_MAX];
    if (str_copy (joined, sizeof joined, self->root_len ? self->root : "") != 0)
        return GW_STATIC_E_BADPATH;
    /* Walk the segments. */
    const char *p = decoded;
    while (*p) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        const char *e = p;
        while (*e && *e != '/')
            e++;
        size_t n = (size_t) (e - p);
        if (p[0] == '.')
            return GW_STATIC_E_BADPATH;   /* ".", "..", dot-files */
        for (size_t i = 0; i < n; i++) {
            unsigned char ch = (unsigned char) p[i];
            if (ch == '\\' || ch < 0x20 || ch == 0x7f)
                return GW_STATIC_E_BADPATH;
        }
        size_t jl = strlen (joined);
        if (jl + 1 + n + 1 > sizeof joined)
            return GW_STATIC_E_BADPATH;
        joined[jl] = '/';
        memcpy (joined + jl + 1, p, n);
        joined[jl + 1 + n] = '\0';
        p = e;
    }
    if (joined[0] == '\0')
        str_copy (joined, sizeof joined, "/");
    char *real = realpath (joined, NULL);
    if (!real)
        return GW_STATIC_E_NOTFOUND;
    struct stat st;
    if (stat (real, &st) != 0) {
        free (real);
        return GW_STATIC_E_NOTFOUND;
    }
    if (S_ISDIR (st.st_mode)) {
        char idx[PATH_MAX];
        if (str_fmt (idx, sizeof idx, "%s/index.html", real) != 0) {
            free (real);
            return GW_STATIC_E_BADPATH;
        }
        free (real);
        real = realpath (idx, NULL);
        if (!real)
            return GW_STATIC_E_NOTFOUND;
        if (stat (real, &st) != 0) {
            free (real);
            return GW_STATIC_E_NOTFOUND;
        }
    }
    /* Containment: the resolved file must be below the root. */
    if (self->root_len
        && (strncmp (real, self->root, self->root_len) != 0 || real[self->root_len] != '/')) {
        free (real);
        return GW_STATIC_E_NOTFOUND;
    }
    if (!S_ISREG (st.st_mode)) {
        free (real);
        return GW_STATIC_E_NOTFOUND;
    }
    *out = real;
    return GW_STATIC_OK;
}

/* ---- HTTP dates ------------------------------------------------------------ */

static const char *s_days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
static const char *s_months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

int
gw_http_date_format (int64_t unix_s, char *out, size_t size)
{
    time_t t = (time_t) unix_s;
    struct tm tm;
    if (!gmtime_r (&t, &tm))
        return -1;
    return str_fmt (out, size, "%s, %02d %s %04d %02d:%02d:%02d GMT", s_days[tm.tm_wday],
                    tm.tm_mday, s_months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                    tm.tm_sec);
}

static int
s_digits (const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

/* Days from civil (Howard Hinnant's algorithm), proleptic Gregorian. */
static int64_t
s_days_from_civil (int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int
gw_http_date_parse (const char *s, int64_t *unix_s)
{
    /* "Sun, 06 Nov 1994 08:49:37 GMT" = 29 characters exactly. */
    if (!s || strlen (s) != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' '
        || s[16] != ' ' || s[19] != ':' || s[22] != ':' || s[25] != ' '
        || strcmp (s + 26, "GMT") != 0)
        return -1;
    int day, year, hh, mm, ss, mon = -1;
    if (s_digits (s + 5, 2, &day) || s_digits (s + 12, 4, &year) || s_digits (s + 17, 2, &hh)
        || s_digits (s + 20, 2, &mm) || s_digits (s + 23, 2, &ss))
        return -1;
    for (int i = 0; i < 12; i++)
        if (strncmp (s + 8, s_months[i], 3) == 0)
            mon = i + 1;
    if (mon < 0 || day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60)
        return -1;
    *unix_s = s_days_from_civil (year, mon, day) * 86400 + hh * 3600 + mm * 60 + ss;
    return 0;
}

/* ---- serving ---------------------------------------------------------------- */

bool
gw_etag_matches (const char *header, const char *etag)
{
    /* Comma-separated list of entity tags, or "*"; weak comparison. */
    const char *p = header;
    size_t elen = strlen (etag);
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (!*p)
            break;
        const char *e = p;
        while (*e && *e != ',')
            e++;
        const char *t = p;
        size_t n = (size_t) (e - p);
        while (n && (t[n - 1] == ' ' || t[n - 1] == '\t'))
            n--;
        if (n == 1 && t[0] == '*')
            return true;
        if (n > 2 && t[0] == 'W' && t[1] == '/') {
            t += 2;
            n -= 2;
        }
        if (n == elen && memcmp (t, etag, n) == 0)
            return true;
        p = e;
    }
    return false;
}

void
gw_static_serve (gw_static_t *self, gw_req_t *req)
{
    char *path = NULL;
    int rc = gw_static_resolve (self, gw_req_path (req), &path);
    if (rc != GW_STATIC_OK) {
        gw_respond_error (req, 404, "not_found", "no such file");
        return;
    }
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat (fd, &st) != 0 || !S_ISREG (st.st_mode)) {
        if (fd >= 0)
            close (fd);
        free (path);
        gw_respond_error (req, 404, "not_found", "no such file");
        return;
    }
    if ((size_t) st.st_size > self->max_file_bytes) {
        close (fd);
        free (path);
        gw_respond_error (req, 500, "internal", "file exceeds the static file size limit");
        return;
    }
    const char *type = gw_static_mime (path);
    char etag[96], lastmod[40], extra[512], cache[64];
    snprintf (etag, sizeof etag, "\"%llx-%llx-%lx\"", (unsigned long long) st.st_size,
              (unsigned long long) st.st_mtim.tv_sec, (unsigned long) st.st_mtim.tv_nsec);
    if (gw_http_date_format ((int64_t) st.st_mtim.tv_sec, lastmod, sizeof lastmod) != 0)
        lastmod[0] = '\0';
    if (s_is_html (type))
        str_copy (cache, sizeof cache, "no-cache");
    else
        snprintf (cache, sizeof cache, "public, max-age=%d", self->max_age_s);
    snprintf (extra, sizeof extra, "ETag: %s\r\nLast-Modified: %s\r\nCache-Control: %s\r\n", etag,
              lastmod, cache);
    const char *inm = gw_req_header (req, "if-none-match");
    const char *ims = gw_req_header (req, "if-modified-since");
    bool not_modified = false;
    if (inm) {
        not_modified = gw_etag_matches (inm, etag);
    } else if (ims) {
        int64_t t;
        if (gw_http_date_parse (ims, &t) == 0 && (int64_t) st.st_mtim.tv_sec <= t)
            not_modified = true;
    }
    if (not_modified) {
        close (fd);
        free (path);
        gw_respond (req, 304, NULL, extra, NULL, 0);
        return;
    }
    size_t size = (size_t) st.st_size;
    char *data = malloc (size ? size : 1);
    size_t got = 0;
    while (data && got < size) {
        ssize_t n = read (fd, data + got, size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t) n;
    }
    close (fd);
    if (!data || got != size) {
        log_warn ("static.read", "cannot read %s", path);
        free (data);
        free (path);
        gw_respond_error (req, 500, "internal", "cannot read file");
        return;
    }
    free (path);
    gw_respond (req, 200, type, extra, data, size);
    free (data);
}
