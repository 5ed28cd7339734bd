/* persist/changes — the store's committed row changes as a stream
 * (`changes-stream KEY [MAXLEN n]`; README.md, "The store's changes as a
 * stream").
 *
 * After a store commit that changed rows of a mapped table, the commit's
 * done() (loop thread) appends one entry per changed row to the stream KEY of
 * database 0, as XADD KEY [MAXLEN ~ n] * would: same ids, same keyspace
 * events ("xadd", "xtrim"), blocked XREAD/XREADGROUP readers woken, WATCH
 * touched. Each entry has the fields
 *
 *   table  the mapped table
 *   op     insert | update | delete, as the store reported the row's change
 *          (a cache write's UPSERT: whether the row existed before it,
 *          store_op.change); upsert only from a store module that cannot
 *          tell; truncate (every row of table; pk and key empty), reset
 *          (below)
 *   pk     the row's key values joined as the map's key pattern joins them
 *          (the key without its prefix and suffix)
 *   key    the cache key of the row (of the table's first map the values fit)
 *   seq    the commit's number: every entry of one commit has the same seq,
 *          and seq rises by one per commit in the order this process saw the
 *          commits complete; it starts again at 1 after a restart
 *
 * At start (after the store opened and the journal replay began) and when
 * the directive is set at run time the stream gets one entry with op
 * "reset": changes before it may be missing from the stream (Larder keeps no
 * RDB: the stream lives in memory only).
 *
 * Invariants:
 *  1. Entries are appended only on the loop thread, after the commit's
 *     outcome is known, and only for rows the store committed.
 *  2. Entries of one commit are appended together (no other entry between
 *     them) and in the commit's row order. */
#include "persist/persist.h"
#include "kv/stream.h"
#include "util/mem.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *cfg_key; /* NULL: off */
static size_t cfg_klen;
static long long cfg_maxlen; /* 0: no trimming */
static uint64_t commit_seq;
static int warned; /* the key is unusable (another type, mapped): logged once */
static int started;

int changes_configured(void) {
    return cfg_key != NULL;
}

int changes_on(void) {
    return cfg_key != NULL && started;
}

uint64_t changes_commit(void) {
    return ++commit_seq;
}

int changes_op(const store_op *op) {
    return op->change ? op->change : op->kind == STORE_DELETE ? 'D' : 0;
}

static const char *op_name(int op) {
    return op == 'I'   ? "insert"
           : op == 'U' ? "update"
           : op == 'D'
               ? "delete"
               : "upsert"; /* written whether or not the row existed: the store cannot tell */
}

/* The stream to append to, created when absent; NULL (logged once) when the
 * key holds another type or belongs to a map. */
static stream *target(db *d) {
    if (persist_match(d, cfg_key, cfg_klen, &(const char *){NULL}, &(size_t){0})) {
        if (!warned)
            server_log(LL_WARNING, "changes-stream: key %s belongs to a map; no entry is appended",
                       cfg_key);
        warned = 1;
        return NULL;
    }
    kobj *o = db_lookup(d, cfg_key, cfg_klen, LOOKUP_NOTOUCH);
    if (o && o->type != OBJ_STREAM) {
        if (!warned)
            server_log(LL_WARNING,
                       "changes-stream: key %s holds another type; no entry is appended until it "
                       "is deleted",
                       cfg_key);
        warned = 1;
        return NULL;
    }
    warned = 0;
    if (!o) {
        o = kobj_new_ptr(OBJ_STREAM, 0, cfg_key, cfg_klen, stream_new());
        db_add(d, o);
    }
    return kobj_ptr(o);
}

/* XADD cfg_key [MAXLEN ~ n] * table .. op .. pk .. key .. seq .. */
static void append(const char *table, const char *op, const char *pk, size_t pklen, const char *key,
                   size_t klen, uint64_t seq) {
    db *d = server_db(0);
    stream *s = target(d);
    if (!s) return;
    stream_id id;
    if (stream_next_auto_id(s, (uint64_t)server_mstime(), &id) != 0) {
        server_log(LL_WARNING, "changes-stream: %s has exhausted its ids", cfg_key);
        return;
    }
    char seqbuf[24];
    int n = snprintf(seqbuf, sizeof(seqbuf), "%llu", (unsigned long long)seq);
    const char *fv[10] = {"table", table, "op", op, "pk", pk, "key", key, "seq", seqbuf};
    size_t fl[10] = {5, strlen(table), 2, strlen(op), 2, pklen, 3, klen, 3, (size_t)n};
    stream_append(s, &id, 5, fv, fl);
    signal_modified_key(NULL, d, cfg_key, cfg_klen);
    notify_keyspace_event(NOTIFY_STREAM, "xadd", cfg_key, cfg_klen, 0);
    server_add_dirty(1);
    stream_id none = {0, 0};
    if (cfg_maxlen && stream_trim(s, STREAM_TRIM_MAXLEN, (uint64_t)cfg_maxlen, &none, 1,
                                  stream_default_approx_limit()))
        notify_keyspace_event(NOTIFY_STREAM, "xtrim", cfg_key, cfg_klen, 0);
    signal_key_as_ready(d, cfg_key, cfg_klen);
}

void changes_row(uint64_t seq, const char *table, int op, const char *pk, size_t pklen,
                 const char *key, size_t klen) {
    if (!changes_on()) return;
    append(table, op_name(op), pk ? pk : "", pk ? pklen : 0, key ? key : "", key ? klen : 0, seq);
}

void changes_row_pk(uint64_t seq, const char *table, int opc, int npk, const store_value *pk) {
    if (!changes_on()) return;
    const char *op = op_name(opc);
    sbuf key = SBUF_INIT;
    for (int i = 0; i < ps.maps.n; i++) {
        const mapping *m = ps.maps.v[i];
        if (strcasecmp(m->name, table) != 0) continue;
        if (mapping_key_from_pk(m, npk, pk, &key) != OK) continue;
        size_t pklen = key.len - m->plen - m->slen;
        append(table, op, key.p + m->plen, pklen, key.p, key.len, seq);
        sbuf_free(&key);
        return;
    }
    sbuf_clear(&key);
    int mapped = 0;
    for (int i = 0; i < ps.maps.n && !mapped; i++) mapped = !strcasecmp(ps.maps.v[i]->name, table);
    if (!mapped) {
        sbuf_free(&key);
        return;
    }
    /* a row no key of its maps can name (an empty value, a separator inside
     * one): its values joined by ':' in the table's key order, no key */
    sbuf t = SBUF_INIT;
    for (int i = 0; i < npk; i++) {
        if (i) sbuf_puts(&key, ":");
        sbuf_clear(&t);
        store_value_text(&pk[i], &t);
        sbuf_append(&key, t.p ? t.p : "", t.len);
    }
    append(table, op, key.p ? key.p : "", key.len, "", 0, seq);
    sbuf_free(&t);
    sbuf_free(&key);
}

void changes_truncate(uint64_t seq, const char *table) {
    if (!changes_on()) return;
    int mapped = 0;
    for (int i = 0; i < ps.maps.n && !mapped; i++) mapped = !strcasecmp(ps.maps.v[i]->name, table);
    if (mapped) append(table, "truncate", "", 0, "", 0, seq);
}

static void reset_entry(void) {
    if (changes_on()) append("", "reset", "", 0, "", 0, commit_seq);
}

void changes_reset(void) {
    reset_entry();
}

int changes_start(char **err) {
    started = 1;
    if (!cfg_key) return OK;
    if (mapping_match(&ps.maps, cfg_key, cfg_klen, &(const char *){NULL}, &(size_t){0})) {
        sbuf b = SBUF_INIT;
        sbuf_printf(&b, "changes-stream: key %s belongs to a map; name a key no map matches",
                    cfg_key);
        *err = sbuf_take(&b, NULL);
        return ERR;
    }
    reset_entry();
    return OK;
}

/* "KEY [MAXLEN n]"; "" turns the stream off. */
static int set_directive(const char *val, char **err) {
    char *copy = xstrdup(val);
    resp_arg *argv = NULL;
    int cap = 0, argc = 0;
    resp_split_args(copy, strlen(copy), &argv, &cap, &argc);
    long long maxlen = 0;
    int rc = OK;
    if (argc == 2 || argc > 3 || (argc == 3 && !arg_is(&argv[1], "maxlen"))) {
        *err = xstrdup("changes-stream takes KEY [MAXLEN n]");
        rc = ERR;
    } else if (argc == 3) {
        char *end = NULL;
        maxlen = strtoll(argv[2].p, &end, 10);
        if (!argv[2].len || *end || maxlen < 1) {
            *err = xstrdup("changes-stream MAXLEN must be a positive integer");
            rc = ERR;
        }
    } else if (argc == 1 && argv[0].len == 0) {
        argc = 0;
    } else if (argc && mapping_match(&ps.maps, argv[0].p, argv[0].len, &(const char *){NULL},
                                     &(size_t){0})) {
        *err = xstrdup("changes-stream: the key belongs to a map; name a key no map matches");
        rc = ERR;
    }
    if (rc == OK) {
        int same =
            argc && cfg_key && cfg_klen == argv[0].len && !memcmp(cfg_key, argv[0].p, cfg_klen);
        xfree(cfg_key);
        cfg_key = argc ? xmemdup(argv[0].p, argv[0].len) : NULL;
        cfg_klen = argc ? argv[0].len : 0;
        cfg_maxlen = maxlen;
        warned = 0;
        if (!same) reset_entry(); /* a new stream at run time: what came before is missing */
    }
    xfree(argv);
    xfree(copy);
    return rc;
}

static void get_directive(sbuf *out) {
    if (!cfg_key) return;
    sbuf_append(out, cfg_key, cfg_klen);
    if (cfg_maxlen) sbuf_printf(out, " MAXLEN %lld", cfg_maxlen);
}

static config_directive directives[] = {
    CONFIG_SPECIAL("changes-stream", "", set_directive, get_directive), {.name = NULL}};

void changes_register(void) {
    config_register(directives);
}
