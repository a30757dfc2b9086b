/* pbd_error.c — static texts for the PBD_E_* codes (pbd_error.h). */
#include "pbd_error.h"

const char *
pbd_strerror (int code)
{
    switch (code) {
    case PBD_OK: return "ok";
    case PBD_E_INVALID: return "invalid argument";
    case PBD_E_NOMEM: return "out of memory";
    case PBD_E_TOOBIG: return "size limit reached";
    case PBD_E_DB: return "history database error";
    case PBD_E_NOTFOUND: return "not found";
    case PBD_E_EXISTS: return "request id already stored";
    case PBD_E_MISMATCH: return "request id reused for a different request";
    default: return "unknown error";
    }
}
