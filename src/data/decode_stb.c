/* BMP, TGA and GIF (first frame) through stb_image, compiled here with only
 * those three decoders and with internal linkage (so it never clashes with a
 * system libstb). stb fills bytes past the end of a truncated file with
 * zeros or leaves them unset; here stb reads through callbacks that record
 * any read past the end, and such a decode is an error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/decode_internal.h"

#if defined(__GNUC__) || defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wall"
#pragma GCC diagnostic ignored "-Wextra"
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#endif
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_BMP
#define STBI_ONLY_TGA
#define STBI_ONLY_GIF
#define STBI_NO_STDIO
#define STBI_NO_LINEAR
#define STBI_NO_HDR
#define STBI_MAX_DIMENSIONS (1 << 16)
#include <stb_image.h>
#if defined(__GNUC__) || defined(__clang__)
#pragma GCC diagnostic pop
/* stb declares its unused API static; GCC reports that at the end of the file */
#pragma GCC diagnostic ignored "-Wunused-function"
#endif

/* The file as stb sees it through callbacks. */
typedef struct stb_source {
    const uint8_t *data;
    size_t size, pos;
    const stbi__context *ctx;
    bool overrun; /* stb asked for a byte past the end */
} stb_source;

static int src_read(void *user, char *dst, int n)
{
    stb_source *src = user;
    size_t left = src->size - src->pos;
    size_t take = (size_t)n < left ? (size_t)n : left;
    /* stb refills its own 128-byte buffer with whatever is left; only a
     * refill that finds nothing, or a direct read (stbi__getn) that comes
     * short, means the image needs bytes the file does not have. */
    bool refill = (const stbi_uc *)dst == src->ctx->buffer_start;
    if (refill ? take == 0 : take < (size_t)n) src->overrun = true;
    memcpy(dst, src->data + src->pos, take);
    src->pos += take;
    return (int)take;
}

static void src_skip(void *user, int n)
{
    stb_source *src = user;
    size_t left = src->size - src->pos;
    if (n < 0 || (size_t)n > left) {
        src->overrun = true;
        src->pos = src->size;
    } else {
        src->pos += (size_t)n;
    }
}

static int src_eof(void *user)
{
    stb_source *src = user;
    return src->pos >= src->size;
}

static const stbi_io_callbacks callbacks = {src_read, src_skip, src_eof};

static void start(stbi__context *ctx, stb_source *src, const uint8_t *data, size_t size)
{
    *src = (stb_source){data, size, 0, ctx, false};
    stbi__start_callbacks(ctx, (stbi_io_callbacks *)&callbacks, src);
}

bool cp_looks_like_tga(const uint8_t *data, size_t size)
{
    if (size < 18 || size > INT32_MAX) return false;
    stbi__context ctx;
    stbi__start_mem(&ctx, data, (int)size);
    return stbi__tga_test(&ctx) != 0;
}

static int info(cp_image_format f, stbi__context *ctx, int *w, int *h)
{
    int comp;
    switch (f) {
    case CP_FORMAT_BMP: return stbi__bmp_info(ctx, w, h, &comp);
    case CP_FORMAT_TGA: return stbi__tga_info(ctx, w, h, &comp);
    case CP_FORMAT_GIF: return stbi__gif_info(ctx, w, h, &comp);
    default: return 0;
    }
}

static stbi_uc *load(cp_image_format f, stbi__context *ctx, int *w, int *h)
{
    int comp;
    stbi__result_info ri;
    memset(&ri, 0, sizeof ri);
    ri.bits_per_channel = 8;
    switch (f) {
    case CP_FORMAT_BMP: return stbi__bmp_load(ctx, w, h, &comp, 3, &ri);
    case CP_FORMAT_TGA: return stbi__tga_load(ctx, w, h, &comp, 3, &ri);
    case CP_FORMAT_GIF: return stbi__gif_load(ctx, w, h, &comp, 3, &ri);
    default: return NULL;
    }
}

static unsigned le16(const uint8_t *p) { return p[0] | (unsigned)p[1] << 8; }

/* A lower bound on the file size for the header's w×h pixels: stb goes on
 * decoding zeros after the end of a BMP or TGA, so a small file claiming a
 * big image would cost its full size in time before the overrun shows. */
static uint64_t min_file_bytes(cp_image_format f, const uint8_t *d, size_t size, int w, int h)
{
    uint64_t px = (uint64_t)w * (uint64_t)h;
    if (f == CP_FORMAT_BMP && size >= 30) {
        unsigned hsz = le16(d + 14);
        unsigned bpp = hsz == 12 ? le16(d + 24) : le16(d + 28);
        uint64_t row = ((uint64_t)w * bpp + 31) / 32 * 4; /* rows are padded to 4 bytes */
        return row * (uint64_t)h;
    }
    if (f == CP_FORMAT_TGA && size >= 18) {
        unsigned bytes = (d[16] + 7u) / 8u, type = d[2];
        if (type < 8) return 18 + px * bytes;
        return 18 + (px + 127) / 128 * (1 + bytes); /* RLE: 128 pixels a packet at most */
    }
    return 0;
}

static const char *format_name(cp_image_format f)
{
    return f == CP_FORMAT_BMP ? "BMP" : f == CP_FORMAT_TGA ? "TGA" : "GIF";
}

cp_status cp_decode_stb(const uint8_t *data, size_t size, size_t max_pixels,
                        int *w, int *h, cp_image *out, char *why)
{
    cp_image_format f = cp_sniff_format(data, size);
    if (f != CP_FORMAT_BMP && f != CP_FORMAT_TGA && f != CP_FORMAT_GIF) {
        snprintf(why, CP_WHY_SIZE, "not a BMP, TGA or GIF file");
        return CP_ERR_FORMAT;
    }
    if (size > INT32_MAX) {
        snprintf(why, CP_WHY_SIZE, "%s file too large", format_name(f));
        return CP_ERR_FORMAT;
    }
    stbi__context ctx;
    stb_source src;
    start(&ctx, &src, data, size);
    int hw = 0, hh = 0;
    if (!info(f, &ctx, &hw, &hh) || src.overrun) {
        snprintf(why, CP_WHY_SIZE, "corrupt or truncated %s header", format_name(f));
        return CP_ERR_FORMAT;
    }
    if (hw <= 0 || hh <= 0 || (uint64_t)hw * (uint64_t)hh > max_pixels) {
        snprintf(why, CP_WHY_SIZE, "image of %dx%d pixels is over the limit of %zu pixels", hw,
                 hh, max_pixels);
        return CP_ERR_FORMAT;
    }
    *w = hw;
    *h = hh;
    if (!out) return CP_OK; /* the probe reads a prefix: sizes are checked on decoding */
    uint64_t need = min_file_bytes(f, data, size, hw, hh);
    if (size < need) {
        snprintf(why, CP_WHY_SIZE,
                 "truncated %s: %dx%d pixels need at least %llu bytes, the file has %zu",
                 format_name(f), hw, hh, (unsigned long long)need, size);
        return CP_ERR_FORMAT;
    }
    start(&ctx, &src, data, size);
    int lw = 0, lh = 0;
    stbi_uc *px = load(f, &ctx, &lw, &lh);
    cp_status st = CP_OK;
    if (!px) {
        snprintf(why, CP_WHY_SIZE, "corrupt %s (%s)", format_name(f), stbi_failure_reason());
        st = CP_ERR_FORMAT;
    } else if (src.overrun) {
        snprintf(why, CP_WHY_SIZE, "truncated %s: the file ends before the pixels do",
                 format_name(f));
        st = CP_ERR_FORMAT;
    } else if (lw != hw || lh != hh) {
        snprintf(why, CP_WHY_SIZE, "inconsistent %s header", format_name(f));
        st = CP_ERR_FORMAT;
    } else if ((st = cp_decode_alloc(lw, lh, max_pixels, out, why)) == CP_OK) {
        /* our own buffer, so that cp_image_free is plain free() */
        memcpy(out->pixels, px, (size_t)lw * lh * 3);
    }
    stbi_image_free(px);
    return st;
}
