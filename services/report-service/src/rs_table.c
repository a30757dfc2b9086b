/* rs_table.c — in-memory result tables of the report engine.
 *
 * A table is column-major (one rs_value_t array per column) so computed
 * columns can be appended after the SQL ran without re-laying out the rows.
 * Text cells are copied into the table's own arena, so a table outlives the
 * statement it was read from. Column types are taken from the first
 * non-NULL value (SQLite has no declared types for expressions).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rs_internal.h"
#include "str.h"


rs_table_t *
rs_table_new (void)
{
    return calloc (1, sizeof (rs_table_t));
}

void
rs_table_destroy (rs_table_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rs_table_t *t = *self_p;
    for (int c = 0; c < t->ncols; c++) {
        free (t->cols[c].name);
        free (t->cols[c].type);
        free (t->colv[c]);
    }
    free (t->cols);
    free (t->colv);
    rs_arena_clear (&t->strings);
    free (t);
    *self_p = NULL;
}

int
rs_table_add_col (rs_table_t *t, const char *name, const char *type)
{
    if (t->ncols == t->capcols) {
        int cap = t->capcols ? t->capcols * 2 : 16;
        rs_col_t *nc = realloc (t->cols, sizeof *nc * (size_t) cap);
        if (!nc)
            return -1;
        t->cols = nc;
        rs_value_t **ns = realloc (t->colv, sizeof *ns * (size_t) cap);
        if (!ns)
            return -1;
        t->colv = ns;
        t->capcols = cap;
    }
    int c = t->ncols;
    t->cols[c].name = str_dup (name);
    t->cols[c].type = str_dup (type ? type : "null");
    t->colv[c] = calloc (t->caprows ? t->caprows : 1, sizeof (rs_value_t));
    if (!t->cols[c].name || !t->cols[c].type || !t->colv[c]) {
        free (t->cols[c].name);
        free (t->cols[c].type);
        free (t->colv[c]);
        return -1;
    }
    t->ncols++;
    return c;
}

int
rs_table_col (const rs_table_t *t, const char *name)
{
    for (int c = 0; c < t->ncols; c++)
        if (strcmp (t->cols[c].name, name) == 0)
            return c;
    return -1;
}

rs_value_t *
rs_table_cell (rs_table_t *t, size_t row, int col)
{
    return &t->colv[col][row];
}

const rs_value_t *
rs_table_cell_c (const rs_table_t *t, size_t row, int col)
{
    return &t->colv[col][row];
}

static int
s_grow_rows (rs_table_t *t, size_t need)
{
    if (need <= t->caprows)
        return 0;
    size_t cap = t->caprows ? t->caprows * 2 : 64;
    while (cap < need)
        cap *= 2;
    /* the new cells stay unwritten: every row is filled before nrows
     * counts it (from_stmt, add_row, subset), and untouched pages of a
     * 375,000-row result are never faulted in */
    for (int c = 0; c < t->ncols; c++) {
        rs_value_t *n = realloc (t->colv[c], sizeof *n * cap);
        if (!n)
            return -1;
        t->colv[c] = n;
    }
    t->caprows = cap;
    return 0;
}

int
rs_table_set (rs_table_t *t, size_t row, int col, rs_value_t v)
{
    if (v.type == RS_VSTR) {
        const char *s = v.str ? v.str : "";
        char *copy = rs_arena_strndup (&t->strings, s, strlen (s));
        if (!copy)
            return -1;
        v.str = copy;
    }
    t->colv[col][row] = v;
    if (strcmp (t->cols[col].type, "null") == 0 && v.type != RS_VNULL) {
        const char *ty = v.type == RS_VSTR ? "text" : v.is_int ? "integer" : "real";
        char *n = str_dup (ty);
        if (n) {
            free (t->cols[col].type);
            t->cols[col].type = n;
        }
    }
    return 0;
}

rs_table_t *
rs_table_subset (const rs_table_t *src, const size_t *idx, size_t n)
{
    rs_table_t *t = rs_table_new ();
    if (!t)
        return NULL;
    for (int c = 0; c < src->ncols; c++)
        if (rs_table_add_col (t, src->cols[c].name, src->cols[c].type) < 0) {
            rs_table_destroy (&t);
            return NULL;
        }
    if (s_grow_rows (t, n ? n : 1) != 0) {
        rs_table_destroy (&t);
        return NULL;
    }
    for (int c = 0; c < src->ncols; c++)
        for (size_t i = 0; i < n; i++)
            t->colv[c][i] = src->colv[c][idx[i]];
    t->nrows = n;
    return t;
}

long
rs_table_add_row (rs_table_t *t)
{
    if (t->nrows >= RS_MAX_ROWS || s_grow_rows (t, t->nrows + 1) != 0)
        return -1;
    for (int c = 0; c < t->ncols; c++)
        t->colv[c][t->nrows] = rs_vnull ();
    return (long) t->nrows++;
}

rs_table_t *
rs_table_from_stmt (sqlite3_stmt *stmt, char *err, size_t errsz)
{
    /* per column, a small direct-mapped table of recent texts (by hash):
     * an equal text shares the earlier copy (rows grouped by entity repeat
     * id, name and type; a 90-day series repeats 90 dates) */
    enum { SLOTS = 256 };
    const char **prev = NULL;
    size_t *prevlen = NULL;
    rs_table_t *t = rs_table_new ();
    if (!t) {
        snprintf (err, errsz, "out of memory");
        return NULL;
    }
    int nc = sqlite3_column_count (stmt);
    for (int c = 0; c < nc; c++)
        if (rs_table_add_col (t, sqlite3_column_name (stmt, c), "null") < 0) {
            snprintf (err, errsz, "out of memory");
            goto fail;
        }
    prev = calloc ((size_t) (nc ? nc : 1) * SLOTS, sizeof *prev);
    prevlen = calloc ((size_t) (nc ? nc : 1) * SLOTS, sizeof *prevlen);
    if (!prev || !prevlen) {
        snprintf (err, errsz, "out of memory");
        goto fail;
    }
    for (;;) {
        int rc = sqlite3_step (stmt);
        if (rc == SQLITE_DONE)
            break;
        if (rc != SQLITE_ROW) {
            snprintf (err, errsz, "%s", sqlite3_errmsg (sqlite3_db_handle (stmt)));
            goto fail;
        }
        if (t->nrows >= RS_MAX_ROWS) {
            snprintf (err, errsz, "query returned more than %d rows", RS_MAX_ROWS);
            goto fail;
        }
        if (s_grow_rows (t, t->nrows + 1) != 0) {
            snprintf (err, errsz, "out of memory");
            goto fail;
        }
        size_t r = t->nrows;
        for (int c = 0; c < nc; c++) {
            rs_value_t v = rs_vnull ();
            size_t slot = 0;
            switch (sqlite3_column_type (stmt, c)) {
            case SQLITE_INTEGER:
                v = rs_vint (sqlite3_column_int64 (stmt, c));
                break;
            case SQLITE_FLOAT:
                v = rs_vnum (sqlite3_column_double (stmt, c));
                break;
            case SQLITE_TEXT:
            case SQLITE_BLOB: {
                const char *txt = (const char *) sqlite3_column_text (stmt, c);
                size_t len = (size_t) sqlite3_column_bytes (stmt, c);
                uint32_t h = 2166136261u; /* FNV-1a */
                for (size_t k = 0; txt && k < len; k++)
                    h = (h ^ (unsigned char) txt[k]) * 16777619u;
                slot = (size_t) c * SLOTS + (h & (SLOTS - 1));
                if (txt && prev[slot] && prevlen[slot] == len && memcmp (prev[slot], txt, len) == 0) {
                    t->colv[c][r] = rs_vstr (prev[slot]); /* column type already "text" */
                    continue;
                }
                v = rs_vstr (txt);
                break;
            }
            default:
                break;
            }
            if (rs_table_set (t, r, c, v) != 0) {
                snprintf (err, errsz, "out of memory");
                goto fail;
            }
            if (v.type == RS_VSTR) {
                prev[slot] = t->colv[c][r].str;
                prevlen[slot] = strlen (prev[slot]);
            }
        }
        t->nrows++;
    }
    free (prev);
    free (prevlen);
    return t;
fail:
    free (prev);
    free (prevlen);
    rs_table_destroy (&t);
    return NULL;
}

json_t *
rs_value_json (const rs_value_t *v)
{
    switch (v->type) {
    case RS_VSTR:
        return json_string (v->str ? v->str : "");
    case RS_VNUM:
        if (isnan (v->num) || isinf (v->num))
            return json_null ();
        if (v->is_int && fabs (v->num) < 9.0e15)
            return json_integer ((json_int_t) v->num);
        return json_real (v->num);
    default:
        return json_null ();
    }
}

json_t *
rs_table_row_json (const rs_table_t *t, size_t row, const char *const *cols, int ncols)
{
    json_t *o = json_object ();
    if (!o)
        return NULL;
    if (!cols) {
        for (int c = 0; c < t->ncols; c++)
            json_object_set_new (o, t->cols[c].name, rs_value_json (rs_table_cell_c (t, row, c)));
        return o;
    }
    for (int i = 0; i < ncols; i++) {
        int c = rs_table_col (t, cols[i]);
        json_object_set_new (o, cols[i], c >= 0 ? rs_value_json (rs_table_cell_c (t, row, c)) : json_null ());
    }
    return o;
}

void
rs_rowctx_init (rs_rowctx_t *ctx, const rs_table_t *table, size_t row)
{
    memset (ctx, 0, sizeof *ctx);
    ctx->table = table;
    ctx->row = row;
}

int
rs_row_lookup (void *ud, const char *name, rs_value_t *out)
{
    rs_rowctx_t *m = ud;
    int c = -1;
    bool hit = false;
    for (int i = 0; i < m->n; i++)
        if (m->names[i] == name) {
            c = m->cols[i];
            hit = true;
            break;
        }
    if (!hit) {
        c = strcmp (name, "row_index") == 0 ? -2 : rs_table_col (m->table, name);
        if (c < 0 && c != -2)
            return -1;
        if (m->n < RS_ROWCTX_MEMO) {
            m->names[m->n] = name;
            m->cols[m->n] = c;
            m->n++;
        }
    }
    if (c == -2) {
        *out = rs_vint ((int64_t) m->row);
        return 0;
    }
    *out = *rs_table_cell_c (m->table, m->row, c);
    return 0;
}
