/* cp_read_file (clinpaint/files.h): a whole regular file with a size cap,
 * for programs on the public API (clinpaint bench --load/--compare). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clinpaint/files.h"
#include "util/test_util.h"

static char *path_in(const char *dir, const char *name)
{
    char *p = malloc(strlen(dir) + strlen(name) + 2);
    ck_assert_ptr_nonnull(p);
    sprintf(p, "%s/%s", dir, name);
    return p;
}

static void write_bytes(const char *path, const char *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

START_TEST(reads_whole_files_within_the_cap)
{
    char *dir = tu_tempdir();
    char *p = path_in(dir, "a.bin"), *empty = path_in(dir, "empty");
    const char bytes[] = {'x', 0, 'y', '\n', 'z'};
    write_bytes(p, bytes, sizeof bytes);
    write_bytes(empty, "", 0);
    char *data = NULL;
    size_t size = 99;
    TU_OK(cp_read_file(p, sizeof bytes, &data, &size));
    ck_assert_uint_eq(size, sizeof bytes);
    ck_assert_mem_eq(data, bytes, sizeof bytes);
    ck_assert_int_eq(data[size], 0);
    free(data);
    TU_OK(cp_read_file(empty, 0, &data, &size));
    ck_assert_uint_eq(size, 0);
    ck_assert_str_eq(data, "");
    free(data);
    tu_rmdir(dir);
    free(dir);
    free(p);
    free(empty);
}
END_TEST

START_TEST(refuses_what_is_not_a_small_regular_file)
{
    char *dir = tu_tempdir();
    char *p = path_in(dir, "big"), *missing = path_in(dir, "missing");
    write_bytes(p, "0123456789", 10);
    char *data = (char *)1;
    size_t size = 1;
    ck_assert_int_eq(cp_read_file(p, 9, &data, &size), CP_ERR_IO);
    ck_assert_ptr_null(data);
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "larger than 9 bytes"));
    ck_assert_int_eq(cp_read_file(missing, 0, &data, &size), CP_ERR_IO);
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "missing"));
    ck_assert_int_eq(cp_read_file(dir, 0, &data, &size), CP_ERR_IO);
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "not a regular file"));
    /* A FIFO without a writer: refused at once, never waited on. */
    char *fifo = path_in(dir, "fifo");
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    ck_assert_int_eq(cp_read_file(fifo, 0, &data, &size), CP_ERR_IO);
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "not a regular file"));
    remove(fifo);
    free(fifo);
    tu_rmdir(dir);
    free(dir);
    free(p);
    free(missing);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("read_file");
    TCase *tc = tcase_create("read_file");
    tcase_add_test(tc, reads_whole_files_within_the_cap);
    tcase_add_test(tc, refuses_what_is_not_a_small_regular_file);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
