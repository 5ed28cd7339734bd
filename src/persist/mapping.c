/* persist/mapping — see mapping.h. */
#include "persist/mapping.h"
#include "server/api.h"
#include "util/mem.h"
#include "util/strutil.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *mode_names[] = {"cache-aside", "read-through", "write-through", "write-behind"};

void mapping_free(mapping *m) {
    if (!m) return;
    xfree(m->name);
    xfree(m->pattern);
    xfree(m->prefix);
    xfree(m->suffix);
    for (int i = 0; i < m->nkey; i++) {
        xfree(m->keycols[i]);
        xfree(m->seps[i]);
    }
    xfree(m->column);
    for (int i = 0; i < m->ncols; i++) {
        xfree(m->cols[i].name);
        xfree(m->cols[i].decltype);
    }
    xfree(m->cols);
    xfree(m);
}

void mapping_set_free(mapping_set *s) {
    for (int i = 0; i < s->n; i++) mapping_free(s->v[i]);
    xfree(s->v);
    s->v = NULL;
    s->n = 0;
}

static int fail(char **err, const char *fmt, const char *arg) {
    sbuf b = SBUF_INIT;
    sbuf_printf(&b, fmt, arg);
    *err = sbuf_take(&b, NULL);
    return ERR;
}

/* prefix {k0} sep0 {k1} sep1 ... {kn-1} suffix */
static int parse_pattern(mapping *m, const char *pat, char **err) {
    const char *open = strchr(pat, '{');
    if (!open) return fail(err, "map pattern '%s' needs a {column} placeholder", pat);
    m->pattern = xstrdup(pat);
    m->prefix = xmemdup(pat, (size_t)(open - pat));
    m->plen = (size_t)(open - pat);
    const char *p = open;
    for (;;) {
        const char *close = strchr(p, '}');
        if (!close || close == p + 1 || memchr(p + 1, '{', (size_t)(close - p - 1)))
            return fail(err, "map pattern '%s' has an unclosed or empty {column} placeholder", pat);
        if (m->nkey == MAPPING_MAX_KEY)
            return fail(err, "map pattern '%s' has more than 8 placeholders", pat);
        m->keycols[m->nkey++] = xmemdup(p + 1, (size_t)(close - p - 1));
        const char *next = strchr(close + 1, '{');
        if (!next) {
            if (strchr(close + 1, '}'))
                return fail(err, "map pattern '%s' has a '}' outside a placeholder", pat);
            m->suffix = xstrdup(close + 1);
            m->slen = strlen(close + 1);
            break;
        }
        if (next == close + 1)
            return fail(err,
                        "map pattern '%s': placeholders need literal text between them (where "
                        "would one value end?)",
                        pat);
        m->seps[m->nkey - 1] = xmemdup(close + 1, (size_t)(next - close - 1));
        m->seplens[m->nkey - 1] = (size_t)(next - close - 1);
        if (memchr(close + 1, '}', (size_t)(next - close - 1)))
            return fail(err, "map pattern '%s' has a '}' outside a placeholder", pat);
        p = next;
    }
    for (int i = 0; i < m->nkey; i++)
        for (int j = 0; j < i; j++)
            if (!strcasecmp(m->keycols[i], m->keycols[j]))
                return fail(err, "map pattern '%s' names a column twice", pat);
    return OK;
}

mapping *mapping_parse(int argc, char **argv, char **err) {
    if (argc < 4) {
        fail(err, "%s",
             "map needs: NAME \"prefix:{column}\" mode MODE [ttl SECONDS] [column NAME] [beta "
             "FLOAT]");
        return NULL;
    }
    mapping *m = xcalloc(1, sizeof(*m));
    m->name = xstrdup(argv[0]);
    m->beta = 1.0;
    m->mode = -1;
    if (parse_pattern(m, argv[1], err) != OK) goto bad;
    for (int i = 2; i < argc; i += 2) {
        if (i + 1 >= argc) {
            fail(err, "map option '%s' needs a value", argv[i]);
            goto bad;
        }
        const char *opt = argv[i], *val = argv[i + 1];
        if (!strcasecmp(opt, "mode")) {
            for (int k = 0; k < 4; k++)
                if (!strcasecmp(val, mode_names[k])) m->mode = k;
            if (m->mode < 0) {
                fail(err,
                     "unknown map mode '%s' (cache-aside, read-through, write-through, "
                     "write-behind)",
                     val);
                goto bad;
            }
        } else if (!strcasecmp(opt, "ttl")) {
            if (!str_to_ll(val, strlen(val), &m->ttl) || m->ttl < 0) {
                fail(err, "map ttl '%s' is not a number of seconds", val);
                goto bad;
            }
        } else if (!strcasecmp(opt, "column")) {
            xfree(m->column);
            m->column = xstrdup(val);
            m->column_len = strlen(val);
        } else if (!strcasecmp(opt, "beta")) {
            if (!str_to_double(val, strlen(val), &m->beta) || m->beta < 0) {
                fail(err, "map beta '%s' is not a non-negative number", val);
                goto bad;
            }
        } else {
            fail(err, "unknown map option '%s' (mode, ttl, column, beta)", opt);
            goto bad;
        }
    }
    if (m->mode < 0) {
        fail(err, "map %s needs a mode", m->name);
        goto bad;
    }
    return m;
bad:
    mapping_free(m);
    return NULL;
}

void mapping_format(const mapping *m, sbuf *out) {
    sbuf_printf(out, "%s %s mode %s", m->name, m->pattern, mode_names[m->mode]);
    if (m->ttl) sbuf_printf(out, " ttl %lld", m->ttl);
    if (m->column) sbuf_printf(out, " column %s", m->column);
    if (m->beta != 1.0) sbuf_printf(out, " beta %g", m->beta);
}

int mapping_split_pk(const mapping *m, const char *pk, size_t pklen, store_value *vals) {
    const char *p = pk, *end = pk + pklen;
    for (int i = 0; i < m->nkey; i++) {
        const char *stop = end;
        if (i < m->nkey - 1) {
            stop = memmem(p, (size_t)(end - p), m->seps[i], m->seplens[i]);
            if (!stop) return ERR;
        }
        if (stop == p) return ERR; /* an empty value */
        vals[i] = (store_value){SV_TEXT, 0, 0, p, (size_t)(stop - p)};
        p = stop + (i < m->nkey - 1 ? m->seplens[i] : 0);
    }
    return OK;
}

const mapping *mapping_match(const mapping_set *s, const char *key, size_t klen, const char **pk,
                             size_t *pklen) {
    const mapping *best = NULL;
    store_value vals[MAPPING_MAX_KEY];
    for (int i = 0; i < s->n; i++) {
        const mapping *m = s->v[i];
        if (klen <= m->plen + m->slen) continue; /* the key value is not empty */
        if (memcmp(key, m->prefix, m->plen) != 0) continue;
        if (m->slen && memcmp(key + klen - m->slen, m->suffix, m->slen) != 0) continue;
        if (best && m->plen + m->slen <= best->plen + best->slen) continue;
        if (m->nkey > 1 && mapping_split_pk(m, key + m->plen, klen - m->plen - m->slen, vals) != OK)
            continue;
        best = m;
    }
    if (best) {
        *pk = key + best->plen;
        *pklen = klen - best->plen - best->slen;
    }
    return best;
}

static int column_index(const mapping *m, const char *name, size_t len) {
    for (int i = 0; i < m->ncols; i++)
        if (strlen(m->cols[i].name) == len && strncasecmp(m->cols[i].name, name, len) == 0)
            return i;
    return -1;
}

int mapping_resolve(mapping *m, store_column *cols, int ncols, char **err) {
    m->cols = cols;
    m->ncols = ncols;
    int npk = 0;
    for (int i = 0; i < ncols; i++) npk += cols[i].pk > 0;
    sbuf b = SBUF_INIT;
    for (int i = 0; i < m->nkey && !b.len; i++) {
        int k = column_index(m, m->keycols[i], strlen(m->keycols[i]));
        if (k < 0)
            sbuf_printf(&b, "map %s: table %s has no column '%s' (from the pattern %s)", m->name,
                        m->name, m->keycols[i], m->pattern);
        else if (!cols[k].pk && m->nkey == 1)
            sbuf_printf(&b, "map %s: column %s.%s must be the table's whole primary key", m->name,
                        m->name, m->keycols[i]);
        else if (!cols[k].pk)
            sbuf_printf(&b, "map %s: column %s.%s is not in the table's primary key", m->name,
                        m->name, m->keycols[i]);
    }
    if (b.len) {
    } else if (npk != m->nkey && m->nkey == 1)
        sbuf_printf(&b, "map %s: column %s.%s must be the table's whole primary key", m->name,
                    m->name, m->keycols[0]);
    else if (npk != m->nkey)
        sbuf_printf(&b,
                    "map %s: the pattern %s names %d key columns; the table's primary key has %d",
                    m->name, m->pattern, m->nkey, npk);
    else if (m->column && column_index(m, m->column, strlen(m->column)) < 0)
        sbuf_printf(&b, "map %s: table %s has no column '%s'", m->name, m->name, m->column);
    else if (m->column && cols[column_index(m, m->column, strlen(m->column))].pk)
        sbuf_printf(&b, "map %s: the value column cannot be the key column %s", m->name, m->column);
    else if (m->column) {
        int t = cols[column_index(m, m->column, strlen(m->column))].type;
        if (t == SV_INT || t == SV_REAL)
            sbuf_printf(
                &b,
                "map %s: column %s.%s is numeric (%s); a string key needs a TEXT or BLOB column",
                m->name, m->name, m->column,
                cols[column_index(m, m->column, strlen(m->column))].decltype);
    }
    if (b.len) {
        *err = sbuf_take(&b, NULL);
        return ERR;
    }
    sbuf_free(&b);
    m->check_free = mapping_rows_unrefusable(m);
    return OK;
}

int mapping_rows_unrefusable(const mapping *m) {
    for (int i = 0; i < m->ncols; i++) {
        const store_column *c = &m->cols[i];
        if (!c->takes_text) return 0;
        /* a hash map leaves a column NULL when its field is absent; a string
         * map writes its own column only (the others are NULL in a new row) */
        int always_set = c->pk || (m->column && strlen(m->column) == strlen(c->name) &&
                                   !strcasecmp(m->column, c->name));
        if (c->notnull && !always_set) return 0;
    }
    return m->ncols > 0;
}

/* ---- states ------------------------------------------------------------------------- */

static void put_u32(sbuf *b, uint32_t v) {
    sbuf_append(b, &v, 4);
}
static uint32_t get_u32(const char *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

int mapping_state_is_delete(const char *state, size_t len) {
    return len >= 1 && state[0] == 'D';
}

typedef struct state_builder {
    const mapping *m;
    sbuf *out;
    uint32_t count;
    char *err;
} state_builder;

/* One column's pair of a state at p (the layout in mapping.h): returns its end. */
static char *put_pair(char *p, const char *col, uint32_t clen, const char *val, uint32_t vlen) {
    memcpy(p, &clen, 4);
    memcpy(p + 4, col, clen);
    memcpy(p + 4 + clen, &vlen, 4);
    if (vlen) memcpy(p + 8 + clen, val, vlen);
    return p + 8 + clen + vlen;
}

static void add_pair(state_builder *sb, const char *col, size_t clen, const char *val,
                     size_t vlen) {
    /* one reservation: this runs for every write-behind write */
    sbuf *b = sb->out;
    sbuf_reserve(b, 8 + clen + vlen);
    char *end = put_pair(b->p + b->len, col, (uint32_t)clen, val, (uint32_t)vlen);
    b->len = (size_t)(end - b->p);
    *end = '\0';
    sb->count++;
}

static void hash_field_cb(void *ctx, const char *f, size_t flen, const char *v, size_t vlen) {
    state_builder *sb = ctx;
    if (sb->err) return;
    int k = column_index(sb->m, f, flen);
    if (k < 0 || sb->m->cols[k].pk) {
        sbuf e = SBUF_INIT;
        sbuf_printf(&e, "%s: %s.%.*s",
                    k < 0 ? "no such column" : "a hash field cannot set the key column",
                    sb->m->name, (int)flen, f);
        sb->err = sbuf_take(&e, NULL);
        return;
    }
    add_pair(sb, sb->m->cols[k].name, strlen(sb->m->cols[k].name), v, vlen);
}

int mapping_state_from_entry(const mapping *m, const kobj *o, sbuf *state, char **err) {
    sbuf_clear(state);
    if (!o) {
        sbuf_append(state, "D", 1);
        return OK;
    }
    if (m->column) {
        if (o->type != OBJ_STRING) {
            *err = xstrdup("WRONGTYPE map of a string key holds another type");
            return ERR;
        }
        /* this runs for every write-behind write: one reservation for
         * the tag, the count of one and the pair */
        uint32_t one = 1;
        sbuf_reserve(state, 5 + 8 + m->column_len + o->vlen); /* len is 0 */
        char *p = state->p;
        p[0] = 'R';
        memcpy(p + 1, &one, 4);
        char *end = put_pair(p + 5, m->column, (uint32_t)m->column_len, kobj_val(o), o->vlen);
        state->len = (size_t)(end - p);
        *end = '\0';
        return OK;
    }
    sbuf_append(state, "R", 1);
    size_t count_at = state->len;
    put_u32(state, 0);
    state_builder sb = {m, state, 0, NULL};
    if (o->type != OBJ_HASH) {
        *err = xstrdup("WRONGTYPE map of a hash key holds another type");
        return ERR;
    }
    hash_for_each_field(o, hash_field_cb, &sb);
    if (sb.err) {
        *err = sb.err;
        return ERR;
    }
    /* A nullable column absent from the hash is marked absent (NULL): a new
     * row takes the column's DEFAULT, an existing one gets NULL (the field
     * was deleted). NOT NULL columns absent from the hash are left out:
     * the row keeps its value (or DEFAULT). */
    for (int i = 0; i < m->ncols; i++) {
        if (m->cols[i].pk || m->cols[i].notnull) continue;
        int present = 0;
        size_t off = count_at + 4;
        for (uint32_t k = 0; k < sb.count && !present; k++) {
            uint32_t cl = get_u32(state->p + off);
            present =
                cl == strlen(m->cols[i].name) && !memcmp(state->p + off + 4, m->cols[i].name, cl);
            off += 4 + cl;
            /* an absent column's length is UINT32_MAX and no bytes follow */
            uint32_t vl = get_u32(state->p + off);
            off += 4 + (vl == UINT32_MAX ? 0 : (size_t)vl);
        }
        if (!present) {
            put_u32(state, (uint32_t)strlen(m->cols[i].name));
            sbuf_puts(state, m->cols[i].name);
            put_u32(state, UINT32_MAX);
            sb.count++;
        }
    }
    memcpy(state->p + count_at, &sb.count, 4);
    return OK;
}

int mapping_state_to_op(const mapping *m, const char *pk, size_t pklen, const char *state,
                        size_t len, store_op *op, op_scratch *s) {
    memset(op, 0, sizeof(*op));
    /* only the pointers: the inline arrays are written before they are read
     * (a batch fills thousands of these, see writebehind.c start_batch) */
    op->table = m->name;
    s->keycols = s->keycol_inl;
    s->keyvals = s->keyval_inl;
    s->cols = s->cols_inl;
    s->vals = s->vals_inl;
    if (mapping_split_pk(m, pk, pklen, s->keyvals) != OK) return ERR;
    for (int i = 0; i < m->nkey; i++) s->keycols[i] = m->keycols[i];
    op->nkey = m->nkey;
    op->keycols = s->keycols;
    op->keyvals = s->keyvals;
    if (mapping_state_is_delete(state, len)) {
        op->kind = STORE_DELETE;
        return OK;
    }
    if (len < 5 || state[0] != 'R') return ERR;
    uint32_t n = get_u32(state + 1);
    op->kind = STORE_UPSERT;
    if (n > SCRATCH_COLS) {
        s->cols = xcalloc(n, sizeof(char *));
        s->vals = xcalloc(n, sizeof(store_value));
    }
    size_t off = 5;
    for (uint32_t i = 0; i < n; i++) {
        if (off + 4 > len) return ERR;
        uint32_t cl = get_u32(state + off);
        off += 4;
        if (off + cl + 4 > len) return ERR;
        /* column names point into the state: NUL-terminated copies are kept
         * in the mapping's column list, so point at those */
        int k = column_index(m, state + off, cl);
        if (k < 0) return ERR;
        s->cols[i] = m->cols[k].name;
        off += cl;
        uint32_t vl = get_u32(state + off);
        off += 4;
        if (vl == UINT32_MAX) {
            s->vals[i] = (store_value){SV_NULL, 0, 0, NULL, 0};
        } else {
            if (off + vl > len) return ERR;
            s->vals[i] = (store_value){SV_TEXT, 0, 0, state + off, vl};
            off += vl;
        }
    }
    op->ncols = (int)n;
    op->cols = s->cols;
    op->vals = s->vals;
    return OK;
}

int mapping_key_from_pk(const mapping *m, int npk, const store_value *pk, sbuf *key) {
    if (npk != m->nkey) return ERR;
    sbuf_clear(key);
    sbuf_append(key, m->prefix, m->plen);
    sbuf t = SBUF_INIT;
    int rc = OK;
    for (int i = 0; i < m->nkey && rc == OK; i++) {
        int k = column_index(m, m->keycols[i], strlen(m->keycols[i]));
        int pos = k >= 0 ? m->cols[k].pk : 0;
        if (pos < 1 || pos > npk || pk[pos - 1].type == SV_NULL) {
            rc = ERR;
            break;
        }
        sbuf_clear(&t);
        store_value_text(&pk[pos - 1], &t);
        /* a value holding its separator would split elsewhere: no key of m */
        if (!t.len || (i < m->nkey - 1 && memmem(t.p, t.len, m->seps[i], m->seplens[i]))) rc = ERR;
        sbuf_append(key, t.p ? t.p : "", t.len);
        if (i < m->nkey - 1) sbuf_append(key, m->seps[i], m->seplens[i]);
    }
    sbuf_free(&t);
    sbuf_append(key, m->suffix, m->slen);
    return rc;
}

void mapping_op_free(op_scratch *s) {
    if (s->cols != s->cols_inl) xfree(s->cols);
    if (s->vals != s->vals_inl) xfree(s->vals);
    s->cols = s->cols_inl;
    s->vals = s->vals_inl;
}

void store_value_text(const store_value *v, sbuf *out) {
    char buf[64];
    switch (v->type) {
    case SV_INT:
        sbuf_printf(out, "%lld", (long long)v->i);
        break;
    case SV_REAL:
        double_to_str_human(buf, sizeof(buf), v->d);
        sbuf_puts(out, buf);
        break;
    case SV_TEXT:
    case SV_BLOB:
        sbuf_append(out, v->p, v->len);
        break;
    default:
        break;
    }
}

kobj *mapping_entry_from_row(const mapping *m, const char *key, size_t klen, int n,
                             const char *const *names, const store_value *vals) {
    if (m->column) {
        for (int i = 0; i < n; i++) {
            if (strcasecmp(names[i], m->column) != 0) continue;
            if (vals[i].type == SV_NULL) return NULL;
            sbuf t = SBUF_INIT;
            store_value_text(&vals[i], &t);
            kobj *o = kobj_new_string(key, klen, t.p ? t.p : "", t.len, t.len);
            sbuf_free(&t);
            return o;
        }
        return NULL;
    }
    const char **f = xcalloc((size_t)n, sizeof(char *)), **v = xcalloc((size_t)n, sizeof(char *));
    size_t *fl = xcalloc((size_t)n, sizeof(size_t)), *vl = xcalloc((size_t)n, sizeof(size_t));
    sbuf *texts = xcalloc((size_t)n, sizeof(sbuf));
    int k = 0;
    for (int i = 0; i < n; i++) {
        int ci = column_index(m, names[i], strlen(names[i]));
        if (vals[i].type == SV_NULL || (ci >= 0 && m->cols[ci].pk)) continue;
        store_value_text(&vals[i], &texts[k]);
        f[k] = names[i];
        fl[k] = strlen(names[i]);
        v[k] = texts[k].p ? texts[k].p : "";
        vl[k] = texts[k].len;
        k++;
    }
    kobj *o = k ? hash_entry_from_fields(key, klen, k, f, fl, v, vl) : NULL;
    for (int i = 0; i < n; i++) sbuf_free(&texts[i]);
    xfree(texts);
    xfree(f);
    xfree(v);
    xfree(fl);
    xfree(vl);
    return o;
}
