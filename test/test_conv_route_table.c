/* The per-device table of convolution routes keeps every shape it is told
 * about. It held 256 once: a routes file that had collected 256 shapes
 * (every batch size and preset ever run on the machine) filled it, the next
 * shape's measured choice could not be kept, and a later ask for the same
 * shape gave the default instead: `clinpaint train` then ran a convolution
 * on a route whose workspace the plan had not sized ("workspace ... has
 * 36864 floats, 368640 needed"). */
#include <stdio.h>
#include <string.h>

#include "backend/opencl/ops/conv_route.h"
#include "util/test_util.h"

static cp_conv_layer layer(int64_t n)
{
    cp_conv_layer l;
    memset(&l, 0, sizeof l);
    l.p = (cp_conv_params){.kh = 3, .kw = 3, .stride_h = 1, .stride_w = 1, .pad_top = 1,
                           .pad_left = 1, .pad_bottom = 1, .pad_right = 1};
    l.n = n; /* shapes are only looked up, never run: any batch will do */
    l.c_in = 5;
    l.h = l.w = 7;
    l.c_out = 3;
    return l;
}

START_TEST(every_recorded_shape_keeps_its_route)
{
    cp_context *ctx = tu_ctx();
    /* The implicit GEMM: never the default on any device type for every
     * pass, so an answer that fell back to the default shows. */
    cp_conv_choice igemm = {{CP_CONV_IGEMM, CP_CONV_IGEMM, CP_CONV_IGEMM}, true};
    enum { SHAPES = 700, FIRST_BATCH = 100000 };
    for (int i = 0; i < SHAPES; i++) {
        cp_conv_layer l = layer(FIRST_BATCH + i);
        TU_OK(cp_conv_route_record(ctx, &l, &igemm));
    }
    for (int i = 0; i < SHAPES; i++) {
        cp_conv_layer l = layer(FIRST_BATCH + i);
        cp_conv_choice c = cp_conv_route_for(ctx, &l);
        for (int p = 0; p < 3; p++) ck_assert_int_eq(c.pass[p], CP_CONV_IGEMM);
    }
    /* The same shape asked twice gets the same answer (the workspace is
     * sized from the first). */
    cp_conv_layer fresh = layer(FIRST_BATCH + SHAPES);
    cp_conv_choice a = cp_conv_route_for(ctx, &fresh), b = cp_conv_route_for(ctx, &fresh);
    ck_assert_mem_eq(a.pass, b.pass, sizeof a.pass);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("conv_route_table");
    TCase *tc = tcase_create("conv_route_table");
    tcase_add_test(tc, every_recorded_shape_keeps_its_route);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
