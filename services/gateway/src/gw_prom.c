/* gw_prom.c — Prometheus exposition merge (see gw_prom.h).
 *
 * Parsing is line based and tolerant: "# HELP", "# TYPE" and sample lines are
 * recognised, everything else is skipped. A sample belongs to the family of
 * the preceding TYPE line when its name is that family or the family plus
 * _bucket/_sum/_count (histograms, summaries); otherwise it forms an untyped
 * family of its own name. The label is injected right after the metric name,
 * so label values are never parsed.
 */
#include "gw_prom.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "str.h"

typedef struct {
    char *name;
    char *help;
    char *type;
    buf_t *samples;
} fam_t;

struct _gw_prom_t {
    fam_t *v;
    size_t n, cap;
};

gw_prom_t *
gw_prom_new (void)
{
    return calloc (1, sizeof (gw_prom_t));
}

void
gw_prom_destroy (gw_prom_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    gw_prom_t *p = *self_p;
    for (size_t i = 0; i < p->n; i++) {
        free (p->v[i].name);
        free (p->v[i].help);
        free (p->v[i].type);
        buf_destroy (&p->v[i].samples);
    }
    free (p->v);
    free (p);
    *self_p = NULL;
}

static fam_t *
s_family (gw_prom_t *p, const char *name, size_t n)
{
    for (size_t i = 0; i < p->n; i++)
        if (strlen (p->v[i].name) == n && memcmp (p->v[i].name, name, n) == 0)
            return &p->v[i];
    if (p->n == p->cap) {
        size_t nc = p->cap ? p->cap * 2 : 64;
        fam_t *nv = realloc (p->v, nc * sizeof *nv);
        if (!nv)
            return NULL;
        p->v = nv;
        p->cap = nc;
    }
    fam_t *f = &p->v[p->n];
    memset (f, 0, sizeof *f);
    f->name = str_ndup (name, n);
    f->samples = buf_new (64 * 1024 * 1024);
    if (!f->name || !f->samples) {
        free (f->name);
        buf_destroy (&f->samples);
        return NULL;
    }
    p->n++;
    return f;
}

static bool
s_name_char (char c, bool first)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':'
           || (!first && c >= '0' && c <= '9');
}

static size_t
s_name_len (const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && s_name_char (s[i], i == 0))
        i++;
    return i;
}

static bool
s_belongs (const char *cur, const char *name, size_t n)
{
    size_t cl = strlen (cur);
    if (n == cl && memcmp (cur, name, n) == 0)
        return true;
    static const char *suf[] = { "_bucket", "_sum", "_count", NULL };
    for (int i = 0; suf[i]; i++) {
        size_t sl = strlen (suf[i]);
        if (n == cl + sl && memcmp (cur, name, cl) == 0 && memcmp (name + cl, suf[i], sl) == 0)
            return true;
    }
    return false;
}

/* A sample line: name, optional {labels} (quotes and escapes respected),
 * one space, then a value (number, +Inf, -Inf, NaN), optional timestamp. */
static bool
s_sample_ok (const char *line, size_t n, size_t nl)
{
    size_t i = nl;
    if (i < n && line[i] == '{') {
        bool in_q = false;
        for (i++; i < n; i++) {
            if (in_q && line[i] == '\\')
                i++;
            else if (line[i] == '"')
                in_q = !in_q;
            else if (!in_q && line[i] == '}')
                break;
        }
        if (i >= n)
            return false;
        i++;
    }
    if (i >= n || line[i] != ' ')
        return false;
    i++;
    size_t v = i;
    while (i < n && line[i] != ' ')
        i++;
    if (i == v)
        return false;
    char val[64];
    if (i - v >= sizeof val)
        return false;
    memcpy (val, line + v, i - v);
    val[i - v] = '\0';
    double d;
    if (strcmp (val, "+Inf") && strcmp (val, "-Inf") && strcmp (val, "NaN") && str_to_double (val, &d) != 0)
        return false;
    if (i < n) {
        int64_t ts;
        char tsb[32];
        size_t tl = n - i - 1;
        if (tl == 0 || tl >= sizeof tsb)
            return false;
        memcpy (tsb, line + i + 1, tl);
        tsb[tl] = '\0';
        if (str_to_i64 (tsb, &ts) != 0)
            return false;
    }
    return true;
}

int
gw_prom_add (gw_prom_t *self, const char *source, const char *text)
{
    char src[256];
    /* Label value escaping: backslash, quote, newline. */
    size_t o = 0;
    for (const char *s = source; *s && o + 3 < sizeof src; s++) {
        if (*s == '\\' || *s == '"') {
            src[o++] = '\\';
            src[o++] = *s;
        } else if (*s == '\n') {
            src[o++] = '\\';
            src[o++] = 'n';
        } else {
            src[o++] = *s;
        }
    }
    src[o] = '\0';
    char cur[256] = "";
    const char *p = text;
    while (*p) {
        const char *e = strchr (p, '\n');
        size_t n = e ? (size_t) (e - p) : strlen (p);
        const char *line = p;
        p = e ? e + 1 : p + n;
        if (n == 0)
            continue;
        if (line[0] == '#') {
            bool help = n > 7 && memcmp (line, "# HELP ", 7) == 0;
            bool type = n > 7 && memcmp (line, "# TYPE ", 7) == 0;
            if (!help && !type)
                continue;
            const char *nm = line + 7;
            size_t nl = s_name_len (nm, n - 7);
            if (nl == 0 || 7 + nl >= n || nm[nl] != ' ')
                continue;
            fam_t *f = s_family (self, nm, nl);
            if (!f)
                return -1;
            char **slot = help ? &f->help : &f->type;
            if (!*slot) {
                *slot = str_ndup (nm + nl + 1, n - 7 - nl - 1);
                if (!*slot)
                    return -1;
            }
            if (type && nl < sizeof cur) {
                memcpy (cur, nm, nl);
                cur[nl] = '\0';
            }
            continue;
        }
        size_t nl = s_name_len (line, n);
        if (nl == 0 || nl >= n || (line[nl] != '{' && line[nl] != ' ') || !s_sample_ok (line, n, nl))
            continue;
        fam_t *f = (cur[0] && s_belongs (cur, line, nl)) ? s_family (self, cur, strlen (cur))
                                                          : s_family (self, line, nl);
        if (!f)
            return -1;
        int rc = buf_append (f->samples, line, nl);
        if (!rc && line[nl] == '{') {
            bool empty = nl + 1 < n && line[nl + 1] == '}';
            rc = buf_printf (f->samples, "{source=\"%s\"%s", src, empty ? "" : ",");
            if (!rc)
                rc = buf_append (f->samples, line + nl + 1, n - nl - 1);
        } else if (!rc) {
            rc = buf_printf (f->samples, "{source=\"%s\"}", src);
            if (!rc)
                rc = buf_append (f->samples, line + nl, n - nl);
        }
        if (!rc)
            rc = buf_puts (f->samples, "\n");
        if (rc)
            return -1;
    }
    return 0;
}

static int
s_cmp (const void *a, const void *b)
{
    return strcmp (((const fam_t *) a)->name, ((const fam_t *) b)->name);
}

int
gw_prom_render (gw_prom_t *self, buf_t *out)
{
    qsort (self->v, self->n, sizeof *self->v, s_cmp);
    for (size_t i = 0; i < self->n; i++) {
        fam_t *f = &self->v[i];
        if (buf_len (f->samples) == 0)
            continue;
        int rc = 0;
        if (f->help)
            rc = buf_printf (out, "# HELP %s %s\n", f->name, f->help);
        if (!rc && f->type)
            rc = buf_printf (out, "# TYPE %s %s\n", f->name, f->type);
        if (!rc)
            rc = buf_append (out, buf_data (f->samples), buf_len (f->samples));
        if (rc)
            return rc;
    }
    return 0;
}
