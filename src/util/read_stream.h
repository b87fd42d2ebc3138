/* Internal: reading the rest of an open stream into memory. */
#ifndef CP_UTIL_READ_STREAM_H
#define CP_UTIL_READ_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* The rest of f as a malloc'd, NUL-terminated buffer holding *size bytes
 * before the NUL. NULL on a read error or when memory runs out; *no_memory
 * says which (so callers can report the right status). Does not close f. */
char *cp_read_stream(FILE *f, size_t *size, bool *no_memory);

#endif
