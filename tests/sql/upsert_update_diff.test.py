#!/usr/bin/python3
"""tests/sql/upsert_update_diff.test.py — seeded random scripts of upserts
(ON CONFLICT on the primary key, on a UNIQUE column, DO NOTHING, with WHERE),
UPDATEs (also of the primary key), DELETEs, savepoints and triggers that write
another table from inside an update, run by larder-sql and by sqlite3: the
printed results and errors must be the same. It guards the update paths that
replace a row where the row cursor stands (no second search).

  LARDER_BUILD (default build), UPSERT_DIFF_SEEDS (default 40)."""
import os
import random
import re
import shutil
import subprocess
import tempfile

B = os.environ.get("LARDER_BUILD", "build")
SEEDS = int(os.environ.get("UPSERT_DIFF_SEEDS", "40"))


def script(seed):
    r = random.Random(seed)
    out = ["CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER, w TEXT);",
           "CREATE TABLE u (id INTEGER PRIMARY KEY, x INTEGER, y TEXT UNIQUE);",
           "CREATE INDEX tv ON t(v);",
           "CREATE TABLE log (n INTEGER PRIMARY KEY, what TEXT);"]
    if seed % 2:
        out.append("CREATE TRIGGER tu AFTER UPDATE ON t BEGIN "
                   "INSERT INTO log(what) VALUES ('u ' || new.k || ' ' || new.v); END;")
        out.append("CREATE TRIGGER tb BEFORE UPDATE ON u BEGIN "
                   "UPDATE t SET v = coalesce(v, 0) + 1 WHERE k = 'k' || (new.id % 7); END;")
    out.append("BEGIN;")
    for _ in range(400):
        c = r.random()
        k, v, i2 = "k%d" % r.randrange(30), r.randrange(100), r.randrange(40)
        y = "y%d" % r.randrange(25)
        if c < 0.3:
            out.append("INSERT INTO t(k, v, w) VALUES ('%s', %d, '%s') ON CONFLICT (k) DO UPDATE "
                       "SET v = t.v + excluded.v, w = excluded.w || 'x';" % (k, v, "w" * r.randrange(1, 300)))
        elif c < 0.4:
            out.append("INSERT INTO t(k, v) VALUES ('%s', %d), ('%s', %d) ON CONFLICT (k) DO UPDATE "
                       "SET v = excluded.v WHERE excluded.v > t.v;" % (k, v, "k%d" % r.randrange(30), r.randrange(100)))
        elif c < 0.5:
            out.append("INSERT INTO u(id, x, y) VALUES (%d, %d, '%s') ON CONFLICT (id) DO UPDATE SET x = u.x + 1;"
                       % (i2, v, y))
        elif c < 0.58:
            out.append("INSERT INTO u(id, x, y) VALUES (%d, %d, '%s') ON CONFLICT (y) DO UPDATE SET x = excluded.x;"
                       % (i2, v, y))
        elif c < 0.62:
            out.append("INSERT INTO u(id, x, y) VALUES (%d, %d, '%s') ON CONFLICT DO NOTHING;" % (i2, v, y))
        elif c < 0.75:
            out.append("UPDATE t SET v = v * 2 + 1 WHERE v < %d;" % v)
        elif c < 0.8:
            out.append("UPDATE t SET k = k || 'z' WHERE k = '%s';" % k)
        elif c < 0.88:
            out.append("UPDATE u SET x = x + %d WHERE id %% 3 = %d;" % (v, v % 3))
        elif c < 0.93:
            out.append("DELETE FROM t WHERE v > %d;" % (v + 50))
        elif c < 0.96:
            out.append("SAVEPOINT s; UPDATE t SET v = 0; ROLLBACK TO s; RELEASE s;")
        else:
            out.append("COMMIT; BEGIN;")
    out += ["COMMIT;", "SELECT k, v, length(w) FROM t ORDER BY k;", "SELECT * FROM u ORDER BY id;",
            "SELECT count(*), max(n) FROM log;"]
    return "\n".join(out) + "\n"


def run(argv, sql):
    p = subprocess.run(argv, input=sql, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    # sqlite3 appends the error code to its messages: "... failed: u.y (19)"
    return re.sub(r" \(\d+\)$", "", p.stdout, flags=re.M)


def main():
    tmp = tempfile.mkdtemp(prefix="larder-upsert-diff-")
    passed = failed = 0
    try:
        for seed in range(1, SEEDS + 1):
            sql = script(seed)
            a = run(["sqlite3", os.path.join(tmp, "a%d.db" % seed)], sql)
            b = run([os.path.join(B, "larder-sql"), os.path.join(tmp, "b%d.db" % seed)], sql)
            if a == b and a.strip():
                passed += 1
            else:
                failed += 1
                print("FAIL seed %d: larder-sql and sqlite3 differ" % seed)
                for la, lb in zip(a.splitlines(), b.splitlines()):
                    if la != lb:
                        print("  sqlite3:    %s\n  larder-sql: %s" % (la, lb))
                        break
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
