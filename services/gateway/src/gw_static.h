/* gw_static.h — static files from one directory (the web UI).
 *
 * Requests map to files under a root directory resolved once with
 * realpath(). Traversal is refused at three levels: the percent-decoded path
 * may not contain "." / ".." segments, backslashes or NULs; dot-files are
 * not served; and the realpath() of the final file must stay under the root
 * (symlinks pointing outside are refused). Every refusal answers 404 so the
 * layout outside the root is never revealed.
 *
 * Responses carry Content-Type, ETag ("<size>-<mtime>"), Last-Modified and
 * Cache-Control ("no-cache" for HTML, "public, max-age=N" otherwise), and
 * If-None-Match / If-Modified-Since give 304.
 *
 * Files are read synchronously on the loop thread (the UI bundle is small;
 * max_file_bytes bounds the cost). Loop thread only.
 */
#ifndef GW_STATIC_H
#define GW_STATIC_H
#include <stdbool.h>
#include <stddef.h>
#include "gw_http.h"

typedef struct _gw_static_t gw_static_t;

enum { GW_STATIC_OK = 0, GW_STATIC_E_NOTFOUND = -1, GW_STATIC_E_BADPATH = -2,
       GW_STATIC_E_TOOBIG = -3, GW_STATIC_E_IO = -4 };

/* New server for files under `root` (must be an existing directory).
 * `max_age_s` is used for non-HTML Cache-Control. NULL when root is not a
 * directory (errno kept) or on OOM. */
gw_static_t *gw_static_new (const char *root, int max_age_s, size_t max_file_bytes);
void gw_static_destroy (gw_static_t **self_p);

/* The canonical root directory. */
const char *gw_static_root (const gw_static_t *self);

/* Maps a raw (percent-encoded) request path to a regular file under the
 * root; a directory maps to its index.html. On success *out is a malloc'd
 * absolute path (caller frees) and 0 is returned; otherwise a negative
 * GW_STATIC_E_* code. */
int gw_static_resolve (const gw_static_t *self, const char *raw_path, char **out);

/* Answers a GET/HEAD for req from the directory: 200, 304, or a JSON 404. */
void gw_static_serve (gw_static_t *self, gw_req_t *req);

/* Content type for a file name (by extension), e.g.
 * "text/html; charset=utf-8"; "application/octet-stream" when unknown. */
const char *gw_static_mime (const char *path);

/* True when an If-None-Match header value (a comma-separated list of entity
 * tags, or "*") names `etag` (a quoted tag), by weak comparison. */
bool gw_etag_matches (const char *header, const char *etag);

/* Formats an HTTP date (IMF-fixdate) into out (>= 30 bytes). 0 or -1. */
int gw_http_date_format (int64_t unix_s, char *out, size_t size);
/* Parses an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"). 0 or -1. */
int gw_http_date_parse (const char *s, int64_t *unix_s);

#endif
