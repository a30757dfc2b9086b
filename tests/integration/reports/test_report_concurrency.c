/* test_report_concurrency.c — the report-service loop stays responsive while
 * reports compute on its worker pool (real daemon, real sockets).
 *
 *   test_report_concurrency <report-service binary> <copilot binary>
 *
 * A medium generated DB (`copilot generate --profile medium`, ~86k rows)
 * makes cold reports take hundreds of ms, which is the "slow report".
 *
 * 1. Ordering: on ONE DEALER socket we send a cold RunReport(slow report),
 *    then Ping, ListReports, a RunReport already in the cache and an
 *    EntityFacts asked before. The four quick replies must arrive BEFORE the
 *    slow one (the old daemon computed on
 *    its loop thread and answered strictly in order: slow first). No
 *    wall-clock thresholds: only the arrival order is asserted.
 * 2. Coalescing: N identical cold RunReports sent at once cause exactly one
 *    computation (copilot_report_computations_total +1); the others joined it
 *    or hit the cache (copilot_report_coalesced_total + cache hits = N-1);
 *    every reply carries the same figures.
 * 3. Two different cold reports and an EntityFacts in flight together all
 *    complete correctly (workers = 2).
 * 4. data.changed: a cold report is requested, the data version is bumped
 *    and data.changed published while it computes; after its reply the same
 *    request is NOT answered from the cache and carries the new version
 *    (a result computed on old data is never cached under the new version).
 * 5. SIGTERM: exit status 0.
 * Exits 77 when a binary is missing.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>
#include <zmq.h>

#include "bus.h"
#include "clock.h"
#include "env.h"
#include "pubsub.h"

#include "it_bus.h"
#include "it_check.h"
#include "it_files.h"
#include "it_proc.h"

#define SLOW_REPORT "anomaly_detection" /* the heaviest cold report on medium data (~0.3 s) */
#define CALL_MS 120000
#define NCOALESCE 6

static int s_failures;
#define CHECK(cond) ITC_CHECK (s_failures, cond)
#define REQUIRE(cond) ITC_REQUIRE (s_failures, cond, out)

/* ---- async replies, recorded in arrival order ------------------------------ */
typedef struct {
    const char *name;
    env_t *reply;
    int order; /* 1-based arrival rank, 0 = not yet */
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

static bool
s_wait_all (bus_client_t *cl, slot_t *slots, int n, int timeout_ms)
{
    int64_t end = clock_mono_ms () + timeout_ms;
    for (;;) {
        bool all = true;
        for (int i = 0; i < n; i++)
            all = all && slots[i].order > 0;
        if (all)
            return true;
        if (clock_mono_ms () > end)
            return false;
        bus_client_poll (cl, 50);
    }
}

static env_t *
s_run_req (const char *report, const char *k, const char *v)
{
    env_t *req = env_new ("test");
    Copilot__V1__RunReportRequest *r = env_msg_new (&copilot__v1__run_report_request__descriptor);
    env_set_str (&r->report_id, report);
    if (k) {
        Copilot__V1__Param *p = env_msg_new (&copilot__v1__param__descriptor);
        env_set_str (&p->key, k);
        env_set_str (&p->value, v);
        ENV_APPEND (r->params, r->n_params, p);
    }
    env_set_body (req, COPILOT__V1__ENVELOPE__BODY_RUN_REPORT_REQUEST, r);
    return req;
}

static env_t *
s_empty_req (int body_case, const ProtobufCMessageDescriptor *desc)
{
    env_t *req = env_new ("test");
    env_set_body (req, body_case, env_msg_new (desc));
    return req;
}

static int
s_send (bus_client_t *cl, env_t *req, slot_t *slot)
{
    int rc = bus_client_send (cl, req, CALL_MS, 0, s_on_reply, slot);
    env_free (req);
    return rc;
}

static env_t *
s_call (bus_client_t *cl, env_t *req)
{
    env_t *reply = NULL;
    bus_client_call (cl, req, &reply, CALL_MS, 0);
    env_free (req);
    return reply;
}

static const Copilot__V1__ReportResult *
s_result (const env_t *e)
{
    if (!e || e->body_case != COPILOT__V1__ENVELOPE__BODY_RUN_REPORT_REPLY || !e->run_report_reply)
        return NULL;
    return e->run_report_reply->result;
}

static void
s_print_error (const char *what, const env_t *e)
{
    if (e && env_is_error (e))
        fprintf (stderr, "%s: error %s: %s\n", what, env_code_name ((int) env_error (e)->code), env_error (e)->message);
}

/* Value of the first sample of `name` in the daemon's Metrics text, or -1. */
static double
s_metric (bus_client_t *cl, const char *name)
{
    env_t *r = s_call (cl, s_empty_req (COPILOT__V1__ENVELOPE__BODY_METRICS_REQUEST, &copilot__v1__metrics_request__descriptor));
    double v = -1;
    if (r && r->body_case == COPILOT__V1__ENVELOPE__BODY_METRICS_REPLY && r->metrics_reply->text) {
        const char *t = r->metrics_reply->text;
        size_t nl = strlen (name);
        for (const char *line = t; line && *line; line = strchr (line, '\n') ? strchr (line, '\n') + 1 : NULL) {
            if (strncmp (line, name, nl) == 0 && (line[nl] == '{' || line[nl] == ' ')) {
                const char *sp = strchr (line, ' ');
                if (sp)
                    v = strtod (sp + 1, NULL);
                break;
            }
        }
    }
    env_free (r);
    return v;
}

static env_t *
s_facts_req (const char *type, const char *id)
{
    env_t *req = env_new ("test");
    Copilot__V1__EntityFactsRequest *f = env_msg_new (&copilot__v1__entity_facts_request__descriptor);
    env_set_str (&f->entity_type, type);
    env_set_str (&f->entity_id, id);
    env_set_body (req, COPILOT__V1__ENVELOPE__BODY_ENTITY_FACTS_REQUEST, f);
    return req;
}

static bool
s_same_figures (const Copilot__V1__ReportResult *a, const Copilot__V1__ReportResult *b)
{
    if (!a || !b || a->n_rows != b->n_rows || a->n_kpis != b->n_kpis || a->n_selections != b->n_selections)
        return false;
    for (size_t i = 0; i < a->n_kpis; i++)
        if (strcmp (a->kpis[i]->text, b->kpis[i]->text) != 0)
            return false;
    return strcmp (a->data_version, b->data_version) == 0;
}

int
main (int argc, char **argv)
{
    if (argc < 3 || access (argv[1], X_OK) != 0 || access (argv[2], X_OK) != 0) {
        fprintf (stderr, "usage: %s <report-service> <copilot> (missing: skipping)\n", argv[0]);
        return 77;
    }
    const char *bin = argv[1], *copilot = argv[2];
    char dir[] = "/tmp/rs_conc_XXXXXX";
    if (!mkdtemp (dir))
        return 1;
    char db[256], ep[256], sub_ep[256], pub_ep[256], sub_bind[300], cmd[1024];
    snprintf (db, sizeof db, "%s/medium.db", dir);
    snprintf (ep, sizeof ep, "ipc://%s/rs.sock", dir);
    snprintf (sub_ep, sizeof sub_ep, "ipc://%s/bus-sub.sock", dir);
    snprintf (pub_ep, sizeof pub_ep, "ipc://%s/bus-pub.sock", dir);
    snprintf (sub_bind, sizeof sub_bind, "@%s", sub_ep);
    snprintf (cmd, sizeof cmd, "'%s' generate --profile medium --seed 42 --db '%s' > '%s/gen.log' 2>&1", copilot, db, dir);
    int64_t g0 = clock_mono_ms ();
    if (system (cmd) != 0) {
        fprintf (stderr, "copilot generate failed (see %s/gen.log)\n", dir);
        return 1;
    }
    fprintf (stderr, "generated the medium DB in %lld ms\n", (long long) (clock_mono_ms () - g0));
    setenv ("COPILOT_DB_PATH", db, 1);
    setenv ("COPILOT_RUN_DIR", dir, 1);
    setenv ("COPILOT_BUS_SUB_ENDPOINT", sub_ep, 1);
    setenv ("COPILOT_BUS_PUB_ENDPOINT", pub_ep, 1);
    setenv ("COPILOT_REPORT_SERVICE_ALERTS", "false", 1);
    setenv ("COPILOT_REPORT_SERVICE_WORKERS", "2", 1);
    setenv ("COPILOT_LOG_LEVEL", "warn", 1);

    void *zctx = zmq_ctx_new ();
    pubsub_pub_t *pub = pubsub_pub_new (zctx, sub_bind, "test"); /* data.changed -> daemon */
    bus_client_t *cl = bus_client_new (zctx, ep, "test", "report-service");
    bus_client_t *cl2 = bus_client_new (zctx, ep, "test", "report-service");
    int fd = -1;
    pid_t pid = 0;
    env_t *r = NULL, *warm = NULL;
    slot_t slots[NCOALESCE + 4];
    memset (slots, 0, sizeof slots);
    REQUIRE (pub && cl && cl2);
    pid = itp_spawn_endpoint (bin, ep, &fd);
    REQUIRE (pid > 0);
    REQUIRE (itp_wait_ready_fd (fd, "READY report-service", 30000));

    /* warm one report: job_cost is now in the result cache */
    r = s_call (cl, s_run_req ("job_cost", NULL, NULL));
    s_print_error ("job_cost", r);
    REQUIRE (s_result (r) && !s_result (r)->cached);
    warm = r;
    r = s_call (cl, s_run_req ("job_cost", NULL, NULL));
    REQUIRE (s_result (r) && s_result (r)->cached);
    CHECK (s_same_figures (s_result (r), s_result (warm)));
    env_free (r);
    r = s_call (cl, s_facts_req ("job", "J-FIN-DAILY"));
    s_print_error ("facts", r);
    REQUIRE (r && r->body_case == COPILOT__V1__ENVELOPE__BODY_ENTITY_FACTS_REPLY);
    env_free (r);
    r = NULL;

    /* 1. ordering on one socket: slow first, quick ones after */
    {
        double comp0 = s_metric (cl, "copilot_report_computations_total");
        slot_t *slow = &slots[0], *ping = &slots[1], *list = &slots[2], *cached = &slots[3], *facts = &slots[4];
        slow->name = "slow";
        ping->name = "ping";
        list->name = "list";
        cached->name = "cached";
        s_arrivals = 0;
        REQUIRE (s_send (cl, s_run_req (SLOW_REPORT, NULL, NULL), slow) == 0);
        REQUIRE (s_send (cl, s_empty_req (COPILOT__V1__ENVELOPE__BODY_PING_REQUEST, &copilot__v1__ping_request__descriptor), ping) == 0);
        REQUIRE (s_send (cl, s_empty_req (COPILOT__V1__ENVELOPE__BODY_LIST_REPORTS_REQUEST,
                                          &copilot__v1__list_reports_request__descriptor), list) == 0);
        REQUIRE (s_send (cl, s_run_req ("job_cost", NULL, NULL), cached) == 0);
        REQUIRE (s_send (cl, s_facts_req ("job", "J-FIN-DAILY"), facts) == 0);
        REQUIRE (s_wait_all (cl, slots, 5, CALL_MS));
        fprintf (stderr, "arrival order: slow %d, ping %d, list %d, cached %d, facts %d\n", slow->order, ping->order,
                 list->order, cached->order, facts->order);
        s_print_error ("slow", slow->reply);
        CHECK (s_result (slow->reply) != NULL && !s_result (slow->reply)->cached);
        CHECK (ping->reply && ping->reply->body_case == COPILOT__V1__ENVELOPE__BODY_PING_REPLY && ping->reply->ping_reply->ready);
        CHECK (ping->reply && ping->reply->ping_reply && strstr (ping->reply->ping_reply->detail, "[+]workers 2"));
        CHECK (list->reply && list->reply->body_case == COPILOT__V1__ENVELOPE__BODY_LIST_REPORTS_REPLY);
        CHECK (s_result (cached->reply) && s_result (cached->reply)->cached);
        CHECK (s_same_figures (s_result (cached->reply), s_result (warm)));
        CHECK (ping->order < slow->order);
        CHECK (list->order < slow->order);
        CHECK (cached->order < slow->order);
        CHECK (facts->order < slow->order);
        CHECK (facts->reply && facts->reply->body_case == COPILOT__V1__ENVELOPE__BODY_ENTITY_FACTS_REPLY
               && strcmp (facts->reply->entity_facts_reply->entity_id, "J-FIN-DAILY") == 0);
        CHECK (slow->order == 5);
        CHECK (s_metric (cl, "copilot_report_computations_total") == comp0 + 1);
        for (int i = 0; i < 5; i++)
            env_free (slots[i].reply);
        memset (slots, 0, sizeof slots);
    }

    /* 2. N identical cold requests: one computation */
    {
        double comp0 = s_metric (cl, "copilot_report_computations_total");
        double coal0 = s_metric (cl, "copilot_report_coalesced_total");
        double hits0 = s_metric (cl, "copilot_report_cache_hits_total");
        REQUIRE (comp0 >= 0 && coal0 >= 0 && hits0 >= 0);
        s_arrivals = 0;
        for (int i = 0; i < NCOALESCE; i++) {
            slots[i].name = "same";
            /* half on each socket: coalescing is per request, not per client */
            REQUIRE (s_send (i % 2 ? cl2 : cl, s_run_req ("runtime_regression", "recent_days", "10"), &slots[i]) == 0);
        }
        int64_t end = clock_mono_ms () + CALL_MS;
        for (;;) {
            int done = 0;
            for (int i = 0; i < NCOALESCE; i++)
                done += slots[i].order > 0;
            if (done == NCOALESCE || clock_mono_ms () > end)
                break;
            bus_client_poll (cl, 20);
            bus_client_poll (cl2, 20);
        }
        for (int i = 0; i < NCOALESCE; i++) {
            s_print_error ("same", slots[i].reply);
            CHECK (s_result (slots[i].reply) != NULL);
            if (i > 0)
                CHECK (s_same_figures (s_result (slots[i].reply), s_result (slots[0].reply)));
        }
        double comp = s_metric (cl, "copilot_report_computations_total") - comp0;
        double coal = s_metric (cl, "copilot_report_coalesced_total") - coal0;
        double hits = s_metric (cl, "copilot_report_cache_hits_total") - hits0;
        fprintf (stderr, "%d identical requests: %.0f computation(s), %.0f coalesced, %.0f cache hit(s)\n", NCOALESCE,
                 comp, coal, hits);
        CHECK (comp == 1);
        CHECK (coal + hits == NCOALESCE - 1);
        for (int i = 0; i < NCOALESCE; i++)
            env_free (slots[i].reply);
        memset (slots, 0, sizeof slots);
    }

    /* 3. different computations together */
    {
        s_arrivals = 0;
        REQUIRE (s_send (cl, s_run_req ("eviction_cost", NULL, NULL), &slots[0]) == 0);
        REQUIRE (s_send (cl, s_run_req ("failure_signatures", NULL, NULL), &slots[1]) == 0);
        REQUIRE (s_send (cl, s_facts_req ("job", "J-SUPPLY-RAW"), &slots[2]) == 0);
        REQUIRE (s_send (cl, s_run_req ("job_cost", "from", "2025-13-01"), &slots[3]) == 0);
        REQUIRE (s_wait_all (cl, slots, 4, CALL_MS));
        CHECK (s_result (slots[0].reply) && strcmp (s_result (slots[0].reply)->report_id, "eviction_cost") == 0);
        CHECK (s_result (slots[1].reply) && strcmp (s_result (slots[1].reply)->report_id, "failure_signatures") == 0);
        CHECK (slots[2].reply && slots[2].reply->body_case == COPILOT__V1__ENVELOPE__BODY_ENTITY_FACTS_REPLY
               && strcmp (slots[2].reply->entity_facts_reply->entity_id, "J-SUPPLY-RAW") == 0);
        CHECK (slots[3].reply && env_is_error (slots[3].reply)
               && env_error (slots[3].reply)->code == COPILOT__V1__ERROR_CODE__ERROR_INVALID_ARGUMENT
               && strcmp (env_error (slots[3].reply)->detail, "from") == 0);
        for (int i = 0; i < 4; i++)
            env_free (slots[i].reply);
        memset (slots, 0, sizeof slots);
    }

    /* 4. data.changed while a cold report computes */
    {
        const char *dv0 = s_result (warm)->data_version;
        s_arrivals = 0;
        REQUIRE (s_send (cl, s_run_req (SLOW_REPORT, "to", "2025-12-14"), &slots[0]) == 0);
        sqlite3 *h = NULL;
        REQUIRE (sqlite3_open (db, &h) == SQLITE_OK);
        sqlite3_busy_timeout (h, 60000);
        int erc = sqlite3_exec (h, "UPDATE data_version SET version = version + 1 WHERE id = 1", NULL, NULL, NULL);
        sqlite3_close (h);
        REQUIRE (erc == SQLITE_OK);
        CHECK (itb_publish_data_changed (pub, db) == 0);
        REQUIRE (s_wait_all (cl, slots, 1, CALL_MS));
        s_print_error ("slow during data.changed", slots[0].reply);
        REQUIRE (s_result (slots[0].reply));
        fprintf (stderr, "old version %s, result computed on %s\n", dv0, s_result (slots[0].reply)->data_version);
        r = s_call (cl, s_run_req (SLOW_REPORT, "to", "2025-12-14"));
        REQUIRE (s_result (r));
        CHECK (!s_result (r)->cached);
        CHECK (strcmp (s_result (r)->data_version, dv0) != 0);
        env_free (r);
        r = s_call (cl, s_run_req (SLOW_REPORT, "to", "2025-12-14"));
        CHECK (s_result (r) && s_result (r)->cached); /* cached now, under the new version */
        env_free (r);
        r = NULL;
        /* the warmed job_cost was dropped with the cache */
        r = s_call (cl, s_run_req ("job_cost", NULL, NULL));
        CHECK (s_result (r) && !s_result (r)->cached && strcmp (s_result (r)->data_version, dv0) != 0);
        env_free (r);
        r = NULL;
        env_free (slots[0].reply);
        memset (slots, 0, sizeof slots);
    }

    /* 5. SIGTERM */
    CHECK (itp_term_wait (pid) == 0);
    pid = 0;
out:
    if (pid > 0)
        itp_term_wait (pid);
    for (size_t i = 0; i < sizeof slots / sizeof slots[0]; i++)
        env_free (slots[i].reply);
    env_free (r);
    env_free (warm);
    bus_client_destroy (&cl);
    bus_client_destroy (&cl2);
    pubsub_pub_destroy (&pub);
    zmq_ctx_term (zctx);
    if (fd >= 0)
        close (fd);
    snprintf (cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (!s_failures && system (cmd) != 0)
        fprintf (stderr, "cleanup of %s failed\n", dir);
    if (s_failures)
        fprintf (stderr, "files kept in %s\n", dir);
    fprintf (stderr, "report-service concurrency: %d failure(s)\n", s_failures);
    return s_failures ? 1 : 0;
}
