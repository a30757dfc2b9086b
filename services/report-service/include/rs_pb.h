/* rs_pb.h — conversions between rs_engine's JSON results and the wire
 * messages of proto/copilot/v1/report.proto and events.proto.
 *
 * JSON -> protobuf (daemon replies): every string and sub-message is
 * malloc'd, so the message can be attached to an envelope and freed with
 * env_free / protobuf_c_message_free_unpacked (env.h OWNERSHIP RULE).
 * Fields without a proto counterpart travel in ReportResult.extra_json as
 * {"tables": [...], "datasets": {...}, "measures": {...},
 *  "payload_text": [{...}, ...]  (text payload values, one object per selection)}.
 * protobuf -> JSON (CLI asking a running report-service): rebuilds the same
 * shape rs_engine_run returns, as far as the message carries it.
 * All functions return NULL on OOM or on a malformed input.
 */
#ifndef RS_PB_H
#define RS_PB_H
#include <jansson.h>

#include "copilot/v1/envelope.pb-c.h"

Copilot__V1__ReportResult *rs_pb_report_result (json_t *res);
json_t *rs_pb_report_result_json (const Copilot__V1__ReportResult *r);

Copilot__V1__ListReportsReply *rs_pb_list (json_t *list);
json_t *rs_pb_list_json (const Copilot__V1__ListReportsReply *r);

Copilot__V1__EntityFactsReply *rs_pb_facts (json_t *facts);
json_t *rs_pb_facts_json (const Copilot__V1__EntityFactsReply *r);

/* One element of rs_engine_detect's array -> Alert (report_id
 * "anomaly_detection", message a one-line summary). */
Copilot__V1__Alert *rs_pb_alert (json_t *alert);

#endif
