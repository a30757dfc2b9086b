/* cmd_search.c — `copilot search`: hybrid search over an index directory
 * (locally, with rt_retrieval) or through a running retrieval-router /
 * retrieval-service (--endpoint, one SearchRequest over the bus).
 *
 * Output is one block per hit: rank, score, doc id, corpus, title, url with
 * anchor, and the first line(s) of the text; --json prints the hits as a JSON
 * array instead. Both are deterministic for a given index and query. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "bus.h"
#include "cfg.h"
#include "cli.h"
#include "env.h"
#include "rt.h"
#include "str.h"

#define MAX_ENTITIES 256

static void
s_help (FILE *out)
{
    fprintf (out,
             "usage: copilot search \"<query>\" --index DIR [options]\n"
             "       copilot search \"<query>\" --endpoint EP [options]\n"
             "\n"
             "Hybrid search (BM25 + vectors, reciprocal-rank fusion) over the telemetry, docs and\n"
             "runbooks corpora.\n"
             "\n"
             "options:\n"
             "  --index DIR        index directory built by 'copilot index'\n"
             "  --endpoint EP      ask a retrieval-router/retrieval-service instead (e.g.\n"
             "                     ipc:///tmp/copilot-1000/retrieval-router.sock)\n"
             "  --corpus NAME      telemetry, docs or runbooks (default: all)\n"
             "  --k N              number of hits, 1..100 (default 5)\n"
             "  --entity IDS       comma-separated node ids; only hits about them\n"
             "  --mode MODE        hybrid (default), vector or keyword\n"
             "  --config FILE      configuration file (retrieval.* keys)\n"
             "  --json             JSON output\n"
             "  -h, --help         this text\n"
             "\n"
             "examples:\n"
             "  copilot search \"spot eviction retries\" --index data/index --k 3\n"
             "  copilot search \"J-FIN-DAILY cost spike\" --index data/index --corpus telemetry --json\n");
}

typedef struct {
    const char *doc_id, *corpus, *title, *url, *anchor, *text, *entity_ids;
    double score;
} s_hit_t;

static void
s_print_hit (int rank, const s_hit_t *h, bool json, bool first)
{
    if (json) {
        buf_t *b = buf_new (1u << 20);
        if (!b)
            return;
        buf_printf (b, "%s\n  {\"rank\":%d,\"score\":%.6f,\"doc_id\":", first ? "" : ",", rank, h->score);
        buf_json_str (b, h->doc_id);
        buf_puts (b, ",\"corpus\":");
        buf_json_str (b, h->corpus);
        buf_puts (b, ",\"title\":");
        buf_json_str (b, h->title);
        buf_puts (b, ",\"url\":");
        buf_json_str (b, h->url);
        buf_puts (b, ",\"anchor\":");
        buf_json_str (b, h->anchor);
        buf_puts (b, ",\"entity_ids\":");
        buf_json_str (b, h->entity_ids);
        buf_puts (b, ",\"text\":");
        buf_json_str (b, h->text);
        buf_puts (b, "}");
        fputs (buf_data (b), stdout);
        buf_destroy (&b);
        return;
    }
    printf ("%2d. %.4f  %s  [%s]\n", rank, h->score, h->doc_id, h->corpus);
    if (*h->title)
        printf ("    %s\n", h->title);
    if (*h->url)
        printf ("    %s%s%s\n", h->url, *h->anchor ? "#" : "", h->anchor);
    /* first 200 bytes of text on one line */
    char snip[204];
    size_t n = 0;
    for (const char *p = h->text; *p && n < 200; p++)
        snip[n++] = (*p == '\n' || *p == '\t') ? ' ' : *p;
    while (n > 0 && ((unsigned char) snip[n - 1] & 0xC0) == 0x80)
        n--; /* do not cut a UTF-8 sequence (drops its lead byte's tail) */
    if (n > 0 && ((unsigned char) snip[n - 1] & 0xC0) == 0xC0)
        n--;
    snip[n] = '\0';
    printf ("    %s%s\n", snip, strlen (h->text) > 200 ? " ..." : "");
}

static int
s_remote (const char *endpoint, const char *query, const char *corpus, int k, char **ents, size_t nents,
          const char *mode, bool json)
{
    env_t *req = env_new ("cli");
    Copilot__V1__SearchRequest *sr = env_msg_new (&copilot__v1__search_request__descriptor);
    if (!req || !sr) {
        env_free (req);
        if (sr)
            protobuf_c_message_free_unpacked (&sr->base, NULL);
        return cli_error ("search", "out of memory");
    }
    env_set_str (&sr->corpus, corpus);
    env_set_str (&sr->query, query);
    env_set_str (&sr->mode, mode);
    sr->k = (uint32_t) k;
    for (size_t i = 0; i < nents; i++) {
        char *s = env_strdup (ents[i]);
        if (!s || ENV_APPEND (sr->entity_ids, sr->n_entity_ids, s) != 0) {
            free (s);
            break;
        }
    }
    env_set_body (req, COPILOT__V1__ENVELOPE__BODY_SEARCH_REQUEST, sr);
    req->header->idempotent = true;
    env_t *reply = NULL;
    int rc = bus_call (endpoint, req, &reply, 10000);
    env_free (req);
    if (!reply)
        return cli_error ("search", "%s: %s", endpoint, bus_strerror (rc));
    int out = CLI_OK;
    if (env_is_error (reply)) {
        out = cli_error ("search", "%s: %s", env_code_name (env_error (reply)->code), env_error (reply)->message);
    } else if (reply->body_case != COPILOT__V1__ENVELOPE__BODY_SEARCH_REPLY) {
        out = cli_error ("search", "unexpected reply %s", env_body_name (reply->body_case));
    } else {
        const Copilot__V1__SearchReply *r = reply->search_reply;
        if (json)
            printf ("[");
        else
            printf ("served by %s, index %s, embedder %s (dim %u)\n", r->served_by, r->index_version,
                    r->embedder, r->dim);
        for (size_t i = 0; i < r->n_hits; i++) {
            const Copilot__V1__SearchHit *h = r->hits[i];
            char ents_buf[4096] = "";
            for (size_t e = 0; e < h->n_entity_ids; e++) {
                if (e)
                    str_append (ents_buf, sizeof ents_buf, " ");
                str_append (ents_buf, sizeof ents_buf, h->entity_ids[e]);
            }
            s_hit_t hh = {h->doc_id, h->corpus, h->title, h->url, h->anchor, h->text, ents_buf, h->score};
            s_print_hit ((int) h->rank, &hh, json, i == 0);
        }
        if (json)
            printf ("\n]\n");
    }
    env_free (reply);
    return out;
}

int
cmd_search (int argc, char **argv)
{
    const char *index = NULL, *endpoint = NULL, *corpus = NULL, *k_s = NULL, *ent_s = NULL,
               *mode_s = NULL, *config = NULL;
    bool json = false;
    const cli_opt_t opts[] = {{"index", &index, NULL},   {"endpoint", &endpoint, NULL},
                              {"corpus", &corpus, NULL}, {"k", &k_s, NULL},
                              {"entity", &ent_s, NULL},  {"mode", &mode_s, NULL},
                              {"config", &config, NULL}, {"json", NULL, &json},
                              {NULL, NULL, NULL}};
    const char *pos[1] = {NULL};
    int npos = 0;
    int prc = cli_parse ("search", argc, argv, 1, opts, pos, 1, &npos);
    if (prc == 1) {
        s_help (stdout);
        return CLI_OK;
    }
    if (prc != 0)
        return prc;
    if (npos != 1 || !*pos[0]) {
        fprintf (stderr, "copilot search: a query is required\n");
        return CLI_USAGE;
    }
    if (!index == !endpoint) {
        fprintf (stderr, "copilot search: pass exactly one of --index DIR or --endpoint EP\n");
        return CLI_USAGE;
    }
    int k = 5;
    if (k_s && str_to_int (k_s, 1, 100, &k) != 0) {
        fprintf (stderr, "copilot search: --k '%s': expected an integer in [1, 100]\n", k_s);
        return CLI_USAGE;
    }
    rt_mode_t mode;
    if (rt_mode_parse (mode_s, &mode) != RT_OK) {
        fprintf (stderr, "copilot search: --mode '%s': expected hybrid, vector or keyword\n", mode_s);
        return CLI_USAGE;
    }
    if (corpus && !rt_corpus_valid (corpus)) {
        fprintf (stderr, "copilot search: --corpus '%s': expected telemetry, docs or runbooks\n", corpus);
        return CLI_USAGE;
    }
    char *ents[MAX_ENTITIES];
    size_t nents = 0;
    char *ent_copy = ent_s ? str_dup (ent_s) : NULL;
    if (ent_copy) {
        char *save = NULL;
        for (char *t = strtok_r (ent_copy, ",", &save); t && nents < MAX_ENTITIES; t = strtok_r (NULL, ",", &save))
            if (*str_trim (t))
                ents[nents++] = t;
    }
    int out = CLI_OK;
    if (endpoint) {
        out = s_remote (endpoint, pos[0], corpus ? corpus : "", k, ents, nents, mode_s ? mode_s : "", json);
        free (ent_copy);
        return out;
    }

    const char *err = NULL;
    cfg_t *cfg = cfg_new (config, &err);
    if (!cfg) {
        free (ent_copy);
        return cli_error ("search", "configuration: %s", err ? err : "cannot load");
    }
    rt_config_t rcfg;
    int crc = rt_config_load (cfg, &rcfg);
    cfg_destroy (&cfg);
    if (crc != RT_OK) {
        free (ent_copy);
        return cli_error ("search", "configuration: %s", rt_last_error ());
    }
    rt_index_t *ix = rt_index_open (index, &rcfg);
    memset (rcfg.openai_api_key, 0, sizeof rcfg.openai_api_key);
    if (!ix) {
        free (ent_copy);
        return cli_error ("search", "%s", rt_last_error ());
    }
    rt_query_t q = {.corpus = corpus, .query = pos[0], .k = k, .entity_ids = (const char *const *) ents,
                    .n_entity_ids = nents, .mode = mode};
    rt_result_t *res = NULL;
    int src = rt_index_search (ix, &q, &res);
    if (src != RT_OK) {
        out = cli_error ("search", "%s: %s", rt_strerror (src), rt_last_error ());
    } else {
        if (json)
            printf ("[");
        for (size_t i = 0; i < rt_result_count (res); i++) {
            const rt_hit_t *h = rt_result_hit (res, i);
            s_hit_t hh = {h->doc->doc_id, h->doc->corpus, h->doc->title, h->doc->url, h->doc->anchor,
                          h->doc->text, h->doc->entity_ids, h->score};
            s_print_hit ((int) i + 1, &hh, json, i == 0);
        }
        if (json)
            printf ("\n]\n");
        else if (rt_result_count (res) == 0)
            printf ("no hits\n");
    }
    rt_result_destroy (&res);
    rt_index_destroy (&ix);
    free (ent_copy);
    return out;
}
