/* Internal: issuing a warning (see include/clinpaint/warning.h). */
#ifndef CP_WARNING_INTERNAL_H
#define CP_WARNING_INTERNAL_H

/* Formats one warning line and hands it to the installed handler (or only
 * counts it). Thread-safe. */
void cp_warn(const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

#endif
