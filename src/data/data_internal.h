/* Internal helpers shared by the data modules (src/data/). */
#ifndef CP_DATA_INTERNAL_H
#define CP_DATA_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clinpaint/status.h"
#include "util/warning_internal.h"

/* Returns a failed status unchanged (its message is already set). */
#define CP_DATA_TRY(expr)                                                    \
    do {                                                                     \
        cp_status cp_dst_ = (expr);                                          \
        if (cp_dst_ != CP_OK) return cp_dst_;                                \
    } while (0)

/* Resamples an s×s window (top-left (x0, y0), row stride `stride` bytes) of a
 * 3-channel image to S×S: exact area average (integer weights, rounded half
 * up) when s > S, bilinear with pixel centres aligned when s < S, copy when
 * equal. */
cp_status cp_resize_square_rgb(const uint8_t *src, size_t stride, int x0,
                               int y0, int s, int S, uint8_t *dst);

/* Mixes two 64-bit words into one well-distributed word (splitmix64 finaliser
 * of a combination); used to derive RNG streams and per-sample decisions. */
static inline uint64_t cp_mix64(uint64_t a, uint64_t b)
{
    uint64_t z = a * 0x9e3779b97f4a7c15ULL ^ (b + 0x632be59bd9b4e019ULL + (a << 6) + (a >> 2));
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* True when the name ends in an image extension we decode: .jpg .jpeg .png
 * .bmp .tga .gif (any case). */
bool cp_has_image_ext(const char *name);

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
 * decide which skipped entries concern them (see cp_warn_skipped). `what`
 * ("data", "mask") goes into messages. */
cp_status cp_scan_images(const char *dir, const char *what, cp_file_list *out);
void cp_file_list_free(cp_file_list *list);

/* Warns once about a skipped entry: "skipping 'DIR/REL': WHY". */
void cp_warn_skipped(const char *dir, const cp_skipped_entry *e);

/* "dir/rel" in a new string (NULL when out of memory). */
char *cp_path_join(const char *dir, const char *rel);

#endif
