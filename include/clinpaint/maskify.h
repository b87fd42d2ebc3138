/* clinpaint: synthetic masked faces (`clinpaint maskify`), the training data
 * of a mask segmenter.
 *
 * A medical mask (surgical, N95/KN95 or cloth) is drawn onto an aligned face
 * crop around MODEL.md's `face` region (rows ~0.55·S..0.95·S, columns
 * ~0.18·S..0.82·S), with position, scale and rotation jitter, shading that
 * follows the light on the lower face, ear loops or straps reaching to the
 * crop's sides, a slight blur and noise. The binary mask is exactly the set
 * of pixels whose colour the drawing changed (loops and straps included). */
#ifndef CLINPAINT_MASKIFY_H
#define CLINPAINT_MASKIFY_H

#include <stdbool.h>
#include <stdint.h>

#include "clinpaint/dataset.h"
#include "clinpaint/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cp_maskify_kind {
    CP_MASKIFY_SURGICAL, /* pleated; blue, green, white, black or pink; ear loops */
    CP_MASKIFY_N95,      /* N95 cup or folded KN95, sometimes a valve; straps */
    CP_MASKIFY_CLOTH,    /* solid colour, stripes, dots or checks; ear loops */
    CP_MASKIFY_KIND_COUNT
} cp_maskify_kind;

/* A set of kinds: bit (1u << kind). */
#define CP_MASKIFY_ALL_KINDS ((1u << CP_MASKIFY_KIND_COUNT) - 1u)

/* "surgical", "n95", "cloth". */
const char *cp_maskify_kind_name(cp_maskify_kind kind);
/* False when `name` is no kind. */
bool cp_maskify_kind_parse(const char *name, cp_maskify_kind *out);
/* A comma-separated list of kind names ("surgical,cloth") into a set.
 * CP_ERR_INVALID_ARGUMENT naming the entry for an unknown or empty entry. */
cp_status cp_maskify_kinds_parse(const char *list, unsigned *kinds);

/* Smallest face side maskify draws on. */
#define CP_MASKIFY_MIN_SIZE 16
#define CP_MASKIFY_MAX_SIZE 4096

/* The jitter of the drawn mask, in units of S: the body's top edge (the
 * nose line, 0.55·S) moves up by at most CP_MASKIFY_MAX_RISE with every
 * jitter, the loops and the blur together, so no mask pixel lies above row
 * (0.55 − CP_MASKIFY_MAX_RISE)·S. */
#define CP_MASKIFY_NOSE_LINE 0.55
#define CP_MASKIFY_MAX_RISE 0.08

/* The kind drawn for the face with `key` in a run with `seed`, uniformly
 * among `kinds` (a non-empty set). */
cp_maskify_kind cp_maskify_pick_kind(unsigned kinds, uint64_t seed, uint64_t key);

/* Draws a mask of `kind` onto `face` (S×S RGB, HWC): `masked` receives the
 * masked face (S*S*3 bytes), `mask` the changed pixels (S*S bytes, 255 where
 * any channel of `masked` differs from `face`, 0 elsewhere). The random
 * choices come from (seed, key): the same arguments give the same bytes.
 * CP_ERR_INVALID_ARGUMENT for S out of range or a bad kind. */
cp_status cp_maskify_face(const uint8_t *face, int S, cp_maskify_kind kind, uint64_t seed,
                          uint64_t key, uint8_t *masked, uint8_t *mask);

typedef struct cp_maskify_options {
    int size;        /* S: each face is centre-cropped and resized to S×S */
    uint64_t count;  /* faces to write; 0 = one per image. More than the
                        images: further rounds with new masks */
    uint64_t seed;
    unsigned kinds;  /* set of kinds; 0 = all */
    cp_split split;  /* which images of the folder: all, train or test */
    /* Optional: called after each face (done of total). */
    void (*progress)(void *user, uint64_t done, uint64_t total);
    void *progress_user;
} cp_maskify_options;

/* Defaults: size 128, count 0, seed 0, all kinds, CP_SPLIT_ALL. */
cp_maskify_options cp_maskify_defaults(void);

typedef struct cp_maskify_result {
    uint64_t written;                          /* faces written */
    uint64_t per_kind[CP_MASKIFY_KIND_COUNT];  /* of which each kind */
    uint64_t skipped;                          /* images that could not be decoded */
} cp_maskify_result;

/* Draws masks on the images of `data_dir` (a data set as in
 * clinpaint/dataset.h) and writes, for the image at relative path REL, with
 * NAME = REL without its extension + ".png" ("_rR.png" in round R > 0):
 *   OUT/masked/NAME    the masked face
 *   OUT/mask/NAME      the binary mask (white 255 = changed, black 0)
 *   OUT/original/NAME  the face as it was (S×S)
 * and OUT/maskify.csv: "file,kind,source" per face. The three folders share
 * names, so `--data OUT/original --mask OUT/mask` trains the inpainter on
 * these masks. The face NAME takes its kind and mask from
 * (seed, FNV-1a-64(NAME)), independent of --count and of the other images.
 * Errors: as cp_dataset_open for the data folder (no images:
 * CP_ERR_INVALID_ARGUMENT), CP_ERR_INVALID_ARGUMENT for bad options or two
 * images with the same NAME (a.jpg and a.png; before anything is written),
 * CP_ERR_IO when a file or folder cannot be written, CP_ERR_FORMAT when no
 * image decodes. */
cp_status cp_maskify_folder(const char *data_dir, const char *out_dir,
                            const cp_maskify_options *opt, cp_maskify_result *result);

#ifdef __cplusplus
}
#endif
#endif
