/* The warning sink: the library reports skipped files and similar through
 * the handler a program installs, never by printing. */
#include "clinpaint/warning.h"
#include "util/warning_internal.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static cp_warning_fn handler;
static void *handler_user;
static size_t issued;

void cp_set_warning_handler(cp_warning_fn fn, void *user)
{
    pthread_mutex_lock(&lock);
    handler = fn;
    handler_user = user;
    pthread_mutex_unlock(&lock);
}

size_t cp_warning_count(void)
{
    pthread_mutex_lock(&lock);
    size_t n = issued;
    pthread_mutex_unlock(&lock);
    return n;
}

void cp_warn(const char *fmt, ...)
{
    char line[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    /* One lock for counting and calling: loader threads warn concurrently
     * and each line must reach the handler whole. */
    pthread_mutex_lock(&lock);
    issued++;
    if (handler) handler(handler_user, line);
    pthread_mutex_unlock(&lock);
}
