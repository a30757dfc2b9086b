/* test_rt_crawl.c — the docs crawler against a loopback HTTP server.
 *
 * The server is a small poll()-based HTTP/1.1 server on 127.0.0.1:0 running
 * in a thread: one connection at a time, "Connection: close", it serves a
 * sitemap (two in-prefix pages, one duplicate, one in-prefix page that
 * answers 500, one page outside the prefix), honours If-None-Match with 304
 * and records every request path with its monotonic arrival time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef RT_HAVE_ZLIB
#include <zlib.h>
#endif

#include "buf.h"
#include "clock.h"
#include "rt.h"
#include "rt_crawl.h"
#include "str.h"

#include "it_files.h"
#include "it_http.h"

#define MAX_REQ 64

typedef struct {
    ith_server_t http; /* socket, accept thread, mutex for the fields below */
    char paths[MAX_REQ][128];
    int conditional[MAX_REQ]; /* 1 when If-None-Match was sent */
    char ua[256];
    int64_t at_ms[MAX_REQ];
    int n;
    int variant; /* 1: the sitemap no longer lists photon */
    int mode;    /* 0: plain sitemap site, no robots.txt (404); 1: sitemap index +
                    robots.txt site; 2: robots.txt answers 503 */
    unsigned char gz[4096]; /* gzip-compressed child sitemap (mode 1) */
    size_t gzlen;
} srv_t;

static const char *s_page_a =
    "<!DOCTYPE html><html><head><title>Compute &amp; Pools | Example Docs</title>"
    "<style>body{color:red}</style><script>var x = '<h2>nope</h2>';</script></head><body>"
    "<header><a href=\"/\">Example Docs</a> site header text</header>"
    "<nav><ul><li>Navigation link one</li><li>Navigation link two</li></ul></nav>"
    "<main><article><h1 id=\"pools\">Pools&nbsp;overview</h1>"
    "<p>On this page</p>"
    "<p>A pool keeps idle instances warm so clusters start faster &mdash; attach a cluster "
    "to a pool and it draws its driver and workers from the pool instead of the cloud provider.</p>"
    "<h2 class=\"anchor\" id=\"min-idle\">Minimum idle instances<a href=\"#min-idle\" "
    "class=\"hash-link\">&#8203;</a></h2>"
    "<p>Set the minimum number of idle instances to the number of nodes your first job needs; "
    "idle pool instances cost cloud provider money but no DBUs.</p>"
    "<ul><li>Keep it small for dev</li><li>Match the peak for prod &lt;jobs&gt;</li></ul>"
    "<aside>Related: an aside that must disappear</aside>"
    "<h3><a id=\"spot\"></a>Spot in pools</h3><p>Pools can hold spot instances &amp; on-demand.</p>"
    "<div>Last updated on Jan 1, 2026</div>"
    "</article></main><footer>Footer legal text</footer></body></html>";

static const char *s_page_b =
    "<html><head><title>Photon engine</title></head><body><nav>menu</nav>"
    "<h1>Photon</h1><p>Photon is a vectorized query engine written in C++ that speeds up SQL and "
    "DataFrame workloads. It is billed at a higher DBU rate, so it pays off on scan- and "
    "join-heavy workloads and less on small or UDF-bound jobs.</p>"
    "<h2 id=\"when-to-use\">When to use Photon</h2><p>Enable it for large aggregations, joins and "
    "Delta writes; measure cost per run before and after.</p>"
    "<!-- a comment <h2>not a heading</h2> --></body></html>";

static void
s_reply (int fd, const char *status, const char *headers, const char *body)
{
    char head[1024];
    size_t bl = body ? strlen (body) : 0;
    str_fmt (head, sizeof head,
             "HTTP/1.1 %s\r\nContent-Length: %zu\r\nConnection: close\r\n%s\r\n", status, bl,
             headers ? headers : "");
    ssize_t w = write (fd, head, strlen (head));
    if (w >= 0 && bl)
        w = write (fd, body, bl);
    (void) w;
}

static void
s_reply_bin (int fd, const char *status, const char *headers, const void *body, size_t bl)
{
    char head[1024];
    str_fmt (head, sizeof head,
             "HTTP/1.1 %s\r\nContent-Length: %zu\r\nConnection: close\r\n%s\r\n", status, bl,
             headers ? headers : "");
    ssize_t w = write (fd, head, strlen (head));
    if (w >= 0 && bl)
        w = write (fd, body, bl);
    (void) w;
}

/* Mode 1: a docs site with robots.txt and a tree of sitemaps:
 *   /sitemap_index.xml -> /private/sitemap.xml (disallowed), itself (cycle),
 *                         /sitemaps/a.xml, /sitemaps/missing.xml (404),
 *                         /sitemaps/nested.xml
 *   /sitemaps/nested.xml -> /sitemaps/b.xml.gz (gzip), /sitemaps/deep.xml
 *   /sitemaps/deep.xml -> /sitemaps/too-deep.xml (beyond max_sitemap_depth 2) */
static void
s_serve_site (srv_t *s, int fd, const char *path)
{
    char body[4096];
    int port = s->http.port;
    pthread_mutex_lock (&s->http.mu);
    int mode = s->mode;
    pthread_mutex_unlock (&s->http.mu);
    if (mode == 2 && strcmp (path, "/robots.txt") == 0) {
        s_reply (fd, "503 Service Unavailable", "Content-Type: text/plain\r\n", "down for maintenance");
    } else if (strcmp (path, "/robots.txt") == 0) {
        str_fmt (body, sizeof body,
                 "# robots.txt of the loopback docs site\n"
                 "Disallow: /docs/   # before any User-agent line: ignored\n"
                 "\n"
                 "User-agent: *\n"
                 "Disallow: /\n"
                 "\n"
                 "User-agent: OtherBot\n"
                 "Allow: /\n"
                 "\n"
                 "User-agent: usagecopilot-docscrawler\n"
                 "DISALLOW: /docs/compute/secret\n"
                 "Allow: /docs/compute/secret/open$\n"
                 "Disallow: /*.pdf$\n"
                 "Disallow: /private/\n"
                 "Crawl-delay: 0.2\n"
                 "Sitemap: http://127.0.0.1:%d/sitemap_index.xml\n",
                 port);
        s_reply (fd, "200 OK", "Content-Type: text/plain\r\n", body);
    } else if (strcmp (path, "/sitemap_index.xml") == 0) {
        str_fmt (body, sizeof body,
                 "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                 "<sitemapindex xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n"
                 "<sitemap><loc>http://127.0.0.1:%d/sitemaps/nested.xml</loc></sitemap>\n"
                 "<sitemap><loc>http://127.0.0.1:%d/sitemaps/a.xml</loc><lastmod>2026-11-01</lastmod></sitemap>\n"
                 "<sitemap><loc>http://127.0.0.1:%d/sitemap_index.xml</loc></sitemap>\n"
                 "<sitemap><loc>http://127.0.0.1:%d/sitemaps/missing.xml</loc></sitemap>\n"
                 "<sitemap><loc>http://127.0.0.1:%d/private/sitemap.xml</loc></sitemap>\n"
                 "</sitemapindex>\n",
                 port, port, port, port, port);
        s_reply (fd, "200 OK", "Content-Type: application/xml\r\n", body);
    } else if (strcmp (path, "/sitemaps/a.xml") == 0) {
        str_fmt (body, sizeof body,
                 "<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n"
                 "<url><loc>http://127.0.0.1:%d/docs/compute/pools</loc></url>\n"
                 "<url><loc>http://127.0.0.1:%d/docs/compute/secret</loc></url>\n"
                 "<url><loc>http://127.0.0.1:%d/docs/compute/secret/open</loc></url>\n"
                 "<url><loc>http://127.0.0.1:%d/docs/compute/secret/open/more</loc></url>\n"
                 "<url><loc>http://127.0.0.1:%d/docs/compute/guide.pdf</loc></url>\n"
                 "<url><loc>http://127.0.0.1:%d/other/outside</loc></url>\n"
                 "</urlset>\n",
                 port, port, port, port, port, port);
        s_reply (fd, "200 OK", "Content-Type: application/xml\r\n", body);
    } else if (strcmp (path, "/sitemaps/nested.xml") == 0) {
        str_fmt (body, sizeof body,
                 "<sitemapindex>"
                 "<sitemap><loc>http://127.0.0.1:%d/sitemaps/deep.xml</loc></sitemap>"
                 "<sitemap><loc>http://127.0.0.1:%d/sitemaps/b.xml.gz</loc></sitemap>"
                 "</sitemapindex>",
                 port, port);
        s_reply (fd, "200 OK", "Content-Type: application/xml\r\n", body);
    } else if (strcmp (path, "/sitemaps/deep.xml") == 0) {
        str_fmt (body, sizeof body,
                 "<sitemapindex><sitemap><loc>http://127.0.0.1:%d/sitemaps/too-deep.xml</loc></sitemap>"
                 "</sitemapindex>",
                 port);
        s_reply (fd, "200 OK", "Content-Type: application/xml\r\n", body);
    } else if (strcmp (path, "/sitemaps/b.xml.gz") == 0) {
        s_reply_bin (fd, "200 OK", "Content-Type: application/gzip\r\n", s->gz, s->gzlen);
    } else if (str_starts_with (path, "/docs/compute/") || strcmp (path, "/sitemaps/too-deep.xml") == 0
               || str_starts_with (path, "/private/")) {
        /* every page answers (disallowed ones must simply never be asked for) */
        s_reply (fd, "200 OK", "Content-Type: text/html\r\n", s_page_b);
    } else {
        s_reply (fd, "404 Not Found", "Content-Type: text/plain\r\n", "no");
    }
}

static void
s_serve (void *arg, int fd)
{
    srv_t *s = arg;
    char req[8192];
    size_t n = 0;
    while (n + 1 < sizeof req) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll (&p, 1, 2000) <= 0)
            return;
        ssize_t r = read (fd, req + n, sizeof req - 1 - n);
        if (r <= 0)
            return;
        n += (size_t) r;
        req[n] = '\0';
        if (strstr (req, "\r\n\r\n"))
            break;
    }
    char path[128] = "";
    const char *sp = strchr (req, ' ');
    if (sp) {
        const char *e = strchr (sp + 1, ' ');
        if (e && (size_t) (e - sp - 1) < sizeof path) {
            memcpy (path, sp + 1, (size_t) (e - sp - 1));
            path[e - sp - 1] = '\0';
        }
    }
    const char *inm = str_icontains (req, "\r\nIf-None-Match: ");
    const char *ua = str_icontains (req, "\r\nUser-Agent: ");
    pthread_mutex_lock (&s->http.mu);
    if (s->n < MAX_REQ) {
        str_copy (s->paths[s->n], sizeof s->paths[s->n], path);
        s->conditional[s->n] = inm != NULL;
        s->at_ms[s->n] = clock_mono_ms ();
        s->n++;
    }
    if (ua) {
        const char *e = strstr (ua + 2, "\r\n");
        str_fmt (s->ua, sizeof s->ua, "%.*s", (int) (e - ua - 14), ua + 14);
    }
    pthread_mutex_unlock (&s->http.mu);

    pthread_mutex_lock (&s->http.mu);
    int mode = s->mode;
    pthread_mutex_unlock (&s->http.mu);
    if (mode != 0) {
        s_serve_site (s, fd, path);
        return;
    }
    char sitemap[2048];
    int port = s->http.port;
    pthread_mutex_lock (&s->http.mu);
    int variant = s->variant;
    pthread_mutex_unlock (&s->http.mu);
    str_fmt (sitemap, sizeof sitemap,
             "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
             "<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n"
             "<url><loc>http://127.0.0.1:%d/docs/compute/pools</loc></url>\n"
             "<url><loc>http://127.0.0.1:%d/other/page</loc></url>\n"
             "<url><loc> http://127.0.0.1:%d/docs/compute/%s </loc></url>\n"
             "<url><loc>http://127.0.0.1:%d/docs/compute/pools</loc></url>\n"
             "<url><loc>http://127.0.0.1:%d/docs/compute/broken</loc></url>\n"
             "</urlset>\n",
             port, port, port, variant ? "pools" : "photon", port, port);
    if (strcmp (path, "/sitemap.xml") == 0) {
        s_reply (fd, "200 OK", "Content-Type: application/xml\r\n", sitemap);
    } else if (strcmp (path, "/docs/compute/pools") == 0) {
        if (inm && str_starts_with (inm + 17, "\"pools-v1\""))
            s_reply (fd, "304 Not Modified", "ETag: \"pools-v1\"\r\n", NULL);
        else
            s_reply (fd, "200 OK", "Content-Type: text/html; charset=utf-8\r\nETag: \"pools-v1\"\r\n",
                     s_page_a);
    } else if (strcmp (path, "/docs/compute/photon") == 0) {
        if (inm && str_starts_with (inm + 17, "\"photon-v1\""))
            s_reply (fd, "304 Not Modified", "ETag: \"photon-v1\"\r\n", NULL);
        else
            s_reply (fd, "200 OK",
                     "Content-Type: text/html\r\nETag: \"photon-v1\"\r\n"
                     "Last-Modified: Tue, 03 Nov 2026 10:00:00 GMT\r\n",
                     s_page_b);
    } else if (strcmp (path, "/docs/compute/broken") == 0) {
        s_reply (fd, "500 Internal Server Error", "Content-Type: text/plain\r\n", "boom");
    } else {
        s_reply (fd, "404 Not Found", "Content-Type: text/plain\r\n", "no");
    }
}

static srv_t *
s_server_start (void)
{
    srv_t *s = calloc (1, sizeof *s);
    assert_non_null (s);
    assert_int_equal (ith_start (&s->http, s_serve, s), 0);
    return s;
}

static void
s_server_stop (srv_t **sp)
{
    ith_stop (&(*sp)->http);
    free (*sp);
    *sp = NULL;
}

static int
s_count_path (srv_t *s, const char *path)
{
    int c = 0;
    pthread_mutex_lock (&s->http.mu);
    for (int i = 0; i < s->n; i++)
        if (strcmp (s->paths[i], path) == 0)
            c++;
    pthread_mutex_unlock (&s->http.mu);
    return c;
}

static void
test_crawl_loopback (void **state)
{
    (void) state;
    srv_t *s = s_server_start ();
    char dir[] = "/tmp/rt_crawl_XXXXXX";
    assert_non_null (mkdtemp (dir));
    char out[512], sitemap[256], prefix[256];
    str_fmt (out, sizeof out, "%s/notes", dir);
    str_fmt (sitemap, sizeof sitemap, "http://127.0.0.1:%d/sitemap.xml", s->http.port);
    str_fmt (prefix, sizeof prefix, "http://127.0.0.1:%d/docs/compute/", s->http.port);

    char logpath[512];
    str_fmt (logpath, sizeof logpath, "%s/log.txt", dir);
    FILE *log = fopen (logpath, "w");
    assert_non_null (log);
    const int delay = 100;
    rt_crawl_opts_t o = {.sitemap_url = sitemap, .prefix = prefix, .out_dir = out,
                         .delay_ms = delay, .timeout_ms = 5000, .log = log};
    rt_crawl_stats_t st;
    int64_t t0 = clock_mono_ms ();
    int rc = rt_crawl_run (&o, &st);
    int64_t elapsed = clock_mono_ms () - t0;
    if (rc != 0)
        fprintf (stderr, "crawl: %s\n", rt_last_error ());
    assert_int_equal (rc, 0);
    assert_int_equal (st.listed, 3);  /* broken, photon, pools (dup and /other dropped) */
    assert_int_equal (st.fetched, 2);
    assert_int_equal (st.unchanged, 0);
    assert_int_equal (st.failed, 1);
    assert_int_equal (st.skipped, 0);
    assert_int_equal (st.requests, 5);
    assert_int_equal (st.robots, 1);      /* robots.txt answers 404: everything allowed */
    assert_int_equal (st.disallowed, 0);
    assert_int_equal (st.sitemaps, 1);
    assert_int_equal (st.crawl_delay_ms, 0);
    /* politeness: 5 requests, at least 4 delays */
    assert_true (elapsed >= 4 * delay);
    pthread_mutex_lock (&s->http.mu);
    assert_int_equal (s->n, 5);
    assert_string_equal (s->paths[0], "/robots.txt");
    assert_string_equal (s->paths[1], "/sitemap.xml");
    assert_string_equal (s->paths[2], "/docs/compute/broken");
    assert_string_equal (s->paths[3], "/docs/compute/photon");
    assert_string_equal (s->paths[4], "/docs/compute/pools");
    for (int i = 1; i < s->n; i++)
        assert_true (s->at_ms[i] - s->at_ms[i - 1] >= delay);
    assert_non_null (strstr (s->ua, "UsageCopilot-DocsCrawler/"));
    pthread_mutex_unlock (&s->http.mu);
    assert_int_equal (s_count_path (s, "/other/page"), 0);

    /* the notes */
    char path[600];
    str_fmt (path, sizeof path, "%s/web-pools.md", out);
    char *a = itf_slurp (path);
    assert_non_null (a);
    char expect_src[300];
    str_fmt (expect_src, sizeof expect_src, "source: %spools\n", prefix);
    assert_true (str_starts_with (a, "---\ntitle: Compute & Pools | Example Docs\n"));
    assert_non_null (strstr (a, expect_src));
    assert_non_null (strstr (a, "# Pools overview {#pools}\n"));
    assert_non_null (strstr (a, "## Minimum idle instances {#min-idle}\n"));
    assert_non_null (strstr (a, "### Spot in pools {#spot}\n"));
    assert_non_null (strstr (a, "clusters start faster \xE2\x80\x94 attach"));
    assert_non_null (strstr (a, "- Match the peak for prod <jobs>\n"));
    assert_non_null (strstr (a, "spot instances & on-demand."));
    assert_null (strstr (a, "On this page"));
    assert_null (strstr (a, "Last updated"));
    assert_null (strstr (a, "Navigation link"));
    assert_null (strstr (a, "site header"));
    assert_null (strstr (a, "Footer legal"));
    assert_null (strstr (a, "aside that must"));
    assert_null (strstr (a, "nope"));
    assert_null (strstr (a, "color:red"));
    assert_null (strstr (a, "\xE2\x80\x8B")); /* zero-width space from the permalink */

    str_fmt (path, sizeof path, "%s/web-photon.md", out);
    char *b = itf_slurp (path);
    assert_non_null (b);
    assert_true (str_starts_with (b, "---\ntitle: Photon engine\n"));
    assert_non_null (strstr (b, "## When to use Photon {#when-to-use}\n"));
    assert_non_null (strstr (b, "# Photon\n"));
    assert_null (strstr (b, "not a heading"));
    assert_null (strstr (b, "menu"));
    str_fmt (path, sizeof path, "%s/web-broken.md", out);
    assert_null (itf_slurp (path));

    /* the notes are in the curated format: the docs chunker takes them (the
     * chunker wants an https source; the loopback server is http) */
    {
        buf_t *t = buf_new (1u << 20);
        const char *src = strstr (a, "source: http://");
        assert_non_null (src);
        buf_append (t, a, (size_t) (src - a));
        buf_puts (t, "source: https://");
        buf_puts (t, src + strlen ("source: http://"));
        rt_docset_t *ds = rt_docset_new ();
        assert_int_equal (rt_docs_parse_note ("docs/web-pools.md", buf_data (t), buf_len (t), 1000,
                                              150, ds),
                          0);
        bool anchor_min_idle = false;
        for (size_t i = 0; i < rt_docset_size (ds); i++) {
            const rt_doc_t *d = rt_docset_get (ds, i);
            if (strcmp (d->anchor, "min-idle") == 0)
                anchor_min_idle = true;
        }
        assert_true (anchor_min_idle);
        assert_true (rt_docset_size (ds) >= 3);
        rt_docset_destroy (&ds);
        buf_destroy (&t);
    }

    /* the state file */
    str_fmt (path, sizeof path, "%s/.crawl-state", out);
    char *stt = itf_slurp (path);
    assert_non_null (stt);
    char line[600];
    str_fmt (line, sizeof line, "%sphoton\tweb-photon.md\t\"photon-v1\"\tTue, 03 Nov 2026 10:00:00 GMT\n",
             prefix);
    assert_non_null (strstr (stt, line));
    str_fmt (line, sizeof line, "%spools\tweb-pools.md\t\"pools-v1\"\t\n", prefix);
    assert_non_null (strstr (stt, line));
    assert_null (strstr (stt, "broken"));
    free (stt);

    /* second crawl: conditional requests, 304 → unchanged, files untouched */
    rc = rt_crawl_run (&o, &st);
    assert_int_equal (rc, 0);
    assert_int_equal (st.fetched, 0);
    assert_int_equal (st.unchanged, 2);
    assert_int_equal (st.failed, 1);
    pthread_mutex_lock (&s->http.mu);
    assert_int_equal (s->n, 10);
    assert_string_equal (s->paths[5], "/robots.txt"); /* once per run and host */
    assert_int_equal (s->conditional[7], 0); /* broken: nothing stored */
    assert_int_equal (s->conditional[8], 1);
    assert_int_equal (s->conditional[9], 1);
    pthread_mutex_unlock (&s->http.mu);
    str_fmt (path, sizeof path, "%s/web-pools.md", out);
    char *a2 = itf_slurp (path);
    assert_non_null (a2);
    assert_string_equal (a, a2);
    free (a2);
    fclose (log);

    char *lg = itf_slurp (logpath);
    assert_non_null (lg);
    assert_non_null (strstr (lg, "docs/compute/broken: HTTP 500 (skipped)"));
    assert_non_null (strstr (lg, "crawl: unchanged "));
    free (lg);

    /* max_pages limits the list (first page in sorted order only) */
    o.max_pages = 1;
    o.log = NULL;
    rc = rt_crawl_run (&o, &st);
    assert_int_equal (rc, 0);
    assert_int_equal (st.listed, 1);
    assert_int_equal (st.failed, 1);
    assert_int_equal (st.requests, 3);

    /* a page that left the sitemap: its note and state go (full runs only) */
    assert_int_equal (st.removed, 0); /* the max_pages run above removed nothing */
    pthread_mutex_lock (&s->http.mu);
    s->variant = 1;
    pthread_mutex_unlock (&s->http.mu);
    o.max_pages = 0;
    rc = rt_crawl_run (&o, &st);
    assert_int_equal (rc, 0);
    assert_int_equal (st.listed, 2);
    assert_int_equal (st.unchanged, 1);
    assert_int_equal (st.removed, 1);
    str_fmt (path, sizeof path, "%s/web-photon.md", out);
    char *gone = itf_slurp (path);
    assert_null (gone);
    str_fmt (path, sizeof path, "%s/web-pools.md", out);
    char *kept = itf_slurp (path);
    assert_non_null (kept);
    free (kept);
    str_fmt (path, sizeof path, "%s/.crawl-state", out);
    stt = itf_slurp (path);
    assert_non_null (stt);
    assert_null (strstr (stt, "photon"));
    assert_non_null (strstr (stt, "web-pools.md"));
    free (stt);

    /* a sitemap that cannot be fetched is fatal */
    char bad[256];
    str_fmt (bad, sizeof bad, "http://127.0.0.1:%d/missing.xml", s->http.port);
    o.sitemap_url = bad;
    o.max_pages = 0;
    assert_int_equal (rt_crawl_run (&o, &st), RT_E_HTTP);
    assert_non_null (strstr (rt_last_error (), "HTTP 404"));

    free (a);
    free (b);
    s_server_stop (&s);
    char cmd[600];
    str_fmt (cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal (system (cmd), 0);
}

static void
test_sitemap_parse (void **state)
{
    (void) state;
    const char *xml = "<urlset><url><loc>https://d.example/a/x?q=1&amp;r=2</loc></url>"
                      "<url><loc><![CDATA[https://d.example/a/b]]></loc></url>"
                      "<url><loc>https://d.example/ab</loc></url>"
                      "<url><loc>https://d.example/a/b</loc></url></urlset>";
    char **urls = NULL;
    size_t n = 0;
    bool index = true;
    assert_int_equal (rt_crawl_sitemap_urls (xml, strlen (xml), "https://d.example/a/", &urls, &n, &index), 0);
    assert_false (index);
    assert_int_equal (n, 2);
    assert_string_equal (urls[0], "https://d.example/a/b");
    assert_string_equal (urls[1], "https://d.example/a/x?q=1&r=2");
    assert_null (urls[2]);
    rt_crawl_urls_free (&urls, n);
    /* a sitemap index lists child sitemaps; the page prefix does not apply */
    const char *idx = "<?xml version=\"1.0\"?><sitemapindex xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">"
                      "<sitemap><loc>https://d.example/s2.xml.gz</loc><lastmod>2026-01-01</lastmod></sitemap>"
                      "<sitemap><loc>https://other.example/s1.xml</loc></sitemap>"
                      "<sitemap><loc>ftp://d.example/s3.xml</loc></sitemap>"
                      "<sitemap><loc>https://d.example/s2.xml.gz</loc></sitemap></sitemapindex>";
    assert_int_equal (rt_crawl_sitemap_urls (idx, strlen (idx), "https://d.example/a/", &urls, &n, &index), 0);
    assert_true (index);
    assert_int_equal (n, 2);
    assert_string_equal (urls[0], "https://d.example/s2.xml.gz");
    assert_string_equal (urls[1], "https://other.example/s1.xml");
    rt_crawl_urls_free (&urls, n);
    /* callers that cannot follow an index say so with NULL */
    assert_int_equal (rt_crawl_sitemap_urls (idx, strlen (idx), "https://d.example/", &urls, &n, NULL),
                      RT_E_FORMAT);
    assert_int_equal (rt_crawl_sitemap_urls ("<html/>", 7, "https://", &urls, &n, &index), RT_E_FORMAT);
}

static void
test_html_edge_cases (void **state)
{
    (void) state;
    const char *html = "<title>T</title><body><p>x</p><p>&#x41;&#66;&unknown; a < b &amp c</p>"
                       "<pre>line one\n  indented two</pre><h2 id='q\"x}y'>Quote</h2>"
                       "<p># not a heading</p><script>unterminated";
    buf_t *out = buf_new (1u << 16);
    size_t chars = 0;
    assert_int_equal (rt_crawl_html_to_note (html, strlen (html), "https://e/x", out, &chars), 0);
    const char *t = buf_data (out);
    assert_null (strstr (t, "\nx\n"));                 /* 1-character line dropped */
    assert_non_null (strstr (t, "AB&unknown; a < b &amp c\n"));
    assert_non_null (strstr (t, "line one\n  indented two\n"));
    assert_non_null (strstr (t, "## Quote {#qxy}\n")); /* id cleaned for {#...} */
    assert_non_null (strstr (t, "\\# not a heading\n"));
    assert_null (strstr (t, "unterminated"));
    assert_true (chars > 0);
    buf_destroy (&out);
}

static void
test_robots_rules (void **state)
{
    (void) state;
    const char *txt = "Allow: /ignored-before-any-group\n"
                      "User-agent: SomeoneElse\n"
                      "Disallow: /\n"
                      "\n"
                      "user-agent: UsageCopilot-DocsCrawler/2.0\n"
                      "user-agent: AnotherBot\n"
                      "Disallow: /a            # comment\n"
                      "Allow: /a/b\n"
                      "Disallow: /a/b/c*.html$\n"
                      "Allow: /*?print=1\n"
                      "Disallow: /t\n"
                      "Allow: /t\n"
                      "Disallow:\n"
                      "Sitemap: https://x.example/sitemap.xml\n"
                      "Crawl-delay: 1.5\n"
                      "Disallow: /*a*a*a*a*a*a*a*a*a*a*b\n"
                      "User-agent: *\n"
                      "Disallow: /only-for-star\n";
    rt_robots_t *r = rt_robots_parse (txt, strlen (txt), RT_CRAWL_AGENT);
    assert_non_null (r);
    assert_true (rt_robots_allowed (r, "/"));
    assert_true (rt_robots_allowed (r, "/x"));
    assert_true (rt_robots_allowed (r, "/only-for-star")); /* our group wins over * */
    assert_false (rt_robots_allowed (r, "/a"));
    assert_false (rt_robots_allowed (r, "/abc"));            /* plain prefix match */
    assert_true (rt_robots_allowed (r, "/a/b"));             /* longer Allow wins */
    assert_true (rt_robots_allowed (r, "/a/b/x.html"));
    assert_false (rt_robots_allowed (r, "/a/b/c1.html"));    /* '*' and '$' */
    assert_true (rt_robots_allowed (r, "/a/b/c1.html?x=1")); /* '$' anchors the end */
    assert_true (rt_robots_allowed (r, "/a/q?print=1"));     /* '*' at the start */
    assert_true (rt_robots_allowed (r, "/t/1"));             /* equal length: Allow */
    assert_true (rt_robots_allowed (r, "/robots.txt"));
    assert_int_equal (rt_robots_crawl_delay_ms (r), 1500);
    /* a pathological pattern against a long path stays fast and correct */
    char longp[4100];
    longp[0] = '/';
    memset (longp + 1, 'a', 4000);
    longp[4001] = '\0';
    assert_true (rt_robots_allowed (r, longp) == false); /* "/a" prefix still disallows */
    longp[1] = 'z';
    int64_t t0 = clock_mono_ms ();
    assert_true (rt_robots_allowed (r, longp));
    assert_true (clock_mono_ms () - t0 < 2000);
    rt_robots_destroy (&r);
    assert_null (r);

    /* only a * group: it applies */
    const char *star = "User-agent: *\nDisallow: /private\nCrawl-delay: 2\n";
    r = rt_robots_parse (star, strlen (star), RT_CRAWL_AGENT);
    assert_non_null (r);
    assert_false (rt_robots_allowed (r, "/private/x"));
    assert_true (rt_robots_allowed (r, "/public"));
    assert_int_equal (rt_robots_crawl_delay_ms (r), 2000);
    rt_robots_destroy (&r);

    /* no group for us and no *: everything allowed, no delay */
    const char *other = "User-agent: Googlebot\nDisallow: /\nCrawl-delay: 9\n";
    r = rt_robots_parse (other, strlen (other), RT_CRAWL_AGENT);
    assert_non_null (r);
    assert_true (rt_robots_allowed (r, "/anything"));
    assert_int_equal (rt_robots_crawl_delay_ms (r), 0);
    rt_robots_destroy (&r);

    /* a longer token is another agent; garbage lines are ignored */
    const char *near = "User-agent: UsageCopilot-DocsCrawlerX\nDisallow: /\n\xff\xfe junk\nnot a record\n"
                       "User-agent: *\nDisallow: /s\nCrawl-delay: soon\n";
    r = rt_robots_parse (near, strlen (near), RT_CRAWL_AGENT);
    assert_non_null (r);
    assert_true (rt_robots_allowed (r, "/x"));
    assert_false (rt_robots_allowed (r, "/s"));
    assert_int_equal (rt_robots_crawl_delay_ms (r), 0);
    rt_robots_destroy (&r);

    r = rt_robots_allow_all ();
    assert_true (rt_robots_allowed (r, "/x"));
    rt_robots_destroy (&r);
}

static bool
s_has_path (srv_t *s, const char *path)
{
    return s_count_path (s, path) > 0;
}

/* Sitemap index (nested, gzip, cycle, 404 child, disallowed child, depth
 * bound) + robots.txt (our group over *, Allow/Disallow longest match with
 * '*' and '$', Crawl-delay over delay_ms): the exact set of requests. */
static void
test_crawl_robots_and_index (void **state)
{
    (void) state;
#ifndef RT_HAVE_ZLIB
    skip ();
#else
    srv_t *s = s_server_start ();
    pthread_mutex_lock (&s->http.mu);
    s->mode = 1;
    pthread_mutex_unlock (&s->http.mu);
    char xml[1024];
    str_fmt (xml, sizeof xml,
             "<urlset><url><loc>http://127.0.0.1:%d/docs/compute/photon</loc></url>"
             "<url><loc>http://127.0.0.1:%d/docs/compute/pools</loc></url></urlset>",
             s->http.port, s->http.port);
    z_stream zs;
    memset (&zs, 0, sizeof zs);
    assert_int_equal (deflateInit2 (&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
    zs.next_in = (Bytef *) xml;
    zs.avail_in = (uInt) strlen (xml);
    zs.next_out = s->gz;
    zs.avail_out = sizeof s->gz;
    assert_int_equal (deflate (&zs, Z_FINISH), Z_STREAM_END);
    s->gzlen = sizeof s->gz - zs.avail_out;
    deflateEnd (&zs);

    char dir[] = "/tmp/rt_crawl_rb_XXXXXX";
    assert_non_null (mkdtemp (dir));
    char out[512], sitemap[256], prefix[256], path[700], logpath[512];
    str_fmt (out, sizeof out, "%s/notes", dir);
    str_fmt (sitemap, sizeof sitemap, "http://127.0.0.1:%d/sitemap_index.xml", s->http.port);
    str_fmt (prefix, sizeof prefix, "http://127.0.0.1:%d/docs/compute/", s->http.port);
    str_fmt (logpath, sizeof logpath, "%s/log.txt", dir);
    /* a note from an earlier crawl of a page no sitemap lists any more: since
     * one child sitemap cannot be read, this run must not remove it */
    assert_int_equal (mkdir (out, 0755), 0);
    str_fmt (path, sizeof path, "%s/.crawl-state", out);
    FILE *f = fopen (path, "w");
    assert_non_null (f);
    fprintf (f, "%sgone\tweb-gone.md\t\t\n", prefix);
    fclose (f);
    str_fmt (path, sizeof path, "%s/web-gone.md", out);
    f = fopen (path, "w");
    assert_non_null (f);
    fputs ("---\ntitle: Gone\nsource: https://x/gone\n---\n\n# Gone\n", f);
    fclose (f);

    FILE *log = fopen (logpath, "w");
    assert_non_null (log);
    rt_crawl_opts_t o = {.sitemap_url = sitemap, .prefix = prefix, .out_dir = out, .delay_ms = 20,
                         .timeout_ms = 5000, .log = log, .max_sitemap_depth = 2};
    rt_crawl_stats_t st;
    int rc = rt_crawl_run (&o, &st);
    fclose (log);
    if (rc != 0)
        fprintf (stderr, "crawl: %s\n", rt_last_error ());
    assert_int_equal (rc, 0);

    /* exactly these requests, in this order */
    static const char *const want[] = {
        "/robots.txt",          "/sitemap_index.xml",   "/sitemaps/a.xml",
        "/sitemaps/missing.xml", "/sitemaps/nested.xml", "/sitemaps/b.xml.gz",
        "/sitemaps/deep.xml",   "/docs/compute/photon", "/docs/compute/pools",
        "/docs/compute/secret/open", NULL};
    pthread_mutex_lock (&s->http.mu);
    int nreq = s->n;
    for (int i = 0; i < nreq && want[i]; i++)
        if (strcmp (s->paths[i], want[i]) != 0)
            fprintf (stderr, "request %d: %s, expected %s\n", i, s->paths[i], want[i]);
    assert_int_equal (nreq, 10);
    for (int i = 0; want[i]; i++)
        assert_string_equal (s->paths[i], want[i]);
    /* Crawl-delay 0.2 s beats delay_ms 20 once robots.txt is known */
    for (int i = 1; i < nreq; i++)
        assert_true (s->at_ms[i] - s->at_ms[i - 1] >= 200);
    pthread_mutex_unlock (&s->http.mu);
    /* never asked for: disallowed pages and sitemap, the too-deep sitemap,
     * pages outside the prefix */
    assert_false (s_has_path (s, "/docs/compute/secret"));
    assert_false (s_has_path (s, "/docs/compute/secret/open/more"));
    assert_false (s_has_path (s, "/docs/compute/guide.pdf"));
    assert_false (s_has_path (s, "/private/sitemap.xml"));
    assert_false (s_has_path (s, "/sitemaps/too-deep.xml"));
    assert_false (s_has_path (s, "/other/outside"));

    assert_int_equal (st.listed, 6);     /* guide.pdf photon pools secret secret/open secret/open/more */
    assert_int_equal (st.fetched, 3);
    assert_int_equal (st.disallowed, 4); /* 3 pages + the /private/ sitemap */
    assert_int_equal (st.failed, 0);
    assert_int_equal (st.sitemaps, 5);   /* index, a, nested, b.xml.gz, deep */
    assert_int_equal (st.sitemaps_failed, 3); /* private (disallowed), missing (404), too-deep */
    assert_int_equal (st.robots, 1);
    assert_int_equal (st.crawl_delay_ms, 200);
    assert_int_equal (st.requests, 10);
    assert_int_equal (st.removed, 0);

    const char *notes[] = {"web-photon.md", "web-pools.md", "web-secret-open.md", "web-gone.md", NULL};
    for (int i = 0; notes[i]; i++) {
        str_fmt (path, sizeof path, "%s/%s", out, notes[i]);
        char *t = itf_slurp (path);
        if (!t)
            fprintf (stderr, "missing note %s\n", notes[i]);
        assert_non_null (t);
        free (t);
    }
    str_fmt (path, sizeof path, "%s/web-secret.md", out);
    assert_null (itf_slurp (path));
    char *lg = itf_slurp (logpath);
    assert_non_null (lg);
    char line[600];
    str_fmt (line, sizeof line, "crawl: disallowed by robots.txt %sguide.pdf (skipped)", prefix);
    assert_non_null (strstr (lg, line));
    str_fmt (line, sizeof line, "crawl: disallowed by robots.txt %ssecret (skipped)", prefix);
    assert_non_null (strstr (lg, line));
    assert_non_null (strstr (lg, "/sitemaps/missing.xml: HTTP 404"));
    assert_non_null (strstr (lg, "/sitemaps/too-deep.xml not followed: nested deeper than 2 level(s)"));
    assert_non_null (strstr (lg, "/private/sitemap.xml (sitemap not read)"));
    assert_non_null (strstr (lg, "crawl-delay 200 ms"));
    free (lg);

    /* the count bound: 2 sitemap files at most */
    o.max_sitemaps = 2;
    o.log = NULL;
    o.delay_ms = 0;
    rc = rt_crawl_run (&o, &st);
    assert_int_equal (rc, 0);
    assert_int_equal (st.sitemaps, 2);   /* the index, then a.xml */
    assert_int_equal (st.listed, 5);     /* a.xml's in-prefix pages; photon only in b.xml.gz */
    assert_int_equal (st.removed, 0);

    /* a disallowed root sitemap is fatal */
    str_fmt (sitemap, sizeof sitemap, "http://127.0.0.1:%d/private/sitemap.xml", s->http.port);
    o.max_sitemaps = 0;
    assert_int_equal (rt_crawl_run (&o, &st), RT_E_ARG);
    assert_non_null (strstr (rt_last_error (), "disallowed by robots.txt"));

    s_server_stop (&s);
    char cmd[600];
    str_fmt (cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal (system (cmd), 0);
#endif
}

/* robots.txt answering 5xx stops the crawl before anything else is asked. */
static void
test_crawl_robots_5xx (void **state)
{
    (void) state;
    srv_t *s = s_server_start ();
    pthread_mutex_lock (&s->http.mu);
    s->mode = 2;
    pthread_mutex_unlock (&s->http.mu);
    char dir[] = "/tmp/rt_crawl_5x_XXXXXX";
    assert_non_null (mkdtemp (dir));
    char out[512], sitemap[256], prefix[256], robots[256];
    str_fmt (out, sizeof out, "%s/notes", dir);
    str_fmt (sitemap, sizeof sitemap, "http://127.0.0.1:%d/sitemap_index.xml", s->http.port);
    str_fmt (prefix, sizeof prefix, "http://127.0.0.1:%d/docs/compute/", s->http.port);
    str_fmt (robots, sizeof robots, "robots.txt http://127.0.0.1:%d/robots.txt returned HTTP 503", s->http.port);
    rt_crawl_opts_t o = {.sitemap_url = sitemap, .prefix = prefix, .out_dir = out, .delay_ms = 0,
                         .timeout_ms = 5000};
    rt_crawl_stats_t st;
    assert_int_equal (rt_crawl_run (&o, &st), RT_E_HTTP);
    assert_non_null (strstr (rt_last_error (), robots));
    assert_non_null (strstr (rt_last_error (), "crawling stopped"));
    assert_int_equal (st.requests, 1);
    assert_int_equal (st.fetched, 0);
    pthread_mutex_lock (&s->http.mu);
    assert_int_equal (s->n, 1);
    assert_string_equal (s->paths[0], "/robots.txt");
    pthread_mutex_unlock (&s->http.mu);
    s_server_stop (&s);
    /* an unreachable robots.txt (nothing listens any more) stops it too */
    assert_int_equal (rt_crawl_run (&o, &st), RT_E_HTTP);
    assert_non_null (strstr (rt_last_error (), "could not be fetched"));
    char cmd[600];
    str_fmt (cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal (system (cmd), 0);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_sitemap_parse),
        cmocka_unit_test (test_html_edge_cases),
        cmocka_unit_test (test_robots_rules),
        cmocka_unit_test (test_crawl_loopback),
        cmocka_unit_test (test_crawl_robots_and_index),
        cmocka_unit_test (test_crawl_robots_5xx),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
