/* Images from untrusted files: a crafted JPEG Huffman table, truncated files
 * of every format (never partial pixels), formats we do not decode (PNM,
 * HDR, PSD) whatever their name, FIFOs and folders, pixel bombs, and PNG
 * writes that run out of disk. Each case ran wrongly on the stb-only loader
 * (segfault, uninitialised pixels, endless loop, blocked open, success
 * reported for an empty file). */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <stb_image_write.h>

#include "clinpaint/image.h"
#include "util/test_util.h"

static void assert_refused(cp_status st, const cp_image *img, const char *name)
{
    ck_assert_int_eq(st, CP_ERR_FORMAT);
    ck_assert_ptr_null(img->pixels);
    ck_assert_msg(strstr(cp_last_error(), name) != NULL, "'%s' not named in: %s", name,
                  cp_last_error());
}

/* A JPEG whose AC Huffman table declares 300 codes (the format allows 256):
 * stb_image 2.27 wrote the extra symbols past its tables. */
START_TEST(jpeg_with_oversized_huffman_table_is_refused)
{
    uint8_t j[1024];
    size_t n = 0;
#define PUT(...) do { const uint8_t b_[] = {__VA_ARGS__}; memcpy(j + n, b_, sizeof b_); n += sizeof b_; } while (0)
    PUT(0xff, 0xd8);                                /* SOI */
    PUT(0xff, 0xdb, 0, 67, 0);                      /* DQT, table 0 */
    for (int i = 0; i < 64; i++) PUT(1);
    PUT(0xff, 0xc0, 0, 11, 8, 0, 8, 0, 8, 1, 1, 0x11, 0); /* SOF0 8x8 grey */
    PUT(0xff, 0xc4, 0, 20, 0x00);                   /* DHT DC 0: one code */
    PUT(1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    uint16_t len = 2 + 1 + 16 + 300;                /* DHT AC 0: 200 + 100 codes */
    PUT(0xff, 0xc4, (uint8_t)(len >> 8), (uint8_t)len, 0x10);
    PUT(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 200, 100);
    memset(j + n, 0, 300);
    n += 300;
    PUT(0xff, 0xda, 0, 8, 1, 1, 0x00, 0, 63, 0);    /* SOS */
    for (int i = 0; i < 64; i++) PUT(0x00);
    PUT(0xff, 0xd9);                                /* EOI */
#undef PUT
    cp_image img;
    assert_refused(cp_image_load_memory(j, n, "dht.jpg", &img), &img, "dht.jpg");
    tu_write_file(tu_tmp_path("dht.jpg"), j, n);
    assert_refused(cp_image_load(tu_tmp_path("dht.jpg"), &img), &img, "dht.jpg");
}
END_TEST

/* Every prefix of a valid file either is refused or gives exactly the full
 * file's pixels (a PNG may lose its IEND, say): never made-up pixels. */
static void check_prefixes(const char *name, const char *as)
{
    size_t n;
    uint8_t *copy = (uint8_t *)tu_read_file(tu_tmp_path(name), &n);
    cp_image want, got;
    TU_OK(cp_image_load_memory(copy, n, name, &want));
    for (size_t k = 1; k < n; k++) {
        cp_status st = cp_image_load_memory(copy, k, as, &got);
        if (st == CP_OK) {
            ck_assert_msg(got.w == want.w && got.h == want.h &&
                              memcmp(got.pixels, want.pixels, (size_t)want.w * want.h * 3) == 0,
                          "%s cut to %zu of %zu bytes decoded to other pixels", name, k, n);
            cp_image_free(&got);
        } else {
            ck_assert_msg(st == CP_ERR_FORMAT, "%s cut to %zu: %s", name, k, cp_last_error());
            ck_assert_ptr_null(got.pixels);
        }
    }
    /* cut in the pixel data and named .png: an error from the file too */
    tu_write_file(tu_tmp_path(as), copy, n - n / 4);
    assert_refused(cp_image_load(tu_tmp_path(as), &got), &got, as);
    cp_image_free(&want);
    free(copy);
}

START_TEST(truncated_files_are_errors_never_pixels)
{
    enum { W = 19, H = 7 };
    uint8_t rgb[W * H * 3];
    for (int i = 0; i < W * H * 3; i++) rgb[i] = (uint8_t)(i * 37 + 11);
    ck_assert(stbi_write_bmp(tu_tmp_path("a.bmp"), W, H, 3, rgb));
    stbi_write_tga_with_rle = 0;
    ck_assert(stbi_write_tga(tu_tmp_path("a.tga"), W, H, 3, rgb));
    stbi_write_tga_with_rle = 1;
    ck_assert(stbi_write_tga(tu_tmp_path("rle.tga"), W, H, 3, rgb));
    ck_assert(stbi_write_jpg(tu_tmp_path("a.jpg"), W, H, 3, rgb, 90));
    cp_image img = {W, H, rgb};
    TU_OK(cp_image_write_png(tu_tmp_path("a.png"), &img));
    static const uint8_t gif[] = {'G', 'I', 'F', '8', '9', 'a', 2, 0, 2, 0, 0x80, 0, 0, 0xff, 0,
                                  0, 0, 0, 0xff, ',', 0, 0, 0, 0, 2, 0, 2, 0, 0, 2, 3, 0x44,
                                  0x34, 0x05, 0, ';'};
    tu_write_file(tu_tmp_path("a.gif"), gif, sizeof gif);
    const char *names[] = {"a.bmp", "a.tga", "rle.tga", "a.jpg", "a.png", "a.gif"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) check_prefixes(names[i], "cut.png");
}
END_TEST

/* The example: a PPM header promising 64×64 and 3 bytes of pixels. */
START_TEST(pnm_hdr_psd_are_unsupported_whatever_the_name)
{
    cp_image img;
    static const char ppm[] = "P6\n64 64\n255\n\x01\x02\x03";
    tu_write_file(tu_tmp_path("z.png"), ppm, sizeof ppm - 1);
    assert_refused(cp_image_load(tu_tmp_path("z.png"), &img), &img, "z.png");
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "unsupported image format"));
    static const char pgm[] = "P5 4 4 255 abcdefghijklmnop";
    assert_refused(cp_image_load_memory(pgm, sizeof pgm - 1, "g.pgm", &img), &img, "g.pgm");
    static const uint8_t psd[] = {'8', 'B', 'P', 'S', 0, 1, 0, 0, 0, 0, 0, 0, 0, 3,
                                  0, 0, 0, 8, 0, 0, 0, 8, 0, 8, 0, 3};
    assert_refused(cp_image_load_memory(psd, sizeof psd, "p.psd", &img), &img, "p.psd");
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "unsupported image format"));
}
END_TEST

static void on_alarm(int sig) { (void)sig; _exit(3); }

/* A Radiance HDR file of a few hundred bytes looped forever in stb. */
START_TEST(hdr_is_refused_at_once)
{
    signal(SIGALRM, on_alarm);
    alarm(10);
    static const char head[] = "#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 64 +X 64\n";
    char hdr[600];
    for (size_t i = 0; i < sizeof hdr; i++) hdr[i] = (char)(i % 3 == 0 ? 2 : 0);
    memcpy(hdr, head, sizeof head - 1);
    tu_write_file(tu_tmp_path("sky.jpg"), hdr, sizeof hdr);
    cp_image img;
    assert_refused(cp_image_load(tu_tmp_path("sky.jpg"), &img), &img, "sky.jpg");
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "unsupported image format"));
    int w, h;
    ck_assert_int_eq(cp_image_probe(tu_tmp_path("sky.jpg"), &w, &h), CP_ERR_FORMAT);
    alarm(0);
}
END_TEST

START_TEST(fifos_and_folders_are_refused_without_blocking)
{
    signal(SIGALRM, on_alarm); /* open() on a FIFO with no writer blocks */
    alarm(10);
    ck_assert_int_eq(mkfifo(tu_tmp_path("pipe.png"), 0600), 0);
    cp_image img;
    assert_refused(cp_image_load(tu_tmp_path("pipe.png"), &img), &img, "pipe.png");
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "not a regular file"));
    int w, h;
    ck_assert_int_eq(cp_image_probe(tu_tmp_path("pipe.png"), &w, &h), CP_ERR_FORMAT);
    ck_assert_int_eq(mkdir(tu_tmp_path("folder.png"), 0700), 0);
    assert_refused(cp_image_load(tu_tmp_path("folder.png"), &img), &img, "folder.png");
    ck_assert_int_eq(cp_image_load("/dev/zero", &img), CP_ERR_FORMAT);
    alarm(0);
}
END_TEST

static uint32_t crc32_of(const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
    }
    return ~c;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

/* A PNG header claiming w×h (16-bit RGBA) and one IDAT of zlib noise. */
static size_t png_bomb(uint8_t *out, uint32_t w, uint32_t h)
{
    memcpy(out, "\x89PNG\r\n\x1a\n", 8);
    uint8_t *c = out + 8;
    put_be32(c, 13);
    memcpy(c + 4, "IHDR", 4);
    put_be32(c + 8, w);
    put_be32(c + 12, h);
    c[16] = 16, c[17] = 6, c[18] = 0, c[19] = 0, c[20] = 0;
    put_be32(c + 21, crc32_of(c + 4, 17));
    uint8_t *d = c + 25;
    put_be32(d, 8);
    memcpy(d + 4, "IDAT\x78\x9c\x01\x02\x03\x04\x05\x06\x07", 12);
    put_be32(d + 16, crc32_of(d + 4, 12));
    return 8 + 25 + 20;
}

START_TEST(pixel_bombs_are_refused_from_the_header)
{
    uint8_t png[64];
    size_t n = png_bomb(png, 20000, 20000);
    cp_image img;
    assert_refused(cp_image_load_memory(png, n, "bomb.png", &img), &img, "bomb.png");
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "20000x20000"));
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "limit"));
    tu_write_file(tu_tmp_path("bomb.png"), png, n);
    int w, h;
    ck_assert_int_eq(cp_image_probe(tu_tmp_path("bomb.png"), &w, &h), CP_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "limit"));
    /* the budget can be lowered and raised; a header under it gets to the
     * (here corrupt) data */
    ck_assert_uint_eq(cp_image_max_pixels(), (size_t)64 << 20);
    n = png_bomb(png, 3000, 3000);
    TU_OK(cp_image_set_max_pixels(1000000));
    assert_refused(cp_image_load_memory(png, n, "b2.png", &img), &img, "b2.png");
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "limit"));
    TU_OK(cp_image_set_max_pixels(10000000));
    assert_refused(cp_image_load_memory(png, n, "b2.png", &img), &img, "b2.png");
    ck_assert_ptr_null(strstr(cp_last_error(), "limit"));
    ck_assert_int_eq(cp_image_set_max_pixels(0), CP_ERR_INVALID_ARGUMENT);
    TU_OK(cp_image_set_max_pixels(CP_IMAGE_DEFAULT_MAX_PIXELS));
    /* a 54-byte BMP claiming 7000x7000: refused by its size, not decoded */
    uint8_t bmp[54] = {'B', 'M', 54, 0, 0, 0, 0, 0, 0, 0, 54, 0, 0, 0, 40, 0, 0, 0,
                       0x58, 0x1b, 0, 0, 0x58, 0x1b, 0, 0, 1, 0, 24, 0};
    assert_refused(cp_image_load_memory(bmp, sizeof bmp, "big.bmp", &img), &img, "big.bmp");
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "truncated"));
}
END_TEST

static int count_entries(const char *path)
{
    DIR *d = opendir(path);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* A full disk, played by RLIMIT_FSIZE in a child: the write fails with
 * CP_ERR_IO naming the file, and neither it nor a temporary is left. */
START_TEST(png_write_to_a_full_disk_fails_and_leaves_nothing)
{
    enum { W = 200, H = 200 };
    cp_image img;
    TU_OK(cp_image_alloc(W, H, &img));
    uint32_t x = 12345;
    for (size_t i = 0; i < (size_t)W * H * 3; i++) { /* noise: does not compress */
        x = x * 1664525u + 1013904223u;
        img.pixels[i] = (uint8_t)(x >> 24);
    }
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit lim = {4096, 4096};
        if (setrlimit(RLIMIT_FSIZE, &lim) != 0) _exit(10);
        cp_status st = cp_image_write_png(tu_tmp_path("full.png"), &img);
        if (st != CP_ERR_IO) _exit(11);
        if (!strstr(cp_last_error(), "full.png")) _exit(12);
        _exit(0);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
    ck_assert_int_eq(count_entries(tu_tmp), 0);
    /* without the limit the same write works */
    TU_OK(cp_image_write_png(tu_tmp_path("full.png"), &img));
    cp_image back;
    TU_OK(cp_image_load(tu_tmp_path("full.png"), &back));
    ck_assert_mem_eq(back.pixels, img.pixels, (size_t)W * H * 3);
    ck_assert_int_eq(count_entries(tu_tmp), 1);
    cp_image_free(&back);
    cp_image_free(&img);
}
END_TEST

/* The CLI's budget option and variable: bad values are usage errors. */
START_TEST(cli_pixel_budget_option)
{
    const char *bin = getenv("CLINPAINT_BIN");
    if (!bin) return; /* run outside ctest */
    char cmd[8192];
    const char *cases[][2] = {
        {"", "--max-megapixels 0 synth --help"},
        {"", "--max-megapixels"},
        {"CLINPAINT_MAX_MEGAPIXELS=lots ", "synth --help"},
        {"CLINPAINT_MAX_MEGAPIXELS=99999 ", "synth --help"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        snprintf(cmd, sizeof cmd, "%s'%s' %s >/dev/null 2>&1", cases[i][0], bin, cases[i][1]);
        int rc = system(cmd);
        ck_assert_msg(WIFEXITED(rc) && WEXITSTATUS(rc) == 2, "%s -> %d", cmd, rc);
    }
    snprintf(cmd, sizeof cmd, "CLINPAINT_MAX_MEGAPIXELS=8 '%s' --max-megapixels=256 synth --help >/dev/null 2>&1", bin);
    int rc = system(cmd);
    ck_assert_msg(WIFEXITED(rc) && WEXITSTATUS(rc) == 0, "%s -> %d", cmd, rc);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("image_safety");
    TCase *tc = tcase_create("image_safety");
    tcase_add_checked_fixture(tc, tu_tmp_setup, tu_tmp_teardown);
    tcase_add_test(tc, jpeg_with_oversized_huffman_table_is_refused);
    tcase_add_test(tc, truncated_files_are_errors_never_pixels);
    tcase_add_test(tc, pnm_hdr_psd_are_unsupported_whatever_the_name);
    tcase_add_test(tc, hdr_is_refused_at_once);
    tcase_add_test(tc, fifos_and_folders_are_refused_without_blocking);
    tcase_add_test(tc, pixel_bombs_are_refused_from_the_header);
    tcase_add_test(tc, png_write_to_a_full_disk_fails_and_leaves_nothing);
    tcase_add_test(tc, cli_pixel_budget_option);
    suite_add_tcase(s, tc);
    /* Forked per test (no OpenCL here): a decoder that crashes or hangs is
     * one failed test, not the end of the suite. */
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_FORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
