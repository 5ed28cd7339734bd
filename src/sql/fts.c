/* sql/fts.c — full-text indexes: tokenizer, index maintenance, queries,
 * BM25 ranking, highlight() and snippet().
 *
 *   CREATE FULLTEXT INDEX docs_fts ON docs(title, body);
 *   SELECT rowid, highlight(docs, 1, '[', ']') FROM docs
 *    WHERE docs MATCH 'sqlite AND "write ahead"*' ORDER BY bm25(docs) LIMIT 10;
 *
 * Why an index over an ordinary table (external content) rather than
 * sqlite3's virtual table: the rows stay in the table the application
 * already has (keys, constraints, triggers, foreign keys all apply), the
 * index is kept where every other index is kept (dml.c), in the same
 * statement and transaction, and nothing in the engine has to learn a second
 * kind of table. The query side follows FTS5 (MATCH, bm25, highlight,
 * snippet, its query language), so that results can be compared with it.
 *
 * Tokenizer (sqli_fts_tokenize): a token is a maximal run of token
 * characters: ASCII letters and digits, and every code point >= U+0080
 * except the separators listed in is_separator (Latin-1 punctuation and
 * symbols, general punctuation, arrows, math and technical symbols, box
 * drawing, dingbats, CJK punctuation, emoji, U+FFFD). Invalid UTF-8 bytes
 * are separators. Each token is case-folded and stripped of diacritics:
 *   - ASCII A-Z -> a-z; the micro sign U+00B5 -> Greek mu U+03BC;
 *   - Latin-1 Supplement and Latin Extended-A (U+00C0..U+017F): upper to
 *     lower case, and every letter whose canonical decomposition is an ASCII
 *     letter plus marks to that letter (e.g. É é Ě ě -> e, Ç -> c, Ÿ -> y,
 *     ſ -> s); letters without one keep their lower-case form (æ ð ø þ ß đ
 *     ħ ı ĳ ŀ ł ŋ œ ŧ);
 *   - the combining marks unicode61 calls diacritics (most of U+0300..U+0331,
 *     see is_diacritic) belong to the token and are dropped from it; the
 *     rest of U+0300..U+036F separate tokens;
 *   - every other code point is kept as it is (no folding of Greek,
 *     Cyrillic, ...).
 * This is what sqlite3's unicode61 tokenizer (remove_diacritics 1) does for
 * these ranges; tests/sql/test_fts.c checks it code point by code point.
 *
 * The tree (one per full-text index, STORE_TREE_FTS), keys and values:
 *
 *   01 <term bytes> 00 <table key>  ->  postings of the term in that row:
 *                                       { varint col, varint n, n varint
 *                                         position deltas } per column
 *   02 <table key>                  ->  varint tokens per index column
 *   03                              ->  varint rows, then varint tokens per
 *                                       index column (totals, for BM25)
 *
 * Terms never contain 00 (NUL is a separator), so 01 <term> 00 is the
 * prefix of exactly one term's postings and 01 <prefix> the prefix of every
 * term starting with it. Invariants (sqli_store_check verifies 2 and 3):
 *   1. every row of the table has exactly one 02 entry, and no other row does;
 *   2. for each row and column, the positions in its 01 entries number the
 *      tokens its 02 entry counts;
 *   3. the 03 entry sums the 02 entries (rows and tokens per column).
 *
 * Query language (FTS5's, without NEAR, ^ and +):
 *   or   := and ("OR" and)*
 *   and  := not ("AND" not)*
 *   not  := seq ("NOT" seq)*
 *   seq  := group | item item*              implicit AND of phrases, tightest
 *   group := [colset ":"] "(" or ")"
 *   item := colset ":" item | phrase ["*"]
 *   colset := ["-"] (name | "{" name* "}")  "-": every other column
 *   phrase := bareword | '"' chars, "" for a quote '"'
 * A bareword is a run of ASCII letters, digits, '_' and bytes >= 0x80;
 * AND/OR/NOT are operators only in upper case. The phrase's text is
 * tokenized: "a b" matches the tokens a, b in consecutive positions;
 * '*' makes the last token a prefix.
 */
#include "sql/fts.h"
#include "util/mem.h"
#include "util/sbuf.h"
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* ---- characters -------------------------------------------------------------------------- */

/* Decode one UTF-8 code point at z[*i]; -1 for an invalid byte (skipped). */
static int32_t utf8_next(const uint8_t *z, size_t n, size_t *i) {
    uint32_t c = z[(*i)++];
    if (c < 0x80) return (int32_t)c;
    int extra = c >= 0xF0 && c < 0xF8 ? 3 : c >= 0xE0 ? 2 : c >= 0xC2 && c < 0xE0 ? 1 : -1;
    if (extra < 0 || c >= 0xF8) return -1;
    c &= 0x3Fu >> extra;
    for (int k = 0; k < extra; k++) {
        if (*i >= n || (z[*i] & 0xC0) != 0x80) return -1;
        c = (c << 6) | (z[(*i)++] & 0x3F);
    }
    return (int32_t)c;
}

static int put_utf8(char *out, int32_t c) {
    if (c < 0x80) return out[0] = (char)c, 1;
    if (c < 0x800) {
        out[0] = (char)(0xC0 | (c >> 6));
        out[1] = (char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        out[0] = (char)(0xE0 | (c >> 12));
        out[1] = (char)(0x80 | ((c >> 6) & 0x3F));
        out[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (c >> 18));
    out[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((c >> 6) & 0x3F));
    out[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

/* sqlite3's unicode61 counts these combining marks (U+0300..U+0331) as
 * diacritics: part of a token, and removed by folding. The other combining
 * marks of the block separate tokens, as other non-letters do. */
static int is_diacritic(int32_t c) {
    if (c < 0x300 || c > 0x331) return 0;
    return c < 0x320 ? (0x08029FDFu >> (c - 0x300)) & 1 : (0x000361F8u >> (c - 0x320)) & 1;
}

static int is_separator(int32_t c) {
    if (c < 0x80)
        return !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'));
    if (c < 0xC0) /* Latin-1 controls, punctuation, symbols; not ª ² ³ µ ¹ º ¼ ½ ¾ */
        return !(c == 0xAA || c == 0xB2 || c == 0xB3 || c == 0xB5 || c == 0xB9 || c == 0xBA ||
                 (c >= 0xBC && c <= 0xBE));
    if (c == 0xD7 || c == 0xF7) return 1;
    if (c >= 0x300 && c <= 0x36F) return !is_diacritic(c);
    return (c >= 0x2000 && c <= 0x206F) || (c >= 0x20A0 && c <= 0x20CF) ||
           (c >= 0x2190 && c <= 0x23FF) || (c >= 0x2500 && c <= 0x27BF) ||
           (c >= 0x3000 && c <= 0x3003) || (c >= 0xFE30 && c <= 0xFE4F) || c == 0xFFFD ||
           (c >= 0x1F300 && c <= 0x1FAFF);
}

/* Base letters of U+00C0..U+017F after folding: the ASCII letter, or 0 when
 * the letter keeps itself (lower-cased). */
static const char latin_base[] =
    /* C0 */ "aaaaaa\0ceeeeiiii"
             /* D0 */ "\0nooooo\0\0uuuuy\0\0"
             /* E0 */ "aaaaaa\0ceeeeiiii"
             /* F0 */ "\0nooooo\0\0uuuuy\0y"
             /* 100 */ "aaaaaaccccccccdd"
             /* 110 */ "\0\0eeeeeeeeeegggg"
             /* 120 */ "gggghh\0\0iiiiiiii"
             /* 130 */ "i\0\0\0jjkk\0llllll\0"
             /* 140 */ "\0\0\0nnnnnn\0\0\0oooo"
             /* 150 */ "oo\0\0rrrrrrssssss"
             /* 160 */ "sstttt\0\0uuuuuuuu"
             /* 170 */ "uuuuwwyyyzzzzzzs";

static int32_t fold(int32_t c) {
    if (c < 0x80) return c >= 'A' && c <= 'Z' ? c + 32 : c;
    if (c == 0xB5) return 0x3BC; /* micro sign -> Greek mu (Unicode case folding) */
    if (c >= 0xC0 && c <= 0x17F) {
        char b = latin_base[c - 0xC0];
        if (b) return b;
        if (c >= 0xC0 && c <= 0xDE && c != 0xD7) return c + 32;
        if (c >= 0x100 && c <= 0x137) return c | 1;
        if (c >= 0x139 && c <= 0x148) return c & 1 ? c + 1 : c;
        if (c >= 0x14A && c <= 0x177) return c | 1;
        return c;
    }
    return c;
}

void sqli_fts_tokenize(const char *z0, size_t n, fts_token_fn fn, void *arg) {
    const uint8_t *z = (const uint8_t *)z0;
    char tok[FTS_MAX_TOKEN + 8];
    size_t i = 0;
    int num = 0;
    while (i < n) {
        size_t start = i;
        int32_t c = utf8_next(z, n, &i);
        if (c < 0 || is_separator(c)) continue;
        int len = 0;
        size_t end = i;
        for (;;) {
            if (!is_diacritic(c)) {
                char buf[4];
                int k = put_utf8(buf, fold(c));
                if (len + k <= FTS_MAX_TOKEN) memcpy(tok + len, buf, (size_t)k), len += k;
            }
            end = i;
            if (i >= n) break;
            size_t save = i;
            c = utf8_next(z, n, &i);
            if (c < 0 || is_separator(c)) {
                i = c < 0 ? save + 1 : i;
                break;
            }
        }
        if (len == 0) continue; /* only combining marks */
        tok[len] = 0;
        fn(arg, tok, len, num++, (int)start, (int)end);
    }
}

/* ---- varints and keys -------------------------------------------------------------------- */

static void put_varint(keyenc_buf *b, uint64_t v) {
    uint8_t t[10];
    int n = 0;
    do {
        t[n++] = (uint8_t)((v & 0x7F) | (v > 0x7F ? 0x80 : 0));
        v >>= 7;
    } while (v);
    sqli_key_raw(b, t, (size_t)n);
}

uint64_t sqli_fts_varint(const uint8_t *p, size_t n, size_t *i, int *bad) {
    const char *q = (const char *)p + *i;
    uint64_t v;
    if (!varint_get(&q, (const char *)p + n, &v)) return *bad = 1, 0;
    *i = (size_t)(q - (const char *)p);
    return v;
}

static int keycmp(const uint8_t *a, size_t an, const uint8_t *b, size_t bn) {
    int c = memcmp(a, b, an < bn ? an : bn);
    return c ? c : (an > bn) - (an < bn);
}

static index_t *fts_index(const table *t) {
    return t ? t->fts : NULL;
}

static int store_err(vm *v, int src) {
    return sqli_vm_store_error(v, src);
}

/* ---- index maintenance ------------------------------------------------------------------- */

typedef struct tokrec {
    uint32_t off, len; /* in rowtoks.text */
    uint32_t col, pos;
} tokrec;

typedef struct rowtoks {
    strb text;
    tokrec *v;
    size_t n, cap;
    uint32_t col;
    uint64_t *colsize; /* per index column */
} rowtoks;

static void collect_tok(void *arg, const char *tok, int ntok, int num, int start, int end) {
    rowtoks *r = arg;
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 64;
        r->v = xrealloc(r->v, sizeof *r->v * r->cap);
    }
    r->v[r->n++] = (tokrec){(uint32_t)r->text.n, (uint32_t)ntok, r->col, (uint32_t)num};
    sqli_strb_add(&r->text, tok, (size_t)ntok);
    r->colsize[r->col]++;
}

static int tokrec_cmp(const void *a, const void *b, void *arg) {
    const tokrec *x = a, *y = b;
    const char *t = arg;
    int c = keycmp((const uint8_t *)t + x->off, x->len, (const uint8_t *)t + y->off, y->len);
    if (c) return c;
    if (x->col != y->col) return x->col < y->col ? -1 : 1;
    return (x->pos > y->pos) - (x->pos < y->pos);
}

/* The text of a column value as the index sees it (numbers in their text
 * form); NULL: no text. */
static const char *value_text(const sql_value *val, char *buf, size_t *len) {
    if (val->type == SQL_NULL) return NULL;
    return sqli_val_text(val, buf, len);
}

/* Tokenize the index columns of row, sorted by (term, column, position). */
static void row_tokens(index_t *x, const sql_value *row, rowtoks *r) {
    memset(r, 0, sizeof *r);
    r->colsize = xcalloc((size_t)x->ncol, sizeof *r->colsize);
    for (int k = 0; k < x->ncol; k++) {
        char buf[40];
        size_t len;
        const char *z = value_text(&row[x->cols[k]], buf, &len);
        r->col = (uint32_t)k;
        if (z) sqli_fts_tokenize(z, len, collect_tok, r);
    }
    if (r->n) qsort_r(r->v, r->n, sizeof *r->v, tokrec_cmp, r->text.p);
}

static void rowtoks_free(rowtoks *r) {
    sqli_strb_free(&r->text);
    xfree(r->v);
    xfree(r->colsize);
}

static int same_term(const rowtoks *r, size_t i, size_t j) {
    return r->v[i].len == r->v[j].len &&
           memcmp(r->text.p + r->v[i].off, r->text.p + r->v[j].off, r->v[i].len) == 0;
}

static void term_key(keyenc_buf *k, const rowtoks *r, const tokrec *t, const uint8_t *key,
                     size_t klen) {
    sqli_keyenc_reset(k);
    uint8_t b = 1;
    sqli_key_raw(k, &b, 1);
    sqli_key_raw(k, r->text.p + t->off, t->len);
    b = 0;
    sqli_key_raw(k, &b, 1);
    sqli_key_raw(k, key, klen);
}

/* Add (dir 1) or remove (dir -1) a row's counts in the totals entry. */
static int update_totals(vm *v, index_t *x, const uint64_t *colsize, int dir) {
    store_txn *txn = sqli_txn_for(v, x->tree);
    store_tree tree = sqli_tree_id(x->tree);
    uint8_t tk = 3;
    const void *val;
    size_t vl;
    uint64_t *tot = xcalloc((size_t)x->ncol + 1, sizeof *tot);
    int src = sqli_store_get(txn, tree, &tk, 1, &val, &vl), bad = 0;
    if (src == STORE_OK) {
        size_t i = 0;
        for (int k = 0; k <= x->ncol; k++) tot[k] = sqli_fts_varint(val, vl, &i, &bad);
    } else if (src != STORE_NOTFOUND) {
        xfree(tot);
        return store_err(v, src);
    }
    if (bad) {
        xfree(tot);
        return sqli_vm_error(v, SQL_CORRUPT, "malformed totals in full-text index %s", x->name);
    }
    tot[0] += (uint64_t)(int64_t)dir;
    for (int k = 0; k < x->ncol; k++) tot[k + 1] += (uint64_t)((int64_t)dir * (int64_t)colsize[k]);
    keyenc_buf b;
    sqli_keyenc_init(&b);
    for (int k = 0; k <= x->ncol; k++) put_varint(&b, tot[k]);
    src = sqli_store_put(txn, tree, &tk, 1, b.p, b.len, 0);
    sqli_keyenc_free(&b);
    xfree(tot);
    return src == STORE_OK ? SQL_OK : store_err(v, src);
}

static void doc_key(keyenc_buf *k, const uint8_t *key, size_t klen) {
    sqli_keyenc_reset(k);
    uint8_t b = 2;
    sqli_key_raw(k, &b, 1);
    sqli_key_raw(k, key, klen);
}

static int index_insert(vm *v, index_t *x, const sql_value *row, const uint8_t *key, size_t klen) {
    store_txn *txn = sqli_txn_for(v, x->tree);
    store_tree tree = sqli_tree_id(x->tree);
    rowtoks r;
    row_tokens(x, row, &r);
    keyenc_buf k, val;
    sqli_keyenc_init(&k);
    sqli_keyenc_init(&val);
    int rc = SQL_OK;
    size_t maxk = sqli_store_max_key(v->db->store);
    for (size_t i = 0; i < r.n && rc == SQL_OK;) {
        size_t j = i + 1;
        while (j < r.n && same_term(&r, i, j)) j++;
        sqli_keyenc_reset(&val);
        for (size_t c = i; c < j;) { /* one column's positions */
            size_t e = c;
            uint32_t last = 0;
            while (e < j && r.v[e].col == r.v[c].col) e++;
            put_varint(&val, r.v[c].col);
            put_varint(&val, e - c);
            for (size_t q = c; q < e; q++) put_varint(&val, r.v[q].pos - last), last = r.v[q].pos;
            c = e;
        }
        term_key(&k, &r, &r.v[i], key, klen);
        if (k.len > maxk)
            rc = sqli_vm_error(v, SQL_TOOBIG, "key too large for full-text index %s", x->name);
        int src = rc == SQL_OK ? sqli_store_put(txn, tree, k.p, k.len, val.p, val.len, 0) : 0;
        if (src != STORE_OK) rc = store_err(v, src);
        i = j;
    }
    if (rc == SQL_OK) {
        sqli_keyenc_reset(&val);
        for (int c = 0; c < x->ncol; c++) put_varint(&val, r.colsize[c]);
        doc_key(&k, key, klen);
        int src = sqli_store_put(txn, tree, k.p, k.len, val.p, val.len, 0);
        if (src != STORE_OK) rc = store_err(v, src);
    }
    if (rc == SQL_OK) rc = update_totals(v, x, r.colsize, 1);
    if (rc == SQL_OK) sqli_usage(v->db, x)->ent_ins++;
    sqli_keyenc_free(&k);
    sqli_keyenc_free(&val);
    rowtoks_free(&r);
    return rc;
}

static int index_delete(vm *v, index_t *x, const sql_value *row, const uint8_t *key, size_t klen) {
    store_txn *txn = sqli_txn_for(v, x->tree);
    store_tree tree = sqli_tree_id(x->tree);
    rowtoks r;
    row_tokens(x, row, &r);
    keyenc_buf k;
    sqli_keyenc_init(&k);
    int rc = SQL_OK;
    for (size_t i = 0; i < r.n && rc == SQL_OK; i++) {
        if (i && same_term(&r, i - 1, i)) continue;
        term_key(&k, &r, &r.v[i], key, klen);
        int src = sqli_store_del(txn, tree, k.p, k.len);
        if (src != STORE_OK && src != STORE_NOTFOUND) rc = store_err(v, src);
    }
    if (rc == SQL_OK) {
        doc_key(&k, key, klen);
        int src = sqli_store_del(txn, tree, k.p, k.len);
        if (src == STORE_NOTFOUND)
            rc = sqli_vm_error(v, SQL_CORRUPT, "full-text index %s lacks a row", x->name);
        else if (src != STORE_OK)
            rc = store_err(v, src);
    }
    if (rc == SQL_OK) rc = update_totals(v, x, r.colsize, -1);
    if (rc == SQL_OK) sqli_usage(v->db, x)->ent_del++;
    sqli_keyenc_free(&k);
    rowtoks_free(&r);
    return rc;
}

int sqli_fts_row_insert(vm *v, table *t, const sql_value *row, const uint8_t *key, size_t klen) {
    int rc = SQL_OK;
    for (index_t *x = t->fts; x && rc == SQL_OK; x = x->next)
        rc = index_insert(v, x, row, key, klen);
    return rc;
}

int sqli_fts_row_delete(vm *v, table *t, const sql_value *row, const uint8_t *key, size_t klen) {
    int rc = SQL_OK;
    for (index_t *x = t->fts; x && rc == SQL_OK; x = x->next)
        rc = index_delete(v, x, row, key, klen);
    return rc;
}

int sqli_fts_cols_changed(const index_t *x, const uint8_t *changed, int pkchanged) {
    if (pkchanged) return 1;
    for (int k = 0; k < x->ncol; k++)
        if (changed[x->cols[k]]) return 1;
    return 0;
}

int sqli_fts_fill(vm *v, table *t, index_t *x) {
    store_cursor *c;
    int src = sqli_store_cursor_open(sqli_txn_for(v, t->tree), sqli_tree_id(t->tree), &c);
    if (src != STORE_OK) return store_err(v, src);
    sql_value *row = xcalloc((size_t)t->ncol + 1, sizeof *row);
    int rc = SQL_OK;
    for (src = sqli_store_cursor_seek(c, STORE_SEEK_FIRST, NULL, 0);
         src == STORE_OK && rc == SQL_OK; src = sqli_store_cursor_next(c)) {
        const void *k, *val;
        size_t kl, vl;
        src = sqli_store_cursor_key(c, &k, &kl);
        if (src == STORE_OK) src = sqli_store_cursor_value(c, &val, &vl);
        if (src != STORE_OK) break;
        uint8_t *kcopy = (uint8_t *)xmemdup(k, kl);
        rc = sqli_row_decode(v, t, val, vl, row);
        for (int i = 0; rc == SQL_OK && i < t->ncol; i++) sqli_val_own(&row[i]);
        if (rc == SQL_OK) rc = index_insert(v, x, row, kcopy, kl);
        for (int i = 0; i < t->ncol; i++) val_free(&row[i]);
        xfree(kcopy);
    }
    sqli_store_cursor_close(c);
    xfree(row);
    if (rc == SQL_OK && src != STORE_NOTFOUND && src != STORE_OK) rc = store_err(v, src);
    if (rc == SQL_OK) {
        uint64_t *zero = xcalloc((size_t)x->ncol + 1, sizeof *zero);
        rc = update_totals(v, x, zero, 0); /* an empty table has its totals too */
        xfree(zero);
    }
    return rc;
}

/* ---- queries: parsing -------------------------------------------------------------------- */

/* Q_EMPTY: a phrase without tokens ('""'); FTS5 leaves it out of the
 * expression, so it drops out of AND, OR and NOT, and alone matches nothing. */
enum { Q_PHRASE = 1, Q_AND, Q_OR, Q_NOT, Q_EMPTY };

typedef struct fdoc { /* a row where a phrase occurs */
    const uint8_t *key;
    uint32_t klen;
    uint32_t *cfreq; /* occurrences per index column */
} fdoc;

typedef struct phrase {
    char **tok;
    int *tlen;
    int ntok;
    int prefix;       /* the last token is a prefix */
    uint64_t colmask; /* index columns it may match in */
    fdoc *docs;       /* sorted by key */
    size_t ndocs;
    double idf;
} phrase;

typedef struct qnode {
    int op;
    struct qnode *l, *r;
    int ph; /* Q_PHRASE */
} qnode;

typedef struct kref {
    const uint8_t *key;
    uint32_t klen;
} kref;

/* A full-text query being run by a loop (and read by bm25 & co. through the
 * cursor). Everything is allocated in ar. */
struct fts_run {
    arena ar;
    index_t *x;
    qnode *root;
    phrase *ph;
    int nph;
    kref *rows; /* the matching rows, in key order */
    size_t nrows, pos;
    const uint8_t *key; /* current row */
    size_t klen;
    uint8_t *live;   /* per phrase: it counts in the current row (row_live) */
    size_t live_row; /* 1 + the row live[] is for, 0 none */
    double nrow, avgdl;
    store_cursor *tc; /* on the table */
    const char *qtext;
};
typedef struct fts_run fts_run;

typedef struct qparser {
    fts_run *r;
    const char *z;
    size_t n, i;
    char *err;
    int depth;
} qparser;

static void qerr(qparser *p, const char *fmt, const char *a) {
    if (p->err) return;
    char buf[200];
    snprintf(buf, sizeof buf, fmt, a);
    p->err = sqli_ar_printf(&p->r->ar, "%s", buf);
}

static void qspace(qparser *p) {
    while (p->i < p->n && (p->z[p->i] == ' ' || p->z[p->i] == '\t' || p->z[p->i] == '\n' ||
                           p->z[p->i] == '\r' || p->z[p->i] == '\f' || p->z[p->i] == '\v'))
        p->i++;
}

static int bareword_char(unsigned char c) {
    return c >= 0x80 || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
           (c >= 'A' && c <= 'Z') || c == '_' || c == 0x1A;
}

/* Is the next word the operator op (upper case, not followed by a word char)? */
static int qkeyword(qparser *p, const char *op) {
    qspace(p);
    size_t n = strlen(op);
    if (p->n - p->i < n || memcmp(p->z + p->i, op, n) != 0) return 0;
    if (p->i + n < p->n && bareword_char((unsigned char)p->z[p->i + n])) return 0;
    p->i += n;
    return 1;
}

static void near_text(qparser *p, char *out, size_t cap) {
    size_t k = 0;
    for (size_t i = p->i; i < p->n && k + 1 < cap && k < 20; i++) out[k++] = p->z[i];
    out[k] = 0;
}

static void qsyntax(qparser *p) {
    char near[32];
    near_text(p, near, sizeof near);
    qerr(p, "full-text query: syntax error near \"%s\"", near);
}

typedef struct ptoks {
    fts_run *r;
    phrase *ph;
    int cap;
} ptoks;

static void phrase_tok(void *arg, const char *tok, int ntok, int num, int start, int end) {
    ptoks *pt = arg;
    phrase *ph = pt->ph;
    if (ph->ntok == pt->cap) {
        int cap = pt->cap ? pt->cap * 2 : 4;
        char **t = sqli_ar_alloc(&pt->r->ar, sizeof(char *) * (size_t)cap);
        int *l = sqli_ar_alloc(&pt->r->ar, sizeof(int) * (size_t)cap);
        if (ph->ntok) memcpy(t, ph->tok, sizeof(char *) * (size_t)ph->ntok);
        if (ph->ntok) memcpy(l, ph->tlen, sizeof(int) * (size_t)ph->ntok);
        ph->tok = t;
        ph->tlen = l;
        pt->cap = cap;
    }
    ph->tok[ph->ntok] = sqli_ar_strndup(&pt->r->ar, tok, (size_t)ntok);
    ph->tlen[ph->ntok++] = ntok;
}

static qnode *new_phrase(qparser *p, const char *text, size_t n, uint64_t colmask) {
    fts_run *r = p->r;
    if ((r->nph & (r->nph - 1)) == 0) { /* grow at powers of two */
        phrase *v = sqli_ar_alloc(&r->ar, sizeof *v * (size_t)(r->nph ? r->nph * 2 : 1));
        if (r->nph) memcpy(v, r->ph, sizeof *v * (size_t)r->nph);
        r->ph = v;
    }
    phrase *ph = &r->ph[r->nph];
    memset(ph, 0, sizeof *ph);
    ph->colmask = colmask;
    ptoks pt = {r, ph, 0};
    sqli_fts_tokenize(text, n, phrase_tok, &pt);
    qnode *q = sqli_ar_alloc(&r->ar, sizeof *q);
    q->op = ph->ntok ? Q_PHRASE : Q_EMPTY;
    q->ph = r->nph++;
    return q;
}

static qnode *q_or(qparser *p, uint64_t colmask);

/* The columns of a column filter ("name" or "{a b}"), 0 with an error. */
static uint64_t q_colset(qparser *p, const char *name, size_t n) {
    index_t *x = p->r->x;
    for (int k = 0; k < x->ncol; k++) {
        const char *cn = x->tab->cols[x->cols[k]].name;
        if (strlen(cn) == n && strncasecmp(cn, name, n) == 0) return (uint64_t)1 << k;
    }
    char *nm = sqli_ar_strndup(&p->r->ar, name, n);
    qerr(p, "full-text query: no such column: %s", nm);
    return 0;
}

static qnode *q_item(qparser *p, uint64_t colmask) {
    qspace(p);
    if (p->err) return NULL;
    if (p->i >= p->n) {
        qsyntax(p);
        return NULL;
    }
    char c = p->z[p->i];
    if (c == '(') {
        if (++p->depth > 100) return qerr(p, "full-text query: %s", "nested too deeply"), NULL;
        p->i++;
        qnode *q = q_or(p, colmask);
        qspace(p);
        if (!p->err && (p->i >= p->n || p->z[p->i] != ')')) qsyntax(p);
        p->i++;
        p->depth--;
        return p->err ? NULL : q;
    }
    int negate = 0;
    if (c == '-') { /* - cols : item: every column but those */
        p->i++;
        qspace(p);
        c = p->i < p->n ? p->z[p->i] : 0;
        negate = 1;
        if (c != '{' && !bareword_char((unsigned char)c)) return qsyntax(p), NULL;
    }
    if (c == '{') { /* {a b ...} : item */
        p->i++;
        uint64_t m = 0;
        for (;;) {
            qspace(p);
            if (p->i < p->n && p->z[p->i] == '}') break;
            size_t s = p->i;
            while (p->i < p->n && bareword_char((unsigned char)p->z[p->i])) p->i++;
            if (s == p->i) return qsyntax(p), NULL;
            m |= q_colset(p, p->z + s, p->i - s);
            if (p->err) return NULL;
        }
        p->i++;
        qspace(p);
        if (p->i >= p->n || p->z[p->i] != ':') return qsyntax(p), NULL;
        p->i++;
        return q_item(p, colmask & (negate ? ~m : m));
    }
    if (c == '"') {
        strb b = {0};
        p->i++;
        for (;;) {
            if (p->i >= p->n) {
                sqli_strb_free(&b);
                qerr(p, "full-text query: unterminated string%s", "");
                return NULL;
            }
            if (p->z[p->i] == '"') {
                if (p->i + 1 < p->n && p->z[p->i + 1] == '"') {
                    sqli_strb_addc(&b, '"');
                    p->i += 2;
                    continue;
                }
                p->i++;
                break;
            }
            sqli_strb_addc(&b, p->z[p->i++]);
        }
        qnode *q = new_phrase(p, b.p ? b.p : "", b.n, colmask);
        sqli_strb_free(&b);
        qspace(p);
        if (p->i < p->n && p->z[p->i] == '*') p->i++, p->r->ph[q->ph].prefix = 1;
        return q;
    }
    if (!bareword_char((unsigned char)c) ||
        (c == 'N' && p->n - p->i >= 5 && memcmp(p->z + p->i, "NEAR(", 5) == 0)) {
        if (c == 'N') return qerr(p, "full-text query: %s is not supported", "NEAR"), NULL;
        if (c == '^' || c == '+')
            return qerr(p, "full-text query: the operator %s is not supported",
                        c == '^' ? "^" : "+"),
                   NULL;
        return qsyntax(p), NULL;
    }
    size_t s = p->i;
    if (qkeyword(p, "AND") || qkeyword(p, "OR") || qkeyword(p, "NOT")) { /* an operator here */
        p->i = s;
        return qsyntax(p), NULL;
    }
    while (p->i < p->n && bareword_char((unsigned char)p->z[p->i])) p->i++;
    size_t e = p->i;
    qspace(p);
    if (p->i < p->n && p->z[p->i] == ':') { /* column filter */
        p->i++;
        uint64_t m = q_colset(p, p->z + s, e - s);
        return p->err ? NULL : q_item(p, colmask & (negate ? ~m : m));
    }
    if (negate) return qsyntax(p), NULL;
    qnode *q = new_phrase(p, p->z + s, e - s, colmask);
    if (p->i < p->n && p->z[p->i] == '*') p->i++, p->r->ph[q->ph].prefix = 1;
    return q;
}

static qnode *bin(qparser *p, int op, qnode *l, qnode *r) {
    if (!l || !r) return NULL;
    qnode *q = sqli_ar_alloc(&p->r->ar, sizeof *q);
    q->op = op;
    q->l = l;
    q->r = r;
    return q;
}

/* Does an item start here (for the implicit AND)? */
static int item_starts(qparser *p) {
    qspace(p);
    if (p->i >= p->n) return 0;
    char c = p->z[p->i];
    if (c == '"' || c == '{') return 1;
    if (!bareword_char((unsigned char)c)) return 0;
    size_t save = p->i;
    int op = qkeyword(p, "AND") || qkeyword(p, "OR") || qkeyword(p, "NOT");
    p->i = save;
    return !op;
}

/* Is the item here a group, "(...)" or "cols : (...)"? Groups are never
 * joined by the implicit AND (FTS5's grammar: only phrases are). */
static int group_starts(qparser *p) {
    size_t i = p->i;
    while (i < p->n && p->z[i] == ' ') i++;
    if (i < p->n && p->z[i] == '-') i++;
    if (i < p->n && p->z[i] == '{') {
        while (i < p->n && p->z[i] != '}') i++;
        i++;
    } else {
        while (i < p->n && bareword_char((unsigned char)p->z[i])) i++;
    }
    while (i < p->n && p->z[i] == ' ') i++;
    if (i < p->n && p->z[i] == ':') {
        i++;
        while (i < p->n && p->z[i] == ' ') i++;
    } else {
        i = p->i;
        while (i < p->n && p->z[i] == ' ') i++;
    }
    return i < p->n && p->z[i] == '(';
}

static qnode *q_seq(qparser *p, uint64_t colmask) {
    if (group_starts(p)) return q_item(p, colmask);
    qnode *q = q_item(p, colmask);
    while (q && !p->err && item_starts(p)) {
        if (group_starts(p)) return qsyntax(p), NULL;
        q = bin(p, Q_AND, q, q_item(p, colmask));
    }
    return q;
}

static qnode *q_not(qparser *p, uint64_t colmask) {
    qnode *q = q_seq(p, colmask);
    while (q && !p->err && qkeyword(p, "NOT")) q = bin(p, Q_NOT, q, q_seq(p, colmask));
    return q;
}

static qnode *q_and(qparser *p, uint64_t colmask) {
    qnode *q = q_not(p, colmask);
    while (q && !p->err && qkeyword(p, "AND")) q = bin(p, Q_AND, q, q_not(p, colmask));
    return q;
}

static qnode *q_or(qparser *p, uint64_t colmask) {
    qnode *q = q_and(p, colmask);
    while (q && !p->err && qkeyword(p, "OR")) q = bin(p, Q_OR, q, q_and(p, colmask));
    return q;
}

static int parse_query(vm *v, fts_run *r, const char *z, size_t n, uint64_t colmask) {
    qparser p = {r, z, n, 0, NULL, 0};
    r->root = q_or(&p, colmask);
    qspace(&p);
    if (!p.err && p.i < p.n) qsyntax(&p);
    if (p.err) return sqli_vm_error(v, SQL_ERROR, "%s", p.err);
    return SQL_OK;
}

/* ---- queries: evaluation ----------------------------------------------------------------- */

typedef struct tdoc { /* a token's occurrences in one row */
    const uint8_t *key;
    uint32_t klen;
    uint32_t npos;
    uint64_t *pos;   /* col << 32 | position, ascending (NULL when counting only) */
    uint32_t *cfreq; /* counting only: occurrences per index column */
} tdoc;

static int u64cmp(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static int tdoc_cmp(const void *a, const void *b) {
    const tdoc *x = a, *y = b;
    return keycmp(x->key, x->klen, y->key, y->klen);
}

/* Decode a postings value into positions. */
static int decode_postings(fts_run *r, const uint8_t *val, size_t vl, tdoc *d, int counts) {
    size_t i = 0, n = 0;
    int bad = 0;
    if (counts) { /* occurrences per column only: skip the positions */
        d->cfreq = sqli_ar_alloc(&r->ar, sizeof *d->cfreq * (size_t)r->x->ncol);
        d->pos = NULL;
        while (i < vl && !bad) {
            uint64_t col = sqli_fts_varint(val, vl, &i, &bad),
                     cnt = sqli_fts_varint(val, vl, &i, &bad);
            if (bad || cnt > vl || col >= (uint64_t)r->x->ncol) return -1;
            d->cfreq[col] += (uint32_t)cnt;
            for (uint64_t k = 0; k < cnt && !bad; k++) sqli_fts_varint(val, vl, &i, &bad);
        }
        return bad ? -1 : 0;
    }
    uint64_t cap = 8, *pos = sqli_ar_alloc(&r->ar, sizeof *pos * cap);
    while (i < vl && !bad) {
        uint64_t col = sqli_fts_varint(val, vl, &i, &bad), cnt = sqli_fts_varint(val, vl, &i, &bad),
                 p = 0;
        if (bad || cnt > vl) return -1;
        if (n + cnt > cap) {
            uint64_t *np = sqli_ar_alloc(&r->ar, sizeof *np * (cap = (n + cnt) * 2));
            memcpy(np, pos, sizeof *pos * n);
            pos = np;
        }
        for (uint64_t k = 0; k < cnt && !bad; k++) {
            p += sqli_fts_varint(val, vl, &i, &bad);
            pos[n++] = col << 32 | (p & 0xFFFFFFFFu);
        }
    }
    d->pos = pos;
    d->npos = (uint32_t)n;
    return bad ? -1 : 0;
}

/* Every row holding token tok (or a token starting with it), by key. */
static int token_docs(vm *v, fts_run *r, const char *tok, int n, int prefix, int counts, tdoc **out,
                      size_t *nout) {
    keyenc_buf k;
    sqli_keyenc_init(&k);
    uint8_t b = 1;
    sqli_key_raw(&k, &b, 1);
    sqli_key_raw(&k, tok, (size_t)n);
    b = 0;
    if (!prefix) sqli_key_raw(&k, &b, 1);
    store_cursor *c;
    int src = sqli_store_cursor_open(sqli_txn_for(v, r->x->tree), sqli_tree_id(r->x->tree), &c);
    if (src != STORE_OK) return sqli_keyenc_free(&k), store_err(v, src);
    tdoc *d = NULL;
    size_t nd = 0, cap = 0;
    int rc = SQL_OK;
    for (src = sqli_store_cursor_seek(c, STORE_SEEK_PREFIX, k.p, k.len); src == STORE_OK;
         src = sqli_store_cursor_next(c)) {
        const void *kp, *vp;
        size_t kl, vl;
        if ((src = sqli_store_cursor_key(c, &kp, &kl)) != STORE_OK ||
            (src = sqli_store_cursor_value(c, &vp, &vl)) != STORE_OK)
            break;
        const uint8_t *key = kp;
        size_t i = k.len - (prefix ? 0 : 1);
        while (i < kl && key[i] != 0) i++;
        if (i >= kl) {
            rc = sqli_vm_error(v, SQL_CORRUPT, "malformed full-text index %s", r->x->name);
            break;
        }
        if (nd == cap) d = xrealloc(d, sizeof *d * (cap = cap ? cap * 2 : 64));
        d[nd].klen = (uint32_t)(kl - i - 1);
        d[nd].key = (const uint8_t *)sqli_ar_strndup(&r->ar, (const char *)key + i + 1, d[nd].klen);
        if (decode_postings(r, vp, vl, &d[nd], counts) != 0) {
            rc = sqli_vm_error(v, SQL_CORRUPT, "malformed full-text index %s", r->x->name);
            break;
        }
        nd++;
    }
    sqli_store_cursor_close(c);
    sqli_keyenc_free(&k);
    if (rc == SQL_OK && src != STORE_OK && src != STORE_NOTFOUND) rc = store_err(v, src);
    if (rc != SQL_OK) return xfree(d), rc;
    if (prefix && nd > 1) { /* several terms: merge their rows */
        qsort(d, nd, sizeof *d, tdoc_cmp);
        size_t w = 0;
        for (size_t i = 0; i < nd;) {
            size_t j = i + 1, tot = d[i].npos;
            while (j < nd && tdoc_cmp(&d[i], &d[j]) == 0) tot += d[j++].npos;
            if (j > i + 1 && counts) {
                for (size_t q = i + 1; q < j; q++)
                    for (int c = 0; c < r->x->ncol; c++) d[i].cfreq[c] += d[q].cfreq[c];
            } else if (j > i + 1) {
                uint64_t *pos = sqli_ar_alloc(&r->ar, sizeof *pos * tot);
                size_t m = 0;
                for (size_t q = i; q < j; q++)
                    memcpy(pos + m, d[q].pos, sizeof *pos * d[q].npos), m += d[q].npos;
                qsort(pos, m, sizeof *pos, u64cmp);
                d[i].pos = pos;
                d[i].npos = (uint32_t)m;
            }
            d[w++] = d[i];
            i = j;
        }
        nd = w;
    }
    *out = d;
    *nout = nd;
    return SQL_OK;
}

static int has_pos(const tdoc *d, uint64_t p) {
    size_t lo = 0, hi = d->npos;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (d->pos[mid] < p)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < d->npos && d->pos[lo] == p;
}

/* The rows where phrase ph occurs (within its columns), with counts. */
static int eval_phrase(vm *v, fts_run *r, phrase *ph) {
    int ncol = r->x->ncol;
    if (ph->ntok == 0) return SQL_OK; /* matches nothing */
    tdoc **lists = xcalloc((size_t)ph->ntok, sizeof *lists);
    size_t *nl = xcalloc((size_t)ph->ntok, sizeof *nl), *at = xcalloc((size_t)ph->ntok, sizeof *at);
    int rc = SQL_OK;
    for (int t = 0; t < ph->ntok && rc == SQL_OK; t++)
        rc = token_docs(v, r, ph->tok[t], ph->tlen[t], ph->prefix && t == ph->ntok - 1,
                        ph->ntok == 1, &lists[t], &nl[t]);
    size_t cap = rc == SQL_OK ? nl[0] : 0;
    if (cap) ph->docs = sqli_ar_alloc(&r->ar, sizeof *ph->docs * cap);
    for (size_t i = 0; rc == SQL_OK && ph->ntok == 1 && i < nl[0]; i++) { /* one term: counts */
        tdoc *d = &lists[0][i];
        uint32_t tot = 0;
        for (int c = 0; c < ncol; c++) {
            if (!((ph->colmask >> c) & 1)) d->cfreq[c] = 0;
            tot += d->cfreq[c];
        }
        if (tot) ph->docs[ph->ndocs++] = (fdoc){d->key, d->klen, d->cfreq};
    }
    if (ph->ntok == 1) at[0] = nl[0];
    while (rc == SQL_OK && at[0] < nl[0]) {
        /* align every list on the first list's row */
        tdoc *d0 = &lists[0][at[0]];
        int all = 1;
        for (int t = 1; t < ph->ntok && all; t++) {
            while (at[t] < nl[t] && tdoc_cmp(&lists[t][at[t]], d0) < 0) at[t]++;
            all = at[t] < nl[t] && tdoc_cmp(&lists[t][at[t]], d0) == 0;
            if (at[t] >= nl[t]) at[0] = nl[0];
        }
        if (at[0] >= nl[0]) break;
        if (all) {
            uint32_t *cf = NULL, tot = 0;
            for (uint32_t i = 0; i < d0->npos; i++) {
                uint64_t p = d0->pos[i];
                int col = (int)(p >> 32);
                if (!((ph->colmask >> col) & 1)) continue;
                int ok = 1;
                for (int t = 1; t < ph->ntok && ok; t++)
                    ok = has_pos(&lists[t][at[t]], p + (uint64_t)t);
                if (!ok) continue;
                if (!cf) cf = sqli_ar_alloc(&r->ar, sizeof *cf * (size_t)ncol);
                cf[col]++;
                tot++;
            }
            if (tot) ph->docs[ph->ndocs++] = (fdoc){d0->key, d0->klen, cf};
        }
        at[0]++;
    }
    for (int t = 0; t < ph->ntok; t++) xfree(lists[t]);
    xfree(lists);
    xfree(nl);
    xfree(at);
    return rc;
}

typedef struct kset {
    kref *v;
    size_t n;
} kset;

static int kref_cmp(const kref *a, const kref *b) {
    return keycmp(a->key, a->klen, b->key, b->klen);
}

/* Combine two sorted sets: AND (both), OR (either), NOT (a without b). */
static kset combine(int op, kset a, kset b) {
    kset o = {xmalloc(sizeof(kref) * (a.n + b.n + 1)), 0};
    size_t i = 0, j = 0;
    while (i < a.n || j < b.n) {
        int c = i >= a.n ? 1 : j >= b.n ? -1 : kref_cmp(&a.v[i], &b.v[j]);
        if (c == 0) {
            if (op != Q_NOT) o.v[o.n++] = a.v[i];
            i++, j++;
        } else if (c < 0) {
            if (op != Q_AND) o.v[o.n++] = a.v[i];
            i++;
        } else {
            if (op == Q_OR) o.v[o.n++] = b.v[j];
            j++;
        }
    }
    xfree(a.v);
    xfree(b.v);
    return o;
}

static kset eval_node(fts_run *r, qnode *q) {
    if (q->op == Q_EMPTY) return (kset){xmalloc(sizeof(kref)), 0};
    if (q->l && q->l->op == Q_EMPTY) return eval_node(r, q->r);
    if (q->r && q->r->op == Q_EMPTY) return eval_node(r, q->l);
    if (q->op == Q_PHRASE) {
        phrase *ph = &r->ph[q->ph];
        kset s = {xmalloc(sizeof(kref) * (ph->ndocs + 1)), ph->ndocs};
        for (size_t i = 0; i < ph->ndocs; i++) s.v[i] = (kref){ph->docs[i].key, ph->docs[i].klen};
        return s;
    }
    kset a = eval_node(r, q->l), b = eval_node(r, q->r);
    return combine(q->op, a, b);
}

/* Totals for BM25: rows in the index and average tokens per row. */
static int read_totals(vm *v, fts_run *r) {
    uint8_t tk = 3;
    const void *val;
    size_t vl, i = 0;
    int src = sqli_store_get(sqli_txn_for(v, r->x->tree), sqli_tree_id(r->x->tree), &tk, 1, &val,
                             &vl),
        bad = 0;
    if (src == STORE_NOTFOUND) return SQL_OK;
    if (src != STORE_OK) return store_err(v, src);
    uint64_t rows = sqli_fts_varint(val, vl, &i, &bad), tokens = 0;
    for (int k = 0; k < r->x->ncol; k++) tokens += sqli_fts_varint(val, vl, &i, &bad);
    if (bad)
        return sqli_vm_error(v, SQL_CORRUPT, "malformed totals in full-text index %s", r->x->name);
    r->nrow = (double)rows;
    r->avgdl = rows ? (double)tokens / (double)rows : 0;
    return SQL_OK;
}

/* ---- the loop ---------------------------------------------------------------------------- */

static void run_free(fts_run *r) {
    if (!r) return;
    if (r->tc) sqli_store_cursor_close(r->tc);
    xfree(r->rows);
    sqli_ar_free(&r->ar);
    xfree(r);
}

index_t *sqli_fts_match_of(const expr *e, int cur) {
    if (e->op != E_FUNC || !e->fn || !(e->fn->flags & FN_FTS) || !sqli_name_eq(e->name, "match"))
        return NULL;
    const expr *t = e->args[0];
    return t->cur == cur ? fts_index(t->table) : NULL;
}

/* Parse and run the query of MATCH expression m over index x. */
static int run_query(vm *v, const expr *m, fts_run *r) {
    sql_value q;
    int rc = sqli_ex_eval(v, m->args[1], &q);
    if (rc != SQL_OK) return rc;
    if (q.type == SQL_NULL) {
        val_free(&q);
        return SQL_OK; /* NULL MATCH: no row */
    }
    char buf[40];
    size_t n;
    const char *z = sqli_val_text(&q, buf, &n);
    uint64_t mask = r->x->ncol >= 64 ? ~(uint64_t)0 : ((uint64_t)1 << r->x->ncol) - 1;
    int col = m->args[0]->col;
    if (col >= 0)
        for (int k = 0; k < r->x->ncol; k++)
            if (r->x->cols[k] == col) mask = (uint64_t)1 << k;
    r->qtext = sqli_ar_strndup(&r->ar, z, n);
    rc = parse_query(v, r, r->qtext, n, mask);
    val_free(&q);
    for (int i = 0; i < r->nph && rc == SQL_OK; i++) rc = eval_phrase(v, r, &r->ph[i]);
    if (rc == SQL_OK) rc = read_totals(v, r);
    if (rc != SQL_OK) return rc;
    kset s = eval_node(r, r->root);
    r->rows = s.v;
    r->nrows = s.n;
    for (int i = 0; i < r->nph; i++) { /* FTS5's IDF, floored at 1e-6 */
        double nhit = (double)r->ph[i].ndocs;
        double idf = log((r->nrow - nhit + 0.5) / (nhit + 0.5));
        r->ph[i].idf = idf <= 0.0 ? 1e-6 : idf;
    }
    return SQL_OK;
}

int sqli_fts_open(vm *v, loop *L, cursor *c) {
    run_free(L->fts);
    fts_run *r = L->fts = xcalloc(1, sizeof *r);
    c->fts = NULL;
    r->x = fts_index(L->tab);
    sqli_usage_scan(v->db, r->x);
    int rc = run_query(v, L->fts_match, r);
    if (rc != SQL_OK) return rc;
    int src =
        sqli_store_cursor_open(sqli_txn_for(v, L->tab->tree), sqli_tree_id(L->tab->tree), &r->tc);
    if (src != STORE_OK) return store_err(v, src);
    c->fts = r;
    return SQL_OK;
}

int sqli_fts_step(vm *v, loop *L, cursor *c) {
    fts_run *r = L->fts;
    if (!r || r->pos >= r->nrows) return SQL_DONE;
    kref *k = &r->rows[r->pos++];
    sqli_usage(v->db, r->x)->rows_read++;
    c->key = k->key;
    c->klen = k->klen;
    c->state = ROW_FTS;
    c->fts = r;
    r->key = k->key;
    r->klen = k->klen;
    return SQL_ROW;
}

int sqli_fts_load_row(vm *v, cursor *c) {
    fts_run *r = c->fts;
    const void *val;
    size_t vl;
    int src = sqli_store_cursor_seek(r->tc, STORE_SEEK_EQ, c->key, c->klen);
    if (src == STORE_OK) src = sqli_store_cursor_value(r->tc, &val, &vl);
    if (src == STORE_NOTFOUND) {
        c->state = ROW_NONE;
        return sqli_vm_error(v, SQL_CORRUPT, "full-text index %s names a missing row", r->x->name);
    }
    if (src != STORE_OK) return c->state = ROW_NONE, store_err(v, src);
    c->rec = val;
    c->reclen = vl;
    c->state = ROW_LAZY;
    return SQL_OK;
}

void sqli_fts_close(vm *v, loop *L) {
    cursor *c = v->curs && L->cur < v->ncur ? v->curs[L->cur] : NULL;
    if (c) c->fts = NULL;
    run_free(L->fts);
    L->fts = NULL;
}

/* ---- functions --------------------------------------------------------------------------- */

static int f_unused(vm *v, int argc, sql_value *a, sql_value *out) {
    return SQL_ERROR; /* sqli_fts_eval runs them */
}

static const func_def fts_funcs[] = {
    {"match", 2, 2, 0, FN_FTS | FN_VOLATILE, f_unused},
    {"bm25", 1, -1, 0, FN_FTS | FN_VOLATILE, f_unused},
    {"highlight", 4, 4, 0, FN_FTS | FN_VOLATILE, f_unused},
    {"snippet", 6, 6, 0, FN_FTS | FN_VOLATILE, f_unused},
};

int sqli_fts_is_func(const char *name) {
    for (size_t i = 0; i < sizeof fts_funcs / sizeof fts_funcs[0]; i++)
        if (sqli_name_eq(fts_funcs[i].name, name)) return 1;
    return 0;
}

/* The FROM item a bare name stands for, in sc or an enclosing scope. */
static srcitem *find_item(scope *sc, const char *name) {
    for (; sc; sc = sc->outer)
        for (int i = 0; i < sc->nsrc; i++) {
            srcitem *s = &sc->src[i];
            const char *nm = s->alias ? s->alias : s->name;
            if (s->tab && nm && sqli_name_eq(nm, name)) return s;
        }
    return NULL;
}

int sqli_fts_resolve(compiler *c, expr *e, scope *sc) {
    const func_def *f = NULL;
    for (size_t i = 0; i < sizeof fts_funcs / sizeof fts_funcs[0]; i++)
        if (sqli_name_eq(fts_funcs[i].name, e->name)) f = &fts_funcs[i];
    assert(f);
    if (e->nargs < f->nmin || (f->nmax >= 0 && e->nargs > f->nmax) || (e->flags & EF_STAR))
        return sqli_comp_error(c, e->pos, "wrong number of arguments to function %s()", e->name);
    if (e->win || e->r || (e->flags & EF_DISTINCT))
        return sqli_comp_error(c, e->pos, "%s() is not an aggregate or window function", e->name);
    e->fn = f;
    expr *a0 = e->args[0];
    srcitem *it = a0->op == E_COL && !a0->tab ? find_item(sc, a0->name) : NULL;
    if (it) { /* the table itself: its rowid stands for it */
        a0->cur = it->cur;
        a0->col = -1;
        a0->table = it->tab;
        a0->flags |= EF_RESOLVED;
    } else if (a0->op == E_COL && f == &fts_funcs[0]) { /* col MATCH: a column filter */
        if (sqli_resolve_expr(c, a0, sc) != SQL_OK) return SQL_ERROR;
    } else {
        return sqli_comp_error(c, a0->pos, "%s(): the first argument must name a table", e->name);
    }
    index_t *x = a0->op == E_COL ? fts_index(a0->table) : NULL;
    if (!x) return sqli_comp_error(c, a0->pos, "no full-text index on %s", a0->name);
    if (a0->col >= 0) {
        int k = 0;
        while (k < x->ncol && x->cols[k] != a0->col) k++;
        if (k == x->ncol)
            return sqli_comp_error(c, a0->pos, "column %s is not in full-text index %s", a0->name,
                                   x->name);
    }
    for (int i = 1; i < e->nargs; i++)
        if (sqli_resolve_expr(c, e->args[i], sc) != SQL_OK) return SQL_ERROR;
    return SQL_OK;
}

static size_t phrase_doc(fts_run *r, const phrase *ph);

/* Which phrases count in the current row (bm25's frequencies, highlights)?
 * FTS5's rule (fts5ExprCheckPoslists): those present, except under an AND
 * or a NOT that fails in this row, even when the row matches through an OR
 * above it. Returns whether q holds; clears the phrases of a failing node. */
static void clear_live(fts_run *r, qnode *q) {
    if (q->op == Q_PHRASE || q->op == Q_EMPTY)
        r->live[q->ph] = 0;
    else
        clear_live(r, q->l), clear_live(r, q->r);
}

static int check_live(fts_run *r, qnode *q) {
    if (q->op == Q_PHRASE)
        return r->live[q->ph] = phrase_doc(r, &r->ph[q->ph]) < r->ph[q->ph].ndocs;
    if (q->op == Q_EMPTY) return 0;
    if (q->l->op == Q_EMPTY) return check_live(r, q->r);
    if (q->r->op == Q_EMPTY) return check_live(r, q->l);
    int a = check_live(r, q->l), b = check_live(r, q->r);
    int ok = q->op == Q_AND ? a && b : q->op == Q_OR ? a || b : a && !b;
    if (!ok) clear_live(r, q);
    return ok;
}

static void row_live(fts_run *r) {
    if (r->live_row == r->pos) return;
    if (!r->live) r->live = sqli_ar_alloc(&r->ar, (size_t)r->nph + 1);
    memset(r->live, 0, (size_t)r->nph + 1);
    check_live(r, r->root);
    r->live_row = r->pos;
}

/* The current row's entry in ph's rows, ph->ndocs if none. */
static size_t phrase_doc(fts_run *r, const phrase *ph) {
    size_t lo = 0, hi = ph->ndocs;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (keycmp(ph->docs[mid].key, ph->docs[mid].klen, r->key, r->klen) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo >= ph->ndocs || keycmp(ph->docs[lo].key, ph->docs[lo].klen, r->key, r->klen) != 0)
        return ph->ndocs;
    return lo;
}

/* The current row's count of phrase p (weighted per column by w). */
static double phrase_freq(fts_run *r, int p, const double *w, int nw) {
    phrase *ph = &r->ph[p];
    row_live(r);
    size_t lo = r->live[p] ? phrase_doc(r, ph) : ph->ndocs;
    if (lo >= ph->ndocs) return 0;
    double f = 0;
    for (int k = 0; k < r->x->ncol; k++) {
        uint32_t n = ph->docs[lo].cfreq[k];
        for (uint32_t i = 0; i < n; i++) f += k < nw ? w[k] : 1.0;
    }
    return f;
}

static int row_tokens_total(vm *v, fts_run *r, double *D) {
    keyenc_buf k;
    sqli_keyenc_init(&k);
    doc_key(&k, r->key, r->klen);
    const void *val;
    size_t vl, i = 0;
    int src = sqli_store_get(sqli_txn_for(v, r->x->tree), sqli_tree_id(r->x->tree), k.p, k.len,
                             &val, &vl),
        bad = 0;
    sqli_keyenc_free(&k);
    if (src != STORE_OK && src != STORE_NOTFOUND) return store_err(v, src);
    uint64_t tot = 0;
    for (int c = 0; src == STORE_OK && c < r->x->ncol; c++)
        tot += sqli_fts_varint(val, vl, &i, &bad);
    *D = (double)tot;
    return SQL_OK;
}

/* FTS5's bm25(): -1 * sum over phrases of IDF * f * (k1 + 1) / (f + k1 * (1 - b + b * D / avgdl))
 */
static int f_bm25(vm *v, fts_run *r, int argc, sql_value *w, sql_value *out) {
    const double k1 = 1.2, b = 0.75;
    double wt[64], D = 0, score = 0;
    int nw = argc < 64 ? argc : 64;
    for (int i = 0; i < nw; i++) wt[i] = sqli_val_real(&w[i]);
    int rc = row_tokens_total(v, r, &D);
    if (rc != SQL_OK) return rc;
    for (int i = 0; i < r->nph; i++) {
        double f = phrase_freq(r, i, wt, nw);
        score += r->ph[i].idf * ((f * (k1 + 1.0)) / (f + k1 * (1 - b + b * D / r->avgdl)));
    }
    val_set_real(out, -1.0 * score);
    return SQL_OK;
}

/* ---- highlight and snippet --------------------------------------------------------------- */

typedef struct coltoks {
    int n, cap;
    char **tok;
    int *tlen, *start, *end;
    arena *ar;
} coltoks;

static void col_tok(void *arg, const char *tok, int ntok, int num, int start, int end) {
    coltoks *t = arg;
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 32;
        t->tok = xrealloc(t->tok, sizeof(char *) * (size_t)t->cap);
        t->tlen = xrealloc(t->tlen, sizeof(int) * (size_t)t->cap);
        t->start = xrealloc(t->start, sizeof(int) * (size_t)t->cap);
        t->end = xrealloc(t->end, sizeof(int) * (size_t)t->cap);
    }
    t->tok[t->n] = sqli_ar_strndup(t->ar, tok, (size_t)ntok);
    t->tlen[t->n] = ntok;
    t->start[t->n] = start;
    t->end[t->n++] = end;
}

static void coltoks_free(coltoks *t) {
    xfree(t->tok);
    xfree(t->tlen);
    xfree(t->start);
    xfree(t->end);
}

/* Does phrase ph occur at token i of the column's tokens? */
static int phrase_at(const phrase *ph, const coltoks *t, int i) {
    if (ph->ntok == 0 || i + ph->ntok > t->n) return 0;
    for (int k = 0; k < ph->ntok; k++) {
        int last = ph->prefix && k == ph->ntok - 1;
        if (last ? t->tlen[i + k] < ph->tlen[k] ||
                       memcmp(t->tok[i + k], ph->tok[k], (size_t)ph->tlen[k])
                 : t->tlen[i + k] != ph->tlen[k] ||
                       memcmp(t->tok[i + k], ph->tok[k], (size_t)ph->tlen[k]))
            return 0;
    }
    return 1;
}

/* Highlighted spans of column k: hl[i] = last token of the span starting at
 * token i, or -1. Spans of overlapping phrase matches merge (FTS5's rule);
 * only phrases that occur in this row count. */
static void find_spans(fts_run *r, int k, const coltoks *t, int *hl, int *hits, int *hend) {
    for (int i = 0; i < t->n; i++) hl[i] = -1;
    int span_s = -1, span_e = -1;
    for (int i = 0; i < t->n; i++) {
        for (int p = 0; p < r->nph; p++) {
            const phrase *ph = &r->ph[p];
            if (!((ph->colmask >> k) & 1) || phrase_freq(r, p, NULL, 0) == 0 ||
                !phrase_at(ph, t, i))
                continue;
            int e = i + ph->ntok - 1;
            if (hits) hits[i] |= 1 << (p < 30 ? p : 30);
            if (hend && e > hend[i]) hend[i] = e;
            if (span_s >= 0 && i <= span_e) {
                if (e > span_e) span_e = e;
            } else {
                if (span_s >= 0) hl[span_s] = span_e;
                span_s = i;
                span_e = e;
            }
        }
    }
    if (span_s >= 0) hl[span_s] = span_e;
}

/* The text of index column k of the current row (borrowed), or NULL. */
static const char *col_text(vm *v, const expr *e, fts_run *r, int k, char *buf, size_t *n) {
    cursor *c = sqli_vm_cursor(v, e->args[0]->cur);
    return value_text(sqli_cur_col(v, c, r->x->cols[k]), buf, n);
}

static void emit_range(strb *b, const char *z, int from, int to, const int *hl, const coltoks *t,
                       int t0, int t1, const char *open, const char *close) {
    /* text from byte `from` to byte `to`, tokens t0..t1 inside it */
    int at = from;
    for (int i = t0; i <= t1 && i < t->n; i++) {
        if (hl[i] < 0) continue;
        int e = hl[i] < t1 ? hl[i] : t1;
        sqli_strb_add(b, z + at, (size_t)(t->start[i] - at));
        sqli_strb_adds(b, open);
        sqli_strb_add(b, z + t->start[i], (size_t)(t->end[e] - t->start[i]));
        sqli_strb_adds(b, close);
        at = t->end[e];
        i = e;
    }
    if (to > at) sqli_strb_add(b, z + at, (size_t)(to - at));
}

static const char *arg_text(sql_value *a, char *buf) {
    size_t n;
    const char *z = a->type == SQL_NULL ? "" : sqli_val_text(a, buf, &n);
    return z;
}

static int f_highlight(vm *v, const expr *e, fts_run *r, sql_value *a, sql_value *out) {
    int k = (int)sqli_val_int(&a[0]);
    if (k < 0 || k >= r->x->ncol) return sqli_vm_error(v, SQL_RANGE, "no such column: %d", k);
    char b1[40], b2[40], b3[40];
    char *open = xstrdup(arg_text(&a[1], b2)), *close = xstrdup(arg_text(&a[2], b3));
    size_t n;
    const char *z = col_text(v, e, r, k, b1, &n);
    if (z) {
        arena ar = {0};
        coltoks t = {.ar = &ar};
        sqli_fts_tokenize(z, n, col_tok, &t);
        int *hl = xmalloc(sizeof(int) * (size_t)(t.n + 1));
        find_spans(r, k, &t, hl, NULL, NULL);
        strb b = {0};
        emit_range(&b, z, 0, (int)n, hl, &t, 0, t.n - 1, open, close);
        sqli_val_set_text_copy(out, b.p ? b.p : "", b.n);
        sqli_strb_free(&b);
        xfree(hl);
        coltoks_free(&t);
        sqli_ar_free(&ar);
    }
    xfree(open);
    xfree(close);
    return SQL_OK;
}

/* snippet(t, col, open, close, ellipsis, ntokens): the window of ntokens
 * tokens (of column col, or of the best column for -1) holding the most
 * distinct phrases of the query, then the most phrase tokens, earliest on
 * ties; highlighted as highlight() does, with the ellipsis where the window
 * cuts the text. */
static int f_snippet(vm *v, const expr *e, fts_run *r, sql_value *a, sql_value *out) {
    int want = (int)sqli_val_int(&a[0]);
    int64_t nt = sqli_val_int(&a[4]);
    if (nt < 1 || nt > 64)
        return sqli_vm_error(v, SQL_RANGE, "snippet(): the token count must be 1 to 64");
    if (want >= r->x->ncol) return sqli_vm_error(v, SQL_RANGE, "no such column: %d", want);
    char bz[40], b2[40], b3[40], b4[40];
    char *open = xstrdup(arg_text(&a[1], b2)), *close = xstrdup(arg_text(&a[2], b3)),
         *ell = xstrdup(arg_text(&a[3], b4));
    int best_col = -1, best_start = 0, best_score = -1;
    for (int k = 0; k < r->x->ncol; k++) {
        if (want >= 0 && k != want) continue;
        size_t n;
        const char *z = col_text(v, e, r, k, bz, &n);
        if (!z) continue;
        arena ar = {0};
        coltoks t = {.ar = &ar};
        sqli_fts_tokenize(z, n, col_tok, &t);
        int *hits = xcalloc((size_t)t.n + 1, sizeof(int)),
            *hend = xcalloc((size_t)t.n + 1, sizeof(int)),
            *hl = xmalloc(sizeof(int) * (size_t)(t.n + 1));
        find_spans(r, k, &t, hl, hits, hend);
        for (int s = 0; s < t.n; s++) { /* windows starting at the row's start or a hit */
            if (s > 0 && !hits[s]) continue;
            int mask = 0, cnt = 0, first = -1, last = -1;
            for (int i = s; i < s + nt && i < t.n; i++) {
                if (!hits[i]) continue;
                mask |= hits[i], cnt++;
                if (first < 0) first = i;
                if (hend[i] > last) last = hend[i];
            }
            int score = __builtin_popcount((unsigned)mask) * 1000 + cnt, at = s;
            if (first >= 0) { /* FTS5's placement: the hits in the middle of the window */
                at = first - ((int)nt - (last + 1 - first)) / 2;
                if (at + nt > t.n) at = t.n - (int)nt;
                if (at < 0) at = 0;
            }
            if (score > best_score) best_score = score, best_col = k, best_start = at;
        }
        xfree(hits);
        xfree(hend);
        xfree(hl);
        coltoks_free(&t);
        sqli_ar_free(&ar);
    }
    if (best_col >= 0) {
        size_t n;
        const char *z = col_text(v, e, r, best_col, bz, &n);
        arena ar = {0};
        coltoks t = {.ar = &ar};
        sqli_fts_tokenize(z, n, col_tok, &t);
        int *hl = xmalloc(sizeof(int) * (size_t)(t.n + 1));
        find_spans(r, best_col, &t, hl, NULL, NULL);
        strb b = {0};
        int last = best_start + (int)nt - 1 < t.n - 1 ? best_start + (int)nt - 1 : t.n - 1;
        int from = best_start > 0 ? t.start[best_start] : 0;
        int to = last < t.n - 1 ? t.end[last] : (int)n;
        if (best_start > 0) sqli_strb_adds(&b, ell);
        emit_range(&b, z, from, to, hl, &t, best_start, last, open, close);
        if (last < t.n - 1) sqli_strb_adds(&b, ell);
        sqli_val_set_text_copy(out, b.p ? b.p : "", b.n);
        sqli_strb_free(&b);
        xfree(hl);
        coltoks_free(&t);
        sqli_ar_free(&ar);
    }
    xfree(open);
    xfree(close);
    xfree(ell);
    return SQL_OK;
}

int sqli_fts_eval(vm *v, const expr *e, sql_value *out) {
    cursor *c = sqli_vm_cursor(v, e->args[0]->cur);
    fts_run *r = c->fts;
    val_set_null(out);
    /* MATCH is run by the loop over its index (never as a filter); the
     * others need a row that loop found */
    if (!r || c->state == ROW_NONE || c->state == ROW_NULL || !r->key ||
        sqli_name_eq(e->name, "match"))
        return sqli_vm_error(v, SQL_ERROR, "unable to use function %s in the requested context",
                             sqli_name_eq(e->name, "match") ? "MATCH" : e->name);
    int n = e->nargs - 1, rc = SQL_OK, k = 0;
    sql_value a[8];
    if (n > 8 && !sqli_name_eq(e->name, "bm25")) n = 8;
    sql_value *args = n > 8 ? xcalloc((size_t)n, sizeof *args) : a;
    for (; k < n && rc == SQL_OK; k++) rc = sqli_ex_eval(v, e->args[k + 1], &args[k]);
    if (rc == SQL_OK) {
        if (sqli_name_eq(e->name, "bm25"))
            rc = f_bm25(v, r, n, args, out);
        else if (sqli_name_eq(e->name, "highlight"))
            rc = f_highlight(v, e, r, args, out);
        else
            rc = f_snippet(v, e, r, args, out);
    }
    for (int i = 0; i < k; i++) val_free(&args[i]);
    if (args != a) xfree(args);
    return rc;
}
