/* kv/hpack — the small encoding of hashes (OBJECT ENCODING "listpack"): the
 * field/value pairs of a hash, in insertion order, in one self-delimiting
 * run of bytes that lives inside the keyspace entry (kv/object.h, KF_INLINE).
 *
 *   +-------------+---------+---------+-----+--------------+
 *   | pairs : u16 | field 0 | value 0 | ... | 0xFF end     |
 *   +-------------+---------+---------+-----+--------------+
 *
 * An entry is Redis's listpack entry without the back-length (a hash is
 * only ever walked forwards), so it is never larger than Redis's and one
 * byte smaller per string. The first byte says what follows:
 *
 *   0xxxxxxx                integer 0..127 (the whole entry is one byte)
 *   10llllll + data         string of 0..63 bytes
 *   110xxxxx + 1 byte       integer -4096..4095 (13 bits, two's complement)
 *   1110llll + 1 byte       string of 64..4095 bytes (12-bit length), data
 *   0xF0 + len:u32 + data   longer string
 *   0xF1 / F2 / F3 / F4     integer in 2 / 3 / 4 / 8 bytes that follow (LE)
 *   0xFF                    end of the pairs
 *
 * Only canonical integers (util/strutil.h str_to_ll) are stored as
 * integers, so "01", "+1" and "-0" stay strings and every value reads back
 * byte for byte.
 *
 * Invariants:
 *  1. pairs == the number of field/value pairs, or 0xFFFF when there are at
 *     least that many (then hp_count() walks the entries).
 *  2. Field entries are distinct as byte strings.
 *  3. Built only by this module's writers (never loaded from outside: DUMP
 *     serializes pairs, not these bytes), so no reader bounds-checks. */
#ifndef LARDER_KV_HPACK_H
#define LARDER_KV_HPACK_H
#include <stddef.h>
#include <stdint.h>

#define HP_HDR 2
#define HP_END 0xFF
#define HP_EMPTY_SIZE (HP_HDR + 1)
/* Largest encoded entry header (0xF0 + u32). */
#define HP_MAX_HDR 5

/* One entry's value: a string (s != NULL) or an integer (s == NULL, ll). */
typedef struct hp_val {
    const char *s;
    size_t len;
    long long ll;
} hp_val;

/* Writes an empty hpack (HP_EMPTY_SIZE bytes). */
void hp_init(unsigned char *hp);
uint32_t hp_count(const unsigned char *hp);
void hp_set_count(unsigned char *hp, uint32_t pairs);
/* Total bytes, terminator included (walks the entries). */
size_t hp_bytes(const unsigned char *hp);

/* The first entry, or NULL when empty. */
unsigned char *hp_first(const unsigned char *hp);
/* The entry after p, or NULL at the end. */
unsigned char *hp_next(const unsigned char *p);
size_t hp_entry_size(const unsigned char *p);
void hp_get(const unsigned char *p, hp_val *v);

/* Bytes s takes once encoded, and the encoder (dst has that many bytes). */
size_t hp_enc_size(const char *s, size_t len);
size_t hp_encode(unsigned char *dst, const char *s, size_t len);

/* The field entry equal to f, or NULL. */
unsigned char *hp_find(const unsigned char *hp, const char *f, size_t flen);
/* Does entry p hold exactly the bytes s? */
int hp_equals(const unsigned char *p, const char *s, size_t len);

/* The text of v (integers printed into buf, LONG_STR_SIZE bytes). */
const char *hp_val_str(const hp_val *v, char *buf, size_t *len);
#endif
