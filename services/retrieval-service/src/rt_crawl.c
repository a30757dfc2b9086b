/* rt_crawl.c — the documentation crawler (seed §5.3, done properly).
 *
 * Flow: read the sitemap tree breadth-first (a <sitemapindex> lists child
 * sitemaps; children are sorted, visited once, bounded in depth and count;
 * a gzip body is inflated with zlib into a capped buffer), keep the page
 * <loc> URLs under the prefix (sorted, de-duplicated, so runs are
 * deterministic), then fetch each page with one reused libcurl handle,
 * waiting max(delay_ms, the host's Crawl-delay) between the end of one
 * request and the start of the next (politeness). A child sitemap that
 * cannot be read makes the run incomplete: pages missing from the list are
 * then not treated as removed.
 *
 * robots.txt (RFC 9309): fetched once per origin before the first request
 * to it and kept for the run. Group selection: every group naming our
 * product token, else every `*` group; rules are (pattern, allow) pairs
 * matched on path+query with `*` and a final `$`, the longest pattern
 * winning and Allow winning ties — an iterative matcher with single-star
 * backtracking, so hostile patterns cannot recurse. 4xx means no rules;
 * 5xx or an unreachable robots.txt stops the crawl (RFC 9309 §2.3.1.3-4:
 * treat as complete disallow) with an error naming the URL. Paths and
 * patterns are compared byte-wise, without percent-decoding either side.
 *
 * Every transfer has a total and a connect timeout, NOSIGNAL (we run
 * inside threaded processes), a body cap (the write callback refuses past
 * it and CURLOPT_MAXFILESIZE rejects early),
 * http/https only, at most 5 redirects, and a User-Agent naming the product.
 *
 * HTML to text is a small forgiving tokenizer, not a DOM: tags are read with
 * quoted attributes (only `id` is kept), comments/doctype are skipped,
 * raw-text elements (script, style) are skipped to their close tag and the
 * other dropped elements (noscript, template, header, footer, nav, aside,
 * svg) by counting nested tags of the same name. Only the content of <main>
 * (else <body>) is converted. Block elements end a line; h1-h3 become
 * markdown headings carrying their id as "{#id}" — the anchor format
 * rt_docs_parse_note reads — so chunks cite https://...page#anchor. Docs
 * boilerplate ("On this page", "Last updated on ...") is dropped line-wise.
 *
 * Incremental updates: out_dir/.crawl-state is a TSV (url, file, etag,
 * last-modified) sorted by url and replaced atomically (temp + rename) after
 * the run; conditional headers are only sent when the note file still
 * exists, so deleting a note forces a refetch. Notes are written to a temp
 * file and renamed, so a crash never leaves half a note for the indexer.
 */
#include "rt_crawl.h"

#include "clock.h"
#include "rt_internal.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#ifdef RT_HAVE_ZLIB
#include <zlib.h>
#endif

#define RT_CRAWL_UA "UsageCopilot-DocsCrawler/" COPILOT_VERSION " (+https://github.com/usage-copilot; polite, sitemap-driven)"
#define RT_CRAWL_STATE ".crawl-state"
#define RT_CRAWL_MAX_NOTE (16u << 20)

/* ======================================================================== */
/* small helpers                                                             */

static bool
s_ws (char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static char
s_lower (char c)
{
    return (c >= 'A' && c <= 'Z') ? (char) (c - 'A' + 'a') : c;
}

/* Case-insensitive search of `needle` in s[from, len); returns index or len. */
static size_t
s_ifind (const char *s, size_t len, size_t from, const char *needle)
{
    size_t nl = strlen (needle);
    if (nl == 0 || len < nl)
        return len;
    for (size_t i = from; i + nl <= len; i++) {
        size_t k = 0;
        while (k < nl && s_lower (s[i + k]) == needle[k])
            k++;
        if (k == nl)
            return i;
    }
    return len;
}

/* Finds an opening tag "<name" followed by whitespace, '>' or '/'. Returns
 * the index of '<' or len. */
static size_t
s_find_tag (const char *s, size_t len, size_t from, const char *name)
{
    char needle[32];
    str_fmt (needle, sizeof needle, "<%s", name);
    size_t nl = strlen (needle);
    for (size_t p = from;; p++) {
        p = s_ifind (s, len, p, needle);
        if (p >= len)
            return len;
        if (p + nl < len && (s_ws (s[p + nl]) || s[p + nl] == '>' || s[p + nl] == '/'))
            return p;
    }
}

static size_t
s_tag_end (const char *s, size_t len, size_t from)
{
    char q = 0;
    for (size_t p = from; p < len; p++) {
        if (q) {
            if (s[p] == q)
                q = 0;
        } else if (s[p] == '"' || s[p] == '\'') {
            q = s[p];
        } else if (s[p] == '>') {
            return p;
        }
    }
    return len;
}

static int
s_put_utf8 (buf_t *b, uint32_t cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char) cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char) (0xC0 | (cp >> 6));
        u[1] = (char) (0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char) (0xE0 | (cp >> 12));
        u[1] = (char) (0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char) (0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (char) (0xF0 | (cp >> 18));
        u[1] = (char) (0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char) (0x80 | ((cp >> 6) & 0x3F));
        u[3] = (char) (0x80 | (cp & 0x3F));
        n = 4;
    }
    return buf_append (b, u, n);
}

static const struct {
    const char *name;
    uint32_t cp;
} s_entities[] = {
    {"amp", '&'},       {"lt", '<'},        {"gt", '>'},         {"quot", '"'},
    {"apos", '\''},     {"nbsp", ' '},      {"mdash", 0x2014},   {"ndash", 0x2013},
    {"hellip", 0x2026}, {"rsquo", 0x2019},  {"lsquo", 0x2018},   {"ldquo", 0x201C},
    {"rdquo", 0x201D},  {"copy", 0xA9},     {"reg", 0xAE},       {"trade", 0x2122},
    {"bull", 0x2022},   {"middot", 0xB7},   {"laquo", 0xAB},     {"raquo", 0xBB},
    {"times", 0xD7},    {"rarr", 0x2192},   {"larr", 0x2190},    {"zwj", 0x200D},
    {"zwnj", 0x200C},   {NULL, 0},
};

/* Decodes the entity at s[p] == '&'. Returns bytes consumed (0 = not an
 * entity) and the code point. */
static size_t
s_entity (const char *s, size_t len, size_t p, uint32_t *cp)
{
    size_t semi = p + 1;
    while (semi < len && semi < p + 12 && s[semi] != ';' && s[semi] != '&' && !s_ws (s[semi]))
        semi++;
    if (semi >= len || s[semi] != ';' || semi == p + 1)
        return 0;
    const char *e = s + p + 1;
    size_t el = semi - p - 1;
    if (e[0] == '#') {
        uint32_t v = 0;
        bool hex = el > 1 && (e[1] == 'x' || e[1] == 'X');
        size_t i = hex ? 2 : 1;
        if (i >= el)
            return 0;
        for (; i < el; i++) {
            char c = e[i];
            uint32_t d;
            if (c >= '0' && c <= '9')
                d = (uint32_t) (c - '0');
            else if (hex && s_lower (c) >= 'a' && s_lower (c) <= 'f')
                d = (uint32_t) (s_lower (c) - 'a' + 10);
            else
                return 0;
            v = v * (hex ? 16u : 10u) + d;
            if (v > 0x10FFFF)
                return 0;
        }
        if (v == 0 || (v >= 0xD800 && v <= 0xDFFF))
            v = 0xFFFD;
        *cp = v;
        return el + 2;
    }
    for (size_t i = 0; s_entities[i].name; i++)
        if (strlen (s_entities[i].name) == el && memcmp (s_entities[i].name, e, el) == 0) {
            *cp = s_entities[i].cp;
            return el + 2;
        }
    return 0;
}

/* ======================================================================== */
/* HTML -> note                                                              */

typedef struct {
    buf_t *out;       /* body markdown */
    buf_t *line;      /* current text line */
    buf_t *head;      /* current heading text (h1-h3) */
    int hlevel;       /* 0 = not in a heading */
    char hid[160];
    int pre;          /* depth of <pre> */
    bool blank;       /* a paragraph ended: blank line before the next line */
    size_t chars;
    int rc;
} s_conv_t;

static bool
s_boilerplate (const char *l, size_t n)
{
    static const char *const exact[] = {"on this page", "edit this page", "skip to main content",
                                        "was this article helpful?", "copy", "copy code", NULL};
    for (size_t i = 0; exact[i]; i++) {
        size_t el = strlen (exact[i]);
        if (n == el && s_ifind (l, n, 0, exact[i]) == 0)
            return true;
    }
    return n >= 12 && s_ifind (l, 12, 0, "last updated") == 0;
}

/* Number of UTF-8 characters in l[0, n). */
static size_t
s_utf8_chars (const char *l, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char) l[i] & 0xC0) != 0x80)
            c++;
    return c;
}

static void
s_flush_line (s_conv_t *cx)
{
    const char *l = buf_data (cx->line);
    size_t a = 0, b = buf_len (cx->line);
    while (b > a && s_ws (l[b - 1]))
        b--;
    while (a < b && s_ws (l[a]) && !cx->pre) /* code keeps its indentation */
        a++;
    if (b > a && s_utf8_chars (l + a, b - a) > 1 && !s_boilerplate (l + a, b - a) && cx->rc == 0) {
        if (cx->blank && buf_len (cx->out) > 0)
            cx->rc = buf_puts (cx->out, "\n");
        if (cx->rc == 0 && l[a] == '#')
            cx->rc = buf_puts (cx->out, "\\");
        if (cx->rc == 0)
            cx->rc = buf_append (cx->out, l + a, b - a);
        if (cx->rc == 0)
            cx->rc = buf_puts (cx->out, "\n");
        cx->chars += b - a;
        cx->blank = false;
    }
    buf_reset (cx->line);
}

/* Appends text (already decoded) with whitespace collapsed outside <pre>. */
static void
s_text (s_conv_t *cx, const char *s, size_t n)
{
    buf_t *b = cx->hlevel ? cx->head : cx->line;
    for (size_t i = 0; i < n && cx->rc == 0; i++) {
        char c = s[i];
        if (cx->pre && !cx->hlevel) {
            if (c == '\n') {
                bool keep = cx->blank;
                s_flush_line (cx);
                cx->blank = keep && buf_len (cx->out) == 0;
                continue;
            }
            if (c == '\r')
                continue;
            cx->rc = buf_append (b, &c, 1);
            continue;
        }
        if (s_ws (c)) {
            size_t bl = buf_len (b);
            if (bl > 0 && buf_data (b)[bl - 1] != ' ')
                cx->rc = buf_append (b, " ", 1);
            continue;
        }
        cx->rc = buf_append (b, &c, 1);
    }
}

/* Decodes entities in s[0, n) and feeds the text. */
static void
s_text_decoded (s_conv_t *cx, const char *s, size_t n)
{
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '&')
            continue;
        uint32_t cp = 0;
        size_t used = s_entity (s, n, i, &cp);
        if (!used)
            continue;
        s_text (cx, s + run, i - run);
        if (cp == 0x200B || cp == 0x200C || cp == 0x200D || cp == 0xFEFF) {
            /* zero-width: dropped */
        } else if (cp == 0xA0 || cp == ' ') {
            s_text (cx, " ", 1);
        } else {
            buf_t *tmp = buf_new (8);
            if (!tmp) {
                cx->rc = BUF_E_NOMEM;
                return;
            }
            s_put_utf8 (tmp, cp);
            s_text (cx, buf_data (tmp), buf_len (tmp));
            buf_destroy (&tmp);
        }
        i += used - 1;
        run = i + 1;
    }
    if (run < n)
        s_text (cx, s + run, n - run);
}

static bool
s_in (const char *name, const char *const *set)
{
    for (size_t i = 0; set[i]; i++)
        if (strcmp (name, set[i]) == 0)
            return true;
    return false;
}

static const char *const s_drop_tags[] = {"script", "style", "noscript", "template", "header",
                                          "footer", "nav", "aside", "svg", "button", NULL};
static const char *const s_block_tags[] = {
    "p", "div", "ul", "ol", "h4", "h5", "h6", "table", "section", "article", "pre",
    "blockquote", "dl", "figure", "figcaption", "hr", "main", "body", "details", "summary", NULL};
static const char *const s_line_tags[] = {"li", "br", "tr", "dt", "dd", NULL};

/* Keeps [A-Za-z0-9_.:-] of an id (the anchor must survive "{#...}"). */
static void
s_clean_id (const char *s, size_t n, char *out, size_t size)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 1 < size; i++) {
        char c = s[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
            c == '_' || c == '.' || c == ':')
            out[o++] = c;
    }
    out[o] = '\0';
}

/* Reads the id attribute of the tag whose attributes span s[a, b). */
static void
s_attr_id (const char *s, size_t a, size_t b, char *out, size_t size)
{
    out[0] = '\0';
    size_t p = a;
    while (p < b) {
        while (p < b && (s_ws (s[p]) || s[p] == '/'))
            p++;
        size_t ns = p;
        while (p < b && !s_ws (s[p]) && s[p] != '=' && s[p] != '/')
            p++;
        size_t ne = p;
        while (p < b && s_ws (s[p]))
            p++;
        size_t vs = p, ve = p;
        if (p < b && s[p] == '=') {
            p++;
            while (p < b && s_ws (s[p]))
                p++;
            if (p < b && (s[p] == '"' || s[p] == '\'')) {
                char q = s[p++];
                vs = p;
                while (p < b && s[p] != q)
                    p++;
                ve = p;
                if (p < b)
                    p++;
            } else {
                vs = p;
                while (p < b && !s_ws (s[p]))
                    p++;
                ve = p;
            }
        }
        if (ne == ns) {
            if (p == ns)
                p++;
            continue;
        }
        if (ne - ns == 2 && s_lower (s[ns]) == 'i' && s_lower (s[ns + 1]) == 'd') {
            s_clean_id (s + vs, ve - vs, out, size);
            return;
        }
    }
}

static void
s_heading_end (s_conv_t *cx)
{
    const char *h = buf_data (cx->head);
    size_t a = 0, b = buf_len (cx->head);
    while (a < b && s_ws (h[a]))
        a++;
    while (b > a && s_ws (h[b - 1]))
        b--;
    /* Docusaurus appends a "#" permalink; drop a trailing lone '#'. */
    while (b > a && (h[b - 1] == '#' || s_ws (h[b - 1])))
        b--;
    if (b > a && cx->rc == 0) {
        if (buf_len (cx->out) > 0)
            cx->rc = buf_puts (cx->out, "\n");
        if (cx->rc == 0)
            cx->rc = buf_printf (cx->out, "%.*s %.*s", cx->hlevel, "###", (int) (b - a), h + a);
        if (cx->rc == 0 && cx->hid[0])
            cx->rc = buf_printf (cx->out, " {#%s}", cx->hid);
        if (cx->rc == 0)
            cx->rc = buf_puts (cx->out, "\n");
        cx->blank = true;
    }
    buf_reset (cx->head);
    cx->hlevel = 0;
    cx->hid[0] = '\0';
}

/* Converts html[a, b) into cx->out. */
static void
s_convert (s_conv_t *cx, const char *s, size_t a, size_t b)
{
    size_t p = a, text = a;
    while (p < b && cx->rc == 0) {
        if (s[p] != '<') {
            p++;
            continue;
        }
        /* comment / doctype / processing instruction */
        if (p + 1 < b && (s[p + 1] == '!' || s[p + 1] == '?')) {
            s_text_decoded (cx, s + text, p - text);
            size_t e;
            if (p + 3 < b && s[p + 2] == '-' && s[p + 3] == '-') {
                e = s_ifind (s, b, p + 4, "-->");
                e = e < b ? e + 3 : b;
            } else {
                e = s_tag_end (s, b, p);
                e = e < b ? e + 1 : b;
            }
            p = text = e;
            continue;
        }
        bool closing = p + 1 < b && s[p + 1] == '/';
        size_t ns = p + (closing ? 2 : 1), ne = ns;
        while (ne < b && ((s[ne] >= 'a' && s[ne] <= 'z') || (s[ne] >= 'A' && s[ne] <= 'Z') ||
                          (ne > ns && s[ne] >= '0' && s[ne] <= '9')))
            ne++;
        if (ne == ns || ne - ns >= 16) {
            p++; /* a literal '<' */
            continue;
        }
        s_text_decoded (cx, s + text, p - text);
        char name[16];
        for (size_t i = 0; i < ne - ns; i++)
            name[i] = s_lower (s[ns + i]);
        name[ne - ns] = '\0';
        size_t te = s_tag_end (s, b, ne);
        size_t next = te < b ? te + 1 : b;
        bool self_close = te < b && te > ne && s[te - 1] == '/';

        if (!closing && s_in (name, s_drop_tags) && !self_close) {
            if (strcmp (name, "script") == 0 || strcmp (name, "style") == 0) {
                char close[16];
                str_fmt (close, sizeof close, "</%s", name);
                size_t e = s_ifind (s, b, next, close);
                e = e < b ? s_tag_end (s, b, e) : b;
                p = text = e < b ? e + 1 : b;
                continue;
            }
            int depth = 1;
            size_t q = next;
            while (q < b && depth > 0) {
                size_t o = s_find_tag (s, b, q, name);
                char close[16];
                str_fmt (close, sizeof close, "</%s", name);
                size_t c = s_ifind (s, b, q, close);
                if (c >= b) {
                    q = b;
                    break;
                }
                if (o < c) {
                    depth++;
                    q = o + 1;
                } else {
                    depth--;
                    size_t ce = s_tag_end (s, b, c);
                    q = ce < b ? ce + 1 : b;
                }
            }
            p = text = q;
            continue;
        }

        bool hx = name[0] == 'h' && name[1] >= '1' && name[1] <= '3' && name[2] == '\0';
        if (hx) {
            if (!closing) {
                s_flush_line (cx);
                cx->blank = true;
                if (cx->hlevel)
                    s_heading_end (cx);
                cx->hlevel = name[1] - '0';
                s_attr_id (s, ne, te < b ? te : b, cx->hid, sizeof cx->hid);
            } else if (cx->hlevel) {
                s_heading_end (cx);
            }
        } else if (cx->hlevel && !closing && !cx->hid[0]) {
            /* an id on an element inside the heading (anchor links) */
            s_attr_id (s, ne, te < b ? te : b, cx->hid, sizeof cx->hid);
        } else if (strcmp (name, "pre") == 0) {
            s_flush_line (cx);
            cx->blank = true;
            cx->pre += closing ? (cx->pre > 0 ? -1 : 0) : 1;
        } else if (s_in (name, s_block_tags)) {
            s_flush_line (cx);
            cx->blank = true;
        } else if (s_in (name, s_line_tags)) {
            s_flush_line (cx);
            if (!closing && strcmp (name, "li") == 0)
                s_text (cx, "- ", 2);
        } else if (strcmp (name, "td") == 0 || strcmp (name, "th") == 0) {
            s_text (cx, " ", 1);
        }
        p = text = next;
    }
    s_text_decoded (cx, s + text, (p < b ? p : b) - text);
    if (cx->hlevel)
        s_heading_end (cx);
    s_flush_line (cx);
}

/* Title text: decoded, whitespace collapsed, one line. */
static int
s_title (const char *s, size_t len, char *out, size_t size)
{
    out[0] = '\0';
    size_t t = s_find_tag (s, len, 0, "title");
    if (t >= len)
        return 0;
    size_t te = s_tag_end (s, len, t);
    if (te >= len)
        return 0;
    size_t e = s_ifind (s, len, te + 1, "</title");
    s_conv_t cx = {0};
    cx.line = buf_new (size);
    cx.out = buf_new (size);
    cx.head = buf_new (size);
    if (!cx.line || !cx.out || !cx.head) {
        buf_destroy (&cx.line);
        buf_destroy (&cx.out);
        buf_destroy (&cx.head);
        return RT_E_NOMEM;
    }
    s_text_decoded (&cx, s + te + 1, e - te - 1); /* too long titles are cut by the cap */
    str_copy (out, size, buf_data (cx.line));
    str_trim (out);
    buf_destroy (&cx.line);
    buf_destroy (&cx.out);
    buf_destroy (&cx.head);
    return 0;
}

int
rt_crawl_html_to_note (const char *html, size_t len, const char *url, buf_t *out, size_t *text_chars)
{
    if (!html || !url || !out)
        return rt__fail (RT_E_ARG, "rt_crawl_html_to_note: NULL argument");
    size_t a = 0, b = len;
    size_t m = s_find_tag (html, len, 0, "main");
    if (m < len) {
        size_t me = s_tag_end (html, len, m);
        a = me < len ? me + 1 : len;
        size_t last = len, q = a;
        for (;;) {
            size_t c = s_ifind (html, len, q, "</main");
            if (c >= len)
                break;
            last = c;
            q = c + 1;
        }
        b = last;
    } else {
        size_t bd = s_find_tag (html, len, 0, "body");
        if (bd < len) {
            size_t be = s_tag_end (html, len, bd);
            a = be < len ? be + 1 : len;
            size_t c = s_ifind (html, len, a, "</body");
            b = c;
        }
    }
    s_conv_t cx = {0};
    cx.out = buf_new (RT_CRAWL_MAX_NOTE);
    cx.line = buf_new (1u << 20);
    cx.head = buf_new (4096);
    char title[512];
    int rc = RT_OK;
    if (!cx.out || !cx.line || !cx.head || s_title (html, len, title, sizeof title) != 0) {
        rc = rt__fail (RT_E_NOMEM, "out of memory");
        goto done;
    }
    s_convert (&cx, html, a, b);
    if (cx.rc != 0) {
        rc = cx.rc == BUF_E_TOOBIG ? rt__fail (RT_E_TOOBIG, "page text of %s is too large", url)
                                   : rt__fail (RT_E_NOMEM, "out of memory");
        goto done;
    }
    const char *body = buf_data (cx.out);
    if (!title[0]) {
        /* first h1 of the body */
        const char *h = strstr (body, "# ");
        if (h && (h == body || h[-1] == '\n')) {
            const char *e = strchr (h, '\n');
            size_t hl = e ? (size_t) (e - h - 2) : strlen (h + 2);
            const char *brace = memchr (h + 2, '{', hl);
            if (brace)
                hl = (size_t) (brace - h - 2);
            str_fmt (title, sizeof title, "%.*s", (int) hl, h + 2);
            str_trim (title);
        }
    }
    if (!title[0])
        str_copy (title, sizeof title, url);
    if (buf_printf (out, "---\ntitle: %s\nsource: %s\ntopic: crawled\n---\n\n%s", title, url, body) !=
        0)
        rc = rt__fail (RT_E_TOOBIG, "note for %s does not fit", url);
    if (text_chars)
        *text_chars = cx.chars;
done:
    buf_destroy (&cx.out);
    buf_destroy (&cx.line);
    buf_destroy (&cx.head);
    return rc;
}

/* ======================================================================== */
/* sitemap                                                                   */

static int
s_url_cmp (const void *a, const void *b)
{
    return strcmp (*(char *const *) a, *(char *const *) b);
}

void
rt_crawl_urls_free (char ***urls, size_t n)
{
    if (!urls || !*urls)
        return;
    for (size_t i = 0; i < n; i++)
        free ((*urls)[i]);
    free (*urls);
    *urls = NULL;
}

int
rt_crawl_sitemap_urls (const char *xml, size_t len, const char *prefix, char ***urls, size_t *n,
                       bool *is_index)
{
    if (!xml || !prefix || !urls || !n)
        return rt__fail (RT_E_ARG, "rt_crawl_sitemap_urls: NULL argument");
    *urls = NULL;
    *n = 0;
    size_t si = s_ifind (xml, len, 0, "<sitemapindex"), us = s_ifind (xml, len, 0, "<urlset");
    bool index = si < us; /* whichever root element comes first */
    if (is_index)
        *is_index = index;
    if (index && !is_index)
        return rt__fail (RT_E_FORMAT, "the sitemap is a <sitemapindex>, a <urlset> was expected");
    if (!index && us >= len)
        return rt__fail (RT_E_FORMAT, "not a sitemap: no <urlset> or <sitemapindex> element");
    rt_strv_t sv = {0};
    size_t p = 0;
    int rc = RT_OK;
    s_conv_t cx = {0};
    cx.line = buf_new (8192);
    cx.head = buf_new (16);
    cx.out = buf_new (16);
    if (!cx.line || !cx.head || !cx.out) {
        rc = rt__fail (RT_E_NOMEM, "out of memory");
        goto done;
    }
    for (;;) {
        size_t l = s_ifind (xml, len, p, "<loc>");
        if (l >= len)
            break;
        size_t vs = l + 5, ve = s_ifind (xml, len, vs, "</loc>");
        if (ve >= len)
            break;
        p = ve + 6;
        size_t a = vs, b = ve;
        if (b - a > 12 && memcmp (xml + a, "<![CDATA[", 9) == 0 && memcmp (xml + b - 3, "]]>", 3) == 0) {
            a += 9;
            b -= 3;
        }
        buf_reset (cx.line);
        cx.rc = 0;
        s_text_decoded (&cx, xml + a, b - a);
        if (cx.rc != 0)
            continue; /* an absurdly long URL */
        char *u = str_dup (buf_data (cx.line));
        if (!u) {
            rc = rt__fail (RT_E_NOMEM, "out of memory");
            goto done;
        }
        str_trim (u);
        bool keep = (index || str_starts_with (u, prefix)) &&
                    (str_starts_with (u, "https://") || str_starts_with (u, "http://"));
        if (keep)
            rc = rt__strv_push (&sv, u);
        free (u);
        if (rc < 0)
            goto done;
    }
    if (sv.n > 1)
        qsort (sv.v, sv.n, sizeof *sv.v, s_url_cmp);
    size_t w = 0;
    for (size_t i = 0; i < sv.n; i++) {
        if (w > 0 && strcmp (sv.v[w - 1], sv.v[i]) == 0) {
            free (sv.v[i]);
            continue;
        }
        sv.v[w++] = sv.v[i];
    }
    sv.n = w;
    char **arr = calloc (sv.n + 1, sizeof *arr);
    if (!arr) {
        rc = rt__fail (RT_E_NOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < sv.n; i++)
        arr[i] = sv.v[i];
    *urls = arr;
    *n = sv.n;
    free (sv.v);
    sv.v = NULL;
    sv.n = 0;
done:
    rt__strv_free (&sv);
    buf_destroy (&cx.line);
    buf_destroy (&cx.head);
    buf_destroy (&cx.out);
    return rc;
}

/* ======================================================================== */
/* robots.txt (RFC 9309)                                                     */

typedef struct {
    char *pat;   /* path pattern: '*' any run, a final '$' anchors the end */
    size_t len;
    bool allow;
} s_rule_t;

struct _rt_robots_t {
    s_rule_t *v;
    size_t n, cap;
    int delay_ms;
};

static int
s_rule_push (rt_robots_t *r, const char *pat, size_t len, bool allow)
{
    if (r->n == r->cap) {
        size_t nc = r->cap ? r->cap * 2 : 16;
        s_rule_t *nv = realloc (r->v, nc * sizeof *nv);
        if (!nv)
            return RT_E_NOMEM;
        r->v = nv;
        r->cap = nc;
    }
    char *c = str_ndup (pat, len);
    if (!c)
        return RT_E_NOMEM;
    r->v[r->n++] = (s_rule_t){c, len, allow};
    return RT_OK;
}

rt_robots_t *
rt_robots_allow_all (void)
{
    return calloc (1, sizeof (rt_robots_t));
}

void
rt_robots_destroy (rt_robots_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rt_robots_t *r = *self_p;
    for (size_t i = 0; i < r->n; i++)
        free (r->v[i].pat);
    free (r->v);
    free (r);
    *self_p = NULL;
}

/* True when the User-agent value names `agent`: the product token before
 * any "/version" or blank, compared case-insensitively. */
static bool
s_agent_match (const char *v, size_t vl, const char *agent)
{
    size_t tl = 0;
    while (tl < vl && v[tl] != '/' && !s_ws (v[tl]))
        tl++;
    size_t al = strlen (agent);
    if (tl != al)
        return false;
    for (size_t i = 0; i < al; i++)
        if (s_lower (v[i]) != s_lower (agent[i]))
            return false;
    return true;
}

static bool
s_key_is (const char *k, size_t kl, const char *name)
{
    return kl == strlen (name) && s_ifind (k, kl, 0, name) == 0;
}

rt_robots_t *
rt_robots_parse (const char *text, size_t len, const char *agent)
{
    rt_robots_t *mine = rt_robots_allow_all (), *star = rt_robots_allow_all ();
    if (!mine || !star || !agent) {
        rt_robots_destroy (&mine);
        rt_robots_destroy (&star);
        return NULL;
    }
    bool any_mine = false, any_star = false;
    bool in_agents = false, g_mine = false, g_star = false;
    int rc = RT_OK;
    size_t p = 0;
    if (len >= 3 && memcmp (text, "\xEF\xBB\xBF", 3) == 0)
        p = 3; /* UTF-8 byte order mark */
    while (p < len && rc == RT_OK) {
        size_t e = p;
        while (e < len && text[e] != '\n' && text[e] != '\r')
            e++;
        size_t a = p, b = e;
        p = e + 1;
        for (size_t i = a; i < b; i++)
            if (text[i] == '#') {
                b = i;
                break;
            }
        while (a < b && s_ws (text[a]))
            a++;
        while (b > a && s_ws (text[b - 1]))
            b--;
        const char *colon = a < b ? memchr (text + a, ':', b - a) : NULL;
        if (!colon)
            continue; /* blank or malformed line: ignored */
        size_t ke = (size_t) (colon - text), vs = ke + 1;
        while (ke > a && s_ws (text[ke - 1]))
            ke--;
        while (vs < b && s_ws (text[vs]))
            vs++;
        const char *k = text + a, *v = text + vs;
        size_t kl = ke - a, vl = b - vs;
        if (s_key_is (k, kl, "user-agent")) {
            if (!in_agents)
                g_mine = g_star = false; /* a new group starts */
            in_agents = true;
            if (vl == 1 && v[0] == '*') {
                g_star = true;
                any_star = true;
            } else if (s_agent_match (v, vl, agent)) {
                g_mine = true;
                any_mine = true;
            }
            continue;
        }
        bool allow = s_key_is (k, kl, "allow"), disallow = s_key_is (k, kl, "disallow"),
             delay = s_key_is (k, kl, "crawl-delay");
        if (!allow && !disallow && !delay)
            continue; /* sitemap: and unknown records do not end a group */
        in_agents = false;
        if (!g_mine && !g_star)
            continue;
        rt_robots_t *tg[2] = {g_mine ? mine : NULL, g_star ? star : NULL};
        for (int t = 0; t < 2 && rc == RT_OK; t++) {
            if (!tg[t])
                continue;
            if (delay) {
                char num[32];
                if (vl == 0 || vl >= sizeof num)
                    continue;
                memcpy (num, v, vl);
                num[vl] = '\0';
                char *end = NULL;
                double sec = strtod (num, &end);
                if (end == num || *end != '\0' || !(sec >= 0))
                    continue;
                if (sec > 3600)
                    sec = 3600;
                int ms = (int) (sec * 1000.0 + 0.5);
                if (ms > tg[t]->delay_ms)
                    tg[t]->delay_ms = ms;
            } else if (vl > 0) { /* "Disallow:" with no path allows everything: no rule */
                rc = s_rule_push (tg[t], v, vl, allow);
            }
        }
    }
    if (rc != RT_OK) {
        rt_robots_destroy (&mine);
        rt_robots_destroy (&star);
        return NULL;
    }
    if (any_mine) {
        rt_robots_destroy (&star);
        return mine;
    }
    rt_robots_destroy (&mine);
    if (!any_star) {
        /* no group applies: allowed, no delay */
        for (size_t i = 0; i < star->n; i++)
            free (star->v[i].pat);
        star->n = 0;
        star->delay_ms = 0;
    }
    return star;
}

/* Matches pattern pat[0, plen) against the start of `path` ('*' matches any
 * run of bytes, a final '$' requires the path to end there). Iterative, with
 * backtracking to the last '*' only: linear in practice, never recursive. */
static bool
s_robots_match (const char *pat, size_t plen, const char *path)
{
    bool anchored = plen > 0 && pat[plen - 1] == '$';
    if (anchored)
        plen--;
    size_t tl = strlen (path);
    size_t pi = 0, ti = 0, star = (size_t) -1, mark = 0;
    for (;;) {
        if (pi == plen) {
            if (!anchored || ti == tl)
                return true;
        } else if (pat[pi] == '*') {
            star = pi++;
            mark = ti;
            continue;
        } else if (ti < tl && pat[pi] == path[ti]) {
            pi++;
            ti++;
            continue;
        }
        if (star != (size_t) -1 && mark < tl) {
            pi = star + 1;
            ti = ++mark;
            continue;
        }
        return false;
    }
}

bool
rt_robots_allowed (const rt_robots_t *self, const char *path)
{
    if (!self || !path)
        return true;
    if (strcmp (path, "/robots.txt") == 0)
        return true;
    size_t best = 0;
    bool found = false, allow = true;
    for (size_t i = 0; i < self->n; i++) {
        const s_rule_t *r = &self->v[i];
        if (!s_robots_match (r->pat, r->len, path))
            continue;
        /* the longest pattern wins; on a tie the least restrictive (Allow) */
        if (!found || r->len > best || (r->len == best && r->allow && !allow)) {
            best = r->len;
            allow = r->allow;
            found = true;
        }
    }
    return allow;
}

int
rt_robots_crawl_delay_ms (const rt_robots_t *self)
{
    return self ? self->delay_ms : 0;
}

/* ======================================================================== */
/* state file                                                                */

typedef struct {
    char *url, *file, *etag, *lm;
} s_entry_t;

typedef struct {
    s_entry_t *v;
    size_t n, cap;
} s_state_t;

static void
s_state_free (s_state_t *st)
{
    for (size_t i = 0; i < st->n; i++) {
        free (st->v[i].url);
        free (st->v[i].file);
        free (st->v[i].etag);
        free (st->v[i].lm);
    }
    free (st->v);
    memset (st, 0, sizeof *st);
}

static s_entry_t *
s_state_find (s_state_t *st, const char *url)
{
    for (size_t i = 0; i < st->n; i++)
        if (strcmp (st->v[i].url, url) == 0)
            return &st->v[i];
    return NULL;
}

/* Field without tabs or line ends (they would break the TSV). */
static char *
s_field (const char *s, size_t n)
{
    char *f = str_ndup (s, n);
    if (f)
        for (char *c = f; *c; c++)
            if (*c == '\t' || *c == '\n' || *c == '\r')
                *c = ' ';
    return f;
}

static int
s_state_set (s_state_t *st, const char *url, const char *file, const char *etag, const char *lm)
{
    s_entry_t *e = s_state_find (st, url);
    if (!e) {
        if (st->n == st->cap) {
            size_t nc = st->cap ? st->cap * 2 : 32;
            s_entry_t *nv = realloc (st->v, nc * sizeof *nv);
            if (!nv)
                return RT_E_NOMEM;
            st->v = nv;
            st->cap = nc;
        }
        e = &st->v[st->n++];
        memset (e, 0, sizeof *e);
        e->url = s_field (url, strlen (url));
        if (!e->url) {
            st->n--;
            return RT_E_NOMEM;
        }
    }
    char *f = s_field (file, strlen (file)), *et = s_field (etag, strlen (etag)),
         *l = s_field (lm, strlen (lm));
    if (!f || !et || !l) {
        free (f);
        free (et);
        free (l);
        return RT_E_NOMEM;
    }
    free (e->file);
    free (e->etag);
    free (e->lm);
    e->file = f;
    e->etag = et;
    e->lm = l;
    return RT_OK;
}

static int
s_state_load (const char *path, s_state_t *st)
{
    char *data = NULL;
    size_t len = 0;
    struct stat sb;
    if (stat (path, &sb) != 0)
        return RT_OK; /* first crawl */
    int rc = rt__read_file (path, 64u << 20, &data, &len);
    if (rc < 0)
        return rc;
    size_t p = 0;
    while (p < len && rc == RT_OK) {
        size_t e = p;
        while (e < len && data[e] != '\n')
            e++;
        const char *f[4] = {NULL};
        size_t fl[4] = {0};
        size_t nf = 0, s = p;
        for (size_t i = p; i <= e && nf < 4; i++)
            if (i == e || data[i] == '\t') {
                f[nf] = data + s;
                fl[nf] = i - s;
                nf++;
                s = i + 1;
            }
        if (nf == 4 && fl[0] > 0 && fl[1] > 0) {
            char *u = str_ndup (f[0], fl[0]), *fi = str_ndup (f[1], fl[1]),
                 *et = str_ndup (f[2], fl[2]), *l = str_ndup (f[3], fl[3]);
            if (u && fi && et && l)
                rc = s_state_set (st, u, fi, et, l);
            else
                rc = RT_E_NOMEM;
            free (u);
            free (fi);
            free (et);
            free (l);
        }
        p = e + 1;
    }
    free (data);
    return rc < 0 ? rt__fail (rc, "cannot load %s", path) : RT_OK;
}

static int
s_entry_cmp (const void *a, const void *b)
{
    return strcmp (((const s_entry_t *) a)->url, ((const s_entry_t *) b)->url);
}

/* Writes data to path via path.tmp + rename. */
static int
s_write_atomic (const char *path, const char *data, size_t len)
{
    char tmp[4200];
    if (str_fmt (tmp, sizeof tmp, "%s.tmp", path) != 0)
        return rt__fail (RT_E_ARG, "path too long: %s", path);
    int rc = rt__write_file (tmp, data, len);
    if (rc < 0)
        return rc;
    if (rename (tmp, path) != 0) {
        remove (tmp);
        return rt__fail (RT_E_IO, "cannot rename %s: %s", tmp, strerror (errno));
    }
    return RT_OK;
}

static int
s_state_save (const char *path, s_state_t *st)
{
    if (st->n > 1)
        qsort (st->v, st->n, sizeof *st->v, s_entry_cmp);
    buf_t *b = buf_new (64u << 20);
    if (!b)
        return rt__fail (RT_E_NOMEM, "out of memory");
    int rc = RT_OK;
    for (size_t i = 0; i < st->n && rc == RT_OK; i++)
        if (buf_printf (b, "%s\t%s\t%s\t%s\n", st->v[i].url, st->v[i].file, st->v[i].etag,
                        st->v[i].lm) != 0)
            rc = rt__fail (RT_E_TOOBIG, "crawl state too large");
    if (rc == RT_OK)
        rc = s_write_atomic (path, buf_data (b), buf_len (b));
    buf_destroy (&b);
    return rc;
}

/* ======================================================================== */
/* HTTP                                                                      */

typedef struct {
    buf_t *body;
    long status;
    char etag[256];
    char lm[128];
    char ctype[128];
    char err[CURL_ERROR_SIZE];
} s_resp_t;

static pthread_once_t s_once = PTHREAD_ONCE_INIT;
static void
s_global_init (void)
{
    curl_global_init (CURL_GLOBAL_DEFAULT);
}

static size_t
s_write_cb (char *data, size_t size, size_t nmemb, void *arg)
{
    s_resp_t *r = arg;
    size_t n = size * nmemb;
    return buf_append (r->body, data, n) == 0 ? n : 0;
}

static void
s_header_value (const char *h, size_t n, const char *name, char *out, size_t size)
{
    size_t nl = strlen (name);
    if (n <= nl || s_ifind (h, nl, 0, name) != 0 || h[nl] != ':')
        return;
    size_t a = nl + 1, b = n;
    while (a < b && s_ws (h[a]))
        a++;
    while (b > a && s_ws (h[b - 1]))
        b--;
    if (b - a < size) {
        memcpy (out, h + a, b - a);
        out[b - a] = '\0';
    }
}

static size_t
s_header_cb (char *data, size_t size, size_t nmemb, void *arg)
{
    s_resp_t *r = arg;
    size_t n = size * nmemb;
    if (n >= 5 && memcmp (data, "HTTP/", 5) == 0) {
        /* a new response (redirect hop): forget the previous headers */
        r->etag[0] = r->lm[0] = r->ctype[0] = '\0';
        return n;
    }
    s_header_value (data, n, "etag", r->etag, sizeof r->etag);
    s_header_value (data, n, "last-modified", r->lm, sizeof r->lm);
    s_header_value (data, n, "content-type", r->ctype, sizeof r->ctype);
    return n;
}

/* robots.txt rules of one origin (scheme://host:port). */
typedef struct {
    char *origin;
    rt_robots_t *rules;
} s_host_t;

typedef struct {
    CURL *h;
    const rt_crawl_opts_t *o;
    int64_t last_end_ms;
    rt_crawl_stats_t *st;
    s_host_t *hosts;
    size_t nhosts, caphosts;
} s_http_t;

/* One GET, `delay_ms` after the end of the previous request; 0 when a
 * status was received (any), RT_E_HTTP on transport failure (detail in
 * r->err). */
static int
s_get (s_http_t *hx, const char *url, const char *etag, const char *lm, s_resp_t *r, int delay_ms)
{
    if (hx->st->requests > 0 && delay_ms > 0) {
        int64_t wait = hx->last_end_ms + delay_ms - clock_mono_ms ();
        if (wait > 0)
            clock_sleep_ms (wait);
    }
    buf_reset (r->body);
    r->status = 0;
    r->etag[0] = r->lm[0] = r->ctype[0] = r->err[0] = '\0';
    struct curl_slist *hdrs = NULL;
    char line[512];
    if (etag && *etag && str_fmt (line, sizeof line, "If-None-Match: %s", etag) == 0)
        hdrs = curl_slist_append (hdrs, line);
    if (lm && *lm && str_fmt (line, sizeof line, "If-Modified-Since: %s", lm) == 0)
        hdrs = curl_slist_append (hdrs, line);
    CURL *h = hx->h;
    curl_easy_setopt (h, CURLOPT_URL, url);
    curl_easy_setopt (h, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt (h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt (h, CURLOPT_WRITEFUNCTION, s_write_cb);
    curl_easy_setopt (h, CURLOPT_WRITEDATA, r);
    curl_easy_setopt (h, CURLOPT_HEADERFUNCTION, s_header_cb);
    curl_easy_setopt (h, CURLOPT_HEADERDATA, r);
    curl_easy_setopt (h, CURLOPT_ERRORBUFFER, r->err);
    curl_easy_setopt (h, CURLOPT_TIMEOUT_MS, (long) hx->o->timeout_ms);
    curl_easy_setopt (h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt (h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt (h, CURLOPT_USERAGENT, RT_CRAWL_UA);
    curl_easy_setopt (h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt (h, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt (h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) hx->o->max_bytes);
    curl_easy_setopt (h, CURLOPT_ACCEPT_ENCODING, "");
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt (h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt (h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt (h, CURLOPT_PROTOCOLS, (long) (CURLPROTO_HTTP | CURLPROTO_HTTPS));
    curl_easy_setopt (h, CURLOPT_REDIR_PROTOCOLS, (long) (CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    CURLcode cc = curl_easy_perform (h);
    hx->st->requests++;
    hx->last_end_ms = clock_mono_ms ();
    curl_easy_setopt (h, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all (hdrs);
    if (cc != CURLE_OK) {
        if (!r->err[0])
            str_copy (r->err, sizeof r->err, curl_easy_strerror (cc));
        if (cc == CURLE_WRITE_ERROR || cc == CURLE_FILESIZE_EXCEEDED)
            str_fmt (r->err, sizeof r->err, "response larger than %zu bytes", hx->o->max_bytes);
        return RT_E_HTTP;
    }
    curl_easy_getinfo (h, CURLINFO_RESPONSE_CODE, &r->status);
    return RT_OK;
}

static void
s_log (const rt_crawl_opts_t *o, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));
static void
s_log (const rt_crawl_opts_t *o, const char *fmt, ...)
{
    if (!o->log)
        return;
    va_list ap;
    va_start (ap, fmt);
    vfprintf (o->log, fmt, ap);
    va_end (ap);
    fputc ('\n', o->log);
    fflush (o->log);
}

/* Splits `url` into its origin ("scheme://authority", lower-cased) and the
 * path-and-query robots.txt rules are matched against ("/" when empty; the
 * fragment dropped). -1 when the URL is not http(s) or too long. */
static int
s_url_split (const char *url, char *origin, size_t osize, char *path, size_t psize)
{
    const char *sep = strstr (url, "://");
    if (!sep || !(str_starts_with (url, "http://") || str_starts_with (url, "https://")))
        return -1;
    const char *auth = sep + 3;
    size_t al = strcspn (auth, "/?#");
    size_t ol = (size_t) (auth - url) + al;
    if (al == 0 || ol + 1 > osize)
        return -1;
    for (size_t i = 0; i < ol; i++)
        origin[i] = s_lower (url[i]);
    origin[ol] = '\0';
    const char *rest = auth + al;
    size_t rl = strcspn (rest, "#");
    if (rl == 0)
        return str_copy (path, psize, "/") == 0 ? 0 : -1;
    if (rest[0] == '?') {
        if (rl + 2 > psize)
            return -1;
        path[0] = '/';
        memcpy (path + 1, rest, rl);
        path[rl + 1] = '\0';
        return 0;
    }
    if (rl + 1 > psize)
        return -1;
    memcpy (path, rest, rl);
    path[rl] = '\0';
    return 0;
}

/* The robots.txt rules of `origin`, fetched on first use. RT_E_HTTP (fatal
 * for the run, detail in rt_last_error) on a 5xx or a transport failure. */
static int
s_robots_for (s_http_t *hx, const char *origin, s_resp_t *r, const rt_robots_t **out)
{
    for (size_t i = 0; i < hx->nhosts; i++)
        if (strcmp (hx->hosts[i].origin, origin) == 0) {
            *out = hx->hosts[i].rules;
            return RT_OK;
        }
    if (hx->nhosts == hx->caphosts) {
        size_t nc = hx->caphosts ? hx->caphosts * 2 : 8;
        s_host_t *nv = realloc (hx->hosts, nc * sizeof *nv);
        if (!nv)
            return rt__fail (RT_E_NOMEM, "out of memory");
        hx->hosts = nv;
        hx->caphosts = nc;
    }
    char url[1100];
    if (str_fmt (url, sizeof url, "%s/robots.txt", origin) != 0)
        return rt__fail (RT_E_ARG, "URL origin too long: %s", origin);
    hx->st->robots++;
    if (s_get (hx, url, NULL, NULL, r, hx->o->delay_ms) < 0)
        return rt__fail (RT_E_HTTP, "robots.txt %s could not be fetched: %s; crawling stopped "
                         "(an unreachable robots.txt means nothing may be crawled)", url, r->err);
    rt_robots_t *rules = NULL;
    if (r->status == 200) {
        rules = rt_robots_parse (buf_data (r->body), buf_len (r->body), RT_CRAWL_AGENT);
        if (rules)
            s_log (hx->o, "crawl: robots.txt %s: %zu rule(s) for %s%s, crawl-delay %d ms", url,
                   rules->n, RT_CRAWL_AGENT, rules->n ? "" : " (or *)", rules->delay_ms);
    } else if (r->status >= 500) {
        return rt__fail (RT_E_HTTP, "robots.txt %s returned HTTP %ld; crawling stopped "
                         "(a server error on robots.txt means nothing may be crawled; retry later)",
                         url, r->status);
    } else {
        /* 4xx (404: the site has none) and unresolved redirects: no rules */
        rules = rt_robots_allow_all ();
        if (rules)
            s_log (hx->o, "crawl: robots.txt %s: HTTP %ld, every page allowed", url, r->status);
    }
    char *o = str_dup (origin);
    if (!rules || !o) {
        rt_robots_destroy (&rules);
        free (o);
        return rt__fail (RT_E_NOMEM, "out of memory");
    }
    if (rules->delay_ms > hx->st->crawl_delay_ms)
        hx->st->crawl_delay_ms = rules->delay_ms;
    hx->hosts[hx->nhosts++] = (s_host_t){o, rules};
    *out = rules;
    return RT_OK;
}

enum { S_DISALLOWED = 1, S_STOP = -100 };

/* robots.txt check, then one GET with the politeness delay of the URL's
 * host: 0 (a status was received), S_DISALLOWED (not requested), RT_E_HTTP
 * (transport failure, r->err) or S_STOP (robots.txt forbids going on;
 * rt_last_error has why). */
static int
s_fetch (s_http_t *hx, const char *url, const char *etag, const char *lm, s_resp_t *r)
{
    char origin[1024], path[4096];
    if (s_url_split (url, origin, sizeof origin, path, sizeof path) != 0) {
        str_fmt (r->err, sizeof r->err, "not an http(s) URL or too long");
        return RT_E_HTTP;
    }
    const rt_robots_t *rules = NULL;
    if (s_robots_for (hx, origin, r, &rules) < 0)
        return S_STOP;
    if (!rt_robots_allowed (rules, path)) {
        hx->st->disallowed++;
        return S_DISALLOWED;
    }
    int delay = hx->o->delay_ms > rules->delay_ms ? hx->o->delay_ms : rules->delay_ms;
    return s_get (hx, url, etag, lm, r, delay);
}

static void
s_hosts_free (s_http_t *hx)
{
    for (size_t i = 0; i < hx->nhosts; i++) {
        free (hx->hosts[i].origin);
        rt_robots_destroy (&hx->hosts[i].rules);
    }
    free (hx->hosts);
    hx->hosts = NULL;
    hx->nhosts = hx->caphosts = 0;
}

/* ======================================================================== */
/* sitemaps                                                                  */

static bool
s_is_gzip (const char *d, size_t n)
{
    return n >= 2 && (unsigned char) d[0] == 0x1f && (unsigned char) d[1] == 0x8b;
}

/* Decompresses a gzip body into `out` (whose cap bounds the result). */
static int
s_gunzip (const char *in, size_t len, buf_t *out, const char *url)
{
#ifdef RT_HAVE_ZLIB
    z_stream zs;
    memset (&zs, 0, sizeof zs);
    if (inflateInit2 (&zs, 16 + MAX_WBITS) != Z_OK)
        return rt__fail (RT_E_NOMEM, "out of memory");
    zs.next_in = (Bytef *) (uintptr_t) in;
    zs.avail_in = (uInt) len; /* len <= max_bytes, far below 4 GiB */
    unsigned char chunk[16384];
    int zr, rc = RT_OK;
    do {
        zs.next_out = chunk;
        zs.avail_out = sizeof chunk;
        zr = inflate (&zs, Z_NO_FLUSH);
        if (zr != Z_OK && zr != Z_STREAM_END) {
            rc = rt__fail (RT_E_FORMAT, "sitemap %s: broken gzip data (%s)", url,
                           zr == Z_BUF_ERROR ? "truncated" : (zs.msg ? zs.msg : "inflate error"));
            break;
        }
        if (buf_append (out, chunk, sizeof chunk - zs.avail_out) != 0) {
            rc = rt__fail (RT_E_TOOBIG, "sitemap %s: more than %zu bytes once decompressed", url,
                           buf_cap (out));
            break;
        }
    } while (zr != Z_STREAM_END);
    inflateEnd (&zs);
    return rc;
#else
    (void) in;
    (void) len;
    (void) out;
    return rt__fail (RT_E_UNIMPLEMENTED,
                     "sitemap %s is gzip-compressed and this build has no zlib; pass the "
                     "uncompressed sitemap", url);
#endif
}

typedef struct {
    rt_strv_t q;      /* sitemap URLs: queue and visited set */
    int *depth;
    size_t capd;
    rt_strv_t pages;  /* in-prefix page URLs (unsorted, may repeat) */
    bool complete;    /* every listed sitemap was read */
} s_tree_t;

static int
s_tree_enqueue (s_tree_t *t, const char *url, int depth)
{
    for (size_t i = 0; i < t->q.n; i++)
        if (strcmp (t->q.v[i], url) == 0)
            return RT_OK; /* seen (cycles, repeats) */
    if (t->q.n == t->capd) {
        size_t nc = t->capd ? t->capd * 2 : 16;
        int *nd = realloc (t->depth, nc * sizeof *nd);
        if (!nd)
            return RT_E_NOMEM;
        t->depth = nd;
        t->capd = nc;
    }
    t->depth[t->q.n] = depth;
    return rt__strv_push (&t->q, url);
}

/* Reads the sitemap tree breadth-first from o->sitemap_url. Failures of the
 * root are fatal (returned); failures of children are logged, counted and
 * clear t->complete. */
static int
s_read_sitemaps (s_http_t *hx, s_resp_t *r, s_tree_t *t)
{
    const rt_crawl_opts_t *o = hx->o;
    rt_crawl_stats_t *st = hx->st;
    t->complete = true;
    buf_t *plain = buf_new (o->max_bytes);
    if (!plain)
        return rt__fail (RT_E_NOMEM, "out of memory");
    int rc = s_tree_enqueue (t, o->sitemap_url, 0);
    size_t attempts = 0;
    bool warned_cap = false;
    for (size_t qi = 0; qi < t->q.n && rc == RT_OK; qi++) {
        const char *url = t->q.v[qi];
        bool root = qi == 0;
        if (!root && t->depth[qi] > o->max_sitemap_depth) {
            st->sitemaps_failed++;
            t->complete = false;
            s_log (o, "crawl: sitemap %s not followed: nested deeper than %d level(s)", url,
                   o->max_sitemap_depth);
            continue;
        }
        if (attempts >= (size_t) o->max_sitemaps) {
            st->sitemaps_failed++;
            t->complete = false;
            s_log (o, "crawl: sitemap %s not followed: limit of %d sitemap file(s) reached", url,
                   o->max_sitemaps);
            continue;
        }
        int f = s_fetch (hx, url, NULL, NULL, r);
        if (f == S_STOP) {
            rc = RT_E_HTTP;
            break;
        }
        if (f != S_DISALLOWED)
            attempts++; /* the bound counts requests made */
        if (f == S_DISALLOWED) {
            if (root) {
                rc = rt__fail (RT_E_ARG, "sitemap %s is disallowed by robots.txt", url);
                break;
            }
            st->sitemaps_failed++;
            t->complete = false;
            s_log (o, "crawl: disallowed by robots.txt %s (sitemap not read)", url);
            continue;
        }
        const char *why = NULL;
        char whybuf[CURL_ERROR_SIZE + 32];
        if (f < 0) {
            why = r->err;
        } else if (r->status != 200) {
            str_fmt (whybuf, sizeof whybuf, "HTTP %ld", r->status);
            why = whybuf;
        }
        if (why) {
            if (root) {
                rc = rt__fail (RT_E_HTTP, "sitemap %s: %s", url, why);
                break;
            }
            st->sitemaps_failed++;
            t->complete = false;
            s_log (o, "crawl: failed sitemap %s: %s (its pages are not listed; no note is removed)", url, why);
            continue;
        }
        const char *xml = buf_data (r->body);
        size_t xl = buf_len (r->body);
        int prc = RT_OK;
        if (s_is_gzip (xml, xl)) {
            buf_reset (plain);
            prc = s_gunzip (xml, xl, plain, url);
            xml = buf_data (plain);
            xl = buf_len (plain);
        }
        char **u = NULL;
        size_t nu = 0;
        bool index = false;
        if (prc == RT_OK)
            prc = rt_crawl_sitemap_urls (xml, xl, o->prefix, &u, &nu, &index);
        if (prc < 0) {
            if (root || prc == RT_E_NOMEM) {
                rc = prc;
                break;
            }
            st->sitemaps_failed++;
            t->complete = false;
            s_log (o, "crawl: failed sitemap %s: %s (its pages are not listed; no note is removed)", url,
                   rt_last_error ());
            continue;
        }
        st->sitemaps++;
        s_log (o, "crawl: sitemap %s: %zu %s", url, nu, index ? "child sitemap(s)" : "page(s) under the prefix");
        for (size_t i = 0; i < nu && rc == RT_OK; i++) {
            if (!index) {
                rc = rt__strv_push (&t->pages, u[i]);
            } else if (t->q.n >= (size_t) o->max_sitemaps * 2 + 1) {
                /* bounded queue: the rest could never be fetched anyway */
                st->sitemaps_failed++;
                t->complete = false;
                if (!warned_cap)
                    s_log (o, "crawl: sitemap index %s lists more sitemaps than the limit of %d; the rest "
                           "are not followed", url, o->max_sitemaps);
                warned_cap = true;
            } else {
                rc = s_tree_enqueue (t, u[i], t->depth[qi] + 1);
            }
        }
        rt_crawl_urls_free (&u, nu);
        url = NULL; /* the queue may have moved */
        if (rc == RT_E_NOMEM)
            rc = rt__fail (RT_E_NOMEM, "out of memory");
    }
    buf_destroy (&plain);
    return rc;
}

/* ======================================================================== */
/* the crawl                                                                 */

/* web-<slug of url after prefix>.md, de-duplicated against `used`. */
static int
s_note_name (const char *url, const char *prefix, rt_strv_t *used, char *out, size_t size)
{
    const char *rel = url + strlen (prefix);
    size_t rl = strcspn (rel, "?#");
    char slug[101];
    rt__slug (rel, rl, slug, sizeof slug);
    if (!slug[0])
        str_copy (slug, sizeof slug, "index");
    str_fmt (out, size, "web-%s.md", slug);
    for (size_t i = 0; i < used->n; i++)
        if (strcmp (used->v[i], out) == 0) {
            str_fmt (out, size, "web-%s-%08x.md", slug,
                     (unsigned) (rt__fnv1a (RT_FNV_OFFSET, url, strlen (url)) & 0xffffffffu));
            break;
        }
    return rt__strv_push (used, out);
}

static bool
s_exists (const char *path)
{
    struct stat sb;
    return stat (path, &sb) == 0 && S_ISREG (sb.st_mode);
}

int
rt_crawl_run (const rt_crawl_opts_t *opts_in, rt_crawl_stats_t *stats_out)
{
    if (!opts_in || !opts_in->sitemap_url || !opts_in->prefix || !opts_in->out_dir ||
        !*opts_in->prefix || !*opts_in->out_dir)
        return rt__fail (RT_E_ARG, "crawl needs a sitemap URL, a prefix and an output folder");
    rt_crawl_opts_t o = *opts_in;
    if (o.delay_ms < 0)
        o.delay_ms = 750;
    if (o.timeout_ms <= 0)
        o.timeout_ms = 30000;
    if (o.max_bytes == 0)
        o.max_bytes = 8u << 20;
    if (o.min_chars == 0)
        o.min_chars = 200;
    if (o.max_pages < 0)
        o.max_pages = 0;
    if (o.max_sitemap_depth <= 0)
        o.max_sitemap_depth = 3;
    if (o.max_sitemaps <= 0)
        o.max_sitemaps = 200;
    rt_crawl_stats_t st = {0};
    double t0 = rt__now_s ();
    pthread_once (&s_once, s_global_init);

    if (mkdir (o.out_dir, 0755) != 0 && errno != EEXIST)
        return rt__fail (RT_E_IO, "cannot create %s: %s", o.out_dir, strerror (errno));

    char state_path[4200];
    if (str_fmt (state_path, sizeof state_path, "%s/%s", o.out_dir, RT_CRAWL_STATE) != 0)
        return rt__fail (RT_E_ARG, "output path too long");
    s_state_t state = {0};
    int rc = s_state_load (state_path, &state);
    if (rc < 0)
        return rc;

    s_resp_t r = {0};
    r.body = buf_new (o.max_bytes);
    s_http_t hx = {.h = curl_easy_init (), .o = &o, .st = &st};
    buf_t *note = buf_new (RT_CRAWL_MAX_NOTE + 4096);
    char **urls = NULL;
    size_t nurls = 0;
    rt_strv_t used = {0};
    if (!r.body || !hx.h || !note) {
        rc = rt__fail (RT_E_NOMEM, "out of memory");
        goto done;
    }

    /* the sitemap tree (the root is fatal when it cannot be read) */
    s_tree_t tree = {0};
    rc = s_read_sitemaps (&hx, &r, &tree);
    if (rc == RT_OK && tree.pages.n > 1)
        qsort (tree.pages.v, tree.pages.n, sizeof *tree.pages.v, s_url_cmp);
    if (rc == RT_OK) {
        /* de-duplicate (pages may be listed by several sitemaps) */
        size_t w = 0;
        for (size_t i = 0; i < tree.pages.n; i++) {
            if (w > 0 && strcmp (tree.pages.v[w - 1], tree.pages.v[i]) == 0) {
                free (tree.pages.v[i]);
                continue;
            }
            tree.pages.v[w++] = tree.pages.v[i];
        }
        tree.pages.n = w;
        urls = calloc (w + 1, sizeof *urls);
        if (!urls) {
            rc = rt__fail (RT_E_NOMEM, "out of memory");
        } else {
            memcpy (urls, tree.pages.v, w * sizeof *urls);
            nurls = w;
            free (tree.pages.v);
            tree.pages.v = NULL;
            tree.pages.n = tree.pages.cap = 0;
        }
    }
    bool complete = tree.complete;
    rt__strv_free (&tree.pages);
    rt__strv_free (&tree.q);
    free (tree.depth);
    if (rc < 0)
        goto done;
    bool limited = o.max_pages > 0 && nurls > (size_t) o.max_pages;
    bool full = !limited && complete;
    if (limited) {
        for (size_t i = (size_t) o.max_pages; i < nurls; i++) {
            free (urls[i]);
            urls[i] = NULL;
        }
        nurls = (size_t) o.max_pages;
    }
    st.listed = nurls;
    s_log (&o, "crawl: %zu page(s) under %s", nurls, o.prefix);
    if (!str_starts_with (o.prefix, "https://"))
        s_log (&o, "crawl: warning: notes need an https:// source to be indexed (copilot index --docs-dir)");

    bool stop = false;
    char stop_msg[1024] = "";
    for (size_t i = 0; i < nurls; i++) {
        const char *url = urls[i];
        char name[160], path[4400];
        s_entry_t *prev = s_state_find (&state, url);
        if (prev && (strchr (prev->file, '/') || prev->file[0] == '.' ||
                     !str_ends_with (prev->file, ".md")))
            prev = NULL; /* a tampered state line never names a path outside out_dir */
        if (prev) {
            /* keep the file name the page had, so a re-crawl replaces it */
            str_copy (name, sizeof name, prev->file);
            if ((rc = rt__strv_push (&used, name)) < 0)
                goto done;
        } else if ((rc = s_note_name (url, o.prefix, &used, name, sizeof name)) < 0) {
            goto done;
        }
        str_fmt (path, sizeof path, "%s/%s", o.out_dir, name);
        bool have = prev && s_exists (path);
        int f = s_fetch (&hx, url, have ? prev->etag : NULL, have ? prev->lm : NULL, &r);
        if (f == S_STOP) {
            /* robots.txt: save what we have, remove nothing, fail */
            stop = true;
            str_copy (stop_msg, sizeof stop_msg, rt_last_error ());
            break;
        }
        if (f == S_DISALLOWED) {
            s_log (&o, "crawl: disallowed by robots.txt %s (skipped%s)", url, have ? ", previous note kept" : "");
            continue;
        }
        if (f < 0) {
            st.failed++;
            s_log (&o, "crawl: failed %s: %s (skipped)", url, r.err);
            continue;
        }
        if (r.status == 304 && have) {
            st.unchanged++;
            s_log (&o, "crawl: unchanged %s (304)", url);
            continue;
        }
        if (r.status != 200) {
            st.failed++;
            s_log (&o, "crawl: failed %s: HTTP %ld (skipped%s)", url, r.status,
                   have ? ", previous note kept" : "");
            continue;
        }
        if (r.ctype[0] && !str_icontains (r.ctype, "html")) {
            st.skipped++;
            s_log (&o, "crawl: skipped %s: content type %s is not HTML", url, r.ctype);
            continue;
        }
        buf_reset (note);
        size_t chars = 0;
        int crc = rt_crawl_html_to_note (buf_data (r.body), buf_len (r.body), url, note, &chars);
        if (crc < 0) {
            st.failed++;
            s_log (&o, "crawl: failed %s: %s (skipped)", url, rt_last_error ());
            continue;
        }
        if (chars < o.min_chars) {
            st.skipped++;
            s_log (&o, "crawl: skipped %s: only %zu characters of text", url, chars);
            continue;
        }
        if ((rc = s_write_atomic (path, buf_data (note), buf_len (note))) < 0)
            goto done; /* the output folder is broken: stop */
        if ((rc = s_state_set (&state, url, name, r.etag, r.lm)) < 0) {
            rc = rt__fail (RT_E_NOMEM, "out of memory");
            goto done;
        }
        st.fetched++;
        s_log (&o, "crawl: fetched %s -> %s (%zu chars)", url, name, chars);
    }
    if (full && !stop) {
        /* pages that left the sitemap: their notes go too (urls is sorted) */
        size_t w = 0;
        for (size_t i = 0; i < state.n; i++) {
            s_entry_t *e = &state.v[i];
            if (bsearch (&e->url, urls, nurls, sizeof *urls, s_url_cmp)) {
                state.v[w++] = *e;
                continue;
            }
            char path[4400];
            if (!strchr (e->file, '/') && e->file[0] != '.' &&
                str_fmt (path, sizeof path, "%s/%s", o.out_dir, e->file) == 0 &&
                (remove (path) == 0 || errno == ENOENT)) {
                st.removed++;
                s_log (&o, "crawl: removed %s (no longer in the sitemap) -> %s deleted", e->url, e->file);
            }
            free (e->url);
            free (e->file);
            free (e->etag);
            free (e->lm);
        }
        state.n = w;
    }
    rc = s_state_save (state_path, &state);
    if (stop)
        rc = rt__fail (RT_E_HTTP, "%s", stop_msg);

done:
    st.seconds = rt__now_s () - t0;
    if (stats_out)
        *stats_out = st;
    rt_crawl_urls_free (&urls, nurls);
    rt__strv_free (&used);
    buf_destroy (&note);
    buf_destroy (&r.body);
    if (hx.h)
        curl_easy_cleanup (hx.h);
    s_state_free (&state);
    s_hosts_free (&hx);
    return rc;
}
