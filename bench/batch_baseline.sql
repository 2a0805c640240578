-- The batch baseline of bench/run.sh: the same rows of the same tables as `dsar export
-- --subjects-file` of every subject in the CSV on psql's stdin (header `email`, one email a row),
-- as COPY text on stdout, one COPY per table in one read-only snapshot. The same query shapes as
-- bench/baseline.sql with `email = ANY` of the whole list. Run with psql -X -q -f … <subjects.csv
\set ON_ERROR_STOP on
CREATE TEMP TABLE subjects (email text PRIMARY KEY);
\copy subjects (email) FROM pstdin WITH (FORMAT csv, HEADER true)
ANALYZE subjects;
BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;
COPY (SELECT user_id, email, full_name, phone, marketing_opt_in, created_at
      FROM bench.users WHERE email IN (SELECT email FROM subjects)) TO STDOUT;
COPY (SELECT * FROM bench.addresses
      WHERE user_id IN (SELECT user_id FROM bench.users WHERE email IN (SELECT email FROM subjects))) TO STDOUT;
COPY (SELECT * FROM bench.orders
      WHERE user_id IN (SELECT user_id FROM bench.users WHERE email IN (SELECT email FROM subjects))) TO STDOUT;
COPY (SELECT * FROM bench.order_items
      WHERE order_id IN (SELECT order_id FROM bench.orders
                         WHERE user_id IN (SELECT user_id FROM bench.users WHERE email IN (SELECT email FROM subjects)))) TO STDOUT;
COPY (SELECT * FROM bench.payments
      WHERE order_id IN (SELECT order_id FROM bench.orders
                         WHERE user_id IN (SELECT user_id FROM bench.users WHERE email IN (SELECT email FROM subjects)))) TO STDOUT;
COPY (SELECT * FROM bench.sessions
      WHERE user_id IN (SELECT user_id FROM bench.users WHERE email IN (SELECT email FROM subjects))) TO STDOUT;
COPY (SELECT * FROM bench.events
      WHERE (user_id, session_no) IN (SELECT user_id, session_no FROM bench.sessions
                                      WHERE user_id IN (SELECT user_id FROM bench.users WHERE email IN (SELECT email FROM subjects)))) TO STDOUT;
COPY (SELECT * FROM bench.support_tickets
      WHERE user_id IN (SELECT user_id FROM bench.users WHERE email IN (SELECT email FROM subjects))) TO STDOUT;
COMMIT;
