/* rs_chips.c — selections and chips (seed-copilot §2 "Selections"/"Chips",
 * §3 chip system), driven entirely by the registry.
 *
 * Selections: every pick of the report (filter, stable sort, limit) is
 * evaluated in order and concatenated; duplicates by entity id are dropped
 * (first occurrence wins); when the registry declares a fallback and fewer
 * than `if_fewer_than` rows remain, the fallback pick replaces them; the
 * final order_by (stable) and limit apply last. Each selection gets its
 * label (template + conditional tags) and payload (named values).
 *
 * Chips: the report's chip rules whose condition holds on the payload, then
 * the core chips whose condition holds on the entity type, de-duplicated by
 * id (first wins), grouped by lane in the fixed order Understand, Diagnose,
 * Optimize, Monitor (report chips before core chips inside a lane). Ids:
 *   report chip  report:{slug(report_id)}:{slug(entity_type)}:{slug(entity_id)}:{rule index}
 *   core chip    the registry's id template (core:about:{et}:{eid}, job:cost:{eid}, ...)
 * The rule index is the chip's position in the registry's chip list, so a
 * chip keeps its id whether or not the chips before it apply (the reference
 * numbered emitted chips; both agree whenever every chip applies, as in the
 * §3.3 worked example). Every prompt starts with the entity anchor line of
 * the entity type (job_id=J-X, compute_type=JOB_RUN, anomaly_id=..., ...)
 * followed by a newline and the rendered prompt text.
 * Conditions and prompts read only the payload, the selection and constant
 * thresholds, so the same data always yields the same chips and text.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rs_internal.h"
#include "str.h"

/* ---- text --------------------------------------------------------------- */
int
rs_text_render (const rs_text_t *t, const rs_scope_t *scope, rs_arena_t *arena, buf_t *out, char *err,
                size_t errsz)
{
    int rc = 0;
    if (t->tmpl)
        rc = rs_tmpl_render (t->tmpl, scope, arena, out, err, errsz);
    else if (t->expr) {
        rs_value_t v;
        if (rs_expr_eval (t->expr, scope, arena, &v, err, errsz) != 0)
            return -1;
        if (v.type != RS_VNULL)
            rc = rs_format_value (&v, "", out, err, errsz);
    }
    if (rc != 0)
        return rc;
    int shown = 0;
    for (int i = 0; i < t->ntags; i++) {
        bool on;
        if (rs_expr_truth (t->tags[i].when, scope, arena, &on, err, errsz) != 0)
            return -1;
        if (!on)
            continue;
        rc = buf_puts (out, shown ? t->sep : t->open);
        if (rc == 0)
            rc = rs_tmpl_render (t->tags[i].text, scope, arena, out, err, errsz);
        if (rc != 0)
            return rc;
        shown++;
    }
    if (shown)
        rc = buf_puts (out, t->close);
    return rc;
}

/* ---- sorting ------------------------------------------------------------ */
typedef struct {
    const rs_value_t *keys;   /* n x norder */
    const rs_order_t *order;
    int norder;
} sortctx_t;

static int
s_key_cmp (const sortctx_t *sc, size_t a, size_t b)
{
    for (int k = 0; k < sc->norder; k++) {
        const rs_value_t *x = &sc->keys[a * (size_t) sc->norder + (size_t) k];
        const rs_value_t *y = &sc->keys[b * (size_t) sc->norder + (size_t) k];
        bool xn = x->type == RS_VNULL || (x->type == RS_VNUM && isnan (x->num));
        bool yn = y->type == RS_VNULL || (y->type == RS_VNUM && isnan (y->num));
        int c;
        if (xn || yn)
            c = xn == yn ? 0 : xn ? 1 : -1;       /* NULLs last in both directions */
        else {
            c = rs_value_cmp (x, y);
            if (sc->order[k].desc)
                c = -c;
        }
        if (c)
            return c;
    }
    return 0;
}

/* Stable merge sort of positions 0..n-1 (pos) by keys. */
static void
s_msort (const sortctx_t *sc, size_t *pos, size_t *tmp, size_t n)
{
    if (n < 2)
        return;
    size_t h = n / 2;
    s_msort (sc, pos, tmp, h);
    s_msort (sc, pos + h, tmp, n - h);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n)
        tmp[k++] = s_key_cmp (sc, pos[j], pos[i]) < 0 ? pos[j++] : pos[i++];
    while (i < h)
        tmp[k++] = pos[i++];
    while (j < n)
        tmp[k++] = pos[j++];
    memcpy (pos, tmp, sizeof *pos * n);
}

int
rs_sort_rows (const rs_order_t *order, int norder, const rs_table_t *rows, const rs_scope_t *globals,
              rs_arena_t *arena, size_t *idx, size_t n, char *err, size_t errsz)
{
    if (norder == 0 || n < 2)
        return 0;
    rs_value_t *keys = malloc (sizeof *keys * n * (size_t) norder);
    size_t *pos = malloc (sizeof *pos * n * 3);
    if (!keys || !pos) {
        free (keys);
        free (pos);
        snprintf (err, errsz, "out of memory");
        return -1;
    }
    rs_rowctx_t rc;
    rs_rowctx_init (&rc, rows, 0);
    rs_scope_t sc = {rs_row_lookup, NULL, &rc, globals};
    for (size_t i = 0; i < n; i++) {
        rc.row = idx[i];
        for (int k = 0; k < norder; k++)
            if (rs_expr_eval (order[k].expr, &sc, arena, &keys[i * (size_t) norder + (size_t) k], err, errsz) != 0) {
                free (keys);
                free (pos);
                return -1;
            }
        pos[i] = i;
    }
    sortctx_t ctx = {keys, order, norder};
    s_msort (&ctx, pos, pos + n, n);
    size_t *sorted = pos + 2 * n;
    for (size_t i = 0; i < n; i++)
        sorted[i] = idx[pos[i]];
    memcpy (idx, sorted, sizeof *idx * n);
    free (keys);
    free (pos);
    return 0;
}

long
rs_eval_limit (const rs_expr_t *limit, const rs_scope_t *scope, rs_arena_t *arena, char *err, size_t errsz)
{
    if (!limit)
        return -1;
    rs_value_t v;
    if (rs_expr_eval (limit, scope, arena, &v, err, errsz) != 0)
        return -2;
    if (v.type != RS_VNUM || isnan (v.num) || v.num < 0) {
        snprintf (err, errsz, "limit \"%s\" is not a non-negative number", rs_expr_source (limit));
        return -2;
    }
    return (long) v.num;
}

long
rs_pick_rows (const rs_pick_t *pick, const rs_table_t *rows, const rs_scope_t *globals, rs_arena_t *arena,
              size_t *idx, char *err, size_t errsz)
{
    size_t n = 0;
    rs_rowctx_t rc;
    rs_rowctx_init (&rc, rows, 0);
    rs_scope_t sc = {rs_row_lookup, NULL, &rc, globals};
    for (size_t r = 0; r < rows->nrows; r++) {
        if (pick->where) {
            rc.row = r;
            bool on;
            if (rs_expr_truth (pick->where, &sc, arena, &on, err, errsz) != 0)
                return -1;
            if (!on)
                continue;
        }
        idx[n++] = r;
    }
    if (rs_sort_rows (pick->order, pick->norder, rows, globals, arena, idx, n, err, errsz) != 0)
        return -1;
    long lim = rs_eval_limit (pick->limit, globals, arena, err, errsz);
    if (lim == -2)
        return -1;
    if (lim >= 0 && (size_t) lim < n)
        n = (size_t) lim;
    return (long) n;
}

/* ---- payload scope ------------------------------------------------------- */
typedef struct {
    json_t *payload;
    const char *type, *id, *label, *name;
} chipctx_t;

static int
s_json_value (json_t *v, rs_value_t *out)
{
    if (json_is_string (v))
        *out = rs_vstr (json_string_value (v));
    else if (json_is_integer (v))
        *out = rs_vint ((int64_t) json_integer_value (v));
    else if (json_is_real (v))
        *out = rs_vnum (json_real_value (v));
    else if (json_is_boolean (v))
        *out = rs_vint (json_is_true (v));
    else if (json_is_null (v))
        *out = rs_vnull ();
    else
        return -1;
    return 0;
}

static int
s_chip_lookup (void *ud, const char *name, rs_value_t *out)
{
    chipctx_t *c = ud;
    if (strncmp (name, "sel.", 4) == 0) {
        const char *k = name + 4;
        const char *v = strcmp (k, "type") == 0 ? c->type : strcmp (k, "id") == 0 ? c->id
                      : strcmp (k, "label") == 0 ? c->label : strcmp (k, "name") == 0 ? c->name : NULL;
        if (!v)
            return -1;
        *out = rs_vstr (v);
        return 0;
    }
    json_t *v = json_object_get (c->payload, name);
    if (!v)
        return -1;
    return s_json_value (v, out);
}

/* ---- chips --------------------------------------------------------------- */
typedef struct {
    int lane;
    int seq;
    json_t *chip;
} chipent_t;

static int
s_render (const rs_tmpl_t *t, const rs_scope_t *sc, rs_arena_t *arena, buf_t *b, char *err, size_t errsz)
{
    buf_reset (b);
    int rc = rs_tmpl_render (t, sc, arena, b, err, errsz);
    if (rc > 0 || rc < -1 || (rc == -1 && !err[0]))
        snprintf (err, errsz, "rendered text exceeds %u bytes", RS_TEXT_CAP);
    return rc == 0 ? 0 : -1;
}

int
rs_build_chips (const rs_registry_t *reg, const rs_report_t *rep, const char *entity_type,
                const char *entity_id, const char *entity_name, const char *label, json_t *payload,
                const rs_scope_t *globals, rs_arena_t *arena, json_t *out_array, char *err, size_t errsz)
{
    chipctx_t cc = {payload, entity_type, entity_id, label, entity_name};
    rs_scope_t sc = {s_chip_lookup, NULL, &cc, globals};
    int nmax = rep->nchips + reg->ncore;
    chipent_t *ents = calloc ((size_t) (nmax ? nmax : 1), sizeof *ents);
    buf_t *b = buf_new (RS_TEXT_CAP), *anchor = buf_new (4096), *pr = buf_new (RS_TEXT_CAP);
    int n = 0, rc = -1;
    err[0] = '\0';
    if (!ents || !b || !anchor || !pr) {
        snprintf (err, errsz, "out of memory");
        goto done;
    }
    /* anchor line of this entity type */
    const rs_etype_t *et = NULL;
    for (int i = 0; i < reg->netypes; i++)
        if (strcmp (reg->etypes[i].type, entity_type) == 0)
            et = &reg->etypes[i];
    for (int i = 0; !et && i < reg->netypes; i++)
        if (strcmp (reg->etypes[i].type, "*") == 0)
            et = &reg->etypes[i];
    if (et && rs_tmpl_render (et->anchor, &sc, arena, anchor, err, errsz) != 0)
        goto done;

    for (int pass = 0; pass < 2; pass++) {
        const rs_chiprule_t *rules = pass == 0 ? rep->chips : reg->core;
        int nr = pass == 0 ? rep->nchips : reg->ncore;
        for (int i = 0; i < nr; i++) {
            const rs_chiprule_t *r = &rules[i];
            bool on = true;
            if (r->when && rs_expr_truth (r->when, &sc, arena, &on, err, errsz) != 0)
                goto done;
            if (!on)
                continue;
            buf_reset (b);
            if (pass == 0) {
                int e = buf_puts (b, "report:");
                e = e ? e : rs_slug (rep->id, b);
                e = e ? e : buf_puts (b, ":");
                e = e ? e : rs_slug (entity_type, b);
                e = e ? e : buf_puts (b, ":");
                e = e ? e : rs_slug (entity_id, b);
                e = e ? e : buf_printf (b, ":%d", r->index);
                if (e) {
                    snprintf (err, errsz, "chip id too long");
                    goto done;
                }
            } else if (s_render (r->id, &sc, arena, b, err, errsz) != 0)
                goto done;
            bool dup = false;
            for (int k = 0; k < n; k++)
                if (strcmp (json_string_value (json_object_get (ents[k].chip, "id")), buf_data (b)) == 0)
                    dup = true;
            if (dup)
                continue;
            json_t *chip = json_object ();
            if (!chip) {
                snprintf (err, errsz, "out of memory");
                goto done;
            }
            ents[n].lane = r->lane_idx;
            ents[n].seq = n;
            ents[n].chip = chip;
            n++;
            json_object_set_new (chip, "id", json_string (buf_data (b)));
            json_object_set_new (chip, "lane", json_string (reg->lanes[r->lane_idx]));
            if (s_render (r->label, &sc, arena, b, err, errsz) != 0)
                goto done;
            json_object_set_new (chip, "label", json_string (buf_data (b)));
            buf_reset (pr);
            int e = buf_len (anchor) ? buf_printf (pr, "%s\n", buf_data (anchor)) : 0;
            if (e == 0 && s_render (r->prompt, &sc, arena, b, err, errsz) != 0)
                goto done;
            if (e == 0)
                e = buf_puts (pr, buf_data (b));
            if (e != 0) {
                snprintf (err, errsz, "chip prompt too long");
                goto done;
            }
            json_object_set_new (chip, "prompt", json_string (buf_data (pr)));
            json_object_set_new (chip, "entity_type", json_string (entity_type));
            json_object_set_new (chip, "entity_id", json_string (entity_id));
            json_object_set_new (chip, "source", json_string (pass == 0 ? "report" : "core"));
            json_object_set_new (chip, "key", json_string (r->key));
        }
    }
    /* stable by lane: insertion order already puts report chips first */
    for (int lane = 0; lane < 4; lane++)
        for (int k = 0; k < n; k++)
            if (ents[k].lane == lane) {
                json_array_append (out_array, ents[k].chip);
            }
    rc = 0;
done:
    for (int k = 0; ents && k < n; k++)
        json_decref (ents[k].chip);
    free (ents);
    buf_destroy (&b);
    buf_destroy (&anchor);
    buf_destroy (&pr);
    return rc;
}

/* ---- selections ---------------------------------------------------------- */
int
rs_build_selections (const rs_registry_t *reg, const rs_report_t *rep, const rs_table_t *rows,
                     const rs_scope_t *globals, rs_arena_t *arena, json_t *out_array, char *err,
                     size_t errsz)
{
    size_t nr = rows->nrows;
    size_t cap = nr * (size_t) (rep->npicks + 1) + 1;
    size_t *cand = malloc (sizeof *cand * cap);
    size_t *tmp = malloc (sizeof *tmp * (nr + 1));
    const char **ids = malloc (sizeof *ids * cap);
    buf_t *b = buf_new (RS_TEXT_CAP);
    int rc = -1;
    size_t n = 0;
    if (!cand || !tmp || !ids || !b) {
        snprintf (err, errsz, "out of memory");
        goto done;
    }
    for (int p = 0; p < rep->npicks; p++) {
        long got = rs_pick_rows (&rep->picks[p], rows, globals, arena, tmp, err, errsz);
        if (got < 0)
            goto done;
        memcpy (cand + n, tmp, sizeof *tmp * (size_t) got);
        n += (size_t) got;
    }
    for (int pass = 0; pass < 2; pass++) {
        /* de-duplicate by entity id, first occurrence wins */
        size_t k = 0;
        rs_rowctx_t rc2;
        rs_rowctx_init (&rc2, rows, 0);
        rs_scope_t sc = {rs_row_lookup, NULL, &rc2, globals};
        for (size_t i = 0; i < n; i++) {
            rc2.row = cand[i];
            rs_value_t v;
            if (rs_expr_eval (rep->entity_id, &sc, arena, &v, err, errsz) != 0)
                goto done;
            buf_reset (b);
            rs_format_value (&v, "", b, NULL, 0);
            const char *id = rs_arena_strndup (arena, buf_data (b), buf_len (b));
            if (!id) {
                snprintf (err, errsz, "out of memory");
                goto done;
            }
            bool dup = false;
            for (size_t j = 0; j < k && !dup; j++)
                dup = strcmp (ids[j], id) == 0;
            if (dup)
                continue;
            ids[k] = id;
            cand[k++] = cand[i];
        }
        n = k;
        if (pass == 1 || !rep->has_fallback || n >= (size_t) rep->fallback_min)
            break;
        long got = rs_pick_rows (&rep->fallback, rows, globals, arena, tmp, err, errsz);
        if (got < 0)
            goto done;
        memcpy (cand, tmp, sizeof *tmp * (size_t) got);
        n = (size_t) got;
    }
    if (rs_sort_rows (rep->sel_order, rep->nsel_order, rows, globals, arena, cand, n, err, errsz) != 0)
        goto done;
    long lim = rs_eval_limit (rep->sel_limit, globals, arena, err, errsz);
    if (lim == -2)
        goto done;
    if (lim >= 0 && (size_t) lim < n)
        n = (size_t) lim;

    rs_rowctx_t rc2;
    rs_rowctx_init (&rc2, rows, 0);
    rs_scope_t sc = {rs_row_lookup, NULL, &rc2, globals};
    for (size_t i = 0; i < n; i++) {
        rc2.row = cand[i];
        rs_value_t v;
        json_t *sel = json_object ();
        if (!sel) {
            snprintf (err, errsz, "out of memory");
            goto done;
        }
        json_array_append_new (out_array, sel);
        if (rs_expr_eval (rep->entity_id, &sc, arena, &v, err, errsz) != 0)
            goto done;
        buf_reset (b);
        rs_format_value (&v, "", b, NULL, 0);
        char *eid = rs_arena_strndup (arena, buf_data (b), buf_len (b));
        if (rs_expr_eval (rep->entity_name, &sc, arena, &v, err, errsz) != 0)
            goto done;
        buf_reset (b);
        rs_format_value (&v, "", b, NULL, 0);
        char *ename = rs_arena_strndup (arena, buf_data (b), buf_len (b));
        const char *etype = rep->entity_type;
        if (rep->entity_type_expr) {
            if (rs_expr_eval (rep->entity_type_expr, &sc, arena, &v, err, errsz) != 0)
                goto done;
            buf_reset (b);
            rs_format_value (&v, "", b, NULL, 0);
            etype = rs_arena_strndup (arena, buf_data (b), buf_len (b));
            if (!etype) {
                snprintf (err, errsz, "out of memory");
                goto done;
            }
        }
        buf_reset (b);
        if (!eid || !ename || rs_text_render (&rep->sel_label, &sc, arena, b, err, errsz) != 0) {
            if (!err[0])
                snprintf (err, errsz, "selection label too long");
            goto done;
        }
        json_object_set_new (sel, "entity_type", json_string (etype));
        json_object_set_new (sel, "entity_id", json_string (eid));
        json_object_set_new (sel, "entity_name", json_string (ename));
        json_object_set_new (sel, "label", json_string (buf_data (b)));
        json_t *payload = json_object ();
        json_object_set_new (sel, "payload", payload);
        for (int p = 0; p < rep->npayload; p++) {
            if (rs_expr_eval (rep->payload[p].expr, &sc, arena, &v, err, errsz) != 0)
                goto done;
            json_object_set_new (payload, rep->payload[p].name, rs_value_json (&v));
        }
        json_t *chips = json_array ();
        json_object_set_new (sel, "chips", chips);
        if (rs_build_chips (reg, rep, etype, eid, ename, json_string_value (json_object_get (sel, "label")),
                            payload, globals, arena, chips, err, errsz) != 0)
            goto done;
    }
    rc = 0;
done:
    free (cand);
    free (tmp);
    free (ids);
    buf_destroy (&b);
    return rc;
}
