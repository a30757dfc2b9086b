/* gw_auth.h — bearer tokens with viewer and admin roles.
 *
 * The gateway never stores a token: it keeps the lower-case hex SHA-256 of
 * each token with its role, and checks a presented token by hashing it and
 * comparing the hashes in constant time. Hashes come from configuration
 * (auth.viewer_token_sha256 / auth.admin_token_sha256, comma-separated) and
 * from a tokens file of lines "<role> <sha256-hex> [label]" (# comments).
 *
 * Local default (gw_auth_bootstrap): when nothing is configured, the gateway
 * creates <dir>/tokens (hashes) plus <dir>/admin.token and <dir>/viewer.token
 * (the plain tokens, mode 0600, for the operator and the CLI) on first start;
 * later starts read <dir>/tokens.
 */
#ifndef GW_AUTH_H
#define GW_AUTH_H
#include <stdbool.h>
#include <stddef.h>
#include "gw_route.h"

typedef struct _gw_auth_t gw_auth_t;

enum { GW_AUTH_OK = 0, GW_AUTH_E_INVALID = -1, GW_AUTH_E_IO = -2, GW_AUTH_E_NOMEM = -3 };

gw_auth_t *gw_auth_new (void);
void gw_auth_destroy (gw_auth_t **self_p);

/* Adds one token hash (64 hex chars, any case) for `role`. 0 or
 * GW_AUTH_E_INVALID (not a SHA-256 hex string) / GW_AUTH_E_NOMEM. */
int gw_auth_add_hash (gw_auth_t *self, gw_role_t role, const char *sha256_hex);

/* Adds every hash of a comma-separated list. 0 or the first error. */
int gw_auth_add_list (gw_auth_t *self, gw_role_t role, const char *list);

/* Loads a tokens file. 0, GW_AUTH_E_IO (cannot read) or GW_AUTH_E_INVALID
 * (err names the line). */
int gw_auth_load_file (gw_auth_t *self, const char *path, char *err, size_t err_size);

/* Number of known token hashes. */
size_t gw_auth_count (const gw_auth_t *self);

/* Role of a presented token (the raw token, not a header), GW_ROLE_NONE
 * when unknown or empty. Constant-time over the stored hashes. */
gw_role_t gw_auth_check_token (const gw_auth_t *self, const char *token);

/* Extracts the token from an Authorization header value ("Bearer <tok>",
 * scheme case-insensitive). Returns a pointer into `header` and its length
 * in *len, or NULL when the header is not a bearer credential. */
const char *gw_auth_bearer (const char *header, size_t *len);

/* Local default tokens in `dir` (created with its parents, mode 0700). When
 * <dir>/tokens exists it is loaded; otherwise fresh random admin and viewer
 * tokens are generated, their hashes written to <dir>/tokens and the tokens
 * to <dir>/admin.token and <dir>/viewer.token (0600), and *created is set.
 * 0 or a negative GW_AUTH_E_* code with err filled. */
int gw_auth_bootstrap (gw_auth_t *self, const char *dir, bool *created, char *err,
                       size_t err_size);

/* Generates a random token (64 hex chars) into out[65]. 0 or -1. */
int gw_auth_random_token (char out[65]);

#endif
