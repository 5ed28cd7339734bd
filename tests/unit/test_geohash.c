/* Unit tests of kv/geohash: scores, positions, geohash strings and distances
 * against values taken from Redis 7.0 (redis-server's GEOADD, GEOPOS,
 * GEOHASH and GEODIST for the same coordinates), the neighbour arithmetic,
 * search cells and the text formats. */
#include "kv/geohash.h"
#include "test.h"
#include <math.h>
#include <stdio.h>

static uint64_t score_of(double lon, double lat) {
    geo_hash h;
    if (!geohash_encode_wgs84(lon, lat, GEO_STEP_MAX, &h)) return 0;
    return geohash_align52(h);
}

static const char *coord(double d) {
    static char buf[4][400];
    static int k;
    char *b = buf[k++ & 3];
    geohash_format_coord(b, d);
    return b;
}

TEST(scores_match_redis) {
    CHECK(score_of(13.361389, 38.115556) == 3479099956230698ULL);
    CHECK(score_of(15.087269, 37.502669) == 3479447370796909ULL);
    CHECK(score_of(-180, -85.05112878) == 0);
    CHECK(score_of(0, 0) == 3377699720527872ULL);
    /* the very top corner is one past the last cell, as Redis stores it */
    CHECK(score_of(180, 85.05112878) == 13510798882111488ULL);
    geo_hash h;
    CHECK(!geohash_encode_wgs84(180.0001, 0, 26, &h));
    CHECK(!geohash_encode_wgs84(0, 85.06, 26, &h));
    CHECK(!geohash_encode_wgs84(0, 0, 0, &h));
}

TEST(positions_match_redis) {
    double xy[2];
    CHECK(geohash_decode_score(3479099956230698.0, xy));
    CHECK_STR(coord(xy[0]), "13.36138933897018433");
    CHECK_STR(coord(xy[1]), "38.11555639549629859");
    CHECK(geohash_decode_score(0, xy));
    CHECK_STR(coord(xy[0]), "-179.99999731779098511");
    CHECK_STR(coord(xy[1]), "-85.05112751263942528");
    CHECK(geohash_decode_score(13510798882111488.0, xy));
    CHECK_STR(coord(xy[0]), "180");
    CHECK_STR(coord(xy[1]), "85.0511287799999991");
    CHECK(geohash_decode_score(3377699720527872.0, xy));
    CHECK_STR(coord(xy[0]), "0.00000268220901489");
    CHECK_STR(coord(xy[1]), "0.00000126736058093");
}

TEST(geohash_strings_match_redis) {
    char s[12];
    CHECK(geohash_score_to_string(3479099956230698.0, s));
    CHECK_STR(s, "sqc8b49rny0");
    CHECK(geohash_score_to_string(0, s));
    CHECK_STR(s, "00bh0hbj200");
    CHECK(geohash_score_to_string(13510798882111488.0, s));
    CHECK_STR(s, "bp05b5048p0");
    CHECK(geohash_score_to_string(3377699720527872.0, s));
    CHECK_STR(s, "s0000000000");
}

TEST(distances_match_redis) {
    char buf[32];
    double a[2], b[2];
    geohash_decode_score(3479099956230698.0, a);
    geohash_decode_score(3479447370796909.0, b);
    geohash_format_distance(buf, geohash_distance(a[0], a[1], b[0], b[1]));
    CHECK_STR(buf, "166274.1516");
    geohash_decode_score(0, a);
    geohash_decode_score(13510798882111488.0, b);
    geohash_format_distance(buf, geohash_distance(a[0], a[1], b[0], b[1]) / 1609.34);
    CHECK_STR(buf, "11756.2756");
    /* same meridian: the latitude difference alone */
    CHECK(geohash_distance(10, 1, 10, 2) == geohash_lat_distance(1, 2));
    CHECK(geohash_distance(10, 1, 10, 1) == 0);
}

TEST(text_formats) {
    char buf[400];
    CHECK_EQ(geohash_format_distance(buf, 0), 6);
    CHECK_STR(buf, "0.0000");
    geohash_format_distance(buf, 0.00005); /* half to even: 0 */
    CHECK_STR(buf, "0.0000");
    geohash_format_distance(buf, 1.23456);
    CHECK_STR(buf, "1.2346");
    geohash_format_distance(buf, 12.3);
    CHECK_STR(buf, "12.3000");
    geohash_format_distance(buf, -1.5);
    CHECK_STR(buf, "-1.5000");
    CHECK_STR(coord(-0.0), "0");
    CHECK_STR(coord(-180), "-180");
    CHECK_STR(coord(0.5), "0.5");
}

TEST(neighbors_wrap_within_step) {
    geo_hash h = {.bits = 0, .step = 2}, n[8];
    geohash_neighbors(&h, n);
    /* from cell (lon 0, lat 0) of a 4x4 grid: north is lat 1, west wraps to lon 3 */
    CHECK(n[0].bits == 0x1); /* north: latitude bit 0 */
    CHECK(n[1].bits == 0x5); /* south: latitude 3 */
    CHECK(n[2].bits == 0x2); /* east: longitude 1 */
    CHECK(n[3].bits == 0xa); /* west: longitude 3 */
    for (int i = 0; i < 8; i++) CHECK(n[i].step == 2);
}

TEST(search_cells_cover_the_shape) {
    geo_shape s = {
        .type = GEO_SHAPE_CIRCLE, .xy = {13.361389, 38.115556}, .conversion = 1000, .radius = 200};
    geo_hash cells[9];
    geohash_search_boxes(&s, cells);
    CHECK(cells[0].step >= 1 && cells[0].step <= 26);
    CHECK(s.bounds[0] < 13.361389 && s.bounds[2] > 13.361389);
    CHECK(s.bounds[1] < 38.115556 && s.bounds[3] > 38.115556);
    /* Catania (166 km away) is inside, and its score is in one of the cells */
    double xy[2], dist;
    double catania = 3479447370796909.0;
    CHECK(geohash_shape_contains(&s, catania, xy, &dist));
    CHECK(fabs(dist - 166274.15) < 1);
    int found = 0;
    for (int i = 0; i < 9; i++) {
        if (!cells[i].bits && !cells[i].step) continue;
        geo_hash next = cells[i];
        next.bits++;
        if (catania >= (double)geohash_align52(cells[i]) && catania < (double)geohash_align52(next))
            found = 1;
    }
    CHECK(found);
    s.radius = 100;
    CHECK(!geohash_shape_contains(&s, catania, xy, &dist));
    geo_shape box = {.type = GEO_SHAPE_BOX,
                     .xy = {13.361389, 38.115556},
                     .conversion = 1000,
                     .width = 400,
                     .height = 400};
    CHECK(geohash_shape_contains(&box, catania, xy, &dist));
    box.height = 100; /* Catania is ~68 km south */
    CHECK(!geohash_shape_contains(&box, catania, xy, &dist));
}

/* A small deterministic generator for the property test below. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static double rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) / (double)(1ULL << 53);
}
static double rnd_in(double lo, double hi) {
    return lo + (hi - lo) * rnd();
}

/* The point at angular distance d (radians) and bearing t from (lon, lat). */
static void destination(double lon, double lat, double d, double t, double *olon, double *olat) {
    double p1 = lat * M_PI / 180, l1 = lon * M_PI / 180;
    double p2 = asin(sin(p1) * cos(d) + cos(p1) * sin(d) * cos(t));
    double l2 = l1 + atan2(sin(t) * sin(d) * cos(p1), cos(d) - sin(p1) * sin(p2));
    *olat = p2 * 180 / M_PI;
    *olon = remainder(l2 * 180 / M_PI, 360.0);
}

/* The cheap cell test never turns away a point the exact test takes: random
 * circles and boxes (near the poles and the antimeridian too, radii from
 * centimetres to half the globe), with points on and around their edges, the
 * antipode and anywhere. */
TEST(prefilter_never_drops_a_match) {
    static const double units[] = {1, 1000, 0.3048, 1609.34};
    long inside = 0, dropped = 0, wrong = 0;
    for (int trial = 0; trial < 4000; trial++) {
        geo_shape s = {.type = rnd() < 0.5 ? GEO_SHAPE_CIRCLE : GEO_SHAPE_BOX};
        int where = trial % 4;
        s.xy[0] = where == 1 ? rnd_in(170, 180) * (rnd() < 0.5 ? -1 : 1) : rnd_in(-180, 180);
        s.xy[1] = where == 2 ? rnd_in(75, 85) * (rnd() < 0.5 ? -1 : 1) : rnd_in(-85, 85);
        s.conversion = units[trial % 4];
        double metres = exp(rnd_in(log(0.01), log(2e7)));
        s.radius = metres / s.conversion;
        s.width = s.radius * rnd_in(0.2, 2.5);
        s.height = s.radius * rnd_in(0.2, 2.5);
        geo_hash cells[9];
        geohash_search_boxes(&s, cells);
        double reach =
            (s.type == GEO_SHAPE_CIRCLE ? metres : hypot(s.width, s.height) / 2 * s.conversion) /
            6372797.560856;
        for (int i = 0; i < 60; i++) {
            double lon, lat;
            if (i == 0) {
                lon = remainder(s.xy[0] + 180, 360.0);
                lat = -s.xy[1];
            } else if (i < 5) {
                lon = rnd_in(-180, 180);
                lat = rnd_in(-85, 85);
            } else {
                double d = i < 30 ? reach * rnd_in(0.999999, 1.000001) : reach * rnd_in(0, 1.5);
                destination(s.xy[0], s.xy[1], d, rnd_in(0, 2 * M_PI), &lon, &lat);
            }
            geo_hash h;
            if (!geohash_encode_wgs84(lon, lat, GEO_STEP_MAX, &h)) continue;
            double score = (double)geohash_align52(h), xy[2], dist;
            int in = geohash_shape_contains(&s, score, xy, &dist);
            int may = geohash_shape_may_contain(&s, score);
            inside += in;
            dropped += !may;
            if (in && !may) {
                wrong++;
                fprintf(stderr,
                        "dropped: type %d centre %.9f,%.9f r %.9g w %.9g h %.9g point %.9f,%.9f\n",
                        s.type, s.xy[0], s.xy[1], s.radius * s.conversion, s.width, s.height, lon,
                        lat);
            }
        }
    }
    CHECK(wrong == 0);
    CHECK(inside > 10000);  /* the edges were exercised... */
    CHECK(dropped > 10000); /* ...and the filter did turn points away */
    printf("  prefilter: %ld inside, %ld turned away\n", inside, dropped);
}

int main(void) {
    RUN(scores_match_redis);
    RUN(positions_match_redis);
    RUN(geohash_strings_match_redis);
    RUN(distances_match_redis);
    RUN(text_formats);
    RUN(neighbors_wrap_within_step);
    RUN(search_cells_cover_the_shape);
    RUN(prefilter_never_drops_a_match);
    return test_report();
}
