/* cfg.c — configuration from COPILOT_* environment variables, an optional
 * `key = value` file, and programmatic overrides (command-line flags).
 *
 * Data structures: three small arrays of entries, searched linearly (a
 * daemon has a few dozen keys):
 *   - `set`:  cfg_set() overrides (highest precedence);
 *   - `env`:  a snapshot of every COPILOT_* variable taken in cfg_new, plus
 *             verbatim names looked up by cfg_get_any (cached on first use so
 *             returned pointers stay owned by cfg);
 *   - `file`: entries parsed from the file, with their line numbers.
 * A key "http.port" maps to the variable COPILOT_HTTP_PORT (upper-case, '.'
 * and '-' become '_'); the mapping is computed at lookup time, so keys that
 * contain '_' work too.
 *
 * Every value remembers where it came from, so a validation message names the
 * key the way the user wrote it: "COPILOT_HTTP_PORT='abc': ..." for the
 * environment, "deploy/gw.conf:7 http.port='abc': ..." for the file.
 *
 * File syntax: UTF-8 text, at most CFG_FILE_MAX bytes; blank lines and lines
 * whose first non-blank character is '#' are ignored; every other line is
 * `key = value` where key is [a-z0-9._-]+, white space around both is
 * trimmed, and " #" (a '#' at the start of the value or after a blank) starts
 * a trailing comment. A key may appear once. Errors name the file and line.
 *
 * Threading: load once at start-up, then read from one thread (cfg_get_any
 * may cache). cfg_new's error text is thread-local.
 */
#include "cfg.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "str.h"

extern char **environ;

#define CFG_FILE_MAX (1024 * 1024)
#define CFG_ERR_MAX 512
#define CFG_SHOW_MAX 80     /* bytes of a bad value quoted in messages */

typedef enum { SRC_SET, SRC_ENV, SRC_FILE } src_t;

typedef struct {
    char *key;       /* config key, or the variable name for env entries */
    char *value;     /* NULL: looked up in the environment and absent */
    int line;        /* file entries */
} entry_t;

typedef struct {
    entry_t *v;
    size_t n, alloc;
} table_t;

struct _cfg_t {
    table_t set, env, file;
    char *path;
    char err[CFG_ERR_MAX];
};

static _Thread_local char t_new_err[CFG_ERR_MAX];

static void
s_table_free (table_t *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free (t->v[i].key);
        free (t->v[i].value);
    }
    free (t->v);
    t->v = NULL;
    t->n = t->alloc = 0;
}

static entry_t *
s_table_find (table_t *t, const char *key)
{
    for (size_t i = 0; i < t->n; i++) {
        if (strcmp (t->v[i].key, key) == 0)
            return &t->v[i];
    }
    return NULL;
}

/* Adds or replaces; value may be NULL (negative cache). */
static int
s_table_put (table_t *t, const char *key, const char *value, int line)
{
    char *v = NULL;
    if (value != NULL && (v = str_dup (value)) == NULL)
        return CFG_E_NOMEM;
    entry_t *e = s_table_find (t, key);
    if (e != NULL) {
        free (e->value);
        e->value = v;
        e->line = line;
        return CFG_OK;
    }
    if (t->n == t->alloc) {
        size_t na = t->alloc ? t->alloc * 2 : 16;
        entry_t *nv = realloc (t->v, na * sizeof *nv);
        if (nv == NULL) {
            free (v);
            return CFG_E_NOMEM;
        }
        t->v = nv;
        t->alloc = na;
    }
    char *k = str_dup (key);
    if (k == NULL) {
        free (v);
        return CFG_E_NOMEM;
    }
    t->v[t->n++] = (entry_t) { .key = k, .value = v, .line = line };
    return CFG_OK;
}

static bool
s_valid_key (const char *k, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = k[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* "http.port" -> "COPILOT_HTTP_PORT". -1 when it does not fit. */
static int
s_env_name (const char *key, char *out, size_t size)
{
    if (str_copy (out, size, "COPILOT_") != 0)
        return -1;
    size_t o = strlen (out);
    for (const char *p = key; *p; p++) {
        if (o + 1 >= size)
            return -1;
        char c = *p;
        if (c >= 'a' && c <= 'z')
            c = (char) (c - 'a' + 'A');
        else if (c == '.' || c == '-')
            c = '_';
        out[o++] = c;
    }
    out[o] = '\0';
    return 0;
}

/* Quotes a value for a message: at most CFG_SHOW_MAX bytes, control
 * characters shown as '?', "..." when cut. */
static void
s_show (const char *v, char *out, size_t size)
{
    size_t o = 0, i = 0;
    for (; v[i] && i < CFG_SHOW_MAX && o + 1 < size; i++) {
        unsigned char c = (unsigned char) v[i];
        out[o++] = (c < 0x20 || c == 0x7f) ? '?' : (char) c;
    }
    out[o] = '\0';
    if (v[i] != '\0')
        str_append (out, size, "...");
}

/* ---- file parsing -------------------------------------------------------- */

/* Formats a cfg_new error as "path:line: detail" ("path: detail" when the
 * error is not about one line). */
static int
s_fail_new (const char *path, int lineno, const char *detail)
{
    if (lineno > 0)
        str_fmt (t_new_err, sizeof t_new_err, "%s:%d: %s", path, lineno, detail);
    else
        str_fmt (t_new_err, sizeof t_new_err, "%s: %s", path, detail);
    return CFG_E_FILE;
}

static int
s_parse_file (cfg_t *self, const char *path, const char *text, size_t len)
{
    int lineno = 0;
    size_t pos = 0;
    if (memchr (text, '\0', len) != NULL)
        return s_fail_new (path, 0, "file contains a NUL byte");
    while (pos < len) {
        lineno++;
        const char *nl = memchr (text + pos, '\n', len - pos);
        size_t ll = nl ? (size_t) (nl - (text + pos)) : len - pos;
        char *line = str_ndup (text + pos, ll);
        pos += ll + (nl ? 1 : 0);
        if (line == NULL) {
            str_copy (t_new_err, sizeof t_new_err, "out of memory");
            return CFG_E_NOMEM;
        }
        str_trim (line);
        if (line[0] == '\0' || line[0] == '#') {
            free (line);
            continue;
        }
        char *eq = strchr (line, '=');
        if (eq == NULL) {
            free (line);
            return s_fail_new (path, lineno, "expected 'key = value'");
        }
        *eq = '\0';
        char *key = str_trim (line);
        char *value = eq + 1;
        /* Trailing comment: '#' at the start of the value or after a blank. */
        for (char *p = value; *p; p++) {
            if (*p == '#' && (p == value || p[-1] == ' ' || p[-1] == '\t')) {
                *p = '\0';
                break;
            }
        }
        str_trim (value);
        if (key[0] == '\0') {
            free (line);
            return s_fail_new (path, lineno, "expected 'key = value' (empty key)");
        }
        if (!s_valid_key (key, strlen (key))) {
            char shown[CFG_SHOW_MAX + 8], msg[CFG_ERR_MAX];
            s_show (key, shown, sizeof shown);
            str_fmt (msg, sizeof msg,
                     "invalid key '%s': expected lower-case letters, digits, '.', '_' or '-'",
                     shown);
            free (line);
            return s_fail_new (path, lineno, msg);
        }
        entry_t *dup = s_table_find (&self->file, key);
        if (dup != NULL) {
            char msg[CFG_ERR_MAX];
            str_fmt (msg, sizeof msg, "duplicate key '%s' (first set on line %d)", key, dup->line);
            free (line);
            return s_fail_new (path, lineno, msg);
        }
        int rc = s_table_put (&self->file, key, value, lineno);
        free (line);
        if (rc != CFG_OK) {
            str_copy (t_new_err, sizeof t_new_err, "out of memory");
            return rc;
        }
    }
    return CFG_OK;
}

static int
s_load_file (cfg_t *self, const char *path)
{
    FILE *f = fopen (path, "rb");
    if (f == NULL) {
        char msg[256];
        str_fmt (msg, sizeof msg, "cannot open: %s", strerror (errno));
        return s_fail_new (path, 0, msg);
    }
    buf_t *b = buf_new (CFG_FILE_MAX);
    int rc = b ? CFG_OK : CFG_E_NOMEM;
    char chunk[4096];
    while (rc == CFG_OK) {
        size_t n = fread (chunk, 1, sizeof chunk, f);
        if (n > 0 && buf_append (b, chunk, n) != BUF_OK) {
            rc = s_fail_new (path, 0, "file larger than 1 MiB");
            break;
        }
        if (n < sizeof chunk) {
            if (ferror (f))
                rc = s_fail_new (path, 0, "read error");
            break;
        }
    }
    fclose (f);
    if (rc == CFG_OK)
        rc = s_parse_file (self, path, buf_data (b), buf_len (b));
    buf_destroy (&b);
    return rc;
}

cfg_t *
cfg_new (const char *path, const char **err_out)
{
    t_new_err[0] = '\0';
    if (err_out)
        *err_out = t_new_err;
    cfg_t *self = calloc (1, sizeof *self);
    if (self == NULL) {
        str_copy (t_new_err, sizeof t_new_err, "out of memory");
        return NULL;
    }
    for (char **e = environ; e && *e; e++) {
        if (!str_starts_with (*e, "COPILOT_"))
            continue;
        const char *eq = strchr (*e, '=');
        if (eq == NULL)
            continue;
        char *name = str_ndup (*e, (size_t) (eq - *e));
        int rc = name ? s_table_put (&self->env, name, eq + 1, 0) : CFG_E_NOMEM;
        free (name);
        if (rc != CFG_OK) {
            str_copy (t_new_err, sizeof t_new_err, "out of memory");
            cfg_destroy (&self);
            return NULL;
        }
    }
    if (path != NULL) {
        self->path = str_dup (path);
        if (self->path == NULL || s_load_file (self, path) != CFG_OK) {
            if (self->path == NULL)
                str_copy (t_new_err, sizeof t_new_err, "out of memory");
            cfg_destroy (&self);
            return NULL;
        }
    }
    return self;
}

void
cfg_destroy (cfg_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    cfg_t *self = *self_p;
    s_table_free (&self->set);
    s_table_free (&self->env);
    s_table_free (&self->file);
    free (self->path);
    free (self);
    *self_p = NULL;
}

int
cfg_set (cfg_t *self, const char *key, const char *value)
{
    if (self == NULL || key == NULL || value == NULL)
        return CFG_E_INVALID;
    if (!s_valid_key (key, strlen (key))) {
        char shown[CFG_SHOW_MAX + 8];
        s_show (key, shown, sizeof shown);
        str_fmt (self->err, sizeof self->err,
                 "invalid key '%s': expected lower-case letters, digits, '.', '_' or '-'", shown);
        return CFG_E_INVALID;
    }
    return s_table_put (&self->set, key, value, 0);
}

/* Finds a key's value and describes where it came from, as the user sees it. */
static const char *
s_lookup (cfg_t *self, const char *key, char *origin, size_t osize)
{
    if (self == NULL || key == NULL)
        return NULL;
    entry_t *e = s_table_find (&self->set, key);
    if (e != NULL) {
        if (origin)
            str_copy (origin, osize, key);
        return e->value;
    }
    char name[256];
    if (s_env_name (key, name, sizeof name) == 0 && (e = s_table_find (&self->env, name)) != NULL
        && e->value != NULL) {
        if (origin)
            str_copy (origin, osize, name);
        return e->value;
    }
    e = s_table_find (&self->file, key);
    if (e != NULL) {
        if (origin)
            str_fmt (origin, osize, "%s:%d %s", self->path, e->line, key);
        return e->value;
    }
    return NULL;
}

const char *
cfg_get (cfg_t *self, const char *key)
{
    return s_lookup (self, key, NULL, 0);
}

int
cfg_str (cfg_t *self, const char *key, const char *def, const char **out)
{
    if (out == NULL)
        return CFG_E_INVALID;
    const char *v = s_lookup (self, key, NULL, 0);
    *out = v ? v : def;
    return CFG_OK;
}

static int
s_invalid (cfg_t *self, const char *origin, const char *value, const char *expected)
{
    char shown[CFG_SHOW_MAX + 8];
    s_show (value, shown, sizeof shown);
    str_fmt (self->err, sizeof self->err, "%s='%s': expected %s", origin, shown, expected);
    return CFG_E_INVALID;
}

int
cfg_int (cfg_t *self, const char *key, int64_t def, int64_t min, int64_t max, int64_t *out)
{
    if (out == NULL)
        return CFG_E_INVALID;
    char origin[512];
    const char *v = s_lookup (self, key, origin, sizeof origin);
    if (v == NULL) {
        *out = def;
        return CFG_OK;
    }
    int64_t x;
    if (str_to_i64 (v, &x) != 0 || x < min || x > max) {
        char exp[96];
        str_fmt (exp, sizeof exp, "an integer in [%lld, %lld]", (long long) min, (long long) max);
        return s_invalid (self, origin, v, exp);
    }
    *out = x;
    return CFG_OK;
}

int
cfg_double (cfg_t *self, const char *key, double def, double min, double max, double *out)
{
    if (out == NULL)
        return CFG_E_INVALID;
    char origin[512];
    const char *v = s_lookup (self, key, origin, sizeof origin);
    if (v == NULL) {
        *out = def;
        return CFG_OK;
    }
    double x;
    if (str_to_double (v, &x) != 0 || x < min || x > max) {
        char exp[96];
        str_fmt (exp, sizeof exp, "a number in [%g, %g]", min, max);
        return s_invalid (self, origin, v, exp);
    }
    *out = x;
    return CFG_OK;
}

int
cfg_bool (cfg_t *self, const char *key, bool def, bool *out)
{
    if (out == NULL)
        return CFG_E_INVALID;
    char origin[512];
    const char *v = s_lookup (self, key, origin, sizeof origin);
    if (v == NULL) {
        *out = def;
        return CFG_OK;
    }
    static const char *const yes[] = { "true", "yes", "on", "1" };
    static const char *const no[] = { "false", "no", "off", "0" };
    for (int i = 0; i < 4; i++) {
        if (str_ieq (v, yes[i])) {
            *out = true;
            return CFG_OK;
        }
        if (str_ieq (v, no[i])) {
            *out = false;
            return CFG_OK;
        }
    }
    return s_invalid (self, origin, v, "true/false, yes/no, on/off or 1/0");
}

int
cfg_require (cfg_t *self, const char *key, const char **out)
{
    if (self == NULL || key == NULL || out == NULL)
        return CFG_E_INVALID;
    const char *v = s_lookup (self, key, NULL, 0);
    if (v == NULL) {
        char name[256];
        if (s_env_name (key, name, sizeof name) != 0)
            str_copy (name, sizeof name, "COPILOT_...");
        str_fmt (self->err, sizeof self->err,
                 "missing required setting '%s': set %s or add '%s = ...' to %s", key, name, key,
                 self->path ? self->path : "a config file");
        return CFG_E_MISSING;
    }
    *out = v;
    return CFG_OK;
}

static bool
s_has_upper (const char *s)
{
    for (; *s; s++) {
        if (*s >= 'A' && *s <= 'Z')
            return true;
    }
    return false;
}

const char *
cfg_get_any (cfg_t *self, const char *const *keys)
{
    if (self == NULL || keys == NULL)
        return NULL;
    for (size_t i = 0; keys[i] != NULL; i++) {
        const char *v;
        if (s_has_upper (keys[i])) {
            entry_t *e = s_table_find (&self->env, keys[i]);
            if (e == NULL) {
                /* First lookup: cache the variable (or its absence). */
                if (s_table_put (&self->env, keys[i], getenv (keys[i]), 0) != CFG_OK)
                    return NULL;
                e = s_table_find (&self->env, keys[i]);
            }
            v = e ? e->value : NULL;
        } else {
            v = cfg_get (self, keys[i]);
        }
        if (v != NULL && v[0] != '\0')
            return v;
    }
    return NULL;
}

const char *
cfg_error (cfg_t *self)
{
    return self ? self->err : "";
}

const char *
cfg_strerror (int code)
{
    switch (code) {
    case CFG_OK: return "ok";
    case CFG_E_INVALID: return "invalid configuration value";
    case CFG_E_MISSING: return "missing required configuration value";
    case CFG_E_FILE: return "configuration file error";
    case CFG_E_NOMEM: return "out of memory";
    default: return "unknown configuration error";
    }
}
