/* it_check.h — the non-fatal check macros of the tests that are plain
 * programs (no cmocka): a failed check prints where and why on stderr,
 * bumps a failure counter the test owns and lets the test go on, so one run
 * reports every failed check and still cleans up (stops its daemons,
 * removes its temp dir). The counter is a macro argument, not a global of
 * this header, because the tests already keep their own (s_failures,
 * g_fail) and some count checks too.
 *
 * The three message shapes are the ones the tests printed before they
 * shared this header (kept byte for byte so logs read the same):
 *   ITC_CHECK_MSG        "FAIL file:line: <message>"
 *   ITC_CHECK_COND_MSG   "FAIL file:line: <condition>: <message>"
 *   ITC_CHECK            "file:line: CHECK failed: <condition>"
 * ITC_REQUIRE is ITC_CHECK that then jumps to a cleanup label.
 * Header-only; a test wraps the one it uses in its own short CHECK macro. */
#ifndef IT_CHECK_H
#define IT_CHECK_H
#include <stdio.h>

/* If cond is false: prints "FAIL file:line: " and the printf-style message,
 * then increments the int lvalue `counter`. cond is evaluated once. */
#define ITC_CHECK_MSG(counter, cond, ...)                                                        \
    do {                                                                                         \
        if (!(cond)) {                                                                           \
            fprintf (stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                \
            fprintf (stderr, __VA_ARGS__);                                                       \
            fputc ('\n', stderr);                                                                \
            (counter)++;                                                                         \
        }                                                                                        \
    } while (0)

/* As ITC_CHECK_MSG, with the condition's text before the message. */
#define ITC_CHECK_COND_MSG(counter, cond, ...)                                                   \
    do {                                                                                         \
        if (!(cond)) {                                                                           \
            fprintf (stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                     \
            fprintf (stderr, __VA_ARGS__);                                                       \
            fputc ('\n', stderr);                                                                \
            (counter)++;                                                                         \
        }                                                                                        \
    } while (0)

/* If cond is false: prints "file:line: CHECK failed: <cond>" and increments
 * the int lvalue `counter`. */
#define ITC_CHECK(counter, cond)                                                                 \
    do {                                                                                         \
        if (!(cond)) {                                                                           \
            fprintf (stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);            \
            (counter)++;                                                                         \
        }                                                                                        \
    } while (0)

/* If cond is false: prints "file:line: REQUIRE failed: <cond>", increments
 * `counter` and jumps to `label` (the test's cleanup). */
#define ITC_REQUIRE(counter, cond, label)                                                        \
    do {                                                                                         \
        if (!(cond)) {                                                                           \
            fprintf (stderr, "%s:%d: REQUIRE failed: %s\n", __FILE__, __LINE__, #cond);          \
            (counter)++;                                                                         \
            goto label;                                                                          \
        }                                                                                        \
    } while (0)

#endif
