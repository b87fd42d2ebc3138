/* clinpaint: listing the image files under a folder (the data folders,
 * mask folders and inputs of `clinpaint inpaint` are read this way). */
#ifndef CLINPAINT_IMAGE_FILES_H
#define CLINPAINT_IMAGE_FILES_H

#include <stdbool.h>
#include <stddef.h>

#include "clinpaint/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* An entry left out of a listing: a file with an image name that cannot be
 * used (dangling link, FIFO, socket, device) or a folder that cannot be read.
 * The scan never opens such files: opening a FIFO would block. */
typedef struct cp_skipped_entry {
    char *rel;  /* relative path ('/' separators) */
    char *why;  /* "not a regular file (a FIFO)", strerror text, ... */
    bool folder;
} cp_skipped_entry;

/* A sorted list of image files under a folder, recursively, as relative
 * paths with '/' separators (hidden entries, starting with '.', skipped),
 * plus the entries left out, in the order met. */
typedef struct cp_file_list {
    char **rel;
    size_t count, cap;
    cp_skipped_entry *skipped;
    size_t skipped_count, skipped_cap;
} cp_file_list;

/* Scans `dir`. CP_ERR_IO when `dir` itself cannot be opened (message names
 * it), CP_ERR_INVALID_ARGUMENT when it is not a folder. A subfolder that
 * cannot be read, and image-named entries that are not regular files, are
 * listed in `skipped` and do not fail the scan. Warns about nothing: callers
 * decide which skipped entries concern them. `what`
 * ("data", "mask") goes into messages. */
cp_status cp_scan_images(const char *dir, const char *what, cp_file_list *out);
void cp_file_list_free(cp_file_list *list);

/* Issues one warning (clinpaint/warning.h) about a skipped entry:
 * "skipping 'DIR/REL': WHY". */
void cp_warn_skipped(const char *dir, const cp_skipped_entry *e);

/* "dir/rel" in a new string (NULL when out of memory). */
char *cp_path_join(const char *dir, const char *rel);

#ifdef __cplusplus
}
#endif
#endif
