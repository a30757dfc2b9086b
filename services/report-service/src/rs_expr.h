/* rs_expr.h — the small expression and template language of the report
 * registry (conditions, computed columns, labels, chip prompts, chart
 * directives). Internal to rs_engine.
 *
 * Values are NULL, a number (double; `is_int` marks SQLite integers and
 * comparison results) or a string (borrowed pointer, owned by the table row
 * or by an arena). Expressions are compiled once (registry load) and
 * evaluated many times against a scope chain.
 *
 * Syntax (full description in services/report-service/README.md):
 *   literals   12  0.5  'text'  "text"  true  false  null
 *   names      cost_total_usd  th.job_failure_flag_pct  param.top_n  sel.id
 *   operators  ?:  ||  &&  == != < <= > >=  + - * / %  unary ! -  ( )
 *   functions  abs sqrt min max round lower upper len contains slug coalesce
 *              fmt(x, spec) str(x) substr(s, start, len) + scope hooks
 *   NULL: arithmetic with NULL is NULL; an ordering comparison with NULL is
 *   false (as pandas compares NaN); == / != compare NULL as a value.
 *   '+' concatenates when either side is a string.
 * Templates: literal text with {expr} or {expr:spec} placeholders; {{ and }}
 * are literal braces. spec = [+][,][.N][f|d|%|s] (Python format subset).
 */
#ifndef RS_EXPR_H
#define RS_EXPR_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "buf.h"

typedef enum { RS_VNULL = 0, RS_VNUM = 1, RS_VSTR = 2 } rs_vtype_t;

typedef struct {
    rs_vtype_t type;
    bool is_int;          /* number came from an integer (JSON integer, 'd' default) */
    double num;
    const char *str;      /* borrowed */
} rs_value_t;

/* ---- arena: many small allocations freed together ----------------------- */
typedef struct _rs_arena_block_t rs_arena_block_t;
typedef struct {
    rs_arena_block_t *head;
} rs_arena_t;

/* Allocates n bytes (8-aligned) from the arena; NULL on OOM. */
void *rs_arena_alloc (rs_arena_t *arena, size_t n);
/* Copies n bytes of s plus a NUL into the arena; NULL on OOM. */
char *rs_arena_strndup (rs_arena_t *arena, const char *s, size_t n);
/* Frees every block; the arena is reusable afterwards. */
void rs_arena_clear (rs_arena_t *arena);

/* ---- scope -------------------------------------------------------------- */
/* Name lookup: return 0 and fill *out when `name` is known here, -1 when not
 * (the parent is tried next). */
typedef int (*rs_lookup_fn) (void *ud, const char *name, rs_value_t *out);
/* Function hook for names the evaluator does not know: return 0 and fill
 * *out, -1 when unknown, -2 on a type error (message in err). */
typedef int (*rs_call_fn) (void *ud, const char *fn, const rs_value_t *args, int nargs,
                           rs_arena_t *arena, rs_value_t *out, char *err, size_t errsz);

typedef struct rs_scope {
    rs_lookup_fn lookup;
    rs_call_fn call;
    void *ud;
    const struct rs_scope *parent;
} rs_scope_t;

/* ---- expressions -------------------------------------------------------- */
typedef struct _rs_expr_t rs_expr_t;

/* Compiles `src`. NULL on a syntax error with the reason in err (position
 * included). */
rs_expr_t *rs_expr_compile (const char *src, char *err, size_t errsz);
void rs_expr_destroy (rs_expr_t **self_p);
/* Source text the expression was compiled from. */
const char *rs_expr_source (const rs_expr_t *self);
/* Evaluates in `scope`; temporary strings go to `arena`. 0, or -1 with the
 * reason in err (unknown name, bad function call). */
int rs_expr_eval (const rs_expr_t *self, const rs_scope_t *scope, rs_arena_t *arena,
                  rs_value_t *out, char *err, size_t errsz);
/* Evaluates and reduces to a truth value (NULL, 0, NaN and "" are false). */
int rs_expr_truth (const rs_expr_t *self, const rs_scope_t *scope, rs_arena_t *arena,
                   bool *out, char *err, size_t errsz);

/* ---- templates ---------------------------------------------------------- */
typedef struct _rs_tmpl_t rs_tmpl_t;

rs_tmpl_t *rs_tmpl_compile (const char *src, char *err, size_t errsz);
void rs_tmpl_destroy (rs_tmpl_t **self_p);
const char *rs_tmpl_source (const rs_tmpl_t *self);
/* Appends the rendered text to out. 0, -1 (evaluation error, err set) or a
 * BUF_E_* code when out's cap is reached. */
int rs_tmpl_render (const rs_tmpl_t *self, const rs_scope_t *scope, rs_arena_t *arena,
                    buf_t *out, char *err, size_t errsz);

/* ---- helpers ------------------------------------------------------------ */
/* Formats v with a Python-style spec ("" = default) and appends it to out.
 * NULL renders as "n/a". 0, -1 (bad spec, err set) or BUF_E_*. */
int rs_format_value (const rs_value_t *v, const char *spec, buf_t *out, char *err, size_t errsz);
/* slug (seed-copilot §3.3): space, '/', ':', '|', '\n' become '_'. Appends to out. */
int rs_slug (const char *s, buf_t *out);
bool rs_value_truth (const rs_value_t *v);
/* Total order used by sorting: NULL last, numbers before strings, numbers by
 * value, strings by strcmp. Returns <0, 0, >0. */
int rs_value_cmp (const rs_value_t *a, const rs_value_t *b);

static inline rs_value_t rs_vnull (void) { rs_value_t v = {RS_VNULL, false, 0.0, NULL}; return v; }
static inline rs_value_t rs_vnum (double d) { rs_value_t v = {RS_VNUM, false, d, NULL}; return v; }
static inline rs_value_t rs_vint (int64_t i) { rs_value_t v = {RS_VNUM, true, (double) i, NULL}; return v; }
static inline rs_value_t rs_vstr (const char *s) { rs_value_t v = {RS_VSTR, false, 0.0, s}; return v; }

#endif
