/* tests/integration/diffkit — differential testing of the collection types
 * against Debian's redis-server, where replies may legitimately differ in
 * order (a hash table's iteration order is not part of the contract).
 *
 * A dpair is one connection to each server plus, when larder-server has
 * pub/sub, one subscriber each (PSUBSCRIBE to every keyspace and keyevent
 * channel, notify-keyspace-events KEA): after every compared command the
 * notifications both servers published are compared too. No CONFIG or
 * command makes an order deterministic: replies are sorted here, client side,
 * and only where the encoding (compared as well) makes the order free.
 *
 * Rendering is the harness's ("s", "+OK", "-ERR ...", ":1", "(nil)",
 * "[a,b]"); dk_render_sorted() sorts the top-level elements in groups of
 * `group` (2 keeps HGETALL's field/value pairs together). */
#ifndef LARDER_TEST_DIFFKIT_H
#define LARDER_TEST_DIFFKIT_H
#include "harness.h"

typedef struct dpair {
    redisContext *l, *r;   /* larder, redis */
    redisContext *ls, *rs; /* subscribers; NULL while larder-server has no pub/sub */
    int mismatches;
    const char *where; /* printed with a mismatch: "seed N round R step S" */
} dpair;

/* Connects to both servers (started by the caller); 0 on success. */
int dk_open(dpair *p, const srv *larder, const srv *redis);
void dk_close(dpair *p);

/* Rendering with the top-level aggregate sorted in groups (group 0: as is). */
char *dk_render_sorted(const redisReply *r, int group);
/* A whole SCAN-family iteration of argv (argv[cursor_at] is replaced by each
 * cursor): the items returned (field=value when pairs), sorted, repeats
 * dropped, each followed by ';'; or the rendered reply that was not a scan
 * page (an error). Caller frees. */
char *dk_full_scan(redisContext *c, int argc, const char **argv, const size_t *lens, int cursor_at,
                   int pairs);
/* Runs argv on c and returns the reply (caller frees; NULL when lost). */
redisReply *dk_run(redisContext *c, int argc, const char **argv, const size_t *lens);
/* The same from a printf-like format, rendered (caller frees). */
char *dk_fmt(redisContext *c, const char *fmt, ...);

/* Sends argv to both; compares replies (sorted in groups of `group` when
 * group > 0), then the notifications. 1 when all equal. */
int dk_check(dpair *p, int argc, const char **argv, const size_t *lens, int group);
/* dk_check that sorts only when `key` is hashtable-encoded (asked of redis). */
int dk_check_enc(dpair *p, int argc, const char **argv, const size_t *lens, const char *key,
                 int group);
/* Compares OBJECT ENCODING of key on both. */
int dk_same_encoding(dpair *p, const char *key);
/* Compares the notifications published since the last call (compare = 0:
 * just drains them, after steps the two servers took differently). */
int dk_events(dpair *p, int compare);
/* Records a mismatch with both sides (prints, CHECK fails). */
void dk_fail(dpair *p, const char *what, const char *larder, const char *redis);
#endif
