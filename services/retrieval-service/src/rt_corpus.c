/* rt_corpus.c — where the docs and runbooks corpora come from.
 *
 * The curated knowledge base (corpus/docs/<name>.md) and our runbooks
 * (corpus/runbooks/<name>.md) are compiled into the library with copilot_embed,
 * so every binary that links rt_retrieval (the CLI, the daemon, tests) has
 * the same corpus and nothing depends on the source tree or an install path
 * at run time. Operators can add their own notes or runbooks from a folder
 * (retrieval.docs_dir / retrieval.runbooks_dir); folder files are read in
 * name order so the result does not depend on readdir order.
 */
#include "rt_internal.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RT_MAX_CORPUS_FILE (8u << 20)

static int
s_add_file (const char *corpus, const char *name, const char *data, size_t size, size_t max,
            size_t overlap, rt_docset_t *out)
{
    if (strcmp (corpus, RT_CORPUS_DOCS) == 0)
        return rt_docs_parse_note (name, data, size, max, overlap, out);
    if (strcmp (corpus, RT_CORPUS_RUNBOOKS) == 0)
        return rt_runbook_parse (name, data, size, out);
    return rt__fail (RT_E_ARG, "corpus %s has no files", corpus);
}

int
rt_corpus_load_builtin (size_t max, size_t overlap, rt_docset_t *docs_out, rt_docset_t *runbooks_out)
{
    for (const rt_corpus_file_t *f = rt_corpus_files; f->name; f++) {
        int rc = RT_OK;
        if (str_starts_with (f->name, "docs/") && docs_out)
            rc = s_add_file (RT_CORPUS_DOCS, f->name, f->data, f->size, max, overlap, docs_out);
        else if (str_starts_with (f->name, "runbooks/") && runbooks_out)
            rc = s_add_file (RT_CORPUS_RUNBOOKS, f->name, f->data, f->size, max, overlap, runbooks_out);
        if (rc < 0)
            return rc;
    }
    return RT_OK;
}

static int
s_name_cmp (const void *a, const void *b)
{
    return strcmp (*(char *const *) a, *(char *const *) b);
}

int
rt_corpus_load_dir (const char *dir, const char *corpus, size_t max, size_t overlap, rt_docset_t *out)
{
    if (!dir || !corpus || !out)
        return rt__fail (RT_E_ARG, "rt_corpus_load_dir: NULL argument");
    DIR *d = opendir (dir);
    if (!d)
        return rt__fail (RT_E_IO, "cannot read %s folder %s: %s", corpus, dir, strerror (errno));
    rt_strv_t names = {0};
    struct dirent *e;
    int rc = RT_OK;
    while ((e = readdir (d)) != NULL) {
        if (e->d_name[0] == '.' || !str_ends_with (e->d_name, ".md"))
            continue;
        if ((rc = rt__strv_push (&names, e->d_name)) < 0)
            break;
    }
    closedir (d);
    if (rc == RT_OK && names.n > 1)
        qsort (names.v, names.n, sizeof *names.v, s_name_cmp);
    for (size_t i = 0; rc == RT_OK && i < names.n; i++) {
        char path[4096], label[512];
        if (str_fmt (path, sizeof path, "%s/%s", dir, names.v[i]) != 0) {
            rc = rt__fail (RT_E_ARG, "path too long in %s", dir);
            break;
        }
        str_fmt (label, sizeof label, "%s/%s", corpus, names.v[i]);
        char *data = NULL;
        size_t len = 0;
        if ((rc = rt__read_file (path, RT_MAX_CORPUS_FILE, &data, &len)) == RT_OK)
            rc = s_add_file (corpus, label, data, len, max, overlap, out);
        free (data);
    }
    rt__strv_free (&names);
    return rc;
}
