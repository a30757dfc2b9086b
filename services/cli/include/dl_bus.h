/* dl_bus.h — tells the rest of the system that the telemetry data changed.
 *
 * After a committed generate / import / migrate / refresh, the CLI publishes
 * DataChanged on topic "data.changed.v1" through the event bus
 * (common/include/pubsub.h) when one is reachable, so graph-service,
 * retrieval-service and report-service reload. Best effort: a missing bus is
 * not an error for the data write. */
#ifndef COPILOT_DL_BUS_H
#define COPILOT_DL_BUS_H
#include <stdint.h>

/* Publishes data.changed.v1 {db_path, data_version, writer, detail}. The bus
 * endpoint comes from COPILOT_BUS_PUB_ENDPOINT (the XSUB side of the
 * event-bus); when unset or unreachable nothing is sent. Returns DL_OK when
 * published, DL_E_UNAVAILABLE when no bus is configured/reachable,
 * DL_E_UNIMPLEMENTED when the binary was built without the bus client. Never
 * blocks for more than ~300 ms. */
int dl_bus_publish_data_changed (const char *db_path, int64_t data_version, const char *writer,
                                 const char *detail);

#endif
