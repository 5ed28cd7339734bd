/* commands/cache — cache-aside helpers with leases and XFetch.
 *
 *   CACHE.GET key [BETA b]
 *     -> [value | nil, pttl, token | nil]
 *        pttl: milliseconds left, -1 no expire, -2 missing.
 *        token: a refresh lease granted to THIS caller: on a miss, or on a
 *        hit when XFetch says "refresh early" (now - delta*beta*ln(rand) >=
 *        expiry, delta from CACHE.SET DELTA). Only one caller holds a key's
 *        lease at a time; others get nil (on a miss: wait briefly and retry,
 *        the value is being recomputed).
 *   CACHE.SET key value PX ms [DELTA ms] [TOKEN t]
 *     -> OK. With TOKEN the set is accepted only while that lease is the
 *        key's current one ("-ERR stale token" otherwise: the lease expired or
 *        another caller got it), so a slow recomputation never overwrites a
 *        newer value. Without TOKEN it is a plain SET ... PX that also drops
 *        any lease. DELTA records what computing the value cost (ms).
 *
 * A lease lasts max(1 s, 10 x delta) capped at 30 s, so a crashed holder
 * does not block refreshes for long. Leases live in memory only. */
#include "commands/commands.h"
#include "util/hash.h"
#include "util/mem.h"
#include <math.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct lease {
    size_t klen;
    int64_t expires_ms;
    char token[33];
    char key[];
} lease;

static const void *lease_key(const void *e, size_t *len) {
    *len = ((const lease *)e)->klen;
    return ((const lease *)e)->key;
}
static const dict_type lease_type = {hash_bytes, lease_key, NULL};
static dict *leases;

static lease *lease_find(const char *key, size_t klen) {
    if (!leases) return NULL;
    lease *l = dict_find(leases, key, klen);
    if (l && l->expires_ms <= server_mstime()) {
        dict_remove(leases, key, klen);
        xfree(l);
        l = NULL;
    }
    return l;
}

static void lease_drop(const char *key, size_t klen) {
    if (!leases) return;
    xfree(dict_remove(leases, key, klen));
}

static lease *lease_grant(const char *key, size_t klen, uint32_t delta_ms) {
    if (!leases) leases = dict_new(&lease_type);
    lease *l = xmalloc(sizeof(*l) + klen);
    l->klen = klen;
    memcpy(l->key, key, klen);
    int64_t span = (int64_t)delta_ms * 10;
    if (span < 1000) span = 1000;
    if (span > 30000) span = 30000;
    l->expires_ms = server_mstime() + span;
    unsigned char raw[16];
    if (RAND_bytes(raw, sizeof(raw)) != 1)
        for (size_t i = 0; i < sizeof(raw); i++) raw[i] = (unsigned char)random();
    for (size_t i = 0; i < sizeof(raw); i++) snprintf(l->token + 2 * i, 3, "%02x", raw[i]);
    dict_add(leases, l);
    return l;
}

void cache_get_command(client *c) {
    double beta = 1.0;
    if (c->argc == 4 && arg_is(&c->argv[2], "beta")) {
        if (arg_double_or_reply(c, &c->argv[3], &beta, NULL) != OK) return;
        if (beta < 0) {
            reply_error(c, "ERR BETA must be >= 0");
            return;
        }
    } else if (c->argc != 2) {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    const resp_arg *key = &c->argv[1];
    int err;
    kobj *o = lookup_read_or_reply(c, key, OBJ_STRING, &err);
    if (err) return;
    lease *held = lease_find(key->p, key->len);
    reply_array(c, 3);
    if (!o) {
        reply_null(c);
        reply_int(c, -2);
        if (held)
            reply_null(c);
        else
            reply_bulk_cstr(c, lease_grant(key->p, key->len, 0)->token);
        return;
    }
    reply_string_value(c, o);
    long long expire = kobj_expire(o);
    reply_int(c, expire < 0 ? -1 : (expire - server_mstime() > 0 ? expire - server_mstime() : 0));
    kobj_meta *meta = kobj_meta_of(o);
    int refresh = 0;
    if (!held && expire >= 0 && meta && meta->delta_ms && beta > 0) {
        double r = ((double)random() + 1.0) / ((double)RAND_MAX + 2.0);
        refresh =
            (double)server_mstime() + (double)meta->delta_ms * beta * -log(r) >= (double)expire;
    }
    if (refresh)
        reply_bulk_cstr(c, lease_grant(key->p, key->len, meta->delta_ms)->token);
    else
        reply_null(c);
}

void cache_set_command(client *c) {
    const resp_arg *key = &c->argv[1], *val = &c->argv[2];
    long long px = -1, delta = -1;
    const resp_arg *token = NULL;
    for (int j = 3; j < c->argc; j++) {
        int more = j + 1 < c->argc;
        if (arg_is(&c->argv[j], "px") && more) {
            if (arg_ll_or_reply(c, &c->argv[++j], &px, NULL) != OK) return;
            if (px <= 0) {
                reply_errorf(c, "ERR invalid expire time in '%s' command", c->cmd->fullname);
                return;
            }
        } else if (arg_is(&c->argv[j], "delta") && more) {
            if (arg_long_range_or_reply(c, &c->argv[++j], 0, UINT32_MAX, &delta, NULL) != OK)
                return;
        } else if (arg_is(&c->argv[j], "token") && more) {
            token = &c->argv[++j];
        } else {
            reply_error(c, ERR_SYNTAX);
            return;
        }
    }
    if (px < 0) {
        reply_error(c, "ERR CACHE.SET needs PX milliseconds");
        return;
    }
    int err;
    lookup_write_typed(c, key, OBJ_STRING, &err);
    if (err) return;
    if (token) {
        lease *l = lease_find(key->p, key->len);
        if (!l || token->len != strlen(l->token) || memcmp(token->p, l->token, token->len) != 0) {
            reply_error(c, "ERR stale token: the lease expired or belongs to another caller");
            return;
        }
    }
    lease_drop(key->p, key->len);
    kobj *o = set_string_key(c, key, val->p, val->len, server_mstime() + px, 0);
    if (delta >= 0) db_set_meta(c->db, o, (uint32_t)delta);
    notify_keyspace_event(NOTIFY_STRING, "set", key->p, key->len, c->db->id);
    notify_keyspace_event(NOTIFY_GENERIC, "expire", key->p, key->len, c->db->id);
    server_add_dirty(1);
    reply_ok(c);
}
