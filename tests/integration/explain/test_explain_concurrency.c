/* test_explain_concurrency.c — prompt-builder keeps answering while Explain
 * pipelines run on its worker pool (real daemons, real sockets).
 *
 *   test_explain_concurrency BIN_DIR FIXTURE_DB FAKE_PROVIDER
 *
 * Daemons: report-service (fixture), llm-gateway → the loopback fake OpenAI
 * provider (tests/integration/fake_provider.c) streaming with a pause
 * between chunks (model fake/slow400), prompt-builder. graph-service and
 * retrieval are not started (explains degrade after short timeouts).
 *
 * 1. Ping while an explain is in flight: an Explain is sent; once the fake
 *    provider reports the completion in flight (GET /__stats inflight >= 1),
 *    a Ping is sent to prompt-builder on the same socket: its reply must
 *    arrive while the Explain is still unanswered (the old daemon blocked its
 *    loop in the explain's synchronous calls, so the Ping waited). Asserted
 *    by arrival order, no wall-clock threshold.
 * 2. Two different explains sent together run concurrently: the provider saw
 *    two completions in flight at once (max_inflight >= 2); both answers
 *    are correct.
 * 3. Determinism: the same question again (new request id) gives the same
 *    answer markdown.
 * 4. The same request id sent twice at once: one pipeline, one completion at
 *    the provider; the second is answered as a replay.
 * 5. SIGTERM: every daemon exits 0.
 * Exits 77 when a binary or the fixture is missing.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "bus.h"
#include "env.h"
#include "runtime.h"
#include "str.h"

#include "it_check.h"
#include "it_proc.h"

#define READY_TIMEOUT_MS 60000
#define CALL_TIMEOUT_MS 90000

static char s_bin[512];
static int s_failures;
static int s_fake_port;

#define CHECK(cond, ...) ITC_CHECK_COND_MSG (s_failures, cond, __VA_ARGS__)

/* A daemon of BIN_DIR with its READY line (see itp_start_daemon). */
static itp_proc_t *
s_start_daemon (const char *bin, const char *const *env_extra)
{
    return itp_start_daemon (s_bin, bin, env_extra, READY_TIMEOUT_MS, &s_failures);
}

/* GET /__stats of the fake provider. NULL on failure. */
static json_t *
s_fake_stats (void)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return NULL;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons ((uint16_t) s_fake_port)};
    a.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    char resp[65536];
    size_t have = 0;
    const char *rq = "GET /__stats HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if (connect (fd, (struct sockaddr *) &a, sizeof a) != 0 || send (fd, rq, strlen (rq), 0) < 0) {
        close (fd);
        return NULL;
    }
    for (;;) {
        ssize_t n = recv (fd, resp + have, sizeof resp - 1 - have, 0);
        if (n <= 0)
            break;
        have += (size_t) n;
        if (have >= sizeof resp - 1)
            break;
    }
    close (fd);
    resp[have] = '\0';
    const char *body = strstr (resp, "\r\n\r\n");
    return body ? json_loads (body + 4, 0, NULL) : NULL;
}

static long
s_stat (const char *key)
{
    json_t *j = s_fake_stats ();
    long v = j ? (long) json_integer_value (json_object_get (j, key)) : -1;
    json_decref (j);
    return v;
}

/* ------------------------------------------------------------ requests -- */

typedef struct {
    env_t *reply;
    int order;
} slot_t;

static int s_arrivals;

static void
s_on_reply (bus_client_t *c, int status, env_t *reply, void *arg)
{
    (void) c;
    (void) status;
    slot_t *s = arg;
    s->reply = reply;
    s->order = ++s_arrivals;
}

static env_t *
s_explain_req (const char *question, const char *request_id)
{
    env_t *e = env_new ("explain-conc-test");
    Copilot__V1__ExplainRequest *r = env_msg_new (&copilot__v1__explain_request__descriptor);
    r->report_id = env_strdup ("job_cost");
    r->entity_type = env_strdup ("");
    r->entity_id = env_strdup ("");
    r->chip_id = env_strdup ("");
    r->question = env_strdup (question);
    env_set_body (e, COPILOT__V1__ENVELOPE__BODY_EXPLAIN_REQUEST, r);
    if (request_id)
        env_set_str (&e->header->request_id, request_id);
    return e;
}

static int
s_send (bus_client_t *cl, env_t *req, slot_t *slot)
{
    int rc = bus_client_send (cl, req, CALL_TIMEOUT_MS, 0, s_on_reply, slot);
    env_free (req);
    return rc;
}

static bool
s_wait (bus_client_t *cl, slot_t *const *slots, int n)
{
    int64_t end = clock_mono_ms () + CALL_TIMEOUT_MS;
    for (;;) {
        bool all = true;
        for (int i = 0; i < n; i++)
            all = all && slots[i]->order > 0;
        if (all)
            return true;
        if (clock_mono_ms () > end)
            return false;
        bus_client_poll (cl, 20);
    }
}

static const Copilot__V1__ExplainReply *
s_reply (const env_t *rep, const char *what)
{
    if (!rep) {
        CHECK (rep != NULL, "%s: no reply", what);
        return NULL;
    }
    if (env_is_error (rep)) {
        CHECK (!env_is_error (rep), "%s: error %s: %s", what, env_code_name ((int) env_error (rep)->code),
               env_error (rep)->message);
        return NULL;
    }
    CHECK (rep->body_case == COPILOT__V1__ENVELOPE__BODY_EXPLAIN_REPLY, "%s: body %s", what,
           env_body_name ((int) rep->body_case));
    return rep->body_case == COPILOT__V1__ENVELOPE__BODY_EXPLAIN_REPLY ? rep->explain_reply : NULL;
}

#define Q1 "Why does job_id=J-FIN-DAILY cost what it costs?"
#define Q2 "Why does job_id=J-LEGACY-ETL cost what it costs?"
#define Q3 "Why does job_id=J-SUPPLY-RAW cost what it costs?"
#define Q4 "Why does job_id=J-ML-TRAINING cost what it costs?"

static void
s_scenario (void *zctx, const char *pb_ep)
{
    bus_client_t *cl = bus_client_new (zctx, pb_ep, "explain-conc-test", "prompt-builder");
    if (!cl) {
        CHECK (cl != NULL, "client");
        return;
    }
    slot_t a = {0}, b = {0}, c = {0}, d = {0}, e = {0};

    /* 1. Ping while an explain is in flight */
    s_arrivals = 0;
    CHECK (s_send (cl, s_explain_req (Q1, NULL), &a) == 0, "send explain 1");
    int64_t end = clock_mono_ms () + CALL_TIMEOUT_MS;
    while (a.order == 0 && s_stat ("inflight") < 1 && clock_mono_ms () < end)
        bus_client_poll (cl, 20);
    CHECK (a.order == 0, "explain 1 finished before its completion was seen in flight");
    env_t *ping = env_new ("explain-conc-test");
    env_set_body (ping, COPILOT__V1__ENVELOPE__BODY_PING_REQUEST, env_msg_new (&copilot__v1__ping_request__descriptor));
    CHECK (s_send (cl, ping, &b) == 0, "send ping");
    CHECK (s_wait (cl, (slot_t *[]){&b}, 1), "no Ping reply");
    long inflight_after_ping = s_stat ("inflight");
    CHECK (b.reply && b.reply->body_case == COPILOT__V1__ENVELOPE__BODY_PING_REPLY, "ping body");
    CHECK (b.reply && b.reply->ping_reply && strstr (b.reply->ping_reply->detail, "[+]workers 4"), "ping detail %s",
           b.reply && b.reply->ping_reply ? b.reply->ping_reply->detail : "");
    CHECK (a.order == 0, "the Ping was answered only after the explain (order explain %d, ping %d)", a.order, b.order);
    CHECK (inflight_after_ping >= 1, "the completion was no longer in flight after the Ping reply (%ld)",
           inflight_after_ping);
    CHECK (s_wait (cl, (slot_t *[]){&a}, 1), "explain 1: no reply");
    CHECK (b.order < a.order, "ping %d explain %d", b.order, a.order);
    const Copilot__V1__ExplainReply *r1 = s_reply (a.reply, "explain 1");
    if (r1)
        CHECK (strcmp (r1->provider, "openai") == 0 && strstr (r1->answer_markdown, "Fake answer") != NULL,
               "explain 1 answer: provider %s", r1->provider);

    /* 2. two explains concurrently */
    long req0 = s_stat ("requests");
    CHECK (s_stat ("max_inflight") == 1, "max_inflight before part 2: %ld", s_stat ("max_inflight"));
    s_arrivals = 0;
    env_free (b.reply); /* the Ping reply */
    memset (&b, 0, sizeof b);
    CHECK (s_send (cl, s_explain_req (Q2, NULL), &b) == 0, "send explain 2");
    CHECK (s_send (cl, s_explain_req (Q3, NULL), &c) == 0, "send explain 3");
    CHECK (s_wait (cl, (slot_t *[]){&b, &c}, 2), "explains 2/3: no reply");
    long maxin = s_stat ("max_inflight");
    fprintf (stderr, "provider: %ld completion(s) in flight at most\n", maxin);
    CHECK (maxin >= 2, "the two explains did not reach the provider concurrently (max_inflight %ld)", maxin);
    CHECK (s_stat ("requests") == req0 + 2, "provider requests %ld, expected %ld", s_stat ("requests"), req0 + 2);
    const Copilot__V1__ExplainReply *r2 = s_reply (b.reply, "explain 2"), *r3 = s_reply (c.reply, "explain 3");
    if (r2)
        CHECK (strstr (r2->answer_markdown, "job::J-LEGACY-ETL") != NULL, "explain 2 is about J-LEGACY-ETL");
    if (r3)
        CHECK (strstr (r3->answer_markdown, "job::J-SUPPLY-RAW") != NULL, "explain 3 is about J-SUPPLY-RAW");

    /* 3. same question, new request id: same answer */
    s_arrivals = 0;
    CHECK (s_send (cl, s_explain_req (Q2, NULL), &d) == 0, "send explain 2 again");
    CHECK (s_wait (cl, (slot_t *[]){&d}, 1), "explain 2 again: no reply");
    const Copilot__V1__ExplainReply *r2b = s_reply (d.reply, "explain 2 again");
    if (r2 && r2b)
        CHECK (strcmp (r2->answer_markdown, r2b->answer_markdown) == 0, "same request, different answer");

    /* 4. one request id twice at once: one completion, one replay */
    long req1 = s_stat ("requests");
    env_free (a.reply);
    memset (&a, 0, sizeof a);
    s_arrivals = 0;
    CHECK (s_send (cl, s_explain_req (Q4, "conc-same-id-1"), &a) == 0, "send explain 4");
    CHECK (s_send (cl, s_explain_req (Q4, "conc-same-id-1"), &e) == 0, "send explain 4 again");
    CHECK (s_wait (cl, (slot_t *[]){&a, &e}, 2), "explain 4: no reply");
    const Copilot__V1__ExplainReply *r4 = s_reply (a.reply, "explain 4"), *r4b = s_reply (e.reply, "explain 4 dup");
    CHECK (s_stat ("requests") == req1 + 1, "same id: %ld completions", s_stat ("requests") - req1);
    if (r4 && r4b) {
        CHECK (r4->commentary_seq == r4b->commentary_seq && r4->commentary_seq > 0, "seq %llu vs %llu",
               (unsigned long long) r4->commentary_seq, (unsigned long long) r4b->commentary_seq);
        CHECK ((r4->note && strstr (r4->note, "Replayed")) || (r4b->note && strstr (r4b->note, "Replayed")),
               "neither answer says it was replayed");
        CHECK (strncmp (r4->answer_markdown, r4b->answer_markdown, 40) == 0, "same id, different answer");
    }
    env_free (a.reply);
    env_free (b.reply);
    env_free (c.reply);
    env_free (d.reply);
    env_free (e.reply);
    bus_client_destroy (&cl);
}

int
main (int argc, char **argv)
{
    if (argc < 4) {
        fprintf (stderr, "usage: %s BIN_DIR FIXTURE_DB FAKE_PROVIDER\n", argv[0]);
        return 2;
    }
    str_copy (s_bin, sizeof s_bin, argv[1]);
    const char *fixture = argv[2], *fake = argv[3];
    struct stat fst;
    if (stat (fixture, &fst) != 0) {
        fprintf (stderr, "SKIP: fixture %s missing\n", fixture);
        return 77;
    }
    const char *required[] = {"report-service", "llm-gateway", "prompt-builder", NULL};
    for (size_t i = 0; required[i]; i++) {
        char p[700];
        str_fmt (p, sizeof p, "%s/%s", s_bin, required[i]);
        if (!itp_is_exec (p)) {
            fprintf (stderr, "SKIP: %s is not built (%s)\n", required[i], p);
            return 77;
        }
    }
    if (!itp_is_exec (fake)) {
        fprintf (stderr, "SKIP: fake provider not built\n");
        return 77;
    }
    str_copy (itp_dir, sizeof itp_dir, "/tmp/explain-conc-XXXXXX");
    if (!mkdtemp (itp_dir))
        return 1;
    char run[400], data[400], pb_ep[500];
    str_fmt (run, sizeof run, "%s/run", itp_dir);
    str_fmt (data, sizeof data, "%s/data", itp_dir);
    mkdir (run, 0700);
    mkdir (data, 0700);
    setenv ("COPILOT_RUN_DIR", run, 1);
    setenv ("COPILOT_DATA_DIR", data, 1);
    setenv ("COPILOT_DB_PATH", fixture, 1);
    setenv ("COPILOT_LOG_LEVEL", "info", 1);
    static const char *const unset[] = {"OPENAI_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY", "GROK_API_KEY",
                                        "XAI_API_KEY", "LLM_PROVIDER", "COPILOT_LLM_PROVIDER", "COPILOT_LLM_API_KEY",
                                        "COPILOT_LLM_BASE_URL", "COPILOT_LLM_MODEL", "COPILOT_CONFIG", NULL};
    for (size_t i = 0; unset[i]; i++)
        unsetenv (unset[i]);
    str_fmt (pb_ep, sizeof pb_ep, "ipc://%s/prompt-builder.sock", run);
    void *zctx = proc_zmq_ctx_new ();
    const char *env_none[] = {NULL};

    char *fargv[] = {(char *) fake, (char *) "--port", (char *) "0", NULL};
    itp_proc_t *fp = itp_spawn ("fake-provider", fargv, env_none);
    char line[200];
    if (!fp || !itp_wait_line (fp, "READY port=", READY_TIMEOUT_MS, line, sizeof line)) {
        CHECK (false, "fake provider did not start");
        goto done;
    }
    fp->tool = true;
    s_fake_port = (int) strtol (line + strlen ("READY port="), NULL, 10);
    static char fake_url[128];
    str_fmt (fake_url, sizeof fake_url, "COPILOT_LLM_BASE_URL=http://127.0.0.1:%d/v1", s_fake_port);
    if (!s_start_daemon ("report-service", (const char *const[]){"COPILOT_REPORT_SERVICE_ALERTS=false", NULL}))
        goto done;
    /* Streaming with 400 ms between the (up to 5) chunks: each completion
     * stays in flight at the provider for more than a second. */
    if (!s_start_daemon ("llm-gateway",
                         (const char *const[]){fake_url, "COPILOT_LLM_PROVIDER=openai", "OPENAI_API_KEY=conc-test-key",
                                               "COPILOT_LLM_MODEL=fake/slow400", "COPILOT_LLM_STREAM=true",
                                               "COPILOT_LLM_WORKERS=4", NULL}))
        goto done;
    /* graph-service / retrieval are not running: short timeouts, degraded answers */
    if (!s_start_daemon ("prompt-builder",
                         (const char *const[]){"COPILOT_PROMPT_BUILDER_GRAPH_TIMEOUT_MS=200",
                                               "COPILOT_PROMPT_BUILDER_RETRIEVAL_TIMEOUT_MS=200",
                                               "COPILOT_PROMPT_BUILDER_REPORT_TIMEOUT_MS=30000",
                                               "COPILOT_PROMPT_BUILDER_LLM_TIMEOUT_MS=30000", NULL}))
        goto done;
    s_scenario (zctx, pb_ep);
done:
    itp_stop_all (&s_failures);
    proc_zmq_ctx_term (&zctx);
    if (itp_nprocs == 0 || s_failures) {
        fprintf (stderr, "%d check(s) failed; logs in %s\n", s_failures, itp_dir);
        return 1;
    }
    char cmd[400];
    str_fmt (cmd, sizeof cmd, "rm -rf '%s'", itp_dir);
    if (system (cmd) != 0)
        fprintf (stderr, "could not remove %s\n", itp_dir);
    fprintf (stderr, "all checks passed\n");
    return 0;
}
