/* commands/sort — SORT and SORT_RO (Redis 7.0 semantics and error texts).
 *
 *   SORT key [BY pattern] [LIMIT offset count] [GET pattern ...] [ASC|DESC]
 *            [ALPHA] [STORE destination]
 *
 * Elements come from the key's type through the hooks of commands.h
 * (sort_register_type); they are copied into one arena first, so the sort
 * and the BY/GET lookups never hold pointers into the keyspace.
 *
 * Ordering, as Redis: numeric by default (each element, or its BY value,
 * read with strtod; equal scores fall back to a binary comparison of the
 * elements); ALPHA compares with strcoll (the C string, so up to a NUL
 * byte) or, with STORE, binary. A full sort is a stable merge sort, as the
 * glibc qsort Redis calls (so elements that compare equal keep their order);
 * BY with a LIMIT uses the same partial quicksort as Redis, so ties come out
 * in the same order there too. */
#include "commands/commands.h"
#include "server/acl.h"
#include "kv/quicklist.h"
#include "util/mem.h"
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const sort_type_ops *sort_ops[OBJ_TYPES];

void sort_register_type(int type, const sort_type_ops *ops) {
    if (type >= 0 && type < OBJ_TYPES) sort_ops[type] = ops;
}

/* ALPHA sorts collate like Redis, which sets LC_COLLATE from the
 * environment at start-up. */
__attribute__((constructor)) static void sort_locale(void) {
    setlocale(LC_COLLATE, "");
}

/* ---- the vector to sort ------------------------------------------------------------ */

typedef struct sort_item {
    size_t off, len;         /* the element in the arena (NUL after it) */
    size_t cmp_off, cmp_len; /* ALPHA BY value in the arena, when has_cmp */
    int has_cmp;
    double score;
    const char *s, *cmp; /* resolved once the arena stops moving */
} sort_item;

typedef struct sort_vec {
    sort_item *v;
    size_t n, cap;
    sbuf arena;
} sort_vec;

static size_t arena_put(sbuf *a, const char *s, size_t len) {
    size_t off = a->len;
    sbuf_append(a, s, len);
    sbuf_append(a, "", 1); /* NUL: strtod and strcoll read C strings */
    return off;
}

static void vec_add(void *ctx, const char *s, size_t len) {
    sort_vec *sv = ctx;
    if (sv->n == sv->cap) {
        sv->cap = sv->cap ? sv->cap * 2 : 16;
        sv->v = xrealloc(sv->v, sv->cap * sizeof(sort_item));
    }
    sort_item *it = &sv->v[sv->n++];
    memset(it, 0, sizeof(*it));
    it->off = arena_put(&sv->arena, s, len);
    it->len = len;
}

static void vec_resolve(sort_vec *sv) {
    for (size_t i = 0; i < sv->n; i++) {
        sv->v[i].s = sv->arena.p + sv->v[i].off;
        sv->v[i].cmp = sv->v[i].has_cmp ? sv->arena.p + sv->v[i].cmp_off : NULL;
    }
}

/* ---- patterns ------------------------------------------------------------------------ */

/* The value a BY/GET pattern gives for element sub, appended to out: "#" is
 * the element itself; otherwise the first '*' is replaced by the element and
 * the key's string value is taken, or with "key->field" (an arrow after the
 * '*' followed by a non-empty name) a hash field. 0 when there is none. The
 * pattern is read as a C string where Redis does (strchr, strstr). */
static int pattern_value(client *c, const resp_arg *pat, const char *sub, size_t sublen,
                         sbuf *out) {
    const char *spat = pat->p;
    if (spat[0] == '#' && spat[1] == '\0') {
        sbuf_append(out, sub, sublen);
        return 1;
    }
    const char *star = strchr(spat, '*');
    if (!star) return 0;
    const char *arrow = strstr(star + 1, "->");
    size_t fieldlen = 0;
    if (arrow && arrow[2] != '\0') fieldlen = pat->len - (size_t)(arrow - spat) - 2;
    size_t prefixlen = (size_t)(star - spat);
    size_t postfixlen = pat->len - prefixlen - 1 - (fieldlen ? fieldlen + 2 : 0);
    sbuf key = SBUF_INIT;
    sbuf_append(&key, spat, prefixlen);
    sbuf_append(&key, sub, sublen);
    sbuf_append(&key, star + 1, postfixlen);
    resp_arg k = {key.p ? key.p : (char *)"", key.len, 0};
    kobj *o = lookup_read(c, &k);
    int found = 0;
    if (o && fieldlen) {
        const sort_type_ops *ops = sort_ops[OBJ_HASH];
        if (o->type == OBJ_HASH && ops && ops->field)
            found = ops->field(o, arrow + 2, fieldlen, out);
    } else if (o && o->type == OBJ_STRING) {
        sbuf_append(out, kobj_val(o), o->vlen);
        found = 1;
    }
    sbuf_free(&key);
    return found;
}

/* ---- ordering ------------------------------------------------------------------------ */

typedef struct sort_order {
    int desc, alpha, bypattern, store;
} sort_order;

static int bin_cmp(const char *a, size_t alen, const char *b, size_t blen) {
    size_t m = alen < blen ? alen : blen;
    int c = m ? memcmp(a, b, m) : 0;
    if (c) return c;
    return alen < blen ? -1 : alen > blen ? 1 : 0;
}

static int item_cmp(const sort_item *a, const sort_item *b, const sort_order *o) {
    int cmp;
    if (!o->alpha) {
        if (a->score > b->score)
            cmp = 1;
        else if (a->score < b->score)
            cmp = -1;
        else
            cmp = bin_cmp(a->s, a->len, b->s, b->len);
    } else if (o->bypattern) {
        if (!a->cmp || !b->cmp)
            cmp = a->cmp == b->cmp ? 0 : !a->cmp ? -1 : 1;
        else
            cmp = o->store ? bin_cmp(a->cmp, a->cmp_len, b->cmp, b->cmp_len)
                           : strcoll(a->cmp, b->cmp);
    } else {
        cmp = o->store ? bin_cmp(a->s, a->len, b->s, b->len) : strcoll(a->s, b->s);
    }
    return o->desc ? -cmp : cmp;
}

/* Stable top-down merge sort of v[0..n) using tmp (n slots). */
static void merge_sort(sort_item *v, sort_item *tmp, size_t n, const sort_order *o) {
    if (n < 2) return;
    size_t mid = n / 2;
    merge_sort(v, tmp, mid, o);
    merge_sort(v + mid, tmp, n - mid, o);
    if (item_cmp(&v[mid - 1], &v[mid], o) <= 0) return; /* already in order */
    size_t i = 0, j = mid, k = 0;
    while (i < mid && j < n) tmp[k++] = item_cmp(&v[j], &v[i], o) < 0 ? v[j++] : v[i++];
    while (i < mid) tmp[k++] = v[i++];
    while (j < n) tmp[k++] = v[j++];
    memcpy(v, tmp, n * sizeof(sort_item));
}

/* Redis sorts with BY and a LIMIT that does not cover everything using its
 * partial quicksort (Bentley & McIlroy's engineered quicksort that skips
 * partitions outside [lo, hi]). It is not stable, so to give ties the same
 * order as Redis this follows the same steps: the same pivots (median of
 * three, ninther above 40 elements), the same three-way partition and the
 * same insertion sort below 7 elements. */
static void pq_swap(sort_item *v, size_t i, size_t j) {
    sort_item t = v[i];
    v[i] = v[j];
    v[j] = t;
}

static void pq_vecswap(sort_item *v, size_t i, size_t j, size_t n) {
    for (size_t k = 0; k < n; k++) pq_swap(v, i + k, j + k);
}

static size_t pq_med3(sort_item *v, size_t a, size_t b, size_t c, const sort_order *o) {
    return item_cmp(&v[a], &v[b], o) < 0
               ? (item_cmp(&v[b], &v[c], o) < 0 ? b : (item_cmp(&v[a], &v[c], o) < 0 ? c : a))
               : (item_cmp(&v[b], &v[c], o) > 0 ? b : (item_cmp(&v[a], &v[c], o) < 0 ? a : c));
}

/* Is the span [s, e] disjoint from [lo, hi] on one side? */
static int pq_outside(size_t s, size_t e, size_t lo, size_t hi) {
    return (lo < s && hi < s) || (lo > e && hi > e);
}

static void partial_sort(sort_item *v, size_t base, size_t n, size_t lo, size_t hi,
                         const sort_order *o) {
    for (;;) {
        if (n < 7) {
            for (size_t pm = base + 1; pm < base + n; pm++)
                for (size_t pl = pm; pl > base && item_cmp(&v[pl - 1], &v[pl], o) > 0; pl--)
                    pq_swap(v, pl, pl - 1);
            return;
        }
        size_t pm = base + n / 2;
        if (n > 7) {
            size_t pl = base, pn = base + n - 1;
            if (n > 40) {
                size_t d = n / 8;
                pl = pq_med3(v, pl, pl + d, pl + 2 * d, o);
                pm = pq_med3(v, pm - d, pm, pm + d, o);
                pn = pq_med3(v, pn - 2 * d, pn - d, pn, o);
            }
            pm = pq_med3(v, pl, pm, pn, o);
        }
        pq_swap(v, base, pm);
        size_t pa = base + 1, pb = base + 1, pc = base + n - 1, pd = base + n - 1;
        for (;;) {
            int r;
            while (pb <= pc && (r = item_cmp(&v[pb], &v[base], o)) <= 0) {
                if (r == 0) pq_swap(v, pa++, pb);
                pb++;
            }
            while (pb <= pc && (r = item_cmp(&v[pc], &v[base], o)) >= 0) {
                if (r == 0) pq_swap(v, pc, pd--);
                pc--;
            }
            if (pb > pc) break;
            pq_swap(v, pb++, pc--);
        }
        size_t pn = base + n;
        size_t r = pa - base < pb - pa ? pa - base : pb - pa;
        pq_vecswap(v, base, pb - r, r);
        r = pd - pc < pn - pd - 1 ? pd - pc : pn - pd - 1;
        pq_vecswap(v, pb, pn - r, r);
        if ((r = pb - pa) > 1 && !pq_outside(base, base + r - 1, lo, hi))
            partial_sort(v, base, r, lo, hi, o);
        if ((r = pd - pc) <= 1) return;
        base = pn - r;
        n = r;
        if (pq_outside(base, base + r - 1, lo, hi)) return;
    }
}

/* ---- the command ----------------------------------------------------------------------- */

typedef struct sort_args {
    int desc, alpha, dontsort;
    long long limit_start, limit_count;
    const resp_arg *sortby, *storekey;
    const resp_arg **gets;
    int ngets;
} sort_args;

/* BY and GET patterns read keys the key specs cannot name: as in Redis they
 * need read access to every key. */
static int pattern_allowed_or_reply(client *c, const char *opt) {
    acl_user *u = acl_client_user(c);
    if (acl_unrestricted_key_access(u, c->cmd, c->argc, c->argv, ACL_KEY_READ)) return OK;
    reply_errorf(c, "ERR %s option of SORT denied due to insufficient ACL permissions.", opt);
    return ERR;
}

static int sort_parse(client *c, int readonly, sort_args *a) {
    memset(a, 0, sizeof(*a));
    a->limit_count = -1;
    a->gets = xmalloc(sizeof(resp_arg *) * (size_t)c->argc);
    for (int j = 2; j < c->argc; j++) {
        int left = c->argc - j - 1;
        const resp_arg *x = &c->argv[j];
        if (arg_is(x, "asc")) {
            a->desc = 0;
        } else if (arg_is(x, "desc")) {
            a->desc = 1;
        } else if (arg_is(x, "alpha")) {
            a->alpha = 1;
        } else if (arg_is(x, "limit") && left >= 2) {
            if (arg_ll_or_reply(c, &c->argv[j + 1], &a->limit_start, NULL) != OK ||
                arg_ll_or_reply(c, &c->argv[j + 2], &a->limit_count, NULL) != OK)
                return ERR;
            j += 2;
        } else if (!readonly && arg_is(x, "store") && left >= 1) {
            a->storekey = &c->argv[++j];
        } else if (arg_is(x, "by") && left >= 1) {
            a->sortby = &c->argv[++j];
            if (!strchr(a->sortby->p, '*'))
                a->dontsort = 1; /* a constant: no sorting */
            else if (pattern_allowed_or_reply(c, "BY") != OK)
                return ERR;
        } else if (arg_is(x, "get") && left >= 1) {
            if (pattern_allowed_or_reply(c, "GET") != OK) return ERR;
            a->gets[a->ngets++] = &c->argv[++j];
        } else {
            reply_error(c, ERR_SYNTAX);
            return ERR;
        }
    }
    return OK;
}

/* Computes every element's score (or ALPHA BY value); 0 when a score is not
 * a double. */
static int sort_weights(client *c, sort_vec *sv, const sort_args *a) {
    int ok = 1;
    sbuf val = SBUF_INIT;
    for (size_t j = 0; j < sv->n; j++) {
        sort_item *it = &sv->v[j];
        const char *by;
        size_t bylen;
        sbuf_clear(&val);
        if (a->sortby) {
            if (!pattern_value(c, a->sortby, sv->arena.p + it->off, it->len, &val)) continue;
            sbuf_append(&val, "", 1);
            by = val.p;
            bylen = val.len - 1;
        } else {
            by = sv->arena.p + it->off;
            bylen = it->len;
        }
        if (a->alpha) {
            if (a->sortby) {
                it->cmp_off = arena_put(&sv->arena, by, bylen);
                it->cmp_len = bylen;
                it->has_cmp = 1;
            }
        } else {
            char *end;
            errno = 0; /* Redis does not clear it, so a stale ERANGE can fail a later SORT there */
            it->score = strtod(by, &end);
            if (end[0] != '\0' || errno == ERANGE || isnan(it->score)) ok = 0;
        }
    }
    sbuf_free(&val);
    return ok;
}

/* Replies, or stores, the elements start..end with the GET operations. */
static void sort_output(client *c, sort_vec *sv, const sort_args *a, long start, long end) {
    long outputlen = a->ngets ? a->ngets * (end - start + 1) : end - start + 1;
    sbuf val = SBUF_INIT;
    if (!a->storekey) {
        reply_array(c, outputlen);
        for (long j = start; j <= end; j++) {
            const sort_item *it = &sv->v[j];
            if (!a->ngets) reply_bulk(c, it->s, it->len);
            for (int g = 0; g < a->ngets; g++) {
                sbuf_clear(&val);
                if (pattern_value(c, a->gets[g], it->s, it->len, &val))
                    reply_bulk(c, val.p ? val.p : "", val.len);
                else
                    reply_null(c);
            }
        }
        sbuf_free(&val);
        return;
    }
    quicklist *ql = ql_new((int)server_type_limits()->list_max_listpack_size,
                           (int)server_type_limits()->list_compress_depth);
    for (long j = start; j <= end; j++) {
        const sort_item *it = &sv->v[j];
        if (!a->ngets) ql_push(ql, it->s, it->len, QL_TAIL);
        for (int g = 0; g < a->ngets; g++) {
            sbuf_clear(&val);
            pattern_value(c, a->gets[g], it->s, it->len, &val); /* missing: "" */
            ql_push(ql, val.p ? val.p : "", val.len, QL_TAIL);
        }
    }
    sbuf_free(&val);
    const resp_arg *dst = a->storekey;
    if (outputlen) {
        kobj *n = kobj_new_ptr(OBJ_LIST, ENC_QUICKLIST, dst->p, dst->len, ql);
        kobj *old = lookup_write(c, dst);
        if (old) {
            db_replace(c->db, old, n); /* the new key has no TTL */
        } else {
            db_add(c->db, n);
            signal_key_as_ready(c->db, dst->p, dst->len);
        }
        signal_modified_key(c, c->db, dst->p, dst->len);
        notify_keyspace_event(NOTIFY_LIST, "sortstore", dst->p, dst->len, c->db->id);
        server_add_dirty(outputlen);
    } else {
        ql_free(ql);
        if (lookup_write(c, dst) && db_delete(c->db, dst->p, dst->len)) {
            signal_modified_key(c, c->db, dst->p, dst->len);
            notify_keyspace_event(NOTIFY_GENERIC, "del", dst->p, dst->len, c->db->id);
            server_add_dirty(1);
        }
    }
    reply_int(c, outputlen);
}

/* Applies LIMIT to the element count (as Redis, clamping into range) and
 * loads the elements to sort: for lists and sorted sets with BY <constant>
 * only the range asked for (from the end with DESC), otherwise all. */
static void sort_load(kobj *o, const sort_type_ops *ops, const sort_args *a, sort_vec *sv,
                      long *startp, long *endp) {
    long vectorlen = o ? (long)ops->length(o) : 0;
    long start = a->limit_start < 0           ? 0
                 : a->limit_start > vectorlen ? vectorlen
                                              : (long)a->limit_start;
    long count = a->limit_count < -1          ? -1
                 : a->limit_count > vectorlen ? vectorlen
                                              : (long)a->limit_count;
    long end = count < 0 ? vectorlen - 1 : start + count - 1;
    if (start >= vectorlen) {
        start = vectorlen - 1;
        end = vectorlen - 2;
    }
    if (end >= vectorlen) end = vectorlen - 1;
    if (o && a->dontsort && o->type != OBJ_SET) {
        if (end >= start)
            ops->range(o, (unsigned long)start, (unsigned long)(end - start + 1), a->desc, vec_add,
                       sv);
        end -= start;
        start = 0;
    } else if (o) {
        ops->range(o, 0, (unsigned long)vectorlen, 0, vec_add, sv);
    }
    *startp = start;
    *endp = end;
}

static void sort_generic(client *c, int readonly) {
    sort_args a;
    sort_vec sv = {NULL, 0, 0, SBUF_INIT};
    if (sort_parse(c, readonly, &a) != OK) goto done;
    kobj *o = lookup_read(c, &c->argv[1]);
    const sort_type_ops *ops = o ? sort_ops[o->type] : NULL;
    if (o && (!ops || !ops->length || !ops->range ||
              (o->type != OBJ_LIST && o->type != OBJ_SET && o->type != OBJ_ZSET))) {
        reply_error(c, ERR_WRONGTYPE);
        goto done;
    }
    /* A set has no order of its own: with BY <constant> it is still sorted
     * (ALPHA) when stored or in a script, so the result is deterministic. */
    if (o && a.dontsort && o->type == OBJ_SET && (a.storekey || server_in_script())) {
        a.dontsort = 0;
        a.alpha = 1;
        a.sortby = NULL;
    }
    long start, end;
    sort_load(o, ops, &a, &sv, &start, &end);
    int ok = 1;
    if (!a.dontsort) ok = sort_weights(c, &sv, &a);
    vec_resolve(&sv);
    if (!a.dontsort && ok) {
        sort_order ord = {a.desc, a.alpha, a.sortby != NULL, a.storekey != NULL};
        if (a.sortby && (start != 0 || end != (long)sv.n - 1)) {
            partial_sort(sv.v, 0, sv.n, (size_t)start, (size_t)end, &ord);
        } else {
            sort_item *tmp = xmalloc(sizeof(sort_item) * (sv.n ? sv.n : 1));
            merge_sort(sv.v, tmp, sv.n, &ord);
            xfree(tmp);
        }
    }
    if (!ok)
        reply_error(c, "ERR One or more scores can't be converted into double");
    else
        sort_output(c, &sv, &a, start, end);
done:
    xfree(a.gets);
    xfree(sv.v);
    sbuf_free(&sv.arena);
}

void sort_command(client *c) {
    sort_generic(c, 0);
}
void sort_ro_command(client *c) {
    sort_generic(c, 1);
}

/* SORT's keys: the sorted key, and the destination of the last STORE.
 * Options with arguments are skipped as Redis's sortGetKeys does. */
int getkeys_sort(const command *cmd, int argc, const resp_arg *argv, int *keys, int max) {
    (void)cmd;
    if (max < 2 || argc < 2) return 0;
    int n = 1, store = 0;
    keys[0] = 1;
    for (int i = 2; i < argc; i++) {
        if (arg_is(&argv[i], "limit"))
            i += 2;
        else if (arg_is(&argv[i], "get") || arg_is(&argv[i], "by"))
            i += 1;
        else if (arg_is(&argv[i], "store") && i + 1 < argc) {
            store = 1;
            keys[1] = i + 1;
        }
    }
    return n + store;
}
