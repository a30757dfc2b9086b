/* test_pull.c — `copilot import --workspace URL`: live pull through the SQL
 * Statement Execution API, against a loopback HTTP server (forked child) that
 * speaks the API's wire format: POST /api/2.0/sql/statements (PENDING, then
 * polled with GET .../{id}), manifest.schema.columns + result.data_array of
 * strings, next_chunk_index chunks, FAILED TABLE_OR_VIEW_NOT_FOUND for a
 * missing table, bearer-token check. Asserts keyset paging (:since / :tie),
 * incremental restarts from the newest landed value, mapping of the pulled
 * rows, and the error on a bad token. */
#include "data_test_util.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>

static char s_dir[4096];
static char s_log[4200];
static int s_port;
static pid_t s_server;

/* ---- canned system tables ------------------------------------------------ */

typedef struct {
    const char *table, *hwm, *tie;
    const char *cols[16];
    const char *rows[8][16];
    int nrows;
} canned_t;

static const canned_t s_canned[] = {
    {"billing.usage", "usage_end_time", "record_id",
     {"account_id", "workspace_id", "record_id", "sku_name", "cloud", "usage_start_time", "usage_end_time",
      "usage_date", "usage_unit", "usage_quantity", "usage_metadata", "record_type", "billing_origin_product", NULL},
     {{"A1", "2002", "u1", "PREMIUM_JOBS_COMPUTE", "AWS", "2025-06-20T01:00:00.000Z", "2025-06-20T02:00:00.000Z",
       "2025-06-20", "DBU", "10.000000000000000000", "{\"job_id\":\"7\",\"job_run_id\":\"70\"}", "ORIGINAL", "JOBS"},
      {"A1", "2002", "u2", "PREMIUM_JOBS_COMPUTE", "AWS", "2025-06-20T02:00:00.000Z", "2025-06-20T03:00:00.000Z",
       "2025-06-20", "DBU", "5", "{\"job_id\":\"7\",\"job_run_id\":\"70\"}", "ORIGINAL", "JOBS"},
      {"A1", "2002", "u3", "PREMIUM_JOBS_COMPUTE", "AWS", "2025-06-20T02:00:00.000Z", "2025-06-20T03:00:00.000Z",
       "2025-06-20", "DBU", "-5", "{\"job_id\":\"7\",\"job_run_id\":\"70\"}", "RETRACTION", "JOBS"}},
     3},
    {"billing.list_prices", "price_start_time", "sku_name",
     {"account_id", "price_start_time", "price_end_time", "sku_name", "cloud", "currency_code", "usage_unit", "pricing", NULL},
     {{"A1", "2025-01-01T00:00:00.000Z", NULL, "PREMIUM_JOBS_COMPUTE", "AWS", "USD", "DBU",
       "{\"default\":\"0.15\",\"effective_list\":{\"default\":\"0.20\"}}"}},
     1},
    {"lakeflow.jobs", "change_time", "job_id",
     {"account_id", "workspace_id", "job_id", "name", "tags", "change_time", NULL},
     {{"A1", "2002", "7", "pulled_job", "{\"team\":\"ops\"}", "2025-06-01T00:00:00.000Z"}},
     1},
    {"lakeflow.job_run_timeline", "period_end_time", "run_id",
     {"account_id", "workspace_id", "job_id", "run_id", "period_start_time", "period_end_time", "result_state",
      "termination_code", "compute_ids", NULL},
     {{"A1", "2002", "7", "70", "2025-06-20T01:10:00.000Z", "2025-06-20T02:00:00.000Z", NULL, NULL, "[]"},
      {"A1", "2002", "7", "70", "2025-06-20T02:00:00.000Z", "2025-06-20T02:40:00.000Z", "SUCCEEDED", "SUCCESS", "[]"}},
     2},
};

/* The first 19 characters of a timestamp ("2025-06-20T01:10:00"), 'T' as a
 * space: the canned rows' and the database's forms compare equal. */
static void
s_norm (const char *in, char out[20])
{
    size_t n = strnlen (in, 19);
    memcpy (out, in, n);
    out[n] = '\0';
    if (strlen (out) > 10 && out[10] == 'T')
        out[10] = ' ';
}

/* ---- the loopback server -------------------------------------------------- */

static void
s_send (int fd, int status, const char *body)
{
    char head[256];
    int n = snprintf (head, sizeof head,
                      "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                      "Connection: close\r\n\r\n",
                      status, status == 200 ? "OK" : "Error", strlen (body));
    ssize_t w = write (fd, head, (size_t) n);
    w = write (fd, body, strlen (body));
    (void) w;
}

static json_t *
s_result (const canned_t *c, const char *since, const char *tie, long limit, int from, int to, json_t **cols_out)
{
    /* rows after the keyset cursor, at most `limit`; returns data_array [from, to) of them */
    json_t *all = json_array ();
    char s[20], r[20];
    s_norm (since, s);
    int hwm_i = 0, tie_i = 0;
    json_t *cols = json_array ();
    for (int k = 0; c->cols[k]; k++) {
        json_array_append_new (cols, json_pack ("{s:s, s:i, s:s}", "name", c->cols[k], "position", k, "type_name", "STRING"));
        if (strcmp (c->cols[k], c->hwm) == 0)
            hwm_i = k;
        if (strcmp (c->cols[k], c->tie) == 0)
            tie_i = k;
    }
    for (int i = 0; i < c->nrows && (long) json_array_size (all) < limit; i++) {
        s_norm (c->rows[i][hwm_i], r);
        int cmp = strcmp (r, s);
        if (cmp < 0 || (cmp == 0 && strcmp (c->rows[i][tie_i], tie) <= 0))
            continue;
        json_t *row = json_array ();
        for (int k = 0; c->cols[k]; k++)
            json_array_append_new (row, c->rows[i][k] ? json_string (c->rows[i][k]) : json_null ());
        json_array_append_new (all, row);
    }
    json_t *part = json_array ();
    for (int i = from; i < to && i < (int) json_array_size (all); i++)
        json_array_append (part, json_array_get (all, (size_t) i));
    if (cols_out)
        *cols_out = cols;
    else
        json_decref (cols);
    json_object_set_new (json_object (), "n", json_integer ((json_int_t) json_array_size (all)));
    json_t *res = json_pack ("{s:o, s:i}", "data_array", part, "row_count", (int) json_array_size (all));
    json_decref (all);
    return res;
}

/* state of the one paged statement that is served PENDING + 2 chunks */
static char s_pending_since[64], s_pending_tie[64];
static long s_pending_limit;

static void
s_handle (int fd, FILE *log)
{
    char buf[65536];
    size_t len = 0;
    char *hdr_end = NULL;
    while (len < sizeof buf - 1) {
        ssize_t n = read (fd, buf + len, sizeof buf - 1 - len);
        if (n <= 0)
            return;
        len += (size_t) n;
        buf[len] = '\0';
        if ((hdr_end = strstr (buf, "\r\n\r\n")))
            break;
    }
    if (!hdr_end)
        return;
    size_t clen = 0;
    const char *cl = str_icontains (buf, "Content-Length:");
    if (cl && cl < hdr_end)
        clen = (size_t) strtoul (cl + 15, NULL, 10);
    size_t have = len - (size_t) (hdr_end + 4 - buf);
    while (have < clen && len < sizeof buf - 1) {
        ssize_t n = read (fd, buf + len, sizeof buf - 1 - len);
        if (n <= 0)
            break;
        len += (size_t) n;
        have += (size_t) n;
        buf[len] = '\0';
    }
    char method[8] = "", path[512] = "";
    const char *sp = strchr (buf, ' ');
    if (!sp)
        return;
    snprintf (method, sizeof method, "%.*s", (int) (sp - buf), buf);
    const char *sp2 = strchr (sp + 1, ' ');
    snprintf (path, sizeof path, "%.*s", (int) (sp2 - sp - 1), sp + 1);
    const char *auth = str_icontains (buf, "Authorization: Bearer t0ken\r\n");
    if (!auth || auth > hdr_end) {
        s_send (fd, 401, "{\"error_code\":\"UNAUTHENTICATED\",\"message\":\"Invalid access token.\"}");
        return;
    }
    if (strcmp (method, "POST") == 0 && strcmp (path, "/api/2.0/sql/statements") == 0) {
        json_t *req = json_loads (hdr_end + 4, 0, NULL);
        const char *sql = req ? json_string_value (json_object_get (req, "statement")) : NULL;
        const char *since = "", *tie = "";
        json_t *params = req ? json_object_get (req, "parameters") : NULL;
        size_t i;
        json_t *p;
        json_array_foreach (params, i, p)
        {
            const char *nm = json_string_value (json_object_get (p, "name"));
            const char *v = json_string_value (json_object_get (p, "value"));
            if (nm && v && strcmp (nm, "since") == 0)
                since = v;
            if (nm && v && strcmp (nm, "tie") == 0)
                tie = v;
        }
        const char *wh = req ? json_string_value (json_object_get (req, "warehouse_id")) : NULL;
        const char *lim = sql ? strstr (sql, "LIMIT ") : NULL;
        long limit = lim ? strtol (lim + 6, NULL, 10) : 1000;
        const canned_t *c = NULL;
        for (size_t k = 0; sql && k < sizeof s_canned / sizeof s_canned[0]; k++) {
            char from[128];
            snprintf (from, sizeof from, "FROM system.%s WHERE", s_canned[k].table);
            if (strstr (sql, from))
                c = &s_canned[k];
        }
        const char *tname = sql && strstr (sql, "system.") ? strstr (sql, "system.") + 7 : "?";
        fprintf (log, "%.*s since=%s tie=%s wh=%s\n", (int) strcspn (tname, " "), tname, since, tie, wh ? wh : "");
        fflush (log);
        if (sql && strstr (sql, "system.compute.instance_events")) {
            s_send (fd, 200, "{\"statement_id\":\"st-ie\",\"status\":{\"state\":\"FAILED\",\"error\":{\"error_code\":"
                             "\"BAD_REQUEST\",\"message\":\"[TABLE_OR_VIEW_NOT_FOUND] The table or view "
                             "`system`.`compute`.`instance_events` cannot be found.\"}}}");
        } else if (c && strcmp (c->table, "billing.usage") == 0) {
            snprintf (s_pending_since, sizeof s_pending_since, "%s", since);
            snprintf (s_pending_tie, sizeof s_pending_tie, "%s", tie);
            s_pending_limit = limit;
            s_send (fd, 200, "{\"statement_id\":\"st-usage\",\"status\":{\"state\":\"PENDING\"}}");
        } else {
            json_t *cols = NULL;
            json_t *res = c ? s_result (c, since, tie, limit, 0, 1000, &cols) : json_pack ("{s:[]}", "data_array");
            json_t *resp = json_pack ("{s:s, s:{s:s}, s:{s:s, s:{s:o}, s:i}, s:o}", "statement_id", "st-x", "status",
                                      "state", "SUCCEEDED", "manifest", "format", "JSON_ARRAY", "schema",
                                      "columns", cols ? cols : json_array (), "total_chunk_count", 1, "result", res);
            char *out = json_dumps (resp, JSON_COMPACT);
            s_send (fd, 200, out);
            free (out);
            json_decref (resp);
        }
        json_decref (req);
        return;
    }
    if (strcmp (method, "GET") == 0 && strcmp (path, "/api/2.0/sql/statements/st-usage") == 0) {
        /* chunk 0: the first row of the page; chunk 1: the rest */
        json_t *cols = NULL;
        json_t *res = s_result (&s_canned[0], s_pending_since, s_pending_tie, s_pending_limit, 0, 1, &cols);
        json_object_set_new (res, "chunk_index", json_integer (0));
        if (json_integer_value (json_object_get (res, "row_count")) > 1)
            json_object_set_new (res, "next_chunk_index", json_integer (1));
        json_t *resp = json_pack ("{s:s, s:{s:s}, s:{s:s, s:{s:o}, s:i}, s:o}", "statement_id", "st-usage", "status",
                                  "state", "SUCCEEDED", "manifest", "format", "JSON_ARRAY", "schema", "columns", cols,
                                  "total_chunk_count", 2, "result", res);
        char *out = json_dumps (resp, JSON_COMPACT);
        s_send (fd, 200, out);
        free (out);
        json_decref (resp);
        return;
    }
    if (strcmp (method, "GET") == 0 && strcmp (path, "/api/2.0/sql/statements/st-usage/result/chunks/1") == 0) {
        json_t *res = s_result (&s_canned[0], s_pending_since, s_pending_tie, s_pending_limit, 1, 1000, NULL);
        json_object_set_new (res, "chunk_index", json_integer (1));
        char *out = json_dumps (res, JSON_COMPACT);
        s_send (fd, 200, out);
        free (out);
        json_decref (res);
        return;
    }
    s_send (fd, 404, "{\"error_code\":\"NOT_FOUND\",\"message\":\"no such path\"}");
}

static int
s_setup (void **state)
{
    (void) state;
    dt_tmpdir (s_dir, sizeof s_dir);
    snprintf (s_log, sizeof s_log, "%s/requests.log", s_dir);
    int ls = socket (AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt (ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0, .sin_addr.s_addr = htonl (INADDR_LOOPBACK)};
    if (bind (ls, (struct sockaddr *) &a, sizeof a) != 0 || listen (ls, 16) != 0)
        return -1;
    socklen_t al = sizeof a;
    getsockname (ls, (struct sockaddr *) &a, &al);
    s_port = ntohs (a.sin_port);
    s_server = fork ();
    if (s_server == 0) {
        FILE *log = fopen (s_log, "a");
        for (;;) {
            int fd = accept (ls, NULL, NULL);
            if (fd < 0)
                continue;
            s_handle (fd, log);
            close (fd);
        }
    }
    close (ls);
    return s_server > 0 ? 0 : -1;
}

static int
s_teardown (void **state)
{
    (void) state;
    kill (s_server, SIGTERM);
    waitpid (s_server, NULL, 0);
    if (!getenv ("DATA_TEST_KEEP"))
        dt_rmdir (s_dir);
    return 0;
}

static int
s_pull (const char *token, const char *db, const char *err)
{
    return dt_run ("DATABRICKS_TOKEN=%s COPILOT_DATABRICKS_WAREHOUSE_ID=wh-abc COPILOT_IMPORT_PAGE_ROWS=2 "
                   "COPILOT_IMPORT_INITIAL_DAYS=3650 %s import --workspace http://127.0.0.1:%d/ --db %s > /dev/null 2> %s",
                   token, COPILOT_BIN, s_port, db, err);
}

static void
test_pull (void **state)
{
    (void) state;
    char db[4200], err[4300];
    snprintf (db, sizeof db, "%s/pull.db", s_dir);
    snprintf (err, sizeof err, "%s/err.txt", s_dir);
    assert_int_equal (dt_run ("%s db init --db %s > /dev/null", COPILOT_BIN, db), 0);
    assert_int_equal (s_pull ("t0ken", db, err), 0);
    assert_int_equal (dt_run ("grep -q 'system.compute.instance_events not available (TABLE_OR_VIEW_NOT_FOUND): skipped' %s", err), 0);

    sqlite3 *h = dt_open (db);
    assert_int_equal (dt_i64 (h, "SELECT COUNT(*) FROM import_rows WHERE source='billing.usage'"), 3);
    /* 10 + 5 - 5 DBU at the effective list price 0.20 */
    assert_true (fabs (dt_dbl (h, "SELECT total_cost FROM compute_usage WHERE compute_usage_id='2002:70'") - 2.0) < 1e-9);
    char t[256];
    dt_text (h, t, sizeof t, "SELECT start_time || '|' || end_time || '|' || run_status FROM job_runs WHERE job_run_id='2002:70'");
    assert_string_equal (t, "2025-06-20 01:10:00|2025-06-20 02:40:00|SUCCESS");
    dt_text (h, t, sizeof t, "SELECT job_name FROM jobs WHERE job_id='2002:7'");
    assert_string_equal (t, "pulled_job");
    int64_t v = dt_i64 (h, "SELECT version FROM data_version");
    sqlite3_close (h);

    /* keyset paging of billing.usage (page 2): second page starts after u2 */
    assert_int_equal (dt_run ("grep -q '^billing.usage since=2025-06-20T03:00:00.000Z tie=u2 wh=wh-abc$' %s", s_log), 0);
    assert_int_equal (dt_run ("grep -c '^billing.usage ' %s | grep -qx 2", s_log), 0);

    /* incremental: the next pull starts at the newest landed usage_end_time */
    assert_int_equal (s_pull ("t0ken", db, err), 0);
    assert_int_equal (dt_run ("grep '^billing.usage ' %s | sed -n 3p | grep -q '^billing.usage since=2025-06-20 03:00:00 tie= '", s_log), 0);
    h = dt_open (db);
    assert_int_equal (dt_i64 (h, "SELECT version FROM data_version"), v); /* nothing new, nothing written */
    sqlite3_close (h);

    /* a bad token fails with the API's status and message */
    assert_int_equal (s_pull ("wrong", db, err), 1);
    assert_int_equal (dt_run ("grep -q 'HTTP 401: Invalid access token.' %s", err), 0);
    /* every table asked each pull (11, plus one more page for the tables that filled a page:
     * billing.usage twice, the timeline once); nothing with the bad token */
    assert_int_equal (dt_run ("test $(wc -l < %s) -eq 25", s_log), 0);
    assert_int_equal (dt_run ("grep -c '^query.history since=' %s | grep -qx 2", s_log), 0);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test (test_pull)};
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
