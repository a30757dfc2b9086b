/* rt_crawl.h — documentation crawler of rt_retrieval: sitemap + URL prefix
 * over libcurl, HTML to sectioned markdown notes that rt_corpus_load_dir /
 * `copilot index --docs-dir` ingest like the curated knowledge base.
 *
 * Errors: 0 / negative RT_E_* codes (rt.h); detail in rt_last_error().
 */
#ifndef RT_CRAWL_H
#define RT_CRAWL_H
#include <stddef.h>
#include <stdio.h>

#include "buf.h"
#include "rt.h"

typedef struct {
    const char *sitemap_url;  /* required: a <urlset> sitemap (http or https) */
    const char *prefix;       /* required: keep <loc> URLs starting with this */
    const char *out_dir;      /* required: notes + .crawl-state go here (created) */
    int delay_ms;             /* pause between consecutive requests; < 0 = 750 */
    int max_pages;            /* 0 = every listed page */
    int timeout_ms;           /* per request (default 30000) */
    size_t max_bytes;         /* per response body cap (default 8 MiB) */
    size_t min_chars;         /* pages with less extracted text are skipped (default 200) */
    FILE *log;                /* one line per page (fetched / unchanged / skipped / failed); NULL = quiet */
} rt_crawl_opts_t;

typedef struct {
    size_t listed;     /* in-prefix URLs in the sitemap (after de-duplication) */
    size_t fetched;    /* 200: note written */
    size_t unchanged;  /* 304: note kept */
    size_t skipped;    /* fetched but not a usable page (too little text, not HTML) */
    size_t failed;     /* transport error or HTTP status >= 400: logged, note kept if any */
    size_t removed;    /* notes of pages no longer in the sitemap, deleted (full runs only) */
    size_t requests;   /* HTTP requests made, sitemap included */
    double seconds;
} rt_crawl_stats_t;

/* Crawls: fetches the sitemap (failure is fatal: RT_E_HTTP / RT_E_FORMAT),
 * keeps the <loc> URLs starting with `prefix` (de-duplicated, sorted,
 * limited to max_pages), then fetches each page, waiting delay_ms between
 * consecutive requests. A page is written to out_dir/web-<slug of the path
 * after the prefix>.md ("web-index.md" for the prefix itself). ETag and
 * Last-Modified per URL are kept in out_dir/.crawl-state (TSV: url, file,
 * etag, last-modified; sorted by url, rewritten atomically) and sent back as
 * If-None-Match / If-Modified-Since when the note still exists; 304 keeps
 * the note. Per-page errors are logged and counted, never fatal. When the
 * run is not limited by max_pages, notes (and state) of URLs that are no
 * longer listed are deleted. `stats` may be NULL. 0 or RT_E_*. */
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

/* Appends the <loc> URLs of sitemap `xml` that start with `prefix` to `urls`
 * (a NULL-terminated malloc'd array of malloc'd strings, *n entries; free
 * with rt_crawl_urls_free), de-duplicated and sorted bytewise. A
 * <sitemapindex> is RT_E_UNIMPLEMENTED (nested sitemaps are not followed). */
int rt_crawl_sitemap_urls (const char *xml, size_t len, const char *prefix, char ***urls,
                           size_t *n);
void rt_crawl_urls_free (char ***urls, size_t n);

#endif
