/* sql/fts.h — full-text indexes of the SQL engine (fts.c; not an API).
 *
 * CREATE FULLTEXT INDEX name ON table(col, ...) keeps an inverted index of
 * the text of those columns in one B-tree of the database (under the WAL,
 * changed in the same transaction as the table). A query names the table:
 *   SELECT ... FROM docs WHERE docs MATCH 'query' ORDER BY bm25(docs)
 * with snippet(docs, ...) and highlight(docs, ...) as in sqlite3's FTS5.
 * The layout of the tree and the query language are described in fts.c.
 */
#ifndef LARDER_SQL_FTS_H
#define LARDER_SQL_FTS_H
#include "sql/sqlrt.h"

#define FTS_MAX_TOKEN 256 /* bytes of a folded token; longer tokens are cut */

/* The tokenizer: calls fn for every token of z[0..n) with its folded text
 * (tok, ntok bytes, NUL-terminated), its number (0, 1, ...) and its byte span
 * [start, end) in z. */
typedef void (*fts_token_fn)(void *arg, const char *tok, int ntok, int num, int start, int end);
void sqli_fts_tokenize(const char *z, size_t n, fts_token_fn fn, void *arg);

/* match(), bm25(), snippet(), highlight(): names the resolver hands to fts.c. */
int sqli_fts_is_func(const char *name);
/* The varint at p[*i] of a posting or totals record (util's LEB128
 * varint_get), *i moved past it; 0 with *bad set past the end or when
 * malformed. larder-check's walk of the index reads them with it too. */
uint64_t sqli_fts_varint(const uint8_t *p, size_t n, size_t *i, int *bad);
int sqli_fts_resolve(compiler *c, expr *e, scope *sc);
int sqli_fts_eval(vm *v, const expr *e, sql_value *out);
/* Is e a MATCH term on cursor cur? Its full-text index (NULL if not). */
index_t *sqli_fts_match_of(const expr *e, int cur);

/* The ACC_FTS loop (exec.c). */
int sqli_fts_open(vm *v, loop *L, cursor *c);
int sqli_fts_step(vm *v, loop *L, cursor *c); /* SQL_ROW, SQL_DONE or an error */
void sqli_fts_close(vm *v, loop *L);
int sqli_fts_load_row(vm *v, cursor *c); /* ROW_FTS -> ROW_LAZY: read the row by its key */

/* Index maintenance (dml.c, ddl.c): every full-text index of t. */
int sqli_fts_row_insert(vm *v, table *t, const sql_value *row, const uint8_t *key, size_t klen);
int sqli_fts_row_delete(vm *v, table *t, const sql_value *row, const uint8_t *key, size_t klen);
int sqli_fts_fill(vm *v, table *t, index_t *x); /* a new index: every row of t */
/* Does an UPDATE that changed these columns (or the key) touch x? */
int sqli_fts_cols_changed(const index_t *x, const uint8_t *changed, int pkchanged);

#endif
