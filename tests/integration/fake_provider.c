/* fake_provider.c — a real HTTP/1.1 server on loopback that speaks the
 * OpenAI chat-completions wire format (plain JSON and SSE streaming), with
 * scripted faults, for llm-gateway tests (and anyone else's).
 *
 * Usage: fake-provider [--port N] [--require-key KEY]
 *   Prints "READY port=<n>" on stdout once listening (port 0 = any free port).
 *   POST .../chat/completions   the completion API
 *   GET  /__stats               {"requests":N,"by_model":{...},"last":{...},
 *                               "inflight":N,"max_inflight":N} (completion
 *                               requests being answered now / at most at once)
 *
 * Fault script: the request's "model" is "fake/<step>+<step>+...[#tag]".
 * The n-th request for one exact model string plays step n; after the last
 * step, the last step repeats. Any other model name plays "ok". Steps:
 *   ok            200 with the answer (streamed as SSE when "stream": true)
 *   nousage       like ok, without a usage object
 *   429 | 429raN  429 with Retry-After: N seconds (default 1)
 *   429msN        429 with retry-after-ms: N
 *   500 | 503 | 400 | 401   that status with an OpenAI-style error body
 *   echokey       401 whose error message repeats the Authorization header
 *   timeout       accept, then send nothing for 30 s (or until the client goes)
 *   malformed     200 with a body that is not JSON
 *   empty         200 with "choices": []
 *   drop          plain: promises 1000 bytes, sends a few, closes;
 *                 stream: sends one chunk, then closes (no [DONE])
 *   slow | slowN  stream with N ms (default 100) between chunks
 *   stall         stream one chunk, then nothing for 30 s
 *   big           200 with a 3 MiB answer
 * Answer text: the rest of the line after "FAKE_ANSWER: " in the user
 * message, or the hex-decoded rest of the line after "FAKE_ANSWER_HEX: "
 * (so the answer's figures are not in the prompt, for grounding tests);
 * otherwise "Fake answer: " + the user message's first line.
 *
 * Design: one accept loop, one detached thread per connection, one request
 * per connection (Connection: close), TCP_NODELAY on every socket (the
 * Nagle pitfall of c-patterns §4.5). Counters under a mutex.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HDR_MAX (64 * 1024)
#define BODY_MAX (8 * 1024 * 1024)

static pthread_mutex_t s_mu = PTHREAD_MUTEX_INITIALIZER;
static json_t *s_counts;      /* model -> count */
static long s_requests;
static long s_inflight, s_max_inflight;
static json_t *s_last;        /* last request summary */
static const char *s_require_key;

static void
s_sleep_ms (long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep (&ts, &ts) != 0 && errno == EINTR)
        ;
}

static int
s_send_all (int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send (fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t) w;
    }
    return 0;
}

static int
s_sendf (int fd, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));
static int
s_sendf (int fd, const char *fmt, ...)
{
    char tmp[4096];
    va_list ap;
    va_start (ap, fmt);
    int n = vsnprintf (tmp, sizeof tmp, fmt, ap);
    va_end (ap);
    if (n < 0 || (size_t) n >= sizeof tmp)
        return -1;
    return s_send_all (fd, tmp, (size_t) n);
}

/* Waits up to ms, returning early when the peer closed the connection. */
static void
s_wait_or_close (int fd, long ms)
{
    long waited = 0;
    while (waited < ms) {
        struct pollfd p = { fd, POLLIN, 0 };
        int r = poll (&p, 1, 100);
        if (r > 0) {
            char c;
            ssize_t k = recv (fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
            if (k == 0 || (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
                return;
            if (k > 0) {
                char sink[512];
                if (recv (fd, sink, sizeof sink, MSG_DONTWAIT) <= 0)
                    return;
            }
        }
        waited += 100;
    }
}

static void
s_respond_json (int fd, int status, const char *reason, const char *extra_hdr, const char *body)
{
    s_sendf (fd, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n%sConnection: close\r\n\r\n",
             status, reason, strlen (body), extra_hdr ? extra_hdr : "");
    s_send_all (fd, body, strlen (body));
}

static void
s_error (int fd, int status, const char *reason, const char *extra_hdr, const char *message)
{
    json_t *e = json_pack ("{s:{s:s, s:s}}", "error", "message", message, "type", "fake_error");
    char *b = json_dumps (e, JSON_COMPACT);
    s_respond_json (fd, status, reason, extra_hdr, b ? b : "{}");
    free (b);
    json_decref (e);
}

/* The step for this request, as a malloc'd string. */
static char *
s_step (const char *model, long *nth_out)
{
    pthread_mutex_lock (&s_mu);
    json_t *c = json_object_get (s_counts, model);
    long n = c ? (long) json_integer_value (c) : 0;
    json_object_set_new (s_counts, model, json_integer (n + 1));
    s_requests++;
    pthread_mutex_unlock (&s_mu);
    *nth_out = n;
    if (strncmp (model, "fake/", 5) != 0)
        return strdup ("ok");
    char script[256];
    snprintf (script, sizeof script, "%s", model + 5);
    char *hash = strchr (script, '#');
    if (hash)
        *hash = '\0';
    char *steps[32];
    int ns = 0;
    char *save = NULL;
    for (char *t = strtok_r (script, "+", &save); t && ns < 32; t = strtok_r (NULL, "+", &save))
        steps[ns++] = t;
    if (ns == 0)
        return strdup ("ok");
    return strdup (steps[n < ns ? n : ns - 1]);
}

static int
s_hexval (char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static char *
s_answer_for (const char *user)
{
    const char *p = strstr (user, "FAKE_ANSWER_HEX: ");
    if (p) {
        p += 17;
        size_t n = strcspn (p, "\n");
        char *out = malloc (n / 2 + 1);
        size_t o = 0;
        for (size_t i = 0; out && i + 1 < n; i += 2) {
            int hi = s_hexval (p[i]), lo = s_hexval (p[i + 1]);
            if (hi < 0 || lo < 0)
                break;
            out[o++] = (char) (hi * 16 + lo);
        }
        if (out)
            out[o] = '\0';
        return out;
    }
    p = strstr (user, "FAKE_ANSWER: ");
    if (p) {
        p += 13;
        size_t n = strcspn (p, "\n");
        return strndup (p, n);
    }
    size_t n = strcspn (user, "\n");
    if (n > 200)
        n = 200;
    char *out = malloc (n + 16);
    if (out)
        snprintf (out, n + 16, "Fake answer: %.*s", (int) n, user);
    return out;
}

static void
s_chunk (int fd, const char *model, const char *content, const char *finish)
{
    json_t *delta = content ? json_pack ("{s:s}", "content", content) : json_object ();
    json_t *c = json_pack ("{s:s, s:s, s:s, s:[{s:i, s:o, s:o}]}", "id", "fake-1", "object", "chat.completion.chunk",
                           "model", model, "choices", "index", 0, "delta", delta, "finish_reason",
                           finish ? json_string (finish) : json_null ());
    char *b = json_dumps (c, JSON_COMPACT);
    s_sendf (fd, "data: %s\n\n", b);
    free (b);
    json_decref (c);
}

static void
s_handle (int fd, const char *path, const char *auth, json_t *req)
{
    if (strstr (path, "/chat/completions") == NULL) {
        s_error (fd, 404, "Not Found", NULL, "unknown path");
        return;
    }
    if (s_require_key) {
        char want[512];
        snprintf (want, sizeof want, "Bearer %s", s_require_key);
        if (auth == NULL || strcmp (auth, want) != 0) {
            s_error (fd, 401, "Unauthorized", NULL, "missing or wrong API key");
            return;
        }
    }
    const char *model = json_string_value (json_object_get (req, "model"));
    if (model == NULL) {
        s_error (fd, 400, "Bad Request", NULL, "model is required");
        return;
    }
    bool stream = json_is_true (json_object_get (req, "stream"));
    bool usage_in_stream = json_is_true (json_object_get (json_object_get (req, "stream_options"), "include_usage"));
    json_t *msgs = json_object_get (req, "messages");
    const char *user = "", *system = "";
    size_t i;
    json_t *m;
    json_array_foreach (msgs, i, m)
    {
        const char *role = json_string_value (json_object_get (m, "role"));
        const char *content = json_string_value (json_object_get (m, "content"));
        if (role && content && strcmp (role, "user") == 0)
            user = content;
        if (role && content && strcmp (role, "system") == 0)
            system = content;
    }
    long nth;
    char *step = s_step (model, &nth);
    pthread_mutex_lock (&s_mu);
    json_decref (s_last);
    s_last = json_pack ("{s:s, s:b, s:O?, s:O?, s:b, s:s, s:i}", "model", model, "stream", stream, "temperature",
                        json_object_get (req, "temperature"), "max_tokens", json_object_get (req, "max_tokens"),
                        "auth_present", auth != NULL, "step", step, "nth", (int) nth);
    pthread_mutex_unlock (&s_mu);

    char hdr[128];
    if (strncmp (step, "429", 3) == 0) {
        if (strncmp (step + 3, "ms", 2) == 0)
            snprintf (hdr, sizeof hdr, "retry-after-ms: %s\r\n", step + 5);
        else
            snprintf (hdr, sizeof hdr, "Retry-After: %s\r\n", strncmp (step + 3, "ra", 2) == 0 ? step + 5 : "1");
        s_error (fd, 429, "Too Many Requests", hdr, "rate limited (fake)");
    }
    else if (strcmp (step, "500") == 0)
        s_error (fd, 500, "Internal Server Error", NULL, "internal error (fake)");
    else if (strcmp (step, "503") == 0)
        s_error (fd, 503, "Service Unavailable", NULL, "overloaded (fake)");
    else if (strcmp (step, "400") == 0)
        s_error (fd, 400, "Bad Request", NULL, "bad request (fake)");
    else if (strcmp (step, "401") == 0)
        s_error (fd, 401, "Unauthorized", NULL, "invalid key (fake)");
    else if (strcmp (step, "echokey") == 0) {
        char msg[600];
        snprintf (msg, sizeof msg, "Incorrect API key provided: %s", auth ? auth : "(none)");
        s_error (fd, 401, "Unauthorized", NULL, msg);
    }
    else if (strcmp (step, "timeout") == 0)
        s_wait_or_close (fd, 30000);
    else if (strcmp (step, "malformed") == 0)
        s_respond_json (fd, 200, "OK", NULL, "{\"choices\": [{\"message\": {\"content\": \"trunc");
    else if (strcmp (step, "empty") == 0)
        s_respond_json (fd, 200, "OK", NULL, "{\"id\":\"fake-1\",\"object\":\"chat.completion\",\"choices\":[]}");
    else if (strcmp (step, "big") == 0) {
        static const char head[] = "{\"choices\":[{\"message\":{\"content\":\"";
        static const char tail[] = "\"}}]}";
        size_t n = 3 * 1024 * 1024;
        s_sendf (fd, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                 strlen (head) + n + strlen (tail));
        s_send_all (fd, head, strlen (head));
        char blk[4096];
        memset (blk, 'x', sizeof blk);
        for (size_t sent = 0; sent < n; sent += sizeof blk)
            if (s_send_all (fd, blk, sizeof blk) != 0)
                break;
        s_send_all (fd, tail, strlen (tail));
    }
    else if (strcmp (step, "drop") == 0 && !stream) {
        s_sendf (fd, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n");
        s_send_all (fd, "{\"choices\":[", 12);
    }
    else {
        char *answer = s_answer_for (user);
        bool with_usage = strcmp (step, "nousage") != 0;
        int tin = (int) ((strlen (system) + strlen (user) + 3) / 4), tout = (int) ((strlen (answer) + 3) / 4);
        if (!stream) {
            json_t *r = json_pack ("{s:s, s:s, s:s, s:[{s:i, s:{s:s, s:s}, s:s}]}", "id", "fake-1", "object",
                                   "chat.completion", "model", model, "choices", "index", 0, "message", "role",
                                   "assistant", "content", answer, "finish_reason", "stop");
            if (with_usage)
                json_object_set_new (r, "usage", json_pack ("{s:i, s:i, s:i}", "prompt_tokens", tin,
                                                            "completion_tokens", tout, "total_tokens", tin + tout));
            char *b = json_dumps (r, JSON_COMPACT);
            s_respond_json (fd, 200, "OK", NULL, b);
            free (b);
            json_decref (r);
        }
        else {
            long gap = 0;
            if (strncmp (step, "slow", 4) == 0)
                gap = step[4] ? strtol (step + 4, NULL, 10) : 100;
            s_sendf (fd, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nConnection: "
                         "close\r\n\r\n");
            s_send_all (fd, ": fake stream\n\n", 15);
            /* Split the answer into up to 4 pieces at spaces. */
            size_t len = strlen (answer), pos = 0;
            int piece = 0;
            while (pos < len) {
                size_t want = len / 4 + 1, end = pos + want < len ? pos + want : len;
                while (end < len && answer[end] != ' ')
                    end++;
                char *part = strndup (answer + pos, end - pos);
                s_chunk (fd, model, part, NULL);
                free (part);
                pos = end;
                piece++;
                if (strcmp (step, "drop") == 0)
                    goto out;
                if (strcmp (step, "stall") == 0) {
                    s_wait_or_close (fd, 30000);
                    goto out;
                }
                if (gap > 0)
                    s_sleep_ms (gap);
            }
            s_chunk (fd, model, NULL, "stop");
            if (usage_in_stream && with_usage) {
                char u[200];
                snprintf (u, sizeof u,
                          "data: {\"id\":\"fake-1\",\"object\":\"chat.completion.chunk\",\"model\":\"%s\",\"choices\":[],"
                          "\"usage\":{\"prompt_tokens\":%d,\"completion_tokens\":%d,\"total_tokens\":%d}}\n\n",
                          model, tin, tout, tin + tout);
                s_send_all (fd, u, strlen (u));
            }
            s_send_all (fd, "data: [DONE]\n\n", 14);
        }
    out:
        free (answer);
    }
    free (step);
}

static void
s_stats (int fd)
{
    pthread_mutex_lock (&s_mu);
    json_t *r = json_pack ("{s:I, s:O, s:O?, s:I, s:I}", "requests", (json_int_t) s_requests, "by_model", s_counts, "last",
                           s_last, "inflight", (json_int_t) s_inflight, "max_inflight", (json_int_t) s_max_inflight);
    pthread_mutex_unlock (&s_mu);
    char *b = json_dumps (r, JSON_COMPACT | JSON_SORT_KEYS);
    s_respond_json (fd, 200, "OK", NULL, b ? b : "{}");
    free (b);
    json_decref (r);
}

static void *
s_conn (void *arg)
{
    int fd = (int) (intptr_t) arg;
    char *buf = malloc (HDR_MAX + 1);
    size_t have = 0;
    char *body_start = NULL;
    while (buf && have < HDR_MAX) {
        ssize_t r = recv (fd, buf + have, HDR_MAX - have, 0);
        if (r <= 0)
            goto done;
        have += (size_t) r;
        buf[have] = '\0';
        if ((body_start = strstr (buf, "\r\n\r\n")) != NULL)
            break;
    }
    if (body_start == NULL)
        goto done;
    *body_start = '\0';
    body_start += 4;
    char method[16] = "", path[512] = "";
    char *sp1 = strchr (buf, ' ');
    char *sp2 = sp1 ? strchr (sp1 + 1, ' ') : NULL;
    if (!sp1 || !sp2 || (size_t) (sp1 - buf) >= sizeof method || (size_t) (sp2 - sp1 - 1) >= sizeof path)
        goto done;
    memcpy (method, buf, (size_t) (sp1 - buf));
    memcpy (path, sp1 + 1, (size_t) (sp2 - sp1 - 1));
    long clen = 0;
    char auth[600] = "";
    bool has_auth = false;
    for (char *line = strstr (buf, "\r\n"); line; line = strstr (line + 2, "\r\n")) {
        char *l = line + 2;
        if (strncasecmp (l, "Content-Length:", 15) == 0)
            clen = strtol (l + 15, NULL, 10);
        else if (strncasecmp (l, "Authorization:", 14) == 0) {
            char *v = l + 14;
            while (*v == ' ')
                v++;
            size_t n = strcspn (v, "\r");
            if (n >= sizeof auth)
                n = sizeof auth - 1;
            memcpy (auth, v, n);
            auth[n] = '\0';
            has_auth = true;
        }
    }
    if (strcmp (method, "GET") == 0 && strcmp (path, "/__stats") == 0) {
        s_stats (fd);
        goto done;
    }
    if (clen < 0 || clen > BODY_MAX) {
        s_error (fd, 413, "Payload Too Large", NULL, "body too large");
        goto done;
    }
    char *body = malloc ((size_t) clen + 1);
    size_t got = have - (size_t) (body_start - buf);
    if (got > (size_t) clen)
        got = (size_t) clen;
    memcpy (body, body_start, got);
    while (got < (size_t) clen) {
        ssize_t r = recv (fd, body + got, (size_t) clen - got, 0);
        if (r <= 0) {
            free (body);
            goto done;
        }
        got += (size_t) r;
    }
    body[clen] = '\0';
    json_error_t je;
    json_t *req = json_loads (body, 0, &je);
    free (body);
    if (req == NULL || strcmp (method, "POST") != 0)
        s_error (fd, 400, "Bad Request", NULL, "expected a POST with a JSON body");
    else {
        pthread_mutex_lock (&s_mu);
        if (++s_inflight > s_max_inflight)
            s_max_inflight = s_inflight;
        pthread_mutex_unlock (&s_mu);
        s_handle (fd, path, has_auth ? auth : NULL, req);
        pthread_mutex_lock (&s_mu);
        s_inflight--;
        pthread_mutex_unlock (&s_mu);
    }
    json_decref (req);
done:
    free (buf);
    shutdown (fd, SHUT_WR);
    close (fd);
    return NULL;
}

int
main (int argc, char **argv)
{
    int port = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp (argv[i], "--port") == 0 && i + 1 < argc)
            port = (int) strtol (argv[++i], NULL, 10);
        else if (strcmp (argv[i], "--require-key") == 0 && i + 1 < argc)
            s_require_key = argv[++i];
        else {
            fprintf (stderr, "usage: fake-provider [--port N] [--require-key KEY]\n");
            return 2;
        }
    }
    signal (SIGPIPE, SIG_IGN);
    s_counts = json_object ();
    int ls = socket (AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt (ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = { 0 };
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    a.sin_port = htons ((uint16_t) port);
    if (bind (ls, (struct sockaddr *) &a, sizeof a) != 0 || listen (ls, 64) != 0) {
        perror ("fake-provider: bind/listen");
        return 1;
    }
    socklen_t al = sizeof a;
    getsockname (ls, (struct sockaddr *) &a, &al);
    printf ("READY port=%d\n", ntohs (a.sin_port));
    fflush (stdout);
    for (;;) {
        int fd = accept (ls, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR)
                continue;
            perror ("fake-provider: accept");
            return 1;
        }
        setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        pthread_t t;
        if (pthread_create (&t, NULL, s_conn, (void *) (intptr_t) fd) != 0) {
            close (fd);
            continue;
        }
        pthread_detach (t);
    }
}
