/* cmd_events.c — `copilot events`: tail the event bus.
 *
 * A pubsub subscriber (pubsub.h) connects to the event bus's XPUB side
 * (--sub-endpoint, --data-dir DIR of `copilot up`, or the configuration's
 * bus.sub_endpoint — cli_endpoint "bus-sub") and subscribes the whole
 * families alert., commentary. and data. by default (or the --topic
 * prefixes given; --heartbeats adds hb.). Whole-family prefixes are what
 * makes pubsub track sequence numbers per publisher stream, so missed
 * events are reported on stderr as "gap: N events missed from <publisher>".
 *
 * Output: one line per event on stdout, flushed at once —
 *   <sent time UTC> <topic> <sender>#<seq> <summary>
 * where the summary is severity + entity (+ date, message) for alerts,
 * report + entity + the answer's first line for commentary, data_version +
 * reason + rows + db for data.changed, last_seq for heartbeats — or, with
 * --json, one JSON object per line with every field of the event. Output
 * depends only on the events received (their own timestamps; no clock).
 *
 * Readiness: once the subscriber's connection handshake with the bus
 * succeeded (a zmq socket monitor) the command prints "copilot events:
 * listening on EP (prefixes)" on stderr, so scripts and tests can publish
 * after that line instead of sleeping; if the monitor missed the handshake
 * (it is installed just after the connect) the line is printed after 1 s.
 * Disconnects and reconnects of the bus are reported the same way.
 *
 * Termination: after --count events, at --timeout-ms, or on SIGINT/SIGTERM
 * (runtime.h's self-pipe is polled next to the sockets), always closing the
 * sockets and the zmq context. Exit 0, except 1 when --count events did not
 * arrive before --timeout-ms or the bus is not running, 2 on usage errors.
 * A summary line ("N events, M missed") goes to stderr at the end.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <zmq.h>

#include "cli.h"
#include "clock.h"
#include "env.h"
#include "log.h"
#include "pubsub.h"
#include "runtime.h"
#include "str.h"

#define EV_MAX_TOPICS 16
#define EV_CONFIRM_MS 1000
#define EV_MONITOR_EP "inproc://copilot-events-monitor"

static void
s_help (FILE *out)
{
    fprintf (out,
             "usage: copilot events [--data-dir DIR | --sub-endpoint EP] [--topic PREFIX ...]\n"
             "                      [--heartbeats] [--json] [--count N] [--timeout-ms MS]\n"
             "                      [--config FILE]\n"
             "\n"
             "Tails the event bus: alerts (alert.v1.<severity>), commentary\n"
             "(commentary.v1.<report>) and data changes (data.changed.v1), one line per event:\n"
             "time, topic, publisher#seq and a summary. Missed events (sequence gaps) are\n"
             "reported on stderr as \"gap: N events missed from <publisher>\".\n"
             "\n"
             "options:\n"
             "  --data-dir DIR      the cluster started by 'copilot up --data-dir DIR'\n"
             "                      (ipc://DIR/run/bus-sub.sock)\n"
             "  --sub-endpoint EP   event-bus XPUB endpoint (default: bus.sub_endpoint /\n"
             "                      COPILOT_BUS_SUB_ENDPOINT, else ipc://$COPILOT_RUN_DIR/bus-sub.sock)\n"
             "  --topic PREFIX      topic prefix to follow (repeatable; default: alert.,\n"
             "                      commentary., data.); whole families (\"alert.\") get gap checks\n"
             "  --heartbeats        also print the publishers' heartbeats (hb.*)\n"
             "  --json              one JSON object per line with every field of the event\n"
             "  --count N           exit after N events (exit 1 if --timeout-ms comes first)\n"
             "  --timeout-ms MS     exit after MS milliseconds (default: run until Ctrl-C)\n"
             "  --config FILE       configuration file (endpoint resolution)\n"
             "  -h, --help          this text\n"
             "\n"
             "examples:\n"
             "  copilot events --data-dir data\n"
             "  copilot events --topic alert.v1.critical --json --count 1 --timeout-ms 60000\n");
}

typedef struct {
    bool json;
    long count;        /* 0 = unlimited */
    long printed;
} ev_t;

/* ---- formatting ------------------------------------------------------------ */

static const char *
s_or (const char *s, const char *def)
{
    return s && *s ? s : def;
}

/* First non-empty line of markdown, without leading '#'/'>'/blanks, at most
 * `max` bytes (cut on a UTF-8 boundary, "..." appended when cut). */
static void
s_first_line (const char *md, char *out, size_t size, size_t max)
{
    const char *p = md ? md : "";
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '#' || *p == '>')
            p++;
        if (*p != '\n' && *p != '\r')
            break;
        p++;
    }
    size_t n = strcspn (p, "\r\n");
    bool cut = false;
    if (max + 4 > size)
        max = size - 4;
    if (n > max) {
        n = max;
        while (n > 0 && ((unsigned char) p[n] & 0xC0) == 0x80)
            n--; /* p[n] continues a UTF-8 sequence: do not split it */
        cut = true;
    }
    memcpy (out, p, n);
    if (cut) {
        memcpy (out + n, "...", 3);
        n += 3;
    }
    out[n] = '\0';
}

static void
s_print_text (const char *topic, const env_t *env)
{
    const Copilot__V1__Header *h = env->header;
    char when[40] = "-";
    if (h && h->sent_unix_ms > 0)
        clock_rfc3339 (h->sent_unix_ms, when, sizeof when);
    const char *who = h ? s_or (h->sender, s_or (h->publisher_id, "?")) : "?";
    unsigned long long seq = h ? (unsigned long long) h->seq : 0;
    printf ("%s %s %s#%llu ", when, topic, who, seq);
    char line[160];
    switch (env->body_case) {
    case COPILOT__V1__ENVELOPE__BODY_ALERT: {
        const Copilot__V1__Alert *a = env->alert;
        s_first_line (a->message, line, sizeof line, 120);
        printf ("%s %s:%s %s %s\n", s_or (a->severity, "?"), s_or (a->entity_type, "?"), s_or (a->entity_id, "?"),
                s_or (a->date, "-"), line);
        break;
    }
    case COPILOT__V1__ENVELOPE__BODY_COMMENTARY_EVENT: {
        const Copilot__V1__CommentaryEvent *c = env->commentary_event;
        s_first_line (c->answer_markdown, line, sizeof line, 100);
        printf ("%s %s:%s \"%s\"\n", s_or (c->report_id, "?"), s_or (c->entity_type, "-"), s_or (c->entity_id, "-"),
                line);
        break;
    }
    case COPILOT__V1__ENVELOPE__BODY_DATA_CHANGED: {
        const Copilot__V1__DataChanged *d = env->data_changed;
        printf ("data_version=%s reason=%s rows=%lld db=%s\n", s_or (d->data_version, "?"), s_or (d->reason, "?"),
                (long long) d->rows_written, s_or (d->db_path, "?"));
        break;
    }
    case COPILOT__V1__ENVELOPE__BODY_HEARTBEAT: {
        const Copilot__V1__Heartbeat *b = env->heartbeat;
        printf ("heartbeat %s last_seq=%llu\n", s_or (b->publisher_id, "?"), (unsigned long long) b->last_seq);
        break;
    }
    default:
        printf ("%s\n", env_body_name (env->body_case));
        break;
    }
}

/* A number, or null when it is not finite (JSON has no NaN/Inf). */
static void
s_num (json_t *o, const char *key, double v)
{
    json_object_set_new (o, key, isfinite (v) ? json_real (v) : json_null ());
}

static json_t *
s_json_body (const env_t *env, const char **kind)
{
    switch (env->body_case) {
    case COPILOT__V1__ENVELOPE__BODY_ALERT: {
        const Copilot__V1__Alert *a = env->alert;
        *kind = "alert";
        json_t *o = json_pack ("{s:s, s:s, s:s, s:s, s:s, s:s}", "alert_id", s_or (a->alert_id, ""), "severity",
                               s_or (a->severity, ""), "entity_type", s_or (a->entity_type, ""), "entity_id",
                               s_or (a->entity_id, ""), "entity_name", s_or (a->entity_name, ""), "date",
                               s_or (a->date, ""));
        if (!o)
            return NULL;
        s_num (o, "value", a->value);
        s_num (o, "expected", a->expected);
        s_num (o, "expected_low", a->expected_low);
        s_num (o, "expected_high", a->expected_high);
        s_num (o, "z_score", a->z_score);
        s_num (o, "pct_deviation", a->pct_deviation);
        json_object_set_new (o, "message", json_string (s_or (a->message, "")));
        json_object_set_new (o, "report_id", json_string (s_or (a->report_id, "")));
        return o;
    }
    case COPILOT__V1__ENVELOPE__BODY_COMMENTARY_EVENT: {
        const Copilot__V1__CommentaryEvent *c = env->commentary_event;
        *kind = "commentary";
        json_t *src = json_array ();
        for (size_t i = 0; src && i < c->n_sources; i++)
            json_array_append_new (src, json_pack ("{s:s, s:s, s:s}", "title", s_or (c->sources[i]->title, ""), "url",
                                                   s_or (c->sources[i]->url, ""), "corpus",
                                                   s_or (c->sources[i]->corpus, "")));
        return json_pack ("{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:o}", "seq", (json_int_t) c->seq,
                          "request_id", s_or (c->request_id, ""), "report_id", s_or (c->report_id, ""), "entity_type",
                          s_or (c->entity_type, ""), "entity_id", s_or (c->entity_id, ""), "chip_id",
                          s_or (c->chip_id, ""), "question", s_or (c->question, ""), "answer_markdown",
                          s_or (c->answer_markdown, ""), "provider", s_or (c->provider, ""), "created_unix_ms",
                          (json_int_t) c->created_unix_ms, "session_id", s_or (c->session_id, ""), "sources",
                          src ? src : json_array ());
    }
    case COPILOT__V1__ENVELOPE__BODY_DATA_CHANGED: {
        const Copilot__V1__DataChanged *d = env->data_changed;
        *kind = "data_changed";
        return json_pack ("{s:s, s:s, s:s, s:I}", "db_path", s_or (d->db_path, ""), "data_version",
                          s_or (d->data_version, ""), "reason", s_or (d->reason, ""), "rows_written",
                          (json_int_t) d->rows_written);
    }
    case COPILOT__V1__ENVELOPE__BODY_HEARTBEAT: {
        const Copilot__V1__Heartbeat *b = env->heartbeat;
        *kind = "heartbeat";
        return json_pack ("{s:s, s:s, s:I, s:I}", "publisher_id", s_or (b->publisher_id, ""), "service",
                          s_or (b->service, ""), "last_seq", (json_int_t) b->last_seq, "unix_ms",
                          (json_int_t) b->unix_ms);
    }
    default:
        *kind = env_body_name (env->body_case);
        return json_object ();
    }
}

static void
s_print_json (const char *topic, const env_t *env)
{
    const Copilot__V1__Header *h = env->header;
    char when[40] = "";
    if (h && h->sent_unix_ms > 0)
        clock_rfc3339 (h->sent_unix_ms, when, sizeof when);
    const char *kind = "unknown";
    json_t *body = s_json_body (env, &kind);
    json_t *o = json_pack ("{s:s, s:I, s:s, s:s, s:I, s:s, s:s}", "time", when, "unix_ms",
                           (json_int_t) (h ? h->sent_unix_ms : 0), "topic", topic, "publisher_id",
                           h ? s_or (h->publisher_id, "") : "", "seq", (json_int_t) (h ? h->seq : 0), "sender",
                           h ? s_or (h->sender, "") : "", "kind", kind);
    if (o && body)
        json_object_set (o, kind, body);
    char *s = o ? json_dumps (o, JSON_COMPACT) : NULL;
    if (s) {
        puts (s);
        free (s);
    } else
        fprintf (stderr, "copilot events: cannot format an event on %s as JSON\n", topic);
    json_decref (body);
    json_decref (o);
}

/* ---- subscriber callbacks ---------------------------------------------------- */

static void
s_on_event (pubsub_sub_t *sub, const char *topic, env_t *env, void *arg)
{
    (void) sub;
    ev_t *ev = arg;
    if (ev->count == 0 || ev->printed < ev->count) {
        if (ev->json)
            s_print_json (topic, env);
        else
            s_print_text (topic, env);
        fflush (stdout);
        ev->printed++;
    }
    env_free (env);
}

static void
s_on_gap (pubsub_sub_t *sub, const char *publisher_id, uint64_t last_seq, uint64_t seq, uint64_t missed, void *arg)
{
    (void) sub;
    (void) arg;
    fprintf (stderr, "gap: %llu event%s missed from %s (last seq %llu, then %llu)\n", (unsigned long long) missed,
             missed == 1 ? "" : "s", publisher_id, (unsigned long long) last_seq, (unsigned long long) seq);
}

/* Reads the monitor's pending events; returns how the connection changed:
 * 1 handshake succeeded, -1 disconnected, 0 nothing of interest. */
static int
s_monitor_read (void *mon)
{
    int state = 0;
    for (;;) {
        zmq_msg_t m;
        zmq_msg_init (&m);
        if (zmq_msg_recv (&m, mon, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (&m);
            return state;
        }
        uint16_t event = 0;
        if (zmq_msg_size (&m) >= 2)
            memcpy (&event, zmq_msg_data (&m), sizeof event);
        bool more = zmq_msg_more (&m);
        zmq_msg_close (&m);
        while (more) { /* second frame: the endpoint */
            zmq_msg_init (&m);
            if (zmq_msg_recv (&m, mon, 0) < 0) {
                zmq_msg_close (&m);
                break;
            }
            more = zmq_msg_more (&m);
            zmq_msg_close (&m);
        }
        if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
            state = 1;
        else if (event == ZMQ_EVENT_DISCONNECTED)
            state = -1;
    }
}

/* ---- command ------------------------------------------------------------------- */

static int s_usage_error (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));
static int
s_usage_error (const char *fmt, ...)
{
    va_list ap;
    fprintf (stderr, "copilot events: ");
    va_start (ap, fmt);
    vfprintf (stderr, fmt, ap);
    va_end (ap);
    fprintf (stderr, " (see copilot events --help)\n");
    return CLI_USAGE;
}

int
cmd_events (int argc, char **argv)
{
    const char *data_dir = NULL, *sub_ep = NULL, *config = NULL, *count_s = NULL, *timeout_s = NULL;
    const char *topics[EV_MAX_TOPICS];
    int ntopics = 0;
    ev_t ev = {0};
    bool heartbeats = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp (a, "-h") == 0 || strcmp (a, "--help") == 0) {
            s_help (stdout);
            return CLI_OK;
        }
        static const char *const valued[] = {"--data-dir", "--sub-endpoint", "--config", "--count", "--timeout-ms",
                                             "--topic"};
        const char **dest[] = {&data_dir, &sub_ep, &config, &count_s, &timeout_s, NULL};
        bool matched = false;
        for (size_t k = 0; k < sizeof valued / sizeof valued[0] && !matched; k++) {
            size_t n = strlen (valued[k]);
            const char *val;
            if (strcmp (a, valued[k]) == 0) {
                if (i + 1 >= argc)
                    return s_usage_error ("option '%s' needs a value", a);
                val = argv[++i];
            } else if (strncmp (a, valued[k], n) == 0 && a[n] == '=')
                val = a + n + 1;
            else
                continue;
            matched = true;
            if (!*val)
                return s_usage_error ("option '%s' needs a non-empty value", valued[k]);
            if (dest[k])
                *dest[k] = val;
            else if (ntopics == EV_MAX_TOPICS)
                return s_usage_error ("at most %d --topic options (got '%s')", EV_MAX_TOPICS, val);
            else if (strlen (val) > PUBSUB_TOPIC_MAX)
                return s_usage_error ("--topic '%.60s...' is too long", val);
            else
                topics[ntopics++] = val;
        }
        if (matched)
            continue;
        if (strcmp (a, "--json") == 0)
            ev.json = true;
        else if (strcmp (a, "--heartbeats") == 0)
            heartbeats = true;
        else if (a[0] == '-')
            return s_usage_error ("unknown option '%s'", a);
        else
            return s_usage_error ("unexpected argument '%s'", a);
    }
    if (data_dir && sub_ep)
        return s_usage_error ("give --data-dir or --sub-endpoint, not both");
    int count = 0, timeout_ms = 0;
    if (count_s && str_to_int (count_s, 1, 1000000000, &count) != 0)
        return s_usage_error ("--count: expected an integer in [1, 1000000000], got '%s'", count_s);
    if (timeout_s && str_to_int (timeout_s, 1, 2000000000, &timeout_ms) != 0)
        return s_usage_error ("--timeout-ms: expected an integer in [1, 2000000000], got '%s'", timeout_s);
    ev.count = count;
    if (ntopics == 0) {
        topics[ntopics++] = "alert.";
        topics[ntopics++] = "commentary.";
        topics[ntopics++] = "data.";
    }
    if (heartbeats && ntopics < EV_MAX_TOPICS)
        topics[ntopics++] = "hb.";

    char ep[1024];
    if (cli_endpoint ("events", "bus-sub", sub_ep, data_dir, config, ep, sizeof ep) != 0)
        return CLI_FAIL;
    if (cli_endpoint_absent (ep))
        return cli_error ("events",
                          "the event bus is not running: nothing listens at %s (start the cluster with 'copilot up', "
                          "or give --data-dir DIR / --sub-endpoint EP)",
                          ep + 6);
    char prefixes[512] = "";
    for (int i = 0; i < ntopics; i++)
        if (str_append (prefixes, sizeof prefixes, i ? ", " : "") != 0
            || str_append (prefixes, sizeof prefixes, topics[i]) != 0)
            break;

    log_set_level (LOG_ERROR); /* pubsub's own gap WARN lines: we print ours */
    if (proc_init () != 0)
        return cli_error ("events", "cannot install signal handlers: %s", strerror (errno));
    void *ctx = proc_zmq_ctx_new ();
    if (!ctx)
        return cli_error ("events", "cannot create a zmq context");
    int out = CLI_OK;
    void *mon = NULL;
    pubsub_sub_t *sub = pubsub_sub_new (ctx, ep, "cli", s_on_event, &ev);
    if (!sub) {
        out = cli_error ("events", "cannot connect to the event bus at %s: %s", ep, bus_last_error ());
        goto done;
    }
    pubsub_sub_set_gap_fn (sub, s_on_gap, &ev);
    if (zmq_socket_monitor (pubsub_sub_socket (sub), EV_MONITOR_EP,
                            ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED)
            == 0
        && (mon = zmq_socket (ctx, ZMQ_PAIR)) != NULL) {
        int zero = 0;
        zmq_setsockopt (mon, ZMQ_LINGER, &zero, sizeof zero);
        if (zmq_connect (mon, EV_MONITOR_EP) != 0) {
            zmq_close (mon);
            mon = NULL;
        }
    }
    for (int i = 0; i < ntopics; i++) {
        int rc = pubsub_sub_subscribe (sub, topics[i]);
        if (rc != 0) {
            out = cli_error ("events", "subscribe '%s': %s", topics[i], bus_strerror (rc));
            goto done;
        }
    }

    int64_t start = clock_mono_ms ();
    int64_t deadline = timeout_ms > 0 ? start + timeout_ms : INT64_MAX;
    bool listening = false, timed_out = false;
    while (!proc_stop_requested () && !(ev.count > 0 && ev.printed >= ev.count)) {
        int64_t now = clock_mono_ms ();
        if (now >= deadline) {
            timed_out = true;
            break;
        }
        if (!listening && (now - start >= EV_CONFIRM_MS || !mon)) {
            fprintf (stderr, "copilot events: listening on %s (%s)\n", ep, prefixes);
            listening = true;
        }
        int64_t wait = deadline - now;
        if (!listening && start + EV_CONFIRM_MS - now < wait)
            wait = start + EV_CONFIRM_MS - now;
        if (wait > 1000)
            wait = 1000;
        zmq_pollitem_t items[3] = {{pubsub_sub_socket (sub), 0, ZMQ_POLLIN, 0},
                                   {NULL, proc_wakeup_fd (), ZMQ_POLLIN, 0},
                                   {mon, 0, ZMQ_POLLIN, 0}};
        int rc = zmq_poll (items, mon ? 3 : 2, (long) wait);
        if (rc < 0) {
            if (errno == EINTR)
                continue;
            out = cli_error ("events", "poll: %s", zmq_strerror (errno));
            break;
        }
        if (items[1].revents & ZMQ_POLLIN)
            proc_drain_wakeup ();
        if (mon && (items[2].revents & ZMQ_POLLIN)) {
            int st = s_monitor_read (mon);
            if (st > 0) {
                fprintf (stderr, "copilot events: %s on %s (%s)\n", listening ? "reconnected; listening" : "listening",
                         ep, prefixes);
                listening = true;
            } else if (st < 0)
                fprintf (stderr, "copilot events: disconnected from %s; waiting for the event bus\n", ep);
        }
        if (items[0].revents & ZMQ_POLLIN) {
            while (!(ev.count > 0 && ev.printed >= ev.count)) {
                int got = pubsub_sub_recv_one (sub);
                if (got < 0) {
                    out = cli_error ("events", "receive: %s", bus_last_error ());
                    break;
                }
                if (got == 0)
                    break;
            }
            if (out != CLI_OK)
                break;
        }
    }
    if (out == CLI_OK && timed_out && ev.count > 0 && ev.printed < ev.count)
        out = cli_error ("events", "timed out after %d ms with %ld of %ld event%s", timeout_ms, ev.printed, ev.count,
                         ev.count == 1 ? "" : "s");
    fprintf (stderr, "copilot events: %ld event%s, %llu missed\n", ev.printed, ev.printed == 1 ? "" : "s",
             (unsigned long long) pubsub_sub_missed (sub));
done:
    if (sub && mon)
        zmq_socket_monitor (pubsub_sub_socket (sub), NULL, 0);
    if (mon)
        zmq_close (mon);
    pubsub_sub_destroy (&sub);
    proc_zmq_ctx_term (&ctx);
    return out;
}
