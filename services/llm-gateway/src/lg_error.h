/* lg_error.h — error codes shared by every module of the llm-gateway library
 * (lg_llm). 0 is success; failures are negative and stable once released.
 */
#ifndef LG_ERROR_H
#define LG_ERROR_H

enum {
    LG_OK = 0,
    LG_E_INVALID = -1,      /* caller passed something malformed (facts_json, params) */
    LG_E_NOMEM = -2,        /* allocation failed */
    LG_E_TOOBIG = -3,       /* a size cap was hit (response, prompt, SSE event) */
    LG_E_TIMEOUT = -4,      /* the provider did not answer within the timeout */
    LG_E_NETWORK = -5,      /* connect/send/receive failure, dropped connection */
    LG_E_HTTP = -6,         /* provider answered with a non-retryable HTTP status */
    LG_E_RATE = -7,         /* provider answered 429 (rate limited) */
    LG_E_SERVER = -8,       /* provider answered 5xx */
    LG_E_MALFORMED = -9,    /* provider answered 200 with a body we cannot parse */
    LG_E_BREAKER = -10,     /* circuit breaker open; the provider was not called */
    LG_E_NOKEY = -11,       /* the provider needs an API key and none is configured */
    LG_E_DB = -12,          /* cache/accounting SQLite failure */
    LG_E_CONFIG = -13,      /* invalid configuration value */
    LG_E_DEADLINE = -14,    /* the request's overall budget ran out */
    LG_E_UNIMPLEMENTED = -15,
    LG_E_EMPTY = -16        /* provider answered with no content */
};

/* Static description of an LG_E_* code ("provider timed out", ...). */
const char *lg_strerror (int code);

/* True when a failed attempt with this code may be retried. */
int lg_error_retryable (int code);

#endif
