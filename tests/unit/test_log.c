/* test_log.c — unit tests for JSON-lines logging: every line is parsed back
 * with jansson and its fields checked. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>

#include "log.h"

/* Reads everything written to the pipe so far (non-blocking read end). */
static size_t
s_drain (int rfd, char *out, size_t size)
{
    size_t n = 0;
    for (;;) {
        ssize_t r = read (rfd, out + n, size - 1 - n);
        if (r <= 0)
            break;
        n += (size_t) r;
    }
    out[n] = '\0';
    return n;
}

static int s_pipe[2];
static char s_out[1 << 16];

static int
setup (void **state)
{
    (void) state;
    if (pipe (s_pipe) != 0)
        return -1;
    fcntl (s_pipe[0], F_SETFL, O_NONBLOCK);
    log_init ("unit-test", LOG_DEBUG);
    log_set_fd (s_pipe[1]);
    log_set_context (NULL, NULL);
    return 0;
}

static int
teardown (void **state)
{
    (void) state;
    log_set_fd (2);
    close (s_pipe[0]);
    close (s_pipe[1]);
    return 0;
}

/* Parses exactly one line and returns it. */
static json_t *
s_one_line (void)
{
    size_t n = s_drain (s_pipe[0], s_out, sizeof s_out);
    assert_true (n > 0);
    assert_int_equal (s_out[n - 1], '\n');
    assert_ptr_equal (strchr (s_out, '\n'), s_out + n - 1);   /* exactly one line */
    json_error_t err;
    json_t *j = json_loadb (s_out, n - 1, 0, &err);
    if (j == NULL)
        fail_msg ("not JSON: %s (%s)", err.text, s_out);
    assert_true (json_is_object (j));
    return j;
}

static void
test_fields (void **state)
{
    (void) state;
    errno = 1234;
    log_emit (LOG_INFO, "request.done", "served %d rows in %s", 42, "5ms");
    assert_int_equal (errno, 1234);
    json_t *j = s_one_line ();
    const char *ts = json_string_value (json_object_get (j, "ts"));
    assert_non_null (ts);
    assert_int_equal (strlen (ts), 24);
    assert_int_equal (ts[10], 'T');
    assert_int_equal (ts[23], 'Z');
    assert_int_equal (ts[19], '.');
    assert_string_equal (json_string_value (json_object_get (j, "level")), "INFO");
    assert_string_equal (json_string_value (json_object_get (j, "service")), "unit-test");
    assert_int_equal (json_integer_value (json_object_get (j, "pid")), getpid ());
    assert_string_equal (json_string_value (json_object_get (j, "event")), "request.done");
    assert_string_equal (json_string_value (json_object_get (j, "msg")), "served 42 rows in 5ms");
    assert_null (json_object_get (j, "request_id"));
    assert_null (json_object_get (j, "trace_id"));
    /* field order: ts first, as documented */
    assert_true (strncmp (s_out, "{\"ts\":", 6) == 0);
    json_decref (j);
}

static void
test_context_and_kv (void **state)
{
    (void) state;
    log_set_context ("req-1", "trace-9");
    const char *kv[] = { "duration_s", "0.25", "path", "/a\"b", "level", "spoof", NULL, "skip",
                         "nullv", NULL };
    log_emitkv (LOG_WARN, "http.slow", "slow request", kv, 5);
    json_t *j = s_one_line ();
    assert_string_equal (json_string_value (json_object_get (j, "level")), "WARN");
    assert_string_equal (json_string_value (json_object_get (j, "request_id")), "req-1");
    assert_string_equal (json_string_value (json_object_get (j, "trace_id")), "trace-9");
    assert_string_equal (json_string_value (json_object_get (j, "duration_s")), "0.25");
    assert_string_equal (json_string_value (json_object_get (j, "path")), "/a\"b");
    assert_string_equal (json_string_value (json_object_get (j, "x_level")), "spoof");
    assert_true (json_is_null (json_object_get (j, "nullv")));
    assert_int_equal (json_object_size (j), 12);
    json_decref (j);
    log_set_context (NULL, NULL);
    log_emit (LOG_INFO, "x", "y");
    j = s_one_line ();
    assert_null (json_object_get (j, "request_id"));
    json_decref (j);
}

static void
test_escaping (void **state)
{
    (void) state;
    log_emit (LOG_ERROR, "ev\n", "ctl\x01\x1f tab\t nl\n bad\xff\xc3 ok\xc3\xa9 q\" bs\\");
    json_t *j = s_one_line ();   /* jansson rejects invalid UTF-8: parsing proves it */
    assert_string_equal (json_string_value (json_object_get (j, "msg")),
                         "ctl\x01\x1f tab\t nl\n bad\xef\xbf\xbd\xef\xbf\xbd ok\xc3\xa9 q\" bs\\");
    assert_string_equal (json_string_value (json_object_get (j, "event")), "ev\n");
    json_decref (j);
    assert_non_null (strstr (s_out, "\\u0001\\u001f"));
}

static void
test_levels (void **state)
{
    (void) state;
    log_set_level (LOG_WARN);
    log_emit (LOG_INFO, "dropped", "x");
    log_emit (LOG_DEBUG, "dropped", "x");
    assert_int_equal (s_drain (s_pipe[0], s_out, sizeof s_out), 0);
    log_emit (LOG_FATAL, "kept", "x");
    json_t *j = s_one_line ();
    assert_string_equal (json_string_value (json_object_get (j, "level")), "FATAL");
    json_decref (j);
    log_set_level (LOG_DEBUG);

    log_level_t l = LOG_FATAL;
    assert_int_equal (log_level_parse ("debug", &l), 0);
    assert_int_equal (l, LOG_DEBUG);
    assert_int_equal (log_level_parse ("WARN", &l), 0);
    assert_int_equal (l, LOG_WARN);
    assert_int_equal (log_level_parse ("Error", &l), 0);
    assert_int_equal (l, LOG_ERROR);
    assert_int_equal (log_level_parse ("verbose", &l), -1);
    assert_int_equal (log_level_parse ("", &l), -1);
    assert_int_equal (l, LOG_ERROR);
}

static void
test_truncation (void **state)
{
    (void) state;
    /* A 10 000-byte message must give one line of at most LOG_LINE_MAX bytes
     * whose msg ends with the marker. */
    char *big = malloc (10001);
    memset (big, 'a', 10000);
    big[10000] = '\0';
    big[5] = '\n';
    log_emit (LOG_INFO, "big", "%s", big);
    json_t *j = s_one_line ();
    size_t n = strlen (s_out);
    assert_true (n <= LOG_LINE_MAX);
    assert_true (n > LOG_LINE_MAX - 64);   /* used most of the room */
    const char *msg = json_string_value (json_object_get (j, "msg"));
    assert_true (strlen (msg) > 3000);
    assert_string_equal (msg + strlen (msg) - strlen (LOG_TRUNC_MARK), LOG_TRUNC_MARK);
    json_decref (j);

    /* Same through log_emitkv, with a huge kv value and many kv pairs. */
    log_set_context ("r", "t");
    const char *kv[400];
    for (int i = 0; i < 200; i++) {
        kv[2 * i] = "k";
        kv[2 * i + 1] = big;
    }
    log_emitkv (LOG_INFO, "bigkv", big, kv, 200);
    j = s_one_line ();
    n = strlen (s_out);
    assert_true (n <= LOG_LINE_MAX);
    assert_true (json_is_true (json_object_get (j, "kv_truncated")));
    assert_string_equal (json_string_value (json_object_get (j, "request_id")), "r");
    const char *k = json_string_value (json_object_get (j, "k"));
    assert_non_null (k);
    assert_string_equal (k + strlen (k) - strlen (LOG_TRUNC_MARK), LOG_TRUNC_MARK);
    json_decref (j);
    log_set_context (NULL, NULL);

    /* Multi-byte characters are never split. */
    char *u = malloc (3 * 3000 + 1);
    for (int i = 0; i < 3000; i++)
        memcpy (u + 3 * i, "\xe2\x82\xac", 3);
    u[9000] = '\0';
    log_emit (LOG_INFO, "utf8", "%s", u);
    j = s_one_line ();   /* would fail to parse on a split sequence... */
    msg = json_string_value (json_object_get (j, "msg"));
    assert_null (strstr (msg, "\xef\xbf\xbd"));   /* ...or show U+FFFD */
    json_decref (j);
    free (u);
    free (big);
}

struct worker {
    char id[16];
    int fd;
};

static void *
s_worker (void *arg)
{
    struct worker *w = arg;
    log_set_context (w->id, NULL);
    for (int i = 0; i < 200; i++)
        log_emit (LOG_INFO, "thread.line", "line %d from %s", i, w->id);
    return NULL;
}

static void
test_threads (void **state)
{
    (void) state;
    char path[] = "/tmp/test_log_XXXXXX";
    int fd = mkstemp (path);
    assert_true (fd >= 0);
    unlink (path);
    fcntl (fd, F_SETFL, O_APPEND);
    log_set_fd (fd);
    pthread_t th[4];
    struct worker w[4];
    for (int i = 0; i < 4; i++) {
        snprintf (w[i].id, sizeof w[i].id, "w%d", i);
        pthread_create (&th[i], NULL, s_worker, &w[i]);
    }
    for (int i = 0; i < 4; i++)
        pthread_join (th[i], NULL);
    log_set_fd (s_pipe[1]);
    lseek (fd, 0, SEEK_SET);
    FILE *f = fdopen (fd, "r");
    char line[LOG_LINE_MAX + 2];
    int count[4] = { 0 };
    int total = 0;
    while (fgets (line, sizeof line, f)) {
        json_error_t err;
        json_t *j = json_loads (line, 0, &err);
        assert_non_null (j);
        const char *rid = json_string_value (json_object_get (j, "request_id"));
        const char *msg = json_string_value (json_object_get (j, "msg"));
        assert_non_null (rid);
        assert_non_null (strstr (msg, rid));   /* context is per thread */
        count[rid[1] - '0']++;
        total++;
        json_decref (j);
    }
    fclose (f);
    assert_int_equal (total, 800);
    for (int i = 0; i < 4; i++)
        assert_int_equal (count[i], 200);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_fields),      cmocka_unit_test (test_context_and_kv),
        cmocka_unit_test (test_escaping),    cmocka_unit_test (test_levels),
        cmocka_unit_test (test_truncation),  cmocka_unit_test (test_threads),
    };
    return cmocka_run_group_tests (tests, setup, teardown);
}
