/* kv/geohash — see geohash.h. The formulas follow Redis 7.0's documented
 * behaviour (geohash cells over the Mercator latitude range, haversine with
 * the Earth's quadratic mean radius, nine-cell searches); the operation
 * order inside each formula is kept as Redis evaluates it, because the
 * printed distances are compared digit for digit. */
#include "kv/geohash.h"
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define EARTH_RADIUS_M 6372797.560856
#define MERCATOR_MAX 20037726.37
#define DEG_TO_RAD (M_PI / 180.0)

static const geo_range lon_wgs84 = {GEO_LON_MIN, GEO_LON_MAX};
static const geo_range lat_wgs84 = {GEO_LAT_MIN, GEO_LAT_MAX};

static double deg_to_rad(double deg) {
    return deg * DEG_TO_RAD;
}
static double rad_to_deg(double rad) {
    return rad / DEG_TO_RAD;
}

/* ---- bit interleaving ------------------------------------------------------------ */

/* Spreads the 32 bits of v over the even bit positions of a 64-bit word. */
static uint64_t spread32(uint32_t v) {
    uint64_t x = v;
    x = (x | (x << 16)) & 0x0000FFFF0000FFFFULL;
    x = (x | (x << 8)) & 0x00FF00FF00FF00FFULL;
    x = (x | (x << 4)) & 0x0F0F0F0F0F0F0F0FULL;
    x = (x | (x << 2)) & 0x3333333333333333ULL;
    x = (x | (x << 1)) & 0x5555555555555555ULL;
    return x;
}

/* The inverse: the even bits of x gathered into 32 bits. */
static uint32_t gather32(uint64_t x) {
    x &= 0x5555555555555555ULL;
    x = (x | (x >> 1)) & 0x3333333333333333ULL;
    x = (x | (x >> 2)) & 0x0F0F0F0F0F0F0F0FULL;
    x = (x | (x >> 4)) & 0x00FF00FF00FF00FFULL;
    x = (x | (x >> 8)) & 0x0000FFFF0000FFFFULL;
    x = (x | (x >> 16)) & 0x00000000FFFFFFFFULL;
    return (uint32_t)x;
}

/* ---- encode / decode ------------------------------------------------------------- */

int geohash_encode(const geo_range *lon_r, const geo_range *lat_r, double lon, double lat, int step,
                   geo_hash *out) {
    if (step <= 0 || step > 32) return 0;
    if (lon > GEO_LON_MAX || lon < GEO_LON_MIN || lat > GEO_LAT_MAX || lat < GEO_LAT_MIN) return 0;
    out->bits = 0;
    out->step = (uint8_t)step;
    if (lat < lat_r->min || lat > lat_r->max || lon < lon_r->min || lon > lon_r->max) return 0;
    double lat_off = (lat - lat_r->min) / (lat_r->max - lat_r->min);
    double lon_off = (lon - lon_r->min) / (lon_r->max - lon_r->min);
    lat_off *= (double)(1ULL << step);
    lon_off *= (double)(1ULL << step);
    /* the fixed-point cell numbers, truncated; at the very top of a range
     * this is 2^step, one past the last cell, as Redis stores it */
    uint32_t ilat = (uint32_t)lat_off, ilon = (uint32_t)lon_off;
    out->bits = spread32(ilat) | (spread32(ilon) << 1);
    return 1;
}

int geohash_encode_wgs84(double lon, double lat, int step, geo_hash *out) {
    return geohash_encode(&lon_wgs84, &lat_wgs84, lon, lat, step, out);
}

int geohash_decode(const geo_range *lon_r, const geo_range *lat_r, geo_hash h, geo_area *area) {
    if (!h.bits && !h.step) return 0;
    area->hash = h;
    uint32_t ilat = gather32(h.bits), ilon = gather32(h.bits >> 1);
    double lat_scale = lat_r->max - lat_r->min, lon_scale = lon_r->max - lon_r->min;
    double cells = (double)(1ULL << h.step);
    /* (ilat + 1) wraps in 32 bits for a garbage score, as Redis's does */
    area->lat.min = lat_r->min + (ilat * 1.0 / cells) * lat_scale;
    area->lat.max = lat_r->min + ((uint32_t)(ilat + 1) * 1.0 / cells) * lat_scale;
    area->lon.min = lon_r->min + (ilon * 1.0 / cells) * lon_scale;
    area->lon.max = lon_r->min + ((uint32_t)(ilon + 1) * 1.0 / cells) * lon_scale;
    return 1;
}

int geohash_decode_wgs84(geo_hash h, geo_area *area) {
    return geohash_decode(&lon_wgs84, &lat_wgs84, h, area);
}

uint64_t geohash_align52(geo_hash h) {
    return h.bits << (52 - h.step * 2);
}

int geohash_decode_score(double score, double xy[2]) {
    geo_hash h = {.bits = (uint64_t)score, .step = GEO_STEP_MAX};
    geo_area a;
    if (!geohash_decode_wgs84(h, &a)) return 0;
    xy[0] = (a.lon.min + a.lon.max) / 2;
    if (xy[0] > GEO_LON_MAX) xy[0] = GEO_LON_MAX;
    if (xy[0] < GEO_LON_MIN) xy[0] = GEO_LON_MIN;
    xy[1] = (a.lat.min + a.lat.max) / 2;
    if (xy[1] > GEO_LAT_MAX) xy[1] = GEO_LAT_MAX;
    if (xy[1] < GEO_LAT_MIN) xy[1] = GEO_LAT_MIN;
    return 1;
}

int geohash_score_to_string(double score, char out[12]) {
    static const char alphabet[] = "0123456789bcdefghjkmnpqrstuvwxyz";
    double xy[2];
    if (!geohash_decode_score(score, xy)) return 0;
    geo_range lon_r = {-180, 180}, lat_r = {-90, 90};
    geo_hash h = {0, 0};
    geohash_encode(&lon_r, &lat_r, xy[0], xy[1], 26, &h);
    /* 52 bits make ten 5-bit characters; the eleventh is always '0' */
    for (int i = 0; i < 11; i++) {
        int idx = i == 10 ? 0 : (int)((h.bits >> (52 - (i + 1) * 5)) & 0x1f);
        out[i] = alphabet[idx];
    }
    out[11] = '\0';
    return 1;
}

/* ---- neighbours ------------------------------------------------------------------- */

/* Moves a hash one cell along longitude (odd bits) or latitude (even bits),
 * wrapping around within its step. */
static void move_cell(geo_hash *h, int d, int along_lon) {
    if (d == 0) return;
    const uint64_t odd = 0xaaaaaaaaaaaaaaaaULL, even = 0x5555555555555555ULL;
    uint64_t mine = along_lon ? odd : even, other = along_lon ? even : odd;
    uint64_t v = h->bits & mine, rest = h->bits & other;
    unsigned shift = 64 - h->step * 2;
    uint64_t fill = other >> shift; /* ones in the other coordinate's bits */
    if (d > 0) {
        v = v + (fill + 1);
    } else {
        v = v | fill;
        v = v - (fill + 1);
    }
    v &= mine >> shift;
    h->bits = v | rest;
}

void geohash_neighbors(const geo_hash *h, geo_hash out[8]) {
    static const int dirs[8][2] = {{0, 1}, {0, -1}, {1, 0},  {-1, 0},
                                   {1, 1}, {-1, 1}, {1, -1}, {-1, -1}};
    for (int i = 0; i < 8; i++) {
        out[i] = *h;
        move_cell(&out[i], dirs[i][0], 1);
        move_cell(&out[i], dirs[i][1], 0);
    }
}

/* ---- distances -------------------------------------------------------------------- */

double geohash_lat_distance(double lat1, double lat2) {
    return EARTH_RADIUS_M * fabs(deg_to_rad(lat2) - deg_to_rad(lat1));
}

/* The haversine, with cos1 the cosine of lat1 in radians (NAN: computed here);
 * the same operations in the same order either way. */
static double distance_cos1(double lon1, double lat1, double lon2, double lat2, double cos1) {
    double lon1r = deg_to_rad(lon1), lon2r = deg_to_rad(lon2);
    double v = sin((lon2r - lon1r) / 2);
    /* same meridian: the haversine reduces to the latitude difference */
    if (v == 0.0) return geohash_lat_distance(lat1, lat2);
    double lat1r = deg_to_rad(lat1), lat2r = deg_to_rad(lat2);
    double u = sin((lat2r - lat1r) / 2);
    if (isnan(cos1)) cos1 = cos(lat1r);
    double a = u * u + cos1 * cos(lat2r) * v * v;
    return 2.0 * EARTH_RADIUS_M * asin(sqrt(a));
}

double geohash_distance(double lon1, double lat1, double lon2, double lat2) {
    return distance_cos1(lon1, lat1, lon2, lat2, NAN);
}

/* ---- searches --------------------------------------------------------------------- */

/* The step whose cells are about the size of the search radius. */
static int steps_for_radius(double meters, double lat) {
    if (meters == 0) return 26;
    int step = 1;
    while (meters < MERCATOR_MAX) {
        meters *= 2;
        step++;
    }
    step -= 2; /* so that the radius fits the base cases */
    /* meridians converge towards the poles: wider cells there */
    if (lat > 66 || lat < -66) {
        step--;
        if (lat > 80 || lat < -80) step--;
    }
    if (step < 1) step = 1;
    if (step > 26) step = 26;
    return step;
}

/* The shape's bounding box in degrees. A box's edges bend with latitude, so
 * the longitude spread is taken at the edge nearer to the pole. */
static void bounding_box(const geo_shape *s, double b[4]) {
    double lon = s->xy[0], lat = s->xy[1];
    double height = s->conversion * (s->type == GEO_SHAPE_CIRCLE ? s->radius : s->height / 2);
    double width = s->conversion * (s->type == GEO_SHAPE_CIRCLE ? s->radius : s->width / 2);
    double lat_delta = rad_to_deg(height / EARTH_RADIUS_M);
    double lon_delta_top = rad_to_deg(width / EARTH_RADIUS_M / cos(deg_to_rad(lat + lat_delta)));
    double lon_delta_bottom = rad_to_deg(width / EARTH_RADIUS_M / cos(deg_to_rad(lat - lat_delta)));
    int south = lat < 0;
    b[0] = south ? lon - lon_delta_bottom : lon - lon_delta_top;
    b[2] = south ? lon + lon_delta_bottom : lon + lon_delta_top;
    b[1] = lat - lat_delta;
    b[3] = lat + lat_delta;
}

/* The cell number (of 2^26 over the range) of a coordinate, for a bound of
 * the prefilter: two cells beyond the one holding it, outwards (`dir` -1 for
 * a lower bound, +1 for an upper one), clamped to the numbers that exist. */
static uint64_t bound_cell(double deg, const geo_range *r, int dir) {
    double c = floor((deg - r->min) / (r->max - r->min) * (double)(1 << GEO_STEP_MAX)) + 2 * dir;
    if (!(c > 0)) return 0; /* NaN too: nothing is left out */
    if (c >= (double)UINT32_MAX) return spread32(UINT32_MAX);
    return spread32((uint32_t)c);
}

/* Fills shape->cells. A point at angular distance d from the centre differs
 * from it by at most d in latitude; on a sphere a cap of angular radius d
 * around latitude phi spans asin(sin d / cos phi) of longitude, when it
 * reaches no pole. A box takes the latitude band of its height; its width is
 * measured along the point's own parallel, whose cosine is smallest at the
 * band's edge nearer a pole. The angles are widened by 1e-9 of themselves
 * (the formulas round at about 1e-16) and every bound by two cells; a span
 * that crosses the antimeridian (where the haversine wraps) or comes near a
 * pole, or an angle too large for these bounds, leaves that coordinate
 * unfiltered. Near the antipode of a circle's centre the haversine's sine
 * squared can round above 1, and its NaN distance counts as inside: points
 * within 1e-5 radians of the antipode's latitude always get the exact test. */
static void prefilter_cells(geo_shape *s) {
    double lon = s->xy[0], lat = s->xy[1];
    uint64_t *c = s->cells;
    c[0] = c[1] = 0;
    c[2] = c[3] = ~0ULL;
    int circle = s->type == GEO_SHAPE_CIRCLE;
    s->antipode[0] = 1;
    s->antipode[1] = 0; /* empty */
    if (circle) {
        double band = rad_to_deg(1e-5);
        s->antipode[0] = bound_cell(-lat - band, &lat_wgs84, -1);
        s->antipode[1] = bound_cell(-lat + band, &lat_wgs84, 1);
    }
    double half_h = circle ? s->radius : s->height / 2;
    double half_w = circle ? s->radius : s->width / 2;
    double dlat = half_h * s->conversion / EARTH_RADIUS_M;
    dlat = dlat * (1 + 1e-9) + 1e-12;
    if (!(dlat < 1.0)) return; /* a third of the globe or more (or NaN) */
    double dlat_deg = rad_to_deg(dlat);
    c[1] = bound_cell(lat - dlat_deg, &lat_wgs84, -1);
    c[3] = bound_cell(lat + dlat_deg, &lat_wgs84, 1);
    double polar = fabs(lat) + dlat_deg;
    if (polar > 80.0) return;
    double q;
    if (circle) {
        q = sin(dlat) / cos(deg_to_rad(lat)); /* dlat here bounds the angular radius */
    } else {
        double w = half_w * s->conversion / EARTH_RADIUS_M / 2;
        if (!(w < 1.0)) return;
        q = sin(w * (1 + 1e-9) + 1e-12) / cos(deg_to_rad(polar));
    }
    if (!(q < 0.9)) return;
    /* circle: the span is asin(q); box: sin(span/2) <= q */
    double dlon = circle ? asin(q) : 2 * asin(q);
    double dlon_deg = rad_to_deg(dlon * (1 + 1e-9) + 1e-12);
    if (lon - dlon_deg <= GEO_LON_MIN || lon + dlon_deg >= GEO_LON_MAX) return;
    c[0] = bound_cell(lon - dlon_deg, &lon_wgs84, -1) << 1;
    c[2] = bound_cell(lon + dlon_deg, &lon_wgs84, 1) << 1;
}

enum { N_NORTH, N_SOUTH, N_EAST, N_WEST, N_NE, N_NW, N_SE, N_SW };

void geohash_search_boxes(geo_shape *s, geo_hash boxes[9]) {
    bounding_box(s, s->bounds);
    prefilter_cells(s);
    s->cos_lat = cos(deg_to_rad(s->xy[1])); /* the same for every distance from the centre */
    s->prepared = 1;
    double min_lon = s->bounds[0], min_lat = s->bounds[1];
    double max_lon = s->bounds[2], max_lat = s->bounds[3];
    double lon = s->xy[0], lat = s->xy[1];
    /* a box is searched as the circle through its corners */
    double radius = s->type == GEO_SHAPE_CIRCLE
                        ? s->radius
                        : sqrt((s->width / 2) * (s->width / 2) + (s->height / 2) * (s->height / 2));
    radius *= s->conversion;
    int steps = steps_for_radius(radius, lat);

    geo_hash h, nb[8];
    geo_area area;
    geohash_encode_wgs84(lon, lat, steps, &h);
    geohash_neighbors(&h, nb);
    geohash_decode_wgs84(h, &area);

    /* near a cell's edge the estimated step may leave part of the area out
     * of the nine cells: then one step coarser */
    geo_area north, south, east, west;
    geohash_decode_wgs84(nb[N_NORTH], &north);
    geohash_decode_wgs84(nb[N_SOUTH], &south);
    geohash_decode_wgs84(nb[N_EAST], &east);
    geohash_decode_wgs84(nb[N_WEST], &west);
    int coarser = north.lat.max < max_lat || south.lat.min > min_lat || east.lon.max < max_lon ||
                  west.lon.min > min_lon;
    if (steps > 1 && coarser) {
        steps--;
        geohash_encode_wgs84(lon, lat, steps, &h);
        geohash_neighbors(&h, nb);
        geohash_decode_wgs84(h, &area);
    }

    /* leave out the neighbours that the area cannot reach */
    if (steps >= 2) {
        static const geo_hash none = {0, 0};
        if (area.lat.min < min_lat) nb[N_SOUTH] = nb[N_SW] = nb[N_SE] = none;
        if (area.lat.max > max_lat) nb[N_NORTH] = nb[N_NE] = nb[N_NW] = none;
        if (area.lon.min < min_lon) nb[N_WEST] = nb[N_SW] = nb[N_NW] = none;
        if (area.lon.max > max_lon) nb[N_EAST] = nb[N_SE] = nb[N_NE] = none;
    }
    boxes[0] = h;
    for (int i = 0; i < 8; i++) boxes[i + 1] = nb[i];
}

int geohash_shape_contains(const geo_shape *s, double score, double xy[2], double *dist) {
    if (!geohash_decode_score(score, xy)) return 0;
    double cos1 = s->prepared ? s->cos_lat : NAN;
    if (s->type == GEO_SHAPE_CIRCLE) {
        *dist = distance_cos1(s->xy[0], s->xy[1], xy[0], xy[1], cos1);
        return !(*dist > s->radius * s->conversion); /* a NaN distance is inside */
    }
    double width = s->width * s->conversion, height = s->height * s->conversion;
    /* the cheaper latitude test first */
    if (geohash_lat_distance(xy[1], s->xy[1]) > height / 2) return 0;
    if (geohash_distance(xy[0], xy[1], s->xy[0], xy[1]) > width / 2) return 0;
    *dist = distance_cos1(s->xy[0], s->xy[1], xy[0], xy[1], cos1);
    return 1;
}

/* ---- text ------------------------------------------------------------------------- */

int geohash_format_distance(char *buf, double d) {
    if (d == 0) return snprintf(buf, 32, "0.0000");
    long long v = llrint(d * 10000.0);
    unsigned long long u;
    int n = 0;
    if (v < 0) {
        buf[n++] = '-';
        u = v == LLONG_MIN ? (unsigned long long)LLONG_MAX + 1 : (unsigned long long)-v;
    } else {
        u = (unsigned long long)v;
    }
    return n + snprintf(buf + n, 31, "%llu.%04llu", u / 10000, u % 10000);
}

int geohash_format_coord(char *buf, double d) {
    int n = snprintf(buf, 400, "%.17f", d);
    if (strchr(buf, '.')) {
        while (buf[n - 1] == '0') n--;
        if (buf[n - 1] == '.') n--;
    }
    if (n == 2 && buf[0] == '-' && buf[1] == '0') {
        buf[0] = '0';
        n = 1;
    }
    buf[n] = '\0';
    return n;
}
