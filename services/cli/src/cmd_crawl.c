/* cmd_crawl.c — `copilot crawl`: ingests real documentation into a folder of
 * knowledge-base notes with rt_crawl_run (rt_crawl.h): sitemap or sitemap
 * index (gzip too) + URL prefix over libcurl, robots.txt obeyed (rules for
 * our agent or *, Crawl-delay as the minimum pause), a politeness delay
 * between requests, ETag/Last-Modified for incremental re-crawls. The
 * folder is then indexed with `copilot index --docs-dir DIR`. There is
 * deliberately no option to ignore robots.txt.
 *
 * Per-page lines go to stderr; the summary line goes to stdout. Exit 0 when
 * the sitemap was read (per-page failures are reported, not fatal), 1 when
 * the sitemap could not be fetched/parsed, robots.txt answered a server
 * error, or the folder cannot be written, 2 on a usage error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "rt.h"
#include "rt_crawl.h"
#include "str.h"

static void
s_help (FILE *out)
{
    fprintf (out,
             "usage: copilot crawl --sitemap URL --prefix URL --out DIR [options]\n"
             "\n"
             "Fetches every <loc> of the sitemap that starts with the prefix (sorted, de-duplicated),\n"
             "following sitemap indexes (nested, *.xml.gz too), one page at a time with a pause\n"
             "between requests. robots.txt is read once per host: pages it disallows for\n"
             "UsageCopilot-DocsCrawler (or *) are skipped and counted, its Crawl-delay is the\n"
             "minimum pause, and a server error on it stops the crawl. Converts the HTML to sectioned\n"
             "markdown notes (h1-h3 anchors kept, navigation and boilerplate dropped) and writes\n"
             "DIR/web-<page>.md. Re-crawls send If-None-Match / If-Modified-Since from\n"
             "DIR/.crawl-state; unchanged pages (304) are kept. Index the notes with\n"
             "'copilot index --docs-dir DIR' (notes need https:// sources).\n"
             "\n"
             "options:\n"
             "  --sitemap URL        sitemap.xml: a <urlset> or a <sitemapindex> (required)\n"
             "  --prefix URL         keep pages whose URL starts with this (required)\n"
             "  --out DIR            output folder, created if missing (required)\n"
             "  --delay-ms N         pause between requests in ms (default 750; a longer\n"
             "                       robots.txt Crawl-delay wins)\n"
             "  --max-sitemaps N     sitemap files read per run, nested ones included (default 200)\n"
             "  --sitemap-depth N    sitemap index levels followed (default 3)\n"
             "  --max-pages N        crawl at most N pages (default: all)\n"
             "  --timeout-ms N       per-request timeout (default 30000)\n"
             "  --quiet              no per-page lines on stderr\n"
             "  -h, --help           this text\n"
             "\n"
             "examples:\n"
             "  copilot crawl --sitemap https://docs.databricks.com/aws/en/sitemap.xml \\\n"
             "      --prefix https://docs.databricks.com/aws/en/compute/ --out data/docs-crawl\n"
             "  copilot index --db data/usage.db --docs-dir data/docs-crawl --out data/index\n");
}

int
cmd_crawl (int argc, char **argv)
{
    const char *sitemap = NULL, *prefix = NULL, *out = NULL, *delay = NULL, *max_pages = NULL,
               *timeout = NULL, *max_sitemaps = NULL, *depth = NULL;
    bool quiet = false;
    const cli_opt_t opts[] = {{"sitemap", &sitemap, NULL},     {"prefix", &prefix, NULL},
                              {"out", &out, NULL},             {"delay-ms", &delay, NULL},
                              {"max-pages", &max_pages, NULL}, {"timeout-ms", &timeout, NULL},
                              {"max-sitemaps", &max_sitemaps, NULL},
                              {"sitemap-depth", &depth, NULL},
                              {"quiet", NULL, &quiet},         {NULL, NULL, NULL}};
    int npos = 0;
    int prc = cli_parse ("crawl", argc, argv, 1, opts, NULL, 0, &npos);
    if (prc == 1) {
        s_help (stdout);
        return CLI_OK;
    }
    if (prc != 0)
        return prc;
    if (!sitemap || !prefix || !out) {
        fprintf (stderr, "copilot crawl: --sitemap, --prefix and --out are required\n");
        return CLI_USAGE;
    }
    rt_crawl_opts_t o = {.sitemap_url = sitemap, .prefix = prefix, .out_dir = out, .delay_ms = 750,
                         .log = quiet ? NULL : stderr};
    if (delay && str_to_int (delay, 0, 600000, &o.delay_ms) != 0) {
        fprintf (stderr, "copilot crawl: --delay-ms wants 0..600000, got '%s'\n", delay);
        return CLI_USAGE;
    }
    if (max_pages && str_to_int (max_pages, 1, 1000000, &o.max_pages) != 0) {
        fprintf (stderr, "copilot crawl: --max-pages wants a positive number, got '%s'\n", max_pages);
        return CLI_USAGE;
    }
    if (timeout && str_to_int (timeout, 100, 600000, &o.timeout_ms) != 0) {
        fprintf (stderr, "copilot crawl: --timeout-ms wants 100..600000, got '%s'\n", timeout);
        return CLI_USAGE;
    }
    if (max_sitemaps && str_to_int (max_sitemaps, 1, 100000, &o.max_sitemaps) != 0) {
        fprintf (stderr, "copilot crawl: --max-sitemaps wants 1..100000, got '%s'\n", max_sitemaps);
        return CLI_USAGE;
    }
    if (depth && str_to_int (depth, 1, 10, &o.max_sitemap_depth) != 0) {
        fprintf (stderr, "copilot crawl: --sitemap-depth wants 1..10, got '%s'\n", depth);
        return CLI_USAGE;
    }
    rt_crawl_stats_t st = {0};
    int rc = rt_crawl_run (&o, &st);
    if (rc != RT_OK)
        return cli_error ("crawl", "%s", rt_last_error ()[0] ? rt_last_error () : rt_strerror (rc));
    printf ("crawl %s: %zu listed, %zu fetched, %zu unchanged, %zu skipped, %zu failed, "
            "%zu disallowed by robots.txt, %zu removed (%zu sitemaps read, %zu not read; "
            "%zu requests, crawl-delay %d ms, %.1f s)\n",
            out, st.listed, st.fetched, st.unchanged, st.skipped, st.failed, st.disallowed, st.removed,
            st.sitemaps, st.sitemaps_failed, st.requests, st.crawl_delay_ms, st.seconds);
    return CLI_OK;
}
