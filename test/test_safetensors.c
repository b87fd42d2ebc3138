/* safetensors reader/writer: round trips, exact bytes, every kind of bad
 * file, and atomic saves under simulated and real write failures. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clinpaint/safetensors.h"
#include "io/st_internal.h"

/* ------------------------------------------------------------ helpers */

static char tmpdir[256];

static void make_tmpdir(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/cp_st_test_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void remove_tmpdir(void)
{
    DIR *d = opendir(tmpdir);
    if (!d) return;
    struct dirent *e;
    char p[512];
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(p, sizeof p, "%s/%s", tmpdir, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(tmpdir);
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

static uint8_t *read_all(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    ck_assert_ptr_nonnull(fp);
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)n + 1);
    ck_assert_uint_eq(fread(b, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    *len = (size_t)n;
    return b;
}

static void write_file(const char *path, const void *b, size_t n)
{
    FILE *fp = fopen(path, "wb");
    ck_assert_ptr_nonnull(fp);
    if (n) ck_assert_uint_eq(fwrite(b, 1, n, fp), n);
    ck_assert_int_eq(fclose(fp), 0);
}

/* A file image: u64 LE length of `json`, `json`, then `dlen` data bytes
 * (0xAB unless `data` is given). */
static uint8_t *mk(const char *json, const void *data, size_t dlen,
                   size_t *len)
{
    size_t jn = strlen(json);
    *len = 8 + jn + dlen;
    uint8_t *b = malloc(*len);
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)((uint64_t)jn >> (8 * i));
    memcpy(b + 8, json, jn);
    if (data) memcpy(b + 8 + jn, data, dlen);
    else memset(b + 8 + jn, 0xAB, dlen);
    return b;
}

static void expect_error(cp_status got, cp_status want, const char *substr)
{
    const char *msg = cp_last_error();
    ck_assert_msg(got == want, "status %d (%s), want %d; message: %s", got,
                  cp_status_str(got), want, msg);
    ck_assert_msg(strstr(msg, substr) != NULL,
                  "message '%s' lacks '%s'", msg, substr);
}

static void expect_bad_bytes(const uint8_t *b, size_t len, const char *substr)
{
    cp_st_file *f = (cp_st_file *)0x1;
    cp_status st = cp_st_parse(b, len, "bad.safetensors", &f);
    expect_error(st, CP_ERR_FORMAT, substr);
    ck_assert_ptr_null(f);
    ck_assert_msg(strstr(cp_last_error(), "bad.safetensors") != NULL,
                  "message '%s' does not name the file", cp_last_error());
}

static void expect_bad(const char *json, size_t dlen, const char *substr)
{
    size_t len;
    uint8_t *b = mk(json, NULL, dlen, &len);
    expect_bad_bytes(b, len, substr);
    free(b);
}

/* ------------------------------------------------------------ round trip */

START_TEST(test_round_trip)
{
    make_tmpdir();
    char path[300];
    snprintf(path, sizeof path, "%s/rt.safetensors", tmpdir);

    float scalar = 3.5f;
    float v1[5] = {0.0f, -0.0f, 1e-38f, -1.5e30f, INFINITY};
    float v4[24];
    for (int i = 0; i < 24; i++) v4[i] = (float)i * 0.25f - 2.0f;
    int64_t s1[1] = {5}, s4[4] = {2, 3, 2, 2}, s0[2] = {0, 3};

    cp_st_writer *w;
    ck_assert_int_eq(cp_st_writer_create(&w), CP_OK);
    ck_assert_int_eq(cp_st_writer_add_f32(w, "G.enc1.conv3.weight", 4, s4, v4), CP_OK);
    ck_assert_int_eq(cp_st_writer_add_f32(w, "scalar", 0, NULL, &scalar), CP_OK);
    ck_assert_int_eq(cp_st_writer_add_f32(w, "empty", 2, s0, NULL), CP_OK);
    ck_assert_int_eq(cp_st_writer_add_f32(w, "vec", 1, s1, v1), CP_OK);
    ck_assert_int_eq(cp_st_writer_set_meta(w, "step", "1"), CP_OK);
    ck_assert_int_eq(cp_st_writer_set_meta(w, "preset", "tiny \"q\" \xc3\xa9"), CP_OK);
    ck_assert_int_eq(cp_st_writer_set_meta(w, "step", "1200"), CP_OK); /* replaces */
    v4[0] = 99.0f; /* the writer copied the data */
    ck_assert_int_eq(cp_st_writer_save(w, path), CP_OK);
    cp_st_writer_free(w);
    ck_assert_int_eq(count_entries(tmpdir), 1);

    struct stat sb;
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_int_eq(sb.st_mode & 0777, 0644);

    cp_st_file *f;
    ck_assert_int_eq(cp_st_open(path, &f), CP_OK);
    ck_assert_str_eq(cp_st_label(f), path);
    ck_assert_uint_eq(cp_st_count(f), 4);
    /* data-area order = order added; zero-size ties sort by name */
    ck_assert_str_eq(cp_st_at(f, 0)->name, "G.enc1.conv3.weight");
    ck_assert_str_eq(cp_st_at(f, 1)->name, "scalar");
    ck_assert_str_eq(cp_st_at(f, 2)->name, "empty");
    ck_assert_str_eq(cp_st_at(f, 3)->name, "vec");
    ck_assert_ptr_null(cp_st_at(f, 4));

    const cp_st_tensor *t = cp_st_find(f, "scalar");
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(t->ndim, 0);
    ck_assert_uint_eq(t->numel, 1);
    ck_assert_uint_eq(t->nbytes, 4);
    ck_assert_int_eq(t->dtype, CP_ST_F32);
    float got0 = 0;
    ck_assert_int_eq(cp_st_get_f32(f, "scalar", 0, NULL, &got0), CP_OK);
    ck_assert(got0 == 3.5f);

    float got1[5];
    ck_assert_int_eq(cp_st_get_f32(f, "vec", 1, s1, got1), CP_OK);
    ck_assert_int_eq(memcmp(got1, v1, sizeof v1), 0); /* bit exact, -0 too */

    float got4[24];
    ck_assert_int_eq(cp_st_get_f32(f, "G.enc1.conv3.weight", 4, s4, got4), CP_OK);
    ck_assert(got4[0] == -2.0f);
    for (int i = 1; i < 24; i++) ck_assert(got4[i] == v4[i]);

    t = cp_st_find(f, "empty");
    ck_assert_ptr_nonnull(t);
    ck_assert_uint_eq(t->numel, 0);
    ck_assert_int_eq(t->ndim, 2);
    ck_assert_int_eq(t->shape[0], 0);
    ck_assert_int_eq(t->shape[1], 3);
    ck_assert_int_eq(cp_st_get_f32(f, "empty", 2, s0, NULL), CP_OK);

    ck_assert_ptr_null(cp_st_find(f, "nope"));
    ck_assert_uint_eq(cp_st_meta_count(f), 2);
    ck_assert_str_eq(cp_st_meta_key(f, 0), "preset");
    ck_assert_str_eq(cp_st_meta_key(f, 1), "step");
    ck_assert_str_eq(cp_st_meta(f, "step"), "1200");
    ck_assert_str_eq(cp_st_meta(f, "preset"), "tiny \"q\" \xc3\xa9");
    ck_assert_ptr_null(cp_st_meta(f, "epoch"));
    cp_st_close(f);

    /* the header is padded with spaces so the data area is 8-byte aligned */
    size_t len;
    uint8_t *b = read_all(path, &len);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | b[i];
    ck_assert_uint_eq(hlen % 8, 0);
    ck_assert_uint_eq(len, 8 + hlen + (24 + 1 + 0 + 5) * 4);
    free(b);
    remove_tmpdir();
}
END_TEST

START_TEST(test_exact_bytes)
{
    make_tmpdir();
    char path[300];
    snprintf(path, sizeof path, "%s/small.safetensors", tmpdir);
    cp_st_writer *w;
    ck_assert_int_eq(cp_st_writer_create(&w), CP_OK);
    float a[2] = {1.0f, -2.0f};
    int64_t sa[1] = {2};
    ck_assert_int_eq(cp_st_writer_add_f32(w, "a", 1, sa, a), CP_OK);
    ck_assert_int_eq(cp_st_writer_set_meta(w, "k", "v"), CP_OK);
    ck_assert_int_eq(cp_st_writer_save(w, path), CP_OK);
    cp_st_writer_free(w);

    /* 79 bytes of JSON padded with one space to 80 = 0x50 */
    static const char json[] =
        "{\"__metadata__\":{\"k\":\"v\"},"
        "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}} ";
    uint8_t want[96];
    const uint8_t len_le[8] = {0x50, 0, 0, 0, 0, 0, 0, 0};
    const uint8_t data_le[8] = {0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC0};
    ck_assert_uint_eq(sizeof json - 1, 80);
    memcpy(want, len_le, 8);
    memcpy(want + 8, json, 80);
    memcpy(want + 88, data_le, 8);

    size_t len;
    uint8_t *b = read_all(path, &len);
    ck_assert_uint_eq(len, sizeof want);
    ck_assert_int_eq(memcmp(b, want, sizeof want), 0);
    free(b);

    /* an empty writer gives "{}" padded to 8 bytes */
    ck_assert_int_eq(cp_st_writer_create(&w), CP_OK);
    ck_assert_int_eq(cp_st_writer_save(w, path), CP_OK);
    cp_st_writer_free(w);
    b = read_all(path, &len);
    ck_assert_uint_eq(len, 16);
    ck_assert_int_eq(memcmp(b, "\x08\0\0\0\0\0\0\0{}      ", 16), 0);
    free(b);
    cp_st_file *f;
    ck_assert_int_eq(cp_st_open(path, &f), CP_OK);
    ck_assert_uint_eq(cp_st_count(f), 0);
    ck_assert_uint_eq(cp_st_meta_count(f), 0);
    cp_st_close(f);
    remove_tmpdir();
}
END_TEST

/* ------------------------------------------------------------ other dtypes */

START_TEST(test_other_dtypes)
{
    static const char json[] =
        "{\"h\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[0,6]},"
        "\"b\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[6,8]},"
        "\"d\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[8,24]},"
        "\"i\":{\"dtype\":\"I64\",\"shape\":[1,1],\"data_offsets\":[24,32]},"
        "\"j\":{\"dtype\":\"I32\",\"shape\":[],\"data_offsets\":[32,36]},"
        "\"u\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[36,39]},"
        "\"o\":{\"dtype\":\"BOOL\",\"shape\":[1],\"data_offsets\":[39,40]}}";
    size_t len;
    uint8_t *b = mk(json, NULL, 40, &len);
    cp_st_file *f;
    ck_assert_int_eq(cp_st_parse(b, len, "mixed.safetensors", &f), CP_OK);
    ck_assert_uint_eq(cp_st_count(f), 7);
    ck_assert_int_eq(cp_st_find(f, "h")->dtype, CP_ST_F16);
    ck_assert_uint_eq(cp_st_find(f, "h")->nbytes, 6);
    ck_assert_int_eq(cp_st_find(f, "b")->dtype, CP_ST_BF16);
    ck_assert_uint_eq(cp_st_find(f, "d")->nbytes, 16);
    ck_assert_uint_eq(cp_st_find(f, "i")->nbytes, 8);
    ck_assert_uint_eq(cp_st_find(f, "j")->nbytes, 4);
    ck_assert_uint_eq(cp_st_find(f, "u")->nbytes, 3);
    ck_assert_int_eq(cp_st_find(f, "u")->data - cp_st_find(f, "h")->data, 36);
    ck_assert_str_eq(cp_st_dtype_name(CP_ST_BF16), "BF16");
    ck_assert_str_eq(cp_st_dtype_name((cp_st_dtype)99), "?");
    ck_assert_uint_eq(cp_st_dtype_size(CP_ST_F64), 8);

    float out[3];
    int64_t s3[1] = {3};
    expect_error(cp_st_get_f32(f, "h", 1, s3, out), CP_ERR_FORMAT,
                 "mixed.safetensors: h: dtype F16 in file, model expects F32");
    cp_st_close(f);
    free(b);

    /* a zero dimension makes an otherwise overflowing shape empty */
    b = mk("{\"z\":{\"dtype\":\"F32\",\"shape\":[1099511627776,"
           "1099511627776,0],\"data_offsets\":[0,0]}}", NULL, 0, &len);
    ck_assert_int_eq(cp_st_parse(b, len, "z.safetensors", &f), CP_OK);
    ck_assert_uint_eq(cp_st_find(f, "z")->numel, 0);
    ck_assert_uint_eq(cp_st_find(f, "z")->nbytes, 0);
    cp_st_close(f);
    free(b);
}
END_TEST

/* ------------------------------------------------------------ bad files */

START_TEST(test_bad_prefix)
{
    uint8_t b[16] = {0};
    expect_bad_bytes(b, 0, "file is 0 bytes, too short");
    expect_bad_bytes(b, 7, "file is 7 bytes, too short");
    /* header length past the end of the file */
    b[0] = 100;
    expect_bad_bytes(b, 16, "header length 100 exceeds file size 16");
    /* header length 2^40: far past the cap */
    memset(b, 0, 8);
    b[5] = 1;
    expect_bad_bytes(b, 16, "header length 1099511627776 exceeds the limit");
    /* all ones */
    memset(b, 0xFF, 8);
    expect_bad_bytes(b, 16, "exceeds the limit of 100000000 bytes");
    /* length 0: an empty header is not JSON */
    memset(b, 0, 8);
    expect_bad_bytes(b, 8, "not valid JSON");
}
END_TEST

START_TEST(test_bad_json)
{
    expect_bad("this is not json", 0, "header is not valid JSON");
    expect_bad("{\"a\":", 0, "header is not valid JSON");
    expect_bad("{} {}", 0, "header is not valid JSON");
    expect_bad("[1,2]", 0, "header is JSON but not an object");
    expect_bad("\"str\"", 0, "header is JSON but not an object");
    expect_bad("{\"a\":\"\xff\"}", 0, "not valid UTF-8");
    expect_bad("{\"a\":\"\xc0\x80\"}", 0, "not valid UTF-8"); /* overlong NUL */
    size_t len;
    uint8_t *b = mk("{}  xx", NULL, 0, &len);
    b[8 + 2] = '\0'; /* "{}\0 xx": cJSON would stop at the NUL */
    expect_bad_bytes(b, len, "NUL byte");
    free(b);
    expect_bad("{\"a\\u0000b\":{}}", 0, "\\u0000");
}
END_TEST

START_TEST(test_bad_entries)
{
    expect_bad("{\"a\":5}", 0, "tensor 'a': entry is not a JSON object");
    expect_bad("{\"\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}",
               4, "tensor with an empty name");
    expect_bad("{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
               "tensor 'a': missing \"dtype\"");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4,
               "missing \"shape\"");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4,
               "missing \"data_offsets\"");
    /* dtype */
    expect_bad("{\"a\":{\"dtype\":\"F31\",\"shape\":[1],\"data_offsets\":[0,4]}}",
               4, "tensor 'a': unknown or unsupported dtype 'F31'");
    expect_bad("{\"a\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
               "dtype is not a string");
    /* shape */
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}",
               4, "shape[0] is -1, must be a non-negative integer");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}",
               4, "non-integer number '1.5'");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1.0],\"data_offsets\":[0,4]}}",
               4, "non-integer number '1.0'");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1e0],\"data_offsets\":[0,4]}}",
               4, "non-integer number '1e0'");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[\"1\"],\"data_offsets\":[0,4]}}",
               4, "shape[0] is not a number");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":{},\"data_offsets\":[0,4]}}",
               4, "shape is not an array");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],"
               "\"data_offsets\":[0,4]}}", 4, "shape has 9 dimensions");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[18446744073709551616],"
               "\"data_offsets\":[0,4]}}", 4, "too large");
    /* 2^53 + 1 would round to 2^53 as a double: refused, not misread */
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[0,9007199254740993],"
               "\"data_offsets\":[0,0]}}", 0, "shape[1] is 9.0072e+15, too large");
    /* shape * size overflow: 2^40 * 2^40 elements */
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1099511627776,"
               "1099511627776],\"data_offsets\":[0,4]}}", 4,
               "shape [1099511627776,1099511627776] of F32 overflows");
    /* fits in 64-bit elements, overflows once multiplied by 8 bytes */
    expect_bad("{\"a\":{\"dtype\":\"F64\",\"shape\":[4194304,4194304,4194304],"
               "\"data_offsets\":[0,8]}}", 8, "overflows");
    /* size does not match offsets */
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}",
               4, "shape [2] of F32 needs 8 bytes but data_offsets [0,4] span 4");
    /* offsets */
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}",
               4, "data_offsets is not an array of two integers");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}",
               4, "data_offsets is not an array of two integers");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}",
               4, "data_offsets[0] is -4");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,0]}}",
               4, "data_offsets [4,0] end before they begin");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
               4, "data_offsets [4,8] lie outside the data area of 4 bytes");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":"
               "[18446744073709551612,18446744073709551616]}}", 4, "too large");
    /* duplicate keys, at the top and inside an entry */
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
               "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
               8, "duplicate key 'a' in the header");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F16\",\"shape\":[1],"
               "\"data_offsets\":[0,4]}}", 4, "duplicate key 'dtype'");
}
END_TEST

START_TEST(test_bad_layout)
{
    /* overlapping tensors */
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
               "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
               12, "tensors 'a' and 'b' overlap");
    /* aliasing: the same bytes twice */
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
               "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
               8, "overlap");
    /* a gap between tensors */
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
               "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
               12, "gap in the data area: bytes [4,8)");
    /* trailing bytes (or a file with tensors missing from the header) */
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
               8, "4 bytes after the last tensor");
    expect_bad("{}", 3, "3 bytes after the last tensor");
    /* truncation: last tensor cut short */
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
               "\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[4,20]}}",
               12, "lie outside the data area of 12 bytes (file truncated?)");
}
END_TEST

START_TEST(test_bad_metadata)
{
    expect_bad("{\"__metadata__\":{\"step\":5}}", 0,
               "__metadata__ value of 'step' is not a string");
    expect_bad("{\"__metadata__\":{\"a\":null}}", 0, "not a string");
    expect_bad("{\"__metadata__\":{\"a\":{}}}", 0, "not a string");
    expect_bad("{\"__metadata__\":[]}", 0, "__metadata__ is not a JSON object");
    expect_bad("{\"__metadata__\":{\"a\":\"x\",\"a\":\"y\"}}", 0,
               "duplicate key 'a' in __metadata__");
    expect_bad("{\"__metadata__\":{},\"__metadata__\":{}}", 0,
               "duplicate key '__metadata__'");
}
END_TEST

START_TEST(test_get_f32_mismatch)
{
    static const char json[] =
        "{\"G.enc1.conv3.weight\":{\"dtype\":\"F32\",\"shape\":[16,4,3,3],"
        "\"data_offsets\":[0,2304]}}";
    size_t len;
    uint8_t *b = mk(json, NULL, 2304, &len);
    cp_st_file *f;
    ck_assert_int_eq(cp_st_parse(b, len, "ckpt.safetensors", &f), CP_OK);
    free(b); /* parse copied it */
    float *out = malloc(32 * 4 * 9 * sizeof *out);
    int64_t want[4] = {32, 4, 3, 3};
    expect_error(cp_st_get_f32(f, "G.enc1.conv3.weight", 4, want, out),
                 CP_ERR_FORMAT,
                 "ckpt.safetensors: G.enc1.conv3.weight: shape [16,4,3,3] in "
                 "file, model expects [32,4,3,3]");
    int64_t want3[3] = {16, 4, 9};
    expect_error(cp_st_get_f32(f, "G.enc1.conv3.weight", 3, want3, out),
                 CP_ERR_FORMAT, "shape [16,4,3,3] in file, model expects [16,4,9]");
    expect_error(cp_st_get_f32(f, "G.enc1.conv3.bias", 1, want, out),
                 CP_ERR_FORMAT,
                 "ckpt.safetensors: tensor 'G.enc1.conv3.bias' not found");
    want[0] = 16;
    ck_assert_int_eq(cp_st_get_f32(f, "G.enc1.conv3.weight", 4, want, out), CP_OK);
    uint32_t u;
    memcpy(&u, &out[7], 4);
    ck_assert_uint_eq(u, 0xABABABABu);
    free(out);
    cp_st_close(f);
}
END_TEST

START_TEST(test_open_errors)
{
    make_tmpdir();
    char path[300];
    cp_st_file *f = (cp_st_file *)0x1;
    snprintf(path, sizeof path, "%s/missing.safetensors", tmpdir);
    expect_error(cp_st_open(path, &f), CP_ERR_IO, "No such file or directory");
    ck_assert_ptr_null(f);
    ck_assert_ptr_nonnull(strstr(cp_last_error(), path));

    snprintf(path, sizeof path, "%s/zero.safetensors", tmpdir);
    write_file(path, "", 0);
    expect_error(cp_st_open(path, &f), CP_ERR_FORMAT, "file is 0 bytes");
    ck_assert_ptr_nonnull(strstr(cp_last_error(), path));

    expect_error(cp_st_open(tmpdir, &f), CP_ERR_IO, "not a regular file");

    /* a truncated real checkpoint */
    snprintf(path, sizeof path, "%s/trunc.safetensors", tmpdir);
    cp_st_writer *w;
    float v[4] = {1, 2, 3, 4};
    int64_t s[1] = {4};
    ck_assert_int_eq(cp_st_writer_create(&w), CP_OK);
    ck_assert_int_eq(cp_st_writer_add_f32(w, "x", 1, s, v), CP_OK);
    ck_assert_int_eq(cp_st_writer_save(w, path), CP_OK);
    cp_st_writer_free(w);
    size_t len;
    uint8_t *b = read_all(path, &len);
    free(b);
    ck_assert_int_eq(truncate(path, (off_t)len - 6), 0);
    expect_error(cp_st_open(path, &f), CP_ERR_FORMAT, "(file truncated?)");
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "tensor 'x'"));
    remove_tmpdir();
}
END_TEST

/* ------------------------------------------------------------ writer */

START_TEST(test_writer_args)
{
    cp_st_writer *w;
    float v[2] = {1, 2};
    int64_t s[1] = {2}, neg[1] = {-2};
    ck_assert_int_eq(cp_st_writer_create(&w), CP_OK);
    ck_assert_int_eq(cp_st_writer_add_f32(w, "a", 1, s, v), CP_OK);
    expect_error(cp_st_writer_add_f32(w, "a", 1, s, v), CP_ERR_INVALID_ARGUMENT,
                 "duplicate tensor name 'a'");
    expect_error(cp_st_writer_add_f32(w, "", 1, s, v), CP_ERR_INVALID_ARGUMENT,
                 "invalid tensor name");
    expect_error(cp_st_writer_add_f32(w, "__metadata__", 1, s, v),
                 CP_ERR_INVALID_ARGUMENT, "invalid tensor name");
    expect_error(cp_st_writer_add_f32(w, "\xff", 1, s, v),
                 CP_ERR_INVALID_ARGUMENT, "invalid tensor name");
    expect_error(cp_st_writer_add_f32(w, "b", 1, neg, v),
                 CP_ERR_INVALID_ARGUMENT, "shape[0] is -2");
    expect_error(cp_st_writer_add_f32(w, "b", 9, s, v),
                 CP_ERR_INVALID_ARGUMENT, "ndim 9");
    expect_error(cp_st_writer_add_f32(w, "b", 1, s, NULL),
                 CP_ERR_INVALID_ARGUMENT, "NULL data");
    expect_error(cp_st_writer_set_meta(w, "k", "\xc3"),
                 CP_ERR_INVALID_ARGUMENT, "not valid UTF-8");
    cp_st_writer_free(w);
    cp_st_writer_free(NULL);
    cp_st_close(NULL);
}
END_TEST

/* Writes v1 and checks that a save of v2 that fails leaves v1 byte-identical
 * and no temporary file. */
static void save_v1(const char *path, uint8_t **bytes, size_t *len)
{
    cp_st_writer *w;
    float v[3] = {1, 2, 3};
    int64_t s[1] = {3};
    ck_assert_int_eq(cp_st_writer_create(&w), CP_OK);
    ck_assert_int_eq(cp_st_writer_add_f32(w, "v1", 1, s, v), CP_OK);
    ck_assert_int_eq(cp_st_writer_set_meta(w, "step", "1"), CP_OK);
    ck_assert_int_eq(cp_st_writer_save(w, path), CP_OK);
    cp_st_writer_free(w);
    *bytes = read_all(path, len);
}

static cp_st_writer *make_v2(void)
{
    cp_st_writer *w;
    static float big[4096];
    int64_t s[2] = {64, 64};
    ck_assert_int_eq(cp_st_writer_create(&w), CP_OK);
    ck_assert_int_eq(cp_st_writer_add_f32(w, "v2", 2, s, big), CP_OK);
    ck_assert_int_eq(cp_st_writer_set_meta(w, "step", "2"), CP_OK);
    return w;
}

static void expect_v1_intact(const char *path, const uint8_t *v1, size_t v1len)
{
    size_t len;
    uint8_t *b = read_all(path, &len);
    ck_assert_uint_eq(len, v1len);
    ck_assert_int_eq(memcmp(b, v1, len), 0);
    free(b);
    ck_assert_int_eq(count_entries(tmpdir), 1); /* no temporary left */
}

START_TEST(test_atomic_full_disk)
{
    make_tmpdir();
    char path[300];
    snprintf(path, sizeof path, "%s/ckpt.safetensors", tmpdir);
    uint8_t *v1;
    size_t v1len;
    save_v1(path, &v1, &v1len);
    cp_st_writer *w = make_v2();

    /* fail in the length prefix, the header, the padding and the data */
    const int64_t points[] = {0, 5, 8, 40, 100, 3000, 16383};
    for (size_t i = 0; i < sizeof points / sizeof points[0]; i++) {
        cp_st_debug_fail_after_bytes(points[i]);
        expect_error(cp_st_writer_save(w, path), CP_ERR_IO,
                     "No space left on device");
        ck_assert_ptr_nonnull(strstr(cp_last_error(), path));
        ck_assert_ptr_nonnull(strstr(cp_last_error(), "writing the temporary file"));
        expect_v1_intact(path, v1, v1len);
    }
    cp_st_debug_fail_after_bytes(-1);

    cp_st_debug_fail_fsync(true);
    expect_error(cp_st_writer_save(w, path), CP_ERR_IO, "fsync of the temporary");
    cp_st_debug_fail_fsync(false);
    expect_v1_intact(path, v1, v1len);

    cp_st_debug_fail_rename(true);
    expect_error(cp_st_writer_save(w, path), CP_ERR_IO, "renaming");
    cp_st_debug_fail_rename(false);
    expect_v1_intact(path, v1, v1len);

    /* with the hooks off the same writer saves fine and replaces v1,
     * keeping its mode */
    ck_assert_int_eq(chmod(path, 0600), 0);
    ck_assert_int_eq(cp_st_writer_save(w, path), CP_OK);
    cp_st_writer_free(w);
    struct stat sb;
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_int_eq(sb.st_mode & 0777, 0600);
    ck_assert_int_eq(count_entries(tmpdir), 1);
    cp_st_file *f;
    ck_assert_int_eq(cp_st_open(path, &f), CP_OK);
    ck_assert_str_eq(cp_st_meta(f, "step"), "2");
    ck_assert_ptr_nonnull(cp_st_find(f, "v2"));
    cp_st_close(f);
    free(v1);
    remove_tmpdir();
}
END_TEST

/* A real kernel write failure, without root or mounts: RLIMIT_FSIZE makes
 * write() fail with EFBIG once the file would grow past the limit. */
START_TEST(test_atomic_real_write_failure)
{
    make_tmpdir();
    char path[300];
    snprintf(path, sizeof path, "%s/ckpt.safetensors", tmpdir);
    uint8_t *v1;
    size_t v1len;
    save_v1(path, &v1, &v1len);
    cp_st_writer *w = make_v2();

    struct rlimit old, lim;
    ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    lim = old;
    lim.rlim_cur = 4096;
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
    cp_status st = cp_st_writer_save(w, path);
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, old_handler);
    expect_error(st, CP_ERR_IO, "File too large");
    expect_v1_intact(path, v1, v1len);
    cp_st_writer_free(w);
    free(v1);
    remove_tmpdir();
}
END_TEST

START_TEST(test_save_missing_folder)
{
    make_tmpdir();
    char path[300];
    snprintf(path, sizeof path, "%s/no/such/dir/ckpt.safetensors", tmpdir);
    cp_st_writer *w = make_v2();
    expect_error(cp_st_writer_save(w, path), CP_ERR_IO,
                 "cannot create a temporary file in folder");
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "No such file or directory"));
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "/no/such/dir"));
    ck_assert_int_eq(count_entries(tmpdir), 0);

    /* a relative path saves into the current folder */
    char cwd[512];
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
    ck_assert_int_eq(chdir(tmpdir), 0);
    ck_assert_int_eq(cp_st_writer_save(w, "rel.safetensors"), CP_OK);
    ck_assert_int_eq(chdir(cwd), 0);
    ck_assert_int_eq(count_entries(tmpdir), 1);
    cp_st_writer_free(w);
    remove_tmpdir();
}
END_TEST

/* ------------------------------------------------------------ fuzz finds */

START_TEST(test_fuzz_regressions)
{
    /* Found by comparing our verdicts on the fuzz corpus with the Python
     * reference (serde_json): cJSON accepted these, strict JSON does not. */
    static const char ok[] =
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
    char j[160];
    /* control bytes taken as whitespace, inside and after the object */
    snprintf(j, sizeof j, "%s\x01\x02", ok);
    expect_bad(j, 4, "invalid byte 0x01 outside any JSON string");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[\x11 1],"
               "\"data_offsets\":[0,4]}}", 4, "invalid byte 0x11");
    /* UTF-8 byte order mark, which cJSON skips */
    snprintf(j, sizeof j, "\xef\xbb\xbf%s", ok);
    expect_bad(j, 4, "invalid byte 0xef");
    /* raw control character inside a string */
    expect_bad("{\"a\tb\":{\"dtype\":\"F32\",\"shape\":[1],"
               "\"data_offsets\":[0,4]}}", 4, "unescaped control character 0x09");
    /* a malformed \u escape, which cJSON decodes as U+0000 */
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"x\\u00\x7f" "0\":1,"
               "\"data_offsets\":[0,4]}}", 4, "malformed \\u escape");
    expect_bad("{\"a\\u12\":{}}", 0, "malformed \\u escape");
    /* leading zeros */
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],"
               "\"data_offsets\":[00,04]}}", 4, "number '00' with a leading zero");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[-01],"
               "\"data_offsets\":[0,4]}}", 4, "leading zero");
    /* the same header with plain whitespace and a lone 0 is fine */
    size_t len;
    uint8_t *b = mk("\t{ \"a\" :\r\n{\"dtype\":\"F32\",\"shape\":[1],"
                    "\"data_offsets\":[0,4]}}  ", NULL, 4, &len);
    cp_st_file *f;
    ck_assert_int_eq(cp_st_parse(b, len, NULL, &f), CP_OK);
    ck_assert_str_eq(cp_st_label(f), "<memory>");
    cp_st_close(f);
    free(b);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("safetensors");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_exact_bytes);
    tcase_add_test(tc, test_other_dtypes);
    tcase_add_test(tc, test_bad_prefix);
    tcase_add_test(tc, test_bad_json);
    tcase_add_test(tc, test_bad_entries);
    tcase_add_test(tc, test_bad_layout);
    tcase_add_test(tc, test_bad_metadata);
    tcase_add_test(tc, test_get_f32_mismatch);
    tcase_add_test(tc, test_open_errors);
    tcase_add_test(tc, test_writer_args);
    tcase_add_test(tc, test_atomic_full_disk);
    tcase_add_test(tc, test_atomic_real_write_failure);
    tcase_add_test(tc, test_save_missing_folder);
    tcase_add_test(tc, test_fuzz_regressions);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
