/* core/fnv1a.h - FNV-1a 64, the project's content hash (dataset checksums, the svl-mnist
 * run manifest's data hash): not cryptographic, only a guard against mixing up files. */
#ifndef LT_FNV1A_H
#define LT_FNV1A_H

#include <stddef.h>
#include <stdint.h>

#define LT_FNV1A_SEED 0xcbf29ce484222325ull

/* Continues hash `h` (start from LT_FNV1A_SEED) over n bytes. */
static inline uint64_t lt_fnv1a(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = (const unsigned char *)p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

#endif
