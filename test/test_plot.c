/* SVG line charts: well-formed output, legend and labels, round tick
 * labels, log scale choice, empty and single-point series, NaN/Inf, large
 * series decimated, escaping, atomic replace, I/O and argument errors. */
#include <ctype.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clinpaint/plot.h"
#include "util/test_util.h"

static char *dir;

static void setup(void) { dir = tu_tempdir(); }
static void teardown(void)
{
    tu_rmdir(dir);
    free(dir);
    dir = NULL;
}

static const char *path_in(const char *rel)
{
    static char buf[4096];
    snprintf(buf, sizeof buf, "%s/%s", dir, rel);
    return buf;
}

static char *slurp(const char *path, long *size)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    ck_assert_int_eq(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    fclose(f);
    if (size) *size = n;
    return s;
}

/* Starts with <svg, ends with </svg>, and every element closes in order
 * (a small stack check over tag names; no comments or CDATA expected). */
static void assert_well_formed(const char *s)
{
    ck_assert_msg(strncmp(s, "<svg", 4) == 0, "does not start with <svg");
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1])) n--;
    ck_assert_msg(n >= 6 && strncmp(s + n - 6, "</svg>", 6) == 0, "does not end with </svg>");
    char stack[64][32];
    int depth = 0, elements = 0;
    for (const char *p = strchr(s, '<'); p; p = strchr(p + 1, '<')) {
        const char *end = strchr(p, '>');
        ck_assert_msg(end != NULL, "unterminated tag");
        bool closing = p[1] == '/', selfclose = end[-1] == '/';
        const char *name = p + 1 + closing;
        size_t len = strcspn(name, " \t\n/>");
        ck_assert_msg(len > 0 && len < 32, "bad tag name");
        if (closing) {
            ck_assert_msg(depth > 0, "closing tag without opening");
            depth--;
            ck_assert_msg(strlen(stack[depth]) == len && strncmp(stack[depth], name, len) == 0,
                          "</%.*s> closes <%s>", (int)len, name, stack[depth]);
        } else if (!selfclose) {
            ck_assert_msg(depth < 64, "too deep");
            memcpy(stack[depth], name, len);
            stack[depth][len] = '\0';
            depth++;
        }
        elements += !closing;
        /* No stray '<' inside a tag (attribute values must be escaped). */
        const char *q = strchr(p + 1, '<');
        ck_assert_msg(!q || q > end, "'<' inside a tag");
    }
    ck_assert_int_eq(depth, 0);
    ck_assert_int_gt(elements, 3);
}

static bool contains(const char *s, const char *what) { return strstr(s, what) != NULL; }

static size_t count_of(const char *s, const char *what)
{
    size_t k = 0;
    for (const char *p = strstr(s, what); p; p = strstr(p + 1, what)) k++;
    return k;
}

/* Typical training curves: L_G falling, L_rec small, L_D around 1.3. */
typedef struct {
    double *step, *g, *rec, *d;
    size_t n;
} curves;

static curves make_curves(size_t n)
{
    curves c = {malloc(n * sizeof(double)), malloc(n * sizeof(double)),
                malloc(n * sizeof(double)), malloc(n * sizeof(double)), n};
    for (size_t i = 0; i < n; i++) {
        double t = (double)(i + 1);
        c.step[i] = t * 10;
        c.g[i] = 0.7 + 2.0 * exp(-t / 300.0) + 0.1 * sin(t * 0.37);
        c.rec[i] = 0.1 + 0.3 * exp(-t / 200.0) + 0.005 * sin(t * 1.3);
        c.d[i] = 1.3 + 0.15 * sin(t * 0.05);
    }
    return c;
}

static void free_curves(curves *c)
{
    free(c->step);
    free(c->g);
    free(c->rec);
    free(c->d);
}

static cp_status write_curves(const char *path, const curves *c)
{
    const cp_plot_series s[3] = {
        {"L_G", c->step, c->g, c->n, "#1f77b4"},
        {"L_rec", c->step, c->rec, c->n, "#2ca02c"},
        {"L_D", c->step, c->d, c->n, "#d62728"},
    };
    return cp_plot_svg_write(path, "Training losses", "iteration", "loss", s, 3);
}

START_TEST(curves_have_legend_labels_and_round_ticks)
{
    curves c = make_curves(1000); /* steps 10..10000 */
    TU_OK(write_curves(path_in("loss.svg"), &c));
    char *s = slurp(path_in("loss.svg"), NULL);
    assert_well_formed(s);
    ck_assert(contains(s, ">L_G<") && contains(s, ">L_rec<") && contains(s, ">L_D<"));
    ck_assert(contains(s, ">iteration<"));
    ck_assert(contains(s, ">Training losses<"));
    ck_assert_uint_eq(count_of(s, "<polyline"), 3);
    ck_assert(contains(s, "#1f77b4") && contains(s, "#2ca02c") && contains(s, "#d62728"));
    /* 10..10000 -> ticks every 2000: 0, 2000, ..., 10000 */
    ck_assert(contains(s, ">0<") && contains(s, ">2000<") && contains(s, ">10000<"));
    /* y from ~0.1 to ~2.8: linear (< 2 decades) */
    ck_assert(contains(s, ">loss<"));
    ck_assert(!contains(s, "log scale"));
    ck_assert(!contains(s, "00000001") && !contains(s, "99999"));
    free(s);
    free_curves(&c);
}
END_TEST

START_TEST(log_scale_when_over_two_decades)
{
    double x[50], y[50], y2[50];
    for (int i = 0; i < 50; i++) {
        x[i] = i;
        y[i] = 10.0 * pow(10.0, -4.0 * i / 49.0); /* 10 .. 1e-3 */
        y2[i] = 0.5 + 0.01 * i;
    }
    cp_plot_series s[2] = {{"fall", x, y, 50, NULL}, {"flat", x, y2, 50, NULL}};
    TU_OK(cp_plot_svg_write(path_in("log.svg"), "t", "iteration", "loss", s, 2));
    char *t = slurp(path_in("log.svg"), NULL);
    assert_well_formed(t);
    ck_assert(contains(t, ">loss (log scale)<"));
    ck_assert(contains(t, ">0.001<") && contains(t, ">0.01<") && contains(t, ">1<") &&
              contains(t, ">10<"));
    free(t);

    /* Two decades or fewer, or a value <= 0: linear. */
    for (int i = 0; i < 50; i++) y[i] = 0.1 + 9.9 * i / 49.0; /* 0.1 .. 10 */
    TU_OK(cp_plot_svg_write(path_in("lin.svg"), "t", "iteration", "loss", s, 1));
    t = slurp(path_in("lin.svg"), NULL);
    ck_assert(!contains(t, "log scale"));
    ck_assert(contains(t, ">2<") && contains(t, ">10<"));
    free(t);
    for (int i = 0; i < 50; i++) y[i] = 10.0 * pow(10.0, -4.0 * i / 49.0);
    y[7] = 0.0;
    TU_OK(cp_plot_svg_write(path_in("lin2.svg"), "t", "iteration", "loss", s, 1));
    t = slurp(path_in("lin2.svg"), NULL);
    ck_assert(!contains(t, "log scale"));
    free(t);
}
END_TEST

START_TEST(decimal_ticks_are_round)
{
    double x[3] = {0, 1, 2}, y[3] = {0.5, 1.5, 1.0};
    cp_plot_series s = {"v", x, y, 3, NULL};
    TU_OK(cp_plot_svg_write(path_in("d.svg"), NULL, NULL, NULL, &s, 1));
    char *t = slurp(path_in("d.svg"), NULL);
    assert_well_formed(t);
    /* range 0.5..1.5 -> step 0.2: 0.4, 0.6, ... 1.6 */
    ck_assert(contains(t, ">0.4<") && contains(t, ">0.6<") && contains(t, ">1.0<") &&
              contains(t, ">1.6<"));
    ck_assert(!contains(t, "0000"));
    free(t);
}
END_TEST

START_TEST(single_point_gets_a_marker)
{
    double x = 5, y = 0.25;
    cp_plot_series s = {"only", &x, &y, 1, NULL};
    TU_OK(cp_plot_svg_write(path_in("one.svg"), "one", "iteration", "loss", &s, 1));
    char *t = slurp(path_in("one.svg"), NULL);
    assert_well_formed(t);
    ck_assert_uint_eq(count_of(t, "<circle"), 1);
    ck_assert(contains(t, ">only<"));
    ck_assert(!contains(t, "no data yet"));
    ck_assert(!contains(t, "nan") && !contains(t, "inf"));
    free(t);
}
END_TEST

START_TEST(no_points_gives_an_empty_chart)
{
    cp_plot_series s[3] = {{"L_G", NULL, NULL, 0, NULL},
                           {"L_rec", NULL, NULL, 0, NULL},
                           {"L_D", NULL, NULL, 0, NULL}};
    TU_OK(cp_plot_svg_write(path_in("empty.svg"), "Training losses", "iteration", "loss", s, 3));
    char *t = slurp(path_in("empty.svg"), NULL);
    assert_well_formed(t);
    ck_assert(contains(t, "no data yet"));
    ck_assert(contains(t, ">L_G (no data)<"));
    ck_assert(contains(t, ">iteration<") && contains(t, ">loss<"));
    free(t);
    TU_OK(cp_plot_svg_write(path_in("none.svg"), "nothing", "iteration", "loss", NULL, 0));
    t = slurp(path_in("none.svg"), NULL);
    assert_well_formed(t);
    ck_assert(contains(t, "no data yet"));
    free(t);
}
END_TEST

START_TEST(nan_and_inf_points_are_skipped)
{
    double x[6] = {0, 1, 2, NAN, 4, 5}, y[6] = {1, NAN, INFINITY, 2, -INFINITY, 3};
    cp_plot_series s[2] = {{"some", x, y, 6, NULL}, {"all bad", x + 3, y + 1, 2, NULL}};
    TU_OK(cp_plot_svg_write(path_in("nan.svg"), "skip", "iteration", "loss", s, 2));
    char *t = slurp(path_in("nan.svg"), NULL);
    assert_well_formed(t);
    ck_assert(!contains(t, "nan") && !contains(t, "inf") && !contains(t, "NaN"));
    ck_assert_uint_eq(count_of(t, "<circle"), 2); /* (0,1) and (5,3) */
    ck_assert(contains(t, ">all bad (no data)<"));
    free(t);

    /* Every point non-finite: the empty chart. */
    double bad[2] = {NAN, INFINITY};
    cp_plot_series b = {"bad", NULL, bad, 2, NULL};
    TU_OK(cp_plot_svg_write(path_in("bad.svg"), "bad", "iteration", "loss", &b, 1));
    t = slurp(path_in("bad.svg"), NULL);
    assert_well_formed(t);
    ck_assert(contains(t, "no data yet"));
    free(t);
}
END_TEST

START_TEST(large_series_are_decimated)
{
    curves c = make_curves(100000);
    TU_OK(write_curves(path_in("big.svg"), &c));
    long size;
    char *t = slurp(path_in("big.svg"), &size);
    assert_well_formed(t);
    ck_assert_int_lt(size, 250 * 1000);
    /* Each polyline holds at most CP_PLOT_MAX_POINTS "x,y" pairs. */
    for (const char *p = strstr(t, "points=\""); p; p = strstr(p + 1, "points=\"")) {
        const char *q = strchr(p + 8, '"');
        size_t pairs = 0;
        for (const char *r = p + 8; r < q; r++) pairs += *r == ',';
        ck_assert_uint_le(pairs, CP_PLOT_MAX_POINTS);
        ck_assert_uint_ge(pairs, CP_PLOT_MAX_POINTS - 1);
    }
    ck_assert_uint_eq(count_of(t, "<circle"), 0);
    /* steps 10..1e6: round labels with a k suffix */
    ck_assert(contains(t, ">0.2M<") && contains(t, ">1.0M<"));
    free(t);
    free_curves(&c);
}
END_TEST

START_TEST(names_are_escaped_and_x_may_be_null)
{
    double y[4] = {1, 2, 3, 4};
    cp_plot_series s = {"a<b & \"c\"", NULL, y, 4, NULL};
    TU_OK(cp_plot_svg_write(path_in("esc.svg"), "x < y & z", "it<er", "lo>ss", &s, 1));
    char *t = slurp(path_in("esc.svg"), NULL);
    assert_well_formed(t);
    ck_assert(contains(t, ">a&lt;b &amp; &quot;c&quot;<"));
    ck_assert(contains(t, ">x &lt; y &amp; z<"));
    ck_assert(contains(t, ">it&lt;er<") && contains(t, ">lo&gt;ss<"));
    ck_assert(contains(t, ">3<")); /* x axis 0..3 from the index */
    free(t);
}
END_TEST

START_TEST(replaces_atomically_without_leftovers)
{
    curves c = make_curves(10);
    FILE *f = fopen(path_in("loss.svg"), "w");
    fputs("old", f);
    fclose(f);
    TU_OK(write_curves(path_in("loss.svg"), &c));
    TU_OK(write_curves(path_in("loss.svg"), &c));
    char *t = slurp(path_in("loss.svg"), NULL);
    assert_well_formed(t);
    free(t);
    DIR *d = opendir(dir);
    int files = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_name[0] != '.') {
            files++;
            ck_assert_str_eq(e->d_name, "loss.svg");
        }
    closedir(d);
    ck_assert_int_eq(files, 1);
    free_curves(&c);
}
END_TEST

START_TEST(errors)
{
    double y[2] = {1, 2};
    cp_plot_series s = {"s", NULL, y, 2, NULL};
    ck_assert_int_eq(cp_plot_svg_write(path_in("no/such/dir/loss.svg"), "t", "x", "y", &s, 1),
                     CP_ERR_IO);
    ck_assert(contains(cp_last_error(), "no/such/dir/loss.svg"));
    ck_assert_int_eq(cp_plot_svg_write(NULL, "t", "x", "y", &s, 1), CP_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cp_plot_svg_write("", "t", "x", "y", &s, 1), CP_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cp_plot_svg_write(path_in("a.svg"), "t", "x", "y", &s, -1),
                     CP_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cp_plot_svg_write(path_in("a.svg"), "t", "x", "y", NULL, 1),
                     CP_ERR_INVALID_ARGUMENT);
    cp_plot_series noy = {"s", y, NULL, 2, NULL};
    ck_assert_int_eq(cp_plot_svg_write(path_in("a.svg"), "t", "x", "y", &noy, 1),
                     CP_ERR_INVALID_ARGUMENT);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("plot");
    TCase *tc = tcase_create("plot");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, curves_have_legend_labels_and_round_ticks);
    tcase_add_test(tc, log_scale_when_over_two_decades);
    tcase_add_test(tc, decimal_ticks_are_round);
    tcase_add_test(tc, single_point_gets_a_marker);
    tcase_add_test(tc, no_points_gives_an_empty_chart);
    tcase_add_test(tc, nan_and_inf_points_are_skipped);
    tcase_add_test(tc, large_series_are_decimated);
    tcase_add_test(tc, names_are_escaped_and_x_may_be_null);
    tcase_add_test(tc, replaces_atomically_without_leftovers);
    tcase_add_test(tc, errors);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
