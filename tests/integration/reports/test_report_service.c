/* test_report_service.c — integration test of the report-service daemon:
 * real processes, real sockets, the real pub/sub path.
 *
 *   test_report_service <report-service binary> <copilot binary> <fixture db>
 *
 * 1. Start on a copy of the fixture; wait for READY.
 * 2. ListReports / RunReport / EntityFacts over the wire; bad parameters
 *    come back as INVALID_ARGUMENT with the exact message and the parameter
 *    as detail; unknown → NOT_FOUND; the forecast report runs.
 * 3. Alerts: shortly after start-up every anomaly of the fixture is published
 *    exactly once on alert.v1.<severity> (the test binds the socket the
 *    daemon's PUB connects to), with increasing sequence numbers.
 * 4. data.changed without new data publishes nothing new; after inserting a
 *    cost spike and data.changed, exactly the one new anomaly is published
 *    and RunReport reflects the new data (cache dropped).
 * 5. Restart: the state file prevents republishing.
 * 6. `copilot report ... --endpoint EP --json` (daemon) agrees with
 *    `copilot report ... --db PATH --json` (local engine).
 * 7. SIGTERM: exit status 0.
 * Exits 77 when a binary or the fixture is missing.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>
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

static int s_failures;
#define CHECK(cond) ITC_CHECK (s_failures, cond)
#define REQUIRE(cond) ITC_REQUIRE (s_failures, cond, out)

/* ---- alerts received ------------------------------------------------------ */
typedef struct {
    char ids[256][96];
    char topics[256][48];
    uint64_t seqs[256];
    int n;
    int bad_topic;
} alerts_t;

static void
s_on_alert (pubsub_sub_t *sub, const char *topic, env_t *env, void *arg)
{
    (void) sub;
    alerts_t *a = arg;
    if (env->body_case == COPILOT__V1__ENVELOPE__BODY_ALERT && env->alert && a->n < 256) {
        char want[64];
        snprintf (want, sizeof want, "alert.v1.%s", env->alert->severity);
        if (strcmp (want, topic) != 0)
            a->bad_topic++;
        snprintf (a->ids[a->n], sizeof a->ids[0], "%s", env->alert->alert_id);
        snprintf (a->topics[a->n], sizeof a->topics[0], "%s", topic);
        a->seqs[a->n] = env->header ? env->header->seq : 0;
        a->n++;
    }
    env_free (env);
}

static void
s_drain (pubsub_sub_t *sub, int ms)
{
    int64_t end = clock_mono_ms () + ms;
    while (clock_mono_ms () < end)
        pubsub_sub_poll (sub, 50);
}

static env_t *
s_call (bus_client_t *c, env_t *req)
{
    env_t *reply = NULL;
    bus_client_call (c, req, &reply, 10000, BUS_CALL_IDEMPOTENT);
    env_free (req);
    return reply;
}

static env_t *
s_run (bus_client_t *c, const char *report, const char *k, const char *v)
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
    return s_call (c, req);
}

static int
s_code (const env_t *e)
{
    if (!e)
        return -1;
    return e->body_case == COPILOT__V1__ENVELOPE__BODY_ERROR ? (int) e->error->code : 0;
}

static json_t *
s_cli_json (const char *copilot, const char *args)
{
    char cmd[2048];
    snprintf (cmd, sizeof cmd, "'%s' report %s --json", copilot, args);
    FILE *p = popen (cmd, "r");
    if (!p)
        return NULL;
    json_error_t e;
    json_t *j = json_loadf (p, 0, &e);
    int st = pclose (p);
    if (st != 0) {
        json_decref (j);
        return NULL;
    }
    return j;
}

static const char *
s_kpi_text (json_t *r, size_t i)
{
    return json_string_value (json_object_get (json_array_get (json_object_get (r, "kpis"), i), "text"));
}

int
main (int argc, char **argv)
{
    if (argc < 4 || access (argv[1], X_OK) != 0 || access (argv[2], X_OK) != 0 || access (argv[3], R_OK) != 0) {
        fprintf (stderr, "usage: %s <report-service> <copilot> <fixture.db> (missing: skipping)\n", argv[0]);
        return 77;
    }
    const char *bin = argv[1], *copilot = argv[2], *fixture = argv[3];
    char dir[] = "/tmp/rs_itest_XXXXXX";
    if (!mkdtemp (dir))
        return 1;
    char db[256], ep[256], sub_ep[256], pub_ep[256], sub_bind[300], pub_bind[300];
    snprintf (db, sizeof db, "%s/telemetry.db", dir);
    snprintf (ep, sizeof ep, "ipc://%s/rs.sock", dir);
    snprintf (sub_ep, sizeof sub_ep, "ipc://%s/bus-sub.sock", dir);
    snprintf (pub_ep, sizeof pub_ep, "ipc://%s/bus-pub.sock", dir);
    snprintf (sub_bind, sizeof sub_bind, "@%s", sub_ep);
    snprintf (pub_bind, sizeof pub_bind, "@%s", pub_ep);
    if (itf_copy_file (fixture, db) != 0)
        return 1;
    chmod (db, 0644);
    setenv ("COPILOT_DB_PATH", db, 1);
    setenv ("COPILOT_RUN_DIR", dir, 1);
    setenv ("COPILOT_BUS_SUB_ENDPOINT", sub_ep, 1);
    setenv ("COPILOT_BUS_PUB_ENDPOINT", pub_ep, 1);
    /* Long enough for the daemon's PUB socket to connect to our SUB and
     * receive its subscription even under sanitizers; alerts published
     * before that are lost to subscribers (ListAlerts still has them). */
    setenv ("COPILOT_REPORT_SERVICE_ALERT_DELAY_MS", "1500", 1);
    setenv ("COPILOT_LOG_LEVEL", "warn", 1);

    void *zctx = zmq_ctx_new ();
    alerts_t *al = calloc (1, sizeof *al);
    pubsub_pub_t *pub = pubsub_pub_new (zctx, sub_bind, "test");          /* data.changed -> daemon */
    pubsub_sub_t *sub = pubsub_sub_new (zctx, pub_bind, "test", s_on_alert, al);   /* daemon alerts -> us */
    bus_client_t *cl = bus_client_new (zctx, ep, "test", "report-service");
    int fd = -1;
    env_t *r = NULL;
    json_t *local = NULL, *remote = NULL;
    pid_t pid = 0;
    REQUIRE (al && pub && sub && cl && pubsub_sub_subscribe (sub, "alert.") == 0);
    pid = itp_spawn_endpoint (bin, ep, &fd);
    REQUIRE (pid > 0);
    REQUIRE (itp_wait_ready_fd (fd, "READY report-service", 10000));

    /* 2. RPCs */
    {
        env_t *req = env_new ("test");
        env_set_body (req, COPILOT__V1__ENVELOPE__BODY_LIST_REPORTS_REQUEST,
                      env_msg_new (&copilot__v1__list_reports_request__descriptor));
        r = s_call (cl, req);
        REQUIRE (s_code (r) == 0 && r->list_reports_reply);
        CHECK (r->list_reports_reply->n_reports >= 5);
        CHECK (strcmp (r->list_reports_reply->reports[0]->id, "job_cost") == 0);
        CHECK (r->list_reports_reply->reports[0]->n_params >= 4);
        env_free (r);
    }
    r = s_run (cl, "job_cost", NULL, NULL);
    REQUIRE (s_code (r) == 0 && r->run_report_reply && r->run_report_reply->result);
    {
        Copilot__V1__ReportResult *res = r->run_report_reply->result;
        CHECK (res->n_rows == 9);
        CHECK (res->n_kpis == 4 && strcmp (res->kpis[0]->text, "$200,566") == 0);
        CHECK (res->n_selections >= 8);
        CHECK (strcmp (res->selections[0]->entity_id, "J-LEGACY-ETL") == 0);
        CHECK (strcmp (res->selections[0]->chips[0]->id, "report:job_cost:job:J-LEGACY-ETL:0") == 0);
        CHECK (strncmp (res->selections[0]->chips[0]->prompt, "job_id=J-LEGACY-ETL\n", 20) == 0);
        CHECK (strstr (res->chart_spec_json, "\"success_rate_pct\"") != NULL);
        CHECK (strstr (res->extra_json, "\"tables\"") != NULL);
        bool as_of = false;
        for (size_t i = 0; i < res->n_params; i++)
            as_of = as_of || (strcmp (res->params[i]->key, "as_of") == 0 && strcmp (res->params[i]->value, "2025-12-15") == 0);
        CHECK (as_of);
        CHECK (!res->cached);
    }
    env_free (r);
    r = s_run (cl, "job_cost", NULL, NULL);
    CHECK (s_code (r) == 0 && r->run_report_reply->result->cached);
    env_free (r);
    r = s_run (cl, "job_cost", "from", "2025-13-01");
    CHECK (s_code (r) == COPILOT__V1__ERROR_CODE__ERROR_INVALID_ARGUMENT);
    CHECK (r && r->error && strcmp (r->error->message, "from: expected a date YYYY-MM-DD, got '2025-13-01'") == 0);
    CHECK (r && r->error && strcmp (r->error->detail, "from") == 0);
    env_free (r);
    r = s_run (cl, "nope", NULL, NULL);
    CHECK (s_code (r) == COPILOT__V1__ERROR_CODE__ERROR_NOT_FOUND);
    env_free (r);
    r = s_run (cl, "cost_forecast", "horizon", "30");
    CHECK (s_code (r) == 0 && r->run_report_reply->result->n_rows == 75);
    env_free (r);
    {
        env_t *req = env_new ("test");
        Copilot__V1__EntityFactsRequest *f = env_msg_new (&copilot__v1__entity_facts_request__descriptor);
        env_set_str (&f->entity_type, "job");
        env_set_str (&f->entity_id, "J-FIN-DAILY");
        env_set_body (req, COPILOT__V1__ENVELOPE__BODY_ENTITY_FACTS_REQUEST, f);
        r = s_call (cl, req);
        REQUIRE (s_code (r) == 0 && r->entity_facts_reply);
        Copilot__V1__EntityFactsReply *fr = r->entity_facts_reply;
        CHECK (strcmp (fr->label, "Daily Financial Aggregation") == 0);
        bool cost = false;
        for (size_t i = 0; i < fr->n_facts; i++)
            if (strcmp (fr->facts[i]->name, "cost_total_usd") == 0)
                cost = fr->facts[i]->value > 5548.99 && fr->facts[i]->value < 5549.0 &&
                       strcmp (fr->facts[i]->source_table, "compute_usage") == 0 && fr->facts[i]->n_row_keys == 25;
        CHECK (cost);
        CHECK (fr->n_related_ids > 0 && strcmp (fr->related_ids[0], "job::J-FIN-DAILY") == 0);
        env_free (r);
    }

    /* 3. start-up alerts: the fixture's 10 anomalies, each once */
    s_drain (sub, 3000);
    fprintf (stderr, "start-up alerts: %d\n", al->n);
    CHECK (al->n == 10);
    CHECK (al->bad_topic == 0);
    for (int i = 0; i < al->n; i++)
        for (int j = i + 1; j < al->n; j++)
            CHECK (strcmp (al->ids[i], al->ids[j]) != 0);
    for (int i = 1; i < al->n; i++)
        CHECK (al->seqs[i] > al->seqs[i - 1]);
    bool crit = false;
    for (int i = 0; i < al->n; i++)
        crit = crit || (strcmp (al->ids[i], "J-FIN-DAILY:2025-12-05") == 0 && strcmp (al->topics[i], "alert.v1.critical") == 0);
    CHECK (crit);

    /* 3b. ListAlerts: the same alerts from the state file, newest first,
     * whether or not a subscriber heard them; limits are checked. */
    {
        env_t *req = env_new ("test");
        Copilot__V1__ListAlertsRequest *la = env_msg_new (&copilot__v1__list_alerts_request__descriptor);
        env_set_body (req, COPILOT__V1__ENVELOPE__BODY_LIST_ALERTS_REQUEST, la);
        r = s_call (cl, req);
        REQUIRE (s_code (r) == 0 && r->list_alerts_reply);
        Copilot__V1__ListAlertsReply *lr = r->list_alerts_reply;
        CHECK (lr->n_alerts == 10 && lr->total == 10);
        bool fin = false;
        for (size_t i = 0; i < lr->n_alerts; i++) {
            bool heard = false;
            for (int k = 0; k < al->n; k++)
                heard = heard || strcmp (al->ids[k], lr->alerts[i]->alert_id) == 0;
            CHECK (heard);
            if (strcmp (lr->alerts[i]->alert_id, "J-FIN-DAILY:2025-12-05") == 0)
                fin = strcmp (lr->alerts[i]->severity, "critical") == 0 && lr->alerts[i]->z_score > 3.0
                      && strcmp (lr->alerts[i]->entity_id, "J-FIN-DAILY") == 0;
        }
        CHECK (fin);
        /* newest publication first: the reverse of the order heard */
        if (lr->n_alerts == 10 && al->n == 10)
            CHECK (strcmp (lr->alerts[0]->alert_id, al->ids[9]) == 0
                   && strcmp (lr->alerts[9]->alert_id, al->ids[0]) == 0);
        env_free (r);
        req = env_new ("test");
        la = env_msg_new (&copilot__v1__list_alerts_request__descriptor);
        la->limit = 3;
        env_set_body (req, COPILOT__V1__ENVELOPE__BODY_LIST_ALERTS_REQUEST, la);
        r = s_call (cl, req);
        CHECK (s_code (r) == 0 && r->list_alerts_reply->n_alerts == 3 && r->list_alerts_reply->total == 10);
        env_free (r);
        req = env_new ("test");
        la = env_msg_new (&copilot__v1__list_alerts_request__descriptor);
        la->limit = 501;
        env_set_body (req, COPILOT__V1__ENVELOPE__BODY_LIST_ALERTS_REQUEST, la);
        r = s_call (cl, req);
        CHECK (s_code (r) == COPILOT__V1__ERROR_CODE__ERROR_INVALID_ARGUMENT);
        CHECK (r && r->error && strcmp (r->error->detail, "limit") == 0);
        env_free (r);
    }

    /* 4a. data.changed without new data: nothing new */
    int before = al->n;
    for (int k = 0; k < 3; k++) {
        itb_publish_data_changed (pub, db);
        s_drain (sub, 400);
    }
    CHECK (al->n == before);

    /* 4b. a spike on a new day: exactly one new alert, and reports see it */
    {
        sqlite3 *h;
        REQUIRE (sqlite3_open (db, &h) == SQLITE_OK);
        int erc = sqlite3_exec (h,
                                "INSERT INTO job_runs (job_run_id, job_id, start_time, duration_ms, run_status, spot_ratio)"
                                " VALUES ('J-SUPPLY-RAW-2025-12-16-TEST','J-SUPPLY-RAW','2025-12-16 01:10:00',1200000,'SUCCESS',0.25);"
                                "INSERT INTO compute_usage (compute_usage_id, parent_id, parent_type, compute_sku, dbus_consumed,"
                                " total_cost, usage_date) VALUES ('J-SUPPLY-RAW-2025-12-16-TEST','J-SUPPLY-RAW-2025-12-16-TEST',"
                                " 'JOB_RUN','STANDARD_JOB_COMPUTE',5000,2000.0,'2025-12-16');",
                                NULL, NULL, NULL);
        sqlite3_close (h);
        REQUIRE (erc == SQLITE_OK);
    }
    int64_t end = clock_mono_ms () + 8000;
    while (al->n == before && clock_mono_ms () < end) {
        itb_publish_data_changed (pub, db);
        s_drain (sub, 300);
    }
    s_drain (sub, 500);
    CHECK (al->n == before + 1);
    if (al->n == before + 1)
        CHECK (strcmp (al->ids[before], "J-SUPPLY-RAW:2025-12-16") == 0);
    r = s_run (cl, "job_cost", NULL, NULL);
    REQUIRE (s_code (r) == 0);
    CHECK (!r->run_report_reply->result->cached);
    CHECK (strcmp (r->run_report_reply->result->kpis[0]->text, "$202,566") == 0);
    env_free (r);

    /* 5. restart: nothing republished */
    CHECK (itp_term_wait (pid) == 0);
    close (fd);
    before = al->n;
    pid = itp_spawn_endpoint (bin, ep, &fd);
    REQUIRE (pid > 0 && itp_wait_ready_fd (fd, "READY report-service", 10000));
    s_drain (sub, 2500);
    CHECK (al->n == before);

    /* 6. CLI: daemon vs local engine */
    {
        char a1[600], a2[600];
        snprintf (a1, sizeof a1, "job_cost --endpoint '%s'", ep);
        snprintf (a2, sizeof a2, "job_cost --db '%s'", db);
        remote = s_cli_json (copilot, a1);
        local = s_cli_json (copilot, a2);
        REQUIRE (remote && local);
        CHECK (json_array_size (json_object_get (remote, "rows")) == json_array_size (json_object_get (local, "rows")));
        for (size_t i = 0; i < 4; i++)
            CHECK (strcmp (s_kpi_text (remote, i), s_kpi_text (local, i)) == 0);
        json_t *sr = json_object_get (remote, "selections"), *sl = json_object_get (local, "selections");
        CHECK (json_array_size (sr) == json_array_size (sl));
        for (size_t i = 0; i < json_array_size (sl); i++) {
            json_t *cr = json_object_get (json_array_get (sr, i), "chips"), *cl2 = json_object_get (json_array_get (sl, i), "chips");
            CHECK (json_array_size (cr) == json_array_size (cl2));
            for (size_t j = 0; j < json_array_size (cl2); j++) {
                CHECK (json_equal (json_object_get (json_array_get (cr, j), "id"), json_object_get (json_array_get (cl2, j), "id")));
                CHECK (json_equal (json_object_get (json_array_get (cr, j), "prompt"),
                                   json_object_get (json_array_get (cl2, j), "prompt")));
            }
        }
        CHECK (json_equal (json_object_get (remote, "chart_spec"), json_object_get (local, "chart_spec")));
    }

    /* 7. SIGTERM */
    CHECK (itp_term_wait (pid) == 0);
    pid = 0;
out:
    if (pid > 0)
        itp_term_wait (pid);
    json_decref (local);
    json_decref (remote);
    bus_client_destroy (&cl);
    pubsub_sub_destroy (&sub);
    pubsub_pub_destroy (&pub);
    zmq_ctx_term (zctx);
    free (al);
    char cmd[400];
    snprintf (cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system (cmd) != 0)
        fprintf (stderr, "cleanup of %s failed\n", dir);
    fprintf (stderr, "report-service integration: %d failure(s)\n", s_failures);
    return s_failures ? 1 : 0;
}
