-- Benchmark schema and data for bench/run.sh: 8 tables in schema "bench", filled with
-- generate_series, then indexed and analyzed. Parameters (psql -v):
--   n_users                      ordinary users (user_id 3 ..), a handful of rows each
--   whale_orders whale_sessions whale_tickets   user 1, whale@example.com: a large share of rows
--   small_orders small_sessions small_tickets   user 2, small@example.com: ~10x fewer than the whale
-- Whale and small users have 5 items per order and 10 events per session.
\set ON_ERROR_STOP on
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS bench CASCADE;
CREATE SCHEMA bench;

CREATE TABLE bench.users (
    user_id bigint NOT NULL,
    email text NOT NULL,
    full_name text NOT NULL,
    phone text,
    password_hash text NOT NULL,          -- excluded from exports by the source map
    marketing_opt_in boolean NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE TABLE bench.addresses (
    address_id bigint GENERATED ALWAYS AS IDENTITY,
    user_id bigint NOT NULL,
    kind text NOT NULL,
    street text NOT NULL,
    city text NOT NULL,
    postcode text NOT NULL,
    country char(2) NOT NULL
);
CREATE TABLE bench.orders (
    order_id bigint GENERATED ALWAYS AS IDENTITY,
    user_id bigint NOT NULL,
    placed_at timestamptz NOT NULL,
    status text NOT NULL,
    total numeric(12, 2) NOT NULL,
    currency char(3) NOT NULL
);
CREATE TABLE bench.order_items (
    order_id bigint NOT NULL,
    line_no int NOT NULL,
    sku text NOT NULL,
    quantity int NOT NULL,
    unit_price numeric(10, 2) NOT NULL
);
CREATE TABLE bench.payments (
    payment_id bigint GENERATED ALWAYS AS IDENTITY,
    order_id bigint NOT NULL,
    method text NOT NULL,
    amount numeric(12, 2) NOT NULL,
    card_last4 char(4),
    paid_at timestamptz NOT NULL
);
CREATE TABLE bench.sessions (
    user_id bigint NOT NULL,
    session_no int NOT NULL,
    started_at timestamptz NOT NULL,
    ip inet NOT NULL,
    user_agent text NOT NULL
);
CREATE TABLE bench.events (
    event_id bigint GENERATED ALWAYS AS IDENTITY,
    user_id bigint NOT NULL,
    session_no int NOT NULL,
    seq int NOT NULL,
    occurred_at timestamptz NOT NULL,
    kind text NOT NULL,
    payload jsonb NOT NULL
);
CREATE TABLE bench.support_tickets (
    ticket_id bigint GENERATED ALWAYS AS IDENTITY,
    user_id bigint NOT NULL,
    opened_at timestamptz NOT NULL,
    subject text NOT NULL,
    body text NOT NULL,
    status text NOT NULL
);

-- How many rows of each kind every user gets.
CREATE TEMP TABLE plan (
    user_id bigint, email text, n_addresses int, n_orders int, items_per_order int,
    n_sessions int, events_per_session int, n_tickets int
);
INSERT INTO plan VALUES
    (1, 'whale@example.com', 10, :whale_orders, 5, :whale_sessions, 10, :whale_tickets),
    (2, 'small@example.com', 1, :small_orders, 5, :small_sessions, 10, :small_tickets);
INSERT INTO plan
SELECT g, 'user' || g || '@example.com', 1, 1 + g % 3, 1 + g % 5, 1 + g % 3, 1 + g % 5, g % 2
FROM generate_series(3, :n_users + 2) AS g;

INSERT INTO bench.users
SELECT user_id, email, 'User Number ' || user_id, '+44 20 7946 ' || lpad((user_id % 10000)::text, 4, '0'),
       md5(email), user_id % 3 = 0, timestamptz '2020-01-01' + user_id * interval '7 minutes'
FROM plan;

INSERT INTO bench.addresses (user_id, kind, street, city, postcode, country)
SELECT p.user_id, CASE WHEN a = 1 THEN 'home' ELSE 'shipping' END, a || ' Long Street Name, Flat ' || p.user_id % 97,
       'City ' || p.user_id % 500, 'PC' || lpad((p.user_id % 99999)::text, 5, '0'), 'GB'
FROM plan p, generate_series(1, p.n_addresses) AS a;

-- Orders and sessions are inserted in random order, so a subject's rows are spread over the heap
-- as they would be after years of traffic, not stored side by side.
INSERT INTO bench.orders (user_id, placed_at, status, total, currency)
SELECT p.user_id, timestamptz '2021-01-01' + (p.user_id * 13 + o) * interval '17 minutes',
       (ARRAY['placed', 'paid', 'shipped', 'delivered', 'returned'])[1 + o % 5],
       round((10 + (p.user_id * 7 + o) % 990)::numeric + 0.99, 2), 'EUR'
FROM plan p, generate_series(1, p.n_orders) AS o
ORDER BY random();

INSERT INTO bench.order_items
SELECT o.order_id, l, 'SKU-' || lpad(((o.order_id * 31 + l) % 100000)::text, 6, '0'), 1 + l % 3,
       round((1 + (o.order_id + l) % 200)::numeric + 0.49, 2)
FROM bench.orders o JOIN plan p USING (user_id), generate_series(1, p.items_per_order) AS l;

INSERT INTO bench.payments (order_id, method, amount, card_last4, paid_at)
SELECT o.order_id, CASE WHEN o.order_id % 4 = 0 THEN 'paypal' ELSE 'card' END, o.total,
       CASE WHEN o.order_id % 4 = 0 THEN NULL ELSE lpad((o.order_id % 10000)::text, 4, '0') END,
       o.placed_at + interval '2 minutes'
FROM bench.orders o;

INSERT INTO bench.sessions
SELECT p.user_id, s, timestamptz '2022-01-01' + (p.user_id * 11 + s) * interval '3 minutes',
       ('10.' || p.user_id % 250 || '.' || s % 250 || '.' || (p.user_id + s) % 250)::inet,
       'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/12' || s % 10 || '.0'
FROM plan p, generate_series(1, p.n_sessions) AS s
ORDER BY random();

INSERT INTO bench.events (user_id, session_no, seq, occurred_at, kind, payload)
SELECT s.user_id, s.session_no, e, s.started_at + e * interval '5 seconds',
       (ARRAY['page_view', 'click', 'search', 'add_to_cart', 'checkout'])[1 + e % 5],
       jsonb_build_object('path', '/products/' || (s.session_no * 7 + e) % 5000, 'ref', 'campaign-' || e % 12,
                          'ms', (s.user_id + e) % 3000)
FROM bench.sessions s JOIN plan p USING (user_id), generate_series(1, p.events_per_session) AS e;

INSERT INTO bench.support_tickets (user_id, opened_at, subject, body, status)
SELECT p.user_id, timestamptz '2023-01-01' + (p.user_id + t) * interval '41 minutes', 'Question about order #' || t,
       'Hello, I have a question about my order number ' || t || '. It has not arrived yet. Regards, user ' || p.user_id,
       CASE WHEN t % 3 = 0 THEN 'open' ELSE 'closed' END
FROM plan p, generate_series(1, p.n_tickets) AS t;

-- Keys and the indexes the export queries use (the columns every `match` and `via` names).
ALTER TABLE bench.users ADD PRIMARY KEY (user_id);
CREATE UNIQUE INDEX ON bench.users (email);
ALTER TABLE bench.addresses ADD PRIMARY KEY (address_id);
CREATE INDEX ON bench.addresses (user_id);
ALTER TABLE bench.orders ADD PRIMARY KEY (order_id);
CREATE INDEX ON bench.orders (user_id);
ALTER TABLE bench.order_items ADD PRIMARY KEY (order_id, line_no);
ALTER TABLE bench.payments ADD PRIMARY KEY (payment_id);
CREATE INDEX ON bench.payments (order_id);
ALTER TABLE bench.sessions ADD PRIMARY KEY (user_id, session_no);
ALTER TABLE bench.events ADD PRIMARY KEY (event_id);
CREATE INDEX ON bench.events (user_id, session_no);
ALTER TABLE bench.support_tickets ADD PRIMARY KEY (ticket_id);
CREATE INDEX ON bench.support_tickets (user_id);
VACUUM ANALYZE;
