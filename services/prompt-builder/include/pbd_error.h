/* pbd_error.h — error codes of the prompt-builder library (pbd_prompt).
 *
 * Every pbd_* function that can fail returns 0 or one of these negative
 * codes; pbd_strerror() gives a static text. Values never change.
 */
#ifndef PBD_ERROR_H
#define PBD_ERROR_H

enum {
    PBD_OK = 0,
    PBD_E_INVALID = -1,  /* bad argument (NULL, empty required field) */
    PBD_E_NOMEM = -2,
    PBD_E_TOOBIG = -3,   /* a size cap was hit (prompt, JSON, history row) */
    PBD_E_DB = -4,       /* SQLite failure in the history file */
    PBD_E_NOTFOUND = -5, /* no such request id / row */
    PBD_E_EXISTS = -6,   /* request id already stored (history insert) */
    PBD_E_MISMATCH = -7  /* request id reused for a different request */
};

/* Static text for a PBD_E_* code ("unknown error" for anything else). */
const char *pbd_strerror (int code);

#endif
