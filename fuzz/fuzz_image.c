/* libFuzzer target: cp_image_load_memory (every format: PNG, JPEG, BMP, TGA,
 * GIF, and whatever else the bytes look like) and the header-only
 * cp_image_info_memory on arbitrary bytes. Sanitizers catch bad reads and
 * writes; the checks trap on broken promises: an accepted image has its
 * header's size within the budget and every pixel readable, a refusal
 * leaves no pixels and always says why, naming the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "clinpaint/image.h"

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

/* Small enough that a bomb costs milliseconds, big enough for real files. */
#define FUZZ_MAX_PIXELS ((size_t)1 << 22)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        CHECK(cp_image_set_max_pixels(FUZZ_MAX_PIXELS) == CP_OK);
        ready = 1;
    }
    int w = -1, h = -1;
    cp_clear_error();
    cp_status info = cp_image_info_memory(data, size, "fuzz", &w, &h);
    if (info != CP_OK) CHECK(strncmp(cp_last_error(), "'fuzz': ", 8) == 0);
    else CHECK(w > 0 && h > 0 && (size_t)w * (size_t)h <= FUZZ_MAX_PIXELS);

    cp_image img;
    cp_clear_error();
    cp_status st = cp_image_load_memory(data, size, "fuzz", &img);
    if (st != CP_OK) {
        CHECK(img.pixels == NULL && img.w == 0 && img.h == 0);
        CHECK(st == CP_ERR_FORMAT || st == CP_ERR_OUT_OF_HOST_MEMORY);
        CHECK(strncmp(cp_last_error(), "'fuzz': ", 8) == 0);
        return 0;
    }
    /* the header said the same, and nothing past it was needed to say so */
    CHECK(info == CP_OK && img.w == w && img.h == h);
    CHECK(img.pixels != NULL);
    /* touch every byte so ASan sees a short buffer */
    volatile uint8_t sink = 0;
    for (size_t k = 0; k < (size_t)img.w * img.h * 3; k++) sink ^= img.pixels[k];
    (void)sink;
    cp_image_free(&img);
    return 0;
}
