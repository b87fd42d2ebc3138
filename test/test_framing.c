/* Framing augmentation and the diffusion floor: the draws are a pure function of (seed, epoch,
 * position) within their documented ranges, re-framing is exact where it
 * should be, the loader's augmented batches are deterministic per seed and
 * the same after a seek, augmentation off gives today's batches bit for bit,
 * a training run with it resumes exactly, and the diffusion fill solves the
 * Laplace equation in the hole. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clinpaint/checkpoint.h"
#include "clinpaint/dataset.h"
#include "clinpaint/image.h"
#include "clinpaint/metrics.h"
#include "clinpaint/synth.h"
#include "clinpaint/train.h"
#include "util/test_util.h"

#define S 32

static char *work, *data_dir;

static void make_data(void)
{
    if (data_dir) return;
    work = tu_tempdir();
    data_dir = malloc(strlen(work) + 8);
    sprintf(data_dir, "%s/faces", work);
    TU_OK(cp_synth_write_dataset(data_dir, 48, S, 5));
}

START_TEST(draws_are_deterministic_and_in_range)
{
    int reframed = 0, gray = 0, jitter = 0;
    const int n = 4000;
    for (int i = 0; i < n; i++) {
        cp_augment_params a, b, c;
        cp_augment_draw(7, (uint64_t)i / 100, (uint64_t)i % 100, &a);
        cp_augment_draw(7, (uint64_t)i / 100, (uint64_t)i % 100, &b);
        ck_assert(memcmp(&a, &b, sizeof a) == 0);
        cp_augment_draw(8, (uint64_t)i / 100, (uint64_t)i % 100, &c);
        if (i < 50) ck_assert(memcmp(&a, &c, sizeof a) != 0); /* another seed, another draw */
        ck_assert(a.frame.zoom >= 0.7f - 1e-5f && a.frame.zoom <= 1.5f + 1e-5f);
        ck_assert(fabsf(a.frame.shift_x) <= 0.08f && fabsf(a.frame.shift_y) <= 0.08f);
        ck_assert(fabsf(a.frame.angle) <= 10.0f * 3.1416f / 180.0f);
        ck_assert(a.brightness >= 0.8f && a.brightness <= 1.2f);
        ck_assert(a.contrast >= 0.8f && a.contrast <= 1.2f);
        ck_assert(a.saturation >= 0.6f && a.saturation <= 1.4f);
        reframed += a.reframe;
        gray += a.gray;
        jitter += a.jitter;
    }
    ck_assert_msg(abs(reframed - n * 3 / 4) < n / 25, "reframed %d of %d", reframed, n);
    ck_assert_msg(abs(jitter - n * 4 / 5) < n / 25, "jitter %d of %d", jitter, n);
    ck_assert_msg(abs(gray - n * 15 / 100) < n / 25, "gray %d of %d", gray, n);
}
END_TEST

START_TEST(reframe_identity_zoom_and_gray)
{
    uint8_t src[S * S * 3], dst[S * S * 3], big[S * S * 3];
    for (int i = 0; i < S * S * 3; i++) src[i] = (uint8_t)(i * 37 + (i >> 5));
    cp_framing id = {1.0f, 0, 0, 0};
    cp_reframe_rgb(src, S, &id, dst);
    ck_assert(memcmp(src, dst, sizeof src) == 0);
    /* zoom 0.5: the source shrinks into the middle half, and what lies
     * beyond its edge is the mirror image, so the result is symmetric about
     * the source's edges: row 8 (the source's top edge, centre pixel 7.5
     * after halving) mirrors around it. Checked coarsely: the centre pixel
     * of the output is the average of the source's centre 2×2. */
    cp_framing half = {0.5f, 0, 0, 0};
    cp_reframe_rgb(src, S, &half, big);
    for (int c = 0; c < 3; c++) {
        int y = S / 2, x = S / 2;
        /* output (16.5, 16.5) -> source (16.5 − 16)·2 + 16 − 0.5 = 16.5 */
        float want = 0.25f * (src[(16 * S + 16) * 3 + c] + src[(16 * S + 17) * 3 + c] +
                              src[(17 * S + 16) * 3 + c] + src[(17 * S + 17) * 3 + c]);
        ck_assert_int_le(abs((int)big[(y * S + x) * 3 + c] - (int)lrintf(want)), 1);
    }
    /* shift by a whole number of pixels: a pure translation with reflection */
    cp_framing shift = {1.0f, 4.0f / S, 0, 0};
    cp_reframe_rgb(src, S, &shift, dst);
    for (int y = 0; y < S; y++)
        for (int x = 4; x < S; x++)
            ck_assert(memcmp(dst + (y * S + x) * 3, src + (y * S + x - 4) * 3, 3) == 0);
    for (int y = 0; y < S; y++) /* x = 3 mirrors x = 5 about the edge pixel at x = 4 */
        ck_assert(memcmp(dst + (y * S + 3) * 3, src + (y * S + 1) * 3, 3) == 0);
    /* grayscale draws give R = G = B */
    for (uint64_t pos = 0; pos < 200; pos++) {
        cp_augment_params p;
        cp_augment_draw(1, 0, pos, &p);
        if (!p.gray) continue;
        cp_augment_apply(src, S, &p, dst);
        for (int i = 0; i < S * S; i++)
            ck_assert(dst[i * 3] == dst[i * 3 + 1] && dst[i * 3 + 1] == dst[i * 3 + 2]);
    }
}
END_TEST

static cp_loader *loader(const cp_dataset *ds, uint64_t seed, int augment)
{
    cp_loader_options o = cp_loader_defaults();
    o.size = S;
    o.batch = 4;
    o.seed = seed;
    o.threads = 2;
    o.augment = augment;
    cp_loader *ld;
    TU_OK(cp_loader_create(ds, &o, &ld));
    return ld;
}

#define NB 6
#define BATCH_FLOATS (4 * 3 * S * S)

static void read_batches(cp_loader *ld, int count, float *out)
{
    for (int i = 0; i < count; i++) {
        const cp_batch *b;
        TU_OK(cp_loader_next(ld, &b));
        ck_assert_int_eq(b->n, 4);
        memcpy(out + (size_t)i * BATCH_FLOATS, b->images, sizeof *out * BATCH_FLOATS);
    }
}

START_TEST(loader_augmentation_deterministic_and_seekable)
{
    make_data();
    cp_dataset *ds;
    TU_OK(cp_dataset_open(data_dir, CP_SPLIT_TRAIN, &ds));
    /* about 10 batches per epoch; read into epoch 1 */
    static float a[NB * 2 * BATCH_FLOATS], b[NB * 2 * BATCH_FLOATS], c[NB * BATCH_FLOATS];
    cp_loader *la = loader(ds, 3, CP_AUGMENT_FRAMING);
    const uint64_t bpe = cp_loader_batches_per_epoch(la);
    ck_assert(bpe >= 8 && bpe < 11);
    read_batches(la, 12, a);
    cp_loader_free(la);
    cp_loader *lb = loader(ds, 3, CP_AUGMENT_FRAMING);
    read_batches(lb, 12, b);
    ck_assert(memcmp(a, b, sizeof a) == 0); /* same seed, same batches */
    /* resume pattern: seek to (epoch 1, batch 0) and (epoch 0, batch 7) */
    TU_OK(cp_loader_seek(lb, 1, 0));
    read_batches(lb, 2, c);
    ck_assert(memcmp(a + (size_t)bpe * BATCH_FLOATS, c, sizeof *c * 2 * BATCH_FLOATS) == 0);
    TU_OK(cp_loader_seek(lb, 0, 7));
    read_batches(lb, 3, c);
    ck_assert(memcmp(a + (size_t)7 * BATCH_FLOATS, c, sizeof *c * 3 * BATCH_FLOATS) == 0);
    cp_loader_free(lb);
    cp_loader *lc = loader(ds, 4, CP_AUGMENT_FRAMING);
    read_batches(lc, 1, c);
    ck_assert(memcmp(a, c, sizeof *c * BATCH_FLOATS) != 0);
    cp_loader_free(lc);
    cp_dataset_free(ds);
}
END_TEST

START_TEST(augmentation_off_is_todays_batches)
{
    make_data();
    cp_dataset *ds;
    TU_OK(cp_dataset_open(data_dir, CP_SPLIT_TRAIN, &ds));
    cp_loader *none = loader(ds, 3, CP_AUGMENT_NONE), *aug = loader(ds, 3, CP_AUGMENT_FRAMING);
    uint8_t rgb[S * S * 3];
    static float want[3 * S * S];
    int differ = 0;
    for (int i = 0; i < NB; i++) {
        const cp_batch *b, *g;
        TU_OK(cp_loader_next(none, &b));
        TU_OK(cp_loader_next(aug, &g));
        for (int k = 0; k < b->n; k++) {
            /* today's pipeline: the decoded crop, mirrored when flipped */
            TU_OK(cp_dataset_load(ds, b->items[k], S, rgb));
            cp_rgb_to_chw(rgb, S, b->flipped[k], want);
            ck_assert(memcmp(b->images + (size_t)k * 3 * S * S, want, sizeof want) == 0);
            ck_assert_uint_eq(g->items[k], b->items[k]); /* same order and flips */
            ck_assert_int_eq(g->flipped[k], b->flipped[k]);
            differ += memcmp(g->images + (size_t)k * 3 * S * S, want, sizeof want) != 0;
        }
    }
    ck_assert_msg(differ >= NB * 4 / 2, "only %d of %d samples augmented", differ, NB * 4);
    cp_loader_free(none);
    cp_loader_free(aug);
    cp_dataset_free(ds);
}
END_TEST

/* The parts: names round-trip, bad names are refused, and a loader with one
 * set of parts gives the full draw with the other parts turned off. */
START_TEST(augmentation_parts)
{
    for (int a = 0; a < 8; a++) {
        cp_augment back;
        const char *name = cp_augment_name((cp_augment)a);
        ck_assert_ptr_nonnull(name);
        TU_OK(cp_augment_parse(name, &back));
        ck_assert_int_eq((int)back, a);
    }
    ck_assert_ptr_null(cp_augment_name((cp_augment)8));
    cp_augment got;
    TU_OK(cp_augment_parse("gray,geometry", &got));
    ck_assert_int_eq(got, CP_AUGMENT_GEOMETRY | CP_AUGMENT_GRAY);
    TU_OK(cp_augment_parse("colour+geometry+gray", &got));
    ck_assert_int_eq(got, CP_AUGMENT_FRAMING);
    static const char *const bad[] = {"", "geometry+", "+gray", "gray+gray", "colours", "geometry,,gray",
                                      "none+gray", "framing+gray", "Gray"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(cp_augment_parse(bad[i], &got) == CP_ERR_INVALID_ARGUMENT, "'%s' accepted", bad[i]);
    ck_assert_int_eq(cp_augment_parse(NULL, &got), CP_ERR_INVALID_ARGUMENT);

    for (int i = 0; i < 200; i++) {
        cp_augment_params full, p;
        cp_augment_draw(5, 0, (uint64_t)i, &full);
        for (int parts = 0; parts < 8; parts++) {
            p = full;
            cp_augment_keep(&p, parts);
            bool geo = parts & CP_AUGMENT_GEOMETRY, col = parts & CP_AUGMENT_COLOUR;
            ck_assert(p.reframe == (geo && full.reframe));
            ck_assert(p.jitter == (col && full.jitter));
            ck_assert(p.gray == ((parts & CP_AUGMENT_GRAY) && full.gray));
            ck_assert(p.frame.zoom == (geo ? full.frame.zoom : 1.0f));
            ck_assert(p.brightness == (col ? full.brightness : 1.0f));
            ck_assert(p.saturation == (col ? full.saturation : 1.0f));
        }
    }

    make_data();
    cp_dataset *ds;
    TU_OK(cp_dataset_open(data_dir, CP_SPLIT_TRAIN, &ds));
    cp_loader_options o = cp_loader_defaults();
    o.size = S;
    o.augment = 8;
    cp_loader *ld = NULL;
    ck_assert_int_eq(cp_loader_create(ds, &o, &ld), CP_ERR_INVALID_ARGUMENT);
    const int sets[] = {CP_AUGMENT_GEOMETRY, CP_AUGMENT_COLOUR | CP_AUGMENT_GRAY};
    for (size_t s = 0; s < 2; s++) {
        ld = loader(ds, 3, sets[s]);
        uint8_t rgb[S * S * 3], aug[S * S * 3];
        static float want[3 * S * S];
        int differ = 0;
        for (uint64_t bi = 0; bi < 3; bi++) {
            const cp_batch *b;
            TU_OK(cp_loader_next(ld, &b));
            for (int k = 0; k < b->n; k++) {
                cp_augment_params p;
                cp_augment_draw(3, 0, bi * 4 + (uint64_t)k, &p);
                cp_augment_keep(&p, sets[s]);
                TU_OK(cp_dataset_load(ds, b->items[k], S, rgb));
                cp_augment_apply(rgb, S, &p, aug);
                cp_rgb_to_chw(aug, S, b->flipped[k], want);
                ck_assert_msg(memcmp(b->images + (size_t)k * 3 * S * S, want, sizeof want) == 0,
                              "parts %d: sample %d of batch %d", sets[s], k, (int)bi);
                differ += memcmp(aug, rgb, sizeof rgb) != 0;
            }
        }
        ck_assert_int_gt(differ, 4);
        cp_loader_free(ld);
    }
    cp_dataset_free(ds);
}
END_TEST

START_TEST(diffusion_fill_is_harmonic)
{
    static float x[3 * S * S], out[3 * S * S], mask[S * S];
    const size_t plane = (size_t)S * S;
    for (int y = 0; y < S; y++)
        for (int xx = 0; xx < S; xx++) {
            size_t i = (size_t)y * S + xx;
            x[i] = -0.9f + 0.05f * (float)xx;                 /* a ramp in x */
            x[plane + i] = 0.8f - 0.04f * (float)y;           /* a ramp in y */
            x[2 * plane + i] = 0.3f;                          /* constant */
            mask[i] = xx >= 8 && xx < 24 && y >= 6 && y < 20; /* a hole away from the edge */
        }
    TU_OK(cp_diffusion_fill(x, mask, S, out));
    /* linear functions are harmonic: the hole is filled back exactly */
    for (size_t i = 0; i < 3 * plane; i++)
        ck_assert_msg(fabsf(out[i] - x[i]) < 1e-3f, "value %zu: %g, want %g", i, out[i], x[i]);
    /* known pixels are copied, bit for bit, also in place */
    static float y2[3 * S * S];
    for (size_t i = 0; i < 3 * plane; i++) y2[i] = (float)((i * 7919) % 200) / 100.0f - 1.0f;
    memcpy(out, y2, sizeof out);
    TU_OK(cp_diffusion_fill(out, mask, S, out));
    for (size_t i = 0; i < plane; i++)
        for (int c = 0; c < 3; c++)
            if (!mask[i]) ck_assert(out[c * plane + i] == y2[c * plane + i]);
    /* no hole: a copy; all hole: the mean fill (0) */
    static float none[S * S], all[S * S];
    for (size_t i = 0; i < plane; i++) all[i] = 1.0f;
    TU_OK(cp_diffusion_fill(y2, none, S, out));
    ck_assert(memcmp(out, y2, sizeof out) == 0);
    TU_OK(cp_diffusion_fill(y2, all, S, out));
    for (size_t i = 0; i < 3 * plane; i++) ck_assert(out[i] == 0.0f);
    ck_assert_int_eq(cp_diffusion_fill(NULL, all, S, out), CP_ERR_INVALID_ARGUMENT);
}
END_TEST

/* ---- a run with the face mask (augmented by default) resumes exactly ---- */

static cp_train_result run_to(const char *out, uint64_t steps, const char *resume_from)
{
    make_data();
    cp_train_config c = cp_train_config_defaults();
    c.data_dir = data_dir;
    c.out_dir = out;
    c.model = (cp_model_config){"custom", S, {8, 16, 16, 16, 16, 16}, 32, false};
    c.mask_spec = "face";
    c.batch = 4;
    c.epochs = 100;
    c.seed = 3;
    c.sample_count = 2;
    c.eval_batch = 4;
    c.threads = 1;
    c.max_steps = steps;
    c.resume = resume_from;
    cp_train_result r;
    TU_OK(cp_train(tu_ctx(), &c, &r));
    return r;
}

static int log_rows(const char *out, char rows[][160], int max)
{
    char path[1400], line[512];
    snprintf(path, sizeof path, "%s/log.csv", out);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
    int n = 0;
    while (n < max && fgets(line, sizeof line, f)) {
        char *last = strrchr(line, ','); /* drop the speed column */
        snprintf(rows[n++], 160, "%.*s", (int)(last ? last - line : (long)strlen(line)), line);
    }
    fclose(f);
    return n;
}

START_TEST(augmented_training_resumes_exactly)
{
    make_data();
    char a[1200], b[1200], ckpt[1300];
    snprintf(a, sizeof a, "%s/run_whole", work);
    snprintf(b, sizeof b, "%s/run_split", work);
    run_to(a, 14, NULL);
    run_to(b, 6, NULL);
    snprintf(ckpt, sizeof ckpt, "%s/ckpt/last.safetensors", b);
    cp_checkpoint *ck;
    TU_OK(cp_checkpoint_open(ckpt, &ck));
    ck_assert_str_eq(cp_checkpoint_meta(ck, "augment"), "framing"); /* the face mask's default */
    cp_checkpoint_close(ck);
    cp_train_result r = run_to(b, 14, ckpt);
    ck_assert_uint_eq(r.step, 14);
    static char ra[32][160], rb[32][160];
    ck_assert_int_eq(log_rows(a, ra, 32), 14);
    ck_assert_int_eq(log_rows(b, rb, 32), 14);
    for (int i = 0; i < 14; i++)
        ck_assert_msg(strcmp(ra[i], rb[i]) == 0, "step %d differs:\n  whole: %s\n  split: %s", i + 1,
                      ra[i], rb[i]);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("framing");
    TCase *tc = tcase_create("augmentation");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, draws_are_deterministic_and_in_range);
    tcase_add_test(tc, reframe_identity_zoom_and_gray);
    tcase_add_test(tc, loader_augmentation_deterministic_and_seekable);
    tcase_add_test(tc, augmentation_off_is_todays_batches);
    tcase_add_test(tc, augmentation_parts);
    tcase_add_test(tc, diffusion_fill_is_harmonic);
    tcase_add_test(tc, augmented_training_resumes_exactly);
    suite_add_tcase(s, tc);
    int rc = tu_run_suite(s);
    if (work) tu_rmdir(work);
    free(work);
    free(data_dir);
    return rc;
}
