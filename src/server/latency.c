/* server/latency — the latency monitor and the per-command latency
 * histograms (handlers: commands/server_cmds.c, INFO latencystats: info.c).
 *
 * Latency monitor: an event (a named class of slow operation: "command",
 * "expire-cycle", "store-load", ...) keeps the last LATENCY_TS_LEN samples of
 * at most one per second (a second's sample keeps its worst latency) and its
 * all-time maximum. A sample is taken only when latency-monitor-threshold is
 * set and the operation took at least that many milliseconds, as in Redis.
 *
 * Histograms: each command (subcommands apart) owns, once it has run, a
 * util/hdr histogram of its durations in nanoseconds, 1 ns to 1 s (the two
 * significant digits Redis's hdr_histogram keeps), allocated on the
 * command's first call.
 *
 * Invariant: every sample of an event has time > 0; an empty slot has time 0. */
#include "server/server.h"
#include "util/clock.h"
#include "util/hdr.h"
#include "util/mem.h"
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define LATENCY_TS_LEN 160
#define LATENCY_MAX_EVENTS 32
#define LATENCY_GRAPH_COLS 80

typedef struct latency_sample {
    int64_t time;     /* unix seconds */
    uint32_t latency; /* ms */
} latency_sample;

typedef struct latency_event {
    char name[32];
    int idx; /* the slot the next sample goes to */
    uint32_t max;
    latency_sample samples[LATENCY_TS_LEN];
} latency_event;

static latency_event *events[LATENCY_MAX_EVENTS];
static int nevents;

struct latency_hist {
    hdr *h;
};

/* ---- the latency monitor ------------------------------------------------------ */

static latency_event *event_find(const char *name) {
    for (int i = 0; i < nevents; i++)
        if (strcasecmp(events[i]->name, name) == 0) return events[i];
    return NULL;
}

void latency_add_sample_if_needed(const char *event, long long ms) {
    if (server.latency_monitor_threshold <= 0 || ms < server.latency_monitor_threshold) return;
    latency_event *e = event_find(event);
    if (!e) {
        if (nevents == LATENCY_MAX_EVENTS) return;
        e = xcalloc(1, sizeof(*e));
        snprintf(e->name, sizeof(e->name), "%s", event);
        events[nevents++] = e;
    }
    uint32_t lat = ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
    if (lat > e->max) e->max = lat;
    int64_t now = server.mstime / 1000;
    latency_sample *prev = &e->samples[(e->idx + LATENCY_TS_LEN - 1) % LATENCY_TS_LEN];
    if (prev->time == now) { /* one sample per second: its worst */
        if (lat > prev->latency) prev->latency = lat;
        return;
    }
    e->samples[e->idx].time = now;
    e->samples[e->idx].latency = lat;
    e->idx = (e->idx + 1) % LATENCY_TS_LEN;
}

static const latency_sample *last_sample(const latency_event *e) {
    return &e->samples[(e->idx + LATENCY_TS_LEN - 1) % LATENCY_TS_LEN];
}

void latency_reply_latest(client *c) {
    reply_array(c, nevents);
    for (int i = 0; i < nevents; i++) {
        const latency_sample *s = last_sample(events[i]);
        reply_array(c, 4);
        reply_bulk_cstr(c, events[i]->name);
        reply_int(c, s->time);
        reply_int(c, s->latency);
        reply_int(c, events[i]->max);
    }
}

void latency_reply_history(client *c, const char *event) {
    latency_event *e = event_find(event);
    if (!e) {
        reply_array(c, 0);
        return;
    }
    int n = 0;
    for (int j = 0; j < LATENCY_TS_LEN; j++) n += e->samples[j].time != 0;
    reply_array(c, n);
    for (int j = 0; j < LATENCY_TS_LEN; j++) {
        const latency_sample *s = &e->samples[(e->idx + j) % LATENCY_TS_LEN];
        if (!s->time) continue;
        reply_array(c, 2);
        reply_int(c, s->time);
        reply_int(c, s->latency);
    }
}

static void event_remove(int i) {
    xfree(events[i]);
    memmove(&events[i], &events[i + 1], sizeof(events[0]) * (size_t)(nevents - i - 1));
    nevents--;
}

int latency_reset(int argc, const resp_arg *argv) {
    int n = 0;
    if (argc == 0) {
        n = nevents;
        while (nevents) event_remove(nevents - 1);
        return n;
    }
    for (int a = 0; a < argc; a++)
        for (int i = 0; i < nevents; i++)
            if (strcasecmp(events[i]->name, argv[a].p) == 0) {
                event_remove(i);
                n++;
                break;
            }
    return n;
}

/* "12s", "5m", "3h", "2d": how long ago a sample was taken. */
static void age_label(int64_t age, char *buf, size_t size) {
    if (age < 60)
        snprintf(buf, size, "%llds", (long long)age);
    else if (age < 3600)
        snprintf(buf, size, "%lldm", (long long)(age / 60));
    else if (age < 86400)
        snprintf(buf, size, "%lldh", (long long)(age / 3600));
    else
        snprintf(buf, size, "%lldd", (long long)(age / 86400));
}

/* The graph: a header, a rule, four rows of bars (one column per sample,
 * '#' where the sample reaches the row's level), and the samples' ages
 * written downwards under their columns. */
int latency_graph(const char *event, sbuf *out) {
    latency_event *e = event_find(event);
    if (!e) return ERR;
    const latency_sample *s[LATENCY_TS_LEN];
    int n = 0;
    uint32_t lo = 0, hi = 0;
    for (int j = 0; j < LATENCY_TS_LEN; j++) {
        const latency_sample *x = &e->samples[(e->idx + j) % LATENCY_TS_LEN];
        if (!x->time) continue;
        if (!n || x->latency < lo) lo = x->latency;
        if (!n || x->latency > hi) hi = x->latency;
        s[n++] = x;
    }
    if (n > LATENCY_GRAPH_COLS) { /* the newest samples fit */
        memmove(s, s + n - LATENCY_GRAPH_COLS, sizeof(s[0]) * LATENCY_GRAPH_COLS);
        n = LATENCY_GRAPH_COLS;
    }
    sbuf_printf(out, "%s - high %lu ms, low %lu ms (all time high %lu ms)\n", e->name,
                (unsigned long)hi, (unsigned long)lo, (unsigned long)e->max);
    for (int j = 0; j < LATENCY_GRAPH_COLS; j++) sbuf_puts(out, "-");
    sbuf_puts(out, "\n");
    for (int row = 4; row >= 1; row--) {
        for (int j = 0; j < n; j++) {
            double level = hi == lo ? 4 : 1 + 3.0 * (s[j]->latency - lo) / (double)(hi - lo);
            sbuf_puts(out, level + 0.5 >= row ? "#" : " ");
        }
        sbuf_puts(out, "\n");
    }
    char labels[LATENCY_GRAPH_COLS][32];
    size_t longest = 0;
    for (int j = 0; j < n; j++) {
        age_label(server.mstime / 1000 - s[j]->time, labels[j], sizeof(labels[j]));
        if (strlen(labels[j]) > longest) longest = strlen(labels[j]);
    }
    for (size_t row = 0; row < longest; row++) {
        for (int j = 0; j < n; j++) {
            char ch = row < strlen(labels[j]) ? labels[j][row] : ' ';
            sbuf_printf(out, "%c", ch);
        }
        sbuf_puts(out, "\n");
    }
    return OK;
}

/* DOCTOR: per event, its spikes, average, mean deviation and period, then
 * advice for the event classes seen. */
void latency_doctor(sbuf *out) {
    if (!nevents) {
        sbuf_puts(out, "Dave, no latency spike was observed during the lifetime of this Redis "
                       "instance, not in the slightest bit. I honestly think you ought to sit "
                       "down calmly, take a stress pill, and think things over.");
        return;
    }
    sbuf_puts(out, "Dave, I have observed latency spikes in this Larder instance. You don't "
                   "mind talking about it, do you Dave?\n\n");
    int seen_command = 0, seen_expire = 0, seen_store = 0;
    for (int i = 0; i < nevents; i++) {
        latency_event *e = events[i];
        int n = 0;
        double sum = 0, dev = 0;
        int64_t first = 0, last = 0;
        for (int j = 0; j < LATENCY_TS_LEN; j++) {
            const latency_sample *s = &e->samples[(e->idx + j) % LATENCY_TS_LEN];
            if (!s->time) continue;
            if (!n) first = s->time;
            last = s->time;
            sum += s->latency;
            n++;
        }
        double avg = n ? sum / n : 0;
        for (int j = 0; j < LATENCY_TS_LEN; j++)
            if (e->samples[j].time) dev += fabs(e->samples[j].latency - avg);
        sbuf_printf(out,
                    "%d. %s: %d latency spikes (average %.0fms, mean deviation %.0fms, period "
                    "%.2f sec). Worst all time event %lums.\n",
                    i + 1, e->name, n, avg, n ? dev / n : 0,
                    n > 1 ? (double)(last - first) / (n - 1) : 0.0, (unsigned long)e->max);
        if (strstr(e->name, "command")) seen_command = 1;
        if (strstr(e->name, "expire") || strstr(e->name, "eviction")) seen_expire = 1;
        if (strstr(e->name, "store") || strstr(e->name, "write-behind") ||
            strstr(e->name, "journal") || strstr(e->name, "invalidation"))
            seen_store = 1;
    }
    sbuf_puts(out, "\nI have a few pieces of advice for you:\n\n");
    if (seen_command)
        sbuf_puts(out, "- Check your Slow Log to understand what are the commands you are running "
                       "which are too slow to execute. Avoid O(N) commands on big values, and "
                       "check SLOWLOG GET.\n");
    if (seen_expire)
        sbuf_puts(out, "- Many keys expiring or being evicted at the same time block the server: "
                       "spread TTLs with some randomness, and check maxmemory.\n");
    if (seen_store)
        sbuf_puts(out, "- The store is slow: store-load, write-behind-flush, journal-fsync and "
                       "invalidation are measured on the store's side; check the store's disk "
                       "(or PostgreSQL) and journal-fsync.\n");
    sbuf_puts(out, "- Use LATENCY HISTOGRAM and INFO latencystats for the distribution of every "
                   "command's latency.\n");
}

/* ---- histograms ---------------------------------------------------------------- */

/* Redis's histograms span 1 ns .. 1 s: longer commands count as 1 s. */
#define HIST_MAX_NS 1000000000LL

void latency_hist_record(latency_hist **hp, int64_t ns) {
    if (!*hp) {
        *hp = xmalloc(sizeof(latency_hist));
        (*hp)->h = hdr_new(HIST_MAX_NS);
    }
    hdr_record((*hp)->h, ns < 1 ? 1 : ns);
}

void latency_hist_free(latency_hist **hp) {
    if (*hp) xfree((*hp)->h);
    xfree(*hp);
    *hp = NULL;
}

static uint64_t latency_hist_total(const latency_hist *h) {
    return h ? h->h->total : 0;
}

/* LATENCY HISTOGRAM's per-command map: calls, and the cumulative count at
 * each power-of-two microsecond bound (1, 2, 4, ... us) where it grows. */
static void latency_hist_reply(client *c, const latency_hist *h) {
    reply_map(c, 2);
    reply_bulk_cstr(c, "calls");
    reply_int(c, (long long)latency_hist_total(h));
    reply_bulk_cstr(c, "histogram_usec");
    long long bounds[64], cums[64];
    int n = 0;
    uint64_t cum = 0, prev = 0;
    int i = 0;
    for (int64_t bound = 1024; h && cum < h->h->total && n < 64; bound *= 2) {
        for (; i < h->h->nbuckets && hdr_bucket_upper(i) < bound; i++) cum += h->h->counts[i];
        if (cum > prev) {
            bounds[n] = bound / 1024;
            cums[n++] = (long long)cum;
        }
        prev = cum;
    }
    reply_map(c, n);
    for (int j = 0; j < n; j++) {
        reply_int(c, bounds[j]);
        reply_int(c, cums[j]);
    }
}

static int hist_wanted(const command *cmd, int argc, const resp_arg *argv) {
    if (argc == 0) return 1;
    for (int a = 0; a < argc; a++) {
        if (strcasecmp(cmd->fullname, argv[a].p) == 0) return 1;
        if (cmd->parent && strcasecmp(cmd->parent->name, argv[a].p) == 0) return 1;
    }
    return 0;
}

/* LATENCY HISTOGRAM [command ...]: a map of command full name to its
 * histogram, for the named commands (a container names its subcommands;
 * unknown names are skipped) or, with none named, every command that ran. */
void latency_reply_histogram(client *c, int argc, const resp_arg *argv) {
    int n = 0;
    for (int i = 0; i < server.command_count; i++)
        if (latency_hist_total(server.cmdstats[i].hist) &&
            hist_wanted(server.command_by_id[i], argc, argv))
            n++;
    reply_map(c, n);
    for (int i = 0; i < server.command_count; i++) {
        const latency_hist *h = server.cmdstats[i].hist;
        if (!latency_hist_total(h) || !hist_wanted(server.command_by_id[i], argc, argv)) continue;
        reply_bulk_cstr(c, server.command_by_id[i]->fullname);
        latency_hist_reply(c, h);
    }
}

/* A percentile as Redis prints it: "%f" without trailing zeros ("99.9", "50"). */
void format_percentile(double p, char *buf, size_t size) {
    snprintf(buf, size, "%f", p);
    char *dot = strchr(buf, '.');
    if (!dot) return;
    char *end = buf + strlen(buf) - 1;
    while (end > dot && *end == '0') *end-- = '\0';
    if (end == dot) *end = '\0';
}

/* INFO latencystats: one line per command with a histogram. */
void latency_info(sbuf *b) {
    for (int i = 0; i < server.command_count; i++) {
        const latency_hist *h = server.cmdstats[i].hist;
        if (!latency_hist_total(h)) continue;
        sbuf_printf(b, "latency_percentiles_usec_%s:", server.command_by_id[i]->fullname);
        for (int j = 0; j < server.latency_npcts; j++) {
            char p[64];
            format_percentile(server.latency_pcts[j], p, sizeof(p));
            sbuf_printf(b, "%sp%s=%.3f", j ? "," : "", p,
                        (double)hdr_percentile(h->h, server.latency_pcts[j]) / 1000.0);
        }
        sbuf_puts(b, "\r\n");
    }
}
