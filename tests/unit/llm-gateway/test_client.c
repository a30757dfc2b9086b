/* test_client.c — redaction and client failure modes that need no server. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "lg_client.h"
#include "lg_error.h"

static void
test_redact (void **state)
{
    (void) state;
    char s[200] = "Incorrect API key provided: Bearer sk-abc123XYZ, and sk-abc123XYZ again; key=sk-abc123XYZ.";
    lg_redact (s, "sk-abc123XYZ");
    assert_null (strstr (s, "sk-abc"));
    assert_null (strstr (s, "123XYZ"));
    assert_non_null (strstr (s, "Bearer ************,"));
    char t[64] = "Authorization: Bearer other-token\nrest";
    lg_redact (t, NULL);
    assert_string_equal (t, "Authorization: Bearer ***********\nrest");
    lg_redact (NULL, "x");
}

/* A loopback port nothing listens on. */
static int
s_dead_port (void)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { 0 };
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    bind (fd, (struct sockaddr *) &a, sizeof a);
    socklen_t l = sizeof a;
    getsockname (fd, (struct sockaddr *) &a, &l);
    close (fd);
    return ntohs (a.sin_port);
}

static void
test_connection_refused (void **state)
{
    (void) state;
    char url[64];
    snprintf (url, sizeof url, "http://127.0.0.1:%d/v1", s_dead_port ());
    lg_call_t c = { 0 };
    c.base_url = url;
    c.api_key = "sk-never-shown-0000";
    c.model = "m";
    c.prompt = "hello";
    c.temperature = 0.2;
    c.max_tokens = 10;
    c.timeout_ms = 2000;
    c.connect_timeout_ms = 1000;
    c.stall_timeout_ms = 1000;
    c.max_bytes = 1 << 16;
    lg_result_t r;
    int64_t t0 = clock_mono_ms ();
    assert_int_equal (lg_client_call (&c, &r), LG_E_NETWORK);
    assert_true (clock_mono_ms () - t0 < 1500);
    assert_int_equal (r.curl_code, 7); /* CURLE_COULDNT_CONNECT */
    assert_null (r.text);
    assert_null (strstr (r.error, "sk-never"));
    assert_true (strlen (r.error) > 0);
    lg_result_clear (&r);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_redact),
        cmocka_unit_test (test_connection_refused),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
