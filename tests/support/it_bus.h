/* it_bus.h — event-bus helpers of the integration tests that drive a
 * daemon through its subscriptions (report-service, graph-service): publish
 * what a writer publishes after changing the database. Header-only (static
 * inline); include dir tests/support. Prefix itb_. */
#ifndef IT_BUS_H
#define IT_BUS_H
#include "env.h"
#include "pubsub.h"

/* Publishes data.changed.v1 for `db` (reason "import") on `pub`, as the
 * importer does. pubsub_publish's result (0 or a negative BUS_E_*). */
static inline int
itb_publish_data_changed (pubsub_pub_t *pub, const char *db)
{
    env_t *ev = env_new ("test");
    Copilot__V1__DataChanged *dc = env_msg_new (&copilot__v1__data_changed__descriptor);
    env_set_str (&dc->db_path, db);
    env_set_str (&dc->reason, "import");
    env_set_body (ev, COPILOT__V1__ENVELOPE__BODY_DATA_CHANGED, dc);
    int rc = pubsub_publish (pub, "data.changed.v1", ev);
    env_free (ev);
    return rc;
}

#endif
