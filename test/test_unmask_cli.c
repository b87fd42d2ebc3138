/* The unmask workflow's commands on a tiny maskified set made here:
 * `train --task detect` (run folder, samples, metrics, resume, usage
 * errors), `unmask` (outputs, faces without a mask unchanged, the face box
 * and grayscale fill, never writing over inputs, usage errors), and cp_unmask_hole (threshold, resampling,
 * dilation). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clinpaint/image.h"
#include "clinpaint/maskify.h"
#include "clinpaint/synth.h"
#include "clinpaint/unmask.h"
#include "util/cli_run.h"
#include "util/test_util.h"

static char *work;

static char *at(const char *rel)
{
    size_t n = strlen(work) + strlen(rel) + 2;
    char *p = malloc(n);
    ck_assert_ptr_nonnull(p);
    snprintf(p, n, "%s/%s", work, rel);
    return p;
}

static bool exists(const char *rel)
{
    char *p = at(rel);
    struct stat sb;
    bool ok = stat(p, &sb) == 0;
    free(p);
    return ok;
}

#define RUN(...) tu_cli_run((const char *const[]){__VA_ARGS__, NULL}, NULL)

static void expect(tu_cli_result *r, int code, const char *in_err)
{
    ck_assert_msg(r->exit_code == code, "exit %d, want %d; stdout: %s; stderr: %s", r->exit_code,
                  code, r->out, r->err);
    if (in_err) ck_assert_msg(strstr(r->err, in_err), "stderr lacks '%s': %s", in_err, r->err);
    tu_cli_free(r);
}

/* 40 synthetic faces at 32 px, maskified; a detector trained 1 epoch and
 * a small context encoder, both untrained enough to be fast. */
static void setup_once(void)
{
    if (work) return;
    work = tu_tempdir();
    char *faces = at("faces"), *mk = at("mk");
    ck_assert_int_eq(mkdir(faces, 0755), 0);
    uint8_t rgb[32 * 32 * 3];
    for (int i = 0; i < 40; i++) {
        char rel[64];
        snprintf(rel, sizeof rel, "faces/f%02d.png", i);
        TU_OK(cp_synth_face(3, (uint64_t)i, 32, rgb));
        cp_image img = {32, 32, rgb};
        char *p = at(rel);
        TU_OK(cp_image_write_png(p, &img));
        free(p);
    }
    cp_maskify_options o = cp_maskify_defaults();
    o.size = 32;
    cp_maskify_result res;
    TU_OK(cp_maskify_folder(faces, mk, &o, &res));
    ck_assert_uint_eq(res.written, 40);
    char *ce = at("ce.safetensors");
    tu_write_small_model(ce, 32, 7, NULL, 0);
    free(ce);
    free(faces);
    free(mk);
}

START_TEST(train_detect_run_folder)
{
    setup_once();
    char *mk = at("mk"), *run = at("run");
    tu_cli_result r = RUN("train", "--task", "detect", "--data", mk, "--out", run, "--size", "32",
                          "--widths", "4,8,8", "--batch", "4", "--epochs", "1");
    ck_assert_msg(r.exit_code == 0, "stderr: %s", r.err);
    ck_assert_ptr_nonnull(strstr(r.err, "test IoU"));
    ck_assert_ptr_nonnull(strstr(r.out, "finished after"));
    tu_cli_free(&r);
    static const char *const files[] = {"run/config.json", "run/log.csv", "run/loss.svg",
                                        "run/metrics.csv", "run/samples/epoch_001.png",
                                        "run/ckpt/last.safetensors", "run/ckpt/best.safetensors"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        ck_assert_msg(exists(files[i]), "missing %s", files[i]);
    /* The grid: rows of image | predicted mask | true mask. */
    char *grid = at("run/samples/epoch_001.png");
    cp_image g;
    TU_OK(cp_image_load(grid, &g));
    ck_assert_int_eq(g.w, 2 + 3 * (32 + 2));
    cp_image_free(&g);
    free(grid);
    /* A second run into the same folder is refused; --resume goes on. */
    r = RUN("train", "--task", "detect", "--data", mk, "--out", run);
    expect(&r, 2, "already holds a run");
    char *last = at("run/ckpt/last.safetensors");
    r = RUN("train", "--task", "detect", "--resume", last, "--data", mk, "--epochs", "2");
    ck_assert_msg(r.exit_code == 0, "stderr: %s", r.err);
    tu_cli_free(&r);
    char *metrics = at("run/metrics.csv");
    size_t len;
    char *text = tu_read_file(metrics, &len);
    ck_assert_ptr_nonnull(strstr(text, "\n1,"));
    ck_assert_ptr_nonnull(strstr(text, "\n2,"));
    free(text);
    char buf[32];
    ck_assert(cp_detector_meta(last, "epoch", buf, sizeof buf));
    ck_assert_str_eq(buf, "2");
    /* Without --epochs a resume keeps the run's 2 (not the default 10):
     * finished already, so nothing more is trained. */
    r = RUN("train", "--task", "detect", "--resume", last, "--data", mk);
    ck_assert_msg(r.exit_code == 0, "stderr: %s", r.err);
    tu_cli_free(&r);
    ck_assert(cp_detector_meta(last, "epochs", buf, sizeof buf));
    ck_assert_str_eq(buf, "2");
    ck_assert(cp_detector_meta(last, "epoch", buf, sizeof buf));
    ck_assert_str_eq(buf, "2");
    free(metrics);
    free(last);
    free(mk);
    free(run);
}
END_TEST

START_TEST(train_detect_usage_errors)
{
    setup_once();
    char *mk = at("mk"), *faces = at("faces"), *out = at("run_bad");
    tu_cli_result r = RUN("train", "--task", "detect", "--help");
    ck_assert_int_eq(r.exit_code, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "--task detect"));
    tu_cli_free(&r);
    r = RUN("train", "--task", "segment", "--data", mk);
    expect(&r, 2, "--task 'segment'");
    r = RUN("train", "--task", "detect");
    expect(&r, 2, "--data DIR is required");
    r = RUN("train", "--task", "detect", "--data", mk, "--widths", "4");
    expect(&r, 2, "--widths");
    r = RUN("train", "--task", "detect", "--data", mk, "--size", "16", "--widths", "4,4,4,4,4");
    expect(&r, 2, "too small");
    r = RUN("train", "--task", "detect", "--data", mk, "--latent", "4");
    expect(&r, 2, "unknown option");
    r = RUN("train", "--task", "detect", "--resume", "x.safetensors", "--data", mk, "--lr", "1");
    expect(&r, 2, "come from the checkpoint");
    /* Not a maskified folder: a bad --data (as train's folder without
     * images), and no run folder left behind. */
    r = RUN("train", "--task", "detect", "--data", faces, "--out", out);
    expect(&r, 2, "not a maskified folder");
    ck_assert(!exists("run_bad"));
    free(mk);
    free(faces);
    free(out);
}
END_TEST

static char *trained_detector(void)
{
    char *det = at("det/ckpt/last.safetensors");
    if (exists("det/ckpt/last.safetensors")) return det;
    char *mk = at("mk"), *run = at("det");
    tu_cli_result r = RUN("train", "--task", "detect", "--data", mk, "--out", run, "--size", "32",
                          "--widths", "4,8", "--batch", "4", "--max-steps", "3");
    ck_assert_msg(r.exit_code == 0, "stderr: %s", r.err);
    tu_cli_free(&r);
    free(mk);
    free(run);
    return det;
}

START_TEST(unmask_writes_and_keeps_unmasked_faces)
{
    setup_once();
    char *det = trained_detector(), *ce = at("ce.safetensors"), *out = at("un");
    char *in1 = at("mk/masked/f01.png"), *in2 = at("mk/original/f02.png");
    /* Threshold 0.001: every pixel is hole. */
    tu_cli_result r = RUN("unmask", "--detector", det, "--model", ce, "--threshold", "0.001",
                          "--show-mask", in1, "-o", out);
    ck_assert_msg(r.exit_code == 0, "stderr: %s", r.err);
    ck_assert_ptr_nonnull(strstr(r.out, "hole pixels"));
    tu_cli_free(&r);
    ck_assert(exists("un/f01.png") && exists("un/f01_full.png") && exists("un/f01_sbs.png"));
    /* Threshold 0.999: no mask found, the photo comes back pixel for pixel. */
    r = RUN("unmask", "--detector", det, "--model", ce, "--threshold", "0.999", in2, "-o", out);
    ck_assert_msg(r.exit_code == 0, "stderr: %s", r.err);
    ck_assert_ptr_nonnull(strstr(r.out, "no mask found"));
    ck_assert_ptr_nonnull(strstr(r.out, "written unchanged"));
    tu_cli_free(&r);
    char *full = at("un/f02_full.png");
    cp_image a, b;
    TU_OK(cp_image_load(in2, &a));
    TU_OK(cp_image_load(full, &b));
    ck_assert_int_eq(a.w, b.w);
    ck_assert_mem_eq(a.pixels, b.pixels, (size_t)a.w * a.h * 3);
    cp_image_free(&a);
    cp_image_free(&b);
    free(full);
    free(det);
    free(ce);
    free(out);
    free(in1);
    free(in2);
}
END_TEST

/* A last partial batch runs padded: the same pixels as one image at a time. */
START_TEST(unmask_partial_batch_same_result)
{
    setup_once();
    char *det = trained_detector(), *ce = at("ce.safetensors"), *o1 = at("ub1"), *o2 = at("ub2");
    char *a = at("mk/masked/f04.png"), *b = at("mk/masked/f05.png"), *c = at("mk/masked/f06.png");
    tu_cli_result r = RUN("unmask", "--detector", det, "--model", ce, "--threshold", "0.2",
                          "--batch", "2", a, b, c, "-o", o2);
    ck_assert_msg(r.exit_code == 0, "stderr: %s", r.err);
    tu_cli_free(&r);
    r = RUN("unmask", "--detector", det, "--model", ce, "--threshold", "0.2", "--batch", "1", c,
            "-o", o1);
    ck_assert_msg(r.exit_code == 0, "stderr: %s", r.err);
    tu_cli_free(&r);
    char *p1 = at("ub1/f06_full.png"), *p2 = at("ub2/f06_full.png");
    cp_image x, y;
    TU_OK(cp_image_load(p1, &x));
    TU_OK(cp_image_load(p2, &y));
    ck_assert_mem_eq(x.pixels, y.pixels, (size_t)x.w * x.h * 3);
    cp_image_free(&x);
    cp_image_free(&y);
    char *all[] = {det, ce, o1, o2, a, b, c, p1, p2};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) free(all[i]);
}
END_TEST

/* --face crops around the face box: a 32 px face placed at (40, 20) in an
 * 83×61 photo gives the same result as the face alone, pixels beyond the
 * crop and its feather are the photo's, a gray photo gets a gray fill, and
 * a box outside the photo is refused. */
static void put_face(const cp_image *tile, cp_image *photo, bool gray)
{
    TU_OK(cp_image_alloc(83, 61, photo));
    for (size_t i = 0; i < (size_t)83 * 61; i++) {
        photo->pixels[i * 3] = 200;
        photo->pixels[i * 3 + 1] = gray ? 200 : 120;
        photo->pixels[i * 3 + 2] = gray ? 200 : 60;
    }
    for (int y = 0; y < 32; y++)
        for (int x = 0; x < 32; x++) {
            const uint8_t *t = tile->pixels + ((size_t)y * 32 + x) * 3;
            uint8_t *p = photo->pixels + ((size_t)(y + 20) * 83 + x + 40) * 3;
            uint8_t g = (uint8_t)(0.299 * t[0] + 0.587 * t[1] + 0.114 * t[2] + 0.5);
            for (int c = 0; c < 3; c++) p[c] = gray ? g : t[c];
        }
}

START_TEST(unmask_face_box_and_gray)
{
    setup_once();
    char *det = trained_detector(), *ce = at("ce.safetensors"), *tile_path = at("mk/masked/f07.png");
    char *photo_path = at("photo.png"), *gray_path = at("gray.png"), *o1 = at("uf1"), *o2 = at("uf2");
    cp_image tile, photo, gray;
    TU_OK(cp_image_load(tile_path, &tile));
    put_face(&tile, &photo, false);
    put_face(&tile, &gray, true);
    TU_OK(cp_image_write_png(photo_path, &photo));
    TU_OK(cp_image_write_png(gray_path, &gray));
    /* Threshold 0.001: the whole crop is hole. W = H = 18 gives a 32 px crop at (40, 20). */
    tu_cli_result r = RUN("unmask", "--detector", det, "--model", ce, "--threshold", "0.001", "--face",
                          "47,28,18,18", photo_path, gray_path, "-o", o1);
    ck_assert_msg(r.exit_code == 0, "stderr: %s", r.err);
    ck_assert_msg(strstr(r.out, "face crop 32x32 at (40, 20)"), "stdout: %s", r.out);
    ck_assert_msg(strstr(r.out, "grayscale photo: grayscale fill"), "stdout: %s", r.out);
    tu_cli_free(&r);
    r = RUN("unmask", "--detector", det, "--model", ce, "--threshold", "0.001", tile_path, "-o", o2);
    ck_assert_msg(r.exit_code == 0, "stderr: %s", r.err);
    tu_cli_free(&r);
    char *res_photo = at("uf1/photo.png"), *res_tile = at("uf2/f07.png"), *full = at("uf1/photo_full.png");
    char *res_gray = at("uf1/gray.png");
    cp_image a, b, f, g;
    TU_OK(cp_image_load(res_photo, &a));
    TU_OK(cp_image_load(res_tile, &b));
    ck_assert_mem_eq(a.pixels, b.pixels, (size_t)32 * 32 * 3); /* the box found the face's pixels */
    TU_OK(cp_image_load(full, &f));
    ck_assert(f.w == 83 && f.h == 61);
    int changed = 0;
    for (int y = 0; y < 61; y++)
        for (int x = 0; x < 83; x++) {
            size_t i = ((size_t)y * 83 + x) * 3;
            bool near = x >= 40 - 3 && x < 72 + 3 && y >= 20 - 3 && y < 52 + 3;
            if (!near) ck_assert_msg(memcmp(f.pixels + i, photo.pixels + i, 3) == 0, "(%d, %d) changed", x, y);
            else changed += memcmp(f.pixels + i, photo.pixels + i, 3) != 0;
        }
    ck_assert_int_gt(changed, 32 * 32 / 2);
    TU_OK(cp_image_load(res_gray, &g));
    for (size_t i = 0; i < (size_t)32 * 32; i++)
        ck_assert(g.pixels[i * 3] == g.pixels[i * 3 + 1] && g.pixels[i * 3 + 1] == g.pixels[i * 3 + 2]);
    /* A box reaching outside the photo, and a malformed one. */
    r = RUN("unmask", "--detector", det, "--model", ce, "--face", "70,28,18,18", photo_path, "-o", o1);
    expect(&r, 2, "reaches outside");
    r = RUN("unmask", "--detector", det, "--model", ce, "--face", "1,2,3", photo_path, "-o", o1);
    expect(&r, 2, "--face");
    cp_image *imgs[] = {&tile, &photo, &gray, &a, &b, &f, &g};
    for (size_t i = 0; i < sizeof imgs / sizeof imgs[0]; i++) cp_image_free(imgs[i]);
    char *all[] = {det, ce, tile_path, photo_path, gray_path, o1, o2, res_photo, res_tile, full, res_gray};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) free(all[i]);
}
END_TEST

START_TEST(unmask_usage_and_safety)
{
    setup_once();
    char *det = trained_detector(), *ce = at("ce.safetensors"), *out = at("un2");
    char *in = at("mk/masked/f03.png"), *indir = at("mk/masked");
    tu_cli_result r = RUN("unmask", "--help");
    ck_assert_int_eq(r.exit_code, 0);
    tu_cli_free(&r);
    r = RUN("unmask", "--model", ce, in, "-o", out);
    expect(&r, 2, "--detector DET is required");
    r = RUN("unmask", "--detector", det, in, "-o", out);
    expect(&r, 2, "--model CE is required");
    r = RUN("unmask", "--detector", det, "--model", ce, in);
    expect(&r, 2, "-o OUT_DIR");
    r = RUN("unmask", "--detector", det, "--model", ce, "--threshold", "1.5", in, "-o", out);
    expect(&r, 2, "--threshold");
    r = RUN("unmask", "--detector", det, "--model", ce, "--dilate", "-1", in, "-o", out);
    expect(&r, 2, "--dilate");
    /* The two checkpoints swapped: refused, naming the right option. */
    r = RUN("unmask", "--detector", ce, "--model", ce, in, "-o", out);
    expect(&r, 1, "--model");
    ck_assert(!exists("un2"));
    /* Writing into the input folder would replace f03.png: nothing written. */
    r = RUN("unmask", "--detector", det, "--model", ce, in, "-o", indir);
    expect(&r, 1, "refusing to write");
    ck_assert(!exists("mk/masked/f03_full.png"));
    free(det);
    free(ce);
    free(out);
    free(in);
    free(indir);
}
END_TEST

START_TEST(eval_detect_and_unmask)
{
    setup_once();
    char *det = trained_detector(), *ce = at("ce.safetensors"), *mk = at("mk");
    tu_cli_result r = RUN("eval", "--task", "detect", "--detector", det, "--data", mk, "--split",
                          "all", "--json");
    ck_assert_msg(r.exit_code == 0, "stderr: %s", r.err);
    ck_assert_ptr_nonnull(strstr(r.out, "\"iou\""));
    ck_assert_ptr_nonnull(strstr(r.out, "\"images\":\t40"));
    tu_cli_free(&r);
    r = RUN("eval", "--task", "unmask", "--detector", det, "--model", ce, "--data", mk, "--split",
            "all", "--max-images", "6");
    ck_assert_msg(r.exit_code == 0, "stderr: %s", r.err);
    ck_assert_ptr_nonnull(strstr(r.out, "detected mask"));
    ck_assert_ptr_nonnull(strstr(r.out, "mean-fill floor"));
    ck_assert_ptr_nonnull(strstr(r.out, "6 images"));
    /* No --dilate: 1 px for the 32-px context encoder (was 3 whatever the size). */
    ck_assert_ptr_nonnull(strstr(r.out, "dilation 1 px"));
    tu_cli_free(&r);
    r = RUN("eval", "--task", "unmask", "--detector", det, "--model", ce, "--data", mk, "--split",
            "all", "--max-images", "2", "--dilate", "0", "--json");
    ck_assert_msg(r.exit_code == 0, "stderr: %s", r.err);
    ck_assert_ptr_nonnull(strstr(r.out, "\"dilate\":\t0"));
    tu_cli_free(&r);
    r = RUN("eval", "--task", "unmask", "--detector", det, "--data", mk);
    expect(&r, 2, "--model CE is required");
    r = RUN("eval", "--task", "detect", "--data", mk);
    expect(&r, 2, "--detector DET is required");
    r = RUN("eval", "--task", "detect", "--detector", det, "--model", ce, "--data", mk);
    expect(&r, 2, "--model is for --task unmask");
    r = RUN("eval", "--task", "colour", "--model", ce, "--data", mk);
    expect(&r, 2, "--task 'colour'");
    r = RUN("eval", "--task", "detect", "--detector", ce, "--data", mk);
    expect(&r, 1, "not a clinpaint detector checkpoint");
    free(det);
    free(ce);
    free(mk);
}
END_TEST

/* The whole chain in one command (a few steps of each training). */
START_TEST(demo_unmask_runs_the_chain)
{
    setup_once();
    char *out = at("demo");
    tu_cli_result r = RUN("demo", "--unmask", "--out", out, "--count", "40", "--max-steps", "3");
    ck_assert_msg(r.exit_code == 0, "stdout: %s; stderr: %s", r.out, r.err);
    ck_assert_ptr_nonnull(strstr(r.out, "demo --unmask done"));
    ck_assert_ptr_nonnull(strstr(r.out, "mean-fill floor"));
    ck_assert_ptr_nonnull(strstr(r.out, "_sbs.png"));
    tu_cli_free(&r);
    ck_assert(exists("demo/maskified/mask") && exists("demo/run_detect/ckpt/last.safetensors") &&
              exists("demo/run_inpaint/ckpt/last.safetensors"));
    r = RUN("demo", "--unmask", "--data", out);
    expect(&r, 2, "unknown option '--data'");
    free(out);
}
END_TEST

START_TEST(hole_threshold_resample_dilate)
{
    /* 4×4 probabilities, one confident pixel at (1, 2). */
    float prob[16] = {0}, mask[8 * 8];
    prob[2 * 4 + 1] = 0.9f;
    size_t n;
    TU_OK(cp_unmask_hole(prob, 4, 4, 0.5f, 0, mask, &n));
    ck_assert_uint_eq(n, 1);
    ck_assert_float_eq(mask[2 * 4 + 1], 1.0f);
    TU_OK(cp_unmask_hole(prob, 4, 4, 0.95f, 0, mask, &n));
    ck_assert_uint_eq(n, 0);
    /* A disc of radius 1: the pixel and its 4 neighbours. */
    TU_OK(cp_unmask_hole(prob, 4, 4, 0.5f, 1, mask, &n));
    ck_assert_uint_eq(n, 5);
    ck_assert_float_eq(mask[1 * 4 + 1], 1.0f);
    ck_assert_float_eq(mask[1 * 4 + 0], 0.0f);
    /* Twice the size: the 2×2 block under the pixel (and bilinear halves
     * past 0.5 next to it). */
    TU_OK(cp_unmask_hole(prob, 4, 8, 0.5f, 0, mask, &n));
    ck_assert_uint_eq(n, 4);
    ck_assert_float_eq(mask[4 * 8 + 2], 1.0f);
    ck_assert_float_eq(mask[5 * 8 + 3], 1.0f);
    ck_assert_int_eq(cp_unmask_hole(prob, 4, 4, 0.5f, -1, mask, &n), CP_ERR_INVALID_ARGUMENT);
    /* The default dilation follows the context encoder's side: 1 px per 64. */
    ck_assert_int_eq(cp_unmask_default_dilation(16), 0);
    ck_assert_int_eq(cp_unmask_default_dilation(32), 1);
    ck_assert_int_eq(cp_unmask_default_dilation(64), 1);
    ck_assert_int_eq(cp_unmask_default_dilation(128), 2);
    ck_assert_int_eq(cp_unmask_default_dilation(256), 4);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("unmask_cli");
    TCase *tc = tcase_create("unmask");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, hole_threshold_resample_dilate);
    tcase_add_test(tc, train_detect_run_folder);
    tcase_add_test(tc, train_detect_usage_errors);
    tcase_add_test(tc, unmask_writes_and_keeps_unmasked_faces);
    tcase_add_test(tc, unmask_usage_and_safety);
    tcase_add_test(tc, unmask_partial_batch_same_result);
    tcase_add_test(tc, unmask_face_box_and_gray);
    tcase_add_test(tc, eval_detect_and_unmask);
    tcase_add_test(tc, demo_unmask_runs_the_chain);
    suite_add_tcase(s, tc);
    int rc = tu_run_suite(s);
    tu_rmdir(work);
    free(work);
    return rc;
}
