/* commands/bitops — SETBIT GETBIT BITCOUNT BITPOS BITOP BITFIELD(_RO).
 *
 * Bit 0 is the most significant bit of byte 0, as in Redis. Overflow rules of
 * BITFIELD are computed exactly in 128-bit arithmetic, which gives the same
 * results as Redis's case analysis with less room for mistakes. */
#include "commands/commands.h"
#include "util/mem.h"
#include <string.h>

#define BIT_OFFSET_ERR "ERR bit offset is not an integer or out of range"

static int bit_offset_or_reply(client *c, const resp_arg *a, uint64_t *off, int hash, int bits) {
    long long v;
    int usehash = hash && bits > 0 && a->len > 0 && a->p[0] == '#';
    if (!str_to_ll(a->p + usehash, a->len - (size_t)usehash, &v)) goto bad;
    if (usehash) {
        if (v > 0 && v > (long long)(UINT64_MAX >> 8) / bits) goto bad;
        v *= bits;
    }
    if (v < 0 || (v >> 3) >= server_proto_max_bulk_len()) goto bad;
    *off = (uint64_t)v;
    return OK;
bad:
    reply_error(c, BIT_OFFSET_ERR);
    return ERR;
}

/* The string at argv[1] for writing, created or zero-padded so that bit
 * maxbit exists. NULL after replying WRONGTYPE. *grew tells if bytes were added. */
static kobj *string_for_bits(client *c, uint64_t maxbit, int *grew) {
    int err;
    const resp_arg *key = &c->argv[1];
    kobj *o = lookup_write_typed(c, key, OBJ_STRING, &err);
    if (err) return NULL;
    size_t need = (size_t)(maxbit >> 3) + 1;
    *grew = 0;
    if (!o) {
        o = kobj_new_string(key->p, key->len, NULL, 0, need);
        memset(kobj_val(o), 0, need);
        o->vlen = (uint32_t)need;
        db_add(c->db, o);
        *grew = 1;
    } else if (o->vlen < need) {
        size_t old = o->vlen;
        o = db_reserve_string(c->db, o, need);
        memset(kobj_val(o) + old, 0, need - old);
        o->vlen = (uint32_t)need;
        *grew = 1;
    }
    o->enc = ENC_RAW;
    return o;
}

void setbit_command(client *c) {
    uint64_t off;
    long long on;
    if (bit_offset_or_reply(c, &c->argv[2], &off, 0, 0) != OK) return;
    if (arg_ll_or_reply(c, &c->argv[3], &on, "ERR bit is not an integer or out of range") != OK)
        return;
    if (on & ~1LL) {
        reply_error(c, "ERR bit is not an integer or out of range");
        return;
    }
    int grew;
    kobj *o = string_for_bits(c, off, &grew);
    if (!o) return;
    unsigned char *p = (unsigned char *)kobj_val(o) + (off >> 3);
    int shift = 7 - (int)(off & 7);
    int old = (*p >> shift) & 1;
    *p = (unsigned char)((*p & ~(1 << shift)) | ((int)on << shift));
    if (grew || old != on) {
        signal_modified_key(c, c->db, c->argv[1].p, c->argv[1].len);
        notify_keyspace_event(NOTIFY_STRING, "setbit", c->argv[1].p, c->argv[1].len, c->db->id);
        server_add_dirty(1);
    }
    reply_int(c, old);
}

void getbit_command(client *c) {
    uint64_t off;
    if (bit_offset_or_reply(c, &c->argv[2], &off, 0, 0) != OK) return;
    int err;
    kobj *o = lookup_read_or_reply(c, &c->argv[1], OBJ_STRING, &err);
    if (err) return;
    int bit = 0;
    if (o && (off >> 3) < o->vlen)
        bit = (((unsigned char *)kobj_val(o))[off >> 3] >> (7 - (off & 7))) & 1;
    reply_int(c, bit);
}

static long long popcount(const unsigned char *p, size_t n) {
    long long count = 0;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        count += __builtin_popcountll(w);
        p += 8;
        n -= 8;
    }
    while (n--) count += __builtin_popcount(*p++);
    return count;
}

/* Resolves [start, end] (negative from the end) against len units; returns 0
 * when the range is empty. */
static int resolve_range(long long *start, long long *end, long long len) {
    if (*start < 0) *start += len;
    if (*end < 0) *end += len;
    if (*start < 0) *start = 0;
    if (*end < 0) *end = 0;
    if (*end >= len) *end = len - 1;
    return *start <= *end && len > 0;
}

static int parse_unit(client *c, const resp_arg *a, int *isbit) {
    if (arg_is(a, "bit"))
        *isbit = 1;
    else if (arg_is(a, "byte"))
        *isbit = 0;
    else {
        reply_error(c, ERR_SYNTAX);
        return ERR;
    }
    return OK;
}

static inline int bit_at(const unsigned char *p, long long i) {
    return (p[i >> 3] >> (7 - (i & 7))) & 1;
}

void bitcount_command(client *c) {
    int err;
    kobj *o = lookup_read_or_reply(c, &c->argv[1], OBJ_STRING, &err);
    if (err) return;
    if (!o) { /* Redis answers before looking at the other arguments */
        reply_int(c, 0);
        return;
    }
    long long start = 0, end = -1;
    int isbit = 0;
    if (c->argc == 4 || c->argc == 5) {
        if (arg_ll_or_reply(c, &c->argv[2], &start, NULL) != OK) return;
        if (arg_ll_or_reply(c, &c->argv[3], &end, NULL) != OK) return;
        if (start < 0 && end < 0 && start > end) {
            reply_int(c, 0);
            return;
        }
        if (c->argc == 5 && parse_unit(c, &c->argv[4], &isbit) != OK) return;
    } else if (c->argc != 2) {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    const unsigned char *p = (const unsigned char *)kobj_val(o);
    long long len = (long long)o->vlen * (isbit ? 8 : 1);
    if (!resolve_range(&start, &end, len)) {
        reply_int(c, 0);
        return;
    }
    if (!isbit) {
        reply_int(c, popcount(p + start, (size_t)(end - start + 1)));
        return;
    }
    long long count = 0, i = start;
    for (; i <= end && (i & 7); i++) count += bit_at(p, i);
    long long whole = (end + 1 - i) >> 3;
    if (whole > 0) {
        count += popcount(p + (i >> 3), (size_t)whole);
        i += whole * 8;
    }
    for (; i <= end; i++) count += bit_at(p, i);
    reply_int(c, count);
}

/* First bit equal to `bit` in bit range [from, to], or -1. */
static long long find_bit(const unsigned char *p, long long from, long long to, int bit) {
    long long i = from;
    unsigned char skip = bit ? 0x00 : 0xff;
    while (i <= to) {
        if ((i & 7) == 0 && i + 7 <= to && p[i >> 3] == skip) {
            i += 8;
            continue;
        }
        if (bit_at(p, i) == bit) return i;
        i++;
    }
    return -1;
}

void bitpos_command(client *c) {
    long long bit;
    if (arg_ll_or_reply(c, &c->argv[2], &bit, NULL) != OK) return;
    if (bit != 0 && bit != 1) {
        reply_error(c, "ERR The bit argument must be 1 or 0.");
        return;
    }
    int err;
    kobj *o = lookup_read_or_reply(c, &c->argv[1], OBJ_STRING, &err);
    if (err) return;
    if (!o) {
        reply_int(c, bit ? -1 : 0);
        return;
    }
    const unsigned char *p = (const unsigned char *)kobj_val(o);
    long long slen = o->vlen, start = 0, end = slen - 1;
    int isbit = 0, end_given = 0;
    if (c->argc >= 4 && c->argc <= 6) {
        if (arg_ll_or_reply(c, &c->argv[3], &start, NULL) != OK) return;
        if (c->argc == 6 && parse_unit(c, &c->argv[5], &isbit) != OK) return;
        if (c->argc >= 5) {
            if (arg_ll_or_reply(c, &c->argv[4], &end, NULL) != OK) return;
            end_given = 1;
        } else {
            end = isbit ? slen * 8 + 7 : slen - 1;
        }
    } else if (c->argc != 3) {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    long long len = isbit ? slen * 8 : slen;
    if (!resolve_range(&start, &end, len)) {
        reply_int(c, -1);
        return;
    }
    long long from = isbit ? start : start * 8, to = isbit ? end : end * 8 + 7;
    long long pos = find_bit(p, from, to, (int)bit);
    if (pos == -1 && bit == 0 && !end_given) pos = (to | 7) + 1; /* zeros beyond the string */
    reply_int(c, pos);
}

void bitop_command(client *c) {
    const resp_arg *op = &c->argv[1], *dest = &c->argv[2];
    int kind;
    if (arg_is(op, "and"))
        kind = 0;
    else if (arg_is(op, "or"))
        kind = 1;
    else if (arg_is(op, "xor"))
        kind = 2;
    else if (arg_is(op, "not"))
        kind = 3;
    else {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    int nsrc = c->argc - 3;
    if (kind == 3 && nsrc != 1) {
        reply_error(c, "ERR BITOP NOT must be called with a single source key.");
        return;
    }
    const unsigned char **src = xcalloc((size_t)nsrc, sizeof(*src));
    size_t *lens = xcalloc((size_t)nsrc, sizeof(size_t)), maxlen = 0;
    for (int j = 0; j < nsrc; j++) {
        kobj *o = lookup_read(c, &c->argv[j + 3]);
        if (o && o->type != OBJ_STRING) {
            reply_error(c, ERR_WRONGTYPE);
            xfree(src);
            xfree(lens);
            return;
        }
        src[j] = o ? (const unsigned char *)kobj_val(o) : NULL;
        lens[j] = o ? o->vlen : 0;
        if (lens[j] > maxlen) maxlen = lens[j];
    }
    unsigned char *res = maxlen ? xmalloc(maxlen) : NULL;
    for (size_t i = 0; i < maxlen; i++) {
        unsigned char v = i < lens[0] ? src[0][i] : 0;
        if (kind == 3) v = (unsigned char)~v;
        for (int j = 1; j < nsrc; j++) {
            unsigned char b = i < lens[j] ? src[j][i] : 0;
            v = kind == 0 ? (v & b) : kind == 1 ? (v | b) : (unsigned char)(v ^ b);
        }
        res[i] = v;
    }
    if (maxlen) {
        set_string_key(c, dest, (const char *)res, maxlen, -1, 0);
        notify_keyspace_event(NOTIFY_STRING, "set", dest->p, dest->len, c->db->id);
        server_add_dirty(1);
    } else if (db_delete(c->db, dest->p, dest->len)) {
        signal_modified_key(c, c->db, dest->p, dest->len);
        notify_keyspace_event(NOTIFY_GENERIC, "del", dest->p, dest->len, c->db->id);
        server_add_dirty(1);
    }
    reply_int(c, (long long)maxlen);
    xfree(res);
    xfree(src);
    xfree(lens);
}

/* ---- BITFIELD ------------------------------------------------------------------ */

enum { BF_GET, BF_SET, BF_INCRBY };
enum { OW_WRAP, OW_SAT, OW_FAIL };

typedef struct bf_op {
    uint64_t offset;
    int64_t arg;
    int opcode, owtype, bits, sign;
} bf_op;

static int bf_type_or_reply(client *c, const resp_arg *a, int *sign, int *bits) {
    long long b;
    if (a->len >= 2 && (a->p[0] == 'i' || a->p[0] == 'u') && str_to_ll(a->p + 1, a->len - 1, &b)) {
        *sign = a->p[0] == 'i';
        if (b >= 1 && ((*sign && b <= 64) || (!*sign && b <= 63))) {
            *bits = (int)b;
            return OK;
        }
    }
    reply_error(c, "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not "
                   "supported but i64 is.");
    return ERR;
}

static uint64_t bf_read(const unsigned char *p, size_t plen, uint64_t off, int bits) {
    uint64_t v = 0;
    for (int i = 0; i < bits; i++) {
        uint64_t bit = off + (uint64_t)i;
        int b = (bit >> 3) < plen ? (p[bit >> 3] >> (7 - (bit & 7))) & 1 : 0;
        v = (v << 1) | (uint64_t)b;
    }
    return v;
}

static void bf_write(unsigned char *p, uint64_t off, int bits, uint64_t v) {
    for (int i = 0; i < bits; i++) {
        uint64_t bit = off + (uint64_t)i;
        int b = (v >> (bits - 1 - i)) & 1;
        unsigned char mask = (unsigned char)(1 << (7 - (bit & 7)));
        if (b)
            p[bit >> 3] |= mask;
        else
            p[bit >> 3] &= (unsigned char)~mask;
    }
}

static int64_t sign_extend(uint64_t v, int bits) {
    if (bits == 64) return (int64_t)v;
    uint64_t msb = 1ULL << (bits - 1);
    return (int64_t)((v ^ msb) - msb);
}

/* Applies overflow rules to the exact value; returns 1 on overflow (FAIL). */
static int bf_clamp(__int128 exact, int sign, int bits, int owtype, uint64_t *out) {
    __int128 min = sign ? -((__int128)1 << (bits - 1)) : 0;
    __int128 max = sign ? ((__int128)1 << (bits - 1)) - 1 : ((__int128)1 << bits) - 1;
    if (exact >= min && exact <= max) {
        *out = (uint64_t)exact;
        if (bits < 64) *out &= (1ULL << bits) - 1; /* two's complement in `bits` bits */
        return 0;
    }
    if (owtype == OW_FAIL) return 1;
    if (owtype == OW_SAT)
        *out = (uint64_t)(exact < min ? min : max);
    else
        *out = (uint64_t)exact; /* WRAP: low bits */
    if (bits < 64) *out &= (1ULL << bits) - 1;
    return 0;
}

static int bf_parse(client *c, bf_op **ops, int *nops, int *readonly, uint64_t *highest) {
    int owtype = OW_WRAP;
    *readonly = 1;
    *highest = 0;
    for (int j = 2; j < c->argc; j++) {
        int rem = c->argc - j - 1, opcode;
        const resp_arg *a = &c->argv[j];
        if (arg_is(a, "get") && rem >= 2)
            opcode = BF_GET;
        else if (arg_is(a, "set") && rem >= 3)
            opcode = BF_SET;
        else if (arg_is(a, "incrby") && rem >= 3)
            opcode = BF_INCRBY;
        else if (arg_is(a, "overflow") && rem >= 1) {
            const resp_arg *t = &c->argv[++j];
            if (arg_is(t, "wrap"))
                owtype = OW_WRAP;
            else if (arg_is(t, "sat"))
                owtype = OW_SAT;
            else if (arg_is(t, "fail"))
                owtype = OW_FAIL;
            else {
                reply_error(c, "ERR Invalid OVERFLOW type specified");
                return ERR;
            }
            continue;
        } else {
            reply_error(c, ERR_SYNTAX);
            return ERR;
        }
        bf_op op = {0, 0, opcode, owtype, 0, 0};
        if (bf_type_or_reply(c, &c->argv[j + 1], &op.sign, &op.bits) != OK) return ERR;
        if (bit_offset_or_reply(c, &c->argv[j + 2], &op.offset, 1, op.bits) != OK) return ERR;
        if (opcode != BF_GET) {
            long long v;
            *readonly = 0;
            if (op.offset + (uint64_t)op.bits - 1 > *highest)
                *highest = op.offset + (uint64_t)op.bits - 1;
            if (arg_ll_or_reply(c, &c->argv[j + 3], &v, NULL) != OK) return ERR;
            op.arg = v;
        }
        *ops = xrealloc(*ops, sizeof(bf_op) * (size_t)(*nops + 1));
        (*ops)[(*nops)++] = op;
        j += opcode == BF_GET ? 2 : 3;
    }
    return OK;
}

static void bitfield_generic(client *c, int ro) {
    bf_op *ops = NULL;
    int nops = 0, readonly, changes = 0, grew = 0;
    uint64_t highest;
    if (bf_parse(c, &ops, &nops, &readonly, &highest) != OK) goto done;
    kobj *o;
    if (readonly) {
        int err;
        o = lookup_read_or_reply(c, &c->argv[1], OBJ_STRING, &err);
        if (err) goto done;
    } else {
        if (ro) {
            reply_error(c, "ERR BITFIELD_RO only supports the GET subcommand");
            goto done;
        }
        if (!(o = string_for_bits(c, highest, &grew))) goto done;
    }
    reply_array(c, nops);
    for (int j = 0; j < nops; j++) {
        bf_op *op = &ops[j];
        const unsigned char *p = o ? (const unsigned char *)kobj_val(o) : NULL;
        size_t plen = o ? o->vlen : 0;
        uint64_t raw = bf_read(p, plen, op->offset, op->bits);
        __int128 old = op->sign ? (__int128)sign_extend(raw, op->bits) : (__int128)raw;
        if (op->opcode == BF_GET) {
            reply_int(c, (long long)old);
            continue;
        }
        __int128 exact;
        if (op->opcode == BF_INCRBY)
            exact = old + op->arg;
        else
            exact = op->sign ? (__int128)op->arg : (__int128)(uint64_t)op->arg;
        uint64_t nv;
        if (bf_clamp(exact, op->sign, op->bits, op->owtype, &nv)) {
            reply_null(c);
            continue;
        }
        __int128 newval = op->sign ? (__int128)sign_extend(nv, op->bits) : (__int128)nv;
        reply_int(c, (long long)(op->opcode == BF_INCRBY ? newval : old));
        bf_write((unsigned char *)kobj_val(o), op->offset, op->bits, nv);
        if (grew || raw != nv) changes++;
    }
    if (changes) {
        signal_modified_key(c, c->db, c->argv[1].p, c->argv[1].len);
        notify_keyspace_event(NOTIFY_STRING, "setbit", c->argv[1].p, c->argv[1].len, c->db->id);
        server_add_dirty(changes);
    }
done:
    xfree(ops);
}

void bitfield_command(client *c) {
    bitfield_generic(c, 0);
}
void bitfield_ro_command(client *c) {
    bitfield_generic(c, 1);
}
