-- A small shop: users and their orders, with the foreign keys and indexes a
-- real schema has. Loaded into the bundled store by conf/examples/shop.conf
-- (or: larder-sql larder-shop.db < conf/examples/shop.sql).

CREATE TABLE IF NOT EXISTS users (
    id          INTEGER PRIMARY KEY,
    email       TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    plan        TEXT NOT NULL DEFAULT 'free' CHECK (plan IN ('free', 'pro', 'team')),
    order_count INTEGER NOT NULL DEFAULT 0,
    created_at  TIMESTAMP DEFAULT now()
);

CREATE TABLE IF NOT EXISTS orders (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    status     TEXT NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'paid', 'shipped', 'cancelled')),
    total      DECIMAL(10,2) NOT NULL CHECK (total >= 0),
    created_at TIMESTAMP DEFAULT now()
);

-- "all orders of a user in a status": the composite index serves both columns
CREATE INDEX IF NOT EXISTS idx_orders_user_status ON orders (user_id, status);
-- recent paid orders, newest first, without touching the table rows
CREATE INDEX IF NOT EXISTS idx_orders_paid_recent ON orders (created_at DESC) INCLUDE (total) WHERE status = 'paid';

-- keep users.order_count current
CREATE TRIGGER IF NOT EXISTS orders_count_ins AFTER INSERT ON orders FOR EACH ROW
BEGIN
    UPDATE users SET order_count = order_count + 1 WHERE id = NEW.user_id;
END;
CREATE TRIGGER IF NOT EXISTS orders_count_del AFTER DELETE ON orders FOR EACH ROW
BEGIN
    UPDATE users SET order_count = order_count - 1 WHERE id = OLD.user_id;
END;

-- sessions: one value per key (a string mapping)
CREATE TABLE IF NOT EXISTS sessions (
    id   TEXT PRIMARY KEY,
    data TEXT
);
