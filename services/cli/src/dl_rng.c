/* dl_rng.c — xoshiro256** with splitmix64 seeding (public-domain reference
 * algorithms by Blackman and Vigna), plus FNV-1a for per-entity streams.
 * Integer ranges use rejection sampling so results are unbiased and
 * identical on every platform. */
#include "dl_rng.h"

static uint64_t
s_splitmix (uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void
dl_rng_seed (dl_rng_t *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = s_splitmix (&x);
}

uint64_t
dl_hash64 (const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++) {
        h ^= (unsigned char) *s;
        h *= 0x100000001b3ULL;
    }
    return h;
}

void
dl_rng_stream (dl_rng_t *r, uint64_t seed, const char *name)
{
    uint64_t x = seed;
    uint64_t mixed = s_splitmix (&x) ^ dl_hash64 (name);
    dl_rng_seed (r, mixed);
}

static inline uint64_t
s_rotl (const uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t
dl_rng_next (dl_rng_t *r)
{
    uint64_t *s = r->s;
    const uint64_t result = s_rotl (s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = s_rotl (s[3], 45);
    return result;
}

double
dl_rng_unit (dl_rng_t *r)
{
    return (double) (dl_rng_next (r) >> 11) * 0x1.0p-53;
}

double
dl_rng_uniform (dl_rng_t *r, double lo, double hi)
{
    return lo + (hi - lo) * dl_rng_unit (r);
}

int64_t
dl_rng_int (dl_rng_t *r, int64_t lo, int64_t hi)
{
    if (hi <= lo)
        return lo;
    uint64_t span = (uint64_t) (hi - lo) + 1;
    if (span == 0) /* full 64-bit range */
        return (int64_t) dl_rng_next (r);
    uint64_t limit = UINT64_MAX - UINT64_MAX % span;
    uint64_t v;
    do {
        v = dl_rng_next (r);
    } while (v >= limit);
    return lo + (int64_t) (v % span);
}

int
dl_rng_chance (dl_rng_t *r, double p)
{
    return dl_rng_unit (r) < p;
}
