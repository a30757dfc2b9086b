/* test_openai_embed.c — the OpenAI-compatible embeddings client (rt_openai.c)
 * against a real loopback HTTP server speaking POST /v1/embeddings.
 *
 * The server is a small HTTP/1.1 server on 127.0.0.1:0 in a thread of this
 * process (one connection at a time, Connection: close). It answers
 * {"object":"list","data":[{"object":"embedding","index":i,"embedding":[...]}],
 *  "model":M,"usage":{...}} with a deterministic hashed bag-of-words vector
 * per input, records every request (path, Authorization, Content-Type,
 * model, number of inputs) and plays scripted faults: a status sequence
 * (401 / 429 / 500, with or without Retry-After), a delay longer than the
 * client's timeout, reversed item order, a repeated index, another
 * dimension.
 *
 * Then `copilot index --embedder openai` (a real child process, configured
 * through COPILOT_RETRIEVAL_* variables) builds the fixture index through
 * the server and `copilot search` finds documents with it; a later change of
 * the provider's dimension and a mismatching retrieval.dim or embedder are
 * clear errors.
 *
 * Usage: test_openai_embed <copilot binary> <fixture db>
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "rt.h"
#include "str.h"

#include "it_files.h"
#include "it_http.h"

extern char **environ;

#define MAX_REQ 256
#define KEY "sk-test-0123456789abcdef"
#define MODEL "fake-embed-1"

typedef struct {
    ith_server_t http; /* socket, accept thread, mutex for the fields below */
    /* recorded */
    int n;
    char path[MAX_REQ][64];
    int ninputs[MAX_REQ];
    char auth[256];
    char ctype[128];
    char model[128];
    char first_input[256];
    /* behaviour */
    int dim;
    bool reverse;
    bool dup_index;
    int script[8];      /* statuses to play, then 200 */
    int nscript, pos;
    char retry_after[32];
    int sleep_ms;
} srv_t;

static srv_t *s_srv;
static const char *s_copilot, *s_fixture;
static char s_tmp[256];

/* Hashed bag of words: lower-cased alphanumeric runs into dim-1 buckets,
 * plus a constant component so no vector is zero. */
static void
s_hash_embed (const char *t, int dim, double *v)
{
    memset (v, 0, sizeof (double) * (size_t) dim);
    v[0] = 0.5;
    uint64_t h = 1469598103934665603ULL;
    size_t wl = 0;
    for (const char *p = t;; p++) {
        char c = *p;
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (alnum) {
            if (c >= 'A' && c <= 'Z')
                c = (char) (c - 'A' + 'a');
            h = (h ^ (unsigned char) c) * 1099511628211ULL;
            wl++;
        } else {
            if (wl > 0)
                v[1 + (int) (h % (uint64_t) (dim - 1))] += 1.0;
            h = 1469598103934665603ULL;
            wl = 0;
        }
        if (!c)
            break;
    }
}

static void
s_send_all (int fd, const char *d, size_t n)
{
    while (n > 0) {
        ssize_t w = send (fd, d, n, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        d += w;
        n -= (size_t) w;
    }
}

static void
s_reply (int fd, int status, const char *extra, const char *body)
{
    const char *reason = status == 200 ? "OK" : status == 401 ? "Unauthorized" : status == 429 ? "Too Many Requests"
                       : status == 404 ? "Not Found" : "Internal Server Error";
    char head[512];
    str_fmt (head, sizeof head,
             "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
             "Connection: close\r\n%s\r\n",
             status, reason, strlen (body), extra ? extra : "");
    s_send_all (fd, head, strlen (head));
    s_send_all (fd, body, strlen (body));
}

static void
s_serve (void *arg, int fd)
{
    srv_t *s = arg;
    buf_t *req = buf_new (16u << 20);
    char tmp[65536];
    size_t hend = 0, clen = 0;
    bool have_head = false;
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll (&p, 1, 5000) <= 0)
            goto out;
        ssize_t r = read (fd, tmp, sizeof tmp);
        if (r <= 0)
            goto out;
        if (buf_append (req, tmp, (size_t) r) != 0)
            goto out;
        const char *d = buf_data (req);
        if (!have_head) {
            const char *e = strstr (d, "\r\n\r\n");
            if (!e)
                continue;
            have_head = true;
            hend = (size_t) (e - d) + 4;
            const char *cl = str_icontains (d, "\r\nContent-Length:");
            if (cl && cl < e) {
                char *end = NULL;
                clen = (size_t) strtoul (cl + 17, &end, 10);
            }
        }
        if (buf_len (req) >= hend + clen)
            break;
    }
    const char *d = buf_data (req);
    char path[64] = "";
    const char *sp = strchr (d, ' ');
    if (sp) {
        const char *e = strchr (sp + 1, ' ');
        if (e && (size_t) (e - sp - 1) < sizeof path) {
            memcpy (path, sp + 1, (size_t) (e - sp - 1));
            path[e - sp - 1] = '\0';
        }
    }
    json_error_t jerr;
    json_t *body = json_loadb (d + hend, clen, 0, &jerr);
    json_t *input = body ? json_object_get (body, "input") : NULL;
    const char *model = body ? json_string_value (json_object_get (body, "model")) : NULL;

    pthread_mutex_lock (&s->http.mu);
    int idx = s->n;
    if (s->n < MAX_REQ) {
        str_copy (s->path[idx], sizeof s->path[idx], path);
        s->ninputs[idx] = json_is_array (input) ? (int) json_array_size (input) : -1;
        s->n++;
    }
    const char *hdr_end = d + hend;
    const char *au = str_icontains (d, "\r\nAuthorization: ");
    if (au && au < hdr_end) {
        const char *e = strstr (au + 2, "\r\n");
        str_fmt (s->auth, sizeof s->auth, "%.*s", (int) (e - au - 17), au + 17);
    } else {
        s->auth[0] = '\0';
    }
    const char *ct = str_icontains (d, "\r\nContent-Type: ");
    if (ct && ct < hdr_end) {
        const char *e = strstr (ct + 2, "\r\n");
        str_fmt (s->ctype, sizeof s->ctype, "%.*s", (int) (e - ct - 16), ct + 16);
    }
    str_copy (s->model, sizeof s->model, model ? model : "");
    if (json_is_array (input) && json_array_size (input) > 0)
        str_fmt (s->first_input, sizeof s->first_input, "%.200s",
                 json_string_value (json_array_get (input, 0)) ? json_string_value (json_array_get (input, 0)) : "");
    int status = s->pos < s->nscript ? s->script[s->pos++] : 200;
    int dim = s->dim, sleep_ms = s->sleep_ms;
    bool reverse = s->reverse, dup = s->dup_index;
    char retry_after[32];
    str_copy (retry_after, sizeof retry_after, s->retry_after);
    pthread_mutex_unlock (&s->http.mu);

    if (sleep_ms > 0)
        clock_sleep_ms (sleep_ms);
    if (strcmp (path, "/v1/embeddings") != 0) {
        s_reply (fd, 404, NULL, "{\"error\":{\"message\":\"no such route\"}}");
    } else if (status == 401) {
        /* real providers echo part of the key; the client must not repeat it */
        s_reply (fd, 401, NULL, "{\"error\":{\"message\":\"Incorrect API key provided: " KEY "\","
                                "\"type\":\"invalid_request_error\",\"code\":\"invalid_api_key\"}}");
    } else if (status == 429) {
        char extra[64] = "";
        if (retry_after[0])
            str_fmt (extra, sizeof extra, "Retry-After: %s\r\n", retry_after);
        s_reply (fd, 429, extra, "{\"error\":{\"message\":\"Rate limit reached for requests\",\"type\":\"requests\"}}");
    } else if (status != 200) {
        s_reply (fd, status, NULL, "{\"error\":{\"message\":\"The server had an error processing your request\"}}");
    } else if (!json_is_array (input) || !model) {
        s_reply (fd, 400, NULL, "{\"error\":{\"message\":\"input must be an array\"}}");
    } else {
        size_t n = json_array_size (input);
        json_t *data = json_array ();
        double *v = malloc (sizeof (double) * (size_t) dim);
        size_t tokens = 0;
        for (size_t k = 0; k < n; k++) {
            size_t i = reverse ? n - 1 - k : k;
            const char *t = json_string_value (json_array_get (input, i));
            s_hash_embed (t ? t : "", dim, v);
            tokens += t ? strlen (t) / 4 + 1 : 1;
            json_t *e = json_array ();
            for (int j = 0; j < dim; j++)
                json_array_append_new (e, json_real (v[j]));
            json_array_append_new (data, json_pack ("{s:s, s:I, s:o}", "object", "embedding", "index",
                                                    (json_int_t) (dup ? 0 : i), "embedding", e));
        }
        free (v);
        json_t *reply = json_pack ("{s:s, s:o, s:s, s:{s:I, s:I}}", "object", "list", "data", data, "model",
                                   model, "usage", "prompt_tokens", (json_int_t) tokens, "total_tokens",
                                   (json_int_t) tokens);
        char *txt = json_dumps (reply, JSON_COMPACT);
        s_reply (fd, 200, NULL, txt);
        free (txt);
        json_decref (reply);
    }
    json_decref (body);
out:
    buf_destroy (&req);
}

static srv_t *
s_server_start (void)
{
    srv_t *s = calloc (1, sizeof *s);
    assert_non_null (s);
    s->dim = 8;
    assert_int_equal (ith_start (&s->http, s_serve, s), 0);
    return s;
}

static void
s_server_stop (srv_t **sp)
{
    ith_stop (&(*sp)->http);
    free (*sp);
    *sp = NULL;
}

/* Resets the script and counters; dim and flags as given. */
static void
s_script (srv_t *s, int dim, const int *statuses, int n, const char *retry_after, int sleep_ms)
{
    pthread_mutex_lock (&s->http.mu);
    s->dim = dim;
    s->reverse = false;
    s->dup_index = false;
    s->nscript = n;
    s->pos = 0;
    for (int i = 0; i < n; i++)
        s->script[i] = statuses[i];
    str_copy (s->retry_after, sizeof s->retry_after, retry_after ? retry_after : "");
    s->sleep_ms = sleep_ms;
    s->n = 0;
    pthread_mutex_unlock (&s->http.mu);
}

static int
s_nreq (srv_t *s)
{
    pthread_mutex_lock (&s->http.mu);
    int n = s->n;
    pthread_mutex_unlock (&s->http.mu);
    return n;
}

static rt_embedder_t *
s_client (int dim, int batch, int timeout_ms)
{
    char base[128];
    str_fmt (base, sizeof base, "http://127.0.0.1:%d/v1/", s_srv->http.port); /* trailing '/' is fine */
    rt_openai_opts_t o = {.base_url = base, .api_key = KEY, .model = MODEL, .dim = dim, .batch = batch,
                          .timeout_ms = timeout_ms, .retry_base_ms = 10};
    rt_embedder_t *e = rt_embedder_openai_new (&o);
    assert_non_null (e);
    return e;
}

/* ---------------------------------------------------------------- tests */

static void
test_request_batching_order (void **state)
{
    (void) state;
    s_script (s_srv, 8, NULL, 0, NULL, 0);
    rt_embedder_t *e = s_client (0, 3, 5000);
    assert_int_equal (rt_embedder_dim (e), 0);
    assert_string_equal (rt_embedder_name (e), "openai:" MODEL);
    /* the dimension is learnt from one probe request */
    assert_int_equal (rt_embedder_prepare (e), RT_OK);
    assert_int_equal (rt_embedder_dim (e), 8);
    assert_int_equal (s_nreq (s_srv), 1);
    pthread_mutex_lock (&s_srv->http.mu);
    assert_string_equal (s_srv->path[0], "/v1/embeddings");
    assert_string_equal (s_srv->auth, "Bearer " KEY);
    assert_string_equal (s_srv->ctype, "application/json");
    assert_string_equal (s_srv->model, MODEL);
    assert_int_equal (s_srv->ninputs[0], 1);
    s_srv->n = 0;
    s_srv->reverse = true; /* the reply lists items last to first */
    pthread_mutex_unlock (&s_srv->http.mu);

    const char *texts[7] = {"spot instances and evictions", "autoscaling workers", "",
                            "photon vectorized engine", "sql warehouse auto stop",
                            "instance pools keep idle machines", "dbu pricing per sku"};
    float out[7 * 8];
    assert_int_equal (rt_embedder_embed (e, texts, 7, out), RT_OK);
    /* batches of 3: 3 + 3 + 1 inputs, in order */
    pthread_mutex_lock (&s_srv->http.mu);
    assert_int_equal (s_srv->n, 3);
    assert_int_equal (s_srv->ninputs[0], 3);
    assert_int_equal (s_srv->ninputs[1], 3);
    assert_int_equal (s_srv->ninputs[2], 1);
    assert_string_equal (s_srv->first_input, "dbu pricing per sku");
    pthread_mutex_unlock (&s_srv->http.mu);
    /* every vector is the (normalised) embedding of ITS text: the order was
     * restored by "index" */
    for (int i = 0; i < 7; i++) {
        double v[8], norm = 0;
        s_hash_embed (texts[i][0] ? texts[i] : " ", 8, v);
        for (int j = 0; j < 8; j++)
            norm += v[j] * v[j];
        norm = sqrt (norm);
        for (int j = 0; j < 8; j++)
            assert_true (fabs (out[i * 8 + j] - v[j] / norm) < 1e-5);
    }
    /* a reply that repeats an index is malformed */
    pthread_mutex_lock (&s_srv->http.mu);
    s_srv->reverse = false;
    s_srv->dup_index = true;
    pthread_mutex_unlock (&s_srv->http.mu);
    assert_int_equal (rt_embedder_embed (e, texts, 2, out), RT_E_FORMAT);
    assert_non_null (strstr (rt_last_error (), "malformed"));
    /* the provider changes its dimension: a clear mismatch */
    s_script (s_srv, 12, NULL, 0, NULL, 0);
    assert_int_equal (rt_embedder_embed (e, texts, 2, out), RT_E_DIM);
    assert_non_null (strstr (rt_last_error (), "returned dimension 12, expected 8"));
    rt_embedder_destroy (&e);
}

static void
test_http_errors (void **state)
{
    (void) state;
    const char *texts[1] = {"hello"};
    float out[8];
    rt_embedder_t *e = s_client (8, 64, 5000);

    /* 401: not retried, the key is never repeated */
    int s401[] = {401};
    s_script (s_srv, 8, s401, 1, NULL, 0);
    assert_int_equal (rt_embedder_embed (e, texts, 1, out), RT_E_EMBED);
    assert_non_null (strstr (rt_last_error (), "rejected the API key (HTTP 401)"));
    assert_non_null (strstr (rt_last_error (), "Incorrect API key provided: [redacted]"));
    assert_null (strstr (rt_last_error (), KEY));
    assert_int_equal (s_nreq (s_srv), 1);

    /* 429 then 500 then success: retried transparently */
    int flaky[] = {429, 500};
    s_script (s_srv, 8, flaky, 2, "0", 0);
    assert_int_equal (rt_embedder_embed (e, texts, 1, out), RT_OK);
    assert_int_equal (s_nreq (s_srv), 3);

    /* 429 three times: rate limited after 3 attempts (2 retries) */
    int s429[] = {429, 429, 429, 429};
    s_script (s_srv, 8, s429, 4, "0", 0);
    assert_int_equal (rt_embedder_embed (e, texts, 1, out), RT_E_EMBED);
    assert_non_null (strstr (rt_last_error (), "rate limited the request (HTTP 429) after 3 attempts"));
    assert_int_equal (s_nreq (s_srv), 3);

    /* 429 asking for a minute: not waited for, the error says so */
    s_script (s_srv, 8, s429, 4, "60", 0);
    int64_t t0 = clock_mono_ms ();
    assert_int_equal (rt_embedder_embed (e, texts, 1, out), RT_E_EMBED);
    assert_true (clock_mono_ms () - t0 < 5000);
    assert_non_null (strstr (rt_last_error (), "the provider asks to retry after 60000 ms"));
    assert_int_equal (s_nreq (s_srv), 1);

    /* 500 three times: server error after 3 attempts, exponential back-off
     * from 10 ms (10 + 20 ms at least) */
    int s500[] = {500, 500, 500, 500};
    s_script (s_srv, 8, s500, 4, NULL, 0);
    t0 = clock_mono_ms ();
    assert_int_equal (rt_embedder_embed (e, texts, 1, out), RT_E_EMBED);
    assert_true (clock_mono_ms () - t0 >= 30);
    assert_non_null (strstr (rt_last_error (), "server error (HTTP 500) after 3 attempts"));
    assert_int_equal (s_nreq (s_srv), 3);
    rt_embedder_destroy (&e);

    /* a timeout: RT_E_HTTP naming it, not retried */
    e = s_client (8, 64, 300);
    s_script (s_srv, 8, NULL, 0, NULL, 1200);
    t0 = clock_mono_ms ();
    assert_int_equal (rt_embedder_embed (e, texts, 1, out), RT_E_HTTP);
    int64_t took = clock_mono_ms () - t0;
    assert_true (took >= 250 && took < 1200);
    assert_non_null (strstr (rt_last_error (), "timed out after 300 ms"));
    rt_embedder_destroy (&e);
    clock_sleep_ms (1000); /* let the server finish the slow reply */
    s_script (s_srv, 8, NULL, 0, NULL, 0);

    /* nothing listening: a transport error */
    rt_openai_opts_t o = {.base_url = "http://127.0.0.1:1/v1", .model = MODEL, .dim = 8, .timeout_ms = 2000};
    e = rt_embedder_openai_new (&o);
    assert_non_null (e);
    assert_int_equal (rt_embedder_embed (e, texts, 1, out), RT_E_HTTP);
    assert_non_null (strstr (rt_last_error (), "failed"));
    rt_embedder_destroy (&e);
}

/* Runs the copilot CLI with extra environment entries; stdout and stderr go
 * to files. Returns the exit status. */
static int
s_run (char *const argv[], const char *const *env, const char *out_path, const char *err_path)
{
    size_t ne = 0;
    while (environ[ne])
        ne++;
    size_t nx = 0;
    while (env && env[nx])
        nx++;
    char **envp = calloc (ne + nx + 1, sizeof *envp);
    assert_non_null (envp);
    size_t k = 0;
    for (size_t i = 0; i < ne; i++)
        if (!str_starts_with (environ[i], "COPILOT_RETRIEVAL_") && !str_starts_with (environ[i], "OPENAI_"))
            envp[k++] = environ[i];
    for (size_t i = 0; i < nx; i++)
        envp[k++] = (char *) env[i];
    envp[k] = NULL;
    pid_t pid = fork ();
    assert_true (pid >= 0);
    if (pid == 0) {
        int o = open (out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = open (err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (o < 0 || e < 0)
            _exit (126);
        dup2 (o, 1);
        dup2 (e, 2);
        execve (argv[0], argv, envp);
        _exit (127);
    }
    free (envp);
    int st = 0;
    while (waitpid (pid, &st, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED (st) ? WEXITSTATUS (st) : 128 + (WIFSIGNALED (st) ? WTERMSIG (st) : 0);
}

static void
test_cli_index_and_search (void **state)
{
    (void) state;
    s_script (s_srv, 64, NULL, 0, NULL, 0);
    char base[160], ix[300], outp[300], errp[300];
    str_fmt (base, sizeof base, "COPILOT_RETRIEVAL_OPENAI_BASE_URL=http://127.0.0.1:%d/v1", s_srv->http.port);
    str_fmt (ix, sizeof ix, "%s/index", s_tmp);
    str_fmt (outp, sizeof outp, "%s/out.txt", s_tmp);
    str_fmt (errp, sizeof errp, "%s/err.txt", s_tmp);
    const char *env[] = {"COPILOT_RETRIEVAL_EMBEDDER=openai", base,
                         "COPILOT_RETRIEVAL_OPENAI_API_KEY=" KEY,
                         "COPILOT_RETRIEVAL_OPENAI_MODEL=" MODEL, NULL};
    char *index_argv[] = {(char *) s_copilot, "index", "--db", (char *) s_fixture, "--out", ix, NULL};
    int rc = s_run (index_argv, env, outp, errp);
    char *out = itf_slurp (outp), *err = itf_slurp (errp);
    if (rc != 0)
        fprintf (stderr, "copilot index exited %d\nstdout: %s\nstderr: %s\n", rc, out, err);
    assert_int_equal (rc, 0);
    assert_non_null (strstr (out, "embedder openai:" MODEL ", dim 64"));
    assert_null (strstr (err, KEY)); /* the key is never printed */
    free (out);
    free (err);
    /* one probe plus ceil(documents / 64) batches, all authenticated */
    int nreq = s_nreq (s_srv);
    assert_true (nreq >= 10);
    pthread_mutex_lock (&s_srv->http.mu);
    assert_string_equal (s_srv->auth, "Bearer " KEY);
    assert_string_equal (s_srv->model, MODEL);
    for (int i = 1; i < s_srv->n - 1; i++)
        assert_int_equal (s_srv->ninputs[i], 64);
    pthread_mutex_unlock (&s_srv->http.mu);

    /* the index is searchable through the same provider */
    s_script (s_srv, 64, NULL, 0, NULL, 0);
    char *search_argv[] = {(char *) s_copilot, "search", "keep idle instances warm in a pool", "--index", ix,
                           "--corpus", "docs", "--k", "3", NULL};
    rc = s_run (search_argv, env, outp, errp);
    out = itf_slurp (outp);
    err = itf_slurp (errp);
    if (rc != 0)
        fprintf (stderr, "copilot search exited %d\nstdout: %s\nstderr: %s\n", rc, out, err);
    assert_int_equal (rc, 0);
    assert_int_equal (s_nreq (s_srv), 1); /* the query vector */
    const char *first = strstr (out, " 1. ");
    assert_non_null (first);
    const char *eol = strchr (first, '\n');
    assert_non_null (eol);
    if (!strstr (first, "doc::instance-pools") || strstr (first, "doc::instance-pools") > eol)
        fprintf (stderr, "top hit is not the pools note:\n%s\n", out);
    assert_true (strstr (first, "doc::instance-pools") && strstr (first, "doc::instance-pools") < eol);
    free (out);
    free (err);
    char *anom_argv[] = {(char *) s_copilot, "search", "J-ML-TRAINING cost anomaly 2025-12-04", "--index", ix,
                         "--corpus", "telemetry", "--k", "5", NULL};
    rc = s_run (anom_argv, env, outp, errp);
    out = itf_slurp (outp);
    assert_int_equal (rc, 0);
    assert_non_null (strstr (out, "anomaly::J-ML-TRAINING:2025-12-04"));
    free (out);

    /* the provider now answers another dimension: a clear error */
    s_script (s_srv, 32, NULL, 0, NULL, 0);
    rc = s_run (search_argv, env, outp, errp);
    err = itf_slurp (errp);
    assert_int_equal (rc, 1);
    assert_non_null (strstr (err, "returned dimension 32, expected 64"));
    free (err);

    /* the configuration asks for another dimension or embedder: refused at open */
    s_script (s_srv, 64, NULL, 0, NULL, 0);
    const char *env_dim[] = {"COPILOT_RETRIEVAL_EMBEDDER=openai", base, "COPILOT_RETRIEVAL_OPENAI_MODEL=" MODEL,
                             "COPILOT_RETRIEVAL_DIM=32", NULL};
    rc = s_run (search_argv, env_dim, outp, errp);
    err = itf_slurp (errp);
    assert_int_equal (rc, 1);
    assert_non_null (strstr (err, "has dimension 64"));
    assert_non_null (strstr (err, "retrieval.dim is 32"));
    free (err);
    const char *env_lsa[] = {"COPILOT_RETRIEVAL_EMBEDDER=lsa", NULL};
    rc = s_run (search_argv, env_lsa, outp, errp);
    err = itf_slurp (errp);
    assert_int_equal (rc, 1);
    assert_non_null (strstr (err, "built with embedder 'openai:" MODEL "'"));
    free (err);
    assert_int_equal (s_nreq (s_srv), 0); /* refused before any request */
}

static int
s_setup (void **state)
{
    (void) state;
    s_srv = s_server_start ();
    str_copy (s_tmp, sizeof s_tmp, "/tmp/rt_openai_XXXXXX");
    return mkdtemp (s_tmp) ? 0 : -1;
}

static int
s_teardown (void **state)
{
    (void) state;
    s_server_stop (&s_srv);
    char cmd[400];
    str_fmt (cmd, sizeof cmd, "rm -rf '%s'", s_tmp);
    return system (cmd) == 0 ? 0 : -1;
}

int
main (int argc, char **argv)
{
    if (argc < 3) {
        fprintf (stderr, "usage: test_openai_embed <copilot> <fixture db>\n");
        return 2;
    }
    s_copilot = argv[1];
    s_fixture = argv[2];
    struct stat sb;
    if (stat (s_fixture, &sb) != 0) {
        fprintf (stderr, "fixture %s missing: skipped\n", s_fixture);
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_request_batching_order),
        cmocka_unit_test (test_http_errors),
        cmocka_unit_test (test_cli_index_and_search),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
