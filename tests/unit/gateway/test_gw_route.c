/* test_gw_route.c — route matching, roles, and the OpenAPI cross-check.
 *
 *   test_gw_route <path to services/gateway/openapi.yaml>
 *
 * The OpenAPI check reads the `paths:` section with a small indentation
 * reader (two spaces: a path, four spaces: a method, six spaces: keys of the
 * operation) and requires exactly the route table's (method, path) pairs,
 * with `x-role: <role>` for authenticated routes and `security: []` for the
 * open ones.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_route.h"
#include "str.h"

static const char *s_openapi;

static void
t_match (void **state)
{
    (void) state;
    const gw_route_t *r = NULL;
    gw_params_t p;
    char allow[64];
    assert_int_equal (gw_route_match ("GET", "/api/v1/reports", &r, &p, allow, sizeof allow), GW_MATCH_OK);
    assert_int_equal (r->id, GW_R_REPORTS);
    assert_int_equal (p.n, 0);
    assert_int_equal (gw_route_match ("GET", "/api/v1/reports/cost_by_job", &r, &p, allow, sizeof allow), GW_MATCH_OK);
    assert_int_equal (r->id, GW_R_REPORT);
    assert_string_equal (gw_params_get (&p, "id"), "cost_by_job");
    /* Parameters are percent-decoded. */
    assert_int_equal (gw_route_match ("GET", "/api/v1/graph/job/a%20b%2Fc", &r, &p, allow, sizeof allow), GW_MATCH_OK);
    assert_int_equal (r->id, GW_R_GRAPH);
    assert_string_equal (gw_params_get (&p, "type"), "job");
    assert_string_equal (gw_params_get (&p, "id"), "a b/c");
    assert_null (gw_params_get (&p, "nope"));
    /* HEAD is GET, except for the event stream. */
    assert_int_equal (gw_route_match ("HEAD", "/livez", &r, &p, allow, sizeof allow), GW_MATCH_OK);
    assert_int_equal (gw_route_match ("HEAD", "/api/v1/events", &r, &p, allow, sizeof allow), GW_MATCH_METHOD);
    assert_string_equal (allow, "GET");
}

static void
t_no_match (void **state)
{
    (void) state;
    const gw_route_t *r = NULL;
    gw_params_t p;
    char allow[64];
    assert_int_equal (gw_route_match ("GET", "/api/v1/report", &r, &p, allow, sizeof allow), GW_MATCH_NONE);
    assert_int_equal (gw_route_match ("GET", "/api/v1/reports/", &r, &p, allow, sizeof allow), GW_MATCH_NONE);
    assert_int_equal (gw_route_match ("GET", "/api/v1/reports/a/b", &r, &p, allow, sizeof allow), GW_MATCH_NONE);
    assert_int_equal (gw_route_match ("GET", "/api/v1/graph/job", &r, &p, allow, sizeof allow), GW_MATCH_NONE);
    assert_int_equal (gw_route_match ("GET", "/", &r, &p, allow, sizeof allow), GW_MATCH_NONE);
    assert_int_equal (gw_route_match ("POST", "/api/v1/reports", &r, &p, allow, sizeof allow), GW_MATCH_METHOD);
    assert_string_equal (allow, "GET, HEAD");
    assert_int_equal (gw_route_match ("GET", "/api/v1/explain", &r, &p, allow, sizeof allow), GW_MATCH_METHOD);
    assert_string_equal (allow, "POST");
    /* A parameter with a bad escape or an encoded NUL is a bad path. */
    assert_int_equal (gw_route_match ("GET", "/api/v1/reports/%zz", &r, &p, allow, sizeof allow), GW_MATCH_BADPATH);
    assert_int_equal (gw_route_match ("GET", "/api/v1/reports/a%00b", &r, &p, allow, sizeof allow), GW_MATCH_BADPATH);
}

static void
t_roles (void **state)
{
    (void) state;
    size_t n;
    const gw_route_t *t = gw_routes (&n);
    assert_true (n >= 11);
    int open = 0, admin = 0;
    for (size_t i = 0; i < n; i++) {
        if (t[i].role == GW_ROLE_NONE)
            open++;
        if (t[i].role == GW_ROLE_ADMIN)
            admin++;
        if (str_starts_with (t[i].pattern, "/api/"))
            assert_true (t[i].role >= GW_ROLE_VIEWER);
    }
    assert_int_equal (open, 2);    /* livez, readyz */
    assert_int_equal (admin, 1);   /* metrics */
    gw_role_t r;
    assert_int_equal (gw_role_parse ("Admin", &r), 0);
    assert_int_equal (r, GW_ROLE_ADMIN);
    assert_int_equal (gw_role_parse ("root", &r), -1);
}

typedef struct {
    char method[8];
    char path[128];
    char role[16];
    bool open;
} op_t;

static int
s_read_openapi (const char *file, op_t *ops, int max)
{
    FILE *f = fopen (file, "r");
    if (!f)
        return -1;
    char line[1024], path[128] = "";
    bool in_paths = false;
    int n = 0;
    while (fgets (line, sizeof line, f)) {
        line[strcspn (line, "\r\n")] = '\0';
        if (line[0] && line[0] != ' ' && line[0] != '#') {
            in_paths = strcmp (line, "paths:") == 0;
            continue;
        }
        if (!in_paths)
            continue;
        size_t ind = strspn (line, " ");
        char *s = line + ind;
        size_t len = strlen (s);
        if (ind == 2 && s[0] == '/' && len > 1 && s[len - 1] == ':') {
            s[len - 1] = '\0';
            str_copy (path, sizeof path, s);
        } else if (ind == 4 && len > 1 && s[len - 1] == ':' && n < max) {
            s[len - 1] = '\0';
            memset (&ops[n], 0, sizeof ops[n]);
            for (size_t i = 0; s[i] && i < sizeof ops[n].method - 1; i++)
                ops[n].method[i] = (char) (s[i] - 32 * (s[i] >= 'a' && s[i] <= 'z'));
            str_copy (ops[n].path, sizeof ops[n].path, path);
            n++;
        } else if (ind == 6 && n > 0) {
            if (str_starts_with (s, "x-role: "))
                str_copy (ops[n - 1].role, sizeof ops[n - 1].role, s + 8);
            if (strcmp (s, "security: []") == 0)
                ops[n - 1].open = true;
        }
    }
    fclose (f);
    return n;
}

static void
t_openapi (void **state)
{
    (void) state;
    op_t ops[64];
    int n = s_read_openapi (s_openapi, ops, 64);
    assert_true (n > 0);
    size_t nr;
    const gw_route_t *t = gw_routes (&nr);
    assert_int_equal ((size_t) n, nr);
    for (size_t i = 0; i < nr; i++) {
        bool found = false;
        for (int j = 0; j < n; j++) {
            if (strcmp (ops[j].method, t[i].method) || strcmp (ops[j].path, t[i].pattern))
                continue;
            found = true;
            if (t[i].role == GW_ROLE_NONE) {
                assert_true (ops[j].open);
            } else {
                assert_false (ops[j].open);
                assert_string_equal (ops[j].role, gw_role_name (t[i].role));
            }
        }
        if (!found)
            fail_msg ("route %s %s is not documented in %s", t[i].method, t[i].pattern, s_openapi);
    }
    for (int j = 0; j < n; j++) {
        bool found = false;
        for (size_t i = 0; i < nr; i++)
            if (!strcmp (ops[j].method, t[i].method) && !strcmp (ops[j].path, t[i].pattern))
                found = true;
        if (!found)
            fail_msg ("%s %s is documented but not routed", ops[j].method, ops[j].path);
    }
}

int
main (int argc, char **argv)
{
    s_openapi = argc > 1 ? argv[1] : "services/gateway/openapi.yaml";
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (t_match),
        cmocka_unit_test (t_no_match),
        cmocka_unit_test (t_roles),
        cmocka_unit_test (t_openapi),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
