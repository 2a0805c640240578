-- The bare-DELETE baseline of bench/run.sh's batch erasure: every row of every subject in the CSV
-- on psql's stdin (header `email`, one email a row) deleted from the 8 tables of bench/seed.sql
-- in one transaction, children before the parents their subqueries read. The same rows as
-- `dsar delete --subjects-file` with bench/sources.toml. Run with psql -X -q -f … <subjects.csv
\set ON_ERROR_STOP on
CREATE TEMP TABLE subjects (email text PRIMARY KEY);
\copy subjects (email) FROM pstdin WITH (FORMAT csv, HEADER true)
ANALYZE subjects;
BEGIN;
CREATE TEMP TABLE gone_users ON COMMIT DROP AS
    SELECT user_id FROM bench.users WHERE email IN (SELECT email FROM subjects);
DELETE FROM bench.events
    WHERE (user_id, session_no) IN (SELECT user_id, session_no FROM bench.sessions
                                    WHERE user_id IN (SELECT user_id FROM gone_users));
DELETE FROM bench.sessions WHERE user_id IN (SELECT user_id FROM gone_users);
DELETE FROM bench.support_tickets WHERE user_id IN (SELECT user_id FROM gone_users);
DELETE FROM bench.payments
    WHERE order_id IN (SELECT order_id FROM bench.orders WHERE user_id IN (SELECT user_id FROM gone_users));
DELETE FROM bench.order_items
    WHERE order_id IN (SELECT order_id FROM bench.orders WHERE user_id IN (SELECT user_id FROM gone_users));
DELETE FROM bench.orders WHERE user_id IN (SELECT user_id FROM gone_users);
DELETE FROM bench.addresses WHERE user_id IN (SELECT user_id FROM gone_users);
DELETE FROM bench.users WHERE user_id IN (SELECT user_id FROM gone_users);
COMMIT;
