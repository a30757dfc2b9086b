/* lg_error.c — descriptions of LG_E_* codes and the retry classification.
 * Retryable: timeouts, network errors, 429, 5xx, malformed 200 bodies and
 * empty answers (a provider glitch may not repeat). Not retryable: other
 * HTTP statuses (bad key, bad model), size caps, our own errors.
 */
#include "lg_error.h"

const char *
lg_strerror (int code)
{
    switch (code) {
    case LG_OK: return "ok";
    case LG_E_INVALID: return "invalid argument";
    case LG_E_NOMEM: return "out of memory";
    case LG_E_TOOBIG: return "size limit exceeded";
    case LG_E_TIMEOUT: return "provider timed out";
    case LG_E_NETWORK: return "network error talking to the provider";
    case LG_E_HTTP: return "provider rejected the request";
    case LG_E_RATE: return "provider rate limit (HTTP 429)";
    case LG_E_SERVER: return "provider server error";
    case LG_E_MALFORMED: return "malformed provider response";
    case LG_E_BREAKER: return "circuit breaker open";
    case LG_E_NOKEY: return "no API key configured";
    case LG_E_DB: return "state database error";
    case LG_E_CONFIG: return "invalid configuration";
    case LG_E_DEADLINE: return "request budget exhausted";
    case LG_E_UNIMPLEMENTED: return "not implemented";
    case LG_E_EMPTY: return "provider returned an empty answer";
    default: return "unknown error";
    }
}

int
lg_error_retryable (int code)
{
    switch (code) {
    case LG_E_TIMEOUT:
    case LG_E_NETWORK:
    case LG_E_RATE:
    case LG_E_SERVER:
    case LG_E_MALFORMED:
    case LG_E_EMPTY:
        return 1;
    default:
        return 0;
    }
}
