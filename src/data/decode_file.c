/* cp_image_load and friends: read a regular file, choose the decoder by
 * content (never by name), enforce the pixel budget. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clinpaint/image.h"
#include "data/decode_internal.h"

static atomic_size_t max_pixels = CP_IMAGE_DEFAULT_MAX_PIXELS;

cp_status cp_image_set_max_pixels(size_t pixels)
{
    if (pixels == 0 || pixels > CP_IMAGE_PIXEL_CEILING)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT,
                            "image pixel limit %zu is out of range (1 to %zu)", pixels,
                            (size_t)CP_IMAGE_PIXEL_CEILING);
    atomic_store(&max_pixels, pixels);
    return CP_OK;
}

size_t cp_image_max_pixels(void) { return atomic_load(&max_pixels); }

cp_status cp_decode_alloc(int w, int h, size_t limit, cp_image *out, char *why)
{
    if (w <= 0 || h <= 0 || (uint64_t)w * (uint64_t)h > limit) {
        snprintf(why, CP_WHY_SIZE, "image of %dx%d pixels is over the limit of %zu pixels", w, h,
                 limit);
        return CP_ERR_FORMAT;
    }
    memset(out, 0, sizeof *out);
    out->pixels = malloc((size_t)w * (size_t)h * 3);
    if (!out->pixels) {
        snprintf(why, CP_WHY_SIZE, "out of host memory for %dx%d pixels", w, h);
        return CP_ERR_OUT_OF_HOST_MEMORY;
    }
    out->w = w;
    out->h = h;
    return CP_OK;
}

cp_image_format cp_sniff_format(const uint8_t *d, size_t n)
{
    if (n >= 8 && memcmp(d, "\x89PNG\r\n\x1a\n", 8) == 0) return CP_FORMAT_PNG;
    if (n >= 3 && d[0] == 0xff && d[1] == 0xd8 && d[2] == 0xff) return CP_FORMAT_JPEG;
    if (n >= 6 && (memcmp(d, "GIF87a", 6) == 0 || memcmp(d, "GIF89a", 6) == 0))
        return CP_FORMAT_GIF;
    if (n >= 2 && d[0] == 'B' && d[1] == 'M') return CP_FORMAT_BMP;
    if (cp_looks_like_tga(d, n)) return CP_FORMAT_TGA;
    return CP_FORMAT_UNKNOWN;
}

/* The decoder for the content; NULL (with why) when unsupported. */
static cp_decoder decoder_for(const uint8_t *data, size_t size, char *why)
{
    switch (cp_sniff_format(data, size)) {
    case CP_FORMAT_PNG: return cp_decode_png;
    case CP_FORMAT_JPEG: return cp_decode_jpeg;
    case CP_FORMAT_BMP:
    case CP_FORMAT_GIF:
    case CP_FORMAT_TGA: return cp_decode_stb;
    case CP_FORMAT_UNKNOWN: break;
    }
    snprintf(why, CP_WHY_SIZE, "unsupported image format (clinpaint reads PNG, JPEG, BMP, TGA "
                               "and GIF, recognised by their content)");
    return NULL;
}

static cp_status decode_memory(const uint8_t *data, size_t size, int *w, int *h, cp_image *out,
                               char *why)
{
    if (size == 0) {
        snprintf(why, CP_WHY_SIZE, "empty file");
        return CP_ERR_FORMAT;
    }
    cp_decoder dec = decoder_for(data, size, why);
    if (!dec) return CP_ERR_FORMAT;
    return dec(data, size, cp_image_max_pixels(), w, h, out, why);
}

/* Opens `path` without blocking (a FIFO would block open() forever) and
 * only if it is a regular file. Returns the descriptor, or -1 with why. */
static int open_regular(const char *path, struct stat *sb, cp_status *st, char *why)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        snprintf(why, CP_WHY_SIZE, "cannot open image: %s", strerror(errno));
        *st = CP_ERR_IO;
        return -1;
    }
    if (fstat(fd, sb) != 0) {
        snprintf(why, CP_WHY_SIZE, "cannot read image: %s", strerror(errno));
        *st = CP_ERR_IO;
    } else if (!S_ISREG(sb->st_mode)) {
        snprintf(why, CP_WHY_SIZE, "not a regular file (%s); only image files are read",
                 S_ISDIR(sb->st_mode) ? "a folder" : S_ISFIFO(sb->st_mode) ? "a FIFO"
                 : S_ISSOCK(sb->st_mode) ? "a socket" : "a device");
        *st = CP_ERR_FORMAT;
    } else {
        return fd;
    }
    close(fd);
    return -1;
}

/* Reads up to `limit` bytes from the start of fd into a new buffer. */
static cp_status read_prefix(int fd, size_t limit, uint8_t **buf, size_t *got, char *why)
{
    *got = 0;
    *buf = malloc(limit ? limit : 1);
    if (!*buf) {
        snprintf(why, CP_WHY_SIZE, "out of host memory reading %zu bytes", limit);
        return CP_ERR_OUT_OF_HOST_MEMORY;
    }
    while (*got < limit) {
        ssize_t n = pread(fd, *buf + *got, limit - *got, (off_t)*got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            snprintf(why, CP_WHY_SIZE, "cannot read image: %s", strerror(errno));
            free(*buf);
            *buf = NULL;
            return CP_ERR_IO;
        }
        if (n == 0) break; /* shorter than fstat said (being written): decode what is there */
        *got += (size_t)n;
    }
    return CP_OK;
}

/* No image within the pixel budget needs more bytes than this (16-bit RGBA
 * PNG stored uncompressed: 8 bytes a pixel, plus chunks). */
static size_t max_file_bytes(void)
{
    size_t px = cp_image_max_pixels();
    return px > (SIZE_MAX - ((size_t)16 << 20)) / 9 ? SIZE_MAX : ((size_t)16 << 20) + 9 * px;
}

/* The header is near the start: probing and sniffing read this much first. */
#define PREFIX_BYTES ((size_t)256 << 10)

static cp_status load_path(const char *path, int *w, int *h, cp_image *out, char *why)
{
    struct stat sb;
    cp_status st = CP_OK;
    int fd = open_regular(path, &sb, &st, why);
    if (fd < 0) return st;
    size_t size = (size_t)sb.st_size;
    uint8_t *data = NULL;
    size_t got = 0;
    bool whole = false; /* decode from the whole file */
    if (size == 0) {
        snprintf(why, CP_WHY_SIZE, "empty file");
        st = CP_ERR_FORMAT;
    } else if ((st = read_prefix(fd, size < PREFIX_BYTES ? size : PREFIX_BYTES, &data, &got,
                                 why)) != CP_OK) {
        /* why is set */
    } else if (!decoder_for(data, got, why)) {
        st = CP_ERR_FORMAT; /* refused before reading the rest */
    } else if (out) {
        whole = true;
    } else {
        st = decode_memory(data, got, w, h, NULL, why);
        /* a header beyond the prefix (large metadata first): try it all */
        whole = st == CP_ERR_FORMAT && got < size;
    }
    if (whole && got < size) {
        free(data);
        data = NULL;
        if (size > max_file_bytes()) {
            snprintf(why, CP_WHY_SIZE,
                     "file of %zu bytes is larger than any image within the limit of %zu pixels",
                     size, cp_image_max_pixels());
            st = CP_ERR_FORMAT;
            whole = false;
        } else {
            st = read_prefix(fd, size, &data, &got, why);
            whole = st == CP_OK;
        }
    }
    if (whole) st = decode_memory(data, got, w, h, out, why);
    free(data);
    close(fd); /* read-only: nothing to lose */
    return st;
}

static cp_status named(cp_status st, const char *name, const char *why)
{
    return st == CP_OK ? CP_OK : cp_set_error(st, "'%s': %s", name, why);
}

cp_status cp_image_load(const char *path, cp_image *out)
{
    memset(out, 0, sizeof *out);
    char why[CP_WHY_SIZE];
    int w, h;
    return named(load_path(path, &w, &h, out, why), path, why);
}

cp_status cp_image_probe(const char *path, int *w, int *h)
{
    char why[CP_WHY_SIZE];
    return named(load_path(path, w, h, NULL, why), path, why);
}

bool cp_image_probe_file(const char *path, int *w, int *h, char *why, size_t why_size)
{
    char reason[CP_WHY_SIZE];
    if (load_path(path, w, h, NULL, reason) == CP_OK) return true;
    snprintf(why, why_size, "%s", reason);
    return false;
}

cp_status cp_image_load_memory(const void *data, size_t size, const char *name, cp_image *out)
{
    memset(out, 0, sizeof *out);
    char why[CP_WHY_SIZE];
    int w, h;
    return named(decode_memory(data, size, &w, &h, out, why), name ? name : "<memory>", why);
}

cp_status cp_image_info_memory(const void *data, size_t size, const char *name, int *w, int *h)
{
    char why[CP_WHY_SIZE];
    return named(decode_memory(data, size, w, h, NULL, why), name ? name : "<memory>", why);
}
