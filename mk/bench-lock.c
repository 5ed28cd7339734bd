/* mk/bench-lock — lock acquire/release round trips, one client, sequential:
 *   larder  LOCK.ACQUIRE + LOCK.RELEASE
 *   larder  EVAL "SET NX PX" + EVAL "GET == token then DEL" (client-library locks)
 *   redis   the same two EVALs on Debian's redis-server
 * Prints pairs per second of each and the Larder/Redis ratio of the script flavour.
 * Usage: bench-lock LARDER_PORT REDIS_PORT [PAIRS] */
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *ACQ =
    "if redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 else return 0 end";
static const char *REL = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', "
                         "KEYS[1]) else return 0 end";

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static redisContext *conn(int port) {
    redisContext *c = redisConnect("127.0.0.1", port);
    if (!c || c->err) {
        fprintf(stderr, "bench-lock: cannot connect to port %d\n", port);
        exit(1);
    }
    return c;
}

static double native_pairs(redisContext *c, long n) {
    double t = now_s();
    for (long i = 0; i < n; i++) {
        redisReply *r = redisCommand(c, "LOCK.ACQUIRE bench:lock 10000");
        if (!r || r->type != REDIS_REPLY_INTEGER) {
            fprintf(stderr, "bench-lock: acquire failed\n");
            exit(1);
        }
        long long tok = r->integer;
        freeReplyObject(r);
        r = redisCommand(c, "LOCK.RELEASE bench:lock %lld", tok);
        freeReplyObject(r);
    }
    return (double)n / (now_s() - t);
}

static double script_pairs(redisContext *c, long n) {
    double t = now_s();
    for (long i = 0; i < n; i++) {
        redisReply *r = redisCommand(c, "EVAL %s 1 bench:key tok%ld 10000", ACQ, i);
        if (!r || r->type != REDIS_REPLY_INTEGER || r->integer != 1) {
            fprintf(stderr, "bench-lock: eval acquire failed\n");
            exit(1);
        }
        freeReplyObject(r);
        r = redisCommand(c, "EVAL %s 1 bench:key tok%ld", REL, i);
        freeReplyObject(r);
    }
    return (double)n / (now_s() - t);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: bench-lock LARDER_PORT REDIS_PORT [PAIRS]\n");
        return 2;
    }
    long n = argc > 3 ? atol(argv[3]) : 20000;
    redisContext *l = conn(atoi(argv[1])), *r = conn(atoi(argv[2]));
    script_pairs(l, n / 10); /* warm-up: script cache, connections */
    script_pairs(r, n / 10);
    double ln = native_pairs(l, n);
    double ls = script_pairs(l, n);
    double rs = script_pairs(r, n);
    printf("lock round trips (acquire+release pairs/s, 1 client, %ld pairs):\n", n);
    printf("  larder LOCK.*            %10.0f\n", ln);
    printf("  larder SET NX + Lua      %10.0f\n", ls);
    printf("  redis  SET NX + Lua      %10.0f\n", rs);
    printf("  ratio larder/redis (Lua) %10.2f\n", ls / rs);
    printf("  ratio larder LOCK.*/redis Lua %5.2f\n", ln / rs);
    redisFree(l);
    redisFree(r);
    return 0;
}
