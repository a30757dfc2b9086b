/* cfg.h — configuration: COPILOT_* environment variables plus an optional
 * file of `key = value` lines (# comments). Environment wins over the file.
 * Keys are lower-case dotted names ("http.port"); the environment name is
 * COPILOT_ + upper-case with dots as underscores (COPILOT_HTTP_PORT).
 *
 * File syntax: blank lines and lines starting with '#' are ignored; other
 * lines are `key = value` with key in [a-z0-9._-]+; white space around key
 * and value is trimmed; a '#' at the start of the value or after a blank
 * starts a trailing comment; each key at most once; at most 1 MiB.
 *
 * Getters validate and return a negative code with a message naming the key
 * as the user wrote it (the variable name when it came from the environment,
 * "file:line key" when it came from the file, the key for cfg_set), the
 * offending value and what was expected (cfg_error()). Not thread-safe;
 * load once at start-up, then read.
 */
#ifndef COPILOT_CFG_H
#define COPILOT_CFG_H
#include <stdbool.h>
#include <stdint.h>

typedef struct _cfg_t cfg_t;

enum { CFG_OK = 0, CFG_E_INVALID = -1, CFG_E_MISSING = -2, CFG_E_FILE = -3, CFG_E_NOMEM = -4 };

/* Loads the environment (a snapshot of COPILOT_* taken now) and, when `path`
 * is non-NULL, the file. Returns NULL on failure with the reason in *err_out
 * (thread-local text, valid until the next cfg_new on this thread), e.g.
 * "config.ini:7: expected 'key = value'" or "config.ini: cannot open: ...". */
cfg_t *cfg_new (const char *path, const char **err_out);
void cfg_destroy (cfg_t **self_p);

/* Sets a value programmatically (command-line flags); overrides env/file.
 * Both strings are copied. CFG_E_INVALID for a malformed key, CFG_E_NOMEM. */
int cfg_set (cfg_t *self, const char *key, const char *value);

/* Raw value or NULL when unset. Owned by cfg. */
const char *cfg_get (cfg_t *self, const char *key);
/* Typed getters: when unset, *out = def and 0 is returned. On an invalid
 * value CFG_E_INVALID is returned, *out is untouched and cfg_error() explains
 * it, e.g. "COPILOT_HTTP_PORT='abc': expected an integer in [1, 65535]" or
 * "gw.conf:7 http.port='abc': expected an integer in [1, 65535]". Integers
 * are decimal; doubles decimal and finite; booleans true/false, yes/no,
 * on/off, 1/0 (any case). cfg_str never fails. */
int cfg_str (cfg_t *self, const char *key, const char *def, const char **out);
int cfg_int (cfg_t *self, const char *key, int64_t def, int64_t min, int64_t max, int64_t *out);
int cfg_double (cfg_t *self, const char *key, double def, double min, double max, double *out);
int cfg_bool (cfg_t *self, const char *key, bool def, bool *out);
/* Required string: CFG_E_MISSING with a message naming the key when unset. */
int cfg_require (cfg_t *self, const char *key, const char **out);
/* Looks up the first set key among `keys` (NULL-terminated), for aliases such
 * as OPENAI_API_KEY next to COPILOT_LLM_API_KEY: entries that contain an
 * upper-case letter are read verbatim from the environment (cached by cfg on
 * first lookup). Empty values are skipped. NULL when none is set. */
const char *cfg_get_any (cfg_t *self, const char *const *keys);

/* Last error message of this object. */
const char *cfg_error (cfg_t *self);
const char *cfg_strerror (int code);
#endif
