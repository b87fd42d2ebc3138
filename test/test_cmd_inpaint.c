/* clinpaint inpaint: usage errors, bad model files, the files written, and
 * the paste back into the original photo (every pixel outside the hole
 * identical to the input). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clinpaint/checkpoint.h"
#include "clinpaint/image.h"
#include "clinpaint/safetensors.h"
#include "clinpaint/synth.h"
#include "util/cli_run.h"
#include "util/cli_spawn.h"
#include "util/test_util.h"

#define S 32 /* the test model's size */

static char *work; /* temp folder with the model and images */

static char *at(const char *rel)
{
    char *p = malloc(strlen(work) + strlen(rel) + 2);
    ck_assert_ptr_nonnull(p);
    sprintf(p, "%s/%s", work, rel);
    return p;
}

static bool file_exists(const char *rel)
{
    char *p = at(rel);
    struct stat sb;
    bool ok = stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
    free(p);
    return ok;
}

/* A synthetic face of side `face` centred on a w×h canvas with a colour
 * ramp around it, so that every pixel outside the crop is distinctive. */
static void write_photo(const char *rel, int w, int h, int face, uint64_t index)
{
    cp_image img;
    TU_OK(cp_image_alloc(w, h, &img));
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = img.pixels + ((size_t)y * w + x) * 3;
            p[0] = (uint8_t)(x * 7 + y);
            p[1] = (uint8_t)(y * 5);
            p[2] = (uint8_t)(x ^ y);
        }
    uint8_t *rgb = malloc((size_t)face * face * 3);
    ck_assert_ptr_nonnull(rgb);
    TU_OK(cp_synth_face(9, index, face, rgb));
    int ox = (w - face) / 2, oy = (h - face) / 2;
    for (int y = 0; y < face; y++)
        memcpy(img.pixels + ((size_t)(oy + y) * w + ox) * 3, rgb + (size_t)y * face * 3, (size_t)face * 3);
    free(rgb);
    char *p = at(rel);
    TU_OK(cp_image_write_png(p, &img));
    free(p);
    cp_image_free(&img);
}

static void write_bytes(const char *rel, const void *data, size_t n)
{
    char *p = at(rel);
    FILE *f = fopen(p, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    fclose(f);
    free(p);
}

static void *read_bytes(const char *rel, size_t *n)
{
    char *p = at(rel);
    FILE *f = fopen(p, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    void *buf = malloc(*n);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, *n, f), *n);
    fclose(f);
    free(p);
    return buf;
}

static void setup_once(void)
{
    if (work) return;
    work = tu_tempdir();
    /* A tiny model at 32 px, initialised (untrained): fast on a CPU. */
    char *ck = at("model.safetensors");
    tu_write_small_model(ck, S, 7, NULL, 0);
    free(ck);
    char *d = at("photos");
    ck_assert_int_eq(mkdir(d, 0755), 0);
    free(d);
    d = at("other");
    ck_assert_int_eq(mkdir(d, 0755), 0);
    free(d);
    write_photo("photos/wide.png", 160, 128, 128, 0);  /* crop 128 = 4·S, offset (16, 0) */
    write_photo("photos/tall.png", 96, 200, 96, 1);    /* crop 96 = 3·S, offset (0, 52) */
    write_photo("photos/small.png", 24, 20, 20, 2);    /* smaller than S: enlarged */
    write_photo("other/wide.png", 64, 64, 64, 3);      /* same base name as photos/wide */
    write_bytes("photos/broken.png", "this is not a png", 17);
}

#define RUN(...) tu_cli_run((const char *const[]){__VA_ARGS__, NULL}, NULL)

static void expect(tu_cli_result *r, int code, const char *in_err)
{
    ck_assert_msg(r->exit_code == code, "exit %d, want %d; stderr: %s", r->exit_code, code, r->err);
    if (in_err) ck_assert_msg(strstr(r->err, in_err), "stderr lacks '%s': %s", in_err, r->err);
    tu_cli_free(r);
}

START_TEST(usage_errors_exit_2)
{
    setup_once();
    char *model = at("model.safetensors"), *photos = at("photos"), *out = at("out_usage");
    tu_cli_result r = RUN("inpaint", "--help");
    ck_assert_int_eq(r.exit_code, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "usage: clinpaint inpaint"));
    tu_cli_free(&r);
    r = RUN("inpaint", photos, "-o", out);
    expect(&r, 2, "--model");
    r = RUN("inpaint", "--model", model, "-o", out);
    expect(&r, 2, "no INPUT");
    r = RUN("inpaint", "--model", model, photos);
    expect(&r, 2, "-o OUT_DIR");
    r = RUN("inpaint", "--model", model, "--frobnicate", photos, "-o", out);
    expect(&r, 2, "unknown option '--frobnicate'");
    r = RUN("inpaint", "--model", model, "--batch", "0", photos, "-o", out);
    expect(&r, 2, "--batch");
    r = RUN("inpaint", "--model", model, "--batch", "4x", photos, "-o", out);
    expect(&r, 2, "--batch");
    r = RUN("inpaint", "--model", model, photos, "-o");
    expect(&r, 2, "needs a value");
    r = RUN("inpaint", "--model", model, "--mask", "no-such-mask", photos, "-o", out);
    expect(&r, 2, "no-such-mask");
    ck_assert(!file_exists("out_usage"));
    free(model);
    free(photos);
    free(out);
}
END_TEST

START_TEST(bad_model_files_refused)
{
    setup_once();
    char *photos = at("photos"), *out = at("out_bad");
    /* a PNG renamed .safetensors */
    size_t n;
    void *png = read_bytes("photos/small.png", &n);
    write_bytes("png.safetensors", png, n);
    free(png);
    /* a truncated checkpoint */
    void *ck = read_bytes("model.safetensors", &n);
    write_bytes("truncated.safetensors", ck, n / 2);
    free(ck);
    /* a valid safetensors file without clinpaint metadata */
    cp_st_writer *w;
    TU_OK(cp_st_writer_create(&w));
    float v[4] = {1, 2, 3, 4};
    int64_t shape[1] = {4};
    TU_OK(cp_st_writer_add_f32(w, "weight", 1, shape, v));
    TU_OK(cp_st_writer_set_meta(w, "format", "pt"));
    char *plain = at("plain.safetensors");
    TU_OK(cp_st_writer_save(w, plain));
    cp_st_writer_free(w);
    free(plain);

    const char *const bad[] = {"png.safetensors", "truncated.safetensors", "plain.safetensors",
                               "missing.safetensors"};
    for (size_t i = 0; i < 4; i++) {
        char *p = at(bad[i]);
        tu_cli_result r = RUN("inpaint", "--model", p, photos, "-o", out);
        ck_assert_msg(r.exit_code == 1, "%s: exit %d; %s", bad[i], r.exit_code, r.err);
        ck_assert_msg(strstr(r.err, bad[i]), "%s: message does not name the file: %s", bad[i], r.err);
        ck_assert_str_eq(r.out, "");
        tu_cli_free(&r);
        free(p);
    }
    ck_assert(!file_exists("out_bad"));
    free(photos);
    free(out);
}
END_TEST

/* Decodes OUT file rel. */
static cp_image load(const char *rel)
{
    char *p = at(rel);
    cp_image img;
    TU_OK(cp_image_load(p, &img));
    free(p);
    return img;
}

/* Every pixel of `full` outside the hole [lo, hi)² of the crop box (side s
 * at x0, y0), grown by the feather max(3, ceil(s/S)), equals `orig`; some
 * pixels inside differ. */
static void check_paste(const char *in_rel, const char *full_rel, int lo, int hi)
{
    cp_image a = load(in_rel), b = load(full_rel);
    ck_assert_int_eq(a.w, b.w);
    ck_assert_int_eq(a.h, b.h);
    int s = a.w < a.h ? a.w : a.h, x0 = (a.w - s) / 2, y0 = (a.h - s) / 2;
    size_t changed_inside = 0;
    for (int y = 0; y < a.h; y++)
        for (int x = 0; x < a.w; x++) {
            int cx = x - x0, cy = y - y0;
            int f = (s + S - 1) / S > 3 ? (s + S - 1) / S : 3;
            bool hole = cx >= lo - f && cx < hi + f && cy >= lo - f && cy < hi + f;
            const uint8_t *p = a.pixels + ((size_t)y * a.w + x) * 3, *q = b.pixels + ((size_t)y * a.w + x) * 3;
            bool same = memcmp(p, q, 3) == 0;
            if (!hole)
                ck_assert_msg(same, "%s: pixel (%d, %d) outside the hole changed", full_rel, x, y);
            else
                changed_inside += !same;
        }
    ck_assert_msg(changed_inside > 0, "%s: nothing replaced in the hole", full_rel);
    cp_image_free(&a);
    cp_image_free(&b);
}

START_TEST(writes_results_and_pastes_back)
{
    setup_once();
    char *model = at("model.safetensors"), *photos = at("photos"), *other = at("other/wide.png");
    char *out = at("out/nested");
    tu_cli_result r = RUN("inpaint", "--model", model, "--side-by-side", "--batch", "2", photos, other,
                          "-o", out);
    ck_assert_msg(r.exit_code == 0, "exit %d: %s", r.exit_code, r.err);
    ck_assert_ptr_nonnull(strstr(r.err, "broken.png"));    /* warned */
    ck_assert_ptr_nonnull(strstr(r.out, "skipped 1"));      /* counted */
    ck_assert_ptr_nonnull(strstr(r.out, "inpainted 4 images"));
    tu_cli_free(&r);
    /* photos/ sorted: small, tall, wide; then other/wide -> wide_2 */
    const char *names[] = {"small", "tall", "wide", "wide_2"};
    const int full_w[] = {24, 96, 160, 64}, full_h[] = {20, 200, 128, 64};
    for (int i = 0; i < 4; i++) {
        char rel[128];
        snprintf(rel, sizeof rel, "out/nested/%s.png", names[i]);
        cp_image img = load(rel);
        ck_assert_int_eq(img.w, S);
        ck_assert_int_eq(img.h, S);
        cp_image_free(&img);
        snprintf(rel, sizeof rel, "out/nested/%s_full.png", names[i]);
        img = load(rel);
        ck_assert_int_eq(img.w, full_w[i]);
        ck_assert_int_eq(img.h, full_h[i]);
        cp_image_free(&img);
        snprintf(rel, sizeof rel, "out/nested/%s_sbs.png", names[i]);
        img = load(rel);
        ck_assert_int_eq(img.w, 3 * S + 4 * 2);
        ck_assert_int_eq(img.h, S + 2 * 2);
        cp_image_free(&img);
    }
    ck_assert(!file_exists("out/nested/broken.png"));
    /* The center mask is [S/4, 3S/4)² at S; at an integer factor k = s/S
     * the hole in the crop is exactly [k·S/4, k·3S/4)². */
    check_paste("photos/wide.png", "out/nested/wide_full.png", 4 * S / 4, 4 * 3 * S / 4);
    check_paste("photos/tall.png", "out/nested/tall_full.png", 3 * S / 4, 3 * 3 * S / 4);
    check_paste("other/wide.png", "out/nested/wide_2_full.png", 2 * S / 4, 2 * 3 * S / 4);
    /* The composite keeps the known pixels: its border equals the resized crop. */
    cp_image in = load("photos/wide.png"), res = load("out/nested/wide.png");
    uint8_t *crop = malloc((size_t)S * S * 3);
    TU_OK(cp_image_square_resize(&in, S, crop));
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++)
            if (x < S / 4 || x >= 3 * S / 4 || y < S / 4 || y >= 3 * S / 4)
                for (int c = 0; c < 3; c++) {
                    int d = (int)crop[((size_t)y * S + x) * 3 + c] - res.pixels[((size_t)y * S + x) * 3 + c];
                    ck_assert_msg(d >= -1 && d <= 1, "known pixel (%d, %d) changed", x, y);
                }
    free(crop);
    cp_image_free(&in);
    cp_image_free(&res);
    free(model);
    free(photos);
    free(other);
    free(out);
}
END_TEST

START_TEST(user_mask_png_and_folder)
{
    setup_once();
    /* A 64×64 mask PNG: white top-left quadrant -> [0, S/2)² at S -> [0, 64)
     * in wide's 128 crop. */
    cp_image mk;
    TU_OK(cp_image_alloc(64, 64, &mk));
    for (int y = 0; y < 32; y++) memset(mk.pixels + (size_t)y * 64 * 3, 255, 32 * 3);
    char *mp = at("mask.png");
    TU_OK(cp_image_write_png(mp, &mk));
    cp_image_free(&mk);
    char *model = at("model.safetensors"), *wide = at("photos/wide.png"), *out = at("out_mask");
    tu_cli_result r = RUN("inpaint", "--model", model, "--mask", mp, wide, "-o", out);
    ck_assert_msg(r.exit_code == 0, "exit %d: %s", r.exit_code, r.err);
    tu_cli_free(&r);
    check_paste("photos/wide.png", "out_mask/wide_full.png", 0, 64);
    /* A folder of masks matched by file name: wide has one, tall has none
     * (skipped with a warning). */
    char *md = at("masks");
    ck_assert_int_eq(mkdir(md, 0755), 0);
    char *dst = at("masks/wide.png");
    size_t n;
    void *bytes = read_bytes("mask.png", &n);
    write_bytes("masks/wide.png", bytes, n);
    free(bytes);
    char *tall = at("photos/tall.png"), *out2 = at("out_maskdir");
    r = RUN("inpaint", "--model", model, "--mask", md, wide, tall, "-o", out2);
    ck_assert_msg(r.exit_code == 0, "exit %d: %s", r.exit_code, r.err);
    ck_assert_ptr_nonnull(strstr(r.err, "tall"));
    ck_assert_ptr_nonnull(strstr(r.out, "skipped 1"));
    tu_cli_free(&r);
    check_paste("photos/wide.png", "out_maskdir/wide_full.png", 0, 64);
    ck_assert(!file_exists("out_maskdir/tall.png"));
    free(mp);
    free(md);
    free(dst);
    free(tall);
    free(out2);
    free(model);
    free(wide);
    free(out);
}
END_TEST

START_TEST(never_writes_over_its_inputs)
{
    setup_once();
    char *own = at("own");
    ck_assert_int_eq(mkdir(own, 0755), 0);
    write_photo("own/a.png", 64, 64, 64, 4);
    write_photo("own/b.png", 48, 40, 40, 5);
    size_t na, nb;
    void *a = read_bytes("own/a.png", &na), *b = read_bytes("own/b.png", &nb);
    char *model = at("model.safetensors"), *in_a = at("own/a.png");
    tu_cli_result r = RUN("inpaint", "--model", model, own, "-o", own);
    expect(&r, 1, "refusing to write");
    char *other = at("own/../own"); /* another name for the same folder */
    r = RUN("inpaint", "--model", model, in_a, "-o", other);
    expect(&r, 1, "it is the input");
    /* Byte for byte as they were, and nothing written beside them. */
    size_t na2, nb2;
    void *a2 = read_bytes("own/a.png", &na2), *b2 = read_bytes("own/b.png", &nb2);
    ck_assert(na2 == na && memcmp(a, a2, na) == 0);
    ck_assert(nb2 == nb && memcmp(b, b2, nb) == 0);
    ck_assert(!file_exists("own/a_full.png") && !file_exists("own/b_full.png"));
    free(a);
    free(b);
    free(a2);
    free(b2);
    free(model);
    free(in_a);
    free(other);
    free(own);
}
END_TEST

START_TEST(full_disk_fails_naming_the_file)
{
    setup_once();
    /* The library's PNG writer must report a full disk. */
    ck_assert(tu_png_writer_reports_full_disk());
    char *model = at("model.safetensors"), *wide = at("photos/wide.png"), *tall = at("photos/tall.png");
    char *out = at("full");
    tu_cli_opts o = {.max_file_bytes = 1500};
    tu_cli_result r = tu_cli_run_opts(
        (const char *const[]){"inpaint", "--model", model, wide, tall, "-o", out, NULL}, &o);
    ck_assert_msg(!strstr(r.out, "inpainted 2 images"), "stdout: %s", r.out);
    expect(&r, 1, out);
    free(model);
    free(wide);
    free(tall);
    free(out);
}
END_TEST

START_TEST(nothing_readable_exits_1)
{
    setup_once();
    char *model = at("model.safetensors"), *broken = at("photos/broken.png"), *out = at("out_none");
    tu_cli_result r = RUN("inpaint", "--model", model, broken, "nonexistent-file.jpg", "-o", out);
    ck_assert_int_eq(r.exit_code, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "broken.png"));
    ck_assert_ptr_nonnull(strstr(r.err, "nonexistent-file.jpg"));
    tu_cli_free(&r);
    free(model);
    free(broken);
    free(out);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cmd_inpaint");
    TCase *tc = tcase_create("inpaint");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, usage_errors_exit_2);
    tcase_add_test(tc, bad_model_files_refused);
    tcase_add_test(tc, writes_results_and_pastes_back);
    tcase_add_test(tc, user_mask_png_and_folder);
    tcase_add_test(tc, nothing_readable_exits_1);
    tcase_add_test(tc, never_writes_over_its_inputs);
    tcase_add_test(tc, full_disk_fails_naming_the_file);
    suite_add_tcase(s, tc);
    int rc = tu_run_suite(s);
    tu_rmdir(work);
    free(work);
    return rc;
}
