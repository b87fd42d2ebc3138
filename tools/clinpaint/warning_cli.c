/* Prints the library's warnings (skipped files, unreadable folders) as
 * "clinpaint: warning: ..." lines on stderr: the library itself never
 * prints. Installed before main() so that every command reports them. */
#include <stdio.h>

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
