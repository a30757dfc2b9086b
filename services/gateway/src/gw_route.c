/* gw_route.c — route table and matcher.
 *
 * The table is small (a dozen routes), so matching is a linear scan that
 * compares pattern and path segment by segment; literal segments compare
 * byte for byte on the raw path, "{name}" segments capture the
 * percent-decoded segment. The order of the table is the documentation
 * order and the order the OpenAPI test expects.
 */
#include "gw_route.h"

#include <stdio.h>
#include <string.h>

#include "gw_http.h"
#include "str.h"

static const gw_route_t s_table[] = {
    { "GET", "/api/v1/reports", GW_R_REPORTS, GW_ROLE_VIEWER, 0,
      "List the report registry (grouped by pillar in the UI)." },
    { "GET", "/api/v1/reports/{id}", GW_R_REPORT, GW_ROLE_VIEWER, 0,
      "Run one report with parameters: KPIs, columns, rows, chart, selections with chips, SQL, data version." },
    { "POST", "/api/v1/explain", GW_R_EXPLAIN, GW_ROLE_VIEWER, GW_RF_JSON_BODY,
      "Explain a selection with a chip, or answer a free question." },
    { "GET", "/api/v1/commentary", GW_R_COMMENTARY, GW_ROLE_VIEWER, 0,
      "Commentary history (answers produced so far), oldest first." },
    { "GET", "/api/v1/alerts", GW_R_ALERTS, GW_ROLE_VIEWER, 0,
      "Alerts report-service has published, newest first (the alerts panel's start-up list)." },
    { "GET", "/api/v1/search", GW_R_SEARCH, GW_ROLE_VIEWER, 0,
      "Hybrid search over a retrieval corpus." },
    { "GET", "/api/v1/graph/{type}/{id}", GW_R_GRAPH, GW_ROLE_VIEWER, 0,
      "Neighbours of a graph node, or its subgraph when hops is given." },
    { "GET", "/api/v1/events", GW_R_EVENTS, GW_ROLE_VIEWER, GW_RF_QUERY_TOKEN | GW_RF_NO_HEAD,
      "Server-Sent Events: alerts and commentary, resumable with Last-Event-ID." },
    { "GET", "/api/v1/whoami", GW_R_WHOAMI, GW_ROLE_VIEWER, 0,
      "The role of the presented token." },
    { "GET", "/metrics", GW_R_METRICS, GW_ROLE_ADMIN, 0,
      "Prometheus metrics of the gateway and of every backend." },
    { "GET", "/livez", GW_R_LIVEZ, GW_ROLE_NONE, 0, "Liveness: the event loop turns." },
    { "GET", "/readyz", GW_R_READYZ, GW_ROLE_NONE, 0,
      "Readiness: every backend answers Ping; 503 while draining." },
};

const gw_route_t *
gw_routes (size_t *count)
{
    if (count)
        *count = sizeof s_table / sizeof s_table[0];
    return s_table;
}

/* Matches one pattern against a path. 1 match, 0 no match, -1 bad segment. */
static int
s_match (const char *pattern, const char *path, gw_params_t *params)
{
    params->n = 0;
    const char *p = pattern, *s = path;
    while (*p && *s) {
        if (*p != '/' || *s != '/')
            return 0;
        p++;
        s++;
        const char *pe = strchr (p, '/');
        size_t pn = pe ? (size_t) (pe - p) : strlen (p);
        const char *se = strchr (s, '/');
        size_t sn = se ? (size_t) (se - s) : strlen (s);
        if (pn >= 2 && p[0] == '{' && p[pn - 1] == '}') {
            if (sn == 0)
                return 0;
            if (params->n >= GW_ROUTE_MAX_PARAMS)
                return -1;
            int i = params->n;
            size_t nl = pn - 2 < sizeof params->name[i] - 1 ? pn - 2 : sizeof params->name[i] - 1;
            memcpy (params->name[i], p + 1, nl);
            params->name[i][nl] = '\0';
            if (gw_url_decode (s, sn, params->value[i], sizeof params->value[i], false) < 0)
                return -1;
            params->n++;
        } else {
            if (pn != sn || memcmp (p, s, pn) != 0)
                return 0;
        }
        p += pn;
        s += sn;
    }
    return (*p == '\0' && *s == '\0') ? 1 : 0;
}

int
gw_route_match (const char *method, const char *raw_path, const gw_route_t **route,
                gw_params_t *params, char *allow, size_t allow_size)
{
    size_t n;
    const gw_route_t *t = gw_routes (&n);
    bool path_seen = false, bad = false;
    bool is_head = strcmp (method, "HEAD") == 0;
    if (allow && allow_size)
        allow[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        gw_params_t tmp;
        int m = s_match (t[i].pattern, raw_path, &tmp);
        if (m < 0) {
            bad = true;
            continue;
        }
        if (m == 0)
            continue;
        bool ok = strcmp (method, t[i].method) == 0
                  || (is_head && strcmp (t[i].method, "GET") == 0 && !(t[i].flags & GW_RF_NO_HEAD));
        if (ok) {
            *route = &t[i];
            if (params)
                *params = tmp;
            return GW_MATCH_OK;
        }
        path_seen = true;
        if (allow && allow_size) {
            if (allow[0])
                str_append (allow, allow_size, ", ");
            str_append (allow, allow_size, t[i].method);
            if (strcmp (t[i].method, "GET") == 0 && !(t[i].flags & GW_RF_NO_HEAD))
                str_append (allow, allow_size, ", HEAD");
        }
    }
    if (path_seen)
        return GW_MATCH_METHOD;
    return bad ? GW_MATCH_BADPATH : GW_MATCH_NONE;
}

const char *
gw_params_get (const gw_params_t *params, const char *name)
{
    for (int i = 0; i < params->n; i++)
        if (strcmp (params->name[i], name) == 0)
            return params->value[i];
    return NULL;
}

const char *
gw_role_name (gw_role_t role)
{
    switch (role) {
    case GW_ROLE_NONE: return "none";
    case GW_ROLE_VIEWER: return "viewer";
    case GW_ROLE_ADMIN: return "admin";
    }
    return "none";
}

int
gw_role_parse (const char *text, gw_role_t *out)
{
    if (str_ieq (text, "viewer")) {
        *out = GW_ROLE_VIEWER;
        return 0;
    }
    if (str_ieq (text, "admin")) {
        *out = GW_ROLE_ADMIN;
        return 0;
    }
    return -1;
}
