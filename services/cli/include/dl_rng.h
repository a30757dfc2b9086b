/* dl_rng.h — seeded pseudo-random numbers for the generator.
 *
 * xoshiro256** (Blackman & Vigna) seeded through splitmix64. Each entity
 * gets its own stream (dl_rng_stream: seed mixed with a hash of the entity
 * id), so adding entities to a profile never shifts the values of others.
 * Every generated value is one draw, stored once (never re-drawn). */
#ifndef COPILOT_DL_RNG_H
#define COPILOT_DL_RNG_H
#include <stdint.h>

typedef struct { uint64_t s[4]; } dl_rng_t;

/* Seeds the state from a 64-bit seed via splitmix64. */
void dl_rng_seed (dl_rng_t *r, uint64_t seed);
/* Seeds a stream for entity `name` under `seed` (FNV-1a 64 of name, mixed). */
void dl_rng_stream (dl_rng_t *r, uint64_t seed, const char *name);
/* Next raw 64-bit value. */
uint64_t dl_rng_next (dl_rng_t *r);
/* Uniform double in [0, 1) with 53 random bits. */
double dl_rng_unit (dl_rng_t *r);
/* Uniform double in [lo, hi). */
double dl_rng_uniform (dl_rng_t *r, double lo, double hi);
/* Uniform integer in [lo, hi] inclusive (unbiased). lo <= hi. */
int64_t dl_rng_int (dl_rng_t *r, int64_t lo, int64_t hi);
/* True with probability p. */
int dl_rng_chance (dl_rng_t *r, double p);
/* FNV-1a 64-bit hash of a NUL-terminated string. */
uint64_t dl_hash64 (const char *s);

#endif
