-- Erasure benchmark schema and data for bench/run.sh: schema "erase" with a customer table and
-- an event table keyed to it by customer_id, filled with generate_series, indexed and analyzed.
-- Parameters (psql -v):
--   eraser_rows          events of customer 1, eraser@example.com (the subject that is erased)
--   n_customers          other customers (customer_id 2 ..), other_events events each
--   other_events
--   with_fk              true: add the foreign key erase.events.customer_id → erase.customers
-- The eraser owns eraser_rows + 1 rows (its events and its customer row). Events are inserted in
-- random order, so the eraser's rows are spread over the heap among everyone else's.
-- bench/run.sh adds the foreign key by default: `dsar delete` then checks that no row of
-- erase.events outside its capture references the customer. That check once used NOT IN over the
-- capture and went quadratic past work_mem (a 1M-row subject did not finish); keep it in the
-- benchmark so a regression shows.
\set ON_ERROR_STOP on
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS erase CASCADE;
CREATE SCHEMA erase;

CREATE TABLE erase.customers (
    customer_id bigint NOT NULL,
    email text NOT NULL,
    full_name text NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE TABLE erase.events (
    event_id bigint GENERATED ALWAYS AS IDENTITY,
    customer_id bigint NOT NULL,
    occurred_at timestamptz NOT NULL,
    kind text NOT NULL,
    payload jsonb NOT NULL
);

CREATE TEMP TABLE plan (customer_id bigint, email text, n_events int);
INSERT INTO plan VALUES (1, 'eraser@example.com', :eraser_rows);
INSERT INTO plan
SELECT g, 'customer' || g || '@example.com', :other_events FROM generate_series(2, :n_customers + 1) AS g;

INSERT INTO erase.customers
SELECT customer_id, email, 'Customer Number ' || customer_id, timestamptz '2020-01-01' + customer_id * interval '7 minutes'
FROM plan;

INSERT INTO erase.events (customer_id, occurred_at, kind, payload)
SELECT p.customer_id, timestamptz '2022-01-01' + (p.customer_id * 13 + e) * interval '5 seconds',
       (ARRAY['page_view', 'click', 'search', 'add_to_cart', 'checkout'])[1 + e % 5],
       jsonb_build_object('path', '/products/' || (p.customer_id * 7 + e) % 5000, 'ref', 'campaign-' || e % 12,
                          'ms', (p.customer_id + e) % 3000)
FROM plan p, generate_series(1, p.n_events) AS e
ORDER BY random();

ALTER TABLE erase.customers ADD PRIMARY KEY (customer_id);
CREATE UNIQUE INDEX ON erase.customers (email);
ALTER TABLE erase.events ADD PRIMARY KEY (event_id);
CREATE INDEX ON erase.events (customer_id);
\if :with_fk
ALTER TABLE erase.events ADD FOREIGN KEY (customer_id) REFERENCES erase.customers;
\endif
VACUUM ANALYZE;
