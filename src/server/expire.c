/* server/expire — the active expiry cycle (Redis's algorithm and bounds).
 *
 * Lazy expiry (kv/db.c) removes keys as they are touched; this removes the
 * ones nobody touches. Slow cycle: from the cron, up to 25% of a cron
 * period of CPU. Fast cycle: from before-sleep, at most 1 ms, only when the
 * last slow cycle found many stale keys, and not more often than every 2 ms.
 * Each db is sampled in rounds of ~20 keys with a TTL; a db is revisited while
 * more than 10% of a round was expired. */
#include "server/server.h"
#include "util/clock.h"

#define KEYS_PER_LOOP 20
#define FAST_DURATION_US 1000
#define SLOW_TIME_PERC 25
#define ACCEPTABLE_STALE 10

static int current_db;
static int timelimit_exit;
static int64_t last_fast_cycle_us;

void active_expire_cycle(int fast) {
    if (!server.active_expire_enabled) return;
    int effort = server.active_expire_effort - 1; /* 0..9 */
    int keys_per_loop = KEYS_PER_LOOP + KEYS_PER_LOOP / 4 * effort;
    int fast_duration = FAST_DURATION_US + FAST_DURATION_US / 4 * effort;
    int slow_perc = SLOW_TIME_PERC + 2 * effort;
    int acceptable = ACCEPTABLE_STALE - effort;
    int64_t start = clock_mono_us();
    if (fast) {
        if (!timelimit_exit && server.stat_expired_stale_perc < acceptable) return;
        if (start < last_fast_cycle_us + fast_duration * 2) return;
        last_fast_cycle_us = start;
    }
    int64_t limit = fast ? fast_duration : (int64_t)slow_perc * 1000000 / server.hz / 100;
    if (limit <= 0) limit = 1;
    timelimit_exit = 0;
    kv_now_ms = clock_mstime();
    long long sampled_total = 0, expired_total = 0;
    int dbs = server.databases < 16 ? server.databases : 16;
    for (int j = 0; j < dbs && !timelimit_exit; j++) {
        db *d = &server.dbs[current_db % server.databases];
        current_db++;
        int iteration = 0;
        for (;;) {
            if (db_expires_size(d) == 0) break;
            size_t expired = 0;
            size_t sampled = db_active_expire_step(d, (size_t)keys_per_loop, &expired);
            sampled_total += (long long)sampled;
            expired_total += (long long)expired;
            if ((++iteration & 15) == 0 && clock_mono_us() - start > limit) {
                timelimit_exit = 1;
                break;
            }
            if (sampled == 0 || expired * 100 <= sampled * (size_t)acceptable) break;
        }
        if (d->field_expires && dict_size(d->field_expires) && kv_hook.fields_expire_step)
            kv_hook.fields_expire_step(d, (size_t)keys_per_loop);
    }
    int64_t elapsed = clock_mono_us() - start;
    server.stat_expire_cycle_time_used += elapsed;
    latency_add_sample_if_needed("expire-cycle", elapsed / 1000);
    double perc = sampled_total ? (double)expired_total * 100 / (double)sampled_total : 0;
    server.stat_expired_stale_perc =
        (long long)(perc * 0.05 + (double)server.stat_expired_stale_perc * 0.95);
}
