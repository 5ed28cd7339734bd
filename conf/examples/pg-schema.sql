-- The shop of conf/examples/pg.conf in PostgreSQL. Run it once in the
-- database the sidecars use (psql -d shop -f conf/examples/pg-schema.sql);
-- it can be run again.

-- Larder's own two tables, with PostgreSQL's types: the write-behind
-- watermark and lock-token ceiling (wb_meta), and the rows PostgreSQL
-- refused (wb_deadletter, see WB.DEADLETTER).
CREATE TABLE IF NOT EXISTS wb_meta (name text PRIMARY KEY, value bigint);
CREATE TABLE IF NOT EXISTS wb_deadletter (id bigint PRIMARY KEY, map text, key bytea, op text,
                                          state bytea, error text, at bigint);

-- user:<id>, written behind. Every column Larder writes is a field of the
-- hash; write all of a row's NOT NULL fields in its first HSET.
CREATE TABLE IF NOT EXISTS users (
    id         integer PRIMARY KEY,
    email      text NOT NULL UNIQUE,
    name       text NOT NULL,
    plan       text NOT NULL DEFAULT 'free' CHECK (plan IN ('free', 'pro', 'team')),
    created_at timestamptz NOT NULL DEFAULT now()
);

-- order:<id>, read-through: the application (or psql) writes orders, the
-- sidecars serve them.
CREATE TABLE IF NOT EXISTS orders (
    id         integer PRIMARY KEY,
    user_id    integer NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    status     text NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'paid', 'shipped', 'cancelled')),
    total      numeric(10, 2) NOT NULL CHECK (total >= 0),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS orders_user_status ON orders (user_id, status);

-- session:<id>, a string in sessions.data, written through.
CREATE TABLE IF NOT EXISTS sessions (
    id   text PRIMARY KEY,
    data text NOT NULL
);
