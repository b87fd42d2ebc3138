/* The graph over the backend interface: a graph is built and differentiated
 * without a device; planning asks the backend (supported ops, workspace
 * sizes, largest buffer); the OpenCL backend's buffer calls; the op
 * classes clinpaint bench groups by. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/opencl/backend_opencl.h"
#include "graph/graph_internal.h"
#include "graph/op_info.h"
#include "util/test_util.h"

START_TEST(graph_builds_without_a_device)
{
    cp_graph *g = NULL;
    TU_OK(cp_graph_create(NULL, &g));
    cp_node *x = cp_g_input(g, "x", 4, (int64_t[]){1, 2, 6, 6});
    cp_node *w = cp_g_input(g, "w", 4, (int64_t[]){3, 2, 3, 3});
    cp_node *b = cp_g_input(g, "b", 1, (int64_t[]){3});
    cp_conv_params p = {3, 3, 2, 2, 1, 1, 1, 1};
    cp_node *h = cp_g_elu(g, cp_g_conv2d(g, x, w, b, &p));
    cp_node *wd = cp_g_input(g, "wd", 2, (int64_t[]){2, 27});
    cp_node *z = cp_g_dense(g, h, wd, NULL);
    cp_node *loss = cp_g_loss_bce(g, z, 1);
    TU_OK(cp_g_backward(g, loss, -1, (cp_node *[]){x, w, wd}, 3));
    ck_assert_ptr_nonnull(cp_g_grad(w));
    ck_assert_ptr_nonnull(cp_g_grad(wd));
    for (int i = 0; i < g->count; i++) ck_assert_uint_eq(g->nodes[i]->workspace_floats, 0);
    cp_plan_options o = cp_plan_defaults();
    ck_assert_int_eq(cp_graph_plan(g, &o), CP_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "without a backend"));
    ck_assert_int_eq(cp_graph_run(g), CP_ERR_INVALID_ARGUMENT);
    cp_graph_free(g);
}
END_TEST

/* A backend that forwards to the OpenCL one, with its own answers to the
 * planner's questions, and counts compute calls. */
typedef struct fake {
    cp_backend *inner;
    cp_op refused;        /* supports_op says no to this op */
    size_t extra_ws;      /* added to every workspace the inner backend wants */
    uint64_t max_alloc;
    int computes;
} fake;

static cp_backend_i fake_iface;

static fake *fake_of(const cp_backend *b) { return b->context; }
static const char *fake_name(const cp_backend *b) { return "fake"; }
static const char *fake_device(const cp_backend *b)
{
    cp_backend *in = fake_of(b)->inner;
    return in->iface->device_name(in);
}
static void fake_free(cp_backend *b)
{
    cp_backend *in = fake_of(b)->inner;
    in->iface->free(in);
    free(b->context);
    free(b);
}
static cp_status fake_alloc(cp_backend *b, size_t bytes, cp_backend_buffer *out)
{
    cp_backend *in = fake_of(b)->inner;
    return in->iface->buffer_alloc(in, bytes, out);
}
static void fake_buffer_free(cp_backend *b, cp_backend_buffer buf)
{
    cp_backend *in = fake_of(b)->inner;
    in->iface->buffer_free(in, buf);
}
static cp_status fake_fill(cp_backend *b, cp_backend_buffer buf, size_t off, size_t n, float v)
{
    cp_backend *in = fake_of(b)->inner;
    return in->iface->buffer_fill(in, buf, off, n, v);
}
static cp_status fake_read(cp_backend *b, cp_backend_buffer buf, size_t off, size_t n, void *dst,
                           bool blocking)
{
    cp_backend *in = fake_of(b)->inner;
    return in->iface->buffer_read(in, buf, off, n, dst, blocking);
}
static uint64_t fake_max_alloc(const cp_backend *b) { return fake_of(b)->max_alloc; }
static bool fake_supports(const cp_backend *b, const cp_node *n) { return n->op != fake_of(b)->refused; }
static size_t fake_ws(cp_backend *b, const cp_node *n)
{
    cp_backend *in = fake_of(b)->inner;
    size_t w = in->iface->workspace_floats(in, n);
    return w ? w + fake_of(b)->extra_ws : 0;
}
static cp_status fake_compute(cp_backend *b, cp_graph *g, int first, int end)
{
    fake_of(b)->computes++;
    /* The inner backend's compute reads only the graph and its context. */
    return cp_opencl_compute(fake_of(b)->inner, g, first, end);
}
static cp_status fake_sync(cp_backend *b)
{
    cp_backend *in = fake_of(b)->inner;
    return in->iface->synchronize(in);
}

static cp_graph *fake_graph(fake **out, cp_op refused)
{
    static bool ready;
    if (!ready) {
        fake_iface = (cp_backend_i){.name = fake_name, .device_name = fake_device, .free = fake_free,
                                    .buffer_alloc = fake_alloc, .buffer_free = fake_buffer_free,
                                    .buffer_fill = fake_fill, .buffer_read = fake_read,
                                    .max_alloc_bytes = fake_max_alloc, .supports_op = fake_supports,
                                    .workspace_floats = fake_ws, .compute = fake_compute,
                                    .synchronize = fake_sync};
        ready = true;
    }
    fake *f = calloc(1, sizeof *f);
    cp_backend *b = calloc(1, sizeof *b);
    ck_assert(f && b);
    TU_OK(cp_backend_opencl_create(tu_ctx(), &f->inner));
    f->refused = refused;
    f->extra_ws = 1000;
    f->max_alloc = 2048; /* 512 floats per arena buffer: x and y in two */
    b->iface = &fake_iface;
    b->context = f;
    cp_graph *g = NULL;
    TU_OK(cp_graph_create_on(b, &g));
    *out = f;
    return g;
}

/* x -> conv -> elu, on graph g; returns the output (kept). */
static cp_node *small_net(cp_graph *g, cp_tensor *w, cp_node **x)
{
    *x = cp_g_input(g, "x", 4, (int64_t[]){2, 3, 8, 8});
    cp_conv_params p = {3, 3, 1, 1, 1, 1, 1, 1};
    cp_node *y = cp_g_elu(g, cp_g_conv2d(g, *x, cp_g_param(g, w, 0), NULL, &p));
    cp_g_keep(g, y);
    return y;
}

START_TEST(planner_asks_the_backend)
{
    cp_rng r;
    cp_rng_seed(&r, 7, 1);
    cp_tensor w;
    tu_tensor_uniform(&r, 4, (int64_t[]){4, 3, 3, 3}, -0.5f, 0.5f, "w", &w);
    float hx[2 * 3 * 8 * 8];
    tu_fill_uniform(&r, hx, sizeof hx / sizeof hx[0], -1, 1);
    float *want = NULL, *got = NULL;
    fake *f = NULL;
    for (int k = 0; k < 2; k++) {
        cp_graph *g = NULL;
        if (k == 0)
            TU_OK(cp_graph_create(tu_ctx(), &g));
        else
            g = fake_graph(&f, CP_OP_COUNT);
        cp_node *x, *y = small_net(g, &w, &x);
        cp_plan_options o = cp_plan_defaults();
        TU_OK(cp_graph_plan(g, &o));
        if (k == 1) {
            ck_assert_uint_eq(g->chunk_floats, 512);
            ck_assert_int_ge(g->arena_count, 2);
            const cp_node *conv = y->src[0];
            size_t inner = f->inner->iface->workspace_floats(f->inner, conv);
            ck_assert_uint_eq(conv->workspace_floats, inner ? inner + 1000 : 0);
            ck_assert_uint_eq(g->workspace_floats, conv->workspace_floats);
        }
        cp_tensor tx, ty;
        TU_OK(cp_graph_tensor(g, x, &tx));
        TU_OK(cp_tensor_upload(tu_ctx(), &tx, hx));
        TU_OK(cp_graph_tensor(g, y, &ty));
        TU_OK(cp_tensor_fill(tu_ctx(), &ty, NAN)); /* poison the output */
        TU_OK(cp_graph_run(g));
        float *out = tu_download(&ty);
        if (k == 0)
            want = out;
        else
            got = out;
        if (k == 1) ck_assert_int_eq(f->computes, 1);
        cp_graph_free(g);
    }
    ck_assert_mem_eq(want, got, 2 * 4 * 8 * 8 * sizeof(float));
    free(want);
    free(got);
    cp_tensor_free(tu_ctx(), &w);
}
END_TEST

START_TEST(unsupported_op_is_refused_at_plan_time)
{
    fake *f = NULL;
    cp_graph *g = fake_graph(&f, CP_OP_ELU);
    cp_tensor w;
    cp_rng r;
    cp_rng_seed(&r, 3, 1);
    tu_tensor_uniform(&r, 4, (int64_t[]){4, 3, 3, 3}, -0.5f, 0.5f, "w", &w);
    cp_node *x;
    small_net(g, &w, &x);
    TU_OK(cp_graph_status(g)); /* building needs no backend answer */
    cp_plan_options o = cp_plan_defaults();
    o.no_fusion = true; /* keep the ELU a node of its own for the backend to refuse */
    ck_assert_int_eq(cp_graph_plan(g, &o), CP_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "fake"));
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "(elu)"));
    ck_assert_int_eq(f->computes, 0);
    cp_graph_free(g);
    cp_tensor_free(tu_ctx(), &w);
}
END_TEST

START_TEST(opencl_buffers_round_trip)
{
    cp_backend *b = NULL;
    TU_OK(cp_backend_opencl_create(tu_ctx(), &b));
    ck_assert_str_eq(b->iface->name(b), "OpenCL");
    ck_assert_str_eq(b->iface->device_name(b), cp_context_device(tu_ctx())->name);
    ck_assert_uint_eq(b->iface->max_alloc_bytes(b), cp_context_device(tu_ctx())->max_alloc_bytes);
    cp_backend_buffer a = NULL, c = NULL;
    TU_OK(b->iface->buffer_alloc(b, 64 * sizeof(float), &a));
    TU_OK(b->iface->buffer_alloc(b, 64 * sizeof(float), &c));
    float h[64], back[64];
    for (int i = 0; i < 64; i++) h[i] = (float)i;
    TU_OK(b->iface->buffer_fill(b, c, 0, 64, NAN));
    TU_OK(b->iface->buffer_write(b, a, 0, sizeof h, h));
    TU_OK(b->iface->buffer_fill(b, a, 8, 8, 2.5f));
    TU_OK(b->iface->buffer_copy(b, a, 4, c, 32, 8));
    TU_OK(b->iface->buffer_read(b, a, 0, sizeof back, back, true));
    for (int i = 0; i < 64; i++) ck_assert_float_eq(back[i], i >= 8 && i < 16 ? 2.5f : (float)i);
    TU_OK(b->iface->buffer_read(b, c, 32 * sizeof(float), 8 * sizeof(float), back, true));
    for (int i = 0; i < 8; i++) ck_assert_float_eq(back[i], i + 4 >= 8 ? 2.5f : (float)(i + 4));
    TU_OK(b->iface->synchronize(b));
    b->iface->buffer_free(b, a);
    b->iface->buffer_free(b, c);
    b->iface->free(b);
}
END_TEST

START_TEST(ops_are_classified)
{
    struct {
        const char *name;
        cp_op_class op_class;
        bool backward;
    } want[] = {
        {"conv2d", CP_OP_CLASS_GEMM, false},         {"conv_transpose2d_dw", CP_OP_CLASS_GEMM, true},
        {"dense_dx", CP_OP_CLASS_GEMM, true},        {"elu_dx", CP_OP_CLASS_ELEMENTWISE, true},
        {"batchnorm_dgamma", CP_OP_CLASS_ELEMENTWISE, true},
        {"adam", CP_OP_CLASS_ELEMENTWISE, true},     {"mean", CP_OP_CLASS_ELEMENTWISE, false},
        {"add", CP_OP_CLASS_ELEMENTWISE, false},     {"reshape", CP_OP_CLASS_FREE, false},
        {"param", CP_OP_CLASS_FREE, false},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        cp_op_info info;
        ck_assert_msg(cp_op_info_named(want[i].name, &info), "%s", want[i].name);
        ck_assert_int_eq(info.op_class, want[i].op_class);
        ck_assert_int_eq(info.backward, want[i].backward);
    }
    cp_op_info info;
    ck_assert(!cp_op_info_named("no_such_op", &info));

    cp_graph *g = NULL;
    TU_OK(cp_graph_create(NULL, &g));
    cp_node *x = cp_g_input(g, "x", 2, (int64_t[]){2, 3});
    cp_g_elu(g, x);
    ck_assert_int_eq(cp_graph_node_info(g, 0).op_class, CP_OP_CLASS_FREE);
    ck_assert_int_eq(cp_graph_node_info(g, 1).op_class, CP_OP_CLASS_ELEMENTWISE);
    ck_assert_double_eq(cp_graph_node_bytes(g, 1), 4.0 * (6 + 6));
    cp_graph_free(g);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("graph_backend");
    TCase *tc = tcase_create("graph_backend");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, graph_builds_without_a_device);
    tcase_add_test(tc, planner_asks_the_backend);
    tcase_add_test(tc, unsupported_op_is_refused_at_plan_time);
    tcase_add_test(tc, opencl_buffers_round_trip);
    tcase_add_test(tc, ops_are_classified);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
