/* rs_params.c — report parameter validation and default resolution.
 *
 * Every report accepts the common parameters from, to, workspace, as_of
 * plus its own (registry "params"). Values arrive as text (HTTP query, CLI
 * --param k=v, protobuf Param) and are validated strictly; an error message
 * always has the shape "<name>: expected <accepted form>, got '<value>'" so
 * the caller can show it as is.
 *
 * Defaults (documented in the README):
 *   as_of = to when `to` is given, else the latest usage date in the data;
 *   to    = as_of;
 *   from  = as_of - lookback_days when the report declares a lookback
 *           (anomaly_detection: 90, like the reference's date('now','-90
 *           days')), else the earliest usage date;
 * so a report over the reference fixture covers the whole fixture by
 * default, whatever today's date is (seed-copilot §11.4).
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "rs_internal.h"
#include "str.h"

/* Quotes a user value for an error message: at most 64 bytes, control
 * characters replaced, so messages stay one line. */
static void
s_quote (const char *v, char *out, size_t size)
{
    size_t j = 0;
    for (size_t i = 0; v[i] && j + 4 < size && i < 64; i++) {
        unsigned char c = (unsigned char) v[i];
        out[j++] = (c < 0x20 || c == 0x7f) ? '?' : (char) c;
    }
    if (strlen (v) > 64 && j + 4 < size) {
        out[j++] = '.';
        out[j++] = '.';
        out[j++] = '.';
    }
    out[j] = '\0';
}

static void
s_num_text (double v, char *out, size_t size)
{
    if (v == nearbyint (v) && fabs (v) < 1e15)
        snprintf (out, size, "%.0f", v);
    else
        snprintf (out, size, "%.17g", v);
}

static int
s_bad (char *err, size_t errsz, const char *name, const char *form, const char *value)
{
    char q[80];
    s_quote (value, q, sizeof q);
    snprintf (err, errsz, "%s: expected %s, got '%s'", name, form, q);
    return RS_E_INVALID;
}

static bool
s_ws_ok (const char *v)
{
    size_t n = strlen (v);
    if (n < 1 || n > 128)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char) v[i];
        if (!(isalnum (c) || c == '-' || c == '_' || c == '.' || c == ':'))
            return false;
    }
    return true;
}

static int
s_set (rs_pset_t *ps, const char *name, const char *text, double num, bool is_num)
{
    for (int i = 0; i < ps->n; i++)
        if (strcmp (ps->v[i].name, name) == 0) {
            free (ps->v[i].text);
            ps->v[i].text = text ? str_dup (text) : NULL;
            ps->v[i].num = num;
            ps->v[i].is_num = is_num;
            return text && !ps->v[i].text ? RS_E_NOMEM : 0;
        }
    if (ps->n >= 32)
        return RS_E_INVALID;
    rs_pval_t *p = &ps->v[ps->n++];
    p->name = name;
    p->text = text ? str_dup (text) : NULL;
    p->num = num;
    p->is_num = is_num;
    return text && !p->text ? RS_E_NOMEM : 0;
}

void
rs_params_clear (rs_pset_t *ps)
{
    for (int i = 0; i < ps->n; i++)
        free (ps->v[i].text);
    ps->n = 0;
}

const rs_pval_t *
rs_params_get (const rs_pset_t *ps, const char *name)
{
    for (int i = 0; i < ps->n; i++)
        if (strcmp (ps->v[i].name, name) == 0)
            return &ps->v[i];
    return NULL;
}

int
rs_params_canonical (const rs_pset_t *ps, buf_t *out)
{
    for (int i = 0; i < ps->n; i++) {
        int rc = buf_printf (out, "%s=%s\n", ps->v[i].name, ps->v[i].text ? ps->v[i].text : "\x01null");
        if (rc != 0)
            return rc;
    }
    return 0;
}

static const rs_pspec_t *
s_spec (const rs_registry_t *reg, const rs_report_t *rep, const char *name)
{
    for (int i = 0; i < reg->ncommon; i++)
        if (strcmp (reg->common[i].name, name) == 0)
            return &reg->common[i];
    for (int i = 0; rep && i < rep->nparams; i++)
        if (strcmp (rep->params[i].name, name) == 0)
            return &rep->params[i];
    return NULL;
}

static void
s_range_text (const rs_pspec_t *sp, char *out, size_t size)
{
    char lo[40], hi[40];
    s_num_text (sp->min, lo, sizeof lo);
    s_num_text (sp->max, hi, sizeof hi);
    snprintf (out, size, "[%s, %s]", lo, hi);
}

/* Validates one value; stores it. */
static int
s_validate (const rs_pspec_t *sp, const char *value, db_t *db, rs_pset_t *out, char *err, size_t errsz)
{
    char form[160], range[100];
    switch (sp->kind) {
    case RS_PK_DATE: {
        int64_t days;
        if (strlen (value) != 10 || clock_parse_date (value, &days) != 0)
            return s_bad (err, errsz, sp->name, "a date YYYY-MM-DD", value);
        return s_set (out, sp->name, value, (double) days, false);
    }
    case RS_PK_WORKSPACE: {
        if (!s_ws_ok (value))
            return s_bad (err, errsz, sp->name,
                          "a workspace id (1-128 characters: letters, digits, '-', '_', '.', ':')", value);
        if (db) {
            sqlite3_stmt *st = db_prepare (db, "SELECT 1 FROM workspace WHERE workspace_id = ?1");
            if (st) {
                sqlite3_bind_text (st, 1, value, -1, SQLITE_TRANSIENT);
                int rc = sqlite3_step (st);
                sqlite3_reset (st);
                if (rc != SQLITE_ROW) {
                    buf_t *known = buf_new (400);
                    sqlite3_stmt *ls = db_prepare (db, "SELECT workspace_id FROM workspace ORDER BY workspace_id LIMIT 6");
                    int k = 0;
                    while (known && ls && sqlite3_step (ls) == SQLITE_ROW) {
                        if (k == 5) {
                            buf_puts (known, ", ...");
                            break;
                        }
                        buf_printf (known, "%s%s", k ? ", " : "", (const char *) sqlite3_column_text (ls, 0));
                        k++;
                    }
                    if (ls)
                        sqlite3_reset (ls);
                    snprintf (form, sizeof form, "a workspace id present in the data (%s)",
                              known && buf_len (known) ? buf_data (known) : "none");
                    buf_destroy (&known);
                    return s_bad (err, errsz, sp->name, form, value);
                }
            }
        }
        return s_set (out, sp->name, value, 0, false);
    }
    case RS_PK_INT: {
        int64_t v;
        s_range_text (sp, range, sizeof range);
        snprintf (form, sizeof form, "an integer in %s", range);
        if (str_to_i64 (value, &v) != 0 || (double) v < sp->min || (double) v > sp->max)
            return s_bad (err, errsz, sp->name, form, value);
        char txt[40];
        snprintf (txt, sizeof txt, "%lld", (long long) v);
        return s_set (out, sp->name, txt, (double) v, true);
    }
    case RS_PK_NUMBER: {
        double v;
        s_range_text (sp, range, sizeof range);
        snprintf (form, sizeof form, "a number in %s", range);
        if (str_to_double (value, &v) != 0 || !isfinite (v) || v < sp->min || v > sp->max)
            return s_bad (err, errsz, sp->name, form, value);
        char txt[40];
        s_num_text (v, txt, sizeof txt);
        return s_set (out, sp->name, txt, v, true);
    }
    default:
        if (strlen (value) > 200 || !str_utf8_valid (value, strlen (value)))
            return s_bad (err, errsz, sp->name, "a UTF-8 text of at most 200 bytes", value);
        return s_set (out, sp->name, value, 0, false);
    }
}

int
rs_params_resolve (const rs_registry_t *reg, const rs_report_t *rep, const rs_param_t *in, size_t nin,
                   const char *data_min, const char *data_max, db_t *db, rs_pset_t *out, char *err,
                   size_t errsz)
{
    memset (out, 0, sizeof *out);
    bool given[32] = {false};
    const char *ordered[32];
    int norder = 0;
    /* the set's order is the spec order: common first, then the report's */
    for (int i = 0; i < reg->ncommon; i++)
        ordered[norder++] = reg->common[i].name;
    for (int i = 0; rep && i < rep->nparams && norder < 32; i++)
        ordered[norder++] = rep->params[i].name;
    for (int i = 0; i < norder; i++)
        s_set (out, ordered[i], NULL, 0, false);

    for (size_t i = 0; i < nin; i++) {
        const char *k = in[i].key ? in[i].key : "";
        const char *v = in[i].value ? in[i].value : "";
        const rs_pspec_t *sp = s_spec (reg, rep, k);
        if (!sp) {
            char q[80];
            s_quote (k, q, sizeof q);
            buf_t *acc = buf_new (1000);
            for (int j = 0; acc && j < norder; j++)
                buf_printf (acc, "%s%s", j ? ", " : "", ordered[j]);
            snprintf (err, errsz, "%s: unknown parameter for report %s (accepted: %s)", q,
                      rep ? rep->id : "?", acc ? buf_data (acc) : "");
            buf_destroy (&acc);
            rs_params_clear (out);
            return RS_E_INVALID;
        }
        int idx = 0;
        while (idx < norder && strcmp (ordered[idx], sp->name) != 0)
            idx++;
        if (given[idx]) {
            snprintf (err, errsz, "%s: expected the parameter once, got it twice", sp->name);
            rs_params_clear (out);
            return RS_E_INVALID;
        }
        given[idx] = true;
        int rc = s_validate (sp, v, db, out, err, errsz);
        if (rc != 0) {
            rs_params_clear (out);
            return rc;
        }
    }

    /* report-specific defaults */
    for (int i = 0; rep && i < rep->nparams; i++) {
        const rs_pspec_t *sp = &rep->params[i];
        if (rs_params_get (out, sp->name)->text || !sp->def)
            continue;
        int rc = s_validate (sp, sp->def, NULL, out, err, errsz);
        if (rc != 0) {
            rs_params_clear (out);
            return RS_E_REGISTRY;
        }
    }

    /* dates: as_of, to, from (see the design comment) */
    const rs_pval_t *p_from = rs_params_get (out, "from"), *p_to = rs_params_get (out, "to"),
                    *p_as = rs_params_get (out, "as_of");
    char as_of[16], to[16], from[16];
    if (p_as->text)
        str_copy (as_of, sizeof as_of, p_as->text);
    else if (p_to->text)
        str_copy (as_of, sizeof as_of, p_to->text);
    else
        str_copy (as_of, sizeof as_of, data_max ? data_max : "1970-01-01");
    if (p_to->text) {
        if (p_as->text && strcmp (p_to->text, p_as->text) > 0) {
            char form[80];
            snprintf (form, sizeof form, "a date on or before as_of (%s)", as_of);
            int rc = s_bad (err, errsz, "to", form, p_to->text);
            rs_params_clear (out);
            return rc;
        }
        str_copy (to, sizeof to, p_to->text);
    } else
        str_copy (to, sizeof to, as_of);
    if (p_from->text) {
        if (strcmp (p_from->text, to) > 0) {
            char form[80];
            snprintf (form, sizeof form, "a date on or before to (%s)", to);
            int rc = s_bad (err, errsz, "from", form, p_from->text);
            rs_params_clear (out);
            return rc;
        }
        str_copy (from, sizeof from, p_from->text);
    } else if (rep && rep->lookback_days > 0) {
        int64_t d = 0;
        clock_parse_date (as_of, &d);
        clock_format_date (d - rep->lookback_days, from, sizeof from);
    } else
        str_copy (from, sizeof from, data_min ? data_min : as_of);
    if (!p_from->text && strcmp (from, to) > 0)
        str_copy (from, sizeof from, to);
    int rc = s_set (out, "from", from, 0, false);
    if (rc == 0)
        rc = s_set (out, "to", to, 0, false);
    if (rc == 0)
        rc = s_set (out, "as_of", as_of, 0, false);
    if (rc != 0) {
        rs_params_clear (out);
        snprintf (err, errsz, "out of memory");
        return RS_E_NOMEM;
    }
    return 0;
}
