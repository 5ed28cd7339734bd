/* server/keyspace — the server's view of the keyspace: typed lookups with
 * hit/miss statistics, argument parsing helpers that reply their own errors,
 * the side effects of a write (WATCH, tracking, blocked clients, keyspace
 * notifications), and what happens when a key expires or is evicted. */
#include "server/server.h"
#include "server/hooks.h"
#include "server/pubsub.h"
#include "util/mem.h"
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- lookups ------------------------------------------------------------------ */

kobj *lookup_read(client *c, const resp_arg *key) {
    kobj *o = db_lookup(c->db, key->p, key->len, (c->flags & CLIENT_NO_TOUCH) ? LOOKUP_NOTOUCH : 0);
    if (o)
        server.stat_keyspace_hits++;
    else {
        server.stat_keyspace_misses++;
        notify_keyspace_event(NOTIFY_KEY_MISS, "keymiss", key->p, key->len, c->db->id);
    }
    return o;
}

kobj *lookup_write(client *c, const resp_arg *key) {
    return db_lookup(c->db, key->p, key->len, 0);
}

kobj *lookup_read_or_reply(client *c, const resp_arg *key, int type, int *err) {
    *err = 0;
    kobj *o = lookup_read(c, key);
    if (o && o->type != type) {
        reply_error(c, ERR_WRONGTYPE);
        *err = 1;
        return NULL;
    }
    return o;
}

kobj *lookup_write_typed(client *c, const resp_arg *key, int type, int *err) {
    *err = 0;
    kobj *o = lookup_write(c, key);
    if (o && o->type != type) {
        reply_error(c, ERR_WRONGTYPE);
        *err = 1;
        return NULL;
    }
    return o;
}

/* ---- arguments ------------------------------------------------------------------ */

int arg_ll_or_reply(client *c, const resp_arg *a, long long *out, const char *msg) {
    if (str_to_ll(a->p, a->len, out)) return OK;
    reply_error(c, msg ? msg : ERR_NOT_INT);
    return ERR;
}

int arg_long_range_or_reply(client *c, const resp_arg *a, long long min, long long max,
                            long long *out, const char *msg) {
    if (arg_ll_or_reply(c, a, out, msg) != OK) return ERR;
    if (*out < min || *out > max) {
        if (msg)
            reply_error(c, msg);
        else
            reply_errorf(c, "ERR value is out of range, value must between %lld and %lld", min,
                         max);
        return ERR;
    }
    return OK;
}

/* As Redis's getPositiveLongFromObjectOrReply: without msg, a non-integer
 * gets the "must be positive" text too. */
int arg_positive_or_reply(client *c, const resp_arg *a, long long *out, const char *msg) {
    if (!msg) msg = "ERR value is out of range, must be positive";
    if (arg_ll_or_reply(c, a, out, msg) != OK) return ERR;
    if (*out < 0) {
        reply_error(c, msg);
        return ERR;
    }
    return OK;
}

int arg_double_or_reply(client *c, const resp_arg *a, double *out, const char *msg) {
    if (str_to_double(a->p, a->len, out)) return OK;
    reply_error(c, msg ? msg : ERR_NOT_FLOAT);
    return ERR;
}

int arg_ldouble_or_reply(client *c, const resp_arg *a, long double *out, const char *msg) {
    if (str_to_ldouble(a->p, a->len, out)) return OK;
    reply_error(c, msg ? msg : ERR_NOT_FLOAT);
    return ERR;
}

int arg_timeout_or_reply(client *c, const resp_arg *a, int64_t *abs_ms) {
    long double t;
    if (!str_to_ldouble(a->p, a->len, &t) || isinf(t)) {
        reply_error(c, "ERR timeout is not a float or out of range");
        return ERR;
    }
    if (t < 0) {
        reply_error(c, "ERR timeout is negative");
        return ERR;
    }
    long double ms = ceill(t * 1000.0L);
    if (ms > (long double)(LLONG_MAX - server.mstime)) {
        reply_error(c, "ERR timeout is out of range");
        return ERR;
    }
    *abs_ms = ms > 0 ? (int64_t)ms + server.mstime : 0;
    return OK;
}

/* ---- side effects of writes --------------------------------------------------- */

void signal_modified_key(client *c, db *d, const char *key, size_t len) {
    watch_touch_key(d, key, len);
    tracking_invalidate_key(c, key, len);
    hooks.key_modified(c, d, key, len);
    blocked_key_modified(d, key, len);
}

void signal_flushed_db(int dbid) {
    watch_touch_all_keys_in_db(dbid, -1);
    tracking_invalidate_all();
    blocked_db_flushed(dbid);
}

static const char notify_class_chars[] = "g$lshzxetmdn";
static const int notify_class_bits[] = {
    NOTIFY_GENERIC, NOTIFY_STRING,  NOTIFY_LIST,   NOTIFY_SET,      NOTIFY_HASH,   NOTIFY_ZSET,
    NOTIFY_EXPIRED, NOTIFY_EVICTED, NOTIFY_STREAM, NOTIFY_KEY_MISS, NOTIFY_MODULE, NOTIFY_NEW};

int notify_flags_from_string(const char *s, size_t len) {
    int flags = 0;
    for (size_t i = 0; i < len; i++) {
        switch (s[i]) {
        case 'A':
            flags |= NOTIFY_ALL;
            break;
        case 'K':
            flags |= NOTIFY_KEYSPACE;
            break;
        case 'E':
            flags |= NOTIFY_KEYEVENT;
            break;
        default: {
            const char *p = strchr(notify_class_chars, s[i]);
            if (!p || !s[i]) return -1;
            flags |= notify_class_bits[p - notify_class_chars];
        }
        }
    }
    return flags;
}

void notify_flags_to_string(int flags, char *out) {
    char *p = out;
    if ((flags & NOTIFY_ALL) == NOTIFY_ALL) {
        *p++ = 'A';
    } else {
        for (size_t i = 0; i < 11; i++)
            if (flags & notify_class_bits[i] && notify_class_bits[i] != NOTIFY_KEY_MISS &&
                notify_class_bits[i] != NOTIFY_NEW)
                *p++ = notify_class_chars[i];
    }
    if (flags & NOTIFY_KEYSPACE) *p++ = 'K';
    if (flags & NOTIFY_KEYEVENT) *p++ = 'E';
    if (flags & NOTIFY_KEY_MISS) *p++ = 'm';
    if (flags & NOTIFY_NEW) *p++ = 'n';
    *p = '\0';
}

void notify_keyspace_event(int type, const char *event, const char *key, size_t klen, int dbid) {
    int flags = server.notify_keyspace_events;
    if (!(flags & type)) return;
    if (pubsub_idle()) return; /* nobody listens: skip building channel names */
    char chan[256];
    if (flags & NOTIFY_KEYSPACE) {
        int n = snprintf(chan, sizeof(chan), "__keyspace@%d__:", dbid);
        char *full = (size_t)n + klen <= sizeof(chan) ? chan : xmalloc((size_t)n + klen);
        if (full != chan) memcpy(full, chan, (size_t)n);
        memcpy(full + n, key, klen);
        pubsub_publish(full, (size_t)n + klen, event, strlen(event));
        if (full != chan) xfree(full);
    }
    if (flags & NOTIFY_KEYEVENT) {
        int n = snprintf(chan, sizeof(chan), "__keyevent@%d__:%s", dbid, event);
        pubsub_publish(chan, (size_t)n, key, klen);
    }
}

/* ---- expiry and eviction hooks ---------------------------------------------- */

static void on_expired(db *d, kobj *o) {
    server.stat_expiredkeys++;
    const char *key = kobj_key(o);
    /* The entry is already out of the dicts: watchers of a stale key see no change. */
    watch_touch_key(d, key, o->klen);
    tracking_invalidate_key(NULL, key, o->klen);
    notify_keyspace_event(NOTIFY_EXPIRED, "expired", key, o->klen, d->id);
    hooks.key_expired(d, o);
}

static int fields_policy(db *d, const char *key, size_t len) {
    if (!hooks.key_mapped(d, key, len)) return FIELDS_EXPIRE;
    return hooks.key_pinned(d, key, len) ? FIELDS_KEEP : FIELDS_DROP_KEY;
}

static void on_evicted(db *d, kobj *o) {
    server.stat_evictedkeys++;
    const char *key = kobj_key(o);
    signal_modified_key(NULL, d, key, o->klen);
    notify_keyspace_event(NOTIFY_EVICTED, "evicted", key, o->klen, d->id);
}

static void on_added(db *d, kobj *o) {
    notify_keyspace_event(NOTIFY_NEW, "new", kobj_key(o), o->klen, d->id);
}

void keyspace_init(void) {
    kv_hook.fields_policy = fields_policy;
    kv_hook.on_expired = on_expired;
    kv_hook.on_evicted = on_evicted;
    kv_hook.on_added = on_added;
}

/* ---- whole databases -------------------------------------------------------- */

void server_flush_db(int dbid) {
    signal_flushed_db(dbid);
    for (int i = 0; i < server.databases; i++) {
        if (dbid != -1 && i != dbid) continue;
        db_clear(&server.dbs[i]);
    }
}

int select_db(client *c, long long id) {
    if (id < 0 || id >= server.databases) return ERR;
    c->db = &server.dbs[id];
    return OK;
}
