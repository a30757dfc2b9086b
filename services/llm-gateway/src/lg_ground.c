/* lg_ground.c — figure extraction and the groundedness check.
 *
 * Extraction is a hand-written byte scanner (no regex engine): at each digit
 * it first decides from the surrounding bytes whether the digit starts a
 * figure or sits inside something else (identifier, date, time, version,
 * list marker), then parses digits, comma groups, decimals, and a suffix
 * (%, k/M/B, percent/thousand/million/billion). Only ASCII bytes are
 * inspected, so UTF-8 text passes through untouched; U+2212 (minus) counts
 * as a sign.
 *
 * References are (value, tolerance) pairs kept in a growing array, sorted
 * once before checking; a lookup binary-searches the window
 * [v - tol - max_ref_tol, v + tol + max_ref_tol] and tests each candidate.
 * Threading: one owner.
 */
#include "lg_ground.h"

#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lg_error.h"
#include "str.h"

typedef struct {
    double v;
    double tol;
} s_ref_t;

struct _lg_ground_t {
    s_ref_t *refs;
    size_t n, alloc;
    double max_tol;
    bool sorted;
    int ignore_int_max;
};

static bool s_digit (char c) { return c >= '0' && c <= '9'; }
static bool s_alpha (char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static bool s_alnum (char c) { return s_digit (c) || s_alpha (c); }

/* Skips an identifier-like token starting at i. */
static size_t
s_skip_token (const char *t, size_t n, size_t i)
{
    while (i < n && (s_alnum (t[i]) || t[i] == '_' || t[i] == '-' || t[i] == ':' || t[i] == '/'
                     || (t[i] == '.' && i + 1 < n && s_alnum (t[i + 1]))))
        i++;
    return i;
}

static size_t
s_count_digits (const char *t, size_t n, size_t i)
{
    size_t k = 0;
    while (i + k < n && s_digit (t[i + k]))
        k++;
    return k;
}

/* "YYYY-MM-DD" at i, optionally followed by [T ]HH:MM[:SS]; returns the end or 0. */
static size_t
s_date_end (const char *t, size_t n, size_t i)
{
    if (i + 10 > n || s_count_digits (t, n, i) != 4 || t[i + 4] != '-' || s_count_digits (t, n, i + 5) != 2
        || t[i + 7] != '-' || s_count_digits (t, n, i + 8) != 2)
        return 0;
    size_t j = i + 10;
    if (j + 6 <= n && (t[j] == 'T' || t[j] == ' ') && s_count_digits (t, n, j + 1) == 2 && t[j + 3] == ':'
        && s_count_digits (t, n, j + 4) == 2) {
        j += 6;
        if (j + 3 <= n && t[j] == ':' && s_count_digits (t, n, j + 1) == 2)
            j += 3;
        while (j < n && (s_digit (t[j]) || t[j] == '.' || t[j] == 'Z'))
            j++;
    }
    return j;
}

/* Only whitespace, '#', '>', '|' or '*' between the line start and i? */
static bool
s_at_line_start (const char *t, size_t i)
{
    while (i > 0) {
        char c = t[i - 1];
        if (c == '\n')
            return true;
        if (c != ' ' && c != '\t' && c != '#' && c != '>')
            return false;
        i--;
    }
    return true;
}

/* Case-insensitive word `w` at i, not followed by a letter. */
static bool
s_word_at (const char *t, size_t n, size_t i, const char *w)
{
    size_t l = strlen (w);
    if (i + l > n)
        return false;
    for (size_t k = 0; k < l; k++)
        if (tolower ((unsigned char) t[i + k]) != w[k])
            return false;
    return i + l == n || !s_alpha (t[i + l]);
}

size_t
lg_ground_scan (const char *t, size_t n, lg_number_fn fn, void *arg)
{
    size_t found = 0, i = 0;
    while (i < n) {
        if (!s_digit (t[i])) {
            i++;
            continue;
        }
        size_t start = i;
        char prev = i > 0 ? t[i - 1] : '\0';
        char pprev = i > 1 ? t[i - 2] : '\0';
        /* Inside an identifier: letter/underscore before, or a joiner
         * (- . : / #) that itself follows a letter or underscore. */
        if (s_alpha (prev) || prev == '_'
            || ((prev == '-' || prev == '.' || prev == ':' || prev == '/' || prev == '#')
                && (s_alpha (pprev) || pprev == '_'))) {
            i = s_skip_token (t, n, i);
            continue;
        }
        size_t de = s_date_end (t, n, i);
        if (de) {
            i = de;
            continue;
        }
        size_t nd = s_count_digits (t, n, i);
        /* Times (12:30) and ratios written with a colon. */
        if (i + nd + 1 < n && t[i + nd] == ':' && s_digit (t[i + nd + 1])) {
            i = s_skip_token (t, n, i);
            continue;
        }
        /* Integer part with optional comma groups. */
        char digits[80];
        size_t dl = 0;
        size_t j = i;
        bool grouped = false;
        while (j < n && s_digit (t[j]) && dl < sizeof digits - 2)
            digits[dl++] = t[j++];
        if (nd <= 3) {
            while (j + 3 < n && t[j] == ',' && s_count_digits (t, n, j + 1) == 3
                   && !(j + 4 < n && s_digit (t[j + 4])) && dl + 3 < sizeof digits - 2) {
                memcpy (digits + dl, t + j + 1, 3);
                dl += 3;
                j += 4;
                grouped = true;
            }
            /* Handle the case of a final group at the very end of text. */
            if (j + 4 == n && t[j] == ',' && s_count_digits (t, n, j + 1) == 3 && dl + 3 < sizeof digits - 2) {
                memcpy (digits + dl, t + j + 1, 3);
                dl += 3;
                j += 4;
                grouped = true;
            }
        }
        int dec = 0;
        if (j + 1 < n && t[j] == '.' && s_digit (t[j + 1])) {
            digits[dl++] = '.';
            j++;
            while (j < n && s_digit (t[j])) {
                if (dl < sizeof digits - 1)
                    digits[dl++] = t[j];
                dec++;
                j++;
            }
            /* Version numbers (1.2.3) and dotted ids. */
            if (j + 1 < n && t[j] == '.' && s_digit (t[j + 1])) {
                i = s_skip_token (t, n, j);
                continue;
            }
        }
        digits[dl] = '\0';
        (void) grouped;
        /* Markdown ordered-list marker "1. " / "2) " at a line start. */
        if (dec == 0 && j < n && (t[j] == '.' || t[j] == ')') && (j + 1 == n || t[j + 1] == ' ')
            && s_at_line_start (t, start)) {
            i = j + 1;
            continue;
        }
        double scale = 1;
        bool pct = false;
        size_t end = j;
        if (j < n && t[j] == '%') {
            pct = true;
            end = j + 1;
        }
        else if (j < n && s_alpha (t[j])) {
            size_t m = j;
            while (m < n && s_alpha (t[m]))
                m++;
            if (m < n && (s_digit (t[m]) || t[m] == '_')) {
                i = s_skip_token (t, n, start);
                continue;
            }
            size_t wl = m - j;
            if (wl == 1 && (t[j] == 'k' || t[j] == 'K'))
                scale = 1e3;
            else if ((wl == 1 && t[j] == 'M') || (wl == 2 && memcmp (t + j, "mn", 2) == 0))
                scale = 1e6;
            else if ((wl == 1 && t[j] == 'B') || (wl == 2 && memcmp (t + j, "bn", 2) == 0))
                scale = 1e9;
            else if (wl == 2
                     && (memcmp (t + j, "st", 2) == 0 || memcmp (t + j, "nd", 2) == 0
                         || memcmp (t + j, "rd", 2) == 0 || memcmp (t + j, "th", 2) == 0)) {
                i = m;
                continue;
            }
            if (scale != 1)
                end = m;
        }
        else if (j + 1 < n && t[j] == ' ') {
            if (s_word_at (t, n, j + 1, "percent")) {
                pct = true;
                end = j + 8;
            }
            else if (s_word_at (t, n, j + 1, "thousand")) {
                scale = 1e3;
                end = j + 9;
            }
            else if (s_word_at (t, n, j + 1, "million")) {
                scale = 1e6;
                end = j + 8;
            }
            else if (s_word_at (t, n, j + 1, "billion")) {
                scale = 1e9;
                end = j + 8;
            }
        }
        double v;
        if (str_to_double (digits, &v) != 0) {
            i = j > i ? j : i + 1;
            continue;
        }
        /* Currency and sign before the digits. */
        size_t off = start;
        bool usd = false;
        if (off > 0 && t[off - 1] == '$') {
            usd = true;
            off--;
        }
        if (off > 0 && (t[off - 1] == '-' || t[off - 1] == '+'))
            off--;
        else if (off >= 3 && (unsigned char) t[off - 3] == 0xE2 && (unsigned char) t[off - 2] == 0x88
                 && (unsigned char) t[off - 1] == 0x92)
            off -= 3;
        lg_number_t num = { 0 };
        num.value = v * scale;
        num.tol = 0.5 * pow (10.0, -dec) * scale;
        num.decimals = dec;
        num.pct = pct;
        num.usd = usd;
        num.bare = !pct && !usd && dec == 0 && scale == 1;
        num.off = off;
        num.len = end - off;
        /* Bare years are dates in prose, not figures. */
        bool year = num.bare && !grouped && nd == 4 && v >= 1990 && v <= 2099;
        i = end;
        if (year)
            continue;
        found++;
        if (fn && fn (arg, &num, t) != 0)
            break;
    }
    return found;
}

lg_ground_t *
lg_ground_new (void)
{
    lg_ground_t *self = calloc (1, sizeof *self);
    if (self)
        self->ignore_int_max = 2;
    return self;
}

void
lg_ground_destroy (lg_ground_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    free ((*self_p)->refs);
    free (*self_p);
    *self_p = NULL;
}

void
lg_ground_set_ignore_int_max (lg_ground_t *self, int max)
{
    self->ignore_int_max = max;
}

static int
s_add (lg_ground_t *self, double v, double tol)
{
    if (!isfinite (v))
        return 0;
    if (self->n == self->alloc) {
        size_t na = self->alloc ? self->alloc * 2 : 64;
        s_ref_t *r = realloc (self->refs, na * sizeof *r);
        if (r == NULL)
            return LG_E_NOMEM;
        self->refs = r;
        self->alloc = na;
    }
    self->refs[self->n].v = fabs (v);
    self->refs[self->n].tol = tol;
    self->n++;
    if (tol > self->max_tol)
        self->max_tol = tol;
    self->sorted = false;
    return 0;
}

int
lg_ground_add_value (lg_ground_t *self, double v)
{
    return s_add (self, v, 0);
}

static int
s_add_cb (void *arg, const lg_number_t *num, const char *text)
{
    (void) text;
    return s_add ((lg_ground_t *) arg, num->value, num->tol) != 0 ? 1 : 0;
}

int
lg_ground_add_text (lg_ground_t *self, const char *text)
{
    if (text == NULL)
        return 0;
    size_t before = self->n;
    size_t len = strlen (text);
    size_t found = lg_ground_scan (text, len, s_add_cb, self);
    /* The callback stops the scan only on OOM. */
    return (self->n - before) == found ? 0 : LG_E_NOMEM;
}

static int
s_walk (lg_ground_t *self, json_t *v, int depth)
{
    if (depth > 64)
        return 0;
    int rc = 0;
    if (json_is_number (v))
        rc = s_add (self, json_number_value (v), 0);
    else if (json_is_string (v))
        rc = lg_ground_add_text (self, json_string_value (v));
    else if (json_is_array (v)) {
        size_t i;
        json_t *it;
        json_array_foreach (v, i, it)
            if ((rc = s_walk (self, it, depth + 1)) != 0)
                break;
    }
    else if (json_is_object (v)) {
        const char *k;
        json_t *it;
        json_object_foreach (v, k, it)
            if ((rc = s_walk (self, it, depth + 1)) != 0)
                break;
    }
    return rc;
}

int
lg_ground_add_json (lg_ground_t *self, const char *json)
{
    if (json == NULL || json[0] == '\0')
        return 0;
    json_t *root = json_loads (json, JSON_DECODE_ANY, NULL);
    if (root == NULL)
        return lg_ground_add_text (self, json);
    int rc = s_walk (self, root, 0);
    json_decref (root);
    return rc;
}

size_t
lg_ground_refs (const lg_ground_t *self)
{
    return self->n;
}

static int
s_cmp_ref (const void *a, const void *b)
{
    double x = ((const s_ref_t *) a)->v, y = ((const s_ref_t *) b)->v;
    return x < y ? -1 : x > y ? 1 : 0;
}

/* Any reference r with |r - target| <= tol + r.tol? */
static bool
s_match (const lg_ground_t *self, double target, double tol)
{
    double lo = target - tol - self->max_tol;
    size_t a = 0, b = self->n;
    while (a < b) {
        size_t m = (a + b) / 2;
        if (self->refs[m].v < lo)
            a = m + 1;
        else
            b = m;
    }
    for (size_t i = a; i < self->n && self->refs[i].v <= target + tol + self->max_tol; i++) {
        double slack = tol + self->refs[i].tol;
        slack += 1e-9 * fabs (target) + 1e-12;
        if (fabs (self->refs[i].v - target) <= slack)
            return true;
    }
    return false;
}

typedef struct {
    lg_ground_t *g;
    lg_grounding_t *out;
    int rc;
} s_check_t;

static int
s_check_cb (void *arg, const lg_number_t *num, const char *text)
{
    s_check_t *c = arg;
    lg_ground_t *g = c->g;
    if (num->bare && num->value <= (double) g->ignore_int_max)
        return 0;
    c->out->checked++;
    bool ok = s_match (g, num->value, num->tol);
    if (!ok && num->pct)
        ok = s_match (g, num->value / 100.0, num->tol / 100.0);
    if (!ok && !num->pct && !num->usd && num->value <= 1.0)
        ok = s_match (g, num->value * 100.0, num->tol * 100.0);
    if (ok)
        return 0;
    char *shown = str_ndup (text + num->off, num->len);
    if (shown == NULL) {
        c->rc = LG_E_NOMEM;
        return 1;
    }
    for (size_t i = 0; i < c->out->n_ungrounded; i++)
        if (strcmp (c->out->ungrounded[i], shown) == 0) {
            free (shown);
            return 0;
        }
    char **nu = realloc (c->out->ungrounded, (c->out->n_ungrounded + 1) * sizeof *nu);
    if (nu == NULL) {
        free (shown);
        c->rc = LG_E_NOMEM;
        return 1;
    }
    c->out->ungrounded = nu;
    nu[c->out->n_ungrounded++] = shown;
    return 0;
}

int
lg_ground_check (lg_ground_t *self, const char *answer, lg_grounding_t *out)
{
    memset (out, 0, sizeof *out);
    if (!self->sorted) {
        if (self->n > 1)
            qsort (self->refs, self->n, sizeof *self->refs, s_cmp_ref);
        self->sorted = true;
    }
    s_check_t c = { self, out, 0 };
    if (answer)
        lg_ground_scan (answer, strlen (answer), s_check_cb, &c);
    out->grounded = out->n_ungrounded == 0;
    if (c.rc != 0)
        lg_grounding_clear (out);
    return c.rc;
}

void
lg_grounding_clear (lg_grounding_t *g)
{
    if (g == NULL)
        return;
    for (size_t i = 0; i < g->n_ungrounded; i++)
        free (g->ungrounded[i]);
    free (g->ungrounded);
    memset (g, 0, sizeof *g);
}
