/* persist/journal — the write-behind journal: every acknowledged write to a
 * write-behind key is in this file (and fsync'ed, with journal-fsync always)
 * before its reply leaves, until the store has it.
 *
 *   file   := "LJNL" version:u32 record*
 *   record := len:u32 crc:u64 payload[len]           (crc: CRC-64 of payload)
 *   payload:= seq:u64 maplen:u16 map klen:u32 key state
 *
 * Records are appended in seq order. A torn tail (short or bad-checksum last
 * record after a crash) is cut off at replay: it was never acknowledged,
 * because a reply waits for its record's write (and fsync when required).
 * The store keeps a watermark W: every record with seq < W is already in the
 * store (see writebehind.c), so replay skips them and a rewrite may drop them. */
#ifndef LARDER_PERSIST_JOURNAL_H
#define LARDER_PERSIST_JOURNAL_H
#include <stddef.h>
#include <stdint.h>

enum { JFSYNC_NO = 0, JFSYNC_EVERYSEC = 1, JFSYNC_ALWAYS = 2 };

typedef void (*journal_record_fn)(void *ctx, uint64_t seq, const char *map, size_t mlen,
                                  const char *key, size_t klen, const char *state, size_t slen);

/* Reads path (missing file: nothing), calling fn for each intact record;
 * cuts a torn tail. *next_seq receives the seq after the last record. */
int journal_replay(const char *path, journal_record_fn fn, void *ctx, uint64_t *next_seq,
                   char **err);
/* Opens path for appending (creating it), continuing at next_seq. */
int journal_open(const char *path, int fsync_policy, uint64_t next_seq, char **err);
void journal_close(void);
void journal_set_policy(int fsync_policy);
/* Buffers one record; returns its seq. */
uint64_t journal_append(const char *map, size_t mlen, const char *key, size_t klen,
                        const char *state, size_t slen);
/* Writes buffered records; fsyncs them when the policy is `always`. Must
 * succeed before the replies of the commands that made them are sent.
 * ERR (with errno-derived text) on a write or fsync failure. */
int journal_commit(char **err);
/* The last seq committed (written, and fsync'ed under `always`): a reply
 * that acknowledges record N may leave once this is >= N. */
uint64_t journal_committed_seq(void);
/* DEBUG JOURNAL-HOLD: while on, commits under `always` write but do not
 * fsync, so the committed seq stays behind; the next commit after it is
 * turned off fsyncs. */
void journal_hold(int on);
/* Empties the journal (every record is in the store). */
int journal_truncate(char **err);
/* Replaces the journal by the records fn yields (each call of emit adds one),
 * written to a temporary file, fsync'ed and renamed over the old one. */
typedef void (*journal_emit_fn)(const char *map, size_t mlen, const char *key, size_t klen,
                                const char *state, size_t slen, uint64_t seq);
int journal_rewrite(void (*fill)(void *ctx, journal_emit_fn emit), void *ctx, char **err);
uint64_t journal_next_seq(void);
long long journal_bytes(void);
#endif
