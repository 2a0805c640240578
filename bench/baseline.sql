-- The baseline of bench/run.sh: the same rows of the same tables as `dsar export` of the subject
-- whose email is :'email' (same columns, password_hash left out, same via chain as subqueries),
-- as COPY text on stdout, in one read-only snapshot. Run with psql -X -q -v email=…
\set ON_ERROR_STOP on
BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;
COPY (SELECT user_id, email, full_name, phone, marketing_opt_in, created_at
      FROM bench.users WHERE email = :'email') TO STDOUT;
COPY (SELECT * FROM bench.addresses
      WHERE user_id IN (SELECT user_id FROM bench.users WHERE email = :'email')) TO STDOUT;
COPY (SELECT * FROM bench.orders
      WHERE user_id IN (SELECT user_id FROM bench.users WHERE email = :'email')) TO STDOUT;
COPY (SELECT * FROM bench.order_items
      WHERE order_id IN (SELECT order_id FROM bench.orders
                         WHERE user_id IN (SELECT user_id FROM bench.users WHERE email = :'email'))) TO STDOUT;
COPY (SELECT * FROM bench.payments
      WHERE order_id IN (SELECT order_id FROM bench.orders
                         WHERE user_id IN (SELECT user_id FROM bench.users WHERE email = :'email'))) TO STDOUT;
COPY (SELECT * FROM bench.sessions
      WHERE user_id IN (SELECT user_id FROM bench.users WHERE email = :'email')) TO STDOUT;
COPY (SELECT * FROM bench.events
      WHERE (user_id, session_no) IN (SELECT user_id, session_no FROM bench.sessions
                                      WHERE user_id IN (SELECT user_id FROM bench.users WHERE email = :'email'))) TO STDOUT;
COPY (SELECT * FROM bench.support_tickets
      WHERE user_id IN (SELECT user_id FROM bench.users WHERE email = :'email')) TO STDOUT;
COMMIT;
