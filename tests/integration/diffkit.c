/* tests/integration/diffkit — see diffkit.h. */
#include "diffkit.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

char *dk_render_sorted(const redisReply *r, int group) {
    if (!r || group <= 0 || r->type != REDIS_REPLY_ARRAY) return reply_str(r);
    size_t n = r->elements, chunks = (n + (size_t)group - 1) / (size_t)group, total = 3;
    char **parts = calloc(chunks ? chunks : 1, sizeof(char *));
    for (size_t c = 0; c < chunks; c++) {
        size_t len = 1;
        char *s = malloc(1);
        s[0] = '\0';
        for (size_t k = 0; k < (size_t)group && c * (size_t)group + k < n; k++) {
            char *e = reply_str(r->element[c * (size_t)group + k]);
            s = realloc(s, len + strlen(e) + 1);
            if (k) strcat(s, ",");
            strcat(s, e);
            len = strlen(s) + 1;
            free(e);
        }
        parts[c] = s;
        total += strlen(s) + 1;
    }
    qsort(parts, chunks, sizeof(char *), cmp_str);
    char *out = malloc(total);
    strcpy(out, "[");
    for (size_t c = 0; c < chunks; c++) {
        if (c) strcat(out, ",");
        strcat(out, parts[c]);
        free(parts[c]);
    }
    strcat(out, "]");
    free(parts);
    return out;
}

redisReply *dk_run(redisContext *c, int argc, const char **argv, const size_t *lens) {
    return redisCommandArgv(c, argc, argv, lens);
}

char *dk_fmt(redisContext *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    char *s = reply_str(r);
    if (r) freeReplyObject(r);
    return s;
}

void dk_fail(dpair *p, const char *what, const char *larder, const char *redis) {
    fprintf(stderr, "DIFF %s (%s)\n  larder: %.400s\n  redis:  %.400s\n", what,
            p->where ? p->where : "", larder, redis);
    p->mismatches++;
    CHECK(!"differential mismatch");
}

static void print_cmd(char *buf, size_t size, int argc, const char **argv, const size_t *lens) {
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < argc && used + 8 < size; i++) {
        int n = snprintf(buf + used, size - used, "%s'%.*s'", i ? " " : "",
                         (int)(lens[i] > 40 ? 40 : lens[i]), argv[i]);
        if (n < 0) break;
        used += (size_t)n;
        if (used >= size) used = size - 1;
    }
}

int dk_check(dpair *p, int argc, const char **argv, const size_t *lens, int group) {
    redisReply *a = dk_run(p->l, argc, argv, lens), *b = dk_run(p->r, argc, argv, lens);
    char *x = dk_render_sorted(a, group), *y = dk_render_sorted(b, group);
    int same = a && b && strcmp(x, y) == 0;
    if (!same) {
        char what[400];
        print_cmd(what, sizeof(what), argc, argv, lens);
        dk_fail(p, what, x, y);
    }
    free(x);
    free(y);
    if (a) freeReplyObject(a);
    if (b) freeReplyObject(b);
    return dk_events(p, 1) && same;
}

int dk_check_enc(dpair *p, int argc, const char **argv, const size_t *lens, const char *key,
                 int group) {
    redisReply *e = redisCommand(p->r, "OBJECT ENCODING %s", key);
    int ht = e && e->type == REDIS_REPLY_STRING && strcmp(e->str, "hashtable") == 0;
    if (e) freeReplyObject(e);
    return dk_check(p, argc, argv, lens, ht ? group : 0);
}

int dk_same_encoding(dpair *p, const char *key) {
    char *x = dk_fmt(p->l, "OBJECT ENCODING %s", key), *y = dk_fmt(p->r, "OBJECT ENCODING %s", key);
    int same = strcmp(x, y) == 0;
    if (!same) {
        char what[300];
        snprintf(what, sizeof(what), "OBJECT ENCODING %s", key);
        dk_fail(p, what, x, y);
    }
    free(x);
    free(y);
    return same;
}

/* The notifications queued on a subscriber, rendered "channel=payload;..."
 * (a PING marks the end: the server answers it after what it published). */
static char *drain(redisContext *c) {
    size_t cap = 256, len = 0;
    char *out = malloc(cap);
    out[0] = '\0';
    redisAppendCommand(c, "PING");
    for (;;) {
        redisReply *r = NULL;
        if (redisGetReply(c, (void **)&r) != REDIS_OK || !r) {
            free(out);
            return strdup("(lost)");
        }
        int done = r->type == REDIS_REPLY_ARRAY && r->elements >= 1 &&
                   r->element[0]->type == REDIS_REPLY_STRING &&
                   strcmp(r->element[0]->str, "pong") == 0;
        if (!done && r->type == REDIS_REPLY_ARRAY && r->elements == 4) {
            const redisReply *ch = r->element[2], *msg = r->element[3];
            size_t need = len + ch->len + msg->len + 3;
            if (need > cap) {
                cap = need * 2;
                out = realloc(out, cap);
            }
            memcpy(out + len, ch->str, ch->len);
            len += ch->len;
            out[len++] = '=';
            memcpy(out + len, msg->str, msg->len);
            len += msg->len;
            out[len++] = ';';
            out[len] = '\0';
        }
        freeReplyObject(r);
        if (done) return out;
    }
}

int dk_events(dpair *p, int compare) {
    if (!p->ls) return 1;
    char *x = drain(p->ls), *y = drain(p->rs);
    int same = !compare || strcmp(x, y) == 0;
    if (!same) dk_fail(p, "keyspace notifications", x, y);
    free(x);
    free(y);
    return same;
}

static redisContext *subscriber(const srv *s) {
    redisContext *c = srv_connect(s);
    if (!c) return NULL;
    redisReply *r = redisCommand(c, "PSUBSCRIBE __key*__:*");
    int ok = r && r->type == REDIS_REPLY_ARRAY;
    if (r) freeReplyObject(r);
    if (!ok) {
        redisFree(c);
        return NULL;
    }
    return c;
}

int dk_open(dpair *p, const srv *larder, const srv *redis) {
    memset(p, 0, sizeof(*p));
    p->l = srv_connect(larder);
    p->r = srv_connect(redis);
    if (!p->l || !p->r) return -1;
    freeReplyObject(redisCommand(p->l, "CONFIG SET notify-keyspace-events KEA"));
    freeReplyObject(redisCommand(p->r, "CONFIG SET notify-keyspace-events KEA"));
    p->ls = subscriber(larder);
    if (p->ls) {
        p->rs = subscriber(redis);
        if (!p->rs) {
            redisFree(p->ls);
            p->ls = NULL;
        }
    } else {
        printf("note: larder-server has no pub/sub yet: keyspace notifications not compared\n");
    }
    return 0;
}

void dk_close(dpair *p) {
    if (p->l) redisFree(p->l);
    if (p->r) redisFree(p->r);
    if (p->ls) redisFree(p->ls);
    if (p->rs) redisFree(p->rs);
    memset(p, 0, sizeof(*p));
}

static int cmp_item(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *join_set(char **items, size_t n) {
    if (n) qsort(items, n, sizeof(char *), cmp_item);
    size_t cap = 64, len = 0;
    char *out = malloc(cap);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (i && strcmp(items[i], items[i - 1]) == 0) continue;
        size_t l = strlen(items[i]);
        if (len + l + 2 > cap) {
            cap = (len + l + 2) * 2;
            out = realloc(out, cap);
        }
        memcpy(out + len, items[i], l);
        len += l;
        out[len++] = ';';
        out[len] = '\0';
    }
    for (size_t i = 0; i < n; i++) free(items[i]);
    free(items);
    return out;
}

char *dk_full_scan(redisContext *c, int argc, const char **argv, const size_t *lens, int cursor_at,
                   int pairs) {
    char cursor[32] = "0";
    const char *qa[64];
    size_t ql[64];
    if (argc > 64) argc = 64;
    memcpy(qa, argv, sizeof(char *) * (size_t)argc);
    memcpy(ql, lens, sizeof(size_t) * (size_t)argc);
    qa[cursor_at] = cursor;
    ql[cursor_at] = 1;
    size_t n = 0;
    char **items = NULL;
    for (int iter = 0; iter < 10000; iter++) {
        redisReply *r = dk_run(c, argc, qa, ql);
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
            char *s = reply_str(r);
            if (r) freeReplyObject(r);
            for (size_t i = 0; i < n; i++) free(items[i]);
            free(items);
            return s;
        }
        const redisReply *els = r->element[1];
        for (size_t i = 0; i + (pairs ? 1 : 0) < els->elements; i += pairs ? 2 : 1) {
            const redisReply *f = els->element[i], *v = pairs ? els->element[i + 1] : NULL;
            size_t l = f->len + (v ? v->len + 1 : 0);
            items = realloc(items, sizeof(char *) * (n + 1));
            items[n] = malloc(l + 1);
            memcpy(items[n], f->str, f->len);
            if (v) {
                items[n][f->len] = '=';
                memcpy(items[n] + f->len + 1, v->str, v->len);
            }
            items[n++][l] = '\0';
        }
        snprintf(cursor, sizeof(cursor), "%.*s", (int)r->element[0]->len, r->element[0]->str);
        ql[cursor_at] = strlen(cursor);
        freeReplyObject(r);
        if (strcmp(cursor, "0") == 0) break;
    }
    return join_set(items, n);
}
