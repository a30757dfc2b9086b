/* bus_curve.c — CURVE policies per zmq context and the ZAP handler thread
 * (contract and configuration keys in bus_curve.h).
 *
 * Data structures:
 *   - bus_curve_t: raw 32-byte keys (server keypair, client keypair, default
 *     server public key), a growable array of allowed raw client keys, and an
 *     optional per-target lookup (svc passes one that reads the config).
 *   - a process-wide table of slots {zctx, policy or NULL = "uses the process
 *     default", ZAP handler or NULL} plus the process default policy, guarded
 *     by one mutex. Lookups happen only when a socket is created, never per
 *     message, so the mutex is cold.
 *
 * ZAP handler: a REP socket bound at inproc://zeromq.zap.01 by the thread
 * that applies the first server-role policy in a context (so the handler is
 * in place before the CURVE server socket binds), then handed to a thread
 * (pthread_create is a full barrier, which is what libzmq requires to
 * migrate a socket). The thread answers ZAP 1.0 requests until it receives
 * a one-frame "STOP" while its stop flag is set (bus_curve_uninstall) or
 * its blocking receive fails with ETERM (zmq_ctx_term as a backstop). It
 * reads only the policy's allow-list, which is immutable once installed.
 *
 * Secrets: stored raw, wiped with explicit_bzero on destroy, never printed;
 * logs and errors carry fingerprints (SHA-256 prefix of the public key) and
 * config key names only.
 */
#include "bus_curve.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "bus.h"
#include "bus_internal.h"
#include "log.h"
#include "str.h"

#define CURVE_MAX_SLOTS 32
#define CURVE_ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define CURVE_ZAP_DOMAIN "copilot"
#define CURVE_ZAP_MAX_FRAMES 8
#define CURVE_FILE_MAX (1024 * 1024)

struct _bus_curve_t {
    bool has_server, has_client, has_server_public;
    uint8_t server_secret[32], server_public[32];
    uint8_t client_secret[32], client_public[32];
    uint8_t default_server_public[32];
    uint8_t (*allowed)[32];
    size_t nallowed, allowed_cap;
    bus_curve_peer_fn peer_fn;
    void *peer_arg;
};

typedef struct {
    void *zctx;
    void *sock;                 /* owned by the thread once it runs */
    pthread_t thread;
    bool thread_ok;
    atomic_bool stop;
    const bus_curve_t *curve;   /* policy the thread checks (borrowed) */
    _Atomic uint64_t allowed, denied;
} zap_t;

typedef struct {
    bool used;
    void *zctx;
    bus_curve_t *curve;         /* NULL: the context uses the process default */
    zap_t *zap;
} slot_t;

static pthread_mutex_t s_mu = PTHREAD_MUTEX_INITIALIZER;
static slot_t s_slots[CURVE_MAX_SLOTS];
static bus_curve_t *s_default;

/* ---- keys --------------------------------------------------------------- */

bool bus_curve_key_valid (const char *text)
{
    if (!text || strlen (text) != BUS_CURVE_KEY_LEN)
        return false;
    uint8_t raw[32];
    bool ok = zmq_z85_decode (raw, text) != NULL;
    explicit_bzero (raw, sizeof raw);
    return ok;
}

static int s_decode (const char *text, uint8_t out[32])
{
    if (!bus_curve_key_valid (text))
        return BUS_E_INVALID;
    return zmq_z85_decode (out, text) ? BUS_OK : BUS_E_INVALID;
}

static void s_fingerprint_raw (const uint8_t key[32], char out[BUS_CURVE_FP_LEN + 1])
{
    char hex[65];
    str_sha256_hex (key, 32, hex);
    memcpy (out, hex, BUS_CURVE_FP_LEN);
    out[BUS_CURVE_FP_LEN] = '\0';
}

int bus_curve_fingerprint (const char *public_z85, char *out, size_t size)
{
    uint8_t raw[32];
    if (!out || size < BUS_CURVE_FP_LEN + 1 || s_decode (public_z85, raw) != 0)
        return BUS_E_INVALID;
    s_fingerprint_raw (raw, out);
    return BUS_OK;
}

int bus_curve_keypair (char public_out[41], char secret_out[41])
{
    for (int attempt = 0; attempt < 1000; attempt++) {
        if (zmq_curve_keypair (public_out, secret_out) != 0) {
            bus__set_error ("zmq_curve_keypair: %s", zmq_strerror (errno));
            return BUS_E_ZMQ;
        }
        if (!strchr (public_out, '#') && !strchr (secret_out, '#'))
            return BUS_OK;
    }
    bus__set_error ("could not draw a keypair without '#'");
    return BUS_E_ZMQ;
}

/* Public key of a Z85 secret, raw. */
static int s_public_of (const char *secret_z85, uint8_t secret[32], uint8_t public_raw[32])
{
    char pub[41];
    if (s_decode (secret_z85, secret) != 0 || zmq_curve_public (pub, secret_z85) != 0)
        return BUS_E_INVALID;
    int rc = s_decode (pub, public_raw);
    explicit_bzero (pub, sizeof pub);
    return rc;
}

/* ---- policy object ------------------------------------------------------ */

bus_curve_t *bus_curve_new (void)
{
    bus_curve_t *self = calloc (1, sizeof *self);
    if (!self)
        bus__set_error ("out of memory");
    return self;
}

void bus_curve_destroy (bus_curve_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    bus_curve_t *self = *self_p;
    *self_p = NULL;
    free (self->allowed);
    explicit_bzero (self, sizeof *self);
    free (self);
}

static int s_allow_raw (bus_curve_t *self, const uint8_t key[32])
{
    if (bus_curve_allows_raw (self, key))
        return BUS_OK;
    if (self->nallowed == self->allowed_cap) {
        size_t cap = self->allowed_cap ? self->allowed_cap * 2 : 8;
        uint8_t (*n)[32] = realloc (self->allowed, cap * sizeof *n);
        if (!n) {
            bus__set_error ("out of memory");
            return BUS_E_NOMEM;
        }
        self->allowed = n;
        self->allowed_cap = cap;
    }
    memcpy (self->allowed[self->nallowed++], key, 32);
    return BUS_OK;
}

int bus_curve_set_server_secret (bus_curve_t *self, const char *secret_z85, const char *public_z85)
{
    if (!self)
        return BUS_E_INVALID;
    uint8_t sec[32], pub[32];
    if (s_public_of (secret_z85, sec, pub) != 0) {
        bus__set_error ("server secret key: expected a 40-character Z85 key");
        explicit_bzero (sec, sizeof sec);
        return BUS_E_INVALID;
    }
    if (public_z85) {
        uint8_t given[32];
        if (s_decode (public_z85, given) != 0 || memcmp (given, pub, 32) != 0) {
            bus__set_error ("server public key does not match the server secret key");
            explicit_bzero (sec, sizeof sec);
            return BUS_E_INVALID;
        }
    }
    memcpy (self->server_secret, sec, 32);
    memcpy (self->server_public, pub, 32);
    explicit_bzero (sec, sizeof sec);
    self->has_server = true;
    if (!self->has_server_public) {
        memcpy (self->default_server_public, pub, 32);
        self->has_server_public = true;
    }
    return BUS_OK;
}

int bus_curve_set_client_secret (bus_curve_t *self, const char *secret_z85, const char *public_z85)
{
    if (!self)
        return BUS_E_INVALID;
    uint8_t sec[32], pub[32];
    if (s_public_of (secret_z85, sec, pub) != 0) {
        bus__set_error ("client secret key: expected a 40-character Z85 key");
        explicit_bzero (sec, sizeof sec);
        return BUS_E_INVALID;
    }
    if (public_z85) {
        uint8_t given[32];
        if (s_decode (public_z85, given) != 0 || memcmp (given, pub, 32) != 0) {
            bus__set_error ("client public key does not match the client secret key");
            explicit_bzero (sec, sizeof sec);
            return BUS_E_INVALID;
        }
    }
    memcpy (self->client_secret, sec, 32);
    memcpy (self->client_public, pub, 32);
    explicit_bzero (sec, sizeof sec);
    self->has_client = true;
    return s_allow_raw (self, pub);
}

int bus_curve_set_server_public (bus_curve_t *self, const char *public_z85)
{
    if (!self)
        return BUS_E_INVALID;
    if (s_decode (public_z85, self->default_server_public) != 0) {
        bus__set_error ("server public key: expected a 40-character Z85 key");
        return BUS_E_INVALID;
    }
    self->has_server_public = true;
    return BUS_OK;
}

void bus_curve_set_peer_fn (bus_curve_t *self, bus_curve_peer_fn fn, void *arg)
{
    if (!self)
        return;
    self->peer_fn = fn;
    self->peer_arg = arg;
}

int bus_curve_allow (bus_curve_t *self, const char *public_z85)
{
    uint8_t raw[32];
    if (!self || s_decode (public_z85, raw) != 0) {
        bus__set_error ("allowed client key: expected a 40-character Z85 public key");
        return BUS_E_INVALID;
    }
    return s_allow_raw (self, raw);
}

bool bus_curve_allows_raw (const bus_curve_t *self, const uint8_t key[32])
{
    if (!self || !key)
        return false;
    for (size_t i = 0; i < self->nallowed; i++)
        if (memcmp (self->allowed[i], key, 32) == 0)
            return true;
    return false;
}

size_t bus_curve_allowed_count (const bus_curve_t *self)
{
    return self ? self->nallowed : 0;
}

static bool s_is_sep (char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',';
}

/* Adds the keys of one text (list syntax). `entry` counts entries across
 * calls for messages; `comment_lines` enables the file's comment rule. */
static int s_allow_text (bus_curve_t *self, const char *text, bool comment_lines, const char *where,
                         int *entry)
{
    const char *p = text;
    int line = 1;
    bool line_start = true;
    while (*p) {
        if (*p == '\n') {
            line++;
            line_start = true;
            p++;
            continue;
        }
        if (s_is_sep (*p)) {
            p++;
            continue;
        }
        const char *start = p;
        while (*p && !s_is_sep (*p))
            p++;
        size_t n = (size_t) (p - start);
        bool first_on_line = line_start;
        line_start = false;
        if (comment_lines && first_on_line && start[0] == '#') {
            /* A comment unless the line is exactly one key. */
            const char *q = p;
            while (*q == ' ' || *q == '\t' || *q == '\r')
                q++;
            bool lone_key = n == BUS_CURVE_KEY_LEN && (*q == '\n' || *q == '\0');
            char tmp[BUS_CURVE_KEY_LEN + 1];
            if (lone_key) {
                memcpy (tmp, start, n);
                tmp[n] = '\0';
                lone_key = bus_curve_key_valid (tmp);
            }
            if (!lone_key) {
                while (*p && *p != '\n')
                    p++;
                continue;
            }
        }
        (*entry)++;
        char key[BUS_CURVE_KEY_LEN + 1];
        if (n != BUS_CURVE_KEY_LEN) {
            if (comment_lines)
                bus__set_error ("%s:%d: entry %d is not a 40-character Z85 public key", where, line,
                                *entry);
            else
                bus__set_error ("%s: entry %d is not a 40-character Z85 public key", where, *entry);
            return BUS_E_INVALID;
        }
        memcpy (key, start, n);
        key[n] = '\0';
        int rc = bus_curve_allow (self, key);
        if (rc == BUS_E_INVALID) {
            if (comment_lines)
                bus__set_error ("%s:%d: entry %d is not a valid Z85 public key", where, line, *entry);
            else
                bus__set_error ("%s: entry %d is not a valid Z85 public key", where, *entry);
        }
        if (rc != BUS_OK)
            return rc;
    }
    return BUS_OK;
}

int bus_curve_allow_list (bus_curve_t *self, const char *text)
{
    int entry = 0;
    if (!self || !text)
        return BUS_E_INVALID;
    return s_allow_text (self, text, false, "allowed clients", &entry);
}

int bus_curve_allow_file (bus_curve_t *self, const char *path)
{
    if (!self || !path)
        return BUS_E_INVALID;
    FILE *f = fopen (path, "r");
    if (!f) {
        bus__set_error ("%s: cannot open: %s", path, strerror (errno));
        return BUS_E_INVALID;
    }
    char *text = malloc (CURVE_FILE_MAX + 1);
    if (!text) {
        fclose (f);
        bus__set_error ("out of memory");
        return BUS_E_NOMEM;
    }
    size_t n = fread (text, 1, CURVE_FILE_MAX + 1, f);
    bool err = ferror (f) != 0;
    fclose (f);
    if (err || n > CURVE_FILE_MAX) {
        bus__set_error ("%s: %s", path, err ? "read error" : "larger than 1 MiB");
        free (text);
        return BUS_E_INVALID;
    }
    text[n] = '\0';
    int entry = 0;
    int rc = s_allow_text (self, text, true, path, &entry);
    free (text);
    return rc;
}

/* ---- from configuration ----------------------------------------------- */

/* Environment variable name of a config key (cfg.h mapping). */
static void s_envname (const char *key, char *out, size_t size)
{
    char tmp[160] = "COPILOT_";
    size_t n = strlen (tmp);
    for (const char *p = key; *p && n + 1 < sizeof tmp; p++)
        tmp[n++] = (*p == '.' || *p == '-') ? '_' : (char) (*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
    tmp[n] = '\0';
    str_copy (out, size, tmp);
}

static const char *s_get (cfg_t *cfg, const char *key)
{
    const char *v = cfg_get (cfg, key);
    return v && v[0] ? v : NULL;
}

static void s_service_key (const char *service, const char *leaf, char *out, size_t size)
{
    char k[96];
    if (str_copy (k, sizeof k, service ? service : "") != 0)
        k[0] = '\0';
    for (char *p = k; *p; p++)
        if (*p == '-')
            *p = '_';
    str_fmt (out, size, "%s.%s", k, leaf);
}

/* Per-target server public keys from the config: "<target key>.curve_server_public". */
static int s_cfg_peer (const char *target, char *out, size_t size, void *arg)
{
    cfg_t *cfg = arg;
    if (!target || !target[0] || strchr (target, ':') || strchr (target, '/'))
        return -1;
    char key[160];
    s_service_key (target, "curve_server_public", key, sizeof key);
    const char *v = s_get (cfg, key);
    if (!v)
        return -1;
    if (!bus_curve_key_valid (v)) {
        char env[160];
        s_envname (key, env, sizeof env);
        bus__set_error ("%s (%s): expected a 40-character Z85 public key", key, env);
        return -2;
    }
    return str_copy (out, size, v) == 0 ? 0 : -2;
}

#define S_KEY_FAIL(keyname, what)                                                          \
    do {                                                                                   \
        char env_[160];                                                                    \
        s_envname ((keyname), env_, sizeof env_);                                          \
        snprintf (err, err_size, "%s (%s): %s", (keyname), env_, (what));                  \
        bus_curve_destroy (&c);                                                            \
        return BUS_E_INVALID;                                                              \
    } while (0)

int bus_curve_from_cfg (cfg_t *cfg, const char *service, bus_curve_t **out, char *err,
                        size_t err_size)
{
    char dummy[8];
    if (!err) {
        err = dummy;
        err_size = sizeof dummy;
    }
    err[0] = '\0';
    if (!cfg || !out) {
        snprintf (err, err_size, "bus_curve_from_cfg: missing argument");
        return BUS_E_INVALID;
    }
    *out = NULL;
    bool enabled = false;
    if (cfg_bool (cfg, "curve.enabled", false, &enabled) != 0) {
        snprintf (err, err_size, "%s", cfg_error (cfg));
        return BUS_E_INVALID;
    }
    if (!enabled)
        return BUS_OK;
    bus_curve_t *c = bus_curve_new ();
    if (!c) {
        snprintf (err, err_size, "out of memory");
        return BUS_E_NOMEM;
    }
    char k_ss[160], k_sp[160], k_cs[160], k_cp[160];
    s_service_key (service, "curve_server_secret", k_ss, sizeof k_ss);
    s_service_key (service, "curve_server_public", k_sp, sizeof k_sp);
    s_service_key (service, "curve_client_secret", k_cs, sizeof k_cs);
    s_service_key (service, "curve_client_public", k_cp, sizeof k_cp);

    /* Default server public key for clients: curve.server_public, else the
     * public half of the shared curve.server_secret. */
    const char *gss = s_get (cfg, "curve.server_secret");
    const char *gsp = s_get (cfg, "curve.server_public");
    if (gss && !bus_curve_key_valid (gss))
        S_KEY_FAIL ("curve.server_secret", "expected a 40-character Z85 secret key (copilot keygen)");
    if (gsp && !bus_curve_key_valid (gsp))
        S_KEY_FAIL ("curve.server_public", "expected a 40-character Z85 public key (copilot keygen)");
    if (gss) {
        bus_curve_t *probe = bus_curve_new ();
        int rc = probe ? bus_curve_set_server_secret (probe, gss, gsp) : BUS_E_NOMEM;
        bus_curve_destroy (&probe);
        if (rc != BUS_OK)
            S_KEY_FAIL ("curve.server_public", "does not match curve.server_secret");
    }
    if (gsp)
        bus_curve_set_server_public (c, gsp);
    else if (gss) {
        char pub[41];
        if (zmq_curve_public (pub, gss) == 0)
            bus_curve_set_server_public (c, pub);
        explicit_bzero (pub, sizeof pub);
    }

    /* This process's server keypair. */
    const char *ss = service ? s_get (cfg, k_ss) : NULL;
    if (ss) {
        const char *sp = s_get (cfg, k_sp);
        if (!bus_curve_key_valid (ss))
            S_KEY_FAIL (k_ss, "expected a 40-character Z85 secret key (copilot keygen)");
        if (sp && !bus_curve_key_valid (sp))
            S_KEY_FAIL (k_sp, "expected a 40-character Z85 public key (copilot keygen)");
        if (bus_curve_set_server_secret (c, ss, sp) != BUS_OK)
            S_KEY_FAIL (k_sp, "does not match the daemon's server secret key");
    } else if (gss) {
        bus_curve_set_server_secret (c, gss, NULL);
    } else if (service) {
        S_KEY_FAIL ("curve.server_secret",
                    "required when curve.enabled is true: a 40-character Z85 secret key "
                    "(copilot keygen), shared by the cluster or set per daemon");
    }

    /* Client keypair. */
    const char *cs = service ? s_get (cfg, k_cs) : NULL;
    const char *cs_key = k_cs, *cp_key = k_cp;
    if (!cs) {
        cs = s_get (cfg, "curve.client_secret");
        cs_key = "curve.client_secret";
        cp_key = "curve.client_public";
    }
    if (!cs)
        S_KEY_FAIL ("curve.client_secret",
                    "required when curve.enabled is true: a 40-character Z85 secret key "
                    "(copilot keygen)");
    const char *cp = s_get (cfg, cp_key);
    if (!bus_curve_key_valid (cs))
        S_KEY_FAIL (cs_key, "expected a 40-character Z85 secret key (copilot keygen)");
    if (cp && !bus_curve_key_valid (cp))
        S_KEY_FAIL (cp_key, "expected a 40-character Z85 public key (copilot keygen)");
    if (bus_curve_set_client_secret (c, cs, cp) != BUS_OK)
        S_KEY_FAIL (cp_key, "does not match the client secret key");

    /* Allow-list. */
    const char *list = s_get (cfg, "curve.allowed_clients");
    if (list && bus_curve_allow_list (c, list) != BUS_OK) {
        char what[400];
        snprintf (what, sizeof what, "%s", bus_last_error ());
        S_KEY_FAIL ("curve.allowed_clients", what);
    }
    const char *file = s_get (cfg, "curve.allowed_clients_file");
    if (file && bus_curve_allow_file (c, file) != BUS_OK) {
        char what[600];
        snprintf (what, sizeof what, "%s", bus_last_error ());
        S_KEY_FAIL ("curve.allowed_clients_file", what);
    }
    bus_curve_set_peer_fn (c, s_cfg_peer, cfg);
    *out = c;
    return BUS_OK;
}

/* ---- the ZAP handler ------------------------------------------------------ */

static int s_send_frame (void *sock, const void *data, size_t len, bool more)
{
    return zmq_send (sock, data, len, more ? ZMQ_SNDMORE : 0) < 0 ? -1 : 0;
}

static void s_zap_reply (void *sock, const zmq_msg_t *reqid, const char *code, const char *text,
                         const char *user)
{
    s_send_frame (sock, "1.0", 3, true);
    if (reqid)
        s_send_frame (sock, zmq_msg_data ((zmq_msg_t *) reqid), zmq_msg_size ((zmq_msg_t *) reqid), true);
    else
        s_send_frame (sock, "", 0, true);
    s_send_frame (sock, code, strlen (code), true);
    s_send_frame (sock, text, strlen (text), true);
    s_send_frame (sock, user, strlen (user), true);
    s_send_frame (sock, "", 0, false);   /* metadata */
}

static bool s_frame_is (zmq_msg_t *m, const char *text)
{
    size_t n = strlen (text);
    return zmq_msg_size (m) == n && memcmp (zmq_msg_data (m), text, n) == 0;
}

static void s_frame_text (zmq_msg_t *m, char *out, size_t size)
{
    size_t n = zmq_msg_size (m);
    if (n >= size)
        n = size - 1;
    memcpy (out, zmq_msg_data (m), n);
    out[n] = '\0';
    for (size_t i = 0; i < n; i++)
        if ((unsigned char) out[i] < 0x20 || (unsigned char) out[i] > 0x7e)
            out[i] = '?';
}

/* Answers one ZAP request (frames already received). */
static void s_zap_handle (zap_t *z, zmq_msg_t *f, int n, bool truncated)
{
    if (truncated || n < 6 || !s_frame_is (&f[0], "1.0")) {
        s_zap_reply (z->sock, n >= 2 ? &f[1] : NULL, "500", "malformed ZAP request", "");
        atomic_fetch_add (&z->denied, 1);
        log_warn ("zap.denied", "malformed ZAP request (%d frames)", n);
        return;
    }
    char address[64], mech[16];
    s_frame_text (&f[3], address, sizeof address);
    s_frame_text (&f[5], mech, sizeof mech);
    if (strcmp (mech, "CURVE") != 0 || n != 7 || zmq_msg_size (&f[6]) != 32) {
        s_zap_reply (z->sock, &f[1], "400", "only CURVE clients are accepted", "");
        atomic_fetch_add (&z->denied, 1);
        log_warn ("zap.denied", "refused a %s handshake from %s: only CURVE clients are accepted",
                  mech, address[0] ? address : "?");
        return;
    }
    const uint8_t *key = zmq_msg_data (&f[6]);
    char fp[BUS_CURVE_FP_LEN + 1];
    s_fingerprint_raw (key, fp);
    if (bus_curve_allows_raw (z->curve, key)) {
        s_zap_reply (z->sock, &f[1], "200", "OK", fp);
        atomic_fetch_add (&z->allowed, 1);
        log_debug ("zap.allowed", "CURVE client %s accepted from %s", fp, address[0] ? address : "?");
        return;
    }
    s_zap_reply (z->sock, &f[1], "400", "client key not allowed", "");
    atomic_fetch_add (&z->denied, 1);
    log_warn ("zap.denied", "CURVE client key with fingerprint %s is not on the allow-list "
              "(peer %s); handshake refused", fp, address[0] ? address : "?");
}

static void *s_zap_main (void *arg)
{
    zap_t *z = arg;
    for (;;) {
        zmq_msg_t f[CURVE_ZAP_MAX_FRAMES];
        int n = 0;
        bool truncated = false, term = false;
        for (;;) {
            zmq_msg_t m;
            zmq_msg_init (&m);
            if (zmq_msg_recv (&m, z->sock, 0) < 0) {
                int e = errno;
                zmq_msg_close (&m);
                if (e == EINTR && n == 0)
                    continue;
                term = true;
                break;
            }
            bool more = zmq_msg_more (&m);
            if (n < CURVE_ZAP_MAX_FRAMES)
                f[n++] = m;
            else {
                truncated = true;
                zmq_msg_close (&m);
            }
            if (!more)
                break;
        }
        if (term) {
            for (int i = 0; i < n; i++)
                zmq_msg_close (&f[i]);
            break;
        }
        if (n == 1 && atomic_load (&z->stop) && s_frame_is (&f[0], "STOP")) {
            zmq_msg_close (&f[0]);
            s_send_frame (z->sock, "OK", 2, false);
            break;
        }
        s_zap_handle (z, f, n, truncated);
        for (int i = 0; i < n; i++)
            zmq_msg_close (&f[i]);
    }
    int linger = 0;
    zmq_setsockopt (z->sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_close (z->sock);
    z->sock = NULL;
    return NULL;
}

/* Binds the handler socket here, then starts the thread. Lock held. */
static zap_t *s_zap_start (void *zctx, const bus_curve_t *curve)
{
    zap_t *z = calloc (1, sizeof *z);
    if (!z) {
        bus__set_error ("out of memory");
        return NULL;
    }
    z->zctx = zctx;
    z->curve = curve;
    atomic_init (&z->stop, false);
    atomic_init (&z->allowed, 0);
    atomic_init (&z->denied, 0);
    z->sock = zmq_socket (zctx, ZMQ_REP);
    int linger = 0;
    if (!z->sock || zmq_setsockopt (z->sock, ZMQ_LINGER, &linger, sizeof linger) != 0
        || zmq_bind (z->sock, CURVE_ZAP_ENDPOINT) != 0) {
        bus__set_error ("cannot bind the ZAP handler at %s: %s", CURVE_ZAP_ENDPOINT,
                        zmq_strerror (errno));
        if (z->sock)
            zmq_close (z->sock);
        free (z);
        return NULL;
    }
    if (pthread_create (&z->thread, NULL, s_zap_main, z) != 0) {
        bus__set_error ("cannot start the ZAP handler thread");
        zmq_close (z->sock);
        free (z);
        return NULL;
    }
    z->thread_ok = true;
    return z;
}

static void s_zap_stop (zap_t **z_p)
{
    zap_t *z = *z_p;
    if (!z)
        return;
    *z_p = NULL;
    if (z->thread_ok) {
        atomic_store (&z->stop, true);
        void *req = zmq_socket (z->zctx, ZMQ_REQ);
        if (req) {
            int linger = 0, tmo = 2000;
            zmq_setsockopt (req, ZMQ_LINGER, &linger, sizeof linger);
            zmq_setsockopt (req, ZMQ_RCVTIMEO, &tmo, sizeof tmo);
            zmq_setsockopt (req, ZMQ_SNDTIMEO, &tmo, sizeof tmo);
            if (zmq_connect (req, CURVE_ZAP_ENDPOINT) == 0 && zmq_send (req, "STOP", 4, 0) == 4) {
                char b[8];
                zmq_recv (req, b, sizeof b, 0);
            }
            zmq_close (req);
        }
        /* Without a socket (context already terminated) the thread has
         * exited through ETERM. */
        pthread_join (z->thread, NULL);
    }
    free (z);
}

/* ---- registry ------------------------------------------------------------- */

static slot_t *s_find (void *zctx)
{
    for (int i = 0; i < CURVE_MAX_SLOTS; i++)
        if (s_slots[i].used && s_slots[i].zctx == zctx)
            return &s_slots[i];
    return NULL;
}

static slot_t *s_alloc (void *zctx)
{
    for (int i = 0; i < CURVE_MAX_SLOTS; i++)
        if (!s_slots[i].used) {
            memset (&s_slots[i], 0, sizeof s_slots[i]);
            s_slots[i].used = true;
            s_slots[i].zctx = zctx;
            return &s_slots[i];
        }
    bus__set_error ("too many zmq contexts with CURVE policies (max %d)", CURVE_MAX_SLOTS);
    return NULL;
}

/* The process default is loaded from the environment (COPILOT_CURVE_*) on
 * first need when nobody installed one, so every CLI command (bus_call,
 * pubsub in a private context) talks CURVE to a CURVE cluster without code
 * of its own. Tried once; the cfg stays alive for the peer lookup. Lock held. */
static bool s_env_tried;
static cfg_t *s_env_cfg;
static char s_env_err[512];

static void s_load_env_default (void)
{
    if (s_env_tried || s_default)
        return;
    s_env_tried = true;
    const char *e = getenv ("COPILOT_CURVE_ENABLED");
    if (!e || !e[0])
        return;
    const char *err = NULL;
    s_env_cfg = cfg_new (NULL, &err);
    if (!s_env_cfg) {
        snprintf (s_env_err, sizeof s_env_err, "CURVE from the environment: %s", err ? err : "?");
        return;
    }
    bus_curve_t *c = NULL;
    if (bus_curve_from_cfg (s_env_cfg, NULL, &c, s_env_err, sizeof s_env_err) != 0)
        return;
    s_default = c;
}

static bus_curve_t *s_policy (void *zctx)
{
    slot_t *s = zctx ? s_find (zctx) : NULL;
    if (s && s->curve)
        return s->curve;
    s_load_env_default ();
    return s_default;
}

int bus_curve_install (void *zctx, bus_curve_t **curve_p)
{
    if (!curve_p || !*curve_p)
        return BUS_E_INVALID;
    pthread_mutex_lock (&s_mu);
    int rc = BUS_OK;
    if (!zctx) {
        bool busy = false;
        for (int i = 0; i < CURVE_MAX_SLOTS; i++)
            if (s_slots[i].used && !s_slots[i].curve && s_slots[i].zap)
                busy = true;
        if (busy) {
            bus__set_error ("the process default CURVE policy is in use by a ZAP handler");
            rc = BUS_E_INVALID;
        } else {
            bus_curve_destroy (&s_default);
            s_default = *curve_p;
            *curve_p = NULL;
        }
    } else {
        slot_t *s = s_find (zctx);
        if (s && s->zap) {
            bus__set_error ("this context already runs a ZAP handler; uninstall first");
            rc = BUS_E_INVALID;
        } else {
            if (!s)
                s = s_alloc (zctx);
            if (!s)
                rc = BUS_E_NOMEM;
            else {
                bus_curve_destroy (&s->curve);
                s->curve = *curve_p;
                *curve_p = NULL;
            }
        }
    }
    pthread_mutex_unlock (&s_mu);
    return rc;
}

void bus_curve_uninstall (void *zctx)
{
    pthread_mutex_lock (&s_mu);
    if (!zctx) {
        for (int i = 0; i < CURVE_MAX_SLOTS; i++) {
            slot_t *s = &s_slots[i];
            if (s->used && !s->curve) {
                s_zap_stop (&s->zap);
                memset (s, 0, sizeof *s);
            }
        }
        bus_curve_destroy (&s_default);
    } else {
        slot_t *s = s_find (zctx);
        if (s) {
            s_zap_stop (&s->zap);
            bus_curve_destroy (&s->curve);
            memset (s, 0, sizeof *s);
        }
    }
    pthread_mutex_unlock (&s_mu);
}

bool bus_curve_active (void *zctx)
{
    pthread_mutex_lock (&s_mu);
    bool on = s_policy (zctx) != NULL;
    pthread_mutex_unlock (&s_mu);
    return on;
}

void bus_curve_stats (void *zctx, uint64_t *allowed, uint64_t *denied)
{
    pthread_mutex_lock (&s_mu);
    slot_t *s = zctx ? s_find (zctx) : NULL;
    if (allowed)
        *allowed = s && s->zap ? atomic_load (&s->zap->allowed) : 0;
    if (denied)
        *denied = s && s->zap ? atomic_load (&s->zap->denied) : 0;
    pthread_mutex_unlock (&s_mu);
}

static int s_set (void *zsock, int opt, const void *val, size_t len, const char *what)
{
    if (zmq_setsockopt (zsock, opt, val, len) != 0) {
        bus__set_error ("setsockopt %s: %s", what, zmq_strerror (errno));
        return BUS_E_ZMQ;
    }
    return BUS_OK;
}

int bus_curve_apply (void *zctx, void *zsock, int role, const char *target)
{
    if (!zctx || !zsock || (role != BUS_CURVE_SERVER && role != BUS_CURVE_CLIENT))
        return BUS_E_INVALID;
    pthread_mutex_lock (&s_mu);
    int rc = BUS_OK;
    bus_curve_t *c = s_policy (zctx);
    if (!c && s_env_err[0]) {
        bus__set_error ("%s", s_env_err);   /* misconfigured: refuse rather than go plaintext */
        rc = BUS_E_INVALID;
        goto done;
    }
    if (!c)
        goto done;
    if (role == BUS_CURVE_SERVER) {
        if (!c->has_server) {
            bus__set_error ("CURVE is enabled but this process has no server secret key "
                            "(curve.server_secret)");
            rc = BUS_E_INVALID;
            goto done;
        }
        slot_t *s = s_find (zctx);
        if (!s && !(s = s_alloc (zctx))) {
            rc = BUS_E_NOMEM;
            goto done;
        }
        if (!s->zap && !(s->zap = s_zap_start (zctx, c))) {
            if (!s->curve && !s->zap)
                memset (s, 0, sizeof *s);   /* slot only existed for the handler */
            rc = BUS_E_ZMQ;
            goto done;
        }
        int one = 1;
        if ((rc = s_set (zsock, ZMQ_ZAP_DOMAIN, CURVE_ZAP_DOMAIN, strlen (CURVE_ZAP_DOMAIN),
                         "ZAP_DOMAIN")) != 0
            || (rc = s_set (zsock, ZMQ_CURVE_SERVER, &one, sizeof one, "CURVE_SERVER")) != 0
            || (rc = s_set (zsock, ZMQ_CURVE_SECRETKEY, c->server_secret, 32, "CURVE_SECRETKEY")) != 0)
            goto done;
    } else {
        if (!c->has_client) {
            bus__set_error ("CURVE is enabled but this process has no client secret key "
                            "(curve.client_secret)");
            rc = BUS_E_INVALID;
            goto done;
        }
        uint8_t server_key[32];
        bool have = false;
        if (c->peer_fn && target) {
            char z85[64];
            int prc = c->peer_fn (target, z85, sizeof z85, c->peer_arg);
            if (prc == -2) {
                rc = BUS_E_INVALID;
                goto done;
            }
            if (prc == 0 && s_decode (z85, server_key) == 0)
                have = true;
        }
        if (!have && c->has_server_public) {
            memcpy (server_key, c->default_server_public, 32);
            have = true;
        }
        if (!have) {
            bus__set_error ("CURVE is enabled but no server public key is known for %s "
                            "(curve.server_public or <service>.curve_server_public)",
                            target ? target : "this endpoint");
            rc = BUS_E_INVALID;
            goto done;
        }
        if ((rc = s_set (zsock, ZMQ_CURVE_SERVERKEY, server_key, 32, "CURVE_SERVERKEY")) != 0
            || (rc = s_set (zsock, ZMQ_CURVE_PUBLICKEY, c->client_public, 32, "CURVE_PUBLICKEY")) != 0
            || (rc = s_set (zsock, ZMQ_CURVE_SECRETKEY, c->client_secret, 32, "CURVE_SECRETKEY")) != 0)
            goto done;
    }
done:
    pthread_mutex_unlock (&s_mu);
    return rc;
}
