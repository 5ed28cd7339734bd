/* The list value outside its commands: DUMP/RESTORE round trips for every
 * node size class and compression depth, RESTORE of damaged payloads (the
 * checksum recomputed so the list's own checks are what is tested), COPY,
 * DEBUG RELOAD, MEMORY USAGE, OBJECT ENCODING, and that CONFIG SET of the
 * list parameters applies to lists created afterwards. Larder only (DUMP's
 * format is Larder's own). */
#include "harness.h"
#include "util/crc64.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static redisReply *cmd(redisContext *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    return r;
}

/* Fills key with n elements of varied sizes (some compressible runs). */
static void fill(redisContext *c, const char *key, int n) {
    char v[300];
    for (int i = 0; i < n; i++) {
        int len = i % 7 == 0 ? 200 : (i % 3 == 0 ? 40 : 5);
        for (int k = 0; k < len; k++) v[k] = (char)('a' + (k * 7 + i) % (i % 5 == 0 ? 2 : 26));
        snprintf(v, 12, "%d", i);
        v[strlen(v)] = '-';
        redisAppendCommand(c, "RPUSH %s %b", key, v, (size_t)len);
    }
    for (int i = 0; i < n; i++) {
        redisReply *r;
        if (redisGetReply(c, (void **)&r) == REDIS_OK) freeReplyObject(r);
    }
}

/* LRANGE 0 -1 of key rendered, caller frees. */
static char *contents(redisContext *c, const char *key) {
    return cmd_str(c, "LRANGE %s 0 -1", key);
}

TEST(dump_restore_every_fill_and_depth) {
    srv s;
    CHECK(srv_start(&s, NULL) == 0);
    redisContext *c = srv_connect(&s);
    static const char *fills[] = {"1", "3", "128", "-1", "-2", "-5"};
    static const char *depths[] = {"0", "1", "3"};
    for (int f = 0; f < 6; f++) {
        for (int d = 0; d < 3; d++) {
            freeReplyObject(cmd(c, "CONFIG SET list-max-listpack-size %s", fills[f]));
            freeReplyObject(cmd(c, "CONFIG SET list-compress-depth %s", depths[d]));
            freeReplyObject(cmd(c, "DEL src dst cp"));
            fill(c, "src", 300);
            char *want = contents(c, "src");
            redisReply *dump = cmd(c, "DUMP src");
            CHECK(dump && dump->type == REDIS_REPLY_STRING);
            if (dump && dump->type == REDIS_REPLY_STRING) {
                CHECK_CMD(c, "+OK", "RESTORE dst 0 %b", dump->str, dump->len);
                char *got = contents(c, "dst");
                CHECK_STR(got, want);
                free(got);
                CHECK_CMD(c, "quicklist", "OBJECT ENCODING dst");
                CHECK_CMD(c, ":300", "LLEN dst");
            }
            freeReplyObject(dump);
            CHECK_CMD(c, ":1", "COPY src cp");
            char *got = contents(c, "cp");
            CHECK_STR(got, want);
            free(got);
            /* the copy is independent */
            CHECK_CMD(c, ":301", "RPUSH cp extra");
            CHECK_CMD(c, ":300", "LLEN src");
            CHECK_CMD(c, "+OK", "DEBUG RELOAD");
            got = contents(c, "src");
            CHECK_STR(got, want);
            free(got);
            CHECK_CMD(c, "extra", "LINDEX cp -1");
            free(want);
        }
    }
    redisFree(c);
    srv_stop(&s);
}

/* Damaged payloads: every byte flipped in turn (and truncations), with the
 * version and checksum trailer made valid again. RESTORE must answer (an
 * error or a well-formed list) and the server must stay up. */
TEST(restore_rejects_damaged_lists) {
    srv s;
    CHECK(srv_start(&s, NULL) == 0);
    redisContext *c = srv_connect(&s);
    freeReplyObject(cmd(c, "CONFIG SET list-max-listpack-size 3"));
    fill(c, "src", 12);
    redisReply *dump = cmd(c, "DUMP src");
    CHECK(dump && dump->type == REDIS_REPLY_STRING && dump->len > 12);
    if (dump && dump->type == REDIS_REPLY_STRING) {
        size_t n = dump->len - 10; /* value bytes; trailer: u16 version + u64 crc */
        char *buf = malloc(dump->len + 16);
        int accepted = 0, rejected = 0;
        for (size_t i = 0; i < n * 2; i++) {
            size_t len = n;
            memcpy(buf, dump->str, n);
            if (i < n)
                buf[i] ^= (char)(1 << (i % 8));
            else
                len = i - n; /* truncated */
            memcpy(buf + len, dump->str + n, 2);
            uint64_t crc = crc64(0, buf, len + 2);
            for (int k = 0; k < 8; k++) buf[len + 2 + k] = (char)(crc >> (8 * k));
            redisReply *r = cmd(c, "RESTORE bad 0 %b REPLACE", buf, len + 10);
            CHECK(r != NULL);
            if (r && r->type == REDIS_REPLY_STATUS) {
                accepted++;
                redisReply *l = cmd(c, "LRANGE bad 0 -1");
                CHECK(l && (l->type == REDIS_REPLY_ARRAY || l->type == REDIS_REPLY_ERROR));
                freeReplyObject(l);
            } else if (r && r->type == REDIS_REPLY_ERROR) {
                rejected++;
            }
            freeReplyObject(r);
            freeReplyObject(cmd(c, "DEL bad"));
        }
        CHECK(rejected > 0);
        printf("damaged payloads: %d rejected, %d accepted as other valid lists\n", rejected,
               accepted);
        free(buf);
    }
    freeReplyObject(dump);
    CHECK_CMD(c, "+PONG", "PING");
    redisFree(c);
    srv_stop(&s);
}

TEST(config_applies_to_new_lists_and_memory_usage) {
    srv s;
    CHECK(srv_start(&s, NULL) == 0);
    redisContext *c = srv_connect(&s);
    CHECK_CMD(c, "[list-max-listpack-size,-2]", "CONFIG GET list-max-listpack-size");
    CHECK_CMD(c, "[list-max-ziplist-size,-2]", "CONFIG GET list-max-ziplist-size");
    CHECK_CMD(c, "+OK", "CONFIG SET list-max-ziplist-size 4");
    CHECK_CMD(c, "[list-max-listpack-size,4]", "CONFIG GET list-max-listpack-size");
    CHECK_CMD(c, "+OK", "CONFIG SET list-compress-depth 1");
    fill(c, "l", 1000);
    redisReply *m1 = cmd(c, "MEMORY USAGE l");
    redisReply *m0 = cmd(c, "MEMORY USAGE l SAMPLES 0");
    CHECK(m1 && m1->type == REDIS_REPLY_INTEGER && m1->integer > 1000);
    CHECK(m0 && m0->type == REDIS_REPLY_INTEGER && m0->integer > 1000);
    /* compressed middles: smaller than the same list without compression */
    CHECK_CMD(c, "+OK", "CONFIG SET list-compress-depth 0");
    fill(c, "plain", 1000);
    redisReply *mp = cmd(c, "MEMORY USAGE plain SAMPLES 0");
    CHECK(mp && m0 && mp->integer > m0->integer);
    freeReplyObject(m1);
    freeReplyObject(m0);
    freeReplyObject(mp);
    /* both read the same, from either end and the middle */
    char *a = contents(c, "l"), *b = contents(c, "plain");
    CHECK_STR(a, b);
    free(a);
    free(b);
    CHECK_CMD(c, "+OK", "LSET l 500 changed");
    CHECK_CMD(c, "changed", "LINDEX l 500");
    CHECK_CMD(c, ":1001", "LINSERT l AFTER changed more");
    CHECK_CMD(c, "more", "LINDEX l 501");
    CHECK_CMD(c, ":1", "LREM l 0 changed");
    CHECK_CMD(c, "[:500]", "LPOS l more COUNT 0");
    CHECK_CMD(c, "+OK", "LTRIM l 100 -100");
    CHECK_CMD(c, ":801", "LLEN l"); /* 100 .. 900 */
    CHECK_CMD(c, "quicklist", "OBJECT ENCODING l");
    CHECK_CMD(c, "+list", "TYPE l");
    redisFree(c);
    srv_stop(&s);
}

int main(void) {
    RUN(dump_restore_every_fill_and_depth);
    RUN(restore_rejects_damaged_lists);
    RUN(config_applies_to_new_lists_and_memory_usage);
    return test_report();
}
