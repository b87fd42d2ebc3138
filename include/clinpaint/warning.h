/* clinpaint: warnings from the library (a skipped file, a folder that cannot
 * be read, ...). The library never prints: it hands each warning, as one
 * line of text without a trailing newline, to the handler the program
 * installs. Without a handler, warnings are only counted. */
#ifndef CLINPAINT_WARNING_H
#define CLINPAINT_WARNING_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Called once per warning, possibly from decoding threads (calls are
 * serialised by the library, under its lock: the handler must not itself
 * cause a warning). `text` is valid only during the call. */
typedef void (*cp_warning_fn)(void *user, const char *text);

/* Installs `fn` (NULL: none, warnings are counted only), process-wide, for
 * every later warning. */
void cp_set_warning_handler(cp_warning_fn fn, void *user);

/* Warnings issued so far in this process (handled or not). */
size_t cp_warning_count(void);

/* Issues one warning as the library does: formats the line and hands it to
 * the installed handler (or only counts it). Thread-safe. Programs use it
 * for their own warnings so that every warning reaches one handler. */
void cp_warn(const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

#ifdef __cplusplus
}
#endif
#endif
