/* commands/hll — the HyperLogLog family, Redis 7.0 semantics and error
 * texts: PFADD PFCOUNT PFMERGE PFDEBUG PFSELFTEST.
 *
 * An HLL is a string value in Redis's byte format (kv/hll), so GET, SET,
 * DUMP/RESTORE, COPY and the rest see it as the string it is. Values are
 * updated in place inside the entry: a dense HLL never changes size, a
 * sparse one grows by at most HLL_SPARSE_SLACK bytes per register update,
 * reserved before each update (the entry may move then: never keep a kobj*
 * across hll_room()). A string that is not an HLL is refused with
 * "WRONGTYPE Key is not a valid HyperLogLog string value."; a sparse HLL
 * whose opcodes do not add up is refused with "INVALIDOBJ Corrupted HLL
 * object detected" when an operation finds out, as Redis does (PFADD may
 * have changed registers before it finds out, as Redis's may). */
#include "commands/commands.h"
#include "kv/hll.h"
#include "util/mem.h"
#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define ERR_NOT_HLL "WRONGTYPE Key is not a valid HyperLogLog string value."
#define ERR_INVALID_HLL "INVALIDOBJ Corrupted HLL object detected"

static uint8_t *hll_bytes(kobj *o) {
    return (uint8_t *)kobj_val(o);
}

/* Replies the error and returns ERR unless o (a string) holds an HLL. */
static int hll_valid_or_reply(client *c, kobj *o) {
    if (hll_is_valid(hll_bytes(o), o->vlen)) return OK;
    reply_error(c, ERR_NOT_HLL);
    return ERR;
}

/* Looks key up for writing: NULL when missing; ERR (replied) on a wrong
 * type or a string that is not an HLL. */
static int hll_lookup_write(client *c, const resp_arg *key, kobj **out) {
    int err;
    *out = lookup_write_typed(c, key, OBJ_STRING, &err);
    if (err) return ERR;
    return *out ? hll_valid_or_reply(c, *out) : OK;
}

static int hll_lookup_read(client *c, const resp_arg *key, kobj **out) {
    int err;
    *out = lookup_read_or_reply(c, key, OBJ_STRING, &err);
    if (err) return ERR;
    return *out ? hll_valid_or_reply(c, *out) : OK;
}

/* A new empty (sparse) HLL under key, added to the db. */
static kobj *hll_create(client *c, const resp_arg *key) {
    uint8_t empty[HLL_SPARSE_EMPTY_SIZE];
    hll_init_sparse(empty);
    kobj *o = kobj_new_string(key->p, key->len, (const char *)empty, sizeof(empty), 64);
    o->enc = ENC_RAW;
    db_add(c->db, o);
    return o;
}

/* Makes room for one sparse update (the entry may move). */
static kobj *hll_room(client *c, kobj *o) {
    size_t need = o->vlen + HLL_SPARSE_SLACK;
    if (kobj_str_capacity(o) >= need) return o;
    return db_reserve_string(c->db, o, need + o->vlen / 4);
}

/* Converts a sparse HLL to dense in place; ERR when it is malformed. */
static int hll_make_dense(client *c, kobj **o) {
    if (hll_bytes(*o)[4] == HLL_DENSE) return OK;
    uint8_t *dense = xmalloc(HLL_DENSE_SIZE);
    int rc = hll_sparse_to_dense(hll_bytes(*o), (*o)->vlen, dense);
    if (rc == 0) {
        *o = db_set_string_value(c->db, *o, (const char *)dense, HLL_DENSE_SIZE);
        (*o)->enc = ENC_RAW;
    }
    xfree(dense);
    return rc == 0 ? OK : ERR;
}

/* Raises register `reg` to `count`: 1 when changed, 0 when not, -1 when the
 * HLL turned out malformed. Promotes a sparse HLL to dense when needed. */
static int hll_set(client *c, kobj **o, long reg, int count) {
    if (hll_bytes(*o)[4] == HLL_DENSE)
        return hll_dense_set(hll_bytes(*o) + HLL_HDR_SIZE, reg, count);
    *o = hll_room(c, *o);
    size_t len = (*o)->vlen;
    long long max = server_type_limits()->hll_sparse_max_bytes;
    int rc = hll_sparse_set(hll_bytes(*o), &len, max < 0 ? 0 : (size_t)max, reg, count);
    (*o)->vlen = (uint32_t)len;
    if (rc == HLL_SET_CORRUPT) return -1;
    if (rc != HLL_SET_PROMOTE) return rc;
    if (hll_make_dense(c, o) != OK) return -1;
    rc = hll_dense_set(hll_bytes(*o) + HLL_HDR_SIZE, reg, count);
    assert(rc == 1); /* promoted because this register had to change */
    return rc;
}

/* ---- PFADD ------------------------------------------------------------------------ */

void pfadd_command(client *c) {
    const resp_arg *key = &c->argv[1];
    kobj *o;
    if (hll_lookup_write(c, key, &o) != OK) return;
    long long updated = 0;
    if (!o) {
        o = hll_create(c, key);
        updated++;
    }
    o->enc = ENC_RAW;
    for (int j = 2; j < c->argc; j++) {
        long reg;
        int count = hll_pattern(c->argv[j].p, c->argv[j].len, &reg);
        int rc = hll_set(c, &o, reg, count);
        if (rc < 0) {
            reply_error(c, ERR_INVALID_HLL);
            return;
        }
        updated += rc;
    }
    if (updated) {
        hll_cache_invalidate(hll_bytes(o));
        signal_modified_key(c, c->db, key->p, key->len);
        notify_keyspace_event(NOTIFY_STRING, "pfadd", key->p, key->len, c->db->id);
        server_add_dirty(updated);
    }
    reply_int(c, updated ? 1 : 0);
}

/* ---- PFCOUNT ---------------------------------------------------------------------- */

/* The cardinality of the union of several HLLs (missing keys are empty). */
static void pfcount_union(client *c) {
    uint8_t *max = xcalloc(1, HLL_REGISTERS);
    for (int j = 1; j < c->argc; j++) {
        kobj *o;
        if (hll_lookup_read(c, &c->argv[j], &o) != OK) goto done;
        if (!o) continue;
        if (hll_merge_into(max, hll_bytes(o), o->vlen) != 0) {
            reply_error(c, ERR_INVALID_HLL);
            goto done;
        }
    }
    reply_int(c, (long long)hll_count_raw(max));
done:
    xfree(max);
}

void pfcount_command(client *c) {
    if (c->argc > 2) {
        pfcount_union(c);
        return;
    }
    const resp_arg *key = &c->argv[1];
    kobj *o;
    if (hll_lookup_read(c, key, &o) != OK) return;
    if (!o) {
        reply_int(c, 0);
        return;
    }
    o->enc = ENC_RAW;
    uint8_t *p = hll_bytes(o);
    uint64_t card;
    if (hll_cache_valid(p)) {
        card = hll_cache_get(p);
    } else {
        int invalid = 0;
        card = hll_count(p, o->vlen, &invalid);
        if (invalid) {
            reply_error(c, ERR_INVALID_HLL);
            return;
        }
        /* the cache is part of the value: a change like any other */
        hll_cache_set(p, card);
        signal_modified_key(c, c->db, key->p, key->len);
        server_add_dirty(1);
    }
    reply_int(c, (long long)card);
}

/* ---- PFMERGE ---------------------------------------------------------------------- */

void pfmerge_command(client *c) {
    const resp_arg *dest = &c->argv[1];
    uint8_t *max = xcalloc(1, HLL_REGISTERS);
    int use_dense = 0;
    for (int j = 1; j < c->argc; j++) {
        kobj *o;
        if (hll_lookup_read(c, &c->argv[j], &o) != OK) goto done;
        if (!o) continue;
        if (hll_bytes(o)[4] == HLL_DENSE) use_dense = 1;
        if (hll_merge_into(max, hll_bytes(o), o->vlen) != 0) {
            reply_error(c, ERR_INVALID_HLL);
            goto done;
        }
    }
    /* dest was among the inputs: when present it is a valid HLL */
    kobj *o = lookup_write(c, dest);
    if (!o) o = hll_create(c, dest);
    o->enc = ENC_RAW;
    if (use_dense && hll_make_dense(c, &o) != OK) {
        reply_error(c, ERR_INVALID_HLL);
        goto done;
    }
    if (hll_bytes(o)[4] == HLL_DENSE) /* max covers dest's own registers too */
        hll_dense_from_raw(hll_bytes(o) + HLL_HDR_SIZE, max);
    else
        for (long j = 0; j < HLL_REGISTERS; j++)
            if (max[j]) hll_set(c, &o, j, max[j]);
    hll_cache_invalidate(hll_bytes(o));
    signal_modified_key(c, c->db, dest->p, dest->len);
    notify_keyspace_event(NOTIFY_STRING, "pfadd", dest->p, dest->len, c->db->id);
    server_add_dirty(1);
    reply_ok(c);
done:
    xfree(max);
}

/* ---- PFDEBUG ---------------------------------------------------------------------- */

void pfdebug_command(client *c) {
    const resp_arg *sub = &c->argv[1], *key = &c->argv[2];
    kobj *o = lookup_write(c, key);
    if (!o) {
        reply_error(c, "ERR The specified key does not exist");
        return;
    }
    if (o->type != OBJ_STRING) {
        reply_error(c, ERR_WRONGTYPE);
        return;
    }
    if (hll_valid_or_reply(c, o) != OK) return;
    o->enc = ENC_RAW;
    int known = arg_is(sub, "getreg") || arg_is(sub, "decode") || arg_is(sub, "encoding") ||
                arg_is(sub, "todense");
    if (!known) {
        reply_errorf(c, "ERR Unknown PFDEBUG subcommand '%s'", sub->p);
        return;
    }
    if (c->argc != 3) {
        reply_errorf(c, "ERR Wrong number of arguments for the '%s' subcommand", sub->p);
        return;
    }
    int sparse = hll_bytes(o)[4] == HLL_SPARSE;
    if (arg_is(sub, "getreg") || arg_is(sub, "todense")) {
        if (sparse) {
            if (hll_make_dense(c, &o) != OK) {
                reply_error(c, ERR_INVALID_HLL);
                return;
            }
            server_add_dirty(1);
        }
        if (arg_is(sub, "todense")) {
            reply_int(c, sparse);
            return;
        }
        reply_array(c, HLL_REGISTERS);
        for (long j = 0; j < HLL_REGISTERS; j++)
            reply_int(c, hll_dense_get(hll_bytes(o) + HLL_HDR_SIZE, j));
    } else if (arg_is(sub, "decode")) {
        if (!sparse) {
            reply_error(c, "ERR HLL encoding is not sparse");
            return;
        }
        sbuf b = SBUF_INIT;
        hll_sparse_decode(hll_bytes(o), o->vlen, &b);
        reply_bulk(c, b.p ? b.p : "", b.len);
        sbuf_free(&b);
    } else {
        reply_status(c, sparse ? "sparse" : "dense");
    }
}

/* ---- PFSELFTEST ------------------------------------------------------------------- */

/* Registers: random values written and read back through the 6-bit packing. */
static int selftest_registers(client *c, uint8_t *regs) {
    uint8_t *bytes = xmalloc(HLL_REGISTERS);
    int ok = 1;
    for (int cycle = 0; cycle < 1000 && ok; cycle++) {
        for (long i = 0; i < HLL_REGISTERS; i++) {
            bytes[i] = (uint8_t)(rand() & HLL_REGISTER_MAX);
            hll_dense_put(regs, i, bytes[i]);
        }
        for (long i = 0; i < HLL_REGISTERS && ok; i++) {
            int v = hll_dense_get(regs, i);
            if (v == bytes[i]) continue;
            reply_errorf(c, "TESTFAILED Register %ld should be %d but is %d", i, bytes[i], v);
            ok = 0;
        }
    }
    xfree(bytes);
    return ok;
}

/* Estimates: the same elements into a dense and a sparse HLL; both must agree
 * and stay within six standard errors at every power of ten. */
static int selftest_estimates(client *c, uint8_t *dense) {
    long long max_sparse = server_type_limits()->hll_sparse_max_bytes;
    size_t cap = HLL_DENSE_SIZE + HLL_SPARSE_SLACK;
    uint8_t *hll = xmalloc(cap);
    size_t len = hll_init_sparse(hll);
    memset(dense, 0, HLL_DENSE_SIZE);
    memcpy(dense, "HYLL", 4);
    double relerr = 1.04 / sqrt(HLL_REGISTERS);
    long long checkpoint = 1;
    uint64_t seed = (uint64_t)rand() | (uint64_t)rand() << 32;
    int ok = 1;
    for (long long j = 1; j <= 10000000 && ok; j++) {
        uint64_t ele = (uint64_t)j ^ seed;
        long reg;
        int count = hll_pattern(&ele, sizeof(ele), &reg);
        hll_dense_set(dense + HLL_HDR_SIZE, reg, count);
        if (hll[4] == HLL_DENSE) {
            hll_dense_set(hll + HLL_HDR_SIZE, reg, count);
        } else if (hll_sparse_set(hll, &len, (size_t)max_sparse, reg, count) == HLL_SET_PROMOTE) {
            uint8_t *d = xmalloc(cap);
            hll_sparse_to_dense(hll, len, d);
            xfree(hll);
            hll = d;
            len = HLL_DENSE_SIZE;
            hll_dense_set(hll + HLL_HDR_SIZE, reg, count);
        }
        if (j != checkpoint) continue;
        if (j < max_sparse / 2 && hll[4] != HLL_SPARSE) {
            reply_error(c, "TESTFAILED sparse encoding not used");
            ok = 0;
        } else if (hll_count(dense, HLL_DENSE_SIZE, NULL) != hll_count(hll, len, NULL)) {
            reply_error(c, "TESTFAILED dense/sparse disagree");
            ok = 0;
        } else {
            long long abserr = checkpoint - (long long)hll_count(dense, HLL_DENSE_SIZE, NULL);
            long long maxerr = (long long)ceil(relerr * 6 * (double)checkpoint);
            if (j == 10) maxerr = 1; /* collisions make small counts noisy */
            if (llabs(abserr) > maxerr) {
                reply_errorf(c, "TESTFAILED Too big error. card:%lld abserr:%lld", checkpoint,
                             llabs(abserr));
                ok = 0;
            }
            checkpoint *= 10;
        }
    }
    xfree(hll);
    return ok;
}

void pfselftest_command(client *c) {
    uint8_t *dense = xcalloc(1, HLL_DENSE_SIZE);
    if (selftest_registers(c, dense + HLL_HDR_SIZE) && selftest_estimates(c, dense)) reply_ok(c);
    xfree(dense);
}
