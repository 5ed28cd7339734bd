/* kv/stream — see stream.h for the block layout and the invariants. */
#include "kv/stream.h"
#include "util/mem.h"
#include "util/strutil.h"
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

long long stream_node_max_entries = 100, stream_node_max_bytes = 4096;

enum { EF_DELETED = 1, EF_SAMEFIELDS = 2 };

typedef struct sblock {
    stream_id first; /* id of the first entry, live or deleted */
    stream_id last;  /* id of the last entry, live or deleted */
    uint32_t used, cap;
    uint32_t count; /* entries, live and deleted */
    uint32_t live;
    uint32_t mfend; /* offset where the master fields end and entries begin */
    unsigned char data[];
} sblock;

/* ---- ids ------------------------------------------------------------------------------- */

int stream_id_cmp(const stream_id *a, const stream_id *b) {
    if (a->ms != b->ms) return a->ms < b->ms ? -1 : 1;
    if (a->seq != b->seq) return a->seq < b->seq ? -1 : 1;
    return 0;
}

/* Redis's string2ull: plain digits, else what strtoull takes whole (so a
 * leading space or '+' passes), but never a negative integer. */
static int parse_u64(const char *s, size_t len, uint64_t *out) {
    uint64_t v = 0;
    size_t i = 0;
    for (; i < len && i < 21; i++) {
        if (s[i] < '0' || s[i] > '9') break;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10) break;
        v = v * 10 + d;
    }
    if (len && i == len && (len == 1 || s[0] != '0')) {
        *out = v;
        return 0;
    }
    char buf[128];
    if (!len || len >= sizeof(buf) || memchr(s, 0, len)) return -1;
    memcpy(buf, s, len);
    buf[len] = 0;
    char *end;
    long long ll = strtoll(buf, &end, 10);
    if (*end == 0 && buf[0] == '-' && end != buf && ll < 0) return -1;
    errno = 0;
    unsigned long long u = strtoull(buf, &end, 10);
    if (errno == EINVAL || errno == ERANGE || *end != 0) return -1;
    *out = u;
    return 0;
}

int stream_id_parse(const char *s, size_t len, uint64_t missing_seq, int allow_special,
                    stream_id *out, int *seq_given) {
    if (len > 127) return -1;
    if (allow_special && len == 1 && (s[0] == '-' || s[0] == '+')) {
        out->ms = out->seq = s[0] == '-' ? 0 : UINT64_MAX;
        if (seq_given) *seq_given = 1;
        return 0;
    }
    const char *dot = memchr(s, '-', len);
    if (!dot) {
        if (parse_u64(s, len, &out->ms)) return -1;
        out->seq = missing_seq;
        if (seq_given) *seq_given = 1;
        return 0;
    }
    if (parse_u64(s, (size_t)(dot - s), &out->ms)) return -1;
    size_t seqlen = len - (size_t)(dot - s) - 1;
    if (seq_given && seqlen == 1 && dot[1] == '*') {
        out->seq = 0;
        *seq_given = 0;
        return 0;
    }
    if (parse_u64(dot + 1, seqlen, &out->seq)) return -1;
    if (seq_given) *seq_given = 1;
    return 0;
}

size_t stream_id_format(const stream_id *id, char *buf) {
    size_t n = (size_t)ull_to_str(buf, id->ms);
    buf[n++] = '-';
    return n + (size_t)ull_to_str(buf + n, id->seq);
}

int stream_id_incr(stream_id *id) {
    if (id->seq == UINT64_MAX) {
        if (id->ms == UINT64_MAX) return -1;
        id->ms++;
        id->seq = 0;
    } else {
        id->seq++;
    }
    return 0;
}

int stream_next_auto_id(const stream *s, uint64_t now_ms, stream_id *id) {
    if (now_ms > s->last_id.ms) {
        *id = (stream_id){now_ms, 0};
        return 0;
    }
    *id = s->last_id;
    return stream_id_incr(id);
}

uint64_t stream_default_approx_limit(void) {
    long long limit = 100 * stream_node_max_entries;
    return limit <= 0 || limit > 1000000 ? 10000 : (uint64_t)limit;
}

int stream_id_decr(stream_id *id) {
    if (id->seq == 0) {
        if (id->ms == 0) return -1;
        id->ms--;
        id->seq = UINT64_MAX;
    } else {
        id->seq--;
    }
    return 0;
}

/* ---- varints ----------------------------------------------------------------------------- */

static size_t put_varint(unsigned char *p, uint64_t v) {
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (unsigned char)v;
    return n;
}

static uint64_t get_varint(const unsigned char **p) {
    uint64_t v = 0;
    int shift = 0;
    const unsigned char *q = *p;
    for (;;) {
        unsigned char b = *q++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) break;
        shift += 7;
    }
    *p = q;
    return v;
}

static size_t varint_len(uint64_t v) {
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* ---- blocks ------------------------------------------------------------------------------ */

static sblock *block_reserve(sblock *b, size_t need) {
    if (b->used + need <= b->cap) return b;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->used + need) cap *= 2;
    b = xrealloc(b, sizeof(sblock) + cap);
    b->cap = (uint32_t)cap;
    return b;
}

/* Decodes the entry at *off: its id and flags; *off moves past it. When fv is
 * given, fills the field/value slices (room for the entry's fields grows). */
typedef struct entry_view {
    stream_id id;
    int flags;
    size_t flags_off;
    size_t nfields;
} entry_view;

static void decode_entry(const sblock *b, size_t *off, entry_view *e, const char ***fv,
                         size_t **fvlen, size_t *fvcap) {
    const unsigned char *p = b->data + *off;
    e->flags_off = *off;
    e->flags = *p++;
    uint64_t dms = get_varint(&p);
    uint64_t seq = get_varint(&p);
    e->id.ms = b->first.ms + dms;
    e->id.seq = dms == 0 ? b->first.seq + seq : seq;
    const unsigned char *mf = NULL;
    if (e->flags & EF_SAMEFIELDS) {
        mf = b->data;
        e->nfields = (size_t)get_varint(&mf);
    } else {
        e->nfields = (size_t)get_varint(&p);
    }
    if (fv && *fvcap < e->nfields * 2) {
        *fvcap = e->nfields * 2;
        *fv = xrealloc(*fv, *fvcap * sizeof(char *));
        *fvlen = xrealloc(*fvlen, *fvcap * sizeof(size_t));
    }
    for (size_t i = 0; i < e->nfields; i++) {
        const unsigned char **src = mf ? &mf : &p;
        size_t fl = (size_t)get_varint(src);
        if (fv) {
            (*fv)[2 * i] = (const char *)*src;
            (*fvlen)[2 * i] = fl;
        }
        *src += fl;
        size_t vl = (size_t)get_varint(&p);
        if (fv) {
            (*fv)[2 * i + 1] = (const char *)p;
            (*fvlen)[2 * i + 1] = vl;
        }
        p += vl;
    }
    *off = (size_t)(p - b->data);
}

static int same_as_master(const sblock *b, size_t nfields, const char *const *fv,
                          const size_t *fvlen) {
    const unsigned char *p = b->data;
    if ((size_t)get_varint(&p) != nfields) return 0;
    for (size_t i = 0; i < nfields; i++) {
        size_t l = (size_t)get_varint(&p);
        if (l != fvlen[2 * i] || memcmp(p, fv[2 * i], l) != 0) return 0;
        p += l;
    }
    return 1;
}

static sblock *block_new(const stream_id *id, size_t nfields, const char *const *fv,
                         const size_t *fvlen) {
    size_t need = varint_len(nfields);
    for (size_t i = 0; i < nfields; i++) need += varint_len(fvlen[2 * i]) + fvlen[2 * i];
    sblock *b = xmalloc(sizeof(sblock) + need + 64);
    memset(b, 0, sizeof(*b));
    b->cap = (uint32_t)(need + 64);
    b->first = b->last = *id;
    unsigned char *p = b->data;
    p += put_varint(p, nfields);
    for (size_t i = 0; i < nfields; i++) {
        p += put_varint(p, fvlen[2 * i]);
        memcpy(p, fv[2 * i], fvlen[2 * i]);
        p += fvlen[2 * i];
    }
    b->used = b->mfend = (uint32_t)(p - b->data);
    return b;
}

static sblock *block_append(sblock *b, const stream_id *id, size_t nfields, const char *const *fv,
                            const size_t *fvlen) {
    int same = same_as_master(b, nfields, fv, fvlen);
    uint64_t dms = id->ms - b->first.ms;
    uint64_t seq = dms == 0 ? id->seq - b->first.seq : id->seq;
    size_t need = 1 + varint_len(dms) + varint_len(seq) + (same ? 0 : varint_len(nfields));
    for (size_t i = 0; i < nfields; i++) {
        if (!same) need += varint_len(fvlen[2 * i]) + fvlen[2 * i];
        need += varint_len(fvlen[2 * i + 1]) + fvlen[2 * i + 1];
    }
    b = block_reserve(b, need);
    unsigned char *p = b->data + b->used;
    *p++ = same ? EF_SAMEFIELDS : 0;
    p += put_varint(p, dms);
    p += put_varint(p, seq);
    if (!same) p += put_varint(p, nfields);
    for (size_t i = 0; i < nfields; i++) {
        if (!same) {
            p += put_varint(p, fvlen[2 * i]);
            memcpy(p, fv[2 * i], fvlen[2 * i]);
            p += fvlen[2 * i];
        }
        p += put_varint(p, fvlen[2 * i + 1]);
        memcpy(p, fv[2 * i + 1], fvlen[2 * i + 1]);
        p += fvlen[2 * i + 1];
    }
    b->used = (uint32_t)(p - b->data);
    b->count++;
    b->live++;
    b->last = *id;
    return b;
}

/* ---- the stream -------------------------------------------------------------------------- */

stream *stream_new(void) {
    return xcalloc(1, sizeof(stream));
}

static void pel_free(stream_pel *p, int free_nacks) {
    if (free_nacks)
        for (size_t i = 0; i < p->n; i++) xfree(p->v[i]);
    xfree(p->v);
}

static void cg_free(stream_cg *g) {
    pel_free(&g->pel, 1);
    for (size_t i = 0; i < g->nconsumers; i++) {
        pel_free(&g->consumers[i]->pel, 0);
        xfree(g->consumers[i]->name);
        xfree(g->consumers[i]);
    }
    xfree(g->consumers);
    xfree(g->name);
    xfree(g);
}

void stream_free(stream *s) {
    if (!s) return;
    for (size_t i = 0; i < s->nblocks; i++) xfree(s->blocks[i]);
    xfree(s->blocks);
    for (size_t i = 0; i < s->ngroups; i++) cg_free(s->groups[i]);
    xfree(s->groups);
    xfree(s);
}

static void pel_copy(stream_pel *dst, const stream_pel *src) {
    dst->n = dst->cap = src->n;
    dst->v = src->n ? xmalloc(src->n * sizeof(stream_nack *)) : NULL;
}

static stream_cg *cg_dup(const stream_cg *g) {
    stream_cg *d = xcalloc(1, sizeof(*d));
    d->name = xmemdup(g->name, g->nlen);
    d->nlen = g->nlen;
    d->last_id = g->last_id;
    d->entries_read = g->entries_read;
    d->nconsumers = g->nconsumers;
    d->consumers = g->nconsumers ? xmalloc(g->nconsumers * sizeof(stream_consumer *)) : NULL;
    for (size_t i = 0; i < g->nconsumers; i++) {
        const stream_consumer *c = g->consumers[i];
        stream_consumer *dc = xcalloc(1, sizeof(*dc));
        dc->name = xmemdup(c->name, c->nlen);
        dc->nlen = c->nlen;
        dc->seen_time = c->seen_time;
        pel_copy(&dc->pel, &c->pel);
        dc->pel.n = 0;
        d->consumers[i] = dc;
    }
    pel_copy(&d->pel, &g->pel);
    for (size_t i = 0; i < g->pel.n; i++) {
        const stream_nack *n = g->pel.v[i];
        stream_nack *dn = xmalloc(sizeof(*dn));
        *dn = *n;
        size_t ci = 0;
        while (g->consumers[ci] != n->consumer) ci++;
        dn->consumer = d->consumers[ci];
        d->pel.v[i] = dn;
        dn->consumer->pel.v[dn->consumer->pel.n++] = dn; /* same order: sorted */
    }
    return d;
}

stream *stream_dup(const stream *s) {
    stream *d = xmalloc(sizeof(*d));
    *d = *s;
    d->bcap = s->nblocks;
    d->blocks = s->nblocks ? xmalloc(s->nblocks * sizeof(sblock *)) : NULL;
    for (size_t i = 0; i < s->nblocks; i++) {
        const sblock *b = s->blocks[i];
        d->blocks[i] = (sblock *)xmemdup(b, sizeof(sblock) + b->used);
        d->blocks[i]->cap = b->used;
    }
    d->groups = s->ngroups ? xmalloc(s->ngroups * sizeof(stream_cg *)) : NULL;
    for (size_t i = 0; i < s->ngroups; i++) d->groups[i] = cg_dup(s->groups[i]);
    return d;
}

size_t stream_mem(const stream *s) {
    size_t m = xmem_usable(s) + (s->blocks ? xmem_usable(s->blocks) : 0);
    for (size_t i = 0; i < s->nblocks; i++) m += xmem_usable(s->blocks[i]);
    for (size_t i = 0; i < s->ngroups; i++) {
        const stream_cg *g = s->groups[i];
        m += sizeof(*g) + g->nlen + g->pel.n * (sizeof(stream_nack) + 2 * sizeof(void *));
        m += g->nconsumers * (sizeof(stream_consumer) + 16);
    }
    return m;
}

void stream_append(stream *s, const stream_id *id, size_t nfields, const char *const *fv,
                   const size_t *fvlen) {
    assert(stream_id_cmp(id, &s->last_id) > 0 || (s->entries_added == 0 && s->length == 0));
    sblock *b = s->nblocks ? s->blocks[s->nblocks - 1] : NULL;
    if (b) {
        size_t add = 16;
        for (size_t i = 0; i < 2 * nfields; i++) add += fvlen[i] + 2;
        if (stream_node_max_bytes && b->used + add >= (uint64_t)stream_node_max_bytes)
            b = NULL;
        else if (stream_node_max_entries && b->count >= (uint64_t)stream_node_max_entries)
            b = NULL;
    }
    if (!b) {
        if (s->nblocks == s->bcap) {
            s->bcap = s->bcap ? s->bcap * 2 : 4;
            s->blocks = xrealloc(s->blocks, s->bcap * sizeof(sblock *));
        }
        b = block_new(id, nfields, fv, fvlen);
        s->blocks[s->nblocks++] = b;
    }
    s->blocks[s->nblocks - 1] = block_append(b, id, nfields, fv, fvlen);
    if (s->length == 0) s->first_id = *id;
    s->length++;
    s->entries_added++;
    s->last_id = *id;
}

static void remove_block(stream *s, size_t i) {
    xfree(s->blocks[i]);
    memmove(s->blocks + i, s->blocks + i + 1, (s->nblocks - i - 1) * sizeof(sblock *));
    s->nblocks--;
}

static void update_first(stream *s) {
    if (!stream_edge_id(s, 0, &s->first_id)) s->first_id = (stream_id){0, 0};
}

/* The last block whose first id <= id, or nblocks when none. */
static size_t block_seek(const stream *s, const stream_id *id) {
    size_t lo = 0, hi = s->nblocks;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (stream_id_cmp(&s->blocks[mid]->first, id) <= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo == 0 ? s->nblocks : lo - 1;
}

/* Finds the entry id in its block; returns the block index or nblocks. */
static size_t find_entry(const stream *s, const stream_id *id, entry_view *e) {
    size_t bi = block_seek(s, id);
    if (bi == s->nblocks) return bi;
    const sblock *b = s->blocks[bi];
    size_t off = b->mfend;
    while (off < b->used) {
        decode_entry(b, &off, e, NULL, NULL, NULL);
        int c = stream_id_cmp(&e->id, id);
        if (c == 0) return (e->flags & EF_DELETED) ? s->nblocks : bi;
        if (c > 0) break;
    }
    return s->nblocks;
}

int stream_has_entry(const stream *s, const stream_id *id) {
    entry_view e;
    return find_entry(s, id, &e) != s->nblocks;
}

int stream_delete(stream *s, const stream_id *id) {
    entry_view e;
    size_t bi = find_entry(s, id, &e);
    if (bi == s->nblocks) return 0;
    sblock *b = s->blocks[bi];
    b->data[e.flags_off] |= EF_DELETED;
    b->live--;
    s->length--;
    if (!b->live) remove_block(s, bi);
    if (stream_id_cmp(id, &s->first_id) == 0) update_first(s);
    if (stream_id_cmp(id, &s->max_deleted_id) > 0) s->max_deleted_id = *id;
    return 1;
}

uint64_t stream_trim(stream *s, int strategy, uint64_t maxlen, const stream_id *minid, int approx,
                     uint64_t limit) {
    uint64_t deleted = 0;
    while (s->nblocks) {
        if (strategy == STREAM_TRIM_MAXLEN && s->length <= maxlen) break;
        sblock *b = s->blocks[0];
        if (limit && deleted + b->live > limit) break;
        int whole = strategy == STREAM_TRIM_MAXLEN ? s->length - b->live >= maxlen
                                                   : stream_id_cmp(&b->last, minid) < 0;
        if (whole) {
            s->length -= b->live;
            deleted += b->live;
            remove_block(s, 0);
            continue;
        }
        if (approx) break;
        size_t off = b->mfend;
        while (off < b->used) {
            entry_view e;
            decode_entry(b, &off, &e, NULL, NULL, NULL);
            if (e.flags & EF_DELETED) continue;
            if (strategy == STREAM_TRIM_MAXLEN ? s->length <= maxlen
                                               : stream_id_cmp(&e.id, minid) >= 0)
                break;
            b->data[e.flags_off] |= EF_DELETED;
            b->live--;
            s->length--;
            deleted++;
        }
        break;
    }
    if (deleted) update_first(s);
    return deleted;
}

/* ---- iteration -------------------------------------------------------------------------- */

void stream_iter_start(stream_iter *it, const stream *s, const stream_id *start,
                       const stream_id *end, int rev) {
    memset(it, 0, sizeof(*it));
    it->s = s;
    it->start = *start;
    it->end = *end;
    it->rev = rev;
    if (stream_id_cmp(start, end) > 0 || !s->nblocks) {
        it->done = 1;
        return;
    }
    size_t bi = block_seek(s, rev ? end : start);
    if (bi == s->nblocks) {
        if (rev) {
            it->done = 1;
            return;
        }
        bi = 0;
    }
    it->bi = bi;
    it->off = (size_t)-1; /* block not entered yet */
}

static void load_offsets(stream_iter *it) {
    const sblock *b = it->s->blocks[it->bi];
    it->noffs = 0;
    size_t off = b->mfend;
    while (off < b->used) {
        if (it->noffs == it->ocap) {
            it->ocap = it->ocap ? it->ocap * 2 : 128;
            it->offs = xrealloc(it->offs, it->ocap * sizeof(uint32_t));
        }
        it->offs[it->noffs++] = (uint32_t)off;
        entry_view e;
        decode_entry(b, &off, &e, NULL, NULL, NULL);
    }
}

int stream_iter_next(stream_iter *it) {
    const stream *s = it->s;
    while (!it->done) {
        const sblock *b = s->blocks[it->bi];
        size_t off;
        if (it->off == (size_t)-1) {
            if (it->rev) {
                load_offsets(it);
                it->off = it->noffs;
            } else {
                it->off = b->mfend;
            }
        }
        int more = it->rev ? it->off > 0 : it->off < b->used;
        if (!more) {
            if (it->rev ? it->bi == 0 : it->bi + 1 >= s->nblocks) {
                it->done = 1;
                break;
            }
            it->bi += it->rev ? (size_t)-1 : 1;
            it->off = (size_t)-1;
            continue;
        }
        entry_view e;
        if (it->rev) {
            off = it->offs[--it->off];
            decode_entry(b, &off, &e, &it->fv, &it->fvlen, &it->fvcap);
        } else {
            decode_entry(b, &it->off, &e, &it->fv, &it->fvlen, &it->fvcap);
        }
        if (it->rev ? stream_id_cmp(&e.id, &it->start) < 0 : stream_id_cmp(&e.id, &it->end) > 0) {
            it->done = 1;
            break;
        }
        if (e.flags & EF_DELETED) continue;
        if (it->rev ? stream_id_cmp(&e.id, &it->end) > 0 : stream_id_cmp(&e.id, &it->start) < 0)
            continue;
        it->id = e.id;
        it->nfields = e.nfields;
        return 1;
    }
    return 0;
}

void stream_iter_stop(stream_iter *it) {
    xfree(it->offs);
    xfree(it->fv);
    xfree(it->fvlen);
    memset(it, 0, sizeof(*it));
}

int stream_edge_id(const stream *s, int last, stream_id *out) {
    stream_iter it;
    stream_id lo = {0, 0}, hi = {UINT64_MAX, UINT64_MAX};
    stream_iter_start(&it, s, &lo, &hi, last);
    int ok = stream_iter_next(&it);
    if (ok) *out = it.id;
    stream_iter_stop(&it);
    return ok;
}

int stream_range_has_tombstones(const stream *s, const stream_id *start, const stream_id *end) {
    stream_id zero = {0, 0}, max = {UINT64_MAX, UINT64_MAX};
    if (!s->length || stream_id_cmp(&s->max_deleted_id, &zero) == 0) return 0;
    if (stream_id_cmp(&s->first_id, &s->max_deleted_id) > 0) return 0;
    if (!start) start = &zero;
    if (!end) end = &max;
    return stream_id_cmp(start, &s->max_deleted_id) <= 0 &&
           stream_id_cmp(&s->max_deleted_id, end) <= 0;
}

long long stream_estimate_distance(const stream *s, const stream_id *id) {
    if (!s->entries_added) return 0;
    int cmp_last = stream_id_cmp(id, &s->last_id);
    if (!s->length && cmp_last < 1) return (long long)s->entries_added;
    if (cmp_last == 0) return (long long)s->entries_added;
    if (cmp_last > 0) return -1;
    stream_id zero = {0, 0};
    int cmp_first = stream_id_cmp(id, &s->first_id);
    if (stream_id_cmp(&s->max_deleted_id, &zero) == 0 ||
        stream_id_cmp(&s->max_deleted_id, &s->first_id) < 0) {
        if (cmp_first < 0) return (long long)(s->entries_added - s->length);
        if (cmp_first == 0) return (long long)(s->entries_added - s->length + 1);
    }
    return -1;
}

int stream_cg_lag(const stream *s, const stream_cg *g, long long *lag) {
    *lag = 0;
    if (!s->entries_added) return 1;
    if (g->entries_read != -1 && !stream_range_has_tombstones(s, &g->last_id, NULL)) {
        *lag = (long long)s->entries_added - g->entries_read;
        return 1;
    }
    long long r = stream_estimate_distance(s, &g->last_id);
    if (r == -1) return 0;
    *lag = (long long)s->entries_added - r;
    return 1;
}

/* ---- consumer groups ------------------------------------------------------------------- */

static int name_cmp(const char *a, size_t al, const char *b, size_t bl) {
    int c = memcmp(a, b, al < bl ? al : bl);
    if (c) return c;
    return al < bl ? -1 : al > bl;
}

/* Index of the first group whose name >= name. */
static size_t cg_lower(const stream *s, const char *name, size_t len) {
    size_t lo = 0, hi = s->ngroups;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (name_cmp(s->groups[mid]->name, s->groups[mid]->nlen, name, len) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

stream_cg *stream_cg_find(const stream *s, const char *name, size_t len) {
    size_t i = cg_lower(s, name, len);
    if (i < s->ngroups && !name_cmp(s->groups[i]->name, s->groups[i]->nlen, name, len))
        return s->groups[i];
    return NULL;
}

stream_cg *stream_cg_create(stream *s, const char *name, size_t len, const stream_id *id,
                            long long entries_read) {
    size_t i = cg_lower(s, name, len);
    if (i < s->ngroups && !name_cmp(s->groups[i]->name, s->groups[i]->nlen, name, len)) return NULL;
    stream_cg *g = xcalloc(1, sizeof(*g));
    g->name = xmemdup(name, len);
    g->nlen = len;
    g->last_id = *id;
    g->entries_read = entries_read;
    s->groups = xrealloc(s->groups, (s->ngroups + 1) * sizeof(stream_cg *));
    memmove(s->groups + i + 1, s->groups + i, (s->ngroups - i) * sizeof(stream_cg *));
    s->groups[i] = g;
    s->ngroups++;
    return g;
}

void stream_cg_destroy(stream *s, stream_cg *g) {
    size_t i = cg_lower(s, g->name, g->nlen);
    assert(i < s->ngroups && s->groups[i] == g);
    memmove(s->groups + i, s->groups + i + 1, (s->ngroups - i - 1) * sizeof(stream_cg *));
    s->ngroups--;
    cg_free(g);
}

stream_consumer *stream_consumer_find(const stream_cg *g, const char *name, size_t len) {
    for (size_t i = 0; i < g->nconsumers; i++)
        if (!name_cmp(g->consumers[i]->name, g->consumers[i]->nlen, name, len))
            return g->consumers[i];
    return NULL;
}

stream_consumer *stream_consumer_create(stream_cg *g, const char *name, size_t len, int64_t now) {
    stream_consumer *c = xcalloc(1, sizeof(*c));
    c->name = xmemdup(name, len);
    c->nlen = len;
    c->seen_time = now;
    /* kept sorted by name: XINFO CONSUMERS lists them as Redis's rax does */
    size_t i = 0;
    while (i < g->nconsumers &&
           name_cmp(g->consumers[i]->name, g->consumers[i]->nlen, name, len) < 0)
        i++;
    g->consumers = xrealloc(g->consumers, (g->nconsumers + 1) * sizeof(stream_consumer *));
    memmove(g->consumers + i + 1, g->consumers + i, (g->nconsumers - i) * sizeof(void *));
    g->consumers[i] = c;
    g->nconsumers++;
    return c;
}

size_t stream_consumer_delete(stream_cg *g, stream_consumer *c) {
    size_t pending = c->pel.n;
    while (c->pel.n) stream_nack_ack(g, c->pel.v[c->pel.n - 1]);
    size_t i = 0;
    while (g->consumers[i] != c) i++;
    memmove(g->consumers + i, g->consumers + i + 1, (g->nconsumers - i - 1) * sizeof(void *));
    g->nconsumers--;
    pel_free(&c->pel, 0);
    xfree(c->name);
    xfree(c);
    return pending;
}

size_t stream_pel_lower(const stream_pel *p, const stream_id *id) {
    size_t lo = 0, hi = p->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (stream_id_cmp(&p->v[mid]->id, id) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

stream_nack *stream_pel_find(const stream_pel *p, const stream_id *id, size_t *pos) {
    size_t i = stream_pel_lower(p, id);
    if (pos) *pos = i;
    return i < p->n && stream_id_cmp(&p->v[i]->id, id) == 0 ? p->v[i] : NULL;
}

void stream_pel_insert(stream_pel *p, stream_nack *n) {
    size_t i = stream_pel_lower(p, &n->id);
    assert(i == p->n || stream_id_cmp(&p->v[i]->id, &n->id) != 0);
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 4;
        p->v = xrealloc(p->v, p->cap * sizeof(stream_nack *));
    }
    memmove(p->v + i + 1, p->v + i, (p->n - i) * sizeof(stream_nack *));
    p->v[i] = n;
    p->n++;
}

void stream_pel_remove(stream_pel *p, const stream_id *id) {
    size_t i;
    if (!stream_pel_find(p, id, &i)) return;
    memmove(p->v + i, p->v + i + 1, (p->n - i - 1) * sizeof(stream_nack *));
    p->n--;
}

stream_nack *stream_nack_new(const stream_id *id, stream_consumer *c, int64_t now) {
    stream_nack *n = xmalloc(sizeof(*n));
    n->id = *id;
    n->delivery_time = now;
    n->delivery_count = 1;
    n->consumer = c;
    return n;
}

void stream_nack_ack(stream_cg *g, stream_nack *n) {
    stream_pel_remove(&n->consumer->pel, &n->id);
    stream_pel_remove(&g->pel, &n->id);
    xfree(n);
}

void stream_nack_reassign(stream_nack *n, stream_consumer *to) {
    if (n->consumer == to) return;
    stream_pel_remove(&n->consumer->pel, &n->id);
    n->consumer = to;
    stream_pel_insert(&to->pel, n);
}
