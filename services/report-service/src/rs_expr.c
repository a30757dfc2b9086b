/* rs_expr.c — expression and template language of the report registry.
 *
 * Design: a hand-written recursive-descent parser builds a small AST once,
 * when the registry is loaded; evaluation walks the AST with a scope chain
 * (row columns, payload, measures, thresholds, parameters) supplied by the
 * engine. No global state; every call is re-entrant. Temporary strings made
 * during evaluation (concatenation, fmt, lower ...) live in a caller-owned
 * arena that the engine clears per report run.
 *
 * Precedence, lowest first: ?: , || , && , == != , < <= > >= , + - ,
 * * / % , unary ! - , primary. Python-style number formatting (spec
 * [+][,][.N][f|d|%|s]) is implemented here so labels and prompts match the
 * reference's f-strings ("{x:,.0f}" etc.); printf's %.Nf rounds the exact
 * binary value like Python does.
 */
#include "rs_expr.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "str.h"

/* ======================================================================= */
/* arena                                                                    */
/* ======================================================================= */
struct _rs_arena_block_t {
    rs_arena_block_t *next;
    size_t used, cap;
    _Alignas (8) unsigned char data[];
};

void *
rs_arena_alloc (rs_arena_t *arena, size_t n)
{
    n = (n + 7u) & ~(size_t) 7u;
    rs_arena_block_t *b = arena->head;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > 8192 ? n : 8192;
        b = malloc (sizeof *b + cap);
        if (!b)
            return NULL;
        b->used = 0;
        b->cap = cap;
        b->next = arena->head;
        arena->head = b;
    }
    void *p = b->data + b->used;
    b->used += n;
    return p;
}

char *
rs_arena_strndup (rs_arena_t *arena, const char *s, size_t n)
{
    char *p = rs_arena_alloc (arena, n + 1);
    if (!p)
        return NULL;
    if (n)
        memcpy (p, s, n);
    p[n] = '\0';
    return p;
}

void
rs_arena_clear (rs_arena_t *arena)
{
    rs_arena_block_t *b = arena->head;
    while (b) {
        rs_arena_block_t *n = b->next;
        free (b);
        b = n;
    }
    arena->head = NULL;
}

/* ======================================================================= */
/* AST                                                                      */
/* ======================================================================= */
typedef enum { N_LIT, N_NAME, N_UNARY, N_BINARY, N_TERNARY, N_CALL } nkind_t;
typedef enum {
    OP_OR = 1, OP_AND, OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE,
    OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_MOD, OP_NOT, OP_NEG
} op_t;

typedef struct node {
    nkind_t kind;
    op_t op;
    rs_value_t lit;          /* N_LIT (strings point into `text`) */
    char *text;              /* N_NAME / N_CALL name, N_LIT string storage */
    struct node *a, *b, *c;  /* operands */
    struct node **args;      /* N_CALL */
    int nargs;
    bool builtin;            /* N_CALL: the name is one of s_builtins (else the scopes answer) */
} node_t;

/* Functions s_call implements itself (keep in step with its strcmp chain:
 * a name missing here is "unknown function"); any other name goes straight to the
 * scopes' call hooks (in_measure, ...) without the name comparisons. */
static const char *const s_builtins[] = {"abs",      "min",    "max", "sqrt",   "round", "lower", "upper",
                                         "len",      "contains", "str", "coalesce", "substr", "fmt", "slug", NULL};

static bool
s_is_builtin (const char *name)
{
    for (int i = 0; s_builtins[i]; i++)
        if (strcmp (s_builtins[i], name) == 0)
            return true;
    return false;
}

struct _rs_expr_t {
    char *src;
    node_t *root;
};

static void
s_node_free (node_t *n)
{
    if (!n)
        return;
    s_node_free (n->a);
    s_node_free (n->b);
    s_node_free (n->c);
    for (int i = 0; i < n->nargs; i++)
        s_node_free (n->args[i]);
    free (n->args);
    free (n->text);
    free (n);
}

/* ---- parser ------------------------------------------------------------ */
typedef struct {
    const char *src;
    size_t pos;
    char *err;
    size_t errsz;
    bool failed;
} parser_t;

static void
s_perr (parser_t *p, const char *fmt, ...)
{
    if (p->failed)
        return;
    p->failed = true;
    char msg[200];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (msg, sizeof msg, fmt, ap);
    va_end (ap);
    if (p->err && p->errsz)
        snprintf (p->err, p->errsz, "%s at offset %zu in \"%s\"", msg, p->pos, p->src);
}

static void
s_ws (parser_t *p)
{
    while (p->src[p->pos] && isspace ((unsigned char) p->src[p->pos]))
        p->pos++;
}

static bool
s_accept (parser_t *p, const char *tok)
{
    s_ws (p);
    size_t n = strlen (tok);
    if (strncmp (p->src + p->pos, tok, n) != 0)
        return false;
    /* do not split "<=" into "<" "=" or "||" into "|" */
    p->pos += n;
    return true;
}

static node_t *
s_new (nkind_t kind)
{
    node_t *n = calloc (1, sizeof *n);
    if (n)
        n->kind = kind;
    return n;
}

static node_t *s_parse_ternary (parser_t *p);

static node_t *
s_parse_primary (parser_t *p)
{
    s_ws (p);
    const char *s = p->src + p->pos;
    char c = *s;
    if (c == '(') {
        p->pos++;
        node_t *n = s_parse_ternary (p);
        if (!n)
            return NULL;
        if (!s_accept (p, ")")) {
            s_perr (p, "expected ')'");
            s_node_free (n);
            return NULL;
        }
        return n;
    }
    if (c == '\'' || c == '"') {
        char q = c;
        size_t i = 1;
        buf_t *b = buf_new (4096);
        if (!b) {
            s_perr (p, "out of memory");
            return NULL;
        }
        while (s[i] && s[i] != q) {
            if (s[i] == '\\' && s[i + 1]) {
                i++;
                char e = s[i] == 'n' ? '\n' : s[i] == 't' ? '\t' : s[i];
                buf_append (b, &e, 1);
            } else
                buf_append (b, &s[i], 1);
            i++;
        }
        if (s[i] != q) {
            buf_destroy (&b);
            s_perr (p, "unterminated string");
            return NULL;
        }
        p->pos += i + 1;
        node_t *n = s_new (N_LIT);
        if (!n) {
            buf_destroy (&b);
            s_perr (p, "out of memory");
            return NULL;
        }
        n->text = buf_detach (b);
        buf_destroy (&b);
        if (!n->text) {
            free (n);
            s_perr (p, "out of memory");
            return NULL;
        }
        n->lit = rs_vstr (n->text);
        return n;
    }
    if (isdigit ((unsigned char) c) || (c == '.' && isdigit ((unsigned char) s[1]))) {
        char *end = NULL;
        double d = strtod (s, &end);
        if (end == s) {
            s_perr (p, "bad number");
            return NULL;
        }
        bool is_int = true;
        for (const char *q = s; q < end; q++)
            if (*q == '.' || *q == 'e' || *q == 'E')
                is_int = false;
        p->pos += (size_t) (end - s);
        node_t *n = s_new (N_LIT);
        if (!n) {
            s_perr (p, "out of memory");
            return NULL;
        }
        n->lit = rs_vnum (d);
        n->lit.is_int = is_int;
        return n;
    }
    if (isalpha ((unsigned char) c) || c == '_') {
        size_t i = 0;
        while (isalnum ((unsigned char) s[i]) || s[i] == '_' || s[i] == '.')
            i++;
        char *name = str_ndup (s, i);
        if (!name) {
            s_perr (p, "out of memory");
            return NULL;
        }
        p->pos += i;
        if (strcmp (name, "true") == 0 || strcmp (name, "false") == 0) {
            node_t *n = s_new (N_LIT);
            if (n)
                n->lit = rs_vint (name[0] == 't');
            free (name);
            if (!n)
                s_perr (p, "out of memory");
            return n;
        }
        if (strcmp (name, "null") == 0) {
            free (name);
            node_t *n = s_new (N_LIT);
            if (!n)
                s_perr (p, "out of memory");
            return n;
        }
        s_ws (p);
        if (p->src[p->pos] == '(') {
            p->pos++;
            node_t *n = s_new (N_CALL);
            if (!n) {
                free (name);
                s_perr (p, "out of memory");
                return NULL;
            }
            n->text = name;
            n->builtin = s_is_builtin (name);
            s_ws (p);
            if (p->src[p->pos] == ')') {
                p->pos++;
                return n;
            }
            for (;;) {
                node_t *arg = s_parse_ternary (p);
                if (!arg) {
                    s_node_free (n);
                    return NULL;
                }
                node_t **na = realloc (n->args, sizeof *na * (size_t) (n->nargs + 1));
                if (!na) {
                    s_node_free (arg);
                    s_node_free (n);
                    s_perr (p, "out of memory");
                    return NULL;
                }
                n->args = na;
                n->args[n->nargs++] = arg;
                if (s_accept (p, ","))
                    continue;
                if (s_accept (p, ")"))
                    return n;
                s_perr (p, "expected ',' or ')' in call to %s", n->text);
                s_node_free (n);
                return NULL;
            }
        }
        node_t *n = s_new (N_NAME);
        if (!n) {
            free (name);
            s_perr (p, "out of memory");
            return NULL;
        }
        n->text = name;
        return n;
    }
    s_perr (p, c ? "unexpected character '%c'" : "unexpected end of expression", c);
    return NULL;
}

static node_t *
s_parse_unary (parser_t *p)
{
    s_ws (p);
    char c = p->src[p->pos];
    if ((c == '!' && p->src[p->pos + 1] != '=') || c == '-') {
        p->pos++;
        node_t *a = s_parse_unary (p);
        if (!a)
            return NULL;
        node_t *n = s_new (N_UNARY);
        if (!n) {
            s_node_free (a);
            s_perr (p, "out of memory");
            return NULL;
        }
        n->op = c == '!' ? OP_NOT : OP_NEG;
        n->a = a;
        return n;
    }
    return s_parse_primary (p);
}

static node_t *
s_binary (parser_t *p, op_t op, node_t *a, node_t *b)
{
    if (!b) {
        s_node_free (a);
        return NULL;
    }
    node_t *n = s_new (N_BINARY);
    if (!n) {
        s_node_free (a);
        s_node_free (b);
        s_perr (p, "out of memory");
        return NULL;
    }
    n->op = op;
    n->a = a;
    n->b = b;
    return n;
}

static node_t *
s_parse_mul (parser_t *p)
{
    node_t *a = s_parse_unary (p);
    while (a) {
        if (s_accept (p, "*"))
            a = s_binary (p, OP_MUL, a, s_parse_unary (p));
        else if (s_accept (p, "/"))
            a = s_binary (p, OP_DIV, a, s_parse_unary (p));
        else if (s_accept (p, "%"))
            a = s_binary (p, OP_MOD, a, s_parse_unary (p));
        else
            break;
    }
    return a;
}

static node_t *
s_parse_add (parser_t *p)
{
    node_t *a = s_parse_mul (p);
    while (a) {
        if (s_accept (p, "+"))
            a = s_binary (p, OP_ADD, a, s_parse_mul (p));
        else if (s_accept (p, "-"))
            a = s_binary (p, OP_SUB, a, s_parse_mul (p));
        else
            break;
    }
    return a;
}

static node_t *
s_parse_cmp (parser_t *p)
{
    node_t *a = s_parse_add (p);
    while (a) {
        if (s_accept (p, "<="))
            a = s_binary (p, OP_LE, a, s_parse_add (p));
        else if (s_accept (p, ">="))
            a = s_binary (p, OP_GE, a, s_parse_add (p));
        else if (s_accept (p, "<"))
            a = s_binary (p, OP_LT, a, s_parse_add (p));
        else if (s_accept (p, ">"))
            a = s_binary (p, OP_GT, a, s_parse_add (p));
        else
            break;
    }
    return a;
}

static node_t *
s_parse_eq (parser_t *p)
{
    node_t *a = s_parse_cmp (p);
    while (a) {
        if (s_accept (p, "=="))
            a = s_binary (p, OP_EQ, a, s_parse_cmp (p));
        else if (s_accept (p, "!="))
            a = s_binary (p, OP_NE, a, s_parse_cmp (p));
        else
            break;
    }
    return a;
}

static node_t *
s_parse_and (parser_t *p)
{
    node_t *a = s_parse_eq (p);
    while (a && s_accept (p, "&&"))
        a = s_binary (p, OP_AND, a, s_parse_eq (p));
    return a;
}

static node_t *
s_parse_or (parser_t *p)
{
    node_t *a = s_parse_and (p);
    while (a && s_accept (p, "||"))
        a = s_binary (p, OP_OR, a, s_parse_and (p));
    return a;
}

static node_t *
s_parse_ternary (parser_t *p)
{
    node_t *c = s_parse_or (p);
    if (!c)
        return NULL;
    if (!s_accept (p, "?"))
        return c;
    node_t *a = s_parse_ternary (p);
    if (!a) {
        s_node_free (c);
        return NULL;
    }
    if (!s_accept (p, ":")) {
        s_perr (p, "expected ':' in conditional");
        s_node_free (c);
        s_node_free (a);
        return NULL;
    }
    node_t *b = s_parse_ternary (p);
    if (!b) {
        s_node_free (c);
        s_node_free (a);
        return NULL;
    }
    node_t *n = s_new (N_TERNARY);
    if (!n) {
        s_node_free (c);
        s_node_free (a);
        s_node_free (b);
        s_perr (p, "out of memory");
        return NULL;
    }
    n->a = c;
    n->b = a;
    n->c = b;
    return n;
}

rs_expr_t *
rs_expr_compile (const char *src, char *err, size_t errsz)
{
    if (!src) {
        if (err && errsz)
            snprintf (err, errsz, "missing expression");
        return NULL;
    }
    parser_t p = {src, 0, err, errsz, false};
    node_t *root = s_parse_ternary (&p);
    if (root) {
        s_ws (&p);
        if (p.src[p.pos]) {
            s_perr (&p, "unexpected '%c'", p.src[p.pos]);
            s_node_free (root);
            return NULL;
        }
    }
    if (!root)
        return NULL;
    rs_expr_t *e = calloc (1, sizeof *e);
    if (!e || !(e->src = str_dup (src))) {
        free (e);
        s_node_free (root);
        if (err && errsz)
            snprintf (err, errsz, "out of memory");
        return NULL;
    }
    e->root = root;
    return e;
}

void
rs_expr_destroy (rs_expr_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    s_node_free ((*self_p)->root);
    free ((*self_p)->src);
    free (*self_p);
    *self_p = NULL;
}

const char *
rs_expr_source (const rs_expr_t *self)
{
    return self ? self->src : "";
}

/* ======================================================================= */
/* evaluation                                                               */
/* ======================================================================= */
bool
rs_value_truth (const rs_value_t *v)
{
    switch (v->type) {
    case RS_VNUM:
        return v->num != 0.0 && !isnan (v->num);
    case RS_VSTR:
        return v->str && v->str[0];
    default:
        return false;
    }
}

int
rs_value_cmp (const rs_value_t *a, const rs_value_t *b)
{
    bool an = a->type == RS_VNULL || (a->type == RS_VNUM && isnan (a->num));
    bool bn = b->type == RS_VNULL || (b->type == RS_VNUM && isnan (b->num));
    if (an || bn)
        return an == bn ? 0 : an ? 1 : -1;
    if (a->type != b->type)
        return a->type == RS_VNUM ? -1 : 1;
    if (a->type == RS_VNUM)
        return a->num < b->num ? -1 : a->num > b->num ? 1 : 0;
    return strcmp (a->str ? a->str : "", b->str ? b->str : "");
}

static int
s_eval_err (char *err, size_t errsz, const char *fmt, ...)
{
    if (err && errsz) {
        va_list ap;
        va_start (ap, fmt);
        vsnprintf (err, errsz, fmt, ap);
        va_end (ap);
    }
    return -1;
}

/* Default text of a value (concatenation, str()). */
static const char *
s_to_text (const rs_value_t *v, rs_arena_t *arena)
{
    if (v->type == RS_VSTR)
        return v->str ? v->str : "";
    if (v->type == RS_VNULL)
        return "";
    buf_t *b = buf_new (64);
    if (!b)
        return NULL;
    const char *out = NULL;
    if (rs_format_value (v, "", b, NULL, 0) == 0)
        out = rs_arena_strndup (arena, buf_data (b), buf_len (b));
    buf_destroy (&b);
    return out;
}

static int s_eval (const node_t *n, const rs_scope_t *scope, rs_arena_t *arena, rs_value_t *out,
                   char *err, size_t errsz);

static int
s_lookup (const rs_scope_t *scope, const char *name, rs_value_t *out)
{
    for (const rs_scope_t *s = scope; s; s = s->parent)
        if (s->lookup && s->lookup (s->ud, name, out) == 0)
            return 0;
    return -1;
}

static int
s_call (const node_t *n, const rs_scope_t *scope, rs_arena_t *arena, rs_value_t *out, char *err,
        size_t errsz)
{
    const char *fn = n->text;
    int na = n->nargs;
    rs_value_t argv[16];
    if (na > 16)
        return s_eval_err (err, errsz, "%s: too many arguments", fn);
    /* coalesce is lazy-free but evaluating all arguments is harmless */
    for (int i = 0; i < na; i++)
        if (s_eval (n->args[i], scope, arena, &argv[i], err, errsz) != 0)
            return -1;

    if (!n->builtin)
        goto scopes;
#define NEED(k)                                                                       \
    do {                                                                              \
        if (na != (k))                                                                \
            return s_eval_err (err, errsz, "%s() takes %d argument(s), got %d", fn, (k), na); \
    } while (0)

    if (strcmp (fn, "abs") == 0) {
        NEED (1);
        *out = argv[0].type == RS_VNUM ? rs_vnum (fabs (argv[0].num)) : rs_vnull ();
        out->is_int = argv[0].is_int;
        return 0;
    }
    if (strcmp (fn, "min") == 0 || strcmp (fn, "max") == 0) {
        if (na < 1)
            return s_eval_err (err, errsz, "%s() needs arguments", fn);
        bool want_max = fn[1] == 'a';
        rs_value_t best = rs_vnull ();
        for (int i = 0; i < na; i++) {
            if (argv[i].type != RS_VNUM || isnan (argv[i].num))
                continue;
            if (best.type == RS_VNULL || (want_max ? argv[i].num > best.num : argv[i].num < best.num))
                best = argv[i];
        }
        *out = best;
        return 0;
    }
    if (strcmp (fn, "sqrt") == 0) {
        NEED (1);
        *out = argv[0].type == RS_VNUM && argv[0].num >= 0 ? rs_vnum (sqrt (argv[0].num)) : rs_vnull ();
        return 0;
    }
    if (strcmp (fn, "round") == 0) {
        if (na < 1 || na > 2)
            return s_eval_err (err, errsz, "round() takes 1 or 2 arguments");
        if (argv[0].type != RS_VNUM) {
            *out = rs_vnull ();
            return 0;
        }
        int digits = na == 2 && argv[1].type == RS_VNUM ? (int) argv[1].num : 0;
        double scale = pow (10.0, digits);
        *out = rs_vnum (nearbyint (argv[0].num * scale) / scale);
        out->is_int = digits <= 0;
        return 0;
    }
    if (strcmp (fn, "lower") == 0 || strcmp (fn, "upper") == 0) {
        NEED (1);
        const char *s = s_to_text (&argv[0], arena);
        if (!s)
            return s_eval_err (err, errsz, "out of memory");
        size_t len = strlen (s);
        char *d = rs_arena_strndup (arena, s, len);
        if (!d)
            return s_eval_err (err, errsz, "out of memory");
        for (size_t i = 0; i < len; i++)
            d[i] = (char) (fn[0] == 'l' ? tolower ((unsigned char) d[i]) : toupper ((unsigned char) d[i]));
        *out = rs_vstr (d);
        return 0;
    }
    if (strcmp (fn, "len") == 0) {
        NEED (1);
        const char *s = s_to_text (&argv[0], arena);
        *out = rs_vint ((int64_t) (s ? strlen (s) : 0));
        return 0;
    }
    if (strcmp (fn, "contains") == 0) {
        NEED (2);
        const char *h = s_to_text (&argv[0], arena), *nd = s_to_text (&argv[1], arena);
        *out = rs_vint (h && nd && strstr (h, nd) != NULL);
        return 0;
    }
    if (strcmp (fn, "str") == 0) {
        NEED (1);
        const char *s = s_to_text (&argv[0], arena);
        if (!s)
            return s_eval_err (err, errsz, "out of memory");
        *out = rs_vstr (s);
        return 0;
    }
    if (strcmp (fn, "coalesce") == 0) {
        *out = rs_vnull ();
        for (int i = 0; i < na; i++)
            if (argv[i].type != RS_VNULL && !(argv[i].type == RS_VNUM && isnan (argv[i].num))) {
                *out = argv[i];
                break;
            }
        return 0;
    }
    if (strcmp (fn, "substr") == 0) {
        if (na < 2 || na > 3)
            return s_eval_err (err, errsz, "substr() takes 2 or 3 arguments");
        const char *s = s_to_text (&argv[0], arena);
        if (!s)
            return s_eval_err (err, errsz, "out of memory");
        size_t len = strlen (s);
        size_t start = argv[1].type == RS_VNUM && argv[1].num > 0 ? (size_t) argv[1].num : 0;
        if (start > len)
            start = len;
        size_t n2 = len - start;
        if (na == 3 && argv[2].type == RS_VNUM && argv[2].num >= 0 && (size_t) argv[2].num < n2)
            n2 = (size_t) argv[2].num;
        char *d = rs_arena_strndup (arena, s + start, n2);
        if (!d)
            return s_eval_err (err, errsz, "out of memory");
        *out = rs_vstr (d);
        return 0;
    }
    if (strcmp (fn, "slug") == 0 || strcmp (fn, "fmt") == 0) {
        if (fn[0] == 's')
            NEED (1);
        else
            NEED (2);
        buf_t *b = buf_new (1u << 16);
        if (!b)
            return s_eval_err (err, errsz, "out of memory");
        int rc;
        if (fn[0] == 's')
            rc = rs_slug (s_to_text (&argv[0], arena), b);
        else
            rc = rs_format_value (&argv[0], argv[1].type == RS_VSTR ? argv[1].str : "", b, err, errsz);
        if (rc == 0) {
            char *d = rs_arena_strndup (arena, buf_data (b), buf_len (b));
            if (!d)
                rc = s_eval_err (err, errsz, "out of memory");
            else
                *out = rs_vstr (d);
        } else if (rc != -1)
            rc = s_eval_err (err, errsz, "%s(): text too long", fn);
        buf_destroy (&b);
        return rc == 0 ? 0 : -1;
    }
#undef NEED
scopes:
    for (const rs_scope_t *s = scope; s; s = s->parent) {
        if (!s->call)
            continue;
        int rc = s->call (s->ud, fn, argv, na, arena, out, err, errsz);
        if (rc == 0)
            return 0;
        if (rc == -2)
            return -1;
    }
    return s_eval_err (err, errsz, "unknown function '%s'", fn);
}

static int
s_eval (const node_t *n, const rs_scope_t *scope, rs_arena_t *arena, rs_value_t *out, char *err,
        size_t errsz)
{
    rs_value_t a, b;
    switch (n->kind) {
    case N_LIT:
        *out = n->lit;
        return 0;
    case N_NAME:
        if (s_lookup (scope, n->text, out) == 0)
            return 0;
        return s_eval_err (err, errsz, "unknown name '%s'", n->text);
    case N_CALL:
        return s_call (n, scope, arena, out, err, errsz);
    case N_TERNARY:
        if (s_eval (n->a, scope, arena, &a, err, errsz) != 0)
            return -1;
        return s_eval (rs_value_truth (&a) ? n->b : n->c, scope, arena, out, err, errsz);
    case N_UNARY:
        if (s_eval (n->a, scope, arena, &a, err, errsz) != 0)
            return -1;
        if (n->op == OP_NOT)
            *out = rs_vint (!rs_value_truth (&a));
        else if (a.type == RS_VNUM) {
            *out = rs_vnum (-a.num);
            out->is_int = a.is_int;
        } else
            *out = rs_vnull ();
        return 0;
    case N_BINARY:
        break;
    }
    if (n->op == OP_AND || n->op == OP_OR) {
        if (s_eval (n->a, scope, arena, &a, err, errsz) != 0)
            return -1;
        bool ta = rs_value_truth (&a);
        if (n->op == OP_AND && !ta) {
            *out = rs_vint (0);
            return 0;
        }
        if (n->op == OP_OR && ta) {
            *out = rs_vint (1);
            return 0;
        }
        if (s_eval (n->b, scope, arena, &b, err, errsz) != 0)
            return -1;
        *out = rs_vint (rs_value_truth (&b));
        return 0;
    }
    if (s_eval (n->a, scope, arena, &a, err, errsz) != 0 || s_eval (n->b, scope, arena, &b, err, errsz) != 0)
        return -1;
    switch (n->op) {
    case OP_EQ:
    case OP_NE: {
        bool eq;
        if (a.type == RS_VNULL || b.type == RS_VNULL)
            eq = a.type == b.type;
        else if (a.type != b.type)
            eq = false;
        else if (a.type == RS_VNUM)
            eq = a.num == b.num;
        else
            eq = strcmp (a.str ? a.str : "", b.str ? b.str : "") == 0;
        *out = rs_vint (n->op == OP_EQ ? eq : !eq);
        return 0;
    }
    case OP_LT:
    case OP_LE:
    case OP_GT:
    case OP_GE: {
        bool bad = a.type == RS_VNULL || b.type == RS_VNULL || a.type != b.type ||
                   (a.type == RS_VNUM && (isnan (a.num) || isnan (b.num)));
        if (bad) {
            *out = rs_vint (0);
            return 0;
        }
        int c = rs_value_cmp (&a, &b);
        bool r = n->op == OP_LT ? c < 0 : n->op == OP_LE ? c <= 0 : n->op == OP_GT ? c > 0 : c >= 0;
        *out = rs_vint (r);
        return 0;
    }
    case OP_ADD:
        if (a.type == RS_VSTR || b.type == RS_VSTR) {
            if (a.type == RS_VNULL || b.type == RS_VNULL) {
                *out = rs_vnull ();
                return 0;
            }
            const char *x = s_to_text (&a, arena), *y = s_to_text (&b, arena);
            if (!x || !y)
                return s_eval_err (err, errsz, "out of memory");
            size_t lx = strlen (x), ly = strlen (y);
            char *d = rs_arena_alloc (arena, lx + ly + 1);
            if (!d)
                return s_eval_err (err, errsz, "out of memory");
            memcpy (d, x, lx);
            memcpy (d + lx, y, ly + 1);
            *out = rs_vstr (d);
            return 0;
        }
        __attribute__ ((fallthrough));   /* numbers: arithmetic below */
    case OP_SUB:
    case OP_MUL:
    case OP_DIV:
    case OP_MOD: {
        if (a.type != RS_VNUM || b.type != RS_VNUM) {
            *out = rs_vnull ();
            return 0;
        }
        double r;
        switch (n->op) {
        case OP_ADD: r = a.num + b.num; break;
        case OP_SUB: r = a.num - b.num; break;
        case OP_MUL: r = a.num * b.num; break;
        case OP_DIV:
            if (b.num == 0.0) {
                *out = rs_vnull ();
                return 0;
            }
            r = a.num / b.num;
            break;
        default:
            if (b.num == 0.0) {
                *out = rs_vnull ();
                return 0;
            }
            r = fmod (a.num, b.num);
            break;
        }
        *out = rs_vnum (r);
        out->is_int = a.is_int && b.is_int && n->op != OP_DIV;
        return 0;
    }
    default:
        return s_eval_err (err, errsz, "internal: bad operator");
    }
}

int
rs_expr_eval (const rs_expr_t *self, const rs_scope_t *scope, rs_arena_t *arena, rs_value_t *out,
              char *err, size_t errsz)
{
    if (s_eval (self->root, scope, arena, out, err, errsz) != 0) {
        /* prefix the source so registry errors are easy to find */
        if (err && errsz) {
            char tmp[256];
            str_copy (tmp, sizeof tmp, err);
            snprintf (err, errsz, "%s (in \"%s\")", tmp, self->src);
        }
        return -1;
    }
    return 0;
}

int
rs_expr_truth (const rs_expr_t *self, const rs_scope_t *scope, rs_arena_t *arena, bool *out,
               char *err, size_t errsz)
{
    rs_value_t v;
    if (rs_expr_eval (self, scope, arena, &v, err, errsz) != 0)
        return -1;
    *out = rs_value_truth (&v);
    return 0;
}

/* ======================================================================= */
/* formatting                                                               */
/* ======================================================================= */
int
rs_slug (const char *s, buf_t *out)
{
    if (!s)
        return 0;
    for (; *s; s++) {
        char c = *s;
        if (c == ' ' || c == '/' || c == ':' || c == '|' || c == '\n')
            c = '_';
        int rc = buf_append (out, &c, 1);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Inserts ',' thousands separators into the integer part of a decimal text. */
static int
s_group (const char *txt, buf_t *out)
{
    const char *p = txt;
    int rc = 0;
    if (*p == '-' || *p == '+') {
        rc = buf_append (out, p, 1);
        p++;
    }
    size_t nd = 0;
    while (isdigit ((unsigned char) p[nd]))
        nd++;
    for (size_t i = 0; i < nd && rc == 0; i++) {
        rc = buf_append (out, &p[i], 1);
        size_t left = nd - i - 1;
        if (left > 0 && left % 3 == 0 && rc == 0)
            rc = buf_append (out, ",", 1);
    }
    if (rc == 0)
        rc = buf_puts (out, p + nd);
    return rc;
}

int
rs_format_value (const rs_value_t *v, const char *spec, buf_t *out, char *err, size_t errsz)
{
    if (!spec)
        spec = "";
    if (v->type == RS_VNULL || (v->type == RS_VNUM && isnan (v->num)))
        return buf_puts (out, "n/a");
    if (v->type == RS_VSTR)
        return buf_puts (out, v->str ? v->str : "");

    bool plus = false, group = false;
    int prec = -1;
    char type = 0;
    const char *p = spec;
    if (*p == '+') {
        plus = true;
        p++;
    }
    if (*p == ',') {
        group = true;
        p++;
    }
    if (*p == '.') {
        p++;
        if (!isdigit ((unsigned char) *p))
            return s_eval_err (err, errsz, "bad format spec '%s'", spec);
        prec = 0;
        while (isdigit ((unsigned char) *p) && prec < 20)
            prec = prec * 10 + (*p++ - '0');
    }
    if (*p == 'f' || *p == 'd' || *p == '%' || *p == 's')
        type = *p++;
    if (*p)
        return s_eval_err (err, errsz, "bad format spec '%s'", spec);

    double x = v->num;
    char txt[400];
    int n;
    if (isinf (x))
        n = snprintf (txt, sizeof txt, "%s", x > 0 ? (plus ? "+inf" : "inf") : "-inf");
    else if (type == 'd')
        n = snprintf (txt, sizeof txt, plus ? "%+.0f" : "%.0f", x);
    else if (type == '%')
        n = snprintf (txt, sizeof txt, plus ? "%+.*f%%" : "%.*f%%", prec < 0 ? 6 : prec, x * 100.0);
    else if (type == 'f' || prec >= 0)
        n = snprintf (txt, sizeof txt, plus ? "%+.*f" : "%.*f", prec < 0 ? 6 : prec, x);
    else if (v->is_int || (x == nearbyint (x) && fabs (x) < 1e15))
        n = snprintf (txt, sizeof txt, plus ? "%+.0f" : "%.0f", x);
    else {
        /* shortest text that reads back as the same double (Python repr) */
        n = 0;
        for (int pr = 1; pr <= 17; pr++) {
            n = snprintf (txt, sizeof txt, plus ? "%+.*g" : "%.*g", pr, x);
            if (strtod (txt, NULL) == x)
                break;
        }
    }
    if (n < 0 || (size_t) n >= sizeof txt)
        return s_eval_err (err, errsz, "number too long to format");
    return group ? s_group (txt, out) : buf_puts (out, txt);
}

/* ======================================================================= */
/* templates                                                                */
/* ======================================================================= */
typedef struct {
    char *text;         /* literal segment (NULL for a placeholder) */
    rs_expr_t *expr;    /* placeholder expression */
    char *spec;         /* placeholder format spec ("" = default) */
} seg_t;

struct _rs_tmpl_t {
    char *src;
    seg_t *segs;
    int nsegs;
};

static int
s_tmpl_push (rs_tmpl_t *t, seg_t seg)
{
    seg_t *ns = realloc (t->segs, sizeof *ns * (size_t) (t->nsegs + 1));
    if (!ns)
        return -1;
    t->segs = ns;
    t->segs[t->nsegs++] = seg;
    return 0;
}

rs_tmpl_t *
rs_tmpl_compile (const char *src, char *err, size_t errsz)
{
    if (!src) {
        if (err && errsz)
            snprintf (err, errsz, "missing template");
        return NULL;
    }
    rs_tmpl_t *t = calloc (1, sizeof *t);
    buf_t *lit = buf_new (1u << 20);
    if (!t || !lit || !(t->src = str_dup (src)))
        goto oom;
    size_t i = 0;
    while (src[i]) {
        char c = src[i];
        if (c == '{' && src[i + 1] == '{') {
            buf_append (lit, "{", 1);
            i += 2;
            continue;
        }
        if (c == '}' && src[i + 1] == '}') {
            buf_append (lit, "}", 1);
            i += 2;
            continue;
        }
        if (c == '}') {
            if (err && errsz)
                snprintf (err, errsz, "single '}' at offset %zu in template \"%s\"", i, src);
            goto fail;
        }
        if (c != '{') {
            if (buf_append (lit, &c, 1) != 0)
                goto oom;
            i++;
            continue;
        }
        /* placeholder: flush the literal, parse an expression, then :spec } */
        if (buf_len (lit)) {
            seg_t s = {buf_detach (lit), NULL, NULL};
            if (!s.text || s_tmpl_push (t, s) != 0) {
                free (s.text);
                goto oom;
            }
        }
        parser_t p = {src, i + 1, err, errsz, false};
        node_t *root = s_parse_ternary (&p);
        if (!root)
            goto fail;
        s_ws (&p);
        size_t spec_start = p.pos, spec_len = 0, expr_end = p.pos;
        if (src[p.pos] == ':') {
            spec_start = ++p.pos;
            while (src[p.pos] && src[p.pos] != '}')
                p.pos++;
            spec_len = p.pos - spec_start;
        }
        if (src[p.pos] != '}') {
            s_perr (&p, "expected '}'");
            s_node_free (root);
            goto fail;
        }
        seg_t s = {NULL, calloc (1, sizeof (rs_expr_t)), str_ndup (src + spec_start, spec_len)};
        char *esrc = str_ndup (src + i + 1, expr_end - (i + 1));
        if (!s.expr || !s.spec || !esrc) {
            free (s.expr);
            free (s.spec);
            free (esrc);
            s_node_free (root);
            goto oom;
        }
        s.expr->root = root;
        s.expr->src = esrc;
        if (s_tmpl_push (t, s) != 0) {
            rs_expr_destroy (&s.expr);
            free (s.spec);
            goto oom;
        }
        i = p.pos + 1;
    }
    if (buf_len (lit)) {
        seg_t s = {buf_detach (lit), NULL, NULL};
        if (!s.text || s_tmpl_push (t, s) != 0) {
            free (s.text);
            goto oom;
        }
    }
    buf_destroy (&lit);
    return t;
oom:
    if (err && errsz)
        snprintf (err, errsz, "out of memory");
fail:
    buf_destroy (&lit);
    rs_tmpl_destroy (&t);
    return NULL;
}

void
rs_tmpl_destroy (rs_tmpl_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rs_tmpl_t *t = *self_p;
    for (int i = 0; i < t->nsegs; i++) {
        free (t->segs[i].text);
        free (t->segs[i].spec);
        rs_expr_destroy (&t->segs[i].expr);
    }
    free (t->segs);
    free (t->src);
    free (t);
    *self_p = NULL;
}

const char *
rs_tmpl_source (const rs_tmpl_t *self)
{
    return self ? self->src : "";
}

int
rs_tmpl_render (const rs_tmpl_t *self, const rs_scope_t *scope, rs_arena_t *arena, buf_t *out,
                char *err, size_t errsz)
{
    for (int i = 0; i < self->nsegs; i++) {
        const seg_t *s = &self->segs[i];
        int rc;
        if (s->text)
            rc = buf_puts (out, s->text);
        else {
            rs_value_t v;
            if (rs_expr_eval (s->expr, scope, arena, &v, err, errsz) != 0)
                return -1;
            rc = rs_format_value (&v, s->spec, out, err, errsz);
        }
        if (rc != 0)
            return rc;
    }
    return 0;
}
