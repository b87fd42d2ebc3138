/* Prints the library's warnings (skipped files, unreadable folders) as
 * "clinpaint: warning: ..." lines on stderr: the library itself never
 * prints. Installed before main() so that every command reports them. */
#include <stdarg.h>
#include <stdio.h>

#include "cli_util.h"

#include "clinpaint/warning.h"

static void print_warning(void *user, const char *text)
{
    (void)user;
    /* One fprintf per line: the library serialises calls, so lines from
     * decoding threads never interleave. */
    fprintf(stderr, "clinpaint: warning: %s\n", text);
}

__attribute__((constructor)) static void install_warning_printer(void)
{
    cp_set_warning_handler(print_warning, NULL);
}

void cli_warn(const char *fmt, ...)
{
    char text[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    print_warning(NULL, text);
}
