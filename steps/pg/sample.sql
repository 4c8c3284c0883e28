-- Sample data for sluice's PostgreSQL tests: a few tables, a few thousand
-- rows, deterministic content (no now() or random()) so that fingerprints
-- of two seeded databases are equal. About 1 MB as a plain dump.

CREATE SCHEMA shop;

CREATE TABLE shop.customers (
    id         integer PRIMARY KEY,
    name       text NOT NULL,
    email      text UNIQUE,
    balance    numeric(12, 2) NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL,
    avatar     bytea,
    profile    jsonb,
    notes      text
);

INSERT INTO shop.customers
SELECT g,
       'Customer ' || g,
       'customer' || g || '@example.com',
       (g * 7919 % 1000000) / 100.0,
       timestamptz '2024-01-01 00:00:00+00' + g * interval '17 minutes 3 seconds',
       decode(md5(g::text) || md5((g * 31)::text), 'hex'),
       jsonb_build_object('tier', g % 4, 'tags', jsonb_build_array('t' || g % 10, 'x'), 'vip', g % 97 = 0),
       repeat('note ' || g || ' ', 1 + g % 20)
FROM generate_series(1, 3000) AS g;

CREATE TABLE shop.orders (
    id          bigint PRIMARY KEY,
    customer_id integer NOT NULL REFERENCES shop.customers (id),
    amount      numeric(10, 2) NOT NULL,
    placed_at   timestamptz NOT NULL,
    items       jsonb NOT NULL
);

INSERT INTO shop.orders
SELECT g,
       1 + g * 13 % 3000,
       (g * 104729 % 100000) / 100.0,
       timestamptz '2024-02-01 12:00:00+00' + g * interval '5 minutes',
       jsonb_build_array(jsonb_build_object('sku', 'SKU-' || g % 250, 'qty', 1 + g % 5))
FROM generate_series(1, 5000) AS g;

CREATE INDEX orders_customer_idx ON shop.orders (customer_id);

CREATE TABLE public.events (
    id      bigserial PRIMARY KEY,
    kind    text NOT NULL,
    at      timestamptz NOT NULL,
    payload jsonb
);

INSERT INTO public.events (kind, at, payload)
SELECT (ARRAY['login', 'logout', 'purchase', 'refund'])[1 + g % 4],
       timestamptz '2024-03-01 00:00:00+00' + g * interval '1 minute',
       jsonb_build_object('n', g, 'ok', g % 3 <> 0)
FROM generate_series(1, 2000) AS g;

-- Rows with a unique marker, inserted by pgtest.Marker, let tests prove that
-- plaintext never reaches disk: the marker must not appear in any file.
CREATE TABLE public.markers (
    id     serial PRIMARY KEY,
    marker text NOT NULL UNIQUE
);
