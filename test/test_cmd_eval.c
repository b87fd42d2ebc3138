/* clinpaint eval: the metrics with their protocol and the mean-fill and
 * diffusion floors, as text and as JSON, as they are and re-framed
 * (--framing, also in grayscale), the images written out with --dump; usage errors, bad data folders and bad models. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "clinpaint/checkpoint.h"
#include "clinpaint/dataset.h"
#include "clinpaint/image.h"
#include "clinpaint/mask.h"
#include "clinpaint/metrics.h"
#include "clinpaint/synth.h"
#include "util/cli_run.h"
#include "util/test_util.h"

#define S 32
#define COUNT 60

static char *work, *model, *data;

static char *at(const char *rel)
{
    char *p = malloc(strlen(work) + strlen(rel) + 2);
    ck_assert_ptr_nonnull(p);
    sprintf(p, "%s/%s", work, rel);
    return p;
}

static void setup_once(void)
{
    if (work) return;
    work = tu_tempdir();
    data = at("faces");
    TU_OK(cp_synth_write_dataset(data, COUNT, S, 2));
    model = at("model.safetensors");
    const cp_meta_entry meta[] = {{"step", "0"}, {"epoch", "0"}, {"mask", "center"}, {"ctx_weight", "0.1"}};
    tu_write_small_model(model, S, 11, meta, 4);
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
    tu_cli_result r = RUN("eval", "--help");
    ck_assert_int_eq(r.exit_code, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "usage: clinpaint eval"));
    tu_cli_free(&r);
    r = RUN("eval", "--data", data);
    expect(&r, 2, "--model");
    r = RUN("eval", "--model", model);
    expect(&r, 2, "--data");
    r = RUN("eval", "--model", model, "--data", data, "--bogus");
    expect(&r, 2, "unknown option '--bogus'");
    r = RUN("eval", "--model", model, "--data", data, "--split", "half");
    expect(&r, 2, "--split");
    r = RUN("eval", "--model", model, "--data", data, "--batch", "-3");
    expect(&r, 2, "--batch");
    r = RUN("eval", "--model", model, "--data", data, "--max-images", "0");
    expect(&r, 2, "--max-images");
    r = RUN("eval", "--model", model, "--data", data, "stray");
    expect(&r, 2, "unexpected argument 'stray'");
}
END_TEST

START_TEST(bad_data_and_model_refused)
{
    setup_once();
    char *missing = at("no-such-folder");
    tu_cli_result r = RUN("eval", "--model", model, "--data", missing);
    ck_assert_int_ne(r.exit_code, 0);
    expect(&r, 1, "no-such-folder");
    char *empty = at("empty");
    ck_assert_int_eq(mkdir(empty, 0755), 0);
    r = RUN("eval", "--model", model, "--data", empty);
    ck_assert_int_ne(r.exit_code, 0);
    ck_assert_ptr_nonnull(strstr(r.err, "empty"));
    tu_cli_free(&r);
    /* a PNG as the model */
    char png[1200];
    snprintf(png, sizeof png, "%s/face_000000.png", data);
    r = RUN("eval", "--model", png, "--data", data);
    expect(&r, 1, "face_000000.png");
    char *nomodel = at("nothing.safetensors");
    r = RUN("eval", "--model", nomodel, "--data", data);
    expect(&r, 1, "nothing.safetensors");
    free(missing);
    free(empty);
    free(nomodel);
}
END_TEST

START_TEST(text_report_has_protocol_metrics_and_floor)
{
    setup_once();
    tu_cli_result r = RUN("eval", "--model", model, "--data", data);
    ck_assert_msg(r.exit_code == 0, "exit %d: %s", r.exit_code, r.err);
    const char *want[] = {"split test", "mean-fill floor", "hole PSNR (dB)", "PSNR (dB)", "SSIM",
                          "hole L1", "L_rec", "L_adv", "L_D", "[0,255] clipped, not rounded",
                          "per-image averages", "mask       center", "size 32x32", "model.safetensors"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        ck_assert_msg(strstr(r.out, want[i]), "stdout lacks '%s':\n%s", want[i], r.out);
    tu_cli_free(&r);
}
END_TEST

static double num(cJSON *o, const char *key)
{
    cJSON *v = cJSON_GetObjectItem(o, key);
    ck_assert_msg(cJSON_IsNumber(v), "'%s' is not a number", key);
    return v->valuedouble;
}

START_TEST(json_parses_and_floor_matches_library)
{
    setup_once();
    tu_cli_result r = RUN("eval", "--model", model, "--data", data, "--json", "--split", "all",
                          "--max-images", "20", "--batch", "8");
    ck_assert_msg(r.exit_code == 0, "exit %d: %s", r.exit_code, r.err);
    cJSON *j = cJSON_Parse(r.out);
    ck_assert_msg(j != NULL, "not JSON: %s", r.out);
    ck_assert_str_eq(cJSON_GetObjectItem(j, "split")->valuestring, "all");
    ck_assert_str_eq(cJSON_GetObjectItem(j, "mask")->valuestring, "center");
    ck_assert(cJSON_IsString(cJSON_GetObjectItem(j, "protocol")));
    ck_assert(cJSON_IsString(cJSON_GetObjectItem(j, "device")));
    ck_assert_int_eq((int)num(j, "images"), 20);
    ck_assert_int_eq((int)num(j, "size"), S);
    cJSON *mo = cJSON_GetObjectItem(j, "model");
    ck_assert_int_eq((int)num(mo, "size"), S);
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(mo, "widths")), 6);
    cJSON *m = cJSON_GetObjectItem(j, "metrics"), *f = cJSON_GetObjectItem(j, "mean_fill");
    ck_assert_ptr_nonnull(m);
    ck_assert_ptr_nonnull(f);
    const char *keys[] = {"hole_psnr", "psnr", "ssim", "hole_l1"};
    for (int k = 0; k < 4; k++) {
        double a = num(m, keys[k]), b = num(f, keys[k]);
        ck_assert(isfinite(a) && isfinite(b));
    }
    ck_assert(num(m, "L_rec") > 0);
    ck_assert(num(m, "L_adv") > 0);
    ck_assert(num(m, "L_D") > 0);
    ck_assert(num(m, "ssim") <= 1.0);
    ck_assert(num(m, "hole_psnr") < num(m, "psnr")); /* the known pixels are exact */

    /* The floor, recomputed here: mean fill of the first 20 images (file
     * order) with the center mask. */
    cp_dataset *ds;
    TU_OK(cp_dataset_open(data, CP_SPLIT_ALL, &ds));
    float *mask = malloc(sizeof *mask * S * S), *x = malloc(sizeof *x * 3 * S * S),
          *fill = malloc(sizeof *fill * 3 * S * S);
    uint8_t *rgb = malloc(3 * S * S);
    cp_rng rng;
    cp_rng_seed(&rng, 0, 0);
    TU_OK(cp_mask_generate(CP_MASK_CENTER, S, &rng, mask));
    cp_metrics_acc acc;
    cp_metrics_init(&acc);
    for (size_t i = 0; i < 20; i++) {
        TU_OK(cp_dataset_load(ds, i, S, rgb));
        cp_rgb_to_chw(rgb, S, 0, x);
        TU_OK(cp_mean_fill(x, mask, S, fill));
        TU_OK(cp_metrics_add(&acc, fill, x, mask, S));
    }
    cp_metrics want;
    TU_OK(cp_metrics_result(&acc, &want));
    ck_assert_double_eq_tol(num(f, "hole_psnr"), want.hole_psnr, 1e-6);
    ck_assert_double_eq_tol(num(f, "psnr"), want.psnr, 1e-6);
    ck_assert_double_eq_tol(num(f, "ssim"), want.ssim, 1e-9);
    ck_assert_double_eq_tol(num(f, "hole_l1"), want.hole_l1, 1e-6);
    free(mask);
    free(x);
    free(fill);
    free(rgb);
    cp_dataset_free(ds);
    cJSON_Delete(j);
    tu_cli_free(&r);

    /* The default split is the test split: about a tenth of the images. */
    r = RUN("eval", "--model", model, "--data", data, "--json", "--mask", "face");
    ck_assert_msg(r.exit_code == 0, "exit %d: %s", r.exit_code, r.err);
    j = cJSON_Parse(r.out);
    ck_assert_ptr_nonnull(j);
    ck_assert_str_eq(cJSON_GetObjectItem(j, "split")->valuestring, "test");
    ck_assert_str_eq(cJSON_GetObjectItem(j, "mask")->valuestring, "face");
    int n = (int)num(j, "images");
    ck_assert(n >= 1 && n < COUNT / 2);
    cJSON_Delete(j);
    tu_cli_free(&r);
}
END_TEST

/* The diffusion floor of the first `count` images (file order) of the
 * whole folder with the center mask, re-framed as eval --framing does. */
static cp_metrics diffusion_floor(size_t count, float zoom, float shift)
{
    cp_dataset *ds;
    TU_OK(cp_dataset_open(data, CP_SPLIT_ALL, &ds));
    float *mask = malloc(sizeof *mask * S * S), *x = malloc(sizeof *x * 3 * S * S),
          *fill = malloc(sizeof *fill * 3 * S * S);
    uint8_t *rgb = malloc(3 * S * S), *framed = malloc(3 * S * S);
    cp_rng rng;
    cp_rng_seed(&rng, 0, 0);
    TU_OK(cp_mask_generate(CP_MASK_CENTER, S, &rng, mask));
    cp_metrics_acc acc;
    cp_metrics_init(&acc);
    for (size_t i = 0; i < count; i++) {
        TU_OK(cp_dataset_load(ds, i, S, rgb));
        float a = (float)i * 2.39996323f;
        cp_framing f = {zoom, shift * cosf(a), shift * sinf(a), 0};
        cp_reframe_rgb(rgb, S, &f, framed);
        cp_rgb_to_chw(framed, S, 0, x);
        TU_OK(cp_diffusion_fill(x, mask, S, fill));
        TU_OK(cp_metrics_add(&acc, fill, x, mask, S));
    }
    cp_metrics r;
    TU_OK(cp_metrics_result(&acc, &r));
    free(mask);
    free(x);
    free(fill);
    free(rgb);
    free(framed);
    cp_dataset_free(ds);
    return r;
}

static cJSON *eval_json(const char *framing)
{
    tu_cli_result r = framing ? RUN("eval", "--model", model, "--data", data, "--json", "--split", "all",
                                    "--max-images", "20", "--framing", framing)
                              : RUN("eval", "--model", model, "--data", data, "--json", "--split", "all",
                                    "--max-images", "20");
    ck_assert_msg(r.exit_code == 0, "exit %d: %s", r.exit_code, r.err);
    cJSON *j = cJSON_Parse(r.out);
    ck_assert_msg(j != NULL, "not JSON: %s", r.out);
    tu_cli_free(&r);
    return j;
}

START_TEST(framing_reframes_and_diffusion_floor)
{
    setup_once();
    const char *bad[] = {"zoom=0.1", "shift=0.1", "zoom=1.3,shift=0.9", "zoom=abc", "zoom=1.3,",
                         "zoom=1,zoom=2", "zoom=1.3,tilt=2", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tu_cli_result r = RUN("eval", "--model", model, "--data", data, "--framing", bad[i]);
        expect(&r, 2, "--framing");
    }
    cJSON *plain = eval_json(NULL), *same = eval_json("zoom=1"), *tight = eval_json("zoom=1.3,shift=0.05");
    const char *keys[] = {"hole_psnr", "psnr", "ssim", "hole_l1"};
    /* zoom 1 without a shift re-frames nothing */
    for (int k = 0; k < 4; k++) {
        ck_assert_double_eq(num(cJSON_GetObjectItem(plain, "metrics"), keys[k]),
                            num(cJSON_GetObjectItem(same, "metrics"), keys[k]));
        ck_assert_double_eq(num(cJSON_GetObjectItem(plain, "diffusion_fill"), keys[k]),
                            num(cJSON_GetObjectItem(same, "diffusion_fill"), keys[k]));
    }
    ck_assert(num(cJSON_GetObjectItem(plain, "metrics"), "hole_psnr") !=
              num(cJSON_GetObjectItem(tight, "metrics"), "hole_psnr"));
    cJSON *fr = cJSON_GetObjectItem(tight, "framing");
    ck_assert_double_eq_tol(num(fr, "zoom"), 1.3, 1e-6);
    ck_assert_double_eq_tol(num(fr, "shift"), 0.05, 1e-6);
    /* the floors, recomputed here on the re-framed images */
    cp_metrics want = diffusion_floor(20, 1.3f, 0.05f);
    cJSON *df = cJSON_GetObjectItem(tight, "diffusion_fill");
    ck_assert_double_eq_tol(num(df, "hole_psnr"), want.hole_psnr, 1e-6);
    ck_assert_double_eq_tol(num(df, "ssim"), want.ssim, 1e-9);
    /* smooth synthetic faces: diffusion beats the mean colour */
    ck_assert(num(df, "hole_psnr") > num(cJSON_GetObjectItem(tight, "mean_fill"), "hole_psnr"));
    cJSON_Delete(plain);
    cJSON_Delete(same);
    cJSON_Delete(tight);
    tu_cli_result r = RUN("eval", "--model", model, "--data", data, "--max-images", "8", "--split",
                          "all", "--framing", "shift=0.1,zoom=0.8");
    ck_assert_msg(r.exit_code == 0, "exit %d: %s", r.exit_code, r.err);
    ck_assert_msg(strstr(r.out, "diffusion floor") && strstr(r.out, "framing    zoom 0.8, shift 0.1") &&
                      strstr(r.out, "the diffusion fill in the hole"),
                  "stdout: %s", r.out);
    tu_cli_free(&r);
}
END_TEST

/* --framing ...,gray evaluates grayscale images and --dump writes exactly
 * the images, masks and composites evaluated, into a new folder only. */
START_TEST(gray_framing_and_dump)
{
    setup_once();
    const char *bad[] = {"gray,gray", "shift=0.1,gray", "grey", "gray=1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tu_cli_result r = RUN("eval", "--model", model, "--data", data, "--framing", bad[i]);
        expect(&r, 2, "--framing");
    }
    char *dir = at("dump/one");
    tu_cli_result r = RUN("eval", "--model", model, "--data", data, "--json", "--split", "all", "--max-images",
                          "6", "--framing", "zoom=1.3,gray", "--dump", dir);
    ck_assert_msg(r.exit_code == 0, "exit %d: %s", r.exit_code, r.err);
    cJSON *j = cJSON_Parse(r.out);
    ck_assert_ptr_nonnull(j);
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "framing"), "gray")));
    cJSON_Delete(j);
    tu_cli_free(&r);
    cp_dataset *ds;
    TU_OK(cp_dataset_open(data, CP_SPLIT_ALL, &ds));
    uint8_t rgb[3 * S * S], want[3 * S * S], first[3 * S * S];
    for (int i = 0; i < 7; i++) {
        char path[1400];
        cp_image im[3] = {{0}};
        const char *what[3] = {"image", "mask", "model"};
        for (int w = 0; w < 3; w++) {
            snprintf(path, sizeof path, "%s/%05d_%s.png", dir, i, what[w]);
            cp_status st = cp_image_load(path, &im[w]);
            if (i == 6) { /* six images asked for: no seventh */
                ck_assert_int_ne(st, CP_OK);
                continue;
            }
            TU_OK(st);
            ck_assert(im[w].w == S && im[w].h == S);
        }
        if (i == 6) break;
        /* the image: re-framed at zoom 1.3, then luma in all channels */
        TU_OK(cp_dataset_load(ds, (size_t)i, S, rgb));
        cp_augment_params p = {.frame = {1.3f, 0, 0, 0}, .reframe = true, .gray = true,
                               .brightness = 1, .contrast = 1, .saturation = 1};
        cp_augment_apply(rgb, S, &p, want);
        ck_assert_msg(memcmp(im[0].pixels, want, sizeof want) == 0, "image %d is not the evaluated one", i);
        if (i == 0) memcpy(first, want, sizeof first);
        for (int k = 0; k < S * S; k++) {
            const uint8_t *g = im[0].pixels + 3 * k, *m = im[1].pixels + 3 * k, *y = im[2].pixels + 3 * k;
            ck_assert(g[0] == g[1] && g[1] == g[2]);
            ck_assert(m[0] == 0 || m[0] == 255);
            int row = k / S, col = k % S; /* the center mask: a square of side S/2 */
            bool hole = row >= S / 4 && row < 3 * S / 4 && col >= S / 4 && col < 3 * S / 4;
            ck_assert_int_eq(m[0], hole ? 255 : 0);
            if (!hole) ck_assert(memcmp(y, g, 3) == 0); /* the composite keeps known pixels */
        }
        for (int w = 0; w < 3; w++) cp_image_free(&im[w]);
    }
    cp_dataset_free(ds);
    /* a folder that holds anything is refused, and left as it was */
    r = RUN("eval", "--model", model, "--data", data, "--split", "all", "--max-images", "2", "--dump", dir);
    ck_assert_int_ne(r.exit_code, 0);
    ck_assert_msg(strstr(r.err, "not empty"), "stderr: %s", r.err);
    tu_cli_free(&r);
    char path[1400];
    snprintf(path, sizeof path, "%s/00000_image.png", dir);
    cp_image again;
    TU_OK(cp_image_load(path, &again));
    ck_assert(again.w == S && again.h == S && memcmp(again.pixels, first, sizeof first) == 0);
    cp_image_free(&again);
    free(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cmd_eval");
    TCase *tc = tcase_create("eval");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, usage_errors_exit_2);
    tcase_add_test(tc, bad_data_and_model_refused);
    tcase_add_test(tc, text_report_has_protocol_metrics_and_floor);
    tcase_add_test(tc, json_parses_and_floor_matches_library);
    tcase_add_test(tc, framing_reframes_and_diffusion_floor);
    tcase_add_test(tc, gray_framing_and_dump);
    suite_add_tcase(s, tc);
    int rc = tu_run_suite(s);
    tu_rmdir(work);
    free(work);
    free(model);
    free(data);
    return rc;
}
