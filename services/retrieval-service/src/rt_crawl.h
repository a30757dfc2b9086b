/* rt_crawl.h — documentation crawler of rt_retrieval: sitemap (or sitemap
 * index, gzip-compressed or not) + URL prefix over libcurl, robots.txt
 * obeyed (RFC 9309), HTML to sectioned markdown notes that
 * rt_corpus_load_dir / `copilot index --docs-dir` ingest like the curated
 * knowledge base.
 *
 * Errors: 0 / negative RT_E_* codes (rt.h); detail in rt_last_error().
 */
#ifndef RT_CRAWL_H
#define RT_CRAWL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "buf.h"
#include "rt.h"

/* The crawler's robots.txt product token (its User-Agent starts with it). */
#define RT_CRAWL_AGENT "UsageCopilot-DocsCrawler"

typedef struct {
    const char *sitemap_url;  /* required: a <urlset> sitemap or a <sitemapindex> (http or https) */
    const char *prefix;       /* required: keep <loc> URLs starting with this */
    const char *out_dir;      /* required: notes + .crawl-state go here (created) */
    int delay_ms;             /* pause between consecutive requests; < 0 = 750 */
    int max_pages;            /* 0 = every listed page */
    int timeout_ms;           /* per request (default 30000) */
    size_t max_bytes;         /* per response body cap (default 8 MiB) */
    size_t min_chars;         /* pages with less extracted text are skipped (default 200) */
    FILE *log;                /* one line per page (fetched / unchanged / skipped / failed); NULL = quiet */
    int max_sitemap_depth;    /* sitemap index nesting followed: the root is level 0 and
                                 sitemaps listed at a deeper level than this are not
                                 fetched (default 3) */
    int max_sitemaps;         /* sitemap files fetched per run, root included (default 200) */
} rt_crawl_opts_t;

typedef struct {
    size_t listed;     /* in-prefix URLs in the sitemap (after de-duplication) */
    size_t fetched;    /* 200: note written */
    size_t unchanged;  /* 304: note kept */
    size_t skipped;    /* fetched but not a usable page (too little text, not HTML) */
    size_t failed;     /* transport error or HTTP status >= 400: logged, note kept if any */
    size_t removed;    /* notes of pages no longer in the sitemap, deleted (full runs only) */
    size_t requests;   /* HTTP requests made, sitemaps and robots.txt included */
    size_t sitemaps;   /* sitemap files read (root, nested indexes, child sitemaps) */
    size_t sitemaps_failed;  /* child sitemaps that failed, were disallowed or were over the
                                depth/count bounds (the run then removes no notes) */
    size_t disallowed; /* pages and child sitemaps not fetched because robots.txt disallows them */
    size_t robots;     /* robots.txt files requested (one per host) */
    int crawl_delay_ms;  /* largest Crawl-delay that applied (0 = none) */
    double seconds;
} rt_crawl_stats_t;

/* Crawls: fetches the sitemap (failure is fatal: RT_E_HTTP / RT_E_FORMAT).
 * A <sitemapindex> is followed recursively (children sorted, each fetched
 * once, cycles ignored) up to max_sitemap_depth levels and max_sitemaps
 * files; a child that fails or is over a bound is logged and counted in
 * sitemaps_failed, not fatal. A sitemap body starting with the gzip magic
 * (*.xml.gz) is decompressed (capped at max_bytes); without zlib in the
 * build that is RT_E_UNIMPLEMENTED for the root and a failed child.
 * Keeps the page <loc> URLs starting with `prefix` (de-duplicated, sorted,
 * limited to max_pages), then fetches each page.
 *
 * robots.txt (RFC 9309) is fetched once per scheme://host:port before the
 * first request to that host (sitemaps included). Rules come from the
 * groups whose User-agent is RT_CRAWL_AGENT (case-insensitive), else from
 * the `*` groups; Allow/Disallow patterns support `*` and a final `$`; the
 * longest matching pattern wins, Allow on a tie; /robots.txt itself is
 * always allowed. A disallowed page or child sitemap is not requested,
 * logged and counted in `disallowed` (a disallowed root sitemap is fatal,
 * RT_E_ARG). Crawl-delay (seconds, fractions allowed, capped at 1 hour)
 * raises the pause before every request to that host to at least that
 * value. robots.txt answering 4xx (404: there is none) allows everything;
 * 5xx or a transport failure stops the run with RT_E_HTTP naming the
 * robots.txt URL and the status (the state of pages fetched so far is
 * saved; no note is removed). There is deliberately no way to ignore it.
 *
 * Pages wait max(delay_ms, Crawl-delay) between the end of one request and
 * the start of the next. A page is written to out_dir/web-<slug of the path
 * after the prefix>.md ("web-index.md" for the prefix itself). ETag and
 * Last-Modified per URL are kept in out_dir/.crawl-state (TSV: url, file,
 * etag, last-modified; sorted by url, rewritten atomically) and sent back as
 * If-None-Match / If-Modified-Since when the note still exists; 304 keeps
 * the note. Per-page errors are logged and counted, never fatal. When the
 * run is not limited by max_pages and every child sitemap was read, notes
 * (and state) of URLs that are no longer listed are deleted. `stats` may be
 * NULL. 0 or RT_E_*. */
int rt_crawl_run (const rt_crawl_opts_t *opts, rt_crawl_stats_t *stats);

/* Converts one HTML page into a note appended to `out`: front matter
 * (title from <title>, else the first h1, else the URL; source: url;
 * topic: crawled), then the text of <main> (else <body>, else the whole
 * page) without script/style/noscript/template/header/footer/nav/aside, one
 * line per block element, h1-h3 as "#".."###" headings ending in
 * "{#id}" when the heading (or an element inside it) has an id, common
 * entities decoded, "On this page" / "Last updated ..." / "Edit this page"
 * lines and 1-character lines dropped. *text_chars (may be NULL) receives the
 * number of body text bytes kept. 0, RT_E_ARG, RT_E_NOMEM or RT_E_TOOBIG. */
int rt_crawl_html_to_note (const char *html, size_t len, const char *url, buf_t *out,
                           size_t *text_chars);

/* Parses sitemap `xml`. For a <urlset>: appends the <loc> URLs that start
 * with `prefix` to `urls` and sets *is_index false. For a <sitemapindex>:
 * appends every http(s) <loc> (child sitemaps; the prefix does not apply)
 * and sets *is_index true. `urls` is a NULL-terminated malloc'd array of
 * malloc'd strings, *n entries (free with rt_crawl_urls_free),
 * de-duplicated and sorted bytewise. `is_index` may be NULL, in which case
 * a <sitemapindex> is RT_E_FORMAT. RT_E_FORMAT when neither element is
 * present. */
int rt_crawl_sitemap_urls (const char *xml, size_t len, const char *prefix, char ***urls,
                           size_t *n, bool *is_index);
void rt_crawl_urls_free (char ***urls, size_t n);

/* Parsed robots.txt rules for one agent (opaque). */
typedef struct _rt_robots_t rt_robots_t;

/* Parses robots.txt `text` for product token `agent` (RFC 9309 group
 * selection as described at rt_crawl_run). Never fails on malformed lines
 * (they are ignored); NULL only on OOM. */
rt_robots_t *rt_robots_parse (const char *text, size_t len, const char *agent);
/* An empty rule set (robots.txt missing): everything allowed. */
rt_robots_t *rt_robots_allow_all (void);
void rt_robots_destroy (rt_robots_t **self_p);
/* True when `path` ("/a/b?q=1"; the URL path and query) may be fetched. */
bool rt_robots_allowed (const rt_robots_t *self, const char *path);
/* The selected group's Crawl-delay in milliseconds (0 = none). */
int rt_robots_crawl_delay_ms (const rt_robots_t *self);

#endif
