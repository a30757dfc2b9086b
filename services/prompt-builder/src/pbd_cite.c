/* pbd_cite.c — sources block and evidence list (see pbd_cite.h).
 *
 * The model is never asked to produce citations; the code appends them from
 * the hits that were actually in the prompt (after budget trimming) and from
 * the facts' source tables. De-duplication is a linear scan over the lines
 * already emitted (a handful of hits), which keeps retrieval order without a
 * hash table and without any ordering that depends on addresses.
 */
#include "pbd_cite.h"

#include <stdlib.h>
#include <string.h>

#include "pbd_error.h"
#include "pbd_prompt.h"
#include "str.h"

#define EM_DASH "\xe2\x80\x94"
#define EVIDENCE_KEYS_SHOWN 5

static bool
s_has (const char *s)
{
    return s && *s;
}

static int
s_map (int rc)
{
    if (rc == 0)
        return 0;
    return rc == BUF_E_TOOBIG ? PBD_E_TOOBIG : PBD_E_NOMEM;
}

/* Appends s with newlines flattened (titles come from external documents). */
static int
s_put_flat (buf_t *b, const char *s)
{
    for (const char *p = s; *p; p++) {
        char c = (*p == '\n' || *p == '\r' || *p == '\t') ? ' ' : *p;
        int rc = buf_append (b, &c, 1);
        if (rc)
            return rc;
    }
    return 0;
}

int
pbd_cite_sources (const pbd_hit_t *docs, size_t n_docs, const pbd_hit_t *runbooks, size_t n_runbooks,
                  buf_t *out, pbd_source_t **sources_out, size_t *n_out)
{
    if (!out || (n_docs && !docs) || (n_runbooks && !runbooks))
        return PBD_E_INVALID;
    if (sources_out)
        *sources_out = NULL;
    if (n_out)
        *n_out = 0;
    if (n_docs + n_runbooks == 0)
        return 0;
    pbd_source_t *list = calloc (n_docs + n_runbooks, sizeof *list);
    if (!list)
        return PBD_E_NOMEM;
    size_t n = 0;
    bool used_docs = false, used_runbooks = false;
    for (size_t pass = 0; pass < 2; pass++) {
        const pbd_hit_t *hits = pass == 0 ? docs : runbooks;
        size_t nh = pass == 0 ? n_docs : n_runbooks;
        for (size_t i = 0; i < nh; i++) {
            const pbd_hit_t *h = &hits[i];
            const char *key = s_has (h->url) ? h->url : h->doc_id;
            if (!s_has (key))
                continue;
            bool dup = false;
            for (size_t k = 0; k < n && !dup; k++) {
                const char *other = s_has (list[k].url) ? list[k].url : list[k].doc_id;
                dup = strcmp (other, key) == 0;
            }
            if (dup)
                continue;
            list[n].title = s_has (h->title) ? h->title : (s_has (h->url) ? h->url : h->doc_id);
            list[n].url = s_has (h->url) ? h->url : "";
            list[n].corpus = pass == 0 ? "docs" : "runbooks";
            list[n].doc_id = s_has (h->doc_id) ? h->doc_id : "";
            n++;
            if (pass == 0)
                used_docs = true;
            else
                used_runbooks = true;
        }
    }
    int rc = 0;
    if (n > 0) {
        const char *header = used_docs && used_runbooks ? "Sources (Databricks Docs, Runbooks):"
                             : used_docs                ? "Sources (Databricks Docs):"
                                                        : "Sources (Runbooks):";
        size_t mark = buf_len (out);
        rc = buf_printf (out, "\n%s\n", header);
        for (size_t k = 0; k < n && rc == 0; k++) {
            if (s_has (list[k].url)) {
                rc = buf_puts (out, "- ");
                rc = rc ? rc : s_put_flat (out, list[k].title);
                rc = rc ? rc : buf_puts (out, " " EM_DASH " ");
                rc = rc ? rc : s_put_flat (out, list[k].url);
            } else {
                rc = buf_puts (out, "- [Runbook] ");
                rc = rc ? rc : s_put_flat (out, list[k].title);
                rc = rc ? rc : buf_puts (out, " (ID: ");
                rc = rc ? rc : s_put_flat (out, list[k].doc_id);
                rc = rc ? rc : buf_puts (out, ")");
            }
            rc = rc ? rc : buf_puts (out, "\n");
        }
        if (rc)
            buf_truncate (out, mark);
    }
    if (rc == 0 && sources_out && n > 0) {
        *sources_out = list;
        list = NULL;
    }
    if (rc == 0 && n_out)
        *n_out = n;
    free (list);
    return s_map (rc);
}

/* Drops a multi-byte character cut at the end of s by a truncating copy. */
static void
s_utf8_tail (char *s)
{
    size_t len = strlen (s);
    if (len == 0 || ((unsigned char) s[len - 1] & 0x80) == 0)
        return;
    size_t j = len - 1;
    while (j > 0 && len - j < 4 && ((unsigned char) s[j] & 0xC0) == 0x80)
        j--;
    uint32_t cp;
    if (str_utf8_decode (s + j, len - j, &cp) != (int) (len - j))
        s[j] = '\0';
}

int
pbd_cite_evidence (const pbd_fact_t *facts, size_t n_facts, pbd_evidence_t **out, size_t *n_out)
{
    if (!out || !n_out || (n_facts && !facts))
        return PBD_E_INVALID;
    *out = NULL;
    *n_out = 0;
    size_t n = 0;
    for (size_t i = 0; i < n_facts; i++)
        if (s_has (facts[i].source_table))
            n++;
    if (n == 0)
        return 0;
    pbd_evidence_t *ev = calloc (n, sizeof *ev);
    if (!ev)
        return PBD_E_NOMEM;
    size_t k = 0;
    for (size_t i = 0; i < n_facts; i++) {
        const pbd_fact_t *f = &facts[i];
        if (!s_has (f->source_table))
            continue;
        ev[k].label = s_has (f->name) ? f->name : "(unnamed)";
        ev[k].source_table = f->source_table;
        ev[k].row_keys = f->row_keys;
        ev[k].n_row_keys = f->n_row_keys;
        if (f->has_value) {
            char num[64];
            pbd_fmt_display (f->value, num, sizeof num);
            if (s_has (f->unit))
                str_fmt (ev[k].figure, sizeof ev[k].figure, "%s %s", num, f->unit);
            else
                str_copy (ev[k].figure, sizeof ev[k].figure, num);
        } else {
            /* str_copy truncates; keep the cut on a UTF-8 boundary. */
            str_copy (ev[k].figure, sizeof ev[k].figure, s_has (f->text) ? f->text : "");
            s_utf8_tail (ev[k].figure);
            for (char *p = ev[k].figure; *p; p++)
                if (*p == '\n' || *p == '\r' || *p == '\t')
                    *p = ' ';
        }
        k++;
    }
    *out = ev;
    *n_out = n;
    return 0;
}

int
pbd_cite_evidence_block (const pbd_evidence_t *ev, size_t n, const char *entity, buf_t *out)
{
    if (!out || (n && !ev))
        return PBD_E_INVALID;
    if (n == 0)
        return 0;
    size_t mark = buf_len (out);
    int rc = s_has (entity) ? buf_printf (out, "\nEvidence (rows behind the figures of %s):\n", entity)
                            : buf_puts (out, "\nEvidence (rows behind the figures):\n");
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = buf_puts (out, "- ");
        rc = rc ? rc : s_put_flat (out, ev[i].label);
        rc = rc ? rc : buf_puts (out, " = ");
        rc = rc ? rc : s_put_flat (out, ev[i].figure);
        rc = rc ? rc : buf_puts (out, " " EM_DASH " ");
        rc = rc ? rc : s_put_flat (out, ev[i].source_table);
        size_t shown = ev[i].n_row_keys < EVIDENCE_KEYS_SHOWN ? ev[i].n_row_keys : EVIDENCE_KEYS_SHOWN;
        for (size_t k = 0; k < shown && rc == 0; k++) {
            rc = buf_puts (out, k == 0 ? ": " : ", ");
            rc = rc ? rc : s_put_flat (out, ev[i].row_keys[k] ? ev[i].row_keys[k] : "");
        }
        if (rc == 0 && ev[i].n_row_keys > shown)
            rc = buf_printf (out, " (+%zu more)", ev[i].n_row_keys - shown);
        rc = rc ? rc : buf_puts (out, "\n");
    }
    if (rc)
        buf_truncate (out, mark);
    return s_map (rc);
}

int
pbd_cite_finish (const char *answer, const char *blocks, buf_t *out)
{
    if (!out)
        return PBD_E_INVALID;
    buf_reset (out);
    const char *a = answer ? answer : "";
    size_t n = strlen (a);
    while (n > 0 && (a[n - 1] == '\n' || a[n - 1] == '\r' || a[n - 1] == ' '))
        n--;
    int rc = buf_append (out, a, n);
    rc = rc ? rc : buf_puts (out, "\n");
    if (rc == 0 && s_has (blocks))
        rc = buf_puts (out, blocks);
    return s_map (rc);
}
