/* test_gw_static.c — static path resolution (traversal, symlinks, dot-files,
 * directory index), content types and HTTP dates. Works in a temp dir:
 *   root/index.html  root/app.js  root/sub/index.html  root/sub/x.css
 *   root/.secret     root/out -> ../outside.txt   root/in -> app.js
 *   root/escape_dir -> ..   outside.txt (next to root)
 */
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

#include "gw_static.h"
#include "str.h"

static char s_tmp[64];
static char s_root[128];

static void
s_write (const char *rel, const char *text)
{
    char p[PATH_MAX];
    snprintf (p, sizeof p, "%s/%s", s_tmp, rel);
    FILE *f = fopen (p, "w");
    assert_non_null (f);
    fputs (text, f);
    fclose (f);
}

static int
s_setup (void **state)
{
    (void) state;
    str_copy (s_tmp, sizeof s_tmp, "/tmp/gw_static_XXXXXX");
    if (!mkdtemp (s_tmp))
        return -1;
    snprintf (s_root, sizeof s_root, "%s/root", s_tmp);
    char p[PATH_MAX];
    mkdir (s_root, 0700);
    snprintf (p, sizeof p, "%s/sub", s_root);
    mkdir (p, 0700);
    s_write ("root/index.html", "<h1>x</h1>");
    s_write ("root/app.js", "x()");
    s_write ("root/sub/index.html", "sub");
    s_write ("root/sub/x.css", "a{}");
    s_write ("root/.secret", "no");
    s_write ("outside.txt", "outside");
    snprintf (p, sizeof p, "%s/out", s_root);
    if (symlink ("../outside.txt", p) != 0)
        return -1;
    snprintf (p, sizeof p, "%s/in", s_root);
    if (symlink ("app.js", p) != 0)
        return -1;
    snprintf (p, sizeof p, "%s/escape_dir", s_root);
    if (symlink ("..", p) != 0)
        return -1;
    return 0;
}

static int
s_teardown (void **state)
{
    (void) state;
    char cmd[PATH_MAX + 16];
    snprintf (cmd, sizeof cmd, "rm -rf '%s'", s_tmp);
    return system (cmd) == 0 ? 0 : -1;
}

static void
s_expect (gw_static_t *st, const char *path, int rc, const char *suffix)
{
    char *out = NULL;
    int got = gw_static_resolve (st, path, &out);
    if (got != rc)
        fail_msg ("%s: expected %d, got %d (%s)", path, rc, got, out ? out : "");
    if (suffix) {
        assert_non_null (out);
        if (!str_ends_with (out, suffix))
            fail_msg ("%s resolved to %s, expected ...%s", path, out, suffix);
        assert_true (str_starts_with (out, gw_static_root (st)));
    } else {
        assert_null (out);
    }
    free (out);
}

static void
t_resolve (void **state)
{
    (void) state;
    gw_static_t *st = gw_static_new (s_root, 60, 1 << 20);
    assert_non_null (st);
    s_expect (st, "/", 0, "/root/index.html");
    s_expect (st, "/index.html", 0, "/root/index.html");
    s_expect (st, "/app.js", 0, "/root/app.js");
    s_expect (st, "//app.js", 0, "/root/app.js");
    s_expect (st, "/sub", 0, "/root/sub/index.html");
    s_expect (st, "/sub/", 0, "/root/sub/index.html");
    s_expect (st, "/sub/x%2Ecss", 0, "/root/sub/x.css");
    s_expect (st, "/in", 0, "/root/app.js");            /* symlink inside the root */
    /* Traversal, raw and encoded. */
    s_expect (st, "/../outside.txt", GW_STATIC_E_BADPATH, NULL);
    s_expect (st, "/sub/../../outside.txt", GW_STATIC_E_BADPATH, NULL);
    s_expect (st, "/%2e%2e/outside.txt", GW_STATIC_E_BADPATH, NULL);
    s_expect (st, "/%2E%2E%2Foutside.txt", GW_STATIC_E_BADPATH, NULL);
    s_expect (st, "/sub/%2e%2e/%2e%2e/outside.txt", GW_STATIC_E_BADPATH, NULL);
    s_expect (st, "/./app.js", GW_STATIC_E_BADPATH, NULL);
    s_expect (st, "/..%5coutside.txt", GW_STATIC_E_BADPATH, NULL);
    s_expect (st, "/sub\\..\\..\\outside.txt", GW_STATIC_E_BADPATH, NULL);
    s_expect (st, "/app.js%00.html", GW_STATIC_E_BADPATH, NULL);
    s_expect (st, "/%zz", GW_STATIC_E_BADPATH, NULL);
    s_expect (st, "relative", GW_STATIC_E_BADPATH, NULL);
    /* Double encoding is a literal name, not a traversal. */
    s_expect (st, "/%252e%252e/outside.txt", GW_STATIC_E_NOTFOUND, NULL);
    /* Dot-files and symlinks leading outside. */
    s_expect (st, "/.secret", GW_STATIC_E_BADPATH, NULL);
    s_expect (st, "/out", GW_STATIC_E_NOTFOUND, NULL);
    s_expect (st, "/escape_dir/outside.txt", GW_STATIC_E_NOTFOUND, NULL);
    s_expect (st, "/escape_dir", GW_STATIC_E_NOTFOUND, NULL);
    /* Absolute paths are relative to the root. */
    char abs[256];
    snprintf (abs, sizeof abs, "/%s/outside.txt", s_tmp);
    s_expect (st, abs, GW_STATIC_E_NOTFOUND, NULL);
    s_expect (st, "/etc/passwd", GW_STATIC_E_NOTFOUND, NULL);
    s_expect (st, "/missing.js", GW_STATIC_E_NOTFOUND, NULL);
    gw_static_destroy (&st);
    assert_null (st);
    gw_static_destroy (&st);
    assert_null (gw_static_new ("/nonexistent/dir", 1, 1));
}

static void
t_mime (void **state)
{
    (void) state;
    assert_string_equal (gw_static_mime ("/a/index.html"), "text/html; charset=utf-8");
    assert_string_equal (gw_static_mime ("x.JS"), "text/javascript; charset=utf-8");
    assert_string_equal (gw_static_mime ("x.css"), "text/css; charset=utf-8");
    assert_string_equal (gw_static_mime ("x.svg"), "image/svg+xml");
    assert_string_equal (gw_static_mime ("x.woff2"), "font/woff2");
    assert_string_equal (gw_static_mime ("x.json"), "application/json; charset=utf-8");
    assert_string_equal (gw_static_mime ("x.wasm"), "application/wasm");
    assert_string_equal (gw_static_mime ("noext"), "application/octet-stream");
    assert_string_equal (gw_static_mime ("dir.html/noext"), "application/octet-stream");
}

static void
t_dates (void **state)
{
    (void) state;
    char out[40];
    assert_int_equal (gw_http_date_format (784111777, out, sizeof out), 0);
    assert_string_equal (out, "Sun, 06 Nov 1994 08:49:37 GMT");
    int64_t t;
    assert_int_equal (gw_http_date_parse ("Sun, 06 Nov 1994 08:49:37 GMT", &t), 0);
    assert_int_equal (t, 784111777);
    assert_int_equal (gw_http_date_parse ("Thu, 01 Jan 1970 00:00:00 GMT", &t), 0);
    assert_int_equal (t, 0);
    assert_int_equal (gw_http_date_parse ("Tue, 29 Feb 2028 23:59:59 GMT", &t), 0);
    assert_int_equal (gw_http_date_format (t, out, sizeof out), 0);
    assert_string_equal (out, "Tue, 29 Feb 2028 23:59:59 GMT");
    assert_int_equal (gw_http_date_parse ("Sunday, 06-Nov-94 08:49:37 GMT", &t), -1);
    assert_int_equal (gw_http_date_parse ("Sun, 06 Foo 1994 08:49:37 GMT", &t), -1);
    assert_int_equal (gw_http_date_parse ("Sun, 06 Nov 1994 08:49:37 UTC", &t), -1);
    assert_int_equal (gw_http_date_parse ("", &t), -1);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (t_resolve, s_setup, s_teardown),
        cmocka_unit_test (t_mime),
        cmocka_unit_test (t_dates),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
