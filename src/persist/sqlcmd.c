/* persist/sqlcmd — the store's side of SQL.QUERY, SQL.EXEC and WB.DEADLETTER
 * (their handlers: commands/sql.c, commands/wb.c).
 *
 *   SQL.QUERY sql [arg ...]   read-only; rows as arrays (RESP3: maps)
 *   SQL.EXEC sql [arg ...]    any statement; rows if it returns any
 *                             (RETURNING, SELECT), else the number of rows
 *                             it changed
 * Arguments are bound to ?/?N parameters, never spliced into the text.
 * Rows a write changes invalidate the cached keys of mapped tables (after the
 * statement committed): the cache entry is dropped and the next read loads
 * the row again. A key with a write-behind state still pending is left alone
 * (the cache is the newer truth for it; the pending state will be written).
 *
 * The reply is built on the store thread as RESP bytes in the client's
 * protocol, so no row data crosses threads twice. */
#include "persist/persist.h"
#include "server/audit.h"
#include "server/acl.h"
#include "util/mem.h"
#include <stdio.h>
#include <string.h>

typedef struct query_job {
    store_job job;
    uint64_t client_id;
    char addr[64]; /* the client's, for the audit log */
    char *sql;
    int nargs;
    store_value *args;
    int readonly, resp;
    int schema; /* may change a schema (persist_sql_begins was called) */
    int ncols, has_rows;
    char **names;
    long nrows;
    sbuf rows; /* RESP of the rows */
    int64_t affected;
    sbuf changes; /* table\0 pklen:u32 pk ... */
    int changes_n;
    acl_sql_rules *rules; /* the user's SQL table rules, NULL: unrestricted */
    int denied;           /* 0, or the access refused (ACL_KEY_READ/WRITE, or DENY_DDL) */
    char *denied_table;
} query_job;

enum { DENY_DDL = 4, DENY_UNKNOWN = 8 };

static void enc_value(sbuf *b, const store_value *v, int resp) {
    switch (v->type) {
    case SV_NULL:
        resp_sb_null(b, resp);
        break;
    case SV_INT:
        resp_sb_int(b, v->i);
        break;
    case SV_REAL: {
        char buf[MAX_D2STRING_CHARS];
        int n = double_to_str_human(buf, sizeof(buf), v->d);
        resp_sb_double_text(b, resp, buf, (size_t)n);
        break;
    }
    default:
        resp_sb_bulk(b, v->p ? v->p : "", v->len);
    }
}

static void q_columns(void *ctx, int n, const char *const *names) {
    query_job *j = ctx;
    j->has_rows = 1;
    j->ncols = n;
    j->names = xcalloc((size_t)(n ? n : 1), sizeof(char *));
    for (int i = 0; i < n; i++) j->names[i] = xstrdup(names[i]);
}

static void q_row(void *ctx, int n, const store_value *vals) {
    query_job *j = ctx;
    j->nrows++;
    /* RESP3: a map of column name to value; RESP2: an array of the values */
    resp_sb_agg(&j->rows, j->resp, j->resp >= 3 ? RESP_MAP : RESP_ARRAY, n);
    for (int i = 0; i < n; i++) {
        if (j->resp >= 3) {
            const char *nm = i < j->ncols ? j->names[i] : "?";
            resp_sb_bulk(&j->rows, nm, strlen(nm));
        }
        enc_value(&j->rows, &vals[i], j->resp);
    }
}

/* changes: per row  table\0 op:u8 npk:u32 { type:u8 len:u32 text }  (the
 * key's values in the table's key order, as text; type SV_NULL or SV_TEXT) */
static void q_change(void *ctx, const char *table, int op, int npk, const store_value *pk) {
    query_job *j = ctx;
    if (npk < 1 || npk > MAPPING_MAX_KEY) return; /* no map has such a key */
    sbuf_append(&j->changes, table, strlen(table) + 1);
    uint8_t o = (uint8_t)op;
    sbuf_append(&j->changes, &o, 1);
    uint32_t n = (uint32_t)npk;
    sbuf_append(&j->changes, &n, 4);
    sbuf t = SBUF_INIT;
    for (int i = 0; i < npk; i++) {
        sbuf_clear(&t);
        store_value_text(&pk[i], &t);
        uint8_t type = pk[i].type == SV_NULL ? SV_NULL : SV_TEXT;
        uint32_t len = (uint32_t)t.len;
        sbuf_append(&j->changes, &type, 1);
        sbuf_append(&j->changes, &len, 4);
        sbuf_append(&j->changes, t.p ? t.p : "", t.len);
    }
    sbuf_free(&t);
    j->changes_n++;
}

/* A table the statement touches, against the user's rules (store thread). */
static int check_table(void *ctx, const char *table, int flags) {
    query_job *j = ctx;
    int ddl = (flags & STORE_TABLE_DDL) != 0;
    int access = ((flags & STORE_TABLE_READ) ? ACL_KEY_READ : 0) |
                 ((flags & STORE_TABLE_WRITE) ? ACL_KEY_WRITE : 0);
    if (acl_sql_rules_allow(j->rules, table, access, ddl)) return 0;
    /* name the right that is missing: DDL, else write, else read */
    if (ddl)
        j->denied = DENY_DDL;
    else if ((access & ACL_KEY_WRITE) && acl_sql_rules_allow(j->rules, table, ACL_KEY_READ, 0))
        j->denied = ACL_KEY_WRITE;
    else
        j->denied = (access & ACL_KEY_READ) ? ACL_KEY_READ : ACL_KEY_WRITE;
    j->denied_table = xstrdup(table);
    return 1;
}

/* Checks the statement's tables before it runs; 0 when it may run. */
static int check_tables(query_job *j, const store_module *m, void *h) {
    if (!j->rules) return 0;
    if (!m->tables) {
        j->denied = DENY_UNKNOWN;
        j->denied_table = xstrdup("");
        return 1;
    }
    char *err = NULL;
    int rc = m->tables(h, j->sql, check_table, j, &err);
    if (err) {
        j->job.err = xstrdup(err);
        m->free_error(err);
    }
    if (rc == STORE_ERR_USER) j->job.rc = STORE_ERR_USER;
    return j->denied || rc == STORE_ERR_USER;
}

static void run_query_job(store_job *sj, const store_module *m, void *h) {
    query_job *j = (query_job *)sj;
    if (check_tables(j, m, h)) return;
    store_sink sink = {j, q_columns, q_row};
    char *err = NULL;
    sj->rc =
        m->query(h, j->sql, j->nargs, j->args, j->readonly, &sink, q_change, j, &j->affected, &err);
    if (err) {
        sj->err = xstrdup(err);
        m->free_error(err);
    }
}

static void free_query(query_job *j) {
    for (int i = 0; i < j->ncols; i++) xfree(j->names[i]);
    xfree(j->names);
    xfree(j->sql);
    xfree(j->args);
    sbuf_free(&j->rows);
    sbuf_free(&j->changes);
    xfree(j->job.err);
    acl_sql_rules_free(j->rules);
    xfree(j->denied_table);
    xfree(j);
}

/* -NOPERM for a statement the user's SQL table rules refuse, and its ACL
 * LOG entry (reason "table", the table as the object). */
static void reply_sql_denied(client *c, query_job *j) {
    const char *t = j->denied_table;
    acl_log_denial(c, ACL_DENIED_SQL, ACL_CTX_TOPLEVEL, t, strlen(t), NULL);
    if (j->denied == DENY_UNKNOWN)
        reply_error(c, "NOPERM this user may run SQL on named tables only, and the store module "
                       "cannot report the tables of a statement");
    else if (j->denied == DENY_DDL)
        reply_error(c, "NOPERM this user has no permissions to change the schema");
    else
        reply_errorf(c, "NOPERM this user has no permissions to %s the '%s' table",
                     j->denied == ACL_KEY_WRITE ? "write" : "read", t);
}

/* Drops the cached key (unless a write of it is pending) so the next read
 * loads the row again. */
static void invalidate_key(const char *key, size_t klen) {
    db *d = server_db(0);
    pkey *k = pkey_find(key, klen);
    /* a batch or commit in flight may hold an older state: inval_flushed
     * decides once it is done */
    if (k && (k->in_flight || k->locked)) k->changed_in_flight = 1;
    if (k && (k->dirty || k->touched || k->in_flight || k->locked)) return;
    if (db_delete(d, key, klen)) {
        signal_modified_key(NULL, d, key, klen);
        ps.st.invalidations++;
    }
    if (k) {
        k->version++; /* a load in flight must not install the old row */
        k->negative_until_ms = 0;
        rt_forget_stale(k); /* the row changed: its old copy is no fallback */
        pkey_maybe_free(k);
    }
}

void sql_invalidate_pk(const char *table, int npk, const store_value *pk) {
    sbuf key = SBUF_INIT;
    for (int i = 0; i < ps.maps.n; i++) {
        const mapping *m = ps.maps.v[i];
        if (strcasecmp(m->name, table) != 0) continue;
        /* a row whose values cannot form a key of m was never cached under it */
        if (mapping_key_from_pk(m, npk, pk, &key) == OK) invalidate_key(key.p, key.len);
    }
    sbuf_free(&key);
}

static void query_done(store_job *sj) {
    query_job *j = (query_job *)sj;
    if (j->schema) persist_sql_ends();
    /* invalidate first: the client may read right after its reply */
    size_t off = 0;
    uint64_t seq = sj->rc == STORE_OK && j->changes_n && changes_on() ? changes_commit() : 0;
    for (int i = 0; i < j->changes_n && sj->rc == STORE_OK; i++) {
        const char *table = j->changes.p + off;
        off += strlen(table) + 1;
        uint8_t op = (uint8_t)j->changes.p[off++];
        uint32_t n;
        memcpy(&n, j->changes.p + off, 4);
        off += 4;
        store_value pk[MAPPING_MAX_KEY];
        for (uint32_t k = 0; k < n; k++) {
            uint32_t len;
            uint8_t type = (uint8_t)j->changes.p[off];
            memcpy(&len, j->changes.p + off + 1, 4);
            off += 5;
            pk[k] = (store_value){type, 0, 0, j->changes.p + off, len};
            off += len;
        }
        sql_invalidate_pk(table, (int)n, pk);
        if (seq) changes_row_pk(seq, table, op, (int)n, pk);
    }
    client *c = client_by_id(j->client_id);
    if (j->schema) wbc_schema_changed(NULL);
    if (!j->readonly) {
        const char *why = sj->rc == STORE_OK ? NULL : sj->err ? sj->err : "store error";
        audit_sql(c, j->client_id, j->addr, j->sql, strlen(j->sql), j->nargs, sj->rc == STORE_OK,
                  why);
    }
    if (c && (c->flags & CLIENT_BLOCKED) && c->bstate.type == BLOCKED_STORE) {
        unblock_client(c);
        if (j->denied) {
            reply_sql_denied(c, j);
        } else if (sj->rc != STORE_OK) {
            const char *msg = sj->err ? sj->err : "store error";
            if (sj->rc == STORE_ERR_USER || sj->rc == STORE_ERR_PERMANENT)
                reply_errorf(c, "ERR %s", msg);
            else
                persist_reply_backend_error(c, "store unavailable", msg);
        } else if (j->has_rows) {
            reply_array(c, j->nrows);
            reply_raw(c, j->rows.p, j->rows.len);
        } else {
            reply_int(c, j->affected);
        }
    }
    free_query(j);
}

/* Queues a query for c and parks c until it is done. */
static void submit_query(client *c, const char *sql, size_t sqllen, int nargs, const resp_arg *args,
                         int readonly, acl_sql_rules *rules) {
    query_job *j = xcalloc(1, sizeof(*j));
    j->client_id = c->id;
    memcpy(j->addr, c->addr, sizeof j->addr);
    j->rules = rules;
    /* the arguments point into the client's buffer: copy them with the SQL */
    size_t bytes = sqllen + 1;
    for (int i = 0; i < nargs; i++) bytes += args[i].len + 1;
    j->sql = xmalloc(bytes);
    memcpy(j->sql, sql, sqllen);
    j->sql[sqllen] = '\0';
    char *p = j->sql + sqllen + 1;
    j->args = xcalloc((size_t)(nargs ? nargs : 1), sizeof(store_value));
    for (int i = 0; i < nargs; i++) {
        memcpy(p, args[i].p, args[i].len);
        p[args[i].len] = '\0';
        j->args[i] = (store_value){SV_TEXT, 0, 0, p, args[i].len};
        p += args[i].len + 1;
    }
    j->nargs = nargs;
    j->readonly = readonly;
    j->resp = c->resp;
    j->job.run = run_query_job;
    j->job.done = query_done;
    block_client(c, BLOCKED_STORE, 0);
    j->schema = !readonly && persist_sql_may_change_schema(j->sql, sqllen);
    if (j->schema) persist_sql_begins();
    storeq_submit_statement(&j->job); /* not behind loads and commits (storeq.h, "Lanes") */
}

void persist_sql_submit(client *c, const char *sql, size_t len, int nargs, const resp_arg *args,
                        int readonly, acl_sql_rules *rules) {
    submit_query(c, sql, len, nargs, args, readonly, rules);
}

/* ---- WB.DEADLETTER ------------------------------------------------------------------- */

/* RETRY: read the entries, write each row again; a row that goes through
 * leaves the dead-letter table and its cached key is invalidated. */
typedef struct retry_job {
    store_job job;
    uint64_t client_id;
    long long only_id; /* 0 = all */
    long ok, failed;
    sbuf keys; /* keys written again: change:u8 (changes_op) klen:u32 key ... (each its own
                  commit) */
} retry_job;

typedef struct retry_row {
    int64_t id;
    sbuf map, key, state;
} retry_row;

typedef struct retry_rows {
    retry_row *v;
    int n;
} retry_rows;

static void retry_sink_row(void *ctx, int n, const store_value *v) {
    retry_rows *rs = ctx;
    if (n < 4) return;
    rs->v = xrealloc(rs->v, sizeof(retry_row) * (size_t)(rs->n + 1));
    retry_row *r = &rs->v[rs->n++];
    memset(r, 0, sizeof(*r));
    r->id = v[0].i;
    store_value_text(&v[1], &r->map);
    store_value_text(&v[2], &r->key);
    store_value_text(&v[3], &r->state);
}

/* One dead-letter entry: write its row; on success delete the entry. */
static void retry_one(retry_job *j, retry_row *r, const store_module *m, void *h) {
    const mapping *mp = NULL;
    const char *pk;
    size_t pklen;
    mp = r->key.p ? mapping_match(&ps.maps, r->key.p, r->key.len, &pk, &pklen) : NULL;
    if (mp && r->map.p && strcmp(mp->name, r->map.p) != 0) mp = NULL;
    store_op op;
    op_scratch sc;
    memset(&sc, 0, sizeof(sc));
    if (!mp || mapping_state_to_op(mp, pk, pklen, r->state.p ? r->state.p : "", r->state.len, &op,
                                   &sc) != OK) {
        j->failed++;
        mapping_op_free(&sc);
        return;
    }
    char *e = NULL;
    int rc = m->apply_batch(h, &op, 1, &e);
    if (e) m->free_error(e);
    if (op.error) m->free_error(op.error);
    mapping_op_free(&sc);
    if (rc != STORE_OK || op.status != STORE_OK) {
        j->failed++;
        return;
    }
    store_value id = {SV_INT, r->id, 0, NULL, 0};
    int64_t aff;
    e = NULL;
    m->query(h, "DELETE FROM wb_deadletter WHERE id = ?", 1, &id, 0, NULL, NULL, NULL, &aff, &e);
    if (e) m->free_error(e);
    j->ok++;
    uint8_t change = (uint8_t)changes_op(&op);
    uint32_t kl = (uint32_t)r->key.len;
    sbuf_append(&j->keys, &change, 1);
    sbuf_append(&j->keys, &kl, 4);
    sbuf_append(&j->keys, r->key.p, r->key.len);
}

/* Runs on the store thread and only reads the mapping list (CONFIG SET map
 * waits for the store queue to drain before it swaps mappings). */
static void run_retry(store_job *sj, const store_module *m, void *h) {
    retry_job *j = (retry_job *)sj;
    retry_rows rs = {NULL, 0};
    store_sink sink = {&rs, NULL, retry_sink_row};
    char *err = NULL;
    int64_t aff;
    store_value idv = {SV_INT, j->only_id, 0, NULL, 0};
    const char *q = j->only_id ? "SELECT id, map, key, state FROM wb_deadletter WHERE id = ?"
                               : "SELECT id, map, key, state FROM wb_deadletter ORDER BY id";
    sj->rc = m->query(h, q, j->only_id ? 1 : 0, &idv, 1, &sink, NULL, NULL, &aff, &err);
    if (err) {
        sj->err = xstrdup(err);
        m->free_error(err);
    }
    for (int i = 0; i < rs.n; i++) {
        if (sj->rc == STORE_OK) retry_one(j, &rs.v[i], m, h);
        sbuf_free(&rs.v[i].map);
        sbuf_free(&rs.v[i].key);
        sbuf_free(&rs.v[i].state);
    }
    xfree(rs.v);
}

static void retry_done(store_job *sj) {
    retry_job *j = (retry_job *)sj;
    db *d = server_db(0);
    for (size_t off = 0; off + 5 <= j->keys.len;) {
        uint8_t change = (uint8_t)j->keys.p[off];
        uint32_t kl;
        memcpy(&kl, j->keys.p + off + 1, 4);
        off += 5;
        const char *key = j->keys.p + off;
        pkey *k = pkey_find(key, kl);
        if (!(k && (k->dirty || k->touched || k->in_flight)) && db_delete(d, key, kl))
            signal_modified_key(NULL, d, key, kl);
        const char *pk;
        size_t pklen;
        const mapping *m = changes_on() ? mapping_match(&ps.maps, key, kl, &pk, &pklen) : NULL;
        if (m) changes_row(changes_commit(), m->name, change, pk, pklen, key, kl);
        off += kl;
    }
    client *c = client_by_id(j->client_id);
    if (c && (c->flags & CLIENT_BLOCKED) && c->bstate.type == BLOCKED_STORE) {
        unblock_client(c);
        if (sj->rc != STORE_OK)
            persist_reply_backend_error(c, "dead-letter retry failed", sj->err);
        else
            reply_int(c, j->ok);
    }
    sbuf_free(&j->keys);
    xfree(sj->err);
    xfree(j);
}

void persist_deadletter_list(client *c, long long count) {
    char n[32];
    snprintf(n, sizeof(n), "%lld", count);
    resp_arg arg = {n, strlen(n), 0};
    static const char q[] =
        "SELECT id, map, key, op, error, at FROM wb_deadletter ORDER BY id LIMIT ?";
    submit_query(c, q, sizeof(q) - 1, 1, &arg, 1, NULL);
}

void persist_deadletter_retry(client *c, long long id) {
    retry_job *j = xcalloc(1, sizeof(*j));
    j->client_id = c->id;
    j->only_id = id;
    j->job.run = run_retry;
    j->job.done = retry_done;
    block_client(c, BLOCKED_STORE, 0);
    storeq_submit(&j->job);
}

void persist_deadletter_drop(client *c, long long id) {
    if (!id) {
        static const char q[] = "DELETE FROM wb_deadletter";
        submit_query(c, q, sizeof(q) - 1, 0, NULL, 0, NULL);
        return;
    }
    char n[32];
    snprintf(n, sizeof(n), "%lld", id);
    resp_arg arg = {n, strlen(n), 0};
    static const char q[] = "DELETE FROM wb_deadletter WHERE id = ?";
    submit_query(c, q, sizeof(q) - 1, 1, &arg, 0, NULL);
}
