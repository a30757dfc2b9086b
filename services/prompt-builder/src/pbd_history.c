/* pbd_history.c — commentary history in the prompt-builder's own SQLite
 * file (see pbd_history.h for the seq and idempotency rules).
 *
 * Schema (user_version 1):
 *   commentary(seq INTEGER PRIMARY KEY AUTOINCREMENT, request_id TEXT UNIQUE,
 *              fingerprint, report_id, entity_type, entity_id, chip_id,
 *              question, session_id, answer_markdown, provider, model,
 *              sources_json, created_unix_ms, publisher_id, pub_seq, reply BLOB)
 *   index (report_id, seq) for the Commentary RPC's per-report listing.
 * AUTOINCREMENT (not a plain rowid) so a seq is never reused even after the
 * newest row was deleted by hand: subscribers resume by seq.
 *
 * The file is opened read-write with WAL (db.h); statements are cached by
 * db.h and always bound, never built from text. Single-threaded.
 */
#include "pbd_history.h"

#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "pbd_error.h"
#include "str.h"

struct _pbd_history_t {
    db_t *db;
    char err[256];
};

static const char s_schema[] =
    "CREATE TABLE IF NOT EXISTS commentary ("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " request_id TEXT NOT NULL UNIQUE,"
    " fingerprint TEXT NOT NULL DEFAULT '',"
    " report_id TEXT NOT NULL,"
    " entity_type TEXT NOT NULL DEFAULT '',"
    " entity_id TEXT NOT NULL DEFAULT '',"
    " chip_id TEXT NOT NULL DEFAULT '',"
    " question TEXT NOT NULL DEFAULT '',"
    " session_id TEXT NOT NULL DEFAULT '',"
    " answer_markdown TEXT NOT NULL DEFAULT '',"
    " provider TEXT NOT NULL DEFAULT '',"
    " model TEXT NOT NULL DEFAULT '',"
    " sources_json TEXT NOT NULL DEFAULT '[]',"
    " created_unix_ms INTEGER NOT NULL DEFAULT 0,"
    " publisher_id TEXT NOT NULL DEFAULT '',"
    " pub_seq INTEGER NOT NULL DEFAULT 0,"
    " reply BLOB);"
    "CREATE INDEX IF NOT EXISTS commentary_report_seq ON commentary(report_id, seq);"
    "PRAGMA user_version = 1;";

#define SELECT_COLS                                                                                 \
    "SELECT seq, request_id, fingerprint, report_id, entity_type, entity_id, chip_id, question,"  \
    " session_id, answer_markdown, provider, model, sources_json, created_unix_ms, publisher_id," \
    " pub_seq, reply FROM commentary "

static int
s_fail (pbd_history_t *self, const char *what)
{
    str_fmt (self->err, sizeof self->err, "%s: %s", what, db_errmsg (self->db));
    return PBD_E_DB;
}

pbd_history_t *
pbd_history_open (const char *path, char *err, size_t errsz)
{
    if (!path || !*path) {
        if (err && errsz)
            str_copy (err, errsz, "history path is empty");
        return NULL;
    }
    pbd_history_t *self = calloc (1, sizeof *self);
    if (!self) {
        if (err && errsz)
            str_copy (err, errsz, "out of memory");
        return NULL;
    }
    const char *e = NULL;
    self->db = db_open (path, DB_CREATE, 2000, &e);
    if (!self->db) {
        if (err && errsz)
            str_fmt (err, errsz, "%s", e ? e : "cannot open history database");
        free (self);
        return NULL;
    }
    if (db_exec (self->db, s_schema) != 0) {
        if (err && errsz)
            str_fmt (err, errsz, "%s: schema: %s", path, db_errmsg (self->db));
        pbd_history_destroy (&self);
        return NULL;
    }
    return self;
}

void
pbd_history_destroy (pbd_history_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    db_close (&(*self_p)->db);
    free (*self_p);
    *self_p = NULL;
}

const char *
pbd_history_error (pbd_history_t *self)
{
    return self ? self->err : "";
}

void
pbd_entry_destroy (pbd_entry_t **entry_p)
{
    if (!entry_p || !*entry_p)
        return;
    pbd_entry_t *e = *entry_p;
    char **strs[] = {&e->request_id, &e->fingerprint, &e->report_id, &e->entity_type, &e->entity_id,
                     &e->chip_id, &e->question, &e->session_id, &e->answer_markdown, &e->provider,
                     &e->model, &e->sources_json, &e->publisher_id};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        free (*strs[i]);
    free (e->reply);
    free (e);
    *entry_p = NULL;
}

void
pbd_entries_free (pbd_entry_t **list, size_t n)
{
    if (!list)
        return;
    for (size_t i = 0; i < n; i++)
        pbd_entry_destroy (&list[i]);
    free (list);
}

static char *
s_col_text (sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text (st, col);
    return str_dup (t ? (const char *) t : "");
}

static pbd_entry_t *
s_row (sqlite3_stmt *st)
{
    pbd_entry_t *e = calloc (1, sizeof *e);
    if (!e)
        return NULL;
    e->seq = (uint64_t) sqlite3_column_int64 (st, 0);
    char **strs[] = {&e->request_id, &e->fingerprint, &e->report_id, &e->entity_type, &e->entity_id,
                     &e->chip_id, &e->question, &e->session_id, &e->answer_markdown, &e->provider,
                     &e->model, &e->sources_json};
    bool ok = true;
    for (int i = 0; i < 12; i++)
        ok = (*strs[i] = s_col_text (st, i + 1)) != NULL && ok;
    e->created_unix_ms = sqlite3_column_int64 (st, 13);
    ok = (e->publisher_id = s_col_text (st, 14)) != NULL && ok;
    e->pub_seq = (uint64_t) sqlite3_column_int64 (st, 15);
    int blen = sqlite3_column_bytes (st, 16);
    const void *blob = sqlite3_column_blob (st, 16);
    if (blob && blen > 0) {
        e->reply = malloc ((size_t) blen);
        if (e->reply) {
            memcpy (e->reply, blob, (size_t) blen);
            e->reply_len = (size_t) blen;
        } else
            ok = false;
    }
    if (!ok)
        pbd_entry_destroy (&e);
    return e;
}

int
pbd_history_get (pbd_history_t *self, const char *request_id, pbd_entry_t **out)
{
    if (!self || !request_id || !out)
        return PBD_E_INVALID;
    *out = NULL;
    sqlite3_stmt *st = db_prepare (self->db, SELECT_COLS "WHERE request_id = ?1");
    if (!st)
        return s_fail (self, "history get");
    sqlite3_bind_text (st, 1, request_id, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step (st);
    int ret = PBD_E_NOTFOUND;
    if (rc == SQLITE_ROW) {
        *out = s_row (st);
        ret = *out ? 0 : PBD_E_NOMEM;
    } else if (rc != SQLITE_DONE) {
        db_fail (self->db, rc);
        ret = s_fail (self, "history get");
    }
    sqlite3_reset (st);
    return ret;
}

static const char *
s_or_empty (const char *s)
{
    return s ? s : "";
}

int
pbd_history_insert (pbd_history_t *self, const pbd_entry_t *e, uint64_t *seq_out)
{
    if (!self || !e || !e->request_id || !*e->request_id || !e->report_id || !*e->report_id)
        return PBD_E_INVALID;
    if (db_begin (self->db) != 0)
        return s_fail (self, "history begin");
    int ret = 0;
    sqlite3_stmt *st = db_prepare (self->db, "SELECT 1 FROM commentary WHERE request_id = ?1");
    if (!st) {
        ret = s_fail (self, "history insert");
        goto done;
    }
    sqlite3_bind_text (st, 1, e->request_id, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step (st);
    sqlite3_reset (st);
    if (rc == SQLITE_ROW) {
        str_fmt (self->err, sizeof self->err, "request id %s is already stored", e->request_id);
        ret = PBD_E_EXISTS;
        goto done;
    }
    st = db_prepare (self->db,
                     "INSERT INTO commentary (request_id, fingerprint, report_id, entity_type, entity_id,"
                     " chip_id, question, session_id, answer_markdown, provider, model, sources_json,"
                     " created_unix_ms, reply) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14)");
    if (!st) {
        ret = s_fail (self, "history insert");
        goto done;
    }
    const char *vals[] = {e->request_id, e->fingerprint, e->report_id, e->entity_type, e->entity_id,
                          e->chip_id, e->question, e->session_id, e->answer_markdown, e->provider,
                          e->model, e->sources_json && *e->sources_json ? e->sources_json : "[]"};
    for (int i = 0; i < 12; i++)
        sqlite3_bind_text (st, i + 1, s_or_empty (vals[i]), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64 (st, 13, e->created_unix_ms);
    if (e->reply && e->reply_len > 0)
        sqlite3_bind_blob (st, 14, e->reply, (int) e->reply_len, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null (st, 14);
    rc = sqlite3_step (st);
    sqlite3_reset (st);
    if (rc != SQLITE_DONE) {
        db_fail (self->db, rc);
        ret = s_fail (self, "history insert");
        goto done;
    }
    uint64_t seq = (uint64_t) sqlite3_last_insert_rowid (db_handle (self->db));
    if (db_commit (self->db) != 0) {
        ret = s_fail (self, "history commit");
        goto done;
    }
    if (seq_out)
        *seq_out = seq;
    return 0;
done:
    db_rollback (self->db);
    return ret;
}

int
pbd_history_set_published (pbd_history_t *self, uint64_t seq, const char *publisher_id, uint64_t pub_seq)
{
    if (!self)
        return PBD_E_INVALID;
    sqlite3_stmt *st = db_prepare (self->db, "UPDATE commentary SET publisher_id = ?1, pub_seq = ?2 WHERE seq = ?3");
    if (!st)
        return s_fail (self, "history publish");
    sqlite3_bind_text (st, 1, s_or_empty (publisher_id), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64 (st, 2, (sqlite3_int64) pub_seq);
    sqlite3_bind_int64 (st, 3, (sqlite3_int64) seq);
    int rc = sqlite3_step (st);
    sqlite3_reset (st);
    if (rc != SQLITE_DONE) {
        db_fail (self->db, rc);
        return s_fail (self, "history publish");
    }
    return sqlite3_changes (db_handle (self->db)) > 0 ? 0 : PBD_E_NOTFOUND;
}

int
pbd_history_set_reply (pbd_history_t *self, uint64_t seq, const void *reply, size_t len)
{
    if (!self || (len && !reply) || len > (size_t) INT32_MAX)
        return PBD_E_INVALID;
    sqlite3_stmt *st = db_prepare (self->db, "UPDATE commentary SET reply = ?1 WHERE seq = ?2");
    if (!st)
        return s_fail (self, "history reply");
    if (len > 0)
        sqlite3_bind_blob (st, 1, reply, (int) len, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null (st, 1);
    sqlite3_bind_int64 (st, 2, (sqlite3_int64) seq);
    int rc = sqlite3_step (st);
    sqlite3_reset (st);
    if (rc != SQLITE_DONE) {
        db_fail (self->db, rc);
        return s_fail (self, "history reply");
    }
    return sqlite3_changes (db_handle (self->db)) > 0 ? 0 : PBD_E_NOTFOUND;
}

int
pbd_history_list (pbd_history_t *self, uint64_t after_seq, size_t limit, const char *report_id,
                  const char *session_id, pbd_entry_t ***out, size_t *n_out)
{
    if (!self || !out || !n_out || limit == 0 || limit > 1000)
        return PBD_E_INVALID;
    *out = NULL;
    *n_out = 0;
    sqlite3_stmt *st = db_prepare (self->db, SELECT_COLS
                                   "WHERE seq > ?1 AND (?2 = '' OR report_id = ?2)"
                                   " AND (?3 = '' OR session_id = ?3) ORDER BY seq LIMIT ?4");
    if (!st)
        return s_fail (self, "history list");
    sqlite3_bind_int64 (st, 1, (sqlite3_int64) after_seq);
    sqlite3_bind_text (st, 2, s_or_empty (report_id), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text (st, 3, s_or_empty (session_id), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64 (st, 4, (sqlite3_int64) limit);
    pbd_entry_t **list = calloc (limit, sizeof *list);
    if (!list) {
        sqlite3_reset (st);
        return PBD_E_NOMEM;
    }
    size_t n = 0;
    int rc, ret = 0;
    while ((rc = sqlite3_step (st)) == SQLITE_ROW && n < limit) {
        if (!(list[n] = s_row (st))) {
            ret = PBD_E_NOMEM;
            break;
        }
        n++;
    }
    if (ret == 0 && rc != SQLITE_ROW && rc != SQLITE_DONE) {
        db_fail (self->db, rc);
        ret = s_fail (self, "history list");
    }
    sqlite3_reset (st);
    if (ret != 0) {
        pbd_entries_free (list, n);
        return ret;
    }
    *out = list;
    *n_out = n;
    return 0;
}

int
pbd_history_last_seq (pbd_history_t *self, uint64_t *out)
{
    if (!self || !out)
        return PBD_E_INVALID;
    int64_t v = 0;
    int rc = db_query_i64 (self->db, "SELECT MAX(seq) FROM commentary", &v);
    if (rc == DB_E_NOTFOUND)
        v = 0;
    else if (rc != 0)
        return s_fail (self, "history last seq");
    *out = (uint64_t) v;
    return 0;
}

int
pbd_history_count (pbd_history_t *self, const char *request_id)
{
    if (!self || !request_id)
        return -1;
    sqlite3_stmt *st = db_prepare (self->db, "SELECT COUNT(*) FROM commentary WHERE request_id = ?1");
    if (!st)
        return -1;
    sqlite3_bind_text (st, 1, request_id, -1, SQLITE_TRANSIENT);
    int n = -1;
    if (sqlite3_step (st) == SQLITE_ROW)
        n = sqlite3_column_int (st, 0);
    sqlite3_reset (st);
    return n;
}

int
pbd_sources_json (const pbd_source_t *src, size_t n, buf_t *out)
{
    if (!out || (n && !src))
        return PBD_E_INVALID;
    size_t mark = buf_len (out);
    int rc = buf_puts (out, "[");
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = buf_puts (out, i ? ",{\"title\":" : "{\"title\":");
        rc = rc ? rc : buf_json_str (out, src[i].title ? src[i].title : "");
        rc = rc ? rc : buf_puts (out, ",\"url\":");
        rc = rc ? rc : buf_json_str (out, src[i].url ? src[i].url : "");
        rc = rc ? rc : buf_puts (out, ",\"corpus\":");
        rc = rc ? rc : buf_json_str (out, src[i].corpus ? src[i].corpus : "");
        rc = rc ? rc : buf_puts (out, ",\"doc_id\":");
        rc = rc ? rc : buf_json_str (out, src[i].doc_id ? src[i].doc_id : "");
        rc = rc ? rc : buf_puts (out, "}");
    }
    rc = rc ? rc : buf_puts (out, "]");
    if (rc) {
        buf_truncate (out, mark);
        return rc == BUF_E_TOOBIG ? PBD_E_TOOBIG : PBD_E_NOMEM;
    }
    return 0;
}
