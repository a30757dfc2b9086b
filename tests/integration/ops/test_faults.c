/* test_faults.c — integration.faults.<daemon>: fault tolerance of the whole
 * system under steady HTTP load, with real processes started by
 *   copilot up --db <fixture> --data-dir <tmp> --http-port <free> --replicas 2
 * (the retrieval index is prebuilt once by integration.faults.setup and
 * linked in, so each scenario starts in seconds).
 *
 * One scenario per run, named after its victim. Load threads (libcurl) call
 * the routes that depend on the victim plus a control route that does not,
 * each request recording start, end, HTTP status and body. Then the victim
 * is SIGKILLed K times in a row (K = 3: the supervisor's back-off doubles,
 * 250 ms → 500 ms → 1 s), waiting after each kill until the supervisor
 * reports a new pid ready; during the last outage the supervisor is held
 * (SIGSTOP) until requests in flight on the dead daemon met their deadline
 * and the gateway's health check noticed the outage, then released.
 * Assertions:
 *   - no request hangs: each ends within its route's deadline + slack;
 *   - every failure is an HTTP 503 or 504 whose JSON body has error.code and
 *     a message naming the backend (the gateway scenario: connection
 *     refused while the gateway itself is down, never a hang);
 *   - at least one 503/504 while a daemon that a route needs directly was
 *     down, and an immediate one (<= 300 ms) once the gateway knew it;
 *   - full service within 2 s of the supervisor's restart: every request
 *     started 2 s after the final restart succeeds (and there are some);
 *   - the control route never fails;
 *   - retrieval-service: with two replicas, killing one loses no search;
 *   - event-bus: a subscriber on the bus resumes after the restart (events
 *     published after it arrive) and every event of the publisher's stream
 *     it did not receive is counted by its gap detection — no silent loss
 *     (during the last outage the supervisor is held with SIGSTOP until a
 *     commentary was published while the bus was down); the browser stream (SSE) that stayed open
 *     carries commentary again after the restart, and when it lost some the
 *     gateway logged the gap (pubsub.gap); how much a Last-Event-ID resume
 *     replays is printed (a known gateway limitation, see the output);
 *   - no commentary is lost from history: every explain answered 200 is in
 *     GET /api/v1/commentary afterwards;
 *   - afterwards `copilot status` reports every daemon ready and the victim's
 *     restart count is K; no daemon log has a sanitizer report.
 * Figures (outage, recovery after restart, requests, failures) are printed
 * on one line per scenario.
 *
 * Usage: test_faults <scenario> <bin dir> <fixture db> <prebuilt index dir> [slow factor]
 * Exit 77 when a daemon binary of the cluster is not built.
 */
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bus.h"
#include "clock.h"
#include "ops_proc.h"
#include "pubsub.h"
#include "runtime.h"
#include "str.h"

#define KILLS 3
#define RECOVERY_MS (2000 * s_slow)   /* full service within this after the restart */
#define SLACK_MS (1500 * s_slow)      /* allowed beyond a route's deadline */
#define POST_MS (3500 * s_slow)       /* load kept after the last restart */
#define MAX_RECS 20000
#define MAX_PROBES 4
#define MAX_EXPLAINED 4096

/* Gateway / prompt-builder timeouts the test configures (ms); sanitizer
 * builds (slow factor 3, argv[5]) scale them and the recovery window. */
static int s_slow = 1;
static int s_ping_timeout_ms;
#define T_REPORT (3000 * s_slow)
#define T_SEARCH (3000 * s_slow)
#define T_GRAPH (3000 * s_slow)
#define T_COMMENTARY (3000 * s_slow)
#define T_EXPLAIN (6000 * s_slow)

static const char *s_daemons[] = {"event-bus", "report-service", "graph-service", "llm-gateway",
                                  "retrieval-router", "retrieval-service", "prompt-builder",
                                  "gateway", NULL};

typedef struct {
    const char *name;
    const char *method;
    const char *path;
    const char *body;
    int deadline_ms;
    bool needs_victim;   /* expected to fail (503/504) while the victim is down */
    bool control;        /* must never fail */
} probe_t;

typedef struct {
    int probe;
    int64_t t0, t1;
    long code;           /* 0 = transport error */
    int curl_err;
    char body[400];
    char request_id[64];
} rec_t;

static char s_bin[512], s_db[512], s_index[512], s_data[600], s_base[128], s_token[200];
static const char *s_victim;
static int s_port;
static pid_t s_sup;
static probe_t s_probes[MAX_PROBES];
static int s_nprobes;
static rec_t *s_recs;
static atomic_int s_nrecs;
static atomic_bool s_stop_load;
static char s_explained[MAX_EXPLAINED][64];
static int s_nexplained;
static pthread_mutex_t s_mu = PTHREAD_MUTEX_INITIALIZER;

/* ---- cleanup ------------------------------------------------------------ */

static void s_down (void)
{
    if (!s_data[0])
        return;
    if (s_sup > 0)
        kill (s_sup, SIGCONT);   /* in case a scenario held it */
    pid_t pid = fork ();
    if (pid == 0) {
        char cop[600];
        snprintf (cop, sizeof cop, "%s/copilot", s_bin);
        int devnull = open ("/dev/null", O_WRONLY);
        dup2 (devnull, 1);
        execl (cop, cop, "down", "--data-dir", s_data, (char *) NULL);
        _exit (127);
    }
    if (pid > 0)
        waitpid (pid, NULL, 0);
    s_sup = 0;
}

static void s_on_fail (void)
{
    char path[700];
    const char *names[] = {"supervisor", "event-bus", "report-service", "graph-service",
                           "llm-gateway", "retrieval-router", "retrieval-service-1",
                           "retrieval-service-2", "prompt-builder", "gateway", NULL};
    for (int i = 0; names[i]; i++) {
        snprintf (path, sizeof path, "%s/logs/%s.log", s_data, names[i]);
        ops_dump_file (names[i], path);
    }
    s_down ();
}

/* Last resort before ctest's timeout: the supervisor runs in its own session
 * and would outlive us. kill(2) is async-signal-safe. */
static void s_on_alarm (int sig)
{
    (void) sig;
    if (s_sup > 0) {
        kill (s_sup, SIGCONT);
        kill (s_sup, SIGTERM);
    }
    static const char msg[] = "test_faults: self-timeout, supervisor stopped\n";
    ssize_t w = write (2, msg, sizeof msg - 1);
    (void) w;
    _exit (1);
}

/* ---- HTTP ------------------------------------------------------------------ */

typedef struct {
    char *buf;
    size_t cap, len;
} sink_t;

static size_t s_write (char *p, size_t sz, size_t n, void *arg)
{
    sink_t *s = arg;
    size_t len = sz * n;
    if (s->len + 1 < s->cap) {
        size_t room = s->cap - 1 - s->len;
        size_t take = len < room ? len : room;
        memcpy (s->buf + s->len, p, take);
        s->len += take;
        s->buf[s->len] = '\0';
    }
    return len;
}

/* One request; returns the HTTP status (0 on transport error, *cerr set). */
static long s_http (CURL *h, const char *method, const char *path, const char *body, int timeout_ms,
                    char *out, size_t out_cap, int *cerr)
{
    char url[512];
    snprintf (url, sizeof url, "%s%s", s_base, path);
    sink_t sink = {out, out_cap, 0};
    if (out_cap)
        out[0] = '\0';
    struct curl_slist *hdr = NULL;
    char auth[300];
    snprintf (auth, sizeof auth, "Authorization: Bearer %s", s_token);
    hdr = curl_slist_append (hdr, auth);
    if (body)
        hdr = curl_slist_append (hdr, "Content-Type: application/json");
    curl_easy_reset (h);
    curl_easy_setopt (h, CURLOPT_URL, url);
    curl_easy_setopt (h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt (h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt (h, CURLOPT_TIMEOUT_MS, (long) timeout_ms);
    curl_easy_setopt (h, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
    curl_easy_setopt (h, CURLOPT_WRITEFUNCTION, s_write);
    curl_easy_setopt (h, CURLOPT_WRITEDATA, &sink);
    if (body) {
        curl_easy_setopt (h, CURLOPT_POSTFIELDS, body);
    }
    if (strcmp (method, "GET") != 0 && !body)
        curl_easy_setopt (h, CURLOPT_CUSTOMREQUEST, method);
    CURLcode rc = curl_easy_perform (h);
    long code = 0;
    if (rc == CURLE_OK)
        curl_easy_getinfo (h, CURLINFO_RESPONSE_CODE, &code);
    *cerr = (int) rc;
    curl_slist_free_all (hdr);
    return code;
}

static void *s_load_main (void *arg)
{
    int pi = (int) (intptr_t) arg;
    const probe_t *p = &s_probes[pi];
    CURL *h = curl_easy_init ();
    static _Thread_local char body[256 * 1024];
    while (!atomic_load (&s_stop_load)) {
        int idx = atomic_fetch_add (&s_nrecs, 1);
        if (idx >= MAX_RECS)
            break;
        rec_t *r = &s_recs[idx];
        r->probe = pi;
        r->t0 = clock_mono_ms ();
        r->code = s_http (h, p->method, p->path, p->body, p->deadline_ms + 5000, body, sizeof body,
                          &r->curl_err);
        r->t1 = clock_mono_ms ();
        str_copy (r->body, sizeof r->body, body);
        if (r->code == 200 && p->body && strstr (p->path, "/explain")) {
            /* The reply may exceed the buffer: take the id from its text. */
            const char *rid = strstr (body, "\"request_id\":\"");
            size_t k = 0;
            if (rid) {
                rid += 14;
                while (rid[k] && rid[k] != '"' && k < sizeof r->request_id - 1)
                    k++;
            }
            if (rid && k > 0) {
                memcpy (r->request_id, rid, k);
                r->request_id[k] = '\0';
                pthread_mutex_lock (&s_mu);
                if (s_nexplained < MAX_EXPLAINED)
                    str_copy (s_explained[s_nexplained++], 64, r->request_id);
                pthread_mutex_unlock (&s_mu);
            }
        }
        clock_sleep_ms (r->code == 200 ? 20 : 50);
    }
    curl_easy_cleanup (h);
    return NULL;
}

/* ---- supervisor state ---------------------------------------------------- */

typedef struct {
    pid_t pid;
    int restarts;
    char state[32];
} dstate_t;

static bool s_state_of (const char *name, dstate_t *out)
{
    char path[700];
    snprintf (path, sizeof path, "%s/run/supervisor.state", s_data);
    FILE *f = fopen (path, "r");
    if (!f)
        return false;
    char line[2048];
    bool found = false;
    while (!found && fgets (line, sizeof line, f)) {
        if (line[0] == '#')
            continue;
        char *save = NULL, *fld[6];
        int nf = 0;
        for (char *t = strtok_r (line, "\t\n", &save); t && nf < 6; t = strtok_r (NULL, "\t\n", &save))
            fld[nf++] = t;
        if (nf < 5 || strcmp (fld[0], name) != 0)
            continue;
        int64_t pid = 0, rs = 0;
        str_to_i64 (fld[1], &pid);
        str_to_i64 (fld[3], &rs);
        out->pid = (pid_t) pid;
        out->restarts = (int) rs;
        str_copy (out->state, sizeof out->state, fld[4]);
        found = true;
    }
    fclose (f);
    return found;
}

/* Waits until `name` runs with a pid other than `old` and state ready;
 * returns the monotonic time it was first seen so. */
static int64_t s_wait_restarted (const char *name, pid_t old, int timeout_ms)
{
    int64_t end = clock_mono_ms () + timeout_ms;
    dstate_t st;
    while (clock_mono_ms () < end) {
        if (s_state_of (name, &st) && st.pid > 0 && st.pid != old && strcmp (st.state, "ready") == 0)
            return clock_mono_ms ();
        clock_sleep_ms (5);
    }
    OPS_CHECK (false, "%s was not restarted and ready within %d ms", name, timeout_ms);
    return -1;
}

/* ---- cluster --------------------------------------------------------------- */

static int s_free_port (void)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    OPS_CHECK (fd >= 0 && bind (fd, (struct sockaddr *) &a, sizeof a) == 0
                   && getsockname (fd, (struct sockaddr *) &a, &len) == 0,
               "cannot find a free port");
    int port = ntohs (a.sin_port);
    close (fd);
    return port;
}

static void s_up (void)
{
    char cop[600], port[16], index_link[700];
    snprintf (cop, sizeof cop, "%s/copilot", s_bin);
    snprintf (port, sizeof port, "%d", s_port);
    snprintf (index_link, sizeof index_link, "%s/index", s_data);
    OPS_CHECK (symlink (s_index, index_link) == 0, "symlink %s: %s", index_link, strerror (errno));
    int fds[2];
    OPS_CHECK (pipe (fds) == 0, "pipe");
    pid_t pid = fork ();
    if (pid == 0) {
        dup2 (fds[1], 1);
        close (fds[0]);
        close (fds[1]);
        execl (cop, cop, "up", "--db", s_db, "--data-dir", s_data, "--http-port", port, "--replicas",
               "2", "--ready-timeout-ms", "30000", (char *) NULL);
        _exit (127);
    }
    close (fds[1]);
    char out[4096];
    size_t n = 0;
    for (;;) {
        ssize_t r = read (fds[0], out + n, sizeof out - 1 - n);
        if (r <= 0)
            break;
        n += (size_t) r;
    }
    out[n] = '\0';
    close (fds[0]);
    int st;
    waitpid (pid, &st, 0);
    OPS_CHECK (WIFEXITED (st) && WEXITSTATUS (st) == 0, "copilot up failed: %s", out);
    const char *t = strstr (out, "token=");
    OPS_CHECK (t != NULL, "no token= line in: %s", out);
    t += 6;
    size_t k = 0;
    while (t[k] && t[k] != '\n' && k < sizeof s_token - 1) {
        s_token[k] = t[k];
        k++;
    }
    s_token[k] = '\0';
    snprintf (s_base, sizeof s_base, "http://127.0.0.1:%d", s_port);
    char path[700], line[32];
    snprintf (path, sizeof path, "%s/run/supervisor.pid", s_data);
    FILE *f = fopen (path, "r");
    OPS_CHECK (f && fgets (line, sizeof line, f), "no supervisor.pid");
    fclose (f);
    int64_t sp = 0;
    str_to_i64 (str_trim (line), &sp);
    s_sup = (pid_t) sp;
}

static void s_setenv_ms (const char *name, int ms)
{
    char v[32];
    snprintf (v, sizeof v, "%d", ms);
    setenv (name, v, 1);
}

static void s_env (void)
{
    /* Deadlines short enough to test "no hang" quickly; a health check
     * that notices an outage within half a second. */
    bool explains = strcmp (s_victim, "event-bus") == 0 || strcmp (s_victim, "prompt-builder") == 0
                    || strcmp (s_victim, "llm-gateway") == 0;
    s_setenv_ms ("COPILOT_GATEWAY_HEALTH_INTERVAL_MS", 500);
    /* prompt-builder answers Ping only between Explains (its backend calls
     * block its loop), so under Explain load the health check gets enough
     * time not to mistake a busy prompt-builder for a dead one (the
     * outage then shows in the requests that were in flight). */
    s_ping_timeout_ms = (explains ? 3000 : 400) * s_slow;
    s_setenv_ms ("COPILOT_GATEWAY_PING_TIMEOUT_MS", s_ping_timeout_ms);
    s_setenv_ms ("COPILOT_GATEWAY_REPORT_TIMEOUT_MS", T_REPORT);
    s_setenv_ms ("COPILOT_GATEWAY_SEARCH_TIMEOUT_MS", T_SEARCH);
    s_setenv_ms ("COPILOT_GATEWAY_GRAPH_TIMEOUT_MS", T_GRAPH);
    s_setenv_ms ("COPILOT_GATEWAY_COMMENTARY_TIMEOUT_MS", T_COMMENTARY);
    s_setenv_ms ("COPILOT_GATEWAY_EXPLAIN_TIMEOUT_MS", T_EXPLAIN);
    s_setenv_ms ("COPILOT_PROMPT_BUILDER_REPORT_TIMEOUT_MS", 2500 * s_slow);
    s_setenv_ms ("COPILOT_PROMPT_BUILDER_GRAPH_TIMEOUT_MS", 2000 * s_slow);
    s_setenv_ms ("COPILOT_PROMPT_BUILDER_RETRIEVAL_TIMEOUT_MS", 2000 * s_slow);
    s_setenv_ms ("COPILOT_PROMPT_BUILDER_LLM_TIMEOUT_MS", 2500 * s_slow);
    unsetenv ("COPILOT_HTTP_STATIC_DIR");
    unsetenv ("OPENAI_API_KEY");
    unsetenv ("LLM_PROVIDER");
    setenv ("COPILOT_LLM_PROVIDER", "narrator", 1);
}

static const char *EXPLAIN_BODY
    = "{\"report_id\":\"job_cost\",\"entity_type\":\"job\",\"entity_id\":\"J-LEGACY-ETL\","
      "\"chip_id\":\"report:job_cost:job:J-LEGACY-ETL:0\"}";

static void s_add_probe (const char *name, const char *method, const char *path, const char *body,
                         int deadline, bool needs, bool control)
{
    s_probes[s_nprobes++] = (probe_t) {name, method, path, body, deadline, needs, control};
}

static void s_plan_probes (void)
{
    const char *v = s_victim;
    if (strcmp (v, "report-service") == 0) {
        s_add_probe ("report", "GET", "/api/v1/reports/job_cost", NULL, T_REPORT, true, false);
        s_add_probe ("search", "GET", "/api/v1/search?q=spot%20eviction&k=3", NULL, T_SEARCH, false, true);
    } else if (strcmp (v, "graph-service") == 0) {
        s_add_probe ("graph", "GET", "/api/v1/graph/job/J-FIN-DAILY?hops=1&budget=30", NULL, T_GRAPH, true,
                     false);
        s_add_probe ("report", "GET", "/api/v1/reports/job_cost", NULL, T_REPORT, false, true);
    } else if (strcmp (v, "retrieval-router") == 0) {
        s_add_probe ("search", "GET", "/api/v1/search?q=spot%20eviction&k=3", NULL, T_SEARCH, true, false);
        s_add_probe ("report", "GET", "/api/v1/reports/job_cost", NULL, T_REPORT, false, true);
    } else if (strcmp (v, "retrieval-service") == 0) {
        /* Two replicas: killing one must lose nothing, so search is a control. */
        s_add_probe ("search", "GET", "/api/v1/search?q=spot%20eviction&k=3", NULL, T_SEARCH, false, true);
        s_add_probe ("search2", "GET", "/api/v1/search?q=failed%20runs%20retry&k=5", NULL, T_SEARCH, false,
                     true);
    } else if (strcmp (v, "prompt-builder") == 0) {
        s_add_probe ("explain", "POST", "/api/v1/explain", EXPLAIN_BODY, T_EXPLAIN, true, false);
        s_add_probe ("commentary", "GET", "/api/v1/commentary?limit=5", NULL, T_COMMENTARY, true, false);
        s_add_probe ("report", "GET", "/api/v1/reports/job_cost", NULL, T_REPORT, false, true);
    } else if (strcmp (v, "llm-gateway") == 0) {
        /* prompt-builder degrades or times out; either way bounded. */
        s_add_probe ("explain", "POST", "/api/v1/explain", EXPLAIN_BODY, T_EXPLAIN, false, false);
        s_add_probe ("report", "GET", "/api/v1/reports/job_cost", NULL, T_REPORT, false, true);
    } else if (strcmp (v, "event-bus") == 0) {
        s_add_probe ("explain", "POST", "/api/v1/explain", EXPLAIN_BODY, T_EXPLAIN, false, true);
        s_add_probe ("report", "GET", "/api/v1/reports/job_cost", NULL, T_REPORT, false, true);
    } else if (strcmp (v, "gateway") == 0) {
        s_add_probe ("report", "GET", "/api/v1/reports/job_cost", NULL, T_REPORT, true, false);
        s_add_probe ("search", "GET", "/api/v1/search?q=spot%20eviction&k=3", NULL, T_SEARCH, true, false);
    }
}

/* A gateway error body: {"error":{"code":"...","message":"... <backend> ..."}}. */
static bool s_clear_error (const char *body, char *why, size_t wsize)
{
    json_t *j = json_loads (body, 0, NULL);
    json_t *e = j ? json_object_get (j, "error") : NULL;
    const char *code = e ? json_string_value (json_object_get (e, "code")) : NULL;
    const char *msg = e ? json_string_value (json_object_get (e, "message")) : NULL;
    bool ok = code && code[0] && msg && strlen (msg) >= 10;
    if (!ok)
        snprintf (why, wsize, "not a clear JSON error: '%.200s'", body);
    json_decref (j);
    return ok;
}

/* ---- event-bus extras ------------------------------------------------------ */

typedef struct {
    char *buf;
    size_t cap, len;
    atomic_bool stop;
    char last_event_id[128];
    long code;
} sse_t;

static size_t s_sse_write (char *p, size_t sz, size_t n, void *arg)
{
    sse_t *s = arg;
    size_t len = sz * n;
    pthread_mutex_lock (&s_mu);
    if (s->len + len + 1 < s->cap) {
        memcpy (s->buf + s->len, p, len);
        s->len += len;
        s->buf[s->len] = '\0';
    }
    pthread_mutex_unlock (&s_mu);
    return len;
}

static int s_sse_progress (void *arg, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
    (void) a;
    (void) b;
    (void) c;
    (void) d;
    return atomic_load (&((sse_t *) arg)->stop) ? 1 : 0;
}

static void *s_sse_main (void *arg)
{
    sse_t *s = arg;
    CURL *h = curl_easy_init ();
    char url[512];
    snprintf (url, sizeof url, "%s/api/v1/events?access_token=%s%s%s", s_base, s_token,
              s->last_event_id[0] ? "&last_event_id=" : "", s->last_event_id);
    curl_easy_setopt (h, CURLOPT_URL, url);
    curl_easy_setopt (h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt (h, CURLOPT_WRITEFUNCTION, s_sse_write);
    curl_easy_setopt (h, CURLOPT_WRITEDATA, s);
    curl_easy_setopt (h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt (h, CURLOPT_XFERINFOFUNCTION, s_sse_progress);
    curl_easy_setopt (h, CURLOPT_XFERINFODATA, s);
    curl_easy_perform (h);
    curl_easy_getinfo (h, CURLINFO_RESPONSE_CODE, &s->code);
    curl_easy_cleanup (h);
    return NULL;
}

/* Commentary seqs ("id: commentary:<n>") seen in an SSE buffer, as a bitmap. */
static int s_sse_commentary (sse_t *s, bool *seen, int max)
{
    int n = 0;
    pthread_mutex_lock (&s_mu);
    for (const char *p = s->buf; (p = strstr (p, "id: commentary:")); p += 15) {
        int64_t v = 0;
        char num[24] = "";
        size_t k = 0;
        while (p[15 + k] >= '0' && p[15 + k] <= '9' && k < sizeof num - 1) {
            num[k] = p[15 + k];
            k++;
        }
        num[k] = '\0';
        if (str_to_i64 (num, &v) == 0 && v > 0 && v < max) {
            if (!seen[v])
                n++;
            seen[v] = true;
        }
    }
    pthread_mutex_unlock (&s_mu);
    return n;
}

/* The bus subscriber's view of prompt-builder's commentary stream: which
 * sequence numbers arrived (the stream of the first publisher seen). */
#define SEQ_MAX 8192
typedef struct {
    int events;
    char pub[200];
    uint64_t first, last;
    int distinct;
    bool seen[SEQ_MAX];
} bus_sub_t;

static void s_on_bus_event (pubsub_sub_t *sub, const char *topic, env_t *env, void *arg)
{
    (void) sub;
    bus_sub_t *b = arg;
    if (str_starts_with (topic, "commentary.")) {
        b->events++;
        const char *pid = env->header->publisher_id;
        uint64_t seq = env->header->seq;
        if (!b->pub[0])
            str_copy (b->pub, sizeof b->pub, pid);
        if (strcmp (b->pub, pid) == 0 && seq < SEQ_MAX) {
            if (!b->first || seq < b->first)
                b->first = seq;
            if (seq > b->last)
                b->last = seq;
            if (!b->seen[seq])
                b->distinct++;
            b->seen[seq] = true;
        }
    }
    env_free (env);
}

/* ---- main ------------------------------------------------------------------- */

int main (int argc, char **argv)
{
    if (argc < 5) {
        fprintf (stderr, "usage: %s <scenario> <bin dir> <fixture db> <index dir> [slow factor]\n",
                 argv[0]);
        return 2;
    }
    if (argc > 5 && str_to_int (argv[5], 1, 10, &s_slow) != 0) {
        fprintf (stderr, "slow factor: expected 1..10\n");
        return 2;
    }
    s_victim = argv[1];
    bool known = false;
    for (int i = 0; s_daemons[i]; i++)
        known = known || strcmp (s_daemons[i], s_victim) == 0;
    if (!known) {
        fprintf (stderr, "unknown scenario '%s'\n", s_victim);
        return 2;
    }
    str_copy (s_bin, sizeof s_bin, argv[2]);
    str_copy (s_db, sizeof s_db, argv[3]);
    str_copy (s_index, sizeof s_index, argv[4]);
    for (int i = 0; s_daemons[i]; i++) {
        char p[700];
        snprintf (p, sizeof p, "%s/%s", s_bin, s_daemons[i]);
        if (access (p, X_OK) != 0) {
            printf ("SKIP: %s is not built yet (%s)\n", s_daemons[i], p);
            return 77;
        }
    }
    struct stat st;
    if (stat (s_index, &st) != 0 || !S_ISDIR (st.st_mode)) {
        printf ("SKIP: prebuilt index %s missing (integration.faults.setup did not run)\n", s_index);
        return 77;
    }
    curl_global_init (CURL_GLOBAL_DEFAULT);
    ops_init ("faults");
    ops__on_fail = s_on_fail;
    str_copy (s_data, sizeof s_data, ops_dir ());
    signal (SIGALRM, s_on_alarm);
    signal (SIGTERM, s_on_alarm);
    signal (SIGINT, s_on_alarm);
    alarm (150);
    s_env ();
    s_port = s_free_port ();
    int64_t t_up = clock_mono_ms ();
    s_up ();
    int64_t up_ms = clock_mono_ms () - t_up;
    s_plan_probes ();
    s_recs = calloc (MAX_RECS, sizeof *s_recs);
    OPS_CHECK (s_recs != NULL, "oom");

    /* Warm-up: every probe answers 200 before the faults start. */
    {
        CURL *h = curl_easy_init ();
        static char body[64 * 1024];
        for (int i = 0; i < s_nprobes; i++) {
            int64_t end = clock_mono_ms () + 15000;
            long code = 0;
            int cerr = 0;
            while (clock_mono_ms () < end) {
                code = s_http (h, s_probes[i].method, s_probes[i].path, s_probes[i].body,
                               s_probes[i].deadline_ms + 5000, body, sizeof body, &cerr);
                if (code == 200)
                    break;
                clock_sleep_ms (100);
            }
            OPS_CHECK (code == 200, "warm-up %s %s: HTTP %ld (curl %d) %.300s", s_probes[i].method,
                       s_probes[i].path, code, cerr, body);
        }
        curl_easy_cleanup (h);
    }

    /* Event-bus scenario: a bus subscriber and an SSE client. */
    void *zctx = NULL;
    pubsub_sub_t *sub = NULL;
    bus_sub_t bsub = {0};
    sse_t sse1 = {0};
    pthread_t sse1_t;
    bool is_bus = strcmp (s_victim, "event-bus") == 0;
    if (is_bus) {
        zctx = proc_zmq_ctx_new ();
        char ep[700];
        snprintf (ep, sizeof ep, "ipc://%s/run/bus-sub.sock", s_data);
        sub = pubsub_sub_new (zctx, ep, "faults-test", s_on_bus_event, &bsub);
        OPS_CHECK (sub != NULL, "bus subscriber: %s", bus_last_error ());
        pubsub_sub_subscribe (sub, "commentary.");
        sse1.cap = 8 << 20;
        sse1.buf = calloc (1, sse1.cap);
        pthread_create (&sse1_t, NULL, s_sse_main, &sse1);
        /* Synchronise: an explain's commentary reaches both. */
        CURL *h = curl_easy_init ();
        static char body[64 * 1024];
        int64_t end = clock_mono_ms () + 10000;
        bool seen[4096] = {false};
        while (clock_mono_ms () < end && (bsub.events == 0 || s_sse_commentary (&sse1, seen, 4096) == 0)) {
            int cerr;
            s_http (h, "POST", "/api/v1/explain", EXPLAIN_BODY, 10000, body, sizeof body, &cerr);
            pubsub_sub_poll (sub, 300);
        }
        curl_easy_cleanup (h);
        OPS_CHECK (bsub.events > 0, "the bus subscriber got no commentary before the faults");
    }

    pthread_t threads[MAX_PROBES];
    for (int i = 0; i < s_nprobes; i++)
        pthread_create (&threads[i], NULL, s_load_main, (void *) (intptr_t) i);
    clock_sleep_ms (500);

    /* The faults. */
    const char *victim_name = strcmp (s_victim, "retrieval-service") == 0 ? "retrieval-service-1" : s_victim;
    int kills = strcmp (s_victim, "retrieval-service") == 0 ? 1 : KILLS;
    int64_t t_first_kill = 0, t_ready = 0, outage_total = 0;
    uint64_t missed_before = sub ? pubsub_sub_missed (sub) : 0;
    int events_before = bsub.events;
    for (int k = 0; k < kills; k++) {
        dstate_t ds;
        OPS_CHECK (s_state_of (victim_name, &ds) && ds.pid > 0, "no pid for %s", victim_name);
        int64_t t_kill = clock_mono_ms ();
        if (!t_first_kill)
            t_first_kill = t_kill;
        /* Last bus outage: hold the supervisor (SIGSTOP) until one
         * commentary was certainly published while the bus was down, so the
         * gap the subscribers must detect exists whatever the timing. */
        /* Every other scenario holds the last outage long enough for the
         * gateway's health check to notice it (ping timeout + two health
         * intervals), so the fast 503 path is exercised whatever the timing. */
        bool hold = k == kills - 1 && strcmp (s_victim, "retrieval-service") != 0;
        if (hold)
            kill (s_sup, SIGSTOP);
        OPS_CHECK (kill (ds.pid, SIGKILL) == 0, "kill %d: %s", (int) ds.pid, strerror (errno));
        while (sub && clock_mono_ms () - t_kill < 50)
            pubsub_sub_poll (sub, 10);
        if (hold && !is_bus) {
            /* A request in flight on the killed daemon ends at its deadline;
             * the ones after it must meet the gateway's "known down" 503. */
            int longest = 0;
            for (int i = 0; i < s_nprobes; i++)
                if (s_probes[i].needs_victim && s_probes[i].deadline_ms > longest)
                    longest = s_probes[i].deadline_ms;
            clock_sleep_ms ((uint64_t) (longest + s_ping_timeout_ms + 1000 * s_slow));
            kill (s_sup, SIGCONT);
        } else if (hold) {
            CURL *h = curl_easy_init ();
            static char hb[256 * 1024];
            int cerr = 0;
            long code = 0;
            for (int a = 0; a < 5 && code != 200; a++)
                code = s_http (h, "POST", "/api/v1/explain", EXPLAIN_BODY, T_EXPLAIN + 5000, hb, sizeof hb,
                               &cerr);
            curl_easy_cleanup (h);
            pubsub_sub_poll (sub, 0);
            kill (s_sup, SIGCONT);
            OPS_CHECK (code == 200, "explain while the bus was down: HTTP %ld", code);
        }
        t_ready = s_wait_restarted (victim_name, ds.pid, 20000);
        outage_total += t_ready - t_kill;
        if (sub)
            pubsub_sub_poll (sub, 0);
    }
    /* Full service check window: long enough for a request that was in
     * flight on the killed daemon to end at its deadline, and for every
     * probe to run again afterwards. */
    int max_deadline = 0;
    for (int i = 0; i < s_nprobes; i++)
        if (s_probes[i].deadline_ms > max_deadline)
            max_deadline = s_probes[i].deadline_ms;
    int64_t end_load = t_ready + (max_deadline + 1500 > POST_MS ? max_deadline + 1500 : POST_MS);
    while (clock_mono_ms () < end_load) {
        if (sub)
            pubsub_sub_poll (sub, 20);
        else
            clock_sleep_ms (20);
    }
    atomic_store (&s_stop_load, true);
    for (int i = 0; i < s_nprobes; i++)
        pthread_join (threads[i], NULL);

    /* ---- assertions on the recorded requests ---- */
    int n = atomic_load (&s_nrecs);
    if (n > MAX_RECS)
        n = MAX_RECS;
    bool needs_any = false;
    for (int i = 0; i < s_nprobes; i++)
        needs_any = needs_any || s_probes[i].needs_victim;
    int fails = 0, errs_5xx = 0, conn_err = 0, after_total = 0, after_ok = 0;
    int after_probe[MAX_PROBES] = {0};
    int64_t fast_503_ms = INT64_MAX;
    int64_t first_ok_after = -1, max_ms = 0;
    for (int i = 0; i < n; i++) {
        rec_t *r = &s_recs[i];
        const probe_t *p = &s_probes[r->probe];
        int64_t dur = r->t1 - r->t0;
        if (dur > max_ms)
            max_ms = dur;
        OPS_CHECK (dur <= p->deadline_ms + SLACK_MS,
                   "%s %s took %lld ms (deadline %d ms): HTTP %ld curl %d", p->method, p->path,
                   (long long) dur, p->deadline_ms, r->code, r->curl_err);
        if (r->t0 >= t_ready && r->code == 200 && (first_ok_after < 0 || r->t1 < first_ok_after)
            && (p->needs_victim || !needs_any))
            first_ok_after = r->t1;
        if (r->t0 >= t_ready + RECOVERY_MS) {
            after_total++;
            after_probe[r->probe]++;
            OPS_CHECK (r->code == 200, "%s %s started %lld ms after %s's restart: HTTP %ld curl %d %.300s",
                       p->method, p->path, (long long) (r->t0 - t_ready), s_victim, r->code,
                       r->curl_err, r->body);
            after_ok++;
        }
        if (r->code == 200)
            continue;
        fails++;
        OPS_CHECK (!p->control, "control route %s %s failed: HTTP %ld curl %d %.300s", p->method,
                   p->path, r->code, r->curl_err, r->body);
        if (r->code == 0) {
            /* Only the gateway itself being down may refuse connections. */
            OPS_CHECK (strcmp (s_victim, "gateway") == 0 && r->t0 <= t_ready + RECOVERY_MS,
                       "%s %s: transport error %d (%s)", p->method, p->path, r->curl_err,
                       curl_easy_strerror ((CURLcode) r->curl_err));
            conn_err++;
            continue;
        }
        OPS_CHECK (r->code == 503 || r->code == 504, "%s %s: HTTP %ld while %s was down: %.300s",
                   p->method, p->path, r->code, s_victim, r->body);
        char why[300];
        OPS_CHECK (s_clear_error (r->body, why, sizeof why), "%s %s HTTP %ld: %s", p->method, p->path,
                   r->code, why);
        errs_5xx++;
        if (r->code == 503 && dur < fast_503_ms)
            fast_503_ms = dur;
    }
    OPS_CHECK (after_total >= 3 && after_ok == after_total, "only %d requests after the recovery window",
               after_total);
    for (int i = 0; i < s_nprobes; i++)
        OPS_CHECK (after_probe[i] > 0, "no %s %s started after the recovery window", s_probes[i].method,
                   s_probes[i].path);
    if (needs_any && strcmp (s_victim, "gateway") != 0) {
        OPS_CHECK (errs_5xx > 0, "no 503/504 while %s was down (outages %lld ms)", s_victim,
                   (long long) outage_total);
        /* Once the gateway knows the backend is down it answers at once. */
        OPS_CHECK (fast_503_ms <= 300 * s_slow, "no immediate 503 while %s was known down (fastest "
                   "%lld ms)", s_victim, (long long) (fast_503_ms == INT64_MAX ? -1 : fast_503_ms));
    }
    if (strcmp (s_victim, "gateway") == 0)
        OPS_CHECK (conn_err + errs_5xx > 0, "no failed request while the gateway was down");
    if (strcmp (s_victim, "retrieval-service") == 0)
        OPS_CHECK (fails == 0, "%d search requests lost while a replica was killed", fails);

    /* ---- event bus: resume + gap + SSE replay ---- */
    uint64_t missed = 0;
    int resumed = 0;
    if (is_bus) {
        /* New commentary after the restart reaches the bus subscriber. */
        CURL *h = curl_easy_init ();
        static char body[64 * 1024];
        int before = bsub.events, cerr;
        int64_t end = clock_mono_ms () + 5000;
        while (bsub.events == before && clock_mono_ms () < end) {
            s_http (h, "POST", "/api/v1/explain", EXPLAIN_BODY, 10000, body, sizeof body, &cerr);
            pubsub_sub_poll (sub, 200);
        }
        resumed = bsub.events - events_before;
        OPS_CHECK (bsub.events > before, "the bus subscriber did not resume after the restart");
        /* No silent loss: every sequence number of the stream that did not
         * arrive is counted by the subscriber's gap detection. (Whether any
         * is lost depends on reconnect order: a publisher queues while its
         * connection is down and flushes on reconnect, which a subscriber
         * that re-subscribed late misses.) */
        missed = pubsub_sub_missed (sub) - missed_before;
        uint64_t span = bsub.last - bsub.first + 1;
        uint64_t lost = span - (uint64_t) bsub.distinct;
        OPS_CHECK (bsub.first > 0 && pubsub_sub_missed (sub) >= lost,
                   "%llu commentary event(s) of seq %llu..%llu never arrived but only %llu were "
                   "detected as a gap", (unsigned long long) lost, (unsigned long long) bsub.first,
                   (unsigned long long) bsub.last, (unsigned long long) pubsub_sub_missed (sub));
        /* SSE: the stream that stayed open saw commentary after the restart;
         * a reconnect from its first id replays everything it missed. */
        static bool seen1[4096], seen2[4096];
        clock_sleep_ms (300);
        s_sse_commentary (&sse1, seen1, 4096);
        int first = 0, last = 0;
        for (int i = 1; i < 4096; i++)
            if (seen1[i]) {
                if (!first)
                    first = i;
                last = i;
            }
        OPS_CHECK (first > 0 && last > first, "SSE saw commentary %d..%d only", first, last);
        atomic_store (&sse1.stop, true);
        pthread_join (sse1_t, NULL);
        sse_t sse2 = {0};
        sse2.cap = 8 << 20;
        sse2.buf = calloc (1, sse2.cap);
        snprintf (sse2.last_event_id, sizeof sse2.last_event_id, "commentary:%d", first);
        pthread_t sse2_t;
        pthread_create (&sse2_t, NULL, s_sse_main, &sse2);
        end = clock_mono_ms () + 5000;
        int missing = -1;
        while (clock_mono_ms () < end) {
            clock_sleep_ms (100);
            s_sse_commentary (&sse2, seen2, 4096);
            missing = 0;
            for (int i = first + 1; i <= last; i++)
                missing += !seen2[i];
            if (missing == 0)
                break;
        }
        atomic_store (&sse2.stop, true);
        pthread_join (sse2_t, NULL);
        int gaps1 = 0;
        for (int i = first; i <= last; i++)
            gaps1 += !seen1[i];
        /* The gateway is a bus subscriber too: commentary its stream lost
         * while the bus was down must show up as a detected gap. */
        char gwlog[700];
        snprintf (gwlog, sizeof gwlog, "%s/logs/gateway.log", s_data);
        if (gaps1 > 0)
            OPS_CHECK (ops_file_contains (gwlog, "\"event\":\"pubsub.gap\""),
                       "the SSE stream lost %d commentary event(s) but the gateway logged no gap", gaps1);
        printf ("event-bus: bus subscriber resumed (%d events after the kills); its stream seq "
                "%llu..%llu: %llu lost, %llu detected as gap\n",
                resumed, (unsigned long long) bsub.first, (unsigned long long) bsub.last,
                (unsigned long long) lost, (unsigned long long) pubsub_sub_missed (sub));
        printf ("event-bus: subscriber resumed (%d events after the kills), gap of %llu detected; "
                "SSE stream missed %d of commentary %d..%d (gateway gap logged: %s); resume with "
                "Last-Event-ID commentary:%d replayed all but %d\n",
                resumed, (unsigned long long) missed, gaps1, first, last,
                gaps1 > 0 ? "yes" : "n/a", first, missing);
        /* The gateway refills commentary its subscriber lost from
         * prompt-builder's history (seqs are dense), so a resume from the
         * ring replays every answer after Last-Event-ID. */
        OPS_CHECK (missing == 0,
                   "SSE resume from commentary:%d missed %d of commentary %d..%d", first, missing,
                   first + 1, last);
        free (sse2.buf);
        free (sse1.buf);
        curl_easy_cleanup (h);
        pubsub_sub_destroy (&sub);
        proc_zmq_ctx_term (&zctx);
    }

    /* ---- no commentary lost from history ---- */
    if (s_nexplained > 0) {
        CURL *h = curl_easy_init ();
        static char hist[16 << 20];
        int cerr;
        /* Page through the whole history (500 per call). */
        int found = 0;
        static bool hit[MAX_EXPLAINED];
        int64_t after = 0;
        for (int page = 0; page < 40; page++) {
            char path[128];
            snprintf (path, sizeof path, "/api/v1/commentary?limit=500&after=%lld", (long long) after);
            long code = s_http (h, "GET", path, NULL, 10000, hist, sizeof hist, &cerr);
            OPS_CHECK (code == 200, "commentary history: HTTP %ld %.200s", code, hist);
            json_t *j = json_loads (hist, 0, NULL);
            json_t *items = j ? json_object_get (j, "items") : NULL;
            OPS_CHECK (json_is_array (items), "commentary history: no items");
            size_t ni = json_array_size (items);
            for (size_t i = 0; i < ni; i++) {
                json_t *it = json_array_get (items, i);
                const char *rid = json_string_value (json_object_get (it, "request_id"));
                json_int_t seq = json_integer_value (json_object_get (it, "seq"));
                if (seq > after)
                    after = seq;
                for (int e = 0; rid && e < s_nexplained; e++)
                    if (!hit[e] && strcmp (s_explained[e], rid) == 0) {
                        hit[e] = true;
                        found++;
                    }
            }
            json_decref (j);
            if (ni < 500)
                break;
        }
        curl_easy_cleanup (h);
        OPS_CHECK (found == s_nexplained, "%d of %d answered explains are missing from the history",
                   s_nexplained - found, s_nexplained);
    }

    /* ---- status, restart count, clean logs ---- */
    dstate_t ds;
    OPS_CHECK (s_state_of (victim_name, &ds) && ds.restarts == kills, "%s restarts %d, want %d",
               victim_name, ds.restarts, kills);
    {
        char cop[600];
        snprintf (cop, sizeof cop, "%s/copilot", s_bin);
        pid_t pid = fork ();
        if (pid == 0) {
            int devnull = open ("/dev/null", O_WRONLY);
            dup2 (devnull, 1);
            execl (cop, cop, "status", "--data-dir", s_data, (char *) NULL);
            _exit (127);
        }
        int stt;
        int64_t end = clock_mono_ms () + 5000;
        int rc = 1;
        for (;;) {   /* a backend may still be settling: retry for a moment */
            waitpid (pid, &stt, 0);
            rc = WIFEXITED (stt) ? WEXITSTATUS (stt) : 1;
            if (rc == 0 || clock_mono_ms () > end)
                break;
            clock_sleep_ms (200);
            pid = fork ();
            if (pid == 0) {
                int devnull = open ("/dev/null", O_WRONLY);
                dup2 (devnull, 1);
                execl (cop, cop, "status", "--data-dir", s_data, (char *) NULL);
                _exit (127);
            }
        }
        OPS_CHECK (rc == 0, "copilot status: not every daemon is ready after the faults");
    }
    s_down ();
    alarm (0);
    const char *logs[] = {"event-bus", "report-service", "graph-service", "llm-gateway",
                          "retrieval-router", "retrieval-service-1", "retrieval-service-2",
                          "prompt-builder", "gateway", NULL};
    for (int i = 0; logs[i]; i++) {
        char path[700];
        snprintf (path, sizeof path, "%s/logs/%s.log", s_data, logs[i]);
        OPS_CHECK (!ops_file_contains (path, "ERROR: AddressSanitizer")
                       && !ops_file_contains (path, "runtime error:"),
                   "sanitizer report in %s", path);
    }
    printf ("faults %s: up %lld ms; %d kill(s), outage %lld ms in total; first full answer %lld ms "
            "after the last restart; %d requests, %d failed (%d HTTP 503/504, fastest 503 %lld ms, "
            "%d refused), slowest %lld ms; %d explains all in history\n",
            s_victim, (long long) up_ms, kills, (long long) outage_total,
            first_ok_after >= 0 ? (long long) (first_ok_after - t_ready) : -1LL, n, fails, errs_5xx,
            fast_503_ms == INT64_MAX ? -1LL : (long long) fast_503_ms, conn_err, (long long) max_ms, s_nexplained);
    free (s_recs);
    ops_finish ();
    curl_global_cleanup ();
    return 0;
}
