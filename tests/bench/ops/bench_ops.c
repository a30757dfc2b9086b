/* bench_ops.c — click→answer latency through every daemon, for
 * tests/bench/run.sh (make bench).
 *
 *   bench_ops explain <base url> <token> <n> [report_id]
 *
 * A "click" is what the UI does when a user presses a chip: the report is
 * already on screen (the GET that showed it is not timed), then
 * POST /api/v1/explain {report_id, params, entity_type, entity_id, chip_id}
 * goes gateway → prompt-builder → report-service (RunReport + EntityFacts)
 * → graph-service → retrieval-router → a retrieval-service replica →
 * llm-gateway (offline narrator) → history commit + commentary event, and
 * back. Only the POST is timed.
 *
 * Cache busting: every click has its own X-Request-Id (prompt-builder would
 * otherwise replay a stored answer for a repeated id), and click i uses the
 * report window ending i mod 30 days before the default end, rotating over
 * the selections and chips of that window, so the report, facts, graph and
 * retrieval inputs change from click to click (the narrator never caches).
 *
 * Prints one line:  BENCH ops.explain n=.. ok=.. p50_ms=.. p95_ms=.. p99_ms=.. max_ms=.. mean_ms=..
 * Exit 1 when fewer than 95% of the clicks succeed.
 */
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "str.h"

typedef struct {
    char *buf;
    size_t cap, len;
} sink_t;

static size_t s_write (char *p, size_t sz, size_t n, void *arg)
{
    sink_t *s = arg;
    size_t len = sz * n;
    if (s->len + len + 1 > s->cap) {
        size_t cap = (s->len + len + 1) * 2;
        char *nb = realloc (s->buf, cap);
        if (!nb)
            return 0;
        s->buf = nb;
        s->cap = cap;
    }
    memcpy (s->buf + s->len, p, len);
    s->len += len;
    s->buf[s->len] = '\0';
    return len;
}

static long s_http (CURL *h, const char *url, const char *token, const char *body, const char *rid,
                    sink_t *out)
{
    out->len = 0;
    if (out->buf)
        out->buf[0] = '\0';
    struct curl_slist *hdr = NULL;
    char line[512];
    snprintf (line, sizeof line, "Authorization: Bearer %s", token);
    hdr = curl_slist_append (hdr, line);
    if (rid) {
        snprintf (line, sizeof line, "X-Request-Id: %s", rid);
        hdr = curl_slist_append (hdr, line);
    }
    if (body)
        hdr = curl_slist_append (hdr, "Content-Type: application/json");
    curl_easy_reset (h);
    curl_easy_setopt (h, CURLOPT_URL, url);
    curl_easy_setopt (h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt (h, CURLOPT_TIMEOUT_MS, 120000L);
    curl_easy_setopt (h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt (h, CURLOPT_WRITEFUNCTION, s_write);
    curl_easy_setopt (h, CURLOPT_WRITEDATA, out);
    if (body)
        curl_easy_setopt (h, CURLOPT_POSTFIELDS, body);
    long code = 0;
    if (curl_easy_perform (h) == CURLE_OK)
        curl_easy_getinfo (h, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all (hdr);
    return code;
}

static int s_cmp (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y ? 1 : 0;
}

/* Nearest-rank percentile of a sorted array. */
static double s_pct (const double *v, int n, int p)
{
    int k = (n * p + 99) / 100;
    return v[k > 0 ? k - 1 : 0];
}

/* "YYYY-MM-DD" minus `days` into out. 0 or -1. */
static int s_date_minus (const char *date, int days, char *out, size_t size)
{
    int64_t y, m, d;
    char tmp[16];
    if (strlen (date) != 10 || str_copy (tmp, sizeof tmp, date) != 0)
        return -1;
    tmp[4] = tmp[7] = '\0';
    if (str_to_i64 (tmp, &y) || str_to_i64 (tmp + 5, &m) || str_to_i64 (tmp + 8, &d))
        return -1;
    struct tm t = {.tm_year = (int) y - 1900, .tm_mon = (int) m - 1, .tm_mday = (int) d - days,
                   .tm_hour = 12};
    time_t s = timegm (&t);
    struct tm r;
    gmtime_r (&s, &r);
    return strftime (out, size, "%Y-%m-%d", &r) == 10 ? 0 : -1;
}

static int s_explain (const char *base, const char *token, int n, const char *report)
{
    CURL *h = curl_easy_init ();
    sink_t out = {0};
    char url[512];
    snprintf (url, sizeof url, "%s/api/v1/reports/%s", base, report);
    if (s_http (h, url, token, NULL, NULL, &out) != 200) {
        fprintf (stderr, "bench_ops: GET %s failed: %.300s\n", url, out.buf ? out.buf : "");
        return 1;
    }
    json_t *j = json_loads (out.buf, 0, NULL);
    const char *to = json_string_value (json_object_get (json_object_get (j, "params"), "to"));
    char end[16] = "";
    if (to)
        str_copy (end, sizeof end, to);
    json_decref (j);
    if (!end[0]) {
        fprintf (stderr, "bench_ops: the report has no 'to' parameter\n");
        return 1;
    }
    double *lat = calloc ((size_t) n, sizeof *lat);
    int ok = 0, fail = 0;
    for (int i = 0; i < n; i++) {
        char date[16];
        s_date_minus (end, i % 30, date, sizeof date);
        snprintf (url, sizeof url, "%s/api/v1/reports/%s?to=%s", base, report, date);
        long code = s_http (h, url, token, NULL, NULL, &out);   /* the report on screen */
        json_t *r = code == 200 ? json_loads (out.buf, 0, NULL) : NULL;
        json_t *sels = json_object_get (r, "selections");
        size_t ns = json_array_size (sels);
        json_t *sel = NULL, *chip = NULL;
        for (size_t k = 0; k < ns && !chip; k++) {
            json_t *s = json_array_get (sels, ((size_t) i + k) % ns);
            json_t *chips = json_object_get (s, "chips");
            if (json_array_size (chips) > 0) {
                sel = s;
                chip = json_array_get (chips, (size_t) (i / 3) % json_array_size (chips));
            }
        }
        if (!chip) {
            fprintf (stderr, "bench_ops: click %d: no selection with chips (HTTP %ld)\n", i, code);
            fail++;
            json_decref (r);
            continue;
        }
        json_t *req = json_pack ("{s:s, s:{s:s}, s:O, s:O, s:O}", "report_id", report, "params", "to",
                                 date, "entity_type", json_object_get (sel, "entity_type"), "entity_id",
                                 json_object_get (sel, "entity_id"), "chip_id",
                                 json_object_get (chip, "id"));
        char *body = json_dumps (req, JSON_COMPACT);
        char rid[64];
        snprintf (rid, sizeof rid, "bench-%d-%d", (int) getpid (), i);
        snprintf (url, sizeof url, "%s/api/v1/explain", base);
        int64_t t0 = clock_mono_ns ();
        code = s_http (h, url, token, body, rid, &out);
        int64_t t1 = clock_mono_ns ();
        if (code == 200 && strstr (out.buf, "\"answer_markdown\"")) {
            lat[ok++] = (double) (t1 - t0) / 1e6;
        } else {
            fail++;
            fprintf (stderr, "bench_ops: click %d: HTTP %ld %.200s\n", i, code, out.buf ? out.buf : "");
        }
        free (body);
        json_decref (req);
        json_decref (r);
    }
    curl_easy_cleanup (h);
    free (out.buf);
    if (ok == 0) {
        printf ("BENCH ops.explain n=%d ok=0\n", n);
        free (lat);
        return 1;
    }
    qsort (lat, (size_t) ok, sizeof *lat, s_cmp);
    double sum = 0;
    for (int i = 0; i < ok; i++)
        sum += lat[i];
    printf ("BENCH ops.explain n=%d ok=%d p50_ms=%.1f p95_ms=%.1f p99_ms=%.1f max_ms=%.1f mean_ms=%.1f\n", n,
            ok, s_pct (lat, ok, 50), s_pct (lat, ok, 95), s_pct (lat, ok, 99), lat[ok - 1], sum / ok);
    free (lat);
    return ok * 100 >= n * 95 ? 0 : 1;
}

int main (int argc, char **argv)
{
    if (argc < 5 || strcmp (argv[1], "explain") != 0) {
        fprintf (stderr, "usage: %s explain <base url> <token> <n> [report_id]\n", argv[0]);
        return 2;
    }
    int n = 0;
    if (str_to_int (argv[4], 1, 100000, &n) != 0) {
        fprintf (stderr, "bench_ops: n: expected 1..100000\n");
        return 2;
    }
    curl_global_init (CURL_GLOBAL_DEFAULT);
    int rc = s_explain (argv[2], argv[3], n, argc > 5 ? argv[5] : "job_cost");
    curl_global_cleanup ();
    return rc;
}
