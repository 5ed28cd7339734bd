/* Full-text search through the server: CREATE FULLTEXT INDEX with SQL.EXEC,
 * MATCH with bm25() ranking, highlight() and snippet() over SQL.QUERY (the
 * query bound as a parameter), index upkeep by SQL.EXEC writes and by
 * write-through HSETs of a mapped table, the plan, and the errors as -ERR.
 * Bundled store only (full-text indexes are the bundled engine's). */
#include "pkit.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

TEST(fts_over_sql_query) {
    if (pk_pg()) return;
    pk_env e;
    memset(&e, 0, sizeof e);
    if (pk_start(&e, NULL) != 0) {
        CHECK(0);
        return;
    }
    redisContext *c = srv_connect(&e.s);
    if (!c) return;
    pk_exec(c, "CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT, body TEXT)");
    CHECK_CMD(c, ":3", "SQL.EXEC %s",
              "INSERT INTO notes VALUES (1, 'Groceries', 'milk, bread and café crème'), "
              "(2, 'Reading', 'a book about the write-ahead log'), "
              "(3, 'Cafe list', 'the café on the corner; another café downtown')");
    redisReply *r =
        pk_cmd(c, "SQL.EXEC %s", "CREATE FULLTEXT INDEX notes_fts ON notes(title, body)");
    CHECK(r && r->type == REDIS_REPLY_INTEGER);
    if (r) freeReplyObject(r);
    /* ranked: the row with most hits first; the query is a bound parameter */
    CHECK_CMD(c, "[[:3],[:1]]", "SQL.QUERY %s %s",
              "SELECT id FROM notes WHERE notes MATCH ? ORDER BY bm25(notes)", "CAFE");
    CHECK_CMD(c, "[[:2,a book about the [write-ahead] [log]]]", "SQL.QUERY %s %s",
              "SELECT id, highlight(notes, 1, '[', ']') FROM notes WHERE notes MATCH ?",
              "\"write ahead\"* log"); /* two phrases side by side: two spans, as FTS5 */
    CHECK_CMD(c, "[[:1,...bread and [café] crème]]", "SQL.QUERY %s %s",
              "SELECT id, snippet(notes, 1, '[', ']', '...', 4) FROM notes "
              "WHERE notes MATCH ? AND id < 3",
              "cafe");
    CHECK_CMD(c, "[[:1,:0,:0,SEARCH notes USING FULLTEXT INDEX notes_fts (MATCH)]]", "SQL.QUERY %s",
              "EXPLAIN QUERY PLAN SELECT id FROM notes WHERE notes MATCH 'milk'");
    /* writes over SQL.EXEC keep the index, rollbacks included */
    CHECK_CMD(c, ":1", "SQL.EXEC %s", "UPDATE notes SET body = 'nothing left' WHERE id = 1");
    CHECK_CMD(c, "[[:3]]", "SQL.QUERY %s", "SELECT id FROM notes WHERE notes MATCH 'café'");
    CHECK_CMD(c, "-ERR UNIQUE constraint failed: notes.id", "SQL.EXEC %s",
              "INSERT INTO notes VALUES (4, 'x', 'zebra'), (3, 'dup', 'zebra')");
    CHECK_CMD(c, "[]", "SQL.QUERY %s", "SELECT id FROM notes WHERE notes MATCH 'zebra'");
    /* a write-through HSET of a mapped key reaches the index too */
    CHECK_CMD(c, "+OK", "CONFIG SET map %s", "notes note:{id} mode write-through ttl 600");
    CHECK_CMD(c, ":2", "HSET note:5 title %s body %s", "Zebra facts", "stripes and more stripes");
    CHECK_CMD(c, "[[:5,Zebra facts]]", "SQL.QUERY %s",
              "SELECT id, title FROM notes WHERE notes MATCH 'stripe*'");
    /* errors */
    CHECK_CMD(c, "-ERR full-text query: unterminated string", "SQL.QUERY %s %s",
              "SELECT id FROM notes WHERE notes MATCH ?", "\"open");
    CHECK_CMD(c, "-ERR full-text query: no such column: author", "SQL.QUERY %s %s",
              "SELECT id FROM notes WHERE notes MATCH ?", "author: x");
    CHECK_CMD(c, "-ERR full-text query: syntax error near \"\"", "SQL.QUERY %s %s",
              "SELECT id FROM notes WHERE notes MATCH ?", "milk AND");
    CHECK_CMD(c, "-ERR unable to use function bm25 in the requested context", "SQL.QUERY %s",
              "SELECT bm25(notes) FROM notes");
    redisFree(c);
    pk_cleanup(&e);
}

int main(void) {
    RUN(fts_over_sql_query);
    return test_report();
}
