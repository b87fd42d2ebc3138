/* Shared by `inpaint`, `eval` and `demo`: input lists with unique output
 * names, folders, the paste of a result back into the original photo, and
 * the inpainting engine itself (defined in cmd_inpaint.c). */
#ifndef CLINPAINT_TOOL_IMAGE_CLI_H
#define CLINPAINT_TOOL_IMAGE_CLI_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clinpaint/image.h"
#include "clinpaint/runtime.h"
#include "clinpaint/status.h"

/* ---- inputs ---- */

typedef struct ic_input {
    char *path;    /* the file to read */
    char *relpath; /* for per-image mask folders: path below the folder
                      argument ('/' separators), or the file's base name */
    char *name;    /* unique output stem: OUT/<name>.png, <name>_full.png,
                      <name>_sbs.png */
} ic_input;

typedef struct ic_inputs {
    ic_input *v;
    size_t n, cap;
} ic_inputs;

/* Expands the arguments: a regular file is taken as is (whatever its
 * extension), a folder gives every image below it (recursively, sorted). A
 * missing path, a FIFO/socket/device (never opened), a folder without
 * images, and each unreadable subfolder or non-regular image entry inside a
 * folder is warned about once and counted in *missing.
 * Then gives each input a unique output name: its base name without
 * extension, with _2, _3, ... appended when any of its three output files
 * would collide with another input's. Fails only on out of memory. */
cp_status ic_collect_inputs(const char *const *args, int count, ic_inputs *out, size_t *missing);
void ic_inputs_free(ic_inputs *in);

/* mkdir -p. */
cp_status ic_mkdirs(const char *path);

/* ---- resampling and the paste back ---- */

/* Resamples an sw×sh image of `ch` interleaved float channels to dw×dh
 * with pixel centres aligned (x_src = (x + 0.5)·sw/dw − 0.5, edges
 * clamped). `cubic`: Catmull-Rom (Keys, a = −0.5), else a triangle
 * (bilinear) filter; when shrinking the kernel is widened by the factor
 * (antialiasing). */
cp_status ic_resample(const float *src, int sw, int sh, int ch, float *dst, int dw, int dh,
                      bool cubic);

/* A square crop box in photo pixels: side s at (x0, y0). It may reach past
 * the photo (a face near an edge); pixels outside are reflected when the
 * crop is read and never written when pasting back. */
typedef struct ic_crop {
    int x0, y0, s;
} ic_crop;

/* MODEL.md's data rule: side min(w, h) at (floor((w − s)/2), floor((h − s)/2)). */
ic_crop ic_centre_crop(int w, int h);

/* The crop that frames a face box (X, Y, W, H) as an aligned CelebA-style
 * crop does: side s = round(IC_FACE_CROP_RATIO · max(W, H)), the box centre
 * at (0.5·s, IC_FACE_CENTRE_ROW·s) of the crop (docs/commands.md). */
#define IC_FACE_CROP_RATIO 1.75
#define IC_FACE_CENTRE_ROW 0.54
ic_crop ic_face_crop(int X, int Y, int W, int H);

/* --face's value "X,Y,W,H": four whole numbers, X, Y >= 0, W, H >= 1. */
bool ic_parse_face_box(const char *v, int box[4]);
#define IC_FACE_USAGE                                                                    \
    "--face '%s': X,Y,W,H in pixels, X and Y >= 0 (the box's top-left corner), W and H " \
    ">= 1 (its size), inside the photo"

/* The crop of a photo read from `path`: ic_face_crop of `face` (X, Y, W, H),
 * which must lie inside the photo (CP_ERR_INVALID_ARGUMENT naming it
 * otherwise), or the centre crop when `face` is NULL. */
cp_status ic_photo_crop(const cp_image *img, const char *path, const int *face, ic_crop *out);

/* The crop resized to S×S HWC bytes (cp_resize_square_rgb's filters),
 * the part outside the photo filled by reflection about its edge pixels. */
cp_status ic_crop_resize(const cp_image *img, ic_crop box, int S, uint8_t *rgb);

/* True when the photo is grayscale: at least 99% of its pixels have
 * max(R, G, B) − min(R, G, B) <= IC_GRAY_TOLERANCE. */
#define IC_GRAY_TOLERANCE 10
bool ic_is_grayscale(const cp_image *img);

/* 3×S×S floats: every pixel's three channels replaced by its ITU-R 601 luma. */
void ic_chw_to_gray(float *chw, int S);

/* The notes of an output line, each "; ..." on stdout: the face crop (when
 * `face`), the grayscale fill (when `gray`), and that the fill is upscaled
 * when the crop is more than twice the model's size S. */
void ic_print_crop_notes(ic_crop box, bool face, bool gray, int S);

/* The feather width in photo pixels for a crop of side s from a model of
 * size S: max(3, ceil(s/S)), at least one model pixel. */
int ic_feather_width(int s, int S);

/* The composite y (3×S×S, [−1, 1]) pasted back into `orig` at its own
 * resolution, inside `box`: the hole is where the mask resampled to s×s with
 * the triangle filter is >= 0.5 (for an integer factor s/S exactly the
 * nearest-neighbour mask); it receives y resampled to s×s with Catmull-Rom.
 * Pixels outside the hole within `feather` pixels of it (Euclidean, by a
 * chamfer distance transform, inside the box) are blended: weight 1 − d/(F+1)
 * for the resampled y. Every other pixel is a copy of `orig`. Allocates
 * `out`. *hole_pixels: pixels of the hole (inside the photo). */
cp_status ic_paste_full(const cp_image *orig, const float *y, const float *mask, int S,
                        ic_crop box, int feather, cp_image *out, size_t *hole_pixels);

/* ---- the inpainting engine (cmd_inpaint.c) ---- */

typedef struct ic_inpaint_job {
    const char *cmd;        /* for messages: "inpaint", "demo" */
    const char *model_path;
    const char *mask_spec;  /* center|rect|free|face|mixed|PNG|DIR */
    const char *out_dir;
    const char *const *inputs;
    int input_count;
    int batch;
    uint64_t seed;
    bool side_by_side;
    bool quiet;             /* no line per image */
    const char *grid_path;  /* optional: rows of (input | masked | result) */
    bool have_face;         /* crop around face_box instead of the centre */
    int face_box[4];        /* X, Y, W, H in photo pixels */
    int grid_max;           /* rows in that grid */
} ic_inpaint_job;

typedef struct ic_inpaint_result {
    size_t done, skipped;
    int size; /* the model's S */
} ic_inpaint_result;

/* Runs the job on `ctx` (NULL: creates one for `device`). Prints what it
 * writes on stdout and warnings on stderr. Returns the exit code: 0 when at
 * least one image was written, 1 when none could be, 1 or 2 for a bad model
 * or mask (cli_fail). */
int ic_inpaint(const ic_inpaint_job *job, cp_context *ctx, const char *device,
               ic_inpaint_result *res);

#endif
