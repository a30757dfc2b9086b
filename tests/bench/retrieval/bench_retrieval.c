/* bench_retrieval.c — retrieval benchmark (label bench; never part of
 * `make test`).
 *
 *   bench_retrieval ROUTER_BIN WORKER_BIN --synthetic N
 *   bench_retrieval ROUTER_BIN WORKER_BIN --db PATH       (e.g. the large profile)
 *
 * Measures, in one run:
 *   1. index build time (corpus, embedder fit + embedding, FAISS + SQLite) and
 *      size, for N synthetic telemetry-like documents plus the built-in docs
 *      and runbooks, or for a telemetry database;
 *   2. in-process hybrid search latency (p50/p99) and single-thread QPS, with
 *      the default keyword pruning and with it off (same queries, same run);
 *   3. QPS through the retrieval-router with ONE replica, then after a second
 *      replica joined, with TWO (same process, same index, same query mix,
 *      16 searches in flight), and the 2/1 ratio.
 * Environment: RT_BENCH_SECONDS (per QPS phase, default 10), RT_BENCH_THREADS
 * (FAISS threads for the build, default 1), RT_BENCH_DIM (default 256).
 * Exit 77 when the database is missing. Prints one "BENCH retrieval ..." line.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <zmq.h>

#include "buf.h"
#include "bus.h"
#include "clock.h"
#include "env.h"
#include "rt.h"
#include "rt_proc.h" /* tests/integration/retrieval */

/* ---- deterministic synthetic corpus ------------------------------------- *
 * Seeded (RT_BENCH_SEED, default 42) xorshift64; the same seed and N give
 * byte-identical documents. Vocabulary mix per document, like the telemetry
 * corpus: a typed header (run/event/query/usage/eviction) naming entities
 * drawn from fixed populations (5000 jobs, 800 compute resources, 300 users,
 * 20 workspaces; job popularity Zipf-like), 30 Databricks domain terms
 * (Zipf over the list), error classes, then 8..40 free-text words of which
 * ~70% come from the domain list and ~30% from a long tail of 20000
 * generated pseudo-words (syllable compounds, Zipf over the tail) — so
 * terms range from in-most-documents to in-a-handful, as in real text. */
static const char *const s_domain[] = {
    "cluster", "spot", "eviction", "autoscaling", "warehouse", "query", "timeout", "memory", "driver",
    "executor", "shuffle", "spill", "photon", "serverless", "pool", "instance", "capacity", "retry",
    "failure", "cost", "dbu", "sku", "delta", "merge", "ingestion", "pipeline", "dashboard", "refresh",
    "finance", "supply", "logistics", "training", "gpu", "latency", "policy", "tag", "budget", "node",
    "worker", "partition", "skew", "broadcast", "join", "aggregation", "schema", "upstream", "downstream",
    "sla", "deadline", "on-demand", "fallback", "interruption", "zone", "region", "storage", "cache",
    "notebook", "job", "run", "task", "concurrency", "queue", "scaling", "idle", "terminate", "start",
    "config", "change", "rollback", "anomaly", "spike", "forecast", "usage", "billing", "price",
    "checkpoint", "stream", "watermark", "vacuum", "optimize", "zorder", "compaction", "cluster-policy",
    "init-script", "library", "runtime", "upgrade", "heap", "garbage", "collection", "oom", "disk",
    "throughput", "bottleneck", "stage", "straggler", "speculation", "quota", "throttle", "network",
    "credential", "permission", "token", "secret", "catalog", "lineage", "table", "view", "model",
    "feature", "inference", "batch", "realtime", "kafka", "autoloader", "ml", "experiment", NULL};
static const char *const s_errors[] = {"OutOfMemoryError", "SparkException", "TimeoutException",
                                       "SpotInstanceTermination", "DriverUnresponsive", "FileNotFound",
                                       "ConcurrentModification", "QuotaExceeded", "none", "none", "none", NULL};
static const char *const s_types[] = {"jobrun", "jobrun", "jobrun", "event", "event", "query", "usage", "eviction"};
static const char *const s_status[] = {"SUCCESS", "SUCCESS", "SUCCESS", "SUCCESS", "FAILED", "SKIPPED", "TIMEDOUT"};
static const char *const s_syll[] = {"ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "ze", "bar", "cor", "dun",
                                     "fel", "gra", "hix", "jor", "kel", "lum", "mor", "nix", "pra", "qua", "ros",
                                     "sel", "tor", "ul", "vin", "wex", "yor", "zan", "ble", "cri"};
#define TAIL 20000
static char s_tail[TAIL][16];

static uint64_t s_rng = 42;
static uint64_t
s_next (void)
{
    s_rng ^= s_rng << 13;
    s_rng ^= s_rng >> 7;
    s_rng ^= s_rng << 17;
    return s_rng;
}
static double
s_unit (void)
{
    return (double) (s_next () >> 11) / 9007199254740992.0;
}
/* Zipf-like index in [0, n): u^3 concentrates mass on the first items */
static size_t
s_zipf (size_t n)
{
    double u = s_unit ();
    size_t k = (size_t) (u * u * u * (double) n);
    return k < n ? k : n - 1;
}

static size_t s_ndomain;

static void
s_vocab_init (uint64_t seed)
{
    s_rng = seed ? seed : 42;
    for (s_ndomain = 0; s_domain[s_ndomain]; s_ndomain++)
        ;
    size_t ns = sizeof s_syll / sizeof s_syll[0];
    for (size_t i = 0; i < TAIL; i++) {
        /* 2..4 syllables from the word number: distinct, pronounceable */
        size_t x = i, n = 0;
        char *w = s_tail[i];
        int parts = 2 + (int) (i % 3);
        for (int p = 0; p < parts; p++) {
            const char *sy = s_syll[x % ns];
            x /= ns;
            for (const char *c = sy; *c && n < sizeof s_tail[i] - 1; c++)
                w[n++] = *c;
        }
        w[n] = '\0';
    }
}

static int
s_synthetic (size_t n, rt_docset_t *ds)
{
    buf_t *t = buf_new (8192);
    char id[64], ents[200], title[160];
    for (size_t i = 0; i < n; i++) {
        buf_reset (t);
        const char *type = s_types[s_next () % 8];
        unsigned job = (unsigned) s_zipf (5000), comp = (unsigned) (s_next () % 800);
        unsigned user = (unsigned) (s_next () % 300), ws = (unsigned) (s_next () % 20);
        const char *st = s_status[s_next () % 7];
        const char *err = strcmp (st, "SUCCESS") == 0 ? "none" : s_errors[s_next () % 11];
        snprintf (id, sizeof id, "%s::SYN-%08zu", type, i);
        snprintf (ents, sizeof ents, "%s job::J-SYN-%04u compute::C-SYN-%03u user::u%03u@syn.example "
                  "workspace::WS-%02u", id, job, comp, user, ws);
        snprintf (title, sizeof title, "%s SYN-%08zu of J-SYN-%04u (%s)", type, i, job, st);
        buf_printf (t, "%s SYN-%08zu\nJob: J-SYN-%04u on compute C-SYN-%03u (workspace WS-%02u) by user "
                       "u%03u\nStatus: %s, error: %s\nDuration: %llu s, cost %.2f USD, %llu DBU\nNotes:",
                    type, i, job, comp, ws, user, st, err, (unsigned long long) (s_next () % 20000),
                    (double) (s_next () % 500000) / 100.0, (unsigned long long) (s_next () % 900));
        int words = 8 + (int) (s_next () % 33);
        for (int w = 0; w < words; w++) {
            if (s_next () % 10 < 7)
                buf_printf (t, " %s", s_domain[s_zipf (s_ndomain)]);
            else
                buf_printf (t, " %s", s_tail[s_zipf (TAIL)]);
        }
        rt_doc_t d = {.doc_id = id, .corpus = "telemetry", .type = type, .title = title,
                      .text = buf_data (t), .entity_ids = ents};
        if (rt_docset_add (ds, &d) != RT_OK) {
            buf_destroy (&t);
            return -1;
        }
    }
    buf_destroy (&t);
    return 0;
}

/* Query mix: domain-only questions, entity references, tail words. */
static const char *const s_queries[] = {
    "spot eviction capacity failure", "warehouse idle cost spike", "driver memory spill skew",
    "which job failed with a timeout", "gpu training capacity", "autoscaling queue workers",
    "how do pools reduce start time", "cascading upstream failure", "photon cost dbu",
    "configuration change rollback", "J-SYN-0042 failed OutOfMemoryError", "C-SYN-317 spot interruption",
    "kafka stream watermark checkpoint", "vacuum optimize zorder compaction delta table",
    "kalomi nerusa throughput", "permission token secret catalog", NULL};
#define NQUERIES 16

/* ---- QPS through the router --------------------------------------------- */

static int s_inflight = 16;

typedef struct {
    long replies, errors;
    long by_w1, by_w2;
    long win_w1, win_w2; /* replies inside the timed window, per replica */
} qstats_t;
static qstats_t s_q;

static void
on_reply (bus_client_t *c, int status, env_t *reply, void *arg)
{
    (void) c;
    (void) arg;
    if (status == 0 && reply->body_case == COPILOT__V1__ENVELOPE__BODY_SEARCH_REPLY) {
        s_q.replies++;
        if (strcmp (reply->search_reply->served_by, "w1") == 0)
            s_q.by_w1++;
        else
            s_q.by_w2++;
    } else {
        s_q.errors++;
    }
    env_free (reply);
}

static double
s_qps (const char *ep, int seconds, qstats_t *out)
{
    memset (&s_q, 0, sizeof s_q);
    void *ctx = zmq_ctx_new ();
    bus_client_t *c = bus_client_new (ctx, ep, "bench", "retrieval-router");
    if (!c)
        return -1;
    int64_t t0 = clock_mono_ms (), end = t0 + (int64_t) seconds * 1000;
    unsigned i = 0;
    while (clock_mono_ms () < end) {
        while ((int) bus_client_pending (c) < s_inflight) {
            env_t *req = env_new ("bench");
            Copilot__V1__SearchRequest *sr = env_msg_new (&copilot__v1__search_request__descriptor);
            env_set_str (&sr->query, s_queries[i++ % NQUERIES]);
            sr->k = 10;
            env_set_body (req, COPILOT__V1__ENVELOPE__BODY_SEARCH_REQUEST, sr);
            int rc = bus_client_send (c, req, 30000, BUS_CALL_IDEMPOTENT, on_reply, NULL);
            env_free (req);
            if (rc != 0)
                break;
        }
        bus_client_poll (c, 20);
    }
    double elapsed = (double) (clock_mono_ms () - t0) / 1000.0;
    long done = s_q.replies;
    long w1 = s_q.by_w1, w2 = s_q.by_w2;
    bus_client_poll (c, 30000); /* drain what is still in flight */
    bus_client_destroy (&c);
    zmq_ctx_term (ctx);
    *out = s_q;
    out->win_w1 = w1;
    out->win_w2 = w2;
    return (double) done / elapsed;
}

/* Peak resident set of a process in MiB (VmHWM), -1 when unknown. */
static double
s_vmhwm_mib (pid_t pid)
{
    char path[64], line[256];
    snprintf (path, sizeof path, "/proc/%ld/status", (long) pid);
    FILE *f = fopen (path, "r");
    double v = -1;
    if (!f)
        return v;
    while (fgets (line, sizeof line, f))
        if (strncmp (line, "VmHWM:", 6) == 0)
            v = strtod (line + 6, NULL) / 1024.0;
    fclose (f);
    return v;
}

static int
s_env_int (const char *name, int def)
{
    const char *v = getenv (name);
    return v && *v ? (int) strtol (v, NULL, 10) : def;
}

static int
s_cmp_d (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

int
main (int argc, char **argv)
{
    if (argc != 5) {
        fprintf (stderr, "usage: %s ROUTER_BIN WORKER_BIN --synthetic N | --db PATH | --index DIR\n", argv[0]);
        return 2;
    }
    const char *router_bin = argv[1], *worker_bin = argv[2];
    bool synthetic = strcmp (argv[3], "--synthetic") == 0;
    /* --index DIR: reuse an index a previous run kept (RT_BENCH_KEEP=1) */
    const char *reuse = strcmp (argv[3], "--index") == 0 ? argv[4] : NULL;
    size_t nsyn = synthetic ? (size_t) strtoull (argv[4], NULL, 10) : 0;
    const char *db = synthetic || reuse ? NULL : argv[4];
    if (db && access (db, R_OK) != 0) {
        fprintf (stderr, "%s missing: skipped (generate it with copilot generate --profile large)\n", db);
        return 77;
    }
    int seconds = getenv ("RT_BENCH_SECONDS") ? (int) strtol (getenv ("RT_BENCH_SECONDS"), NULL, 10) : 10;
    snprintf (rt_proc_dir, sizeof rt_proc_dir, "/tmp/rt_bench_XXXXXX");
    if (!mkdtemp (rt_proc_dir))
        return 1;
    char idx[300], run[300], rep[400], bep[400], w1ep[400], w2ep[400];
    snprintf (idx, sizeof idx, "%s/index", rt_proc_dir);
    if (reuse)
        snprintf (idx, sizeof idx, "%s", reuse);
    snprintf (run, sizeof run, "%s/run", rt_proc_dir);
    mkdir (run, 0700);

    /* 1. build */
    rt_config_t cfg;
    rt_config_defaults (&cfg);
    cfg.threads = s_env_int ("RT_BENCH_THREADS", cfg.threads);
    cfg.dim = s_env_int ("RT_BENCH_DIM", cfg.dim);
    cfg.lsa.dim = cfg.dim > 0 ? cfg.dim : cfg.lsa.dim;
    cfg.lsa.fit_sample = s_env_int ("RT_BENCH_FIT_SAMPLE", cfg.lsa.fit_sample);
    cfg.hnsw_m = s_env_int ("RT_BENCH_HNSW_M", cfg.hnsw_m);
    cfg.ef_construction = s_env_int ("RT_BENCH_EF_CONSTRUCTION", cfg.ef_construction);
    cfg.ef_search = s_env_int ("RT_BENCH_EF_SEARCH", cfg.ef_search);
    uint64_t seed = (uint64_t) s_env_int ("RT_BENCH_SEED", 42);
    int clients = s_env_int ("RT_BENCH_INFLIGHT", 16);
    s_inflight = clients > 0 ? clients : 16;
    printf ("params: %s, dim %d, lsa fit sample %d, flat_max %d, hnsw M %d efConstruction %d efSearch %d, "
            "build threads %d, seed %llu, %d searches in flight, %d s per QPS phase\n",
            synthetic ? "synthetic" : reuse ? reuse : db, cfg.dim, cfg.lsa.fit_sample, cfg.flat_max, cfg.hnsw_m,
            cfg.ef_construction, cfg.ef_search, cfg.threads, (unsigned long long) seed, s_inflight, seconds);
    fflush (stdout);
    rt_build_stats_t st = {0};
    struct rusage ru0;
    getrusage (RUSAGE_SELF, &ru0);
    int64_t t0 = clock_mono_ms ();
    int rc;
    if (reuse) {
        rc = RT_OK; /* no build: figures below are zero */
    } else if (synthetic) {
        rt_docset_t *ds = rt_docset_new ();
        s_vocab_init (seed);
        if (s_synthetic (nsyn, ds) != 0 || rt_corpus_load_builtin (1000, 150, ds, ds) != RT_OK) {
            fprintf (stderr, "corpus: %s\n", rt_last_error ());
            return 1;
        }
        st.seconds_load = (double) (clock_mono_ms () - t0) / 1000.0;
        rc = rt_index_build_docs (ds, idx, &cfg, NULL, NULL, &st);
        rt_docset_destroy (&ds);
    } else {
        rc = rt_index_build (db, idx, &cfg, NULL, NULL, &st);
    }
    double build_s = (double) (clock_mono_ms () - t0) / 1000.0;
    if (rc != RT_OK) {
        fprintf (stderr, "build failed: %s\n", rt_last_error ());
        return 1;
    }
    printf ("build: %zu telemetry + %zu docs + %zu runbooks documents, dim %d, %.1f MiB, %.1f s total "
            "(corpus %.1f s, fit+embed %.1f s, index %.1f s), threads %d\n",
            st.docs[0], st.docs[1], st.docs[2], st.dim, (double) st.bytes / 1048576.0, build_s, st.seconds_load,
            st.seconds_embed, st.seconds_index, cfg.threads);
    struct rusage ru;
    getrusage (RUSAGE_SELF, &ru);
    double build_rss = (double) ru.ru_maxrss / 1024.0;
    double build_cpu = (double) (ru.ru_utime.tv_sec - ru0.ru_utime.tv_sec + ru.ru_stime.tv_sec - ru0.ru_stime.tv_sec)
                       + (double) (ru.ru_utime.tv_usec - ru0.ru_utime.tv_usec + ru.ru_stime.tv_usec
                                   - ru0.ru_stime.tv_usec) / 1e6;
    printf ("build peak RSS %.0f MiB (the whole bench process: corpus in memory + build); build CPU %.1f s "
            "(wall %.1f s: the difference is time other processes had the cores)\n",
            build_rss, build_cpu, build_s);
    fflush (stdout);
    /* 2. in-process latency: with the configured keyword pruning, then with
     * it off (retrieval.keyword_max_df = 1), same queries, same run */
    int NLAT = getenv ("RT_BENCH_SEARCHES") ? (int) strtol (getenv ("RT_BENCH_SEARCHES"), NULL, 10) : 500;
    if (NLAT < 100)
        NLAT = 100;
    double *lat = malloc (sizeof (double) * NLAT);
    double p50_default = 0; /* the configured pass, for the BENCH line */
    for (int pass = 0; pass < 2; pass++) {
        rt_config_t pcfg = cfg;
        if (pass == 1)
            pcfg.keyword_max_df = 1.0;
        rt_index_t *ix = rt_index_open (idx, &pcfg);
        if (!ix) {
            fprintf (stderr, "open: %s\n", rt_last_error ());
            return 1;
        }
        struct timespec c0, c1;
        clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &c0);
        for (int i = 0; i < NLAT; i++) {
            rt_query_t q = {.query = s_queries[i % NQUERIES], .k = 10};
            rt_result_t *res = NULL;
            int64_t a = clock_mono_ns ();
            rt_index_search (ix, &q, &res);
            lat[i] = (double) (clock_mono_ns () - a) / 1e6;
            rt_result_destroy (&res);
        }
        clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &c1);
        double cpu_ms =
            ((double) (c1.tv_sec - c0.tv_sec) * 1e3 + (double) (c1.tv_nsec - c0.tv_nsec) / 1e6) / NLAT;
        qsort (lat, NLAT, sizeof *lat, s_cmp_d);
        double sum = 0;
        for (int i = 0; i < NLAT; i++)
            sum += lat[i];
        char label[96];
        if (pass == 0)
            p50_default = lat[NLAT / 2];
        if (pass == 0)
            snprintf (label, sizeof label, "keyword_max_df %.2f from %d docs", cfg.keyword_max_df,
                      cfg.keyword_prune_min_docs);
        else
            snprintf (label, sizeof label, "keyword pruning off");
        printf ("in-process hybrid k=10 (%s): wall p50 %.2f ms, p99 %.2f ms, %.2f searches/s; CPU %.2f ms per "
                "search (%.0f searches/s per core)\n",
                label, lat[NLAT / 2], lat[NLAT * 99 / 100], NLAT / (sum / 1000.0), cpu_ms, 1000.0 / cpu_ms);
        fflush (stdout);
        rt_index_destroy (&ix);
    }

    /* 3. router with 1, then 2 replicas */
    snprintf (rep, sizeof rep, "ipc://%s/router.sock", run);
    snprintf (bep, sizeof bep, "ipc://%s/backend.sock", run);
    snprintf (w1ep, sizeof w1ep, "ipc://%s/w1.sock", run);
    snprintf (w2ep, sizeof w2ep, "ipc://%s/w2.sock", run);
    setenv ("COPILOT_RUN_DIR", run, 1);
    setenv ("COPILOT_RETRIEVAL_INDEX_DIR", idx, 1);
    setenv ("COPILOT_RETRIEVAL_ROUTER_BACKEND", bep, 1);
    setenv ("COPILOT_LOG_LEVEL", "warn", 1);
    char set_bep[450];
    snprintf (set_bep, sizeof set_bep, "retrieval_router.backend=%s", bep);
    proc_t router = {0}, w1 = {0}, w2 = {0};
    char *rargv[] = {(char *) router_bin, "--endpoint", rep, "--set", set_bep, NULL};
    char *w1argv[] = {(char *) worker_bin, "--endpoint", w1ep, "--set", "retrieval_service.worker_id=w1", NULL};
    char *w2argv[] = {(char *) worker_bin, "--endpoint", w2ep, "--set", "retrieval_service.worker_id=w2", NULL};
    int out = 1;
    qstats_t q1 = {0}, q2 = {0};
    double qps1 = 0, qps2 = 0;
    if (spawn (&router, "router", router_bin, rargv) != 0 || wait_ready (&router, 10000) != 0
        || spawn (&w1, "w1", worker_bin, w1argv) != 0 || wait_ready (&w1, 120000) != 0) {
        fprintf (stderr, "router/worker 1 did not start\n");
        goto done;
    }
    int64_t end = clock_mono_ms () + 10000;
    while (ping_workers (rep) < 1 && clock_mono_ms () < end)
        clock_sleep_ms (50);
    qps1 = s_qps (rep, seconds, &q1);
    if (spawn (&w2, "w2", worker_bin, w2argv) != 0 || wait_ready (&w2, 120000) != 0) {
        fprintf (stderr, "worker 2 did not start\n");
        goto done;
    }
    end = clock_mono_ms () + 10000;
    while (ping_workers (rep) < 2 && clock_mono_ms () < end)
        clock_sleep_ms (50);
    qps2 = s_qps (rep, seconds, &q2);
    double rss_w1 = s_vmhwm_mib (w1.pid), rss_w2 = s_vmhwm_mib (w2.pid);
    double tot2 = (double) (q2.by_w1 + q2.by_w2);
    (void) tot2;
    printf ("router QPS: 1 replica %.2f (%ld errors, %ld replies in %d s); 2 replicas %.2f (%ld errors; in the "
            "window w1 %ld, w2 %ld); ratio %.2f\n",
            qps1, q1.errors, q1.win_w1 + q1.win_w2, seconds, qps2, q2.errors, q2.win_w1, q2.win_w2,
            qps1 > 0 ? qps2 / qps1 : 0.0);
    printf ("per replica with 2: w1 %.2f QPS, w2 %.2f QPS; replica peak RSS w1 %.0f MiB, w2 %.0f MiB; nproc %ld\n",
            (double) q2.win_w1 / seconds, (double) q2.win_w2 / seconds, rss_w1, rss_w2,
            sysconf (_SC_NPROCESSORS_ONLN));
    printf ("BENCH retrieval docs=%zu build_s=%.1f build_rss_mib=%.0f index_mib=%.1f p50_ms=%.2f qps1=%.2f "
            "qps2=%.2f ratio=%.2f\n",
            st.docs[0] + st.docs[1] + st.docs[2], build_s, build_rss, (double) st.bytes / 1048576.0, p50_default,
            qps1, qps2, qps1 > 0 ? qps2 / qps1 : 0.0);
    out = (q1.errors || q2.errors) ? 1 : 0;
done:
    stop (&w2, SIGTERM);
    stop (&w1, SIGTERM);
    stop (&router, SIGTERM);
    if (out != 0) {
        dump_log (&router);
        dump_log (&w1);
        dump_log (&w2);
    }
    free (lat);
    char cmd[400];
    snprintf (cmd, sizeof cmd, "rm -rf '%s'", rt_proc_dir);
    if (getenv ("RT_BENCH_KEEP") && !reuse)
        printf ("kept %s (rerun the QPS phases with --index %s)\n", rt_proc_dir, idx);
    else if (strncmp (rt_proc_dir, "/tmp/rt_bench_", 14) == 0 && system (cmd) != 0)
        fprintf (stderr, "cleanup failed\n");
    return out;
}
