/* sql/sqlrt.h — compiler, plan and runtime structures of the SQL front end
 * (not an API; see sqlint.h for the file map).
 *
 * Compilation of a statement:
 *   parse (AST) -> resolve (names to cursors/columns, '*', aggregates)
 *   -> plan (qplan per query block: loops with access paths in join order;
 *      dmlplan for INSERT/UPDATE/DELETE) -> run (vm: cursors + values).
 * Cursor numbers are global within a statement (its subqueries and trigger
 * programs included), so a correlated subquery reads an outer cursor's current
 * row directly.
 */
#ifndef LARDER_SQL_SQLRT_H
#define LARDER_SQL_SQLRT_H
#include "sql/sqlint.h"

#define CUR_SELF (-2) /* column of the row being checked (CHECK, partial index) */

typedef struct vm vm;
typedef struct cursor cursor;
typedef struct loop loop;
typedef struct dmlplan dmlplan;
typedef struct trigprog trigprog;

int sqli_rc_from_store(int store_rc);

/* ---- the connection's temp store (temp.c) ---- */
/* The transaction tree is read and written through: the temp store's for a
 * TEMP_TREE tree, else the statement's. */
store_txn *sqli_txn_for(vm *v, store_tree tree);
static inline store_tree sqli_tree_id(store_tree t) {
    return t & ~TEMP_TREE;
}
int sqli_temp_open(vm *v);                           /* the temp store, made on first use */
int sqli_temp_savepoint(sql_db *db);                 /* its level, 0 when there is no temp store */
void sqli_temp_end(sql_db *db, int level, int keep); /* release, or roll back and release */
void sqli_temp_rollback_to(sql_db *db, int level);   /* keep it open */
void sqli_temp_close(sql_db *db);
int sqli_table_column(table *t, const char *name); /* -1 rowid, -2 none */
void sqli_schema_link(schema *s);
int sqli_schema_build_trigger(schema *s, ast *a, const char *sql, trigger **out, char **err);

/* ==== functions (func.c) ================================================== */
enum agg_kind {
    AGG_COUNT = 1,
    AGG_COUNT_STAR,
    AGG_SUM,
    AGG_TOTAL,
    AGG_AVG,
    AGG_MIN,
    AGG_MAX,
    AGG_GROUP_CONCAT,
    AGG_JSON_ARRAY, /* json_group_array */
    AGG_JSON_OBJECT /* json_group_object */
};
#define FN_VOLATILE 0x01 /* random(), now(), uuid7(): never constant-folded */
#define FN_FTS 0x02      /* match(), bm25(), highlight(), snippet(): run by fts.c */
struct func_def {
    const char *name;
    int nmin, nmax; /* argument count range; nmax -1 = any */
    int agg;        /* enum agg_kind, 0 for scalar */
    int flags;
    int (*fn)(vm *v, int argc, sql_value *argv, sql_value *out);
};
const func_def *sqli_func_find(const char *name, int nargs, int *name_known);

typedef struct agg_state {
    int64_t count;
    int64_t isum;
    double rsum;
    int64_t dsum; /* decimal mantissa at dscale */
    int dscale;
    int kind; /* 0 none yet, 1 int, 2 real, 3 decimal */
    int overflow;
    int ioverflow;  /* an integer addition overflowed: sum() fails, as in SQLite */
    sql_value best; /* min/max (owned) */
    strb gc;        /* group_concat */
    bmap *distinct;
} agg_state;
int sqli_agg_step(vm *v, const expr *e, agg_state *s, sql_value *args, int nargs);
int sqli_agg_final(vm *v, const expr *e, agg_state *s, sql_value *out); /* sum: integer overflow */
void sqli_agg_reset(agg_state *s);

/* ==== compiler ============================================================ */
typedef struct curdef {
    table *tab; /* NULL for a subquery / pseudo row */
    int ncol;
} curdef;

typedef struct pseudo_tab { /* NEW / OLD / excluded / the DML target */
    const char *name;
    table *tab;
    int cur;
} pseudo_tab;

typedef struct scope {
    struct scope *outer;
    query *q;
    srcitem *src;
    int nsrc;
    pseudo_tab pseudo[3];
    int npseudo;
    int allow_agg;
    int allow_win;   /* result columns and ORDER BY: window functions */
    int use_aliases; /* WHERE, HAVING, ORDER BY: names may be q's result aliases */
} scope;

typedef struct compiler {
    sql_db *db;
    schema *sch;
    arena *a;
    const char *sql;
    curdef *curs;
    int ncur, capcur;
    char *err;
    int errpos;
    int nsubq;       /* subqueries numbered for EXPLAIN */
    int in_trigger;  /* compiling a trigger program: no subquery caching */
    view *views[32]; /* views being expanded, innermost last (circular definitions) */
    int nviews;
    struct with_scope *with; /* WITH clauses in scope, innermost first */
    struct cte_use *ctes;    /* CTEs being expanded, innermost first */
    int main_only;           /* compiling a main view or trigger: names are main's, never temp's */
    struct tabref *tabs;     /* base tables the statement reads / writes (xmalloc'd) */
    int ntabs, captabs;
    /* ALTER TABLE RENAME COLUMN: the references to column rn_name of rn_tab
     * that resolution meets in the text rn_sql (not in a view it expands)
     * are noted, as the positions of their name tokens; RENAME TO (rn_name
     * NULL): the names of table rn_tab (FROM items, qualifiers) */
    table *rn_tab;
    const char *rn_name, *rn_sql;
    int *rn_pos;
    int rn_n, rn_cap;
} compiler;

/* A base table the compiled statement touches (sql_stmt_tables); the name
 * is the schema's. */
typedef struct tabref {
    const char *name;
    int flags; /* SQL_TABLE_READ | SQL_TABLE_WRITE */
} tabref;
/* Notes that the statement being compiled reads or writes table name
 * (triggers compiled at run time are not noted). */
void sqli_note_table(compiler *c, const char *name, int flags);

/* cte.c: WITH clauses in scope, and the CTEs whose copies are being
 * resolved (a name met again is a recursive reference or a cycle). */
typedef struct with_scope {
    with_clause *w;
    struct with_scope *outer;
} with_scope;
typedef struct cte_use {
    cte *def;
    query *body;   /* the copy being resolved */
    query *step;   /* its right arm, when the body can be "setup UNION [ALL] step" */
    srcitem *self; /* the step's reference to the CTE, once met */
    struct cte_use *outer;
} cte_use;
void sqli_with_push(compiler *c, with_scope *ws, with_clause *w);
expr *sqli_expr_copy(arena *a, const expr *e);         /* deep, of a parsed expression */
int sqli_win_resolve(compiler *c, expr *e, scope *sc); /* window.c: a call with OVER */
/* it names a CTE in scope: resolve it as a derived table (or the recursive
 * reference). 1 done, 0 no CTE of that name, -1 error. */
int sqli_cte_expand(compiler *c, query *q, srcitem *it);
/* resolve.c, for cte.c: a derived table's columns (the names given, or
 * f's result names made unique) and its resolution; w: the view it is. */
int sqli_derived_names(compiler *c, srcitem *it, const query *f, char **cols, int ncols,
                       const view *w);
int sqli_resolve_derived(compiler *c, srcitem *it, query *q, char **cols, int ncols, const view *w);

int sqli_comp_error(compiler *c, int pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int sqli_comp_cursor(compiler *c, table *tab, int ncol);

/* resolve.c */
int sqli_resolve_query(compiler *c, query *q, scope *outer);
/* ALTER TABLE RENAME COLUMN: note the token at pos for rewriting (compiler rn_*). */
void sqli_rename_note(compiler *c, int pos);
/* The position of the last name of the qualified name (main.t) at pos. */
int sqli_qname_last(const char *sql, int pos);
int sqli_resolve_expr(compiler *c, expr *e, scope *sc);
/* DEFAULT/CHECK/partial WHERE: columns of t (CUR_SELF), no subqueries. */
int sqli_resolve_standalone(arena *a, expr *e, table *t, char **err);
/* A generated column's expression: as standalone, and no subquery or
 * non-deterministic function. */
int sqli_resolve_generated(arena *a, expr *e, table *t, char **err);
int sqli_expr_is_const(const expr *e);
int sqli_expr_equal(const expr *a, const expr *b);
/* Column name of an expression as a result column. */
char *sqli_expr_name(compiler *c, const expr *e);
int sqli_expr_affinity(const expr *e);

/* ==== plans =============================================================== */
/* A buffer of rows: each row one allocation holding a sort key, values and
 * their bytes. */
typedef struct rowbuf {
    uint8_t **rows;
    size_t n, cap;
    int ncol;
} rowbuf;
void sqli_rowbuf_add(rowbuf *b, const uint8_t *key, size_t klen, const sql_value *vals, int n);
void sqli_rowbuf_row(const rowbuf *b, size_t i, const sql_value **vals, const uint8_t **key,
                     size_t *klen);
void sqli_rowbuf_sort(rowbuf *b);
int sqli_rowbuf_ncols(const rowbuf *b, size_t i);
void sqli_rowbuf_clear(rowbuf *b);

/* ACC_HASH: a hash table of the table's rows keyed by hcol, built on the
 * loop's first open, probed by eq on every open (plan.c, hash_path).
 * ACC_QUEUE: a recursive CTE's own name in its step (the row being expanded). */
enum access {
    ACC_ONE = 1,
    ACC_SCAN,
    ACC_SEARCH,
    ACC_EPHEM,
    ACC_SCHEMA,
    ACC_HASH,
    ACC_QUEUE,
    ACC_FUNC, /* json_each / json_tree: rows made from its arguments at each open */
    ACC_FTS   /* the rows a full-text query finds (fts.c), by fts_match */
};

struct loop {
    srcitem *src;
    int cur;
    table *tab;
    qplan *sub; /* derived table */
    int access;
    index_t *idx; /* ACC_SCAN/ACC_SEARCH: tree walked (&tab->pk or an index) */
    int covering;
    int nocols; /* covering, and no column of it is read beyond the terms it seeks by */
    int onerow; /* ACC_SEARCH with every primary key column bound: one row at most per key */
    int neq;
    expr **eq; /* values for the first neq key columns */
    uint8_t *eqaff;
    uint8_t *eqis; /* IS (matches NULL) rather than = */
    expr *lo, *hi; /* range on key column neq */
    int lo_incl, hi_incl;
    uint8_t range_aff;
    int in_term; /* 1 + key position fed by an IN list (its values iterated), 0 */
    expr *in_expr;
    int reverse;
    expr **filters;
    int nfilter;
    expr **onf; /* LEFT JOIN: ON terms deciding a match */
    int non;
    int *hcol;       /* ACC_HASH: table column of each key part */
    expr **hfilters; /* ACC_HASH: single-table terms, checked while building */
    int nhfilter;
    int left;
    double nrow; /* estimated rows per open */
    double cost;
    char *explain;
    /* runtime */
    keyenc_buf k_lo, k_hi;
    int has_hi;
    int hi_block; /* the upper bound is k_lo FF, checked as a prefix (k_hi not built) */
    int seeked;
    sql_value *eqv; /* evaluated eq values */
    sql_value lov, hiv;
    int stream;  /* ACC_EPHEM as the first loop: sub's rows read as produced, not kept */
    rowbuf *mat; /* ACC_EPHEM / ACC_SCHEMA rows */
    int mat_done;
    int opened, exhausted, matched, null_done;
    int nullrow;
    size_t ephem_pos;
    sql_value *in_vals;
    int in_n, in_pos;
    int in_fixed; /* in_vals hold the list's values for this whole run */
    /* EXPLAIN ANALYZE: opens, rows passing the filters, time spent in this
     * loop (nanoseconds, counted only while vm.analyze) */
    uint64_t st_loops, st_rows, st_ns;
    bmap *hmap;          /* ACC_HASH: key -> 1 + first row in mat */
    size_t *hnext;       /* ACC_HASH: per row in mat, 1 + next row of the same key, 0 */
    expr *fts_match;     /* ACC_FTS: the MATCH term it runs */
    struct fts_run *fts; /* ACC_FTS: the query's rows (fts.c) */
};

typedef struct group group;

struct qplan {
    query *q;
    int op; /* SEL_*: compound when not SEL_SIMPLE */
    qplan *left, *right;
    int nloop;
    loop *loops;
    expr **cfilters; /* WHERE terms without columns of this block */
    int ncf;
    int ncol;
    expr **res;
    int agg;
    int ngroup;
    expr **group;
    int naggs;
    expr **aggs;
    int sort; /* materialize and sort the output */
    int nkey;
    expr **keys;
    uint8_t *kdesc, *knulls;
    int *kres; /* ORDER BY term -> result column (0-based), -1 = expression */
    int distinct;
    expr *limit, *offset;
    int *lvl_curs; /* cursors of this block (agg capture) */
    int nlvl_curs;
    int values_rows; /* VALUES: row count */
    int subno;       /* number for EXPLAIN */
    int nocache;     /* re-run even when uncorrelated (inside triggers) */
    int eqp_order_temp, eqp_group_temp, eqp_distinct_temp;
    /* runtime */
    int phase;
    sql_value *out;
    rowbuf rb;
    size_t rbpos;
    bmap dset;
    int64_t lim, off, nemit;
    int64_t topk; /* ORDER BY + LIMIT: rows kept while sorting, 0 = all */
    uint64_t seq; /* arrival number of sorted rows (ties keep their order) */
    int level;
    int started;
    int values_pos;
    group *cur_group;
    bmap *rset;          /* INTERSECT / EXCEPT: rows of the right side */
    sql_value *aggvals;  /* the current group's aggregate results */
    loop *rec_loop;      /* recursive CTE: the step's ACC_QUEUE loop */
    struct cte_run *rec; /* recursive CTE: queue and seen rows (cte.c) */
    int nwin;            /* window functions of the block (E_WIN by slot) */
    expr **wins;
    sql_value *winvals;  /* the current row's window values */
    struct win_run *wrt; /* captured rows and results (window.c) */
};
/* window.c */
int sqli_win_only(const char *name); /* row_number() & co.: only with OVER */
/* Does window w of wins sort rows (the first of the windows that sort alike:
 * one sort serves them all)? */
int sqli_win_sorts(expr *const *wins, int w);
int sqli_win_capture(vm *v, qplan *p);
int sqli_win_prepare(vm *v, qplan *p); /* every output row into p->rb */
void sqli_win_close(qplan *p);
/* cte.c: the next row of a recursive CTE (p->q->recursive); its state. */
int sqli_cte_next(vm *v, qplan *p);
void sqli_cte_close(qplan *p);

/* Planner entry points (plan.c). */
int sqli_plan_query(compiler *c, query *q, qplan **out);
int sqli_plan_dml_scan(compiler *c, table *t, int cur, expr *where, qplan **out);
/* EXPLAIN rows (id, parent, notused, detail) of a plan. EQP_ANALYZE adds
 * rows, loops and time_ms from the loops' counters (NULL for nodes that are
 * no loop); EQP_RESET emits nothing and zeroes those counters. */
enum { EQP_PLAIN = 0, EQP_ANALYZE, EQP_RESET };
void sqli_plan_explain(qplan *p, rowbuf *rb, int *id, int parent, int mode);
void sqli_explain_dml(dmlplan *d, rowbuf *rb, int *id, int mode);

/* ==== runtime ============================================================= */
/* ROW_FTS: a full-text loop's row, known by its key; the record is read on
 * first use (sqli_fts_load_row), so count(*) reads no row. */
enum { ROW_NONE = 0, ROW_LAZY, ROW_READY, ROW_NULL, ROW_FTS };

struct cursor {
    table *tab;
    int ncol;
    sql_value *vals; /* ncol + 1: [ncol] is the rowid */
    int state;
    const uint8_t *rec;
    size_t reclen;
    const uint8_t *key; /* table key of the current row */
    size_t klen;
    store_cursor *sc; /* on the tree the loop walks */
    store_cursor *tc; /* on the table, for index lookups */
    store_tree sc_tree, tc_tree;
    keyenc_buf kb;     /* copy of the table key when reading through an index */
    sql_value *pseudo; /* ROW_READY rows set from outside */
    int norowid;       /* pseudo rows of a derived table or larder_schema: ncol values, no rowid */
    struct fts_run *fts; /* the full-text query that found the row (bm25 & co.), or NULL */
};

typedef struct savepoint_ent {
    char *name;
    int level;
    int temp_level; /* its savepoint in the temp store, 0 if that did not exist yet */
} savepoint_ent;

#define RC_IGNORE 1000 /* internal: RAISE(IGNORE) skips the row */

typedef struct vm_subcache {
    void *v; /* subcache[] by subquery number (expr.c) */
    int n;
} vm_subcache;

struct vm {
    sql_db *db;
    sql_stmt *st;
    store_txn *txn;
    cursor **curs;
    int ncur;
    sql_value *params;
    int nparam;
    const sql_value *self; /* CUR_SELF row */
    char *errmsg;
    int errpos;
    int depth;
    int64_t nchange;
    int in_trigger;
    int or_alg; /* conflict algorithm of the running statement */
    strb tmp;
    keyenc_buf kb, kb2, rb; /* scratch keys / records */
    vm_subcache subc;
    int64_t now; /* statement time (microseconds since 1970), 0 until first asked (datetime.c) */
    store_cursor *rowcur[4]; /* cursors on tables for row reads and deletes */
    /* an insert's row array (spare_row_n values, all NULL), kept for the
     * statement's next run (dml.c run_insert); freed by sql_finalize */
    sql_value *spare_row;
    int spare_row_n;
    store_tree rowtree[4];
    int rowcur_next;
    void *fkpend; /* deferred NO ACTION checks (fkey.c) */
    int npend, cappend;
    int analyze;  /* EXPLAIN ANALYZE is running: loops time themselves */
    int ddl_temp; /* the running DDL works on the temp store (ddl.c) */
};

/* ==== index usage statistics (istat.c) ==================================== */
typedef struct usage_stat {
    int64_t scans, rows_read;
    int64_t last_used;                    /* unix seconds of the last scan, 0 none */
    int64_t ent_ins, ent_del;             /* index entries written / removed */
    int64_t rows_ins, rows_upd, rows_del; /* the table's rows (kept on its key) */
} usage_stat;
/* The counters of index x (or of its table's key) in db, made on first use. */
usage_stat *sqli_usage(sql_db *db, index_t *x);
void sqli_usage_scan(sql_db *db, index_t *x); /* one more scan, now */
void sqli_usage_free(sql_db *db);
table *sqli_usage_table(schema *s);     /* the larder_stat_indexes pseudo-table */
int sqli_usage_rows(vm *v, rowbuf *rb); /* its rows */
void sqli_vm_subcache_clear(vm *v);
int sqli_ex_like(const sql_value *pat, const sql_value *str, int glob, int esc);

int sqli_vm_error(vm *v, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int sqli_vm_store_error(vm *v, int src);
cursor *sqli_vm_cursor(vm *v, int cur);
void sqli_vm_close_cursors(vm *v);
void sqli_vm_close_row_cursors(vm *v);

/* exec.c */
const sql_value *sqli_cur_col(vm *v, cursor *c, int col);
int sqli_cur_load_key(vm *v, cursor *c); /* make the current row's table key available */
int sqli_q_open(vm *v, qplan *p);
int sqli_q_next(vm *v, qplan *p); /* SQL_ROW (p->out), SQL_DONE or an error */
/* VALUES row r of p's block into p->out (DEFAULT left NULL): SQL_OK or an error. */
int sqli_q_values_row(vm *v, qplan *p, int r);
void sqli_q_close(vm *v, qplan *p);
int sqli_nl_next(vm *v, qplan *p);
int sqli_q_exact_pk(vm *v, qplan *p, keyenc_buf *out, int *empty, int *rc);
/* Evaluate expressions (expr.c). out must be released with val_free. */
int sqli_ex_eval(vm *v, const expr *e, sql_value *out);
int sqli_ex_truth(vm *v, const expr *e, int *t); /* 1, 0, -1 (NULL) */
int sqli_ex_cmp_values(const sql_value *a, const sql_value *b, int aff, int nocase);
int sqli_cmp_affinity(const expr *l, const expr *r);
/* Build a row's key for index x from full row values (pk appended). */
int sqli_key_for_index(vm *v, keyenc_buf *k, index_t *x, const sql_value *row, const uint8_t *tkey,
                       size_t tklen);
int sqli_key_for_table(vm *v, keyenc_buf *k, table *t, const sql_value *row, int64_t rowid);
/* Does the row's entry in x use the short unique layout (key = columns only,
 * value = table key)? */
int sqli_index_short_entry(const index_t *x, const sql_value *row);
/* Decode a full table row from a record (defaults for missing columns). */
int sqli_row_decode(vm *v, table *t, const uint8_t *rec, size_t len, sql_value *out);

/* ==== DML (dml.c, trigger.c) ============================================== */
struct dmlplan {
    int kind;
    table *tab;
    int cur;  /* target row as a pseudo cursor (NEW values for RETURNING) */
    int xcur; /* excluded */
    int ecur; /* upsert: the existing row */
    /* INSERT */
    int *colmap; /* table column -> source column, -1 default */
    qplan *src;
    int src_reads_target;
    int default_values;
    int or_alg;
    upsert *up;
    index_t *up_idx; /* conflict target (NULL: any) */
    /* UPDATE */
    setitem *sets;
    int nset;
    uint8_t *changed;
    /* UPDATE / DELETE */
    qplan *scan;
    int one_row;
    int key_order; /* UPDATE: change rows in table-key order, not scan order (dml.c) */
    /* RETURNING */
    int nret;
    expr **ret;
    int need_sp;
};

int sqli_compile_dml(compiler *c, ast *a, scope *outer, dmlplan **out);
int sqli_resolve_returning(compiler *c, table *t, int cur, const char *alias, rescol *cols,
                           int ncol, scope *outer, rescol **out, int *nout);
int sqli_table_has_triggers(table *t, int event);
int sqli_run_dml(vm *v, dmlplan *d, rowbuf *returning);
int sqli_row_insert(vm *v, table *t, sql_value *row, int or_alg, int *skipped, int64_t *rowid_out);
/* Compute row's generated columns from its other values (dml.c). */
int sqli_gen_compute(vm *v, table *t, sql_value *row);
int sqli_row_delete(vm *v, table *t, const uint8_t *key, size_t klen);
int sqli_row_update(vm *v, table *t, const uint8_t *key, size_t klen, sql_value *oldrow,
                    sql_value *newrow);
/* Compile trigger g against the connection's current schema (ALTER TABLE's
 * check that it still compiles): SQL_OK, or an error "in trigger NAME: ...". */
int sqli_trigger_check(vm *v, trigger *g);
int sqli_fire_triggers(vm *v, table *t, int event, int timing, const sql_value *oldrow,
                       const sql_value *newrow, const uint8_t *changed, int *ignore);
int sqli_fk_child_check(vm *v, table *t, const sql_value *row, const uint8_t *changed);
int sqli_fk_parent_actions(vm *v, table *t, const sql_value *oldrow, const sql_value *newrow,
                           int is_delete);
int sqli_fk_deferred_check(vm *v);
void sqli_fk_pending_clear(vm *v);
void sqli_report_change(vm *v, table *t, int op, const sql_value *row, const uint8_t *key,
                        size_t klen);

/* ==== connections and statements (api.c) ================================= */
struct sql_db {
    store_db *store;
    char *path;
    unsigned flags;
    schema *sch;
    store_txn *txn;          /* the open write transaction */
    int defer_durable;       /* sql_defer_durable: COMMIT does not wait for the fsync */
    uint32_t durable_target; /* ... the frame to wait for (sql_wait_durable) */
    int explicit_txn;        /* BEGIN ... */
    savepoint_ent *sps;
    int nsp, capsp;
    int errcode;
    char *errmsg;
    int erroff;
    int64_t changes, total_changes, last_insert_id;
    sql_change_fn hook;
    void *hook_ctx;
    int hook_nokey;           /* sql_set_change_hook_nokey: no key values decoded */
    sql_progress_fn progress; /* sql_set_progress_handler */
    void *progress_ctx;
    int progress_n, progress_left;
    int nstmt;
    int fk_enabled;
    int schema_changed; /* the catalog changed in the open transaction */
    int active_reads;   /* statements holding their own read snapshot */
    int nactive;        /* statements running inside db->txn */
    void *fk_pending;   /* NO ACTION checks of the running statement */
    bmap *usage;        /* "table\0index" -> usage_stat (istat.c) */
    char **temp_views;  /* CREATE TEMP VIEW texts (xmalloc'd), added to each loaded schema */
    int ntemp_views;
    int64_t max_recursive_rows; /* rows one recursive CTE may produce; 0 = no limit */
    store_db *temp_store;       /* temp tables (temp.c), NULL until the first */
    store_txn *temp_txn;        /* its one write transaction, open as long as it */
    int temp_base;              /* the temp savepoint of the open BEGIN, 0 if none */
};

struct sql_stmt {
    sql_db *db;
    char *sql;
    arena ar;
    schema *sch;
    compiler comp;
    ast *a;
    int kind;
    int readonly;
    qplan *plan;
    dmlplan *dml;
    int ncol;
    char **colnames;
    char **decltypes;
    sql_value *out; /* current row (borrowed from the plan or results) */
    char **textbuf; /* per column: formatted text */
    size_t *textcap;
    int nparam;
    char **pnames;
    sql_value *params;
    vm v;
    int running;
    int own;     /* 0 none, 1 own read txn, 2 own write txn */
    int splevel; /* statement savepoint inside db->txn, 0 if none */
    int temp_sp; /* the statement's savepoint in the temp store, 0 if none */
    int in_txn;  /* counted in db->nactive */
    int nparam_alloc;
    int ntext;
    store_txn *rtxn;
    rowbuf results;
    size_t respos;
    int materialized;
    trigprog *trigs; /* compiled trigger programs */
    strb outbuf;
    double plan_ms; /* parsing and planning time of the last compile */
};

int sqli_db_error(sql_db *db, int rc, int off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int sqli_db_reload_schema(sql_db *db, store_txn *txn);
int sqli_run_ddl(vm *v, sql_stmt *st);
int sqli_run_pragma(vm *v, sql_stmt *st, rowbuf *rb);
int sqli_compile_pragma(sql_stmt *st);
int sqli_schema_rows(vm *v, rowbuf *rb, int temp); /* ddl.c: the main or the temp catalog */
int sqli_run_agg(vm *v, qplan *p);                 /* agg.c */
int sqli_agg_emit_row(vm *v, qplan *p);            /* exec.c: distinct + sort key + buffer */
int sqli_q_block_next(vm *v, qplan *p);            /* exec.c */
int sqli_emit_row(vm *v, qplan *p);                /* exec.c: result columns, DISTINCT, buffer */
int sqli_func_table_sorted(void);                  /* func.c: 1 when the table is sorted */
/* datetime.c: the date and time functions of func.c's table */
int sqli_f_now(vm *v, int argc, sql_value *a, sql_value *out);
int sqli_f_uuid7(vm *v, int argc, sql_value *a, sql_value *out);
int sqli_f_date(vm *v, int argc, sql_value *a, sql_value *out);
int sqli_f_time(vm *v, int argc, sql_value *a, sql_value *out);
int sqli_f_datetime(vm *v, int argc, sql_value *a, sql_value *out);
int sqli_f_julianday(vm *v, int argc, sql_value *a, sql_value *out);
/* json.c */
int sqli_f_json(vm *v, int argc, sql_value *a, sql_value *out);
int sqli_f_json_valid(vm *v, int argc, sql_value *a, sql_value *out);
int sqli_f_json_type(vm *v, int argc, sql_value *a, sql_value *out);
int sqli_f_json_array_length(vm *v, int argc, sql_value *a, sql_value *out);
int sqli_f_json_extract(vm *v, int argc, sql_value *a, sql_value *out);
int sqli_f_json_quote(vm *v, int argc, sql_value *a, sql_value *out);
int sqli_f_json_array(vm *v, int argc, sql_value *a, sql_value *out);
int sqli_f_json_object(vm *v, int argc, sql_value *a, sql_value *out);
int sqli_f_json_arrow(vm *v, int argc, sql_value *a, sql_value *out);  /* x -> p */
int sqli_f_json_arrow2(vm *v, int argc, sql_value *a, sql_value *out); /* x ->> p */
int sqli_f_json_set(vm *v, int argc, sql_value *a, sql_value *out);
int sqli_f_json_insert(vm *v, int argc, sql_value *a, sql_value *out);
int sqli_f_json_replace(vm *v, int argc, sql_value *a, sql_value *out);
int sqli_f_json_remove(vm *v, int argc, sql_value *a, sql_value *out);
int sqli_f_json_patch(vm *v, int argc, sql_value *a, sql_value *out);
/* The rows of json_each (tree 0) or json_tree (tree 1) over args[0] (and
 * the path args[1]), TVF_NCOL values each, into rb. */
int sqli_json_tvf_rows(vm *v, int tree, const sql_value *args, int nargs, rowbuf *rb);
/* For json_group_array/object (agg.c): x as JSON onto b; b as JSON text. */
int sqli_json_append(vm *v, strb *b, const sql_value *x);
void sqli_json_result(sql_value *out, strb *b);
int sqli_f_unixepoch(vm *v, int argc, sql_value *a, sql_value *out);
int sqli_f_strftime(vm *v, int argc, sql_value *a, sql_value *out);
int sqli_f_current_timestamp(vm *v, int argc, sql_value *a, sql_value *out);
int sqli_f_current_date(vm *v, int argc, sql_value *a, sql_value *out);
int sqli_f_current_time(vm *v, int argc, sql_value *a, sql_value *out);

#endif
