/* util/crc64 — see crc64.h. Reflected polynomial 0x95AC9329AC4BC9B5
 * (Jones, 0xad93d23594c935a9 unreflected); check value of "123456789" is
 * 0xe9c6d914c4b8d9ca. */
#include "util/crc64.h"
#include <pthread.h>

static uint64_t table[256];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void build(void) {
    for (int i = 0; i < 256; i++) {
        uint64_t c = (uint64_t)i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0x95AC9329AC4BC9B5ULL : c >> 1;
        table[i] = c;
    }
}

uint64_t crc64(uint64_t crc, const void *p, size_t len) {
    pthread_once(&once, build);
    const unsigned char *s = p;
    while (len--) crc = table[(crc ^ *s++) & 0xff] ^ (crc >> 8);
    return crc;
}
