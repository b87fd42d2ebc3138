/* stb_image_write and stb_image_resize (for the tests and tools/bench_data),
 * compiled here only when the system has no compiled libstb (Debian's
 * libstb-dev ships them as libstb.so; elsewhere stb is often headers only).
 * stb_image itself is not here: decode_stb.c builds it with only BMP, TGA
 * and GIF. The third-party code is built without our warning flags. */
#ifndef CLINPAINT_HAVE_LIBSTB
#if defined(__GNUC__) || defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wall"
#pragma GCC diagnostic ignored "-Wextra"
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#endif
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_RESIZE_IMPLEMENTATION
#include <stb_image_write.h>
#include <stb_image_resize.h>
#if defined(__GNUC__) || defined(__clang__)
#pragma GCC diagnostic pop
#endif
#else
/* ISO C wants at least one declaration per translation unit. */
typedef int cp_stb_impl_unused;
#endif
