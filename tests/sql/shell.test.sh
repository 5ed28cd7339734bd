#!/bin/sh
# tests/sql/shell.test.sh — larder-sql's dot commands and output modes, against
# sqlite3 where both should print the same text.
#   .tables .schema .indexes .mode list|csv|column|box|json .headers .timer
#   .read .import (CSV) .dump (loaded back into sqlite3) .backup, errors and
#   the exit status, statements spread over lines, triggers in scripts.
B=${LARDER_BUILD:-build}
SH="$B/larder-sql"
T=$(mktemp -d /tmp/larder-shell.XXXXXX)
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $1"; }
same() { # name file1 file2
    if cmp -s "$2" "$3"; then ok; else bad "$1"; diff "$2" "$3" | head -20; fi
}

cat > "$T/setup.sql" <<'EOF'
CREATE TABLE people(id INTEGER PRIMARY KEY, name TEXT NOT NULL, city TEXT, score REAL);
CREATE INDEX people_city ON people(city);
INSERT INTO people VALUES (1, 'Ann', 'Paris', 9.5), (2, 'Bob', NULL, 7),
  (3, 'Chloé', 'Lyon', NULL), (4, 'Dan "D"', 'Paris', 1e20);
CREATE TABLE notes(id INTEGER PRIMARY KEY, pid INT REFERENCES people(id), body TEXT);
INSERT INTO notes(pid, body) VALUES (1, 'it''s, fine'), (2, ' spaced'), (2, 'two
lines');
CREATE TRIGGER notes_ai AFTER INSERT ON notes BEGIN
  UPDATE people SET score = coalesce(score, 0) + 1 WHERE id = NEW.pid;
END;
EOF
cat > "$T/queries.sql" <<'EOF'
SELECT * FROM people ORDER BY id;
SELECT name, city, score * 2 FROM people WHERE city IS NOT NULL ORDER BY name;
.headers on
.mode csv
SELECT * FROM notes ORDER BY id;
.mode column
SELECT id, name, city FROM people ORDER BY id;
.mode json
SELECT id, name, score FROM people ORDER BY id;
.mode list
.headers off
SELECT count(*), sum(score), avg(id) FROM people;
SELECT
  city,
  count(*)
FROM people
GROUP BY city
ORDER BY city;
EOF

# same text as sqlite3 for the query part
"$SH" "$T/a.db" < "$T/setup.sql" > "$T/o1" 2>&1 || bad "setup failed: $(cat "$T/o1")"
sqlite3 "$T/s.db" < "$T/setup.sql" > /dev/null 2>&1
"$SH" "$T/a.db" < "$T/queries.sql" > "$T/ours" 2>&1
sqlite3 "$T/s.db" < "$T/queries.sql" > "$T/theirs" 2>&1
same "queries print like sqlite3" "$T/theirs" "$T/ours"


# functions, collations, rounding and printf print exactly like sqlite3's
cat > "$T/funcs.sql" <<'SQLEOF'
create table c(a text collate nocase, b text);
insert into c values ('Abc','Abc'),('abc','abc'),('ABD','x');
select a from c where a = 'ABC' order by a;
select b from c where b = 'ABC';
select count(distinct a), count(distinct b) from c;
select a from c group by a order by a;
select 'abc' = 'ABC' collate nocase, 'a' < 'B' collate nocase;
select * from c where a like 'ab%' order by b;
select 'x_y' like 'x\_y' escape '\', 'xay' like 'x\_y' escape '\';
select 'abc' glob 'a[a-c]?', 'a1' glob 'a[!0-9]', 'a1' glob 'a[^0-9]';
select date('2024-01-31', '+1 month'), datetime('2024-03-10 12:00:00', '-1 day', 'start of month'), julianday('2000-01-01'), unixepoch('2024-01-01'), strftime('%j %w', '2024-12-31');
select time('12:34:56'), date('now') = date(), typeof(julianday('now'));
select substr('hello', 4, -2), substr('hello', -1, -2), substr(x'010203', 2, 1), instr(x'0102', x'02');
select round(2.675, 2), round(-0.5), round(1234.5678, -2), round(5e-324);
select printf('%5s|%-5s|%05d|%x|%.3e|%q|%%', 'ab', 'cd', 42, 255, 1234.5, 'it''s');
select 10 / 3.0, 1e308 * 10, -1e308 * 10, 0.0 / 0;
select max('a', 1, x'00'), min(2, '1'), coalesce(null, null);
select group_concat(a, '-') from (select 'x' as a union all select NULL union all select 'y');
select total(a), sum(a), avg(a) from (select '3' as a union all select 'x' union all select 2.5);
select cast(' 12 ' as integer), cast('-0' as real), cast(1e20 as integer), cast(x'3132' as integer), cast(null as text);
select 5 between 1 and 10, 'b' between 'a' and 'c', null between 1 and 2, 3 not between 4 and 5;
select case 1 when 1.0 then 'eq' else 'ne' end, case 'a' when 'A' then 1 else 0 end;
select typeof(1 || 2), 1 || NULL, x'41' || x'42';
select hex(randomblob(4)) is not null, length(zeroblob(10)), quote(zeroblob(2));
select nullif('a', 'A'), ifnull(NULL, 0), iif(NULL, 1, 2);
select char(65, 0x263A), unicode('é'), upper('é'), length('日本');
select abs(-9223372036854775807), -(-9223372036854775807), sign(-0.0), sign('x');
select ltrim('  x  '), rtrim('xyy', 'y'), trim('abcba', 'ab'), replace('aaa', 'a', 'bb');
SELECT round(0.5), round(2.5, 0), round(-2.675, 2), round(0.045, 2), round(1.005, 2), round(9.995, 2),
  printf('%.2f|%.0f|%8.3f|%-8.1f|%+.1e|%e|%010.2f', 2.675, 0.5, -3.14159, 2.25, 12345.678, 0.0001234, -1.5);
select sqrt(16), pow(2, 10), power(2, 0.5), exp(1), ln(10), ln(0), ln(-1), log(100), log(2, 8), log10(0.001), log2(1024), log2(0);
select sin(1), cos(1), tan(1), asin(0.5), acos(0.5), atan(1), atan2(1, 2), asin(2), sqrt(-1);
select sinh(1), cosh(1), tanh(0.5), asinh(1), acosh(2), atanh(0.5), acosh(0.5), degrees(pi()), radians(180), pi();
select ceil(2.1), ceiling(-1.5), floor(-2.5), floor(3), trunc(-2.7), mod(7, 3), mod(-7.5, 2), sign(-3), degrees('x'), sqrt(NULL);
SQLEOF
"$SH" "$T/f.db" < "$T/funcs.sql" > "$T/ours" 2>&1
sqlite3 :memory: < "$T/funcs.sql" > "$T/theirs" 2>&1
same "functions print like sqlite3" "$T/theirs" "$T/ours"

# .tables .schema .indexes
"$SH" "$T/a.db" .tables > "$T/o" 2>&1
printf 'notes   people\n' > "$T/e"
same ".tables" "$T/e" "$T/o"
"$SH" "$T/a.db" ".schema people" > "$T/o" 2>&1
sqlite3 "$T/s.db" ".schema people" > "$T/e" 2>&1
same ".schema TABLE" "$T/e" "$T/o"
"$SH" "$T/a.db" .indexes > "$T/o" 2>&1
printf 'people_city\n' > "$T/e"
same ".indexes" "$T/e" "$T/o"

# .dump loads into sqlite3 and gives the same data
"$SH" "$T/a.db" .dump > "$T/dump.sql" 2>&1
sqlite3 "$T/fromdump.db" < "$T/dump.sql" > "$T/o" 2>&1
[ -s "$T/o" ] && bad ".dump loads into sqlite3: $(head -3 "$T/o")" || ok
sqlite3 "$T/fromdump.db" "SELECT * FROM people ORDER BY id; SELECT * FROM notes ORDER BY id" > "$T/o" 2>&1
sqlite3 "$T/s.db" "SELECT * FROM people ORDER BY id; SELECT * FROM notes ORDER BY id" > "$T/e" 2>&1
same ".dump round trip (data)" "$T/e" "$T/o"
# and back into larder-sql
"$SH" "$T/b.db" < "$T/dump.sql" > "$T/o" 2>&1
[ -s "$T/o" ] && bad ".dump loads into larder-sql: $(head -3 "$T/o")" || ok
"$SH" "$T/b.db" "SELECT count(*) FROM notes" "SELECT name FROM larder_schema WHERE type='trigger'" > "$T/o" 2>&1
printf '3\nnotes_ai\n' > "$T/e"
same ".dump keeps triggers" "$T/e" "$T/o"

# ANALYZE's statistics: .dump ends with ANALYZE of the analyzed tables, and
# the database loaded from it has the same statistics
"$SH" "$T/a.db" "ANALYZE people" > /dev/null 2>&1
"$SH" "$T/a.db" .dump > "$T/dump2.sql" 2>&1
grep -q '^ANALYZE people;$' "$T/dump2.sql" && ! grep -q '^ANALYZE notes;$' "$T/dump2.sql" && ok ||
    bad ".dump has ANALYZE of the analyzed tables"
"$SH" "$T/c.db" < "$T/dump2.sql" > /dev/null 2>&1
q="SELECT table_name, index_name, stat FROM larder_stat_indexes ORDER BY 1, 2"
"$SH" "$T/a.db" "$q" > "$T/e" 2>&1
"$SH" "$T/c.db" "$q" > "$T/o" 2>&1
grep -q '^people|people_city|4 ' "$T/o" && same ".dump keeps ANALYZE statistics" "$T/e" "$T/o" ||
    bad ".dump keeps ANALYZE statistics: $(cat "$T/o")"

# .backup copies everything; the copy works on its own
"$SH" "$T/a.db" ".backup $T/copy.db" > "$T/o" 2>&1 && [ ! -s "$T/o" ] && ok || bad ".backup: $(cat "$T/o")"
"$SH" "$T/copy.db" "INSERT INTO notes(pid, body) VALUES (3, 'x')" "SELECT score FROM people WHERE id = 3" > "$T/o" 2>&1
printf '1.0\n' > "$T/e"
same ".backup copy has data, indexes and triggers" "$T/e" "$T/o"
"$SH" "$T/a.db" ".backup $T/copy.db" > "$T/o" 2>&1 && bad ".backup over an existing file" || ok

# .import: a new table from the header row, then rows into an existing table
printf 'sku,label,qty\na1,"Apple, red",3\nb2,"say ""hi""",\nc3,plain,7\n' > "$T/in.csv"
"$SH" "$T/a.db" ".import $T/in.csv stock" "SELECT * FROM stock ORDER BY sku" > "$T/o" 2>&1
printf 'a1|Apple, red|3\nb2|say "hi"|\nc3|plain|7\n' > "$T/e"
same ".import creates the table" "$T/e" "$T/o"
printf 'd4,more,1\n' > "$T/in2.csv"
"$SH" "$T/a.db" ".import $T/in2.csv stock" "SELECT count(*) FROM stock" > "$T/o" 2>&1
printf '4\n' > "$T/e"
same ".import appends to an existing table" "$T/e" "$T/o"

# .read, .timer, errors and exit status
printf 'SELECT 40 + 2;\n' > "$T/r.sql"
"$SH" "$T/a.db" ".read $T/r.sql" > "$T/o" 2>&1
printf '42\n' > "$T/e"
same ".read" "$T/e" "$T/o"
"$SH" "$T/a.db" ".timer on" "SELECT 1" > "$T/o" 2>&1
grep -q '^Run Time: real [0-9.]* user [0-9.]* sys [0-9.]*$' "$T/o" && ok || bad ".timer: $(cat "$T/o")"
printf 'SELECT 1;\nSELECT * FROM nope;\nSELECT 2;\n' | "$SH" "$T/a.db" > "$T/o" 2> "$T/err"
st=$?
printf '1\n2\n' > "$T/e"
same "errors do not stop a script" "$T/e" "$T/o"
[ "$st" = 1 ] && ok || bad "exit status after an error: $st"
grep -q '^Parse error near line 2: no such table: nope$' "$T/err" && ok || bad "error message: $(cat "$T/err")"
printf 'INSERT INTO people(id, name) VALUES (1, 2);\n' | "$SH" "$T/a.db" > "$T/o" 2> "$T/err"
grep -q '^Runtime error near line 1: UNIQUE constraint failed: people.id$' "$T/err" && ok || bad "runtime error: $(cat "$T/err")"
printf '.bail on\nSELECT * FROM nope;\nSELECT 2;\n' | "$SH" "$T/a.db" > "$T/o" 2>/dev/null
[ ! -s "$T/o" ] && ok || bad ".bail on: $(cat "$T/o")"
"$SH" "$T/a.db" ".mode nonsense" > /dev/null 2>&1 && bad ".mode rejects unknown modes" || ok
"$SH" -version | grep -q larder-sql && ok || bad "-version"

# ":memory:" and no FILE: a transient database, as in sqlite3; nothing is
# created in the working directory (not a file named ":memory:", not a log)
mkdir "$T/mem"
SHA=$(cd "$(dirname "$SH")" && pwd)/$(basename "$SH")
{
    echo "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);"
    echo "INSERT INTO t(v) VALUES (printf('%0500d', 7));"
    for i in 1 2 3 4 5 6 7 8 9 10 11 12 13; do echo "INSERT INTO t(v) SELECT v FROM t;"; done
    echo "SELECT count(*), sum(length(v)) FROM t;"
} > "$T/mem.sql"
printf '8192|4096000\n' > "$T/e"
(cd "$T/mem" && "$SHA" :memory: < "$T/mem.sql") > "$T/o" 2>&1
same ":memory: is a working database" "$T/e" "$T/o"
(cd "$T/mem" && "$SHA" < "$T/mem.sql") > "$T/o" 2>&1
same "no FILE is a working database" "$T/e" "$T/o"
(cd "$T/mem" && printf 'SELECT count(*) FROM larder_schema;\n' | "$SHA" :memory:) > "$T/o" 2>&1
printf '0\n' > "$T/e"
same "each :memory: database starts empty" "$T/e" "$T/o"
[ -z "$(ls -A "$T/mem")" ] && ok || bad "in-memory databases created files: $(ls -A "$T/mem")"

# views in .tables, .schema and .dump (which sqlite3 loads back)
printf 'CREATE TABLE t(x);\nINSERT INTO t VALUES (1), (2);\nCREATE VIEW v AS SELECT x * 2 AS y FROM t;\nCREATE INDEX tx ON t(x);\n' > "$T/views.sql"
"$SH" "$T/v.db" < "$T/views.sql" > "$T/o" 2>&1
sqlite3 "$T/vs.db" < "$T/views.sql" > /dev/null 2>&1
"$SH" "$T/v.db" .tables > "$T/o" 2>&1
sqlite3 "$T/vs.db" .tables > "$T/e" 2>&1
same ".tables lists views" "$T/e" "$T/o"
"$SH" "$T/v.db" .schema > "$T/o" 2>&1
printf 'CREATE TABLE t(x);\nCREATE INDEX tx ON t(x);\nCREATE VIEW v AS SELECT x * 2 AS y FROM t;\n' > "$T/e"
same ".schema shows views" "$T/e" "$T/o"
"$SH" "$T/v.db" .dump > "$T/vdump.sql" 2>&1
sqlite3 "$T/vfromdump.db" < "$T/vdump.sql" > "$T/o" 2>&1
sqlite3 "$T/vfromdump.db" "SELECT * FROM v" >> "$T/o" 2>&1
printf '2\n4\n' > "$T/e"
same ".dump keeps views" "$T/e" "$T/o"
"$SH" "$T/vcopy.db" < "$T/vdump.sql" > "$T/o" 2>&1
"$SH" "$T/vcopy.db" "SELECT * FROM v" >> "$T/o" 2>&1
same ".dump of views loads into larder-sql" "$T/e" "$T/o"
"$SH" "$T/v.db" ".backup $T/vbackup.db" > "$T/o" 2>&1
"$SH" "$T/vbackup.db" "SELECT * FROM v" >> "$T/o" 2>&1
same ".backup keeps views" "$T/e" "$T/o"

# JSON mode: reals with every digit a reader needs to get the same double back
"$SH" -json "$T/a.db" "SELECT 0.1 AS a, 2.0 AS b, 1e20 AS c, 1.0 / 3 AS d, 9e999 AS e, -2.5e-7 AS f" > "$T/o" 2>&1
printf '[{"a":0.10000000000000001,"b":2.0,"c":1.0e+20,"d":0.33333333333333331,"e":1e999,"f":-2.4999999999999999e-07}]\n' > "$T/e"
same "json reals round-trip" "$T/e" "$T/o"

# output through a pipe is flushed after each statement: a program driving
# the shell sees a result before it sends the next statement
mkfifo "$T/fifo"
"$SH" "$T/a.db" < "$T/fifo" > "$T/piped" 2>&1 &
shpid=$!
exec 3> "$T/fifo"
printf 'SELECT 40 + 2;\n' >&3
i=0
while [ $i -lt 50 ] && [ ! -s "$T/piped" ]; do sleep 0.1; i=$((i + 1)); done
printf '42\n' > "$T/e"
same "each statement's output is flushed to a pipe" "$T/e" "$T/piped"
exec 3>&-
wait $shpid

rm -rf "$T"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
