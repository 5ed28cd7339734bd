/* util/crc64 — see crc64.h. Reflected polynomial 0x95AC9329AC4BC9B5
 * (Jones, 0xad93d23594c935a9 unreflected); check value of "123456789" is
 * 0xe9c6d914c4b8d9ca. */
#include "util/crc64.h"
#include <pthread.h>
#include <string.h>

/* Slicing by 8: tables[k][b] is the CRC of byte b followed by k zero bytes,
 * so eight input bytes fold in with eight lookups and no carried dependency
 * between them (the journal checksums every write-behind record on the
 * loop thread). */
static uint64_t tables[8][256];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void build(void) {
    for (int i = 0; i < 256; i++) {
        uint64_t c = (uint64_t)i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0x95AC9329AC4BC9B5ULL : c >> 1;
        tables[0][i] = c;
    }
    for (int i = 0; i < 256; i++)
        for (int k = 1; k < 8; k++)
            tables[k][i] = tables[0][tables[k - 1][i] & 0xff] ^ (tables[k - 1][i] >> 8);
}

uint64_t crc64(uint64_t crc, const void *p, size_t len) {
    pthread_once(&once, build);
    const unsigned char *s = p;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        w ^= crc;
        crc = tables[7][w & 0xff] ^ tables[6][(w >> 8) & 0xff] ^ tables[5][(w >> 16) & 0xff] ^
              tables[4][(w >> 24) & 0xff] ^ tables[3][(w >> 32) & 0xff] ^
              tables[2][(w >> 40) & 0xff] ^ tables[1][(w >> 48) & 0xff] ^ tables[0][w >> 56];
        s += 8;
        len -= 8;
    }
#endif
    while (len--) crc = tables[0][(crc ^ *s++) & 0xff] ^ (crc >> 8);
    return crc;
}
