/* sql/istat.c — index usage statistics and the larder_stat_indexes table.
 *
 * Per index of every table (the primary key included), counted by this
 * connection since it opened; kept in memory only (nothing is written to
 * the database) and so reset when the connection closes — for the server,
 * at every start:
 *   scans            loops that opened a search or a scan of it (one per open:
 *                    a loop inside a join counts once per outer row), and the
 *                    lookups that enforce foreign keys
 *   rows_read        entries those scans read
 *   last_used        time of the last scan (UTC text), NULL if none
 *   rows_inserted/updated/deleted  the table's row writes
 *   entries_inserted/deleted       the index's upkeep (NULL for the key)
 *   stat             ANALYZE's statistics as sqlite_stat1 writes them (rows,
 *                    then rows per distinct prefix), NULL if not analyzed
 * Writes count when they are made, also when their transaction later rolls
 * back. An index's counters are found by its table's and its own name, so
 * that a schema reload (any DDL) keeps them; a renamed table starts anew.
 *
 * The table larder_stat_indexes is read-only and computed when read: one
 * row per index of the current schema.
 */
#include "sql/sqlrt.h"
#include "util/mem.h"
#include <ctype.h>
#include <stdio.h>
#include <time.h>

static void lower_into(keyenc_buf *k, const char *s) {
    for (; s && *s; s++) {
        uint8_t c = (uint8_t)tolower((unsigned char)*s);
        sqli_key_raw(k, &c, 1);
    }
}

usage_stat *sqli_usage(sql_db *db, index_t *x) {
    if (x->ustat_db == db && x->ustat) return x->ustat;
    if (!db->usage) db->usage = xcalloc(1, sizeof *db->usage);
    keyenc_buf k;
    sqli_keyenc_init(&k);
    lower_into(&k, x->tab->name);
    uint8_t zero = 0;
    sqli_key_raw(&k, &zero, 1);
    if (!x->is_pk) lower_into(&k, x->name);
    int added;
    bmap_ent *e = sqli_bmap_get(db->usage, k.p, k.len, 1, &added);
    sqli_keyenc_free(&k);
    if (added) e->v = xcalloc(1, sizeof(usage_stat));
    x->ustat = e->v;
    x->ustat_db = db;
    return x->ustat;
}

void sqli_usage_scan(sql_db *db, index_t *x) {
    usage_stat *u = sqli_usage(db, x);
    struct timespec ts; /* the coarse clock: whole seconds are all we keep */
    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    u->scans++;
    u->last_used = (int64_t)ts.tv_sec;
}

void sqli_usage_free(sql_db *db) {
    if (!db->usage) return;
    for (size_t i = 0; i < db->usage->cap; i++)
        if (db->usage->t[i].k) xfree(db->usage->t[i].v);
    sqli_bmap_clear(db->usage);
    xfree(db->usage);
    db->usage = NULL;
}

/* ---- larder_stat_indexes ------------------------------------------------------------------ */

static const char *const stat_names[] = {
    "table_name",   "index_name",       "is_primary",      "scans",
    "rows_read",    "last_used",        "rows_inserted",   "rows_updated",
    "rows_deleted", "entries_inserted", "entries_deleted", "stat"};
static const char *const stat_types[] = {"TEXT",    "TEXT",    "INTEGER", "INTEGER",
                                         "INTEGER", "TEXT",    "INTEGER", "INTEGER",
                                         "INTEGER", "INTEGER", "INTEGER", "TEXT"};
#define NSTAT 12

table *sqli_usage_table(schema *s) {
    table *t = sqli_ar_alloc(&s->ar, sizeof *t);
    t->name = "larder_stat_indexes";
    t->sql = "";
    t->is_schema = SYS_STAT_INDEXES;
    t->ncol = NSTAT;
    t->cols = sqli_ar_alloc(&s->ar, sizeof *t->cols * NSTAT);
    for (int i = 0; i < NSTAT; i++) {
        t->cols[i].name = (char *)stat_names[i];
        t->cols[i].decl = (char *)stat_types[i];
        sqli_type_affinity(stat_types[i], &t->cols[i].aff, &t->cols[i].kind, NULL, NULL);
    }
    t->rowid = 1;
    t->ipk = -1;
    t->nrow_est = -1;
    t->pk.ncol = 1;
    t->pk.cols = sqli_ar_alloc(&s->ar, sizeof(int));
    t->pk.cols[0] = -1;
    t->pk.desc = sqli_ar_alloc(&s->ar, 1);
    t->pk.is_pk = 1;
    t->pk.tab = t;
    t->pk.name = t->name;
    return t;
}

static void stat_row(sql_db *db, rowbuf *rb, index_t *x) {
    usage_stat *u = sqli_usage(db, x), *tu = sqli_usage(db, &x->tab->pk);
    sql_value r[NSTAT + 1];
    char when[32], st[512];
    val_set_text_ref(&r[0], x->tab->name, strlen(x->tab->name));
    if (x->is_pk)
        val_set_null(&r[1]);
    else
        val_set_text_ref(&r[1], x->name, strlen(x->name));
    val_set_int(&r[2], x->is_pk);
    val_set_int(&r[3], u->scans);
    val_set_int(&r[4], u->rows_read);
    val_set_null(&r[5]);
    if (u->last_used) {
        time_t tt = (time_t)u->last_used;
        struct tm tm;
        gmtime_r(&tt, &tm);
        strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
        val_set_text_ref(&r[5], when, strlen(when));
    }
    val_set_int(&r[6], tu->rows_ins);
    val_set_int(&r[7], tu->rows_upd);
    val_set_int(&r[8], tu->rows_del);
    if (x->is_pk) {
        val_set_null(&r[9]);
        val_set_null(&r[10]);
    } else {
        val_set_int(&r[9], u->ent_ins);
        val_set_int(&r[10], u->ent_del);
    }
    val_set_null(&r[11]);
    if (x->stat) {
        size_t n = 0;
        for (int k = 0; k <= x->ncol && n < sizeof st - 24; k++)
            n += (size_t)snprintf(st + n, sizeof st - n, "%s%lld", k ? " " : "",
                                  (long long)x->stat[k]);
        val_set_text_ref(&r[11], st, n);
    }
    val_set_null(&r[NSTAT]); /* rowid */
    sqli_rowbuf_add(rb, NULL, 0, r, NSTAT + 1);
}

int sqli_usage_rows(vm *v, rowbuf *rb) {
    schema *s = v->db->sch;
    for (int i = 0; i < s->ntab; i++) {
        table *t = s->tabs[i];
        stat_row(v->db, rb, &t->pk);
        for (index_t *x = t->indexes; x; x = x->next) stat_row(v->db, rb, x);
    }
    return SQL_OK;
}
