/* it_http.h — the accept loop of the loopback HTTP servers that tests write
 * in C (the OpenAI embeddings fake, the docs site of the crawler test): a
 * listening socket on 127.0.0.1 with a kernel-chosen port, one thread that
 * accepts one connection at a time and hands it to the test's serve
 * function, and a self-pipe to stop that thread. What a request means stays
 * in the test (its serve function parses, records and answers); this file
 * only owns the socket, the thread and their lifetime.
 * Header-only (static inline); link Threads::Threads. Include dir
 * tests/support. */
#ifndef IT_HTTP_H
#define IT_HTTP_H
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

/* Serves one accepted connection on fd (closed by the caller afterwards);
 * runs on the server thread. */
typedef void (*ith_serve_fn) (void *arg, int fd);

typedef struct {
    int lfd;            /* listening socket */
    int stop_pipe[2];   /* a byte on [1] ends the thread */
    int port;           /* the port chosen by the kernel, host order */
    pthread_t th;
    pthread_mutex_t mu; /* for the test: guards what serve and the test share */
    ith_serve_fn serve;
    void *arg;
} ith_server_t;

/* Thread body: poll the listening socket and the stop pipe; serve each
 * connection to the end before accepting the next. */
static inline void *
ith__main (void *arg)
{
    ith_server_t *h = arg;
    for (;;) {
        struct pollfd p[2] = {{h->lfd, POLLIN, 0}, {h->stop_pipe[0], POLLIN, 0}};
        if (poll (p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (p[1].revents)
            break;
        if (p[0].revents & POLLIN) {
            int fd = accept (h->lfd, NULL, NULL);
            if (fd >= 0) {
                h->serve (h->arg, fd);
                close (fd);
            }
        }
    }
    return NULL;
}

/* Initialises h->mu, binds 127.0.0.1:0 (SO_REUSEADDR), listens, records
 * the port in h->port and starts the thread that calls serve(arg, fd) per
 * connection. h is
 * owned by the caller and must stay put until ith_stop. Returns 0, or -1
 * when any step fails (the test asserts on it; nothing is cleaned up then,
 * as the test ends). */
static inline int
ith_start (ith_server_t *h, ith_serve_fn serve, void *arg)
{
    h->serve = serve;
    h->arg = arg;
    pthread_mutex_init (&h->mu, NULL);
    h->lfd = socket (AF_INET, SOCK_STREAM, 0);
    if (h->lfd < 0)
        return -1;
    int one = 1;
    setsockopt (h->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    a.sin_port = 0;
    if (bind (h->lfd, (struct sockaddr *) &a, sizeof a) != 0 || listen (h->lfd, 16) != 0)
        return -1;
    socklen_t al = sizeof a;
    if (getsockname (h->lfd, (struct sockaddr *) &a, &al) != 0)
        return -1;
    h->port = ntohs (a.sin_port);
    if (pipe (h->stop_pipe) != 0)
        return -1;
    if (pthread_create (&h->th, NULL, ith__main, h) != 0)
        return -1;
    return 0;
}

/* Stops the thread (after the connection it is serving, if any), joins it,
 * closes the sockets and destroys h->mu. Call once per successful
 * ith_start. */
static inline void
ith_stop (ith_server_t *h)
{
    ssize_t w = write (h->stop_pipe[1], "x", 1);
    (void) w;
    pthread_join (h->th, NULL);
    close (h->lfd);
    close (h->stop_pipe[0]);
    close (h->stop_pipe[1]);
    pthread_mutex_destroy (&h->mu);
}

#endif
