/* The detector's colour augmentation (cp_detect_augment): the same sample
 * for the same (seed, sample id) and another for another seed; the mask
 * region changes colour far more than the rest while the mask itself is
 * untouched; training with it resumes to the same checkpoint as a run that
 * never stopped, and differs from a run without it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clinpaint/image.h"
#include "clinpaint/maskify.h"
#include "clinpaint/rng.h"
#include "clinpaint/synth.h"
#include "clinpaint/unmask.h"
#include "util/test_util.h"

enum { S = 32, PLANE = S * S };

/* A flat face-coloured image with a light-blue band over the lower half
 * (the mask), a little noise so that every pixel differs. */
static void sample(float *img, float *mask)
{
    cp_rng r;
    cp_rng_seed(&r, 5, 0);
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) {
            size_t i = (size_t)y * S + x;
            bool in = y >= S / 2 && x >= 4 && x < S - 4;
            mask[i] = in ? 1.0f : 0.0f;
            const float skin[3] = {0.6f, 0.2f, 0.0f}, blue[3] = {0.5f, 0.7f, 0.9f};
            for (int c = 0; c < 3; c++)
                img[c * PLANE + i] = (in ? blue[c] : skin[c]) + 0.05f * (cp_rng_uniform(&r) - 0.5f);
        }
}

START_TEST(deterministic_per_seed)
{
    static float base[3 * PLANE], mask[PLANE], a[3 * PLANE], b[3 * PLANE];
    sample(base, mask);
    int differ_seed = 0, differ_id = 0;
    for (uint64_t id = 0; id < 20; id++) {
        memcpy(a, base, sizeof a);
        memcpy(b, base, sizeof b);
        cp_detect_augment(7, id, S, a, mask);
        cp_detect_augment(7, id, S, b, mask);
        ck_assert_int_eq(memcmp(a, b, sizeof a), 0);
        memcpy(b, base, sizeof b);
        cp_detect_augment(8, id, S, b, mask);
        differ_seed += memcmp(a, b, sizeof a) != 0;
        memcpy(b, base, sizeof b);
        cp_detect_augment(7, id + 1000, S, b, mask);
        differ_id += memcmp(a, b, sizeof a) != 0;
        for (size_t i = 0; i < 3 * PLANE; i++) ck_assert(a[i] >= -1.0f && a[i] <= 1.0f);
    }
    ck_assert_int_ge(differ_seed, 18);
    ck_assert_int_ge(differ_id, 18);
}
END_TEST

START_TEST(mask_region_recoloured_mask_unchanged)
{
    static float base[3 * PLANE], mask[PLANE], mask0[PLANE], a[3 * PLANE];
    sample(base, mask);
    memcpy(mask0, mask, sizeof mask);
    double in_change = 0, out_change = 0;
    int recoloured = 0;
    const int n = 200;
    for (int id = 0; id < n; id++) {
        memcpy(a, base, sizeof a);
        cp_detect_augment(3, (uint64_t)id, S, a, mask);
        ck_assert_int_eq(memcmp(mask, mask0, sizeof mask), 0);
        /* Hue change: the mean colour's direction inside against outside. */
        double din = 0, dout = 0, nin = 0, nout = 0;
        for (size_t i = 0; i < PLANE; i++)
            for (int c = 0; c < 3; c++) {
                double d = fabs((double)a[c * PLANE + i] - base[c * PLANE + i]);
                if (mask[i] > 0.5f) din += d, nin++;
                else dout += d, nout++;
            }
        din /= nin;
        dout /= nout;
        in_change += din;
        out_change += dout;
        recoloured += din > 2 * dout + 0.05;
    }
    /* Most samples recolour the mask (85% draw a new look); the rest of
     * the image only follows the whole-image jitter. */
    ck_assert_msg(recoloured > n / 2, "%d of %d recoloured", recoloured, n);
    ck_assert_msg(in_change > 2 * out_change, "inside %.3f, outside %.3f", in_change / n,
                  out_change / n);
}
END_TEST

/* No mask: only the whole-image jitter, the same for any mask-free image. */
START_TEST(negatives_only_jittered)
{
    static float base[3 * PLANE], mask[PLANE], a[3 * PLANE], b[3 * PLANE];
    sample(base, mask);
    memset(mask, 0, sizeof mask);
    for (uint64_t id = 0; id < 20; id++) {
        memcpy(a, base, sizeof a);
        cp_detect_augment(3, id, S, a, mask);
        /* A uniform brightness/contrast/saturation map: two pixels of one
         * colour stay equal to each other. */
        memcpy(b, base, sizeof b);
        for (int c = 0; c < 3; c++) b[c * PLANE + 1] = b[c * PLANE + 0];
        cp_detect_augment(3, id, S, b, mask);
        for (int c = 0; c < 3; c++) ck_assert_float_eq(b[c * PLANE + 0], b[c * PLANE + 1]);
    }
    bool on = false;
    ck_assert_int_eq(cp_detect_augment_parse("colour", &on), CP_OK);
    ck_assert(on);
    ck_assert_int_eq(cp_detect_augment_parse("none", &on), CP_OK);
    ck_assert(!on);
    ck_assert_int_eq(cp_detect_augment_parse("framing", &on), CP_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq(cp_detect_augment_name(true), "colour");
}
END_TEST

/* tu_tmp/rel in a string of its own. */
static char *at(const char *rel)
{
    char *p = strdup(tu_tmp_path(rel));
    ck_assert_ptr_nonnull(p);
    return p;
}

static void make_data(void)
{
    char *faces = at("faces"), *mk = at("mk");
    ck_assert_int_eq(mkdir(faces, 0755), 0);
    uint8_t rgb[S * S * 3];
    for (int i = 0; i < 24; i++) {
        char rel[64];
        snprintf(rel, sizeof rel, "faces/f%02d.png", i);
        TU_OK(cp_synth_face(3, (uint64_t)i, S, rgb));
        cp_image img = {S, S, rgb};
        char *p = at(rel);
        TU_OK(cp_image_write_png(p, &img));
        free(p);
    }
    cp_maskify_options o = cp_maskify_defaults();
    o.size = S;
    cp_maskify_result res;
    TU_OK(cp_maskify_folder(faces, mk, &o, &res));
    free(faces);
    free(mk);
}

static cp_detect_train_config small_run(const char *out, bool augment)
{
    cp_detect_train_config c = cp_detect_train_config_defaults();
    c.model.size = S;
    c.model.levels = 3;
    c.model.widths[0] = 4;
    c.model.widths[1] = 8;
    c.model.widths[2] = 8;
    snprintf(c.model.preset, sizeof c.model.preset, "custom");
    c.batch = 4;
    c.epochs = 3;
    c.seed = 11;
    c.augment = augment;
    c.data_dir = at("mk");
    c.out_dir = out;
    c.threads = 1;
    c.sample_count = 0;
    return c;
}

static char *ckpt_bytes(const char *run, size_t *n)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/ckpt/last.safetensors", run);
    return tu_read_file(path, n);
}

START_TEST(training_resumes_exactly)
{
    make_data();
    char *straight = at("straight"), *halves = at("halves"), *plain = at("plain");
    cp_detect_result res;
    /* 6 steps at once; 3 + 3 with a resume; 6 without augmentation. */
    cp_detect_train_config c = small_run(straight, true);
    c.max_steps = 6;
    TU_OK(cp_detect_train(tu_ctx(), &c, &res));
    free((char *)c.data_dir);
    c = small_run(halves, true);
    c.max_steps = 3;
    TU_OK(cp_detect_train(tu_ctx(), &c, &res));
    free((char *)c.data_dir);
    char last[1200];
    snprintf(last, sizeof last, "%s/ckpt/last.safetensors", halves);
    c = small_run(halves, true);
    c.resume = last;
    c.max_steps = 6;
    c.augment = false; /* ignored: the checkpoint says colour */
    TU_OK(cp_detect_train(tu_ctx(), &c, &res));
    ck_assert_uint_eq(res.step, 6);
    free((char *)c.data_dir);
    c = small_run(plain, false);
    c.max_steps = 6;
    TU_OK(cp_detect_train(tu_ctx(), &c, &res));
    free((char *)c.data_dir);

    size_t na, nb, nc;
    char *a = ckpt_bytes(straight, &na), *b = ckpt_bytes(halves, &nb), *p = ckpt_bytes(plain, &nc);
    ck_assert_uint_eq(na, nb);
    ck_assert_msg(memcmp(a, b, na) == 0, "the resumed run's checkpoint differs");
    /* The JSON header after the 8-byte length (which holds zero bytes). */
    ck_assert_ptr_nonnull(strstr(a + 8, "\"augment\":\"colour\""));
    ck_assert_ptr_nonnull(strstr(p + 8, "\"augment\":\"none\""));
    /* Same seed, no augmentation: other weights (so it did something). */
    ck_assert(na != nc || memcmp(a, p, na) != 0);
    free(a);
    free(b);
    free(p);
    free(straight);
    free(halves);
    free(plain);
}
END_TEST

/* A checkpoint whose augment key names no augmentation is refused on
 * resume (not trained on without it). */
START_TEST(resume_refuses_unknown_augment)
{
    make_data();
    cp_detect_train_config c = small_run(NULL, true);
    cp_detector *d;
    TU_OK(cp_detector_create(tu_ctx(), &c.model, &d));
    TU_OK(cp_detector_init(d, 1));
    char *ckpt = at("odd.safetensors"), *out = at("odd_run");
    const cp_meta_entry meta[] = {
        {"task", "detect"}, {"epoch", "0"}, {"batch_index", "1"}, {"step", "1"}, {"seed", "1"},
        {"batch", "4"}, {"epochs", "3"}, {"lr", "0.001"}, {"beta1", "0.9"}, {"beta2", "0.999"},
        {"eps", "1e-8"}, {"dice_weight", "1"}, {"negatives", "0"}, {"augment", "sepia"},
    };
    TU_OK(cp_detector_save(d, ckpt, meta, (int)(sizeof meta / sizeof meta[0])));
    cp_detector_free(d);
    c.resume = ckpt;
    c.out_dir = out;
    cp_detect_result res;
    ck_assert_int_eq(cp_detect_train(tu_ctx(), &c, &res), CP_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "augment 'sepia'"));
    free((char *)c.data_dir);
    free(ckpt);
    free(out);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("detector_augment");
    TCase *tc = tcase_create("augment");
    tcase_set_timeout(tc, 300);
    tcase_add_checked_fixture(tc, tu_tmp_setup, tu_tmp_teardown);
    tcase_add_test(tc, deterministic_per_seed);
    tcase_add_test(tc, mask_region_recoloured_mask_unchanged);
    tcase_add_test(tc, negatives_only_jittered);
    tcase_add_test(tc, training_resumes_exactly);
    tcase_add_test(tc, resume_refuses_unknown_augment);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
