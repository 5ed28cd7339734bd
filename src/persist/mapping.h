/* persist/mapping — which keys belong to which table, and how a cached value
 * becomes a row and back.
 *
 *   map users "user:{id}" mode write-behind ttl 3600
 *   map sessions "session:{id}" mode write-through column data ttl 900
 *
 * A key matches a mapping when it starts with the text before the first
 * {col} and ends with the text after the last; the middle (the "key slice")
 * holds the primary-key values. A pattern with several placeholders maps to a
 * composite primary key ("enrollment:{student_id}:{course_id}"): the slice
 * is split left to right, each value ending at the first occurrence of the
 * literal text that follows its placeholder, so a value can never contain
 * that text (the last value, which ends at the suffix, can). Every value is
 * non-empty; a key whose slice does not split that way does not belong to
 * the mapping. Two placeholders need literal text between them.
 * A mapping with `column` maps a STRING key to that column; without,
 * a HASH key whose fields are the table's other columns (a field absent from
 * the hash is NULL in the row and vice versa). Mappings apply to database 0.
 *
 * Row states are kept as a compact byte string ("state"): the list of
 * (column, value) pairs of the row, or a delete marker, so the journal, the
 * flusher and dead letters all use the same representation. */
#ifndef LARDER_PERSIST_MAPPING_H
#define LARDER_PERSIST_MAPPING_H
#include <stddef.h>
#include "kv/object.h"
#include "persist/store_api.h"
#include "util/sbuf.h"

enum { MAPPING_MAX_KEY = 8 }; /* placeholders (primary-key columns) per pattern */
enum { MODE_CACHE_ASIDE = 0, MODE_READ_THROUGH, MODE_WRITE_THROUGH, MODE_WRITE_BEHIND };

typedef struct mapping {
    char *name; /* the table */
    char *pattern;
    char *prefix, *suffix;
    size_t plen, slen;
    int nkey;                       /* placeholders: the primary-key columns */
    char *keycols[MAPPING_MAX_KEY]; /* in pattern order */
    char *seps[MAPPING_MAX_KEY];    /* seps[i]: the literal text after keycols[i]
                                       (i < nkey - 1; never empty) */
    size_t seplens[MAPPING_MAX_KEY];
    int mode;
    long long ttl;     /* seconds, 0 = none */
    char *column;      /* string mapping's column; NULL for a hash mapping */
    size_t column_len; /* strlen(column) */
    double beta;       /* XFetch factor; 0 disables early refresh */
    int index;         /* position in the mapping list */
    /* resolved against the store */
    store_column *cols;
    int ncols;
    int check_free; /* no row write of this map can be refused by its table
                       alone (mapping_rows_unrefusable): write-behind writes
                       skip the store's check; cleared while the schema may
                       have changed (core.c) */
} mapping;

typedef struct mapping_set {
    mapping **v;
    int n;
} mapping_set;

/* Parses "NAME PATTERN mode MODE [ttl S] [column C] [beta F]" (already split). */
mapping *mapping_parse(int argc, char **argv, char **err);
void mapping_free(mapping *m);
void mapping_set_free(mapping_set *s);
/* One mapping's spec back as text (CONFIG GET / REWRITE). */
void mapping_format(const mapping *m, sbuf *out);

/* The mapping a key belongs to (longest prefix + suffix wins), with the key
 * slice (the primary-key values and the separators between them) as a slice
 * of key. NULL when unmapped. */
const mapping *mapping_match(const mapping_set *s, const char *key, size_t klen, const char **pk,
                             size_t *pklen);
/* Splits a key slice into m->nkey values (SV_TEXT pointing into pk), in
 * pattern order. ERR when it does not split (a value is empty or a
 * separator is missing). */
int mapping_split_pk(const mapping *m, const char *pk, size_t pklen, store_value *vals);
/* The cache key of a row from its primary-key values in the table's key order
 * (store_column.pk; as a store reports a changed row). ERR when the values
 * cannot form a key of m (a count that differs, an empty value, a value that
 * holds its separator): no such key can be cached. */
int mapping_key_from_pk(const mapping *m, int npk, const store_value *pk, sbuf *key);
/* Checks a mapping against its table's columns; sets m->cols (takes them)
 * and m->check_free. */
int mapping_resolve(mapping *m, store_column *cols, int ncols, char **err);
/* Can no row m writes be refused by its table alone? Every column takes any
 * text (store_column.takes_text: the module says so), and every NOT NULL
 * column is always written with a value (a key column, a string map's own
 * column). A map's rows hold TEXT values only (key slices, string values,
 * hash fields) or NULL for an absent hash field. */
int mapping_rows_unrefusable(const mapping *m);

/* ---- row states --------------------------------------------------------------------- */
/* state := 'D' (delete)  |  'R' count:u32 { clen:u32 col vlen:u32 value | vlen = 0xFFFFFFFF for
 * NULL } */

/* The row state of a cache entry (NULL entry: a delete). ERR with *err when a
 * hash field has no column. */
int mapping_state_from_entry(const mapping *m, const kobj *o, sbuf *state, char **err);
int mapping_state_is_delete(const char *state, size_t len);
/* Fills a store_op from a state; its arrays are in *scratch: inside it for
 * up to SCRATCH_COLS columns, else allocated (free with mapping_op_free).
 * The op points into *scratch: scratch must not move while op is used. */
enum { SCRATCH_COLS = 4 };
typedef struct op_scratch {
    const char **keycols;
    store_value *keyvals;
    const char **cols;
    store_value *vals;
    const char *keycol_inl[MAPPING_MAX_KEY];
    store_value keyval_inl[MAPPING_MAX_KEY];
    const char *cols_inl[SCRATCH_COLS];
    store_value vals_inl[SCRATCH_COLS];
} op_scratch;
/* ERR when the state is malformed or pk does not split (mapping_split_pk). */
int mapping_state_to_op(const mapping *m, const char *pk, size_t pklen, const char *state,
                        size_t len, store_op *op, op_scratch *scratch);
void mapping_op_free(op_scratch *scratch);

/* A loaded row (column names and values as the store gave them) into a cache
 * value: for a string mapping the column's text, for a hash mapping the
 * non-NULL non-key columns as fields. Returns NULL when there is nothing to
 * cache (string column NULL). */
kobj *mapping_entry_from_row(const mapping *m, const char *key, size_t klen, int n,
                             const char *const *names, const store_value *vals);
/* Text form of a value (numbers as the store prints them). */
void store_value_text(const store_value *v, sbuf *out);

/* values.c: a hash key's fields as a row and back, through the hash type's
 * own operations. hash_entry_from_fields returns a new entry (the caller
 * owns it), NULL when n <= 0 or the hash type gives none. */
void hash_for_each_field(const kobj *o,
                         void (*fn)(void *ctx, const char *f, size_t flen, const char *v,
                                    size_t vlen),
                         void *ctx);
kobj *hash_entry_from_fields(const char *key, size_t klen, int n, const char *const *fields,
                             const size_t *flens, const char *const *vals, const size_t *vlens);
#endif
