/* clinpaint: image folders, the train/test split and the batch loader
 * (MODEL.md, "Data").
 *
 * A data set is every JPEG/PNG/BMP/TGA/GIF file under a folder, recursively
 * (by extension, any case; names starting with '.' are ignored), sorted by
 * relative path. An image is in the test split iff FNV-1a-64 of its relative
 * path ('/' separators) % 10 == 0. Unreadable files are skipped with one
 * warning each, through the warning handler (clinpaint/warning.h), and one
 * line with their count per data set; cp_dataset_skipped() counts them. */
#ifndef CLINPAINT_DATASET_H
#define CLINPAINT_DATASET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clinpaint/status.h"

#ifdef __cplusplus
extern "C" {
#endif

struct cp_mask_source;

/* FNV-1a, 64 bit: offset basis 0xcbf29ce484222325, prime 0x100000001b3.
 * cp_fnv1a64("a", 1) == 0xaf63dc4c8601ec8c. */
uint64_t cp_fnv1a64(const void *data, size_t size);

typedef enum cp_split {
    CP_SPLIT_ALL = 0, /* every image */
    CP_SPLIT_TRAIN,   /* FNV-1a-64(relpath) % 10 != 0: about 90% */
    CP_SPLIT_TEST     /* FNV-1a-64(relpath) % 10 == 0: about 10% */
} cp_split;

/* The split an image belongs to (CP_SPLIT_TRAIN or CP_SPLIT_TEST). */
cp_split cp_split_of(const char *relpath);
const char *cp_split_name(cp_split split); /* "all", "train", "test" */

typedef struct cp_dataset cp_dataset;

/* Lists the images of `dir` in `split`. Each file's header is checked
 * (stb's info call: cheap); empty, unreadable and non-image files are skipped
 * with a warning, as are image-named entries that are not regular files
 * (FIFOs, sockets, devices: never opened), dangling links and unreadable
 * subfolders (those in the "all" and "test" data sets only, so that a
 * trainer opening both splits reports each once). Then one warning with the
 * count, when any. Errors: CP_ERR_IO when the folder is missing or
 * unreadable, CP_ERR_INVALID_ARGUMENT when it is not a folder, holds no image
 * file, no usable image, or none in the requested split; the message names
 * the folder. */
cp_status cp_dataset_open(const char *dir, cp_split split, cp_dataset **out);
void cp_dataset_free(cp_dataset *ds);

/* Decodes every image once (using `threads` threads, 0 = default) and drops
 * the ones that fail, warning about each: for evaluation, so that a truncated
 * file does not turn into a duplicate of its neighbour later. Errors as
 * cp_dataset_open when no image is left. */
cp_status cp_dataset_verify(cp_dataset *ds, int threads);

size_t cp_dataset_count(const cp_dataset *ds);
const char *cp_dataset_dir(const cp_dataset *ds);
cp_split cp_dataset_split(const cp_dataset *ds);
/* Relative path of image i ('/' separators), valid while ds lives. */
const char *cp_dataset_relpath(const cp_dataset *ds, size_t i);
/* Files skipped so far: at open, in cp_dataset_verify and while loading.
 * Thread-safe. */
size_t cp_dataset_skipped(const cp_dataset *ds);

/* Decodes image i, centre-crops and resizes it to S×S into `rgb` (S*S*3
 * bytes, HWC). On a decode failure the file is marked bad, warned about once
 * and counted as skipped, and CP_ERR_FORMAT is returned. Thread-safe. */
cp_status cp_dataset_load(const cp_dataset *ds, size_t i, int S, uint8_t *rgb);
/* True once image i has been found bad. */
bool cp_dataset_is_bad(const cp_dataset *ds, size_t i);

/* ---- the batch loader ---- */

typedef struct cp_loader_options {
    int size;          /* S */
    int batch;         /* N */
    uint64_t seed;     /* the run's seed: shuffling, flips, masks */
    bool train;        /* true: shuffle per epoch, random flips, drop the last
                          partial batch. false: file order, no flips, the last
                          batch may be partial (evaluation). */
    int threads;       /* decoding threads; 0 = min(2, online cores) */
    int prefetch;      /* batches decoded ahead; 0 = max(2, threads) */
    size_t cache_bytes;/* keep decoded S×S images up to this many bytes
                          (0 = no cache) */
    /* Optional: also produce one mask per sample, from
     * cp_mask_source_get(masks, relpath, mask_seed, sample_index). */
    const struct cp_mask_source *masks;
    uint64_t mask_seed;
    /* A cp_augment set: each training sample is re-framed and recoloured
     * (cp_augment_draw, cp_augment_keep) before the flip; masks stay in the
     * model's frame. Ignored when !train. Default CP_AUGMENT_NONE. */
    int augment;
    /* Evaluation (!train) only: with reframe_zoom > 0 every sample is
     * re-framed (cp_reframe_rgb) at that zoom, its centre shifted by
     * reframe_shift·S in a direction that turns by the golden angle from one
     * sample to the next (sample k: angle 2.39996·k), so that a split is
     * re-framed the same way every time. 0: as it is. */
    float reframe_zoom, reframe_shift;
    /* Evaluation only: every sample (after any re-framing) in grayscale,
     * ITU-R 601 luma in all three channels, as cp_augment_apply's gray. */
    bool reframe_gray;
} cp_loader_options;

/* Defaults: size 128, batch 8, seed 0, train, threads 0, prefetch 0,
 * cache 1 GiB, no masks. */
cp_loader_options cp_loader_defaults(void);

typedef struct cp_batch {
    int n;                   /* samples in this batch (== batch, except the
                                last one of an evaluation pass) */
    int size;                /* S */
    uint64_t epoch, index;   /* position: batch `index` of epoch `epoch` */
    float *images;           /* n×3×S×S, NCHW, [-1, 1] */
    float *masks;            /* n×1×S×S (1 = missing), or NULL without a
                                mask source */
    const char **relpaths;   /* n relative paths (of the image actually used) */
    size_t *items;           /* n data set indices */
    uint64_t *sample_ids;    /* n: epoch·count + position in the epoch; the
                                sample index used for masks */
    uint8_t *flipped;        /* n: 1 if mirrored left-right */
} cp_batch;

typedef struct cp_loader cp_loader;

/* Starts the background threads at (epoch 0, batch 0). The data set must
 * outlive the loader. CP_ERR_INVALID_ARGUMENT when a training split holds
 * fewer images than one batch. */
cp_status cp_loader_create(const cp_dataset *ds, const cp_loader_options *opt,
                           cp_loader **out);
/* Joins the threads and frees everything; NULL is fine. */
void cp_loader_free(cp_loader *ld);

/* Batches per epoch: floor(count/N) when training, ceil(count/N) else. */
uint64_t cp_loader_batches_per_epoch(const cp_loader *ld);

/* Returns the batch at the current position and advances by one (to the next
 * epoch after its last batch). *out stays valid until the next call of
 * cp_loader_next, cp_loader_seek or cp_loader_free. Blocks until the batch
 * is decoded. Fails only when no image at all can be decoded or memory runs
 * out. */
cp_status cp_loader_next(cp_loader *ld, const cp_batch **out);

/* Moves to (epoch, batch index): the batches returned from there on are the
 * same as in an uninterrupted run, so a resumed training sees the same data.
 * Discards prefetched work. CP_ERR_INVALID_ARGUMENT if batch is not below
 * cp_loader_batches_per_epoch. */
cp_status cp_loader_seek(cp_loader *ld, uint64_t epoch, uint64_t batch);
/* The position of the batch the next cp_loader_next returns. */
uint64_t cp_loader_epoch(const cp_loader *ld);
uint64_t cp_loader_batch_index(const cp_loader *ld);

/* ---- framing augmentation and re-framing (augment.c) ---- */

/* A set of parts (bits); CP_AUGMENT_FRAMING is all three, the default. The
 * single parts exist to measure what each buys (notes/framing.md). */
typedef enum cp_augment {
    CP_AUGMENT_NONE = 0,     /* the aligned crop as it is */
    CP_AUGMENT_GEOMETRY = 1, /* zoom, shift, rotation */
    CP_AUGMENT_COLOUR = 2,   /* brightness, contrast, saturation jitter */
    CP_AUGMENT_GRAY = 4,     /* a share of grayscale images */
    CP_AUGMENT_FRAMING = 7   /* all three */
} cp_augment;

/* "none", "framing", or the parts joined by '+' in the order geometry,
 * colour, gray (e.g. "geometry+gray"). NULL for a value outside 0..7. */
const char *cp_augment_name(cp_augment a);
/* Parses "none", "framing" or parts joined by '+' or ',' in any order;
 * CP_ERR_INVALID_ARGUMENT otherwise. */
cp_status cp_augment_parse(const char *name, cp_augment *out);

/* A geometric re-framing of an S×S image about its centre. */
typedef struct cp_framing {
    float zoom;             /* > 1: a tighter crop (the face larger); < 1: a
                               wider one, the outside filled by reflection */
    float shift_x, shift_y; /* the image centre moves by this fraction of S */
    float angle;            /* radians, counter-clockwise */
} cp_framing;

/* Resamples S×S HWC `src` into `dst` (both S*S*3 bytes, distinct) so that
 * the source point at the centre lands at centre + shift·S, scaled by zoom
 * and rotated by angle; bilinear, with coordinates outside the source
 * reflected (mirror about the edge pixels). zoom 1, shift 0, angle 0 copies. */
void cp_reframe_rgb(const uint8_t *src, int S, const cp_framing *f, uint8_t *dst);

/* One sample's draw, a pure function of (seed, epoch, position): with
 * probability 0.75 a framing (zoom log-uniform in [0.7, 1.5], shifts
 * uniform in ±0.08, angle uniform in ±10°), else none; with probability 0.8
 * a colour jitter (brightness ×[0.8, 1.2], contrast ×[0.8, 1.2] about the
 * image's mean grey, saturation ×[0.6, 1.4]); with probability 0.15
 * grayscale (ITU-R 601 luma in all three channels). */
typedef struct cp_augment_params {
    cp_framing frame;
    bool reframe, jitter, gray;
    float brightness, contrast, saturation;
} cp_augment_params;
void cp_augment_draw(uint64_t seed, uint64_t epoch, uint64_t position, cp_augment_params *out);
/* Turns off the parts of p that `parts` (a cp_augment set) leaves out; the
 * parts kept are exactly those of the full draw. */
void cp_augment_keep(cp_augment_params *p, int parts);
/* Applies p to S×S HWC `src` into `dst` (distinct buffers). */
void cp_augment_apply(const uint8_t *src, int S, const cp_augment_params *p, uint8_t *dst);

/* Image index at `position` of `epoch`'s order, as the loader uses it
 * (before bad-file replacement); for tests and tools. */
size_t cp_loader_order(cp_loader *ld, uint64_t epoch, size_t position);

#ifdef __cplusplus
}
#endif
#endif
