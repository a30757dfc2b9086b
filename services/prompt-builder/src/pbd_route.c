/* pbd_route.c — deterministic routing of an Explain question to the
 * telemetry, docs and runbook corpora.
 *
 * The reference (seed-copilot §6.1) always retrieved telemetry and added docs
 * when a lower-cased substring test hit one of its topic keywords or intent
 * regexes; its entity-anchor check was dead code and there was no docs-only
 * path (§11 items 14, 16). Here:
 *
 *   anchored   = a selection exists, or the text holds an anchor
 *                (job_id=, run_id=, query_id=, warehouse_id=, cluster_id=,
 *                user_id=, compute_type=) or a node id "<type>::<key>";
 *   docs_int   = one of the reference's intent phrases, matched on word
 *                boundaries (\bwhat is\b ... \blimit(s)?\b);
 *   docs_kw    = one of the reference's topic keywords on word boundaries;
 *   diagnostic = a diagnostic stem at a word start (fail, evict, spike,
 *                regress, error, oom, ...) in the question or chip label, or
 *                a diagnostic chip kind (core:spike, job:reliability,
 *                compute:stability);
 *
 *   telemetry  = anchored || !docs_int || diagnostic
 *   docs       = docs_int || docs_kw
 *   runbooks   = diagnostic
 *   primary    = telemetry when anchored or !docs_int, docs otherwise.
 *
 * The reason string names the first match of every rule in list order, so
 * it is a pure function of the input. Word boundaries: a match must not be
 * preceded or followed by an ASCII letter, digit or '_' (regex \w; stems
 * only check the start), so "compute_type=" is an anchor, not the keyword
 * "compute". No regex library: the phrases are fixed, a hand-written matcher is
 * exact and cheap.
 */
#include "pbd_route.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "pbd_error.h"
#include "str.h"

/* The reference's topic keyword list (seed-copilot §6.1 step 4). */
static const char *const s_docs_keywords[] = {
    "compute", "cluster", "clusters", "autoscaling", "auto scaling", "node type", "instance type",
    "spot", "on-demand", "ondemand", "photon", "sql warehouse", "warehouse", "serverless", "dbu",
    "pools", "cluster policy", "policies", "job cluster", "all-purpose", "all purpose", NULL};

/* The reference's intent regexes, expanded: \bwhat is\b, \bwhat does\b,
 * \bhow do i\b, \bhow to\b, \bhow does\b, \bconfigure\b, \bsetting(s)?\b,
 * \bbest practice(s)?\b, \blimit(s)?\b. */
static const char *const s_docs_intents[] = {
    "what is", "what does", "how do i", "how to", "how does", "configure", "setting", "settings",
    "best practice", "best practices", "limit", "limits", NULL};

/* Diagnostic stems: matched at a word start, any suffix. */
static const char *const s_diag_stems[] = {
    "fail", "evict", "spike", "spiki", "regress", "error", "oom", "out of memory", "crash", "outage",
    "incident", "anomal", "timeout", "timed out", "retry", "retries", "unstable", "instabilit",
    "stability", "preempt", "terminat", "slowdown", "degrad", NULL};

/* Chip kinds (second field of core/job/compute chip ids) that are diagnostic. */
static const char *const s_diag_chips[] = {"core:spike:", "job:reliability:", "compute:stability:", NULL};

/* Text anchors and the graph type their value names ("" = no node). */
static const struct {
    const char *key;
    const char *type;
} s_anchors[] = {
    {"job_id=", "job"},        {"run_id=", "jobrun"},     {"query_id=", "query"},
    {"warehouse_id=", "compute"}, {"cluster_id=", "compute"}, {"user_id=", "user"},
    {"compute_type=", ""},     {NULL, NULL}};

/* Graph node types (ARCHITECTURE/TEAM conventions). */
static const char *const s_node_types[] = {"workspace", "user", "job", "compute", "jobrun", "usage",
                                           "event", "eviction", "query", "configchange", "anomaly",
                                           NULL};

static bool
s_word_char (char c)
{
    return isalnum ((unsigned char) c) != 0 || c == '_';
}

/* Finds `needle` in `hay` (ASCII case-insensitive) at a word start; when
 * `whole` the match must also end at a word boundary. Returns the match or
 * NULL. */
static const char *
s_find_word (const char *hay, const char *needle, bool whole)
{
    size_t n = strlen (needle);
    if (!hay || n == 0)
        return NULL;
    for (const char *p = hay; *p; p++) {
        if (p != hay && s_word_char (p[-1]))
            continue;
        size_t i = 0;
        while (i < n && p[i] && tolower ((unsigned char) p[i]) == tolower ((unsigned char) needle[i]))
            i++;
        if (i < n)
            continue;
        if (whole && s_word_char (p[n]))
            continue;
        return p;
    }
    return NULL;
}

/* First entry of `list` found in `text` (in list order), or NULL. */
static const char *
s_first_match (const char *text, const char *const *list, bool whole)
{
    for (size_t i = 0; list[i]; i++)
        if (s_find_word (text, list[i], whole))
            return list[i];
    return NULL;
}

static bool
s_is_node_type (const char *t, size_t n)
{
    for (size_t i = 0; s_node_types[i]; i++)
        if (strlen (s_node_types[i]) == n && strncmp (s_node_types[i], t, n) == 0)
            return true;
    return false;
}

/* Length of an anchor value starting at v: up to white space or punctuation
 * that cannot be part of an id; a trailing '.' is dropped. */
static size_t
s_value_len (const char *v)
{
    size_t n = 0;
    while (v[n] && !isspace ((unsigned char) v[n]) && !strchr (",;()[]{}\"'`<>|", v[n]))
        n++;
    while (n > 0 && (v[n - 1] == '.' || v[n - 1] == ':'))
        n--;
    return n;
}

/* Looks for a node id "<type>::<key>" in text. Writes it into out and
 * returns true when found (first in text order). */
static bool
s_find_node_id (const char *text, char *out, size_t size)
{
    if (!text)
        return false;
    for (const char *p = strstr (text, "::"); p; p = strstr (p + 2, "::")) {
        const char *start = p;
        while (start > text && (islower ((unsigned char) start[-1])))
            start--;
        size_t tlen = (size_t) (p - start);
        if (tlen == 0 || !s_is_node_type (start, tlen))
            continue;
        if (start > text && (s_word_char (start[-1]) || start[-1] == '_'))
            continue;
        size_t vlen = s_value_len (p + 2);
        if (vlen == 0)
            continue;
        if (tlen + 2 + vlen + 1 > size)
            continue;
        memcpy (out, start, tlen + 2 + vlen);
        out[tlen + 2 + vlen] = '\0';
        return true;
    }
    return false;
}

/* Looks for a key=value anchor. On success writes the node id (or "" when
 * the key has no node type) into node, the matched "key=value" into text_out,
 * and returns true. The first anchor in TEXT order wins. */
static bool
s_find_kv_anchor (const char *text, char *node, size_t nsize, char *text_out, size_t tsize)
{
    if (!text)
        return false;
    const char *best = NULL;
    size_t best_i = 0;
    for (size_t i = 0; s_anchors[i].key; i++) {
        const char *m = s_find_word (text, s_anchors[i].key, false);
        if (m && (!best || m < best)) {
            best = m;
            best_i = i;
        }
    }
    if (!best)
        return false;
    const char *v = best + strlen (s_anchors[best_i].key);
    size_t vlen = s_value_len (v);
    if (vlen == 0)
        return false;
    size_t klen = strlen (s_anchors[best_i].key);
    if (klen + vlen + 1 > tsize)
        return false;
    memcpy (text_out, best, klen + vlen);
    text_out[klen + vlen] = '\0';
    node[0] = '\0';
    if (s_anchors[best_i].type[0]) {
        size_t tl = strlen (s_anchors[best_i].type);
        if (tl + 2 + vlen + 1 <= nsize) {
            memcpy (node, s_anchors[best_i].type, tl);
            memcpy (node + tl, "::", 2);
            memcpy (node + tl + 2, v, vlen);
            node[tl + 2 + vlen] = '\0';
        }
    }
    return true;
}

int
pbd_node_id (const char *entity_type, const char *entity_id, char *out, size_t size)
{
    if (!entity_type || !entity_id || !*entity_type || !*entity_id || !out || size == 0)
        return -1;
    static const struct {
        const char *alias;
        const char *type;
    } aliases[] = {{"cluster", "compute"}, {"warehouse", "compute"}, {"compute_id", "compute"},
                   {"run", "jobrun"},       {"job_run", "jobrun"},     {"sql_query", "query"},
                   {NULL, NULL}};
    const char *type = NULL;
    for (size_t i = 0; s_node_types[i]; i++)
        if (strcmp (s_node_types[i], entity_type) == 0)
            type = s_node_types[i];
    for (size_t i = 0; !type && aliases[i].alias; i++)
        if (strcmp (aliases[i].alias, entity_type) == 0)
            type = aliases[i].type;
    if (!type)
        return -1;
    return str_fmt (out, size, "%s::%s", type, entity_id);
}

/* Appends "; " + formatted text to the reason (truncation is harmless). */
static void
s_reason (pbd_route_t *r, const char *fmt, const char *a, const char *b)
{
    size_t len = strlen (r->reason);
    if (len >= sizeof r->reason - 1)
        return;
    char part[256];
    if (snprintf (part, sizeof part, fmt, a ? a : "", b ? b : "") < 0)
        return;
    if (len > 0)
        str_append (r->reason, sizeof r->reason, "; ");
    str_append (r->reason, sizeof r->reason, part);
}

int
pbd_route_decide (const pbd_route_input_t *in, pbd_route_t *out)
{
    if (!in || !out)
        return PBD_E_INVALID;
    memset (out, 0, sizeof *out);
    const char *q = in->question ? in->question : "";

    /* Anchor: the selection first, then key=value anchors, then node ids. */
    char anchor_text[PBD_ROUTE_ANCHOR_MAX] = "";
    bool anchored = false;
    if (in->entity_type && *in->entity_type && in->entity_id && *in->entity_id) {
        anchored = true;
        str_copy (out->anchor_source, sizeof out->anchor_source, "selection");
        if (pbd_node_id (in->entity_type, in->entity_id, out->anchor, sizeof out->anchor) != 0)
            out->anchor[0] = '\0';
        if (str_fmt (anchor_text, sizeof anchor_text, "%s %s", in->entity_type, in->entity_id) != 0)
            str_copy (anchor_text, sizeof anchor_text, in->entity_type);
        if (out->anchor[0])
            str_copy (anchor_text, sizeof anchor_text, out->anchor);
    } else {
        char node[PBD_ROUTE_ANCHOR_MAX], kv[PBD_ROUTE_ANCHOR_MAX];
        const char *kvpos = NULL, *nodepos = NULL;
        if (s_find_kv_anchor (q, node, sizeof node, kv, sizeof kv))
            kvpos = s_find_word (q, kv, false);
        char nid[PBD_ROUTE_ANCHOR_MAX];
        if (s_find_node_id (q, nid, sizeof nid))
            nodepos = strstr (q, nid);
        if (kvpos && (!nodepos || kvpos <= nodepos)) {
            anchored = true;
            str_copy (out->anchor, sizeof out->anchor, node);
            str_copy (anchor_text, sizeof anchor_text, kv);
        } else if (nodepos) {
            anchored = true;
            str_copy (out->anchor, sizeof out->anchor, nid);
            str_copy (anchor_text, sizeof anchor_text, nid);
        }
        if (anchored)
            str_copy (out->anchor_source, sizeof out->anchor_source, "text");
    }

    const char *intent = s_first_match (q, s_docs_intents, true);
    const char *kw = s_first_match (q, s_docs_keywords, true);

    const char *diag = NULL, *diag_where = NULL;
    for (size_t i = 0; in->chip_id && s_diag_chips[i]; i++)
        if (str_starts_with (in->chip_id, s_diag_chips[i])) {
            diag = s_diag_chips[i];
            diag_where = "chip kind";
            break;
        }
    if (!diag && (diag = s_first_match (q, s_diag_stems, false)) != NULL)
        diag_where = "question";
    if (!diag && (diag = s_first_match (in->chip_label, s_diag_stems, false)) != NULL)
        diag_where = "chip label";

    out->docs = intent != NULL || kw != NULL;
    out->runbooks = diag != NULL;
    out->telemetry = anchored || intent == NULL || diag != NULL;
    bool telemetry_first = anchored || intent == NULL;
    str_copy (out->primary, sizeof out->primary, telemetry_first ? "telemetry" : "docs");

    if (anchored)
        s_reason (out, "telemetry first: anchored on %s (%s)", anchor_text, out->anchor_source);
    else if (out->telemetry && intent == NULL)
        s_reason (out, "telemetry first: usage question without an entity anchor%s%s", "", "");
    else if (out->telemetry)
        s_reason (out, "docs first: docs question without an entity anchor; telemetry for the diagnostic term%s%s", "", "");
    else
        s_reason (out, "docs only: docs question ('%s') without an entity anchor or diagnostic term%s", intent, "");
    if (intent && kw) {
        char both[128];
        str_fmt (both, sizeof both, "intent '%s', keyword '%s'", intent, kw);
        s_reason (out, "docs: %s%s", both, "");
    } else if (intent)
        s_reason (out, "docs: intent '%s'%s", intent, "");
    else if (kw)
        s_reason (out, "docs: keyword '%s'%s", kw, "");
    if (diag)
        s_reason (out, "runbooks: diagnostic '%s' (%s)", diag, diag_where);
    return PBD_OK;
}
