/* test_gw_auth.c — token hashes, roles, bearer parsing, tokens file and the
 * local bootstrap (files created once with mode 0600, reused afterwards). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gw_auth.h"
#include "str.h"

static void
t_hash_roles (void **state)
{
    (void) state;
    gw_auth_t *a = gw_auth_new ();
    char h1[65], h2[65];
    str_sha256_hex ("viewer-secret", 13, h1);
    str_sha256_hex ("admin-secret", 12, h2);
    assert_int_equal (gw_auth_add_hash (a, GW_ROLE_VIEWER, h1), 0);
    /* Upper-case hex is accepted. */
    char up[65];
    for (int i = 0; i < 65; i++)
        up[i] = (char) (h2[i] >= 'a' && h2[i] <= 'f' ? h2[i] - 32 : h2[i]);
    assert_int_equal (gw_auth_add_hash (a, GW_ROLE_ADMIN, up), 0);
    assert_int_equal (gw_auth_add_hash (a, GW_ROLE_ADMIN, "abc"), GW_AUTH_E_INVALID);
    assert_int_equal (gw_auth_add_hash (a, GW_ROLE_ADMIN,
                                        "zz00000000000000000000000000000000000000000000000000000000000000"),
                      GW_AUTH_E_INVALID);
    assert_int_equal (gw_auth_count (a), 2);
    assert_int_equal (gw_auth_check_token (a, "viewer-secret"), GW_ROLE_VIEWER);
    assert_int_equal (gw_auth_check_token (a, "admin-secret"), GW_ROLE_ADMIN);
    assert_int_equal (gw_auth_check_token (a, "admin-secreT"), GW_ROLE_NONE);
    assert_int_equal (gw_auth_check_token (a, ""), GW_ROLE_NONE);
    assert_int_equal (gw_auth_check_token (a, NULL), GW_ROLE_NONE);
    /* The plain hash itself is not a token. */
    assert_int_equal (gw_auth_check_token (a, h1), GW_ROLE_NONE);
    /* The same token listed under two roles gets the higher one. */
    assert_int_equal (gw_auth_add_hash (a, GW_ROLE_ADMIN, h1), 0);
    assert_int_equal (gw_auth_check_token (a, "viewer-secret"), GW_ROLE_ADMIN);
    gw_auth_destroy (&a);
    assert_null (a);
}

static void
t_list (void **state)
{
    (void) state;
    gw_auth_t *a = gw_auth_new ();
    char h1[65], h2[65], list[200];
    str_sha256_hex ("t1", 2, h1);
    str_sha256_hex ("t2", 2, h2);
    snprintf (list, sizeof list, " %s , %s,", h1, h2);
    assert_int_equal (gw_auth_add_list (a, GW_ROLE_VIEWER, list), 0);
    assert_int_equal (gw_auth_count (a), 2);
    assert_int_equal (gw_auth_check_token (a, "t2"), GW_ROLE_VIEWER);
    assert_int_equal (gw_auth_add_list (a, GW_ROLE_VIEWER, "nothex"), GW_AUTH_E_INVALID);
    gw_auth_destroy (&a);
}

static void
t_bearer (void **state)
{
    (void) state;
    size_t n = 0;
    const char *t = gw_auth_bearer ("Bearer abc.DEF-_~+/=", &n);
    assert_non_null (t);
    assert_int_equal (n, 13);
    assert_memory_equal (t, "abc.DEF-_~+/=", 13);
    t = gw_auth_bearer ("bearer   tok  ", &n);
    assert_non_null (t);
    assert_int_equal (n, 3);
    assert_null (gw_auth_bearer ("Basic dXNlcjpwYXNz", &n));
    assert_null (gw_auth_bearer ("Bearer", &n));
    assert_null (gw_auth_bearer ("Bearer ", &n));
    assert_null (gw_auth_bearer ("Bearertok", &n));
    assert_null (gw_auth_bearer ("Bearer a b", &n));
    assert_null (gw_auth_bearer ("Bearer a\"b", &n));
    assert_null (gw_auth_bearer (NULL, &n));
}

static void
t_file_and_bootstrap (void **state)
{
    (void) state;
    char dir[64];
    str_copy (dir, sizeof dir, "/tmp/gw_auth_XXXXXX");
    assert_non_null (mkdtemp (dir));
    char sub[PATH_MAX], p[PATH_MAX + 32], err[256];
    snprintf (sub, sizeof sub, "%s/auth", dir);
    bool created = false;
    gw_auth_t *a = gw_auth_new ();
    assert_int_equal (gw_auth_bootstrap (a, sub, &created, err, sizeof err), 0);
    assert_true (created);
    assert_int_equal (gw_auth_count (a), 2);
    /* Plain tokens are readable only by the owner and grant their role. */
    char tok[128] = "";
    snprintf (p, sizeof p, "%s/admin.token", sub);
    struct stat st;
    assert_int_equal (stat (p, &st), 0);
    assert_int_equal (st.st_mode & 0777, 0600);
    FILE *f = fopen (p, "r");
    assert_non_null (f);
    assert_non_null (fgets (tok, sizeof tok, f));
    fclose (f);
    str_trim (tok);
    assert_int_equal (strlen (tok), 64);
    assert_int_equal (gw_auth_check_token (a, tok), GW_ROLE_ADMIN);
    snprintf (p, sizeof p, "%s/viewer.token", sub);
    f = fopen (p, "r");
    char vtok[128] = "";
    assert_non_null (f);
    assert_non_null (fgets (vtok, sizeof vtok, f));
    fclose (f);
    str_trim (vtok);
    assert_int_equal (gw_auth_check_token (a, vtok), GW_ROLE_VIEWER);
    assert_string_not_equal (tok, vtok);
    /* The hash file never contains the tokens. */
    snprintf (p, sizeof p, "%s/tokens", sub);
    f = fopen (p, "r");
    assert_non_null (f);
    char all[2048];
    size_t nr = fread (all, 1, sizeof all - 1, f);
    all[nr] = '\0';
    fclose (f);
    assert_null (strstr (all, tok));
    assert_null (strstr (all, vtok));
    gw_auth_destroy (&a);
    /* Second start: same tokens, nothing created. */
    a = gw_auth_new ();
    assert_int_equal (gw_auth_bootstrap (a, sub, &created, err, sizeof err), 0);
    assert_false (created);
    assert_int_equal (gw_auth_check_token (a, tok), GW_ROLE_ADMIN);
    gw_auth_destroy (&a);
    /* A malformed tokens file names the line. */
    snprintf (p, sizeof p, "%s/bad", dir);
    f = fopen (p, "w");
    fputs ("# comment\n\nviewer 1234\n", f);
    fclose (f);
    a = gw_auth_new ();
    assert_int_equal (gw_auth_load_file (a, p, err, sizeof err), GW_AUTH_E_INVALID);
    assert_non_null (strstr (err, ":3:"));
    f = fopen (p, "w");
    fputs ("superuser 0000000000000000000000000000000000000000000000000000000000000000\n", f);
    fclose (f);
    assert_int_equal (gw_auth_load_file (a, p, err, sizeof err), GW_AUTH_E_INVALID);
    assert_int_equal (gw_auth_load_file (a, "/nonexistent/tokens", err, sizeof err), GW_AUTH_E_IO);
    gw_auth_destroy (&a);
    char cmd[PATH_MAX + 16];
    snprintf (cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal (system (cmd), 0);
}

static void
t_random (void **state)
{
    (void) state;
    char a[65], b[65];
    assert_int_equal (gw_auth_random_token (a), 0);
    assert_int_equal (gw_auth_random_token (b), 0);
    assert_int_equal (strlen (a), 64);
    assert_string_not_equal (a, b);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (t_hash_roles),
        cmocka_unit_test (t_list),
        cmocka_unit_test (t_bearer),
        cmocka_unit_test (t_file_and_bootstrap),
        cmocka_unit_test (t_random),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
