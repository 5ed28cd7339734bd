/* persist/wbcheck — a write-behind write that its table alone refuses (NOT
 * NULL, CHECK, a value the column's type cannot take) is refused before its
 * reply, with -BACKEND and the cache unchanged.
 *
 * Who judges. Most rows are judged here, from the table's description
 * (store_api.h, store_column.check): a NOT NULL column the row leaves out,
 * and each value against its column's type as the module declares it
 * (integers and their ranges, numeric(p,s), boolean, uuid, varchar(n) and
 * text's encoding on PostgreSQL; the integer primary key on the bundled
 * store). A verdict here is exact or not given: a value in a form this
 * file does not parse for sure ("0x1f", " 7", a date, json, an enum) goes
 * to the store. The store module judges (store_module.check: it applies the
 * rows in a transaction it rolls back) the rows of a table with rules only
 * it can evaluate — a CHECK constraint, a trigger, a rule, a domain with a
 * constraint (STORE_CHECK_ROW) — and those values. Refusals that depend on
 * other rows (UNIQUE, FOREIGN KEY) pass here: they are met when the batch
 * is written, and go to the dead letter (writebehind.c drops the cache
 * entry then).
 *
 * Descriptions are kept per table, first taken from the mapping's (read at
 * start or CONFIG SET map), read again on the store thread every REFRESH_MS
 * while writes use them, after an SQL.EXEC that changes the schema (the
 * store judges the table's rows until then) and after one of the table's
 * rows was dead-lettered (a description behind the store's lets a refusal
 * through). A schema change made by another program reaches the check
 * within REFRESH_MS; a row it lets through meanwhile is dead-lettered.
 *
 * The command runs speculatively, as a write-through does (writethrough.c):
 * its write-behind keys are snapshotted and its reply held; afterwards the
 * rows are judged here; when the store must judge some of them, the keys
 * are locked (other commands on them wait) and those rows go to the store
 * thread as one check job (consecutive check jobs share one module call).
 * Accepted — or not checkable because the store is
 * unreachable: the write is then accepted and the store judges it when the
 * batch is written — the keys are recorded as written (journal, dirty FIFO:
 * writebehind.c) and the held reply follows the journal as usual. Refused:
 * the snapshots are put back and the client gets -BACKEND. Nothing of a
 * refused write reaches the journal.
 *
 * Cost: a row judged here costs a copy of its key's entry and a parse of its
 * values; a row the store judges waits for one store-thread round trip
 * (with PostgreSQL, a network round trip) before its reply, and behind a
 * batch being written; `write-behind-check no` turns both off.
 *
 * Invariants:
 *  1. At most one speculation is active (commands run one at a time); while
 *     it is, its keys have pkey.checking set and their writes are not
 *     recorded (persist_key_modified asks wbc_defers).
 *  2. From the command's end until the outcome, a checked key is locked. */
#include "persist/persist.h"
#include "util/hash.h"
#include "util/mem.h"
#include <ctype.h>
#include <string.h>

typedef struct wbc_key {
    pkey *k;        /* held: checking or locked keeps it */
    kobj *snapshot; /* the entry before the command (a copy), NULL if absent */
    int no_row;     /* the store had no row when the command began (a
                       negative entry: a miss found none, nothing since) */
    int changed;
    sbuf state;
    op_scratch scratch;
} wbc_key;

typedef struct wbc_job {
    store_job job;
    uint64_t client_id;
    const command *cmd;
    wbc_key *keys;
    int n;
    sbuf held; /* the command's reply */
} wbc_job;

static wbc_job *cur;

int wbc_active(client *c, const command *cmd) {
    return cur && cur->client_id == c->id && cur->cmd == cmd;
}

/* Only the speculating client's own writes wait for the check (a script's
 * calls run as the script's client, whose caller is the speculating one). */
int wbc_defers(const pkey *k) {
    if (!cur || !k->checking) return 0;
    client *c = server_executing_client();
    if (c && c->script_caller) c = c->script_caller;
    return c && c->id == cur->client_id;
}

static void free_job(wbc_job *j);

/* A speculation whose command never ran (a CLIENT PAUSE parked it after the
 * check began: it runs again from the start later) is dropped. */
static void abandon(wbc_job *j) {
    client *c = client_by_id(j->client_id);
    if (c) reply_hold(c, NULL);
    for (int i = 0; i < j->n; i++) {
        j->keys[i].k->checking = 0;
        pkey_maybe_free(j->keys[i].k);
    }
    free_job(j);
}

void wbc_before(client *c, const command *cmd, const resp_arg *keys, int nkeys) {
    if (cur) abandon(cur);
    wbc_job *j = xcalloc(1, sizeof(*j));
    j->client_id = c->id;
    j->cmd = cmd;
    j->keys = xcalloc((size_t)(nkeys ? nkeys : 1), sizeof(wbc_key));
    for (int i = 0; i < nkeys; i++) {
        const char *pk;
        size_t pklen;
        const mapping *m = persist_match(c->db, keys[i].p, keys[i].len, &pk, &pklen);
        if (!m || m->mode != MODE_WRITE_BEHIND) continue;
        pkey *k = pkey_get(keys[i].p, keys[i].len, m);
        if (k->checking) continue; /* named twice */
        k->checking = 1;
        wbc_key *w = &j->keys[j->n++];
        w->k = k;
        w->no_row = rt_is_negative(k);
        kobj *o = db_lookup(c->db, keys[i].p, keys[i].len, LOOKUP_NOTOUCH);
        w->snapshot = o ? kobj_dup(o, kobj_key(o), o->klen) : NULL;
    }
    cur = j;
    reply_hold(c, &j->held);
}

static void free_job(wbc_job *j) {
    for (int i = 0; i < j->n; i++) {
        wbc_key *w = &j->keys[i];
        kobj_free(w->snapshot);
        sbuf_free(&w->state);
        mapping_op_free(&w->scratch);
    }
    xfree(j->keys);
    xfree(j->job.ops);
    sbuf_free(&j->held);
    xfree(j->job.err);
    xfree(j);
}

/* Puts the snapshots back (the command's effect on its keys is undone). */
static void restore(wbc_job *j) {
    db *d = server_db(0);
    for (int i = 0; i < j->n; i++) {
        wbc_key *w = &j->keys[i];
        pkey *k = w->k;
        kobj *o = db_find(d, k->key, k->klen);
        if (k->refused_pending) { /* the snapshot is a state the store refused */
            k->refused_pending = 0;
            if (o) db_delete(d, k->key, k->klen);
        } else if (w->snapshot) {
            if (o)
                db_replace(d, o, w->snapshot);
            else
                db_add(d, w->snapshot);
            w->snapshot = NULL; /* now owned by the db */
        } else if (o) {
            db_delete(d, k->key, k->klen);
        }
        signal_modified_key(NULL, d, k->key, k->klen);
    }
}

/* Records the changed keys as written by c (journal and reply barrier). The
 * version bumps again: a batch that took the key's older state while the
 * check ran must not mark it clean. */
static void accept(wbc_job *j, client *c) {
    for (int i = 0; i < j->n; i++) {
        j->keys[i].k->refused_pending = 0; /* a newer state replaces the refused one */
        if (!j->keys[i].changed) continue;
        j->keys[i].k->version++;
        wb_key_written_by(j->keys[i].k, c);
    }
}

static void release_keys(wbc_job *j) {
    for (int i = 0; i < j->n; i++) {
        pkey *k = j->keys[i].k;
        k->checking = 0;
        if (k->locked) {
            pkey_unlock(k);
            pkey_wake(k, &k->lock_waiters);
        } else {
            pkey_maybe_free(k);
        }
    }
}

static void check_done(store_job *sj) {
    wbc_job *j = (wbc_job *)sj;
    client *c = client_by_id(j->client_id);
    const char *refusal = NULL;
    /* a transient failure: the store cannot judge now; the batch will */
    for (int i = 0; i < sj->nops && sj->rc == STORE_OK && !refusal; i++)
        if (sj->ops[i].status != STORE_OK)
            refusal = sj->ops[i].error ? sj->ops[i].error : "row refused";
    if (c) unblock_client(c);
    if (refusal) {
        ps.st.wb_refused_before_reply++;
        restore(j);
        if (c) persist_reply_backend_error(c, "write-behind refused", refusal);
    } else {
        accept(j, c);
        if (c) reply_raw(c, j->held.p, j->held.len);
    }
    for (int i = 0; i < sj->nops; i++) xfree(sj->ops[i].error);
    release_keys(j);
    free_job(j);
}

/* Is w's key changed by the command, and to a row the store must check?
 * Sets w->changed; returns 1 for an UPSERT to check (its state in w). */
static int needs_check(wbc_key *w, db *d) {
    kobj *o = db_find(d, w->k->key, w->k->klen);
    if (o && kobj_is_expired(o)) o = NULL;
    if (!o && !w->snapshot) return 0;
    char *err = NULL;
    if (mapping_state_from_entry(w->k->map, o, &w->state, &err) != OK) {
        xfree(err); /* recorded as usual: writebehind.c dead-letters it */
        w->changed = 1;
        return 0;
    }
    if (w->snapshot) {
        sbuf before = SBUF_INIT;
        char *e2 = NULL;
        int same = mapping_state_from_entry(w->k->map, w->snapshot, &before, &e2) == OK &&
                   before.len == w->state.len && !memcmp(before.p, w->state.p, before.len);
        xfree(e2);
        sbuf_free(&before);
        if (same) return 0;
    }
    w->changed = 1;
    return !mapping_state_is_delete(w->state.p, w->state.len);
}

/* ---- the local judge ------------------------------------------------------------- */

/* A mapped table's columns as the check last read them (store_api.h's
 * store_column.check says what may be judged here). Refreshed every
 * REFRESH_MS while write-behind writes use it, after an SQL.EXEC that
 * changes the schema (until then the store judges the table's rows), and
 * after one of its rows was refused when written. */
enum { REFRESH_MS = 5000 };
typedef struct wbc_table {
    char *name;
    store_column *cols;
    int ncols;
    int row;        /* the store judges every row (STORE_CHECK_ROW, or a
                       schema change not yet read back) */
    int64_t due_ms; /* read the description again from then on */
    int used;       /* judged a row since the last reading */
    int describing; /* a reading is in flight */
} wbc_table;

static wbc_table **tables;
static int ntables;

/* A verdict: taken, only the store can tell, or refused (why). */
enum {
    JUDGE_OK = 0,
    JUDGE_STORE,
    JUDGE_REFUSED, /* the refusals: JUDGE_REFUSED and above */
    JUDGE_RANGE,
    JUDGE_NUL,
    JUDGE_LONG
};

static void free_cols(store_column *cols, int n) {
    for (int i = 0; i < n; i++) {
        xfree(cols[i].name);
        xfree(cols[i].decltype);
    }
    xfree(cols);
}

static store_column *copy_cols(const store_column *cols, int n) {
    store_column *c = xcalloc((size_t)(n ? n : 1), sizeof(store_column));
    for (int i = 0; i < n; i++) {
        c[i] = cols[i];
        c[i].name = xstrdup(cols[i].name);
        c[i].decltype = xstrdup(cols[i].decltype ? cols[i].decltype : "");
    }
    return c;
}

static void table_set_cols(wbc_table *t, store_column *cols, int n) {
    free_cols(t->cols, t->ncols);
    t->cols = cols;
    t->ncols = n;
    t->row = 0;
    for (int i = 0; i < n; i++) t->row |= cols[i].check == STORE_CHECK_ROW;
}

/* The table of m (its description first taken from the mapping's, read at
 * start or CONFIG SET map, and read again soon). */
static wbc_table *table_of(const mapping *m) {
    for (int i = 0; i < ntables; i++)
        if (!strcmp(tables[i]->name, m->name)) return tables[i];
    tables = xrealloc(tables, sizeof(*tables) * (size_t)(ntables + 1));
    wbc_table *t = xcalloc(1, sizeof(*t));
    t->name = xstrdup(m->name);
    table_set_cols(t, copy_cols(m->cols, m->ncols), m->ncols);
    t->due_ms = server_mstime();
    tables[ntables++] = t;
    return t;
}

static const store_column *column_named(const wbc_table *t, const char *name) {
    for (int i = 0; i < t->ncols; i++)
        if (!strcasecmp(t->cols[i].name, name)) return &t->cols[i];
    return NULL;
}

/* A refusal's message: "<table>.<column> (<type>): <what>", with the value
 * quoted (at most 40 bytes of it, control bytes as '?': it goes into an
 * error line). */
static void refusal(sbuf *why, const wbc_table *t, const store_column *c, const char *what,
                    const char *p, size_t n) {
    sbuf_printf(why, "%s for %s.%s (%s)", what, t->name, c->name,
                c->decltype && * c->decltype ? c->decltype : "?");
    if (!p) return;
    sbuf_puts(why, ": \"");
    for (size_t i = 0; i < n && i < 40; i++) {
        char ch = (unsigned char)p[i] < 0x20 || p[i] == 0x7f ? '?' : p[i];
        sbuf_append(why, &ch, 1);
    }
    sbuf_puts(why, n > 40 ? "...\"" : "\"");
}

static int is_blank(char ch) {
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f';
}

static int is_digit(char ch) {
    return ch >= '0' && ch <= '9';
}

/* After blanks and a sign, a number starts with a digit or a point in every
 * form PostgreSQL and the bundled engine take ("0x1f", "1_000", ".5"): a
 * value that does not is refused. Returns the position of that character,
 * or n when the value is refused. */
static size_t number_start(const char *p, size_t n) {
    size_t i = 0;
    while (i < n && is_blank(p[i])) i++;
    if (i < n && (p[i] == '+' || p[i] == '-')) i++;
    return i < n && (is_digit(p[i]) || p[i] == '.') ? i : n;
}

static int judge_int(const char *p, size_t n, int bytes) {
    if (number_start(p, n) == n) return JUDGE_REFUSED;
    size_t i = n && (p[0] == '+' || p[0] == '-') ? 1 : 0;
    int neg = i && p[0] == '-';
    uint64_t limit = (bytes == 2 ? 32767u : bytes == 4 ? 2147483647u : INT64_MAX) + (uint64_t)neg;
    uint64_t v = 0;
    int over = 0;
    for (; i < n; i++) {
        /* blanks, a point, "0x1f", "1_000": the store parses those forms */
        if (!is_digit(p[i])) return JUDGE_STORE;
        if (!over && v > (limit - (uint64_t)(p[i] - '0')) / 10) over = 1;
        if (!over) v = v * 10 + (uint64_t)(p[i] - '0');
    }
    return over ? JUDGE_RANGE : JUDGE_OK;
}

/* numeric(prec, scale): "[+-]digits[.digits]" is judged (rounded to scale
 * half away from zero, its integer part must have at most prec - scale
 * digits); other forms (exponents, NaN, blanks) go to the store. */
static int judge_numeric(const char *p, size_t n, int prec, int scale) {
    size_t i = number_start(p, n);
    if (i == n) {
        /* NaN and the infinities are numbers too */
        size_t a = 0, b = n;
        while (a < b && is_blank(p[a])) a++;
        while (b > a && is_blank(p[b - 1])) b--;
        if (a < b && (p[a] == '+' || p[a] == '-')) a++;
        const char *const words[] = {"nan", "infinity", "inf"};
        for (int w = 0; w < 3; w++)
            if (b - a == strlen(words[w]) && !strncasecmp(p + a, words[w], b - a))
                return JUDGE_STORE;
        return JUDGE_REFUSED;
    }
    i = n && (p[0] == '+' || p[0] == '-') ? 1 : 0; /* blanks or a point first: the store */
    if (i == n || !is_digit(p[i])) return JUDGE_STORE;
    size_t int_at = i, int_end = i;
    while (int_end < n && is_digit(p[int_end])) int_end++;
    size_t frac_at = int_end, frac_end = int_end;
    if (frac_at < n && p[frac_at] == '.') {
        frac_at++;
        frac_end = frac_at;
        while (frac_end < n && is_digit(p[frac_end])) frac_end++;
    }
    if (frac_end != n) return JUDGE_STORE;
    if (prec == 0) return JUDGE_OK; /* unconstrained */
    while (int_at < int_end && p[int_at] == '0') int_at++;
    int nint = (int)(int_end - int_at), room = prec - scale;
    if (nint != room) return nint < room ? JUDGE_OK : JUDGE_RANGE;
    /* as many digits as there is room for: a rounding carry overflows */
    for (size_t k = int_at; k < int_end; k++)
        if (p[k] != '9') return JUDGE_OK;
    for (int k = 0; k < scale; k++)
        if (frac_at + (size_t)k >= frac_end || p[frac_at + (size_t)k] != '9') return JUDGE_OK;
    size_t next = frac_at + (size_t)scale;
    return next < frac_end && p[next] >= '5' ? JUDGE_RANGE : JUDGE_OK;
}

/* PostgreSQL's boolin: blanks around, then a prefix of true/false/yes/no,
 * "on"/"off" (at least two letters), or 1/0. */
static int judge_bool(const char *p, size_t n) {
    while (n && is_blank(*p)) p++, n--;
    while (n && is_blank(p[n - 1])) n--;
    if (!n) return JUDGE_REFUSED;
    const char *const words[] = {"true", "false", "yes", "no"};
    for (int w = 0; w < 4; w++)
        if (n <= strlen(words[w]) && !strncasecmp(p, words[w], n)) return JUDGE_OK;
    if (n >= 2 && ((n <= 2 && !strncasecmp(p, "on", n)) || (n <= 3 && !strncasecmp(p, "off", n))))
        return JUDGE_OK;
    return n == 1 && (*p == '1' || *p == '0') ? JUDGE_OK : JUDGE_REFUSED;
}

static int is_hex(char ch) {
    return is_digit(ch) || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

/* PostgreSQL's uuid_in: 32 hex digits, a '-' allowed after each group of
 * four, the whole optionally in braces; nothing else. */
static int judge_uuid(const char *p, size_t n) {
    size_t i = 0;
    int braces = n && p[0] == '{';
    if (braces) i++;
    for (int byte = 0; byte < 16; byte++) {
        if (i + 2 > n || !is_hex(p[i]) || !is_hex(p[i + 1])) return JUDGE_REFUSED;
        i += 2;
        if (i < n && p[i] == '-' && byte % 2 == 1 && byte < 15) i++;
    }
    if (braces && (i >= n || p[i++] != '}')) return JUDGE_REFUSED;
    return i == n ? JUDGE_OK : JUDGE_REFUSED;
}

/* The length of the UTF-8 sequence at p (1..4), 0 when it is not one
 * PostgreSQL takes (overlong, a surrogate, above U+10FFFF, cut short). */
static size_t utf8_seq(const unsigned char *p, size_t n) {
    unsigned c = p[0];
    if (c < 0x80) return 1;
    size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
    if (!len || c > 0xF4 || len > n) return 0;
    for (size_t k = 1; k < len; k++)
        if ((p[k] & 0xC0) != 0x80) return 0;
    if ((c == 0xE0 && p[1] < 0xA0) || (c == 0xED && p[1] > 0x9F) || (c == 0xF0 && p[1] < 0x90) ||
        (c == 0xF4 && p[1] > 0x8F))
        return 0;
    return len;
}

/* PostgreSQL text: a NUL is refused (pgstore cannot send it); invalid
 * UTF-8 goes to the store (its own message); at most max characters,
 * unless the ones past max are blanks (varchar and char cut them). */
static int judge_text(const char *p, size_t n, int max) {
    if (memchr(p, 0, n)) return JUDGE_NUL;
    size_t chars = 0, i = 0;
    int past_is_blank = 1;
    while (i < n) {
        size_t len = utf8_seq((const unsigned char *)p + i, n - i);
        if (!len) return JUDGE_STORE;
        if (max > 0 && (int)chars >= max && p[i] != ' ') past_is_blank = 0;
        chars++;
        i += len;
    }
    return max > 0 && (int)chars > max && !past_is_blank ? JUDGE_LONG : JUDGE_OK;
}

/* One value of column c: JUDGE_* (a refusal's message in why). */
static int judge_value(const wbc_table *t, const store_column *c, const store_value *v, sbuf *why) {
    if (v->type == SV_NULL) return JUDGE_OK;
    const char *p = v->p ? v->p : "";
    size_t n = v->len;
    int r;
    switch (c->check) {
    case STORE_CHECK_ANY:
        return JUDGE_OK;
    case STORE_CHECK_INT:
        r = judge_int(p, n, c->check_arg);
        break;
    case STORE_CHECK_NUMERIC:
        r = judge_numeric(p, n, c->check_arg, c->check_arg2);
        break;
    case STORE_CHECK_BOOL:
        r = judge_bool(p, n);
        break;
    case STORE_CHECK_UUID:
        r = judge_uuid(p, n);
        break;
    case STORE_CHECK_TEXT:
        r = judge_text(p, n, c->check_arg);
        break;
    default: /* ROW, VALUE, or a class this server does not know */
        return JUDGE_STORE;
    }
    if (r < JUDGE_REFUSED) return r;
    const char *what = r == JUDGE_RANGE  ? "value out of range"
                       : r == JUDGE_NUL  ? "a NUL byte is not a valid value"
                       : r == JUDGE_LONG ? "value too long"
                                         : "invalid input";
    refusal(why, t, c, what, r == JUDGE_LONG ? NULL : p, n);
    return JUDGE_REFUSED;
}

/* Judges an UPSERT row with its table's description: JUDGE_OK, JUDGE_STORE
 * (only the store can tell), or JUDGE_REFUSED with the message in why.
 * no_row: the store is known to hold no row of the key. */
static int judge_row(const wbc_table *t, const store_op *op, int no_row, sbuf *why) {
    if (t->row) return JUDGE_STORE;
    int verdict = JUDGE_OK;
    for (int i = 0; i < op->nkey + op->ncols; i++) {
        const char *name = i < op->nkey ? op->keycols[i] : op->cols[i - op->nkey];
        const store_value *v = i < op->nkey ? &op->keyvals[i] : &op->vals[i - op->nkey];
        const store_column *c = column_named(t, name);
        int r = c ? judge_value(t, c, v, why) : JUDGE_STORE; /* a column not known (yet) */
        if (r >= JUDGE_REFUSED) return JUDGE_REFUSED;
        if (r == JUDGE_STORE) verdict = r;
    }
    /* a NOT NULL column the row leaves out: refused unless a DEFAULT fills
     * it, or the store keeps an existing row's value (notnull_kept) and the
     * row may exist */
    for (int i = 0; i < t->ncols; i++) {
        const store_column *c = &t->cols[i];
        if (!c->notnull || c->pk || c->dflt) continue;
        int present = 0;
        for (int k = 0; k < op->ncols && !present; k++)
            present = op->vals[k].type != SV_NULL && !strcasecmp(op->cols[k], c->name);
        if (present) continue;
        if (c->notnull_kept && !no_row) {
            verdict = JUDGE_STORE;
            continue;
        }
        sbuf_printf(why, "NOT NULL constraint failed: %s.%s", t->name, c->name);
        return JUDGE_REFUSED;
    }
    return verdict;
}

/* ---- reading descriptions again ------------------------------------------------- */

typedef struct describe_job {
    store_job job;
    int n;
    char **names;
    store_column **cols; /* host copies, NULL where the reading failed */
    int *ncols;
} describe_job;

static void run_describe(store_job *sj, const store_module *m, void *h) {
    describe_job *j = (describe_job *)sj;
    for (int i = 0; i < j->n; i++) {
        store_column *cols = NULL;
        int n = 0;
        char *err = NULL;
        if (m->describe(h, j->names[i], &cols, &n, &err) == STORE_OK) {
            j->cols[i] = copy_cols(cols, n);
            j->ncols[i] = n;
            m->free_columns(cols, n);
        }
        if (err) m->free_error(err);
    }
}

static void describe_done(store_job *sj) {
    describe_job *j = (describe_job *)sj;
    for (int i = 0; i < j->n; i++) {
        for (int k = 0; k < ntables; k++) {
            wbc_table *t = tables[k];
            if (strcmp(t->name, j->names[i]) != 0) continue;
            t->describing = 0;
            if (j->cols[i]) {
                table_set_cols(t, j->cols[i], j->ncols[i]);
                j->cols[i] = NULL;
            }
        }
        if (j->cols[i]) free_cols(j->cols[i], j->ncols[i]);
        xfree(j->names[i]);
    }
    xfree(j->names);
    xfree(j->cols);
    xfree(j->ncols);
    xfree(j->job.err);
    xfree(j);
}

void wbc_cron(void) {
    int64_t now = server_mstime();
    describe_job *j = NULL;
    for (int i = 0; i < ntables; i++) {
        wbc_table *t = tables[i];
        if (t->describing || now < t->due_ms || !t->used) continue;
        if (!j) {
            j = xcalloc(1, sizeof(*j));
            j->names = xcalloc((size_t)ntables, sizeof(char *));
            j->cols = xcalloc((size_t)ntables, sizeof(store_column *));
            j->ncols = xcalloc((size_t)ntables, sizeof(int));
        }
        j->names[j->n++] = xstrdup(t->name);
        t->describing = 1;
        t->used = 0;
        t->due_ms = now + REFRESH_MS;
    }
    if (!j) return;
    j->job.run = run_describe;
    j->job.done = describe_done;
    j->job.upkeep = 1;
    storeq_submit(&j->job);
}

/* table NULL: every table. Until its description is read again, the store
 * judges its rows. */
void wbc_schema_changed(const char *table) {
    for (int i = 0; i < ntables; i++) {
        if (table && strcmp(tables[i]->name, table) != 0) continue;
        tables[i]->row = 1;
        tables[i]->used = 1;
        tables[i]->due_ms = 0;
    }
}

/* The command's outcome decided here, without the store: accepted, or
 * refused (why). */
static void decide_now(wbc_job *j, client *c, const char *why) {
    if (why) {
        ps.st.wb_refused_before_reply++;
        restore(j);
        persist_reply_backend_error(c, "write-behind refused", why);
    } else {
        accept(j, c);
        reply_raw(c, j->held.p, j->held.len);
    }
    release_keys(j);
    free_job(j);
}

void wbc_after(client *c) {
    wbc_job *j = cur;
    cur = NULL;
    reply_hold(c, NULL);
    db *d = server_db(0);
    j->job.ops = xcalloc((size_t)(j->n ? j->n : 1), sizeof(store_op));
    sbuf why = SBUF_INIT;
    int refused = 0;
    for (int i = 0; i < j->n && !refused; i++) {
        wbc_key *w = &j->keys[i];
        if (!needs_check(w, d)) continue;
        const char *pk = w->k->key + w->k->map->plen;
        size_t pklen = w->k->klen - w->k->map->plen - w->k->map->slen;
        store_op *op = &j->job.ops[j->job.nops];
        if (mapping_state_to_op(w->k->map, pk, pklen, w->state.p, w->state.len, op, &w->scratch) !=
            OK)
            continue;
        wbc_table *t = table_of(w->k->map);
        t->used = 1;
        int verdict = judge_row(t, op, w->no_row, &why);
        if (verdict == JUDGE_STORE) {
            ps.st.wb_check_store++;
            j->job.nops++;
        } else {
            ps.st.wb_check_local++;
            refused = verdict == JUDGE_REFUSED;
        }
    }
    /* a store that is not connected cannot judge now: the batch will (a
     * write-behind write must not wait for a store that is down) */
    storeq_stats st;
    storeq_get_stats(&st);
    if (st.conn_state != STORE_CONN_CONNECTED) j->job.nops = 0;
    if (refused || !j->job.nops) { /* nothing to ask the store */
        decide_now(j, c, refused ? why.p : NULL);
        sbuf_free(&why);
        return;
    }
    sbuf_free(&why);
    for (int i = 0; i < j->n; i++) pkey_lock(j->keys[i].k);
    j->job.group = 1;
    j->job.check = 1;
    j->job.done = check_done;
    block_client(c, BLOCKED_STORE, 0);
    storeq_submit(&j->job);
}
