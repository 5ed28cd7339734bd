/* sql/schema.c — the in-memory schema and its catalog entries.
 *
 * The catalog (STORE_CATALOG) holds one entry per object:
 *
 *   key:   keyenc(text type, text lower(name))      type: "index" | "stat" |
 *                                                    "table" | "trigger" | "view"
 *   value: record [sql text, root page int, table name text]
 *
 * The SQL text is the CREATE statement as the user wrote it (ALTER TABLE
 * edits it in place), so .schema shows the user's own formatting. An index
 * made from a UNIQUE constraint of CREATE TABLE has sql "" and is rebuilt from
 * the table's text. "stat" entries hold ANALYZE results: [nrow, avg rows per
 * distinct value of the first 1, 2, ... key columns]. Header slot 0 is the
 * schema cookie, bumped by every change of the catalog.
 *
 * A schema is immutable once loaded: DDL writes the catalog and the
 * connection loads a new schema; statements hold a reference to the one they
 * were compiled against (refs) and recompile when it is no longer current.
 *
 * Invariants:
 *   1. Every table has a key (pk): its declared primary key, or a hidden
 *      integer rowid (rowid = 1, pk.cols[0] = -1). pk.tree == table tree.
 *   2. Names are unique case-insensitively across tables, views and indexes;
 *      trigger names likewise.
 *   3. fkey.parent/pcols/pidx are resolved when the parent exists and its
 *      columns are its primary key or a unique index (else pidx == NULL and
 *      writes that need the key fail with a "foreign key mismatch" error).
 */
#include "sql/sqlint.h"
#include "sql/sqlrt.h"
#include "util/mem.h"
#include <assert.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>

void sqli_cat_key(keyenc_buf *k, const char *type, const char *name) {
    char low[256];
    size_t n = strlen(name);
    char *l = n < sizeof low ? low : xmalloc(n + 1);
    for (size_t i = 0; i < n; i++) l[i] = (char)tolower((unsigned char)name[i]);
    sqli_keyenc_reset(k);
    sqli_keyenc_text(k, type, strlen(type), 0);
    sqli_keyenc_text(k, l, n, 0);
    if (l != low) xfree(l);
}

static table *table_db(schema *s, const char *name, int dbq) {
    for (int pass = dbq == 1 ? 1 : 0; pass < (dbq == 2 ? 1 : 2); pass++) /* temp first */
        for (int i = 0; i < s->ntab; i++)
            if (s->tabs[i]->temp == !pass && sqli_name_eq(s->tabs[i]->name, name))
                return s->tabs[i];
    if (dbq == 2) return NULL;
    if (sqli_name_eq(name, "larder_schema") || sqli_name_eq(name, "sqlite_schema") ||
        sqli_name_eq(name, "sqlite_master"))
        return s->schema_tab;
    if (sqli_name_eq(name, "larder_stat_indexes")) return s->stat_tab;
    return NULL;
}

table *sqli_schema_table(schema *s, const char *name) {
    return sqli_schema_table_db(s, name, 0);
}

index_t *sqli_schema_index(schema *s, const char *name, table **owner) {
    for (int i = 0; i < s->ntab; i++)
        for (int pass = 0; pass < 2; pass++)
            for (index_t *x = pass ? s->tabs[i]->fts : s->tabs[i]->indexes; x; x = x->next)
                if (sqli_name_eq(x->name, name)) {
                    if (owner) *owner = s->tabs[i];
                    return x;
                }
    return NULL;
}

trigger *sqli_schema_trigger(schema *s, const char *name) {
    for (int i = 0; i < s->ntab; i++)
        for (trigger *t = s->tabs[i]->triggers; t; t = t->next)
            if (sqli_name_eq(t->name, name)) return t;
    return NULL;
}

int sqli_table_column(table *t, const char *name) {
    for (int i = 0; i < t->ncol; i++)
        if (sqli_name_eq(t->cols[i].name, name)) return i;
    if (t->rowid &&
        (sqli_name_eq(name, "rowid") || sqli_name_eq(name, "oid") || sqli_name_eq(name, "_rowid_")))
        return -1;
    return -2;
}

view *sqli_schema_view(schema *s, const char *name) {
    for (view *w = s->views; w; w = w->next)
        if (sqli_name_eq(w->name, name)) return w;
    return NULL;
}

static int parse_def(schema *s, const char *sql, ast **out, char **err);

int sqli_schema_add_view(schema *s, const char *sql, int temp, char **err) {
    ast *a;
    char *text = sqli_ar_strdup(&s->ar, sql);
    int rc = parse_def(s, text, &a, err);
    if (rc == SQL_OK && a->kind != ST_CREATE_VIEW) rc = SQL_CORRUPT;
    if (rc != SQL_OK) return rc;
    view *w = sqli_ar_alloc(&s->ar, sizeof *w), **pp = &s->views;
    w->name = a->name;
    w->sql = text;
    w->temp = temp;
    while (*pp) pp = &(*pp)->next;
    *pp = w;
    return SQL_OK;
}

static void add_table(schema *s, table *t) {
    if (s->ntab == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        table **v = sqli_ar_alloc(&s->ar, sizeof *v * (size_t)s->cap);
        if (s->ntab) memcpy(v, s->tabs, sizeof *v * (size_t)s->ntab);
        s->tabs = v;
    }
    s->tabs[s->ntab++] = t;
}

/* ---- building a table from CREATE TABLE ---------------------------------------------- */

static int fail(char **err, arena *a, const char *fmt, const char *x) {
    *err = sqli_ar_printf(a, fmt, x);
    return SQL_ERROR;
}

static int build_columns(schema *s, table *t, ast *a, char **err) {
    t->ncol = a->ncoldefs;
    t->cols = sqli_ar_alloc(&s->ar, sizeof *t->cols * (size_t)t->ncol);
    for (int i = 0; i < a->ncoldefs; i++) {
        coldef *cd = &a->coldefs[i];
        column *c = &t->cols[i];
        for (int j = 0; j < i; j++)
            if (sqli_name_eq(t->cols[j].name, cd->name))
                return fail(err, &s->ar, "duplicate column name: %s", cd->name);
        c->name = sqli_ar_strdup(&s->ar, cd->name);
        c->decl = sqli_ar_strdup(&s->ar, cd->type);
        sqli_type_affinity(c->decl, &c->aff, &c->kind, &c->dec_p, &c->dec_s);
        if (c->kind == KIND_DECIMAL &&
            (c->dec_p < 1 || c->dec_p > 18 || c->dec_s < 0 || c->dec_s > c->dec_p))
            return fail(err, &s->ar,
                        "DECIMAL precision must be 1..18 and scale 0..precision (column %s)",
                        c->name);
        c->notnull = (uint8_t)cd->notnull;
        c->nocase = cd->collate && sqli_name_eq(cd->collate, "nocase");
        c->dflt = cd->dflt;
        c->dflt_text = cd->dflt_text ? sqli_ar_strdup(&s->ar, cd->dflt_text) : NULL;
        if (cd->identity && c->aff != AFF_INTEGER)
            return fail(err, &s->ar, "an identity column must be an integer: %s", c->name);
        if (cd->gen) {
            if (cd->dflt) return fail(err, &s->ar, "cannot use DEFAULT on a generated column", "");
            c->gen = cd->gen;
            c->gen_stored = (uint8_t)cd->gen_stored;
            t->ngen++;
        }
    }
    if (t->ngen == t->ncol)
        return fail(err, &s->ar, "must have at least one non-generated column", "");
    return SQL_OK;
}

/* The primary key from the column flags or the table constraint. */
static int build_pk(schema *s, table *t, ast *a, char **err) {
    int npk = 0;
    for (int i = 0; i < a->ncoldefs; i++) npk += a->coldefs[i].pk;
    tabcons *pkc = NULL;
    for (int i = 0; i < a->ncons; i++)
        if (a->cons[i].kind == 1) {
            if (pkc || npk)
                return fail(err, &s->ar, "table \"%s\" has more than one primary key", t->name);
            pkc = &a->cons[i];
        }
    if (npk > 1) return fail(err, &s->ar, "table \"%s\" has more than one primary key", t->name);
    index_t *pk = &t->pk;
    pk->is_pk = 1;
    pk->unique = 1;
    pk->tab = t;
    pk->name = sqli_ar_printf(&s->ar, "%s", t->name);
    t->ipk = -1;
    if (!npk && !pkc) {
        if (a->without_rowid) return fail(err, &s->ar, "PRIMARY KEY missing on table %s", t->name);
        t->rowid = 1;
        pk->ncol = 1;
        pk->cols = sqli_ar_alloc(&s->ar, sizeof(int));
        pk->desc = sqli_ar_alloc(&s->ar, 1);
        pk->cols[0] = -1;
        return SQL_OK;
    }
    if (npk) {
        pk->ncol = 1;
        pk->cols = sqli_ar_alloc(&s->ar, sizeof(int));
        pk->desc = sqli_ar_alloc(&s->ar, 1);
        for (int i = 0; i < a->ncoldefs; i++)
            if (a->coldefs[i].pk) {
                pk->cols[0] = i;
                pk->desc[0] = (uint8_t)a->coldefs[i].pk_desc;
            }
    } else {
        pk->ncol = pkc->ncols;
        pk->cols = sqli_ar_alloc(&s->ar, sizeof(int) * (size_t)pkc->ncols);
        pk->desc = sqli_ar_alloc(&s->ar, (size_t)pkc->ncols);
        for (int k = 0; k < pkc->ncols; k++) {
            int c = sqli_table_column(t, pkc->cols[k]);
            if (c < 0) return fail(err, &s->ar, "no such column: %s", pkc->cols[k]);
            for (int j = 0; j < k; j++)
                if (pk->cols[j] == c)
                    return fail(err, &s->ar, "duplicate column in primary key: %s", pkc->cols[k]);
            pk->cols[k] = c;
            pk->desc[k] = (uint8_t)pkc->descs[k];
        }
    }
    for (int k = 0; k < pk->ncol; k++)
        if (t->cols[pk->cols[k]].gen)
            return fail(err, &s->ar, "generated columns cannot be part of the PRIMARY KEY", "");
    for (int k = 0; k < pk->ncol; k++) {
        column *c = &t->cols[pk->cols[k]];
        c->pk = (uint8_t)(k + 1);
        c->notnull = 1;
    }
    if (pk->ncol == 1 && t->cols[pk->cols[0]].aff == AFF_INTEGER) {
        t->ipk = pk->cols[0];
        t->cols[t->ipk].autoinc = 1;
    }
    for (int i = 0; i < a->ncoldefs; i++)
        if (a->coldefs[i].identity && t->ipk != i)
            return fail(err, &s->ar, "an identity column must be the integer primary key: %s",
                        t->cols[i].name);
    return SQL_OK;
}

static index_t *new_unique(schema *s, table *t, const char *name, int n) {
    index_t *x = sqli_ar_alloc(&s->ar, sizeof *x);
    x->tab = t;
    x->unique = 1;
    x->auto_made = 1;
    x->ncol = n;
    x->cols = sqli_ar_alloc(&s->ar, sizeof(int) * (size_t)n);
    x->desc = sqli_ar_alloc(&s->ar, (size_t)n);
    x->name = sqli_ar_strdup(&s->ar, name);
    x->sql = "";
    return x;
}

static void append_index(table *t, index_t *x) {
    index_t **pp = &t->indexes;
    while (*pp) pp = &(*pp)->next;
    *pp = x;
}

/* Same key columns as the pk or an earlier unique index: no new index. */
static int redundant_unique(table *t, index_t *x) {
    if (x->ncol == t->pk.ncol && memcmp(x->cols, t->pk.cols, sizeof(int) * (size_t)x->ncol) == 0)
        return 1;
    for (index_t *y = t->indexes; y; y = y->next)
        if (y->unique && y->ncol == x->ncol && !y->where &&
            memcmp(x->cols, y->cols, sizeof(int) * (size_t)x->ncol) == 0)
            return 1;
    return 0;
}

static int build_uniques(schema *s, table *t, ast *a, char **err) {
    int n = 0;
    for (int i = 0; i < a->ncoldefs; i++) {
        if (!a->coldefs[i].unique) continue;
        n++;
        char *nm = a->coldefs[i].unique_name
                       ? a->coldefs[i].unique_name
                       : sqli_ar_printf(&s->ar, "autoindex_%s_%d", t->name, n);
        index_t *x = new_unique(s, t, nm, 1);
        x->cols[0] = i;
        if (!redundant_unique(t, x)) append_index(t, x);
    }
    for (int i = 0; i < a->ncons; i++) {
        tabcons *tc = &a->cons[i];
        if (tc->kind != 2) continue;
        n++;
        char *nm = tc->name ? tc->name : sqli_ar_printf(&s->ar, "autoindex_%s_%d", t->name, n);
        index_t *x = new_unique(s, t, nm, tc->ncols);
        for (int k = 0; k < tc->ncols; k++) {
            x->cols[k] = sqli_table_column(t, tc->cols[k]);
            if (x->cols[k] < 0) return fail(err, &s->ar, "no such column: %s", tc->cols[k]);
            x->desc[k] = (uint8_t)tc->descs[k];
        }
        if (!redundant_unique(t, x)) append_index(t, x);
    }
    return SQL_OK;
}

static void add_table_check(schema *s, table *t, expr *e, const char *name) {
    expr **v = sqli_ar_alloc(&s->ar, sizeof *v * (size_t)(t->nchecks + 1));
    char **nv = sqli_ar_alloc(&s->ar, sizeof *nv * (size_t)(t->nchecks + 1));
    if (t->nchecks) {
        memcpy(v, t->checks, sizeof *v * (size_t)t->nchecks);
        memcpy(nv, t->check_names, sizeof *nv * (size_t)t->nchecks);
    }
    v[t->nchecks] = e;
    nv[t->nchecks] = name ? sqli_ar_strdup(&s->ar, name) : NULL;
    t->checks = v;
    t->check_names = nv;
    t->nchecks++;
}

static fkey *new_fk(schema *s, table *t, const char *name, int ncol) {
    fkey *f = sqli_ar_alloc(&s->ar, sizeof *f);
    f->child = t;
    f->name = name ? sqli_ar_strdup(&s->ar, name) : NULL;
    f->ncol = ncol;
    f->ccols = sqli_ar_alloc(&s->ar, sizeof(int) * (size_t)ncol);
    return f;
}

static void push_fk(schema *s, table *t, fkey *f) {
    fkey *v = sqli_ar_alloc(&s->ar, sizeof *v * (size_t)(t->nfk + 1));
    if (t->nfk) memcpy(v, t->fks, sizeof *v * (size_t)t->nfk);
    v[t->nfk++] = *f;
    t->fks = v;
}

static char **copy_names(schema *s, char **v, int n) {
    if (!v) return NULL;
    char **o = sqli_ar_alloc(&s->ar, sizeof *o * (size_t)n);
    for (int i = 0; i < n; i++) o[i] = sqli_ar_strdup(&s->ar, v[i]);
    return o;
}

static int build_constraints(schema *s, table *t, ast *a, char **err) {
    for (int i = 0; i < a->ncoldefs; i++) {
        coldef *cd = &a->coldefs[i];
        for (int k = 0; k < cd->nchecks; k++)
            add_table_check(s, t, cd->checks[k], cd->check_names[k]);
        if (cd->fk_table) {
            fkey *f = new_fk(s, t, cd->fk_name, 1);
            f->ccols[0] = i;
            f->ptab = sqli_ar_strdup(&s->ar, cd->fk_table);
            if (cd->fk_ncols > 1)
                return fail(err, &s->ar, "foreign key on %s should reference only one column",
                            cd->name);
            f->pcolnames = copy_names(s, cd->fk_cols, cd->fk_ncols);
            f->on_delete = cd->fk_on_delete;
            f->on_update = cd->fk_on_update;
            push_fk(s, t, f);
        }
    }
    for (int i = 0; i < a->ncons; i++) {
        tabcons *tc = &a->cons[i];
        if (tc->kind == 3) add_table_check(s, t, tc->check, tc->name);
        if (tc->kind != 4) continue;
        fkey *f = new_fk(s, t, tc->name, tc->ncols);
        for (int k = 0; k < tc->ncols; k++) {
            f->ccols[k] = sqli_table_column(t, tc->cols[k]);
            if (f->ccols[k] < 0)
                return fail(err, &s->ar, "unknown column \"%s\" in foreign key definition",
                            tc->cols[k]);
        }
        if (tc->fk_cols && tc->fk_ncols != tc->ncols)
            return fail(err, &s->ar,
                        "number of columns in foreign key does not match the number of columns in "
                        "the referenced table %s",
                        tc->fk_table);
        f->ptab = sqli_ar_strdup(&s->ar, tc->fk_table);
        f->pcolnames = copy_names(s, tc->fk_cols, tc->fk_ncols);
        f->on_delete = tc->fk_on_delete;
        f->on_update = tc->fk_on_update;
        push_fk(s, t, f);
    }
    return SQL_OK;
}

/* Resolve DEFAULT and CHECK expressions against the table's own row. */
static int resolve_table_exprs(schema *s, table *t, char **err) {
    for (int i = 0; i < t->ncol; i++) {
        column *c = &t->cols[i];
        if (!c->dflt) continue;
        if (sqli_resolve_standalone(&s->ar, c->dflt, NULL, err) != SQL_OK) return SQL_ERROR;
        if (c->dflt->op == E_LIT || (c->dflt->flags & EF_CONST)) {
            c->dflt_const = c->dflt->op == E_LIT;
            if (c->dflt->op == E_LIT) c->dflt_val = c->dflt->lit;
        }
        if (c->dflt->op != E_LIT) t->has_dflt_fn = 1;
    }
    for (int k = 0; k < t->nchecks; k++)
        if (sqli_resolve_standalone(&s->ar, t->checks[k], t, err) != SQL_OK) return SQL_ERROR;
    for (int i = 0; i < t->ncol; i++)
        if (t->cols[i].gen && sqli_resolve_generated(&s->ar, t->cols[i].gen, t, err) != SQL_OK)
            return SQL_ERROR;
    return SQL_OK;
}

int sqli_schema_build_table(schema *s, ast *a, const char *sql, store_tree tree, table **out,
                            char **err) {
    table *t = sqli_ar_alloc(&s->ar, sizeof *t);
    t->name = sqli_ar_strdup(&s->ar, a->table);
    t->sql = sqli_ar_strdup(&s->ar, sql);
    t->tree = tree;
    t->pk.tree = tree;
    t->nrow_est = -1;
    if (a->ncoldefs > SQL_MAX_COLUMNS) return fail(err, &s->ar, "too many columns on %s", t->name);
    int rc = build_columns(s, t, a, err);
    if (rc == SQL_OK) rc = build_pk(s, t, a, err);
    if (rc == SQL_OK) rc = build_uniques(s, t, a, err);
    if (rc == SQL_OK) rc = build_constraints(s, t, a, err);
    if (rc == SQL_OK) rc = resolve_table_exprs(s, t, err);
    if (rc != SQL_OK) return rc;
    *out = t;
    return SQL_OK;
}

int sqli_schema_build_index(schema *s, ast *a, const char *sql, store_tree tree, index_t **out,
                            char **err) {
    table *t = sqli_schema_table(s, a->table);
    if (!t || t->is_schema) return fail(err, &s->ar, "no such table: %s", a->table);
    index_t *x = sqli_ar_alloc(&s->ar, sizeof *x);
    x->name = sqli_ar_strdup(&s->ar, a->name);
    x->sql = sqli_ar_strdup(&s->ar, sql);
    x->tab = t;
    x->tree = tree;
    x->unique = a->unique;
    x->ncol = a->nicols;
    x->cols = sqli_ar_alloc(&s->ar, sizeof(int) * (size_t)x->ncol);
    x->desc = sqli_ar_alloc(&s->ar, (size_t)x->ncol);
    for (int k = 0; k < a->nicols; k++) {
        int c = sqli_table_column(t, a->icols[k].name);
        if (c < -1) return fail(err, &s->ar, "no such column: %s", a->icols[k].name);
        x->cols[k] = c;
        x->desc[k] = (uint8_t)a->icols[k].desc;
    }
    x->ninc = a->ninclude;
    x->inc = sqli_ar_alloc(&s->ar, sizeof(int) * (size_t)(x->ninc + 1));
    for (int k = 0; k < a->ninclude; k++) {
        int c = sqli_table_column(t, a->include[k]);
        if (c < 0) return fail(err, &s->ar, "no such column: %s", a->include[k]);
        x->inc[k] = c;
    }
    if (a->fulltext) { /* fts.c: text columns, one full-text index per table */
        if (a->unique || a->ninclude || a->iwhere)
            return fail(err, &s->ar, "a full-text index takes no %s", "UNIQUE, INCLUDE or WHERE");
        if (t->fts && t->fts != x)
            return fail(err, &s->ar, "table %s already has a full-text index", t->name);
        if (x->ncol > 64)
            return fail(err, &s->ar, "a full-text index has at most %s columns", "64");
        for (int k = 0; k < x->ncol; k++) {
            if (x->cols[k] < 0)
                return fail(err, &s->ar, "a full-text index holds columns, not the %s", "rowid");
            if (x->desc[k]) return fail(err, &s->ar, "a full-text index has no %s columns", "DESC");
        }
    }
    if (a->iwhere) {
        x->where = a->iwhere;
        x->where_text = sqli_ar_strndup(&s->ar, sql + a->iwhere->pos,
                                        (size_t)(a->iwhere->end - a->iwhere->pos));
        if (sqli_resolve_standalone(&s->ar, x->where, t, err) != SQL_OK) return SQL_ERROR;
    }
    *out = x;
    return SQL_OK;
}

/* ---- foreign key resolution ----------------------------------------------------------- */

/* The index of table p whose key columns are exactly the set cols[0..n). */
static index_t *key_index(table *p, const int *cols, int n) {
    index_t *cands[64];
    int nc = 0;
    cands[nc++] = &p->pk;
    for (index_t *x = p->indexes; x && nc < 64; x = x->next)
        if (x->unique && !x->where) cands[nc++] = x;
    for (int i = 0; i < nc; i++) {
        index_t *x = cands[i];
        if (x->ncol != n) continue;
        int ok = 1;
        for (int k = 0; k < n && ok; k++) {
            int found = 0;
            for (int j = 0; j < n; j++) found |= x->cols[j] == cols[k];
            ok = found;
        }
        if (ok) return x;
    }
    return NULL;
}

static void resolve_fk(schema *s, fkey *f) {
    table *p = sqli_schema_table(s, f->ptab);
    if (!p || p->is_schema) return;
    int *pc = sqli_ar_alloc(&s->ar, sizeof(int) * (size_t)f->ncol);
    if (f->pcolnames) {
        for (int k = 0; k < f->ncol; k++) {
            pc[k] = sqli_table_column(p, f->pcolnames[k]);
            if (pc[k] < 0) return;
        }
    } else {
        if (p->rowid || p->pk.ncol != f->ncol) return;
        for (int k = 0; k < f->ncol; k++) pc[k] = p->pk.cols[k];
    }
    index_t *x = key_index(p, pc, f->ncol);
    if (!x) return;
    /* order the pairs by the parent index's columns, so a parent key is built
     * by walking ccols */
    int *cc = sqli_ar_alloc(&s->ar, sizeof(int) * (size_t)f->ncol);
    int *pp = sqli_ar_alloc(&s->ar, sizeof(int) * (size_t)f->ncol);
    for (int j = 0; j < f->ncol; j++)
        for (int k = 0; k < f->ncol; k++)
            if (pc[k] == x->cols[j]) {
                cc[j] = f->ccols[k];
                pp[j] = pc[k];
            }
    f->ccols = cc;
    f->pcols = pp;
    f->parent = p;
    f->pidx = x;
}

void sqli_schema_link(schema *s) {
    for (int i = 0; i < s->ntab; i++) s->tabs[i]->refs = NULL;
    for (int i = 0; i < s->ntab; i++) {
        table *t = s->tabs[i];
        for (int k = 0; k < t->nfk; k++) {
            fkey *f = &t->fks[k];
            f->parent = NULL;
            f->pidx = NULL;
            resolve_fk(s, f);
            if (!f->parent) {
                /* still listed under a parent by name, so that the parent's
                 * deletes find it (as a mismatch) */
                table *p = sqli_schema_table(s, f->ptab);
                if (!p || p->is_schema) continue;
                f->next_in_parent = p->refs;
                p->refs = f;
                continue;
            }
            f->next_in_parent = f->parent->refs;
            f->parent->refs = f;
        }
    }
}

/* ---- loading -------------------------------------------------------------------------- */

typedef struct catent {
    char type[16];
    char *name, *sql, *tbl;
    int64_t root;
    sql_value *stat;
    int nstat;
} catent;

static int read_entry(schema *s, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl,
                      catent *e) {
    size_t pos = 0;
    sql_value a, b;
    if (sqli_key_get(k, kl, &pos, 0, &a) || a.type != SQL_TEXT ||
        sqli_key_get(k, kl, &pos, 0, &b) || b.type != SQL_TEXT || a.n >= sizeof e->type) {
        return -1;
    }
    memcpy(e->type, a.z, a.n);
    e->type[a.n] = 0;
    e->name = sqli_ar_strndup(&s->ar, b.z, b.n);
    val_free(&a);
    val_free(&b);
    int n = sqli_rec_count(v, vl);
    if (n < 0) return -1;
    sql_value *vals = sqli_ar_alloc(&s->ar, sizeof *vals * (size_t)(n ? n : 1));
    int sh;
    if (sqli_rec_decode(v, vl, n, vals, &sh) != 0) return -1;
    if (strcmp(e->type, "stat") == 0) {
        e->stat = vals;
        e->nstat = n;
        return 0;
    }
    if (n < 3 || vals[0].type != SQL_TEXT || vals[1].type != SQL_INTEGER ||
        vals[2].type != SQL_TEXT)
        return -1;
    e->sql = sqli_ar_strndup(&s->ar, vals[0].z, vals[0].n);
    e->root = vals[1].u.i;
    e->tbl = sqli_ar_strndup(&s->ar, vals[2].z, vals[2].n);
    return 0;
}

static int parse_def(schema *s, const char *sql, ast **out, char **err) {
    int next, empty, errpos, np;
    char **pn;
    char *perr;
    *out = sqli_parse_statement(&s->ar, sql, (int)strlen(sql), 0, &next, &empty, &perr, &errpos,
                                &np, &pn);
    if (!*out) {
        *err = sqli_ar_printf(&s->ar, "malformed schema entry: %s", perr ? perr : "empty");
        return SQL_CORRUPT;
    }
    return SQL_OK;
}

static int load_table(schema *s, catent *e, char **err) {
    ast *a;
    table *t;
    int rc = parse_def(s, e->sql, &a, err);
    if (rc == SQL_OK && a->kind != ST_CREATE_TABLE) rc = SQL_CORRUPT;
    if (rc == SQL_OK) rc = sqli_schema_build_table(s, a, e->sql, (store_tree)e->root, &t, err);
    if (rc == SQL_OK && s->loading_temp) {
        t->temp = 1;
        t->tree |= TEMP_TREE;
        t->pk.tree |= TEMP_TREE;
    }
    if (rc == SQL_OK) add_table(s, t);
    return rc;
}

static int load_index(schema *s, catent *e, char **err) {
    table *t = sqli_schema_table(s, e->tbl);
    if (!t) {
        *err = sqli_ar_printf(&s->ar, "malformed schema: index %s of missing table %s", e->name,
                              e->tbl);
        return SQL_CORRUPT;
    }
    if (e->sql[0] == 0) { /* made from a UNIQUE constraint */
        for (index_t *x = t->indexes; x; x = x->next)
            if (x->auto_made && sqli_name_eq(x->name, e->name)) {
                x->tree = (store_tree)e->root | (s->loading_temp ? TEMP_TREE : 0);
                return SQL_OK;
            }
        *err = sqli_ar_printf(&s->ar, "malformed schema: unknown constraint index %s", e->name);
        return SQL_CORRUPT;
    }
    ast *a;
    index_t *x;
    int rc = parse_def(s, e->sql, &a, err);
    if (rc == SQL_OK && a->kind != ST_CREATE_INDEX) rc = SQL_CORRUPT;
    if (rc == SQL_OK) rc = sqli_schema_build_index(s, a, e->sql, (store_tree)e->root, &x, err);
    if (rc == SQL_OK && s->loading_temp) x->tree |= TEMP_TREE;
    if (rc == SQL_OK && a->fulltext)
        t->fts = x;
    else if (rc == SQL_OK)
        append_index(t, x);
    return rc;
}

int sqli_schema_build_trigger(schema *s, ast *a, const char *sql, trigger **out, char **err) {
    table *t = sqli_schema_table_db(s, a->table, a->dbq);
    if (!t || t->is_schema) return fail(err, &s->ar, "no such table: %s", a->table);
    trigger *g = sqli_ar_alloc(&s->ar, sizeof *g);
    g->name = sqli_ar_strdup(&s->ar, a->name);
    g->sql = sqli_ar_strdup(&s->ar, sql);
    g->tab = t;
    g->timing = a->timing;
    g->event = a->event;
    g->def = a;
    g->nof_cols = a->nof_cols;
    g->of_cols = sqli_ar_alloc(&s->ar, sizeof(int) * (size_t)(a->nof_cols + 1));
    for (int k = 0; k < a->nof_cols; k++) {
        g->of_cols[k] = sqli_table_column(t, a->of_cols[k]);
        if (g->of_cols[k] < 0) return fail(err, &s->ar, "no such column: %s", a->of_cols[k]);
    }
    *out = g;
    return SQL_OK;
}

static int load_trigger(schema *s, catent *e, char **err) {
    ast *a;
    trigger *g;
    int rc = parse_def(s, e->sql, &a, err);
    if (rc == SQL_OK && a->kind != ST_CREATE_TRIGGER) rc = SQL_CORRUPT;
    if (rc == SQL_OK) rc = sqli_schema_build_trigger(s, a, e->sql, &g, err);
    if (rc == SQL_OK) {
        g->temp = s->loading_temp;
        trigger **pp = &g->tab->triggers;
        while (*pp) pp = &(*pp)->next;
        *pp = g;
    }
    return rc;
}

static int load_view(schema *s, catent *e, char **err) {
    return sqli_schema_add_view(s, e->sql, 0, err);
}

static void load_stat(schema *s, catent *e) {
    table *t = sqli_schema_table(s, e->name);
    index_t *x = t && !t->is_schema ? &t->pk : sqli_schema_index(s, e->name, &t);
    if (!x || e->nstat < 1) return;
    x->stat = sqli_ar_alloc(&s->ar, sizeof(int64_t) * (size_t)(x->ncol + 1));
    for (int k = 0; k <= x->ncol; k++) x->stat[k] = k < e->nstat ? sqli_val_int(&e->stat[k]) : 1;
    if (x->is_pk) t->nrow_est = x->stat[0];
}

static table *make_schema_table(schema *s);

table *sqli_schema_table_db(schema *s, const char *name, int dbq) {
    if (sqli_name_eq(name, "sqlite_temp_schema") || sqli_name_eq(name, "sqlite_temp_master") ||
        (dbq == 2 && (sqli_name_eq(name, "larder_schema") || sqli_name_eq(name, "sqlite_schema") ||
                      sqli_name_eq(name, "sqlite_master")))) {
        if (!s->temp_schema_tab) {
            s->temp_schema_tab = make_schema_table(s);
            s->temp_schema_tab->name = "sqlite_temp_schema";
            s->temp_schema_tab->is_schema = SYS_TEMP_SCHEMA;
        }
        return s->temp_schema_tab;
    }
    return table_db(s, name, dbq);
}

static table *make_schema_table(schema *s) {
    static const char *names[5] = {"type", "name", "tbl_name", "rootpage", "sql"};
    static const char *types[5] = {"TEXT", "TEXT", "TEXT", "INT", "TEXT"};
    table *t = sqli_ar_alloc(&s->ar, sizeof *t);
    t->name = "larder_schema";
    t->sql = "";
    t->is_schema = SYS_SCHEMA;
    t->ncol = 5;
    t->cols = sqli_ar_alloc(&s->ar, sizeof *t->cols * 5);
    for (int i = 0; i < 5; i++) {
        t->cols[i].name = (char *)names[i];
        t->cols[i].decl = (char *)types[i];
        sqli_type_affinity(types[i], &t->cols[i].aff, &t->cols[i].kind, NULL, NULL);
    }
    t->rowid = 1;
    t->ipk = -1;
    t->nrow_est = -1;
    t->pk.ncol = 1;
    t->pk.cols = sqli_ar_alloc(&s->ar, sizeof(int));
    t->pk.cols[0] = -1;
    t->pk.desc = sqli_ar_alloc(&s->ar, 1);
    t->pk.is_pk = 1;
    t->pk.tab = t;
    t->pk.name = t->name;
    return t;
}

static int load_entries(store_txn *txn, schema *s, catent **ents, int *nent) {
    store_cursor *c;
    int rc = sqli_store_cursor_open(txn, STORE_CATALOG, &c), cap = 0;
    *ents = NULL;
    *nent = 0;
    if (rc != STORE_OK) return rc;
    rc = sqli_store_cursor_seek(c, STORE_SEEK_FIRST, NULL, 0);
    while (rc == STORE_OK) {
        const void *k, *v;
        size_t kl, vl;
        rc = sqli_store_cursor_key(c, &k, &kl);
        if (rc == STORE_OK) rc = sqli_store_cursor_value(c, &v, &vl);
        if (rc != STORE_OK) break;
        if (*nent == cap) {
            cap = cap ? cap * 2 : 32;
            *ents = xrealloc(*ents, sizeof **ents * (size_t)cap);
        }
        catent *e = &(*ents)[*nent];
        memset(e, 0, sizeof *e);
        if (read_entry(s, k, kl, v, vl, e) != 0) {
            sqli_store_cursor_close(c);
            return STORE_CORRUPT;
        }
        (*nent)++;
        rc = sqli_store_cursor_next(c);
    }
    sqli_store_cursor_close(c);
    return rc == STORE_NOTFOUND ? STORE_OK : rc;
}

static int load_kind(schema *s, catent *ents, int n, const char *type,
                     int (*fn)(schema *, catent *, char **), char **err) {
    for (int i = 0; i < n; i++) {
        if (strcmp(ents[i].type, type) != 0) continue;
        int rc = fn(s, &ents[i], err);
        if (rc != SQL_OK) return rc;
    }
    return SQL_OK;
}

int sqli_schema_load(store_txn *txn, schema **out, char **err) {
    schema *s = xcalloc(1, sizeof *s);
    s->refs = 1;
    s->schema_tab = make_schema_table(s);
    s->stat_tab = sqli_usage_table(s);
    catent *ents;
    int n, rc;
    *err = NULL;
    rc = sqli_store_meta_get(txn, 0, &s->cookie);
    if (rc == STORE_OK) rc = load_entries(txn, s, &ents, &n);
    if (rc != STORE_OK) {
        *err = xstrdup(sqli_store_errmsg()[0] ? sqli_store_errmsg() : sqli_store_strerror(rc));
        sqli_schema_unref(s);
        return sqli_rc_from_store(rc);
    }
    char *e = NULL;
    rc = load_kind(s, ents, n, "table", load_table, &e);
    if (rc == SQL_OK) rc = load_kind(s, ents, n, "index", load_index, &e);
    if (rc == SQL_OK) rc = load_kind(s, ents, n, "trigger", load_trigger, &e);
    if (rc == SQL_OK) rc = load_kind(s, ents, n, "view", load_view, &e);
    if (rc == SQL_OK)
        for (int i = 0; i < n; i++)
            if (strcmp(ents[i].type, "stat") == 0) load_stat(s, &ents[i]);
    xfree(ents);
    if (rc != SQL_OK) {
        *err = xstrdup(e ? e : "malformed schema");
        sqli_schema_unref(s);
        return rc == SQL_ERROR ? SQL_CORRUPT : rc;
    }
    sqli_schema_link(s);
    *out = s;
    return SQL_OK;
}

void sqli_schema_unref(schema *s) {
    if (!s || --s->refs > 0) return;
    sqli_ar_free(&s->ar);
    xfree(s);
}

int sqli_schema_load_temp(store_txn *txn, schema *s, char **err) {
    catent *ents;
    int n, rc = load_entries(txn, s, &ents, &n);
    if (rc != STORE_OK) {
        *err = xstrdup(sqli_store_strerror(rc));
        return sqli_rc_from_store(rc);
    }
    char *e = NULL;
    s->loading_temp = 1;
    rc = load_kind(s, ents, n, "table", load_table, &e);
    if (rc == SQL_OK) rc = load_kind(s, ents, n, "index", load_index, &e);
    if (rc == SQL_OK) rc = load_kind(s, ents, n, "trigger", load_trigger, &e);
    s->loading_temp = 0;
    xfree(ents);
    if (rc != SQL_OK) {
        *err = xstrdup(e ? e : "malformed temp schema");
        return rc;
    }
    sqli_schema_link(s);
    return SQL_OK;
}
