/* sql/json.c — the JSON functions: json, json_valid, json_type,
 * json_extract, json_array, json_object, json_array_length, json_quote, the
 * -> and ->> operators, the editing functions json_set, json_insert,
 * json_replace, json_remove and json_patch, as sqlite3 3.40 has them (RFC 8259 text, no
 * JSON5).
 *
 * A text is parsed into a flat array of nodes in document order; a
 * container's node counts the nodes of its whole subtree, so a sibling is
 * found by skipping. Strings and numbers keep their text as written: json()
 * minifies without rewriting them (as sqlite3 does).
 *
 * sqlite3 marks the text that JSON functions return (a "subtype") so that
 * json_array and json_object embed it as JSON instead of quoting it. Here a
 * TEXT value carries that mark in its scale field (unused by text), set only
 * by this file; it lasts while the value is passed along, never in a table.
 *
 * Invariants:
 *   1. nodes[i].n >= 1 is the size of i's subtree in nodes; an object's
 *      children alternate key (a string node) and value.
 *   2. Every function returns an owned or borrowed value in out, or fails
 *      with sqlite3's message ("malformed JSON", "JSON path error near ...").
 *   3. An edit renders the parsed text anew with one node replaced, left out
 *      or appended to; several paths apply one after the other, each to the
 *      previous one's result.
 */
#include "sql/sqlrt.h"
#include "util/mem.h"
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>

#define JSON_MARK (-12345) /* scale of a TEXT value that is JSON (see above) */

enum { J_NULL, J_TRUE, J_FALSE, J_INT, J_REAL, J_STRING, J_ARRAY, J_OBJECT };
static const char *const type_names[] = {"null", "true", "false", "integer",
                                         "real", "text", "array", "object"};

typedef struct jnode {
    uint8_t type;
    uint8_t escaped; /* J_STRING: has backslashes */
    uint32_t n;      /* nodes in the subtree, itself included */
    const char *z;   /* J_STRING: inside the quotes; numbers: their text */
    uint32_t len;
} jnode;

typedef struct jparse {
    const char *z;
    size_t len, pos;
    jnode *nodes;
    size_t nn, cap;
    int depth;
} jparse;

static size_t add_node(jparse *p, int type, const char *z, size_t len) {
    if (p->nn == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 16;
        p->nodes = xrealloc(p->nodes, sizeof *p->nodes * p->cap);
    }
    jnode *n = &p->nodes[p->nn];
    n->type = (uint8_t)type;
    n->escaped = 0;
    n->n = 1;
    n->z = z;
    n->len = (uint32_t)len;
    return p->nn++;
}

static void skip_ws(jparse *p) {
    while (p->pos < p->len && (p->z[p->pos] == ' ' || p->z[p->pos] == '\t' ||
                               p->z[p->pos] == '\n' || p->z[p->pos] == '\r'))
        p->pos++;
}

static int parse_value(jparse *p);

static int parse_string(jparse *p) {
    size_t start = ++p->pos;
    int esc = 0;
    while (p->pos < p->len && p->z[p->pos] != '"') {
        unsigned char c = (unsigned char)p->z[p->pos];
        if (c < 0x20) return -1;
        if (c == '\\') {
            esc = 1;
            p->pos++;
            if (p->pos >= p->len) return -1;
            c = (unsigned char)p->z[p->pos];
            if (c == 'u') {
                for (int k = 1; k <= 4; k++)
                    if (p->pos + (size_t)k >= p->len || !isxdigit((unsigned char)p->z[p->pos + k]))
                        return -1;
                p->pos += 4;
            } else if (!strchr("\"\\/bfnrt", c)) {
                return -1;
            }
        }
        p->pos++;
    }
    if (p->pos >= p->len) return -1;
    size_t i = add_node(p, J_STRING, p->z + start, p->pos - start);
    p->nodes[i].escaped = (uint8_t)esc;
    p->pos++;
    return 0;
}

static int parse_number(jparse *p) {
    size_t s = p->pos;
    int real = 0;
    if (p->z[p->pos] == '-') p->pos++;
    if (p->pos >= p->len || !isdigit((unsigned char)p->z[p->pos])) return -1;
    if (p->z[p->pos] == '0' && p->pos + 1 < p->len && isdigit((unsigned char)p->z[p->pos + 1]))
        return -1;
    while (p->pos < p->len && isdigit((unsigned char)p->z[p->pos])) p->pos++;
    if (p->pos < p->len && p->z[p->pos] == '.') {
        real = 1;
        p->pos++;
        if (p->pos >= p->len || !isdigit((unsigned char)p->z[p->pos])) return -1;
        while (p->pos < p->len && isdigit((unsigned char)p->z[p->pos])) p->pos++;
    }
    if (p->pos < p->len && (p->z[p->pos] == 'e' || p->z[p->pos] == 'E')) {
        real = 1;
        p->pos++;
        if (p->pos < p->len && (p->z[p->pos] == '+' || p->z[p->pos] == '-')) p->pos++;
        if (p->pos >= p->len || !isdigit((unsigned char)p->z[p->pos])) return -1;
        while (p->pos < p->len && isdigit((unsigned char)p->z[p->pos])) p->pos++;
    }
    add_node(p, real ? J_REAL : J_INT, p->z + s, p->pos - s);
    return 0;
}

static int parse_container(jparse *p, int obj) {
    size_t me = add_node(p, obj ? J_OBJECT : J_ARRAY, NULL, 0);
    if (++p->depth > 1000) return -1;
    p->pos++;
    skip_ws(p);
    if (p->pos < p->len && p->z[p->pos] == (obj ? '}' : ']')) {
        p->pos++;
        p->depth--;
        return 0;
    }
    for (;;) {
        skip_ws(p);
        if (obj) {
            if (p->pos >= p->len || p->z[p->pos] != '"' || parse_string(p)) return -1;
            skip_ws(p);
            if (p->pos >= p->len || p->z[p->pos++] != ':') return -1;
            skip_ws(p);
        }
        if (parse_value(p)) return -1;
        skip_ws(p);
        if (p->pos >= p->len) return -1;
        char c = p->z[p->pos++];
        if (c == ',') continue;
        if (c != (obj ? '}' : ']')) return -1;
        break;
    }
    p->nodes[me].n = (uint32_t)(p->nn - me);
    p->depth--;
    return 0;
}

static int word(jparse *p, const char *w, int type) {
    size_t n = strlen(w);
    if (p->len - p->pos < n || memcmp(p->z + p->pos, w, n) != 0) return -1;
    p->pos += n;
    add_node(p, type, NULL, 0);
    return 0;
}

static int parse_value(jparse *p) {
    skip_ws(p);
    if (p->pos >= p->len) return -1;
    switch (p->z[p->pos]) {
    case '{':
        return parse_container(p, 1);
    case '[':
        return parse_container(p, 0);
    case '"':
        return parse_string(p);
    case 't':
        return word(p, "true", J_TRUE);
    case 'f':
        return word(p, "false", J_FALSE);
    case 'n':
        return word(p, "null", J_NULL);
    default:
        return parse_number(p);
    }
}

/* Parse v's text; 0 ok, -1 not JSON. A BLOB is read as text, up to its
 * first NUL byte, as sqlite3 3.40 reads it. */
static int jparse_value(jparse *p, const sql_value *v) {
    char buf[40];
    size_t n;
    memset(p, 0, sizeof *p);
    if (v->type == SQL_NULL) return -1;
    if (v->type == SQL_BLOB) {
        const char *nul = v->n ? memchr(v->z, 0, v->n) : NULL;
        p->len = nul ? (size_t)(nul - v->z) : v->n;
        p->z = xmemdup(v->n ? v->z : "", p->len);
        if (parse_value(p)) return -1;
        skip_ws(p);
        return p->pos == p->len ? 0 : -1;
    }
    p->z = sqli_val_text(v, buf, &n);
    if (v->type != SQL_TEXT) { /* numbers: their text, kept in the node by copy */
        p->z = xmemdup(p->z, n);
        p->len = n;
        int rc = parse_value(p);
        return rc;
    }
    const char *nul = n ? memchr(p->z, 0, n) : NULL; /* sqlite3 reads text as a C string */
    p->len = nul ? (size_t)(nul - p->z) : n;
    if (parse_value(p)) return -1;
    skip_ws(p);
    return p->pos == p->len ? 0 : -1;
}

static void jparse_free(jparse *p, const sql_value *v) {
    if (v->type != SQL_TEXT && v->type != SQL_NULL) xfree((void *)p->z);
    xfree(p->nodes);
}

/* ---- output --------------------------------------------------------------------------------- */

static void render(const jparse *p, size_t i, strb *b) {
    const jnode *n = &p->nodes[i];
    switch (n->type) {
    case J_NULL:
        sqli_strb_adds(b, "null");
        return;
    case J_TRUE:
        sqli_strb_adds(b, "true");
        return;
    case J_FALSE:
        sqli_strb_adds(b, "false");
        return;
    case J_INT:
    case J_REAL:
        sqli_strb_add(b, n->z, n->len);
        return;
    case J_STRING:
        sqli_strb_addc(b, '"');
        sqli_strb_add(b, n->z, n->len);
        sqli_strb_addc(b, '"');
        return;
    default: {
        int obj = n->type == J_OBJECT, k = 0;
        sqli_strb_addc(b, obj ? '{' : '[');
        for (size_t c = i + 1; c < i + n->n; c += p->nodes[c].n, k++) {
            if (k) sqli_strb_addc(b, obj && (k & 1) ? ':' : ',');
            render(p, c, b);
        }
        sqli_strb_addc(b, obj ? '}' : ']');
    }
    }
}

static void utf8(strb *b, unsigned c) {
    char o[4];
    int n;
    if (c < 0x80)
        o[0] = (char)c, n = 1;
    else if (c < 0x800)
        o[0] = (char)(0xC0 | (c >> 6)), o[1] = (char)(0x80 | (c & 0x3F)), n = 2;
    else if (c < 0x10000)
        o[0] = (char)(0xE0 | (c >> 12)), o[1] = (char)(0x80 | ((c >> 6) & 0x3F)),
        o[2] = (char)(0x80 | (c & 0x3F)), n = 3;
    else
        o[0] = (char)(0xF0 | (c >> 18)), o[1] = (char)(0x80 | ((c >> 12) & 0x3F)),
        o[2] = (char)(0x80 | ((c >> 6) & 0x3F)), o[3] = (char)(0x80 | (c & 0x3F)), n = 4;
    sqli_strb_add(b, o, (size_t)n);
}

static unsigned hex4(const char *z) {
    char h[5] = {z[0], z[1], z[2], z[3], 0};
    return (unsigned)strtoul(h, NULL, 16);
}

static void unescape(const jnode *n, strb *b) {
    for (uint32_t i = 0; i < n->len; i++) {
        char c = n->z[i];
        if (c != '\\') {
            sqli_strb_addc(b, c);
            continue;
        }
        c = n->z[++i];
        switch (c) {
        case 'b':
            sqli_strb_addc(b, '\b');
            break;
        case 'f':
            sqli_strb_addc(b, '\f');
            break;
        case 'n':
            sqli_strb_addc(b, '\n');
            break;
        case 'r':
            sqli_strb_addc(b, '\r');
            break;
        case 't':
            sqli_strb_addc(b, '\t');
            break;
        case 'u': {
            unsigned u = hex4(n->z + i + 1);
            i += 4;
            if (u >= 0xD800 && u < 0xDC00 && i + 6 < n->len && n->z[i + 1] == '\\' &&
                n->z[i + 2] == 'u') {
                unsigned lo = hex4(n->z + i + 3);
                if (lo >= 0xDC00 && lo < 0xE000) {
                    u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
                    i += 6;
                }
            }
            utf8(b, u);
            break;
        }
        default:
            sqli_strb_addc(b, c);
            break;
        }
    }
}

void sqli_json_result(sql_value *out, strb *b) {
    size_t n = b->n;
    sqli_val_set_text_own(out, b->p ? b->p : xstrdup(""), n);
    b->p = NULL;
    b->n = b->cap = 0;
    out->scale = JSON_MARK;
}

/* The SQL value of node i: json_extract's and ->>'s answer. */
static void node_value(const jparse *p, size_t i, sql_value *out) {
    const jnode *n = &p->nodes[i];
    strb b = {0};
    switch (n->type) {
    case J_NULL:
        val_set_null(out);
        return;
    case J_TRUE:
    case J_FALSE:
        val_set_int(out, n->type == J_TRUE);
        return;
    case J_INT: {
        int64_t iv;
        double r;
        int k = sqli_num_parse(n->z, n->len, &iv, &r);
        if (k == 1)
            val_set_int(out, iv);
        else
            val_set_real(out, r);
        return;
    }
    case J_REAL: {
        int64_t iv;
        double r = 0;
        sqli_num_parse(n->z, n->len, &iv, &r);
        val_set_real(out, r);
        return;
    }
    case J_STRING:
        unescape(n, &b);
        sqli_val_set_text_own(out, b.p ? b.p : xstrdup(""), b.n);
        return;
    default:
        render(p, i, &b);
        sqli_json_result(out, &b);
    }
}

/* ---- paths ---------------------------------------------------------------------------------- */

/* Where a missing path could be added (json_set, json_insert): the container
 * whose member is missing (-1: none) and where that step starts in the path. */
typedef struct jwalk {
    long cont;
    size_t step;
} jwalk;

/* One ".key" step at path[k] (k on the '.'): the key, and k past it; -2 with
 * *err_at on a bad key, as sqlite3 reports it. */
static int path_key(const char *path, size_t plen, size_t *k, const char **key, size_t *kl,
                    const char **err_at) {
    size_t s = *k + 1;
    if (s < plen && path[s] == '"') {
        size_t e = s + 1;
        while (e < plen && path[e] != '"') e++;
        if (e >= plen) return *err_at = path + s, -2;
        *key = path + s + 1;
        *kl = e - s - 1;
        *k = e + 1;
        return 0;
    }
    size_t e = s;
    while (e < plen && path[e] != '.' && path[e] != '[') e++;
    if (e == s) return *err_at = path + s, -2;
    *key = path + s;
    *kl = e - s;
    *k = e;
    return 0;
}

/* Follow path from the root; the node index, or -1 when absent, -2 bad path
 * (*err_at: where). w (may be NULL) tells where an absent member could go. */
static long follow(const jparse *p, const char *path, size_t plen, const char **err_at, jwalk *w) {
    if (w) w->cont = -1;
    if (plen == 0 || path[0] != '$') {
        *err_at = path;
        return -2;
    }
    size_t i = 0, k = 1;
    while (k < plen) {
        const jnode *n = &p->nodes[i];
        size_t step = k;
        if (path[k] == '.') {
            const char *key;
            size_t kl;
            if (n->type != J_OBJECT) return -1;
            if (path_key(path, plen, &k, &key, &kl, err_at)) return -2;
            long found = -1;
            for (size_t c = i + 1; c < i + n->n; c += p->nodes[c].n) {
                const jnode *kn = &p->nodes[c];
                size_t v = c + kn->n;
                if (kn->len == kl && memcmp(kn->z, key, kl) == 0) found = (long)v;
                c = v;
                if (found >= 0) break;
            }
            if (found < 0) {
                if (w) w->cont = (long)i, w->step = step;
                return -1;
            }
            i = (size_t)found;
        } else if (path[k] == '[') {
            size_t e = k + 1;
            int from_end = 0;
            if (e < plen && path[e] == '#') {
                from_end = 1;
                e++;
                if (e < plen && path[e] == '-') e++;
            }
            size_t ds = e;
            while (e < plen && isdigit((unsigned char)path[e])) e++;
            if (e >= plen || path[e] != ']' || (e == ds && !from_end)) {
                *err_at = path + k;
                return -2;
            }
            long idx = e > ds ? strtol(path + ds, NULL, 10) : 0;
            k = e + 1;
            if (n->type != J_ARRAY) return -1;
            long cnt = 0;
            for (size_t c = i + 1; c < i + n->n; c += p->nodes[c].n) cnt++;
            if (from_end) idx = cnt - idx;
            if (idx == cnt && w) w->cont = (long)i, w->step = step;
            if (idx < 0 || idx >= cnt) return -1;
            size_t c = i + 1;
            for (long j = 0; j < idx; j++) c += p->nodes[c].n;
            i = c;
        } else {
            *err_at = path + k;
            return -2;
        }
    }
    return (long)i;
}

static int path_error(vm *v, const char *at) {
    return sqli_vm_error(v, SQL_ERROR, "JSON path error near '%s'", at);
}

/* Find path in the parsed text; *node = -1 when absent. */
static int lookup(vm *v, const jparse *p, const sql_value *path, long *node) {
    char buf[40];
    size_t n;
    const char *z = sqli_val_text(path, buf, &n);
    char *copy = xmalloc(n + 1);
    memcpy(copy, z, n);
    copy[n] = 0;
    const char *at = NULL;
    *node = follow(p, copy, n, &at, NULL);
    int rc = *node == -2 ? path_error(v, at) : SQL_OK;
    xfree(copy);
    return rc;
}

static int malformed(vm *v) {
    return sqli_vm_error(v, SQL_ERROR, "malformed JSON");
}

/* ---- the functions -------------------------------------------------------------------------- */

int sqli_f_json(vm *v, int argc, sql_value *a, sql_value *out) {
    jparse p;
    if (a[0].type == SQL_NULL) return val_set_null(out), SQL_OK;
    if (jparse_value(&p, &a[0])) return jparse_free(&p, &a[0]), malformed(v);
    strb b = {0};
    render(&p, 0, &b);
    sqli_json_result(out, &b);
    jparse_free(&p, &a[0]);
    (void)argc;
    return SQL_OK;
}

int sqli_f_json_valid(vm *v, int argc, sql_value *a, sql_value *out) {
    jparse p;
    if (a[0].type == SQL_NULL) return val_set_null(out), SQL_OK;
    val_set_int(out, jparse_value(&p, &a[0]) == 0);
    jparse_free(&p, &a[0]);
    (void)v, (void)argc;
    return SQL_OK;
}

/* json_type(x[, path]) / json_array_length(x[, path]) / json_extract(x, path...) */
static int with_node(vm *v, int argc, sql_value *a, sql_value *out, int what) {
    jparse p;
    if (a[0].type == SQL_NULL) return val_set_null(out), SQL_OK;
    if (jparse_value(&p, &a[0])) return jparse_free(&p, &a[0]), malformed(v);
    int rc = SQL_OK;
    if (what == 2 && argc > 2) { /* several paths: an array of the answers */
        strb b = {0};
        sqli_strb_addc(&b, '[');
        for (int k = 1; k < argc && rc == SQL_OK; k++) {
            long node;
            if (a[k].type == SQL_NULL) {
                rc = SQL_OK;
                sqli_strb_adds(&b, k > 1 ? ",null" : "null");
                continue;
            }
            rc = lookup(v, &p, &a[k], &node);
            if (k > 1) sqli_strb_addc(&b, ',');
            if (rc == SQL_OK && node < 0) sqli_strb_adds(&b, "null");
            if (rc == SQL_OK && node >= 0) render(&p, (size_t)node, &b);
        }
        sqli_strb_addc(&b, ']');
        if (rc == SQL_OK) sqli_json_result(out, &b);
        sqli_strb_free(&b);
        jparse_free(&p, &a[0]);
        return rc;
    }
    long node = 0;
    if (argc > 1) {
        if (a[1].type == SQL_NULL) {
            jparse_free(&p, &a[0]);
            return val_set_null(out), SQL_OK;
        }
        rc = lookup(v, &p, &a[1], &node);
    }
    if (rc == SQL_OK && node < 0) {
        val_set_null(out);
    } else if (rc == SQL_OK && what == 0) {
        const char *t = type_names[p.nodes[node].type];
        val_set_text_ref(out, t, strlen(t));
    } else if (rc == SQL_OK && what == 1) {
        int64_t cnt = 0;
        const jnode *n = &p.nodes[node];
        if (n->type == J_ARRAY)
            for (size_t c = (size_t)node + 1; c < (size_t)node + n->n; c += p.nodes[c].n) cnt++;
        val_set_int(out, cnt);
    } else if (rc == SQL_OK) {
        node_value(&p, (size_t)node, out);
    }
    jparse_free(&p, &a[0]);
    return rc;
}

int sqli_f_json_type(vm *v, int argc, sql_value *a, sql_value *out) {
    return with_node(v, argc, a, out, 0);
}
int sqli_f_json_array_length(vm *v, int argc, sql_value *a, sql_value *out) {
    return with_node(v, argc, a, out, 1);
}
int sqli_f_json_extract(vm *v, int argc, sql_value *a, sql_value *out) {
    return with_node(v, argc, a, out, 2);
}

static void quote_string(strb *b, const char *z, size_t n) {
    sqli_strb_addc(b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)z[i];
        if (c == '"' || c == '\\') {
            sqli_strb_addc(b, '\\');
            sqli_strb_addc(b, (char)c);
        } else if (c < 0x20) {
            static const char *esc = "btnvfr";
            if (c >= 8 && c <= 13 && c != 11)
                sqli_strb_addf(b, "\\%c", esc[c - 8]);
            else
                sqli_strb_addf(b, "\\u%04x", c);
        } else {
            sqli_strb_addc(b, (char)c);
        }
    }
    sqli_strb_addc(b, '"');
}

/* A SQL value as JSON (text from a JSON function goes in as JSON). */
int sqli_json_append(vm *v, strb *b, const sql_value *x) {
    char buf[40];
    size_t n;
    switch (x->type) {
    case SQL_NULL:
        sqli_strb_adds(b, "null");
        return SQL_OK;
    case SQL_BLOB:
        return sqli_vm_error(v, SQL_ERROR, "JSON cannot hold BLOB values");
    case SQL_TEXT:
        if (x->scale == JSON_MARK) {
            sqli_strb_add(b, x->z, x->n);
            return SQL_OK;
        }
        quote_string(b, x->z, x->n);
        return SQL_OK;
    default: {
        const char *t = sqli_val_text(x, buf, &n);
        sqli_strb_add(b, t, n);
        return SQL_OK;
    }
    }
}

int sqli_f_json_quote(vm *v, int argc, sql_value *a, sql_value *out) {
    strb b = {0};
    int rc = sqli_json_append(v, &b, &a[0]);
    if (rc == SQL_OK) sqli_json_result(out, &b);
    sqli_strb_free(&b);
    (void)argc;
    return rc;
}

int sqli_f_json_array(vm *v, int argc, sql_value *a, sql_value *out) {
    strb b = {0};
    int rc = SQL_OK;
    sqli_strb_addc(&b, '[');
    for (int i = 0; i < argc && rc == SQL_OK; i++) {
        if (i) sqli_strb_addc(&b, ',');
        rc = sqli_json_append(v, &b, &a[i]);
    }
    sqli_strb_addc(&b, ']');
    if (rc == SQL_OK) sqli_json_result(out, &b);
    sqli_strb_free(&b);
    return rc;
}

int sqli_f_json_object(vm *v, int argc, sql_value *a, sql_value *out) {
    if (argc & 1)
        return sqli_vm_error(v, SQL_ERROR, "json_object() requires an even number of arguments");
    strb b = {0};
    int rc = SQL_OK;
    sqli_strb_addc(&b, '{');
    for (int i = 0; i < argc && rc == SQL_OK; i += 2) {
        if (a[i].type != SQL_TEXT) {
            rc = sqli_vm_error(v, SQL_ERROR, "json_object() labels must be TEXT");
            break;
        }
        if (i) sqli_strb_addc(&b, ',');
        quote_string(&b, a[i].z, a[i].n);
        sqli_strb_addc(&b, ':');
        rc = sqli_json_append(v, &b, &a[i + 1]);
    }
    sqli_strb_addc(&b, '}');
    if (rc == SQL_OK) sqli_json_result(out, &b);
    sqli_strb_free(&b);
    return rc;
}

/* x -> p, x ->> p: p is a path, or a key ('a' means '$.a'), or an array
 * index (1 means '$[1]'). -> answers JSON text, ->> an SQL value. */
static int arrow(vm *v, sql_value *a, sql_value *out, int sql_value_wanted) {
    sql_value path = a[1];
    char *made = NULL;
    if (a[0].type == SQL_NULL || a[1].type == SQL_NULL) return val_set_null(out), SQL_OK;
    if (a[1].type == SQL_INTEGER) {
        char buf[48];
        snprintf(buf, sizeof buf, "$[%lld]", (long long)a[1].u.i);
        made = xstrdup(buf);
    } else if (a[1].type == SQL_TEXT && (a[1].n == 0 || a[1].z[0] != '$')) {
        made = xmalloc(a[1].n + 3);
        made[0] = '$';
        made[1] = '.';
        memcpy(made + 2, a[1].z, a[1].n);
        made[a[1].n + 2] = 0;
    }
    if (made) val_set_text_ref(&path, made, strlen(made));
    jparse p;
    int rc = SQL_OK;
    if (jparse_value(&p, &a[0])) {
        rc = malformed(v);
    } else {
        long node;
        rc = lookup(v, &p, &path, &node);
        if (rc == SQL_OK && node < 0) {
            val_set_null(out);
        } else if (rc == SQL_OK && sql_value_wanted) {
            node_value(&p, (size_t)node, out);
        } else if (rc == SQL_OK) {
            strb b = {0};
            render(&p, (size_t)node, &b);
            sqli_json_result(out, &b);
        }
    }
    jparse_free(&p, &a[0]);
    xfree(made);
    return rc;
}

int sqli_f_json_arrow(vm *v, int argc, sql_value *a, sql_value *out) {
    (void)argc;
    return arrow(v, a, out, 0);
}
int sqli_f_json_arrow2(vm *v, int argc, sql_value *a, sql_value *out) {
    (void)argc;
    return arrow(v, a, out, 1);
}

/* ---- editing: json_set, json_insert, json_replace, json_remove, json_patch ------------------- */

/* One edit while rendering: the node to replace (with text) or to leave out
 * (with its key in an object), or the container to append text to (a
 * member's "key": comes with it). */
enum { ED_REPLACE = 1, ED_REMOVE, ED_APPEND };
typedef struct jedit {
    int kind;
    size_t node;
    const char *text;
    size_t len;
} jedit;

static void render_edit(const jparse *p, size_t i, strb *b, const jedit *ed) {
    const jnode *n = &p->nodes[i];
    if (i == ed->node && ed->kind == ED_REPLACE) {
        sqli_strb_add(b, ed->text, ed->len);
        return;
    }
    if (n->type != J_ARRAY && n->type != J_OBJECT) {
        render(p, i, b);
        return;
    }
    int obj = n->type == J_OBJECT, k = 0;
    sqli_strb_addc(b, obj ? '{' : '[');
    for (size_t c = i + 1; c < i + n->n; c += p->nodes[c].n) {
        size_t val = obj ? c + 1 : c;
        if (ed->kind == ED_REMOVE && val == ed->node) {
            c = val;
            continue;
        }
        if (k++) sqli_strb_addc(b, ',');
        if (obj) {
            render(p, c, b);
            sqli_strb_addc(b, ':');
            c = val;
        }
        render_edit(p, c, b, ed);
    }
    if (i == ed->node && ed->kind == ED_APPEND) {
        if (k) sqli_strb_addc(b, ',');
        sqli_strb_add(b, ed->text, ed->len);
    }
    sqli_strb_addc(b, obj ? '}' : ']');
}

/* The text that creates what remains of a path (after the step that was
 * missing) around value: ".k..." makes objects, "[0]..." arrays. 1 made, 0
 * when the rest cannot be created (no change), -2 bad path (*err_at). */
static int build_rest(const char *path, size_t plen, size_t k, const char *val, size_t vlen,
                      strb *b, const char **err_at) {
    if (k >= plen) {
        sqli_strb_add(b, val, vlen);
        return 1;
    }
    if (path[k] == '.') {
        const char *key;
        size_t kl;
        if (path_key(path, plen, &k, &key, &kl, err_at)) return -2;
        sqli_strb_addc(b, '{');
        quote_string(b, key, kl);
        sqli_strb_addc(b, ':');
        int rc = build_rest(path, plen, k, val, vlen, b, err_at);
        sqli_strb_addc(b, '}');
        return rc;
    }
    if (plen - k >= 3 && memcmp(path + k, "[0]", 3) == 0) {
        sqli_strb_addc(b, '[');
        int rc = build_rest(path, plen, k + 3, val, vlen, b, err_at);
        sqli_strb_addc(b, ']');
        return rc;
    }
    return 0;
}

enum { JE_SET = 1, JE_INSERT, JE_REPLACE, JE_REMOVE };

/* Apply one path (and value) to the JSON text in doc (owned); doc becomes
 * the result, NULL when json_remove removes the root. */
static int edit_one(vm *v, sql_value *doc, int op, const sql_value *path, const sql_value *val) {
    jparse p;
    if (jparse_value(&p, doc)) return jparse_free(&p, doc), malformed(v);
    char buf[40];
    size_t plen;
    const char *pz = sqli_val_text(path, buf, &plen), *at = NULL;
    char *pc = xmemdup(pz, plen);
    jwalk w;
    long node = follow(&p, pc, plen, &at, &w);
    strb vt = {0}, item = {0}, out = {0};
    jedit ed = {0};
    int rc = node == -2 ? path_error(v, at) : SQL_OK;
    if (rc == SQL_OK && op == JE_REMOVE && node >= 0) {
        ed.kind = node == 0 ? 0 : ED_REMOVE;
        ed.node = (size_t)node;
    } else if (rc == SQL_OK && node >= 0 && op != JE_INSERT) {
        rc = sqli_json_append(v, &vt, val);
        ed = (jedit){ED_REPLACE, (size_t)node, vt.p, vt.n};
    } else if (rc == SQL_OK && node < 0 && w.cont >= 0 && (op == JE_SET || op == JE_INSERT)) {
        size_t k = w.step;
        if (pc[k] == '.') {
            const char *key;
            size_t kl;
            path_key(pc, plen, &k, &key, &kl, &at);
            quote_string(&item, key, kl);
            sqli_strb_addc(&item, ':');
        } else {
            while (pc[k] != ']') k++;
            k++;
        }
        rc = sqli_json_append(v, &vt, val);
        int made = rc == SQL_OK ? build_rest(pc, plen, k, vt.p, vt.n, &item, &at) : 0;
        if (made == -2) rc = path_error(v, at);
        if (made == 1) ed = (jedit){ED_APPEND, (size_t)w.cont, item.p, item.n};
    }
    int drop_root = rc == SQL_OK && op == JE_REMOVE && node == 0;
    if (rc == SQL_OK && ed.kind) render_edit(&p, 0, &out, &ed);
    jparse_free(&p, doc);
    if (drop_root) {
        val_free(doc);
    } else if (rc == SQL_OK && ed.kind) {
        val_free(doc);
        sqli_json_result(doc, &out);
    }
    sqli_strb_free(&vt);
    sqli_strb_free(&item);
    sqli_strb_free(&out);
    xfree(pc);
    return rc;
}

static int edit_fn(vm *v, int argc, sql_value *a, sql_value *out, int op, const char *name) {
    if (op != JE_REMOVE && !(argc & 1))
        return sqli_vm_error(v, SQL_ERROR, "%s() needs an odd number of arguments", name);
    if (a[0].type == SQL_NULL) return val_set_null(out), SQL_OK;
    sql_value doc;
    sqli_val_copy(&doc, &a[0]);
    int rc = SQL_OK, step = op == JE_REMOVE ? 1 : 2;
    for (int i = 1; i < argc && rc == SQL_OK && doc.type != SQL_NULL; i += step) {
        if (a[i].type == SQL_NULL) {
            if (op == JE_REMOVE) val_free(&doc);
            continue;
        }
        rc = edit_one(v, &doc, op, &a[i], op == JE_REMOVE ? NULL : &a[i + 1]);
    }
    if (rc == SQL_OK && doc.type != SQL_NULL && doc.scale != JSON_MARK) { /* nothing changed */
        jparse p;
        strb b = {0};
        int bad = jparse_value(&p, &doc);
        if (!bad) render(&p, 0, &b);
        jparse_free(&p, &doc);
        if (bad) {
            rc = malformed(v);
        } else {
            val_free(&doc);
            sqli_json_result(&doc, &b);
        }
    }
    if (rc != SQL_OK) {
        val_free(&doc);
        return rc;
    }
    *out = doc;
    return SQL_OK;
}

int sqli_f_json_set(vm *v, int argc, sql_value *a, sql_value *out) {
    return edit_fn(v, argc, a, out, JE_SET, "json_set");
}
int sqli_f_json_insert(vm *v, int argc, sql_value *a, sql_value *out) {
    return edit_fn(v, argc, a, out, JE_INSERT, "json_insert");
}
int sqli_f_json_replace(vm *v, int argc, sql_value *a, sql_value *out) {
    return edit_fn(v, argc, a, out, JE_REPLACE, "json_replace");
}
int sqli_f_json_remove(vm *v, int argc, sql_value *a, sql_value *out) {
    return edit_fn(v, argc, a, out, JE_REMOVE, "json_remove");
}

/* RFC 7396 merge patch as sqlite3 3.40 applies it: an object patch edits an
 * object target member by member (null removes; the first target member of
 * a name is the one patched), new members are added at the end with the
 * nulls of their objects removed; any other patch replaces the target. */
static void render_no_nulls(const jparse *p, size_t i, strb *b) {
    const jnode *n = &p->nodes[i];
    if (n->type != J_OBJECT) {
        render(p, i, b);
        return;
    }
    int k = 0;
    sqli_strb_addc(b, '{');
    for (size_t c = i + 1; c < i + n->n; c += p->nodes[c].n) {
        size_t val = c + 1;
        if (p->nodes[val].type != J_NULL) {
            if (k++) sqli_strb_addc(b, ',');
            render(p, c, b);
            sqli_strb_addc(b, ':');
            render_no_nulls(p, val, b);
        }
        c = val;
    }
    sqli_strb_addc(b, '}');
}

static int same_label(const jnode *a, const jnode *b) {
    return a->len == b->len && memcmp(a->z, b->z, a->len) == 0;
}

/* Is member key c of object o the first of its name? */
static int first_of_name(const jparse *p, size_t o, size_t c) {
    for (size_t d = o + 1; d < c; d += p->nodes[d].n + p->nodes[d + 1].n)
        if (same_label(&p->nodes[d], &p->nodes[c])) return 0;
    return 1;
}

static void merge(const jparse *t, size_t ti, const jparse *pa, size_t pi, strb *b) {
    const jnode *tn = &t->nodes[ti], *pn = &pa->nodes[pi];
    if (pn->type != J_OBJECT) {
        render(pa, pi, b);
        return;
    }
    if (tn->type != J_OBJECT) {
        render_no_nulls(pa, pi, b);
        return;
    }
    int k = 0;
    sqli_strb_addc(b, '{');
    for (size_t c = ti + 1; c < ti + tn->n; c += t->nodes[c].n + t->nodes[c + 1].n) {
        long pv = -1;
        if (first_of_name(t, ti, c))
            for (size_t d = pi + 1; d < pi + pn->n && pv < 0;
                 d += pa->nodes[d].n + pa->nodes[d + 1].n)
                if (same_label(&t->nodes[c], &pa->nodes[d])) pv = (long)d + 1;
        if (pv >= 0 && pa->nodes[pv].type == J_NULL) continue;
        if (k++) sqli_strb_addc(b, ',');
        render(t, c, b);
        sqli_strb_addc(b, ':');
        if (pv >= 0)
            merge(t, c + 1, pa, (size_t)pv, b);
        else
            render(t, c + 1, b);
    }
    for (size_t d = pi + 1; d < pi + pn->n; d += pa->nodes[d].n + pa->nodes[d + 1].n) {
        int known = 0;
        for (size_t c = ti + 1; c < ti + tn->n && !known; c += t->nodes[c].n + t->nodes[c + 1].n)
            known = same_label(&t->nodes[c], &pa->nodes[d]);
        if (known || pa->nodes[d + 1].type == J_NULL) continue;
        if (k++) sqli_strb_addc(b, ',');
        render(pa, d, b);
        sqli_strb_addc(b, ':');
        render_no_nulls(pa, d + 1, b);
    }
    sqli_strb_addc(b, '}');
}

int sqli_f_json_patch(vm *v, int argc, sql_value *a, sql_value *out) {
    jparse t, p;
    (void)argc;
    if (a[0].type == SQL_NULL || a[1].type == SQL_NULL) return val_set_null(out), SQL_OK;
    memset(&p, 0, sizeof p);
    int bad = jparse_value(&t, &a[0]) || jparse_value(&p, &a[1]);
    strb b = {0};
    if (!bad) merge(&t, 0, &p, 0, &b);
    jparse_free(&t, &a[0]);
    jparse_free(&p, &a[1]);
    if (bad) return malformed(v);
    sqli_json_result(out, &b);
    return SQL_OK;
}

/* ---- json_each and json_tree ------------------------------------------------------------------
 */

/* The key of an object member as a path step: ".key" when it is a letter
 * and letters or digits, else ."key" as written (sqlite3's rule). */
static void path_step_key(strb *b, const jnode *label) {
    int bare = label->len > 0 && isalpha((unsigned char)label->z[0]);
    for (uint32_t k = 1; bare && k < label->len; k++) bare = isalnum((unsigned char)label->z[k]);
    sqli_strb_addc(b, '.');
    if (!bare) sqli_strb_addc(b, '"');
    sqli_strb_add(b, label->z, label->len);
    if (!bare) sqli_strb_addc(b, '"');
}

typedef struct tvf_run {
    const jparse *p;
    size_t *up; /* per node: its container (labels too) */
    int tree;
    size_t start;
    const sql_value *json, *root;
    rowbuf *rb;
} tvf_run;

/* The path from the document's root to node i, as json_tree writes it:
 * sqlite3 3.40 counts array positions only inside the walked part, so an
 * array above the start node shows position 0. */
static void tree_path(const tvf_run *r, size_t i, strb *b) {
    if (i == 0) {
        sqli_strb_addc(b, '$');
        return;
    }
    size_t u = r->up[i];
    tree_path(r, u, b);
    const jparse *p = r->p;
    if (p->nodes[u].type == J_ARRAY) {
        size_t k = 0;
        int inside = u == r->start; /* is u in the walked part? */
        for (size_t a = u; a != 0 && !inside; a = r->up[a]) inside = r->up[a] == r->start;
        for (size_t c = u + 1; inside && c < i; c += p->nodes[c].n) k++;
        sqli_strb_addf(b, "[%zu]", k);
    } else {
        path_step_key(b, &p->nodes[i - 1]);
    }
}

/* One row for value node i; key: its label node, its array position, or
 * NULL (-1 / -2); fullkey and path as text. */
static void tvf_row(tvf_run *r, size_t i, long label, long pos, long parent, strb *fullkey,
                    strb *path) {
    const jparse *p = r->p;
    sql_value row[TVF_NCOL];
    strb kb = {0};
    for (int k = 0; k < TVF_NCOL; k++) val_set_null(&row[k]);
    if (label >= 0) {
        unescape(&p->nodes[label], &kb);
        val_set_text_ref(&row[0], kb.p ? kb.p : "", kb.n);
    } else if (pos >= 0) {
        val_set_int(&row[0], pos);
    }
    node_value(p, i, &row[1]);
    const char *t = type_names[p->nodes[i].type];
    val_set_text_ref(&row[2], t, strlen(t));
    if (p->nodes[i].type != J_ARRAY && p->nodes[i].type != J_OBJECT) val_ref(&row[3], &row[1]);
    val_set_int(&row[4], (int64_t)i);
    if (parent >= 0) val_set_int(&row[5], parent);
    val_set_text_ref(&row[6], sqli_strb_cstr(fullkey), fullkey->n);
    val_set_text_ref(&row[7], sqli_strb_cstr(path), path->n);
    val_ref(&row[8], r->json);
    if (r->root)
        val_ref(&row[9], r->root);
    else
        val_set_text_ref(&row[9], "$", 1);
    val_set_int(&row[TVF_ROWID], (int64_t)r->rb->n);
    sqli_rowbuf_add(r->rb, NULL, 0, row, TVF_NCOL);
    val_free(&row[1]);
    sqli_strb_free(&kb);
}

/* json_tree: node i and all below it, in document order. */
static void tree_rows(tvf_run *r, size_t i, long label, long pos, long parent) {
    const jparse *p = r->p;
    strb fk = {0}, pa = {0};
    tree_path(r, i, &fk);
    tree_path(r, i == 0 ? 0 : r->up[i], &pa);
    tvf_row(r, i, label, pos, parent, &fk, &pa);
    sqli_strb_free(&fk);
    sqli_strb_free(&pa);
    const jnode *n = &p->nodes[i];
    long k = 0;
    if (n->type == J_OBJECT)
        for (size_t c = i + 1; c < i + n->n; c += p->nodes[c].n + p->nodes[c + 1].n)
            tree_rows(r, c + 1, (long)c, -1, (long)i);
    if (n->type == J_ARRAY)
        for (size_t c = i + 1; c < i + n->n; c += p->nodes[c].n) tree_rows(r, c, -1, k++, (long)i);
}

/* json_each: the members of node i (or i itself when it holds no members). */
static void each_rows(tvf_run *r, size_t i, const char *root, size_t rlen) {
    const jparse *p = r->p;
    const jnode *n = &p->nodes[i];
    strb fk = {0}, pa = {0};
    sqli_strb_add(&pa, root, rlen);
    if (n->type != J_OBJECT && n->type != J_ARRAY) {
        sqli_strb_add(&fk, root, rlen);
        tvf_row(r, i, -1, -1, -1, &fk, &pa);
    }
    long k = 0;
    for (size_t c = i + 1; c < i + n->n && n->type == J_OBJECT; c += 1 + p->nodes[c + 1].n) {
        fk.n = 0;
        sqli_strb_add(&fk, root, rlen);
        path_step_key(&fk, &p->nodes[c]);
        tvf_row(r, c + 1, (long)c, -1, -1, &fk, &pa);
    }
    for (size_t c = i + 1; c < i + n->n && n->type == J_ARRAY; c += p->nodes[c].n, k++) {
        fk.n = 0;
        sqli_strb_add(&fk, root, rlen);
        sqli_strb_addf(&fk, "[%ld]", k);
        tvf_row(r, c, -1, k, -1, &fk, &pa);
    }
    sqli_strb_free(&fk);
    sqli_strb_free(&pa);
}

static void fill_up(const jparse *p, size_t i, size_t *up) {
    const jnode *n = &p->nodes[i];
    if (n->type != J_OBJECT && n->type != J_ARRAY) return;
    for (size_t c = i + 1; c < i + n->n; c += p->nodes[c].n) {
        up[c] = i;
        fill_up(p, c, up);
    }
}

int sqli_json_tvf_rows(vm *v, int tree, const sql_value *args, int nargs, rowbuf *rb) {
    if (nargs == 0 || args[0].type == SQL_NULL || (nargs > 1 && args[1].type == SQL_NULL))
        return SQL_OK;
    jparse p;
    if (jparse_value(&p, &args[0])) return jparse_free(&p, &args[0]), malformed(v);
    long node = 0;
    int rc = nargs > 1 ? lookup(v, &p, &args[1], &node) : SQL_OK;
    if (rc == SQL_OK && node >= 0) {
        tvf_run r = {.p = &p, .tree = tree, .start = (size_t)node, .json = &args[0], .rb = rb};
        r.root = nargs > 1 ? &args[1] : NULL;
        r.up = xcalloc(p.nn + 1, sizeof *r.up);
        fill_up(&p, 0, r.up);
        if (tree) {
            /* the start's key: its label when it is a container in an
             * object; NULL for a scalar or an array member (sqlite3 3.40) */
            size_t s = (size_t)node, u = r.up[s];
            int container = p.nodes[s].type == J_OBJECT || p.nodes[s].type == J_ARRAY;
            long label = s > 0 && container && p.nodes[u].type == J_OBJECT ? (long)s - 1 : -1;
            tree_rows(&r, s, label, -1, -1);
        } else {
            char buf[40];
            size_t rl = 1;
            const char *root = r.root ? sqli_val_text(r.root, buf, &rl) : "$";
            each_rows(&r, (size_t)node, root, rl);
        }
        xfree(r.up);
    }
    jparse_free(&p, &args[0]);
    return rc;
}
