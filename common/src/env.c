/* env.c — envelope codec and construction helpers.
 *
 * Design:
 *  - Every envelope this module builds is "deep heap": the envelope, its
 *    header, the body and every string are separate malloc blocks, so that
 *    protobuf-c's free_unpacked() (which frees each string and sub-message
 *    it finds, skipping the shared empty string) is the one and only
 *    destructor for built and decoded envelopes alike (env.h OWNERSHIP RULE).
 *  - Bodies are addressed generically through the Envelope descriptor: a body
 *    case IS the field number of the oneof arm, so env_set_body() looks the
 *    field up, checks it belongs to the oneof and that the message type
 *    matches, and stores the pointer at the field's offset. That keeps one
 *    code path for ~40 body kinds and rejects type confusion at run time.
 *  - Decoding checks the size cap before protobuf-c sees a byte (it has no
 *    limit of its own), then the schema version and the presence of a body.
 *  - Request ids: 16 hex chars of a per-process random prefix (getrandom,
 *    re-drawn after fork) + 16 hex chars of an atomic counter.
 * Thread-safety: reentrant; the id counter is atomic.
 */
#include "env.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "clock.h"
#include "str.h"

#define ENVELOPE_DESC copilot__v1__envelope__descriptor

const char *env_strerror (int code)
{
    switch (code) {
    case ENV_OK: return "ok";
    case ENV_E_TOOBIG: return "envelope larger than the size cap";
    case ENV_E_MALFORMED: return "malformed envelope";
    case ENV_E_VERSION: return "unsupported envelope schema version";
    case ENV_E_NOMEM: return "out of memory";
    case ENV_E_EMPTY: return "envelope without a body";
    default: return "unknown envelope error";
    }
}

/* ---- ids ------------------------------------------------------------------ */

static atomic_ullong s_id_counter;
static atomic_ullong s_id_prefix;
static atomic_int s_id_pid;

static unsigned long long s_random64 (void)
{
    unsigned long long v = 0;
    ssize_t n = getrandom (&v, sizeof v, GRND_NONBLOCK);
    if (n != (ssize_t) sizeof v) {
        /* Entropy pool not ready (early boot): fall back to time and pid,
         * still unique enough together with the counter. */
        v = (unsigned long long) clock_mono_ns () ^ ((unsigned long long) getpid () << 32)
            ^ (unsigned long long) clock_wall_ms ();
    }
    return v;
}

void env_new_id (char out[ENV_ID_LEN])
{
    int pid = (int) getpid ();
    if (atomic_load (&s_id_pid) != pid) {
        /* First use, or we are a forked child: draw a new prefix. Two threads
         * racing here both store a valid random prefix; either wins. */
        atomic_store (&s_id_prefix, s_random64 ());
        atomic_store (&s_id_pid, pid);
    }
    unsigned long long c = atomic_fetch_add (&s_id_counter, 1) + 1;
    snprintf (out, ENV_ID_LEN, "%016llx%016llx", (unsigned long long) atomic_load (&s_id_prefix), c);
}

/* ---- construction --------------------------------------------------------- */

void *env_msg_new (const ProtobufCMessageDescriptor *desc)
{
    if (!desc)
        return NULL;
    void *m = malloc (desc->sizeof_message);
    if (!m)
        return NULL;
    desc->message_init ((ProtobufCMessage *) m);
    return m;
}

char *env_strdup (const char *s)
{
    return str_dup (s ? s : "");
}

static void s_free_str (char *s)
{
    if (s && s != protobuf_c_empty_string)
        free (s);
}

/* malloc'd printf result (vasprintf is GNU-only). NULL on OOM/format error. */
static char *s_vformat (const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy (ap2, ap);
    int n = vsnprintf (NULL, 0, fmt, ap2);
    va_end (ap2);
    if (n < 0)
        return NULL;
    char *s = malloc ((size_t) n + 1);
    if (!s)
        return NULL;
    if (vsnprintf (s, (size_t) n + 1, fmt, ap) != n) {
        free (s);
        return NULL;
    }
    return s;
}

int env_set_str (char **field, const char *s)
{
    char *copy = env_strdup (s);
    if (!copy)
        return ENV_E_NOMEM;
    s_free_str (*field);
    *field = copy;
    return ENV_OK;
}

int env_set_strf (char **field, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    char *s = s_vformat (fmt, ap);
    va_end (ap);
    if (!s)
        return ENV_E_NOMEM;
    s_free_str (*field);
    *field = s;
    return ENV_OK;
}

int env_reserve (void *arr_p, size_t n, size_t elem_size)
{
    /* arr_p points at a `T *` variable; copy the pointer in and out with
     * memcpy so no T ** is accessed through a void ** lvalue. The array is
     * resized to exactly n elements: its capacity is not stored anywhere, and
     * arrays made by protobuf-c's unpacker are allocated to their exact count,
     * so rounding up to an assumed capacity would be unsafe. realloc grows in
     * place most of the time; repeated fields here hold at most thousands. */
    void *arr;
    memcpy (&arr, arr_p, sizeof arr);
    if (n == 0)
        return ENV_OK;
    if (n > SIZE_MAX / elem_size)
        return ENV_E_NOMEM;
    void *grown = realloc (arr, n * elem_size);
    if (!grown)
        return ENV_E_NOMEM;
    memcpy (arr_p, &grown, sizeof grown);
    return ENV_OK;
}

static Copilot__V1__Header *s_header (env_t *env)
{
    if (!env->header)
        env->header = env_msg_new (&copilot__v1__header__descriptor);
    return env->header;
}

env_t *env_new (const char *sender)
{
    env_t *env = env_msg_new (&ENVELOPE_DESC);
    if (!env)
        return NULL;
    Copilot__V1__Header *h = s_header (env);
    if (!h)
        goto fail;
    h->schema_version = ENV_SCHEMA_VERSION;
    h->sent_unix_ms = clock_wall_ms ();
    char id[ENV_ID_LEN];
    env_new_id (id);
    if (env_set_str (&h->request_id, id) != 0)
        goto fail;
    if (sender && sender[0] && env_set_str (&h->sender, sender) != 0)
        goto fail;
    return env;
fail:
    env_free (env);
    return NULL;
}

void env_free (env_t *env)
{
    if (env)
        copilot__v1__envelope__free_unpacked (env, NULL);
}

void env_destroy (env_t **env_p)
{
    if (env_p && *env_p) {
        env_free (*env_p);
        *env_p = NULL;
    }
}

/* Field descriptor of a body case, or NULL when it is not an arm of the oneof. */
static const ProtobufCFieldDescriptor *s_body_field (int body_case)
{
    if (body_case <= 0)
        return NULL;
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field (&ENVELOPE_DESC, (unsigned) body_case);
    if (!f || !(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) || f->type != PROTOBUF_C_TYPE_MESSAGE)
        return NULL;
    return f;
}

static ProtobufCMessage **s_body_slot (env_t *env, const ProtobufCFieldDescriptor *f)
{
    return (ProtobufCMessage **) ((char *) env + f->offset);
}

void env_clear_body (env_t *env)
{
    if (!env || env->body_case == COPILOT__V1__ENVELOPE__BODY__NOT_SET)
        return;
    const ProtobufCFieldDescriptor *f = s_body_field ((int) env->body_case);
    if (f) {
        ProtobufCMessage **slot = s_body_slot (env, f);
        if (*slot)
            protobuf_c_message_free_unpacked (*slot, NULL);
        *slot = NULL;
    }
    env->body_case = COPILOT__V1__ENVELOPE__BODY__NOT_SET;
}

int env_set_body (env_t *env, int body_case, void *msg)
{
    const ProtobufCFieldDescriptor *f = s_body_field (body_case);
    ProtobufCMessage *m = msg;
    if (!env || !f || !m || m->descriptor != f->descriptor) {
        if (m)
            protobuf_c_message_free_unpacked (m, NULL);
        return ENV_E_MALFORMED;
    }
    env_clear_body (env);
    *s_body_slot (env, f) = m;
    env->body_case = (Copilot__V1__Envelope__BodyCase) body_case;
    return ENV_OK;
}

const ProtobufCMessage *env_body (const env_t *env)
{
    if (!env)
        return NULL;
    const ProtobufCFieldDescriptor *f = s_body_field ((int) env->body_case);
    if (!f)
        return NULL;
    return *(ProtobufCMessage *const *) ((const char *) env + f->offset);
}

int env_set_errorv (env_t *env, Copilot__V1__ErrorCode code, const char *detail, const char *fmt,
                    va_list ap)
{
    Copilot__V1__Error *e = env_msg_new (&copilot__v1__error__descriptor);
    if (!e)
        return ENV_E_NOMEM;
    e->code = code;
    char *msg = s_vformat (fmt ? fmt : "", ap);
    if (!msg) {
        protobuf_c_message_free_unpacked (&e->base, NULL);
        return ENV_E_NOMEM;
    }
    e->message = msg;
    if (detail && detail[0] && env_set_str (&e->detail, detail) != 0) {
        protobuf_c_message_free_unpacked (&e->base, NULL);
        return ENV_E_NOMEM;
    }
    return env_set_body (env, COPILOT__V1__ENVELOPE__BODY_ERROR, e);
}

int env_set_error (env_t *env, Copilot__V1__ErrorCode code, const char *detail, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    int rc = env_set_errorv (env, code, detail, fmt, ap);
    va_end (ap);
    return rc;
}

env_t *env_reply_new (const env_t *req, const char *sender)
{
    env_t *env = env_new (sender);
    if (!env)
        return NULL;
    if (req && req->header) {
        if (req->header->request_id && req->header->request_id[0]
            && env_set_str (&env->header->request_id, req->header->request_id) != 0)
            goto fail;
        if (req->header->trace_id && req->header->trace_id[0]
            && env_set_str (&env->header->trace_id, req->header->trace_id) != 0)
            goto fail;
    }
    return env;
fail:
    env_free (env);
    return NULL;
}

env_t *env_error_new (const env_t *req, const char *sender, Copilot__V1__ErrorCode code,
                      const char *fmt, ...)
{
    env_t *env = env_reply_new (req, sender);
    if (!env)
        return NULL;
    va_list ap;
    va_start (ap, fmt);
    int rc = env_set_errorv (env, code, NULL, fmt, ap);
    va_end (ap);
    if (rc != 0) {
        env_free (env);
        return NULL;
    }
    return env;
}

/* ---- deadlines ------------------------------------------------------------ */

int env_set_timeout (env_t *env, int64_t timeout_ms)
{
    Copilot__V1__Header *h = s_header (env);
    if (!h)
        return ENV_E_NOMEM;
    h->deadline_unix_ms = timeout_ms > 0 ? clock_wall_ms () + timeout_ms : 0;
    return ENV_OK;
}

int64_t env_remaining_ms (const env_t *env)
{
    if (!env || !env->header || env->header->deadline_unix_ms <= 0)
        return INT64_MAX;
    return env->header->deadline_unix_ms - clock_wall_ms ();
}

bool env_expired (const env_t *env)
{
    int64_t left = env_remaining_ms (env);
    return left != INT64_MAX && left <= 0;
}

/* ---- codec ---------------------------------------------------------------- */

int env_encode (env_t *env, uint8_t **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    Copilot__V1__Header *h = s_header (env);
    if (!h)
        return ENV_E_NOMEM;
    if (h->schema_version == 0)
        h->schema_version = ENV_SCHEMA_VERSION;
    if (h->sent_unix_ms == 0)
        h->sent_unix_ms = clock_wall_ms ();
    size_t n = copilot__v1__envelope__get_packed_size (env);
    if (n > ENV_MAX_BYTES)
        return ENV_E_TOOBIG;
    uint8_t *buf = malloc (n ? n : 1);
    if (!buf)
        return ENV_E_NOMEM;
    size_t w = copilot__v1__envelope__pack (env, buf);
    if (w != n) {
        free (buf);
        return ENV_E_MALFORMED;
    }
    *out = buf;
    *len = n;
    return ENV_OK;
}

int env_decode_cap (const uint8_t *data, size_t len, size_t cap, env_t **out)
{
    *out = NULL;
    if (len > cap)
        return ENV_E_TOOBIG;
    env_t *env = copilot__v1__envelope__unpack (NULL, len, data);
    if (!env)
        return ENV_E_MALFORMED;
    *out = env;
    if (!env->header || env->header->schema_version != ENV_SCHEMA_VERSION)
        return ENV_E_VERSION;
    if (env->body_case == COPILOT__V1__ENVELOPE__BODY__NOT_SET || !env_body (env))
        return ENV_E_EMPTY;
    return ENV_OK;
}

int env_decode (const uint8_t *data, size_t len, env_t **out)
{
    return env_decode_cap (data, len, ENV_MAX_BYTES, out);
}

/* ---- introspection -------------------------------------------------------- */

const char *env_body_name (int body_case)
{
    if (body_case == COPILOT__V1__ENVELOPE__BODY__NOT_SET)
        return "none";
    const ProtobufCFieldDescriptor *f = s_body_field (body_case);
    return f ? f->name : "unknown";
}

bool env_is_error (const env_t *env)
{
    return env && env->body_case == COPILOT__V1__ENVELOPE__BODY_ERROR && env->error;
}

const Copilot__V1__Error *env_error (const env_t *env)
{
    return env_is_error (env) ? env->error : NULL;
}

const char *env_code_name (int code)
{
    static const char *const names[] = {
        "ok",                  /* 0: ERROR_CODE_UNSPECIFIED doubles as success */
        "invalid_argument", "not_found", "deadline_exceeded", "unavailable",
        "unimplemented", "internal", "resource_exhausted", "unauthenticated",
        "permission_denied", "version_mismatch", "failed_precondition", "upstream",
    };
    if (code < 0 || (size_t) code >= sizeof names / sizeof names[0])
        return "unknown";
    return names[code];
}

const char *env_request_id (const env_t *env)
{
    if (!env || !env->header || !env->header->request_id)
        return "";
    return env->header->request_id;
}
