/* lg_client.c — one chat-completions attempt over libcurl.
 *
 * Data flow: the request body is built with jansson (json_pack), sent with
 * the easy API; the header callback records Content-Type and Retry-After;
 * the write callback decides on the first body byte whether the answer is an
 * SSE stream (200 + text/event-stream) or a JSON document. SSE bytes go
 * through lg_sse into s_on_event, which appends each chunk's
 * choices[0].delta.content to a capped buffer; JSON bytes go into another
 * capped buffer parsed after the transfer. Returning 0 from the write
 * callback aborts the transfer (size cap, malformed chunk, cancel).
 *
 * Status mapping: 200 -> parse; 429 -> LG_E_RATE (+Retry-After); 408 and
 * 5xx -> LG_E_SERVER; other statuses -> LG_E_HTTP (not retried). curl
 * errors: 28 -> LG_E_TIMEOUT, everything else -> LG_E_NETWORK.
 *
 * Secrets: the key is copied into a header string that is wiped after the
 * call; CURLOPT_VERBOSE is never set; provider error messages are redacted.
 */
#include "lg_client.h"

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "clock.h"
#include "lg_error.h"
#include "lg_sse.h"
#include "str.h"

static pthread_once_t s_once = PTHREAD_ONCE_INIT;

static void
s_init (void)
{
    curl_global_init (CURL_GLOBAL_DEFAULT);
}

void
lg_client_global_init (void)
{
    pthread_once (&s_once, s_init);
}

void
lg_redact (char *s, const char *secret)
{
    if (s == NULL)
        return;
    size_t sl = secret ? strlen (secret) : 0;
    if (sl >= 4)
        for (char *p = strstr (s, secret); p; p = strstr (p + sl, secret))
            memset (p, '*', sl);
    for (char *p = strstr (s, "Bearer "); p; p = strstr (p + 7, "Bearer ")) {
        char *q = p + 7;
        while (*q && *q != ' ' && *q != '"' && *q != '\'' && *q != '\n' && *q != ',')
            *q++ = '*';
    }
}

typedef struct {
    const lg_call_t *call;
    lg_result_t *res;
    CURL *h;
    buf_t *body;       /* JSON body or error body */
    buf_t *text;       /* streamed answer */
    lg_sse_t *sse;
    int mode;          /* 0 undecided, 1 sse, 2 plain */
    bool done;         /* [DONE] seen */
    int err;           /* our reason for aborting */
    char ctype[96];
} s_xfer_t;

static size_t
s_on_header (char *p, size_t size, size_t n, void *arg)
{
    s_xfer_t *x = arg;
    size_t len = size * n;
    char line[256];
    size_t l = len < sizeof line - 1 ? len : sizeof line - 1;
    memcpy (line, p, l);
    line[l] = '\0';
    str_trim (line);
    if (str_starts_with (line, "HTTP/")) {
        /* A new response (after 100-continue or a redirect): forget headers. */
        x->ctype[0] = '\0';
        x->res->retry_after_ms = -1;
        return len;
    }
    char *colon = strchr (line, ':');
    if (colon == NULL)
        return len;
    *colon = '\0';
    char *v = str_trim (colon + 1);
    if (str_ieq (line, "content-type"))
        str_copy (x->ctype, sizeof x->ctype, v);
    else if (str_ieq (line, "retry-after-ms")) {
        double ms;
        if (str_to_double (v, &ms) == 0 && ms >= 0)
            x->res->retry_after_ms = (int64_t) ms;
    }
    else if (str_ieq (line, "retry-after") && x->res->retry_after_ms < 0) {
        double s;
        if (str_to_double (v, &s) == 0 && s >= 0)
            x->res->retry_after_ms = (int64_t) (s * 1000.0);
        else {
            time_t when = curl_getdate (v, NULL);
            if (when > 0) {
                int64_t d = (int64_t) when * 1000 - clock_wall_ms ();
                x->res->retry_after_ms = d > 0 ? d : 0;
            }
        }
    }
    return len;
}

static void
s_copy_str (char *dst, size_t size, json_t *v)
{
    if (json_is_string (v))
        str_copy (dst, size, json_string_value (v));
}

static void
s_usage (lg_result_t *res, json_t *usage)
{
    if (!json_is_object (usage))
        return;
    json_t *pi = json_object_get (usage, "prompt_tokens"), *co = json_object_get (usage, "completion_tokens");
    if (json_is_integer (pi) && json_is_integer (co) && json_integer_value (pi) >= 0
        && json_integer_value (co) >= 0) {
        res->tokens_in = (uint32_t) json_integer_value (pi);
        res->tokens_out = (uint32_t) json_integer_value (co);
        res->usage = true;
    }
}

/* Provider error message from {"error":{"message":..}}, [{"error":..}] or
 * {"error":"..."}; redacted, truncated. */
static void
s_error_message (s_xfer_t *x, json_t *root, char *out, size_t size)
{
    out[0] = '\0';
    if (json_is_array (root))
        root = json_array_get (root, 0);
    json_t *e = json_object_get (root, "error");
    if (json_is_string (e))
        str_copy (out, size, json_string_value (e));
    else if (json_is_object (e))
        s_copy_str (out, size, json_object_get (e, "message"));
    lg_redact (out, x->call->api_key);
}

static int
s_on_event (void *arg, const char *event, const char *data, size_t len)
{
    s_xfer_t *x = arg;
    (void) event;
    if (len == 6 && memcmp (data, "[DONE]", 6) == 0) {
        x->done = true;
        return 0;
    }
    json_error_t je;
    json_t *root = json_loadb (data, len, JSON_REJECT_DUPLICATES, &je);
    if (root == NULL || !json_is_object (root)) {
        snprintf (x->res->error, sizeof x->res->error, "malformed stream chunk: %s",
                  root ? "not an object" : je.text);
        json_decref (root);
        return LG_E_MALFORMED;
    }
    int rc = 0;
    json_t *err = json_object_get (root, "error");
    if (err) {
        char msg[200];
        s_error_message (x, root, msg, sizeof msg);
        snprintf (x->res->error, sizeof x->res->error, "provider error in stream: %s", msg[0] ? msg : "unknown");
        json_decref (root);
        return LG_E_SERVER;
    }
    s_copy_str (x->res->model, sizeof x->res->model, json_object_get (root, "model"));
    s_usage (x->res, json_object_get (root, "usage"));
    json_t *choices = json_object_get (root, "choices");
    if (choices != NULL && !json_is_array (choices)) {
        snprintf (x->res->error, sizeof x->res->error, "malformed stream chunk: choices is not an array");
        rc = LG_E_MALFORMED;
    }
    json_t *c0 = json_array_get (choices, 0);
    if (rc == 0 && c0) {
        json_t *delta = json_object_get (c0, "delta");
        json_t *content = json_object_get (delta, "content");
        if (json_is_string (content)) {
            const char *t = json_string_value (content);
            size_t tl = json_string_length (content);
            if (buf_append (x->text, t, tl) != 0) {
                snprintf (x->res->error, sizeof x->res->error, "streamed answer exceeds %zu bytes",
                          x->call->max_bytes);
                rc = LG_E_TOOBIG;
            }
            else if (x->call->on_delta && tl > 0 && x->call->on_delta (x->call->delta_arg, t, tl) != 0) {
                snprintf (x->res->error, sizeof x->res->error, "stream aborted by the caller");
                rc = LG_E_DEADLINE;
            }
        }
        s_copy_str (x->res->finish_reason, sizeof x->res->finish_reason, json_object_get (c0, "finish_reason"));
    }
    json_decref (root);
    return rc;
}

static size_t
s_on_write (char *p, size_t size, size_t n, void *arg)
{
    s_xfer_t *x = arg;
    size_t len = size * n;
    x->res->bytes += len;
    if (x->mode == 0) {
        long status = 0;
        curl_easy_getinfo (x->h, CURLINFO_RESPONSE_CODE, &status);
        x->mode = (status == 200 && x->call->stream && str_icontains (x->ctype, "text/event-stream")) ? 1 : 2;
        x->res->streamed = x->mode == 1;
    }
    if (x->mode == 1) {
        int rc = lg_sse_feed (x->sse, p, len);
        if (rc != 0) {
            x->err = rc;
            if (rc == LG_E_TOOBIG && !x->res->error[0])
                snprintf (x->res->error, sizeof x->res->error, "stream event exceeds %zu bytes", x->call->max_bytes);
            return 0;
        }
        return len;
    }
    if (buf_append (x->body, p, len) != 0) {
        x->err = LG_E_TOOBIG;
        snprintf (x->res->error, sizeof x->res->error, "response exceeds %zu bytes", x->call->max_bytes);
        return 0;
    }
    return len;
}

static int
s_on_progress (void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void) dt, (void) dn, (void) ut, (void) un;
    s_xfer_t *x = arg;
    if (x->call->cancel && atomic_load (x->call->cancel)) {
        x->err = LG_E_DEADLINE;
        snprintf (x->res->error, sizeof x->res->error, "cancelled (shutting down)");
        return 1;
    }
    return 0;
}

static char *
s_body (const lg_call_t *c)
{
    json_t *msgs = json_array ();
    if (c->system_prompt && c->system_prompt[0])
        json_array_append_new (msgs, json_pack ("{s:s, s:s}", "role", "system", "content", c->system_prompt));
    json_array_append_new (msgs, json_pack ("{s:s, s:s}", "role", "user", "content", c->prompt ? c->prompt : ""));
    json_t *root = json_pack ("{s:s, s:o, s:f, s:I, s:b}", "model", c->model ? c->model : "", "messages", msgs,
                              "temperature", c->temperature,
                              c->max_tokens_field ? c->max_tokens_field : "max_tokens", (json_int_t) c->max_tokens,
                              "stream", c->stream ? 1 : 0);
    if (root == NULL)
        return NULL;
    if (c->stream && c->stream_usage)
        json_object_set_new (root, "stream_options", json_pack ("{s:b}", "include_usage", 1));
    char *s = json_dumps (root, JSON_COMPACT);
    json_decref (root);
    return s;
}

/* Parses a non-streamed 200 body. */
static int
s_parse_plain (s_xfer_t *x)
{
    lg_result_t *res = x->res;
    json_error_t je;
    json_t *root = json_loadb (buf_data (x->body), buf_len (x->body), JSON_REJECT_DUPLICATES, &je);
    if (root == NULL) {
        snprintf (res->error, sizeof res->error, "malformed JSON from provider (line %d: %s)", je.line, je.text);
        return LG_E_MALFORMED;
    }
    int rc = 0;
    json_t *choices = json_object_get (root, "choices");
    json_t *c0 = json_array_get (choices, 0);
    json_t *content = json_object_get (json_object_get (c0, "message"), "content");
    if (json_is_array (choices) && json_array_size (choices) == 0) {
        snprintf (res->error, sizeof res->error, "provider returned no choices");
        rc = LG_E_EMPTY;
    }
    else if (!json_is_object (root) || !json_is_object (c0)) {
        snprintf (res->error, sizeof res->error, "malformed JSON from provider: no choices[0]");
        rc = LG_E_MALFORMED;
    }
    else if (!json_is_string (content) || json_string_length (content) == 0) {
        snprintf (res->error, sizeof res->error, "provider returned no answer text");
        rc = LG_E_EMPTY;
    }
    else {
        res->text = str_ndup (json_string_value (content), json_string_length (content));
        if (res->text == NULL)
            rc = LG_E_NOMEM;
        s_copy_str (res->finish_reason, sizeof res->finish_reason, json_object_get (c0, "finish_reason"));
        s_copy_str (res->model, sizeof res->model, json_object_get (root, "model"));
        s_usage (res, json_object_get (root, "usage"));
    }
    json_decref (root);
    return rc;
}

static int
s_map_curl (CURLcode cc)
{
    return cc == CURLE_OPERATION_TIMEDOUT ? LG_E_TIMEOUT : LG_E_NETWORK;
}

int
lg_client_call (const lg_call_t *call, lg_result_t *res)
{
    memset (res, 0, sizeof *res);
    res->retry_after_ms = -1;
    lg_client_global_init ();
    int64_t t0 = clock_mono_ms ();
    s_xfer_t x = { 0 };
    x.call = call;
    x.res = res;
    char url[600], auth[1100] = "";
    char *body = NULL;
    struct curl_slist *hdrs = NULL;
    char errbuf[CURL_ERROR_SIZE] = "";
    int rc = LG_E_NOMEM;

    if (str_fmt (url, sizeof url, "%s/chat/completions", call->base_url) != 0) {
        snprintf (res->error, sizeof res->error, "base URL too long");
        rc = LG_E_INVALID;
        goto done;
    }
    x.body = buf_new (call->max_bytes);
    x.text = buf_new (call->max_bytes);
    x.sse = lg_sse_new (call->max_bytes, s_on_event, &x);
    x.h = curl_easy_init ();
    body = s_body (call);
    if (x.body == NULL || x.text == NULL || x.sse == NULL || x.h == NULL || body == NULL)
        goto done;
    if (call->api_key && call->api_key[0]) {
        if (str_fmt (auth, sizeof auth, "Authorization: Bearer %s", call->api_key) != 0) {
            snprintf (res->error, sizeof res->error, "API key too long");
            rc = LG_E_INVALID;
            goto done;
        }
        hdrs = curl_slist_append (hdrs, auth);
    }
    hdrs = curl_slist_append (hdrs, "Content-Type: application/json");
    hdrs = curl_slist_append (hdrs, call->stream ? "Accept: text/event-stream, application/json"
                                                 : "Accept: application/json");
    hdrs = curl_slist_append (hdrs, "Expect:");
    if (hdrs == NULL)
        goto done;

    int64_t to = call->timeout_ms > 0 ? call->timeout_ms : 1;
    int64_t cto = call->connect_timeout_ms > 0 && call->connect_timeout_ms < to ? call->connect_timeout_ms : to;
    long stall_s = (long) ((call->stall_timeout_ms + 999) / 1000);
    curl_easy_setopt (x.h, CURLOPT_URL, url);
    curl_easy_setopt (x.h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt (x.h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt (x.h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt (x.h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) strlen (body));
    curl_easy_setopt (x.h, CURLOPT_TIMEOUT_MS, (long) to);
    curl_easy_setopt (x.h, CURLOPT_CONNECTTIMEOUT_MS, (long) cto);
    curl_easy_setopt (x.h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt (x.h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt (x.h, CURLOPT_LOW_SPEED_TIME, stall_s > 0 ? stall_s : 1L);
    curl_easy_setopt (x.h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt (x.h, CURLOPT_USERAGENT, "copilot-llm-gateway/" COPILOT_VERSION);
    curl_easy_setopt (x.h, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt (x.h, CURLOPT_WRITEFUNCTION, s_on_write);
    curl_easy_setopt (x.h, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt (x.h, CURLOPT_HEADERFUNCTION, s_on_header);
    curl_easy_setopt (x.h, CURLOPT_HEADERDATA, &x);
    curl_easy_setopt (x.h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt (x.h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt (x.h, CURLOPT_XFERINFOFUNCTION, s_on_progress);
    curl_easy_setopt (x.h, CURLOPT_XFERINFODATA, &x);

    CURLcode cc = curl_easy_perform (x.h);
    res->curl_code = (int) cc;
    curl_easy_getinfo (x.h, CURLINFO_RESPONSE_CODE, &res->http_status);
    if (cc != CURLE_OK) {
        if (x.err != 0)
            rc = x.err;
        else {
            rc = s_map_curl (cc);
            snprintf (res->error, sizeof res->error, "%s%s%s", curl_easy_strerror (cc), errbuf[0] ? ": " : "",
                      errbuf);
        }
        if (rc == LG_E_NETWORK && x.mode == 1 && buf_len (x.text) > 0 && !x.done)
            str_append (res->error, sizeof res->error, " (stream cut off)");
        goto done;
    }
    if (res->http_status != 200) {
        char msg[200] = "";
        json_t *root = json_loadb (buf_data (x.body), buf_len (x.body), 0, NULL);
        if (root)
            s_error_message (&x, root, msg, sizeof msg);
        json_decref (root);
        snprintf (res->error, sizeof res->error, "HTTP %ld%s%s", res->http_status, msg[0] ? ": " : "", msg);
        if (res->http_status == 429)
            rc = LG_E_RATE;
        else if (res->http_status == 408 || res->http_status >= 500)
            rc = LG_E_SERVER;
        else
            rc = LG_E_HTTP;
        goto done;
    }
    if (x.mode == 1) {
        if (lg_sse_finish (x.sse) && !x.done && !x.res->finish_reason[0]) {
            snprintf (res->error, sizeof res->error, "stream ended inside an event");
            rc = LG_E_NETWORK;
            goto done;
        }
        if (!x.done && !res->finish_reason[0]) {
            snprintf (res->error, sizeof res->error, "stream ended without [DONE]");
            rc = LG_E_NETWORK;
            goto done;
        }
        if (buf_len (x.text) == 0) {
            snprintf (res->error, sizeof res->error, "provider streamed no answer text");
            rc = LG_E_EMPTY;
            goto done;
        }
        res->text = buf_detach (x.text);
        rc = res->text ? 0 : LG_E_NOMEM;
    }
    else
        rc = s_parse_plain (&x);
done:
    if (auth[0])
        explicit_bzero (auth, sizeof auth);
    curl_slist_free_all (hdrs);
    if (x.h)
        curl_easy_cleanup (x.h);
    free (body);
    buf_destroy (&x.body);
    buf_destroy (&x.text);
    lg_sse_destroy (&x.sse);
    lg_redact (res->error, call->api_key);
    res->rc = rc;
    res->elapsed_ms = clock_mono_ms () - t0;
    if (rc != 0) {
        free (res->text);
        res->text = NULL;
        if (!res->error[0])
            str_copy (res->error, sizeof res->error, lg_strerror (rc));
    }
    return rc;
}

void
lg_result_clear (lg_result_t *res)
{
    if (res == NULL)
        return;
    free (res->text);
    memset (res, 0, sizeof *res);
}
