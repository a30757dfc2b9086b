/* gw_api_test.c — HTTP API tests against the real gateway process.
 *
 *   gw_api_test <gateway> <gw-stall backend> <fixture db>
 *               [report-service|-] [graph-service|-] [prompt-builder|-] [retrieval-router|-]
 *               [llm-gateway|-]
 *
 * Two gateways run in one temp dir (COPILOT_RUN_DIR / COPILOT_DATA_DIR):
 *   G   wired to the real daemons given on the command line ("-" = not built
 *       yet: that backend stays down and its routes must answer 503);
 *   G2  wired to the gw-stall daemon (reachable, never answers: every
 *       backend route must answer 504) and to a backend that never runs
 *       (gw-missing: 503 naming it).
 * The test binds the event-bus SUB endpoint itself and publishes alerts to
 * test SSE delivery and Last-Event-ID resumption.
 *
 * Every malformed-request case is followed by a fresh GET /livez: the
 * server must still serve. At the end every process gets SIGTERM and must
 * exit 0 with a clean sanitizer log. Raw sockets are used throughout, so
 * pipelining, slow clients and byte-exact malformed input are possible.
 * Prints "N passed, N failed"; exit 0 only when nothing failed; 77 when a
 * required binary is missing.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>
#include <zmq.h>

#include "clock.h"
#include "env.h"
#include "pubsub.h"
#include "str.h"

static int s_pass, s_fail;
#define CHECK(cond, ...)                                                         \
    do {                                                                         \
        if (cond) {                                                              \
            s_pass++;                                                            \
        } else {                                                                 \
            s_fail++;                                                            \
            fprintf (stderr, "%s:%d: FAILED: %s: ", __FILE__, __LINE__, #cond); \
            fprintf (stderr, __VA_ARGS__);                                       \
            fputc ('\n', stderr);                                                \
        }                                                                        \
    } while (0)

static char s_tmp[128];
static char s_run[256];
static char s_data[256];

/* ---- processes ------------------------------------------------------------ */

typedef struct {
    char name[32];
    pid_t pid;
    int out_fd;
    char out[8192];
    size_t out_len;
    char err_path[300];
} proc_t;

static int
s_spawn (proc_t *p, const char *name, char *const argv[])
{
    memset (p, 0, sizeof *p);
    str_copy (p->name, sizeof p->name, name);
    snprintf (p->err_path, sizeof p->err_path, "%s/%s.err", s_tmp, name);
    int fds[2];
    if (pipe (fds) != 0)
        return -1;
    p->pid = fork ();
    if (p->pid < 0)
        return -1;
    if (p->pid == 0) {
        int err = open (p->err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2 (fds[1], 1);
        if (err >= 0)
            dup2 (err, 2);
        close (fds[0]);
        close (fds[1]);
        setenv ("COPILOT_RUN_DIR", s_run, 1);
        setenv ("COPILOT_DATA_DIR", s_data, 1);
        execv (argv[0], argv);
        _exit (127);
    }
    close (fds[1]);
    p->out_fd = fds[0];
    return 0;
}

/* Waits for a stdout line starting with `prefix`; copies the line to out. */
static int
s_wait_line (proc_t *p, const char *prefix, char *out, size_t size, int timeout_ms)
{
    int64_t end = clock_mono_ms () + timeout_ms;
    for (;;) {
        /* Scan complete lines collected so far. */
        char *line = p->out;
        while (line < p->out + p->out_len) {
            char *nl = memchr (line, '\n', (size_t) (p->out + p->out_len - line));
            if (!nl)
                break;
            if (strncmp (line, prefix, strlen (prefix)) == 0) {
                size_t n = (size_t) (nl - line);
                if (n >= size)
                    n = size - 1;
                memcpy (out, line, n);
                out[n] = '\0';
                return 0;
            }
            line = nl + 1;
        }
        int64_t left = end - clock_mono_ms ();
        if (left <= 0)
            return -1;
        struct pollfd pfd = { .fd = p->out_fd, .events = POLLIN };
        if (poll (&pfd, 1, (int) left) <= 0)
            return -1;
        ssize_t n = read (p->out_fd, p->out + p->out_len, sizeof p->out - 1 - p->out_len);
        if (n <= 0)
            return -1;
        p->out_len += (size_t) n;
        p->out[p->out_len] = '\0';
    }
}

/* Waits for the process to exit (after a signal sent by the caller). */
static int s_reap (proc_t *p, int timeout_ms);

/* SIGTERM and wait; returns the exit code, or -1 when it had to be killed. */
static int
s_stop (proc_t *p, int timeout_ms)
{
    if (p->pid <= 0)
        return 0;
    kill (p->pid, SIGTERM);
    return s_reap (p, timeout_ms);
}

static int
s_reap (proc_t *p, int timeout_ms)
{
    if (p->pid <= 0)
        return 0;
    int64_t end = clock_mono_ms () + timeout_ms;
    int st = 0;
    for (;;) {
        pid_t r = waitpid (p->pid, &st, WNOHANG);
        if (r == p->pid)
            break;
        if (clock_mono_ms () > end) {
            kill (p->pid, SIGKILL);
            waitpid (p->pid, &st, 0);
            p->pid = 0;
            return -1;
        }
        clock_sleep_ms (10);
    }
    p->pid = 0;
    if (p->out_fd > 0)
        close (p->out_fd);
    return WIFEXITED (st) ? WEXITSTATUS (st) : 128 + WTERMSIG (st);
}

static bool
s_log_clean (proc_t *p)
{
    FILE *f = fopen (p->err_path, "r");
    if (!f)
        return true;
    char line[4096];
    bool clean = true;
    while (fgets (line, sizeof line, f))
        if (strstr (line, "AddressSanitizer") || strstr (line, "runtime error:")
            || strstr (line, "LeakSanitizer"))
            clean = false;
    fclose (f);
    return clean;
}

static void
s_dump_log (proc_t *p)
{
    FILE *f = fopen (p->err_path, "r");
    if (!f)
        return;
    fprintf (stderr, "---- %s stderr (last lines) ----\n", p->name);
    char line[4096];
    char ring[40][512];
    int n = 0;
    while (fgets (line, sizeof line, f))
        str_copy (ring[n++ % 40], sizeof ring[0], line);
    for (int i = n > 40 ? n - 40 : 0; i < n; i++)
        fputs (ring[i % 40], stderr);
    fclose (f);
}

/* ---- HTTP client over raw sockets --------------------------------------------- */

typedef struct {
    int fd;
    char buf[1 << 20];
    size_t len;
} conn_t;

typedef struct {
    int status;
    char head[16384];
    char *body;
    size_t blen;
} resp_t;

static int s_rcvbuf;   /* when > 0, SO_RCVBUF of new client sockets */

static conn_t *
c_open (int port)
{
    conn_t *c = calloc (1, sizeof *c);
    c->fd = socket (AF_INET, SOCK_STREAM, 0);
    if (s_rcvbuf > 0)
        setsockopt (c->fd, SOL_SOCKET, SO_RCVBUF, &s_rcvbuf, sizeof s_rcvbuf);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) port) };
    a.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    if (connect (c->fd, (struct sockaddr *) &a, sizeof a) != 0) {
        close (c->fd);
        free (c);
        return NULL;
    }
    int one = 1;
    setsockopt (c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return c;
}

static void
c_close (conn_t **c)
{
    if (*c) {
        close ((*c)->fd);
        free (*c);
        *c = NULL;
    }
}

static int
c_send (conn_t *c, const void *data, size_t len)
{
    const char *p = data;
    while (len) {
        ssize_t n = send (c->fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t) n;
    }
    return 0;
}

/* Reads more bytes (up to timeout). 1 read, 0 EOF, -1 timeout/error. */
static int
c_fill (conn_t *c, int timeout_ms)
{
    if (c->len >= sizeof c->buf - 1)
        return -1;
    struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
    int r = poll (&pfd, 1, timeout_ms);
    if (r <= 0)
        return -1;
    ssize_t n = recv (c->fd, c->buf + c->len, sizeof c->buf - 1 - c->len, 0);
    if (n < 0)
        return errno == ECONNRESET ? 0 : -1;
    if (n == 0)
        return 0;
    c->len += (size_t) n;
    c->buf[c->len] = '\0';
    return 1;
}

/* True when the peer closed the connection (EOF within timeout). */
static bool
c_closed (conn_t *c, int timeout_ms)
{
    int64_t end = clock_mono_ms () + timeout_ms;
    for (;;) {
        int64_t left = end - clock_mono_ms ();
        if (left <= 0)
            return false;
        size_t before = c->len;
        int r = c_fill (c, (int) left);
        if (r == 0)
            return true;
        if (r < 0)
            return false;
        c->len = before;   /* discard */
    }
}

static const char *
r_header (const resp_t *r, const char *name, char *out, size_t size)
{
    const char *p = r->head;
    size_t n = strlen (name);
    while ((p = strchr (p, '\n')) != NULL) {
        p++;
        if (strncasecmp (p, name, n) == 0 && p[n] == ':') {
            const char *v = p + n + 1;
            while (*v == ' ')
                v++;
            size_t l = strcspn (v, "\r\n");
            if (l >= size)
                l = size - 1;
            memcpy (out, v, l);
            out[l] = '\0';
            return out;
        }
    }
    return NULL;
}

static void
r_free (resp_t *r)
{
    free (r->body);
    r->body = NULL;
}

/* Reads one response. `head_req`: the request was HEAD (no body). */
static int
c_read (conn_t *c, resp_t *r, bool head_req, int timeout_ms)
{
    memset (r, 0, sizeof *r);
    int64_t end = clock_mono_ms () + timeout_ms;
    char *hend;
    while (!(hend = strstr (c->buf, "\r\n\r\n"))) {
        int64_t left = end - clock_mono_ms ();
        if (left <= 0 || c_fill (c, (int) left) <= 0)
            return -1;
    }
    size_t hlen = (size_t) (hend - c->buf) + 4;
    size_t cp = hlen < sizeof r->head ? hlen : sizeof r->head - 1;
    memcpy (r->head, c->buf, cp);
    r->head[cp] = '\0';
    if (strncmp (r->head, "HTTP/1.1 ", 9) != 0)
        return -1;
    r->status = (int) strtol (r->head + 9, NULL, 10);
    char v[32];
    long clen = -1;
    if (r_header (r, "Content-Length", v, sizeof v))
        clen = strtol (v, NULL, 10);
    if (head_req || r->status == 304 || r->status == 100)
        clen = 0;
    if (clen < 0) {
        /* Until close. */
        while (c_fill (c, (int) (end - clock_mono_ms ())) > 0)
            ;
        clen = (long) (c->len - hlen);
    }
    while (c->len < hlen + (size_t) clen) {
        int64_t left = end - clock_mono_ms ();
        if (left <= 0 || c_fill (c, (int) left) <= 0)
            return -1;
    }
    r->blen = (size_t) clen;
    r->body = malloc (r->blen + 1);
    memcpy (r->body, c->buf + hlen, r->blen);
    r->body[r->blen] = '\0';
    memmove (c->buf, c->buf + hlen + r->blen, c->len - hlen - r->blen);
    c->len -= hlen + r->blen;
    c->buf[c->len] = '\0';
    return 0;
}

static int s_port;        /* the gateway under test */
static char s_admin[128], s_viewer[128];

/* One request on a fresh connection. `hdrs` are extra CRLF-terminated lines. */
static int
s_req (const char *method, const char *path, const char *hdrs, const char *body, resp_t *r)
{
    conn_t *c = c_open (s_port);
    if (!c)
        return -1;
    char head[8192];
    size_t blen = body ? strlen (body) : 0;
    snprintf (head, sizeof head, "%s %s HTTP/1.1\r\nHost: test\r\nConnection: close\r\n%s%s",
              method, path, hdrs ? hdrs : "", body ? "" : "\r\n");
    int rc = c_send (c, head, strlen (head));
    if (!rc && body) {
        char cl[64];
        snprintf (cl, sizeof cl, "Content-Length: %zu\r\n\r\n", blen);
        rc = c_send (c, cl, strlen (cl));
        if (!rc)
            rc = c_send (c, body, blen);
    }
    if (!rc)
        rc = c_read (c, r, strcmp (method, "HEAD") == 0, 10000);
    c_close (&c);
    return rc;
}

static char s_auth_admin[200], s_auth_viewer[200];

/* The JSON error body's code, or "" */
static const char *
s_err_code (const resp_t *r, char *out, size_t size)
{
    out[0] = '\0';
    json_t *j = json_loads (r->body ? r->body : "", 0, NULL);
    const char *code = json_string_value (json_object_get (json_object_get (j, "error"), "code"));
    const char *rid = json_string_value (json_object_get (json_object_get (j, "error"), "request_id"));
    if (code && rid && rid[0])
        str_copy (out, size, code);
    json_decref (j);
    return out;
}

static void
s_expect_error (const char *what, int status, const char *code, const resp_t *r)
{
    char got[64];
    CHECK (r->status == status, "%s: status %d, expected %d (%s)", what, r->status, status,
           r->body ? r->body : "");
    s_err_code (r, got, sizeof got);
    CHECK (strcmp (got, code) == 0, "%s: error code '%s', expected '%s' (%s)", what, got, code,
           r->body ? r->body : "");
    char ct[128];
    CHECK (r_header (r, "Content-Type", ct, sizeof ct) && str_starts_with (ct, "application/json"),
           "%s: error is not JSON", what);
}

/* The server still serves: a fresh GET /livez. */
static void
s_alive (const char *after)
{
    resp_t r;
    int rc = s_req ("GET", "/livez", NULL, NULL, &r);
    CHECK (rc == 0 && r.status == 200 && r.body && strcmp (r.body, "ok\n") == 0,
           "gateway no longer serves after: %s", after);
    r_free (&r);
}

/* Sends raw bytes on a fresh connection and reads one response. */
static int
s_raw (const char *bytes, size_t len, resp_t *r, int timeout_ms)
{
    conn_t *c = c_open (s_port);
    if (!c)
        return -1;
    int rc = c_send (c, bytes, len);
    if (!rc)
        rc = c_read (c, r, false, timeout_ms);
    c_close (&c);
    return rc;
}

/* ---- scenarios: protocol ------------------------------------------------------ */

static void
t_basic (void)
{
    resp_t r;
    CHECK (s_req ("GET", "/livez", NULL, NULL, &r) == 0 && r.status == 200, "livez");
    char v[128];
    CHECK (r_header (&r, "X-Request-Id", v, sizeof v) && strlen (v) == 32, "request id header");
    r_free (&r);
    CHECK (s_req ("HEAD", "/livez", NULL, NULL, &r) == 0 && r.status == 200 && r.blen == 0,
           "HEAD livez");
    CHECK (r_header (&r, "Content-Length", v, sizeof v) && strcmp (v, "3") == 0, "HEAD keeps length");
    r_free (&r);
    /* Client request ids are echoed when well-formed, replaced otherwise. */
    s_req ("GET", "/nope", "X-Request-Id: abc-123.x_y\r\n", NULL, &r);
    s_expect_error ("unknown route", 404, "not_found", &r);
    CHECK (r_header (&r, "X-Request-Id", v, sizeof v) && strcmp (v, "abc-123.x_y") == 0, "id echo");
    CHECK (strstr (r.body, "\"request_id\":\"abc-123.x_y\"") != NULL, "id in error body");
    r_free (&r);
    s_req ("GET", "/api/v1/nope", "X-Request-Id: bad id!\r\n", NULL, &r);
    s_expect_error ("unknown api route", 404, "not_found", &r);
    CHECK (r_header (&r, "X-Request-Id", v, sizeof v) && strlen (v) == 32, "bad id replaced");
    r_free (&r);
    s_req ("POST", "/api/v1/reports", s_auth_viewer, "{}", &r);
    s_expect_error ("405", 405, "method_not_allowed", &r);
    CHECK (r_header (&r, "Allow", v, sizeof v) && strcmp (v, "GET, HEAD") == 0, "Allow header");
    r_free (&r);
    s_req ("DELETE", "/livez", NULL, NULL, &r);
    CHECK (r.status == 405, "DELETE livez -> %d", r.status);
    r_free (&r);
}

static void
t_static (void)
{
    resp_t r;
    char v[256];
    s_req ("GET", "/", NULL, NULL, &r);
    CHECK (r.status == 200 && strstr (r.body, "copilot-test-index"), "index: %d", r.status);
    CHECK (r_header (&r, "Content-Type", v, sizeof v) && strcmp (v, "text/html; charset=utf-8") == 0,
           "index type %s", v);
    CHECK (r_header (&r, "Cache-Control", v, sizeof v) && strcmp (v, "no-cache") == 0, "html no-cache");
    r_free (&r);
    s_req ("GET", "/app.js", NULL, NULL, &r);
    CHECK (r.status == 200 && strcmp (r.body, "console.log(1)\n") == 0, "app.js");
    CHECK (r_header (&r, "Content-Type", v, sizeof v) && str_starts_with (v, "text/javascript"), "js type");
    CHECK (r_header (&r, "Cache-Control", v, sizeof v) && strcmp (v, "public, max-age=300") == 0,
           "js max-age %s", v);
    char etag[128] = "", lm[64] = "";
    CHECK (r_header (&r, "ETag", etag, sizeof etag) && etag[0] == '"', "etag");
    CHECK (r_header (&r, "Last-Modified", lm, sizeof lm) && str_ends_with (lm, " GMT"), "last-modified");
    r_free (&r);
    char h[300];
    snprintf (h, sizeof h, "If-None-Match: %s\r\n", etag);
    s_req ("GET", "/app.js", h, NULL, &r);
    CHECK (r.status == 304 && r.blen == 0, "If-None-Match -> %d", r.status);
    r_free (&r);
    snprintf (h, sizeof h, "If-None-Match: \"other\", W/%s\r\n", etag);
    s_req ("GET", "/app.js", h, NULL, &r);
    CHECK (r.status == 304, "weak etag in list -> %d", r.status);
    r_free (&r);
    snprintf (h, sizeof h, "If-Modified-Since: %s\r\n", lm);
    s_req ("GET", "/app.js", h, NULL, &r);
    CHECK (r.status == 304, "If-Modified-Since -> %d", r.status);
    r_free (&r);
    s_req ("GET", "/app.js", "If-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT\r\n", NULL, &r);
    CHECK (r.status == 200, "old If-Modified-Since -> %d", r.status);
    r_free (&r);
    s_req ("GET", "/sub/", NULL, NULL, &r);
    CHECK (r.status == 200 && strstr (r.body, "sub-index"), "dir index");
    r_free (&r);
    s_req ("GET", "/sub/style.css", NULL, NULL, &r);
    CHECK (r.status == 200 && r_header (&r, "Content-Type", v, sizeof v) && str_starts_with (v, "text/css"),
           "css");
    r_free (&r);
    /* Traversal attempts: never the secret, always a JSON 404/400. */
    static const char *evil[] = {
        "/../secret.txt", "/sub/../../secret.txt", "/%2e%2e/secret.txt", "/%2E%2E%2Fsecret.txt",
        "/sub/%2e%2e/%2e%2e/secret.txt", "/..%2fsecret.txt", "/..%5csecret.txt", "/link-out",
        "/.hidden", "/escape/secret.txt", "//etc/passwd", "/etc/passwd", "/%252e%252e/secret.txt",
        "/app.js%00.html", "/sub/..", "/.", NULL,
    };
    for (int i = 0; evil[i]; i++) {
        char req[512];
        snprintf (req, sizeof req, "GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", evil[i]);
        int rc = s_raw (req, strlen (req), &r, 5000);
        CHECK (rc == 0 && (r.status == 404 || r.status == 400), "%s -> %d", evil[i], r.status);
        CHECK (!r.body || !strstr (r.body, "TOP-SECRET"), "%s leaked the secret", evil[i]);
        r_free (&r);
        s_alive (evil[i]);
    }
    /* Absolute-form targets are refused. */
    const char *abs = "GET http://evil/etc/passwd HTTP/1.1\r\nHost: t\r\n\r\n";
    CHECK (s_raw (abs, strlen (abs), &r, 5000) == 0 && r.status == 400, "absolute-form -> %d", r.status);
    r_free (&r);
    s_alive ("absolute-form");
}

static void
t_auth (void)
{
    resp_t r;
    char v[128];
    s_req ("GET", "/api/v1/reports", NULL, NULL, &r);
    s_expect_error ("no token", 401, "unauthenticated", &r);
    CHECK (r_header (&r, "WWW-Authenticate", v, sizeof v) && str_starts_with (v, "Bearer"), "challenge");
    r_free (&r);
    s_req ("GET", "/api/v1/reports", "Authorization: Bearer not-a-valid-token\r\n", NULL, &r);
    s_expect_error ("bad token", 401, "unauthenticated", &r);
    r_free (&r);
    s_req ("GET", "/api/v1/reports", "Authorization: Basic dXNlcjpwYXNz\r\n", NULL, &r);
    s_expect_error ("basic auth", 401, "unauthenticated", &r);
    r_free (&r);
    /* A token in the query string only counts for the event stream. */
    char path[256];
    snprintf (path, sizeof path, "/api/v1/whoami?access_token=%s", s_viewer);
    s_req ("GET", path, NULL, NULL, &r);
    s_expect_error ("query token off /events", 401, "unauthenticated", &r);
    r_free (&r);
    s_req ("GET", "/api/v1/whoami", s_auth_viewer, NULL, &r);
    CHECK (r.status == 200 && strcmp (r.body, "{\"role\":\"viewer\"}") == 0, "whoami viewer: %s", r.body);
    r_free (&r);
    s_req ("GET", "/api/v1/whoami", s_auth_admin, NULL, &r);
    CHECK (r.status == 200 && strcmp (r.body, "{\"role\":\"admin\"}") == 0, "whoami admin: %s", r.body);
    r_free (&r);
    s_req ("GET", "/metrics", s_auth_viewer, NULL, &r);
    s_expect_error ("viewer on metrics", 403, "permission_denied", &r);
    r_free (&r);
    s_req ("GET", "/metrics", NULL, NULL, &r);
    s_expect_error ("metrics without token", 401, "unauthenticated", &r);
    r_free (&r);
    /* Open endpoints. */
    s_req ("GET", "/readyz", NULL, NULL, &r);
    CHECK (r.status == 200 || r.status == 503, "readyz open: %d", r.status);
    r_free (&r);
}

static void
t_input (void)
{
    resp_t r;
    char h[400];
    snprintf (h, sizeof h, "%sContent-Type: application/json\r\n", s_auth_viewer);
    struct {
        const char *name, *body;
    } bad[] = {
        { "bad JSON", "{\"question\":" },
        { "bad UTF-8", "{\"question\":\"\xff\xfe\"}" },
        { "overlong UTF-8", "{\"question\":\"\xc0\xaf\"}" },
        { "duplicate key", "{\"question\":\"a\",\"question\":\"b\"}" },
        { "not an object", "[1,2]" },
        { "trailing garbage", "{\"question\":\"a\"}xyz" },
        { "unknown field", "{\"question\":\"a\",\"sql\":\"drop table\"}" },
        { "missing question", "{\"report_id\":\"x\"}" },
        { "chip without entity", "{\"chip_id\":\"c\",\"report_id\":\"r\"}" },
        { "bad param date", "{\"question\":\"a\",\"params\":{\"from\":\"2024-02-31\"}}" },
        { "empty body", "" },
        { NULL, NULL },
    };
    for (int i = 0; bad[i].name; i++) {
        s_req ("POST", "/api/v1/explain", h, bad[i].body, &r);
        s_expect_error (bad[i].name, 400, "invalid_argument", &r);
        r_free (&r);
        s_alive (bad[i].name);
    }
    snprintf (h, sizeof h, "%sContent-Type: text/plain\r\n", s_auth_viewer);
    s_req ("POST", "/api/v1/explain", h, "{\"question\":\"a\"}", &r);
    s_expect_error ("wrong content type", 415, "unsupported_media_type", &r);
    r_free (&r);
    /* Query validation happens before any backend is asked. */
    static const char *badq[] = {
        "/api/v1/reports/cost?from=2024-13-01", "/api/v1/reports/cost?from=2024-02-01&to=2024-01-01",
        "/api/v1/reports/cost?workspace=%3Cscript%3E", "/api/v1/reports/cost?x=%zz",
        "/api/v1/reports/cost?from=%ff", "/api/v1/search?q=", "/api/v1/search?q=a&k=0",
        "/api/v1/search?q=a&k=abc", "/api/v1/search?q=a&corpus=secrets", "/api/v1/commentary?limit=100000",
        "/api/v1/graph/job/x?hops=9", "/api/v1/graph/job/x?limit=-1", NULL,
    };
    for (int i = 0; badq[i]; i++) {
        s_req ("GET", badq[i], s_auth_viewer, NULL, &r);
        s_expect_error (badq[i], 400, "invalid_argument", &r);
        r_free (&r);
    }
    s_req ("GET", "/api/v1/reports/..%2f..%2fetc", s_auth_viewer, NULL, &r);
    s_expect_error ("report id with slashes", 404, "not_found", &r);
    r_free (&r);
    s_req ("GET", "/api/v1/graph/table/x", s_auth_viewer, NULL, &r);
    s_expect_error ("unknown node type", 404, "not_found", &r);
    r_free (&r);
    s_alive ("input validation");
}

static void
t_limits (void)
{
    resp_t r;
    /* 413 from Content-Length, answered before the body is sent. */
    conn_t *c = c_open (s_port);
    const char *big = "POST /api/v1/explain HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                      "Content-Length: 10000000\r\n\r\n";
    c_send (c, big, strlen (big));
    CHECK (c_read (c, &r, false, 5000) == 0, "413 read");
    s_expect_error ("413 content-length", 413, "payload_too_large", &r);
    CHECK (c_closed (c, 3000), "connection closed after 413");
    r_free (&r);
    c_close (&c);
    s_alive ("413");
    /* 413 while streaming a chunked body. */
    c = c_open (s_port);
    const char *ch = "POST /api/v1/explain HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n";
    c_send (c, ch, strlen (ch));
    char chunk[8200];
    snprintf (chunk, sizeof chunk, "2000\r\n");
    size_t off = strlen (chunk);
    memset (chunk + off, 'a', 0x2000);
    memcpy (chunk + off + 0x2000, "\r\n", 2);
    for (int i = 0; i < 16; i++)
        if (c_send (c, chunk, off + 0x2000 + 2) != 0)
            break;
    CHECK (c_read (c, &r, false, 5000) == 0, "chunked 413 read");
    s_expect_error ("413 chunked", 413, "payload_too_large", &r);
    r_free (&r);
    c_close (&c);
    s_alive ("413 chunked");
    /* 431 oversized headers, 431 too many headers, 414 long URL. */
    char *req = malloc (40000);
    int n = snprintf (req, 40000, "GET /livez HTTP/1.1\r\nHost: t\r\nX-Big: ");
    memset (req + n, 'b', 20000);
    n += 20000;
    n += snprintf (req + n, 40000 - (size_t) n, "\r\n\r\n");
    CHECK (s_raw (req, (size_t) n, &r, 5000) == 0, "431 read");
    s_expect_error ("431", 431, "header_too_large", &r);
    r_free (&r);
    s_alive ("431");
    n = snprintf (req, 40000, "GET /livez HTTP/1.1\r\nHost: t\r\n");
    for (int i = 0; i < 200; i++)
        n += snprintf (req + n, 40000 - (size_t) n, "X-H%d: v\r\n", i);
    n += snprintf (req + n, 40000 - (size_t) n, "\r\n");
    CHECK (s_raw (req, (size_t) n, &r, 5000) == 0, "431b read");
    s_expect_error ("too many headers", 431, "header_too_large", &r);
    r_free (&r);
    s_alive ("431 count");
    n = snprintf (req, 40000, "GET /livez?");
    memset (req + n, 'u', 5000);
    n += 5000;
    n += snprintf (req + n, 40000 - (size_t) n, " HTTP/1.1\r\nHost: t\r\n\r\n");
    CHECK (s_raw (req, (size_t) n, &r, 5000) == 0, "414 read");
    s_expect_error ("414", 414, "uri_too_long", &r);
    r_free (&r);
    s_alive ("414");
    free (req);
    /* Malformed requests: 400 (or 505), connection closed, server fine. */
    static const char *mal[] = {
        "GARBAGE\r\n\r\n",
        "GET\r\n\r\n",
        "GET /livez HTTP/1.1\r\nBad Header Name: x\r\n\r\n",
        "GET /livez HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "GET /livez HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        "GET /livez HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n",
        "POST /api/v1/explain HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "GET /livez HTTP/1.1\nHost: t\n\n",
        "GET /livez HTTP/9.9\r\n\r\n",
        "GET /li vez HTTP/1.1\r\n\r\n",
        "GET /livez HTTP/1.1\r\nHost: t\r\nX-A: \x01\r\n\r\n",
        "GET /livez HTTP/1.1\r\nHost: t\r\nX-A: a\x7f\r\n\r\n",
        "GET /livez HTTP/1.1\r\n: empty-name\r\n\r\n",
        "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",   /* a TLS ClientHello */
        NULL,
    };
    for (int i = 0; mal[i]; i++) {
        int rc = s_raw (mal[i], strlen (mal[i]), &r, 3000);
        CHECK (rc == 0 && (r.status == 400 || r.status == 505), "malformed #%d -> rc %d status %d", i, rc,
               r.status);
        r_free (&r);
        s_alive (mal[i]);
    }
    /* Obsolete line folding: llhttp joins the continuation into the value,
     * the "replace with SP" option of RFC 9112 section 5.2. One request. */
    const char *fold = "GET /livez HTTP/1.1\r\nHost: t\r\nX-A: a\r\n b\r\nConnection: close\r\n\r\n";
    CHECK (s_raw (fold, strlen (fold), &r, 3000) == 0 && r.status == 200, "obs-fold -> %d", r.status);
    r_free (&r);
    s_alive ("obs-fold");
    /* Expect: 100-continue gets the interim response, then the answer. */
    c = c_open (s_port);
    char h[600];
    snprintf (h, sizeof h, "POST /api/v1/explain HTTP/1.1\r\nHost: t\r\n%sContent-Type: application/json\r\n"
              "Content-Length: 5\r\nExpect: 100-continue\r\n\r\n", s_auth_viewer);
    c_send (c, h, strlen (h));
    CHECK (c_read (c, &r, false, 3000) == 0 && r.status == 100, "100 continue: %d", r.status);
    r_free (&r);
    c_send (c, "{bad}", 5);
    CHECK (c_read (c, &r, false, 3000) == 0 && r.status == 400, "after continue: %d", r.status);
    r_free (&r);
    c_close (&c);
    s_req ("GET", "/livez", "Expect: teapot\r\n", NULL, &r);
    CHECK (r.status == 417, "unknown expectation -> %d", r.status);
    r_free (&r);
    /* 408: a slow client that never finishes its headers (request timeout 1 s). */
    c = c_open (s_port);
    c_send (c, "GET /livez HTTP/1.1\r\nHo", 23);
    int64_t t0 = clock_mono_ms ();
    CHECK (c_read (c, &r, false, 5000) == 0, "408 read");
    s_expect_error ("408 slow headers", 408, "request_timeout", &r);
    int64_t dt = clock_mono_ms () - t0;
    CHECK (dt >= 800 && dt < 3000, "408 after %lld ms", (long long) dt);
    CHECK (c_closed (c, 3000), "closed after 408");
    r_free (&r);
    c_close (&c);
    /* A slow body is cut the same way. */
    c = c_open (s_port);
    snprintf (h, sizeof h, "POST /api/v1/explain HTTP/1.1\r\nHost: t\r\n%sContent-Type: application/json\r\n"
              "Content-Length: 100\r\n\r\n{\"question\":", s_auth_viewer);
    c_send (c, h, strlen (h));
    CHECK (c_read (c, &r, false, 5000) == 0, "408b read");
    s_expect_error ("408 slow body", 408, "request_timeout", &r);
    r_free (&r);
    c_close (&c);
    /* A connection that sends nothing is closed without an answer. */
    c = c_open (s_port);
    CHECK (c_closed (c, 4000) && c->len == 0, "silent connection closed");
    c_close (&c);
    s_alive ("408");
}

static void
t_keepalive (void)
{
    resp_t r;
    conn_t *c = c_open (s_port);
    const char *one = "GET /livez HTTP/1.1\r\nHost: t\r\n\r\n";
    for (int i = 0; i < 3; i++) {
        c_send (c, one, strlen (one));
        CHECK (c_read (c, &r, false, 3000) == 0 && r.status == 200, "keep-alive #%d", i);
        char v[64];
        CHECK (!r_header (&r, "Connection", v, sizeof v), "no Connection: close on keep-alive");
        r_free (&r);
    }
    /* Pipelined: three requests in one write, answered in order. */
    char pipe[1024];
    snprintf (pipe, sizeof pipe,
              "GET /livez HTTP/1.1\r\nHost: t\r\n\r\n"
              "GET /api/v1/whoami HTTP/1.1\r\nHost: t\r\n%s\r\n"
              "GET /nope HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
              s_auth_admin);
    c_send (c, pipe, strlen (pipe));
    CHECK (c_read (c, &r, false, 3000) == 0 && r.status == 200 && strcmp (r.body, "ok\n") == 0, "pipe 1");
    r_free (&r);
    CHECK (c_read (c, &r, false, 3000) == 0 && r.status == 200 && strstr (r.body, "admin"), "pipe 2");
    r_free (&r);
    CHECK (c_read (c, &r, false, 3000) == 0 && r.status == 404, "pipe 3");
    char v[64];
    CHECK (r_header (&r, "Connection", v, sizeof v) && strcmp (v, "close") == 0, "pipe 3 closes");
    r_free (&r);
    CHECK (c_closed (c, 3000), "closed after Connection: close");
    c_close (&c);
    /* HTTP/1.0 without keep-alive closes after one response. */
    c = c_open (s_port);
    c_send (c, "GET /livez HTTP/1.0\r\n\r\n", 23);
    CHECK (c_read (c, &r, false, 3000) == 0 && r.status == 200, "http/1.0");
    CHECK (c_closed (c, 3000), "http/1.0 closes");
    r_free (&r);
    c_close (&c);
}

static void
t_max_connections (int max)
{
    conn_t *cs[64];
    int n = 0;
    for (; n < max && n < 64; n++)
        cs[n] = c_open (s_port);
    clock_sleep_ms (200);   /* let the gateway accept them */
    resp_t r;
    conn_t *extra = c_open (s_port);
    CHECK (extra && c_read (extra, &r, false, 3000) == 0 && r.status == 503,
           "connection over the cap -> %d", r.status);
    CHECK (r.body && strstr (r.body, "too many connections"), "503 body");
    r_free (&r);
    c_close (&extra);
    for (int i = 0; i < n; i++)
        c_close (&cs[i]);
    clock_sleep_ms (100);
    s_alive ("connection cap");
}

/* ---- SSE ---------------------------------------------------------------------- */

typedef struct {
    bool report, graph, prompt, search, llm;
} have_t;

typedef struct {
    char id[128];
    char type[32];
    char data[4096];
} sse_ev_t;

/* Parses complete events in c->buf (after the response head) into evs. */
static int
s_sse_parse (const char *text, sse_ev_t *evs, int max)
{
    int n = 0;
    const char *p = text;
    const char *end;
    while ((end = strstr (p, "\n\n")) != NULL && n < max) {
        sse_ev_t e;
        memset (&e, 0, sizeof e);
        bool any = false;
        const char *l = p;
        while (l < end) {
            const char *nl = memchr (l, '\n', (size_t) (end - l));
            size_t len = nl ? (size_t) (nl - l) : (size_t) (end - l);
            if (len > 4 && !strncmp (l, "id: ", 4))
                snprintf (e.id, sizeof e.id, "%.*s", (int) (len - 4), l + 4);
            else if (len > 7 && !strncmp (l, "event: ", 7))
                snprintf (e.type, sizeof e.type, "%.*s", (int) (len - 7), l + 7);
            else if (len > 6 && !strncmp (l, "data: ", 6)) {
                snprintf (e.data, sizeof e.data, "%.*s", (int) (len - 6), l + 6);
                any = true;
            }
            l = nl ? nl + 1 : end;
        }
        if (any)
            evs[n++] = e;
        p = end + 2;
    }
    return n;
}

static conn_t *
s_sse_open (const char *last_id, const char *query_token, resp_t *r)
{
    conn_t *c = c_open (s_port);
    char req[1024], lh[300] = "";
    if (last_id)
        snprintf (lh, sizeof lh, "Last-Event-ID: %s\r\n", last_id);
    if (query_token)
        snprintf (req, sizeof req, "GET /api/v1/events?access_token=%s HTTP/1.1\r\nHost: t\r\n%s\r\n",
                  query_token, lh);
    else
        snprintf (req, sizeof req, "GET /api/v1/events HTTP/1.1\r\nHost: t\r\n%s%s\r\n", s_auth_viewer, lh);
    c_send (c, req, strlen (req));
    /* Read the head only. */
    memset (r, 0, sizeof *r);
    int64_t end = clock_mono_ms () + 3000;
    char *hend;
    while (!(hend = strstr (c->buf, "\r\n\r\n")))
        if (clock_mono_ms () > end || c_fill (c, 500) <= 0)
            break;
    if (hend) {
        size_t hl = (size_t) (hend - c->buf) + 4;
        memcpy (r->head, c->buf, hl < sizeof r->head ? hl : sizeof r->head - 1);
        r->status = (int) strtol (c->buf + 9, NULL, 10);
        memmove (c->buf, c->buf + hl, c->len - hl);
        c->len -= hl;
        c->buf[c->len] = '\0';
    }
    return c;
}

/* Reads the stream until `needle` appears (true) or the timeout. */
static bool
s_sse_until (conn_t *c, const char *needle, int timeout_ms)
{
    int64_t end = clock_mono_ms () + timeout_ms;
    while (!strstr (c->buf, needle)) {
        int64_t left = end - clock_mono_ms ();
        if (left <= 0 || c_fill (c, (int) left) <= 0)
            return false;
    }
    return true;
}

static int
s_publish_alert (pubsub_pub_t *pub, const char *alert_id)
{
    env_t *env = env_new ("gw-test");
    Copilot__V1__Alert *a = env_msg_new (&copilot__v1__alert__descriptor);
    env_set_str (&a->alert_id, alert_id);
    env_set_str (&a->severity, "high");
    env_set_str (&a->entity_type, "job");
    env_set_str (&a->entity_id, "job::J-FIN-DAILY");
    env_set_str (&a->message, "cost spike \"quoted\"\nsecond line");
    a->value = 12.5;
    env_set_body (env, COPILOT__V1__ENVELOPE__BODY_ALERT, a);
    int rc = pubsub_publish (pub, "alert.v1.high", env);
    env_free (env);
    return rc;
}

static void
t_sse (pubsub_pub_t *pub, have_t h)
{
    resp_t r;
    conn_t *s1 = s_sse_open (NULL, NULL, &r);
    CHECK (r.status == 200, "sse status %d", r.status);
    char v[128];
    CHECK (r_header (&r, "Content-Type", v, sizeof v) && str_starts_with (v, "text/event-stream"), "sse type");
    CHECK (s_sse_until (s1, "retry: 3000\n\n", 2000), "retry line first");
    /* Slow joiner: publish until the subscription is live. */
    bool live = false;
    for (int i = 0; i < 100 && !live; i++) {
        char id[32];
        snprintf (id, sizeof id, "warmup-%d", i);
        s_publish_alert (pub, id);
        live = s_sse_until (s1, "warmup-", 100);
    }
    CHECK (live, "no event reached the SSE stream");
    for (int i = 1; i <= 4; i++) {
        char id[32];
        snprintf (id, sizeof id, "resume-%d", i);
        s_publish_alert (pub, id);
    }
    CHECK (s_sse_until (s1, "resume-4", 3000), "events delivered");
    sse_ev_t evs[256];
    int n = s_sse_parse (s1->buf, evs, 256);
    char ids[5][128] = { "", "", "", "", "" };
    int order = 0;
    for (int i = 0; i < n; i++) {
        CHECK (strcmp (evs[i].type, "alert") == 0, "event type %s", evs[i].type);
        json_t *j = json_loads (evs[i].data, 0, NULL);
        CHECK (j != NULL, "data is one line of JSON: %s", evs[i].data);
        const char *aid = json_string_value (json_object_get (j, "alert_id"));
        if (aid && str_starts_with (aid, "resume-")) {
            int k = aid[7] - '0';
            if (k >= 1 && k <= 4) {
                str_copy (ids[k], sizeof ids[k], evs[i].id);
                if (k == order + 1)
                    order = k;
            }
            CHECK (strcmp (json_string_value (json_object_get (j, "topic")), "alert.v1.high") == 0, "topic");
            CHECK (strcmp (json_string_value (json_object_get (j, "message")),
                           "cost spike \"quoted\"\nsecond line") == 0, "message round trip");
        }
        json_decref (j);
    }
    CHECK (order == 4, "events in publish order (%d)", order);
    CHECK (str_starts_with (ids[1], "alert@gw-test-"), "id is <publisher>:<seq>: %s", ids[1]);
    const char *c1 = strrchr (ids[1], ':'), *c2 = strrchr (ids[2], ':');
    CHECK (c1 && c2 && strtoll (c2 + 1, NULL, 10) == strtoll (c1 + 1, NULL, 10) + 1, "consecutive seqs %s %s",
           ids[1], ids[2]);
    /* Heartbeat comments (sse.ping_ms = 300). */
    CHECK (s_sse_until (s1, ": ping\n\n", 2000), "ping comment");
    c_close (&s1);
    /* Resume after resume-2: exactly resume-3 and resume-4. */
    conn_t *s2 = s_sse_open (ids[2], NULL, &r);
    CHECK (r.status == 200, "resume status");
    CHECK (s_sse_until (s2, "resume-4", 3000), "resume delivers the rest");
    CHECK (strstr (s2->buf, "resume-3") && !strstr (s2->buf, "resume-2") && !strstr (s2->buf, "resume-1")
               && !strstr (s2->buf, "warmup-"),
           "resume replays only what followed: %s", s2->buf);
    /* Live events keep flowing after the replay. */
    s_publish_alert (pub, "resume-5");
    CHECK (s_sse_until (s2, "resume-5", 3000), "live after replay");
    c_close (&s2);
    /* An unknown id replays the whole ring. */
    conn_t *s3 = s_sse_open ("alert@nobody:99", NULL, &r);
    CHECK (s_sse_until (s3, "resume-5", 3000) && strstr (s3->buf, "resume-1"), "unknown id replays the ring");
    c_close (&s3);
    /* Token in the query string (EventSource). */
    conn_t *s4 = s_sse_open (NULL, s_viewer, &r);
    CHECK (r.status == 200, "query token sse: %d", r.status);
    c_close (&s4);
    conn_t *s5 = s_sse_open (NULL, "wrong", &r);
    CHECK (r.status == 401, "bad query token: %d", r.status);
    c_close (&s5);
    /* A commentary id not in the ring asks the prompt-builder; when it is
     * down the stream says so and replays the ring. */
    if (!h.prompt) {
        conn_t *s6 = s_sse_open ("commentary:1", NULL, &r);
        CHECK (s_sse_until (s6, ": commentary replay unavailable", 4000), "replay fallback note: %s", s6->buf);
        CHECK (s_sse_until (s6, "resume-5", 2000), "fallback replays the ring");
        c_close (&s6);
    } else {
        /* Real Commentary RPC: the stream is held during the replay, then
         * goes live; the ring is not replayed. */
        conn_t *s6 = s_sse_open ("commentary:0", NULL, &r);
        CHECK (r.status == 200, "commentary resume status %d", r.status);
        clock_sleep_ms (300);
        s_publish_alert (pub, "resume-6");
        CHECK (s_sse_until (s6, "resume-6", 3000), "live after commentary replay: %s", s6->buf);
        CHECK (!strstr (s6->buf, "replay unavailable") && !strstr (s6->buf, "resume-5"),
               "replayed from history, not the ring: %s", s6->buf);
        c_close (&s6);
    }
    /* A client that stops reading is disconnected once its unsent bytes
     * pass sse.client_queue_bytes (64 KiB here); it would then resume. */
    s_rcvbuf = 4096;
    conn_t *slow = s_sse_open (NULL, NULL, &r);
    s_rcvbuf = 0;
    CHECK (r.status == 200, "slow client status %d", r.status);
    clock_sleep_ms (100);
    env_t *big = env_new ("gw-test");
    Copilot__V1__Alert *ba = env_msg_new (&copilot__v1__alert__descriptor);
    env_set_str (&ba->alert_id, "flood");
    char *pad = malloc (4001);
    memset (pad, 'x', 4000);
    pad[4000] = '\0';
    env_set_str (&ba->message, pad);
    free (pad);
    env_set_body (big, COPILOT__V1__ENVELOPE__BODY_ALERT, ba);
    /* Publish in batches (the bus drops at its high-water mark, and a
     * sanitizer build is slower) until the gateway reports the overflow;
     * the client reads nothing meanwhile. */
    bool overflow = false;
    for (int batch = 0; batch < 100 && !overflow; batch++) {
        for (int i = 0; i < 200; i++) {
            pubsub_publish (pub, "alert.v1.low", big);
            if (i % 20 == 19)
                clock_sleep_ms (1);
        }
        resp_t m;
        s_req ("GET", "/metrics", s_auth_admin, NULL, &m);
        overflow = m.body && strstr (m.body, "copilot_sse_client_overflows_total{source=\"gateway\"} ")
                   && !strstr (m.body, "copilot_sse_client_overflows_total{source=\"gateway\"} 0\n");
        r_free (&m);
    }
    env_free (big);
    CHECK (overflow, "overflow counted");
    CHECK (c_closed (slow, 10000), "a client that does not read is disconnected");
    c_close (&slow);
    /* Malformed Last-Event-ID. */
    conn_t *s7 = s_sse_open ("a\x01" "b", NULL, &r);
    CHECK (r.status == 400, "control char in Last-Event-ID: %d", r.status);
    c_close (&s7);
    s_alive ("sse");
}


/* The gateway's rendered-report cache: a repeated GET is answered from the
 * cache with the same bytes and ETag, If-None-Match gives 304 without a body,
 * parameter order does not matter, and a data.* event empties the cache. */
static void
t_report_cache (pubsub_pub_t *pub, have_t h)
{
    if (!h.report)
        return;
    const char *path = "/api/v1/reports/job_cost?to=2025-12-31&from=2024-01-01";
    const char *swapped = "/api/v1/reports/job_cost?from=2024-01-01&to=2025-12-31";
    resp_t a, b, c;
    char how[32], etag[128] = "", etag2[128] = "", hdr[512];
    s_req ("GET", path, s_auth_viewer, NULL, &a);
    CHECK (a.status == 200, "report: %d %.200s", a.status, a.body ? a.body : "");
    CHECK (r_header (&a, "X-Copilot-Cache", how, sizeof how) && strcmp (how, "miss") == 0,
           "first GET is a miss (%s)", how);
    CHECK (r_header (&a, "ETag", etag, sizeof etag) && etag[0] == '"', "report etag");
    s_req ("GET", swapped, s_auth_viewer, NULL, &b);
    CHECK (b.status == 200 && r_header (&b, "X-Copilot-Cache", how, sizeof how)
               && strcmp (how, "hit") == 0, "same parameters in another order hit (%d %s)",
           b.status, how);
    CHECK (r_header (&b, "ETag", etag2, sizeof etag2) && strcmp (etag, etag2) == 0, "same etag");
    CHECK (a.body && b.body && a.blen == b.blen && memcmp (a.body, b.body, a.blen) == 0,
           "cached body equals the computed body");
    snprintf (hdr, sizeof hdr, "%sIf-None-Match: %s\r\n", s_auth_viewer, etag);
    s_req ("GET", path, hdr, NULL, &c);
    CHECK (c.status == 304 && c.blen == 0, "If-None-Match -> 304 (%d, %zu bytes)", c.status,
           c.blen);
    r_free (&c);
    /* Another report or other parameters are other entries. */
    s_req ("GET", "/api/v1/reports/job_cost?from=2024-01-02&to=2025-12-31", s_auth_viewer, NULL, &c);
    CHECK (c.status == 200 && r_header (&c, "X-Copilot-Cache", how, sizeof how)
               && strcmp (how, "miss") == 0, "other parameters miss (%s)", how);
    r_free (&c);
    /* A data event for any database empties the cache (report-service ignores
     * this one: the path is not its database). */
    env_t *env = env_new ("gw-test");
    Copilot__V1__DataChanged *dc = env_msg_new (&copilot__v1__data_changed__descriptor);
    env_set_str (&dc->db_path, "/nonexistent/other.db");
    env_set_str (&dc->data_version, "v-test");
    env_set_body (env, COPILOT__V1__ENVELOPE__BODY_DATA_CHANGED, dc);
    bool missed = false;
    for (int i = 0; i < 100 && !missed; i++) {
        CHECK (pubsub_publish (pub, "data.changed", env) == 0, "publish data.changed");
        usleep (20000);
        s_req ("GET", path, s_auth_viewer, NULL, &c);
        missed = c.status == 200 && r_header (&c, "X-Copilot-Cache", how, sizeof how)
                 && strcmp (how, "miss") == 0;
        if (missed) {
            /* Same figures; only report-service's own "cached" flag may differ. */
            json_t *ja = json_loads (a.body, 0, NULL), *jc = json_loads (c.body, 0, NULL);
            CHECK (ja && jc, "report bodies parse");
            if (ja && jc) {
                json_object_del (ja, "cached");
                json_object_del (jc, "cached");
                CHECK (json_equal (ja, jc), "recomputed report equals the first (data did not change)");
            }
            json_decref (ja);
            json_decref (jc);
        }
        r_free (&c);
    }
    env_free (env);
    CHECK (missed, "data.changed invalidates the report cache");
    s_req ("GET", "/metrics", s_auth_admin, NULL, &c);
    CHECK (c.body && strstr (c.body, "copilot_gateway_report_cache_total{source=\"gateway\",result=\"hit\"}")
               != NULL, "cache metric exported");
    r_free (&c);
    r_free (&a);
    r_free (&b);
}

/* ---- backends ------------------------------------------------------------------------- */

static void
s_expect_down (const char *path, const char *method, const char *body, const char *backend)
{
    resp_t r;
    char h[400];
    snprintf (h, sizeof h, "%sContent-Type: application/json\r\n", s_auth_viewer);
    s_req (method, path, h, body, &r);
    s_expect_error (path, 503, "unavailable", &r);
    CHECK (r.body && strstr (r.body, backend), "503 names %s: %s", backend, r.body ? r.body : "");
    r_free (&r);
}

static void
t_backends (have_t h)
{
    resp_t r;
    /* readyz lists every backend. */
    s_req ("GET", "/readyz", NULL, NULL, &r);
    bool all = h.report && h.graph && h.prompt && h.search;
    CHECK (r.status == (all ? 200 : 503), "readyz %d: %s", r.status, r.body);
    CHECK (strstr (r.body, h.graph ? "[+]graph-service" : "[-]graph-service") != NULL, "readyz graph: %s", r.body);
    CHECK (strstr (r.body, h.report ? "[+]report-service" : "[-]report-service") != NULL, "readyz report");
    CHECK (strstr (r.body, h.prompt ? "[+]prompt-builder" : "[-]prompt-builder") != NULL, "readyz prompt");
    CHECK (strstr (r.body, h.search ? "[+]retrieval-router" : "[-]retrieval-router") != NULL, "readyz search");
    r_free (&r);
    /* metrics: own + each live backend's. */
    s_req ("GET", "/metrics", s_auth_admin, NULL, &r);
    CHECK (r.status == 200, "metrics %d", r.status);
    CHECK (strstr (r.body, "copilot_http_requests_total{source=\"gateway\"") != NULL, "own metrics");
    if (h.graph)
        CHECK (strstr (r.body, "{source=\"graph-service\"") != NULL, "graph-service metrics merged");
    if (!h.report)
        CHECK (strstr (r.body, "# backend report-service: metrics unavailable") != NULL, "missing noted");
    /* Each family's TYPE appears once. */
    int types = 0;
    for (const char *p = r.body; (p = strstr (p, "# TYPE copilot_requests_total ")); p++)
        types++;
    CHECK (types <= 1, "duplicate TYPE lines: %d", types);
    r_free (&r);
    if (h.report) {
        s_req ("GET", "/api/v1/reports", s_auth_viewer, NULL, &r);
        json_t *j = json_loads (r.body, 0, NULL);
        json_t *reps = json_object_get (j, "reports");
        CHECK (r.status == 200 && json_array_size (reps) > 0, "reports: %d %s", r.status, r.body);
        const char *first = NULL;
        for (size_t i = 0; i < json_array_size (reps); i++) {
            json_t *o = json_array_get (reps, i);
            if (!first && strcmp (json_string_value (json_object_get (o, "status")), "available") == 0)
                first = json_string_value (json_object_get (o, "id"));
        }
        CHECK (first != NULL, "an available report");
        if (first) {
            char path[256];
            snprintf (path, sizeof path, "/api/v1/reports/%s", first);
            resp_t rr;
            s_req ("GET", path, s_auth_viewer, NULL, &rr);
            json_t *jr = json_loads (rr.body, 0, NULL);
            CHECK (rr.status == 200 && json_is_array (json_object_get (jr, "columns"))
                       && json_is_array (json_object_get (jr, "rows")) && json_object_get (jr, "sql")
                       && json_object_get (jr, "data_version"),
                   "run report %s: %d %.300s", first, rr.status, rr.body);
            json_decref (jr);
            r_free (&rr);
        }
        {
            /* anomaly_detection lists anomalies + charted series (rows_output):
             * rows_total is the full series it computed */
            resp_t ra;
            s_req ("GET", "/api/v1/reports/anomaly_detection", s_auth_viewer, NULL, &ra);
            json_t *ja = json_loads (ra.body, 0, NULL);
            json_int_t listed = (json_int_t) json_array_size (json_object_get (ja, "rows"));
            json_t *tot = json_object_get (ja, "rows_total");
            CHECK (ra.status == 200 && json_is_integer (tot) && listed > 0 && json_integer_value (tot) > listed,
                   "anomaly_detection rows_total: %d listed %lld total %lld", ra.status, (long long) listed,
                   (long long) json_integer_value (tot));
            json_decref (ja);
            r_free (&ra);
        }
        json_decref (j);
        r_free (&r);
        /* Published alerts, read from report-service's state file: the
         * fixture's 10 anomalies once the start-up detection ran. */
        size_t nal = 0;
        json_int_t total = -1;
        for (int i = 0; i < 50 && nal != 10; i++) {
            s_req ("GET", "/api/v1/alerts?limit=20", s_auth_viewer, NULL, &r);
            json_t *ja = r.status == 200 ? json_loads (r.body, 0, NULL) : NULL;
            nal = json_array_size (json_object_get (ja, "alerts"));
            total = json_integer_value (json_object_get (ja, "total"));
            if (nal == 10) {
                json_t *a0 = json_array_get (json_object_get (ja, "alerts"), 0);
                CHECK (json_string_value (json_object_get (a0, "alert_id"))
                           && json_string_value (json_object_get (a0, "severity"))
                           && json_is_number (json_object_get (a0, "z_score")),
                       "alert object: %.200s", r.body);
            }
            json_decref (ja);
            r_free (&r);
            if (nal != 10)
                usleep (100000);
        }
        CHECK (nal == 10 && total == 10, "alerts: %zu listed, total %lld", nal, (long long) total);
        s_req ("GET", "/api/v1/alerts?limit=2", s_auth_viewer, NULL, &r);
        {
            json_t *ja = json_loads (r.body, 0, NULL);
            CHECK (r.status == 200 && json_array_size (json_object_get (ja, "alerts")) == 2,
                   "alerts limit=2: %d %.200s", r.status, r.body);
            json_decref (ja);
        }
        r_free (&r);
        s_req ("GET", "/api/v1/alerts?limit=0", s_auth_viewer, NULL, &r);
        s_expect_error ("alerts limit=0", 400, "invalid_argument", &r);
        r_free (&r);
        s_req ("GET", "/api/v1/reports/no_such_report", s_auth_viewer, NULL, &r);
        s_expect_error ("unknown report", 404, "not_found", &r);
        CHECK (strstr (r.body, "report-service") != NULL, "404 names the backend");
        r_free (&r);
    } else {
        s_expect_down ("/api/v1/reports", "GET", NULL, "report-service");
        s_expect_down ("/api/v1/alerts", "GET", NULL, "report-service");
        s_expect_down ("/api/v1/reports/cost_by_job?from=2024-01-01", "GET", NULL, "report-service");
    }
    if (h.graph) {
        s_req ("GET", "/api/v1/graph/job/J-FIN-DAILY?limit=5", s_auth_viewer, NULL, &r);
        json_t *j = json_loads (r.body, 0, NULL);
        CHECK (r.status == 200 && strcmp (json_string_value (json_object_get (j, "mode")), "neighbors") == 0
                   && json_array_size (json_object_get (j, "nodes")) > 0,
               "neighbors: %d %.300s", r.status, r.body);
        json_decref (j);
        r_free (&r);
        s_req ("GET", "/api/v1/graph/job/J-FIN-DAILY?hops=2&budget=20", s_auth_viewer, NULL, &r);
        j = json_loads (r.body, 0, NULL);
        json_t *nodes = json_object_get (j, "nodes");
        CHECK (r.status == 200 && json_array_size (nodes) > 1 && json_array_size (nodes) <= 20
                   && strcmp (json_string_value (json_object_get (json_array_get (nodes, 0), "id")),
                              "job::J-FIN-DAILY") == 0
                   && strstr (json_string_value (json_object_get (j, "text")), "job::J-FIN-DAILY"),
               "subgraph: %d %.300s", r.status, r.body);
        json_decref (j);
        r_free (&r);
        s_req ("GET", "/api/v1/graph/job/J-NOPE", s_auth_viewer, NULL, &r);
        s_expect_error ("unknown node", 404, "not_found", &r);
        r_free (&r);
    } else {
        s_expect_down ("/api/v1/graph/job/J-FIN-DAILY", "GET", NULL, "graph-service");
    }
    if (!h.prompt) {
        s_expect_down ("/api/v1/explain", "POST", "{\"question\":\"why?\"}", "prompt-builder");
        s_expect_down ("/api/v1/commentary", "GET", NULL, "prompt-builder");
    } else {
        s_req ("GET", "/api/v1/commentary?limit=5", s_auth_viewer, NULL, &r);
        json_t *j = json_loads (r.body, 0, NULL);
        CHECK (r.status == 200 && json_is_array (json_object_get (j, "items"))
                   && json_is_integer (json_object_get (j, "last_seq")),
               "commentary: %d %s", r.status, r.body);
        json_decref (j);
        r_free (&r);
        if (!h.report) {
            /* The prompt-builder's own UNAVAILABLE travels through: 503,
             * message names both daemons. */
            char hd[400];
            snprintf (hd, sizeof hd, "%sContent-Type: application/json\r\n", s_auth_viewer);
            s_req ("POST", "/api/v1/explain", hd,
                   "{\"report_id\":\"cost_by_job\",\"question\":\"why did cost go up?\"}", &r);
            s_expect_error ("explain without report-service", 503, "unavailable", &r);
            CHECK (r.body && strstr (r.body, "prompt-builder: ") && strstr (r.body, "report-service"),
                   "explain 503 names the chain: %s", r.body);
            r_free (&r);
        }
    }
    if (h.prompt && h.report && h.llm) {
        /* Full chip flow: run a report, click its first chip, get an answer. */
        s_req ("GET", "/api/v1/reports", s_auth_viewer, NULL, &r);
        json_t *j = json_loads (r.body, 0, NULL);
        json_t *reps = json_object_get (j, "reports");
        const char *rid = NULL;
        for (size_t i = 0; i < json_array_size (reps) && !rid; i++)
            if (!strcmp (json_string_value (json_object_get (json_array_get (reps, i), "status")), "available"))
                rid = json_string_value (json_object_get (json_array_get (reps, i), "id"));
        char path[256];
        snprintf (path, sizeof path, "/api/v1/reports/%s", rid ? rid : "none");
        resp_t rr;
        s_req ("GET", path, s_auth_viewer, NULL, &rr);
        json_t *jr = json_loads (rr.body, 0, NULL);
        json_t *sel = json_array_get (json_object_get (jr, "selections"), 0);
        json_t *chip = json_array_get (json_object_get (sel, "chips"), 0);
        CHECK (sel && chip, "report %s has a selection with a chip", rid ? rid : "?");
        if (sel && chip) {
            json_t *body = json_pack ("{s:s, s:O, s:O, s:O}", "report_id", rid, "entity_type",
                                      json_object_get (sel, "entity_type"), "entity_id",
                                      json_object_get (sel, "entity_id"), "chip_id", json_object_get (chip, "id"));
            char *txt = json_dumps (body, JSON_COMPACT);
            char hd[400];
            snprintf (hd, sizeof hd, "%sContent-Type: application/json\r\n", s_auth_viewer);
            resp_t re;
            s_req ("POST", "/api/v1/explain", hd, txt, &re);
            json_t *je = json_loads (re.body, 0, NULL);
            const char *ans = json_string_value (json_object_get (je, "answer_markdown"));
            CHECK (re.status == 200 && ans && ans[0] && json_is_array (json_object_get (je, "sources")),
                   "explain chip: %d %.300s", re.status, re.body);
            json_decref (je);
            r_free (&re);
            free (txt);
            json_decref (body);
        }
        json_decref (jr);
        r_free (&rr);
        json_decref (j);
        r_free (&r);
    }
    if (!h.search)
        s_expect_down ("/api/v1/search?q=cost", "GET", NULL, "retrieval-router");
}

/* G2: a live backend that never answers (504) and one that never runs (503). */
static void
t_deadlines (void)
{
    static const struct {
        const char *method, *path, *body;
    } routes[] = {
        { "GET", "/api/v1/reports", NULL },
        { "GET", "/api/v1/reports/cost_by_job?from=2024-01-01", NULL },
        { "POST", "/api/v1/explain", "{\"question\":\"why?\"}" },
        { "GET", "/api/v1/commentary", NULL },
        { "GET", "/api/v1/graph/job/J-FIN-DAILY", NULL },
        { "GET", "/api/v1/graph/job/J-FIN-DAILY?hops=2", NULL },
        { NULL, NULL, NULL },
    };
    char h[400];
    snprintf (h, sizeof h, "%sContent-Type: application/json\r\n", s_auth_viewer);
    for (int i = 0; routes[i].path; i++) {
        resp_t r;
        int64_t t0 = clock_mono_ms ();
        s_req (routes[i].method, routes[i].path, h, routes[i].body, &r);
        int64_t dt = clock_mono_ms () - t0;
        s_expect_error (routes[i].path, 504, "deadline_exceeded", &r);
        CHECK (r.body && strstr (r.body, "gw-stall") && strstr (r.body, "300 ms"), "504 names backend: %s",
               r.body ? r.body : "");
        CHECK (dt >= 250 && dt < 3000, "504 after %lld ms", (long long) dt);
        r_free (&r);
    }
    /* Never running: 503 naming it; once the health check knows, at once. */
    resp_t r;
    s_req ("GET", "/api/v1/search?q=cost", s_auth_viewer, NULL, &r);
    s_expect_error ("missing backend", 503, "unavailable", &r);
    CHECK (r.body && strstr (r.body, "gw-missing"), "503 names gw-missing: %s", r.body);
    r_free (&r);
    int64_t t0 = clock_mono_ms ();
    s_req ("GET", "/api/v1/search?q=cost", s_auth_viewer, NULL, &r);
    CHECK (r.status == 503 && clock_mono_ms () - t0 < 250, "fast 503 from health state (%lld ms)",
           (long long) (clock_mono_ms () - t0));
    r_free (&r);
    s_req ("GET", "/readyz", NULL, NULL, &r);
    CHECK (r.status == 503 && strstr (r.body, "[+]gw-stall") && strstr (r.body, "[-]gw-missing"),
           "readyz G2: %d %s", r.status, r.body);
    r_free (&r);
    s_alive ("deadlines");
}

/* SIGTERM with a request in flight and another pipelined behind it: the
 * first still gets its answer (504 at its deadline, inside the drain grace
 * period), the second 503 + Connection: close, new connections are refused,
 * and the process exits 0. */
static void
t_drain (proc_t *gw)
{
    conn_t *c = c_open (s_port);
    char req[1024];
    snprintf (req, sizeof req,
              "GET /api/v1/reports HTTP/1.1\r\nHost: t\r\n%s\r\nGET /readyz HTTP/1.1\r\nHost: t\r\n\r\n",
              s_auth_viewer);
    c_send (c, req, strlen (req));
    clock_sleep_ms (100);
    kill (gw->pid, SIGTERM);
    resp_t r;
    CHECK (c_read (c, &r, false, 3000) == 0 && r.status == 504, "in-flight request answered while draining: %d",
           r.status);
    r_free (&r);
    CHECK (c_read (c, &r, false, 3000) == 0, "pipelined request answered while draining");
    s_expect_error ("pipelined while draining", 503, "unavailable", &r);
    char v[32];
    CHECK (r_header (&r, "Connection", v, sizeof v) && strcmp (v, "close") == 0, "503 closes");
    r_free (&r);
    CHECK (c_closed (c, 3000), "connection closed after drain");
    c_close (&c);
    conn_t *late = c_open (s_port);
    CHECK (!late || c_closed (late, 2000), "listener closed while draining");
    c_close (&late);
    int rc = s_reap (gw, 5000);   /* no second signal: that one exits at once */
    CHECK (rc == 0, "drained gateway exit code %d", rc);
}

/* ---- main ---------------------------------------------------------------------------- */

static void
s_write_file (const char *rel, const char *text)
{
    char p[512];
    snprintf (p, sizeof p, "%s/%s", s_tmp, rel);
    FILE *f = fopen (p, "w");
    if (f) {
        fputs (text, f);
        fclose (f);
    }
}

static bool
s_exists (const char *path)
{
    return path && strcmp (path, "-") != 0 && access (path, X_OK) == 0;
}

static int
s_read_token (const char *path, char *out, size_t size)
{
    FILE *f = fopen (path, "r");
    if (!f)
        return -1;
    char *ok = fgets (out, (int) size, f);
    fclose (f);
    if (!ok)
        return -1;
    str_trim (out);
    return 0;
}

static int
s_start_gateway (proc_t *p, const char *name, const char *bin, char **extra, int *port)
{
    char *argv[64];
    int n = 0;
    argv[n++] = (char *) bin;
    static char sets[32][300];
    int ns = 0;
    const char *common[] = { "http.port=0", "http.request_timeout_ms=1000", "http.max_body_bytes=65536",
                             "http.max_header_bytes=8192", "http.max_url_bytes=2048", "http.max_headers=64",
                             "http.max_connections=24", "sse.ping_ms=300", "gateway.health_interval_ms=300",
                             "gateway.ping_timeout_ms=200", "gateway.metrics_timeout_ms=500",
                             "gateway.drain_ms=1000", NULL };
    for (int i = 0; common[i]; i++) {
        argv[n++] = "--set";
        str_copy (sets[ns], sizeof sets[ns], common[i]);
        argv[n++] = sets[ns++];
    }
    snprintf (sets[ns], sizeof sets[ns], "http.static_dir=%s/static", s_tmp);
    argv[n++] = "--set";
    argv[n++] = sets[ns++];
    for (int i = 0; extra && extra[i]; i++) {
        argv[n++] = "--set";
        argv[n++] = extra[i];
    }
    static char endpoint[400];
    snprintf (endpoint, sizeof endpoint, "ipc://%s/%s.sock", s_run, name);
    argv[n++] = "--endpoint";
    argv[n++] = endpoint;
    argv[n] = NULL;
    if (s_spawn (p, name, argv) != 0)
        return -1;
    char line[256];
    if (s_wait_line (p, "READY ", line, sizeof line, 10000) != 0)
        return -1;
    if (s_wait_line (p, "LISTEN http://127.0.0.1:", line, sizeof line, 1000) != 0)
        return -1;
    *port = (int) strtol (strrchr (line, ':') + 1, NULL, 10);
    return *port > 0 ? 0 : -1;
}

int
main (int argc, char **argv)
{
    if (argc < 4 || !s_exists (argv[1]) || !s_exists (argv[2])) {
        fprintf (stderr, "usage: gw_api_test <gateway> <gw-stall> <fixture db> [report-service|-] "
                         "[graph-service|-] [prompt-builder|-] [retrieval-router|-] [llm-gateway|-]\n");
        return 77;
    }
    const char *fixture = argv[3];
    const char *bins[5] = { argc > 4 ? argv[4] : "-", argc > 5 ? argv[5] : "-", argc > 6 ? argv[6] : "-",
                            argc > 7 ? argv[7] : "-", argc > 8 ? argv[8] : "-" };
    const char *names[5] = { "report-service", "graph-service", "prompt-builder", "retrieval-router",
                             "llm-gateway" };
    signal (SIGPIPE, SIG_IGN);
    str_copy (s_tmp, sizeof s_tmp, "/tmp/gw_api_XXXXXX");
    if (!mkdtemp (s_tmp))
        return 1;
    snprintf (s_run, sizeof s_run, "%s/run", s_tmp);
    snprintf (s_data, sizeof s_data, "%s/data", s_tmp);
    mkdir (s_run, 0700);
    mkdir (s_data, 0700);
    char p[600];
    snprintf (p, sizeof p, "%s/static", s_tmp);
    mkdir (p, 0700);
    snprintf (p, sizeof p, "%s/static/sub", s_tmp);
    mkdir (p, 0700);
    s_write_file ("static/index.html", "<!doctype html><title>copilot-test-index</title>\n");
    s_write_file ("static/app.js", "console.log(1)\n");
    s_write_file ("static/sub/index.html", "sub-index\n");
    s_write_file ("static/sub/style.css", "body{}\n");
    s_write_file ("static/.hidden", "TOP-SECRET hidden\n");
    s_write_file ("secret.txt", "TOP-SECRET\n");
    char target[600];
    snprintf (p, sizeof p, "%s/static/link-out", s_tmp);
    snprintf (target, sizeof target, "%s/secret.txt", s_tmp);
    if (symlink (target, p) != 0)
        perror ("symlink");
    snprintf (p, sizeof p, "%s/static/escape", s_tmp);
    if (symlink ("..", p) != 0)
        perror ("symlink");
    /* A private copy of the fixture for the daemons. */
    char db[600], cmd[1400];
    snprintf (db, sizeof db, "%s/usage.db", s_tmp);
    snprintf (cmd, sizeof cmd, "cp '%s' '%s'", fixture, db);
    bool have_db = access (fixture, R_OK) == 0 && system (cmd) == 0;

    /* The event bus's SUB side, bound by the test. */
    void *zctx = zmq_ctx_new ();
    char ep[400];
    snprintf (ep, sizeof ep, "@ipc://%s/bus-sub.sock", s_run);
    pubsub_pub_t *pub = pubsub_pub_new (zctx, ep, "gw-test");
    CHECK (pub != NULL, "bind bus endpoint %s", ep);

    proc_t daemons[5], stall, g, g2;
    memset (daemons, 0, sizeof daemons);
    memset (&stall, 0, sizeof stall);
    memset (&g, 0, sizeof g);
    memset (&g2, 0, sizeof g2);
    have_t have = { false, false, false, false, false };
    printf ("backends available:");
    for (int i = 0; i < 5; i++)
        printf (" %s=%s", names[i], s_exists (bins[i]) ? "yes" : "no");
    printf ("\n");
    bool *hv[5] = { &have.report, &have.graph, &have.prompt, &have.search, &have.llm };
    for (int i = 0; i < 5; i++) {
        if (!s_exists (bins[i]) || !have_db)
            continue;
        char set_db[700];
        snprintf (set_db, sizeof set_db, "db.path=%s", db);
        /* A short retrieval timeout keeps the "backend missing" path fast (no
         * router runs here); report-service and graph-service do run, and a
         * cold RunReport under ASan on a loaded machine can take seconds. */
        char *av[] = { (char *) bins[i], "--set", set_db, "--set", "prompt_builder.report_timeout_ms=15000",
                       "--set", "prompt_builder.graph_timeout_ms=5000", "--set",
                       "prompt_builder.retrieval_timeout_ms=500", NULL };
        if (s_spawn (&daemons[i], names[i], av) == 0) {
            char line[256];
            *hv[i] = s_wait_line (&daemons[i], "READY ", line, sizeof line, 20000) == 0;
            CHECK (*hv[i], "%s did not become ready", names[i]);
        }
    }
    char *stall_av[] = { argv[2], NULL };
    CHECK (s_spawn (&stall, "gw-stall", stall_av) == 0, "spawn gw-stall");
    char line[256];
    CHECK (s_wait_line (&stall, "READY ", line, sizeof line, 10000) == 0, "gw-stall ready");

    int port = 0, port2 = 0;
    char *g_extra[] = { "gateway.commentary_timeout_ms=400", "sse.client_queue_bytes=65536", NULL };
    if (s_start_gateway (&g, "gateway", argv[1], g_extra, &port) != 0) {
        CHECK (0, "gateway did not start");
        s_dump_log (&g);
        goto out;
    }
    char tokfile[600];
    snprintf (tokfile, sizeof tokfile, "%s/gateway/admin.token", s_data);
    CHECK (s_read_token (tokfile, s_admin, sizeof s_admin) == 0, "admin token file");
    snprintf (tokfile, sizeof tokfile, "%s/gateway/viewer.token", s_data);
    CHECK (s_read_token (tokfile, s_viewer, sizeof s_viewer) == 0, "viewer token file");
    CHECK (strstr (g.out, "LOCAL-TOKEN admin=") && strstr (g.out, s_admin), "first start prints the token");
    snprintf (s_auth_admin, sizeof s_auth_admin, "Authorization: Bearer %s\r\n", s_admin);
    snprintf (s_auth_viewer, sizeof s_auth_viewer, "Authorization: Bearer %s\r\n", s_viewer);
    s_port = port;

    t_basic ();
    t_static ();
    t_auth ();
    t_input ();
    t_limits ();
    t_keepalive ();
    t_max_connections (24);
    t_sse (pub, have);
    t_backends (have);
    t_report_cache (pub, have);

    /* G2: backends that stall or never run; it reuses the tokens (second
     * start: the token is not printed again). */
    char *g2_extra[] = { "gateway.report_service=gw-stall", "gateway.graph_service=gw-stall",
                         "gateway.prompt_service=gw-stall", "gateway.search_service=gw-missing",
                         "gateway.backends=gw-stall,gw-missing",
                         "gateway.report_timeout_ms=300", "gateway.graph_timeout_ms=300",
                         "gateway.explain_timeout_ms=300", "gateway.commentary_timeout_ms=300",
                         "gateway.search_timeout_ms=300", NULL };
    if (s_start_gateway (&g2, "gateway2", argv[1], g2_extra, &port2) != 0) {
        CHECK (0, "gateway 2 did not start");
        s_dump_log (&g2);
        goto out;
    }
    CHECK (strstr (g2.out, "LOCAL-TOKEN file=") && !strstr (g2.out, s_admin), "token not printed twice");
    s_port = port2;
    t_deadlines ();
    bool g2_clean = s_log_clean (&g2);
    t_drain (&g2);
    CHECK (g2_clean && s_log_clean (&g2), "gateway2 sanitizer log");
    s_port = port;
    s_alive ("everything");

out:;
    proc_t *all[] = { &g, &g2, &stall, &daemons[0], &daemons[1], &daemons[2], &daemons[3], &daemons[4] };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        if (all[i]->pid <= 0)
            continue;
        int rc = s_stop (all[i], 10000);
        CHECK (rc == 0, "%s exit code %d after SIGTERM", all[i]->name, rc);
        bool clean = s_log_clean (all[i]);
        CHECK (clean, "%s: sanitizer report in its log", all[i]->name);
        if (rc != 0 || !clean || s_fail)
            s_dump_log (all[i]);
    }
    pubsub_pub_destroy (&pub);
    zmq_ctx_term (zctx);
    if (s_fail == 0) {
        snprintf (cmd, sizeof cmd, "rm -rf '%s'", s_tmp);
        if (system (cmd) != 0)
            fprintf (stderr, "could not remove %s\n", s_tmp);
    } else {
        fprintf (stderr, "kept %s for inspection\n", s_tmp);
    }
    printf ("%d passed, %d failed\n", s_pass, s_fail);
    return s_fail ? 1 : 0;
}
