/* sql/ddl.c — schema changes (CREATE / DROP / ALTER), ANALYZE, PRAGMA and
 * the rows of larder_schema.
 *
 * A schema change validates the new object by building it as the schema
 * loader would, writes its trees and catalog entries (see schema.c for the
 * catalog format), bumps the schema cookie, and reloads the connection's
 * schema from the catalog inside the same transaction. Everything happens
 * inside the statement's transaction or savepoint, so a failure (a UNIQUE
 * index over duplicate rows, say) leaves nothing behind.
 *
 * CREATE INDEX builds the index by collecting every key, sorting, and
 * appending in order (STORE_APPEND): dense pages, no random inserts.
 *
 * Invariants:
 *   1. The catalog and the trees change together or not at all.
 *   2. A stored CREATE text always parses back into the object it describes
 *      (ALTER TABLE edits it token by token and re-validates it).
 */
#include "sql/fts.h"
#include "sql/sqlrt.h"
#include "util/mem.h"
#include <assert.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>

/* ---- catalog writes -------------------------------------------------------------------------- */

/* The catalog a DDL statement writes: the temp store's for temp objects. */
static store_txn *cat_txn(vm *v) {
    return v->ddl_temp ? v->db->temp_txn : v->txn;
}

/* A new tree, in the temp store for temp objects (named root | TEMP_TREE);
 * an index's info names its table by the table's own store number. */
static int new_tree(vm *v, store_tree_info *info, store_tree *root) {
    info->table = sqli_tree_id(info->table);
    int rc = sqli_store_tree_create(cat_txn(v), info, root);
    if (rc != STORE_OK) return sqli_vm_store_error(v, rc);
    if (v->ddl_temp) *root |= TEMP_TREE;
    return SQL_OK;
}

static int cat_put(vm *v, const char *type, const char *name, const char *sql, int64_t root,
                   const char *tbl) {
    keyenc_buf k;
    sqli_keyenc_init(&k);
    sqli_cat_key(&k, type, name);
    sql_value vals[3];
    val_set_text_ref(&vals[0], sql, strlen(sql));
    val_set_int(&vals[1], root);
    val_set_text_ref(&vals[2], tbl, strlen(tbl));
    sqli_rec_encode(&v->rb, vals, 3);
    int rc = sqli_store_put(cat_txn(v), STORE_CATALOG, k.p, k.len, v->rb.p, v->rb.len, 0);
    sqli_keyenc_free(&k);
    return rc == STORE_OK ? SQL_OK : sqli_vm_store_error(v, rc);
}

static int cat_del(vm *v, const char *type, const char *name) {
    keyenc_buf k;
    sqli_keyenc_init(&k);
    sqli_cat_key(&k, type, name);
    int rc = sqli_store_del(cat_txn(v), STORE_CATALOG, k.p, k.len);
    sqli_keyenc_free(&k);
    return rc == STORE_OK || rc == STORE_NOTFOUND ? SQL_OK : sqli_vm_store_error(v, rc);
}

static int bump_cookie(vm *v) {
    if (v->ddl_temp) /* the temp schema is the connection's own: no cookie to bump */
        return sqli_db_reload_schema(v->db, v->txn);
    uint64_t c = 0;
    int rc = sqli_store_meta_get(v->txn, 0, &c);
    if (rc == STORE_OK) rc = sqli_store_meta_set(v->txn, 0, c + 1);
    if (rc != STORE_OK) return sqli_vm_store_error(v, rc);
    return sqli_db_reload_schema(v->db, v->txn);
}

static int reserved_name(vm *v, const char *name) {
    if (strncasecmp(name, "sqlite_", 7) == 0 || strncasecmp(name, "larder_", 7) == 0)
        return sqli_vm_error(v, SQL_ERROR, "object name reserved for internal use: %s", name);
    return SQL_OK;
}

static int name_taken(vm *v, const char *name, int *taken, const char *what) {
    schema *s = v->db->sch;
    *taken = 0;
    if (sqli_schema_table(s, name))
        *taken = 1;
    else if (sqli_schema_index(s, name, NULL))
        *taken = 2;
    else if (sqli_schema_view(s, name))
        *taken = 3;
    if (!*taken) return SQL_OK;
    (void)what;
    return SQL_OK;
}

static const char *taken_what(int taken) {
    return taken == 1 ? "table" : taken == 2 ? "index" : "view";
}

/* The statement's text, as the catalog keeps it. A table's is "CREATE TABLE "
 * and the text from its unqualified name on, as sqlite3 writes it: no TEMP
 * word, no IF NOT EXISTS, no database name (the temp catalog holds temp
 * objects only). */
static char *stmt_text(sql_stmt *st, ast *a) {
    if (a->kind == ST_CREATE_TABLE)
        return sqli_ar_printf(&st->ar, "CREATE TABLE %.*s", a->end - a->table_pos,
                              st->sql + a->table_pos);
    return sqli_ar_strndup(&st->ar, st->sql + a->pos, (size_t)(a->end - a->pos));
}

/* An index's or trigger's text as the catalog keeps it (sqlite3's form, as
 * for tables). Not the text the statement's own AST was parsed from: its
 * offsets are relative to the statement. */
static char *catalog_text(sql_stmt *st, ast *a) {
    const char *what = a->kind == ST_CREATE_TRIGGER ? "TRIGGER"
                       : a->fulltext                ? "FULLTEXT INDEX"
                       : a->unique                  ? "UNIQUE INDEX"
                                                    : "INDEX";
    return sqli_ar_printf(&st->ar, "CREATE %s %.*s", what, a->end - a->name_pos,
                          st->sql + a->name_pos);
}

/* ---- CREATE TABLE -------------------------------------------------------------------------------
 */

static int create_trees(vm *v, table *t, store_tree *root) {
    store_tree_info info = {.kind = STORE_TREE_TABLE};
    int rc = new_tree(v, &info, root);
    if (rc != SQL_OK) return rc;
    for (index_t *x = t->indexes; x; x = x->next) {
        store_tree_info ii = {.kind = STORE_TREE_INDEX, .table = *root, .ncols = (uint32_t)x->ncol};
        store_tree it;
        rc = new_tree(v, &ii, &it);
        if (rc != SQL_OK) return rc;
        int r = cat_put(v, "index", x->name, "", sqli_tree_id(it), t->name);
        if (r != SQL_OK) return r;
    }
    return SQL_OK;
}

static int create_table_as(vm *v, sql_stmt *st, ast *a);

static int create_table(vm *v, sql_stmt *st, ast *a) {
    int taken;
    name_taken(v, a->table, &taken, "table");
    if (v->ddl_temp) /* a temp table may shadow a main one */
        taken = sqli_schema_table_db(v->db->sch, a->table, 2) ? 1 : 0;
    if (taken) {
        if (a->if_not_exists && taken == 1) return SQL_OK;
        return sqli_vm_error(v, SQL_ERROR, "%s %s already exists", taken_what(taken), a->table);
    }
    int rc = reserved_name(v, a->table);
    if (rc != SQL_OK) return rc;
    if (a->sel) return create_table_as(v, st, a);
    char *sql = stmt_text(st, a), *err = NULL;
    table *t;
    if (sqli_schema_build_table(v->db->sch, a, sql, 0, &t, &err) != SQL_OK)
        return sqli_vm_error(v, SQL_ERROR, "%s", err);
    for (index_t *x = t->indexes; x && !v->ddl_temp; x = x->next)
        if (sqli_schema_table(v->db->sch, x->name) || sqli_schema_index(v->db->sch, x->name, NULL))
            return sqli_vm_error(v, SQL_ERROR, "index %s already exists", x->name);
    store_tree root;
    rc = create_trees(v, t, &root);
    if (rc == SQL_OK) rc = cat_put(v, "table", t->name, sql, sqli_tree_id(root), t->name);
    if (rc == SQL_OK) rc = bump_cookie(v);
    return rc;
}

static const char *decl_for(const expr *e) {
    switch (sqli_expr_affinity(e)) {
    case AFF_INTEGER:
        return "INT";
    case AFF_REAL:
        return "REAL";
    case AFF_TEXT:
        return "TEXT";
    case AFF_NUMERIC:
        return "NUM";
    default:
        return "";
    }
}

static int create_table_as(vm *v, sql_stmt *st, ast *a) {
    compiler *c = &st->comp;
    if (sqli_resolve_query(c, a->sel, NULL) != SQL_OK)
        return sqli_vm_error(v, SQL_ERROR, "%s", c->err);
    qplan *p;
    if (sqli_plan_query(c, a->sel, &p) != SQL_OK) return sqli_vm_error(v, SQL_ERROR, "%s", c->err);
    query *f = a->sel;
    while (f->op != SEL_SIMPLE) f = f->left;
    strb b = {0};
    sqli_strb_adds(&b, "CREATE TABLE ");
    sqli_strb_ident(&b, a->table);
    sqli_strb_adds(&b, "(");
    for (int i = 0; i < f->ncol; i++) {
        if (i) sqli_strb_adds(&b, ", ");
        sqli_strb_ident(&b, f->cols[i].name);
        const char *d = decl_for(f->cols[i].e);
        if (*d) sqli_strb_addf(&b, " %s", d);
    }
    sqli_strb_adds(&b, ")");
    char *sql = sqli_ar_strdup(&st->ar, sqli_strb_cstr(&b));
    sqli_strb_free(&b);
    int next, empty, errpos, np;
    char **pn, *perr, *err = NULL;
    ast *ta = sqli_parse_statement(&st->ar, sql, (int)strlen(sql), 0, &next, &empty, &perr, &errpos,
                                   &np, &pn);
    table *t;
    if (!ta || sqli_schema_build_table(v->db->sch, ta, sql, 0, &t, &err) != SQL_OK)
        return sqli_vm_error(v, SQL_ERROR, "%s", err ? err : perr ? perr : "bad CREATE TABLE AS");
    store_tree root;
    int rc = create_trees(v, t, &root);
    if (rc == SQL_OK) rc = cat_put(v, "table", t->name, sql, root, t->name);
    if (rc == SQL_OK) rc = bump_cookie(v);
    if (rc != SQL_OK) return rc;
    t = sqli_schema_table(v->db->sch, a->table);
    sql_value *row = xcalloc((size_t)t->ncol + 1, sizeof *row);
    rc = sqli_q_open(v, p);
    while (rc == SQL_OK && (rc = sqli_q_next(v, p)) == SQL_ROW) {
        for (int i = 0; i < t->ncol; i++) sqli_val_copy(&row[i], &p->out[i]);
        val_set_null(&row[t->ncol]);
        int skipped;
        rc = sqli_row_insert(v, t, row, OE_DEFAULT, &skipped, NULL);
        for (int i = 0; i <= t->ncol; i++) val_free(&row[i]);
    }
    sqli_q_close(v, p);
    xfree(row);
    return rc == SQL_DONE ? SQL_OK : rc;
}

/* ---- CREATE INDEX -------------------------------------------------------------------------------
 */

/* Is the first ncol-component prefix of two keys equal (no NULLs)? */
static int same_prefix(const uint8_t *a, size_t al, const uint8_t *b, size_t bl, int ncol) {
    size_t pa = 0, pb = 0;
    for (int i = 0; i < ncol; i++) {
        if (pa >= al || a[pa] == 0x05 || a[pa] == 0xFA)
            return 0; /* NULL (ASC or DESC) never clashes */
        if (sqli_keyenc_skip(a, al, &pa) || sqli_keyenc_skip(b, bl, &pb)) return 0;
    }
    return pa == pb && memcmp(a, b, pa) == 0;
}

/* Every index key of the table's rows, with the INCLUDE values. */
static int collect_index_keys(vm *v, table *t, index_t *x, rowbuf *keys) {
    store_cursor *c;
    int rc = sqli_store_cursor_open(sqli_txn_for(v, t->tree), sqli_tree_id(t->tree), &c);
    if (rc != STORE_OK) return sqli_vm_store_error(v, rc);
    sql_value *row = xcalloc((size_t)t->ncol + 1, sizeof *row);
    sql_value inc[64];
    int ninc = x->ninc < 64 ? x->ninc : 64, r = SQL_OK;
    for (rc = sqli_store_cursor_seek(c, STORE_SEEK_FIRST, NULL, 0); rc == STORE_OK && r == SQL_OK;
         rc = sqli_store_cursor_next(c)) {
        const void *k, *val;
        size_t kl, vl;
        sqli_store_cursor_key(c, &k, &kl);
        sqli_store_cursor_value(c, &val, &vl);
        if ((r = sqli_row_decode(v, t, val, vl, row)) != SQL_OK) break;
        val_set_null(&row[t->ncol]);
        if (t->rowid) {
            size_t pos = 0;
            sqli_key_get(k, kl, &pos, 0, &row[t->ncol]);
        }
        if (x->where) {
            v->self = row;
            int tv;
            r = sqli_ex_truth(v, x->where, &tv);
            v->self = NULL;
            if (r != SQL_OK || tv != 1) continue;
        }
        sqli_key_for_index(v, &v->kb, x, row, k, kl);
        if (v->kb.len > sqli_store_max_key(v->db->store)) {
            r = sqli_vm_error(v, SQL_TOOBIG, "key too large for index %s", x->name);
            break;
        }
        if (sqli_index_short_entry(x, row)) { /* the value is the table key */
            val_set_blob_ref(&inc[0], k, kl);
            sqli_rowbuf_add(keys, v->kb.p, v->kb.len, inc, 1);
            continue;
        }
        for (int i = 0; i < ninc; i++) inc[i] = row[x->inc[i]];
        sqli_rowbuf_add(keys, v->kb.p, v->kb.len, inc, ninc);
    }
    xfree(row);
    sqli_store_cursor_close(c);
    if (r != SQL_OK) return r;
    return rc == STORE_NOTFOUND ? SQL_OK : sqli_vm_store_error(v, rc);
}

static int unique_fail(vm *v, table *t, index_t *x) {
    strb b = {0};
    for (int k = 0; k < x->ncol; k++)
        sqli_strb_addf(&b, "%s%s.%s", k ? ", " : "", t->name,
                       x->cols[k] < 0 ? "rowid" : t->cols[x->cols[k]].name);
    int rc = sqli_vm_error(v, SQL_CONSTRAINT, "UNIQUE constraint failed: %s", sqli_strb_cstr(&b));
    sqli_strb_free(&b);
    return rc;
}

static int fill_index(vm *v, table *t, index_t *x) {
    rowbuf keys = {0};
    int rc = collect_index_keys(v, t, x, &keys);
    if (rc == SQL_OK) sqli_rowbuf_sort(&keys);
    const uint8_t *pk = NULL;
    size_t pkl = 0;
    for (size_t i = 0; rc == SQL_OK && i < keys.n; i++) {
        const uint8_t *k;
        size_t kl;
        const sql_value *inc;
        sqli_rowbuf_row(&keys, i, &inc, &k, &kl);
        if (x->unique && pk && same_prefix(pk, pkl, k, kl, x->ncol)) {
            rc = unique_fail(v, t, x);
            break;
        }
        pk = k;
        pkl = kl;
        int nvals;
        sqli_rowbuf_row(&keys, i, NULL, NULL, NULL);
        nvals = sqli_rowbuf_ncols(&keys, i);
        sqli_keyenc_reset(&v->rb);
        if (x->ninc)
            sqli_rec_encode(&v->rb, inc, x->ninc < 64 ? x->ninc : 64);
        else if (nvals == 1)
            sqli_key_raw(&v->rb, inc[0].z, inc[0].n); /* short unique entry */
        int src = sqli_store_put(sqli_txn_for(v, x->tree), sqli_tree_id(x->tree), k, kl, v->rb.p,
                                 v->rb.len, STORE_APPEND);
        if (src != STORE_OK) rc = sqli_vm_store_error(v, src);
    }
    sqli_rowbuf_clear(&keys);
    return rc;
}

static int create_index(vm *v, sql_stmt *st, ast *a) {
    int taken;
    name_taken(v, a->name, &taken, "index");
    if (taken) {
        if (a->if_not_exists && taken == 2) return SQL_OK;
        return sqli_vm_error(v, SQL_ERROR, "%s %s already exists", taken_what(taken), a->name);
    }
    int rc = reserved_name(v, a->name);
    if (rc != SQL_OK) return rc;
    table *t = sqli_schema_table_db(v->db->sch, a->table, a->dbq);
    if (!t && sqli_schema_view(v->db->sch, a->table))
        return sqli_vm_error(v, SQL_ERROR, "views may not be indexed");
    if (!t) return sqli_vm_error(v, SQL_ERROR, "no such table: %s", a->table);
    if (t->is_schema) return sqli_vm_error(v, SQL_ERROR, "table %s may not be indexed", t->name);
    char *sql = stmt_text(st, a), *err = NULL;
    index_t *x;
    if (sqli_schema_build_index(v->db->sch, a, sql, 0, &x, &err) != SQL_OK)
        return sqli_vm_error(v, SQL_ERROR, "%s", err);
    /* the WHERE was parsed from the statement: offsets are relative to it */
    store_tree_info info = {.kind = a->fulltext ? STORE_TREE_FTS : STORE_TREE_INDEX,
                            .table = t->tree,
                            .ncols = (uint32_t)x->ncol,
                            .flags = x->where ? STORE_INDEX_PARTIAL : 0};
    rc = new_tree(v, &info, &x->tree);
    if (rc != SQL_OK) return rc;
    rc = a->fulltext ? sqli_fts_fill(v, t, x) : fill_index(v, t, x);
    if (rc == SQL_OK)
        rc = cat_put(v, "index", x->name, catalog_text(st, a), sqli_tree_id(x->tree), t->name);
    if (rc == SQL_OK) rc = bump_cookie(v);
    return rc;
}

/* ---- CREATE TRIGGER
 * ------------------------------------------------------------------------------ */

static int create_trigger(vm *v, sql_stmt *st, ast *a) {
    if (sqli_schema_trigger(v->db->sch, a->name)) {
        if (a->if_not_exists) return SQL_OK;
        return sqli_vm_error(v, SQL_ERROR, "trigger %s already exists", a->name);
    }
    int rc = reserved_name(v, a->name);
    if (rc != SQL_OK) return rc;
    char *sql = stmt_text(st, a), *err = NULL;
    trigger *g;
    if (sqli_schema_build_trigger(v->db->sch, a, sql, &g, &err) != SQL_OK)
        return sqli_vm_error(v, SQL_ERROR, "%s", err);
    if (g->tab->is_schema)
        return sqli_vm_error(v, SQL_ERROR, "cannot create trigger on system table");
    rc = cat_put(v, "trigger", g->name, catalog_text(st, a), 0, g->tab->name);
    if (rc == SQL_OK) rc = bump_cookie(v);
    return rc;
}

/* ---- CREATE VIEW / DROP VIEW
 * ---------------------------------------------------------------------------- */

/* The view's body is checked where it is used (as sqlite3 does): a view may
 * name a table that does not exist yet, or no longer. A TEMP view lives in
 * the connection, outside the catalog and outside transactions. */
static int create_view(vm *v, sql_stmt *st, ast *a) {
    int taken;
    name_taken(v, a->name, &taken, "view");
    if (taken) {
        if (a->if_not_exists && taken == 3) return SQL_OK;
        return sqli_vm_error(v, SQL_ERROR, "%s %s already exists", taken_what(taken), a->name);
    }
    int rc = reserved_name(v, a->name);
    if (rc != SQL_OK) return rc;
    char *sql = stmt_text(st, a);
    sql_db *db = v->db;
    if (!a->temp) {
        rc = cat_put(v, "view", a->name, sql, 0, a->name);
        return rc == SQL_OK ? bump_cookie(v) : rc;
    }
    db->temp_views = xrealloc(db->temp_views, sizeof(char *) * (size_t)(db->ntemp_views + 1));
    db->temp_views[db->ntemp_views++] = xstrdup(sql);
    return sqli_db_reload_schema(db, v->txn);
}

static int drop_view(vm *v, ast *a) {
    sql_db *db = v->db;
    view *w = sqli_schema_view(db->sch, a->name);
    if (!w) {
        table *t = sqli_schema_table(db->sch, a->name);
        if (t && !t->is_schema)
            return sqli_vm_error(v, SQL_ERROR, "use DROP TABLE to delete table %s", t->name);
        return a->if_exists ? SQL_OK : sqli_vm_error(v, SQL_ERROR, "no such view: %s", a->name);
    }
    if (!w->temp) {
        int rc = cat_del(v, "view", w->name);
        return rc == SQL_OK ? bump_cookie(v) : rc;
    }
    for (int i = 0; i < db->ntemp_views; i++) {
        if (strcmp(db->temp_views[i], w->sql) != 0) continue;
        xfree(db->temp_views[i]);
        memmove(&db->temp_views[i], &db->temp_views[i + 1],
                sizeof(char *) * (size_t)(db->ntemp_views - i - 1));
        db->ntemp_views--;
        break;
    }
    return sqli_db_reload_schema(db, v->txn);
}

/* ---- DROP
 * ------------------------------------------------------------------------------------------ */

static int delete_all_rows(vm *v, table *t) {
    rowbuf keys = {0};
    store_cursor *c;
    int rc = sqli_store_cursor_open(sqli_txn_for(v, t->tree), sqli_tree_id(t->tree), &c);
    if (rc != STORE_OK) return sqli_vm_store_error(v, rc);
    for (rc = sqli_store_cursor_seek(c, STORE_SEEK_FIRST, NULL, 0); rc == STORE_OK;
         rc = sqli_store_cursor_next(c)) {
        const void *k;
        size_t kl;
        sqli_store_cursor_key(c, &k, &kl);
        sqli_rowbuf_add(&keys, k, kl, NULL, 0);
    }
    sqli_store_cursor_close(c);
    int r = rc == STORE_NOTFOUND ? SQL_OK : sqli_vm_store_error(v, rc);
    for (size_t i = 0; i < keys.n && r == SQL_OK; i++) {
        const uint8_t *k;
        size_t kl;
        sqli_rowbuf_row(&keys, i, NULL, &k, &kl);
        r = sqli_row_delete(v, t, k, kl);
    }
    sqli_rowbuf_clear(&keys);
    return r;
}

static int drop_table(vm *v, ast *a) {
    table *t = sqli_schema_table_db(v->db->sch, a->name, a->dbq);
    if (!t && sqli_schema_view(v->db->sch, a->name))
        return sqli_vm_error(v, SQL_ERROR, "use DROP VIEW to delete view %s",
                             sqli_schema_view(v->db->sch, a->name)->name);
    if (!t)
        return a->if_exists ? SQL_OK : sqli_vm_error(v, SQL_ERROR, "no such table: %s", a->name);
    if (t->is_schema) return sqli_vm_error(v, SQL_ERROR, "table %s may not be dropped", t->name);
    int rc = SQL_OK, others = 0;
    for (fkey *f = t->refs; f; f = f->next_in_parent) others |= f->child != t;
    if (others && v->db->fk_enabled) {
        table *saved = t;
        /* DROP TABLE deletes the rows first, so that children act or refuse;
         * the table's own triggers do not fire */
        trigger *trg = saved->triggers;
        saved->triggers = NULL;
        rc = delete_all_rows(v, saved);
        saved->triggers = trg;
        if (rc == SQL_OK) rc = sqli_fk_deferred_check(v);
        if (rc != SQL_OK) return rc;
    }
    for (int pass = 0; pass < 2; pass++)
        for (index_t *x = pass ? t->fts : t->indexes; x && rc == SQL_OK; x = x->next) {
            int src = sqli_store_tree_drop(sqli_txn_for(v, x->tree), sqli_tree_id(x->tree));
            if (src != STORE_OK && src != STORE_NOTFOUND) rc = sqli_vm_store_error(v, src);
            if (rc == SQL_OK) rc = cat_del(v, "index", x->name);
            if (rc == SQL_OK) rc = cat_del(v, "stat", x->name);
        }
    for (trigger *g = t->triggers; g && rc == SQL_OK; g = g->next)
        rc = cat_del(v, "trigger", g->name);
    if (rc == SQL_OK) {
        int src = sqli_store_tree_drop(sqli_txn_for(v, t->tree), sqli_tree_id(t->tree));
        if (src != STORE_OK && src != STORE_NOTFOUND) rc = sqli_vm_store_error(v, src);
    }
    if (rc == SQL_OK) rc = cat_del(v, "table", t->name);
    if (rc == SQL_OK) rc = cat_del(v, "stat", t->name);
    if (rc == SQL_OK) rc = bump_cookie(v);
    return rc;
}

static int drop_index(vm *v, ast *a) {
    table *t;
    index_t *x = sqli_schema_index(v->db->sch, a->name, &t);
    if (!x)
        return a->if_exists ? SQL_OK : sqli_vm_error(v, SQL_ERROR, "no such index: %s", a->name);
    if (x->auto_made)
        return sqli_vm_error(
            v, SQL_ERROR,
            "index associated with UNIQUE or PRIMARY KEY constraint cannot be dropped");
    int src = sqli_store_tree_drop(sqli_txn_for(v, x->tree), sqli_tree_id(x->tree)), rc = SQL_OK;
    if (src != STORE_OK && src != STORE_NOTFOUND) rc = sqli_vm_store_error(v, src);
    if (rc == SQL_OK) rc = cat_del(v, "index", x->name);
    if (rc == SQL_OK) rc = cat_del(v, "stat", x->name);
    if (rc == SQL_OK) rc = bump_cookie(v);
    return rc;
}

static int drop_trigger(vm *v, ast *a) {
    trigger *g = sqli_schema_trigger(v->db->sch, a->name);
    if (!g)
        return a->if_exists ? SQL_OK : sqli_vm_error(v, SQL_ERROR, "no such trigger: %s", a->name);
    int rc = cat_del(v, "trigger", g->name);
    if (rc == SQL_OK) rc = bump_cookie(v);
    return rc;
}

/* ---- ALTER TABLE
 * -------------------------------------------------------------------------------------- */

static ast *reparse(sql_stmt *st, const char *sql) {
    int next, empty, errpos, np;
    char **pn, *perr;
    return sqli_parse_statement(&st->ar, sql, (int)strlen(sql), 0, &next, &empty, &perr, &errpos,
                                &np, &pn);
}

/* ADD COLUMN of a generated column: every row gets its value (rows keep
 * generated values, see dml.c). */
static int fill_generated(vm *v, table *nt) {
    store_cursor *c;
    int rc = sqli_store_cursor_open(sqli_txn_for(v, nt->tree), sqli_tree_id(nt->tree), &c),
        r = SQL_OK;
    if (rc != STORE_OK) return sqli_vm_store_error(v, rc);
    sql_value *raw = xcalloc((size_t)nt->ncol + 1, sizeof *raw);
    sql_value *row = xcalloc((size_t)nt->ncol + 1, sizeof *row);
    for (rc = sqli_store_cursor_seek(c, STORE_SEEK_FIRST, NULL, 0); rc == STORE_OK && r == SQL_OK;
         rc = sqli_store_cursor_next(c)) {
        const void *val;
        size_t vl;
        sqli_store_cursor_value(c, &val, &vl);
        if ((r = sqli_row_decode(v, nt, val, vl, raw)) != SQL_OK) break;
        for (int i = 0; i < nt->ncol; i++) sqli_val_copy(&row[i], &raw[i]);
        val_set_null(&row[nt->ncol]);
        r = sqli_gen_compute(v, nt, row);
        if (r == SQL_OK) {
            keyenc_buf rec;
            sqli_keyenc_init(&rec);
            sqli_rec_encode(&rec, row, nt->ncol);
            rc = sqli_store_cursor_update(c, rec.p, rec.len);
            sqli_keyenc_free(&rec);
        }
        for (int i = 0; i <= nt->ncol; i++) val_free(&row[i]);
        if (rc != STORE_OK) break;
    }
    xfree(raw);
    xfree(row);
    sqli_store_cursor_close(c);
    if (r != SQL_OK) return r;
    return rc == STORE_NOTFOUND ? SQL_OK : sqli_vm_store_error(v, rc);
}

/* The table a statement names is missing: named as it was written. */
static int no_such_table(vm *v, const ast *a) {
    const char *db = a->dbq == 1 ? "main." : a->dbq == 2 ? "temp." : "";
    return sqli_vm_error(v, SQL_ERROR, "no such table: %s%s", db, a->table);
}

static int alter_add(vm *v, sql_stmt *st, ast *a) {
    table *t = sqli_schema_table_db(v->db->sch, a->table, a->dbq);
    if (!t || t->is_schema) return no_such_table(v, a);
    coldef *cd = &a->coldefs[0];
    if (cd->pk) return sqli_vm_error(v, SQL_ERROR, "Cannot add a PRIMARY KEY column");
    if (cd->unique) return sqli_vm_error(v, SQL_ERROR, "Cannot add a UNIQUE column");
    if (cd->dflt && cd->dflt->op != E_LIT && !(cd->dflt->op == E_NEG && cd->dflt->l->op == E_LIT))
        return sqli_vm_error(v, SQL_ERROR, "Cannot add a column with non-constant default");
    if (cd->gen && cd->gen_stored) return sqli_vm_error(v, SQL_ERROR, "cannot add a STORED column");
    if (cd->notnull && !cd->gen &&
        (!cd->dflt || (cd->dflt->op == E_LIT && cd->dflt->lit.type == SQL_NULL)))
        return sqli_vm_error(v, SQL_ERROR, "Cannot add a NOT NULL column with default value NULL");
    /* the new definition goes after the last column's, before any table
     * constraint (as sqlite3 does) */
    const char *old = t->sql;
    ast *oa = reparse(st, old);
    if (!oa || oa->ncoldefs < 1)
        return sqli_vm_error(v, SQL_CORRUPT, "malformed CREATE TABLE for %s", t->name);
    int at = oa->coldefs[oa->ncoldefs - 1].text_end;
    strb b = {0};
    sqli_strb_add(&b, old, (size_t)at);
    sqli_strb_adds(&b, ", ");
    sqli_strb_add(&b, st->sql + cd->text_start, (size_t)(cd->text_end - cd->text_start));
    sqli_strb_adds(&b, old + at);
    char *sql = sqli_ar_strdup(&st->ar, sqli_strb_cstr(&b));
    sqli_strb_free(&b);
    int next, empty, errpos, np;
    char **pn, *perr, *err = NULL;
    ast *ta = sqli_parse_statement(&st->ar, sql, (int)strlen(sql), 0, &next, &empty, &perr, &errpos,
                                   &np, &pn);
    table *nt;
    if (!ta || sqli_schema_build_table(v->db->sch, ta, sql, t->tree, &nt, &err) != SQL_OK)
        return sqli_vm_error(v, SQL_ERROR, "%s", err ? err : perr ? perr : "bad column definition");
    int rc = cd->gen ? fill_generated(v, nt) : SQL_OK;
    if (rc == SQL_OK) rc = cat_put(v, "table", t->name, sql, sqli_tree_id(t->tree), t->name);
    if (rc == SQL_OK) rc = bump_cookie(v);
    return rc;
}

/* Replace identifier tokens equal to from (case-insensitive) by to, except
 * tokens whose offset is in skip[0..nskip) ranges; with only_after_kw set,
 * only tokens right after that keyword. Flags: RT_KEEP_CALLS leaves a name
 * followed by "(" alone; RT_RAW writes to as it is (else as an identifier,
 * quoted when it must be, or when the old name was or RT_QUOTE is set). */
typedef struct span {
    int a, b;
} span;

enum { RT_KEEP_CALLS = 1, RT_RAW = 2, RT_QUOTE = 4 };

/* A new name in place of an old one: quoted when the old one was (as
 * sqlite3 rewrites), else only when it must be. */
static void add_name(strb *b, const char *name, int quoted) {
    if (!quoted) {
        sqli_strb_ident(b, name);
        return;
    }
    sqli_strb_addc(b, '"');
    for (const char *c = name; *c; c++) {
        if (*c == '"') sqli_strb_addc(b, '"');
        sqli_strb_addc(b, *c);
    }
    sqli_strb_addc(b, '"');
}

static char *rename_tokens(arena *ar, const char *sql, const char *from, const char *to,
                           const span *skip, int nskip, int only_after_kw, int flags) {
    int keep_calls = flags & RT_KEEP_CALLS;
    strb b = {0};
    int n = (int)strlen(sql), pos = 0, prev_kw = 0;
    token t;
    while (pos < n) {
        sqli_lex_token(sql, n, pos, &t);
        int len = t.len ? t.len : 1;
        int hit = 0;
        if (t.type == TK_ID || (t.type == TK_KEYWORD && !sqli_kw_reserved(t.kw))) {
            char *name = NULL;
            if (t.z[0] == '"' || t.z[0] == '`' || t.z[0] == '[')
                name = sqli_ar_strndup(ar, t.z + 1, (size_t)len - 2);
            else
                name = sqli_ar_strndup(ar, t.z, (size_t)len);
            hit = sqli_name_eq(name, from);
            for (int i = 0; i < nskip && hit; i++)
                if (t.pos >= skip[i].a && t.pos < skip[i].b) hit = 0;
            if (hit && only_after_kw && prev_kw != only_after_kw) hit = 0;
            if (hit && keep_calls) {
                token nx;
                int p2 = pos + len;
                do sqli_lex_token(sql, n, p2, &nx), p2 += nx.len ? nx.len : 1;
                while (nx.type == TK_SPACE);
                if (nx.type == TK_LP) hit = 0;
            }
        }
        if (hit && (flags & RT_RAW))
            sqli_strb_adds(&b, to);
        else if (hit)
            add_name(&b, to, (flags & RT_QUOTE) || t.z[0] == '"' || t.z[0] == '`' || t.z[0] == '[');
        else
            sqli_strb_add(&b, t.z, (size_t)len);
        if (t.type != TK_SPACE) prev_kw = t.type == TK_KEYWORD ? t.kw : 0;
        pos += len;
    }
    char *r = sqli_ar_strdup(ar, sqli_strb_cstr(&b));
    sqli_strb_free(&b);
    return r;
}

/* sql with the token at pos replaced by to (as it is, when raw; else as an
 * identifier, quoted when it must be). */
static char *replace_at(arena *ar, const char *sql, int pos, const char *to, int raw) {
    token t;
    sqli_lex_token(sql, (int)strlen(sql), pos, &t);
    strb b = {0};
    sqli_strb_add(&b, sql, (size_t)pos);
    if (raw)
        sqli_strb_adds(&b, to);
    else
        sqli_strb_ident(&b, to);
    sqli_strb_adds(&b, sql + pos + t.len);
    char *r = sqli_ar_strdup(ar, sqli_strb_cstr(&b));
    sqli_strb_free(&b);
    return r;
}

/* cat_put into the catalog that holds an object: the temp store's for a
 * temp one, whichever catalog the running statement writes. */
static int cat_put_in(vm *v, int temp, const char *type, const char *name, const char *sql,
                      int64_t root, const char *tbl) {
    int save = v->ddl_temp;
    v->ddl_temp = temp;
    int rc = cat_put(v, type, name, sql, root, tbl);
    v->ddl_temp = save;
    return rc;
}

/* Is name taken by another table or index of t's database (a temp table may
 * take a main table's name, and the reverse)? */
static int rename_taken(schema *s, const table *t, const char *name) {
    table *o = NULL;
    if (t->temp) {
        if (sqli_schema_table_db(s, name, 2)) return 1;
        return sqli_schema_index(s, name, &o) && o->temp;
    }
    if (sqli_schema_table_db(s, name, 1)) return 1;
    return sqli_schema_index(s, name, &o) && !o->temp;
}

/* ---- ALTER TABLE RENAME COLUMN ------------------------------------------------------------------
 *
 * As in sqlite3, the column's new name goes wherever the schema refers to
 * it: the table's text, its indexes', the REFERENCES t(col) lists of the
 * tables of its database, and the views and triggers that use it. Names in
 * views and triggers are found by resolving them (compiler rn_*: the
 * references that resolve to the column), so that another table's column
 * of that name, a string literal or a result alias stays as it is. A view
 * or trigger that does not compile before the rename, or no longer does
 * after it, fails the statement with sqlite3's words. */

static int is_name_tok(const token *t) {
    return t->type == TK_ID || (t->type == TK_KEYWORD && !sqli_kw_reserved(t->kw));
}

static int tok_name_eq(arena *ar, const token *t, const char *name) {
    int q = t->z[0] == '"' || t->z[0] == '`' || t->z[0] == '[';
    return sqli_name_eq(sqli_ar_strndup(ar, t->z + q, (size_t)(t->len - 2 * q)), name);
}

/* Note the name tokens equal to name in sql from pos on: the first after
 * an opening parenthesis up to its closing one (lp set), else the last one
 * before the token of type stop. */
static void note_names(compiler *c, const char *sql, int pos, int lp, int stop, const char *name) {
    int n = (int)strlen(sql), in = !lp, last = -1;
    token t;
    for (; pos < n; pos += t.len ? t.len : 1) {
        sqli_lex_token(sql, n, pos, &t);
        if (lp && !in) {
            in = t.type == TK_LP;
            continue;
        }
        if (t.type == stop) break;
        if (!is_name_tok(&t) || !tok_name_eq(c->a, &t, name)) continue;
        if (lp)
            sqli_rename_note(c, pos);
        else
            last = pos;
    }
    if (last >= 0) sqli_rename_note(c, last);
}

/* sql with the name tokens at c->rn_pos[] replaced by to (quoted when
 * the old name was, or quote is set). */
static char *rewrite_noted(compiler *c, const char *sql, const char *to, int quote) {
    strb b = {0};
    int n = (int)strlen(sql), pos = 0;
    for (;;) {
        int next = n;
        for (int i = 0; i < c->rn_n; i++)
            if (c->rn_pos[i] >= pos && c->rn_pos[i] < next) next = c->rn_pos[i];
        sqli_strb_add(&b, sql + pos, (size_t)(next - pos));
        if (next >= n) break;
        token t;
        sqli_lex_token(sql, n, next, &t);
        add_name(&b, to, quote || t.z[0] == '"' || t.z[0] == '`' || t.z[0] == '[');
        pos = next + (t.len ? t.len : 1);
    }
    char *r = sqli_ar_strdup(c->a, sqli_strb_cstr(&b));
    sqli_strb_free(&b);
    return r;
}

/* The positions of the parenthesized column lists after REFERENCES name
 * in sql: those naming table tname (self set) or the others. */
static span *ref_lists(arena *ar, const char *sql, const char *tname, int self, int *nout) {
    int n = (int)strlen(sql), pos = 0, cap = 0, state = 0, nsp = 0;
    span *v = NULL;
    token t;
    for (; pos < n; pos += t.len ? t.len : 1) {
        sqli_lex_token(sql, n, pos, &t);
        if (t.type == TK_SPACE) continue;
        if (state == 0) { /* looking for REFERENCES */
            state = t.type == TK_KEYWORD && t.kw == KW_REFERENCES;
        } else if (state == 1) { /* the parent's name */
            state = is_name_tok(&t) && tok_name_eq(ar, &t, tname) == self ? 2 : 0;
        } else if (state == 2) { /* its column list, if any */
            if (t.type != TK_LP) {
                state = 0;
                continue;
            }
            if (nsp == cap) {
                cap = cap ? cap * 2 : 4;
                span *w = sqli_ar_alloc(ar, sizeof *w * (size_t)cap);
                if (nsp) memcpy(w, v, sizeof *w * (size_t)nsp);
                v = w;
            }
            v[nsp++] = (span){pos, n};
            state = 3;
        } else if (t.type == TK_RP) {
            v[nsp - 1].b = pos;
            state = 0;
        }
    }
    *nout = nsp;
    return v;
}

/* The names in a trigger's text that are not expressions: UPDATE OF, and
 * the column lists and SET targets of its statements that write t. */
static void note_trigger_names(compiler *c, schema *s, trigger *g, const ast *ga, table *t,
                               const char *name) {
    if (g->tab == t && g->event == ST_UPDATE && g->nof_cols) {
        int n = (int)strlen(g->sql), pos = 0, of = 0;
        token k;
        for (; pos < n; pos += k.len ? k.len : 1) {
            sqli_lex_token(g->sql, n, pos, &k);
            if (k.type == TK_KEYWORD && k.kw == KW_ON && of) break;
            if (k.type == TK_KEYWORD && k.kw == KW_OF)
                of = 1;
            else if (of && is_name_tok(&k) && tok_name_eq(c->a, &k, name))
                sqli_rename_note(c, pos);
        }
    }
    for (int i = 0; i < ga->nbody; i++) {
        const ast *b = ga->body[i];
        if ((b->kind != ST_INSERT && b->kind != ST_UPDATE) || !b->table) continue;
        if (sqli_schema_table_db(s, b->table, b->dbq ? b->dbq : g->temp ? 0 : 1) != t) continue;
        if (b->ncols) note_names(c, g->sql, b->table_pos, 1, TK_RP, name);
        for (int k = 0; k < b->nset; k++)
            if (sqli_name_eq(b->sets[k].col, name))
                note_names(c, g->sql, b->sets[k].pos, 0, TK_EQ, name);
        if (!b->up) continue;
        if (b->up->ncols) note_names(c, g->sql, b->up->pos, 1, TK_RP, name);
        for (int k = 0; k < b->up->nset; k++)
            if (sqli_name_eq(b->up->sets[k].col, name))
                note_names(c, g->sql, b->up->sets[k].pos, 0, TK_EQ, name);
    }
}

/* Resolve view w (with the compiler noting renames when rn_tab is set). */
static int check_view(vm *v, sql_stmt *st, view *w) {
    compiler *c = &st->comp;
    strb qb = {0};
    sqli_strb_adds(&qb, "SELECT * FROM ");
    if (w->temp) sqli_strb_adds(&qb, "temp.");
    sqli_strb_ident(&qb, w->name);
    char *q = sqli_ar_strdup(&st->ar, sqli_strb_cstr(&qb));
    sqli_strb_free(&qb);
    ast *qa = reparse(st, q);
    schema *save = c->sch;
    const char *save_sql = c->sql;
    c->sch = v->db->sch;
    c->sql = q;
    int rc = qa ? sqli_resolve_query(c, qa->sel, NULL) : SQL_ERROR;
    c->sch = save;
    c->sql = save_sql;
    return rc;
}

/* The message of a failed sqli_trigger_check, without its "in trigger
 * name: " (xmalloc'd; v's message cleared). */
static char *trigger_check_msg(vm *v) {
    const char *m = v->errmsg ? v->errmsg : "", *colon = strstr(m, ": ");
    char *msg = xstrdup(colon ? colon + 2 : m);
    xfree(v->errmsg);
    v->errmsg = NULL;
    return msg;
}

/* Do the views and triggers of the new schema still compile? what: the
 * statement, in the message ("drop column", "rename"). */
static int check_dependents(vm *v, sql_stmt *st, const char *what) {
    schema *s = v->db->sch;
    compiler *c = &st->comp;
    for (view *w = s->views; w; w = w->next) {
        if (check_view(v, st, w) == SQL_OK) continue;
        int rc = sqli_vm_error(v, SQL_ERROR, "error in view %s after %s: %s", w->name, what,
                               c->err ? c->err : "malformed view");
        c->err = NULL;
        return rc;
    }
    for (int i = 0; i < s->ntab; i++)
        for (trigger *g = s->tabs[i]->triggers; g; g = g->next) {
            if (sqli_trigger_check(v, g) == SQL_OK) continue;
            char *msg = trigger_check_msg(v);
            int rc =
                sqli_vm_error(v, SQL_ERROR, "error in trigger %s after %s: %s", g->name, what, msg);
            xfree(msg);
            return rc;
        }
    return SQL_OK;
}

/* The new text of a view that names the column being renamed (NULL if it
 * does not): resolved before the change, its references noted. */
static int renamed_view(vm *v, sql_stmt *st, view *w, const char *to, int quote, char **out) {
    compiler *c = &st->comp;
    *out = NULL;
    c->rn_sql = w->sql;
    c->rn_n = 0;
    if (check_view(v, st, w) != SQL_OK) {
        int rc = sqli_vm_error(v, SQL_ERROR, "error in view %s: %s", w->name,
                               c->err ? c->err : "malformed view");
        c->err = NULL;
        return rc;
    }
    if (c->rn_n) *out = rewrite_noted(c, w->sql, to, quote);
    return SQL_OK;
}

static int put_view(vm *v, view *w, const char *sql) {
    sql_db *db = v->db;
    if (!w->temp) return cat_put_in(v, 0, "view", w->name, sql, 0, w->name);
    for (int i = 0; i < db->ntemp_views; i++)
        if (strcmp(db->temp_views[i], w->sql) == 0) {
            xfree(db->temp_views[i]);
            db->temp_views[i] = xstrdup(sql);
            break;
        }
    return SQL_OK;
}

/* The views and triggers within t's reach (a temp table's: the temp ones),
 * resolved before the change with the compiler noting the references to
 * t's column from (or to t itself, from NULL): their new texts, to in
 * place of those names, in *vout / *gout (in schema order; NULL where
 * unchanged). One that does not compile fails with sqlite3's message. */
static int renamed_dependents(vm *v, sql_stmt *st, table *t, const char *from, const char *to,
                              int quote, char ***vout, char ***gout) {
    schema *s = v->db->sch;
    compiler *c = &st->comp;
    int nview = 0, ntrig = 0;
    for (view *w = s->views; w; w = w->next) nview++;
    for (int i = 0; i < s->ntab; i++)
        for (trigger *g = s->tabs[i]->triggers; g; g = g->next) ntrig++;
    char **vsql = sqli_ar_alloc(&st->ar, sizeof(char *) * (size_t)(nview + ntrig + 1));
    char **gsql = vsql + nview;
    memset(vsql, 0, sizeof(char *) * (size_t)(nview + ntrig + 1));
    *vout = vsql;
    *gout = gsql;
    int rc = SQL_OK, k = 0;
    c->rn_tab = t;
    c->rn_name = from;
    for (view *w = s->views; w && rc == SQL_OK; w = w->next, k++)
        if (!t->temp || w->temp) rc = renamed_view(v, st, w, to, quote, &vsql[k]);
    k = 0;
    for (int i = 0; i < s->ntab && rc == SQL_OK; i++)
        for (trigger *g = s->tabs[i]->triggers; g && rc == SQL_OK; g = g->next, k++) {
            if (t->temp && !g->temp) continue;
            c->rn_sql = g->sql;
            c->rn_n = 0;
            ast *ga = reparse(st, g->sql);
            if (!ga || sqli_trigger_check(v, g) != SQL_OK) {
                char *msg = trigger_check_msg(v);
                rc = sqli_vm_error(v, SQL_ERROR, "error in trigger %s: %s", g->name, msg);
                xfree(msg);
                break;
            }
            if (from) {
                note_trigger_names(c, s, g, ga, t, from);
            } else {
                if (g->tab == t) sqli_rename_note(c, sqli_qname_last(g->sql, ga->table_pos));
                for (int j = 0; j < ga->nbody; j++) {
                    const ast *b = ga->body[j];
                    if (b->kind == ST_SELECT || !b->table) continue;
                    int dbq = b->dbq ? b->dbq : g->temp ? 0 : 1;
                    if (sqli_schema_table_db(s, b->table, dbq) == t)
                        sqli_rename_note(c, sqli_qname_last(g->sql, b->table_pos));
                }
            }
            if (c->rn_n) gsql[k] = rewrite_noted(c, g->sql, to, quote);
        }
    c->rn_tab = NULL;
    c->rn_name = NULL;
    c->rn_sql = NULL;
    return rc;
}

/* RENAME TO: the new name goes into the table's text (quoted, as sqlite3
 * writes it), its indexes', the views and triggers that use it (found by
 * resolving them, as for RENAME COLUMN) and the REFERENCES of the tables of
 * its database; each object stays in its own catalog. */
static int alter_rename_table(vm *v, sql_stmt *st, ast *a) {
    schema *s = v->db->sch;
    table *t = sqli_schema_table_db(s, a->table, a->dbq);
    if (!t || t->is_schema) return no_such_table(v, a);
    if (rename_taken(s, t, a->name))
        return sqli_vm_error(v, SQL_ERROR,
                             "there is already another table or index with this name: %s", a->name);
    int rc = reserved_name(v, a->name);
    if (rc != SQL_OK) return rc;
    ast *ta = reparse(st, t->sql);
    if (!ta) return sqli_vm_error(v, SQL_CORRUPT, "malformed schema for %s", t->name);
    char **vsql, **gsql;
    rc = renamed_dependents(v, st, t, NULL, a->name, 1, &vsql, &gsql);
    if (rc != SQL_OK) return rc;
    strb qb = {0};
    sqli_strb_addc(&qb, '"');
    for (const char *c = a->name; *c; c++) {
        if (*c == '"') sqli_strb_addc(&qb, '"');
        sqli_strb_addc(&qb, *c);
    }
    sqli_strb_addc(&qb, '"');
    char *quoted = sqli_ar_strdup(&st->ar, sqli_strb_cstr(&qb));
    sqli_strb_free(&qb);
    char *sql = replace_at(&st->ar, t->sql, ta->table_pos, quoted, 1);
    sql = rename_tokens(&st->ar, sql, t->name, quoted, NULL, 0, KW_REFERENCES, RT_RAW);
    rc = cat_del(v, "table", t->name);
    if (rc == SQL_OK) rc = cat_put(v, "table", a->name, sql, sqli_tree_id(t->tree), a->name);
    for (int pass = 0; pass < 2; pass++)
        for (index_t *x = pass ? t->fts : t->indexes; x && rc == SQL_OK; x = x->next) {
            char *isql = x->sql;
            if (*isql) {
                ast *ia = reparse(st, isql);
                if (ia) isql = replace_at(&st->ar, isql, ia->table_pos, quoted, 1);
            }
            rc = cat_put(v, "index", x->name, isql, sqli_tree_id(x->tree), a->name);
        }
    /* the triggers on it or using it and the views using it */
    int k = 0;
    for (int i = 0; i < s->ntab && rc == SQL_OK; i++)
        for (trigger *g = s->tabs[i]->triggers; g && rc == SQL_OK; g = g->next, k++)
            if (gsql[k] || g->tab == t)
                rc = cat_put_in(v, g->temp, "trigger", g->name, gsql[k] ? gsql[k] : g->sql, 0,
                                g->tab == t ? a->name : g->tab->name);
    k = 0;
    for (view *w = s->views; w && rc == SQL_OK; w = w->next, k++)
        if (vsql[k]) rc = put_view(v, w, vsql[k]);
    for (int i = 0; i < s->ntab && rc == SQL_OK; i++) { /* REFERENCES old in other tables */
        table *o = s->tabs[i];
        if (o == t || o->temp != t->temp) continue;
        int refs = 0;
        for (int k = 0; k < o->nfk; k++) refs |= sqli_name_eq(o->fks[k].ptab, t->name);
        if (refs)
            rc = cat_put(
                v, "table", o->name,
                rename_tokens(&st->ar, o->sql, t->name, quoted, NULL, 0, KW_REFERENCES, RT_RAW),
                sqli_tree_id(o->tree), o->name);
    }
    if (rc == SQL_OK && t->pk.stat) {
        rc = cat_del(v, "stat", t->name);
        sql_value vals[66];
        int n = t->pk.ncol + 1 < 66 ? t->pk.ncol + 1 : 66;
        for (int k = 0; k < n; k++) val_set_int(&vals[k], t->pk.stat[k]);
        sqli_rec_encode(&v->rb, vals, n);
        keyenc_buf key;
        sqli_keyenc_init(&key);
        sqli_cat_key(&key, "stat", a->name);
        if (rc == SQL_OK && sqli_store_put(cat_txn(v), STORE_CATALOG, key.p, key.len, v->rb.p,
                                           v->rb.len, 0) != STORE_OK)
            rc = SQL_IOERR;
        sqli_keyenc_free(&key);
    }
    if (rc == SQL_OK) rc = bump_cookie(v);
    if (rc == SQL_OK) rc = check_dependents(v, st, "rename");
    return rc;
}

static int alter_rename_column(vm *v, sql_stmt *st, ast *a) {
    schema *s = v->db->sch;
    table *t = sqli_schema_table_db(s, a->table, a->dbq);
    if (!t && sqli_schema_view(s, a->table))
        return sqli_vm_error(v, SQL_ERROR, "cannot rename columns of view \"%s\"", a->table);
    if (!t) return no_such_table(v, a);
    if (t->is_schema) return sqli_vm_error(v, SQL_ERROR, "table %s may not be altered", t->name);
    int col = sqli_table_column(t, a->name);
    if (col < 0) return sqli_vm_error(v, SQL_ERROR, "no such column: \"%s\"", a->name);
    const char *from = t->cols[col].name;
    int dup = sqli_table_column(t, a->name2);
    if (dup >= 0 && dup != col) /* sqlite3's words, the existing column's name */
        return sqli_vm_error(v, SQL_ERROR,
                             "error in table %s after rename: duplicate column name: %s", t->name,
                             t->cols[dup].name);
    ast *ta = reparse(st, t->sql);
    if (!ta) return sqli_vm_error(v, SQL_CORRUPT, "malformed schema for %s", t->name);
    /* a new name written quoted is written quoted everywhere (sqlite3) */
    int quote = 0, n = (int)strlen(st->sql);
    token k0;
    for (int pos = a->pos; pos < a->end && pos < n; pos += k0.len ? k0.len : 1) {
        sqli_lex_token(st->sql, n, pos, &k0);
        if (k0.type != TK_SPACE) quote = k0.z[0] == '"' || k0.z[0] == '`' || k0.z[0] == '[';
    }
    int rtq = quote ? RT_QUOTE : 0;
    char **vsql, **gsql;
    int rc = renamed_dependents(v, st, t, from, a->name2, quote, &vsql, &gsql);
    if (rc != SQL_OK) return rc;
    /* the table's text: every name of the column but the table's name, the
     * type names and the lists of REFERENCES other tables */
    int nref;
    span *refs = ref_lists(&st->ar, t->sql, t->name, 0, &nref);
    span *sk = sqli_ar_alloc(&st->ar, sizeof(span) * (size_t)(ta->ncoldefs + nref + 2));
    int nsk = 0;
    sk[nsk++] = (span){ta->table_pos, ta->table_pos + 1};
    for (int i = 0; i < ta->ncoldefs; i++)
        sk[nsk++] = (span){ta->coldefs[i].type_pos, ta->coldefs[i].type_end};
    for (int i = 0; i < nref; i++) sk[nsk++] = refs[i];
    char *sql = rename_tokens(&st->ar, t->sql, from, a->name2, sk, nsk, 0, RT_KEEP_CALLS | rtq);
    char *err = NULL;
    table *nt;
    ast *na = reparse(st, sql);
    if (!na || sqli_schema_build_table(s, na, sql, t->tree, &nt, &err) != SQL_OK)
        return sqli_vm_error(v, SQL_ERROR, "error in table %s after rename: %s", t->name,
                             err ? err : "bad definition");
    rc = cat_put(v, "table", t->name, sql, sqli_tree_id(t->tree), t->name);
    for (index_t *x = t->indexes ? t->indexes : t->fts; x && rc == SQL_OK; x = x->next ? x->next
                                                                               : x == t->fts
                                                                                   ? NULL
                                                                                   : t->fts) {
        if (!*x->sql) continue;
        ast *ia = reparse(st, x->sql);
        if (!ia) continue;
        span isk[2] = {{ia->name_pos, ia->name_pos + 1}, {ia->table_pos, ia->table_pos + 1}};
        rc = cat_put(v, "index", x->name,
                     rename_tokens(&st->ar, x->sql, from, a->name2, isk, 2, 0, RT_KEEP_CALLS | rtq),
                     sqli_tree_id(x->tree), t->name);
    }
    /* REFERENCES t(col) in the other tables of its database */
    for (int i = 0; i < s->ntab && rc == SQL_OK; i++) {
        table *o = s->tabs[i];
        if (o == t || o->temp != t->temp || o->is_schema) continue;
        int no;
        span *ol = ref_lists(&st->ar, o->sql, t->name, 1, &no);
        if (!no) continue;
        span *osk = sqli_ar_alloc(&st->ar, sizeof(span) * (size_t)(no + 1));
        int nosk = 0, at = 0;
        for (int j = 0; j < no; j++) { /* everything but those lists */
            osk[nosk++] = (span){at, ol[j].a};
            at = ol[j].b;
        }
        osk[nosk++] = (span){at, (int)strlen(o->sql) + 1};
        char *osql =
            rename_tokens(&st->ar, o->sql, from, a->name2, osk, nosk, 0, RT_KEEP_CALLS | rtq);
        if (strcmp(osql, o->sql) != 0)
            rc = cat_put(v, "table", o->name, osql, sqli_tree_id(o->tree), o->name);
    }
    int k = 0;
    for (view *w = s->views; w && rc == SQL_OK; w = w->next, k++)
        if (vsql[k]) rc = put_view(v, w, vsql[k]);
    k = 0;
    for (int i = 0; i < s->ntab && rc == SQL_OK; i++)
        for (trigger *g = s->tabs[i]->triggers; g && rc == SQL_OK; g = g->next, k++)
            if (gsql[k]) rc = cat_put_in(v, g->temp, "trigger", g->name, gsql[k], 0, g->tab->name);
    if (rc == SQL_OK) rc = bump_cookie(v);
    if (rc == SQL_OK) rc = check_dependents(v, st, "rename");
    return rc;
}

/* ---- ALTER TABLE DROP COLUMN ------------------------------------------------------------------
 */

static int expr_has_col(const expr *e, int col) {
    if (!e) return 0;
    if (e->op == E_COL && e->col == col) return 1;
    if (expr_has_col(e->l, col) || expr_has_col(e->r, col)) return 1;
    for (int i = 0; i < e->nargs; i++)
        if (expr_has_col(e->args[i], col)) return 1;
    return 0;
}

static int index_has(const index_t *x, int col) {
    for (int k = 0; k < x->ncol; k++)
        if (x->cols[k] == col) return 1;
    for (int k = 0; k < x->ninc; k++)
        if (x->inc[k] == col) return 1;
    return expr_has_col(x->where, col);
}

/* The CREATE TABLE text without column col's definition. */
static char *drop_coldef(sql_stmt *st, const char *sql, const ast *ta, int col) {
    const coldef *cd = &ta->coldefs[col];
    int from = col > 0 ? ta->coldefs[col - 1].text_end : cd->text_start;
    int to = col > 0 ? cd->text_end : ta->coldefs[col + 1].text_start;
    strb b = {0};
    sqli_strb_add(&b, sql, (size_t)from);
    sqli_strb_adds(&b, sql + to);
    char *r = sqli_ar_strdup(&st->ar, sqli_strb_cstr(&b));
    sqli_strb_free(&b);
    return r;
}

/* Every row of t rewritten without its column col (a record shorter than
 * that keeps its values: the columns it lacks take their defaults). */
static int drop_col_rows(vm *v, table *t, int col) {
    store_cursor *c;
    int rc = sqli_store_cursor_open(sqli_txn_for(v, t->tree), sqli_tree_id(t->tree), &c),
        r = SQL_OK;
    if (rc != STORE_OK) return sqli_vm_store_error(v, rc);
    sql_value *vals = xcalloc((size_t)t->ncol + 1, sizeof *vals);
    for (rc = sqli_store_cursor_seek(c, STORE_SEEK_FIRST, NULL, 0); rc == STORE_OK && r == SQL_OK;
         rc = sqli_store_cursor_next(c)) {
        const void *val;
        size_t vl;
        sqli_store_cursor_value(c, &val, &vl);
        int n = sqli_rec_count(val, vl), short_from;
        if (n < 0 || n > t->ncol || sqli_rec_decode(val, vl, n, vals, &short_from) != 0) {
            r = sqli_vm_error(v, SQL_CORRUPT, "malformed row in %s", t->name);
            break;
        }
        if (col >= n) continue;
        memmove(&vals[col], &vals[col + 1], sizeof *vals * (size_t)(n - col - 1));
        keyenc_buf rec;
        sqli_keyenc_init(&rec);
        sqli_rec_encode(&rec, vals, n - 1);
        rc = sqli_store_cursor_update(c, rec.p, rec.len);
        sqli_keyenc_free(&rec);
        if (rc != STORE_OK) break;
    }
    xfree(vals);
    sqli_store_cursor_close(c);
    if (r != SQL_OK) return r;
    return rc == STORE_NOTFOUND ? SQL_OK : sqli_vm_store_error(v, rc);
}

static int alter_drop_column(vm *v, sql_stmt *st, ast *a) {
    schema *s = v->db->sch;
    table *t = sqli_schema_table_db(s, a->table, a->dbq);
    if (!t && sqli_schema_view(s, a->table))
        return sqli_vm_error(v, SQL_ERROR, "cannot drop column from view \"%s\"", a->table);
    if (!t) return no_such_table(v, a);
    if (t->is_schema) return sqli_vm_error(v, SQL_ERROR, "table %s may not be altered", t->name);
    int col = sqli_table_column(t, a->name);
    if (col < 0) return sqli_vm_error(v, SQL_ERROR, "no such column: \"%s\"", a->name);
    const char *cn = t->cols[col].name;
    if (t->cols[col].pk)
        return sqli_vm_error(v, SQL_ERROR, "cannot drop PRIMARY KEY column: \"%s\"", cn);
    ast *ta = reparse(st, t->sql);
    if (!ta || ta->ncoldefs != t->ncol)
        return sqli_vm_error(v, SQL_CORRUPT, "malformed schema for %s", t->name);
    if (ta->coldefs[col].unique) /* a table's UNIQUE (b, c) fails below, as in sqlite3 */
        return sqli_vm_error(v, SQL_ERROR, "cannot drop UNIQUE column: \"%s\"", cn);
    if (t->ncol == 1)
        return sqli_vm_error(v, SQL_ERROR, "cannot drop column \"%s\": no other columns exist", cn);
    char *sql = drop_coldef(st, t->sql, ta, col), *err = NULL;
    ast *na = reparse(st, sql);
    table *nt;
    if (!na || sqli_schema_build_table(s, na, sql, t->tree, &nt, &err) != SQL_OK)
        return sqli_vm_error(v, SQL_ERROR, "error in table %s after drop column: %s", t->name,
                             err ? err : "malformed definition");
    for (index_t *x = t->indexes ? t->indexes : t->fts; x; x = x->next       ? x->next
                                                               : x == t->fts ? NULL
                                                                             : t->fts) {
        if (!index_has(x, col)) continue;
        if (x->auto_made) /* a table constraint's index */
            return sqli_vm_error(v, SQL_ERROR,
                                 "error in table %s after drop column: no such column: %s", t->name,
                                 cn);
        return sqli_vm_error(
            v, SQL_ERROR, "error in index %s after drop column: no such column: %s", x->name, cn);
    }
    int rc = drop_col_rows(v, t, col);
    if (rc == SQL_OK) rc = cat_put(v, "table", t->name, sql, sqli_tree_id(t->tree), t->name);
    if (rc == SQL_OK) rc = bump_cookie(v);
    if (rc == SQL_OK) rc = check_dependents(v, st, "drop column");
    return rc;
}

/* ---- ANALYZE
 * ------------------------------------------------------------------------------------------ */

static int analyze_index(vm *v, index_t *x, const char *name) {
    store_cursor *c;
    int rc = sqli_store_cursor_open(sqli_txn_for(v, x->tree), sqli_tree_id(x->tree), &c);
    if (rc != STORE_OK) return sqli_vm_store_error(v, rc);
    int n = x->ncol;
    int64_t nrow = 0, *distinct = xcalloc((size_t)n + 1, sizeof *distinct);
    size_t *prev_end = xcalloc((size_t)n + 1, sizeof *prev_end);
    uint8_t *prev = NULL;
    size_t prevlen = 0;
    for (rc = sqli_store_cursor_seek(c, STORE_SEEK_FIRST, NULL, 0); rc == STORE_OK;
         rc = sqli_store_cursor_next(c)) {
        const void *k;
        size_t kl, pos = 0;
        sqli_store_cursor_key(c, &k, &kl);
        nrow++;
        int diff = prev == NULL;
        for (int i = 0; i < n; i++) {
            sqli_keyenc_skip(k, kl, &pos);
            if (!diff && (pos != prev_end[i] || memcmp(k, prev, pos) != 0)) diff = 1;
            if (diff) distinct[i]++;
            prev_end[i] = pos;
        }
        xfree(prev);
        prev = (uint8_t *)xmemdup(k, kl);
        prevlen = kl;
    }
    (void)prevlen;
    xfree(prev);
    sqli_store_cursor_close(c);
    if (rc != STORE_NOTFOUND) {
        xfree(distinct);
        xfree(prev_end);
        return sqli_vm_store_error(v, rc);
    }
    sql_value vals[66];
    int nv = n + 1 < 66 ? n + 1 : 66;
    val_set_int(&vals[0], nrow);
    for (int i = 1; i < nv; i++)
        val_set_int(&vals[i], distinct[i - 1] ? (nrow + distinct[i - 1] - 1) / distinct[i - 1] : 1);
    xfree(distinct);
    xfree(prev_end);
    sqli_rec_encode(&v->rb, vals, nv);
    keyenc_buf key;
    sqli_keyenc_init(&key);
    sqli_cat_key(&key, "stat", name);
    rc = sqli_store_put(v->txn, STORE_CATALOG, key.p, key.len, v->rb.p, v->rb.len, 0);
    sqli_keyenc_free(&key);
    return rc == STORE_OK ? SQL_OK : sqli_vm_store_error(v, rc);
}

static int analyze(vm *v, ast *a) {
    schema *s = v->db->sch;
    int rc = SQL_OK, any = 0;
    for (int i = 0; i < s->ntab && rc == SQL_OK; i++) {
        table *t = s->tabs[i];
        if (a->name && !sqli_name_eq(a->name, t->name)) continue;
        any = 1;
        if (t->temp) continue; /* statistics are kept for the database's tables */
        rc = analyze_index(v, &t->pk, t->name);
        for (index_t *x = t->indexes; x && rc == SQL_OK; x = x->next)
            rc = analyze_index(v, x, x->name);
    }
    if (a->name && !any) {
        table *t;
        index_t *x = sqli_schema_index(s, a->name, &t);
        if (!x) return sqli_vm_error(v, SQL_ERROR, "no such table or index: %s", a->name);
        if (x != t->fts) rc = analyze_index(v, x, x->name); /* the planner keeps none for it */
    }
    if (rc == SQL_OK) rc = bump_cookie(v);
    return rc;
}

static int run_ddl(vm *v, sql_stmt *st);

/* ---- REINDEX ----------------------------------------------------------------------------------
 */

/* Empty index x and build it again from its table's rows. */
static int rebuild_index(vm *v, table *t, index_t *x) {
    int src = sqli_store_tree_clear(sqli_txn_for(v, x->tree), sqli_tree_id(x->tree));
    if (src != STORE_OK) return sqli_vm_store_error(v, src);
    return x == t->fts ? sqli_fts_fill(v, t, x) : fill_index(v, t, x);
}

static int index_uses_nocase(const table *t, const index_t *x) {
    for (int k = 0; k < x->ncol; k++)
        if (x->cols[k] >= 0 && t->cols[x->cols[k]].nocase) return 1;
    return 0;
}

/* REINDEX: every index; REINDEX collation: the indexes using it (as in
 * sqlite3, a collation name wins over a table of that name); REINDEX table:
 * its indexes; REINDEX index. */
static int reindex(vm *v, ast *a) {
    schema *s = v->db->sch;
    const char *nm = a->name;
    int coll = !nm                          ? 0
               : sqli_name_eq(nm, "binary") ? 1
               : sqli_name_eq(nm, "nocase") ? 2
               : sqli_name_eq(nm, "rtrim")  ? 3
                                            : 0;
    table *only = nm && !coll ? sqli_schema_table(s, nm) : NULL;
    index_t *one = NULL;
    table *owner = NULL;
    if (nm && !coll && !only) {
        one = sqli_schema_index(s, nm, &owner);
        if (!one)
            return sqli_vm_error(v, SQL_ERROR, "unable to identify the object to be reindexed");
        return rebuild_index(v, owner, one);
    }
    int rc = SQL_OK;
    for (int i = 0; i < s->ntab && rc == SQL_OK; i++) {
        table *t = s->tabs[i];
        if ((only && t != only) || t->is_schema) continue;
        for (index_t *x = t->indexes; x && rc == SQL_OK; x = x->next) {
            if (coll == 2 && !index_uses_nocase(t, x)) continue;
            if (coll == 3) continue; /* no column is RTRIM */
            rc = rebuild_index(v, t, x);
        }
    }
    return rc;
}

/* ---- VACUUM -----------------------------------------------------------------------------------
 */

/* VACUUM builds a compact copy of the database in a transient store (trees
 * filled in key order, so pages are full and contiguous; tables before
 * their indexes), with the catalog's root numbers rewritten, then makes the
 * file that copy in the statement's write transaction
 * (sqli_store_copy_from): one commit, as atomic and durable as any; the
 * checkpoint after it (api.c) shrinks the file. */
typedef struct vac_tree {
    store_tree old, new_;
    store_tree_info info;
} vac_tree;
typedef struct vac_list {
    vac_tree *v;
    int n, cap;
} vac_list;

static int vac_collect(void *arg, store_tree tree, const store_tree_info *info) {
    vac_list *l = arg;
    if (tree == STORE_CATALOG) return STORE_OK;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->v = xrealloc(l->v, sizeof *l->v * (size_t)l->cap);
    }
    l->v[l->n++] = (vac_tree){tree, 0, *info};
    return STORE_OK;
}

static store_tree vac_map(const vac_list *l, store_tree old) {
    for (int i = 0; i < l->n; i++)
        if (l->v[i].old == old) return l->v[i].new_;
    return 0;
}

/* Copy every entry of tree from (in txn) to tree to (in w), in order. */
static int vac_copy_tree(store_txn *txn, store_tree from, store_txn *w, store_tree to,
                         const vac_list *remap) {
    store_cursor *c;
    int rc = sqli_store_cursor_open(txn, from, &c);
    keyenc_buf rb;
    sqli_keyenc_init(&rb);
    for (rc = rc == STORE_OK ? sqli_store_cursor_seek(c, STORE_SEEK_FIRST, NULL, 0) : rc;
         rc == STORE_OK; rc = sqli_store_cursor_next(c)) {
        const void *k, *val;
        size_t kl, vl;
        if ((rc = sqli_store_cursor_key(c, &k, &kl)) != STORE_OK ||
            (rc = sqli_store_cursor_value(c, &val, &vl)) != STORE_OK)
            break;
        if (remap) { /* the catalog: a table's or an index's root number */
            size_t pos = 0;
            sql_value type, vals[3];
            int short_from;
            val_set_null(&type);
            if (sqli_key_get(k, kl, &pos, 0, &type) == 0 && type.type == SQL_TEXT &&
                ((type.n == 5 && memcmp(type.z, "table", 5) == 0) ||
                 (type.n == 5 && memcmp(type.z, "index", 5) == 0)) &&
                sqli_rec_decode(val, vl, 3, vals, &short_from) == 0 &&
                vals[1].type == SQL_INTEGER && vals[1].u.i > 0) {
                val_set_int(&vals[1], vac_map(remap, (store_tree)vals[1].u.i));
                sqli_rec_encode(&rb, vals, 3);
                val = rb.p;
                vl = rb.len;
            }
            val_free(&type);
        }
        rc = sqli_store_put(w, to, k, kl, val, vl, STORE_APPEND);
        if (rc != STORE_OK) break;
    }
    sqli_keyenc_free(&rb);
    if (c) sqli_store_cursor_close(c);
    return rc == STORE_NOTFOUND ? STORE_OK : rc;
}

static int vac_build(vm *v, store_txn *w, vac_list *l) {
    int rc = sqli_store_tree_foreach(v->txn, vac_collect, l);
    for (int pass = 0; pass < 2 && rc == STORE_OK; pass++)
        for (int i = 0; i < l->n && rc == STORE_OK; i++) {
            vac_tree *t = &l->v[i];
            int of_table = t->info.kind == STORE_TREE_INDEX || t->info.kind == STORE_TREE_FTS;
            if (of_table != pass) continue;
            store_tree_info info = t->info;
            if (pass) info.table = vac_map(l, info.table);
            rc = sqli_store_tree_create(w, &info, &t->new_);
            if (rc == STORE_OK) rc = vac_copy_tree(v->txn, t->old, w, t->new_, NULL);
        }
    if (rc == STORE_OK) rc = vac_copy_tree(v->txn, STORE_CATALOG, w, STORE_CATALOG, l);
    for (int i = 0; i < STORE_META_SLOTS && rc == STORE_OK; i++) {
        uint64_t m = 0;
        rc = sqli_store_meta_get(v->txn, i, &m);
        if (rc == STORE_OK) rc = sqli_store_meta_set(w, i, i == 0 ? m + 1 : m); /* the cookie */
    }
    return rc;
}

/* VACUUM [main | temp]: temp tables live in memory, so VACUUM temp has
 * nothing to compact (sqlite3's checks still apply). */
static int vacuum(vm *v, int temp) {
    sql_db *db = v->db;
    if (db->explicit_txn)
        return sqli_vm_error(v, SQL_ERROR, "cannot VACUUM from within a transaction");
    if (db->nactive > 0 || db->active_reads > 0)
        return sqli_vm_error(v, SQL_ERROR, "cannot VACUUM - SQL statements in progress");
    if (temp) return SQL_OK;
    sqli_vm_close_row_cursors(v);
    store_options o = {.flags = STORE_MEMORY, .page_size = sqli_store_page_size(db->store)};
    store_db *tmp = NULL;
    store_txn *w = NULL;
    vac_list l = {0};
    int rc = sqli_store_open("vacuum", &o, &tmp);
    if (rc == STORE_OK) rc = sqli_store_begin(tmp, STORE_TXN_WRITE, &w);
    if (rc == STORE_OK) rc = vac_build(v, w, &l);
    if (w && rc == STORE_OK)
        rc = sqli_store_commit(w);
    else if (w)
        sqli_store_abort(w);
    if (rc == STORE_OK) rc = sqli_store_copy_from(v->txn, tmp);
    if (tmp) sqli_store_close(tmp);
    xfree(l.v);
    if (rc != STORE_OK) return sqli_vm_store_error(v, rc);
    return sqli_db_reload_schema(db, v->txn);
}

/* Does the DDL statement work on the temp store? (Sets v->ddl_temp; -1 with
 * an error for what temp tables do not take.) */
static int ddl_on_temp(vm *v, ast *a) {
    schema *s = v->db->sch;
    table *t = NULL, *owner = NULL;
    switch (a->kind) {
    case ST_CREATE_TABLE:
        if (!a->temp) return 0;
        return sqli_temp_open(v) == SQL_OK ? 1 : -1;
    case ST_CREATE_INDEX:
        t = sqli_schema_table_db(s, a->table, a->dbq);
        break;
    case ST_DROP_TABLE:
        t = sqli_schema_table_db(s, a->name, a->dbq);
        break;
    case ST_DROP_INDEX:
        if (sqli_schema_index(s, a->name, &owner)) t = owner;
        break;
    case ST_CREATE_TRIGGER: /* TEMP TRIGGER, or a trigger on a temp table */
        t = sqli_schema_table_db(s, a->table, a->dbq);
        if (!a->temp && !(t && t->temp)) return 0;
        return sqli_temp_open(v) == SQL_OK ? 1 : -1;
    case ST_DROP_TRIGGER: {
        trigger *g = sqli_schema_trigger(s, a->name);
        return g && g->temp;
    }
    case ST_ALTER_ADD:
    case ST_ALTER_RENAME:
    case ST_ALTER_RENAME_COL:
    case ST_ALTER_DROP_COL:
        t = sqli_schema_table_db(s, a->table, a->dbq);
        break;
    default:
        return 0;
    }
    return t && t->temp;
}

int sqli_run_ddl(vm *v, sql_stmt *st) {
    int temp = ddl_on_temp(v, st->a);
    if (temp < 0) return SQL_ERROR;
    v->ddl_temp = temp;
    int rc = run_ddl(v, st);
    v->ddl_temp = 0;
    return rc;
}

static int run_ddl(vm *v, sql_stmt *st) {
    ast *a = st->a;
    switch (a->kind) {
    case ST_CREATE_TABLE:
        return create_table(v, st, a);
    case ST_CREATE_INDEX:
        return create_index(v, st, a);
    case ST_CREATE_TRIGGER:
        return create_trigger(v, st, a);
    case ST_DROP_TABLE:
        return drop_table(v, a);
    case ST_DROP_INDEX:
        return drop_index(v, a);
    case ST_DROP_TRIGGER:
        return drop_trigger(v, a);
    case ST_CREATE_VIEW:
        return create_view(v, st, a);
    case ST_DROP_VIEW:
        return drop_view(v, a);
    case ST_ALTER_ADD:
        return alter_add(v, st, a);
    case ST_ALTER_RENAME:
        return alter_rename_table(v, st, a);
    case ST_ALTER_RENAME_COL:
        return alter_rename_column(v, st, a);
    case ST_ALTER_DROP_COL:
        return alter_drop_column(v, st, a);
    case ST_ANALYZE:
        return analyze(v, a);
    case ST_REINDEX:
        return reindex(v, a);
    case ST_VACUUM:
        return vacuum(v, a->temp);
    default:
        return sqli_vm_error(v, SQL_MISUSE, "not a schema statement");
    }
}

/* ---- larder_schema
 * ------------------------------------------------------------------------------------ */

int sqli_schema_rows(vm *v, rowbuf *rb, int temp) {
    store_cursor *c;
    if (temp && !v->db->temp_txn) return SQL_OK; /* no temp store yet: nothing in it */
    int dbq = temp ? 2 : 1;
    int rc = sqli_store_cursor_open(temp ? v->db->temp_txn : v->txn, STORE_CATALOG, &c);
    if (rc != STORE_OK) return sqli_vm_store_error(v, rc);
    for (rc = sqli_store_cursor_seek(c, STORE_SEEK_FIRST, NULL, 0); rc == STORE_OK;
         rc = sqli_store_cursor_next(c)) {
        const void *k, *val;
        size_t kl, vl, pos = 0;
        sqli_store_cursor_key(c, &k, &kl);
        sqli_store_cursor_value(c, &val, &vl);
        sql_value type, name, rec[3], row[6];
        if (sqli_key_get(k, kl, &pos, 0, &type)) continue;
        if (sqli_key_get(k, kl, &pos, 0, &name)) {
            val_free(&type);
            continue;
        }
        int sh;
        if ((type.n == 4 && memcmp(type.z, "stat", 4) == 0) ||
            sqli_rec_decode(val, vl, 3, rec, &sh) != 0) {
            val_free(&type);
            val_free(&name);
            continue;
        }
        table *t = NULL;
        index_t *x = NULL;
        char tn[256];
        snprintf(tn, sizeof tn, "%.*s", (int)name.n, name.z);
        val_free(&name);
        /* the catalog key holds the lower-cased name: show the real one */
        if ((t = sqli_schema_table_db(v->db->sch, tn, dbq)) && !t->is_schema)
            val_set_text_ref(&name, t->name, strlen(t->name));
        else if ((x = sqli_schema_index(v->db->sch, tn, NULL)))
            val_set_text_ref(&name, x->name, strlen(x->name));
        else if (sqli_schema_view(v->db->sch, tn))
            val_set_text_ref(&name, sqli_schema_view(v->db->sch, tn)->name,
                             strlen(sqli_schema_view(v->db->sch, tn)->name));
        else {
            trigger *g = sqli_schema_trigger(v->db->sch, tn);
            if (g) val_set_text_ref(&name, g->name, strlen(g->name));
        }
        if (name.type != SQL_TEXT || name.z == NULL) val_set_text_ref(&name, tn, strlen(tn));
        row[0] = type;
        row[1] = name;
        row[2] = rec[2];
        row[3] = rec[1];
        row[4] = rec[0];
        if (rec[0].type == SQL_TEXT && rec[0].n == 0) val_set_null(&row[4]);
        val_set_null(&row[5]);
        sqli_rowbuf_add(rb, NULL, 0, row, 6);
        val_free(&type);
    }
    sqli_store_cursor_close(c);
    return rc == STORE_NOTFOUND ? SQL_OK : sqli_vm_store_error(v, rc);
}
