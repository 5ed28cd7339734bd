/* commands/lock — native locks with fencing tokens, and DELIFEQ.
 *
 *   LOCK.ACQUIRE name ttl_ms [WAIT ms]
 *       -> :token   the lock is now held for ttl_ms; token is the fencing token
 *       -> nil      the lock is held by someone else (no WAIT, or WAIT timed out)
 *       WAIT ms parks the client (no polling) in a FIFO queue of the lock; WAIT 0
 *       waits forever. Inside MULTI or a script there is no waiting (nil at once).
 *   LOCK.RELEASE name token  -> :1 released (the next waiter gets the lock)
 *   LOCK.EXTEND name token ttl_ms -> :1 the lock now expires ttl_ms from now
 *   LOCK.INFO name -> map: held (0/1), token (holder's, or nil), ttl_ms (remaining,
 *       -1 when free), waiters (count)
 *   DELIFEQ key value -> :1 if the string at key equals value and was deleted, else :0
 *
 * Errors (exact texts):
 *   -ERR value is not an integer or out of range     ttl / token / WAIT not integers
 *   -ERR invalid expire time in 'lock.acquire' command   ttl_ms <= 0 (also lock.extend)
 *   -ERR timeout is negative                          WAIT < 0
 *   -ERR syntax error                                 anything else after ttl_ms
 *   -ERR lock is not held                             RELEASE/EXTEND of a free (or expired) lock
 *   -NOPERM lock is held with another token           RELEASE/EXTEND with a wrong token
 *   -WRONGTYPE ...                                    DELIFEQ on a non-string key
 *
 * Tokens: one counter for all locks, so a token is strictly greater than every
 * token issued before it, for any lock name (hence per name too). The counter
 * starts at the wall clock in microseconds, so tokens keep increasing across
 * restarts as long as the clock does not step back and fewer than one token
 * per microsecond was issued. With a store loaded, persist/locktokens.c makes
 * that exact: it raises the counter at start to a ceiling the store keeps
 * above every token ever replied (lock_token_raise), and is told every token
 * issued (lock_set_token_hook) so it can move the ceiling up in time.
 *
 * Keyspace: locks are NOT keys. They live in their own table, shared by all
 * databases: DEL, FLUSHALL, SWAPDB, KEYS, DBSIZE never see or touch them. A
 * free lock with no waiters is forgotten (memory stays bounded by the locks
 * in use); the global counter keeps its tokens increasing. A client that
 * disconnects keeps its lock until the TTL ends, as with SET NX PX.
 *
 * Invariants:
 *  1. l->token != 0 <=> the lock is held; then l->expire_ms is set and l->timer
 *     runs until expire_ms.
 *  2. Every waiter is a client blocked with BLOCKED_LOCK whose bstate.priv is
 *     its waiter record, linked in exactly one lock's queue.
 *  3. A lock in the table is held or has waiters. */
#include "commands/commands.h"
#include "server/hooks.h"
#include "util/clock.h"
#include "util/hash.h"
#include "util/mem.h"
#include <assert.h>
#include <string.h>
#include <sys/time.h>

typedef struct lock {
    uint64_t token; /* holder's token, 0 = free */
    int64_t expire_ms;
    ev_timer timer;
    list_head waiters; /* of lock_waiter, FIFO */
    size_t nlen;
    char name[];
} lock;

typedef struct lock_waiter {
    list_node node;
    lock *l;
    client *c;
    int64_t ttl_ms;
} lock_waiter;

static const void *lock_key(const void *e, size_t *len) {
    const lock *l = e;
    *len = l->nlen;
    return l->name;
}
static const dict_type lock_type = {hash_bytes, lock_key, NULL};

static dict *locks;
static uint64_t last_token;
static void (*token_hook)(client *to, uint64_t token);

void lock_set_token_hook(void (*fn)(client *to, uint64_t token)) {
    token_hook = fn;
}

uint64_t lock_token_last(void) {
    if (!last_token) {
        struct timeval tv;
        gettimeofday(&tv, NULL);
        last_token = (uint64_t)tv.tv_sec * 1000000ULL + (uint64_t)tv.tv_usec;
    }
    return last_token;
}

void lock_token_raise(uint64_t t) {
    if (t > lock_token_last()) last_token = t;
}

/* DEBUG LOCK-TOKEN n: raises the counter to n (tests use it to put tokens
 * beyond what the clock would give, to see them outlive a restart). */
static void debug_lock_token(client *c) {
    long long n;
    if (c->argc != 3) {
        reply_error(c, "ERR DEBUG LOCK-TOKEN <token>");
        return;
    }
    if (arg_ll_or_reply(c, &c->argv[2], &n, NULL) != OK) return;
    if (n > 0) lock_token_raise((uint64_t)n);
    reply_int(c, (long long)lock_token_last());
}

__attribute__((constructor)) static void lock_register_debug(void) {
    debug_register("lock-token", debug_lock_token);
}

/* A token for client to, which is replied it next. */
static uint64_t new_token(client *to) {
    uint64_t t = lock_token_last() + 1;
    last_token = t;
    if (token_hook) token_hook(to, t);
    return t;
}

static void lock_expired_cb(struct ev_loop *loop, ev_timer *t, int revents);

static lock *lock_get(const char *name, size_t len, int create) {
    if (!locks) locks = dict_new(&lock_type);
    lock *l = dict_find(locks, name, len);
    if (l || !create) return l;
    l = xcalloc(1, sizeof(*l) + len + 1);
    l->nlen = len;
    memcpy(l->name, name, len);
    list_init(&l->waiters);
    ev_timer_init(&l->timer, lock_expired_cb, 0, 0);
    l->timer.data = l;
    dict_add(locks, l);
    return l;
}

/* Forgets a free lock without waiters (invariant 3). */
static void lock_maybe_forget(lock *l) {
    if (l->token || !list_empty(&l->waiters)) return;
    ev_timer_stop(server_loop(), &l->timer);
    dict_remove(locks, l->name, l->nlen);
    xfree(l);
}

static void lock_hold(lock *l, int64_t ttl_ms, client *holder) {
    l->token = new_token(holder);
    l->expire_ms = server_mstime() + ttl_ms;
    ev_timer_stop(server_loop(), &l->timer);
    ev_timer_set(&l->timer, (double)ttl_ms / 1000.0, 0);
    ev_timer_start(server_loop(), &l->timer);
}

static void lock_set_ttl(lock *l, int64_t ttl_ms) {
    l->expire_ms = server_mstime() + ttl_ms;
    ev_timer_stop(server_loop(), &l->timer);
    ev_timer_set(&l->timer, (double)ttl_ms / 1000.0, 0);
    ev_timer_start(server_loop(), &l->timer);
}

/* The lock became free: the oldest waiter gets it (replied its token, unblocked).
 * Returns with the lock held by that waiter, or free and possibly forgotten. */
static void lock_release_and_pass(lock *l) {
    l->token = 0;
    ev_timer_stop(server_loop(), &l->timer);
    list_node *n = list_first(&l->waiters);
    if (n) {
        lock_waiter *w = list_entry(n, lock_waiter, node);
        list_remove(&l->waiters, n);
        w->l = NULL; /* on_unblock must not unlink it again */
        lock_hold(l, w->ttl_ms, w->c);
        reply_int(w->c, (long long)l->token);
        unblock_client(w->c); /* frees w through on_unblock */
        return;
    }
    lock_maybe_forget(l);
}

static void lock_expired_cb(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)loop;
    (void)revents;
    server_update_time();
    lock_release_and_pass(t->data);
}

/* A held lock past its expiry that the timer has not released yet (the timer
 * fires on the next loop turn) is released now, so every command sees the TTL. */
static void lock_expire_if_needed(lock *l) {
    if (l && l->token && l->expire_ms <= server_mstime()) lock_release_and_pass(l);
}

/* ---- waiting ---------------------------------------------------------------------------- */

static void waiter_timeout(client *c) {
    reply_null(c);
}

static void waiter_unblock(client *c) {
    lock_waiter *w = c->bstate.priv;
    if (!w) return;
    lock *l = w->l;
    if (l) {
        list_remove(&l->waiters, &w->node);
        lock_maybe_forget(l);
    }
    xfree(w);
    c->bstate.priv = NULL;
}

static void lock_wait(client *c, lock *l, int64_t ttl_ms, int64_t wait_ms) {
    lock_waiter *w = xcalloc(1, sizeof(*w));
    w->l = l;
    w->c = c;
    w->ttl_ms = ttl_ms;
    list_push_back(&l->waiters, &w->node);
    block_client(c, BLOCKED_LOCK, wait_ms ? server_mstime() + wait_ms : 0);
    c->bstate.priv = w;
    c->bstate.on_timeout = waiter_timeout;
    c->bstate.on_unblock = waiter_unblock;
}

/* ---- commands ------------------------------------------------------------------------------ */

static int ttl_or_reply(client *c, const resp_arg *a, int64_t *ttl) {
    long long v;
    if (arg_ll_or_reply(c, a, &v, NULL) != OK) return ERR;
    if (v <= 0) {
        reply_errorf(c, "ERR invalid expire time in '%s' command", c->cmd->fullname);
        return ERR;
    }
    *ttl = v;
    return OK;
}

void lock_acquire_command(client *c) {
    int64_t ttl, wait = -1;
    if (ttl_or_reply(c, &c->argv[2], &ttl) != OK) return;
    for (int j = 3; j < c->argc; j++) {
        if (arg_is(&c->argv[j], "wait") && j + 1 < c->argc && wait < 0) {
            long long v;
            if (arg_ll_or_reply(c, &c->argv[++j], &v, NULL) != OK) return;
            if (v < 0) {
                reply_error(c, "ERR timeout is negative");
                return;
            }
            wait = v;
        } else {
            reply_error(c, ERR_SYNTAX);
            return;
        }
    }
    lock *l = lock_get(c->argv[1].p, c->argv[1].len, 1);
    lock_expire_if_needed(l);
    l = lock_get(c->argv[1].p, c->argv[1].len, 1);
    if (!l->token && list_empty(&l->waiters)) {
        lock_hold(l, ttl, c);
        reply_int(c, (long long)l->token);
        server_add_dirty(1);
        return;
    }
    if (wait < 0 || !client_can_block(c)) {
        reply_null(c);
        lock_maybe_forget(l);
        return;
    }
    lock_wait(c, l, ttl, wait);
}

/* The held lock for RELEASE/EXTEND with that token; NULL after replying. */
static lock *held_lock_or_reply(client *c, const resp_arg *name, const resp_arg *tok) {
    long long token;
    if (arg_ll_or_reply(c, tok, &token, NULL) != OK) return NULL;
    lock *l = lock_get(name->p, name->len, 0);
    lock_expire_if_needed(l);
    l = lock_get(name->p, name->len, 0);
    if (!l || !l->token) {
        reply_error(c, "ERR lock is not held");
        return NULL;
    }
    if ((uint64_t)token != l->token) {
        reply_error(c, "NOPERM lock is held with another token");
        return NULL;
    }
    return l;
}

void lock_release_command(client *c) {
    lock *l = held_lock_or_reply(c, &c->argv[1], &c->argv[2]);
    if (!l) return;
    reply_int(c, 1);
    server_add_dirty(1);
    lock_release_and_pass(l);
}

void lock_extend_command(client *c) {
    int64_t ttl;
    if (ttl_or_reply(c, &c->argv[3], &ttl) != OK) return;
    lock *l = held_lock_or_reply(c, &c->argv[1], &c->argv[2]);
    if (!l) return;
    lock_set_ttl(l, ttl);
    server_add_dirty(1);
    reply_int(c, 1);
}

void lock_info_command(client *c) {
    lock *l = lock_get(c->argv[1].p, c->argv[1].len, 0);
    lock_expire_if_needed(l);
    l = lock_get(c->argv[1].p, c->argv[1].len, 0);
    reply_map(c, 4);
    reply_bulk_cstr(c, "held");
    reply_int(c, l && l->token ? 1 : 0);
    reply_bulk_cstr(c, "token");
    if (l && l->token)
        reply_int(c, (long long)l->token);
    else
        reply_null(c);
    reply_bulk_cstr(c, "ttl_ms");
    reply_int(c, l && l->token ? (long long)(l->expire_ms - server_mstime()) : -1);
    reply_bulk_cstr(c, "waiters");
    reply_int(c, l ? (long long)l->waiters.len : 0);
}

void delifeq_command(client *c) {
    int err = 0;
    kobj *o = lookup_write_typed(c, &c->argv[1], OBJ_STRING, &err);
    if (err) return; /* WRONGTYPE replied */
    if (!o || o->vlen != c->argv[2].len || memcmp(kobj_val(o), c->argv[2].p, o->vlen) != 0) {
        reply_int(c, 0);
        return;
    }
    delete_key_notify(c, c->db, c->argv[1].p, c->argv[1].len);
    server_add_dirty(1);
    reply_int(c, 1);
}
