/* test_rs_expr.c — unit tests of the registry expression/template language
 * (rs_expr.c): operators, NULL semantics, functions, Python-style number
 * formatting, templates, and syntax errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "rs_expr.h"

typedef struct {
    const char *names[8];
    rs_value_t vals[8];
    int n;
} vars_t;

static int
s_lookup (void *ud, const char *name, rs_value_t *out)
{
    vars_t *v = ud;
    for (int i = 0; i < v->n; i++)
        if (strcmp (v->names[i], name) == 0) {
            *out = v->vals[i];
            return 0;
        }
    return -1;
}

static vars_t g_vars;
static rs_scope_t g_scope = {s_lookup, NULL, &g_vars, NULL};

static void
s_setup_vars (void)
{
    g_vars.n = 0;
    const char *names[] = {"fail", "cost", "name", "nothing", "runs", "neg"};
    rs_value_t vals[] = {rs_vnum (16.6666666667), rs_vnum (105230.280261333), rs_vstr ("Legacy ETL"), rs_vnull (),
                         rs_vint (72), rs_vnum (-45.4)};
    for (int i = 0; i < 6; i++) {
        g_vars.names[i] = names[i];
        g_vars.vals[i] = vals[i];
        g_vars.n++;
    }
}

/* Evaluates `src` and renders the value with the default format. */
static void
s_check (const char *src, const char *expect)
{
    char err[300] = "";
    rs_arena_t ar = {0};
    rs_expr_t *e = rs_expr_compile (src, err, sizeof err);
    if (!e)
        fail_msg ("compile %s: %s", src, err);
    rs_value_t v;
    int rc = rs_expr_eval (e, &g_scope, &ar, &v, err, sizeof err);
    if (rc != 0)
        fail_msg ("eval %s: %s", src, err);
    buf_t *b = buf_new (1000);
    rs_format_value (&v, "", b, err, sizeof err);
    if (strcmp (buf_data (b), expect) != 0)
        fail_msg ("%s: got '%s', expected '%s'", src, buf_data (b), expect);
    buf_destroy (&b);
    rs_expr_destroy (&e);
    rs_arena_clear (&ar);
}

static void
s_tmpl_check (const char *src, const char *expect)
{
    char err[300] = "";
    rs_arena_t ar = {0};
    rs_tmpl_t *t = rs_tmpl_compile (src, err, sizeof err);
    if (!t)
        fail_msg ("compile %s: %s", src, err);
    buf_t *b = buf_new (1000);
    int rc = rs_tmpl_render (t, &g_scope, &ar, b, err, sizeof err);
    if (rc != 0)
        fail_msg ("render %s: %s", src, err);
    if (strcmp (buf_data (b), expect) != 0)
        fail_msg ("%s: got '%s', expected '%s'", src, buf_data (b), expect);
    buf_destroy (&b);
    rs_tmpl_destroy (&t);
    rs_arena_clear (&ar);
}

static void
test_operators (void **state)
{
    (void) state;
    s_setup_vars ();
    s_check ("1 + 2 * 3", "7");
    s_check ("(1 + 2) * 3", "9");
    s_check ("7 / 2", "3.5");
    s_check ("7 % 4", "3");
    s_check ("-runs + 2", "-70");
    s_check ("fail > 10", "1");
    s_check ("fail > 10 && runs < 50", "0");
    s_check ("fail > 20 || runs >= 72", "1");
    s_check ("!(runs == 72)", "0");
    s_check ("runs != 72", "0");
    s_check ("fail > 10 ? 'hot' : 'cold'", "hot");
    s_check ("runs > 100 ? 'a' : runs > 50 ? 'b' : 'c'", "b");
    s_check ("name + ':' + runs", "Legacy ETL:72");
    s_check ("'a' < 'b'", "1");
    s_check ("1 / 0", "n/a");
}

static void
test_null_semantics (void **state)
{
    (void) state;
    s_setup_vars ();
    s_check ("nothing > 1", "0");
    s_check ("nothing < 1", "0");
    s_check ("nothing == null", "1");
    s_check ("nothing != null", "0");
    s_check ("nothing + 1", "n/a");
    s_check ("coalesce(nothing, 5)", "5");
    s_check ("!nothing", "1");
    s_check ("'x' == 1", "0");
}

static void
test_functions (void **state)
{
    (void) state;
    s_setup_vars ();
    s_check ("abs(neg)", "45.4");
    s_check ("max(500, runs * 35)", "2520");
    s_check ("min(3, 1, 2)", "1");
    s_check ("round(fail, 1)", "16.7");
    s_check ("lower('SQL_WAREHOUSE')", "sql_warehouse");
    s_check ("upper(name)", "LEGACY ETL");
    s_check ("contains(lower('APC_CLUSTER'), 'cluster')", "1");
    s_check ("contains('job', 'compute')", "0");
    s_check ("slug('a b/c:d|e')", "a_b_c_d_e");
    s_check ("fmt(cost, ',.2f')", "105,230.28");
    s_check ("substr('Logistics Route Optimizer', 0, 15)", "Logistics Route");
    s_check ("len(name)", "10");
    s_check ("str(runs)", "72");
}

static void
test_format (void **state)
{
    (void) state;
    s_setup_vars ();
    /* Python f-string equivalents */
    s_tmpl_check ("{cost:,.0f}", "105,230");
    s_tmpl_check ("${cost:,.2f}", "$105,230.28");
    s_tmpl_check ("{fail:.1f}%", "16.7%");
    s_tmpl_check ("{fail:.0f}", "17");
    s_tmpl_check ("{neg:+.0f}%", "-45%");
    s_tmpl_check ("{fail:+.0f}%", "+17%");
    s_tmpl_check ("{runs:d}", "72");
    s_tmpl_check ("{0.5:%}", "50.000000%");
    s_tmpl_check ("{0.125:.1%}", "12.5%");
    s_tmpl_check ("{-1234567.5:,.1f}", "-1,234,567.5");
    s_tmpl_check ("{nothing:.1f}", "n/a");
    s_tmpl_check ("{0.1 + 0.2}", "0.30000000000000004");
    s_tmpl_check ("{2.5:.0f} {3.5:.0f}", "2 4");   /* round half to even, like Python */
}

static void
test_templates (void **state)
{
    (void) state;
    s_setup_vars ();
    s_tmpl_check ("job_id={name}", "job_id=Legacy ETL");
    s_tmpl_check ("{{literal}} {runs}", "{literal} 72");
    s_tmpl_check ("{fail > 10 ? 'above' : 'below'} {abs(neg):.0f}%", "above 45%");
    s_tmpl_check ("{neg >= 0 ? 'above' : 'below'}", "below");
    s_tmpl_check ("plain text only", "plain text only");
    s_tmpl_check ("", "");
}

static void
test_errors (void **state)
{
    (void) state;
    s_setup_vars ();
    char err[300];
    assert_null (rs_expr_compile ("1 +", err, sizeof err));
    assert_non_null (strstr (err, "offset"));
    assert_null (rs_expr_compile ("(1 + 2", err, sizeof err));
    assert_null (rs_expr_compile ("'open", err, sizeof err));
    assert_null (rs_expr_compile ("a ? b", err, sizeof err));
    assert_null (rs_expr_compile ("1 2", err, sizeof err));
    assert_null (rs_tmpl_compile ("{x", err, sizeof err));
    assert_null (rs_tmpl_compile ("a } b", err, sizeof err));
    /* unknown names and functions fail at evaluation with the name */
    rs_arena_t ar = {0};
    rs_expr_t *e = rs_expr_compile ("missing_column > 1", err, sizeof err);
    assert_non_null (e);
    rs_value_t v;
    assert_int_equal (rs_expr_eval (e, &g_scope, &ar, &v, err, sizeof err), -1);
    assert_non_null (strstr (err, "missing_column"));
    rs_expr_destroy (&e);
    e = rs_expr_compile ("nosuch(1)", err, sizeof err);
    assert_int_equal (rs_expr_eval (e, &g_scope, &ar, &v, err, sizeof err), -1);
    assert_non_null (strstr (err, "nosuch"));
    rs_expr_destroy (&e);
    rs_arena_clear (&ar);
    /* bad format spec */
    buf_t *b = buf_new (100);
    rs_value_t x = rs_vnum (1.0);
    assert_int_equal (rs_format_value (&x, ".q", b, err, sizeof err), -1);
    buf_destroy (&b);
}

static void
test_value_cmp (void **state)
{
    (void) state;
    rs_value_t a = rs_vnum (1), b = rs_vnum (2), n = rs_vnull (), s = rs_vstr ("x");
    assert_true (rs_value_cmp (&a, &b) < 0);
    assert_true (rs_value_cmp (&n, &a) > 0);   /* NULL sorts last */
    assert_true (rs_value_cmp (&a, &s) < 0);   /* numbers before strings */
    assert_int_equal (rs_value_cmp (&n, &n), 0);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_operators), cmocka_unit_test (test_null_semantics),
        cmocka_unit_test (test_functions), cmocka_unit_test (test_format),
        cmocka_unit_test (test_templates), cmocka_unit_test (test_errors),
        cmocka_unit_test (test_value_cmp),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
