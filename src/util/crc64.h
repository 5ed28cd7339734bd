/* util/crc64 — CRC-64 (Jones polynomial, reflected), the checksum of DUMP
 * payloads. Table-driven; the table is built on first use. */
#ifndef LARDER_UTIL_CRC64_H
#define LARDER_UTIL_CRC64_H
#include <stddef.h>
#include <stdint.h>
uint64_t crc64(uint64_t crc, const void *p, size_t len);
#endif
