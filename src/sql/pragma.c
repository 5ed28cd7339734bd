/* sql/pragma.c — PRAGMA statements and EXPLAIN of DML.
 *
 *   foreign_keys [= on|off]   enforcement switch of this connection (on by
 *                             default; dumps turn it off while loading)
 *   table_info(t)             cid, name, type, notnull, dflt_value, pk
 *   index_list(t)             seq, name, unique, origin (c|u|pk), partial
 *   index_info(i)             seqno, cid, name
 *   foreign_key_list(t)       id, seq, table, from, to, on_update, on_delete, match
 *   integrity_check           "ok" or one row per problem found by sqli_store_check
 *   page_size, page_count     numbers
 *   max_recursive_rows [= n]  rows a recursive CTE may produce (cte.c); 0 = no limit
 * Unknown pragmas do nothing, as in SQLite.
 *
 * Invariants:
 *   1. A pragma never writes the database (settings are per connection).
 */
#include "sql/sqlrt.h"
#include "util/mem.h"
#include <stdio.h>
#include <strings.h>

static const char *const ti_cols[] = {"cid", "name", "type", "notnull", "dflt_value", "pk"};
static const char *const il_cols[] = {"seq", "name", "unique", "origin", "partial"};
static const char *const ii_cols[] = {"seqno", "cid", "name"};
static const char *const fk_cols[] = {"id", "seq",       "table",     "from",
                                      "to", "on_update", "on_delete", "match"};

static void named(sql_stmt *st, const char *const *names, int n) {
    st->ncol = n;
    st->colnames = sqli_ar_alloc(&st->ar, sizeof(char *) * (size_t)(n + 1));
    st->decltypes = sqli_ar_alloc(&st->ar, sizeof(char *) * (size_t)(n + 1));
    for (int i = 0; i < n; i++) st->colnames[i] = (char *)names[i];
}

int sqli_compile_pragma(sql_stmt *st) {
    ast *a = st->a;
    const char *n = a->name;
    int has_value = a->pragma_val || a->pragma_arg;
    st->readonly = 1;
    if (sqli_name_eq(n, "table_info"))
        named(st, ti_cols, 6);
    else if (sqli_name_eq(n, "index_list"))
        named(st, il_cols, 5);
    else if (sqli_name_eq(n, "index_info"))
        named(st, ii_cols, 3);
    else if (sqli_name_eq(n, "foreign_key_list"))
        named(st, fk_cols, 8);
    else if (sqli_name_eq(n, "integrity_check") || sqli_name_eq(n, "quick_check")) {
        static const char *const c[] = {"integrity_check"};
        named(st, c, 1);
    } else if (!has_value) {
        const char *const c[] = {a->name};
        named(st, c, 1);
        st->colnames[0] = a->name;
    }
    return SQL_OK;
}

static void add_row(rowbuf *rb, sql_value *v, int n) {
    sqli_rowbuf_add(rb, NULL, 0, v, n);
}

static void text(sql_value *v, const char *s) {
    if (s)
        val_set_text_ref(v, s, strlen(s));
    else
        val_set_null(v);
}

static const char *action_name(int a) {
    static const char *nm[] = {"RESTRICT", "NO ACTION", "CASCADE", "SET NULL", "SET DEFAULT"};
    return nm[a];
}

static int table_info(vm *v, table *t, rowbuf *rb) {
    for (int i = 0; i < t->ncol; i++) {
        column *c = &t->cols[i];
        sql_value r[6];
        val_set_int(&r[0], i);
        text(&r[1], c->name);
        text(&r[2], c->decl);
        val_set_int(&r[3], c->notnull);
        text(&r[4], c->dflt_text);
        val_set_int(&r[5], c->pk);
        add_row(rb, r, 6);
    }
    (void)v;
    return SQL_OK;
}

static int index_list(table *t, rowbuf *rb) {
    int seq = 0;
    for (index_t *x = t->indexes; x; x = x->next) {
        sql_value r[5];
        val_set_int(&r[0], seq++);
        text(&r[1], x->name);
        val_set_int(&r[2], x->unique);
        text(&r[3], x->auto_made ? "u" : "c");
        val_set_int(&r[4], x->where != NULL);
        add_row(rb, r, 5);
    }
    return SQL_OK;
}

static int index_info(index_t *x, rowbuf *rb) {
    for (int k = 0; k < x->ncol; k++) {
        sql_value r[3];
        val_set_int(&r[0], k);
        val_set_int(&r[1], x->cols[k]);
        text(&r[2], x->cols[k] < 0 ? NULL : x->tab->cols[x->cols[k]].name);
        add_row(rb, r, 3);
    }
    return SQL_OK;
}

static int fk_list(table *t, rowbuf *rb) {
    for (int i = 0; i < t->nfk; i++) {
        fkey *f = &t->fks[i];
        for (int k = 0; k < f->ncol; k++) {
            sql_value r[8];
            val_set_int(&r[0], i);
            val_set_int(&r[1], k);
            text(&r[2], f->ptab);
            text(&r[3], t->cols[f->ccols[k]].name);
            const char *to = f->pcolnames ? f->pcolnames[k] : NULL;
            if (f->parent && f->pcols)
                to = f->pcols[k] < 0 ? "rowid" : f->parent->cols[f->pcols[k]].name;
            text(&r[4], to);
            text(&r[5], action_name(f->on_update));
            text(&r[6], action_name(f->on_delete));
            text(&r[7], "NONE");
            add_row(rb, r, 8);
        }
    }
    return SQL_OK;
}

typedef struct probs {
    rowbuf *rb;
    int n;
} probs;

static void on_problem(void *arg, const char *msg) {
    probs *p = arg;
    sql_value r;
    text(&r, msg);
    add_row(p->rb, &r, 1);
    p->n++;
}

static int bool_arg(ast *a, int *out) {
    if (a->pragma_arg) {
        const char *s = a->pragma_arg;
        if (!strcasecmp(s, "on") || !strcasecmp(s, "true") || !strcasecmp(s, "yes"))
            return *out = 1, 1;
        if (!strcasecmp(s, "off") || !strcasecmp(s, "false") || !strcasecmp(s, "no"))
            return *out = 0, 1;
        return 0;
    }
    if (a->pragma_val && a->pragma_val->op == E_LIT)
        return *out = sqli_val_int(&a->pragma_val->lit) != 0, 1;
    return 0;
}

int sqli_run_pragma(vm *v, sql_stmt *st, rowbuf *rb) {
    ast *a = st->a;
    sql_db *db = v->db;
    const char *n = a->name;
    sql_value r;
    if (sqli_name_eq(n, "foreign_keys")) {
        int on;
        if (a->pragma_arg || a->pragma_val) {
            if (!bool_arg(a, &on))
                return sqli_vm_error(v, SQL_ERROR, "foreign_keys takes ON or OFF");
            if (db->explicit_txn) return SQL_OK; /* as in SQLite: no-op inside a transaction */
            db->fk_enabled = on;
            return SQL_OK;
        }
        val_set_int(&r, db->fk_enabled);
        add_row(rb, &r, 1);
        return SQL_OK;
    }
    if (sqli_name_eq(n, "table_info") || sqli_name_eq(n, "index_list") ||
        sqli_name_eq(n, "foreign_key_list")) {
        table *t = a->pragma_arg ? sqli_schema_table(db->sch, a->pragma_arg) : NULL;
        if (!t) return SQL_OK;
        if (sqli_name_eq(n, "table_info")) return table_info(v, t, rb);
        if (sqli_name_eq(n, "index_list")) return index_list(t, rb);
        return fk_list(t, rb);
    }
    if (sqli_name_eq(n, "index_info")) {
        index_t *x = a->pragma_arg ? sqli_schema_index(db->sch, a->pragma_arg, NULL) : NULL;
        return x ? index_info(x, rb) : SQL_OK;
    }
    if (sqli_name_eq(n, "integrity_check") || sqli_name_eq(n, "quick_check")) {
        store_check_report rep;
        probs p = {rb, 0};
        int rc = sqli_store_check(v->txn, &rep, on_problem, &p);
        if (rc != STORE_OK) return sqli_vm_store_error(v, rc);
        if (!p.n) {
            text(&r, "ok");
            add_row(rb, &r, 1);
        }
        return SQL_OK;
    }
    if (sqli_name_eq(n, "max_recursive_rows")) {
        if (a->pragma_val && a->pragma_val->op == E_LIT) {
            sql_set_max_recursive_rows(db, sqli_val_int(&a->pragma_val->lit));
            return SQL_OK;
        }
        if (a->pragma_arg || a->pragma_val)
            return sqli_vm_error(v, SQL_ERROR, "max_recursive_rows takes a number");
        val_set_int(&r, db->max_recursive_rows);
        add_row(rb, &r, 1);
        return SQL_OK;
    }
    if (sqli_name_eq(n, "page_size")) {
        val_set_int(&r, sqli_store_page_size(db->store));
        add_row(rb, &r, 1);
        return SQL_OK;
    }
    if (sqli_name_eq(n, "page_count")) {
        store_stats s;
        sqli_store_get_stats(db->store, &s);
        val_set_int(&r, s.page_count);
        add_row(rb, &r, 1);
        return SQL_OK;
    }
    return SQL_OK;
}

void sqli_explain_dml(dmlplan *d, rowbuf *rb, int *id, int mode) {
    if (d->scan)
        sqli_plan_explain(d->scan, rb, id, 0, mode);
    else if (d->src && !d->src->values_rows)
        sqli_plan_explain(d->src, rb, id, 0, mode);
}
