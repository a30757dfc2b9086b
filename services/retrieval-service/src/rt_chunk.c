/* rt_chunk.c — chunking of knowledge-base notes and parsing of runbooks.
 *
 * rt_chunk_split is a recursive-character splitter in one pass: from the
 * current position it looks at the next `max` bytes and cuts at the best
 * separator found in the second half of that window (blank line, then line
 * end, then sentence end, then space, then a UTF-8 boundary). The next chunk
 * starts up to `overlap` bytes before the cut, moved forward to a word start,
 * so neighbouring chunks share context. Cutting only in the second half of
 * the window and requiring max > 2 * overlap guarantees progress.
 *
 * Notes are split into sections at headings first (the reference splits
 * pages blindly; we keep section anchors so citations can point at them),
 * then each section body is chunked with room for its "<title> — <heading>"
 * header line. Runbooks follow the reference's chunk format (seed §9.5) and
 * are never split further. The yaml block is parsed by a deliberately small
 * reader: `key: value`, `key: [a, b]` and `key:` followed by `- item` lines,
 * which is all the format uses.
 */
#include "rt_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* splitter                                                                  */

static bool
s_is_space (char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static int
s_emit_trimmed (const char *text, size_t a, size_t b, rt_chunk_fn fn, void *arg)
{
    while (a < b && s_is_space (text[a]))
        a++;
    while (b > a && s_is_space (text[b - 1]))
        b--;
    if (b <= a)
        return 0;
    return fn (text + a, b - a, arg);
}

/* Last position p in [lo, hi] such that the separator `sep` ends at p
 * (cut after the separator); 0 if none. */
static size_t
s_find_last (const char *text, size_t lo, size_t hi, const char *sep)
{
    size_t sl = strlen (sep);
    if (hi < lo + sl)
        return 0;
    for (size_t p = hi; p >= lo + sl; p--) {
        if (memcmp (text + p - sl, sep, sl) == 0)
            return p;
        if (p == 0)
            break;
    }
    return 0;
}

static size_t
s_sentence_cut (const char *text, size_t lo, size_t hi)
{
    for (size_t p = hi; p > lo + 1; p--) {
        char c = text[p - 2], n = text[p - 1];
        if ((c == '.' || c == '?' || c == '!' || c == ';' || c == ':') && s_is_space (n))
            return p;
    }
    return 0;
}

int
rt_chunk_split (const char *text, size_t len, size_t max, size_t overlap, rt_chunk_fn fn,
                void *arg)
{
    if (!text || !fn || max == 0 || max <= 2 * overlap)
        return rt__fail (RT_E_ARG, "rt_chunk_split: need max > 2 * overlap (max %zu, overlap %zu)",
                         max, overlap);
    size_t pos = 0;
    while (pos < len) {
        while (pos < len && s_is_space (text[pos]))
            pos++;
        if (pos >= len)
            break;
        if (len - pos <= max)
            return s_emit_trimmed (text, pos, len, fn, arg);
        size_t hi = pos + max, lo = pos + max / 2;
        size_t cut = s_find_last (text, lo, hi, "\n\n");
        if (!cut)
            cut = s_find_last (text, lo, hi, "\n");
        if (!cut)
            cut = s_sentence_cut (text, lo, hi);
        if (!cut)
            cut = s_find_last (text, lo, hi, " ");
        if (!cut) {
            cut = hi;
            /* never cut inside a UTF-8 sequence: back up over continuation bytes */
            while (cut > lo && ((unsigned char) text[cut] & 0xC0) == 0x80)
                cut--;
        }
        int rc = s_emit_trimmed (text, pos, cut, fn, arg);
        if (rc < 0)
            return rc;
        size_t next = cut;
        if (overlap > 0) {
            size_t start = cut - overlap;
            /* move forward to the start of a word inside the overlap window */
            size_t p = start;
            while (p < cut && !(p > 0 && s_is_space (text[p - 1]) && !s_is_space (text[p])))
                p++;
            if (p < cut)
                next = p;
        }
        if (next <= pos)
            next = cut; /* cannot happen with max > 2 * overlap; stay safe */
        pos = next;
    }
    return RT_OK;
}

/* ------------------------------------------------------------------------ */
/* line reader                                                               */

typedef struct {
    const char *text;
    size_t len, pos;
} s_lines_t;

/* Next line without its "\n" (and without a trailing "\r"). false at end. */
static bool
s_next_line (s_lines_t *lr, const char **line, size_t *llen, size_t *line_start)
{
    if (lr->pos >= lr->len)
        return false;
    const char *s = lr->text + lr->pos;
    const char *nl = memchr (s, '\n', lr->len - lr->pos);
    size_t l = nl ? (size_t) (nl - s) : lr->len - lr->pos;
    if (line_start)
        *line_start = lr->pos;
    lr->pos += l + (nl ? 1 : 0);
    if (l > 0 && s[l - 1] == '\r')
        l--;
    *line = s;
    *llen = l;
    return true;
}

static bool
s_line_is (const char *line, size_t llen, const char *what)
{
    while (llen > 0 && s_is_space (line[llen - 1]))
        llen--;
    return llen == strlen (what) && memcmp (line, what, llen) == 0;
}

static char *
s_strndup_trim (const char *s, size_t n)
{
    while (n > 0 && s_is_space (*s)) {
        s++;
        n--;
    }
    while (n > 0 && s_is_space (s[n - 1]))
        n--;
    return str_ndup (s, n);
}

/* Removes one pair of matching surrounding quotes in place. */
static void
s_unquote (char *s)
{
    size_t n = strlen (s);
    if (n >= 2 && ((s[0] == '"' && s[n - 1] == '"') || (s[0] == '\'' && s[n - 1] == '\''))) {
        memmove (s, s + 1, n - 2);
        s[n - 2] = '\0';
    }
}

/* ------------------------------------------------------------------------ */
/* knowledge-base notes                                                      */

typedef struct {
    rt_docset_t *out;
    const char *stem, *anchor, *title, *header, *url, *source_file, *topic, *section;
    buf_t *text;
    int part;
    int rc;
    rt_strv_t parts; /* chunk bodies, so "parts" can be recorded in metadata */
} s_note_ctx_t;

static int
s_collect_part (const char *chunk, size_t len, void *arg)
{
    s_note_ctx_t *cx = arg;
    char *c = str_ndup (chunk, len);
    if (!c)
        return rt__fail (RT_E_NOMEM, "out of memory");
    int rc = rt__strv_push (&cx->parts, c);
    free (c);
    return rc;
}

static int
s_emit_section (s_note_ctx_t *cx, const char *body, size_t blen, size_t max, size_t overlap)
{
    size_t hlen = strlen (cx->header);
    if (hlen + 2 + 2 * overlap + 64 > max)
        return rt__fail (RT_E_FORMAT, "%s: heading too long for chunk size %zu: %s",
                         cx->source_file, max, cx->header);
    size_t bmax = max - hlen - 2;
    rt__strv_free (&cx->parts);
    int rc = rt_chunk_split (body, blen, bmax, overlap, s_collect_part, cx);
    if (rc < 0)
        return rc;
    buf_t *meta = buf_new (4096);
    if (!meta)
        return rt__fail (RT_E_NOMEM, "out of memory");
    for (size_t i = 0; i < cx->parts.n; i++) {
        char id[512];
        if (str_fmt (id, sizeof id, "doc::%s#%s/%zu", cx->stem, cx->anchor, i + 1) != 0) {
            rc = rt__fail (RT_E_FORMAT, "%s: doc id too long", cx->source_file);
            break;
        }
        buf_reset (cx->text);
        buf_reset (meta);
        if (buf_printf (cx->text, "%s\n\n%s", cx->header, cx->parts.v[i]) != 0
            || buf_puts (meta, "{\"topic\":") != 0 || buf_json_str (meta, cx->topic) != 0
            || buf_puts (meta, ",\"section\":") != 0 || buf_json_str (meta, cx->section) != 0
            || buf_printf (meta, ",\"part\":%zu,\"parts\":%zu}", i + 1, cx->parts.n) != 0) {
            rc = rt__fail (RT_E_TOOBIG, "%s: chunk too large", cx->source_file);
            break;
        }
        rt_doc_t d = {.doc_id = id,
                      .corpus = RT_CORPUS_DOCS,
                      .type = "databricks_docs",
                      .title = cx->title,
                      .url = cx->url,
                      .anchor = cx->anchor,
                      .text = buf_data (cx->text),
                      .entity_ids = "",
                      .source_file = cx->source_file,
                      .meta_json = buf_data (meta)};
        rc = rt_docset_add (cx->out, &d);
        if (rc < 0)
            break;
    }
    buf_destroy (&meta);
    rt__strv_free (&cx->parts);
    return rc;
}

/* Heading: 1-3 '#' then a space. Returns level or 0. */
static int
s_heading_level (const char *line, size_t llen)
{
    int lvl = 0;
    while ((size_t) lvl < llen && line[lvl] == '#')
        lvl++;
    if (lvl < 1 || lvl > 3 || (size_t) lvl >= llen || line[lvl] != ' ')
        return 0;
    return lvl;
}

/* Splits "Heading text {#anchor}" into heading and anchor (slug when absent). */
static void
s_heading_parts (const char *line, size_t llen, char *head, size_t hsize, char *anchor,
                 size_t asize)
{
    size_t a = 0;
    while (a < llen && line[a] == '#')
        a++;
    while (a < llen && line[a] == ' ')
        a++;
    size_t b = llen;
    while (b > a && s_is_space (line[b - 1]))
        b--;
    anchor[0] = '\0';
    if (b > a && line[b - 1] == '}') {
        const char *open = NULL;
        for (size_t p = b - 1; p > a; p--)
            if (line[p - 1] == '{' && line[p] == '#') {
                open = line + p - 1;
                break;
            }
        if (open) {
            size_t alen = (size_t) ((line + b - 1) - (open + 2));
            if (alen + 1 < asize) {
                memcpy (anchor, open + 2, alen);
                anchor[alen] = '\0';
            }
            b = (size_t) (open - line);
            while (b > a && s_is_space (line[b - 1]))
                b--;
        }
    }
    size_t hl = b - a < hsize - 1 ? b - a : hsize - 1;
    memcpy (head, line + a, hl);
    head[hl] = '\0';
    if (!anchor[0])
        rt__slug (head, strlen (head), anchor, asize);
}

int
rt_docs_parse_note (const char *name, const char *text, size_t len, size_t max, size_t overlap,
                    rt_docset_t *out)
{
    if (!name || !text || !out)
        return rt__fail (RT_E_ARG, "rt_docs_parse_note: NULL argument");
    s_lines_t lr = {text, len, 0};
    const char *line;
    size_t llen, lstart;
    char *title = NULL, *source = NULL, *topic = NULL;
    int rc = RT_OK;

    /* front matter */
    size_t body_start = 0;
    if (s_next_line (&lr, &line, &llen, NULL) && s_line_is (line, llen, "---")) {
        bool closed = false;
        while (s_next_line (&lr, &line, &llen, NULL)) {
            if (s_line_is (line, llen, "---")) {
                closed = true;
                break;
            }
            const char *colon = memchr (line, ':', llen);
            if (!colon)
                continue;
            char *key = s_strndup_trim (line, (size_t) (colon - line));
            char *val = s_strndup_trim (colon + 1, llen - (size_t) (colon - line) - 1);
            if (!key || !val) {
                free (key);
                free (val);
                rc = rt__fail (RT_E_NOMEM, "out of memory");
                goto cleanup;
            }
            s_unquote (val);
            char **slot = strcmp (key, "title") == 0    ? &title
                          : strcmp (key, "source") == 0 ? &source
                          : strcmp (key, "topic") == 0  ? &topic
                                                        : NULL;
            free (key);
            if (slot) {
                free (*slot);
                *slot = val;
            } else {
                free (val);
            }
        }
        if (!closed) {
            rc = rt__fail (RT_E_FORMAT, "%s: front matter is not closed by ---", name);
            goto cleanup;
        }
        body_start = lr.pos;
    } else {
        lr.pos = 0;
    }
    if (!source || !*source || !str_starts_with (source, "https://")) {
        rc = rt__fail (RT_E_FORMAT, "%s: note needs a `source:` https URL in its front matter", name);
        goto cleanup;
    }
    if (!title || !*title) {
        rc = rt__fail (RT_E_FORMAT, "%s: note needs a `title:` in its front matter", name);
        goto cleanup;
    }

    char stem[128];
    {
        const char *base = strrchr (name, '/');
        base = base ? base + 1 : name;
        size_t bl = strlen (base);
        if (str_ends_with (base, ".md"))
            bl -= 3;
        rt__slug (base, bl, stem, sizeof stem);
    }
    s_note_ctx_t cx = {.out = out, .stem = stem, .title = title, .url = source,
                       .source_file = name, .topic = topic ? topic : ""};
    cx.text = buf_new (max + 1024);
    rt_strv_t anchors = {0};
    if (!cx.text) {
        rc = rt__fail (RT_E_NOMEM, "out of memory");
        goto cleanup;
    }

    /* sections */
    char head[256], anchor[160], cur_head[256], cur_anchor[160], header[600];
    str_copy (cur_head, sizeof cur_head, title);
    rt__slug (title, strlen (title), cur_anchor, sizeof cur_anchor);
    size_t sec_body = body_start;
    bool in_fence = false;
    lr.pos = body_start;
    for (;;) {
        bool more = s_next_line (&lr, &line, &llen, &lstart);
        int lvl = 0;
        if (more) {
            if (llen >= 3 && memcmp (line, "```", 3) == 0)
                in_fence = !in_fence;
            if (!in_fence)
                lvl = s_heading_level (line, llen);
        }
        if (!more || lvl > 0) {
            size_t end = more ? lstart : len;
            /* flush the current section if it has content */
            size_t a = sec_body;
            while (a < end && s_is_space (text[a]))
                a++;
            if (a < end) {
                /* unique anchors inside one note */
                char uniq[176];
                str_copy (uniq, sizeof uniq, cur_anchor[0] ? cur_anchor : "section");
                for (int k = 2; k < 100; k++) {
                    bool dup = false;
                    for (size_t i = 0; i < anchors.n; i++)
                        if (strcmp (anchors.v[i], uniq) == 0)
                            dup = true;
                    if (!dup)
                        break;
                    str_fmt (uniq, sizeof uniq, "%s-%d", cur_anchor, k);
                }
                if ((rc = rt__strv_push (&anchors, uniq)) < 0)
                    break;
                if (strcmp (cur_head, title) == 0)
                    str_copy (header, sizeof header, title);
                else
                    str_fmt (header, sizeof header, "%s — %s", title, cur_head);
                cx.anchor = uniq;
                cx.header = header;
                cx.section = cur_head;
                rc = s_emit_section (&cx, text + a, end - a, max, overlap);
                if (rc < 0)
                    break;
            }
            if (!more)
                break;
            s_heading_parts (line, llen, head, sizeof head, anchor, sizeof anchor);
            str_copy (cur_head, sizeof cur_head, head);
            str_copy (cur_anchor, sizeof cur_anchor, anchor);
            sec_body = lr.pos;
        }
    }
    rt__strv_free (&anchors);
    buf_destroy (&cx.text);
cleanup:
    free (title);
    free (source);
    free (topic);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* runbooks                                                                  */

/* "##", optional spaces, "Chunk", spaces, [A-Za-z0-9_-]+, optional spaces. */
static bool
s_chunk_header (const char *line, size_t llen, char *id, size_t isize)
{
    size_t p = 0;
    if (llen < 2 || line[0] != '#' || line[1] != '#')
        return false;
    p = 2;
    while (p < llen && (line[p] == ' ' || line[p] == '\t'))
        p++;
    if (llen - p < 5 || memcmp (line + p, "Chunk", 5) != 0)
        return false;
    p += 5;
    size_t sp = p;
    while (p < llen && (line[p] == ' ' || line[p] == '\t'))
        p++;
    if (p == sp)
        return false;
    size_t a = p;
    while (p < llen && (isalnum ((unsigned char) line[p]) || line[p] == '_' || line[p] == '-'))
        p++;
    size_t b = p;
    while (p < llen && (line[p] == ' ' || line[p] == '\t'))
        p++;
    if (b == a || p != llen || b - a + 1 > isize)
        return false;
    memcpy (id, line + a, b - a);
    id[b - a] = '\0';
    return true;
}

typedef struct {
    rt_strv_t keys;
    rt_strv_t vals;   /* scalar value, or "\x01"-separated list items with a leading "\x02" */
} s_yaml_t;

static void
s_yaml_free (s_yaml_t *y)
{
    rt__strv_free (&y->keys);
    rt__strv_free (&y->vals);
}

static const char *
s_yaml_get (const s_yaml_t *y, const char *key)
{
    for (size_t i = 0; i < y->keys.n; i++)
        if (strcmp (y->keys.v[i], key) == 0)
            return y->vals.v[i];
    return NULL;
}

/* Appends a list item to the value at index i (turning it into a list). */
static int
s_yaml_list_add (s_yaml_t *y, size_t i, const char *item)
{
    const char *old = y->vals.v[i];
    buf_t *b = buf_new (1 << 16);
    if (!b)
        return rt__fail (RT_E_NOMEM, "out of memory");
    int rc = 0;
    if (old[0] == '\x02')
        rc |= buf_puts (b, old);
    else
        rc |= buf_puts (b, "\x02");
    if (buf_len (b) > 1)
        rc |= buf_puts (b, "\x01");
    rc |= buf_puts (b, item);
    if (rc != 0) {
        buf_destroy (&b);
        return rt__fail (RT_E_TOOBIG, "yaml value too long");
    }
    char *nv = buf_detach (b);
    buf_destroy (&b);
    if (!nv)
        return rt__fail (RT_E_NOMEM, "out of memory");
    free (y->vals.v[i]);
    y->vals.v[i] = nv;
    return RT_OK;
}

static int
s_yaml_line (s_yaml_t *y, const char *line, size_t llen)
{
    size_t a = 0;
    while (a < llen && s_is_space (line[a]))
        a++;
    if (a == llen || line[a] == '#')
        return RT_OK;
    if (line[a] == '-' && (a + 1 == llen || line[a + 1] == ' ')) {
        if (y->keys.n == 0)
            return rt__fail (RT_E_FORMAT, "yaml list item without a key");
        char *item = s_strndup_trim (line + a + 1, llen - a - 1);
        if (!item)
            return rt__fail (RT_E_NOMEM, "out of memory");
        s_unquote (item);
        int rc = s_yaml_list_add (y, y->keys.n - 1, item);
        free (item);
        return rc;
    }
    const char *colon = memchr (line + a, ':', llen - a);
    if (!colon)
        return rt__fail (RT_E_FORMAT, "yaml line without ':'");
    char *key = s_strndup_trim (line + a, (size_t) (colon - line) - a);
    char *val = s_strndup_trim (colon + 1, llen - (size_t) (colon - line) - 1);
    int rc = RT_OK;
    if (!key || !val) {
        rc = rt__fail (RT_E_NOMEM, "out of memory");
        goto done;
    }
    if ((rc = rt__strv_push (&y->keys, key)) < 0 || (rc = rt__strv_push (&y->vals, "")) < 0)
        goto done;
    size_t vl = strlen (val);
    if (vl >= 2 && val[0] == '[' && val[vl - 1] == ']') {
        /* flow list: [a, "b", c] */
        val[vl - 1] = '\0';
        char *save = NULL;
        size_t idx = y->keys.n - 1;
        free (y->vals.v[idx]);
        y->vals.v[idx] = str_dup ("\x02");
        if (!y->vals.v[idx]) {
            rc = rt__fail (RT_E_NOMEM, "out of memory");
            goto done;
        }
        for (char *tok = strtok_r (val + 1, ",", &save); tok; tok = strtok_r (NULL, ",", &save)) {
            char *item = s_strndup_trim (tok, strlen (tok));
            if (!item) {
                rc = rt__fail (RT_E_NOMEM, "out of memory");
                goto done;
            }
            s_unquote (item);
            if (*item)
                rc = s_yaml_list_add (y, idx, item);
            free (item);
            if (rc < 0)
                goto done;
        }
    } else {
        s_unquote (val);
        free (y->vals.v[y->keys.n - 1]);
        y->vals.v[y->keys.n - 1] = val;
        val = NULL;
    }
done:
    free (key);
    free (val);
    return rc;
}

static int
s_yaml_to_json (const s_yaml_t *y, buf_t *out)
{
    int rc = buf_puts (out, "{");
    for (size_t i = 0; i < y->keys.n && rc == 0; i++) {
        if (i)
            rc |= buf_puts (out, ",");
        rc |= buf_json_str (out, y->keys.v[i]);
        rc |= buf_puts (out, ":");
        const char *v = y->vals.v[i];
        if (v[0] == '\x02') {
            rc |= buf_puts (out, "[");
            const char *p = v + 1;
            bool first = true;
            while (*p && rc == 0) {
                const char *e = strchr (p, '\x01');
                size_t l = e ? (size_t) (e - p) : strlen (p);
                char *item = str_ndup (p, l);
                if (!item)
                    return rt__fail (RT_E_NOMEM, "out of memory");
                if (!first)
                    rc |= buf_puts (out, ",");
                rc |= buf_json_str (out, item);
                free (item);
                first = false;
                p += l + (e ? 1 : 0);
            }
            rc |= buf_puts (out, "]");
        } else {
            rc |= buf_json_str (out, v);
        }
    }
    rc |= buf_puts (out, "}");
    return rc ? rt__fail (RT_E_TOOBIG, "runbook metadata too large") : RT_OK;
}

static int
s_runbook_chunk (const char *name, const char *id, const char *text, size_t a, size_t b,
                 rt_docset_t *out)
{
    s_lines_t lr = {text, b, a};
    const char *line;
    size_t llen, lstart;
    s_yaml_t y = {0};
    int rc = RT_OK;
    int state = 0; /* 0 before yaml, 1 inside yaml, 2 after yaml */
    size_t content = 0;
    bool have_yaml = false;
    while (s_next_line (&lr, &line, &llen, &lstart)) {
        if (state == 0 && (s_line_is (line, llen, "```yaml") || s_line_is (line, llen, "```yml"))) {
            state = 1;
            have_yaml = true;
        } else if (state == 1) {
            if (s_line_is (line, llen, "```"))
                state = 2;
            else if ((rc = s_yaml_line (&y, line, llen)) < 0) {
                rc = rt__fail (rc, "%s: chunk %s: %s", name, id, rt_last_error ());
                goto done;
            }
        } else if (s_line_is (line, llen, "**content**")) {
            content = lr.pos;
            break;
        }
    }
    if (!have_yaml || state == 1) {
        rc = rt__fail (RT_E_FORMAT, "%s: chunk %s has no closed ```yaml block", name, id);
        goto done;
    }
    if (!content) {
        rc = rt__fail (RT_E_FORMAT, "%s: chunk %s has no **content** line", name, id);
        goto done;
    }
    const char *yid = s_yaml_get (&y, "chunk_id");
    if (yid && strcmp (yid, id) != 0) {
        rc = rt__fail (RT_E_FORMAT, "%s: chunk header %s disagrees with chunk_id %s", name, id, yid);
        goto done;
    }
    while (content < b && s_is_space (text[content]))
        content++;
    size_t cend = b;
    while (cend > content && s_is_space (text[cend - 1]))
        cend--;
    if (cend <= content) {
        rc = rt__fail (RT_E_FORMAT, "%s: chunk %s has empty content", name, id);
        goto done;
    }
    const char *platform = s_yaml_get (&y, "platform_id");
    const char *topic = s_yaml_get (&y, "topic");
    const char *title = s_yaml_get (&y, "title");
    if (!platform || platform[0] == '\x02')
        platform = "";
    if (!topic || topic[0] == '\x02')
        topic = "";
    if (!title || title[0] == '\x02' || !*title)
        title = topic;
    buf_t *doc = buf_new (1 << 20), *meta = buf_new (1 << 16);
    if (!doc || !meta) {
        buf_destroy (&doc);
        buf_destroy (&meta);
        rc = rt__fail (RT_E_NOMEM, "out of memory");
        goto done;
    }
    char did[200];
    if (buf_printf (doc, "[RUNBOOK] platform=%s topic=%s id=%s\n\n", platform, topic, id) != 0
        || buf_append (doc, text + content, cend - content) != 0)
        rc = rt__fail (RT_E_TOOBIG, "%s: chunk %s too large", name, id);
    else if ((rc = s_yaml_to_json (&y, meta)) == RT_OK) {
        str_fmt (did, sizeof did, "runbook::%s", id);
        rt_doc_t d = {.doc_id = did,
                      .corpus = RT_CORPUS_RUNBOOKS,
                      .type = "runbook",
                      .title = title,
                      .url = "",
                      .anchor = id,
                      .text = buf_data (doc),
                      .entity_ids = "",
                      .source_file = name,
                      .meta_json = buf_data (meta)};
        rc = rt_docset_add (out, &d);
    }
    buf_destroy (&doc);
    buf_destroy (&meta);
done:
    s_yaml_free (&y);
    return rc;
}

int
rt_runbook_parse (const char *name, const char *text, size_t len, rt_docset_t *out)
{
    if (!name || !text || !out)
        return rt__fail (RT_E_ARG, "rt_runbook_parse: NULL argument");
    s_lines_t lr = {text, len, 0};
    const char *line;
    size_t llen, lstart;
    char id[128], cur[128] = "";
    size_t cur_start = 0;
    int chunks = 0, rc = RT_OK;
    bool in_fence = false;
    for (;;) {
        bool more = s_next_line (&lr, &line, &llen, &lstart);
        bool hdr = false;
        if (more) {
            if (llen >= 3 && memcmp (line, "```", 3) == 0)
                in_fence = !in_fence;
            hdr = !in_fence && s_chunk_header (line, llen, id, sizeof id);
        }
        if (!more || hdr) {
            if (cur[0]) {
                rc = s_runbook_chunk (name, cur, text, cur_start, more ? lstart : len, out);
                if (rc < 0)
                    return rc;
                chunks++;
            }
            if (!more)
                break;
            str_copy (cur, sizeof cur, id);
            cur_start = lr.pos;
        }
    }
    if (chunks == 0)
        return rt__fail (RT_E_FORMAT, "%s: no \"## Chunk <id>\" header found", name);
    return RT_OK;
}
