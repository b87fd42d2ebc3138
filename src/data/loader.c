/* The batch loader: background threads decode batches ahead of the training
 * loop into a ring of slots.
 *
 * Batches are numbered by a global sequence q = epoch·batches_per_epoch +
 * batch; slot q % nslots holds batch q. Workers claim sequence numbers in
 * order whenever the slot is free; the consumer takes them in order and holds
 * the one it returned until its next call. Everything a batch contains is a
 * pure function of (seed, q) and the files, so seeking just resets the ring:
 * a resumed run sees the same batches. Work in flight when a seek happens is
 * recognised by a generation counter and thrown away. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clinpaint/dataset.h"
#include "clinpaint/image.h"
#include "clinpaint/mask.h"
#include "clinpaint/rng.h"
#include "data/data_internal.h"
#include "data/dataset_internal.h"

#define TAG_SHUFFLE 0x73687566666c6531ULL /* "shuffle1" */
#define TAG_FLIP 0x666c697000000001ULL
#define PERM_CACHE 4
#define MAX_THREADS 64

enum { SLOT_EMPTY, SLOT_FILLING, SLOT_READY, SLOT_HELD };

typedef struct slot {
    int state;
    uint64_t seq;
    cp_status status;     /* of filling it */
    char err[1024];       /* the worker's message when status != CP_OK */
    cp_batch b;
} slot;

typedef struct perm {
    uint64_t epoch;
    uint64_t used;        /* LRU clock */
    size_t *order;        /* NULL when unused */
} perm;

struct cp_loader {
    const cp_dataset *ds;
    cp_loader_options o;
    size_t count;
    uint64_t bpe;
    bool mask_follows_flip;

    pthread_mutex_t mu;
    pthread_cond_t work_cv; /* workers: a slot became free, or stop */
    pthread_cond_t done_cv; /* consumer: a slot became ready */
    slot *slots;
    int nslots;
    uint64_t next_fill, next_take;
    int held;
    atomic_bool stop;
    atomic_uint_fast64_t gen;

    perm perms[PERM_CACHE];
    uint64_t perm_clock;

    /* decoded S×S images of items [0, cache_items) */
    uint8_t *cache;
    atomic_uchar *cache_state; /* 0 empty, 1 being filled, 2 ready */
    size_t cache_items;

    pthread_t tid[MAX_THREADS];
    int nthreads;
    size_t skipped_at_start; /* the data set's count when this loader began */
};

cp_loader_options cp_loader_defaults(void)
{
    cp_loader_options o;
    memset(&o, 0, sizeof o);
    o.size = 128;
    o.batch = 8;
    o.train = true;
    o.cache_bytes = (size_t)1 << 30;
    return o;
}

/* ---- epoch orders ---- */

/* Fisher-Yates with an RNG stream derived from (seed, epoch). */
static void shuffle(size_t *order, size_t n, uint64_t seed, uint64_t epoch)
{
    cp_rng r;
    cp_rng_seed(&r, seed, cp_mix64(TAG_SHUFFLE, epoch));
    for (size_t i = 0; i < n; i++) order[i] = i;
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)cp_rng_range(&r, 0, (int64_t)(i - 1));
        size_t t = order[i - 1];
        order[i - 1] = order[j];
        order[j] = t;
    }
}

/* The order of `epoch` (lock held); NULL when out of memory. */
static const size_t *perm_for(cp_loader *ld, uint64_t epoch)
{
    perm *victim = &ld->perms[0];
    for (int i = 0; i < PERM_CACHE; i++) {
        perm *p = &ld->perms[i];
        if (p->order && p->epoch == epoch) {
            p->used = ++ld->perm_clock;
            return p->order;
        }
        if (!p->order || (victim->order && p->used < victim->used)) victim = p;
    }
    if (!victim->order && !(victim->order = malloc(ld->count * sizeof *victim->order)))
        return NULL;
    shuffle(victim->order, ld->count, ld->o.seed, epoch);
    victim->epoch = epoch;
    victim->used = ++ld->perm_clock;
    return victim->order;
}

size_t cp_loader_order(cp_loader *ld, uint64_t epoch, size_t position)
{
    if (position >= ld->count) return (size_t)-1;
    if (!ld->o.train) return position;
    pthread_mutex_lock(&ld->mu);
    const size_t *order = perm_for(ld, epoch);
    size_t r = order ? order[position] : (size_t)-1;
    pthread_mutex_unlock(&ld->mu);
    return r;
}

static bool flip_of(const cp_loader *ld, uint64_t epoch, uint64_t position)
{
    if (!ld->o.train) return false;
    return (cp_mix64(cp_mix64(ld->o.seed ^ TAG_FLIP, epoch), position) >> 32) & 1;
}

/* ---- decoding one image, through the cache ---- */

/* Points *px at the S×S pixels of item i: in the cache, or decoded into
 * `scratch`. CP_ERR_FORMAT when the file is bad. */
static cp_status fetch(cp_loader *ld, size_t i, uint8_t *scratch, const uint8_t **px)
{
    size_t isz = (size_t)ld->o.size * ld->o.size * 3;
    if (i < ld->cache_items) {
        uint8_t *c = ld->cache + i * isz;
        unsigned char expect = 0;
        if (atomic_load_explicit(&ld->cache_state[i], memory_order_acquire) == 2) {
            *px = c;
            return CP_OK;
        }
        if (atomic_compare_exchange_strong(&ld->cache_state[i], &expect, 1)) {
            cp_status st = cp_dataset_load(ld->ds, i, ld->o.size, c);
            atomic_store_explicit(&ld->cache_state[i], st == CP_OK ? 2 : 0, memory_order_release);
            *px = c;
            return st;
        }
        /* another thread is decoding it right now: decode our own copy */
    }
    *px = scratch;
    return cp_dataset_load(ld->ds, i, ld->o.size, scratch);
}

/* ---- filling a batch (no lock held) ---- */

static cp_status fill(cp_loader *ld, slot *s, uint64_t q, uint64_t gen, uint8_t *scratch)
{
    const int S = ld->o.size;
    const size_t plane = (size_t)S * S;
    cp_batch *b = &s->b;
    uint64_t epoch = q / ld->bpe, bi = q % ld->bpe;
    for (int k = 0; k < b->n; k++) {
        if (atomic_load(&ld->stop) || atomic_load(&ld->gen) != gen) return CP_ERR_INTERRUPTED;
        uint64_t pos = bi * (uint64_t)ld->o.batch + (uint64_t)k;
        size_t item = b->items[k]; /* set from the epoch order under the lock */
        const uint8_t *px = NULL;
        cp_status st;
        /* A bad file is replaced by the next good one in folder order. */
        size_t tries = 0;
        while ((st = fetch(ld, item, scratch, &px)) == CP_ERR_FORMAT) {
            if (++tries >= ld->count)
                return cp_set_error(CP_ERR_INVALID_ARGUMENT,
                                    "data folder '%s': no image in the %s split can be decoded",
                                    cp_dataset_dir(ld->ds), cp_split_name(cp_dataset_split(ld->ds)));
            item = (item + 1) % ld->count;
        }
        if (st != CP_OK) return st;
        if (ld->o.train && ld->o.augment != CP_AUGMENT_NONE) {
            /* scratch holds two images: the decode, then the augmented one */
            uint8_t *aug = scratch + plane * 3;
            cp_augment_params ap;
            cp_augment_draw(ld->o.seed, epoch, pos, &ap);
            cp_augment_keep(&ap, ld->o.augment);
            cp_augment_apply(px, S, &ap, aug);
            px = aug;
        } else if (!ld->o.train && (ld->o.reframe_zoom > 0 || ld->o.reframe_gray)) {
            uint8_t *framed = scratch + plane * 3;
            float a = (float)pos * 2.39996323f; /* the golden angle: directions spread evenly */
            cp_augment_params ap = {.frame = {ld->o.reframe_zoom, ld->o.reframe_shift * cosf(a),
                                              ld->o.reframe_shift * sinf(a), 0.0f},
                                    .reframe = ld->o.reframe_zoom > 0, .gray = ld->o.reframe_gray,
                                    .brightness = 1.0f, .contrast = 1.0f, .saturation = 1.0f};
            cp_augment_apply(px, S, &ap, framed);
            px = framed;
        }
        bool flip = flip_of(ld, epoch, pos);
        cp_rgb_to_chw(px, S, flip, b->images + (size_t)k * 3 * plane);
        b->items[k] = item;
        b->relpaths[k] = cp_dataset_relpath(ld->ds, item);
        b->sample_ids[k] = epoch * (uint64_t)ld->count + pos;
        b->flipped[k] = flip;
        if (b->masks) {
            float *m = b->masks + (size_t)k * plane;
            st = cp_mask_source_get(ld->o.masks, b->relpaths[k], ld->o.mask_seed, b->sample_ids[k], m);
            if (st != CP_OK) return st;
            if (flip && ld->mask_follows_flip)
                for (int y = 0; y < S; y++)
                    for (int x = 0; x < S / 2; x++) {
                        float t = m[(size_t)y * S + x];
                        m[(size_t)y * S + x] = m[(size_t)y * S + S - 1 - x];
                        m[(size_t)y * S + S - 1 - x] = t;
                    }
        }
    }
    return CP_OK;
}

static void *worker(void *arg)
{
    cp_loader *ld = arg;
    uint8_t *scratch = malloc((size_t)ld->o.size * ld->o.size * 3 * 2);
    pthread_mutex_lock(&ld->mu);
    while (!atomic_load(&ld->stop)) {
        slot *s = &ld->slots[ld->next_fill % (uint64_t)ld->nslots];
        if (s->state != SLOT_EMPTY) {
            pthread_cond_wait(&ld->work_cv, &ld->mu);
            continue;
        }
        uint64_t q = ld->next_fill++;
        uint64_t gen = atomic_load(&ld->gen);
        s->state = SLOT_FILLING;
        s->seq = q;
        s->b.epoch = q / ld->bpe;
        s->b.index = q % ld->bpe;
        uint64_t first = s->b.index * (uint64_t)ld->o.batch;
        uint64_t left = ld->count - first;
        s->b.n = left < (uint64_t)ld->o.batch ? (int)left : ld->o.batch;
        const size_t *order = ld->o.train ? perm_for(ld, s->b.epoch) : NULL;
        cp_status st = CP_OK;
        if (ld->o.train && !order)
            st = cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "loader: out of host memory for the epoch order");
        else
            for (int k = 0; k < s->b.n; k++)
                s->b.items[k] = order ? order[first + k] : (size_t)(first + k);
        pthread_mutex_unlock(&ld->mu);

        if (st == CP_OK && !scratch)
            st = cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "loader: out of host memory");
        if (st == CP_OK) st = fill(ld, s, q, gen, scratch);

        pthread_mutex_lock(&ld->mu);
        if (atomic_load(&ld->gen) != gen) {
            s->state = SLOT_EMPTY; /* a seek happened: throw it away */
            pthread_cond_broadcast(&ld->work_cv);
        } else {
            s->status = st;
            if (st != CP_OK) snprintf(s->err, sizeof s->err, "%s", cp_last_error());
            s->state = SLOT_READY;
            pthread_cond_broadcast(&ld->done_cv);
        }
    }
    pthread_mutex_unlock(&ld->mu);
    free(scratch);
    return NULL;
}

/* ---- the consumer side ---- */

/* Resets the ring to sequence q (lock held). */
static void reset_locked(cp_loader *ld, uint64_t q)
{
    atomic_fetch_add(&ld->gen, 1);
    for (int i = 0; i < ld->nslots; i++)
        if (ld->slots[i].state != SLOT_FILLING) ld->slots[i].state = SLOT_EMPTY;
    ld->held = -1;
    ld->next_fill = ld->next_take = q;
    pthread_cond_broadcast(&ld->work_cv);
}

cp_status cp_loader_next(cp_loader *ld, const cp_batch **out)
{
    *out = NULL;
    pthread_mutex_lock(&ld->mu);
    if (ld->held >= 0) {
        ld->slots[ld->held].state = SLOT_EMPTY;
        ld->held = -1;
        pthread_cond_broadcast(&ld->work_cv);
    }
    uint64_t q = ld->next_take;
    int idx = (int)(q % (uint64_t)ld->nslots);
    slot *s = &ld->slots[idx];
    while (!(s->state == SLOT_READY && s->seq == q)) pthread_cond_wait(&ld->done_cv, &ld->mu);
    cp_status st = s->status;
    if (st != CP_OK) {
        cp_set_error(st, "%s", s->err);
        reset_locked(ld, q); /* stay here; a retry decodes again */
    } else {
        s->state = SLOT_HELD;
        ld->held = idx;
        ld->next_take = q + 1;
        *out = &s->b;
    }
    pthread_mutex_unlock(&ld->mu);
    return st;
}

cp_status cp_loader_seek(cp_loader *ld, uint64_t epoch, uint64_t batch)
{
    if (batch >= ld->bpe)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT,
                            "loader seek: batch %llu is past the end of an epoch (%llu batches)",
                            (unsigned long long)batch, (unsigned long long)ld->bpe);
    if (epoch > UINT64_MAX / ld->bpe - 1)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "loader seek: epoch %llu out of range",
                            (unsigned long long)epoch);
    pthread_mutex_lock(&ld->mu);
    reset_locked(ld, epoch * ld->bpe + batch);
    pthread_mutex_unlock(&ld->mu);
    return CP_OK;
}

uint64_t cp_loader_batches_per_epoch(const cp_loader *ld) { return ld->bpe; }

uint64_t cp_loader_epoch(const cp_loader *ld)
{
    cp_loader *m = (cp_loader *)ld;
    pthread_mutex_lock(&m->mu);
    uint64_t e = m->next_take / m->bpe;
    pthread_mutex_unlock(&m->mu);
    return e;
}

uint64_t cp_loader_batch_index(const cp_loader *ld)
{
    cp_loader *m = (cp_loader *)ld;
    pthread_mutex_lock(&m->mu);
    uint64_t b = m->next_take % m->bpe;
    pthread_mutex_unlock(&m->mu);
    return b;
}

/* ---- creation ---- */

static cp_status alloc_slots(cp_loader *ld)
{
    const size_t N = (size_t)ld->o.batch, plane = (size_t)ld->o.size * ld->o.size;
    ld->slots = calloc((size_t)ld->nslots, sizeof *ld->slots);
    if (!ld->slots) return CP_ERR_OUT_OF_HOST_MEMORY;
    for (int i = 0; i < ld->nslots; i++) {
        cp_batch *b = &ld->slots[i].b;
        b->size = ld->o.size;
        b->images = malloc(N * 3 * plane * sizeof *b->images);
        b->masks = ld->o.masks ? malloc(N * plane * sizeof *b->masks) : NULL;
        b->relpaths = calloc(N, sizeof *b->relpaths);
        b->items = calloc(N, sizeof *b->items);
        b->sample_ids = calloc(N, sizeof *b->sample_ids);
        b->flipped = calloc(N, sizeof *b->flipped);
        if (!b->images || (ld->o.masks && !b->masks) || !b->relpaths || !b->items ||
            !b->sample_ids || !b->flipped)
            return CP_ERR_OUT_OF_HOST_MEMORY;
    }
    return CP_OK;
}

static cp_status check_options(const cp_dataset *ds, const cp_loader_options *o)
{
    if (o->size < 1 || o->size > 4096)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "loader: image size %d out of range", o->size);
    if (o->batch < 1 || o->batch > 65536)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "loader: batch size %d out of range", o->batch);
    if (o->threads < 0 || o->threads > MAX_THREADS)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "loader: thread count %d out of range (0..%d)",
                            o->threads, MAX_THREADS);
    if (o->augment < CP_AUGMENT_NONE || o->augment > CP_AUGMENT_FRAMING)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "loader: augmentation %d unknown", o->augment);
    if (!(o->reframe_zoom == 0 || (o->reframe_zoom >= 0.1f && o->reframe_zoom <= 10.0f)) ||
        !(o->reframe_shift >= -1.0f && o->reframe_shift <= 1.0f))
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "loader: re-framing zoom %g or shift %g out of range",
                            (double)o->reframe_zoom, (double)o->reframe_shift);
    if (o->prefetch < 0 || o->prefetch > 1024)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "loader: prefetch %d out of range", o->prefetch);
    if (o->train && cp_dataset_count(ds) < (size_t)o->batch)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT,
                            "data folder '%s': the %s split holds %zu images, fewer than one batch of %d",
                            cp_dataset_dir(ds), cp_split_name(cp_dataset_split(ds)),
                            cp_dataset_count(ds), o->batch);
    return CP_OK;
}

cp_status cp_loader_create(const cp_dataset *ds, const cp_loader_options *opt, cp_loader **out)
{
    *out = NULL;
    CP_DATA_TRY(check_options(ds, opt));
    cp_loader *ld = calloc(1, sizeof *ld);
    if (!ld) return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "loader: out of host memory");
    ld->ds = ds;
    ld->o = *opt;
    ld->skipped_at_start = cp_dataset_skipped(ds);
    ld->count = cp_dataset_count(ds);
    ld->bpe = opt->train ? ld->count / (size_t)opt->batch
                         : (ld->count + (size_t)opt->batch - 1) / (size_t)opt->batch;
    ld->mask_follows_flip = opt->masks && cp_mask_source_per_image(opt->masks);
    if (ld->o.threads == 0) ld->o.threads = cp_default_threads();
    if (ld->o.prefetch == 0) ld->o.prefetch = ld->o.threads > 2 ? ld->o.threads : 2;
    ld->nslots = ld->o.prefetch + 1; /* + the one the consumer holds */
    ld->held = -1;
    atomic_init(&ld->stop, false);
    atomic_init(&ld->gen, 0);
    pthread_mutex_init(&ld->mu, NULL);
    pthread_cond_init(&ld->work_cv, NULL);
    pthread_cond_init(&ld->done_cv, NULL);

    size_t isz = (size_t)opt->size * opt->size * 3;
    ld->cache_items = opt->cache_bytes / isz;
    if (ld->cache_items > ld->count) ld->cache_items = ld->count;
    if (ld->cache_items) {
        ld->cache = malloc(ld->cache_items * isz);
        ld->cache_state = malloc(ld->cache_items * sizeof *ld->cache_state);
        if (!ld->cache || !ld->cache_state) { /* no cache then: not fatal */
            free(ld->cache);
            free((void *)ld->cache_state);
            ld->cache = NULL;
            ld->cache_state = NULL;
            ld->cache_items = 0;
        }
        for (size_t i = 0; i < ld->cache_items; i++) atomic_init(&ld->cache_state[i], 0);
    }
    if (alloc_slots(ld) != CP_OK) {
        cp_loader_free(ld);
        return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "loader: out of host memory for %d batches",
                            ld->nslots);
    }
    for (int t = 0; t < ld->o.threads; t++) {
        if (pthread_create(&ld->tid[t], NULL, worker, ld) != 0) break;
        ld->nthreads++;
    }
    if (ld->nthreads == 0) {
        cp_loader_free(ld);
        return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "loader: cannot start a decoding thread");
    }
    *out = ld;
    return CP_OK;
}

void cp_loader_free(cp_loader *ld)
{
    if (!ld) return;
    pthread_mutex_lock(&ld->mu);
    atomic_store(&ld->stop, true);
    pthread_cond_broadcast(&ld->work_cv);
    pthread_mutex_unlock(&ld->mu);
    for (int t = 0; t < ld->nthreads; t++) pthread_join(ld->tid[t], NULL);
    /* Files found broken only when decoded were warned about one by one;
     * their count too, once, like the count at open. */
    size_t now = cp_dataset_skipped(ld->ds), more = now - ld->skipped_at_start;
    if (more)
        cp_warn("data folder '%s' (%s split): %zu more file%s skipped while decoding (%zu in all)",
                cp_dataset_dir(ld->ds), cp_split_name(cp_dataset_split(ld->ds)), more,
                more == 1 ? "" : "s", now);
    pthread_cond_destroy(&ld->work_cv);
    pthread_cond_destroy(&ld->done_cv);
    pthread_mutex_destroy(&ld->mu);
    if (ld->slots)
        for (int i = 0; i < ld->nslots; i++) {
            cp_batch *b = &ld->slots[i].b;
            free(b->images);
            free(b->masks);
            free((void *)b->relpaths);
            free(b->items);
            free(b->sample_ids);
            free(b->flipped);
        }
    free(ld->slots);
    for (int i = 0; i < PERM_CACHE; i++) free(ld->perms[i].order);
    free(ld->cache);
    free((void *)ld->cache_state);
    free(ld);
}
