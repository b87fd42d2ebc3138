/* The mask detector (clinpaint/detector.h): its layer table, a whole-net
 * finite-difference gradient check at batch 1 and 2 (every parameter,
 * through the skips, pools, up2 and the BCE + Dice loss), training that
 * learns a toy mask, partial-batch prediction, checkpoints (round trip,
 * optimizer state, refusing other files) and bad configurations. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clinpaint/detector.h"
#include "clinpaint/safetensors.h"
#include "util/test_util.h"

static cp_detector_config small_config(int size)
{
    cp_detector_config c = {.preset = "custom", .size = size, .levels = 3, .widths = {3, 4, 5}};
    return c;
}

START_TEST(layer_table)
{
    cp_detector_config c;
    TU_OK(cp_detector_config_preset("tiny", &c));
    cp_layer_table t;
    TU_OK(cp_detector_layers(&c, &t));
    /* 4 levels: 8 encoder layers, 3 × (up2, conv3) decoder layers, the head. */
    ck_assert_int_eq(t.count, 8 + 6 + 1);
    int saved = 0, joined = 0;
    for (int i = 0; i < t.count; i++) {
        ck_assert_msg(strncmp(t.layers[i].name, "detector.", 9) == 0, "%s", t.layers[i].name);
        saved += t.layers[i].skip_save;
        joined += t.layers[i].skip_concat;
        /* A layer after a concatenation takes twice the channels. */
        if (i > 0 && t.layers[i - 1].skip_concat)
            ck_assert_int_eq(t.layers[i].c_in, 2 * t.layers[i - 1].c_out);
    }
    ck_assert_int_eq(saved, 3);
    ck_assert_int_eq(joined, 3);
    const cp_layer *head = &t.layers[t.count - 1];
    ck_assert_str_eq(head->name, "detector.head.conv3");
    ck_assert_int_eq(head->c_out, 1);
    ck_assert_int_eq(cp_layer_out_hw(head), 64);
    cp_detector *d;
    TU_OK(cp_detector_create(tu_ctx(), &c, &d));
    ck_assert_int_eq(d->net->count, 2 * t.count);
    ck_assert_ptr_nonnull(cp_model_find(d->net, "detector.dec1.conv3.weight"));
    cp_detector_free(d);

    cp_detector_config bad = small_config(16);
    bad.levels = 4; /* 16 / 8 = 2 px at the bottom */
    ck_assert_int_eq(cp_detector_config_validate(&bad), CP_ERR_INVALID_ARGUMENT);
    bad = small_config(24);
    ck_assert_int_eq(cp_detector_config_validate(&bad), CP_ERR_INVALID_ARGUMENT);
    bad = small_config(16);
    bad.widths[2] = 0;
    ck_assert_int_eq(cp_detector_config_validate(&bad), CP_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cp_detector_config_preset("huge", &bad), CP_ERR_INVALID_ARGUMENT);
}
END_TEST

/* Images in [-1, 1] with a bright square (the "mask") and its target. */
static void toy_batch(cp_rng *r, int n, int s, float *images, float *masks)
{
    for (int b = 0; b < n; b++) {
        int y0 = (int)cp_rng_range(r, 0, s / 2), x0 = (int)cp_rng_range(r, 0, s / 2);
        int side = s / 3 + (int)cp_rng_range(r, 0, s / 6);
        for (int y = 0; y < s; y++)
            for (int x = 0; x < s; x++) {
                bool in = b % 3 != 2 && y >= y0 && y < y0 + side && x >= x0 && x < x0 + side;
                masks[(size_t)(b * s + y) * s + x] = in;
                for (int c = 0; c < 3; c++)
                    images[((size_t)(b * 3 + c) * s + y) * s + x] =
                        in ? 0.6f + 0.1f * (float)c : 0.5f * cp_rng_uniform(r) - 0.6f;
            }
    }
}

static float loss_now(cp_detector_graph *t)
{
    float l;
    TU_OK(cp_graph_run_segments(t->graph, 0, 1)); /* forward and backward, no Adam */
    TU_OK(cp_graph_read_scalars(t->graph, &t->loss, 1, &l));
    return l;
}

static void gradcheck(int batch)
{
    cp_context *ctx = tu_ctx();
    cp_detector_config c = small_config(16);
    cp_detector *d;
    TU_OK(cp_detector_create(ctx, &c, &d));
    TU_OK(cp_detector_init(d, 7));
    cp_detector_train_options o = cp_detector_train_defaults();
    o.keep_grads = true;
    cp_detector_graph t;
    TU_OK(cp_detector_build_train(d, batch, &o, &t));
    cp_plan_options po = {.reuse = true, .in_place = true, .poison_freed = true, .check_writes = true};
    TU_OK(cp_graph_plan(t.graph, &po));
    cp_rng r;
    cp_rng_seed(&r, 11 + (uint64_t)batch, 0);
    size_t plane = 16 * 16;
    float *img = malloc((size_t)batch * 3 * plane * sizeof *img);
    float *msk = malloc((size_t)batch * plane * sizeof *msk);
    toy_batch(&r, batch, 16, img, msk);
    cp_tensor v;
    TU_OK(cp_graph_tensor(t.graph, t.x, &v));
    TU_OK(cp_tensor_upload(ctx, &v, img));
    TU_OK(cp_graph_tensor(t.graph, t.target, &v));
    TU_OK(cp_tensor_upload(ctx, &v, msk));
    loss_now(&t);
    int checked = 0;
    for (int i = 0; i < d->net->count; i++) {
        cp_model_tensor *mt = &d->net->tensors[i];
        ck_assert_msg(t.grad[i] != NULL, "no gradient for %s", mt->name);
        TU_OK(cp_graph_run_segments(t.graph, 0, 1));
        cp_tensor gt;
        TU_OK(cp_graph_tensor(t.graph, t.grad[i], &gt));
        float *grad = tu_download(&gt), *p = tu_download(&mt->value);
        size_t n = cp_tensor_numel(&mt->value);
        for (int k = 0; k < 4 && k < (int)n; k++) {
            size_t j = n <= 4 ? (size_t)k : (size_t)cp_rng_range(&r, 0, (int64_t)n - 1);
            const double h = 2e-3;
            float saved = p[j];
            p[j] = saved + (float)h;
            TU_OK(cp_tensor_upload(ctx, &mt->value, p));
            double lp = loss_now(&t);
            p[j] = saved - (float)h;
            TU_OK(cp_tensor_upload(ctx, &mt->value, p));
            double lm = loss_now(&t);
            p[j] = saved;
            TU_OK(cp_tensor_upload(ctx, &mt->value, p));
            double num = (lp - lm) / (2 * h), ana = grad[j];
            ck_assert_msg(fabs(num - ana) <= 3e-4 + 3e-2 * fabs(ana),
                          "batch %d: %s[%zu]: analytic %.6g, finite difference %.6g", batch,
                          mt->name, j, ana, num);
            checked++;
        }
        free(grad);
        free(p);
    }
    ck_assert_int_ge(checked, 40);
    free(img);
    free(msk);
    cp_detector_graph_free(&t);
    cp_detector_free(d);
}

START_TEST(whole_net_gradients_batch1) { gradcheck(1); }
END_TEST

START_TEST(whole_net_gradients_batch2) { gradcheck(2); }
END_TEST

/* Adam on one toy batch: the loss falls and the prediction finds the
 * square; then inference (a partial batch) gives the same probabilities. */
START_TEST(learns_a_toy_mask)
{
    cp_context *ctx = tu_ctx();
    enum { S = 16, N = 3 };
    cp_detector_config c = small_config(S);
    cp_detector *d;
    TU_OK(cp_detector_create(ctx, &c, &d));
    TU_OK(cp_detector_init(d, 3));
    cp_detector_train_options o = cp_detector_train_defaults();
    o.adam.lr = 1e-2f;
    cp_detector_graph t, inf;
    TU_OK(cp_detector_build_train(d, N, &o, &t));
    cp_plan_options po = cp_plan_defaults();
    TU_OK(cp_graph_plan(t.graph, &po));
    cp_rng r;
    cp_rng_seed(&r, 5, 0);
    float img[N * 3 * S * S], msk[N * S * S];
    toy_batch(&r, N, S, img, msk);
    float first = 0, last = 0;
    for (int k = 0; k < 60; k++) {
        TU_OK(cp_detector_train_step(d, &t, k == 0 ? img : NULL, k == 0 ? msk : NULL, &last));
        if (k == 0) first = last;
        ck_assert_msg(isfinite(last), "step %d: loss %g", k, (double)last);
    }
    ck_assert_int_eq(d->net->step_g, 60);
    ck_assert_msg(last < 0.3f * first, "loss %g -> %g", (double)first, (double)last);
    TU_OK(cp_detector_build_infer(d, 4, &inf));
    TU_OK(cp_graph_plan(inf.graph, &po));
    float prob[N * S * S];
    TU_OK(cp_detector_predict(d, &inf, img, N, prob));
    int right = 0;
    for (int i = 0; i < N * S * S; i++) right += (prob[i] > 0.5f) == (msk[i] > 0.5f);
    ck_assert_msg(right >= N * S * S * 95 / 100, "%d of %d pixels right", right, N * S * S);
    /* The training graph's own probabilities agree (no batch statistics). */
    float *trained = malloc(sizeof prob);
    cp_tensor v;
    TU_OK(cp_graph_run_segments(t.graph, 0, 1));
    TU_OK(cp_graph_tensor(t.graph, t.prob, &v));
    TU_OK(cp_tensor_download(ctx, &v, trained));
    for (int i = 0; i < N * S * S; i++) ck_assert_float_eq_tol(trained[i], prob[i], 1e-5f);
    free(trained);
    ck_assert_int_eq(cp_detector_predict(d, &inf, img, 5, prob), CP_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cp_detector_predict(d, &t, img, 1, prob), CP_ERR_INVALID_ARGUMENT);
    cp_detector_graph_free(&inf);
    cp_detector_graph_free(&t);
    cp_detector_free(d);
}
END_TEST

START_TEST(checkpoint_round_trip)
{
    cp_context *ctx = tu_ctx();
    char *dir = tu_tempdir(), path[1024], ce[1024];
    snprintf(path, sizeof path, "%s/det.safetensors", dir);
    snprintf(ce, sizeof ce, "%s/ce.safetensors", dir);
    cp_detector_config c = small_config(16);
    cp_detector *d, *back;
    TU_OK(cp_detector_create(ctx, &c, &d));
    TU_OK(cp_detector_init(d, 9));
    d->net->step_g = 42;
    const cp_meta_entry extra[] = {{"epoch", "3"}};
    TU_OK(cp_detector_save(d, path, extra, 1));
    char buf[64];
    ck_assert(cp_detector_meta(path, "epoch", buf, sizeof buf));
    ck_assert_str_eq(buf, "3");
    ck_assert(cp_detector_meta(path, "format", buf, sizeof buf));
    ck_assert_str_eq(buf, CP_DETECTOR_FORMAT);
    ck_assert(!cp_detector_meta(path, "nothing", buf, sizeof buf));
    TU_OK(cp_detector_load(ctx, path, true, &back));
    ck_assert_int_eq(back->net->step_g, 42);
    ck_assert_int_eq(back->cfg.levels, 3);
    ck_assert_int_eq(back->cfg.widths[2], 5);
    ck_assert_int_eq(back->net->count, d->net->count);
    for (int i = 0; i < d->net->count; i++) {
        float *a = tu_download(&d->net->tensors[i].value), *b = tu_download(&back->net->tensors[i].value);
        ck_assert_str_eq(d->net->tensors[i].name, back->net->tensors[i].name);
        ck_assert_int_eq(memcmp(a, b, cp_tensor_numel(&d->net->tensors[i].value) * sizeof *a), 0);
        free(a);
        free(b);
    }
    cp_detector_free(back);
    /* A context encoder is refused with a hint. */
    tu_write_small_model(ce, 32, 1, NULL, 0);
    ck_assert_int_eq(cp_detector_load(ctx, ce, false, &back), CP_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "--model"));
    ck_assert_ptr_null(back);
    /* Metadata promising a huge network the file does not hold: refused
     * before anything is allocated. */
    char huge[1024];
    snprintf(huge, sizeof huge, "%s/huge.safetensors", dir);
    cp_st_writer *w;
    TU_OK(cp_st_writer_create(&w));
    const int64_t one = 1;
    float zero = 0;
    TU_OK(cp_st_writer_add_f32(w, "detector.enc1.conv3.bias", 1, &one, &zero));
    const cp_meta_entry meta[] = {{"format", CP_DETECTOR_FORMAT}, {"size", "64"},
                                  {"levels", "5"}, {"widths", "1024,1024,1024,1024,1024"}};
    for (int i = 0; i < 4; i++) TU_OK(cp_st_writer_set_meta(w, meta[i].key, meta[i].value));
    TU_OK(cp_st_writer_save(w, huge));
    cp_st_writer_free(w);
    ck_assert_int_eq(cp_detector_load(ctx, huge, false, &back), CP_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "does not match its own configuration"));
    cp_detector_free(d);
    tu_rmdir(dir);
    free(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("detector");
    TCase *tc = tcase_create("detector");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, layer_table);
    tcase_add_test(tc, whole_net_gradients_batch1);
    tcase_add_test(tc, whole_net_gradients_batch2);
    tcase_add_test(tc, learns_a_toy_mask);
    tcase_add_test(tc, checkpoint_round_trip);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
