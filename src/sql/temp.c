/* sql/temp.c — the connection's temporary tables (CREATE TEMP TABLE).
 *
 * Temporary tables and their indexes live in a store of their own, one per
 * connection: a transient in-memory store (STORE_MEMORY), made by the first
 * CREATE TEMP TABLE and gone at close, so nothing of them ever reaches the
 * database file or its log. Its catalog has the main catalog's format; the
 * schema adds its objects with t->temp set and every tree named
 * root | TEMP_TREE, so that each store call of the executor, made through
 * sqli_txn_for, reaches the right store.
 *
 * The temp store has one write transaction, begun with it and never
 * committed (it is memory either way). The connection's transactions map to
 * savepoints inside it:
 *   - every write statement: a savepoint (st->temp_sp), released when the
 *     statement succeeds and rolled back when it fails;
 *   - BEGIN ... COMMIT / ROLLBACK: a savepoint (db->temp_base);
 *   - SAVEPOINT name: a savepoint (its temp_level); one made before the temp
 *     store existed rolls back to temp_base, or to nothing.
 *
 * Invariants:
 *   1. db->temp_txn != NULL exactly when db->temp_store != NULL.
 *   2. A tree number with TEMP_TREE set is a tree of db->temp_store.
 */
#include "sql/sqlrt.h"
#include "util/mem.h"

store_txn *sqli_txn_for(vm *v, store_tree tree) {
    return (tree & TEMP_TREE) ? v->db->temp_txn : v->txn;
}

int sqli_temp_savepoint(sql_db *db) {
    int level = 0;
    if (db->temp_txn && sqli_store_savepoint(db->temp_txn, &level) != STORE_OK) return 0;
    return level;
}

void sqli_temp_end(sql_db *db, int level, int keep) {
    if (!db->temp_txn || level <= 0) return;
    if (!keep) sqli_store_rollback_to(db->temp_txn, level);
    sqli_store_release(db->temp_txn, level);
}

void sqli_temp_rollback_to(sql_db *db, int level) {
    if (db->temp_txn && level > 0) sqli_store_rollback_to(db->temp_txn, level);
}

int sqli_temp_open(vm *v) {
    sql_db *db = v->db;
    if (db->temp_store) return SQL_OK;
    store_options o = {.flags = STORE_MEMORY};
    int rc = sqli_store_open("temp", &o, &db->temp_store);
    if (rc == STORE_OK) rc = sqli_store_begin(db->temp_store, STORE_TXN_WRITE, &db->temp_txn);
    if (rc != STORE_OK) {
        if (db->temp_store) sqli_store_close(db->temp_store);
        db->temp_store = NULL;
        db->temp_txn = NULL;
        return sqli_vm_store_error(v, rc);
    }
    /* made inside a transaction: what it holds goes with that transaction,
     * and with the running statement */
    if (db->explicit_txn) db->temp_base = sqli_temp_savepoint(db);
    if (v->st && db->txn) v->st->temp_sp = sqli_temp_savepoint(db);
    return SQL_OK;
}

void sqli_temp_close(sql_db *db) {
    if (db->temp_txn) sqli_store_abort(db->temp_txn);
    if (db->temp_store) sqli_store_close(db->temp_store);
    db->temp_txn = NULL;
    db->temp_store = NULL;
    db->temp_base = 0;
}
