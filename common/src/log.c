/* log.c — structured logging, one JSON object per line (c-patterns §8.2).
 *
 * Line layout, in this order:
 *   {"ts":"2026-11-24T05:19:20.123Z","level":"INFO","service":"gateway",
 *    "pid":123,"event":"request.done","msg":"...","request_id":"...",
 *    "trace_id":"...", <extra key/values>}\n
 *
 * Every string goes through buf_json_str_limit (the project's one JSON
 * escaper in buf.c), so control characters become \uXXXX escapes and invalid
 * UTF-8 becomes U+FFFD: a line is always one valid JSON object.
 *
 * Size: a line is at most LOG_LINE_MAX (= PIPE_BUF) bytes, so the single
 * write(2) per line is atomic on pipes and lines never interleave. The line
 * is assembled in two capped buffers: the suffix (ids + extra fields, each
 * value capped) first, then the prefix and the message, whose budget is
 * whatever the suffix left. A message that does not fit is cut on a
 * character boundary and ends with LOG_TRUNC_MARK.
 *
 * State: service name and fd are process globals set at start-up; the level
 * is an atomic; request/trace ids are thread-local fixed arrays (no heap, so
 * nothing leaks when a thread exits). log_init is not meant to race with
 * logging threads (call it first thing in main).
 */
#include "log.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "str.h"

#define LOG_SERVICE_MAX 64
#define LOG_KEY_MAX 64         /* escaped key literal budget */
#define LOG_VALUE_MAX 1024     /* escaped value literal budget */
#define LOG_EVENT_MAX 128
#define LOG_SUFFIX_MAX (LOG_LINE_MAX / 2)

static char s_service[LOG_SERVICE_MAX] = "unknown";
static atomic_int s_min_level = LOG_INFO;
static atomic_int s_fd = 2;

static _Thread_local char t_request_id[LOG_ID_MAX];
static _Thread_local char t_trace_id[LOG_ID_MAX];

static const char *const s_level_names[] = { "DEBUG", "INFO", "WARN", "ERROR", "FATAL" };

void
log_init (const char *service, log_level_t min_level)
{
    str_copy (s_service, sizeof s_service, service ? service : "unknown");
    log_set_level (min_level);
}

void
log_set_level (log_level_t level)
{
    if (level < LOG_DEBUG)
        level = LOG_DEBUG;
    if (level > LOG_FATAL)
        level = LOG_FATAL;
    atomic_store (&s_min_level, (int) level);
}

int
log_level_parse (const char *text, log_level_t *out)
{
    static const char *const names[] = { "debug", "info", "warn", "error", "fatal" };
    if (text == NULL || out == NULL)
        return -1;
    for (int i = 0; i < 5; i++) {
        if (str_ieq (text, names[i])) {
            *out = (log_level_t) i;
            return 0;
        }
    }
    if (str_ieq (text, "warning")) {
        *out = LOG_WARN;
        return 0;
    }
    return -1;
}

void
log_set_context (const char *request_id, const char *trace_id)
{
    /* Truncation of an over-long id is accepted: ids are for correlation. */
    str_copy (t_request_id, sizeof t_request_id, request_id ? request_id : "");
    str_copy (t_trace_id, sizeof t_trace_id, trace_id ? trace_id : "");
}

void
log_set_fd (int fd)
{
    atomic_store (&s_fd, fd);
}

static bool
s_reserved_key (const char *k)
{
    static const char *const names[] = { "ts", "level", "service", "pid", "event", "msg",
                                         "request_id", "trace_id", "kv_truncated" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp (k, names[i]) == 0)
            return true;
    }
    return false;
}

/* Appends ,"key":value to the suffix; all-or-nothing. */
static int
s_add_kv (buf_t *b, const char *key, const char *value)
{
    size_t mark = buf_len (b);
    char kbuf[LOG_KEY_MAX];
    const char *k = key;
    if (s_reserved_key (key)) {
        str_fmt (kbuf, sizeof kbuf, "x_%s", key);   /* truncation is fine */
        k = kbuf;
    }
    int rc = buf_puts (b, ",");
    if (rc == 0)
        rc = buf_json_str_limit (b, k, LOG_KEY_MAX, NULL, NULL);
    if (rc == 0)
        rc = buf_puts (b, ":");
    if (rc == 0)
        rc = buf_json_str_limit (b, value, LOG_VALUE_MAX, LOG_TRUNC_MARK, NULL);
    if (rc != 0)
        buf_truncate (b, mark);
    return rc;
}

static void
s_write_all (int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write (fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return;   /* EAGAIN, EPIPE, EBADF: drop the line */
        }
        p += w;
        n -= (size_t) w;
    }
}

static void
s_emit (log_level_t level, const char *event, const char *msg, bool msg_cut,
        const char *const *kv, int nkv)
{
    if (level < LOG_DEBUG || level > LOG_FATAL)
        level = LOG_ERROR;
    int saved_errno = errno;   /* logging must not disturb the caller's errno */
    buf_t *suffix = buf_new (LOG_SUFFIX_MAX);
    buf_t *line = buf_new (LOG_LINE_MAX);
    if (suffix == NULL || line == NULL)
        goto cleanup;

    /* Suffix: ids and extra fields; reserve room for the kv_truncated flag. */
    const size_t flag_room = sizeof ",\"kv_truncated\":true" - 1;
    buf_t *fields = buf_new (LOG_SUFFIX_MAX - flag_room);
    if (fields == NULL)
        goto cleanup;
    if (t_request_id[0]) {
        buf_puts (fields, ",\"request_id\":");
        buf_json_str (fields, t_request_id);
    }
    if (t_trace_id[0]) {
        buf_puts (fields, ",\"trace_id\":");
        buf_json_str (fields, t_trace_id);
    }
    bool kv_cut = false;
    for (int i = 0; kv != NULL && i < nkv; i++) {
        const char *k = kv[2 * i], *v = kv[2 * i + 1];
        if (k == NULL)
            continue;
        if (s_add_kv (fields, k, v) != 0) {
            kv_cut = true;
            break;
        }
    }
    buf_append (suffix, buf_data (fields), buf_len (fields));
    buf_destroy (&fields);
    if (kv_cut)
        buf_puts (suffix, ",\"kv_truncated\":true");

    /* Prefix: fixed fields, all short. */
    char ts[32];
    if (clock_rfc3339 (clock_wall_ms (), ts, sizeof ts) != 0)
        str_copy (ts, sizeof ts, "1970-01-01T00:00:00.000Z");
    buf_puts (line, "{\"ts\":");
    buf_json_str (line, ts);
    buf_printf (line, ",\"level\":\"%s\",\"service\":", s_level_names[level]);
    buf_json_str_limit (line, s_service, LOG_SERVICE_MAX + 2, NULL, NULL);
    buf_printf (line, ",\"pid\":%ld,\"event\":", (long) getpid ());
    buf_json_str_limit (line, event ? event : "", LOG_EVENT_MAX, LOG_TRUNC_MARK, NULL);
    buf_puts (line, ",\"msg\":");

    /* Message budget: what is left after the suffix, "}" and "\n". */
    size_t used = buf_len (line) + buf_len (suffix) + 2;
    size_t budget = used < LOG_LINE_MAX ? LOG_LINE_MAX - used : 0;
    size_t before = buf_len (line);
    int rc = -1;
    if (msg_cut && budget > 2) {
        /* The formatter already cut the text: escape it whole if possible,
         * then make sure the marker is visible. */
        buf_t *tmp = buf_new (LOG_LINE_MAX);
        if (tmp != NULL && buf_puts (tmp, msg) == 0 && buf_puts (tmp, LOG_TRUNC_MARK) == 0)
            rc = buf_json_str_limit (line, buf_data (tmp), budget, LOG_TRUNC_MARK, NULL);
        buf_destroy (&tmp);
    }
    if (rc != 0 && budget > 2)
        rc = buf_json_str_limit (line, msg ? msg : "", budget, LOG_TRUNC_MARK, NULL);
    if (rc != 0) {
        buf_truncate (line, before);
        buf_puts (line, "\"\"");
    }
    buf_append (line, buf_data (suffix), buf_len (suffix));
    buf_puts (line, "}\n");
    s_write_all (atomic_load (&s_fd), buf_data (line), buf_len (line));

cleanup:
    buf_destroy (&suffix);
    buf_destroy (&line);
    errno = saved_errno;
}

void
log_emit (log_level_t level, const char *event, const char *fmt, ...)
{
    if ((int) level < atomic_load (&s_min_level))
        return;
    char msg[LOG_LINE_MAX];
    bool cut = false;
    va_list ap;
    va_start (ap, fmt);
    int n = vsnprintf (msg, sizeof msg, fmt ? fmt : "", ap);
    va_end (ap);
    if (n < 0)
        str_copy (msg, sizeof msg, "(log format error)");
    else if ((size_t) n >= sizeof msg) {
        /* Leave room for the marker and do not end inside a UTF-8 sequence. */
        size_t end = sizeof msg - 1 - sizeof LOG_TRUNC_MARK;
        while (end > 0 && ((unsigned char) msg[end] & 0xC0) == 0x80)
            end--;
        msg[end] = '\0';
        cut = true;
    }
    s_emit (level, event, msg, cut, NULL, 0);
}

void
log_emitkv (log_level_t level, const char *event, const char *msg, const char *const *kv,
            int nkv)
{
    if ((int) level < atomic_load (&s_min_level))
        return;
    s_emit (level, event, msg, false, kv, nkv);
}
