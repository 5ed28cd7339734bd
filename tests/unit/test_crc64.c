/* tests/unit/test_crc64.c — util/crc64: the check value, and the sliced
 * loop (eight bytes at a time) against the byte-at-a-time definition for
 * every length and alignment up to 80 bytes and for a value continued in
 * pieces (the journal's records, DUMP payloads). */
#include "util/crc64.h"
#include "test.h"
#include <stdlib.h>
#include <string.h>

/* The definition: reflected 0x95AC9329AC4BC9B5, one bit at a time. */
static uint64_t crc_bitwise(uint64_t crc, const unsigned char *p, size_t len) {
    while (len--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++) crc = (crc & 1) ? (crc >> 1) ^ 0x95AC9329AC4BC9B5ULL : crc >> 1;
    }
    return crc;
}

TEST(check_value) {
    CHECK(crc64(0, "123456789", 9) == 0xe9c6d914c4b8d9caULL);
    CHECK(crc64(0, "", 0) == 0);
}

TEST(sliced_equals_bitwise) {
    unsigned char buf[96];
    srandom(17);
    for (size_t i = 0; i < sizeof buf; i++) buf[i] = (unsigned char)random();
    for (size_t off = 0; off < 8; off++)
        for (size_t len = 0; off + len <= 88; len++)
            CHECK(crc64(0, buf + off, len) == crc_bitwise(0, buf + off, len));
}

TEST(continued_in_pieces) {
    unsigned char buf[80];
    for (size_t i = 0; i < sizeof buf; i++) buf[i] = (unsigned char)(i * 7 + 3);
    uint64_t whole = crc64(0, buf, sizeof buf);
    for (size_t cut = 0; cut <= sizeof buf; cut++)
        CHECK(crc64(crc64(0, buf, cut), buf + cut, sizeof buf - cut) == whole);
}

int main(void) {
    RUN(check_value);
    RUN(sliced_equals_bitwise);
    RUN(continued_in_pieces);
    return test_report();
}
