/* gw_json.h — the JSON face of the wire contract.
 *
 * Pure functions (no I/O) that turn protobuf replies into the JSON documents
 * of the HTTP API, turn HTTP input (query strings, JSON bodies) into
 * protobuf requests with validation, and map protobuf Error codes to HTTP
 * statuses. Every builder returns a new jansson reference (json_decref) or
 * NULL on OOM. Strings that are not valid UTF-8 (a backend bug) are carried
 * with each bad byte replaced by U+FFFD rather than dropped.
 *
 * The API shapes are documented in services/gateway/openapi.yaml.
 */
#ifndef GW_JSON_H
#define GW_JSON_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include "env.h"

/* Dump flags used for every API response: compact, 15 significant digits for
 * reals (what SQLite prints), keys in insertion order. */
#define GW_JSON_DUMP_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION (15))

/* HTTP status for a protobuf ErrorCode: INVALID_ARGUMENT 400, NOT_FOUND 404,
 * DEADLINE_EXCEEDED 504, UNAVAILABLE 503, UNIMPLEMENTED 501, INTERNAL 500,
 * RESOURCE_EXHAUSTED 429, UNAUTHENTICATED 401, PERMISSION_DENIED 403,
 * VERSION_MISMATCH 502, FAILED_PRECONDITION 409, UPSTREAM 502, other 500. */
int gw_status_for_error (int error_code);

/* JSON string that never fails on bad UTF-8 (see above); NULL only on OOM. */
json_t *gw_json_str (const char *s);

/* ---- replies -> JSON ------------------------------------------------------ */

/* {"reports":[{id,title,pillar,description,status,order,params:[...]}]} */
json_t *gw_json_report_list (const Copilot__V1__ListReportsReply *r);
/* {report_id,title,params:{},columns:[],rows:[{col:value}],kpis:[],chart:{..}|null,
 *  selections:[{entity_type,entity_id,label,payload:{},chips:[{id,lane,label,prompt,
 *  entity_type,entity_id}]}], sql,data_version,banners,cached,extra} */
json_t *gw_json_report_result (const Copilot__V1__ReportResult *r);
json_t *gw_json_explain_reply (const Copilot__V1__ExplainReply *r);
json_t *gw_json_commentary_event (const Copilot__V1__CommentaryEvent *e);
/* {"items":[...], "last_seq":N} */
json_t *gw_json_commentary_reply (const Copilot__V1__CommentaryReply *r);
json_t *gw_json_search_reply (const Copilot__V1__SearchReply *r);
/* {"mode":"neighbors"|"subgraph","nodes":[...],"edges":[...],("text","data_version")} */
json_t *gw_json_neighbors_reply (const Copilot__V1__NeighborsReply *r);
json_t *gw_json_subgraph_reply (const Copilot__V1__SubgraphReply *r);
json_t *gw_json_alert (const Copilot__V1__Alert *a);

/* {"alerts":[alert...], "total":n} from a ListAlertsReply (NULL → empty). */
json_t *gw_json_alert_list (const Copilot__V1__ListAlertsReply *r);
json_t *gw_json_data_changed (const Copilot__V1__DataChanged *d);

/* ---- HTTP input -> requests --------------------------------------------------- */

/* Parses a JSON body strictly: duplicate keys, invalid UTF-8, trailing data
 * and non-object roots are rejected. Returns the object or NULL with a
 * human message in err. */
json_t *gw_json_parse_body (const char *body, size_t len, char *err, size_t err_size);

/* Builds an ExplainRequest (heap, env.h ownership rules) from a parsed body:
 *   {report_id?, params?:{k:v strings}, entity_type?, entity_id?, chip_id?,
 *    question?, debug?:bool, session_id?}
 * Rules: unknown keys rejected; either chip_id (with report_id, entity_type
 * and entity_id) or a non-empty question; lengths capped. Returns the
 * message or NULL with err filled (400) / on OOM (err says so). */
Copilot__V1__ExplainRequest *gw_json_to_explain (json_t *body, char *err, size_t err_size);

/* Validates report parameters from a query string into RunReportRequest
 * params: from/to/as_of must be YYYY-MM-DD, from <= to, workspace 1-128
 * chars of [A-Za-z0-9 ._:-]; other keys (e.g. top_n) pass through when they
 * are 1-64 chars [a-z0-9_] with values up to 256 bytes; at most 16 params.
 * Returns 0 or -1 with err filled. */
int gw_query_to_report_params (const char *query, Copilot__V1__RunReportRequest *req, char *err,
                               size_t err_size);

/* True when `s` is a valid identifier: 1..max chars of [A-Za-z0-9_.:-]. */
bool gw_valid_ident (const char *s, size_t max);

/* Graph node types accepted in /graph/{type}/{id}. */
bool gw_valid_node_type (const char *type);

#endif
