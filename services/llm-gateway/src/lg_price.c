/* lg_price.c — price table parsing and longest-prefix lookup.
 *
 * Rows are kept in file order in one array; a lookup scans them (tables have
 * a few dozen rows) and keeps the longest matching prefix, so the result
 * does not depend on row order except for exact duplicates (first wins).
 */
#include "lg_price.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "str.h"

typedef struct {
    char provider[32];
    char prefix[96];
    double in, out;
} s_row_t;

struct _lg_prices_t {
    s_row_t *rows;
    size_t n;
};

typedef struct {
    const char *name;
    const char *data;
    size_t size;
} lg_data_file_t;
extern const lg_data_file_t lg_data_files[];

lg_prices_t *
lg_prices_parse (const char *text, char *err, size_t errsize)
{
    lg_prices_t *self = calloc (1, sizeof *self);
    char *copy = str_dup (text ? text : "");
    if (self == NULL || copy == NULL) {
        snprintf (err, errsize, "out of memory");
        goto fail;
    }
    size_t alloc = 0;
    int lineno = 0;
    /* Split by lines by hand so empty lines still count for line numbers. */
    char *p = copy;
    while (p && *p) {
        lineno++;
        char *nl = strchr (p, '\n');
        if (nl)
            *nl = '\0';
        char *line = str_trim (p);
        p = nl ? nl + 1 : NULL;
        if (line[0] == '\0' || line[0] == '#')
            continue;
        char *fields[5] = { 0 };
        int nf = 0;
        char *tok_save = NULL;
        for (char *t = strtok_r (line, " \t\r", &tok_save); t && nf < 5; t = strtok_r (NULL, " \t\r", &tok_save))
            fields[nf++] = t;
        if (nf != 4) {
            snprintf (err, errsize, "line %d: expected 4 fields (provider model-prefix input output), got %d", lineno,
                      nf);
            goto fail;
        }
        double in, out;
        if (str_to_double (fields[2], &in) != 0 || str_to_double (fields[3], &out) != 0 || in < 0 || out < 0) {
            snprintf (err, errsize, "line %d: prices must be non-negative numbers", lineno);
            goto fail;
        }
        if (self->n == alloc) {
            size_t na = alloc ? alloc * 2 : 32;
            s_row_t *r = realloc (self->rows, na * sizeof *r);
            if (r == NULL) {
                snprintf (err, errsize, "out of memory");
                goto fail;
            }
            self->rows = r;
            alloc = na;
        }
        s_row_t *r = &self->rows[self->n];
        if (str_copy (r->provider, sizeof r->provider, fields[0]) != 0
            || str_copy (r->prefix, sizeof r->prefix, fields[1]) != 0) {
            snprintf (err, errsize, "line %d: provider or model prefix too long", lineno);
            goto fail;
        }
        r->in = in;
        r->out = out;
        self->n++;
    }
    free (copy);
    return self;
fail:
    free (copy);
    lg_prices_destroy (&self);
    return NULL;
}

lg_prices_t *
lg_prices_builtin (char *err, size_t errsize)
{
    for (size_t i = 0; lg_data_files[i].name; i++)
        if (strcmp (lg_data_files[i].name, "prices.tsv") == 0)
            return lg_prices_parse (lg_data_files[i].data, err, errsize);
    snprintf (err, errsize, "built-in price table missing");
    return NULL;
}

lg_prices_t *
lg_prices_load_file (const char *path, char *err, size_t errsize)
{
    FILE *f = fopen (path, "rb");
    if (f == NULL) {
        snprintf (err, errsize, "%s: %s", path, strerror (errno));
        return NULL;
    }
    buf_t *b = buf_new (1 << 20);
    char chunk[4096];
    size_t n;
    int rc = b ? 0 : BUF_E_NOMEM;
    while (rc == 0 && (n = fread (chunk, 1, sizeof chunk, f)) > 0)
        rc = buf_append (b, chunk, n);
    fclose (f);
    lg_prices_t *self = NULL;
    if (rc != 0)
        snprintf (err, errsize, "%s: %s", path, rc == BUF_E_TOOBIG ? "larger than 1 MiB" : "out of memory");
    else {
        char inner[200];
        self = lg_prices_parse (buf_data (b), inner, sizeof inner);
        if (self == NULL)
            snprintf (err, errsize, "%s: %s", path, inner);
    }
    buf_destroy (&b);
    return self;
}

void
lg_prices_destroy (lg_prices_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    free ((*self_p)->rows);
    free (*self_p);
    *self_p = NULL;
}

bool
lg_prices_lookup (const lg_prices_t *self, const char *provider, const char *model, double *in_per_m,
                  double *out_per_m)
{
    const s_row_t *best = NULL;
    size_t best_len = 0;
    for (size_t i = 0; self && i < self->n; i++) {
        const s_row_t *r = &self->rows[i];
        if (!str_ieq (r->provider, provider ? provider : ""))
            continue;
        size_t len;
        if (strcmp (r->prefix, "*") == 0)
            len = 0;
        else if (model && str_starts_with (model, r->prefix))
            len = strlen (r->prefix);
        else
            continue;
        if (best == NULL || len > best_len) {
            best = r;
            best_len = len;
        }
    }
    if (best == NULL)
        return false;
    *in_per_m = best->in;
    *out_per_m = best->out;
    return true;
}

double
lg_prices_cost (const lg_prices_t *self, const char *provider, const char *model, uint64_t tokens_in,
                uint64_t tokens_out, bool *priced)
{
    double in, out;
    bool ok = lg_prices_lookup (self, provider, model, &in, &out);
    if (priced)
        *priced = ok;
    if (!ok)
        return 0;
    return ((double) tokens_in * in + (double) tokens_out * out) / 1e6;
}

size_t
lg_prices_count (const lg_prices_t *self)
{
    return self ? self->n : 0;
}
