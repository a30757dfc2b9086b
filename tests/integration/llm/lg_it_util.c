/* lg_it_util.c — see lg_it_util.h. fork/exec with a pipe for stdout; the
 * readiness line is read with poll so a child that never becomes ready
 * fails the test instead of hanging it. */
#include "lg_it_util.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"

pid_t
lg_it_spawn (const char *const *argv, const char *const *envp_extra, const char *stderr_path,
             const char *ready_prefix, char *line, size_t size, int timeout_ms)
{
    int p[2];
    if (pipe (p) != 0)
        return -1;
    pid_t pid = fork ();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        dup2 (p[1], 1);
        close (p[0]);
        close (p[1]);
        if (stderr_path) {
            int fd = open (stderr_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
            if (fd >= 0) {
                dup2 (fd, 2);
                close (fd);
            }
        }
        for (size_t i = 0; envp_extra && envp_extra[i]; i++)
            putenv ((char *) envp_extra[i]);
        execv (argv[0], (char *const *) argv);
        _exit (127);
    }
    close (p[1]);
    size_t have = 0;
    line[0] = '\0';
    int64_t end = clock_mono_ms () + timeout_ms;
    for (;;) {
        int64_t left = end - clock_mono_ms ();
        if (left <= 0)
            break;
        struct pollfd pf = { p[0], POLLIN, 0 };
        if (poll (&pf, 1, (int) left) <= 0)
            break;
        char c;
        ssize_t r = read (p[0], &c, 1);
        if (r <= 0)
            break;
        if (c == '\n') {
            line[have] = '\0';
            if (strncmp (line, ready_prefix, strlen (ready_prefix)) == 0) {
                /* Keep the pipe open but drained by nobody: children print
                 * only the READY line on stdout. */
                return pid;
            }
            have = 0;
            continue;
        }
        if (have + 1 < size)
            line[have++] = c;
    }
    close (p[0]);
    kill (pid, SIGKILL);
    waitpid (pid, NULL, 0);
    return -1;
}

int
lg_it_stop (pid_t pid, int sig, int timeout_ms)
{
    if (pid <= 0)
        return -1;
    kill (pid, sig);
    int64_t end = clock_mono_ms () + timeout_ms;
    int status;
    for (;;) {
        pid_t r = waitpid (pid, &status, WNOHANG);
        if (r == pid)
            break;
        if (clock_mono_ms () > end) {
            kill (pid, SIGKILL);
            waitpid (pid, &status, 0);
            return -1;
        }
        clock_sleep_ms (10);
    }
    if (WIFEXITED (status))
        return WEXITSTATUS (status);
    if (WIFSIGNALED (status))
        return 128 + WTERMSIG (status);
    return -1;
}

static size_t
s_write (char *p, size_t s, size_t n, void *arg)
{
    return buf_append ((buf_t *) arg, p, s * n) == 0 ? s * n : 0;
}

char *
lg_it_get (int port, const char *path)
{
    char url[256];
    snprintf (url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    CURL *h = curl_easy_init ();
    buf_t *b = buf_new (1 << 20);
    char *out = NULL;
    if (h && b) {
        curl_easy_setopt (h, CURLOPT_URL, url);
        curl_easy_setopt (h, CURLOPT_TIMEOUT_MS, 5000L);
        curl_easy_setopt (h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt (h, CURLOPT_WRITEFUNCTION, s_write);
        curl_easy_setopt (h, CURLOPT_WRITEDATA, b);
        if (curl_easy_perform (h) == CURLE_OK)
            out = buf_detach (b);
    }
    if (h)
        curl_easy_cleanup (h);
    buf_destroy (&b);
    return out;
}

char *
lg_it_slurp (const char *path)
{
    FILE *f = fopen (path, "rb");
    if (f == NULL)
        return NULL;
    buf_t *b = buf_new (64 << 20);
    char chunk[4096];
    size_t n;
    while (b && (n = fread (chunk, 1, sizeof chunk, f)) > 0)
        if (buf_append (b, chunk, n) != 0)
            break;
    fclose (f);
    char *out = b ? buf_detach (b) : NULL;
    buf_destroy (&b);
    return out;
}

long
lg_it_fake_count (int port, const char *model)
{
    char *s = lg_it_get (port, "/__stats");
    if (s == NULL)
        return -1;
    json_t *root = json_loads (s, 0, NULL);
    free (s);
    if (root == NULL)
        return -1;
    json_t *c = json_object_get (json_object_get (root, "by_model"), model);
    long n = c ? (long) json_integer_value (c) : 0;
    json_decref (root);
    return n;
}
