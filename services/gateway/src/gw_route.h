/* gw_route.h — the gateway's route table and path matcher.
 *
 * One static table lists every route: method, path pattern ("{name}" matches
 * one non-empty path segment, percent-decoded), the handler id, the minimum
 * role and flags. services/gateway/openapi.yaml documents exactly these
 * routes; a unit test compares the two.
 */
#ifndef GW_ROUTE_H
#define GW_ROUTE_H
#include <stdbool.h>
#include <stddef.h>

typedef enum {
    GW_ROLE_NONE = 0,    /* no authentication needed */
    GW_ROLE_VIEWER = 1,  /* read the API */
    GW_ROLE_ADMIN = 2,   /* operational endpoints (metrics) */
} gw_role_t;

typedef enum {
    GW_R_REPORTS,
    GW_R_REPORT,
    GW_R_EXPLAIN,
    GW_R_COMMENTARY,
    GW_R_ALERTS,
    GW_R_SEARCH,
    GW_R_GRAPH,
    GW_R_EVENTS,
    GW_R_WHOAMI,
    GW_R_METRICS,
    GW_R_LIVEZ,
    GW_R_READYZ,
} gw_route_id_t;

enum {
    GW_RF_JSON_BODY = 1u << 0,    /* expects an application/json body */
    GW_RF_QUERY_TOKEN = 1u << 1,  /* also accepts ?access_token= (EventSource) */
    GW_RF_NO_HEAD = 1u << 2,      /* HEAD is not served as GET */
};

typedef struct {
    const char *method;     /* "GET" or "POST" */
    const char *pattern;    /* "/api/v1/reports/{id}" */
    gw_route_id_t id;
    gw_role_t role;
    unsigned flags;
    const char *summary;
} gw_route_t;

#define GW_ROUTE_MAX_PARAMS 4
#define GW_ROUTE_PARAM_MAX 256

typedef struct {
    int n;
    char name[GW_ROUTE_MAX_PARAMS][32];
    char value[GW_ROUTE_MAX_PARAMS][GW_ROUTE_PARAM_MAX];
} gw_params_t;

/* The route table (static) and its length. */
const gw_route_t *gw_routes (size_t *count);

/* Outcome of gw_route_match. */
enum { GW_MATCH_OK = 0, GW_MATCH_NONE = -1, GW_MATCH_METHOD = -2, GW_MATCH_BADPATH = -3 };

/* Finds the route for (method, raw path). HEAD matches GET routes unless
 * GW_RF_NO_HEAD. On GW_MATCH_OK *route and *params are set. On
 * GW_MATCH_METHOD the path exists with other methods, listed in `allow`
 * ("GET, HEAD"). GW_MATCH_BADPATH: a parameter segment failed to decode or
 * is too long. */
int gw_route_match (const char *method, const char *raw_path, const gw_route_t **route,
                    gw_params_t *params, char *allow, size_t allow_size);

/* Value of a captured parameter by name, or NULL. */
const char *gw_params_get (const gw_params_t *params, const char *name);

/* Role name ("viewer") and parse ("viewer"/"admin"); parse returns -1 when
 * unknown. */
const char *gw_role_name (gw_role_t role);
int gw_role_parse (const char *text, gw_role_t *out);

#endif
