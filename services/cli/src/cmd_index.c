/* cmd_index.c — `copilot index`: builds the retrieval index directory
 * (telemetry, docs and runbooks corpora; FAISS + SQLite/FTS5 metadata) with
 * rt_retrieval, locally, without any daemon.
 *
 * Configuration comes from the usual places (cfg.h: --config file, then
 * COPILOT_RETRIEVAL_* environment) with command-line flags on top. Progress is
 * drawn on stderr (one bar per stage) when stderr is a terminal or with
 * --progress; the summary goes to stdout. The API key of an OpenAI-compatible
 * embedder is never printed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "cli.h"
#include "dl_progress.h"
#include "rt.h"
#include "str.h"

static void
s_help (FILE *out)
{
    fprintf (out,
             "usage: copilot index --db PATH --out DIR [options]\n"
             "\n"
             "Builds the retrieval index: telemetry documents from the database (ids are graph\n"
             "node ids), the built-in Databricks knowledge base and runbooks, plus optional extra\n"
             "folders. DIR is replaced atomically (only if it is empty or an index).\n"
             "\n"
             "options:\n"
             "  --db PATH            telemetry database (default: $COPILOT_DB_PATH)\n"
             "  --no-telemetry       index only the docs and runbooks corpora\n"
             "  --out DIR            index directory to create or replace (required)\n"
             "  --config FILE        configuration file (retrieval.* keys)\n"
             "  --embedder NAME      lsa (local, default) or openai\n"
             "  --dim N              embedding dimension (lsa default 256)\n"
             "  --docs-dir DIR       extra knowledge-base notes (*.md)\n"
             "  --runbooks-dir DIR   extra runbooks (*.md)\n"
             "  --progress           draw the progress bar even when stderr is not a terminal\n"
             "  -h, --help           this text\n"
             "\n"
             "examples:\n"
             "  copilot index --db data/usage.db --out data/index --progress\n"
             "  copilot index --no-telemetry --out /tmp/docs-index\n");
}

typedef struct {
    dl_progress_t *bar;
    char stage[64];
    bool force;
} s_prog_t;

static void
s_progress (const char *stage, size_t done, size_t total, void *arg)
{
    s_prog_t *p = arg;
    if (strcmp (p->stage, stage) != 0) {
        if (p->bar) {
            dl_progress_finish (p->bar);
            dl_progress_destroy (&p->bar);
        }
        str_copy (p->stage, sizeof p->stage, stage);
        p->bar = dl_progress_new (stage, total, p->force);
    }
    if (p->bar)
        dl_progress_set (p->bar, done);
}

int
cmd_index (int argc, char **argv)
{
    const char *db = NULL, *out = NULL, *config = NULL, *embedder = NULL, *dim = NULL,
               *docs_dir = NULL, *runbooks_dir = NULL;
    bool no_tel = false, force = false;
    const cli_opt_t opts[] = {{"db", &db, NULL},
                              {"out", &out, NULL},
                              {"config", &config, NULL},
                              {"embedder", &embedder, NULL},
                              {"dim", &dim, NULL},
                              {"docs-dir", &docs_dir, NULL},
                              {"runbooks-dir", &runbooks_dir, NULL},
                              {"no-telemetry", NULL, &no_tel},
                              {"progress", NULL, &force},
                              {NULL, NULL, NULL}};
    int npos = 0;
    int prc = cli_parse ("index", argc, argv, 1, opts, NULL, 0, &npos);
    if (prc == 1) {
        s_help (stdout);
        return CLI_OK;
    }
    if (prc != 0)
        return prc;
    if (!out) {
        fprintf (stderr, "copilot index: --out DIR is required\n");
        return CLI_USAGE;
    }
    if (!db && !no_tel)
        db = getenv ("COPILOT_DB_PATH");
    if (!db && !no_tel)
        return cli_error ("index", "no database: pass --db PATH, set COPILOT_DB_PATH, or use --no-telemetry");

    const char *err = NULL;
    cfg_t *cfg = cfg_new (config, &err);
    if (!cfg)
        return cli_error ("index", "configuration: %s", err ? err : "cannot load");
    int rc = 0;
    if (embedder)
        rc |= cfg_set (cfg, "retrieval.embedder", embedder);
    if (dim)
        rc |= cfg_set (cfg, "retrieval.dim", dim);
    if (docs_dir)
        rc |= cfg_set (cfg, "retrieval.docs_dir", docs_dir);
    if (runbooks_dir)
        rc |= cfg_set (cfg, "retrieval.runbooks_dir", runbooks_dir);
    rt_config_t rc_cfg;
    if (rc != 0 || rt_config_load (cfg, &rc_cfg) != RT_OK) {
        int r = cli_error ("index", "configuration: %s", rc ? "out of memory" : rt_last_error ());
        cfg_destroy (&cfg);
        return r;
    }
    cfg_destroy (&cfg);

    s_prog_t prog = {.force = force};
    rt_build_stats_t st = {0};
    int brc = rt_index_build (no_tel ? NULL : db, out, &rc_cfg, s_progress, &prog, &st);
    if (prog.bar) {
        dl_progress_finish (prog.bar);
        dl_progress_destroy (&prog.bar);
    }
    memset (rc_cfg.openai_api_key, 0, sizeof rc_cfg.openai_api_key);
    if (brc != RT_OK)
        return cli_error ("index", "%s: %s", rt_strerror (brc), rt_last_error ());
    printf ("index %s: version %s, embedder %s, dim %d\n", out, st.index_version, st.embedder, st.dim);
    printf ("documents: telemetry %zu, docs %zu, runbooks %zu\n", st.docs[0], st.docs[1], st.docs[2]);
    printf ("size %.2f MiB; corpus %.2f s, embed %.2f s, index %.2f s\n", (double) st.bytes / 1048576.0,
            st.seconds_load, st.seconds_embed, st.seconds_index);
    return CLI_OK;
}
