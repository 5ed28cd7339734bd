/* sql/wal.c — the write-ahead log; see wal.h.
 *
 * File format (integers little-endian):
 *
 *   +---------------------------+  offset 0
 *   | log header (32 bytes)     |
 *   +---------------------------+  32
 *   | frame 1: header (32)      |
 *   |          page image       |
 *   +---------------------------+  32 + (32 + page_size)
 *   | frame 2 ...               |
 *
 *   log header                      frame header
 *    0 u32 magic "LWAL"              0 u32 page number (>= 1)
 *    4 u32 version (1)               4 u32 commit: database size in pages if
 *    8 u32 page size                       this frame ends a transaction, else 0
 *   12 u32 checkpoint sequence       8 u32 salt1 \  copies of the log header's;
 *   16 u32 salt1                    12 u32 salt2 /  a frame of an older
 *   20 u32 salt2                                    generation does not match
 *   24 u64 checksum of bytes 0..23  16 u64 digest (commit frames): chained mix of
 *                                          the checksums of the transaction's
 *                                          other frames, in frame order
 *                                   24 u64 checksum of bytes 0..23 + page image,
 *                                          seeded with the salts
 *
 * Invariants:
 *   1. A transaction is committed iff its commit frame is valid and its digest
 *      equals the mix of the checksums of the frames on disk since the previous
 *      commit frame. Recovery keeps exactly the committed prefix.
 *   2. A writer may overwrite frames above the last commit (its own spills) but
 *      never a committed frame; so a stale image left in an overwritten frame
 *      by a torn write fails the digest, and the commit with it.
 *   3. After sqli_wal_reset the header with the new salts is written and synced
 *      before the file is touched in any other way (truncated, or overwritten
 *      by frames of the new generation), so that a crash can never leave the
 *      old header with only a prefix of the old frames: the checkpoint has
 *      already copied them, and replaying an old prefix would roll pages back.
 *   4. Index: fprev chains go strictly downwards; mval[pgno] is the newest
 *      frame of pgno; every frame 1..n is on exactly one chain.
 */
#include "sql/wal.h"
#include "sql/store_int.h"
#include "util/mem.h"
#include <assert.h>
#include <fcntl.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define WAL_MAGIC 0x4C41574Cu
#define WAL_VERSION 1u

static inline uint64_t frame_off(const wal *w, uint32_t f) {
    return WAL_HDR_SIZE + (uint64_t)(f - 1) * (WAL_FRAME_HDR + w->page_size);
}

static inline uint64_t salt_seed(const wal *w) {
    return ((uint64_t)w->salt1 << 32) | w->salt2;
}

static uint64_t digest_mix(uint64_t d, uint64_t ck) {
    d ^= ck;
    d *= 0x9E3779B97F4A7C15ull;
    return (d << 31) | (d >> 33);
}

static uint32_t random32(void) {
    uint32_t v = 0;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        if (read(fd, &v, sizeof v) != sizeof v) v = 0;
        close(fd);
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return v ^ (uint32_t)ts.tv_nsec ^ (uint32_t)getpid() << 16;
}

/* ---- index ------------------------------------------------------------------ */

static inline uint32_t mhash(uint32_t k) {
    return (uint32_t)(((uint64_t)k * 0x9E3779B97F4A7C15ull) >> 32);
}

static uint32_t *mslot(const wal *w, uint32_t pgno) {
    uint32_t mask = w->mcap - 1;
    for (uint32_t i = mhash(pgno) & mask;; i = (i + 1) & mask)
        if (w->mkey[i] == pgno || w->mkey[i] == 0) return &w->mkey[i];
}

static void mput(wal *w, uint32_t pgno, uint32_t f);

static void mgrow(wal *w) {
    uint32_t ocap = w->mcap, *ok = w->mkey, *ov = w->mval;
    w->mcap = ocap ? ocap * 2 : 1024;
    w->mkey = xcalloc(w->mcap, sizeof *w->mkey);
    w->mval = xcalloc(w->mcap, sizeof *w->mval);
    w->mcount = 0;
    for (uint32_t i = 0; i < ocap; i++)
        if (ok[i]) mput(w, ok[i], ov[i]);
    xfree(ok);
    xfree(ov);
}

static void mput(wal *w, uint32_t pgno, uint32_t f) {
    if ((w->mcount + 1) * 2 > w->mcap) mgrow(w);
    uint32_t *k = mslot(w, pgno);
    if (*k == 0) {
        *k = pgno;
        w->mcount++;
    }
    w->mval[k - w->mkey] = f;
}

static void mdel(wal *w, uint32_t pgno) {
    uint32_t mask = w->mcap - 1;
    uint32_t *k = mslot(w, pgno);
    if (*k == 0) return;
    uint32_t hole = (uint32_t)(k - w->mkey);
    for (uint32_t j = (hole + 1) & mask; w->mkey[j]; j = (j + 1) & mask) {
        uint32_t home = mhash(w->mkey[j]) & mask;
        int in_range = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (!in_range) {
            w->mkey[hole] = w->mkey[j];
            w->mval[hole] = w->mval[j];
            hole = j;
        }
    }
    w->mkey[hole] = 0;
    w->mval[hole] = 0;
    w->mcount--;
}

uint32_t sqli_wal_find(const wal *w, uint32_t pgno, uint32_t mark) {
    if (w->mcount == 0 || mark == 0) return 0;
    uint32_t *k = mslot(w, pgno);
    if (*k == 0) return 0;
    uint32_t f = w->mval[k - w->mkey];
    while (f > mark) f = w->fprev[f];
    return f;
}

static void index_append(wal *w, uint32_t pgno, uint64_t ck) {
    if (w->n + 1 >= w->cap) {
        w->cap = w->cap ? w->cap * 2 : 1024;
        w->fpg = xrealloc(w->fpg, sizeof *w->fpg * w->cap);
        w->fprev = xrealloc(w->fprev, sizeof *w->fprev * w->cap);
        w->fck = xrealloc(w->fck, sizeof *w->fck * w->cap);
    }
    uint32_t f = ++w->n;
    uint32_t *k = w->mcap ? mslot(w, pgno) : NULL;
    w->fprev[f] = (k && *k) ? w->mval[k - w->mkey] : 0;
    w->fpg[f] = pgno;
    w->fck[f] = ck;
    mput(w, pgno, f);
}

void sqli_wal_index_add(wal *w, const wal_out *v, uint32_t cnt) {
    for (uint32_t i = 0; i < cnt; i++) {
        if (v[i].frame <= w->n) {
            assert(w->fpg[v[i].frame] == v[i].pgno);
            w->fck[v[i].frame] = v[i].cksum;
        } else {
            assert(v[i].frame == w->n + 1);
            index_append(w, v[i].pgno, v[i].cksum);
        }
    }
}

void sqli_wal_index_truncate(wal *w, uint32_t n) {
    while (w->n > n) {
        uint32_t f = w->n--, pgno = w->fpg[f];
        if (w->fprev[f])
            mput(w, pgno, w->fprev[f]);
        else
            mdel(w, pgno);
    }
}

void sqli_wal_index_foreach(const wal *w, void (*fn)(void *, uint32_t, uint32_t), void *arg) {
    for (uint32_t i = 0; i < w->mcap; i++)
        if (w->mkey[i]) fn(arg, w->mkey[i], w->mval[i]);
}

void sqli_wal_reset(wal *w) {
    w->n = 0;
    if (w->mcap) {
        memset(w->mkey, 0, sizeof *w->mkey * w->mcap);
        memset(w->mval, 0, sizeof *w->mval * w->mcap);
    }
    w->mcount = 0;
    w->salt1++;
    w->salt2 = random32();
    w->ckpt_seq++;
    w->hdr_ok = 0;
}

/* ---- file ----------------------------------------------------------------- */

int sqli_wal_open(wal *w, const char *path, int rdonly, uint32_t page_size, int nosync,
                  int memory) {
    memset(w, 0, sizeof *w);
    w->page_size = page_size;
    w->nosync = nosync;
    w->salt1 = random32();
    w->salt2 = random32();
    if (rdonly && access(path, F_OK) != 0) return STORE_OK;
    return sqli_vfs_open(path, rdonly ? VFS_RDONLY : VFS_CREATE | (memory ? VFS_MEMORY : 0), &w->f,
                         NULL);
}

uint64_t sqli_wal_frames_bytes(const wal *w, uint32_t frames) {
    return WAL_HDR_SIZE + (uint64_t)frames * (WAL_FRAME_HDR + w->page_size);
}

int sqli_wal_reserve(wal *w, uint32_t frames) {
    uint64_t size, want = sqli_wal_frames_bytes(w, frames);
    int rc = sqli_vfs_size(w->f, &size);
    if (rc != STORE_OK || size >= want) return rc;
    const size_t chunk = 1 << 20;
    uint8_t *zero = xcalloc(1, chunk);
    while (rc == STORE_OK && size < want) {
        size_t n = want - size < chunk ? (size_t)(want - size) : chunk;
        rc = sqli_vfs_write(w->f, zero, n, size);
        size += n;
    }
    xfree(zero);
    if (rc == STORE_OK && !w->nosync) rc = sqli_vfs_sync(w->f);
    return rc;
}

void sqli_wal_close(wal *w) {
    sqli_vfs_close(w->f);
    xfree(w->fpg);
    xfree(w->fprev);
    xfree(w->fck);
    xfree(w->mkey);
    xfree(w->mval);
    memset(w, 0, sizeof *w);
}

int sqli_wal_write_header(wal *w) {
    uint8_t h[WAL_HDR_SIZE];
    put32(h, WAL_MAGIC);
    put32(h + 4, WAL_VERSION);
    put32(h + 8, w->page_size);
    put32(h + 12, w->ckpt_seq);
    put32(h + 16, w->salt1);
    put32(h + 20, w->salt2);
    put64(h + 24, sqli_store_cksum(WAL_MAGIC, h, 24));
    int rc = sqli_vfs_write(w->f, h, sizeof h, 0);
    if (rc == STORE_OK && !w->nosync) rc = sqli_vfs_sync(w->f);
    if (rc == STORE_OK) w->hdr_ok = 1;
    return rc;
}

int sqli_wal_read_page(wal *w, uint32_t f, uint8_t *buf) {
    size_t got;
    assert(f >= 1 && f <= w->n);
    int rc = sqli_vfs_read(w->f, buf, w->page_size, frame_off(w, f) + WAL_FRAME_HDR, &got);
    if (rc == STORE_OK && got != w->page_size)
        rc = sqli_store_error(STORE_CORRUPT, "%s: log frame %u is cut short", sqli_vfs_path(w->f),
                              f);
    return rc;
}

static void fill_frame_header(const wal *w, uint8_t *h, const wal_out *o, uint32_t commit,
                              uint64_t digest) {
    put32(h, o->pgno);
    put32(h + 4, commit);
    put32(h + 8, w->salt1);
    put32(h + 12, w->salt2);
    put64(h + 16, digest);
}

static uint64_t frame_cksum(const wal *w, const uint8_t *h, const uint8_t *data) {
    /* Chain: checksum of the 24 header bytes seeds the checksum of the data. */
    uint64_t s = sqli_store_cksum(salt_seed(w), h, 24);
    return sqli_store_cksum(s, data, w->page_size);
}

#define WRITE_BATCH 128

int sqli_wal_write(wal *w, wal_out *v, uint32_t cnt, uint32_t base, uint32_t commit_pages) {
    int rc = STORE_OK;
    uint8_t(*hdrs)[WAL_FRAME_HDR] = xmalloc(WAL_FRAME_HDR * (size_t)(cnt ? cnt : 1));
    uint64_t *patched = NULL;
    if (!w->hdr_ok) rc = sqli_wal_write_header(w);
    if (rc != STORE_OK) goto fail;

    /* Checksums: every frame but the commit frame first. */
    uint32_t next = w->n;
    for (uint32_t i = 0; i < cnt; i++) {
        int is_commit = commit_pages && i == cnt - 1;
        if (v[i].frame == 0) v[i].frame = ++next;
        if (is_commit) continue;
        fill_frame_header(w, hdrs[i], &v[i], 0, 0);
        v[i].cksum = frame_cksum(w, hdrs[i], v[i].data);
        put64(hdrs[i] + 24, v[i].cksum);
    }
    if (commit_pages) {
        /* Digest over frames base+1 .. commit-1, with this batch's new checksums. */
        wal_out *c = &v[cnt - 1];
        assert(c->frame == next && c->frame > w->n);
        uint32_t span = c->frame - 1 - base;
        patched = xmalloc(sizeof *patched * (span ? span : 1));
        for (uint32_t f = base + 1; f <= w->n; f++) patched[f - base - 1] = w->fck[f];
        for (uint32_t i = 0; i + 1 < cnt; i++) patched[v[i].frame - base - 1] = v[i].cksum;
        uint64_t d = salt_seed(w);
        for (uint32_t j = 0; j < span; j++) d = digest_mix(d, patched[j]);
        fill_frame_header(w, hdrs[cnt - 1], c, commit_pages, d);
        c->cksum = frame_cksum(w, hdrs[cnt - 1], c->data);
        put64(hdrs[cnt - 1] + 24, c->cksum);
    }

    /* Write: runs of consecutive frame numbers go out in one pwritev. */
    struct iovec iov[2 * WRITE_BATCH];
    uint32_t i = 0;
    while (i < cnt && rc == STORE_OK) {
        uint32_t j = i, niov = 0;
        do {
            iov[niov].iov_base = hdrs[j];
            iov[niov++].iov_len = WAL_FRAME_HDR;
            iov[niov].iov_base = (void *)v[j].data;
            iov[niov++].iov_len = w->page_size;
            j++;
        } while (j < cnt && j - i < WRITE_BATCH && v[j].frame == v[j - 1].frame + 1);
        rc = sqli_vfs_writev(w->f, iov, (int)niov, frame_off(w, v[i].frame));
        i = j;
    }
fail:
    xfree(patched);
    xfree(hdrs);
    return rc;
}

/* ---- recovery ---------------------------------------------------------- */

#define SCAN_FRAMES 256

int sqli_wal_recover(wal *w, uint32_t *commit_pages) {
    *commit_pages = 0;
    uint64_t size;
    int rc;
    if (!w->f) return STORE_OK;
    if ((rc = sqli_vfs_size(w->f, &size)) != STORE_OK) return rc;
    uint8_t h[WAL_HDR_SIZE];
    size_t got;
    if (size < WAL_HDR_SIZE) return STORE_OK; /* empty or torn header: nothing logged */
    if ((rc = sqli_vfs_read(w->f, h, sizeof h, 0, &got)) != STORE_OK) return rc;
    if (get32(h) != WAL_MAGIC || get64(h + 24) != sqli_store_cksum(WAL_MAGIC, h, 24))
        return STORE_OK; /* a header never completed: no frame can be valid */
    if (get32(h + 4) != WAL_VERSION)
        return sqli_store_error(STORE_VERSION, "%s: log format version %u unknown",
                                sqli_vfs_path(w->f), get32(h + 4));
    if (get32(h + 8) != w->page_size)
        return sqli_store_error(STORE_CORRUPT,
                                "%s: log page size %u differs from the database's %u",
                                sqli_vfs_path(w->f), get32(h + 8), w->page_size);
    w->ckpt_seq = get32(h + 12);
    w->salt1 = get32(h + 16);
    w->salt2 = get32(h + 20);
    w->hdr_ok = 1;

    size_t fsz = WAL_FRAME_HDR + w->page_size;
    uint8_t *buf = xmalloc(fsz * SCAN_FRAMES);
    uint32_t committed = 0, f = 0;
    uint64_t d = salt_seed(w);
    uint64_t maxf = (size - WAL_HDR_SIZE) / fsz;
    int stop = 0;
    while (!stop && f < maxf) {
        uint32_t batch = (uint32_t)(maxf - f < SCAN_FRAMES ? maxf - f : SCAN_FRAMES);
        if ((rc = sqli_vfs_read(w->f, buf, fsz * batch, frame_off(w, f + 1), &got)) != STORE_OK)
            break;
        for (uint32_t i = 0; i < batch; i++) {
            const uint8_t *fh = buf + fsz * i;
            uint32_t pgno = get32(fh), commit = get32(fh + 4);
            if (pgno == 0 || get32(fh + 8) != w->salt1 || get32(fh + 12) != w->salt2) {
                stop = 1;
                break;
            }
            uint64_t ck = frame_cksum(w, fh, fh + WAL_FRAME_HDR);
            if (ck != get64(fh + 24)) {
                stop = 1;
                break;
            }
            f++;
            index_append(w, pgno, ck);
            if (commit) {
                if (get64(fh + 16) != d) {
                    stop = 1;
                    break;
                }
                committed = f;
                *commit_pages = commit;
                d = salt_seed(w);
            } else {
                d = digest_mix(d, ck);
            }
        }
    }
    xfree(buf);
    sqli_wal_index_truncate(w, committed);
    return rc;
}
