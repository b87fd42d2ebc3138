/* cp_read_file (clinpaint/files.h): a whole regular file with a size cap,
 * for programs on the public API (clinpaint bench --load/--compare). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clinpaint/files.h"
#include "util/test_util.h"

/* tu_tmp/name in a string of its own (tu_tmp_path's buffer is reused). */
static char *tmp(const char *name)
{
    char *p = strdup(tu_tmp_path(name));
    ck_assert_ptr_nonnull(p);
    return p;
}

START_TEST(reads_whole_files_within_the_cap)
{
    char *p = tmp("a.bin"), *empty = tmp("empty");
    const char bytes[] = {'x', 0, 'y', '\n', 'z'};
    tu_write_file(p, bytes, sizeof bytes);
    tu_write_file(empty, "", 0);
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
    free(p);
    free(empty);
}
END_TEST

START_TEST(refuses_what_is_not_a_small_regular_file)
{
    char *p = tmp("big"), *missing = tmp("missing"), *fifo = tmp("fifo");
    tu_write_file(p, "0123456789", 10);
    char *data = (char *)1;
    size_t size = 1;
    ck_assert_int_eq(cp_read_file(p, 9, &data, &size), CP_ERR_IO);
    ck_assert_ptr_null(data);
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "larger than 9 bytes"));
    ck_assert_int_eq(cp_read_file(missing, 0, &data, &size), CP_ERR_IO);
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "missing"));
    ck_assert_int_eq(cp_read_file(tu_tmp, 0, &data, &size), CP_ERR_IO);
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "not a regular file"));
    /* A FIFO without a writer: refused at once, never waited on. */
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    ck_assert_int_eq(cp_read_file(fifo, 0, &data, &size), CP_ERR_IO);
    ck_assert_ptr_nonnull(strstr(cp_last_error(), "not a regular file"));
    free(p);
    free(missing);
    free(fifo);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("read_file");
    TCase *tc = tcase_create("read_file");
    tcase_add_checked_fixture(tc, tu_tmp_setup, tu_tmp_teardown);
    tcase_add_test(tc, reads_whole_files_within_the_cap);
    tcase_add_test(tc, refuses_what_is_not_a_small_regular_file);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
