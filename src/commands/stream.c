/* commands/stream — the stream family, Redis 7.0 semantics and error texts:
 * XADD XLEN XRANGE XREVRANGE XDEL XTRIM XSETID XREAD XREADGROUP XGROUP XACK
 * XPENDING XCLAIM XAUTOCLAIM XINFO, and the value's type ops (COPY, MEMORY
 * USAGE). The value itself is kv/stream.
 *
 * Blocking reads park with block_for_keys(); priv keeps the ids each key is
 * read after (XREAD's "$" resolved when the client blocked). When a key is
 * signalled ready the command is re-run and serves only that key, as Redis
 * does: a plain reader stays blocked while the key is missing or of another
 * type, a group reader gets -UNBLOCKED then, and -NOGROUP once its group is
 * gone. */
#include "commands/commands.h"
#include "kv/stream.h"
#include "util/mem.h"
#include "util/sbuf.h"
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define ERR_INVALID_ID "ERR Invalid stream ID specified as stream command argument"
#define XREAD_BLOCKED_DEFAULT_COUNT 1000
#define ENTRY_BUF 1024 /* entries encoded up to this size are written at once */

static stream *stream_of(kobj *o) {
    return kobj_ptr(o);
}

/* ---- shared helpers --------------------------------------------------------------- */

static void reply_id(client *c, const stream_id *id) {
    char buf[STREAM_ID_STR];
    size_t n = stream_id_format(id, buf);
    reply_bulk(c, buf, n);
}

/* streamParseStrictIDOrReply / streamParseIDOrReply: c may be NULL (no reply). */
static int parse_id_or_reply(client *c, const resp_arg *a, stream_id *id, uint64_t missing_seq,
                             int strict, int *seq_given) {
    if (stream_id_parse(a->p, a->len, missing_seq, !strict, id, seq_given) == 0) return OK;
    if (c) reply_error(c, ERR_INVALID_ID);
    return ERR;
}

/* An interval bound: "(" excludes it (streamParseIntervalIDOrReply). */
static int parse_interval_or_reply(client *c, const resp_arg *a, stream_id *id, int *exclude,
                                   uint64_t missing_seq) {
    *exclude = a->len > 1 && a->p[0] == '(';
    if (*exclude) {
        resp_arg t = {.p = a->p + 1, .len = a->len - 1};
        return parse_id_or_reply(c, &t, id, missing_seq, 1, NULL);
    }
    return parse_id_or_reply(c, a, id, missing_seq, 0, NULL);
}

static int parse_range_or_reply(client *c, const resp_arg *s, const resp_arg *e, stream_id *start,
                                stream_id *end) {
    int ex;
    if (parse_interval_or_reply(c, s, start, &ex, 0) != OK) return ERR;
    if (ex && stream_id_incr(start) != 0) {
        reply_error(c, "ERR invalid start ID for the interval");
        return ERR;
    }
    if (parse_interval_or_reply(c, e, end, &ex, UINT64_MAX) != OK) return ERR;
    if (ex && stream_id_decr(end) != 0) {
        reply_error(c, "ERR invalid end ID for the interval");
        return ERR;
    }
    return OK;
}

/* An entry as [id, [f, v, ...]]. A small one (the usual) is encoded into
 * one buffer and written with one reply_raw: ranges reply many entries,
 * and each write to the client's output has a fixed cost. */
static void reply_entry_fields(client *c, const stream_iter *it) {
    size_t items = it->nfields * 2;
    size_t need = 2 * RESP_HDR_MAX + RESP_HDR_MAX + STREAM_ID_STR + RESP_END_LEN;
    for (size_t i = 0; i < items && need <= ENTRY_BUF; i++)
        need += RESP_HDR_MAX + it->fvlen[i] + RESP_END_LEN;
    if (need > ENTRY_BUF) {
        reply_array(c, 2);
        reply_id(c, &it->id);
        reply_array(c, (long)items);
        for (size_t i = 0; i < items; i++) reply_bulk(c, it->fv[i], it->fvlen[i]);
        return;
    }
    char buf[ENTRY_BUF], id[STREAM_ID_STR];
    size_t n = resp_enc_agg(buf, c->resp, RESP_ARRAY, 2);
    n += resp_enc_bulk(buf + n, id, stream_id_format(&it->id, id));
    n += resp_enc_agg(buf + n, c->resp, RESP_ARRAY, (long long)items);
    for (size_t i = 0; i < items; i++) n += resp_enc_bulk(buf + n, it->fv[i], it->fvlen[i]);
    reply_raw(c, buf, n);
}

/* One entry as [id, [f, v, ...]]; 0 if it is not in the stream. */
static int reply_one_entry(client *c, const stream *s, const stream_id *id) {
    stream_iter it;
    stream_iter_start(&it, s, id, id, 0);
    int found = stream_iter_next(&it);
    if (found) reply_entry_fields(c, &it);
    stream_iter_stop(&it);
    return found;
}

static stream_cg *group_of(kobj *o, const resp_arg *name) {
    return o ? stream_cg_find(stream_of(o), name->p, name->len) : NULL;
}

static stream_consumer *consumer_lookup_or_create(client *c, stream_cg *g, const resp_arg *name,
                                                  const resp_arg *key) {
    stream_consumer *cons = stream_consumer_find(g, name->p, name->len);
    if (cons) {
        cons->seen_time = server_mstime();
        return cons;
    }
    cons = stream_consumer_create(g, name->p, name->len, server_mstime());
    server_add_dirty(1);
    notify_keyspace_event(NOTIFY_STREAM, "xgroup-createconsumer", key->p, key->len, c->db->id);
    return cons;
}

/* Gives the nack of entry id to cons (creating it, or taking it over). */
static void pel_deliver(stream_cg *g, stream_consumer *cons, const stream_id *id) {
    stream_nack *n = stream_pel_find(&g->pel, id, NULL);
    if (n) {
        stream_nack_reassign(n, cons);
        n->delivery_time = server_mstime();
        n->delivery_count = 1;
        return;
    }
    n = stream_nack_new(id, cons, server_mstime());
    stream_pel_insert(&g->pel, n);
    stream_pel_insert(&cons->pel, n);
}

/* streamReplyWithRange for reads: entries from start, count (0: all); with a
 * group, the group's last id and entries_read advance and the entries go to
 * the consumer's PEL unless noack. */
static size_t reply_range(client *c, stream *s, const stream_id *start, const stream_id *end,
                          size_t count, int rev, stream_cg *g, stream_consumer *cons, int noack) {
    void *h = reply_defer_len(c);
    size_t n = 0;
    stream_iter it;
    stream_iter_start(&it, s, start, end, rev);
    while (stream_iter_next(&it)) {
        if (g && stream_id_cmp(&it.id, &g->last_id) > 0) {
            if (g->entries_read != -1 && !stream_range_has_tombstones(s, &it.id, NULL))
                g->entries_read++;
            else if (s->entries_added)
                g->entries_read = stream_estimate_distance(s, &it.id);
            g->last_id = it.id;
        }
        reply_entry_fields(c, &it);
        if (g && !noack) pel_deliver(g, cons, &it.id);
        n++;
        if (count && n == count) break;
    }
    stream_iter_stop(&it);
    reply_set_deferred_array(c, h, (long)n);
    return n;
}

/* streamReplyWithRangeFromConsumerPEL: a consumer's history from start. */
static void reply_consumer_history(client *c, stream *s, const stream_id *start, size_t count,
                                   stream_consumer *cons) {
    void *h = reply_defer_len(c);
    size_t n = 0;
    for (size_t i = stream_pel_lower(&cons->pel, start); i < cons->pel.n; i++) {
        if (count && n >= count) break;
        stream_nack *nack = cons->pel.v[i];
        if (!reply_one_entry(c, s, &nack->id)) {
            reply_array(c, 2);
            reply_id(c, &nack->id);
            reply_null_array(c);
        } else {
            nack->delivery_time = server_mstime();
            nack->delivery_count++;
        }
        n++;
    }
    reply_set_deferred_array(c, h, (long)n);
}

/* ---- XADD / XTRIM ---------------------------------------------------------------------- */

typedef struct trim_args {
    int strategy; /* 0: none */
    int approx;
    long long maxlen, limit;
    stream_id minid;
    int nomkstream;
    int id_given, seq_given;
    stream_id id;
} trim_args;

static int parse_trim_or_reply(client *c, trim_args *a, int xadd) {
    int i = 2, limit_given = 0;
    memset(a, 0, sizeof(*a));
    for (; i < c->argc; i++) {
        int more = c->argc - 1 - i;
        const resp_arg *o = &c->argv[i];
        if (xadd && o->len == 1 && o->p[0] == '*') break;
        int maxlen = arg_is(o, "maxlen"), minid = arg_is(o, "minid");
        if ((maxlen || minid) && more) {
            if (a->strategy) {
                reply_error(c, "ERR syntax error, MAXLEN and MINID options at the same time are "
                               "not compatible");
                return -1;
            }
            a->approx = 0;
            const resp_arg *next = &c->argv[i + 1];
            if (more >= 2 && next->len == 1 && (next->p[0] == '~' || next->p[0] == '=')) {
                a->approx = next->p[0] == '~';
                i++;
            }
            if (maxlen) {
                if (arg_ll_or_reply(c, &c->argv[i + 1], &a->maxlen, NULL) != OK) return -1;
                if (a->maxlen < 0) {
                    reply_error(c, "ERR The MAXLEN argument must be >= 0.");
                    return -1;
                }
            } else if (parse_id_or_reply(c, &c->argv[i + 1], &a->minid, 0, 1, NULL) != OK) {
                return -1;
            }
            i++;
            a->strategy = maxlen ? STREAM_TRIM_MAXLEN : STREAM_TRIM_MINID;
        } else if (arg_is(o, "limit") && more) {
            if (arg_ll_or_reply(c, &c->argv[i + 1], &a->limit, NULL) != OK) return -1;
            if (a->limit < 0) {
                reply_error(c, "ERR The LIMIT argument must be >= 0.");
                return -1;
            }
            limit_given = 1;
            i++;
        } else if (xadd && arg_is(o, "nomkstream")) {
            a->nomkstream = 1;
        } else if (xadd) {
            if (parse_id_or_reply(c, o, &a->id, 0, 1, &a->seq_given) != OK) return -1;
            a->id_given = 1;
            break;
        } else {
            reply_error(c, ERR_SYNTAX);
            return -1;
        }
    }
    if (a->limit && !a->strategy) {
        reply_error(
            c, "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy");
        return -1;
    }
    if (!xadd && !a->strategy) {
        reply_error(c, "ERR syntax error, XTRIM must be called with a trimming strategy");
        return -1;
    }
    if (limit_given) {
        if (!a->approx) {
            reply_error(c, "ERR syntax error, LIMIT cannot be used without the special ~ option");
            return -1;
        }
    } else {
        a->limit = a->approx ? (long long)stream_default_approx_limit() : 0;
    }
    return i;
}

static uint64_t trim_by_args(stream *s, const trim_args *a) {
    return stream_trim(s, a->strategy, (uint64_t)a->maxlen, &a->minid, a->approx,
                       (uint64_t)a->limit);
}

/* The id XADD appends with (streamAppendItem's rules); ERR when not greater. */
static int next_add_id(const stream *s, const trim_args *a, stream_id *id) {
    if (a->id_given) {
        if (a->seq_given) {
            *id = a->id;
        } else if (s->last_id.ms == a->id.ms) {
            if (s->last_id.seq == UINT64_MAX) return ERR;
            *id = s->last_id;
            id->seq++;
        } else {
            *id = a->id;
        }
    } else if (stream_next_auto_id(s, (uint64_t)server_mstime(), id) != 0) {
        return ERR;
    }
    return stream_id_cmp(id, &s->last_id) > 0 ? OK : ERR;
}

void xadd_command(client *c) {
    trim_args a;
    int pos = parse_trim_or_reply(c, &a, 1);
    if (pos < 0) return;
    pos++;
    if (c->argc - pos < 2 || (c->argc - pos) % 2 == 1) {
        reply_errorf(c, "ERR wrong number of arguments for 'xadd' command");
        return;
    }
    if (a.id_given && a.seq_given && a.id.ms == 0 && a.id.seq == 0) {
        reply_error(c, "ERR The ID specified in XADD must be greater than 0-0");
        return;
    }
    const resp_arg *key = &c->argv[1];
    int err;
    kobj *o = lookup_write_typed(c, key, OBJ_STREAM, &err);
    if (err) return;
    if (!o) {
        if (a.nomkstream) {
            reply_null(c);
            return;
        }
        o = kobj_new_ptr(OBJ_STREAM, 0, key->p, key->len, stream_new());
        db_add(c->db, o);
    }
    stream *s = stream_of(o);
    if (s->last_id.ms == UINT64_MAX && s->last_id.seq == UINT64_MAX) {
        reply_error(c, "ERR The stream has exhausted the last possible ID, unable to add more "
                       "items");
        return;
    }
    stream_id id;
    if (next_add_id(s, &a, &id) != OK) {
        reply_error(c, "ERR The ID specified in XADD is equal or smaller than the target stream "
                       "top item");
        return;
    }
    size_t nf = (size_t)(c->argc - pos) / 2;
    const char **fv = xmalloc(nf * 2 * sizeof(char *));
    size_t *fl = xmalloc(nf * 2 * sizeof(size_t));
    for (size_t i = 0; i < nf * 2; i++) {
        fv[i] = c->argv[pos + (int)i].p;
        fl[i] = c->argv[pos + (int)i].len;
    }
    stream_append(s, &id, nf, fv, fl);
    xfree(fv);
    xfree(fl);
    reply_id(c, &id);
    signal_modified_key(c, c->db, key->p, key->len);
    notify_keyspace_event(NOTIFY_STREAM, "xadd", key->p, key->len, c->db->id);
    server_add_dirty(1);
    if (a.strategy && trim_by_args(s, &a))
        notify_keyspace_event(NOTIFY_STREAM, "xtrim", key->p, key->len, c->db->id);
    signal_key_as_ready(c->db, key->p, key->len);
}

void xtrim_command(client *c) {
    const resp_arg *key = &c->argv[1];
    trim_args a;
    if (parse_trim_or_reply(c, &a, 0) < 0) return;
    int err;
    kobj *o = lookup_write_typed(c, key, OBJ_STREAM, &err);
    if (err) return;
    if (!o) {
        reply_int(c, 0);
        return;
    }
    uint64_t deleted = trim_by_args(stream_of(o), &a);
    if (deleted) {
        notify_keyspace_event(NOTIFY_STREAM, "xtrim", key->p, key->len, c->db->id);
        signal_modified_key(c, c->db, key->p, key->len);
        server_add_dirty((long long)deleted);
    }
    reply_int(c, (long long)deleted);
}

/* ---- XLEN / XRANGE / XDEL / XSETID --------------------------------------------------------- */

void xlen_command(client *c) {
    int err;
    kobj *o = lookup_read_or_reply(c, &c->argv[1], OBJ_STREAM, &err);
    if (err) return;
    reply_int(c, o ? (long long)stream_of(o)->length : 0);
}

static void xrange_generic(client *c, int rev) {
    stream_id start, end;
    const resp_arg *sa = &c->argv[rev ? 3 : 2], *ea = &c->argv[rev ? 2 : 3];
    if (parse_range_or_reply(c, sa, ea, &start, &end) != OK) return;
    long long count = -1;
    for (int j = 4; j < c->argc; j++) {
        if (arg_is(&c->argv[j], "COUNT") && c->argc - j - 1 >= 1) {
            if (arg_ll_or_reply(c, &c->argv[j + 1], &count, NULL) != OK) return;
            if (count < 0) count = 0;
            j++;
        } else {
            reply_error(c, ERR_SYNTAX);
            return;
        }
    }
    int err;
    kobj *o = lookup_read_or_reply(c, &c->argv[1], OBJ_STREAM, &err);
    if (err) return;
    if (!o) {
        reply_empty_array(c);
        return;
    }
    if (count == 0) {
        reply_null_array(c);
        return;
    }
    reply_range(c, stream_of(o), &start, &end, count < 0 ? 0 : (size_t)count, rev, NULL, NULL, 0);
}

void xrange_command(client *c) {
    xrange_generic(c, 0);
}
void xrevrange_command(client *c) {
    xrange_generic(c, 1);
}

void xdel_command(client *c) {
    const resp_arg *key = &c->argv[1];
    int err;
    kobj *o = lookup_write_typed(c, key, OBJ_STREAM, &err);
    if (err) return;
    if (!o) {
        reply_int(c, 0);
        return;
    }
    int n = c->argc - 2;
    stream_id *ids = xmalloc((size_t)n * sizeof(stream_id));
    for (int j = 0; j < n; j++)
        if (parse_id_or_reply(c, &c->argv[j + 2], &ids[j], 0, 1, NULL) != OK) goto done;
    long long deleted = 0;
    stream *s = stream_of(o);
    for (int j = 0; j < n; j++) deleted += stream_delete(s, &ids[j]);
    if (deleted) {
        signal_modified_key(c, c->db, key->p, key->len);
        notify_keyspace_event(NOTIFY_STREAM, "xdel", key->p, key->len, c->db->id);
        server_add_dirty(deleted);
    }
    reply_int(c, deleted);
done:
    xfree(ids);
}

void xsetid_command(client *c) {
    stream_id id, maxdel = {0, 0};
    long long added = -1;
    if (parse_id_or_reply(c, &c->argv[2], &id, 0, 1, NULL) != OK) return;
    for (int i = 3; i < c->argc; i += 2) {
        int more = c->argc - 1 - i;
        if (arg_is(&c->argv[i], "ENTRIESADDED") && more) {
            if (arg_ll_or_reply(c, &c->argv[i + 1], &added, NULL) != OK) return;
            if (added < 0) {
                reply_error(c, "ERR entries_added must be positive");
                return;
            }
        } else if (arg_is(&c->argv[i], "MAXDELETEDID") && more) {
            if (parse_id_or_reply(c, &c->argv[i + 1], &maxdel, 0, 1, NULL) != OK) return;
            if (stream_id_cmp(&id, &maxdel) < 0) {
                reply_error(c, "ERR The ID specified in XSETID is smaller than the provided "
                               "max_deleted_entry_id");
                return;
            }
        } else {
            reply_error(c, ERR_SYNTAX);
            return;
        }
    }
    const resp_arg *key = &c->argv[1];
    int err;
    kobj *o = lookup_write_typed(c, key, OBJ_STREAM, &err);
    if (err) return;
    if (!o) {
        reply_error(c, ERR_NO_KEY);
        return;
    }
    stream *s = stream_of(o);
    if (s->length > 0) {
        stream_id maxid;
        stream_edge_id(s, 1, &maxid);
        if (stream_id_cmp(&id, &maxid) < 0) {
            reply_error(c, "ERR The ID specified in XSETID is smaller than the target stream top "
                           "item");
            return;
        }
        if (added != -1 && s->length > (uint64_t)added) {
            reply_error(c, "ERR The entries_added specified in XSETID is smaller than the target "
                           "stream length");
            return;
        }
    }
    s->last_id = id;
    if (added != -1) s->entries_added = (uint64_t)added;
    if (maxdel.ms || maxdel.seq) s->max_deleted_id = maxdel;
    reply_ok(c);
    server_add_dirty(1);
    notify_keyspace_event(NOTIFY_STREAM, "xsetid", key->p, key->len, c->db->id);
}

/* ---- XREAD / XREADGROUP -------------------------------------------------------------------- */

/* What a blocked reader waits for: the id per key it reads after. */
typedef struct xread_wait {
    int n;
    stream_id ids[];
} xread_wait;

static void xread_unblock(client *c) {
    xfree(c->bstate.priv);
    c->bstate.priv = NULL;
}

typedef struct xread_args {
    long long timeout; /* -1: no BLOCK */
    long long count;
    int streams_arg, nstreams, noack;
    const resp_arg *group, *consumer;
} xread_args;

static int parse_xread_or_reply(client *c, int xreadgroup, xread_args *a) {
    memset(a, 0, sizeof(*a));
    a->timeout = -1;
    for (int i = 1; i < c->argc; i++) {
        int more = c->argc - i - 1;
        const resp_arg *o = &c->argv[i];
        if (arg_is(o, "BLOCK") && more) {
            if (server_in_script()) {
                reply_errorf(c, "ERR %.*s command is not allowed with BLOCK option from scripts",
                             (int)c->argv[0].len, c->argv[0].p);
                return ERR;
            }
            i++;
            long long ms;
            if (arg_ll_or_reply(c, &c->argv[i], &ms,
                                "ERR timeout is not an integer or out of "
                                "range") != OK)
                return ERR;
            if (ms < 0) {
                reply_error(c, "ERR timeout is negative");
                return ERR;
            }
            a->timeout = ms;
        } else if (arg_is(o, "COUNT") && more) {
            i++;
            if (arg_ll_or_reply(c, &c->argv[i], &a->count, NULL) != OK) return ERR;
            if (a->count < 0) a->count = 0;
        } else if (arg_is(o, "STREAMS") && more) {
            a->streams_arg = i + 1;
            a->nstreams = c->argc - a->streams_arg;
            if (a->nstreams % 2) {
                /* Redis 7.0's text, XREADGROUP's included */
                reply_error(c, "ERR Unbalanced XREAD list of streams: for each stream key an ID "
                               "or '$' must be specified.");
                return ERR;
            }
            a->nstreams /= 2;
            break;
        } else if (arg_is(o, "GROUP") && more >= 2) {
            if (!xreadgroup) {
                reply_error(c, "ERR The GROUP option is only supported by XREADGROUP. You called "
                               "XREAD instead.");
                return ERR;
            }
            a->group = &c->argv[i + 1];
            a->consumer = &c->argv[i + 2];
            i += 2;
        } else if (arg_is(o, "NOACK")) {
            if (!xreadgroup) {
                reply_error(c, "ERR The NOACK option is only supported by XREADGROUP. You called "
                               "XREAD instead.");
                return ERR;
            }
            a->noack = 1;
        } else {
            reply_error(c, ERR_SYNTAX);
            return ERR;
        }
    }
    if (!a->streams_arg) {
        reply_error(c, ERR_SYNTAX);
        return ERR;
    }
    if (xreadgroup && !a->group) {
        reply_error(c, "ERR Missing GROUP option for XREADGROUP");
        return ERR;
    }
    return OK;
}

/* Resolves the ids ("$", ">", explicit) and the groups; replies on error. */
static int resolve_xread_ids_or_reply(client *c, const xread_args *a, stream_id *ids,
                                      stream_cg **groups) {
    stream_id max = {UINT64_MAX, UINT64_MAX};
    for (int k = 0; k < a->nstreams; k++) {
        const resp_arg *key = &c->argv[a->streams_arg + k];
        const resp_arg *ida = &c->argv[a->streams_arg + a->nstreams + k];
        int err;
        kobj *o = lookup_read_or_reply(c, key, OBJ_STREAM, &err);
        if (err) return ERR;
        if (a->group) {
            stream_cg *g = group_of(o, a->group);
            if (!g) {
                reply_errorf(c,
                             "NOGROUP No such key '%.*s' or consumer group '%.*s' in XREADGROUP "
                             "with GROUP option",
                             (int)key->len, key->p, (int)a->group->len, a->group->p);
                return ERR;
            }
            groups[k] = g;
        }
        if (ida->len == 1 && ida->p[0] == '$') {
            if (a->group) {
                reply_error(c, "ERR The $ ID is meaningless in the context of XREADGROUP: you want "
                               "to read the history of this consumer by specifying a proper ID, "
                               "or use the > ID to get new messages. The $ ID would just return "
                               "an empty result set.");
                return ERR;
            }
            ids[k] = o ? stream_of(o)->last_id : (stream_id){0, 0};
            continue;
        }
        if (ida->len == 1 && ida->p[0] == '>') {
            if (!a->group) {
                reply_error(c, "ERR The > ID can be specified only when calling XREADGROUP using "
                               "the GROUP <group> <consumer> option.");
                return ERR;
            }
            ids[k] = max;
            continue;
        }
        if (parse_id_or_reply(c, ida, &ids[k], 0, 1, NULL) != OK) return ERR;
    }
    return OK;
}

/* Serves key k now if it has something for the reader; 1 if it replied. */
static int xread_serve_key(client *c, const xread_args *a, int k, stream_id *gt, stream_cg *g,
                           int *arraylen, void **h) {
    const resp_arg *key = &c->argv[a->streams_arg + k];
    kobj *o = lookup_read(c, key);
    if (!o || o->type != OBJ_STREAM) return 0;
    stream *s = stream_of(o);
    int history = 0, serve = 0;
    stream_id max = {UINT64_MAX, UINT64_MAX};
    if (g) {
        if (stream_id_cmp(gt, &max) != 0) {
            serve = history = 1;
        } else if (s->length) {
            stream_id last;
            stream_edge_id(s, 1, &last);
            if (stream_id_cmp(&last, &g->last_id) > 0) {
                serve = 1;
                *gt = g->last_id;
            }
        }
    } else if (s->length) {
        stream_id last;
        stream_edge_id(s, 1, &last);
        serve = stream_id_cmp(&last, gt) > 0;
    }
    if (!serve) return 0;
    if (++*arraylen == 1) *h = reply_defer_len(c);
    stream_id start = *gt;
    stream_id_incr(&start);
    if (c->resp == 2) reply_array(c, 2);
    reply_bulk(c, key->p, key->len);
    stream_consumer *cons = g ? consumer_lookup_or_create(c, g, a->consumer, key) : NULL;
    if (history)
        reply_consumer_history(c, s, &start, (size_t)a->count, cons);
    else
        reply_range(c, s, &start, &max, (size_t)a->count, 0, g, cons, a->noack);
    if (g) server_add_dirty(1);
    return 1;
}

/* The re-run of a blocked reader for its ready key. */
static void xread_reprocess(client *c, const xread_args *a) {
    size_t rlen;
    const char *rkey = blocked_ready_key(&rlen);
    xread_wait *w = c->bstate.priv;
    for (int k = 0; k < a->nstreams && rkey; k++) {
        const resp_arg *key = &c->argv[a->streams_arg + k];
        if (key->len != rlen || memcmp(key->p, rkey, rlen) != 0) continue;
        kobj *o = lookup_read(c, key);
        stream_cg *g = NULL;
        if (a->group) {
            if (!o || o->type != OBJ_STREAM) {
                reply_error(c, "UNBLOCKED the stream key no longer exists");
                return;
            }
            g = group_of(o, a->group);
            if (!g) {
                reply_error(c, "NOGROUP the consumer group this client was blocked on no longer "
                               "exists");
                return;
            }
            w->ids[k] = g->last_id;
        }
        if (!o || o->type != OBJ_STREAM || stream_id_cmp(&stream_of(o)->last_id, &w->ids[k]) <= 0)
            break;
        xread_args one = *a;
        one.count = a->count ? a->count : XREAD_BLOCKED_DEFAULT_COUNT;
        stream_id start = w->ids[k], max = {UINT64_MAX, UINT64_MAX};
        stream_id_incr(&start);
        stream_consumer *cons = g ? consumer_lookup_or_create(c, g, a->consumer, key) : NULL;
        if (c->resp == 2) {
            reply_array(c, 1);
            reply_array(c, 2);
        } else {
            reply_map(c, 1);
        }
        reply_bulk(c, key->p, key->len);
        reply_range(c, stream_of(o), &start, &max, (size_t)one.count, 0, g, cons, a->noack);
        if (g) server_add_dirty(1);
        return;
    }
    block_for_keys(c, BLOCKED_STREAM, &c->argv[a->streams_arg], a->nstreams, 0, NULL);
}

static void xread_generic(client *c, int xreadgroup) {
    xread_args a;
    if (parse_xread_or_reply(c, xreadgroup, &a) != OK) return;
    if (blocked_is_reprocessing()) {
        xread_reprocess(c, &a);
        return;
    }
    stream_id *ids = xmalloc((size_t)a.nstreams * sizeof(stream_id));
    stream_cg **groups = xcalloc((size_t)a.nstreams, sizeof(stream_cg *));
    if (resolve_xread_ids_or_reply(c, &a, ids, groups) != OK) goto done;
    int arraylen = 0;
    void *h = NULL;
    for (int k = 0; k < a.nstreams; k++)
        xread_serve_key(c, &a, k, &ids[k], groups[k], &arraylen, &h);
    if (arraylen) {
        if (c->resp == 2)
            reply_set_deferred_array(c, h, arraylen);
        else
            reply_set_deferred_map(c, h, arraylen);
        goto done;
    }
    if (a.timeout != -1) {
        if (!client_can_block(c)) {
            reply_null_array(c);
            goto done;
        }
        xread_wait *w = xmalloc(sizeof(*w) + (size_t)a.nstreams * sizeof(stream_id));
        w->n = a.nstreams;
        memcpy(w->ids, ids, (size_t)a.nstreams * sizeof(stream_id));
        int64_t deadline = a.timeout ? server_mstime() + a.timeout : 0;
        block_for_keys(c, BLOCKED_STREAM, &c->argv[a.streams_arg], a.nstreams, deadline, w);
        c->bstate.on_unblock = xread_unblock;
        goto done;
    }
    reply_null_array(c);
done:
    xfree(ids);
    xfree(groups);
}

void xread_command(client *c) {
    xread_generic(c, 0);
}
void xreadgroup_command(client *c) {
    xread_generic(c, 1);
}

/* ---- XGROUP --------------------------------------------------------------------------------- */

/* The common part of xgroupCommand: options, the key, the group. Replies and
 * returns ERR on error; *o may be NULL only with MKSTREAM. */
static int xgroup_prologue(client *c, int create, int setid, int need_group, int *mkstream,
                           long long *entries_read, kobj **o, stream_cg **g) {
    *mkstream = 0;
    *entries_read = -1;
    for (int i = 5; i < c->argc;) {
        if (create && arg_is(&c->argv[i], "MKSTREAM")) {
            *mkstream = 1;
            i++;
        } else if ((create || setid) && arg_is(&c->argv[i], "ENTRIESREAD") && i + 1 < c->argc) {
            if (arg_ll_or_reply(c, &c->argv[i + 1], entries_read, NULL) != OK) return ERR;
            if (*entries_read < 0 && *entries_read != -1) {
                reply_error(c, "ERR value for ENTRIESREAD must be positive or -1");
                return ERR;
            }
            i += 2;
        } else {
            reply_subcommand_syntax_error(c);
            return ERR;
        }
    }
    const resp_arg *key = &c->argv[2], *gname = &c->argv[3];
    int err;
    *o = lookup_write_typed(c, key, OBJ_STREAM, &err);
    if (err) return ERR;
    *g = NULL;
    if (*mkstream) return OK;
    if (!*o) {
        reply_error(c, "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE "
                       "you may want to use the MKSTREAM option to create an empty stream "
                       "automatically.");
        return ERR;
    }
    *g = group_of(*o, gname);
    if (!*g && need_group) {
        reply_errorf(c, "NOGROUP No such consumer group '%.*s' for key name '%.*s'",
                     (int)gname->len, gname->p, (int)key->len, key->p);
        return ERR;
    }
    return OK;
}

void xgroup_create_command(client *c) {
    int mk;
    long long er;
    kobj *o;
    stream_cg *g;
    if (c->argc > 8) {
        reply_subcommand_syntax_error(c);
        return;
    }
    if (xgroup_prologue(c, 1, 0, 0, &mk, &er, &o, &g) != OK) return;
    const resp_arg *key = &c->argv[2], *gname = &c->argv[3], *ida = &c->argv[4];
    stream_id id;
    if (ida->len == 1 && ida->p[0] == '$')
        id = o ? stream_of(o)->last_id : (stream_id){0, 0};
    else if (parse_id_or_reply(c, ida, &id, 0, 1, NULL) != OK)
        return;
    if (!o) {
        o = kobj_new_ptr(OBJ_STREAM, 0, key->p, key->len, stream_new());
        db_add(c->db, o);
        signal_modified_key(c, c->db, key->p, key->len);
    }
    if (stream_cg_create(stream_of(o), gname->p, gname->len, &id, er)) {
        reply_ok(c);
        server_add_dirty(1);
        notify_keyspace_event(NOTIFY_STREAM, "xgroup-create", key->p, key->len, c->db->id);
    } else {
        reply_error(c, "BUSYGROUP Consumer Group name already exists");
    }
}

void xgroup_setid_command(client *c) {
    int mk;
    long long er;
    kobj *o;
    stream_cg *g;
    if (c->argc != 5 && c->argc != 7) {
        reply_subcommand_syntax_error(c);
        return;
    }
    if (xgroup_prologue(c, 0, 1, 1, &mk, &er, &o, &g) != OK) return;
    const resp_arg *key = &c->argv[2], *ida = &c->argv[4];
    stream_id id;
    if (ida->len == 1 && ida->p[0] == '$')
        id = stream_of(o)->last_id;
    else if (parse_id_or_reply(c, ida, &id, 0, 0, NULL) != OK)
        return;
    g->last_id = id;
    g->entries_read = er;
    reply_ok(c);
    server_add_dirty(1);
    notify_keyspace_event(NOTIFY_STREAM, "xgroup-setid", key->p, key->len, c->db->id);
}

void xgroup_destroy_command(client *c) {
    int mk;
    long long er;
    kobj *o;
    stream_cg *g;
    if (xgroup_prologue(c, 0, 0, 0, &mk, &er, &o, &g) != OK) return;
    const resp_arg *key = &c->argv[2];
    if (!g) {
        reply_int(c, 0);
        return;
    }
    stream_cg_destroy(stream_of(o), g);
    reply_int(c, 1);
    server_add_dirty(1);
    notify_keyspace_event(NOTIFY_STREAM, "xgroup-destroy", key->p, key->len, c->db->id);
    signal_key_as_ready(c->db, key->p, key->len);
}

void xgroup_createconsumer_command(client *c) {
    int mk;
    long long er;
    kobj *o;
    stream_cg *g;
    if (xgroup_prologue(c, 0, 0, 1, &mk, &er, &o, &g) != OK) return;
    const resp_arg *key = &c->argv[2], *name = &c->argv[4];
    if (stream_consumer_find(g, name->p, name->len)) {
        reply_int(c, 0);
        return;
    }
    stream_consumer_create(g, name->p, name->len, server_mstime());
    server_add_dirty(1);
    notify_keyspace_event(NOTIFY_STREAM, "xgroup-createconsumer", key->p, key->len, c->db->id);
    reply_int(c, 1);
}

void xgroup_delconsumer_command(client *c) {
    int mk;
    long long er;
    kobj *o;
    stream_cg *g;
    if (xgroup_prologue(c, 0, 0, 1, &mk, &er, &o, &g) != OK) return;
    const resp_arg *key = &c->argv[2], *name = &c->argv[4];
    stream_consumer *cons = stream_consumer_find(g, name->p, name->len);
    long long pending = 0;
    if (cons) {
        pending = (long long)stream_consumer_delete(g, cons);
        server_add_dirty(1);
        notify_keyspace_event(NOTIFY_STREAM, "xgroup-delconsumer", key->p, key->len, c->db->id);
    }
    reply_int(c, pending);
}

void xgroup_help_command(client *c) {
    static const char *const help[] = {"CREATE <key> <groupname> <id|$> [option]",
                                       "    Create a new consumer group. Options are:",
                                       "    * MKSTREAM",
                                       "      Create the empty stream if it does not exist.",
                                       "    * ENTRIESREAD entries_read",
                                       "      Set the group's entries_read counter (internal use).",
                                       "CREATECONSUMER <key> <groupname> <consumer>",
                                       "    Create a new consumer in the specified group.",
                                       "DELCONSUMER <key> <groupname> <consumer>",
                                       "    Remove the specified consumer.",
                                       "DESTROY <key> <groupname>",
                                       "    Remove the specified group.",
                                       "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
                                       "    Set the current group ID and entries_read counter.",
                                       NULL};
    reply_help(c, "XGROUP", help);
}

/* ---- XACK / XPENDING --------------------------------------------------------------------------
 */

void xack_command(client *c) {
    int err;
    kobj *o = lookup_read_or_reply(c, &c->argv[1], OBJ_STREAM, &err);
    if (err) return;
    stream_cg *g = group_of(o, &c->argv[2]);
    if (!g) {
        reply_int(c, 0);
        return;
    }
    int n = c->argc - 3;
    stream_id *ids = xmalloc((size_t)n * sizeof(stream_id));
    for (int j = 0; j < n; j++)
        if (parse_id_or_reply(c, &c->argv[j + 3], &ids[j], 0, 1, NULL) != OK) goto done;
    long long acked = 0;
    for (int j = 0; j < n; j++) {
        stream_nack *nack = stream_pel_find(&g->pel, &ids[j], NULL);
        if (!nack) continue;
        stream_nack_ack(g, nack);
        acked++;
        server_add_dirty(1);
    }
    reply_int(c, acked);
done:
    xfree(ids);
}

static void xpending_summary(client *c, const stream_cg *g) {
    reply_array(c, 4);
    reply_int(c, (long long)g->pel.n);
    if (!g->pel.n) {
        reply_null(c);
        reply_null(c);
        reply_null_array(c);
        return;
    }
    reply_id(c, &g->pel.v[0]->id);
    reply_id(c, &g->pel.v[g->pel.n - 1]->id);
    long n = 0;
    for (size_t i = 0; i < g->nconsumers; i++) n += g->consumers[i]->pel.n > 0;
    reply_array(c, n);
    for (size_t i = 0; i < g->nconsumers; i++) {
        const stream_consumer *k = g->consumers[i];
        if (!k->pel.n) continue;
        reply_array(c, 2);
        reply_bulk(c, k->name, k->nlen);
        reply_bulk_ll(c, (long long)k->pel.n);
    }
}

void xpending_command(client *c) {
    int justinfo = c->argc == 3;
    stream_id start, end;
    long long count = 0, minidle = 0;
    const resp_arg *cname = NULL;
    if (c->argc != 3 && (c->argc < 6 || c->argc > 9)) {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    if (c->argc >= 6) {
        int si = 3;
        if (arg_is(&c->argv[3], "IDLE")) {
            if (arg_ll_or_reply(c, &c->argv[4], &minidle, NULL) != OK) return;
            if (c->argc < 8) {
                reply_error(c, ERR_SYNTAX);
                return;
            }
            si += 2;
        }
        if (arg_ll_or_reply(c, &c->argv[si + 2], &count, NULL) != OK) return;
        if (count < 0) count = 0;
        if (parse_range_or_reply(c, &c->argv[si], &c->argv[si + 1], &start, &end) != OK) return;
        if (si + 3 < c->argc) cname = &c->argv[si + 3];
    }
    const resp_arg *key = &c->argv[1], *gname = &c->argv[2];
    int err;
    kobj *o = lookup_read_or_reply(c, key, OBJ_STREAM, &err);
    if (err) return;
    stream_cg *g = group_of(o, gname);
    if (!g) {
        reply_errorf(c, "NOGROUP No such key '%.*s' or consumer group '%.*s'", (int)key->len,
                     key->p, (int)gname->len, gname->p);
        return;
    }
    if (justinfo) {
        xpending_summary(c, g);
        return;
    }
    const stream_pel *pel = &g->pel;
    if (cname) {
        stream_consumer *k = stream_consumer_find(g, cname->p, cname->len);
        if (!k) {
            reply_empty_array(c);
            return;
        }
        pel = &k->pel;
    }
    int64_t now = server_mstime();
    void *h = reply_defer_len(c);
    long n = 0;
    for (size_t i = stream_pel_lower(pel, &start); count && i < pel->n; i++) {
        const stream_nack *nack = pel->v[i];
        if (stream_id_cmp(&nack->id, &end) > 0) break;
        if (minidle && now - nack->delivery_time < minidle) continue;
        n++;
        count--;
        reply_array(c, 4);
        reply_id(c, &nack->id);
        reply_bulk(c, nack->consumer->name, nack->consumer->nlen);
        int64_t elapsed = now - nack->delivery_time;
        reply_int(c, elapsed < 0 ? 0 : elapsed);
        reply_int(c, (long long)nack->delivery_count);
    }
    reply_set_deferred_array(c, h, n);
}

/* ---- XCLAIM / XAUTOCLAIM ----------------------------------------------------------------------
 */

/* Moves nack to cons (created on first use) with its delivery time and count. */
static stream_consumer *claim_nack(client *c, stream_cg *g, stream_consumer *cons,
                                   stream_nack *nack, int64_t when, long long retry, int justid) {
    if (!cons) cons = consumer_lookup_or_create(c, g, &c->argv[3], &c->argv[1]);
    if (nack->consumer != cons && nack->consumer)
        stream_pel_remove(&nack->consumer->pel, &nack->id);
    nack->delivery_time = when;
    if (retry >= 0)
        nack->delivery_count = (uint64_t)retry;
    else if (!justid)
        nack->delivery_count++;
    if (nack->consumer != cons) {
        stream_pel_insert(&cons->pel, nack);
        nack->consumer = cons;
    }
    return cons;
}

typedef struct xclaim_opts {
    int force, justid;
    long long retry;
    int64_t when; /* -1: not given */
    stream_id lastid;
} xclaim_opts;

static int parse_xclaim_opts_or_reply(client *c, int j, int64_t now, xclaim_opts *x) {
    x->force = x->justid = 0;
    x->retry = -1;
    x->when = -1;
    x->lastid = (stream_id){0, 0};
    for (; j < c->argc; j++) {
        int more = c->argc - 1 - j;
        const resp_arg *o = &c->argv[j];
        long long v;
        if (arg_is(o, "FORCE")) {
            x->force = 1;
        } else if (arg_is(o, "JUSTID")) {
            x->justid = 1;
        } else if (arg_is(o, "IDLE") && more) {
            if (arg_ll_or_reply(c, &c->argv[++j], &v,
                                "ERR Invalid IDLE option argument for "
                                "XCLAIM") != OK)
                return ERR;
            x->when = now - v;
        } else if (arg_is(o, "TIME") && more) {
            if (arg_ll_or_reply(c, &c->argv[++j], &v,
                                "ERR Invalid TIME option argument for "
                                "XCLAIM") != OK)
                return ERR;
            x->when = v;
        } else if (arg_is(o, "RETRYCOUNT") && more) {
            if (arg_ll_or_reply(c, &c->argv[++j], &x->retry,
                                "ERR Invalid RETRYCOUNT option "
                                "argument for XCLAIM") != OK)
                return ERR;
        } else if (arg_is(o, "LASTID") && more) {
            if (parse_id_or_reply(c, &c->argv[++j], &x->lastid, 0, 1, NULL) != OK) return ERR;
        } else {
            reply_errorf(c, "ERR Unrecognized XCLAIM option '%.*s'", (int)o->len, o->p);
            return ERR;
        }
    }
    return OK;
}

void xclaim_command(client *c) {
    const resp_arg *key = &c->argv[1], *gname = &c->argv[2];
    int err;
    kobj *o = lookup_read_or_reply(c, key, OBJ_STREAM, &err);
    if (err) return;
    stream_cg *g = group_of(o, gname);
    if (!g) {
        reply_errorf(c, "NOGROUP No such key '%.*s' or consumer group '%.*s'", (int)key->len,
                     key->p, (int)gname->len, gname->p);
        return;
    }
    long long minidle;
    if (arg_ll_or_reply(c, &c->argv[4], &minidle,
                        "ERR Invalid min-idle-time argument for XCLAIM") != OK)
        return;
    if (minidle < 0) minidle = 0;
    int n = c->argc - 5, j;
    stream_id *ids = xmalloc((size_t)(n > 0 ? n : 1) * sizeof(stream_id));
    for (j = 5; j < c->argc; j++)
        if (parse_id_or_reply(NULL, &c->argv[j], &ids[j - 5], 0, 1, NULL) != OK) break;
    int nids = j - 5;
    int64_t now = server_mstime();
    xclaim_opts x;
    if (parse_xclaim_opts_or_reply(c, j, now, &x) != OK) goto done;
    if (stream_id_cmp(&x.lastid, &g->last_id) > 0) g->last_id = x.lastid;
    if (x.when == -1 || x.when < 0 || x.when > now) x.when = now;
    stream *s = stream_of(o);
    stream_consumer *cons = NULL;
    void *h = reply_defer_len(c);
    long replied = 0;
    for (int i = 0; i < nids; i++) {
        stream_nack *nack = stream_pel_find(&g->pel, &ids[i], NULL);
        if (!stream_has_entry(s, &ids[i])) {
            if (nack) {
                stream_nack_ack(g, nack);
                server_add_dirty(1);
            }
            continue;
        }
        if (x.force && !nack) {
            nack = stream_nack_new(&ids[i], NULL, now);
            stream_pel_insert(&g->pel, nack);
        }
        if (!nack) continue;
        if (nack->consumer && minidle && now - nack->delivery_time < minidle) continue;
        cons = claim_nack(c, g, cons, nack, x.when, x.retry, x.justid);
        if (x.justid)
            reply_id(c, &ids[i]);
        else
            reply_one_entry(c, s, &ids[i]);
        replied++;
        server_add_dirty(1);
    }
    reply_set_deferred_array(c, h, replied);
done:
    xfree(ids);
}

void xautoclaim_command(client *c) {
    const resp_arg *key = &c->argv[1], *gname = &c->argv[2];
    long long minidle, count = 100;
    stream_id start;
    int ex, justid = 0;
    if (arg_ll_or_reply(c, &c->argv[4], &minidle,
                        "ERR Invalid min-idle-time argument for XAUTOCLAIM") != OK)
        return;
    if (minidle < 0) minidle = 0;
    if (parse_interval_or_reply(c, &c->argv[5], &start, &ex, 0) != OK) return;
    if (ex && stream_id_incr(&start) != 0) {
        reply_error(c, "ERR invalid start ID for the interval");
        return;
    }
    for (int j = 6; j < c->argc; j++) {
        if (arg_is(&c->argv[j], "COUNT") && c->argc - 1 - j) {
            if (arg_long_range_or_reply(c, &c->argv[j + 1], 1, LONG_MAX / 16, &count,
                                        "ERR COUNT must be > 0") != OK)
                return;
            j++;
        } else if (arg_is(&c->argv[j], "JUSTID")) {
            justid = 1;
        } else {
            reply_error(c, ERR_SYNTAX);
            return;
        }
    }
    int err;
    kobj *o = lookup_read_or_reply(c, key, OBJ_STREAM, &err);
    if (err) return;
    stream_cg *g = group_of(o, gname);
    if (!g) {
        reply_errorf(c, "NOGROUP No such key '%.*s' or consumer group '%.*s'", (int)key->len,
                     key->p, (int)gname->len, gname->p);
        return;
    }
    stream *s = stream_of(o);
    long long attempts = count * 10;
    size_t cap = (size_t)(count < 1024 ? count : 1024);
    stream_id *deleted = xmalloc(cap * sizeof(stream_id));
    stream_id *claimed = xmalloc(cap * sizeof(stream_id));
    size_t ndel = 0, delcap = cap, nclaimed = 0, clcap = cap;
    int64_t now = server_mstime();
    stream_consumer *cons = NULL;
    size_t i = stream_pel_lower(&g->pel, &start);
    while (attempts-- && count && i < g->pel.n) {
        stream_nack *nack = g->pel.v[i];
        stream_id id = nack->id;
        if (!stream_has_entry(s, &id)) {
            stream_nack_ack(g, nack);
            server_add_dirty(1);
            if (ndel == delcap) deleted = xrealloc(deleted, (delcap *= 2) * sizeof(stream_id));
            deleted[ndel++] = id;
            count--;
            continue;
        }
        i++;
        if (minidle && now - nack->delivery_time < minidle) continue;
        cons = claim_nack(c, g, cons, nack, now, -1, justid);
        if (nclaimed == clcap) claimed = xrealloc(claimed, (clcap *= 2) * sizeof(stream_id));
        claimed[nclaimed++] = id;
        count--;
        server_add_dirty(1);
    }
    stream_id endid = i < g->pel.n ? g->pel.v[i]->id : (stream_id){0, 0};
    reply_array(c, 3);
    reply_id(c, &endid);
    reply_array(c, (long)nclaimed);
    for (size_t k = 0; k < nclaimed; k++) {
        if (justid)
            reply_id(c, &claimed[k]);
        else
            reply_one_entry(c, s, &claimed[k]);
    }
    reply_array(c, (long)ndel);
    for (size_t k = 0; k < ndel; k++) reply_id(c, &deleted[k]);
    xfree(deleted);
    xfree(claimed);
}

/* ---- XINFO -------------------------------------------------------------------------------------
 */

static kobj *xinfo_lookup(client *c) {
    int err;
    kobj *o = lookup_read_or_reply(c, &c->argv[2], OBJ_STREAM, &err);
    if (err) return NULL;
    if (!o) reply_error(c, ERR_NO_KEY);
    return o;
}

static void reply_lag(client *c, const stream *s, const stream_cg *g) {
    long long lag;
    if (stream_cg_lag(s, g, &lag))
        reply_int(c, lag);
    else
        reply_null(c);
}

static void reply_entries_read(client *c, const stream_cg *g) {
    if (g->entries_read != -1)
        reply_int(c, g->entries_read);
    else
        reply_null(c);
}

void xinfo_consumers_command(client *c) {
    kobj *o = xinfo_lookup(c);
    if (!o) return;
    const resp_arg *gname = &c->argv[3], *key = &c->argv[2];
    stream_cg *g = group_of(o, gname);
    if (!g) {
        reply_errorf(c, "NOGROUP No such consumer group '%.*s' for key name '%.*s'",
                     (int)gname->len, gname->p, (int)key->len, key->p);
        return;
    }
    int64_t now = server_mstime();
    reply_array(c, (long)g->nconsumers);
    for (size_t i = 0; i < g->nconsumers; i++) {
        const stream_consumer *k = g->consumers[i];
        int64_t idle = now - k->seen_time;
        reply_map(c, 3);
        reply_bulk_cstr(c, "name");
        reply_bulk(c, k->name, k->nlen);
        reply_bulk_cstr(c, "pending");
        reply_int(c, (long long)k->pel.n);
        reply_bulk_cstr(c, "idle");
        reply_int(c, idle < 0 ? 0 : idle);
    }
}

void xinfo_groups_command(client *c) {
    kobj *o = xinfo_lookup(c);
    if (!o) return;
    const stream *s = stream_of(o);
    reply_array(c, (long)s->ngroups);
    for (size_t i = 0; i < s->ngroups; i++) {
        const stream_cg *g = s->groups[i];
        reply_map(c, 6);
        reply_bulk_cstr(c, "name");
        reply_bulk(c, g->name, g->nlen);
        reply_bulk_cstr(c, "consumers");
        reply_int(c, (long long)g->nconsumers);
        reply_bulk_cstr(c, "pending");
        reply_int(c, (long long)g->pel.n);
        reply_bulk_cstr(c, "last-delivered-id");
        reply_id(c, &g->last_id);
        reply_bulk_cstr(c, "entries-read");
        reply_entries_read(c, g);
        reply_bulk_cstr(c, "lag");
        reply_lag(c, s, g);
    }
}

static void xinfo_full_group(client *c, const stream *s, const stream_cg *g, long long count) {
    reply_map(c, 7);
    reply_bulk_cstr(c, "name");
    reply_bulk(c, g->name, g->nlen);
    reply_bulk_cstr(c, "last-delivered-id");
    reply_id(c, &g->last_id);
    reply_bulk_cstr(c, "entries-read");
    reply_entries_read(c, g);
    reply_bulk_cstr(c, "lag");
    reply_lag(c, s, g);
    reply_bulk_cstr(c, "pel-count");
    reply_int(c, (long long)g->pel.n);
    reply_bulk_cstr(c, "pending");
    size_t n = count && (size_t)count < g->pel.n ? (size_t)count : g->pel.n;
    reply_array(c, (long)n);
    for (size_t i = 0; i < n; i++) {
        const stream_nack *nack = g->pel.v[i];
        reply_array(c, 4);
        reply_id(c, &nack->id);
        reply_bulk(c, nack->consumer->name, nack->consumer->nlen);
        reply_int(c, nack->delivery_time);
        reply_int(c, (long long)nack->delivery_count);
    }
    reply_bulk_cstr(c, "consumers");
    reply_array(c, (long)g->nconsumers);
    for (size_t i = 0; i < g->nconsumers; i++) {
        const stream_consumer *k = g->consumers[i];
        reply_map(c, 4);
        reply_bulk_cstr(c, "name");
        reply_bulk(c, k->name, k->nlen);
        reply_bulk_cstr(c, "seen-time");
        reply_int(c, k->seen_time);
        reply_bulk_cstr(c, "pel-count");
        reply_int(c, (long long)k->pel.n);
        reply_bulk_cstr(c, "pending");
        size_t m = count && (size_t)count < k->pel.n ? (size_t)count : k->pel.n;
        reply_array(c, (long)m);
        for (size_t j = 0; j < m; j++) {
            reply_array(c, 3);
            reply_id(c, &k->pel.v[j]->id);
            reply_int(c, k->pel.v[j]->delivery_time);
            reply_int(c, (long long)k->pel.v[j]->delivery_count);
        }
    }
}

void xinfo_stream_command(client *c) {
    int full = 0;
    long long count = 10;
    int optc = c->argc - 3;
    if (optc) {
        if ((optc != 1 && optc != 3) || !arg_is(&c->argv[3], "full") ||
            (optc == 3 && !arg_is(&c->argv[4], "count"))) {
            reply_subcommand_syntax_error(c);
            return;
        }
        if (optc == 3) {
            if (arg_ll_or_reply(c, &c->argv[5], &count, NULL) != OK) return;
            if (count < 0) count = 10;
        }
        full = 1;
    }
    kobj *o = xinfo_lookup(c);
    if (!o) return;
    stream *s = stream_of(o);
    reply_map(c, full ? 9 : 10);
    reply_bulk_cstr(c, "length");
    reply_int(c, (long long)s->length);
    /* Redis's radix tree: one key per listpack node; the node count is ours */
    reply_bulk_cstr(c, "radix-tree-keys");
    reply_int(c, (long long)s->nblocks);
    reply_bulk_cstr(c, "radix-tree-nodes");
    reply_int(c, (long long)s->nblocks + 1);
    reply_bulk_cstr(c, "last-generated-id");
    reply_id(c, &s->last_id);
    reply_bulk_cstr(c, "max-deleted-entry-id");
    reply_id(c, &s->max_deleted_id);
    reply_bulk_cstr(c, "entries-added");
    reply_int(c, (long long)s->entries_added);
    reply_bulk_cstr(c, "recorded-first-entry-id");
    reply_id(c, &s->first_id);
    stream_id lo = {0, 0}, hi = {UINT64_MAX, UINT64_MAX};
    if (!full) {
        reply_bulk_cstr(c, "groups");
        reply_int(c, (long long)s->ngroups);
        stream_id e;
        reply_bulk_cstr(c, "first-entry");
        if (!stream_edge_id(s, 0, &e) || !reply_one_entry(c, s, &e)) reply_null(c);
        reply_bulk_cstr(c, "last-entry");
        if (!stream_edge_id(s, 1, &e) || !reply_one_entry(c, s, &e)) reply_null(c);
        return;
    }
    reply_bulk_cstr(c, "entries");
    reply_range(c, s, &lo, &hi, (size_t)count, 0, NULL, NULL, 0);
    reply_bulk_cstr(c, "groups");
    reply_array(c, (long)s->ngroups);
    for (size_t i = 0; i < s->ngroups; i++) xinfo_full_group(c, s, s->groups[i], count);
}

void xinfo_help_command(client *c) {
    static const char *const help[] = {"CONSUMERS <key> <groupname>",
                                       "    Show consumers of <groupname>.",
                                       "GROUPS <key>",
                                       "    Show the stream consumer groups.",
                                       "STREAM <key> [FULL [COUNT <count>]",
                                       "    Show information about the stream.",
                                       NULL};
    reply_help(c, "XINFO", help);
}

/* ---- type ops ----------------------------------------------------------------------------------
 */

static void stream_free_value(void *ptr, int enc) {
    (void)enc;
    stream_free(ptr);
}

static void *stream_dup_value(const void *ptr, int enc) {
    (void)enc;
    return stream_dup(ptr);
}

static size_t stream_mem_value(const void *ptr, int enc, size_t samples) {
    (void)enc;
    (void)samples;
    return stream_mem(ptr);
}

static const char *stream_enc_name(const void *ptr, int enc) {
    (void)ptr;
    (void)enc;
    return "stream";
}

/* DUMP/RESTORE payload:
 *   last_id first_id max_deleted_id entries_added   (ids as two varints)
 *   nentries { id nfields { flen f vlen v } }
 *   ngroups { nlen name last_id entries_read+1 nconsumers { nlen name seen_time }
 *             npel { id delivery_time delivery_count consumer-index } } */
static void put_id(sbuf *out, const stream_id *id) {
    sbuf_put_varint(out, id->ms);
    sbuf_put_varint(out, id->seq);
}

static void put_str(sbuf *out, const char *p, size_t len) {
    sbuf_put_varint(out, len);
    sbuf_append(out, p, len);
}

static void stream_serialize(const void *ptr, int enc, sbuf *out) {
    (void)enc;
    const stream *s = ptr;
    put_id(out, &s->last_id);
    put_id(out, &s->first_id);
    put_id(out, &s->max_deleted_id);
    sbuf_put_varint(out, s->entries_added);
    sbuf_put_varint(out, s->length);
    stream_id lo = {0, 0}, hi = {UINT64_MAX, UINT64_MAX};
    stream_iter it;
    stream_iter_start(&it, s, &lo, &hi, 0);
    while (stream_iter_next(&it)) {
        put_id(out, &it.id);
        sbuf_put_varint(out, it.nfields);
        for (size_t i = 0; i < it.nfields * 2; i++) put_str(out, it.fv[i], it.fvlen[i]);
    }
    stream_iter_stop(&it);
    sbuf_put_varint(out, s->ngroups);
    for (size_t i = 0; i < s->ngroups; i++) {
        const stream_cg *g = s->groups[i];
        put_str(out, g->name, g->nlen);
        put_id(out, &g->last_id);
        sbuf_put_varint(out, (uint64_t)(g->entries_read + 1));
        sbuf_put_varint(out, g->nconsumers);
        for (size_t k = 0; k < g->nconsumers; k++) {
            put_str(out, g->consumers[k]->name, g->consumers[k]->nlen);
            sbuf_put_varint(out, (uint64_t)g->consumers[k]->seen_time);
        }
        sbuf_put_varint(out, g->pel.n);
        for (size_t k = 0; k < g->pel.n; k++) {
            const stream_nack *n = g->pel.v[k];
            put_id(out, &n->id);
            sbuf_put_varint(out, (uint64_t)n->delivery_time);
            sbuf_put_varint(out, n->delivery_count);
            size_t ci = 0;
            while (g->consumers[ci] != n->consumer) ci++;
            sbuf_put_varint(out, ci);
        }
    }
}

typedef struct rd {
    const char *p, *end;
    int bad;
} rd;

static uint64_t get_u(rd *r) {
    uint64_t v = 0;
    if (!r->bad && !varint_get(&r->p, r->end, &v)) r->bad = 1;
    return v;
}

static stream_id get_id(rd *r) {
    stream_id id;
    id.ms = get_u(r);
    id.seq = get_u(r);
    return id;
}

static const char *get_str(rd *r, size_t *len) {
    *len = (size_t)get_u(r);
    if (r->bad || *len > (size_t)(r->end - r->p)) {
        r->bad = 1;
        return NULL;
    }
    const char *p = r->p;
    r->p += *len;
    return p;
}

static int read_entries(rd *r, stream *s) {
    uint64_t n = get_u(r);
    const char **fv = NULL;
    size_t *fl = NULL, cap = 0;
    for (uint64_t e = 0; e < n && !r->bad; e++) {
        stream_id id = get_id(r);
        uint64_t nf = get_u(r);
        if (r->bad || nf == 0 || nf > (uint64_t)(r->end - r->p) ||
            (s->length && stream_id_cmp(&id, &s->last_id) <= 0) || (!id.ms && !id.seq)) {
            r->bad = 1;
            break;
        }
        if (cap < nf * 2) {
            cap = (size_t)nf * 2;
            fv = xrealloc(fv, cap * sizeof(char *));
            fl = xrealloc(fl, cap * sizeof(size_t));
        }
        for (size_t i = 0; i < nf * 2 && !r->bad; i++) fv[i] = get_str(r, &fl[i]);
        if (!r->bad) stream_append(s, &id, (size_t)nf, fv, fl);
    }
    xfree(fv);
    xfree(fl);
    return r->bad ? ERR : OK;
}

static int read_group(rd *r, stream *s) {
    size_t nlen;
    const char *name = get_str(r, &nlen);
    stream_id last = get_id(r);
    long long er = (long long)get_u(r) - 1;
    if (r->bad) return ERR;
    stream_cg *g = stream_cg_create(s, name, nlen, &last, er);
    if (!g) return ERR;
    uint64_t nc = get_u(r);
    for (uint64_t k = 0; k < nc && !r->bad; k++) {
        const char *cn = get_str(r, &nlen);
        int64_t seen = (int64_t)get_u(r);
        if (r->bad || stream_consumer_find(g, cn, nlen)) return ERR;
        stream_consumer_create(g, cn, nlen, seen);
    }
    uint64_t np = get_u(r);
    stream_id prev = {0, 0};
    for (uint64_t k = 0; k < np && !r->bad; k++) {
        stream_id id = get_id(r);
        int64_t when = (int64_t)get_u(r);
        uint64_t count = get_u(r), ci = get_u(r);
        if (r->bad || ci >= g->nconsumers || (k && stream_id_cmp(&id, &prev) <= 0)) return ERR;
        prev = id;
        stream_consumer *cons = NULL;
        for (size_t i = 0; i < g->nconsumers; i++)
            if (i == ci) cons = g->consumers[i];
        stream_nack *n = stream_nack_new(&id, cons, when);
        n->delivery_count = count;
        stream_pel_insert(&g->pel, n);
        stream_pel_insert(&cons->pel, n);
    }
    return r->bad ? ERR : OK;
}

static void *stream_deserialize(const char *p, size_t len, int *enc) {
    rd r = {p, p + len, 0};
    stream *s = stream_new();
    stream_id last = get_id(&r), first = get_id(&r), maxdel = get_id(&r);
    uint64_t added = get_u(&r);
    if (r.bad || read_entries(&r, s) != OK) goto bad;
    if (s->length && stream_id_cmp(&last, &s->last_id) < 0) goto bad;
    s->last_id = last;
    s->first_id = first;
    s->max_deleted_id = maxdel;
    s->entries_added = added;
    uint64_t ng = get_u(&r);
    for (uint64_t i = 0; i < ng; i++)
        if (r.bad || read_group(&r, s) != OK) goto bad;
    if (r.bad || r.p != r.end) goto bad;
    *enc = 0;
    return s;
bad:
    stream_free(s);
    return NULL;
}

static const kobj_type_ops stream_ops = {
    .name = "stream",
    .free_value = stream_free_value,
    .dup_value = stream_dup_value,
    .mem_value = stream_mem_value,
    .enc_name = stream_enc_name,
    .serialize = stream_serialize,
    .deserialize = stream_deserialize,
};

__attribute__((constructor)) static void stream_register(void) {
    kobj_register_type(OBJ_STREAM, &stream_ops);
}

/* xreadGetKeys: the keys are the first half of what follows STREAMS. */
int getkeys_xread(const command *cmd, int argc, const resp_arg *argv, int *keys, int max) {
    (void)cmd;
    int pos = -1;
    for (int i = 1; i < argc; i++) {
        if (arg_is(&argv[i], "block") || arg_is(&argv[i], "count")) {
            i++;
        } else if (arg_is(&argv[i], "group")) {
            i += 2;
        } else if (arg_is(&argv[i], "noack")) {
            continue;
        } else {
            if (arg_is(&argv[i], "streams")) pos = i;
            break;
        }
    }
    int num = argc - pos - 1;
    if (pos == -1 || num == 0 || num % 2) return 0;
    int n = 0;
    for (int i = 0; i < num / 2 && n < max; i++) keys[n++] = pos + 1 + i;
    return n;
}
