/* dl_bus.h — tells the rest of the system that the telemetry data changed.
 *
 * After a committed generate / import / migrate / refresh, the CLI publishes
 * DataChanged{db_path, data_version, reason, rows_written} on topic
 * "data.changed.v1" through the event bus (common/include/pubsub.h), so
 * graph-service, retrieval-service and report-service reload. Best effort:
 * a missing bus is not an error for the data write. */
#ifndef COPILOT_DL_BUS_H
#define COPILOT_DL_BUS_H
#include <stdint.h>

/* Publishes data.changed.v1. The endpoint is the event-bus publisher side
 * resolved like every daemon does (svc_bus_endpoints: bus.pub_endpoint /
 * COPILOT_BUS_PUB_ENDPOINT, default ipc://<run_dir>/bus-pub.sock). An ipc
 * endpoint whose socket file does not exist counts as "no bus". `db_path` is
 * sent as an absolute path. Returns DL_OK when handed to the bus,
 * DL_E_UNAVAILABLE when no bus is reachable, DL_E_IO on a zmq/codec error.
 * Blocks about 250 ms when a bus exists (connect + flush), never longer. */
int dl_bus_publish_data_changed (const char *db_path, int64_t data_version, const char *reason,
                                 int64_t rows_written);

#endif
