/* clinpaint RNG: xoshiro256** seeded through splitmix64. Small, fast, and its
 * whole state (4 words) goes into checkpoints so that runs resume exactly.
 * Header-only so that every module draws the same sequence for a seed. */
#ifndef CLINPAINT_RNG_H
#define CLINPAINT_RNG_H

#include <stdint.h>

typedef struct cp_rng {
    uint64_t s[4];
} cp_rng;

static inline uint64_t cp_splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Seeds from a seed and a stream id, so that independent uses of one run
 * seed (init, shuffling, masks, ...) draw independent sequences. */
static inline void cp_rng_seed(cp_rng *r, uint64_t seed, uint64_t stream)
{
    uint64_t x = seed ^ (stream * 0xd1342543de82ef95ULL);
    for (int i = 0; i < 4; i++) r->s[i] = cp_splitmix64(&x);
}

static inline uint64_t cp_rng_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static inline uint64_t cp_rng_next(cp_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = cp_rng_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = cp_rng_rotl(s[3], 45);
    return result;
}

/* Uniform in [0, 1) with 24 random bits (exact in float). */
static inline float cp_rng_uniform(cp_rng *r)
{
    return (float)(cp_rng_next(r) >> 40) * (1.0f / 16777216.0f);
}

/* Uniform integer in [lo, hi] (inclusive), lo <= hi. */
static inline int64_t cp_rng_range(cp_rng *r, int64_t lo, int64_t hi)
{
    uint64_t span = (uint64_t)(hi - lo) + 1;
    return lo + (int64_t)(cp_rng_next(r) % span);
}

#endif
