/* persist/journal — see journal.h.
 *
 * Invariants:
 *  1. On disk, records are whole and in seq order, except possibly a torn
 *     last record, which replay removes.
 *  2. journal_commit() returns OK only after every record appended so far is
 *     written (and fsync'ed under `always`).
 *  3. Under `everysec` a background thread fdatasync()s at most once a second
 *     when something was written since.
 *  4. committed_seq <= written_seq < next_seq: records up to committed_seq
 *     are committed (written, and fsync'ed under `always`); replies wait for
 *     it (journal_committed_seq).
 *  5. fd changes only under syncer_mu, and the syncer uses it only under
 *     syncer_mu: it never syncs a descriptor being closed or reused.
 *  6. journal_truncate() never blocks the loop on the disk: cutting a file
 *     in place frees its blocks (0.3 ms of CPU for 2 MB, 10 ms wall for
 *     10 MB already synced, measured on ext4 here) and wants an fsync. The
 *     syncer keeps a spare ready: an empty journal (header only, fsync'ed)
 *     at <journal>.spare; the truncation renames it over the journal and
 *     appends go on in it, while the syncer closes the old file (freeing
 *     its blocks), fsyncs the directory and prepares the next spare. While
 *     the syncer is busy (it holds syncer_mu) the truncation waits for the
 *     next chance; with no spare ready (at start, or it could not be made)
 *     the file is cut in place and its fsync left to the syncer. Why a
 *     truncation or a rename not yet durable at a crash is safe:
 *     - it runs only when every record is in the store and the store's
 *       watermark W, stored with the last batch, is durable (a batch's done()
 *       comes after its commit's fsync; a write-behind key stays dirty until
 *       then). The file the crash leaves is then at worst the whole old
 *       journal: the state of a crash just before the call, which replay
 *       already handles. It skips records below W; a record at or above W
 *       is a state of its key no older than the store's row (a key's every
 *       state is journaled, in seq order, and replay keeps each key's last
 *       record), so it writes that key's latest acknowledged state again,
 *       never an older one over a newer row;
 *     - records appended after the truncation keep their guarantee: after a
 *       rename the directory is fsync'ed before they count as durable (by
 *       journal_commit under `always`, by the syncer before its fdatasync
 *       under `everysec`); after a cut in place fdatasync must make the
 *       file's new contents durable, its length included, so it carries the
 *       cut with them. Seqs go on rising across a truncation, so no older
 *       record can follow a newer one. */
#include "persist/journal.h"
#include "util/crc64.h"
#include "util/mem.h"
#include "util/sbuf.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAGIC "LJNL"
#define VERSION 1u
#define HDR 8

static int fd = -1;
static char *jpath;
static int policy;
static uint64_t next_seq = 1;
static uint64_t written_seq, committed_seq;
static int held; /* DEBUG JOURNAL-HOLD: fsyncs under `always` wait */
static sbuf pending;
static long long size_bytes;
static _Atomic int unsynced;
static pthread_t syncer;
static int syncer_running;
static _Atomic int syncer_stop;
static _Atomic int sync_now; /* journal_truncate: the syncer's work at once (invariant 6) */
/* invariant 6; under syncer_mu: */
static char *spare_path, *dir_path;
static int spare_fd = -1;        /* an empty journal ready to replace this one */
static int retired_fd = -1;      /* the journal it replaced, for the syncer to close */
static _Atomic int dir_unsynced; /* a rename over the journal not yet durable */

static int errtext(char **err, const char *what) {
    sbuf b = SBUF_INIT;
    sbuf_printf(&b, "journal %s %s: %s", what, jpath ? jpath : "", strerror(errno));
    *err = sbuf_take(&b, NULL);
    return -1;
}

static int write_all(int f, const void *p, size_t n) {
    const char *s = p;
    while (n) {
        ssize_t w = write(f, s, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

/* ---- replay ----------------------------------------------------------------------- */

static int read_file(const char *path, sbuf *out) {
    int f = open(path, O_RDONLY | O_CLOEXEC);
    if (f < 0) return errno == ENOENT ? 1 : -1;
    char buf[65536];
    ssize_t n;
    while ((n = read(f, buf, sizeof(buf))) > 0) sbuf_append(out, buf, (size_t)n);
    close(f);
    return n < 0 ? -1 : 0;
}

/* Parses one record at off; returns its total size, 0 when torn/corrupt. */
static size_t parse_record(const char *p, size_t avail, journal_record_fn fn, void *ctx,
                           uint64_t *seq) {
    if (avail < 12) return 0;
    uint32_t len;
    uint64_t crc;
    memcpy(&len, p, 4);
    memcpy(&crc, p + 4, 8);
    if (len < 14 || len > avail - 12 || crc64(0, p + 12, len) != crc) return 0;
    const char *q = p + 12;
    uint16_t mlen;
    uint32_t klen;
    memcpy(seq, q, 8);
    memcpy(&mlen, q + 8, 2);
    if (10u + mlen + 4 > len) return 0;
    memcpy(&klen, q + 10 + mlen, 4);
    size_t head = 10 + (size_t)mlen + 4 + klen;
    if (head > len) return 0;
    fn(ctx, *seq, q + 10, mlen, q + 14 + mlen, klen, q + head, len - head);
    return 12 + (size_t)len;
}

int journal_replay(const char *path, journal_record_fn fn, void *ctx, uint64_t *nseq, char **err) {
    sbuf data = SBUF_INIT;
    int rc = read_file(path, &data);
    *nseq = 1;
    jpath = jpath ? jpath : xstrdup(path);
    if (rc < 0) return errtext(err, "read");
    if (rc == 1 || data.len == 0) {
        sbuf_free(&data);
        return 0;
    }
    if (data.len < HDR || memcmp(data.p, MAGIC, 4) != 0) {
        sbuf b = SBUF_INIT;
        sbuf_printf(&b, "journal %s is not a Larder journal (bad header)", path);
        *err = sbuf_take(&b, NULL);
        sbuf_free(&data);
        return -1;
    }
    size_t off = HDR;
    uint64_t seq = 0;
    while (off < data.len) {
        size_t n = parse_record(data.p + off, data.len - off, fn, ctx, &seq);
        if (!n) break;
        off += n;
        *nseq = seq + 1;
    }
    if (off < data.len && truncate(path, (off_t)off) != 0) {
        sbuf_free(&data);
        return errtext(err, "truncate");
    }
    sbuf_free(&data);
    return 0;
}

/* ---- appending ---------------------------------------------------------------------- */

/* The everysec syncer sleeps on a condition variable, not in nanosleep(), so
 * journal_close() wakes it at once: a clean exit never waits out its second. */
static pthread_mutex_t syncer_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t syncer_cv;

static int write_header(int f);

/* The journal's directory: a rename in it made durable. */
static int sync_dir(void) {
    int d = open(dir_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (d < 0) return -1;
    int rc = fsync(d);
    close(d);
    return rc;
}

/* The syncer's upkeep after a truncation (invariant 6), under syncer_mu. */
static void syncer_upkeep(void) {
    if (retired_fd >= 0) {
        close(retired_fd);
        retired_fd = -1;
    }
    if (atomic_load(&dir_unsynced) && sync_dir() == 0) atomic_store(&dir_unsynced, 0);
    if (spare_fd < 0 && spare_path) {
        int f = open(spare_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
        if (f >= 0 && (write_header(f) != 0 || fdatasync(f) != 0)) {
            close(f);
            f = -1;
        }
        spare_fd = f;
    }
}

static void *syncer_main(void *arg) {
    (void)arg;
    pthread_mutex_lock(&syncer_mu);
    syncer_upkeep(); /* the first spare */
    while (!atomic_load(&syncer_stop)) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += 1;
        while (!atomic_load(&syncer_stop) && !atomic_load(&sync_now) &&
               pthread_cond_timedwait(&syncer_cv, &syncer_mu, &ts) == 0) {
        }
        if (atomic_load(&syncer_stop)) break;
        syncer_upkeep(); /* before the fdatasync: a rename first */
        if (atomic_exchange(&sync_now, 0)) {
            atomic_store(&unsynced, 0); /* fsync covers what fdatasync would */
            if (fd >= 0) fsync(fd);
        } else if (atomic_exchange(&unsynced, 0) && fd >= 0) {
            fdatasync(fd);
        }
    }
    pthread_mutex_unlock(&syncer_mu);
    return NULL;
}

static int write_header(int f) {
    char h[HDR];
    uint32_t v = VERSION;
    memcpy(h, MAGIC, 4);
    memcpy(h + 4, &v, 4);
    return write_all(f, h, HDR);
}

int journal_open(const char *path, int fsync_policy, uint64_t seq, char **err) {
    xfree(jpath);
    jpath = xstrdup(path);
    int f = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    pthread_mutex_lock(&syncer_mu);
    fd = f;
    pthread_mutex_unlock(&syncer_mu);
    if (fd < 0) return errtext(err, "open");
    struct stat st;
    fstat(fd, &st);
    size_bytes = st.st_size;
    if (st.st_size == 0) {
        if (write_header(fd) != 0 || fsync(fd) != 0) return errtext(err, "write");
        size_bytes = HDR;
    }
    next_seq = seq;
    written_seq = committed_seq = seq - 1;
    policy = fsync_policy;
    if (!syncer_running) {
        sbuf sp = SBUF_INIT, dp = SBUF_INIT;
        sbuf_printf(&sp, "%s.spare", path);
        const char *slash = strrchr(path, '/');
        if (slash)
            sbuf_append(&dp, path, slash == path ? 1 : (size_t)(slash - path));
        else
            sbuf_puts(&dp, ".");
        xfree(spare_path);
        xfree(dir_path);
        spare_path = sbuf_take(&sp, NULL);
        dir_path = sbuf_take(&dp, NULL);
        atomic_store(&syncer_stop, 0);
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&syncer_cv, &ca);
        pthread_condattr_destroy(&ca);
        pthread_create(&syncer, NULL, syncer_main, NULL);
        pthread_setname_np(syncer, "larder-fsync");
        syncer_running = 1;
    }
    return 0;
}

void journal_set_policy(int p) {
    policy = p;
}
uint64_t journal_next_seq(void) {
    return next_seq;
}
long long journal_bytes(void) {
    return size_bytes + (long long)pending.len;
}

void journal_close(void) {
    if (syncer_running) {
        pthread_mutex_lock(&syncer_mu);
        atomic_store(&syncer_stop, 1);
        pthread_cond_signal(&syncer_cv);
        pthread_mutex_unlock(&syncer_mu);
        pthread_join(syncer, NULL);
        pthread_cond_destroy(&syncer_cv);
        syncer_running = 0;
    }
    if (retired_fd >= 0) close(retired_fd);
    retired_fd = -1;
    if (spare_fd >= 0) {
        close(spare_fd);
        unlink(spare_path);
    }
    spare_fd = -1;
    if (atomic_exchange(&dir_unsynced, 0)) sync_dir();
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    fd = -1;
    committed_seq = written_seq;
    sbuf_free(&pending);
}

/* One record at the end of b: one reservation, the fields copied in place
 * (it runs for every write-behind write, on the loop thread). */
static void encode(sbuf *b, uint64_t seq, const char *map, size_t mlen, const char *key,
                   size_t klen, const char *state, size_t slen) {
    uint32_t len = (uint32_t)(8 + 2 + mlen + 4 + klen + slen);
    sbuf_reserve(b, 12 + (size_t)len);
    char *r = b->p + b->len, *q = r + 12;
    uint16_t ml = (uint16_t)mlen;
    uint32_t kl = (uint32_t)klen;
    memcpy(r, &len, 4);
    memcpy(q, &seq, 8);
    memcpy(q + 8, &ml, 2);
    memcpy(q + 10, map, mlen);
    memcpy(q + 10 + mlen, &kl, 4);
    memcpy(q + 14 + mlen, key, klen);
    if (slen) memcpy(q + 14 + mlen + klen, state, slen);
    uint64_t crc = crc64(0, q, len);
    memcpy(r + 4, &crc, 8);
    b->len += 12 + (size_t)len;
    b->p[b->len] = '\0'; /* as sbuf_append leaves it */
}

uint64_t journal_append(const char *map, size_t mlen, const char *key, size_t klen,
                        const char *state, size_t slen) {
    uint64_t seq = next_seq++;
    encode(&pending, seq, map, mlen, key, klen, state, slen);
    return seq;
}

static uint64_t deferred_at; /* a truncation the busy syncer put off: next_seq then */
static int swap_in_spare(void);

int journal_commit(char **err) {
    if (deferred_at) { /* again, unless a record came since (it is live) */
        int swapped = deferred_at == next_seq && !pending.len ? swap_in_spare() : -1;
        if (swapped == 1) size_bytes = HDR;
        if (swapped != 0) deferred_at = 0; /* done, void, or no spare: the next one */
    }
    if (pending.len) {
        if (fd < 0) {
            *err = xstrdup("journal is not open");
            return -1;
        }
        if (write_all(fd, pending.p, pending.len) != 0) return errtext(err, "write");
        size_bytes += (long long)pending.len;
        sbuf_clear(&pending);
        written_seq = next_seq - 1;
    }
    if (committed_seq == written_seq) return 0;
    if (policy == JFSYNC_ALWAYS) {
        if (held) return 0;
        if (fdatasync(fd) != 0) return errtext(err, "fsync");
        /* a truncation's rename, once (invariant 6) */
        if (atomic_load(&dir_unsynced)) {
            if (sync_dir() != 0) return errtext(err, "fsync");
            atomic_store(&dir_unsynced, 0);
        }
    } else if (policy == JFSYNC_EVERYSEC) {
        atomic_store(&unsynced, 1);
    }
    committed_seq = written_seq;
    return 0;
}

uint64_t journal_committed_seq(void) {
    return committed_seq;
}

void journal_hold(int on) {
    held = on;
}

/* Renames the spare over the journal (invariant 6): 1 done; 0 when the
 * syncer holds syncer_mu (it is syncing or closing the last journal: never
 * waited for, the truncation waits for the next chance); -1 when no spare
 * is ready. */
static int swap_in_spare(void) {
    if (!syncer_running) return -1;
    if (pthread_mutex_trylock(&syncer_mu) != 0) return 0;
    int rc = -1;
    if (retired_fd >= 0) {
        rc = 0;
    } else if (spare_fd >= 0 && rename(spare_path, jpath) == 0) {
        retired_fd = fd;
        fd = spare_fd;
        spare_fd = -1;
        atomic_store(&dir_unsynced, 1);
        atomic_store(&sync_now, 1);
        pthread_cond_signal(&syncer_cv);
        rc = 1;
    }
    pthread_mutex_unlock(&syncer_mu);
    return rc;
}

int journal_truncate(char **err) {
    if (fd < 0) return 0;
    if (pending.len) return 0; /* records not yet written belong to live keys */
    int swapped = swap_in_spare();
    if (swapped == 1) size_bytes = HDR;
    if (swapped == 0) deferred_at = next_seq; /* journal_commit() tries again */
    if (swapped >= 0) return 0;
    /* no spare ready (at start, or it could not be made): cut in place,
     * appends go on right after it; its fsync on the syncer */
    if (ftruncate(fd, HDR) != 0) return errtext(err, "truncate");
    size_bytes = HDR;
    if (syncer_running) {
        atomic_store(&sync_now, 1);
        if (pthread_mutex_trylock(&syncer_mu) == 0) { /* else it sees sync_now before it waits */
            pthread_cond_signal(&syncer_cv);
            pthread_mutex_unlock(&syncer_mu);
        }
    } else if (fsync(fd) != 0) {
        return errtext(err, "truncate");
    }
    return 0;
}

static sbuf *rewrite_buf;
static void rewrite_emit(const char *map, size_t mlen, const char *key, size_t klen,
                         const char *state, size_t slen, uint64_t seq) {
    encode(rewrite_buf, seq, map, mlen, key, klen, state, slen);
}

/* Its fsync stays on the loop thread: the rename must follow the new file's
 * fsync (a crash after a rename of a file not yet durable could leave an
 * empty journal, acknowledged records lost), and the records appended to the
 * old file between the fill and a rename on another thread would have to be
 * copied over and fsync'ed again before it. It runs only when the journal
 * passed 64 MB and holds four times the live states (writebehind.c,
 * maybe_compact_journal): rare, its cost spread over that many writes. */
int journal_rewrite(void (*fill)(void *ctx, journal_emit_fn emit), void *ctx, char **err) {
    if (fd < 0) return 0;
    sbuf b = SBUF_INIT;
    char h[HDR];
    uint32_t v = VERSION;
    memcpy(h, MAGIC, 4);
    memcpy(h + 4, &v, 4);
    sbuf_append(&b, h, HDR);
    rewrite_buf = &b;
    fill(ctx, rewrite_emit);
    rewrite_buf = NULL;
    sbuf tmp = SBUF_INIT;
    sbuf_printf(&tmp, "%s.rewrite", jpath);
    int nf = open(tmp.p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int rc = 0;
    if (nf < 0 || write_all(nf, b.p, b.len) != 0 || fsync(nf) != 0 || rename(tmp.p, jpath) != 0) {
        rc = errtext(err, "rewrite");
        if (nf >= 0) close(nf);
        unlink(tmp.p);
    } else {
        pthread_mutex_lock(&syncer_mu);
        close(fd);
        fd = open(jpath, O_WRONLY | O_APPEND | O_CLOEXEC);
        pthread_mutex_unlock(&syncer_mu);
        size_bytes = (long long)b.len;
        if (fd < 0) rc = errtext(err, "reopen");
    }
    sbuf_free(&tmp);
    sbuf_free(&b);
    return rc;
}
