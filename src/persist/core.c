/* persist/core — configuration, the store module, per-key state and the
 * hooks the server calls (see persist.h for the model).
 *
 * Invariants:
 *  1. The loop thread never waits on the store, except at start-up (opening
 *     the store, checking mappings, replaying the journal: clients get
 *     -LOADING meanwhile) and shutdown. A command that needs the store
 *     (CONFIG SET map included) parks its client.
 *  2. A client parked by persistence (BLOCKED_STORE) waits on one or more
 *     wait lists (pclient.waits, never empty while parked) and re-runs its
 *     whole command when the last of them wakes it. */
#include "persist/persist.h"
#include "util/mem.h"
#include "util/hash.h"
#include <assert.h>
#include <ctype.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

persist_config pcfg = {.journal_fsync = JFSYNC_EVERYSEC,
                       .store_connections = 1,
                       .store_batch_priority = STOREQ_PRIO_IDLE,
                       .wb_batch = 10000,
                       .wb_chunk = 128,
                       .wb_delay_ms = 100,
                       .wb_max_pending = 1000000,
                       .negative_ttl = 60,
                       .wb_check = 1,
                       .on_delete = ON_DELETE_ROW,
                       .lease_ms = 5000};
persist_state ps;
static int config_loading_maps = 1; /* file lines append; CONFIG SET replaces */

/* ---- configuration ------------------------------------------------------------------ */

int persist_config_loadmodule(const char *val, char **err) {
    if (ps.enabled) {
        *err = xstrdup("loadmodule can only be given in the configuration file");
        return ERR;
    }
    char *copy = xstrdup(val);
    resp_arg *argv = NULL;
    int cap = 0, argc = 0;
    int split = resp_split_args(copy, strlen(copy), &argv, &cap, &argc);
    if (split < 0 || argc < 1) {
        xfree(argv);
        xfree(copy);
        *err = xstrdup(split < 0 ? "loadmodule: unbalanced quotes" : "loadmodule needs a path");
        return ERR;
    }
    xfree(pcfg.module_path);
    for (int i = 0; i < pcfg.module_argc; i++) xfree(pcfg.module_args[i]);
    xfree(pcfg.module_args);
    pcfg.module_path = xstrdup(argv[0].p);
    pcfg.module_argc = argc - 1;
    pcfg.module_args = xcalloc((size_t)argc, sizeof(char *));
    for (int i = 1; i < argc; i++) pcfg.module_args[i - 1] = xstrdup(argv[i].p);
    xfree(argv);
    xfree(copy);
    return OK;
}

void persist_config_get_loadmodule(sbuf *out) {
    if (!pcfg.module_path) return;
    /* quoted where needed, so that CONFIG REWRITE writes a line that splits the same way */
    for (int i = -1; i < pcfg.module_argc; i++) {
        const char *a = i < 0 ? pcfg.module_path : pcfg.module_args[i];
        if (i >= 0) sbuf_puts(out, " ");
        if (!a[0] || strpbrk(a, " \t\"'\\\r\n"))
            sbuf_append_repr(out, a, strlen(a));
        else
            sbuf_puts(out, a);
    }
}

static int resolve_maps(mapping_set *set, char **err);
static void forget_idle_keys(void);
static int map_change_begin(mapping_set *set, char **err);
static int command_touch_keys(client *c, const command *cmd);

static uint64_t maps_gen; /* bumps when the maps are replaced */
static int sql_running;   /* SQL.EXEC statements submitted and not done */

/* An entry's tag (kobj.tag) caches which map its key belongs to, so that a
 * hit matches no pattern: the maps' generation (tag_gen, 1..255) in the high
 * byte, the map's index + 1 in the low byte (0: no map). A tag of another
 * generation is stale and recomputed. When tag_gen wraps, every tag is
 * cleared first, so an old tag never passes for a new one; entries outside
 * the dbs (stale-if-error copies, write-through snapshots) are gone by then
 * (the maps are replaced only when every pkey is idle) or carry no tag
 * (kobj_dup makes new entries). */
static unsigned tag_gen = 1;

static void clear_tags(void) {
    for (int i = 0; i < server_db_count(); i++) {
        dict_iter it;
        dict_iter_init(&it, &server_db(i)->keys);
        for (kobj *o; (o = dict_iter_next(&it));) o->tag = 0;
        dict_iter_done(&it);
    }
}

/* The map of o's key (db 0), from its tag or matched and then tagged. */
static const mapping *entry_map(kobj *o) {
    if ((o->tag >> 8) == tag_gen) {
        unsigned i = o->tag & 0xff;
        return i ? ps.maps.v[i - 1] : NULL;
    }
    const char *pk;
    size_t pklen;
    const mapping *m = mapping_match(&ps.maps, kobj_key(o), o->klen, &pk, &pklen);
    if (!m || m->index < 255) o->tag = (uint16_t)(tag_gen << 8 | (m ? (unsigned)m->index + 1 : 0));
    return m;
}

static void clear_check_free(void) {
    for (int i = 0; i < ps.maps.n; i++) ps.maps.v[i]->check_free = 0;
}

static void replace_maps(mapping_set *set) {
    forget_idle_keys();
    mapping_set_free(&ps.maps);
    ps.maps = *set;
    for (int i = 0; i < ps.maps.n; i++) ps.maps.v[i]->index = i;
    maps_gen++;
    if (++tag_gen > 255) {
        clear_tags();
        tag_gen = 1;
    }
    if (sql_running) clear_check_free(); /* described before a statement ended */
}

/* "spec; spec; ..." (CONFIG SET) or one spec per `map` line (file). */
int persist_config_set_maps(const char *val, char **err) {
    mapping_set set = {NULL, 0};
    char *copy = xstrdup(val);
    char *save = NULL;
    int rc = OK;
    for (char *spec = strtok_r(copy, ";\n", &save); spec; spec = strtok_r(NULL, ";\n", &save)) {
        resp_arg *argv = NULL;
        int cap = 0, argc = 0;
        resp_split_args(spec, strlen(spec), &argv, &cap, &argc);
        if (argc == 0) {
            xfree(argv);
            continue;
        }
        char **av = xmalloc(sizeof(char *) * (size_t)argc);
        for (int i = 0; i < argc; i++) av[i] = argv[i].p;
        mapping *m = mapping_parse(argc, av, err);
        xfree(av);
        xfree(argv);
        if (!m) {
            rc = ERR;
            break;
        }
        set.v = xrealloc(set.v, sizeof(mapping *) * (size_t)(set.n + 1));
        set.v[set.n++] = m;
    }
    xfree(copy);
    if (rc == OK && ps.enabled && !config_loading_maps)
        return map_change_begin(&set, err); /* checked against the store, then replaced */
    if (rc != OK) {
        mapping_set_free(&set);
        return ERR;
    }
    if (config_loading_maps) { /* a file line adds to the list */
        for (int i = 0; i < set.n; i++) {
            ps.maps.v = xrealloc(ps.maps.v, sizeof(mapping *) * (size_t)(ps.maps.n + 1));
            set.v[i]->index = ps.maps.n;
            ps.maps.v[ps.maps.n++] = set.v[i];
        }
        xfree(set.v);
    } else {
        replace_maps(&set);
    }
    return OK;
}

void persist_config_get_maps(sbuf *out) {
    for (int i = 0; i < ps.maps.n; i++) {
        if (i) sbuf_puts(out, "; ");
        mapping_format(ps.maps.v[i], out);
    }
}

void persist_config_fsync_changed(void) {
    journal_set_policy(pcfg.journal_fsync);
}

/* ---- per-key state -------------------------------------------------------------------- */

static const void *pkey_key(const void *e, size_t *len) {
    *len = ((const pkey *)e)->klen;
    return ((const pkey *)e)->key;
}
static uint64_t pkey_hash(const void *e) {
    return ((const pkey *)e)->hash;
}
static const dict_type pkey_type = {hash_bytes, pkey_key, pkey_hash};

pkey *pkey_find(const char *key, size_t klen) {
    return ps.pkeys ? dict_find(ps.pkeys, key, klen) : NULL;
}

pkey *pkey_get(const char *key, size_t klen, const mapping *m) {
    return pkey_get_hashed(key, klen, m, hash_bytes(key, klen));
}

/* Freed pkeys with room for keys up to POOL_KEY bytes, for the next
 * pkey_get: write-behind makes a pkey for every written key and frees it
 * when its batch is done, and the allocator's calloc and free of it (and
 * of its state buffer) were a tenth of the loop's work per write. A pooled
 * pkey keeps its state buffer, emptied. persist_cron trims the pool while
 * nothing is pending. */
enum { POOL_KEY = 48, POOL_MAX = 16384, POOL_STATE_MAX = 1024 };
static pkey **pool;
static int npool;

static void pool_free_one(void) {
    pkey *k = pool[--npool];
    sbuf_free(&k->state);
    xfree(k->key); /* the allocation holding k too */
}

static void pool_trim(int n) {
    while (npool && n--) pool_free_one();
    if (!npool) {
        xfree(pool);
        pool = NULL;
    }
}

/* A zeroed pkey with room for klen key bytes before it (k->key). */
static pkey *pkey_new(size_t klen) {
    if (klen <= POOL_KEY && npool) {
        pkey *k = pool[--npool];
        char *mem = k->key;
        sbuf state = k->state;
        memset(k, 0, sizeof(*k));
        k->key = mem;
        k->state = state;
        return k;
    }
    /* one allocation, the key bytes just before the struct: a lookup that
     * compares the key and then reads the state touches one place */
    size_t off = klen <= POOL_KEY ? POOL_KEY : (klen + 15) & ~(size_t)15;
    char *mem = xcalloc(1, off + sizeof(pkey));
    pkey *k = (pkey *)(mem + off);
    k->key = mem;
    return k;
}

pkey *pkey_get_hashed(const char *key, size_t klen, const mapping *m, uint64_t h) {
    pkey *k = dict_find_hashed(ps.pkeys, key, klen, h);
    if (k) return k;
    k = pkey_new(klen);
    memcpy(k->key, key, klen);
    k->klen = klen;
    k->hash = h;
    k->map = m;
    list_init(&k->load_waiters);
    list_init(&k->lock_waiters);
    dict_add_h(ps.pkeys, k, k->hash);
    return k;
}

void pkey_lock(pkey *k) {
    if (k->locked) return;
    k->locked = 1;
    ps.locked_keys++;
}

void pkey_unlock(pkey *k) {
    if (!k->locked) return;
    k->locked = 0;
    ps.locked_keys--;
}

void pkey_maybe_free(pkey *k) {
    if (k->waking || k->loading || k->refreshing || k->locked || k->checking || k->dirty ||
        k->in_flight || k->deadlettering || k->touched || !list_empty(&k->load_waiters) ||
        !list_empty(&k->lock_waiters))
        return;
    if (k->negative_until_ms > server_mstime()) return;
    if (k->stale_served || (k->stale && k->stale_until_ms > server_mstime())) return;
    rt_forget_stale(k);
    dict_remove_h(ps.pkeys, k->key, k->klen, k->hash);
    if (k->klen <= POOL_KEY && npool < POOL_MAX) {
        if (!pool) pool = xmalloc(POOL_MAX * sizeof(*pool));
        if (k->state.cap > POOL_STATE_MAX) sbuf_free(&k->state);
        sbuf_clear(&k->state);
        pool[npool++] = k;
        return;
    }
    sbuf_free(&k->state);
    xfree(k->key); /* the allocation holding k too */
}

/* Before the mappings are replaced (nothing is pending, the store queue is
 * drained): every remaining pkey is idle — a negative entry at most — and
 * points at a mapping about to be freed. Forget them all. */
static void forget_idle_keys(void) {
    pkey *k;
    while (ps.pkeys && (k = dict_random(ps.pkeys))) {
        size_t before = dict_size(ps.pkeys);
        k->negative_until_ms = 0;
        rt_forget_stale(k);
        pkey_maybe_free(k);
        assert(dict_size(ps.pkeys) < before);
    }
}

/* The last write-behind key persist_allows_command let through, its map
 * and its hash (the db's and pkeys' hash alike), or the last written key of
 * no map (m NULL): the command's persist_key_modified of that key, the
 * usual case, takes them from here instead of matching and hashing the key
 * again. */
enum { LAST_MATCH_MAX = 64 };
static struct {
    char key[LAST_MATCH_MAX];
    size_t klen;
    uint64_t hash, gen;
    const mapping *m;
    int valid;
} last_match;

static void remember_match(const char *key, size_t klen, const mapping *m, uint64_t h) {
    last_match.valid = klen <= LAST_MATCH_MAX;
    if (!last_match.valid) return;
    memcpy(last_match.key, key, klen);
    last_match.klen = klen;
    last_match.hash = h;
    last_match.gen = maps_gen;
    last_match.m = m;
}

const mapping *persist_match(const db *d, const char *key, size_t klen, const char **pk,
                             size_t *pklen) {
    if (!ps.enabled || d->id != 0 || ps.maps.n == 0) return NULL;
    return mapping_match(&ps.maps, key, klen, pk, pklen);
}

/* ---- parking ------------------------------------------------------------------------- */

/* An entry of pclient.loaded: the key bytes follow the struct. */
typedef struct loaded_key {
    size_t klen;
    uint64_t hash;
    char key[];
} loaded_key;

static const void *loaded_key_key(const void *e, size_t *len) {
    *len = ((const loaded_key *)e)->klen;
    return ((const loaded_key *)e)->key;
}
static uint64_t loaded_key_hash(const void *e) {
    return ((const loaded_key *)e)->hash;
}
static const dict_type loaded_type = {hash_bytes, loaded_key_key, loaded_key_hash};

static void free_loaded(void *ctx, void *e) {
    (void)ctx;
    xfree(e);
}

static pclient *pclient_of(client *c) {
    if (!c->persist) {
        pclient *pc = xcalloc(1, sizeof(*pc));
        list_init(&pc->waits);
        c->persist = pc;
    }
    return c->persist;
}

void persist_wait_on(client *c, list_head *waiters) {
    pclient *pc = pclient_of(c);
    pwait *w = xmalloc(sizeof(*w));
    w->c = c;
    w->list = waiters;
    list_push_back(waiters, &w->node);
    list_push_back(&pc->waits, &w->cnode);
}

static void wait_free(pclient *pc, pwait *w) {
    list_remove(w->list, &w->node);
    list_remove(&pc->waits, &w->cnode);
    xfree(w);
}

/* Takes c off every list it waits on. */
static void wait_cancel_all(client *c) {
    pclient *pc = c->persist;
    list_node *n;
    while (pc && (n = list_first(&pc->waits))) wait_free(pc, list_entry(n, pwait, cnode));
}

client *persist_wait_pop(list_head *waiters) {
    list_node *n = list_first(waiters);
    if (!n) return NULL;
    client *c = list_entry(n, pwait, node)->c;
    wait_cancel_all(c); /* it is answered now: its other waits are moot */
    return c;
}

void persist_park(client *c) {
    assert(!list_empty(&pclient_of(c)->waits));
    argv_copy_make(&c->bstate.args, c->argc, c->argv);
    block_client(c, BLOCKED_STORE, 0);
}

static int loaded_has(const pclient *pc, const char *key, size_t klen) {
    return pc->loaded && dict_find(pc->loaded, key, klen) != NULL;
}

void persist_note_loaded(client *c, const char *key, size_t klen) {
    pclient *pc = pclient_of(c);
    if (!pc->loaded) pc->loaded = dict_new(&loaded_type);
    uint64_t h;
    if (dict_find_h(pc->loaded, key, klen, &h)) return;
    loaded_key *e = xmalloc(sizeof(*e) + klen);
    e->klen = klen;
    e->hash = h;
    memcpy(e->key, key, klen);
    dict_add_h(pc->loaded, e, h);
}

/* Re-runs c's parked command. */
static void rerun(client *c) {
    pclient *pc = c->persist;
    argv_copy args = c->bstate.args;
    c->bstate.args.argc = 0;
    c->bstate.args.argv = NULL;
    unblock_client(c);
    c->argc = args.argc;
    c->argv = args.argv;
    c->flags |= CLIENT_EXECUTING;
    pc->rerun = 1;
    process_command(c);
    pc->rerun = 0;
    c->flags &= ~(uint64_t)CLIENT_EXECUTING;
    c->argc = 0;
    c->argv = NULL;
    client_free_argv_copy(&args);
}

void persist_wake(list_head *waiters) {
    /* Take the whole list first: a re-run command may park on this same
     * list again (a writer behind the next commit of the key, a reader
     * joining the next load), and must then wait for the next wake. */
    list_head now;
    list_init(&now);
    list_node *n;
    while ((n = list_first(waiters))) {
        list_remove(waiters, n);
        list_entry(n, pwait, node)->list = &now;
        list_push_back(&now, n);
    }
    while ((n = list_first(&now))) {
        pwait *w = list_entry(n, pwait, node);
        client *c = w->c;
        pclient *pc = c->persist;
        wait_free(pc, w);
        /* the last of its waits; during shutdown nothing runs any more: a
         * write run now would be acknowledged without being journaled */
        if (list_empty(&pc->waits) && !ps.stopping) rerun(c);
    }
}

void pkey_wake(pkey *k, list_head *waiters) {
    k->waking++;
    persist_wake(waiters);
    k->waking--;
    pkey_maybe_free(k);
}

/* A parked client that disconnects leaves its wait list. */
void persist_client_free(client *c) {
    wt_client_gone(c);
    pclient *pc = c->persist;
    if (!pc) return;
    wait_cancel_all(c);
    if (pc->loaded) dict_free(pc->loaded, free_loaded, NULL);
    xfree(pc);
    c->persist = NULL;
}

void persist_reply_backend_error(client *c, const char *what, const char *msg) {
    reply_errorf(c, "BACKEND %s: %s", what, msg ? msg : "store error");
}

/* ---- start-up ---------------------------------------------------------------------- */

typedef struct sync_job {
    store_job job;
    const char *sql;
    int nargs;
    const store_value *args;
    const char *table;
    store_column *cols;
    int ncols;
} sync_job;

static void sync_done(store_job *j) {
    (void)j;
}

/* Runs j on the store thread and waits for it (start-up, reloads): returns
 * j's rc; its err is j->job.err. */
static int run_sync(store_job *j, void (*run)(store_job *j, const store_module *m, void *h)) {
    j->run = run;
    j->done = sync_done;
    storeq_submit(j);
    storeq_drain();
    return j->rc;
}

/* After run_sync: OK, or ERR with *err (j's error, given over to the caller). */
static int sync_result(store_job *j, char **err) {
    if (j->rc != STORE_OK) {
        *err = j->err ? j->err : xstrdup("store error");
        return ERR;
    }
    xfree(j->err);
    return OK;
}

static void take_err(store_job *j, char *merr, const store_module *m) {
    if (merr) {
        j->err = xstrdup(merr);
        m->free_error(merr);
    }
}

static void run_query(store_job *j, const store_module *m, void *h) {
    sync_job *s = (sync_job *)j;
    char *err = NULL;
    int64_t affected = 0;
    j->rc = m->query(h, s->sql, s->nargs, s->args, 0, NULL, NULL, NULL, &affected, &err);
    take_err(j, err, m);
}

int persist_query_sync(const char *sql, int nargs, const store_value *args, char **err) {
    sync_job s = {.sql = sql, .nargs = nargs, .args = args};
    run_sync(&s.job, run_query);
    return sync_result(&s.job, err);
}

typedef struct int_job {
    store_job job;
    const char *sql;
    int64_t value;
    int found;
} int_job;

static void int_sink_row(void *ctx, int n, const store_value *v) {
    int_job *j = ctx;
    if (n > 0 && v[0].type == SV_INT) {
        j->value = v[0].i;
        j->found = 1;
    }
}

static void run_int_query(store_job *sj, const store_module *m, void *h) {
    int_job *j = (int_job *)sj;
    store_sink sink = {j, NULL, int_sink_row};
    char *err = NULL;
    int64_t aff;
    sj->rc = m->query(h, j->sql, 0, NULL, 1, &sink, NULL, NULL, &aff, &err);
    take_err(sj, err, m);
}

int persist_query_int(const char *sql, int64_t *out, char **err) {
    int_job j = {.sql = sql};
    run_sync(&j.job, run_int_query);
    if (sync_result(&j.job, err) != OK) return ERR;
    *out = j.found ? j.value : 0;
    return OK;
}

/* Copies a module-owned column list into host memory (freed by mapping_free). */
static store_column *copy_columns(const store_column *cols, int n) {
    store_column *c = xcalloc((size_t)(n ? n : 1), sizeof(store_column));
    for (int i = 0; i < n; i++) {
        c[i] = cols[i];
        c[i].name = xstrdup(cols[i].name);
        c[i].decltype = xstrdup(cols[i].decltype ? cols[i].decltype : "");
    }
    return c;
}

/* s->cols: a host copy of the table's columns (the module's list is freed
 * here, on the store thread). */
static void run_describe(store_job *j, const store_module *m, void *h) {
    sync_job *s = (sync_job *)j;
    char *err = NULL;
    store_column *cols = NULL;
    j->rc = m->describe(h, s->table, &cols, &s->ncols, &err);
    take_err(j, err, m);
    if (j->rc != STORE_OK) return;
    s->cols = copy_columns(cols, s->ncols);
    m->free_columns(cols, s->ncols);
}

static int resolve_maps(mapping_set *set, char **err) {
    for (int i = 0; i < set->n; i++) {
        mapping *m = set->v[i];
        sync_job s = {.table = m->name};
        if (run_sync(&s.job, run_describe) != STORE_OK) {
            sbuf b = SBUF_INIT;
            sbuf_printf(&b, "map %s: %s", m->name, s.job.err ? s.job.err : "cannot read the table");
            xfree(s.job.err);
            *err = sbuf_take(&b, NULL);
            return ERR;
        }
        if (mapping_resolve(m, s.cols, s.ncols, err) != OK) return ERR;
    }
    return OK;
}

/* ---- schema changes and the write-behind check ------------------------------------------
 * mapping.check_free comes from the tables as last described. An SQL.EXEC
 * statement that may change a schema (its text names CREATE, DROP or ALTER:
 * CREATE TRIGGER, ALTER TABLE ... CHECK) makes every write-behind write
 * checked again from its submission; once no such statement is under way,
 * one job describes the mapped tables afresh and sets check_free from that,
 * unless such a statement started or the maps were replaced meanwhile (then
 * the next end describes them again). */
static uint64_t sql_epoch; /* bumps when a statement is submitted */

typedef struct redescribe_job {
    store_job job;
    uint64_t epoch, gen;
    int n;
    char **tables, **columns; /* per map: its table, its string column or NULL */
    int *check_free;
} redescribe_job;

static void run_redescribe(store_job *sj, const store_module *m, void *h) {
    redescribe_job *j = (redescribe_job *)sj;
    for (int i = 0; i < j->n; i++) {
        store_column *cols = NULL;
        int ncols = 0;
        char *err = NULL;
        if (m->describe(h, j->tables[i], &cols, &ncols, &err) != STORE_OK) {
            if (err) m->free_error(err);
            continue; /* the table is gone or unreadable: keep checking */
        }
        mapping tmp = {.column = j->columns[i], .cols = cols, .ncols = ncols};
        j->check_free[i] = mapping_rows_unrefusable(&tmp);
        m->free_columns(cols, ncols);
    }
}

static void redescribe_done(store_job *sj) {
    redescribe_job *j = (redescribe_job *)sj;
    if (sj->rc == STORE_OK && j->epoch == sql_epoch && j->gen == maps_gen && !sql_running)
        for (int i = 0; i < j->n && i < ps.maps.n; i++) ps.maps.v[i]->check_free = j->check_free[i];
    for (int i = 0; i < j->n; i++) {
        xfree(j->tables[i]);
        xfree(j->columns[i]);
    }
    xfree(j->tables);
    xfree(j->columns);
    xfree(j->check_free);
    xfree(j->job.err);
    xfree(j);
}

int persist_sql_may_change_schema(const char *sql, size_t len) {
    /* every statement that changes a schema names one of these words (a
     * value or identifier that holds one only costs a description) */
    static const char *const words[] = {"create", "drop", "alter"};
    for (size_t i = 0; i < len; i++) {
        if (i && (isalnum((unsigned char)sql[i - 1]) || sql[i - 1] == '_')) continue;
        for (int w = 0; w < 3; w++) {
            size_t n = strlen(words[w]);
            if (len - i >= n && !strncasecmp(sql + i, words[w], n)) return 1;
        }
    }
    return 0;
}

void persist_sql_begins(void) {
    sql_running++;
    sql_epoch++;
    clear_check_free();
}

void persist_sql_ends(void) {
    assert(sql_running > 0);
    if (--sql_running || !ps.maps.n || ps.stopping) return;
    redescribe_job *j = xcalloc(1, sizeof(*j));
    j->epoch = sql_epoch;
    j->gen = maps_gen;
    j->n = ps.maps.n;
    j->tables = xcalloc((size_t)j->n, sizeof(char *));
    j->columns = xcalloc((size_t)j->n, sizeof(char *));
    j->check_free = xcalloc((size_t)j->n, sizeof(int));
    for (int i = 0; i < j->n; i++) {
        j->tables[i] = xstrdup(ps.maps.v[i]->name);
        j->columns[i] = ps.maps.v[i]->column ? xstrdup(ps.maps.v[i]->column) : NULL;
    }
    j->job.run = run_redescribe;
    j->job.done = redescribe_done;
    storeq_submit(&j->job);
}

/* ---- CONFIG SET map -------------------------------------------------------------------- */

/* A CONFIG SET map under way. Its client's reply is held and the client
 * parked while the store thread reads the new maps' tables; meanwhile every
 * command that names a key or reaches the store waits on ps.map_waiters, so
 * when the outcome comes back (FIFO: every job queued before it is done) no
 * load, commit or SQL job is using the maps being replaced. */
typedef struct map_change {
    store_job job;
    mapping_set set;
    uint64_t client_id;
    int submitted;
    sbuf held;           /* CONFIG SET's own reply */
    store_column **cols; /* per map: host copies made on the store thread */
    int *ncols;
} map_change;

static map_change *change;

static void free_columns_copy(store_column *cols, int n) {
    for (int i = 0; i < n; i++) {
        xfree(cols[i].name);
        xfree(cols[i].decltype);
    }
    xfree(cols);
}

static void run_describe_maps(store_job *sj, const store_module *m, void *h) {
    map_change *mc = (map_change *)sj;
    for (int i = 0; i < mc->set.n && sj->rc == STORE_OK; i++) {
        store_column *cols = NULL;
        int n = 0;
        char *err = NULL;
        sj->rc = m->describe(h, mc->set.v[i]->name, &cols, &n, &err);
        if (sj->rc != STORE_OK) {
            sbuf b = SBUF_INIT;
            sbuf_printf(&b, "map %s: %s", mc->set.v[i]->name, err ? err : "cannot read the table");
            if (err) m->free_error(err);
            sj->err = sbuf_take(&b, NULL);
            break;
        }
        mc->cols[i] = copy_columns(cols, n);
        mc->ncols[i] = n;
        m->free_columns(cols, n);
    }
}

static void free_change(map_change *mc) {
    for (int i = 0; i < mc->set.n; i++)
        if (mc->cols[i]) free_columns_copy(mc->cols[i], mc->ncols[i]);
    mapping_set_free(&mc->set);
    xfree(mc->cols);
    xfree(mc->ncols);
    sbuf_free(&mc->held);
    xfree(mc->job.err);
    xfree(mc);
}

/* Every pkey is idle (a negative entry at most): the maps can be replaced. */
static int pkeys_idle(void) {
    dict_iter it;
    dict_iter_init(&it, ps.pkeys);
    pkey *k;
    int idle = 1;
    while (idle && (k = dict_iter_next(&it)))
        idle = !(k->waking || k->loading || k->refreshing || k->locked || k->checking || k->dirty ||
                 k->in_flight || k->deadlettering || k->touched || !list_empty(&k->load_waiters) ||
                 !list_empty(&k->lock_waiters));
    dict_iter_done(&it);
    return idle;
}

static void map_change_done(store_job *sj) {
    map_change *mc = (map_change *)sj;
    change = NULL;
    char *err = sj->rc != STORE_OK ? xstrdup(sj->err ? sj->err : "store error") : NULL;
    for (int i = 0; i < mc->set.n && !err; i++) {
        /* the mapping owns its columns from here, resolved or not */
        mapping_resolve(mc->set.v[i], mc->cols[i], mc->ncols[i], &err);
        mc->cols[i] = NULL;
    }
    if (!err && (ps.dirty_count || ps.batch_in_flight || !list_empty(&ps.touched)))
        err = xstrdup("write-behind keys are pending; run WB.FLUSH first");
    if (!err && !pkeys_idle()) err = xstrdup("keys of the maps are busy; retry");
    if (!err) {
        replace_maps(&mc->set);
        mc->set = (mapping_set){NULL, 0};
    }
    client *c = client_by_id(mc->client_id);
    if (c) {
        unblock_client(c);
        if (err)
            reply_errorf(c, "ERR CONFIG SET failed (possibly related to argument 'map') - %s", err);
        else
            reply_raw(c, mc->held.p, mc->held.len);
    }
    xfree(err);
    free_change(mc);
    persist_wake(&ps.map_waiters);
}

/* Called by the map setter during CONFIG SET: takes set over and holds the
 * client's reply; persist_after_command() then parks the client and asks the
 * store. */
static int map_change_begin(mapping_set *set, char **err) {
    client *c = server_executing_client();
    if (change && c && change->client_id == c->id && !change->submitted) {
        /* the same CONFIG SET sets map again: its rollback to the current
         * maps after another parameter failed */
        reply_hold(c, NULL);
        free_change(change);
        change = NULL;
        mapping_set_free(set);
        return OK;
    }
    if (!c || change || !client_can_block(c)) {
        mapping_set_free(set);
        *err = xstrdup(!c || !client_can_block(c)
                           ? "CONFIG SET map cannot run inside MULTI or a script"
                           : "another CONFIG SET map is under way; retry");
        return ERR;
    }
    map_change *mc = xcalloc(1, sizeof(*mc));
    mc->set = *set;
    mc->client_id = c->id;
    mc->cols = xcalloc((size_t)(set->n ? set->n : 1), sizeof(store_column *));
    mc->ncols = xcalloc((size_t)(set->n ? set->n : 1), sizeof(int));
    change = mc;
    reply_hold(c, &mc->held);
    return OK;
}

static void map_change_submit(client *c) {
    reply_hold(c, NULL);
    change->submitted = 1;
    block_client(c, BLOCKED_STORE, 0);
    change->job.run = run_describe_maps;
    change->job.done = map_change_done;
    storeq_submit(&change->job);
}

/* While a map change is under way, commands that name a key (EXEC: its
 * queued commands) or reach the store wait for it. */
static int waits_for_map_change(client *c, const command *cmd) {
    if (!change || change->client_id == c->id) return 0;
    if (cmd->flag_bits & CMD_STORE) return 1;
    return c->db->id == 0 && command_touch_keys(c, cmd) > 0;
}

typedef struct open_job {
    store_job job;
    int argc;
    const char **argv;
    store_module_entry_fn entry; /* the module's entry point (dlsym), NULL if none */
    const store_module *mod;     /* what it returned, NULL if not a store module */
    void *handle;
} open_job;

static void debug_store_fail(client *c) {
    long long n;
    if (c->argc != 3 || arg_ll_or_reply(c, &c->argv[2], &n, NULL) != OK) {
        if (c->argc != 3) reply_error(c, "ERR DEBUG STORE-FAIL <count>");
        return;
    }
    storeq_inject_failures((long)n);
    reply_ok(c);
}

static void debug_store_delay(client *c) {
    long long ms;
    if (c->argc != 3 || arg_ll_or_reply(c, &c->argv[2], &ms, NULL) != OK) {
        if (c->argc != 3) reply_error(c, "ERR DEBUG STORE-DELAY <milliseconds>");
        return;
    }
    storeq_inject_delay((long)ms);
    reply_ok(c);
}

/* DEBUG STORE-SYNC-HOLD on|off (storeq_hold_sync). */
static void debug_store_sync_hold(client *c) {
    int on = c->argc == 3 && arg_is(&c->argv[2], "on");
    if (c->argc != 3 || (!on && !arg_is(&c->argv[2], "off"))) {
        reply_error(c, "ERR DEBUG STORE-SYNC-HOLD on|off");
        return;
    }
    storeq_hold_sync(on);
    reply_ok(c);
}

static const char *batch_prio_name(int p) {
    return p == STOREQ_PRIO_IDLE ? "idle" : p == STOREQ_PRIO_BATCH ? "batch" : "normal";
}

static void info_persistence(sbuf *b) {
    storeq_stats s;
    storeq_get_stats(&s);
    sbuf_printf(b, "store_enabled:%d\r\nstore_module:%s\r\nmaps:%d\r\nmap_change_pending:%d\r\n",
                ps.enabled, ps.mod ? ps.mod->name : "", ps.maps.n, change != NULL);
    if (ps.enabled) wb_info(b);
    if (ps.enabled) inval_info(b);
    sbuf_printf(b, "wt_commits:%lld\r\nwt_group_size_avg:%.2f\r\n", ps.st.wt_commits,
                ps.st.wt_commits ? ps.wt_group_sum / (double)ps.st.wt_commits : 0.0);
    sbuf_printf(b,
                "store_transactions:%lld\r\nstore_transaction_jobs:%lld\r\n"
                "store_syncs_pending:%ld\r\n",
                s.transactions, s.batch_jobs, s.syncs_pending);
    if (!ps.enabled) return;
    static const char *const states[] = {"connected", "reconnecting", "down"};
    sbuf_printf(b,
                "store_connections:%d\r\nstore_connection_state:%s\r\nstore_reconnects:%lld\r\n"
                "store_last_error:%s\r\nstore_last_error_time:%lld\r\n"
                "store_batch_priority:%s\r\nstore_batches_raised:%lld\r\n",
                s.lanes, states[s.conn_state >= 0 && s.conn_state <= 2 ? s.conn_state : 2],
                s.reconnects, s.last_error, s.last_error_ms / 1000,
                batch_prio_name(storeq_batch_priority()), s.batches_raised);
}

static void info_stats(sbuf *b) {
    sbuf_printf(
        b,
        "hits:%lld\r\nmisses:%lld\r\nloads:%lld\r\nloads_coalesced:%lld\r\nrefreshes_early:%lld\r\n"
        "invalidations:%lld\r\nloads_stale:%lld\r\nstale_if_error_hits:%lld\r\n",
        ps.st.hits, ps.st.misses, ps.st.loads, ps.st.loads_coalesced, ps.st.refreshes_early,
        ps.st.invalidations, ps.st.loads_stale, ps.st.stale_if_error_hits);
    sbuf_printf(b, "loads_batched:%lld\r\nload_batches:%lld\r\n", ps.st.loads_batched,
                ps.st.load_batches);
}

/* The module's first calls, on the store thread like all the others: its
 * entry point, then open. */
static void run_open(store_job *j, const store_module *none, void *h) {
    (void)none;
    (void)h;
    open_job *o = (open_job *)j;
    const store_module *m = o->entry ? o->entry() : NULL;
    if (!m || m->api_version != LARDER_STORE_API_VERSION) {
        j->rc = STORE_ERR_PERMANENT;
        return;
    }
    o->mod = m;
    char *err = NULL;
    j->rc = m->open(o->argc, o->argv, &o->handle, &err);
    take_err(j, err, m);
}

/* Runs the open job on a lane and waits for it. */
static int open_on_lane(open_job *o, int lane) {
    o->job.run = run_open;
    o->job.done = sync_done;
    storeq_submit_lane(&o->job, lane);
    storeq_drain();
    return o->job.rc;
}

static void log_batch_priority(void) {
    int eff = storeq_batch_priority();
    if (pcfg.store_batch_priority == STOREQ_PRIO_IDLE && eff != STOREQ_PRIO_IDLE)
        server_log(LL_WARNING,
                   "store-batch-priority idle: a thread cannot leave SCHED_IDLE here (no "
                   "CAP_SYS_NICE, RLIMIT_NICE below 20): write-behind batches run at SCHED_BATCH");
    else
        server_log(LL_NOTICE, "write-behind batches run at store-batch-priority %s",
                   batch_prio_name(eff));
}

/* Starts the store threads and opens one handle on each (store-connections). */
static int open_lanes(int argc, const char **argv, char **err) {
    int n = (int)pcfg.store_connections;
    storeq_set_batch_priority(pcfg.store_batch_priority);
    if (storeq_start(n) != OK) {
        *err = xstrdup("cannot start the store threads");
        return ERR;
    }
    log_batch_priority();
    store_module_entry_fn entry = (store_module_entry_fn)dlsym(ps.dl, STORE_MODULE_ENTRY);
    for (int i = 0; i < n; i++) {
        open_job o = {.argc = argc, .argv = argv, .entry = entry};
        int rc = open_on_lane(&o, i);
        if (!o.mod) {
            sbuf b = SBUF_INIT;
            sbuf_printf(&b, "loadmodule %s: not a Larder store module (no %s with API version %d)",
                        pcfg.module_path, STORE_MODULE_ENTRY, LARDER_STORE_API_VERSION);
            *err = sbuf_take(&b, NULL);
            return ERR;
        }
        ps.mod = o.mod;
        if (i == 0 && o.mod->max_handles && n > o.mod->max_handles) {
            sbuf b = SBUF_INIT;
            sbuf_printf(&b, "store-connections %d: the %s module takes at most %d", n, o.mod->name,
                        o.mod->max_handles);
            *err = sbuf_take(&b, NULL);
            if (rc == STORE_OK) storeq_set_module(0, o.mod, o.handle); /* closed at stop */
            xfree(o.job.err);
            return ERR;
        }
        if (rc != STORE_OK) {
            sbuf b = SBUF_INIT;
            sbuf_printf(&b, "store %s: %s", pcfg.store_path ? pcfg.store_path : o.mod->name,
                        o.job.err ? o.job.err : "cannot open");
            xfree(o.job.err);
            *err = sbuf_take(&b, NULL);
            return ERR;
        }
        storeq_set_module(i, o.mod, o.handle);
    }
    return OK;
}

const char *persist_column_type(int sv_type) {
    const char *t = ps.mod && ps.mod->column_type ? ps.mod->column_type(sv_type) : NULL;
    if (t) return t;
    return sv_type == SV_INT ? "INTEGER" : sv_type == SV_BLOB ? "BLOB" : "TEXT";
}

/* Loads the module, opens the store, checks the mappings, replays the journal. */
int persist_start(char **err) {
    debug_register("store-fail", debug_store_fail);
    debug_register("store-delay", debug_store_delay);
    debug_register("journal-hold", wb_debug_journal_hold);
    debug_register("wb-slice", wb_debug_slice);
    debug_register("store-sync-hold", debug_store_sync_hold);
    info_register("persistence", info_persistence);
    info_register("stats", info_stats);
    list_init(&ps.touched);
    list_init(&ps.dirty);
    list_init(&ps.flush_waiters);
    list_init(&ps.map_waiters);
    ps.pkeys = dict_new(&pkey_type);
    /* it fills with a batch's worth of write-behind keys and empties as the
     * batches commit, over and over: its table is kept (256 KB once grown) */
    dict_keep_slots(ps.pkeys, 32768);
    config_loading_maps = 0;
    if (!pcfg.module_path) {
        if (changes_configured()) {
            *err = xstrdup("changes-stream needs a store: add `loadmodule` (and `store-path`) to "
                           "the configuration");
            return ERR;
        }
        if (ps.maps.n) {
            *err = xstrdup("map directives need a store: add `loadmodule` (and `store-path`) to "
                           "the configuration");
            return ERR;
        }
        return OK;
    }
    ps.dl = dlopen(pcfg.module_path, RTLD_NOW | RTLD_LOCAL);
    if (!ps.dl) {
        sbuf b = SBUF_INIT;
        sbuf_printf(&b, "loadmodule %s: %s", pcfg.module_path, dlerror());
        *err = sbuf_take(&b, NULL);
        return ERR;
    }
    /* the module gets its loadmodule arguments, then store-path and store-conninfo */
    int argc = pcfg.module_argc;
    const char **argv = xcalloc((size_t)argc + 5, sizeof(char *));
    for (int i = 0; i < argc; i++) argv[i] = pcfg.module_args[i];
    if (pcfg.store_path) {
        argv[argc++] = "store-path";
        argv[argc++] = pcfg.store_path;
    }
    if (pcfg.store_conninfo) {
        argv[argc++] = "store-conninfo";
        argv[argc++] = pcfg.store_conninfo;
    }
    int rc = open_lanes(argc, argv, err);
    xfree(argv);
    if (rc != OK) return ERR;
    ps.enabled = 1;
    if (resolve_maps(&ps.maps, err) != OK) return ERR;
    /* the store's own key/value table: write-behind's watermark, the lock-token ceiling */
    sbuf ddl = SBUF_INIT;
    sbuf_printf(&ddl, "CREATE TABLE IF NOT EXISTS wb_meta (name %s PRIMARY KEY, value %s)",
                persist_column_type(SV_TEXT), persist_column_type(SV_INT));
    rc = persist_query_sync(ddl.p, 0, NULL, err);
    sbuf_free(&ddl);
    if (rc != OK) return ERR;
    if (ltok_start(err) != OK) return ERR;
    /* the change log's start waits for its jobs (storeq_drain): before the
     * journal replay's batches are queued, or it would wait for the replay
     * and the server would serve nothing, not even -LOADING, until done */
    if (inval_start(err) != OK) return ERR;
    if (wb_start(err) != OK) return ERR;
    /* after the replay's batches are queued: they complete after the reset entry */
    return changes_start(err);
}

/* ---- hooks called by the server ---------------------------------------------------- */

/* The keys a command touches (EXEC: those of its queued commands), in
 * buffers that grow to the largest command seen: a command names at most one
 * key per argument, so argc bounds the count. pos[i] is keys[i]'s argument
 * index (unused for EXEC). */
static resp_arg *touch_keys;
static int *touch_pos;
static int touch_cap;

static void touch_reserve(int n) {
    if (n <= touch_cap) return;
    touch_cap = n < 64 ? 64 : n;
    touch_keys = xrealloc(touch_keys, sizeof(resp_arg) * (size_t)touch_cap);
    touch_pos = xrealloc(touch_pos, sizeof(int) * (size_t)touch_cap);
}

/* Is cmd EXEC? A pointer comparison (the commands' table does not move):
 * every command to a mapped key asks, several times. */
int is_exec(const command *cmd) {
    static const command *exec_cmd;
    if (!exec_cmd) exec_cmd = command_lookup_name("exec", 4);
    return cmd == exec_cmd;
}

static int command_touch_keys(client *c, const command *cmd) {
    if (!is_exec(cmd)) {
        touch_reserve(c->argc);
        int n = command_keys(cmd, c->argc, c->argv, touch_pos, c->argc);
        for (int j = 0; j < n; j++) touch_keys[j] = c->argv[touch_pos[j]];
        return n;
    }
    int total = 0;
    for (int i = 0; i < c->mcount; i++) total += c->mqueue[i].args.argc;
    touch_reserve(total);
    int n = 0;
    for (int i = 0; i < c->mcount; i++) {
        const argv_copy *a = &c->mqueue[i].args;
        int k = command_keys(c->mqueue[i].cmd, a->argc, a->argv, touch_pos + n, total - n);
        for (int j = 0; j < k; j++) touch_keys[n + j] = a->argv[touch_pos[n + j]];
        n += k;
    }
    return n;
}

/* A script that may write (EVAL, FCALL: may_replicate) counts as a write of
 * its keys: it is not flagged write, yet its calls write them. */
static int writes(const command *cmd) {
    return (cmd->flag_bits & (CMD_WRITE | CMD_MAY_REPLICATE)) != 0;
}

static int is_write(client *c, const command *cmd) {
    if (writes(cmd)) return 1;
    if (is_exec(cmd))
        for (int i = 0; i < c->mcount; i++)
            if (writes(c->mqueue[i].cmd)) return 1;
    return 0;
}

/* A mapped key holds one shape: a hash (fields = the table's columns) or a
 * string (one column). Commands that would store another type, or hash
 * fields that are not columns, are refused before they run — the store
 * could never take them. */
enum { SHAPE_ANY = 1, SHAPE_HASH, SHAPE_STRING, SHAPE_OTHER };

static int shape_of_group(const command *cmd) {
    const char *g = cmd->group ? cmd->group : "";
    if (!(cmd->flag_bits & CMD_WRITE) || !strcmp(g, "generic") || !strcmp(g, "server") ||
        !strcmp(g, "connection") || !strcmp(g, "transactions") || !strcmp(g, "scripting") ||
        !strcmp(g, "larder"))
        return SHAPE_ANY;
    if (!strcmp(g, "hash")) return SHAPE_HASH;
    if (!strcmp(g, "string") || !strcmp(g, "bitmap")) return SHAPE_STRING;
    return SHAPE_OTHER;
}

/* What a command may write to a mapped key, from its group: a small cache
 * by command (the commands' table does not move), so that a write to a
 * mapped key does not compare group names every time. */
static int command_shape(const command *cmd) {
    static struct {
        const command *cmd;
        int shape;
    } cache[64];
    size_t i = ((uintptr_t)cmd >> 4) & 63;
    if (cache[i].cmd != cmd) {
        cache[i].cmd = cmd;
        cache[i].shape = shape_of_group(cmd);
    }
    return cache[i].shape;
}

static int shape_ok_or_reply(client *c, const command *cmd, const mapping *m, int keyarg) {
    int shape = command_shape(cmd);
    if (shape == SHAPE_ANY) return OK;
    int want_hash = m->column == NULL;
    if ((want_hash && shape != SHAPE_HASH) || (!want_hash && shape != SHAPE_STRING)) {
        reply_errorf(c, "WRONGTYPE keys of map %s hold %s; '%s' cannot write them", m->name,
                     want_hash ? "hashes" : "strings", cmd->fullname);
        return ERR;
    }
    if (!want_hash) return OK;
    /* field arguments: HSET/HMSET key f v [f v ...], HSETNX/HINCRBY/HINCRBYFLOAT key f ...,
     * HSETEX key [options] FIELDS n f v [f v ...] */
    int step = (!strcmp(cmd->name, "hset") || !strcmp(cmd->name, "hmset")) ? 2 : 0;
    int first = keyarg + 1;
    if (!strcmp(cmd->name, "hsetex")) {
        while (first < c->argc && !arg_is(&c->argv[first], "fields")) first++;
        first += 2; /* past FIELDS n (a malformed command gets HSETEX's own error) */
        step = 2;
    } else if (strcmp(cmd->name, "hset") && strcmp(cmd->name, "hmset") &&
               strcmp(cmd->name, "hsetnx") && strcmp(cmd->name, "hincrby") &&
               strcmp(cmd->name, "hincrbyfloat")) {
        return OK;
    }
    int last = step ? c->argc - 1 : keyarg + 1;
    for (int i = first; i <= last && i < c->argc; i += step ? step : 1) {
        const resp_arg *f = &c->argv[i];
        int ok = 0;
        for (int k = 0; k < m->ncols && !ok; k++)
            ok = !m->cols[k].pk && strlen(m->cols[k].name) == f->len &&
                 !strncasecmp(m->cols[k].name, f->p, f->len);
        if (!ok) {
            reply_errorf(c,
                         "ERR no such column: %s.%.*s (the fields of map %s are its table's "
                         "non-key columns)",
                         m->name, (int)(f->len > 64 ? 64 : f->len), f->p, m->name);
            return ERR;
        }
        if (!step) break;
    }
    return OK;
}

static int allows_command(client *c, const command *cmd);
static int one_key_read(client *c, const command *cmd);
static int one_key_wb_write(client *c, const command *cmd);

/* The store jobs a command starts (its keys' loads, its commit) reach the
 * store thread together (storeq_hold): an MGET's misses are one batch. */
int persist_allows_command(client *c, const command *cmd) {
    if (!ps.enabled) return 1;
    if ((c->flags & CLIENT_MULTI) && !is_exec(cmd)) return 1; /* only queued */
    if (!change && c->db->id == 0 && ps.maps.n) {
        int ok = writes(cmd) ? one_key_wb_write(c, cmd) : one_key_read(c, cmd);
        if (ok >= 0) return ok;
    }
    storeq_hold(1);
    int ok = allows_command(c, cmd);
    storeq_hold(0);
    return ok;
}

/* A read of one key (GET, HGETALL, ...) that hits, or that needs nothing
 * from the store (no map loads the key, or a negative entry stands): what
 * allows_command decides, found with one hash lookup and no pattern match —
 * the entry's tag names its map, and LOOKUP_MEMO hands the entry on to the
 * command's own lookup. -1 for everything else (a load, a lock to wait for,
 * a due hash field, a stale-if-error copy, a re-run, a write): the general
 * path decides. It starts no store job but an XFetch refresh (one job, so
 * nothing to hold back). */
static int one_key_read(client *c, const command *cmd) {
    if (writes(cmd) || cmd->getkeys || cmd->first_key != 1 || cmd->last_key != 1 || c->argc < 2)
        return -1;
    if (ps.stale_served || (c->persist && ((pclient *)c->persist)->rerun)) return -1;
    const resp_arg *key = &c->argv[1];
    kv_now_ms = server_mstime();
    kobj *o = db_lookup(c->db, key->p, key->len, LOOKUP_NOTOUCH | LOOKUP_MEMO);
    const char *pk;
    size_t pklen;
    const mapping *m = o ? entry_map(o) : mapping_match(&ps.maps, key->p, key->len, &pk, &pklen);
    if (!m || m->mode == MODE_CACHE_ASIDE) return 1;
    /* a write-through commit or write-behind check may hold the key */
    if (ps.locked_keys && m->mode != MODE_READ_THROUGH) return -1;
    if (!o) return rt_needs_load(c, cmd, m, key->p, key->len) ? -1 : 1;
    if (o->type == OBJ_HASH && kv_hook.fields_due && kv_hook.fields_due(c->db, o)) return -1;
    ps.st.hits++;
    if (m->beta > 0 && (o->flags & KF_EXPIRE)) rt_on_hit(c, m, o); /* XFetch may refresh */
    return 1;
}

/* A write of one write-behind key (SET, HSET, INCR, ...) that waits for
 * nothing: what allows_command decides, without collecting the command's
 * keys or holding the store queue (no store job starts). Its lookup is the
 * memo of the command's own and its match the one persist_key_modified
 * takes. -1 for everything else (another mode, a check before the reply, a
 * locked key, a load, a due hash field, a stale-if-error copy, a re-run):
 * the general path decides. */
static int one_key_wb_write(client *c, const command *cmd) {
    if (cmd->getkeys || cmd->first_key != 1 || cmd->last_key != 1 || c->argc < 2 || is_exec(cmd))
        return -1;
    if (ps.stale_served || ps.locked_keys) return -1;
    pclient *pc = c->persist;
    if (pc && pc->rerun) return -1;
    const resp_arg *key = &c->argv[1];
    kv_now_ms = server_mstime();
    /* a live entry's tag names its map (no pattern match); the look does
     * not expire anything: a key of no map is the command's to expire */
    uint64_t h;
    kobj *o = db_find_memo(c->db, key->p, key->len, &h);
    const mapping *m;
    int live = o && !kobj_is_expired(o);
    if (live) {
        m = entry_map(o);
    } else {
        const char *pk;
        size_t pklen;
        m = mapping_match(&ps.maps, key->p, key->len, &pk, &pklen);
    }
    if (!m) { /* what the general path decides for a key of no map */
        if (pc && pc->loaded) dict_clear(pc->loaded, free_loaded, NULL); /* new command */
        remember_match(key->p, key->len, NULL, h);
        return 1;
    }
    if (m->mode != MODE_WRITE_BEHIND || !m->check_free) return -1;
    /* the general path's lookup (LOOKUP_NOTOUCH | LOOKUP_MEMO) would give
     * a live entry as found, with the memo as set: only an expired one
     * needs it (it deletes the entry) */
    if (o && !live) o = db_lookup_h(c->db, key->p, key->len, LOOKUP_NOTOUCH | LOOKUP_MEMO, &h);
    if (o ? o->type == OBJ_HASH && kv_hook.fields_due && kv_hook.fields_due(c->db, o)
          : rt_needs_load(c, cmd, m, key->p, key->len))
        return -1;
    if (pc && pc->loaded) dict_clear(pc->loaded, free_loaded, NULL); /* new command */
    if (shape_ok_or_reply(c, cmd, m, 1) != OK) return 0;
    remember_match(key->p, key->len, m, h);
    if (o) {
        ps.st.hits++;
        rt_on_hit(c, m, o);
    }
    if (wb_over_limit()) {
        reply_errorf(c, "BUSY write-behind queue is full (%ld keys pending); retry later",
                     ps.dirty_count);
        if (c->flags & CLIENT_MULTI) c->flags |= CLIENT_DIRTY_EXEC;
        return 0;
    }
    return 1;
}

static int allows_command(client *c, const command *cmd) {
    if (waits_for_map_change(c, cmd)) {
        persist_wait_on(c, &ps.map_waiters);
        persist_park(c);
        return 0;
    }
    if (c->db->id != 0 || ps.maps.n == 0) return 1;
    pclient *pc = c->persist;
    if (pc && !pc->rerun && pc->loaded) dict_clear(pc->loaded, free_loaded, NULL); /* new command */
    int n = command_touch_keys(c, cmd), wt = 0, wb_check = 0, write = is_write(c, cmd), waits = 0;
    int exec = is_exec(cmd);
    resp_arg *keys = touch_keys;
    kv_now_ms = server_mstime();
    /* Every key is looked at before the client parks: it waits for all its
     * keys' commits and loads at once, and re-runs when the last is done. */
    for (int i = 0; i < n; i++) {
        const char *pk;
        size_t pklen;
        const mapping *m = persist_match(c->db, keys[i].p, keys[i].len, &pk, &pklen);
        if (!m || m->mode == MODE_CACHE_ASIDE) continue;
        if (!exec && shape_ok_or_reply(c, cmd, m, touch_pos[i]) != OK) goto refused;
        /* write-through commits and write-behind checks lock keys (none
         * locked, the usual case: no lookup) */
        pkey *k = ps.locked_keys && (m->mode == MODE_WRITE_THROUGH || m->mode == MODE_WRITE_BEHIND)
                      ? pkey_find(keys[i].p, keys[i].len)
                      : NULL;
        if (k && k->locked) { /* a commit or check is in flight on this key */
            persist_wait_on(c, &k->lock_waiters);
            waits++;
            continue;
        }
        uint64_t h;
        /* memo: a one-key command's own lookup takes this entry unhashed */
        kobj *o = db_lookup_h(c->db, keys[i].p, keys[i].len, LOOKUP_NOTOUCH | LOOKUP_MEMO, &h);
        if (m->mode == MODE_WRITE_BEHIND) remember_match(keys[i].p, keys[i].len, m, h);
        if (o && kv_hook.fields_due && kv_hook.fields_due(c->db, o) &&
            !persist_key_pinned(c->db, keys[i].p, keys[i].len)) {
            /* a field's expire time passed: the cached copy leaves whole (the
             * row keeps the field) and the command sees the row afresh */
            db_delete(c->db, keys[i].p, keys[i].len);
            signal_modified_key(NULL, c->db, keys[i].p, keys[i].len);
            o = NULL;
        }
        /* a key this command already waited for (or waits for, named twice)
         * counted as its miss */
        pc = c->persist;
        int waited = pc && loaded_has(pc, keys[i].p, keys[i].len);
        if (o && !waited && !write && ps.stale_served &&
            rt_serving_stale(pkey_find(keys[i].p, keys[i].len))) {
            /* a stale-if-error copy: each read tries the store first */
            ps.st.misses++;
            rt_start_load(c, m, keys[i].p, keys[i].len, pk, pklen, 0);
            waits++;
            continue;
        }
        if (o) {
            if (!waited) {
                ps.st.hits++;
                rt_on_hit(c, m, o);
            }
        } else if (!waited && rt_needs_load(c, cmd, m, keys[i].p, keys[i].len)) {
            ps.st.misses++;
            rt_start_load(c, m, keys[i].p, keys[i].len, pk, pklen, 0);
            waits++;
            continue;
        }
        if (write && m->mode == MODE_WRITE_BEHIND && wb_over_limit()) {
            reply_errorf(c, "BUSY write-behind queue is full (%ld keys pending); retry later",
                         ps.dirty_count);
            if (c->flags & CLIENT_MULTI) c->flags |= CLIENT_DIRTY_EXEC;
            goto refused;
        }
        if (write && m->mode == MODE_WRITE_THROUGH) wt = 1;
        if (write && m->mode == MODE_WRITE_BEHIND && !m->check_free) wb_check = 1;
    }
    if (waits) {
        persist_park(c);
        return 0;
    }
    if (wt && !wt_before(c, cmd, keys, n)) return 0;
    /* a command that also writes write-through keys is checked by their commit
     * only; rows no table rule can refuse (mapping.check_free) are not checked */
    if (!wt && wb_check && pcfg.wb_check && ps.mod->check) {
        ps.st.wb_checked_before_reply++;
        wbc_before(c, cmd, keys, n);
    }
    return 1;
refused: /* loads started for it go on (as refreshes do), without it */
    wait_cancel_all(c);
    return 0;
}

/* FLUSHALL / FLUSHDB of db 0 empties the cache: the stale-if-error copies
 * of what it held go too (the idle pkeys left are freed by the sweep). */
static void forget_stale_copies(void) {
    dict_iter it;
    dict_iter_init(&it, ps.pkeys);
    pkey *k;
    while ((k = dict_iter_next(&it))) rt_forget_stale(k);
    dict_iter_done(&it);
}

void persist_after_command(client *c, const command *cmd) {
    if (!ps.enabled) return;
    if (change && !change->submitted && change->client_id == c->id) map_change_submit(c);
    /* write-through commits and write-behind checks start only for commands
     * that write (allows_command: is_write): a read is done here */
    if (!writes(cmd) && !is_exec(cmd)) return;
    static const command *flushall_cmd, *flushdb_cmd;
    if (!flushall_cmd) {
        flushall_cmd = command_lookup_name("flushall", 8);
        flushdb_cmd = command_lookup_name("flushdb", 7);
    }
    if (cmd == flushall_cmd || (cmd == flushdb_cmd && c->db->id == 0)) forget_stale_copies();
    if (wt_active(c, cmd)) wt_after(c);
    if (wbc_active(c, cmd)) wbc_after(c);
}

/* A write of a write-behind key (k from pkey_get). */
static void wb_key_modified(pkey *k) {
    k->negative_until_ms = 0;
    k->version++; /* any write: a load in flight must not install an older row */
    rt_forget_stale(k);
    if (!wbc_defers(k)) wb_key_written(k); /* touched: nothing to free this turn */
}

void persist_key_modified(client *c, db *d, const char *key, size_t klen) {
    if (!ps.enabled || !c) return;
    if (last_match.valid && last_match.gen == maps_gen && last_match.klen == klen && d->id == 0 &&
        !memcmp(last_match.key, key, klen)) {
        if (!last_match.m) return; /* a key of no map */
        pkey *k = pkey_get_hashed(key, klen, last_match.m, last_match.hash);
        wb_key_modified(k);
        return;
    }
    const char *pk;
    size_t pklen;
    const mapping *m = persist_match(d, key, klen, &pk, &pklen);
    if (!m) return;
    if (m->mode == MODE_WRITE_BEHIND) {
        /* write-behind keeps state for every written key: one lookup finds or makes it */
        wb_key_modified(pkey_get(key, klen, m));
        return;
    }
    pkey *k = pkey_find(key, klen);
    if (k) {
        k->negative_until_ms = 0;
        k->version++; /* any write: a load in flight must not install an older row */
        rt_forget_stale(k);
        pkey_maybe_free(k);
    }
}

int persist_key_mapped(db *d, const char *key, size_t klen) {
    if (!ps.enabled || d->id != 0 || ps.maps.n == 0) return 0;
    const char *pk;
    size_t pklen;
    const mapping *m = persist_match(d, key, klen, &pk, &pklen);
    return m && m->mode != MODE_CACHE_ASIDE;
}

void persist_key_expired(db *d, const kobj *o) {
    const char *pk;
    size_t pklen;
    if (!ps.enabled || d->id != 0) return;
    if (pcfg.stale_if_error <= 0 && !pkey_find(kobj_key(o), o->klen)) return;
    const mapping *m = persist_match(d, kobj_key(o), o->klen, &pk, &pklen);
    if (m && m->mode == MODE_READ_THROUGH) rt_key_expired(m, o);
}

int persist_key_pinned(db *d, const char *key, size_t klen) {
    if (!ps.enabled || d->id != 0) return 0;
    pkey *k = pkey_find(key, klen);
    return k && (k->dirty || k->touched || k->in_flight || k->locked);
}

void persist_before_sleep(void) {
    if (ps.enabled) wb_before_sleep();
    storeq_turn_end(); /* this turn's commits, together */
}

/* Negative entries are kept in pkeys until something touches the key again:
 * sample a few per tick and drop the expired ones (as Redis's active expire
 * samples keys with a TTL), so misses on ever new keys do not pile up. */
static void sweep_negative_entries(void) {
    for (int i = 0; i < 20 && dict_size(ps.pkeys); i++) {
        pkey *k = dict_random(ps.pkeys);
        if (k && k->negative_until_ms && k->negative_until_ms <= server_mstime()) {
            k->negative_until_ms = 0;
            pkey_maybe_free(k);
        } else if (k) {
            pkey_maybe_free(k); /* a stale copy past its window, or nothing left */
        }
    }
}

void persist_cron(void) {
    if (!ps.enabled) return;
    wb_cron();
    wbc_cron();
    sweep_negative_entries();
    if (npool && !ps.dirty_count) pool_trim(1024); /* idle: give the pool back */
}

void persist_shutdown(void) {
    if (!ps.enabled) return;
    ps.stopping = 1;
    wb_shutdown();
    storeq_stop();
    inval_shutdown();
    journal_close();
}
