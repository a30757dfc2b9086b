/* pbd_history.h — the prompt-builder's commentary history: its own SQLite
 * file (config prompt_builder.history_db), one row per answered Explain.
 *
 * Sequence numbers: every row gets `seq` from SQLite (INTEGER PRIMARY KEY
 * AUTOINCREMENT) inside the insert transaction, i.e. at commit time. It is
 * durable and strictly increasing across restarts, so it is the sequence of
 * CommentaryEvent.seq, ExplainReply.commentary_seq, the Commentary RPC's
 * after_seq cursor and the SSE `id:`. The event bus's own per-stream
 * header.seq (which restarts with the publisher) is stored alongside as
 * (publisher_id, pub_seq) for tracing.
 *
 * Idempotency: request_id is UNIQUE. A second insert with the same id fails
 * with PBD_E_EXISTS; the daemon looks ids up first and replays the stored
 * reply (no second LLM call). `fingerprint` (a hash of the request's
 * contents) lets it refuse a reused id for a different request.
 *
 * One pbd_history_t per thread (it owns a db_t).
 */
#ifndef PBD_HISTORY_H
#define PBD_HISTORY_H
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "pbd_types.h"

typedef struct _pbd_history_t pbd_history_t;

/* One stored answer. In results every string is owned by the entry (never
 * NULL; "" when empty); for pbd_history_insert they are borrowed. */
typedef struct {
    uint64_t seq;
    char *request_id;
    char *fingerprint;
    char *report_id;
    char *entity_type;
    char *entity_id;
    char *chip_id;
    char *question;
    char *session_id;
    char *answer_markdown;
    char *provider;
    char *model;
    char *sources_json;   /* [{"title","url","corpus"}] in citation order */
    int64_t created_unix_ms;
    char *publisher_id;   /* event-bus stream that carried it ("" = not published) */
    uint64_t pub_seq;
    void *reply;          /* the packed ExplainReply, replayed for duplicates */
    size_t reply_len;
} pbd_entry_t;

/* Opens (creating if needed, WAL) the history file and its schema. Parent
 * directories are not created. NULL on failure with the reason in err. */
pbd_history_t *pbd_history_open (const char *path, char *err, size_t errsz);
/* NULL-safe; sets *self_p = NULL. */
void pbd_history_destroy (pbd_history_t **self_p);

/* Looks up a request id. 0 and *out (free with pbd_entry_destroy),
 * PBD_E_NOTFOUND, PBD_E_DB. */
int pbd_history_get (pbd_history_t *self, const char *request_id, pbd_entry_t **out);

/* Inserts `e` (seq, publisher_id and pub_seq are ignored) in one
 * transaction; *seq_out receives the assigned seq. 0, PBD_E_INVALID (no
 * request id / report id), PBD_E_EXISTS (request id stored already), PBD_E_DB. */
int pbd_history_insert (pbd_history_t *self, const pbd_entry_t *e, uint64_t *seq_out);

/* Records the event-bus stream and seq the row was published with.
 * 0, PBD_E_NOTFOUND, PBD_E_DB. */
int pbd_history_set_published (pbd_history_t *self, uint64_t seq, const char *publisher_id, uint64_t pub_seq);

/* Stores the packed reply of row `seq` (written after the insert, once the
 * reply carries its seq). 0, PBD_E_NOTFOUND, PBD_E_DB. */
int pbd_history_set_reply (pbd_history_t *self, uint64_t seq, const void *reply, size_t len);

/* Rows with seq > after_seq in seq order, at most `limit` (1..1000), filtered
 * by report_id / session_id when non-empty. *out is a malloc'd array of
 * entries (free with pbd_entries_free). 0, PBD_E_INVALID, PBD_E_DB. */
int pbd_history_list (pbd_history_t *self, uint64_t after_seq, size_t limit, const char *report_id,
                      const char *session_id, pbd_entry_t ***out, size_t *n_out);

/* Highest seq stored (0 when empty). 0 or PBD_E_DB. */
int pbd_history_last_seq (pbd_history_t *self, uint64_t *out);
/* Number of rows stored for a request id (0 or 1; for tests). -1 on error. */
int pbd_history_count (pbd_history_t *self, const char *request_id);

/* Message of the last failure ("" when none). */
const char *pbd_history_error (pbd_history_t *self);

/* Frees an entry returned by pbd_history_get (all its strings and the
 * reply). NULL-safe; sets *entry_p = NULL. */
void pbd_entry_destroy (pbd_entry_t **entry_p);
/* Frees the array of pbd_history_list and its n entries. NULL-safe. */
void pbd_entries_free (pbd_entry_t **list, size_t n);

/* Appends the sources as the JSON array stored in sources_json. 0,
 * PBD_E_TOOBIG or PBD_E_NOMEM. */
int pbd_sources_json (const pbd_source_t *src, size_t n, buf_t *out);

#endif
