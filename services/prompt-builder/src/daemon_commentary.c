/* daemon_commentary.c — the Commentary RPC: history and SSE replay.
 *
 * CommentaryRequest{after_seq, limit, report_id, session_id} → the stored
 * answers with seq > after_seq in seq order (at most `limit`, default 50,
 * capped by prompt_builder.commentary_limit_max), filtered by report and
 * session, plus last_seq = the highest seq stored overall. A subscriber that
 * subscribed to commentary.v1.* first, then called this, applies the items
 * and drops queued events with seq <= the last item's seq (Clone pattern,
 * c-patterns §2.6; the seq is CommentaryEvent.seq, durable across restarts).
 */
#include "daemon_internal.h"
#include "log.h"

int
pd_on_commentary (svc_t *svc, const env_t *req, env_t *reply, void *arg)
{
    (void) svc;
    pd_app_t *app = arg;
    const Copilot__V1__CommentaryRequest *cr = req->commentary_request;
    if (!app->hist) {
        env_set_error (reply, COPILOT__V1__ERROR_CODE__ERROR_UNAVAILABLE, "history",
                       "the commentary history database is not open (see prompt_builder.history_db)");
        return -1;
    }
    size_t limit = cr->limit ? cr->limit : 50;
    if (limit > (size_t) app->conf.commentary_limit_max)
        limit = (size_t) app->conf.commentary_limit_max;
    pbd_entry_t **list = NULL;
    size_t n = 0;
    uint64_t last = 0;
    if (pbd_history_list (app->hist, cr->after_seq, limit, cr->report_id, cr->session_id, &list, &n) != 0
        || pbd_history_last_seq (app->hist, &last) != 0) {
        env_set_error (reply, COPILOT__V1__ERROR_CODE__ERROR_INTERNAL, "history", "commentary history read failed: %s",
                       pbd_history_error (app->hist));
        pbd_entries_free (list, n);
        return -1;
    }
    Copilot__V1__CommentaryReply *out = env_msg_new (&copilot__v1__commentary_reply__descriptor);
    if (!out) {
        pbd_entries_free (list, n);
        return -1;
    }
    out->last_seq = last;
    for (size_t i = 0; i < n; i++) {
        Copilot__V1__CommentaryEvent *ev = pd_event_from_entry (list[i]);
        if (!ev || ENV_APPEND (out->items, out->n_items, ev) != 0) {
            if (ev)
                protobuf_c_message_free_unpacked (&ev->base, NULL);
            protobuf_c_message_free_unpacked (&out->base, NULL);
            pbd_entries_free (list, n);
            return -1;
        }
    }
    pbd_entries_free (list, n);
    return env_set_body (reply, COPILOT__V1__ENVELOPE__BODY_COMMENTARY_REPLY, out);
}
