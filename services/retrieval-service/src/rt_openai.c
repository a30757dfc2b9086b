/* rt_openai.c — client for OpenAI-compatible POST {base}/embeddings over
 * libcurl (OpenAI, Azure-style proxies, Ollama, vLLM, llama.cpp server).
 *
 * One request per batch: {"model": M, "input": [texts...]}; the reply's
 * data[i].embedding arrays are placed by data[i].index, which must cover
 * 0..n-1 exactly once. Hard timeouts (connect 10 s, total timeout_ms); the
 * reply body is read into a capped buffer. The API key only ever goes into
 * the Authorization header: it is never logged, never put into an error
 * message (provider error text is scrubbed of it) and wiped on destroy.
 * A curl handle per call keeps the function reentrant; embedding is not on
 * a hot path where connection reuse would matter (queries embed one text).
 *
 * Failures are specific, so an operator knows what to fix:
 *   401/403      RT_E_EMBED "rejected the API key" (never retried)
 *   429          RT_E_EMBED "rate limited", retried up to max_retries times
 *                after Retry-After / retry-after-ms (a wait above 20 s is not
 *                waited for: the error says how long the provider wants)
 *   5xx          RT_E_EMBED "server error", retried like 429 with exponential
 *                back-off from retry_base_ms when no Retry-After is given
 *   other 4xx    RT_E_EMBED with the provider's message (never retried)
 *   timeout      RT_E_HTTP "timed out after N ms" (not retried: the next
 *                batch would likely wait as long)
 *   transport    RT_E_HTTP with curl's reason (connection refused, DNS...)
 *   reply        RT_E_FORMAT (not JSON, wrong count, bad index, non-number)
 *   dimension    RT_E_DIM naming the model, the reply's and the expected one
 * Retries only ever repeat the same idempotent request.
 */
#include "rt_internal.h"

#include "clock.h"

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define RT_OPENAI_MAX_REPLY (64u << 20)

static pthread_once_t s_once = PTHREAD_ONCE_INIT;
static void
s_global_init (void)
{
    curl_global_init (CURL_GLOBAL_DEFAULT);
}

static size_t
s_write (char *ptr, size_t size, size_t nmemb, void *ud)
{
    buf_t *b = ud;
    size_t n = size * nmemb;
    return buf_append (b, ptr, n) == 0 ? n : 0; /* 0 aborts the transfer at the cap */
}

/* Copies `msg` into out, replacing any occurrence of `secret`. */
static void
s_scrub (const char *msg, const char *secret, char *out, size_t size)
{
    size_t o = 0, sl = secret ? strlen (secret) : 0;
    for (const char *p = msg; *p && o + 1 < size;) {
        if (sl >= 4 && strncmp (p, secret, sl) == 0) {
            const char *r = "[redacted]";
            for (; *r && o + 1 < size; r++)
                out[o++] = *r;
            p += sl;
        } else {
            out[o++] = *p++;
        }
    }
    out[o] = '\0';
}

typedef struct {
    long retry_after_ms; /* -1 when the reply had none */
} s_hdrs_t;

static size_t
s_header (char *data, size_t size, size_t nmemb, void *arg)
{
    s_hdrs_t *h = arg;
    size_t n = size * nmemb;
    static const char *const names[] = {"retry-after-ms:", "retry-after:", NULL};
    for (int k = 0; names[k]; k++) {
        size_t nl = strlen (names[k]);
        if (n <= nl || strncasecmp (data, names[k], nl) != 0)
            continue;
        char v[32];
        size_t a = nl, b = n;
        while (a < b && (data[a] == ' ' || data[a] == '\t'))
            a++;
        while (b > a && (data[b - 1] == '\r' || data[b - 1] == '\n' || data[b - 1] == ' '))
            b--;
        if (b - a == 0 || b - a >= sizeof v)
            break;
        memcpy (v, data + a, b - a);
        v[b - a] = '\0';
        int64_t x = 0;
        /* an HTTP date instead of seconds is not parsed: back-off applies */
        if (str_to_i64 (v, &x) == 0 && x >= 0)
            h->retry_after_ms = k == 0 ? (long) (x > 86400000 ? 86400000 : x) : (long) (x > 86400 ? 86400000 : x * 1000);
        break;
    }
    return n;
}

int
rt__openai_embed (const char *base_url, const char *api_key, const char *model, int timeout_ms,
                  int max_retries, int retry_base_ms, const char *const *texts, size_t n,
                  int expect_dim, float *out, int *dim_out)
{
    pthread_once (&s_once, s_global_init);
    if (n == 0)
        return RT_OK;
    char url[1024];
    size_t bl = strlen (base_url);
    while (bl > 0 && base_url[bl - 1] == '/')
        bl--;
    if (str_fmt (url, sizeof url, "%.*s/embeddings", (int) bl, base_url) != 0)
        return rt__fail (RT_E_ARG, "embeddings base URL too long");

    json_t *req = json_object (), *inputs = json_array ();
    if (!req || !inputs) {
        json_decref (req);
        json_decref (inputs);
        return rt__fail (RT_E_NOMEM, "out of memory");
    }
    json_object_set_new (req, "model", json_string (model));
    for (size_t i = 0; i < n; i++)
        json_array_append_new (inputs, json_string (texts[i] && *texts[i] ? texts[i] : " "));
    json_object_set_new (req, "input", inputs);
    char *body = json_dumps (req, JSON_COMPACT);
    json_decref (req);
    if (!body)
        return rt__fail (RT_E_FORMAT, "cannot encode embeddings request (invalid UTF-8 in a text?)");

    int rc = RT_OK;
    buf_t *reply = buf_new (RT_OPENAI_MAX_REPLY);
    CURL *h = curl_easy_init ();
    struct curl_slist *hdrs = NULL;
    char auth[512];
    json_t *doc = NULL;
    if (!reply || !h) {
        rc = rt__fail (RT_E_NOMEM, "out of memory");
        goto done;
    }
    hdrs = curl_slist_append (hdrs, "Content-Type: application/json");
    hdrs = curl_slist_append (hdrs, "Expect:"); /* no 100-continue round trip for big batches */
    if (api_key && *api_key) {
        if (str_fmt (auth, sizeof auth, "Authorization: Bearer %s", api_key) != 0) {
            rc = rt__fail (RT_E_ARG, "API key too long");
            goto done;
        }
        hdrs = curl_slist_append (hdrs, auth);
        memset (auth, 0, sizeof auth);
    }
    curl_easy_setopt (h, CURLOPT_URL, url);
    curl_easy_setopt (h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt (h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt (h, CURLOPT_POSTFIELDSIZE, (long) strlen (body));
    curl_easy_setopt (h, CURLOPT_WRITEFUNCTION, s_write);
    curl_easy_setopt (h, CURLOPT_WRITEDATA, reply);
    curl_easy_setopt (h, CURLOPT_TIMEOUT_MS, (long) timeout_ms);
    curl_easy_setopt (h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt (h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt (h, CURLOPT_USERAGENT, "copilot-retrieval/" COPILOT_VERSION);
    s_hdrs_t hd;
    curl_easy_setopt (h, CURLOPT_HEADERFUNCTION, s_header);
    curl_easy_setopt (h, CURLOPT_HEADERDATA, &hd);
    long status = 0;
    json_error_t jerr;
    if (max_retries < 0)
        max_retries = 0;
    for (int attempt = 0;; attempt++) {
        buf_reset (reply);
        hd.retry_after_ms = -1;
        json_decref (doc);
        doc = NULL;
        CURLcode cc = curl_easy_perform (h);
        if (cc == CURLE_OPERATION_TIMEDOUT) {
            rc = rt__fail (RT_E_HTTP, "embeddings request to %s timed out after %d ms (model %s, %zu input(s))",
                           url, timeout_ms, model, n);
            goto done;
        }
        if (cc != CURLE_OK) {
            rc = rt__fail (cc == CURLE_WRITE_ERROR ? RT_E_TOOBIG : RT_E_HTTP,
                           "embeddings request to %s failed: %s", url, curl_easy_strerror (cc));
            goto done;
        }
        curl_easy_getinfo (h, CURLINFO_RESPONSE_CODE, &status);
        doc = json_loadb (buf_data (reply), buf_len (reply), 0, &jerr);
        if (status == 200)
            break;
        const char *msg = "";
        json_t *e = doc ? json_object_get (doc, "error") : NULL;
        if (e && json_is_object (e) && json_is_string (json_object_get (e, "message")))
            msg = json_string_value (json_object_get (e, "message"));
        else if (e && json_is_string (e))
            msg = json_string_value (e);
        char clean[300];
        s_scrub (msg, api_key, clean, sizeof clean);
        bool retryable = status == 429 || status >= 500;
        long wait = hd.retry_after_ms >= 0 ? hd.retry_after_ms
                                           : (long) retry_base_ms << (attempt < 10 ? attempt : 10);
        if (retryable && attempt < max_retries && wait <= 20000) {
            clock_sleep_ms (wait);
            continue;
        }
        char tries[96] = "";
        if (retryable && attempt > 0)
            str_fmt (tries, sizeof tries, " after %d attempts", attempt + 1);
        if (retryable && attempt < max_retries)
            str_fmt (tries, sizeof tries, "; the provider asks to retry after %ld ms", wait);
        const char *sep = *clean ? ": " : "";
        if (status == 401 || status == 403)
            rc = rt__fail (RT_E_EMBED, "embeddings API %s rejected the API key (HTTP %ld)%s%s; check "
                           "retrieval.openai.api_key / OPENAI_API_KEY", url, status, sep, clean);
        else if (status == 429)
            rc = rt__fail (RT_E_EMBED, "embeddings API %s rate limited the request (HTTP 429)%s%s%s; retry "
                           "later or lower the request rate", url, tries, sep, clean);
        else if (status >= 500)
            rc = rt__fail (RT_E_EMBED, "embeddings API %s server error (HTTP %ld)%s%s%s", url, status, tries,
                           sep, clean);
        else
            rc = rt__fail (RT_E_EMBED, "embeddings API %s returned HTTP %ld%s%s", url, status, sep, clean);
        goto done;
    }
    if (!doc) {
        rc = rt__fail (RT_E_FORMAT, "embeddings reply is not JSON: %s", jerr.text);
        goto done;
    }
    json_t *data = json_object_get (doc, "data");
    if (!json_is_array (data) || json_array_size (data) != n) {
        rc = rt__fail (RT_E_FORMAT, "embeddings reply has %zu vectors for %zu inputs",
                       json_is_array (data) ? json_array_size (data) : 0, n);
        goto done;
    }
    int dim = -1;
    char *seen = calloc (n, 1);
    if (!seen) {
        rc = rt__fail (RT_E_NOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n && rc == RT_OK; i++) {
        json_t *item = json_array_get (data, i);
        json_t *emb = json_object_get (item, "embedding");
        json_t *jix = json_object_get (item, "index");
        size_t ix = json_is_integer (jix) ? (size_t) json_integer_value (jix) : i;
        if (!json_is_array (emb) || json_array_size (emb) == 0 || ix >= n || seen[ix]) {
            rc = rt__fail (RT_E_FORMAT, "embeddings reply item %zu is malformed", i);
            break;
        }
        seen[ix] = 1;
        int d = (int) json_array_size (emb);
        if (dim < 0)
            dim = d;
        if (d != dim || (expect_dim > 0 && d != expect_dim)) {
            rc = rt__fail (RT_E_DIM, "embeddings model %s returned dimension %d, expected %d", model, d,
                           expect_dim > 0 ? expect_dim : dim);
            break;
        }
        if (out)
            for (int k = 0; k < d; k++) {
                json_t *x = json_array_get (emb, (size_t) k);
                if (!json_is_number (x)) {
                    rc = rt__fail (RT_E_FORMAT, "embeddings reply item %zu has a non-number", i);
                    break;
                }
                out[ix * (size_t) d + (size_t) k] = (float) json_number_value (x);
            }
    }
    free (seen);
    if (rc == RT_OK && dim_out)
        *dim_out = dim;
done:
    json_decref (doc);
    curl_slist_free_all (hdrs);
    if (h)
        curl_easy_cleanup (h);
    buf_destroy (&reply);
    free (body);
    return rc;
}
