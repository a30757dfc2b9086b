/* bus_curve.h — optional CURVE encryption and authentication for every bus
 * socket (c-patterns §2.8; zmq_curve(7), ZAP = zeromq RFC 27).
 *
 * A bus_curve_t is a security POLICY: this process's server keypair (used by
 * sockets that act as CURVE servers: every daemon's ROUTER, the event bus's
 * XSUB/XPUB, a '@'-bound pubsub socket), its client keypair (DEALER clients,
 * PUB/SUB sockets that connect to the event bus), the public key(s) of the
 * servers it connects to, and the allow-list of client public keys its
 * servers accept.
 *
 * A policy is INSTALLED per zmq context (bus_curve_install). From then on
 * bus_server_new, bus_client_new and pubsub_*_new apply it to every socket
 * they create in that context before bind/connect; daemons with raw sockets
 * call bus_curve_apply themselves (the event bus does). No policy installed
 * = plain ZeroMQ exactly as before (the default; nothing changes for tests
 * or single-host ipc setups).
 *
 * Authentication: libzmq encrypts with CURVE but accepts ANY client key
 * unless a ZAP handler is bound at inproc://zeromq.zap.01 in the server's
 * context. The first server-role bus_curve_apply in a context binds one (a
 * REP socket, bound synchronously BEFORE the server socket binds, so there
 * is no unauthenticated window) and serves it from a thread: ZAP 1.0
 * requests with mechanism CURVE whose 32-byte client key is on the
 * allow-list get "200"; anything else gets "400" and a WARN log line
 * "zap.denied" naming the key's FINGERPRINT (never the key) and the peer
 * address. The process's own client public key is always allowed.
 * A denied client never completes its handshake: its requests are never
 * delivered and end in a local DEADLINE/UNAVAILABLE error; a plaintext
 * client against a CURVE server fails the same way (mechanism mismatch).
 *
 * Keys are 40-character Z85 texts (zmq_z85_encode of 32 bytes); `copilot
 * keygen` prints a pair. No key material (public or secret) is ever logged
 * or put in an error message: messages name the config key and, at most, a
 * fingerprint (first 16 hex digits of the SHA-256 of the raw public key).
 *
 * Configuration (bus_curve_from_cfg; env COPILOT_<KEY> as in cfg.h; <svc> is
 * the service key, e.g. report_service; per-daemon keys win over shared):
 *   curve.enabled                 false|true (COPILOT_CURVE_ENABLED), default false
 *   curve.server_secret           shared server secret key of the cluster
 *   <svc>.curve_server_secret     this daemon's own server secret (optional)
 *   curve.server_public           public key of the servers clients connect to
 *                                 (derived from curve.server_secret when unset);
 *                                 if both are set they must match
 *   <svc>.curve_server_public     public key of daemon <svc>: clients of <svc>
 *                                 use it instead of curve.server_public (set it
 *                                 when <svc> has its own server secret)
 *   curve.client_secret           client secret key (required when enabled)
 *   <svc>.curve_client_secret     per-daemon client secret (optional)
 *   curve.client_public           optional; must match curve.client_secret
 *   curve.allowed_clients         client public keys accepted by this process's
 *                                 servers, separated by blanks or commas
 *   curve.allowed_clients_file    file with more keys (one or more per line;
 *                                 a line starting with '#' that is not itself a
 *                                 key is a comment)
 * In `key = value` config files a '#' after a blank starts a comment, so a
 * key containing " #" cannot be written there; `copilot keygen` never
 * produces '#' for that reason (environment variables take any key).
 *
 * Threading: install/uninstall/apply from the thread that owns the context
 * (the loop thread); the ZAP thread only reads the immutable allow-list.
 * Error codes are BUS_E_* (bus.h); details in bus_last_error().
 */
#ifndef COPILOT_BUS_CURVE_H
#define COPILOT_BUS_CURVE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cfg.h"

/* Length of a Z85 key text (without the NUL). */
#define BUS_CURVE_KEY_LEN 40
/* Length of a fingerprint text (without the NUL). */
#define BUS_CURVE_FP_LEN 16

/* Socket roles for bus_curve_apply. */
enum { BUS_CURVE_SERVER = 1, BUS_CURVE_CLIENT = 2 };

typedef struct _bus_curve_t bus_curve_t;

/* Looks up the public key of server `target` (a service name such as
 * "report-service") into out (>= 41 bytes). 0 when found, -1 to fall back
 * to the default server public key. */
typedef int (*bus_curve_peer_fn) (const char *target, char *out, size_t size, void *arg);

/* Empty policy (no keys, empty allow-list). NULL on out of memory. */
bus_curve_t *bus_curve_new (void);
/* Wipes the secret keys and frees. NULL-safe; sets *self_p = NULL. */
void bus_curve_destroy (bus_curve_t **self_p);

/* Server keypair from its Z85 secret; `public_z85` may be NULL (derived),
 * otherwise it must match. 0 or BUS_E_INVALID. Also makes the derived public
 * key the default server public key when none was set. */
int bus_curve_set_server_secret (bus_curve_t *self, const char *secret_z85, const char *public_z85);
/* Client keypair, same rules. The client public key is allowed by this
 * policy's ZAP handler. 0 or BUS_E_INVALID. */
int bus_curve_set_client_secret (bus_curve_t *self, const char *secret_z85, const char *public_z85);
/* Default public key of the servers this process connects to. 0 or BUS_E_INVALID. */
int bus_curve_set_server_public (bus_curve_t *self, const char *public_z85);
/* Per-target server keys (see bus_curve_peer_fn); `arg` is borrowed and must
 * outlive the policy's installation. */
void bus_curve_set_peer_fn (bus_curve_t *self, bus_curve_peer_fn fn, void *arg);
/* Adds one client public key to the allow-list. 0, BUS_E_INVALID, BUS_E_NOMEM. */
int bus_curve_allow (bus_curve_t *self, const char *public_z85);
/* Adds every key of a blank/comma separated list. 0, or BUS_E_INVALID naming
 * the 1-based entry number that is not a key (never its text). */
int bus_curve_allow_list (bus_curve_t *self, const char *text);
/* Adds every key of a file (syntax above). 0 or BUS_E_INVALID (file:line). */
int bus_curve_allow_file (bus_curve_t *self, const char *path);
/* Number of keys on the allow-list (including the own client key). */
size_t bus_curve_allowed_count (const bus_curve_t *self);
/* True when the allow-list holds the 32 raw bytes `key`. */
bool bus_curve_allows_raw (const bus_curve_t *self, const uint8_t key[32]);

/* Builds the policy of service `service` (NULL for a pure client such as the
 * CLI: server keys are then optional) from the keys documented above.
 * *out = NULL and 0 when curve.enabled is false; a policy and 0 when it is
 * true and complete; BUS_E_INVALID with a message naming the key (never the
 * value) in err otherwise. The policy borrows `cfg` for per-target server
 * keys: keep cfg alive until bus_curve_uninstall. */
int bus_curve_from_cfg (cfg_t *cfg, const char *service, bus_curve_t **out, char *err,
                        size_t err_size);

/* Installs *curve_p (ownership taken, *curve_p = NULL) as the policy of
 * `zctx`; zctx NULL installs the PROCESS DEFAULT used by contexts without a
 * policy of their own (bus_call's private contexts in the CLI). When nobody
 * installed one, the process default is built ONCE from the environment
 * (COPILOT_CURVE_ENABLED and the other COPILOT_CURVE_* variables, service
 * NULL) the first time a socket needs it, so every CLI command works
 * against a CURVE cluster; an invalid environment makes bus_curve_apply
 * fail with the reason instead of silently going plaintext. Replaces and
 * frees a previous policy of the same context only when that context has no
 * ZAP handler running (else BUS_E_INVALID). 0, BUS_E_INVALID, BUS_E_NOMEM. */
int bus_curve_install (void *zctx, bus_curve_t **curve_p);
/* Stops the ZAP handler of `zctx` (if any) and frees its policy (zctx NULL:
 * the process default, and every handler that used it). Call it BEFORE
 * zmq_ctx_term on any context where a server socket was secured (the handler
 * would otherwise only exit when zmq_ctx_term interrupts it). NULL-safe. */
void bus_curve_uninstall (void *zctx);
/* True when a policy (own or process default) applies to zctx. */
bool bus_curve_active (void *zctx);

/* Applies the policy of zctx to `zsock` before its bind/connect: SERVER
 * role sets CURVE_SERVER + the server secret + ZAP domain "copilot" and makes
 * sure the ZAP handler runs; CLIENT role sets the client keypair and the
 * server key of `target` (NULL = the default server public key). 0 (also
 * when no policy applies), BUS_E_INVALID (missing key for the role) or
 * BUS_E_ZMQ. */
int bus_curve_apply (void *zctx, void *zsock, int role, const char *target);

/* ZAP decisions taken by the handler of zctx since install (either may be NULL). */
void bus_curve_stats (void *zctx, uint64_t *allowed, uint64_t *denied);

/* New random keypair as Z85 texts (41-byte buffers) that contain no '#'.
 * 0 or BUS_E_ZMQ (libzmq without CURVE). */
int bus_curve_keypair (char public_out[41], char secret_out[41]);
/* Fingerprint of a Z85 public key into out (>= 17 bytes). 0 or BUS_E_INVALID. */
int bus_curve_fingerprint (const char *public_z85, char *out, size_t size);
/* True when `text` is a valid 40-character Z85 key. */
bool bus_curve_key_valid (const char *text);

#endif
