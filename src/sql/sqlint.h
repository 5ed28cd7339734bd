/* sql/sqlint.h — definitions shared by the SQL front end's files (not an API).
 *
 * The front end is split into:
 *   sqlutil.c   arena, text buffer, byte-string hash map
 *   value.c     values: conversions, affinity, comparison, text form, decimals
 *   record.c    row records and key building (keyenc.h) for rows and indexes
 *   lex.c       tokens
 *   parse.c     statements and expressions -> AST
 *   schema.c    catalog <-> in-memory schema (tables, indexes, triggers, stats)
 *   resolve.c   names -> cursors and columns, '*' expansion, aggregates
 *   plan.c      access paths, join order, EXPLAIN QUERY PLAN
 *   exec.c      cursors, loops, SELECT execution, sorting, compound queries
 *   expr.c      expression evaluation; func.c: the function library;
 *               datetime.c: timestamps, now(), uuid7()
 *   dml.c       INSERT / UPDATE / DELETE, constraints; fkey.c: foreign keys;
 *               trigger.c: trigger programs
 *   ddl.c       CREATE / DROP / ALTER / ANALYZE, the rows of larder_schema
 *   pragma.c    PRAGMA, EXPLAIN of DML
 *   istat.c     index usage statistics, the larder_stat_indexes table
 *   fts.c       full-text indexes: tokenizer, upkeep, MATCH, bm25 (fts.h)
 *   agg.c       GROUP BY and aggregate states
 *   api.c       sql.h: connections, statements, transactions
 *
 * Memory: everything a statement's compilation produces (AST, plan, names)
 * lives in the statement's arena and dies with it; schema objects live in the
 * schema's arena. Runtime values own their bytes when flagged (val_free).
 */
#ifndef LARDER_SQL_SQLINT_H
#define LARDER_SQL_SQLINT_H
#include "sql/keyenc.h"
#include "sql/sql.h"
#include "sql/store.h"
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define SQL_MAX_COLUMNS 2000
#define SQL_MAX_DEPTH 200        /* parser nesting (expressions, subqueries) */
#define SQL_MAX_TRIGGER_DEPTH 64 /* nested trigger / cascade levels */

/* ==== arena, text buffer, hash map (sqlutil.c) ============================ */
typedef struct arena_blk arena_blk;
typedef struct arena {
    arena_blk *head;
    size_t used; /* bytes handed out, for reports */
} arena;
void *sqli_ar_alloc(arena *a, size_t n); /* zeroed, 8-aligned */
char *sqli_ar_strndup(arena *a, const char *s, size_t n);
char *sqli_ar_strdup(arena *a, const char *s);
char *sqli_ar_printf(arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sqli_ar_free(arena *a);

typedef struct strb {
    char *p;
    size_t n, cap;
} strb;
void sqli_strb_add(strb *b, const void *s, size_t n);
void sqli_strb_adds(strb *b, const char *s);
void sqli_strb_addc(strb *b, char c);
void sqli_strb_addf(strb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sqli_strb_vaddf(strb *b, const char *fmt, va_list ap);
const char *sqli_strb_cstr(strb *b); /* NUL-terminated, "" when empty */
void sqli_strb_free(strb *b);
/* Append s as an SQL identifier, quoted with "" when needed. */
void sqli_strb_ident(strb *b, const char *s);

/* Byte-string -> pointer map (DISTINCT, UNION, IN sets, GROUP BY). Keys are
 * copied. */
typedef struct bmap_ent {
    uint64_t h;
    uint8_t *k;
    size_t klen;
    void *v;
} bmap_ent;
typedef struct bmap {
    bmap_ent *t;
    size_t cap, n;
} bmap;
/* Find key; if absent and create, insert it with value NULL. Returns the
 * entry (or NULL when absent and !create); *added tells whether it is new. */
bmap_ent *sqli_bmap_get(bmap *m, const void *k, size_t klen, int create, int *added);
void sqli_bmap_clear(bmap *m); /* frees keys, not values */
uint64_t sqli_hash_bytes(const void *p, size_t n);

int sqli_name_eq(const char *a, const char *b); /* identifiers: ASCII case-insensitive */

/* ==== values (value.c) ==================================================== */
/* struct sql_value: the type, and for text/blob a pointer that is either
 * borrowed (points into a page, a record, the statement's text...) or owned
 * (owned = 1: xmalloc'd, freed by val_free). A borrowed pointer is valid only
 * as long as what it points into; sqli_val_own / sqli_val_copy make it independent. */
struct sql_value {
    uint8_t type;  /* SQL_INTEGER ... SQL_DECIMAL */
    uint8_t owned; /* z is xmalloc'd */
    int16_t scale; /* SQL_DECIMAL: digits after the point; TEXT: JSON mark (json.c) */
    uint32_t n;    /* text/blob: bytes */
    union {
        int64_t i; /* INTEGER; DECIMAL: mantissa (value = i / 10^scale) */
        double r;  /* FLOAT */
    } u;
    const char *z; /* TEXT/BLOB bytes (text not necessarily NUL-terminated) */
};

/* Affinities (SQLite's rules). AFF_NONE: an expression without affinity;
 * AFF_BLOB: a column declared BLOB or without type (no conversion either,
 * but it counts as having an affinity in comparisons). */
enum { AFF_NONE = 0, AFF_BLOB, AFF_TEXT, AFF_NUMERIC, AFF_INTEGER, AFF_REAL };
#define AFF_IS_NUMERIC(a) ((a) >= AFF_NUMERIC)
/* Column kinds beyond affinity. */
enum { KIND_PLAIN = 0, KIND_BOOL, KIND_DECIMAL, KIND_TIMESTAMP, KIND_DATE };

static inline void val_set_null(sql_value *v) {
    v->type = SQL_NULL;
    v->owned = 0;
}
static inline void val_set_int(sql_value *v, int64_t i) {
    v->type = SQL_INTEGER;
    v->owned = 0;
    v->u.i = i;
}
static inline void val_set_real(sql_value *v, double r) {
    v->type = SQL_FLOAT;
    v->owned = 0;
    v->u.r = r;
}
static inline void val_set_dec(sql_value *v, int64_t m, int scale) {
    v->type = SQL_DECIMAL;
    v->owned = 0;
    v->u.i = m;
    v->scale = (int16_t)scale;
}
/* Borrow n bytes (no copy). */
static inline void val_set_text_ref(sql_value *v, const char *z, size_t n) {
    v->type = SQL_TEXT;
    v->owned = 0;
    v->scale = 0; /* for text: 0, or json.c's mark of JSON text */
    v->z = z;
    v->n = (uint32_t)n;
}
static inline void val_set_blob_ref(sql_value *v, const void *z, size_t n) {
    v->type = SQL_BLOB;
    v->owned = 0;
    v->z = z;
    v->n = (uint32_t)n;
}
/* Take ownership of an xmalloc'd buffer. */
void sqli_val_set_text_own(sql_value *v, char *z, size_t n);
void sqli_val_set_blob_own(sql_value *v, void *z, size_t n);
void sqli_val_set_text_copy(sql_value *v, const char *z, size_t n);
static inline void val_free(sql_value *v) {
    if (v->owned) {
        extern void xfree(void *);
        xfree((void *)v->z);
        v->owned = 0;
    }
    v->type = SQL_NULL;
}
void sqli_val_copy(sql_value *dst, const sql_value *src); /* deep: dst owns */
void sqli_val_own(sql_value *v);                          /* make borrowed bytes owned */
/* Shallow copy: dst borrows src's bytes (src keeps ownership). */
static inline void val_ref(sql_value *dst, const sql_value *src) {
    *dst = *src;
    dst->owned = 0;
}

static inline int val_is_num(const sql_value *v) {
    return v->type == SQL_INTEGER || v->type == SQL_FLOAT || v->type == SQL_DECIMAL;
}
double sqli_val_real(const sql_value *v); /* numeric value (text: its numeric prefix) */
int64_t sqli_val_int(const sql_value *v); /* integer value (reals truncated, clamped) */
/* Truth of a value for WHERE/AND/OR: 1, 0, or -1 for NULL. */
int sqli_val_truth(const sql_value *v);

/* Text form (sqlite3's): writes into buf (>= 32 bytes) for numbers, returns
 * the text and its length; NULL for SQL NULL. Text/blob: their bytes. */
const char *sqli_val_text(const sql_value *v, char *buf, size_t *len);
int sqli_fmt_real(double r, char *buf);            /* "1.0", "1.0e+20", "Inf" */
int sqli_fmt_dec(int64_t m, int scale, char *buf); /* "12.50" */
/* Convert the value to TEXT in place (numbers formatted; blob bytes kept). */
void sqli_val_to_text(sql_value *v);

/* Parse text as a number. Whole-text parse (leading/trailing spaces allowed):
 * returns 1 for an integer (*i), 2 for a real (*r), 0 if not a number. */
int sqli_num_parse(const char *z, size_t n, int64_t *i, double *r);
/* Longest numeric prefix (CAST AS INTEGER/REAL/NUMERIC, arithmetic on text):
 * returns 1 integer, 2 real; 0 when there is none (value 0). */
int sqli_num_prefix(const char *z, size_t n, int64_t *i, double *r, int want_int);

/* Apply a column affinity (SQLite's storage rules). */
void sqli_val_apply_aff(sql_value *v, int aff);
/* CAST(v AS type) by affinity (and kind for DECIMAL/BOOLEAN/TIMESTAMP/DATE:
 * the same conversions as storing into a column of that type). */
int sqli_val_cast(sql_value *v, int aff, int kind, int p, int s, char **err);
/* The words a BOOLEAN accepts as text (true/t/yes/y/on/1, false/f/no/n/off/0,
 * any case): 1, 0, or -1 for other text. */
int sqli_val_bool_word(const char *z, size_t n);
/* TIMESTAMP/DATE (kind): rewrite v as canonical UTC text; numbers are unix
 * seconds; NULL stays. -1 with *err (a static message) if v is no time. */
int sqli_dt_normalize(sql_value *v, int kind, char **err);

/* Compare two non-NULL-aware values in SQL order (NULL < numbers < text <
 * blob; numbers by value; text and blob bytewise): <0, 0, >0. */
int sqli_val_cmp(const sql_value *a, const sql_value *b);

/* Decimal helpers. */
int sqli_dec_from_text(const char *z, size_t n, int64_t *m, int *scale); /* 0 ok */
int sqli_dec_rescale(int64_t m, int from, int to, int64_t *out);         /* 0 ok, -1 overflow */
double sqli_dec_to_real(int64_t m, int scale);
/* Round to a DECIMAL(p,s) column; 0 ok, -1 out of range. */
int sqli_dec_fit(sql_value *v, int p, int s);

/* ==== records and keys (record.c) ========================================= */
/* Record: varint header length, one varint serial type per column, then the
 * column bodies in order. Serial types:
 *   0 NULL   1..8 integer of that many bytes (big-endian two's complement)
 *   9 integer 0   10 integer 1   11 real (8 bytes)   12 decimal (1 byte scale +
 *   8 bytes mantissa)   >= 16: (t-16)/2 bytes of text (t even) or blob (odd)
 * A record with fewer columns than the table has (ALTER TABLE ADD COLUMN)
 * gives the missing ones their default. */
void sqli_rec_encode(keyenc_buf *out, const sql_value *vals, int n);
/* Decode column i (values borrow from rec). Returns 0, 1 when the record has
 * fewer columns (out = NULL), -1 when the record is malformed. */
int sqli_rec_column(const uint8_t *rec, size_t len, int i, sql_value *out);
/* Decode all n columns; missing ones set NULL and flagged in *short_from
 * (index of the first missing column, n if none). -1 when malformed. */
int sqli_rec_decode(const uint8_t *rec, size_t len, int n, sql_value *out, int *short_from);
int sqli_rec_count(const uint8_t *rec, size_t len);

/* Append raw bytes to a key buffer. */
void sqli_key_raw(keyenc_buf *b, const void *p, size_t n);
/* Append a value as a key component (decimals as their numeric value). */
void sqli_key_add(keyenc_buf *b, const sql_value *v, int desc);
/* The same under a collation: NOCASE folds ASCII letters of text. */
void sqli_key_add_coll(keyenc_buf *b, const sql_value *v, int desc, int nocase);
/* Decode a key component into a value (borrowing from key or, when the
 * decoder had to copy, owned). */
int sqli_key_get(const uint8_t *key, size_t len, size_t *pos, int desc, sql_value *out);

/* ==== tokens (lex.c) ====================================================== */
enum tok_type {
    TK_EOF = 0,
    TK_ILLEGAL,
    TK_SPACE, /* spaces and comments (never returned by lex_next) */
    TK_ID,
    TK_STRING,
    TK_BLOB,
    TK_INTEGER,
    TK_FLOAT,
    TK_PARAM,
    TK_SEMI,
    TK_LP,
    TK_RP,
    TK_COMMA,
    TK_DOT,
    TK_PLUS,
    TK_MINUS,
    TK_STAR,
    TK_SLASH,
    TK_PERCENT,
    TK_CONCAT,
    TK_EQ,
    TK_NE,
    TK_LT,
    TK_LE,
    TK_GT,
    TK_GE,
    TK_BITAND,
    TK_BITOR,
    TK_BITNOT,
    TK_SHL,
    TK_SHR,
    TK_KEYWORD, /* kw holds which */
};

/* Keywords. KW_* values index lex.c's table; the reserved ones cannot be
 * used as bare identifiers. */
// clang-format off
#define KEYWORDS(X)                                                                          \
    X(ABORT, 0) X(ACTION, 0) X(ADD, 0) X(AFTER, 0) X(ALL, 1) X(ALTER, 1) X(ALWAYS, 0)         \
    X(ANALYZE, 0) X(AND, 1) X(AS, 1) X(ASC, 0) X(AUTOINCREMENT, 0) X(BEFORE, 0) X(BEGIN, 0)  \
    X(BETWEEN, 1) X(BY, 1) X(CASCADE, 0) X(CASE, 1) X(CAST, 0) X(CHECK, 1) X(COLLATE, 1)     \
    X(COLUMN, 0) X(COMMIT, 0) X(CONFLICT, 0) X(CONSTRAINT, 1) X(CREATE, 1) X(CROSS, 1)       \
    X(CURRENT_DATE, 1) X(CURRENT_TIME, 1) X(CURRENT_TIMESTAMP, 1) X(DEFAULT, 1)               \
    X(DEFERRABLE, 0) X(DEFERRED, 0) X(DELETE, 1) X(DESC, 0) X(DISTINCT, 1) X(DO, 0)           \
    X(DROP, 1) X(EACH, 0) X(ELSE, 1) X(END, 0) X(ESCAPE, 0) X(EXCEPT, 1) X(EXCLUSIVE, 0)      \
    X(EXISTS, 1) X(EXPLAIN, 0) X(FAIL, 0) X(FALSE, 0) X(FIRST, 0) X(FOR, 0) X(FOREIGN, 1)    \
    X(FROM, 1) X(FULL, 1) X(GENERATED, 0) X(GLOB, 0) X(GROUP, 1) X(HAVING, 1) X(IDENTITY, 0) \
    X(IF, 0) X(IGNORE, 0) X(IMMEDIATE, 0) X(IN, 1) X(INCLUDE, 0) X(INDEX, 1) X(INITIALLY, 0) \
    X(INNER, 1) X(INSERT, 1) X(INSTEAD, 0) X(INTERSECT, 1) X(INTO, 1) X(IS, 1) X(ISNULL, 1)  \
    X(JOIN, 1) X(KEY, 0) X(LAST, 0) X(LEFT, 1) X(LIKE, 0) X(LIMIT, 1) X(NATURAL, 1) X(NO, 0) \
    X(NOT, 1) X(NOTHING, 0) X(NOTNULL, 1) X(NULL, 1) X(NULLS, 0) X(OF, 0) X(OFFSET, 0)      \
    X(ON, 1) X(OR, 1) X(ORDER, 1) X(OUTER, 1) X(PLAN, 0) X(PRAGMA, 0) X(PRIMARY, 1)         \
    X(QUERY, 0) X(RAISE, 0) X(RECURSIVE, 0) X(REFERENCES, 1) X(REGEXP, 0) X(RELEASE, 0)     \
    X(RENAME, 0) X(REPLACE, 0) X(RESTRICT, 0) X(RETURNING, 1) X(RIGHT, 1) X(ROLLBACK, 0)    \
    X(ROW, 0) X(ROWID, 0) X(SAVEPOINT, 0) X(SELECT, 1) X(SET, 1) X(TABLE, 1) X(TEMP, 0)     \
    X(TEMPORARY, 0) X(THEN, 1) X(TO, 1) X(TRANSACTION, 0) X(TRIGGER, 0) X(TRUE, 0)          \
    X(UNION, 1) X(UNIQUE, 1) X(UPDATE, 1) X(USING, 1) X(VALUES, 1) X(WHEN, 1) X(WHERE, 1)   \
    X(WITH, 1) X(WITHOUT, 0)
// clang-format on

enum keyword {
    KW_NONE = 0,
#define KW_ENUM(name, res) KW_##name,
    KEYWORDS(KW_ENUM)
#undef KW_ENUM
        KW_COUNT_
};

typedef struct token {
    int type; /* enum tok_type */
    int kw;   /* enum keyword for TK_KEYWORD */
    int pos;  /* byte offset in the text */
    int len;
    const char *z;
} token;

/* Scan one token at z[pos..n); spaces and comments are TK_SPACE. */
int sqli_lex_token(const char *z, int n, int pos, token *t);
int sqli_kw_reserved(int kw);
int sqli_kw_lookup(const char *z, int n);

/* ==== AST ================================================================= */
typedef struct expr expr;
typedef struct query query;
typedef struct table table;
typedef struct index index_t;
typedef struct trigger trigger;
typedef struct fkey fkey;
typedef struct qplan qplan;
typedef struct func_def func_def;

enum expr_op {
    E_LIT = 1, /* lit */
    E_PARAM,   /* param (1-based) */
    E_COL,     /* column reference: tab.name -> cur, col (-1 = rowid) */
    E_NEG,
    E_POS,
    E_NOT,
    E_BITNOT,
    E_ADD,
    E_SUB,
    E_MUL,
    E_DIV,
    E_MOD,
    E_CONCAT,
    E_BITAND,
    E_BITOR,
    E_SHL,
    E_SHR,
    E_EQ,
    E_NE,
    E_LT,
    E_LE,
    E_GT,
    E_GE,
    E_IS,
    E_ISNOT,
    E_AND,
    E_OR,
    E_ISNULL,
    E_NOTNULL,
    E_BETWEEN, /* l BETWEEN args[0] AND args[1] */
    E_IN_LIST, /* l IN (args) */
    E_IN_SEL,  /* l IN (sub) */
    E_LIKE,    /* l LIKE r [ESCAPE args[0]] ; EF_GLOB for GLOB */
    E_CASE,    /* CASE [l] WHEN args[2i] THEN args[2i+1] ... ELSE r END */
    E_CAST,    /* CAST(l AS type) */
    E_FUNC,    /* name(args) [FILTER (WHERE r)] */
    E_AGG,     /* aggregate call (after resolution): slot in its query; r: its FILTER */
    E_SUBQ,    /* scalar subquery */
    E_EXISTS,
    E_COLLATE, /* l COLLATE name */
    E_RAISE,   /* RAISE(ABORT|FAIL|ROLLBACK|IGNORE, msg) */
    E_DEFAULT, /* DEFAULT in VALUES or SET */
    E_WIN,     /* window function call (after resolution): slot in its query's windows */
    E_LIST,    /* args only: a window's PARTITION BY, ORDER BY and frame offsets */
};

#define EF_NOT 0x01      /* NOT IN / NOT LIKE / NOT BETWEEN */
#define EF_DISTINCT 0x02 /* aggregate(DISTINCT x) */
#define EF_STAR 0x04     /* count(*) */
#define EF_GLOB 0x08
#define EF_RESOLVED 0x10
#define EF_NOCASE 0x20  /* COLLATE NOCASE applied */
#define EF_CONST 0x40   /* no column, param-free constant */
#define EF_DQUOTED 0x80 /* a "double-quoted" name: a string if no column has it */

struct expr {
    uint8_t op;
    uint8_t flags;
    uint8_t aff;  /* affinity of the expression (column refs, CAST) */
    uint8_t kind; /* CAST kind */
    int pos, end; /* span in the statement's text */
    expr *l, *r;
    expr **args;
    int nargs;
    sql_value lit; /* E_LIT */
    int param;     /* E_PARAM */
    char *name;    /* column / function / collation name; RAISE msg */
    char *tab;     /* column qualifier */
    int tab_pos;
    /* resolved */
    int cur;            /* E_COL: cursor number */
    int col;            /* E_COL: column index, -1 rowid */
    table *table;       /* E_COL: the table (NULL for subquery columns) */
    int slot;           /* E_AGG: slot; E_SUBQ cache slot */
    query *owner;       /* E_AGG: the select that aggregates it */
    query *sub;         /* E_SUBQ, E_EXISTS, E_IN_SEL */
    const func_def *fn; /* E_FUNC, E_AGG */
    int cast_p, cast_s; /* E_CAST DECIMAL(p,s) */
    int correlated;     /* subquery refers to outer cursors */
    void *rt;           /* runtime cache (uncorrelated subquery results) */
    struct windef *win; /* E_FUNC / E_WIN: OVER (...) */
};

/* OVER (...) or WINDOW name AS (...). Frames: ROWS/RANGE/GROUPS BETWEEN
 * start AND end; without one, RANGE UNBOUNDED PRECEDING to CURRENT ROW (to
 * UNBOUNDED FOLLOWING without ORDER BY). */
enum { FR_ROWS = 1, FR_RANGE, FR_GROUPS };
enum { FB_UNB_PREC = 1, FB_PREC, FB_CURRENT, FB_FOLL, FB_UNB_FOLL };
enum { EX_NONE = 0, EX_CURRENT, EX_GROUP, EX_TIES };
typedef struct windef {
    char *name; /* WINDOW name, or the name after OVER */
    char *base; /* OVER (base ...) */
    int pos;
    expr **part;
    int npart;
    struct orderterm *order;
    int norder;
    int frame; /* 0: the default */
    int start, end;
    expr *start_n, *end_n;
    int exclude; /* EX_*: EXCLUDE CURRENT ROW / GROUP / TIES, 0 for NO OTHERS */
} windef;

/* A result column of a SELECT. */
typedef struct rescol {
    expr *e;
    char *alias; /* AS name */
    char *name;  /* the column's name in the result */
} rescol;

enum join_type { JT_INNER = 0, JT_LEFT = 1, JT_CROSS = 2 };

typedef struct srcitem {
    char *name, *alias;
    int pos;
    query *sub; /* derived table */
    int jointype;
    int natural;
    expr *on;
    char **usingv;
    int nusing;
    /* resolved */
    table *tab;
    int cur;
    int ncol;
    char **colnames;       /* subquery columns */
    int schema_vtab;       /* larder_schema */
    uint8_t *using_hidden; /* columns hidden from '*' (USING/NATURAL right side) */
    int cte_self;          /* a recursive CTE's reference to itself: reads the current row */
    char *indexed_by;      /* INDEXED BY name: the only index the planner may use */
    int not_indexed;       /* NOT INDEXED: only the table's own key */
    int dbq;               /* main.name: 1, temp.name: 2, unqualified: 0 */
    index_t *forced_idx;   /* resolved INDEXED BY */
    expr *fargs;           /* name(args): a table-valued function's arguments (E_LIST) */
    int tvf;               /* resolved: TVF_JSON_EACH or TVF_JSON_TREE */
} srcitem;

/* Table-valued functions and their columns (json.c); the last three hidden:
 * json, root and the rowid (the row's number in the call's output, from 0). */
enum { TVF_JSON_EACH = 1, TVF_JSON_TREE };
#define TVF_NCOL 11
#define TVF_NVISIBLE 8
#define TVF_ROWID 10

typedef struct orderterm orderterm;
struct orderterm {
    expr *e;
    int desc;
    int nulls;  /* 0 default, 1 first, 2 last */
    int rescol; /* resolved: 1-based result column it refers to, 0 = expr */
};

enum sel_op { SEL_SIMPLE = 0, SEL_UNION, SEL_UNION_ALL, SEL_INTERSECT, SEL_EXCEPT };

/* WITH: common table expressions. A CTE's body stays as parsed; each use in
 * FROM resolves a copy of it (cte.c). */
typedef struct cte {
    char *name;
    int pos;
    char **cols; /* (cols) after the name, or NULL */
    int ncols;
    query *body;
} cte;
typedef struct with_clause {
    cte *v;
    int n;
    int recursive; /* WITH RECURSIVE (a CTE may refer to itself with or without it) */
} with_clause;

struct query {
    int op;
    query *left, *right; /* compound arms */
    int distinct;
    rescol *cols;
    int ncol;
    srcitem *src;
    int nsrc;
    expr *where;
    expr **group;
    int ngroup;
    expr *having;
    orderterm *order;
    int norder;
    expr *limit, *offset;
    expr ***values; /* VALUES rows (each ncol exprs) */
    int nvalues;
    int pos;
    with_clause *with; /* WITH before this (compound) select */
    int recursive;     /* a recursive CTE's body: left arm the setup, right arm the step */
    windef *windows;   /* WINDOW clause */
    int nwindows;
    expr **wins; /* E_WIN nodes by slot (resolution) */
    int nwins;
    /* resolution */
    int is_agg;
    expr **aggs; /* E_AGG nodes by slot */
    int naggs;
    int outer_refs; /* refers to cursors of enclosing queries */
    int dml_scan;   /* the row search of an UPDATE/DELETE (never covering) */
    query *parent;
    int depth;
    qplan *plan;
};

typedef struct setitem {
    char *col;
    int pos;
    expr *e;
    int colidx;
} setitem;

typedef struct upsert {
    char **cols; /* conflict target (may be empty: any) */
    int ncols;
    int pos;
    expr *target_where;
    int do_update; /* 0 = DO NOTHING */
    setitem *sets;
    int nset;
    expr *where;
    int excluded_cur;
} upsert;

/* Column definition in CREATE TABLE / ALTER TABLE ADD COLUMN. */
typedef struct coldef {
    char *name;
    int pos;
    char *type; /* declared type text, "" if none */
    int notnull;
    int pk, pk_desc, autoinc, identity;
    int unique;
    char *unique_name;
    expr *dflt;
    char *dflt_text;
    expr **checks;
    char **check_names;
    int nchecks;
    /* column-level REFERENCES */
    char *fk_table;
    char **fk_cols;
    int fk_ncols;
    int fk_on_delete, fk_on_update;
    char *fk_name;
    char *collate;
    expr *gen;      /* GENERATED ALWAYS AS (gen) / AS (gen) */
    int gen_stored; /* ... STORED (else VIRTUAL) */
    int gen_pos;
    int text_start, text_end; /* span of the whole definition */
    int type_pos, type_end;   /* span of the type name */
} coldef;

enum fk_action { FK_RESTRICT = 0, FK_NO_ACTION, FK_CASCADE, FK_SET_NULL, FK_SET_DEFAULT };

typedef struct tabcons { /* table constraint */
    int kind;            /* 1 PK, 2 UNIQUE, 3 CHECK, 4 FK */
    char *name;
    char **cols;
    int *descs;
    int ncols;
    expr *check;
    char *fk_table;
    char **fk_cols;
    int fk_ncols;
    int fk_on_delete, fk_on_update;
    int pos;
    int autoinc;
} tabcons;

typedef struct idxcol {
    char *name;
    int desc;
    int pos;
} idxcol;

enum stmt_kind {
    ST_SELECT = 1,
    ST_INSERT,
    ST_UPDATE,
    ST_DELETE,
    ST_CREATE_TABLE,
    ST_CREATE_INDEX,
    ST_CREATE_TRIGGER,
    ST_DROP_TABLE,
    ST_DROP_INDEX,
    ST_DROP_TRIGGER,
    ST_ALTER_ADD,
    ST_ALTER_RENAME,
    ST_ALTER_RENAME_COL,
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_SAVEPOINT,
    ST_RELEASE,
    ST_ROLLBACK_TO,
    ST_PRAGMA,
    ST_ANALYZE,
    ST_EXPLAIN,
    ST_CREATE_VIEW,
    ST_DROP_VIEW,
    ST_REINDEX,        /* REINDEX [[main.]name]: name in name */
    ST_ALTER_DROP_COL, /* ALTER TABLE table DROP [COLUMN] name */
    ST_VACUUM,
};

enum conflict_alg { OE_DEFAULT = 0, OE_ABORT, OE_IGNORE, OE_REPLACE, OE_FAIL, OE_ROLLBACK };

typedef struct ast {
    int kind;
    int pos, end; /* span of the statement in the text */
    /* SELECT / INSERT source */
    query *sel;
    /* target table of DML, table of CREATE/DROP/ALTER, index table */
    char *table;
    int table_pos;
    char *alias;
    /* INSERT */
    char **cols;
    int ncols;
    int default_values;
    int or_alg;
    upsert *up;
    /* UPDATE */
    setitem *sets;
    int nset;
    srcitem *from; /* UPDATE ... FROM */
    int nfrom;
    /* UPDATE / DELETE */
    expr *where;
    /* RETURNING */
    rescol *ret;
    int nret;
    /* CREATE TABLE */
    int if_not_exists, if_exists;
    coldef *coldefs;
    int ncoldefs;
    tabcons *cons;
    int ncons;
    int without_rowid;
    /* CREATE INDEX / DROP / names */
    char *name; /* index, trigger, savepoint, pragma, new name */
    int name_pos;
    char *name2; /* RENAME COLUMN: new name */
    int unique;
    int fulltext; /* CREATE FULLTEXT INDEX */
    idxcol *icols;
    int nicols;
    char **include;
    int ninclude;
    expr *iwhere;
    /* CREATE TRIGGER */
    int timing; /* 1 BEFORE, 2 AFTER, 3 INSTEAD OF */
    int event;  /* ST_INSERT / ST_UPDATE / ST_DELETE */
    char **of_cols;
    int nof_cols;
    expr *when;
    struct ast **body;
    int nbody;
    /* PRAGMA */
    expr *pragma_val;
    char *pragma_arg;
    /* EXPLAIN */
    struct ast *inner;
    int explain_qp; /* 1 EXPLAIN QUERY PLAN, 2 EXPLAIN ANALYZE (runs inner) */
    /* CREATE VIEW: TEMP (name in name, column names in cols, body in sel);
     * CREATE TEMP TABLE / CREATE TABLE temp.name */
    int temp;
    int dbq; /* the table named main.x (1) or temp.x (2), 0 unqualified */
    /* WITH before INSERT / UPDATE / DELETE */
    with_clause *with;
} ast;

/* Parse one statement from sql[pos..n). *next is where the next statement
 * starts. Returns NULL with *empty = 1 for nothing but spaces and ';'.
 * On a syntax error returns NULL and fills err / errpos. Allocates in a. */
ast *sqli_parse_statement(arena *a, const char *sql, int n, int pos, int *next, int *empty,
                          char **err, int *errpos, int *nparam, char ***pnames);

/* ==== schema (schema.c) =================================================== */
typedef struct column {
    char *name;
    char *decl; /* declared type text, "" if none */
    uint8_t aff;
    uint8_t kind; /* KIND_* */
    uint8_t notnull;
    uint8_t pk; /* 1-based position in the primary key */
    uint8_t autoinc;
    int dec_p, dec_s;
    expr *dflt; /* NULL: no DEFAULT */
    char *dflt_text;
    int dflt_const; /* default is a literal (usable for ALTER ADD COLUMN rows) */
    sql_value dflt_val;
    int nocase;
    expr *gen;          /* a generated column's expression (resolved on CUR_SELF), or NULL */
    uint8_t gen_stored; /* STORED (VIRTUAL otherwise; both are kept in the row, see dml.c) */
} column;

/* An index, or a table's clustered key (is_pk). Index entries:
 *   key = the ncol index columns, then the table key's components;
 *   value = the INCLUDE columns as a record (empty if none).
 * Except the "short" entries of a unique index without INCLUDE, for rows
 * without NULL in its columns: key = the index columns only, value = the
 * table key (store.h's unique layout), so that a clash is found by the put.
 * See sqli_index_short_entry (dml.c). */
struct index {
    char *name;
    char *sql;
    table *tab;
    int ncol;
    int *cols; /* table column numbers; -1 = rowid */
    uint8_t *desc;
    int ninc;
    int *inc;
    int unique;
    int is_pk;
    int auto_made; /* made from a UNIQUE constraint of CREATE TABLE */
    expr *where;   /* partial index predicate (resolved on cursor 0) */
    char *where_text;
    store_tree tree;
    /* statistics: nrow and avg rows per distinct prefix (ANALYZE) */
    int64_t *stat; /* ncol + 1 entries, NULL if not analyzed */
    index_t *next;
    struct usage_stat *ustat; /* its usage counters in ustat_db (istat.c), a cache */
    sql_db *ustat_db;
};

struct fkey {
    char *name;
    table *child;
    int ncol;
    int *ccols;       /* child column numbers */
    char *ptab;       /* parent table name */
    char **pcolnames; /* NULL: parent's primary key */
    int on_delete, on_update;
    /* resolved against the current schema (NULL if the parent is missing) */
    table *parent;
    int *pcols;
    index_t *pidx; /* parent key index: the parent's pk or a unique index */
    fkey *next_in_parent;
};

struct trigger {
    char *name;
    char *sql;
    table *tab;
    int timing, event;
    int *of_cols;
    int nof_cols;
    ast *def; /* parsed CREATE TRIGGER (body, when) */
    int temp; /* in the temp store's catalog (TEMP TRIGGER, or on a temp table) */
    trigger *next;
};

/* A view: its CREATE VIEW text, parsed afresh wherever it is used (each use
 * resolves its own copy). TEMP views belong to the connection (sql_db) and
 * are added to every schema it loads; they are never in the catalog. */
typedef struct view view;
struct view {
    char *name;
    char *sql;
    int temp;
    view *next;
};

struct table {
    char *name;
    char *sql;
    int ncol;
    column *cols;
    store_tree tree;
    index_t pk; /* clustered key */
    int rowid;  /* no declared key: hidden integer rowid */
    int ipk;    /* column that is the integer key (auto-numbered), -1 */
    index_t *indexes;
    int nchecks;
    expr **checks;
    char **check_names;
    fkey *fks; /* foreign keys of this table (child side) */
    int nfk;
    fkey *refs; /* foreign keys referencing this table (list by next_in_parent) */
    trigger *triggers;
    int64_t nrow_est; /* from ANALYZE, -1 if not analyzed */
    int is_schema;    /* a read-only system table: SYS_SCHEMA or SYS_STAT_INDEXES */
    int has_dflt_fn;  /* some DEFAULT is not a literal */
    int ngen;         /* generated columns */
    int temp;         /* in the connection's temp store (temp.c): its trees carry TEMP_TREE */
    index_t *fts;     /* its full-text index (fts.c), kept apart from indexes; NULL if none */
};

/* A tree of the connection's temp store is named root | TEMP_TREE (temp.c). */
#define TEMP_TREE 0x80000000u

/* System tables (table.is_schema): larder_schema (the catalog, ddl.c) and
 * larder_stat_indexes (index usage, istat.c). */
enum { SYS_SCHEMA = 1, SYS_STAT_INDEXES, SYS_TEMP_SCHEMA /* sqlite_temp_schema */ };

typedef struct schema {
    arena ar;
    table **tabs;
    int ntab, cap;
    uint64_t cookie;
    int refs;
    table *schema_tab;
    table *stat_tab;
    view *views;
    int loading_temp;       /* sqli_schema_load_temp is adding the temp store's objects */
    table *temp_schema_tab; /* sqlite_temp_schema: the temp store's catalog */
} schema;

/* A table by name: a temp table first (it shadows a main one), then main. */
table *sqli_schema_table(schema *s, const char *name);
/* In one database: dbq 1 main, 2 temp (0: as sqli_schema_table). */
table *sqli_schema_table_db(schema *s, const char *name, int dbq);
/* Add the temp store's tables and indexes (catalog read through txn). */
int sqli_schema_load_temp(store_txn *txn, schema *s, char **err);
view *sqli_schema_view(schema *s, const char *name);
/* Add a view from its CREATE VIEW text (copied into the schema's arena). */
int sqli_schema_add_view(schema *s, const char *sql, int temp, char **err);
index_t *sqli_schema_index(schema *s, const char *name, table **owner);
trigger *sqli_schema_trigger(schema *s, const char *name);
/* Load the schema from the catalog through txn. */
int sqli_schema_load(store_txn *txn, schema **out, char **err);
void sqli_schema_unref(schema *s);
/* Build a table from a parsed CREATE TABLE (used by load and by DDL). */
int sqli_schema_build_table(schema *s, ast *a, const char *sql, store_tree tree, table **out,
                            char **err);
int sqli_schema_build_index(schema *s, ast *a, const char *sql, store_tree tree, index_t **out,
                            char **err);
/* The catalog entry: key ("table"|"index"|"trigger"|"view"|"stat", name). */
void sqli_cat_key(keyenc_buf *k, const char *type, const char *name);

/* ==== affinity of a declared type ========================================= */
void sqli_type_affinity(const char *decl, uint8_t *aff, uint8_t *kind, int *p, int *s);

#endif
