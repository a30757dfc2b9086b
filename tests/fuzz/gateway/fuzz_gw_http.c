/* fuzz_gw_http.c — fuzz target for the gateway's request handling.
 *
 * One input drives, in order:
 *   1. the HTTP server itself: an in-process gw_server on 127.0.0.1:<ephemeral>
 *      with small limits; the input is sent over a real TCP connection in two
 *      chunks (split point from the first byte, so request boundaries and
 *      callback splits vary), the write side is shut down, and the loop runs
 *      until the server closes. Every answer must be a well-formed HTTP/1.1
 *      status line, and the server must still answer a normal request;
 *   2. percent-decoding and query-string iteration on the input as text;
 *   3. the strict JSON body parser and ExplainRequest validation;
 *   4. static path resolution against a temp root.
 *
 * Built two ways (c-patterns §7.4): with clang -fsanitize=fuzzer as a real
 * libFuzzer target (GW_FUZZ_ENGINE=ON), and with any compiler as a normal
 * program that replays every file of a corpus directory (ctest
 * fuzz.gateway.http_parser; exit 77 when the corpus is missing).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "clock.h"
#include "gw_http.h"
#include "gw_json.h"
#include "gw_static.h"
#include "log.h"
#include "str.h"

static uv_loop_t s_loop;
static gw_server_t *s_srv;
static gw_static_t *s_static;
static int s_port;

static void
s_handler (gw_req_t *req, void *arg)
{
    (void) arg;
    const char *path = gw_req_path (req);
    size_t blen;
    (void) gw_req_body (req, &blen);
    (void) gw_req_header (req, "host");
    char v[64];
    (void) gw_query_get (gw_req_query (req), "a", v, sizeof v);
    if (strncmp (path, "/s/", 3) == 0 && s_static) {
        gw_static_serve (s_static, req);
    } else if (strcmp (path, "/stream") == 0) {
        if (gw_stream_begin (req, 200, "text/event-stream", NULL) == 0) {
            gw_stream_write (req, "data: x\n\n", 9);
            gw_stream_end (req);
        }
    } else if (strcmp (path, "/err") == 0) {
        gw_respond_error (req, 400, "bad", "bad %s", "input");
    } else {
        gw_respond (req, 200, "text/plain", NULL, "ok", 2);
    }
}

static void
s_init (void)
{
    if (s_srv)
        return;
    log_init ("fuzz", LOG_FATAL);
    uv_loop_init (&s_loop);
    gw_limits_t lim;
    gw_limits_default (&lim);
    lim.max_header_bytes = 2048;
    lim.max_url_bytes = 512;
    lim.max_body_bytes = 4096;
    lim.max_headers = 16;
    lim.request_timeout_ms = 300;
    lim.idle_timeout_ms = 300;
    lim.write_timeout_ms = 300;
    s_srv = gw_server_new (&s_loop, &lim, s_handler, NULL);
    if (!s_srv || gw_server_listen (s_srv, "127.0.0.1", 0) != 0)
        abort ();
    s_port = gw_server_port (s_srv);
    char root[] = "/tmp/gw_fuzz_root_XXXXXX";
    if (mkdtemp (root)) {
        char p[128];
        snprintf (p, sizeof p, "%s/index.html", root);
        FILE *f = fopen (p, "w");
        if (f) {
            fputs ("<p>x</p>", f);
            fclose (f);
        }
        s_static = gw_static_new (root, 60, 1 << 16);
    }
}

/* Sends `data` on a fresh connection, half-closes, collects the answer. */
static size_t
s_exchange (const uint8_t *data, size_t size, size_t split, char *out, size_t out_size)
{
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) s_port) };
    a.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    if (connect (fd, (struct sockaddr *) &a, sizeof a) != 0 && errno != EINPROGRESS)
        abort ();
    size_t sent = 0, got = 0;
    bool shut = false, eof = false;
    int64_t end = clock_mono_ms () + 3000;
    while (!eof && clock_mono_ms () < end) {
        uv_run (&s_loop, UV_RUN_NOWAIT);
        size_t limit = sent < split ? split : size;
        if (sent < limit) {
            ssize_t n = send (fd, data + sent, limit - sent, MSG_NOSIGNAL);
            if (n > 0)
                sent += (size_t) n;
            else if (n < 0 && errno != EAGAIN && errno != ENOTCONN && errno != EINPROGRESS)
                sent = size;   /* peer closed early: stop sending */
        } else if (sent >= size && !shut) {
            shutdown (fd, SHUT_WR);
            shut = true;
        }
        char buf[4096];
        ssize_t n = recv (fd, buf, sizeof buf, 0);
        if (n > 0) {
            size_t c = (size_t) n < out_size - 1 - got ? (size_t) n : out_size - 1 - got;
            memcpy (out + got, buf, c);
            got += c;
        } else if (n == 0 || (n < 0 && errno != EAGAIN && errno != ENOTCONN && errno != EINPROGRESS)) {
            eof = true;
        }
    }
    close (fd);
    /* Let the server finish closing its side. */
    for (int i = 0; i < 10; i++)
        uv_run (&s_loop, UV_RUN_NOWAIT);
    out[got] = '\0';
    if (!eof)
        abort ();   /* the server neither answered-and-closed nor closed */
    return got;
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    s_init ();
    /* 1. The server. */
    static char out[1 << 16];
    size_t split = size ? (size_t) data[0] % (size + 1) : 0;
    size_t got = s_exchange (data, size, split, out, sizeof out);
    if (got > 0 && strncmp (out, "HTTP/1.1 ", 9) != 0)
        abort ();
    /* The server still serves. */
    static const char ok[] = "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    got = s_exchange ((const uint8_t *) ok, sizeof ok - 1, 0, out, sizeof out);
    if (got < 15 || strncmp (out, "HTTP/1.1 200 ", 13) != 0)
        abort ();
    /* 2-4. Decoders on the input as text. */
    char *text = malloc (size + 1);
    if (!text)
        return 0;
    memcpy (text, data, size);
    text[size] = '\0';
    char dec[512];
    (void) gw_url_decode (text, strlen (text), dec, sizeof dec, true);
    size_t pos = 0;
    char k[64], v[256];
    for (int i = 0; i < 64 && gw_query_next (text, &pos, k, sizeof k, v, sizeof v) > 0; i++)
        ;
    char err[256];
    json_t *doc = gw_json_parse_body (text, size, err, sizeof err);
    if (doc) {
        Copilot__V1__ExplainRequest *r = gw_json_to_explain (doc, err, sizeof err);
        if (r)
            protobuf_c_message_free_unpacked (&r->base, NULL);
        json_decref (doc);
    }
    if (s_static && text[0] == '/') {
        char *path = NULL;
        if (gw_static_resolve (s_static, text, &path) == 0) {
            if (strncmp (path, gw_static_root (s_static), strlen (gw_static_root (s_static))) != 0)
                abort ();   /* escaped the root */
        }
        free (path);
    }
    free (text);
    return 0;
}

#ifndef GW_FUZZ_ENGINE
/* Corpus replay: every regular file of the directories on the command line. */
int
main (int argc, char **argv)
{
    if (argc < 2) {
        fprintf (stderr, "usage: %s <corpus dir>...\n", argv[0]);
        return 77;
    }
    int n = 0;
    for (int i = 1; i < argc; i++) {
        DIR *d = opendir (argv[i]);
        if (!d) {
            fprintf (stderr, "no corpus at %s\n", argv[i]);
            return 77;
        }
        struct dirent *e;
        char names[512][256];
        int nn = 0;
        while ((e = readdir (d)) != NULL && nn < 512)
            if (e->d_name[0] != '.')
                snprintf (names[nn++], sizeof names[0], "%s", e->d_name);
        closedir (d);
        /* Sorted, so a failure reproduces in the same order. */
        qsort (names, (size_t) nn, sizeof names[0], (int (*) (const void *, const void *)) strcmp);
        for (int j = 0; j < nn; j++) {
            char p[1024];
            if (str_fmt (p, sizeof p, "%s/%s", argv[i], names[j]) != 0)
                continue;
            FILE *f = fopen (p, "rb");
            if (!f)
                continue;
            static uint8_t buf[1 << 16];
            size_t len = fread (buf, 1, sizeof buf, f);
            fclose (f);
            LLVMFuzzerTestOneInput (buf, len);
            n++;
        }
    }
    printf ("%d inputs replayed, 0 failed\n", n);
    return n > 0 ? 0 : 77;
}
#endif
