/* test_cfg.c — configuration from environment and file, with the exact
 * error messages users will see. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "cfg.h"

static char s_dir[64];
static char s_path[128];

static int
setup (void **state)
{
    (void) state;
    snprintf (s_dir, sizeof s_dir, "/tmp/test_cfg_XXXXXX");
    if (mkdtemp (s_dir) == NULL)
        return -1;
    snprintf (s_path, sizeof s_path, "%s/config.ini", s_dir);
    unsetenv ("COPILOT_HTTP_PORT");
    unsetenv ("COPILOT_LLM_API_KEY");
    unsetenv ("COPILOT_LOG_LEVEL");
    unsetenv ("TEST_CFG_OPENAI_KEY");
    return 0;
}

static int
teardown (void **state)
{
    (void) state;
    unlink (s_path);
    rmdir (s_dir);
    return 0;
}

static void
s_write (const char *text)
{
    FILE *f = fopen (s_path, "w");
    assert_non_null (f);
    fputs (text, f);
    fclose (f);
}

static void
test_env_and_defaults (void **state)
{
    (void) state;
    setenv ("COPILOT_HTTP_PORT", "8080", 1);
    setenv ("COPILOT_LLM_API_KEY", "sk-test", 1);
    const char *err = NULL;
    cfg_t *c = cfg_new (NULL, &err);
    assert_non_null (c);
    int64_t port = 0;
    assert_int_equal (cfg_int (c, "http.port", 1, 1, 65535, &port), CFG_OK);
    assert_int_equal (port, 8080);
    assert_string_equal (cfg_get (c, "llm.api_key"), "sk-test");   /* key with '_' */
    assert_null (cfg_get (c, "nope"));
    int64_t def = 0;
    assert_int_equal (cfg_int (c, "bus.hwm", 1000, 1, 100000, &def), CFG_OK);
    assert_int_equal (def, 1000);
    double d = 0;
    assert_int_equal (cfg_double (c, "llm.temperature", 0.2, 0, 2, &d), CFG_OK);
    assert_true (d == 0.2);
    bool b = true;
    assert_int_equal (cfg_bool (c, "x.flag", false, &b), CFG_OK);
    assert_false (b);
    const char *s = NULL;
    assert_int_equal (cfg_str (c, "x.name", "dflt", &s), CFG_OK);
    assert_string_equal (s, "dflt");

    /* Snapshot: later environment changes are not seen. */
    setenv ("COPILOT_HTTP_PORT", "9999", 1);
    assert_string_equal (cfg_get (c, "http.port"), "8080");

    /* cfg_set wins over everything. */
    assert_int_equal (cfg_set (c, "http.port", "81"), CFG_OK);
    assert_string_equal (cfg_get (c, "http.port"), "81");
    assert_int_equal (cfg_set (c, "Bad Key", "1"), CFG_E_INVALID);
    assert_non_null (strstr (cfg_error (c), "invalid key 'Bad Key'"));
    cfg_destroy (&c);
    assert_null (c);
    cfg_destroy (&c);
    unsetenv ("COPILOT_HTTP_PORT");
    unsetenv ("COPILOT_LLM_API_KEY");
}

static void
test_env_errors (void **state)
{
    (void) state;
    setenv ("COPILOT_HTTP_PORT", "abc", 1);
    setenv ("COPILOT_LOG_LEVEL", "maybe", 1);
    cfg_t *c = cfg_new (NULL, NULL);
    assert_non_null (c);
    int64_t port = 7;
    assert_int_equal (cfg_int (c, "http.port", 1, 1, 65535, &port), CFG_E_INVALID);
    assert_int_equal (port, 7);
    assert_string_equal (cfg_error (c),
                         "COPILOT_HTTP_PORT='abc': expected an integer in [1, 65535]");
    bool b;
    assert_int_equal (cfg_bool (c, "log.level", false, &b), CFG_E_INVALID);
    assert_string_equal (cfg_error (c),
                         "COPILOT_LOG_LEVEL='maybe': expected true/false, yes/no, on/off or 1/0");
    double d;
    assert_int_equal (cfg_double (c, "log.level", 0, 0, 1, &d), CFG_E_INVALID);
    assert_string_equal (cfg_error (c), "COPILOT_LOG_LEVEL='maybe': expected a number in [0, 1]");
    cfg_destroy (&c);

    setenv ("COPILOT_HTTP_PORT", "70000", 1);
    c = cfg_new (NULL, NULL);
    assert_int_equal (cfg_int (c, "http.port", 1, 1, 65535, &port), CFG_E_INVALID);
    assert_string_equal (cfg_error (c),
                         "COPILOT_HTTP_PORT='70000': expected an integer in [1, 65535]");
    const char *s = NULL;
    assert_int_equal (cfg_require (c, "llm.model", &s), CFG_E_MISSING);
    assert_string_equal (cfg_error (c), "missing required setting 'llm.model': set "
                                        "COPILOT_LLM_MODEL or add 'llm.model = ...' to a config file");
    assert_int_equal (cfg_require (c, "http.port", &s), CFG_OK);
    assert_string_equal (s, "70000");
    cfg_destroy (&c);
    unsetenv ("COPILOT_HTTP_PORT");
    unsetenv ("COPILOT_LOG_LEVEL");
}

static void
test_file (void **state)
{
    (void) state;
    s_write ("# gateway config\n"
             "\n"
             "http.port = 8081\n"
             "  db.path=/var/lib/copilot/usage.db   # trailing comment\n"
             "llm.url = http://x/#frag\n"
             "flag.on = YES\r\n"
             "ratio = 0.75\n"
             "empty =\n"
             "retries = three\n");
    const char *err = NULL;
    cfg_t *c = cfg_new (s_path, &err);
    assert_non_null (c);
    int64_t port = 0;
    assert_int_equal (cfg_int (c, "http.port", 1, 1, 65535, &port), CFG_OK);
    assert_int_equal (port, 8081);
    assert_string_equal (cfg_get (c, "db.path"), "/var/lib/copilot/usage.db");
    assert_string_equal (cfg_get (c, "llm.url"), "http://x/#frag");
    assert_string_equal (cfg_get (c, "empty"), "");
    bool b = false;
    assert_int_equal (cfg_bool (c, "flag.on", false, &b), CFG_OK);
    assert_true (b);
    double r = 0;
    assert_int_equal (cfg_double (c, "ratio", 0, 0, 1, &r), CFG_OK);
    assert_true (r == 0.75);
    int64_t n = 0;
    assert_int_equal (cfg_int (c, "retries", 1, 0, 10, &n), CFG_E_INVALID);
    char want[256];
    snprintf (want, sizeof want, "%s:9 retries='three': expected an integer in [0, 10]", s_path);
    assert_string_equal (cfg_error (c), want);
    assert_int_equal (cfg_double (c, "ratio", 0, 0, 0.5, &r), CFG_E_INVALID);
    snprintf (want, sizeof want, "%s:7 ratio='0.75': expected a number in [0, 0.5]", s_path);
    assert_string_equal (cfg_error (c), want);
    cfg_destroy (&c);

    /* Environment wins over the file and is then the name in messages. */
    setenv ("COPILOT_HTTP_PORT", "x1", 1);
    c = cfg_new (s_path, &err);
    assert_int_equal (cfg_int (c, "http.port", 1, 1, 65535, &port), CFG_E_INVALID);
    assert_string_equal (cfg_error (c), "COPILOT_HTTP_PORT='x1': expected an integer in [1, 65535]");
    cfg_destroy (&c);
    unsetenv ("COPILOT_HTTP_PORT");
}

static void
test_file_errors (void **state)
{
    (void) state;
    char want[256];
    const char *err = NULL;
    s_write ("a = 1\n# ok\nb = 2\n\n\n\njust some words\n");
    assert_null (cfg_new (s_path, &err));
    snprintf (want, sizeof want, "%s:7: expected 'key = value'", s_path);
    assert_string_equal (err, want);

    s_write ("a = 1\n[section]\n");
    assert_null (cfg_new (s_path, &err));
    snprintf (want, sizeof want, "%s:2: expected 'key = value'", s_path);
    assert_string_equal (err, want);

    s_write ("a = 1\nb = 2\na = 3\n");
    assert_null (cfg_new (s_path, &err));
    snprintf (want, sizeof want, "%s:3: duplicate key 'a' (first set on line 1)", s_path);
    assert_string_equal (err, want);

    s_write ("HTTP.Port = 1\n");
    assert_null (cfg_new (s_path, &err));
    snprintf (want, sizeof want,
              "%s:1: invalid key 'HTTP.Port': expected lower-case letters, digits, '.', '_' or '-'",
              s_path);
    assert_string_equal (err, want);

    s_write (" = 1\n");
    assert_null (cfg_new (s_path, &err));
    snprintf (want, sizeof want, "%s:1: expected 'key = value' (empty key)", s_path);
    assert_string_equal (err, want);

    char missing[160];
    snprintf (missing, sizeof missing, "%s/nope.ini", s_dir);
    assert_null (cfg_new (missing, &err));
    snprintf (want, sizeof want, "%s: cannot open: No such file or directory", missing);
    assert_string_equal (err, want);

    /* Over 1 MiB. */
    FILE *f = fopen (s_path, "w");
    for (int i = 0; i < 70000; i++)
        fputs ("k = 0123456789\n", f);
    fclose (f);
    assert_null (cfg_new (s_path, &err));
    snprintf (want, sizeof want, "%s: file larger than 1 MiB", s_path);
    assert_string_equal (err, want);
}

static void
test_get_any (void **state)
{
    (void) state;
    unsetenv ("COPILOT_LLM_API_KEY");
    setenv ("TEST_CFG_OPENAI_KEY", "sk-alias", 1);
    cfg_t *c = cfg_new (NULL, NULL);
    const char *const keys[] = { "llm.api_key", "TEST_CFG_OPENAI_KEY", NULL };
    assert_string_equal (cfg_get_any (c, keys), "sk-alias");
    cfg_set (c, "llm.api_key", "sk-direct");
    assert_string_equal (cfg_get_any (c, keys), "sk-direct");
    cfg_set (c, "llm.api_key", "");   /* empty values are skipped */
    assert_string_equal (cfg_get_any (c, keys), "sk-alias");
    const char *const none[] = { "x.y", "TEST_CFG_NOT_SET_ANYWHERE", NULL };
    assert_null (cfg_get_any (c, none));
    assert_null (cfg_get_any (c, none));   /* cached absence */
    assert_string_equal (cfg_strerror (CFG_E_MISSING), "missing required configuration value");
    cfg_destroy (&c);
    unsetenv ("TEST_CFG_OPENAI_KEY");
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_env_and_defaults),
        cmocka_unit_test (test_env_errors),
        cmocka_unit_test (test_file),
        cmocka_unit_test (test_file_errors),
        cmocka_unit_test (test_get_any),
    };
    return cmocka_run_group_tests (tests, setup, teardown);
}
