/* dl_bus.c — data.changed publication (see dl_bus.h).
 *
 * The bus client (pubsub_*, copilot_bus) is being written by another
 * engineer; until it links, this reports DL_E_UNIMPLEMENTED and the CLI
 * carries on (publication is best effort). */
#include "dl_bus.h"

#include "dl_common.h"

int
dl_bus_publish_data_changed (const char *db_path, int64_t data_version, const char *writer,
                             const char *detail)
{
    (void) db_path;
    (void) data_version;
    (void) writer;
    (void) detail;
    return dl_fail (DL_E_UNIMPLEMENTED, "data.changed publication: event bus client not linked yet");
}
