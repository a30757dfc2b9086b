/* test_pubsub.c — publisher streams (per-family seq, ids, heartbeats) and the
 * subscriber's gap detection, over real PUB/SUB sockets (inproc), plus a
 * raw PUB socket to inject exact sequences and malformed frames. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <zmq.h>

#include "clock.h"
#include "pubsub.h"
#include "runtime.h"

#define MAXGOT 64

typedef struct {
    int n;
    char topic[MAXGOT][PUBSUB_TOPIC_MAX + 1];
    uint64_t seq[MAXGOT];
    char pub[MAXGOT][200];
    int body[MAXGOT];
    int gaps;
    uint64_t gap_missed;
} got_t;

static void s_on_msg (pubsub_sub_t *sub, const char *topic, env_t *env, void *arg)
{
    (void) sub;
    got_t *g = arg;
    if (g->n < MAXGOT) {
        snprintf (g->topic[g->n], sizeof g->topic[0], "%s", topic);
        g->seq[g->n] = env->header->seq;
        snprintf (g->pub[g->n], sizeof g->pub[0], "%s", env->header->publisher_id);
        g->body[g->n] = (int) env->body_case;
        g->n++;
    }
    env_free (env);
}

static void s_on_gap (pubsub_sub_t *sub, const char *id, uint64_t last, uint64_t seq,
                      uint64_t missed, void *arg)
{
    (void) sub; (void) id; (void) last; (void) seq;
    got_t *g = arg;
    g->gaps++;
    g->gap_missed += missed;
}

static env_t *s_event (void)
{
    env_t *e = env_new ("unit");
    Copilot__V1__DataChanged *dc = env_msg_new (&copilot__v1__data_changed__descriptor);
    env_set_str (&dc->reason, "import");
    env_set_body (e, COPILOT__V1__ENVELOPE__BODY_DATA_CHANGED, dc);
    return e;
}

/* Publishes heartbeats until the subscriber has seen one: the explicit
 * slow-joiner synchronisation (never a sleep). */
static void s_sync (pubsub_pub_t *pub, pubsub_sub_t *sub, got_t *g)
{
    int64_t end = clock_mono_ms () + 3000;
    int before = g->n;
    while (g->n == before && clock_mono_ms () < end) {
        pubsub_pub_heartbeat (pub);
        pubsub_sub_poll (sub, 10);
    }
    assert_true (g->n > before);
}

static void test_publish_seq_per_family (void **state)
{
    (void) state;
    void *ctx = proc_zmq_ctx_new ();
    pubsub_pub_t *pub = pubsub_pub_new (ctx, "@inproc://ps1", "report-service");
    assert_non_null (pub);
    got_t g = { 0 };
    pubsub_sub_t *sub = pubsub_sub_new (ctx, "inproc://ps1", "unit", s_on_msg, &g);
    assert_non_null (sub);
    pubsub_sub_set_gap_fn (sub, s_on_gap, &g);
    assert_int_equal (pubsub_sub_subscribe (sub, "data."), 0);
    assert_int_equal (pubsub_sub_subscribe (sub, "alert."), 0);
    assert_int_equal (pubsub_sub_subscribe (sub, "hb."), 0);   /* to see heartbeats */
    assert_int_equal (pubsub_pub_declare (pub, "data"), 0);
    s_sync (pub, sub, &g);
    g.n = 0;

    env_t *e = s_event ();
    for (int i = 0; i < 3; i++)
        assert_int_equal (pubsub_publish (pub, "data.changed.v1", e), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal (pubsub_publish (pub, "alert.v1.high", e), 0);
    assert_int_equal (pubsub_pub_seq (pub, "data"), 3);
    assert_int_equal (pubsub_pub_seq (pub, "alert"), 2);
    const char *did = pubsub_pub_id (pub, "data");
    const char *aid = pubsub_pub_id (pub, "alert");
    assert_non_null (strstr (did, "data@report-service-"));
    assert_non_null (strstr (aid, "alert@report-service-"));
    assert_string_not_equal (did, aid);

    int64_t end = clock_mono_ms () + 2000;
    while (g.n < 5 && clock_mono_ms () < end)
        pubsub_sub_poll (sub, 10);
    assert_int_equal (g.n, 5);
    for (int i = 0; i < 3; i++) {
        assert_string_equal (g.topic[i], "data.changed.v1");
        assert_int_equal (g.seq[i], (uint64_t) i + 1);
        assert_string_equal (g.pub[i], did);
    }
    assert_int_equal (g.seq[3], 1);
    assert_int_equal (g.seq[4], 2);
    assert_int_equal (pubsub_sub_received (sub), 5);
    assert_int_equal (pubsub_sub_missed (sub), 0);
    uint64_t last = 0;
    assert_int_equal (pubsub_sub_last_seq (sub, did, &last), 0);
    assert_int_equal (last, 3);

    /* heartbeat carries last_seq and does not consume a seq */
    g.n = 0;
    pubsub_pub_heartbeat (pub);
    end = clock_mono_ms () + 2000;
    while (g.n < 2 && clock_mono_ms () < end)
        pubsub_sub_poll (sub, 10);
    assert_int_equal (g.n, 2);   /* one per stream */
    for (int i = 0; i < 2; i++) {
        assert_int_equal (g.body[i], COPILOT__V1__ENVELOPE__BODY_HEARTBEAT);
        assert_true (strncmp (g.topic[i], "hb.", 3) == 0);
    }
    assert_int_equal (pubsub_pub_seq (pub, "data"), 3);
    assert_int_equal (pubsub_sub_missed (sub), 0);

    /* invalid topics */
    assert_int_equal (pubsub_publish (pub, "", e), BUS_E_INVALID);
    assert_int_equal (pubsub_publish (pub, "nodot", e), BUS_E_INVALID);
    assert_int_equal (pubsub_publish (pub, "hb.fake", e), BUS_E_INVALID);
    assert_int_equal (pubsub_pub_declare (pub, "a.b"), BUS_E_INVALID);
    env_free (e);
    pubsub_sub_destroy (&sub);
    pubsub_pub_destroy (&pub);
    proc_zmq_ctx_term (&ctx);
}

/* Raw publisher: sends [topic][env] with an exact publisher id and seq. */
static void s_raw (void *pub, const char *topic, const char *pid, uint64_t seq, bool heartbeat)
{
    env_t *e = env_new ("raw");
    env_set_str (&e->header->publisher_id, pid);
    e->header->seq = seq;
    if (heartbeat) {
        Copilot__V1__Heartbeat *hb = env_msg_new (&copilot__v1__heartbeat__descriptor);
        env_set_str (&hb->publisher_id, pid);
        hb->last_seq = seq;
        env_set_body (e, COPILOT__V1__ENVELOPE__BODY_HEARTBEAT, hb);
    } else {
        env_set_body (e, COPILOT__V1__ENVELOPE__BODY_DATA_CHANGED,
                      env_msg_new (&copilot__v1__data_changed__descriptor));
    }
    uint8_t *data;
    size_t len;
    assert_int_equal (env_encode (e, &data, &len), 0);
    zmq_send (pub, topic, strlen (topic), ZMQ_SNDMORE);
    zmq_send (pub, data, len, 0);
    free (data);
    env_free (e);
}

static void s_drain (pubsub_sub_t *sub, got_t *g, int want)
{
    int64_t end = clock_mono_ms () + 2000;
    while (g->n < want && clock_mono_ms () < end)
        pubsub_sub_poll (sub, 10);
    pubsub_sub_poll (sub, 20);   /* and nothing more is pending */
}

static void test_gap_detection (void **state)
{
    (void) state;
    void *ctx = proc_zmq_ctx_new ();
    void *pub = zmq_socket (ctx, ZMQ_PUB);
    int zero = 0;
    zmq_setsockopt (pub, ZMQ_LINGER, &zero, sizeof zero);
    assert_int_equal (zmq_bind (pub, "inproc://ps2"), 0);
    got_t g = { 0 };
    pubsub_sub_t *sub = pubsub_sub_new (ctx, "inproc://ps2", "unit", s_on_msg, &g);
    pubsub_sub_set_gap_fn (sub, s_on_gap, &g);
    pubsub_sub_subscribe (sub, "data.");          /* whole family: tracked */
    pubsub_sub_subscribe (sub, "alert.v1.high");  /* narrow: not tracked */
    /* sync: inproc subscriptions are delivered when the pub next sends */
    int64_t end = clock_mono_ms () + 2000;
    while (g.n == 0 && clock_mono_ms () < end) {
        s_raw (pub, "data.sync.v1", "sync", 1, false);
        pubsub_sub_poll (sub, 10);
    }
    assert_true (g.n > 0);
    g.n = 0;

    /* late joiner: the first message seen has seq 10 → no gap */
    s_raw (pub, "data.changed.v1", "P", 10, false);
    s_raw (pub, "data.changed.v1", "P", 11, false);
    s_raw (pub, "data.changed.v1", "P", 14, false);   /* 12, 13 lost */
    s_drain (sub, &g, 3);
    assert_int_equal (g.n, 3);
    assert_int_equal (pubsub_sub_missed (sub), 2);
    assert_int_equal (g.gaps, 1);
    assert_int_equal (g.gap_missed, 2);

    /* heartbeat with last_seq 16 after 14: 15 and 16 lost (tail gap) */
    s_raw (pub, "hb.data.P", "P", 16, true);
    s_raw (pub, "data.changed.v1", "P", 17, false);
    s_drain (sub, &g, 4);
    assert_int_equal (g.n, 4);   /* heartbeat not delivered: "hb." not subscribed by the user */
    assert_int_equal (pubsub_sub_missed (sub), 4);
    uint64_t last = 0;
    pubsub_sub_last_seq (sub, "P", &last);
    assert_int_equal (last, 17);
    assert_true (pubsub_sub_last_heard (sub, "P") > 0);
    assert_int_equal (pubsub_sub_last_heard (sub, "nobody"), -1);

    /* a replayed/duplicate seq is delivered but is not a gap */
    s_raw (pub, "data.changed.v1", "P", 17, false);
    s_drain (sub, &g, 5);
    assert_int_equal (pubsub_sub_missed (sub), 4);

    /* narrow prefix: seq jumps are not counted (other topics of the family
     * legitimately take seq numbers) */
    s_raw (pub, "alert.v1.high", "A", 1, false);
    s_raw (pub, "alert.v1.high", "A", 9, false);
    s_drain (sub, &g, 7);
    assert_int_equal (g.n, 7);
    assert_int_equal (pubsub_sub_missed (sub), 4);

    /* malformed: single frame, garbage envelope — counted, not delivered */
    zmq_send (pub, "data.x", 6, 0);
    zmq_send (pub, "data.y", 6, ZMQ_SNDMORE);
    zmq_send (pub, "\x0a\xff\xff\xff\xff\x0f", 6, 0);
    s_raw (pub, "data.changed.v1", "P", 18, false);
    s_drain (sub, &g, 8);
    assert_int_equal (g.n, 8);
    assert_string_equal (g.topic[7], "data.changed.v1");
    assert_int_equal (pubsub_sub_missed (sub), 4);

    pubsub_sub_destroy (&sub);
    bus_socket_close (&pub);
    proc_zmq_ctx_term (&ctx);
}

static void test_topic_family (void **state)
{
    (void) state;
    char f[16];
    assert_int_equal (pubsub_topic_family ("alert.v1.high", f, sizeof f), 0);
    assert_string_equal (f, "alert");
    assert_int_equal (pubsub_topic_family ("nodot", f, sizeof f), -1);
    assert_int_equal (pubsub_topic_family (".x", f, sizeof f), -1);
    assert_int_equal (pubsub_topic_family ("averyveryverylongfamily.x", f, sizeof f), -1);
}

/* Publisher heartbeats from a uv timer. */
static void s_stop_loop (uv_timer_t *t)
{
    uv_stop (t->loop);
}

static void test_heartbeat_timer (void **state)
{
    (void) state;
    void *ctx = proc_zmq_ctx_new ();
    pubsub_pub_t *pub = pubsub_pub_new (ctx, "@inproc://ps3", "hbtest");
    got_t g = { 0 };
    pubsub_sub_t *sub = pubsub_sub_new (ctx, "inproc://ps3", "unit", s_on_msg, &g);
    pubsub_sub_subscribe (sub, "hb.");
    pubsub_pub_declare (pub, "commentary");
    uv_loop_t loop;
    uv_loop_init (&loop);
    assert_int_equal (pubsub_pub_attach_uv (pub, &loop), 0);
    assert_int_equal (pubsub_sub_attach_uv (sub, &loop), 0);
    uv_timer_t stop;
    uv_timer_init (&loop, &stop);
    uv_timer_start (&stop, s_stop_loop, 2300, 0);
    uv_run (&loop, UV_RUN_DEFAULT);
    /* ~2 heartbeats in 2.3 s (the first may race the subscription) */
    assert_true (g.n >= 1 && g.n <= 3);
    assert_string_equal (g.topic[0] + 0, g.topic[0]);
    assert_true (strncmp (g.topic[0], "hb.commentary.commentary@hbtest-", 32) == 0);
    uv_close ((uv_handle_t *) &stop, NULL);
    pubsub_sub_destroy (&sub);
    pubsub_pub_destroy (&pub);
    uv_run (&loop, UV_RUN_DEFAULT);
    assert_int_equal (uv_loop_close (&loop), 0);
    proc_zmq_ctx_term (&ctx);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_publish_seq_per_family),
        cmocka_unit_test (test_gap_detection),
        cmocka_unit_test (test_topic_family),
        cmocka_unit_test (test_heartbeat_timer),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
