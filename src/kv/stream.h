/* kv/stream — the stream type: entries packed in blocks, consumer groups.
 *
 * A stream is a sorted array of blocks; each block holds up to
 * stream_node_max_entries entries (live and deleted, as Redis counts a
 * listpack node) in about stream_node_max_bytes bytes:
 *
 *   block: | header | master fields | entry | entry | ...
 *   master fields: nfields:varint (len:varint bytes)*   (the first entry's fields)
 *   entry: flags:1 | ms-delta:varint | seq:varint | body
 *          flags: 1 deleted, 2 same fields as the master (body: values only)
 *          seq is a delta from the block's first seq when ms-delta is 0
 *          body: (values) or nfields:varint (field value)*, each len:varint bytes
 *
 * Seeking an id is a binary search over the blocks' first ids and a scan of
 * one block (O(log N) + the block size); appending writes at the end of the
 * last block (O(1) amortised); deletion only flags the entry and frees a
 * block whose entries are all deleted, as Redis's listpack nodes do, so
 * MAXLEN ~ trims the same whole blocks Redis would.
 *
 * Invariants:
 *  1. Block first ids strictly increase; entry ids strictly increase within
 *     and across blocks; every id <= last_id.
 *  2. length = the sum of live entries. XDEL frees a block whose last live
 *     entry it deletes; an exact trim may leave one with none (as Redis keeps
 *     such a listpack node), which the next trim removes whole.
 *  3. A consumer group's PEL and each consumer's PEL are sorted by id; every
 *     nack is in the group PEL and in exactly its consumer's PEL. */
#ifndef LARDER_KV_STREAM_H
#define LARDER_KV_STREAM_H
#include <stddef.h>
#include <stdint.h>

typedef struct stream_id {
    uint64_t ms, seq;
} stream_id;

/* Block size limits (CONFIG stream-node-max-entries / -bytes; 0: no limit). */
extern long long stream_node_max_entries, stream_node_max_bytes;

int stream_id_cmp(const stream_id *a, const stream_id *b);
/* Parses "ms" or "ms-seq" (seq = missing_seq when absent). With seq_given
 * (not NULL) "ms-*" is accepted too: seq 0 and *seq_given 0, else 1. "-" and "+" are the minimum
 * and maximum ids when allow_special. 0 on success, -1 on a malformed id. */
int stream_id_parse(const char *s, size_t len, uint64_t missing_seq, int allow_special,
                    stream_id *out, int *seq_given);
/* Writes "ms-seq" with a NUL; buf must hold STREAM_ID_STR bytes. Returns the length. */
#define STREAM_ID_STR 44
size_t stream_id_format(const stream_id *id, char *buf);
/* id + 1 / id - 1; -1 when it would overflow (the id stays). */
int stream_id_incr(stream_id *id);
int stream_id_decr(stream_id *id);

typedef struct stream_cg stream_cg;
typedef struct stream_consumer stream_consumer;

/* A pending entry: delivered to a consumer and not yet acknowledged. */
typedef struct stream_nack {
    stream_id id;
    int64_t delivery_time; /* unix ms */
    uint64_t delivery_count;
    stream_consumer *consumer;
} stream_nack;

/* A sorted array of nack pointers (a PEL). */
typedef struct stream_pel {
    stream_nack **v;
    size_t n, cap;
} stream_pel;

struct stream_consumer {
    char *name;
    size_t nlen;
    int64_t seen_time; /* last interaction (idle) */
    stream_pel pel;
};

struct stream_cg {
    char *name;
    size_t nlen;
    stream_id last_id;
    long long entries_read; /* -1: unknown */
    stream_pel pel;         /* owns the nacks */
    stream_consumer **consumers;
    size_t nconsumers;
};

typedef struct stream {
    struct sblock **blocks;
    size_t nblocks, bcap;
    uint64_t length;
    stream_id last_id, first_id, max_deleted_id;
    uint64_t entries_added;
    stream_cg **groups; /* sorted by name */
    size_t ngroups;
} stream;

stream *stream_new(void);
void stream_free(stream *s);
stream *stream_dup(const stream *s);
size_t stream_mem(const stream *s);

/* Appends an entry; id must be greater than last_id. fv holds 2*nfields
 * pointers/lengths (field, value, ...). */
void stream_append(stream *s, const stream_id *id, size_t nfields, const char *const *fv,
                   const size_t *fvlen);
/* Deletes the live entry id; 1 if it was there. */
int stream_delete(stream *s, const stream_id *id);
enum { STREAM_TRIM_MAXLEN = 1, STREAM_TRIM_MINID = 2 };
/* Redis's streamTrim: removes entries from the head until length <= maxlen
 * (or all ids >= minid); approx removes whole blocks only; limit (0: none)
 * bounds the entries removed, whole blocks only. Returns entries removed. */
uint64_t stream_trim(stream *s, int strategy, uint64_t maxlen, const stream_id *minid, int approx,
                     uint64_t limit);
/* The id an XADD with "*" appends with at now_ms (streamAppendItem's rule):
 * now_ms-0 when now_ms is past last_id's ms, else last_id + 1. -1 when
 * last_id is the largest id (the stream is exhausted). */
int stream_next_auto_id(const stream *s, uint64_t now_ms, stream_id *id);
/* The LIMIT of an approximate trim (MAXLEN ~ / MINID ~) given none:
 * 100 * stream-node-max-entries, 10000 when that is 0 or above 1000000. */
uint64_t stream_default_approx_limit(void);

/* Iterates live entries with start <= id <= end, ascending or descending. */
typedef struct stream_iter {
    const stream *s;
    stream_id start, end;
    int rev, done;
    size_t bi;      /* block */
    size_t off;     /* forward: offset of the next entry in the block */
    uint32_t *offs; /* reverse: entry offsets of the current block */
    size_t noffs, ocap;
    /* the current entry */
    stream_id id;
    size_t nfields;
    const char **fv;
    size_t *fvlen;
    size_t fvcap;
} stream_iter;
void stream_iter_start(stream_iter *it, const stream *s, const stream_id *start,
                       const stream_id *end, int rev);
/* 1 and the entry in it->id/nfields/fv/fvlen, or 0 at the end. */
int stream_iter_next(stream_iter *it);
void stream_iter_stop(stream_iter *it);
/* Id of the first (last when last) live entry; 0 if empty. */
int stream_edge_id(const stream *s, int last, stream_id *out);
/* Is there a deleted entry between start and end (inclusive)? Used for lag. */
int stream_range_has_tombstones(const stream *s, const stream_id *start, const stream_id *end);

/* ---- consumer groups --------------------------------------------------------------- */
stream_cg *stream_cg_find(const stream *s, const char *name, size_t len);
/* NULL if a group of that name exists. */
stream_cg *stream_cg_create(stream *s, const char *name, size_t len, const stream_id *id,
                            long long entries_read);
void stream_cg_destroy(stream *s, stream_cg *g);
stream_consumer *stream_consumer_find(const stream_cg *g, const char *name, size_t len);
stream_consumer *stream_consumer_create(stream_cg *g, const char *name, size_t len, int64_t now);
/* Deletes the consumer and its pending entries; returns how many it had. */
size_t stream_consumer_delete(stream_cg *g, stream_consumer *c);

/* PEL operations (sorted arrays; binary search). */
stream_nack *stream_pel_find(const stream_pel *p, const stream_id *id, size_t *pos);
void stream_pel_insert(stream_pel *p, stream_nack *n);
void stream_pel_remove(stream_pel *p, const stream_id *id);
/* Index of the first nack with id >= id. */
size_t stream_pel_lower(const stream_pel *p, const stream_id *id);
stream_nack *stream_nack_new(const stream_id *id, stream_consumer *c, int64_t now);
/* Removes the nack from the group and its consumer's PEL and frees it. */
void stream_nack_ack(stream_cg *g, stream_nack *n);
/* Moves the nack to another consumer. */
void stream_nack_reassign(stream_nack *n, stream_consumer *to);

/* Redis 7.0's lag: entries not yet read by the group; 0 when it is unknown. */
int stream_cg_lag(const stream *s, const stream_cg *g, long long *lag);
/* streamEstimateDistanceFromFirstEverEntry: the entries_read a reader at id has. */
long long stream_estimate_distance(const stream *s, const stream_id *id);
/* 1 if the entry id is live. */
int stream_has_entry(const stream *s, const stream_id *id);
#endif
