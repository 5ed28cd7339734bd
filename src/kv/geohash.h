/* kv/geohash — the arithmetic behind the GEO commands, as Redis 7.0 does it,
 * so that scores, positions and distances agree with Redis to the last digit.
 *
 * A position is stored as the score of a sorted set member: a 52-bit
 * interleaved geohash (26 steps of longitude and latitude halving), with
 * longitude bits in the odd positions and latitude bits in the even ones:
 *
 *   bit  51  50  49  48 ...  1   0
 *       lon lat lon lat ... lon lat      (most significant halving first)
 *
 * Latitudes are limited to the Web Mercator range (±85.05112878), so the
 * latitude cell of a score is not the standard geohash one; GEOHASH's
 * 11-character strings re-encode the decoded position over ±90.
 *
 * Invariants:
 *  1. Every function is pure (no global state) and uses only double
 *     arithmetic in the order the comments give: a changed order changes the
 *     last bits of a distance, and with them Redis's printed digits.
 *  2. A geo_hash with bits == 0 and step == 0 is "none" (a search box that
 *     was left out); no real hash has step 0. */
#ifndef LARDER_KV_GEOHASH_H
#define LARDER_KV_GEOHASH_H
#include <stdint.h>

#define GEO_STEP_MAX 26 /* 52 bits */
#define GEO_LAT_MIN -85.05112878
#define GEO_LAT_MAX 85.05112878
#define GEO_LON_MIN -180.0
#define GEO_LON_MAX 180.0

typedef struct geo_hash {
    uint64_t bits;
    uint8_t step;
} geo_hash;

typedef struct geo_range {
    double min, max;
} geo_range;

typedef struct geo_area {
    geo_hash hash;
    geo_range lon, lat;
} geo_area;

/* Encodes (lon, lat) over the given ranges with `step` halvings (1..32).
 * 0 when out of range (the Mercator limits always apply) or step invalid. */
int geohash_encode(const geo_range *lon_r, const geo_range *lat_r, double lon, double lat, int step,
                   geo_hash *out);
/* The same over the Mercator ranges (what GEOADD stores). */
int geohash_encode_wgs84(double lon, double lat, int step, geo_hash *out);
/* The cell a hash names; 0 for the "none" hash. */
int geohash_decode(const geo_range *lon_r, const geo_range *lat_r, geo_hash h, geo_area *area);
int geohash_decode_wgs84(geo_hash h, geo_area *area);
/* The 52-bit sorted-set score of a hash (shifted left to 52 bits). */
uint64_t geohash_align52(geo_hash h);
/* A stored score back to its position: xy[0] longitude, xy[1] latitude (the
 * centre of its cell, clamped to the limits). 0 when it cannot be decoded. */
int geohash_decode_score(double score, double xy[2]);
/* GEOHASH's 11-character standard geohash of a stored score (NUL-terminated
 * in out[12]); 0 when the score does not decode. */
int geohash_score_to_string(double score, char out[12]);

/* The eight neighbouring cells of the same step, in the order
 * north, south, east, west, north-east, north-west, south-east, south-west. */
void geohash_neighbors(const geo_hash *h, geo_hash out[8]);

/* Great-circle distance in metres (haversine, Earth radius 6372797.560856). */
double geohash_distance(double lon1, double lat1, double lon2, double lat2);
/* Metres between two latitudes along a meridian. */
double geohash_lat_distance(double lat1, double lat2);

/* A search area: a circle of `radius` or a box of width x height (both in the
 * unit whose metres are `conversion`) around xy = (lon, lat). */
enum { GEO_SHAPE_CIRCLE = 1, GEO_SHAPE_BOX = 2 };
typedef struct geo_shape {
    int type;
    double xy[2];
    double conversion; /* metres per unit: 1, 1000, 0.3048, 1609.34 */
    double radius;
    double width, height;
    double bounds[4]; /* min lon, min lat, max lon, max lat (set by geohash_search_boxes) */
    /* set by geohash_search_boxes for geohash_shape_may_contain: the 26-step
     * cell numbers a point inside can have (min lon, min lat, max lon, max
     * lat), and the latitude cells near the centre's antipode (min, max),
     * each spread over its coordinate's bits of a score (longitude odd,
     * latitude even), where they compare as the plain numbers do */
    uint64_t cells[4], antipode[2];
    double cos_lat; /* cosine of the centre's latitude in radians, when `prepared` */
    int prepared;
} geo_shape;

/* The cells to scan for a search, in the order Redis scans them (centre,
 * then the neighbours in geohash_neighbors' order); a cell left out is the
 * "none" hash. Fills shape->bounds. */
void geohash_search_boxes(geo_shape *shape, geo_hash boxes[9]);
/* A cheap first test on a stored score's cell numbers, with no floating
 * point: 0 only when geohash_shape_contains would surely say no (the cell
 * lies outside the shape's latitude band or longitude span, widened by a
 * margin far above the rounding of the distance formulas), so that the
 * exact test runs only for the points near the shape. */
static inline int geohash_shape_may_contain(const geo_shape *s, double score) {
    uint64_t bits = (uint64_t)score;
    uint64_t lat = bits & 0x5555555555555555ULL, lon = bits & 0xaaaaaaaaaaaaaaaaULL;
    if (lat >= s->cells[1] && lat <= s->cells[3] && lon >= s->cells[0] && lon <= s->cells[2])
        return 1;
    return lat >= s->antipode[0] && lat <= s->antipode[1];
}
/* Is the point of a stored score inside the shape? Then 1, with its position
 * in xy and its distance from the centre in metres. */
int geohash_shape_contains(const geo_shape *shape, double score, double xy[2], double *dist);

/* Redis's text of a distance: exactly four decimals, rounded half to even
 * ("1.2346"). Returns the length; buf holds at least 32 bytes. */
int geohash_format_distance(char *buf, double d);
/* Redis's text of a coordinate: "%.17f" with trailing zeros (and a bare
 * '.') removed, "-0" written "0". Returns the length; buf >= 400 bytes. */
int geohash_format_coord(char *buf, double d);
#endif
