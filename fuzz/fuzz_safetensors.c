/* libFuzzer target: cp_st_parse on arbitrary bytes, then every accessor on
 * whatever it accepts. Sanitizers catch bad reads; the checks below trap on
 * broken invariants (an accepted file must be internally consistent, and a
 * rejection must always come with a message). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "clinpaint/safetensors.h"

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cp_st_file *f = NULL;
    cp_clear_error();
    cp_status st = cp_st_parse(data, size, "fuzz", &f);
    if (st != CP_OK) {
        CHECK(f == NULL);
        CHECK(st == CP_ERR_FORMAT || st == CP_ERR_OUT_OF_HOST_MEMORY);
        CHECK(strncmp(cp_last_error(), "fuzz: ", 6) == 0);
        return 0;
    }
    size_t total = 0;
    const uint8_t *prev_end = NULL;
    for (size_t i = 0; i < cp_st_count(f); i++) {
        const cp_st_tensor *t = cp_st_at(f, i);
        CHECK(t && t->name[0] != '\0');
        CHECK(cp_st_find(f, t->name) == t);
        CHECK(t->ndim >= 0 && t->ndim <= CP_ST_MAX_DIMS);
        uint64_t numel = 1;
        for (int d = 0; d < t->ndim; d++) {
            CHECK(t->shape[d] >= 0);
            numel *= (uint64_t)t->shape[d];
        }
        CHECK(numel == t->numel);
        CHECK(t->nbytes == numel * cp_st_dtype_size(t->dtype));
        /* tensors tile the data area in order */
        CHECK(prev_end == NULL || t->data == prev_end);
        prev_end = t->data + t->nbytes;
        total += t->nbytes;
        CHECK(total <= size);
        /* touch every byte so ASan sees any out-of-bounds pointer */
        volatile uint8_t sink = 0;
        for (size_t k = 0; k < t->nbytes; k++) sink ^= t->data[k];
        (void)sink;
        float *out = malloc(t->numel ? t->numel * sizeof *out : 1);
        CHECK(out != NULL);
        st = cp_st_get_f32(f, t->name, t->ndim, t->shape, out);
        CHECK((st == CP_OK) == (t->dtype == CP_ST_F32));
        if (t->ndim > 0) {
            int64_t wrong[CP_ST_MAX_DIMS];
            memcpy(wrong, t->shape, sizeof wrong);
            wrong[0] += 1;
            CHECK(cp_st_get_f32(f, t->name, t->ndim, wrong, out) == CP_ERR_FORMAT);
        }
        free(out);
    }
    /* the tensors cover the whole data area */
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | data[i];
    CHECK(total == size - 8 - hlen);
    for (size_t i = 0; i < cp_st_meta_count(f); i++) {
        const char *k = cp_st_meta_key(f, i);
        CHECK(k != NULL);
        const char *v = cp_st_meta(f, k);
        CHECK(v != NULL);
        CHECK(strlen(v) <= size);
        if (i > 0) CHECK(strcmp(cp_st_meta_key(f, i - 1), k) < 0);
    }
    CHECK(cp_st_meta_key(f, cp_st_meta_count(f)) == NULL);
    CHECK(cp_st_at(f, cp_st_count(f)) == NULL);
    CHECK(cp_st_find(f, "") == NULL);
    cp_st_close(f);
    return 0;
}
