/* env.h — the envelope codec: every message that crosses a socket is one
 * protobuf Copilot__V1__Envelope (proto/copilot/v1/envelope.proto).
 *
 * OWNERSHIP RULE (read this once, it holds for every env_* and bus_* call):
 * an envelope that this library hands you, or that you build with env_new(),
 * is freed with env_free(), which is protobuf-c's free_unpacked(). That
 * function frees every string and sub-message it finds, so EVERYTHING you
 * attach to an envelope must be heap memory allocated with malloc: strings
 * via env_strdup()/env_set_str(), messages via env_msg_new(), repeated
 * fields via ENV_APPEND(). Never point a field at a string literal, a stack
 * buffer or memory owned by something else (the one exception protobuf-c
 * itself makes: the shared empty string that *__init() puts in proto3
 * string fields is never freed). Attached memory then has exactly one owner.
 *
 * Decoding: env_decode() refuses frames larger than the cap BEFORE calling
 * the unpacker (protobuf-c has no size or depth limit), returns NULL-safe
 * errors for malformed bytes, and checks header.schema_version.
 *
 * Thread-safety: all functions are reentrant; an envelope belongs to one
 * thread at a time.
 */
#ifndef COPILOT_ENV_H
#define COPILOT_ENV_H
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "copilot/v1/envelope.pb-c.h"

/* Wire schema version written into every header; a receiver rejects a
 * different major with ERROR_VERSION_MISMATCH. */
#define ENV_SCHEMA_VERSION 1u
/* Default maximum encoded envelope size (also set as ZMQ_MAXMSGSIZE on every
 * socket that receives envelopes). Override per call with env_decode_cap. */
#define ENV_MAX_BYTES (4 * 1024 * 1024)
/* Request ids are 32 lower-case hex characters; buffers need 33 bytes. */
#define ENV_ID_LEN 33

typedef Copilot__V1__Envelope env_t;

/* Codec error codes (negative; values never change). */
enum {
    ENV_OK = 0,
    ENV_E_TOOBIG = -1,      /* encoded size above the cap: not unpacked */
    ENV_E_MALFORMED = -2,   /* protobuf-c refused the bytes */
    ENV_E_VERSION = -3,     /* header missing or schema_version != ENV_SCHEMA_VERSION */
    ENV_E_NOMEM = -4,
    ENV_E_EMPTY = -5,       /* envelope without a body (body_case NOT_SET) */
};

/* Static text for an ENV_E_* code. */
const char *env_strerror (int code);

/* ---- construction ------------------------------------------------------ */

/* New heap envelope with an initialised header: schema_version, a fresh
 * request_id, sent_unix_ms = now, sender = `sender` (copied, may be NULL).
 * No body. NULL on OOM. Free with env_free(). */
env_t *env_new (const char *sender);

/* Frees an envelope and everything attached to it (see OWNERSHIP RULE).
 * NULL-safe. */
void env_free (env_t *env);
/* Frees *env_p and sets it to NULL. NULL-safe. */
void env_destroy (env_t **env_p);

/* New zero-initialised heap message of the given protobuf-c type, e.g.
 *   Copilot__V1__PingReply *r = env_msg_new (&copilot__v1__ping_reply__descriptor);
 * NULL on OOM. Attach it to an envelope (then it is freed with it) or free it
 * with protobuf_c_message_free_unpacked(msg, NULL). */
void *env_msg_new (const ProtobufCMessageDescriptor *desc);

/* malloc'd copy of s ("" when s is NULL). NULL on OOM. */
char *env_strdup (const char *s);
/* Replaces the string in *field (freeing the old value unless it is the
 * protobuf-c empty string) with a malloc'd copy of `s` (NULL → ""). 0 or
 * ENV_E_NOMEM (field unchanged). */
int env_set_str (char **field, const char *s);
/* Same with printf formatting. */
int env_set_strf (char **field, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

/* Resizes the malloc'd array *(T **)arr_p to hold `n` elements of
 * `elem_size` bytes. 0 or ENV_E_NOMEM (array unchanged). Use ENV_APPEND. */
int env_reserve (void *arr_p, size_t n, size_t elem_size);
/* Appends `value` to a repeated field given as (array, count), e.g.
 *   ENV_APPEND (reply->hits, reply->n_hits, hit)   -> 0 or ENV_E_NOMEM
 * On failure the value is NOT attached (the caller still owns it). */
#define ENV_APPEND(arr, n, value)                                            \
    (env_reserve (&(arr), (size_t) (n) + 1, sizeof *(arr)) == 0              \
         ? ((arr)[(n)++] = (value), 0)                                      \
         : ENV_E_NOMEM)

/* Sets env's body to `msg` (a heap message of the type matching body_case),
 * freeing any previous body. Ownership of msg passes to env. Returns 0, or
 * ENV_E_MALFORMED when body_case is not a body of Envelope (msg is then
 * freed). Typical use: env_set_body(reply, COPILOT__V1__ENVELOPE__BODY_PING_REPLY, r). */
int env_set_body (env_t *env, int body_case, void *msg);
/* Frees the current body (if any) and sets body_case NOT_SET. */
void env_clear_body (env_t *env);
/* The body message pointer (any arm) or NULL when NOT_SET. */
const ProtobufCMessage *env_body (const env_t *env);

/* Replaces env's body with Error{code, message, detail}. `fmt` formats the
 * message (one actionable sentence); detail may be NULL. 0 or ENV_E_NOMEM. */
int env_set_error (env_t *env, Copilot__V1__ErrorCode code, const char *detail,
                   const char *fmt, ...) __attribute__ ((format (printf, 4, 5)));
int env_set_errorv (env_t *env, Copilot__V1__ErrorCode code, const char *detail,
                    const char *fmt, va_list ap);

/* New reply envelope for `req`: header with request_id and trace_id copied
 * from req (request_id fresh if req has none), sender set, no body. NULL on OOM. */
env_t *env_reply_new (const env_t *req, const char *sender);
/* New envelope carrying Error{code, message} as a reply to `req` (req may be
 * NULL). NULL on OOM. */
env_t *env_error_new (const env_t *req, const char *sender, Copilot__V1__ErrorCode code,
                      const char *fmt, ...) __attribute__ ((format (printf, 4, 5)));

/* Writes a fresh 32-hex-character id into out (>= ENV_ID_LEN bytes). Ids come
 * from a per-process random prefix (getrandom) and a counter, so they are
 * unique across processes and never repeat within one. */
void env_new_id (char out[ENV_ID_LEN]);

/* ---- deadlines ----------------------------------------------------------- */

/* Sets header.deadline_unix_ms = now + timeout_ms (timeout_ms <= 0 clears the
 * deadline). Creates the header if missing. 0 or ENV_E_NOMEM. */
int env_set_timeout (env_t *env, int64_t timeout_ms);
/* Milliseconds left until the deadline (may be negative); INT64_MAX when the
 * envelope has no deadline. */
int64_t env_remaining_ms (const env_t *env);
/* True when the envelope has a deadline and it has passed. */
bool env_expired (const env_t *env);

/* ---- codec ------------------------------------------------------------- */

/* Packs env into a malloc'd buffer (*out, *len). Fills a missing header
 * (schema_version, sent_unix_ms) first, which is why env is not const.
 * 0, ENV_E_TOOBIG (packed size above ENV_MAX_BYTES), ENV_E_NOMEM. */
int env_encode (env_t *env, uint8_t **out, size_t *len);

/* Unpacks `len` bytes. Checks the cap first, then protobuf-c, then the header
 * version and that a body is set. On success *out owns a new envelope (free
 * with env_free) and 0 is returned; on error *out is NULL and an ENV_E_*
 * code is returned. Exception: for ENV_E_VERSION and ENV_E_EMPTY the decoded
 * envelope is still returned through *out so the caller can answer with the
 * request id; the caller frees it. */
int env_decode (const uint8_t *data, size_t len, env_t **out);
/* Same with an explicit cap (bytes). */
int env_decode_cap (const uint8_t *data, size_t len, size_t cap, env_t **out);

/* ---- introspection ----------------------------------------------------- */

/* Field name of a body case ("ping_request", "explain_request", ...) or
 * "none" / "unknown". Static strings, used as the `method` metric label. */
const char *env_body_name (int body_case);
/* True for bodies that are Error. */
bool env_is_error (const env_t *env);
/* The Error body or NULL. */
const Copilot__V1__Error *env_error (const env_t *env);
/* Stable lower-case name of an ErrorCode ("deadline_exceeded", "ok" for 0);
 * used as the `code` metric label. */
const char *env_code_name (int code);
/* Request id of env ("" when none). Never NULL. */
const char *env_request_id (const env_t *env);

#endif
