/* Synthetic masked faces: determinism, where the mask lies, mask/image
 * consistency, every kind, the folder writer and `clinpaint maskify`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clinpaint/image.h"
#include "clinpaint/mask.h"
#include "clinpaint/maskify.h"
#include "clinpaint/synth.h"
#include "util/cli_run.h"
#include "util/cli_spawn.h"
#include "util/test_util.h"

static char *at(const char *fmt, const char *rel)
{
    char *p = malloc(strlen(tu_tmp) + strlen(fmt) + (rel ? strlen(rel) : 0) + 2);
    ck_assert_ptr_nonnull(p);
    char *tail = malloc(strlen(fmt) + (rel ? strlen(rel) : 0) + 1);
    ck_assert_ptr_nonnull(tail);
    sprintf(tail, fmt, rel ? rel : "");
    sprintf(p, "%s/%s", tu_tmp, tail);
    free(tail);
    return p;
}

#define RUN(...) tu_cli_run((const char *const[]){__VA_ARGS__, NULL}, NULL)

static void expect(tu_cli_result *r, int code, const char *in_err)
{
    ck_assert_msg(r->exit_code == code, "exit %d, want %d; stderr: %s", r->exit_code, code, r->err);
    if (in_err) ck_assert_msg(strstr(r->err, in_err), "stderr lacks '%s': %s", in_err, r->err);
    tu_cli_free(r);
}

/* A synthetic face and its masked version. */
typedef struct drawn {
    uint8_t *face, *masked, *mask;
} drawn;

static drawn draw(int S, cp_maskify_kind kind, uint64_t seed, uint64_t key)
{
    drawn d = {malloc((size_t)S * S * 3), malloc((size_t)S * S * 3), malloc((size_t)S * S)};
    ck_assert(d.face && d.masked && d.mask);
    TU_OK(cp_synth_face(seed, key, S, d.face));
    TU_OK(cp_maskify_face(d.face, S, kind, seed, key, d.masked, d.mask));
    return d;
}

static void drawn_free(drawn *d)
{
    free(d->face);
    free(d->masked);
    free(d->mask);
}

START_TEST(same_seed_same_bytes)
{
    const int S = 64;
    for (int k = 0; k < CP_MASKIFY_KIND_COUNT; k++) {
        drawn a = draw(S, (cp_maskify_kind)k, 5, 9), b = draw(S, (cp_maskify_kind)k, 5, 9);
        ck_assert_mem_eq(a.masked, b.masked, (size_t)S * S * 3);
        ck_assert_mem_eq(a.mask, b.mask, (size_t)S * S);
        /* another key or seed draws another mask on the same face */
        uint8_t *other = malloc((size_t)S * S * 3), *other_mask = malloc((size_t)S * S);
        TU_OK(cp_maskify_face(a.face, S, (cp_maskify_kind)k, 5, 10, other, other_mask));
        ck_assert(memcmp(other, a.masked, (size_t)S * S * 3) != 0);
        TU_OK(cp_maskify_face(a.face, S, (cp_maskify_kind)k, 6, 9, other, other_mask));
        ck_assert(memcmp(other, a.masked, (size_t)S * S * 3) != 0);
        free(other);
        free(other_mask);
        drawn_free(&a);
        drawn_free(&b);
    }
}
END_TEST

/* The mask is exactly the changed pixels: equal outside, changed inside. */
static void check_consistent(const uint8_t *face, const uint8_t *masked, const uint8_t *mask, int S)
{
    for (size_t i = 0; i < (size_t)S * S; i++) {
        ck_assert_msg(mask[i] == 0 || mask[i] == 255, "mask value %d at %zu", mask[i], i);
        int same = memcmp(face + i * 3, masked + i * 3, 3) == 0;
        ck_assert_msg(same == (mask[i] == 0), "pixel %zu: mask %d but %s", i, mask[i],
                      same ? "unchanged" : "changed");
    }
}

/* Over many faces, kinds and sizes (even, odd, small): the mask covers the
 * mouth and chin, keeps below the nose line less the documented rise, and
 * its loops or straps reach both sides of the crop. */
START_TEST(covers_the_lower_face_only)
{
    const int sizes[] = {16, 37, 64, 97, 128};
    for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
        const int S = sizes[si];
        /* rows above this one are never touched (one pixel for the blur) */
        const int first_row = (int)((CP_MASKIFY_NOSE_LINE - CP_MASKIFY_MAX_RISE) * S) - 1;
        for (uint64_t key = 0; key < 24; key++) {
            cp_maskify_kind kind = (cp_maskify_kind)(key % CP_MASKIFY_KIND_COUNT);
            drawn d = draw(S, kind, 77, key);
            check_consistent(d.face, d.masked, d.mask, S);
            size_t mouth = 0, mouth_n = 0, sides = 0;
            for (int y = 0; y < S; y++)
                for (int x = 0; x < S; x++) {
                    int on = d.mask[(size_t)y * S + x] != 0;
                    ck_assert_msg(!on || y >= first_row, "S %d key %llu (%s): mask at row %d, above %d", S,
                                  (unsigned long long)key, cp_maskify_kind_name(kind), y, first_row);
                    double u = (x + 0.5) / S, v = (y + 0.5) / S;
                    if (u > 0.38 && u < 0.62 && v > 0.64 && v < 0.86) {
                        mouth += on;
                        mouth_n++;
                    }
                }
            for (int y = 0; y < S; y++) sides |= (d.mask[(size_t)y * S] ? 1u : 0u) | (d.mask[(size_t)y * S + S - 1] ? 2u : 0u);
            ck_assert_msg(mouth == mouth_n, "S %d key %llu: mouth and chin %zu of %zu masked", S,
                          (unsigned long long)key, mouth, mouth_n);
            ck_assert_msg(sides == 3, "S %d key %llu (%s): loops reach sides 0x%zx", S, (unsigned long long)key,
                          cp_maskify_kind_name(kind), sides);
            double cover = 0;
            for (size_t i = 0; i < (size_t)S * S; i++) cover += d.mask[i] != 0;
            cover /= (double)S * S;
            /* small faces: the blurred edge and the loops are a larger share */
            ck_assert_msg(cover > 0.18 && cover < (S >= 64 ? 0.40 : 0.58), "S %d: coverage %.3f", S, cover);
            drawn_free(&d);
        }
    }
}
END_TEST

/* Each kind looks different: the kinds' mean colours and shapes differ,
 * and within a kind the masks vary from face to face. */
START_TEST(every_kind_drawn)
{
    const int S = 64;
    unsigned seen = 0;
    for (uint64_t key = 0; key < 60; key++) seen |= 1u << cp_maskify_pick_kind(CP_MASKIFY_ALL_KINDS, 3, key);
    ck_assert_uint_eq(seen, CP_MASKIFY_ALL_KINDS);
    seen = 0;
    for (uint64_t key = 0; key < 60; key++) {
        cp_maskify_kind k = cp_maskify_pick_kind(1u << CP_MASKIFY_N95 | 1u << CP_MASKIFY_CLOTH, 3, key);
        ck_assert_int_ne(k, CP_MASKIFY_SURGICAL);
        seen |= 1u << k;
    }
    ck_assert_uint_eq(seen, 1u << CP_MASKIFY_N95 | 1u << CP_MASKIFY_CLOTH);
    for (int k = 0; k < CP_MASKIFY_KIND_COUNT; k++) {
        drawn a = draw(S, (cp_maskify_kind)k, 1, 1), b = draw(S, (cp_maskify_kind)k, 1, 2);
        ck_assert(memcmp(a.mask, b.mask, (size_t)S * S) != 0);
        drawn_free(&a);
        drawn_free(&b);
    }
    uint8_t *p = malloc(64 * 64 * 4);
    ck_assert_int_eq(cp_maskify_face(p, 15, CP_MASKIFY_CLOTH, 0, 0, p, p), CP_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cp_maskify_face(p, 32, CP_MASKIFY_KIND_COUNT, 0, 0, p, p), CP_ERR_INVALID_ARGUMENT);
    free(p);
}
END_TEST

START_TEST(kind_lists)
{
    unsigned kinds = 0;
    TU_OK(cp_maskify_kinds_parse("surgical,n95,cloth", &kinds));
    ck_assert_uint_eq(kinds, CP_MASKIFY_ALL_KINDS);
    TU_OK(cp_maskify_kinds_parse("cloth", &kinds));
    ck_assert_uint_eq(kinds, 1u << CP_MASKIFY_CLOTH);
    const char *bad[] = {"", "surgical,", ",cloth", "surgical,,cloth", "N95", "ffp2", "surgical cloth"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        kinds = 7;
        ck_assert_msg(cp_maskify_kinds_parse(bad[i], &kinds) == CP_ERR_INVALID_ARGUMENT, "'%s' accepted", bad[i]);
        ck_assert_uint_eq(kinds, 7);
    }
    cp_maskify_kind k;
    ck_assert(cp_maskify_kind_parse("n95", &k) && k == CP_MASKIFY_N95);
    ck_assert_str_eq(cp_maskify_kind_name(CP_MASKIFY_SURGICAL), "surgical");
}
END_TEST

static void assert_same_file(const char *a, const char *b)
{
    size_t na, nb;
    char *x = tu_read_file(a, &na), *y = tu_read_file(b, &nb);
    ck_assert_msg(na == nb && memcmp(x, y, na) == 0, "%s and %s differ", a, b);
    free(x);
    free(y);
}

/* The folder writer through the command: layout, csv, consistency of the
 * written files, byte-identical reruns, --count rounds, --kinds. */
START_TEST(command_writes_the_layout)
{
    char *faces = at("faces", NULL), *out1 = at("out1", NULL), *out2 = at("out2", NULL);
    TU_OK(cp_synth_write_dataset(faces, 5, 48, 4));
    tu_cli_result r = RUN("maskify", "--data", faces, "--out", out1, "--size", "41", "--seed", "8", "--count", "7");
    ck_assert_msg(r.exit_code == 0, "stderr: %s", r.err);
    ck_assert_ptr_nonnull(strstr(r.out, "wrote 7 masked faces of 41x41"));
    tu_cli_free(&r);
    r = RUN("maskify", "--data=" , "--out", out2);
    expect(&r, 2, "--data");
    r = RUN("maskify", "--data", faces, "--out", out2, "--size=41", "--seed=8", "--count=7");
    expect(&r, 0, NULL);
    const char *names[] = {"face_000000.png", "face_000004.png", "face_000000_r1.png", "face_000001_r1.png"};
    for (size_t i = 0; i < 4; i++) {
        cp_image img[3];
        const char *folders[] = {"original", "masked", "mask"};
        for (int f = 0; f < 3; f++) {
            char rel[200];
            snprintf(rel, sizeof rel, "%s/%s", folders[f], names[i]);
            char *p1 = at("out1/%s", rel), *p2 = at("out2/%s", rel);
            assert_same_file(p1, p2);
            TU_OK(cp_image_load(p1, &img[f]));
            ck_assert_int_eq(img[f].w, 41);
            ck_assert_int_eq(img[f].h, 41);
            free(p1);
            free(p2);
        }
        uint8_t mask[41 * 41];
        for (int p = 0; p < 41 * 41; p++) {
            ck_assert(img[2].pixels[p * 3] == img[2].pixels[p * 3 + 1] && img[2].pixels[p * 3] == img[2].pixels[p * 3 + 2]);
            mask[p] = img[2].pixels[p * 3];
        }
        check_consistent(img[0].pixels, img[1].pixels, mask, 41);
        for (int f = 0; f < 3; f++) cp_image_free(&img[f]);
    }
    char *csv1 = at("out1/maskify.csv", NULL), *csv2 = at("out2/maskify.csv", NULL);
    assert_same_file(csv1, csv2);
    size_t n;
    char *text = tu_read_file(csv1, &n);
    ck_assert_msg(strncmp(text, "file,kind,source\nface_000000.png,", 33) == 0, "csv: %s", text);
    ck_assert_ptr_nonnull(strstr(text, "\nface_000001_r1.png,"));
    ck_assert_ptr_nonnull(strstr(text, ",face_000001.png\n"));
    free(text);
    char *r2 = at("out1/masked/face_000002_r1.png", NULL);
    struct stat sb;
    ck_assert_int_ne(stat(r2, &sb), 0); /* 7 = 5 + 2 */
    /* --kinds: only the listed kinds */
    char *out3 = at("out3", NULL);
    r = RUN("maskify", "--data", faces, "--out", out3, "--size", "32", "--kinds", "n95", "--count", "9");
    expect(&r, 0, NULL);
    char *csv3 = at("out3/maskify.csv", NULL);
    text = tu_read_file(csv3, &n);
    int lines = 0;
    for (char *s = strchr(text, '\n'); s && s[1]; s = strchr(s + 1, '\n')) {
        lines++;
        ck_assert_msg(strncmp(strchr(s + 1, ',') + 1, "n95,", 4) == 0, "not n95: %s", text);
    }
    ck_assert_int_eq(lines, 9);
    free(text);
    free(csv1);
    free(csv2);
    free(csv3);
    free(r2);
    free(out3);
    free(faces);
    free(out1);
    free(out2);
}
END_TEST

START_TEST(usage_and_data_errors)
{
    char *faces = at("faces", NULL), *out = at("out", NULL), *empty = at("empty", NULL);
    TU_OK(cp_synth_write_dataset(faces, 2, 32, 1));
    tu_cli_result r = RUN("maskify", "--out", out);
    expect(&r, 2, "--data");
    r = RUN("maskify", "--data", faces);
    expect(&r, 2, "--out");
    r = RUN("maskify", "--data", faces, "--out", out, "--kinds", "surgical,ffp2");
    expect(&r, 2, "--kinds");
    r = RUN("maskify", "--data", faces, "--out", out, "--count", "0");
    expect(&r, 2, "--count");
    r = RUN("maskify", "--data", faces, "--out", out, "--size", "8");
    expect(&r, 2, "--size");
    r = RUN("maskify", "--data", faces, "--out", out, "--split", "val");
    expect(&r, 2, "--split");
    r = RUN("maskify", "--data", faces, "--out", out, "--seed", "-1");
    expect(&r, 2, "--seed");
    r = RUN("maskify", "--data", faces, "--out", out, "--colour", "red");
    expect(&r, 2, "--colour");
    r = RUN("maskify", "--data", faces, "--out", out, "extra");
    expect(&r, 2, "extra");
    r = RUN("maskify", "--data", faces, "--out", out, "--count");
    expect(&r, 2, "--count");
    r = RUN("maskify", "--help");
    ck_assert_int_eq(r.exit_code, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "mask/NAME.png"));
    tu_cli_free(&r);
    /* an empty data folder and a missing one are errors naming them */
    ck_assert_int_eq(mkdir(empty, 0755), 0);
    r = RUN("maskify", "--data", empty, "--out", out);
    ck_assert_int_ne(r.exit_code, 0);
    ck_assert_ptr_nonnull(strstr(r.err, "empty"));
    tu_cli_free(&r);
    char *missing = at("missing", NULL);
    r = RUN("maskify", "--data", missing, "--out", out);
    expect(&r, 1, "missing");
    struct stat sb;
    ck_assert_int_ne(stat(out, &sb), 0); /* nothing written */
    /* two images that would share an output name */
    char *a = at("faces/face_000000.png", NULL), *b = at("faces/face_000000.bmp", NULL);
    size_t n;
    char *bytes = tu_read_file(a, &n);
    FILE *f = fopen(b, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(bytes, 1, n, f), n); /* a PNG named .bmp: decoded by content */
    ck_assert_int_eq(fclose(f), 0);
    r = RUN("maskify", "--data", faces, "--out", out);
    expect(&r, 2, "face_000000.png");
    free(bytes);
    free(a);
    free(b);
    free(missing);
    free(faces);
    free(out);
    free(empty);
}
END_TEST

/* --split writes only the images of that split, under their own names. */
START_TEST(split_selects_images)
{
    char *faces = at("faces", NULL), *out = at("out", NULL);
    TU_OK(cp_synth_write_dataset(faces, 30, 16, 2));
    cp_maskify_options o = cp_maskify_defaults();
    o.size = 16;
    o.split = CP_SPLIT_TEST;
    cp_maskify_result res;
    TU_OK(cp_maskify_folder(faces, out, &o, &res));
    cp_dataset *ds;
    TU_OK(cp_dataset_open(faces, CP_SPLIT_TEST, &ds));
    ck_assert_uint_eq(res.written, cp_dataset_count(ds));
    ck_assert_uint_eq(res.per_kind[0] + res.per_kind[1] + res.per_kind[2], res.written);
    for (size_t i = 0; i < cp_dataset_count(ds); i++) {
        char *p = at("out/mask/%s", cp_dataset_relpath(ds, i));
        struct stat sb;
        ck_assert_msg(stat(p, &sb) == 0, "%s missing", p);
        free(p);
    }
    cp_dataset_free(ds);
    free(faces);
    free(out);
}
END_TEST

/* The documented pairing: `--data OUT/original --mask OUT/mask` gives each
 * original its own mask through the loader's mask-folder source. */
START_TEST(mask_folder_pairs_with_originals)
{
    char *faces = at("faces", NULL), *out = at("out", NULL), *orig = at("out/original", NULL),
         *masks = at("out/mask", NULL);
    const int S = 32;
    TU_OK(cp_synth_write_dataset(faces, 4, S, 6));
    cp_maskify_options o = cp_maskify_defaults();
    o.size = S;
    o.seed = 12;
    cp_maskify_result res;
    TU_OK(cp_maskify_folder(faces, out, &o, &res));
    ck_assert_uint_eq(res.written, 4);
    cp_dataset *ds;
    cp_mask_source *src;
    TU_OK(cp_dataset_open(orig, CP_SPLIT_ALL, &ds));
    TU_OK(cp_mask_source_create(masks, S, &src));
    TU_OK(cp_mask_source_check(src, ds));
    float m[S * S];
    uint8_t face[S * S * 3], masked[S * S * 3], want[S * S];
    for (size_t i = 0; i < cp_dataset_count(ds); i++) {
        const char *rel = cp_dataset_relpath(ds, i);
        TU_OK(cp_mask_source_get(src, rel, 0, i, m));
        TU_OK(cp_dataset_load(ds, i, S, face));
        cp_maskify_kind kind = cp_maskify_pick_kind(o.kinds, o.seed, cp_fnv1a64(rel, strlen(rel)));
        TU_OK(cp_maskify_face(face, S, kind, o.seed, cp_fnv1a64(rel, strlen(rel)), masked, want));
        for (int p = 0; p < S * S; p++) ck_assert_msg((m[p] > 0.5f) == (want[p] != 0), "%s pixel %d", rel, p);
    }
    cp_mask_source_free(src);
    cp_dataset_free(ds);
    free(faces);
    free(out);
    free(orig);
    free(masks);
}
END_TEST

/* Subfolders are kept; a name with a comma is quoted in maskify.csv. */
START_TEST(subfolders_and_csv_quoting)
{
    char *faces = at("faces", NULL), *sub = at("faces/sub", NULL), *out = at("out", NULL);
    TU_OK(cp_synth_write_dataset(faces, 1, 24, 3));
    ck_assert_int_eq(mkdir(sub, 0755), 0);
    char *from = at("faces/face_000000.png", NULL), *to = at("faces/sub/a,\"b\".png", NULL);
    ck_assert_int_eq(rename(from, to), 0);
    cp_maskify_options o = cp_maskify_defaults();
    o.size = 24;
    cp_maskify_result res;
    TU_OK(cp_maskify_folder(faces, out, &o, &res));
    ck_assert_uint_eq(res.written, 1);
    char *mask = at("out/mask/sub/a,\"b\".png", NULL), *csv = at("out/maskify.csv", NULL);
    struct stat sb;
    ck_assert_int_eq(stat(mask, &sb), 0);
    size_t n;
    char *text = tu_read_file(csv, &n);
    ck_assert_msg(strncmp(text, "file,kind,source\n\"sub/a,\"\"b\"\".png\",", 35) == 0, "csv: %s", text);
    ck_assert_ptr_nonnull(strstr(text, ",\"sub/a,\"\"b\"\".png\"\n"));
    free(text);
    free(mask);
    free(csv);
    free(from);
    free(to);
    free(faces);
    free(sub);
    free(out);
}
END_TEST

/* Write failures end the command with exit 1 naming the file or folder:
 * a full disk, and an output path that is a file. */
START_TEST(write_failures_name_the_file)
{
    char *faces = at("faces", NULL), *out = at("out", NULL), *file = at("a-file", NULL);
    TU_OK(cp_synth_write_dataset(faces, 3, 64, 1));
    FILE *f = fopen(file, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fclose(f), 0);
    tu_cli_result r = RUN("maskify", "--data", faces, "--out", file, "--size", "32");
    expect(&r, 1, "a-file");
    if (tu_png_writer_reports_full_disk()) {
        tu_cli_opts o = {.max_file_bytes = 1500}; /* a 64 px face is several KB */
        r = tu_cli_run_opts((const char *const[]){"maskify", "--data", faces, "--out", out, "--size", "64", NULL},
                            &o);
        ck_assert_msg(r.exit_code == 1, "exit %d; stderr: %s", r.exit_code, r.err);
        ck_assert_msg(strstr(r.err, "face_000000.png"), "stderr: %s", r.err);
        ck_assert_ptr_null(strstr(r.out, "wrote"));
        tu_cli_free(&r);
    }
    free(faces);
    free(out);
    free(file);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("maskify");
    TCase *tc = tcase_create("maskify");
    tcase_add_checked_fixture(tc, tu_tmp_setup, tu_tmp_teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, same_seed_same_bytes);
    tcase_add_test(tc, covers_the_lower_face_only);
    tcase_add_test(tc, every_kind_drawn);
    tcase_add_test(tc, kind_lists);
    tcase_add_test(tc, command_writes_the_layout);
    tcase_add_test(tc, usage_and_data_errors);
    tcase_add_test(tc, split_selects_images);
    tcase_add_test(tc, mask_folder_pairs_with_originals);
    tcase_add_test(tc, subfolders_and_csv_quoting);
    tcase_add_test(tc, write_failures_name_the_file);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
