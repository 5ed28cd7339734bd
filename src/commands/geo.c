/* commands/geo — the GEO family, Redis 7.0 semantics and error texts:
 * GEOADD GEODIST GEOHASH GEOPOS GEORADIUS[_RO] GEORADIUSBYMEMBER[_RO]
 * GEOSEARCH GEOSEARCHSTORE.
 *
 * A geo index is a sorted set whose scores are 52-bit geohashes (kv/geohash
 * does the arithmetic), so every sorted set command works on it and GEOADD
 * is ZADD with computed scores (its keyspace event is "zadd").
 *
 * A search scans the score ranges of nine geohash cells (the centre's and
 * its neighbours', some left out), in that order and by ascending score
 * within a cell, keeping the points inside the shape; results are then
 * sorted by distance when asked (ASC/DESC, or COUNT without ANY): all of
 * them with a stable sort, so points at equal distances keep their scan
 * order, or only the COUNT nearest with the partial quicksort Redis uses,
 * whose order of equal distances this follows. With COUNT ANY the scan stops
 * as soon as COUNT points were found. */
#include "commands/commands.h"
#include "commands/zset_int.h"
#include "kv/geohash.h"
#include "util/mem.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define ERR_BAD_MEMBER "ERR could not decode requested zset member"

/* ---- arguments ----------------------------------------------------------------------- */

/* argv[0] longitude, argv[1] latitude, within the Mercator limits. */
static int lonlat_or_reply(client *c, const resp_arg *argv, double xy[2]) {
    for (int i = 0; i < 2; i++)
        if (arg_double_or_reply(c, &argv[i], &xy[i], NULL) != OK) return ERR;
    if (xy[0] < GEO_LON_MIN || xy[0] > GEO_LON_MAX || xy[1] < GEO_LAT_MIN || xy[1] > GEO_LAT_MAX) {
        reply_errorf(c, "ERR invalid longitude,latitude pair %f,%f", xy[0], xy[1]);
        return ERR;
    }
    return OK;
}

/* A unit's metres. */
static int unit_or_reply(client *c, const resp_arg *a, double *to_m) {
    if (arg_is(a, "m"))
        *to_m = 1;
    else if (arg_is(a, "km"))
        *to_m = 1000;
    else if (arg_is(a, "ft"))
        *to_m = 0.3048;
    else if (arg_is(a, "mi"))
        *to_m = 1609.34;
    else {
        reply_error(c, "ERR unsupported unit provided. please use M, KM, FT, MI");
        return ERR;
    }
    return OK;
}

/* "radius unit" at argv. */
static int radius_or_reply(client *c, const resp_arg *argv, geo_shape *s) {
    double r;
    if (arg_double_or_reply(c, &argv[0], &r, "ERR need numeric radius") != OK) return ERR;
    if (r < 0) {
        reply_error(c, "ERR radius cannot be negative");
        return ERR;
    }
    s->radius = r;
    return unit_or_reply(c, &argv[1], &s->conversion);
}

/* "width height unit" at argv. */
static int box_or_reply(client *c, const resp_arg *argv, geo_shape *s) {
    double w, h;
    if (arg_double_or_reply(c, &argv[0], &w, "ERR need numeric width") != OK ||
        arg_double_or_reply(c, &argv[1], &h, "ERR need numeric height") != OK)
        return ERR;
    if (h < 0 || w < 0) {
        reply_error(c, "ERR height or width cannot be negative");
        return ERR;
    }
    s->width = w;
    s->height = h;
    return unit_or_reply(c, &argv[2], &s->conversion);
}

/* The position of a member of a geo set; ERR (replied) when it has none. */
static int member_pos_or_reply(client *c, kobj *o, const resp_arg *m, double xy[2]) {
    double score;
    if (zset_score(o, m->p, m->len, &score) && geohash_decode_score(score, xy)) return OK;
    reply_error(c, ERR_BAD_MEMBER);
    return ERR;
}

static void reply_distance(client *c, double d) {
    char buf[32];
    reply_bulk(c, buf, (size_t)geohash_format_distance(buf, d));
}

static void reply_coord(client *c, double d) {
    char buf[400];
    reply_double_text(c, buf, (size_t)geohash_format_coord(buf, d));
}

/* ---- GEOADD ------------------------------------------------------------------------- */

void geoadd_command(client *c) {
    int in = 0, ch = 0, at = 2;
    for (; at < c->argc; at++) {
        if (arg_is(&c->argv[at], "nx"))
            in |= ZADD_NX;
        else if (arg_is(&c->argv[at], "xx"))
            in |= ZADD_XX;
        else if (arg_is(&c->argv[at], "ch"))
            ch = 1;
        else
            break;
    }
    int n = (c->argc - at) / 3;
    if ((c->argc - at) % 3 || n == 0 || ((in & ZADD_NX) && (in & ZADD_XX))) {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    double stack[16], *scores = n <= 16 ? stack : xmalloc(sizeof(double) * (size_t)n);
    int k = 0;
    for (; k < n; k++) {
        double xy[2];
        geo_hash h;
        if (lonlat_or_reply(c, &c->argv[at + 3 * k], xy) != OK) break;
        geohash_encode_wgs84(xy[0], xy[1], GEO_STEP_MAX, &h);
        scores[k] = (double)geohash_align52(h);
    }
    if (k == n) zadd_apply(c, &c->argv[1], in, ch, scores, &c->argv[at + 2], 3, n);
    if (scores != stack) xfree(scores);
}

/* ---- point reads --------------------------------------------------------------------- */

void geodist_command(client *c) {
    double to_m = 1;
    if (c->argc == 5) {
        if (unit_or_reply(c, &c->argv[4], &to_m) != OK) return;
    } else if (c->argc > 5) {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    int err;
    kobj *o = lookup_read_or_reply(c, &c->argv[1], OBJ_ZSET, &err);
    if (err) return;
    double s1, s2, a[2], b[2];
    if (!o || !zset_score(o, c->argv[2].p, c->argv[2].len, &s1) ||
        !zset_score(o, c->argv[3].p, c->argv[3].len, &s2) || !geohash_decode_score(s1, a) ||
        !geohash_decode_score(s2, b)) {
        reply_null(c);
        return;
    }
    reply_distance(c, geohash_distance(a[0], a[1], b[0], b[1]) / to_m);
}

void geohash_command(client *c) {
    int err;
    kobj *o = lookup_read_or_reply(c, &c->argv[1], OBJ_ZSET, &err);
    if (err) return;
    reply_array(c, c->argc - 2);
    for (int j = 2; j < c->argc; j++) {
        double score;
        char buf[12];
        if (o && zset_score(o, c->argv[j].p, c->argv[j].len, &score) &&
            geohash_score_to_string(score, buf))
            reply_bulk(c, buf, 11);
        else
            reply_null(c);
    }
}

void geopos_command(client *c) {
    int err;
    kobj *o = lookup_read_or_reply(c, &c->argv[1], OBJ_ZSET, &err);
    if (err) return;
    reply_array(c, c->argc - 2);
    for (int j = 2; j < c->argc; j++) {
        double score, xy[2];
        if (o && zset_score(o, c->argv[j].p, c->argv[j].len, &score) &&
            geohash_decode_score(score, xy)) {
            reply_array(c, 2);
            reply_coord(c, xy[0]);
            reply_coord(c, xy[1]);
        } else {
            reply_null_array(c);
        }
    }
}

/* ---- searches ------------------------------------------------------------------------ */

typedef struct geo_point {
    double lon, lat, dist, score;
    const char *m; /* into the source set: valid until it changes */
    size_t len;
} geo_point;

typedef struct geo_points {
    geo_point *v;
    size_t n, cap;
} geo_points;

/* Appends the points of one cell (scores in [min, max)) that are inside the
 * shape; stops once `limit` points are held (0: no limit). */
static void scan_cell(const kobj *o, geo_hash cell, const geo_shape *s, geo_points *out,
                      size_t limit) {
    geo_hash next = cell;
    next.bits++;
    zrange_spec r = {.min = (double)geohash_align52(cell),
                     .max = (double)geohash_align52(next),
                     .minex = 0,
                     .maxex = 1};
    zset_iter it;
    for (zset_iter_at_score(&it, o, &r, 0); zset_iter_valid(&it); zset_iter_next(&it)) {
        double score = zset_iter_score(&it), xy[2], dist = 0;
        if (!zrange_lte_max(score, &r)) break;
        if (geohash_shape_may_contain(s, score) && geohash_shape_contains(s, score, xy, &dist)) {
            if (out->n == out->cap) {
                out->cap = out->cap ? out->cap * 2 : 8;
                out->v = xrealloc(out->v, out->cap * sizeof(geo_point));
            }
            geo_point *p = &out->v[out->n++];
            p->lon = xy[0];
            p->lat = xy[1];
            p->dist = dist;
            p->score = score;
            zset_iter_member(&it, &p->m, &p->len);
        }
        if (out->n && limit && out->n >= limit) break;
    }
}

/* The points of the nine cells, skipping a cell equal to the one scanned
 * just before it (huge radii make neighbours coincide). */
static void scan_cells(const kobj *o, geo_shape *s, geo_points *out, size_t limit) {
    geo_hash cells[9];
    geohash_search_boxes(s, cells);
    int last = 0;
    for (int i = 0; i < 9; i++) {
        if (!cells[i].bits && !cells[i].step) continue;
        if (last && cells[i].bits == cells[last].bits && cells[i].step == cells[last].step)
            continue;
        if (out->n && limit && out->n >= limit) break;
        scan_cell(o, cells[i], s, out, limit);
        last = i;
    }
}

static int by_dist_asc(const void *a, const void *b) {
    const geo_point *x = a, *y = b;
    return x->dist > y->dist ? 1 : x->dist == y->dist ? 0 : -1;
}
static int by_dist_desc(const void *a, const void *b) {
    return -by_dist_asc(a, b);
}
/* The nearest COUNT of more points: Redis sorts only the first COUNT
 * positions, with Bentley and McIlroy's quicksort ("Engineering a Sort
 * Function", 1993: median of three, or of nine above 40 elements; a
 * three-way partition that parks equal keys at both ends; insertion sort
 * below 7 elements), recursing only into parts that overlap positions
 * 0..last. Which of several points at the same distance come first depends
 * on that algorithm, so it is followed step for step here. */
typedef int geo_cmp_fn(const geo_point *, const geo_point *);

static void point_swap(geo_point *a, geo_point *b) {
    geo_point t = *a;
    *a = *b;
    *b = t;
}
static void point_vecswap(geo_point *a, geo_point *b, size_t n) {
    for (size_t i = 0; i < n; i++) point_swap(&a[i], &b[i]);
}
static geo_point *median3(geo_point *a, geo_point *b, geo_point *c, geo_cmp_fn *cmp) {
    if (cmp(a, b) < 0) return cmp(b, c) < 0 ? b : (cmp(a, c) < 0 ? c : a);
    return cmp(b, c) > 0 ? b : (cmp(a, c) < 0 ? a : c);
}

/* Sorts v[0..n) (whose first element is at position base of the whole
 * array) as far as positions 0..last need it. */
static void partial_sort(geo_point *v, size_t n, size_t base, size_t last, geo_cmp_fn *cmp) {
    for (;;) {
        if (n < 7) {
            for (size_t m = 1; m < n; m++)
                for (size_t l = m; l > 0 && cmp(&v[l - 1], &v[l]) > 0; l--)
                    point_swap(&v[l], &v[l - 1]);
            return;
        }
        geo_point *pm = &v[n / 2];
        if (n > 7) {
            geo_point *pl = v, *pn = &v[n - 1];
            if (n > 40) {
                size_t d = n / 8;
                pl = median3(pl, pl + d, pl + 2 * d, cmp);
                pm = median3(pm - d, pm, pm + d, cmp);
                pn = median3(pn - 2 * d, pn - d, pn, cmp);
            }
            pm = median3(pl, pm, pn, cmp);
        }
        point_swap(v, pm);
        /* v[0] is the pivot; equal keys gather in [1, a) and (d, n) */
        size_t a = 1, b = 1, c = n - 1, d = n - 1;
        for (;;) {
            int r;
            while (b <= c && (r = cmp(&v[b], v)) <= 0) {
                if (r == 0) point_swap(&v[a++], &v[b]);
                b++;
            }
            while (b <= c && (r = cmp(&v[c], v)) >= 0) {
                if (r == 0) point_swap(&v[c], &v[d--]);
                c--;
            }
            if (b > c) break;
            point_swap(&v[b++], &v[c--]);
        }
        size_t k = a < b - a ? a : b - a;
        point_vecswap(v, &v[b - k], k);
        k = d - c < n - d - 1 ? d - c : n - d - 1;
        point_vecswap(&v[b], &v[n - k], k);
        size_t left = b - a, right = d - c;
        if (left > 1 && last >= base) partial_sort(v, left, base, last, cmp);
        if (right <= 1) return;
        v += n - right;
        base += n - right;
        n = right;
        if (last < base) return;
    }
}

static int point_asc(const geo_point *x, const geo_point *y) {
    return by_dist_asc(x, y);
}
static int point_desc(const geo_point *x, const geo_point *y) {
    return by_dist_desc(x, y);
}

static int by_score_member(const void *a, const void *b) {
    const zref *x = a, *y = b;
    if (x->score != y->score) return x->score < y->score ? -1 : 1;
    return zsl_cmp_member(x->m, x->len, y->m, y->len);
}

enum {
    GEO_FROM_COORDS = 1 << 0, /* GEORADIUS: lon lat radius unit */
    GEO_FROM_MEMBER = 1 << 1, /* GEORADIUSBYMEMBER: member radius unit */
    GEO_NO_STORE = 1 << 2,    /* the _RO forms */
    GEO_SEARCH = 1 << 3,      /* GEOSEARCH's FROM... / BY... arguments */
    GEO_SEARCH_STORE = 1 << 4 /* GEOSEARCHSTORE: destination first, STOREDIST flag */
};
enum { SORT_NONE, SORT_ASC, SORT_DESC };

typedef struct geo_query {
    geo_shape shape;
    const resp_arg *store;
    int storedist, withdist, withhash, withcoord, sort, any;
    int frommember, fromlonlat, byradius, bybox;
    long long count;
} geo_query;

/* One option at argv[*i] (rest: the arguments left from it). */
static int option_or_reply(client *c, int flags, kobj *o, geo_query *q, int *i, int rest) {
    const resp_arg *a = &c->argv[*i];
    int search = (flags & GEO_SEARCH) != 0, store_ok = !(flags & GEO_NO_STORE) && !search;
    if (arg_is(a, "withdist")) {
        q->withdist = 1;
    } else if (arg_is(a, "withhash")) {
        q->withhash = 1;
    } else if (arg_is(a, "withcoord")) {
        q->withcoord = 1;
    } else if (arg_is(a, "any")) {
        q->any = 1;
    } else if (arg_is(a, "asc")) {
        q->sort = SORT_ASC;
    } else if (arg_is(a, "desc")) {
        q->sort = SORT_DESC;
    } else if (arg_is(a, "count") && rest > 1) {
        if (arg_ll_or_reply(c, &a[1], &q->count, NULL) != OK) return ERR;
        if (q->count <= 0) {
            reply_error(c, "ERR COUNT must be > 0");
            return ERR;
        }
        (*i)++;
    } else if ((arg_is(a, "store") || arg_is(a, "storedist")) && rest > 1 && store_ok) {
        q->store = &a[1];
        q->storedist = arg_is(a, "storedist");
        (*i)++;
    } else if (arg_is(a, "storedist") && (flags & GEO_SEARCH_STORE)) {
        q->storedist = 1;
    } else if (arg_is(a, "frommember") && rest > 1 && search && !q->fromlonlat) {
        /* without the key the member is not looked up: the reply is empty anyway */
        if (o && member_pos_or_reply(c, o, &a[1], q->shape.xy) != OK) return ERR;
        q->frommember = 1;
        (*i)++;
    } else if (arg_is(a, "fromlonlat") && rest > 2 && search && !q->frommember) {
        if (lonlat_or_reply(c, &a[1], q->shape.xy) != OK) return ERR;
        q->fromlonlat = 1;
        *i += 2;
    } else if (arg_is(a, "byradius") && rest > 2 && search && !q->bybox) {
        if (radius_or_reply(c, &a[1], &q->shape) != OK) return ERR;
        q->shape.type = GEO_SHAPE_CIRCLE;
        q->byradius = 1;
        *i += 2;
    } else if (arg_is(a, "bybox") && rest > 3 && search && !q->byradius) {
        if (box_or_reply(c, &a[1], &q->shape) != OK) return ERR;
        q->shape.type = GEO_SHAPE_BOX;
        q->bybox = 1;
        *i += 3;
    } else {
        reply_error(c, ERR_SYNTAX);
        return ERR;
    }
    return OK;
}

/* The checks Redis makes once every option is read. */
static int query_valid_or_reply(client *c, int flags, const geo_query *q) {
    if (q->store && (q->withdist || q->withhash || q->withcoord)) {
        reply_errorf(c, "ERR %s is not compatible with WITHDIST, WITHHASH and WITHCOORD options",
                     (flags & GEO_SEARCH_STORE) ? "GEOSEARCHSTORE" : "STORE option in GEORADIUS");
        return ERR;
    }
    if ((flags & GEO_SEARCH) && !(q->frommember || q->fromlonlat)) {
        reply_errorf(c, "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for %s",
                     c->argv[0].p);
        return ERR;
    }
    if ((flags & GEO_SEARCH) && !(q->byradius || q->bybox)) {
        reply_errorf(c, "ERR exactly one of BYRADIUS and BYBOX can be specified for %s",
                     c->argv[0].p);
        return ERR;
    }
    if (q->any && !q->count) {
        reply_error(c, "ERR the ANY argument requires COUNT argument");
        return ERR;
    }
    return OK;
}

/* Reads the centre, shape and options; returns the index after the fixed
 * arguments, or -1 (replied). */
static int parse_query_or_reply(client *c, int flags, kobj *o, geo_query *q) {
    int base;
    if (flags & GEO_FROM_COORDS) {
        base = 6;
        q->shape.type = GEO_SHAPE_CIRCLE;
        if (lonlat_or_reply(c, &c->argv[2], q->shape.xy) != OK ||
            radius_or_reply(c, &c->argv[4], &q->shape) != OK)
            return -1;
    } else if (flags & GEO_FROM_MEMBER) {
        base = 5;
        /* without the key nothing is looked up or parsed: the reply is empty */
        if (o) {
            q->shape.type = GEO_SHAPE_CIRCLE;
            if (member_pos_or_reply(c, o, &c->argv[2], q->shape.xy) != OK ||
                radius_or_reply(c, &c->argv[3], &q->shape) != OK)
                return -1;
        }
    } else {
        base = (flags & GEO_SEARCH_STORE) ? 3 : 2;
        if (flags & GEO_SEARCH_STORE) q->store = &c->argv[1];
    }
    for (int i = base; i < c->argc; i++)
        if (option_or_reply(c, flags, o, q, &i, c->argc - i) != OK) return -1;
    return query_valid_or_reply(c, flags, q) == OK ? base : -1;
}

static void reply_points(client *c, const geo_query *q, geo_point *v, size_t n) {
    int extra = q->withdist + q->withhash + q->withcoord;
    reply_array(c, (long)n);
    for (size_t i = 0; i < n; i++) {
        geo_point *p = &v[i];
        if (extra) reply_array(c, extra + 1);
        reply_bulk(c, p->m, p->len);
        if (q->withdist) reply_distance(c, p->dist / q->shape.conversion);
        if (q->withhash) reply_int(c, (long long)p->score);
        if (q->withcoord) {
            reply_array(c, 2);
            reply_coord(c, p->lon);
            reply_coord(c, p->lat);
        }
    }
}

static void store_points(client *c, int flags, const geo_query *q, geo_point *v, size_t n) {
    const resp_arg *dst = q->store;
    if (!n) {
        zset_store_empty(c, dst);
        reply_int(c, 0);
        return;
    }
    zref *refs = xmalloc(n * sizeof(zref));
    for (size_t i = 0; i < n; i++) {
        refs[i].m = v[i].m;
        refs[i].len = v[i].len;
        refs[i].score = q->storedist ? v[i].dist / q->shape.conversion : v[i].score;
    }
    qsort(refs, n, sizeof(zref), by_score_member);
    kobj *val = zset_build(dst, refs, n); /* copies the members before the source may go */
    xfree(refs);
    zset_store_value(c, dst, val);
    notify_keyspace_event(NOTIFY_ZSET, (flags & GEO_SEARCH) ? "geosearchstore" : "georadiusstore",
                          dst->p, dst->len, c->db->id);
    server_add_dirty((long long)n);
    reply_int(c, (long long)n);
}

static void georadius_generic(client *c, int src, int flags) {
    int err;
    kobj *o = lookup_read_or_reply(c, &c->argv[src], OBJ_ZSET, &err);
    if (err) return;
    geo_query q;
    memset(&q, 0, sizeof(q));
    if (parse_query_or_reply(c, flags, o, &q) < 0) return;
    if (!o) {
        if (q.store)
            store_points(c, flags, &q, NULL, 0);
        else
            reply_empty_array(c);
        return;
    }
    /* the nearest COUNT need sorting (unless ANY asked for any COUNT) */
    if (q.count && q.sort == SORT_NONE && !q.any) q.sort = SORT_ASC;
    geo_points pts = {NULL, 0, 0};
    scan_cells(o, &q.shape, &pts, q.any ? (size_t)q.count : 0);
    if (!pts.n && !q.store) {
        reply_empty_array(c);
        return;
    }
    size_t n = (q.count == 0 || pts.n < (size_t)q.count) ? pts.n : (size_t)q.count;
    /* all of them: the C library's sort (a stable merge sort in glibc, as
     * Redis's build uses); the nearest n only: Redis's partial quicksort */
    if (q.sort != SORT_NONE && pts.n > 1 && n == pts.n)
        qsort(pts.v, pts.n, sizeof(geo_point), q.sort == SORT_ASC ? by_dist_asc : by_dist_desc);
    else if (q.sort != SORT_NONE && pts.n > 1)
        partial_sort(pts.v, pts.n, 0, n - 1, q.sort == SORT_ASC ? point_asc : point_desc);
    if (q.store)
        store_points(c, flags, &q, pts.v, n);
    else
        reply_points(c, &q, pts.v, n);
    xfree(pts.v);
}

void georadius_command(client *c) {
    georadius_generic(c, 1, GEO_FROM_COORDS);
}
void georadius_ro_command(client *c) {
    georadius_generic(c, 1, GEO_FROM_COORDS | GEO_NO_STORE);
}
void georadiusbymember_command(client *c) {
    georadius_generic(c, 1, GEO_FROM_MEMBER);
}
void georadiusbymember_ro_command(client *c) {
    georadius_generic(c, 1, GEO_FROM_MEMBER | GEO_NO_STORE);
}
void geosearch_command(client *c) {
    georadius_generic(c, 1, GEO_SEARCH);
}
void geosearchstore_command(client *c) {
    georadius_generic(c, 2, GEO_SEARCH | GEO_SEARCH_STORE);
}

/* Keys of GEORADIUS and GEORADIUSBYMEMBER as Redis's key specs find them: the
 * source, then the key after the first STORE and the key after the first
 * STOREDIST among the options (from argv[6], argv[5] for BYMEMBER). */
static int keyword_key(int argc, const resp_arg *argv, int from, const char *kw) {
    for (int i = from; i + 1 < argc; i++)
        if (arg_is(&argv[i], kw)) return i + 1;
    return -1;
}

int getkeys_georadius(const command *cmd, int argc, const resp_arg *argv, int *keys, int max) {
    if (max < 3 || argc < 2) return 0;
    int from = strcmp(cmd->name, "georadius") == 0 ? 6 : 5, n = 0;
    keys[n++] = 1;
    int store = keyword_key(argc, argv, from, "store");
    int dist = keyword_key(argc, argv, from, "storedist");
    if (store > 0) keys[n++] = store;
    if (dist > 0) keys[n++] = dist;
    return n;
}
