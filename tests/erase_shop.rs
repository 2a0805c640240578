//! Every erasure strategy on the hostile schema: quarantine through via chains and composite
//! keys, anonymize, flag and retain; decoys untouched; nothing readable in pg_dump; restore
//! byte for byte; purge of flagged rows after the window.

mod common;

use common::{Workspace, dump_table, fresh_db, pg_dump, psql, stderr, stdout};
use serde_json::Value;

const MAP: &str = include_str!("fixtures/shop_erase.toml");

/// Every table with its ordering key, decoys included.
const TABLES: [(&str, &str); 11] = [
    ("\"Shop\".\"Customers\"", "1"),
    ("\"Shop\".\"order\"", "1"),
    ("\"Shop\".order_items", "1, 2"),
    ("\"Shop\".shipments", "1, 2, 3"),
    ("\"Shop\".addresses", "1"),
    ("\"Shop\".invoices", "1"),
    ("\"Shop\".sessions", "1"),
    ("\"Shop\".events", "1"),
    ("public.\"Customers\"", "1, 2"),
    ("decoy.\"Customers\"", "1"),
    ("public.customer_audit", "1"),
];

fn shop(config: &str) -> (common::TestDb, Workspace) {
    let db = fresh_db("shop_tpl");
    psql(
        &db.url,
        "CREATE TABLE public.customer_audit (id int PRIMARY KEY, note text); INSERT INTO public.customer_audit VALUES (1, 'unrelated')",
    );
    let ws = Workspace::new(config, &[("SHOP_DATABASE_URL", &db.url)]);
    (db, ws)
}

fn dumps(url: &str) -> Vec<String> {
    TABLES.iter().map(|(t, k)| dump_table(url, t, k)).collect()
}

fn count(url: &str, sql: &str) -> i64 {
    psql(url, sql).parse().unwrap()
}

fn request_id(out: &std::process::Output) -> String {
    let report: Value = serde_json::from_str(&stdout(out)).expect("--json output");
    report["request_id"].as_str().unwrap().to_string()
}

#[test]
fn each_strategy_does_its_job_and_leaves_others_and_decoys_alone() {
    let (db, ws) = shop(MAP);
    let before = dumps(&db.url);
    let out = ws.dsar_ok(&["delete", "--subject", "email=alice@example.com", "--yes", "--json"]);
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let rows = |table: &str| {
        report["counts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["table"] == table)
            .map(|c| c["rows"].as_u64().unwrap())
    };
    assert_eq!(rows("Shop.Customers"), Some(1));
    assert_eq!(rows("Shop.order"), Some(2));
    assert_eq!(rows("Shop.order_items"), Some(3));
    assert_eq!(rows("Shop.shipments"), Some(3));
    assert_eq!(rows("Shop.invoices"), Some(2));
    assert_eq!(rows("Shop.sessions"), Some(2));
    assert_eq!(rows("Shop.addresses"), Some(1), "listed as retained");
    let addresses = report["counts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["table"] == "Shop.addresses")
        .unwrap();
    assert_eq!(addresses["strategy"], "retain");
    assert_eq!(
        addresses["retain_reason"], "shared by several customers",
        "the report says why"
    );
    let completed = ws
        .audit_events()
        .into_iter()
        .find(|e| e["action"] == "delete.completed")
        .expect("a delete.completed event");
    let audited: Vec<(String, String, u64)> = completed["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["table"].as_str().unwrap().to_string(),
                t["strategy"].as_str().unwrap().to_string(),
                t["rows"].as_u64().unwrap(),
            )
        })
        .collect();
    assert!(
        audited.contains(&("Shop.invoices".into(), "anonymize".into(), 2))
            && audited.contains(&("Shop.sessions".into(), "flag".into(), 2))
            && audited.contains(&("Shop.addresses".into(), "retain".into(), 1)),
        "the audit event lists each table with its strategy and rows: {audited:?}"
    );

    // quarantine: gone from the live tables
    assert_eq!(
        count(
            &db.url,
            "SELECT count(*) FROM \"Shop\".\"Customers\" WHERE \"CustomerId\" = 1"
        ),
        0
    );
    assert_eq!(
        count(
            &db.url,
            "SELECT count(*) FROM \"Shop\".\"order\" WHERE \"CustomerId\" = 1"
        ),
        0
    );
    assert_eq!(
        count(
            &db.url,
            "SELECT count(*) FROM \"Shop\".order_items WHERE order_id IN (100, 101)"
        ),
        0
    );
    assert_eq!(
        count(&db.url, "SELECT count(*) FROM \"Shop\".shipments WHERE order_id = 100"),
        0
    );
    // anonymize: kept, personal columns overwritten
    let invoice = psql(
        &db.url,
        "SELECT billing_email, billing_name, ip IS NULL, amount FROM \"Shop\".invoices WHERE invoice_id = 1000",
    );
    let fields: Vec<&str> = invoice.split('|').collect();
    assert_eq!(fields[0].len(), 16, "hashed email: {invoice}");
    assert_eq!(fields[1], "[redacted]");
    assert_eq!(fields[2], "t");
    assert_eq!(fields[3], "10.00", "non-personal columns kept");
    assert_eq!(
        psql(
            &db.url,
            "SELECT count(DISTINCT billing_email) FROM \"Shop\".invoices WHERE \"CustomerId\" = 1"
        ),
        "1",
        "the same value hashes the same, so joins still line up"
    );
    // flag: the table's own soft-delete column is set
    assert_eq!(
        count(
            &db.url,
            "SELECT count(*) FROM \"Shop\".sessions WHERE \"CustomerId\" = 1 AND deleted_at IS NOT NULL"
        ),
        2
    );
    // retain and everyone else: untouched
    let after = dumps(&db.url);
    assert_eq!(after[4], before[4], "retained addresses untouched");
    for i in 8..11 {
        assert_eq!(after[i], before[i], "decoy/unrelated table {} untouched", TABLES[i].0);
    }
    assert_eq!(
        count(&db.url, "SELECT count(*) FROM \"Shop\".\"Customers\""),
        3,
        "bob, carol, dave stay"
    );
    assert_eq!(
        psql(
            &db.url,
            "SELECT billing_name FROM \"Shop\".invoices WHERE invoice_id = 2000"
        ),
        "Bob"
    );
    assert_eq!(
        count(
            &db.url,
            "SELECT count(*) FROM \"Shop\".sessions WHERE deleted_at IS NOT NULL"
        ),
        2
    );

    // No readable copy of alice outside the decoy tables the map does not cover.
    let dump = pg_dump(
        &db.url,
        &["--exclude-schema=decoy", "--exclude-table=public.\"Customers\""],
    );
    for secret in [
        "alice@example.com",
        "O'Neil",
        "12345678901234567890.123456789",
        "10.0.0.1",
    ] {
        assert!(!dump.contains(secret), "`{secret}` is readable in pg_dump after delete");
    }
}

#[test]
fn restore_undoes_every_strategy_byte_for_byte() {
    let (db, ws) = shop(MAP);
    let before = dumps(&db.url);
    let id = request_id(&ws.dsar_ok(&["delete", "--subject", "customer_id=1", "--yes", "--json"]));
    assert_ne!(dumps(&db.url), before);
    ws.dsar_ok(&["restore", "--request", &id, "--identity", "keys/recovery.key"]);
    let after = dumps(&db.url);
    for ((table, _), (b, a)) in TABLES.iter().zip(before.iter().zip(&after)) {
        assert_eq!(a, b, "{table} differs after restore");
    }
    assert_eq!(
        count(
            &db.url,
            "SELECT coalesce(sum(coalesce(sealed_rows, 1)), 0) FROM dsar.quarantine"
        ),
        0
    );
}

#[test]
fn a_batch_of_subjects_is_one_request_restorable_as_a_whole() {
    let (db, ws) = shop(MAP);
    let before = dumps(&db.url);
    std::fs::write(ws.path("people.csv"), "customer_id\n1\n3\n").unwrap();
    let id = request_id(&ws.dsar_ok(&["delete", "--subjects-file", "people.csv", "--yes", "--json"]));
    assert_eq!(
        count(
            &db.url,
            "SELECT count(*) FROM \"Shop\".\"Customers\" WHERE \"CustomerId\" IN (1, 3)"
        ),
        0
    );
    assert_eq!(count(&db.url, "SELECT count(*) FROM \"Shop\".\"Customers\""), 2);
    ws.dsar_ok(&["restore", "--request", &id, "--identity", "keys/recovery.key"]);
    assert_eq!(dumps(&db.url), before);
}

#[test]
fn purge_after_the_window_hard_deletes_flagged_rows_and_keeps_anonymized_ones() {
    let config = MAP.replace("recovery_window = \"30d\"", "recovery_window = \"0s\"");
    let (db, ws) = shop(&config);
    ws.dsar_ok(&["delete", "--subject", "customer_id=1", "--yes"]);
    let out = ws.dsar_ok(&["purge", "--json"]);
    let summary: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(summary["requests"].as_array().map(Vec::len), Some(1));
    assert_eq!(summary["flagged_rows"], 2);
    assert_eq!(
        count(
            &db.url,
            "SELECT count(*) FROM \"Shop\".sessions WHERE \"CustomerId\" = 1"
        ),
        0,
        "flagged rows gone"
    );
    assert_eq!(
        count(&db.url, "SELECT count(*) FROM \"Shop\".sessions"),
        1,
        "bob's session stays"
    );
    assert_eq!(
        count(
            &db.url,
            "SELECT count(*) FROM \"Shop\".invoices WHERE billing_name = '[redacted]'"
        ),
        2
    );
    assert_eq!(
        count(
            &db.url,
            "SELECT coalesce(sum(coalesce(sealed_rows, 1)), 0) FROM dsar.quarantine"
        ),
        0
    );
}

#[test]
fn a_table_without_primary_key_cannot_be_erased() {
    let (db, ws) = shop(MAP);
    psql(&db.url, "ALTER TABLE \"Shop\".events DROP CONSTRAINT events_pkey");
    let out = ws.dsar(&["delete", "--subject", "customer_id=1", "--yes"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("Shop.events") && stderr(&out).contains("primary key"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        count(
            &db.url,
            "SELECT count(*) FROM \"Shop\".\"Customers\" WHERE \"CustomerId\" = 1"
        ),
        1
    );
}

#[test]
fn redact_on_a_non_text_column_is_a_config_error() {
    let config = MAP.replace("ip = \"null\"", "ip = \"redact\"");
    let (_db, ws) = shop(&config);
    let out = ws.dsar(&["delete", "--subject", "customer_id=1", "--dry-run"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("`ip`") && stderr(&out).contains("inet"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_literal_anonymize_rule_writes_that_value_and_restore_undoes_it() {
    let config = MAP.replace("ip = \"null\"", "ip = \"192.0.2.1\"");
    let (db, ws) = shop(&config);
    let before = dumps(&db.url);
    let out = ws.dsar_ok(&["delete", "--subject", "customer_id=1", "--yes", "--json"]);
    let id = serde_json::from_str::<Value>(&stdout(&out)).unwrap()["request_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        psql(
            &db.url,
            "SELECT string_agg(DISTINCT host(ip), ',') FROM \"Shop\".invoices WHERE \"CustomerId\" = 1"
        ),
        "192.0.2.1",
        "the literal is cast to the column's type and written over every row"
    );
    ws.dsar_ok(&["restore", "--request", &id, "--identity", "keys/recovery.key"]);
    assert_eq!(
        dumps(&db.url),
        before,
        "restore brings the old values back, NULLs included"
    );
}

/// A batch erasure of two people (one with an email that is an SQL injection) comes back with a
/// backup. `check --erased` finds each person on their own, in the tables whose match columns
/// the erasure took away (not the anonymized invoices, which keep the customer id on purpose);
/// `reapply` erases both again as one new request, flagged sessions included, and takes the
/// original's people over; the register then refuses to be edited or cut.
#[test]
fn a_batch_erasure_restored_from_backup_is_found_per_person_and_applied_again() {
    let (db, ws) = shop(MAP);
    let backup = common::pg_backup(&db.url);
    std::fs::write(ws.path("people.csv"), "email\nalice@example.com\nx' OR '1'='1\n").unwrap();
    let first = request_id(&ws.dsar_ok(&["delete", "--subjects-file", "people.csv", "--yes", "--json"]));
    let erased = dumps(&db.url);
    common::pg_restore_backup(&db.url, &backup);

    let out = ws.dsar(&["check", "--erased", "--json"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let found: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let people = found["found"].as_array().unwrap();
    assert_eq!(people.len(), 2, "{found}");
    for (person, expected) in people.iter().zip([1, 2]) {
        assert_eq!(person["request_id"], first.as_str());
        assert_eq!(person["person"], expected);
        let tables: Vec<&str> = person["tables"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["table"].as_str().unwrap())
            .collect();
        assert!(
            tables.contains(&"Shop.Customers") && tables.contains(&"Shop.sessions"),
            "{tables:?}"
        );
        assert!(
            !tables.contains(&"Shop.invoices"),
            "anonymize leaves the customer id: {tables:?}"
        );
    }
    let text = stdout(&out) + &stderr(&out);
    assert!(
        !text.contains("alice") && !text.contains("OR '1'"),
        "no raw value: {text}"
    );

    ws.dsar_ok(&["reapply", "--yes"]);
    let again = dumps(&db.url);
    for (i, (table, _)) in TABLES.iter().enumerate() {
        // Flag times and anonymized values are written anew; every other table is as the
        // first erasure left it.
        if !table.contains("sessions") && !table.contains("invoices") {
            assert_eq!(again[i], erased[i], "{table}");
        }
    }
    assert_eq!(
        count(
            &db.url,
            "SELECT count(*) FROM \"Shop\".sessions WHERE deleted_at IS NULL AND \"CustomerId\" IN (1, 2)"
        ),
        0,
        "sessions flagged again"
    );
    assert_eq!(
        count(
            &db.url,
            "SELECT count(*) FROM \"Shop\".invoices WHERE billing_email LIKE '%@example.com'"
        ),
        0,
        "invoices anonymized again"
    );
    let quiet = ws.dsar_ok(&["check", "--erased"]);
    assert_eq!(stdout(&quiet), "");
    let register: Value = serde_json::from_str(&stdout(&ws.dsar_ok(&["register", "list", "--json"]))).unwrap();
    assert_eq!(
        register.as_array().unwrap().len(),
        1,
        "the original's people moved: {register}"
    );
    assert_eq!(register[0]["reapplied_from"], first.as_str());
    assert_eq!(register[0]["people"], 2);
    let second = register[0]["request_id"].as_str().unwrap().to_string();

    // An entry edited in the state dir is refused, not read as "nobody".
    let entry = ws.state_dir().join(format!("register/{second}.json"));
    let kept = std::fs::read_to_string(&entry).unwrap();
    let hash = kept.split("\"email:").nth(1).unwrap()[..8].to_string();
    std::fs::write(&entry, kept.replace(&hash, "00000000")).unwrap();
    let out = ws.dsar(&["check", "--erased"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("altered"), "{}", stderr(&out));
    // Removed: the ledger says the request was registered.
    std::fs::remove_file(&entry).unwrap();
    let out = ws.dsar(&["reapply", "--dry-run"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains(&second), "names the request: {}", stderr(&out));
    // Put back: it reads again.
    std::fs::write(&entry, kept).unwrap();
    ws.dsar_ok(&["check", "--erased"]);
    // Something that is not a register, as --register.
    let out = ws.dsar(&["check", "--erased", "--register", "people.csv"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

/// A restore on PostgreSQL writes a table's rows back by `COPY` where that keeps what an
/// `INSERT` does: values holding the bytes `COPY`'s text format escapes (tab, newline, carriage
/// return, backslash, a literal `\N` and `\.`) come back exactly, and a table with a rewrite rule
/// (which `COPY` would bypass) or with row security (under which a role's `COPY FROM` is refused)
/// gets its rows by `INSERT`, the rule run, its `char(4)[]` and `bit(3)[]` values whole (cast as
/// `character[]`, each element was cut to one character). A trigger records which statement
/// wrote each row. Run as a role that is not a superuser, which row security binds.
#[test]
fn restore_copies_rows_back_exactly_but_inserts_where_a_rule_or_row_security_applies() {
    let (db, _) = shop(MAP);
    let role = "dsar_restore_role";
    psql(
        &db.url,
        &format!(
            r#"DO $$ BEGIN CREATE ROLE {role} LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
            GRANT CREATE ON DATABASE "{db}" TO {role};
            GRANT USAGE ON SCHEMA "Shop" TO {role};
            GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "Shop" TO {role};
            UPDATE "Shop"."Customers"
               SET name = E'tab\there\nnew\r\nline \\ back \\N \\. end\\',
                   tags = ARRAY[E'a\\b', E'c\td', 'N', NULL], prefs = '{{"k": "v\\t\\\\ \\n"}}'
             WHERE "CustomerId" = 1;
            CREATE TABLE public.write_log (tbl text, statement text);
            GRANT INSERT ON public.write_log TO {role};
            CREATE FUNCTION public.log_write() RETURNS trigger LANGUAGE plpgsql AS
              $f$ BEGIN INSERT INTO public.write_log VALUES (TG_TABLE_NAME, split_part(current_query(), ' ', 1)); RETURN NEW; END $f$;
            CREATE TRIGGER log_write AFTER INSERT ON "Shop"."Customers" FOR EACH ROW EXECUTE FUNCTION public.log_write();
            CREATE TRIGGER log_write AFTER INSERT ON "Shop"."order" FOR EACH ROW EXECUTE FUNCTION public.log_write();
            CREATE TRIGGER log_write AFTER INSERT ON "Shop".shipments FOR EACH ROW EXECUTE FUNCTION public.log_write();
            CREATE TABLE public.item_log (order_id int, line_no int);
            CREATE RULE log_items AS ON INSERT TO "Shop".order_items
              DO ALSO INSERT INTO public.item_log VALUES (NEW.order_id, NEW.line_no);
            ALTER TABLE "Shop".shipments ADD COLUMN codes char(4)[], ADD COLUMN marks bit(3)[];
            UPDATE "Shop".shipments SET codes = '{{abc,de,NULL}}', marks = '{{101,010}}' WHERE order_id = 100;
            ALTER TABLE "Shop".shipments ENABLE ROW LEVEL SECURITY;
            CREATE POLICY open ON "Shop".shipments USING (true) WITH CHECK (true);"#,
            db = db.name
        ),
    );
    let as_role = db.url.replacen("://postgres@", &format!("://{role}@"), 1);
    assert_ne!(as_role, db.url, "the test server's URL names its user");
    let ws = Workspace::new(MAP, &[("SHOP_DATABASE_URL", &as_role)]);
    let before = dumps(&db.url);
    let id = request_id(&ws.dsar_ok(&["delete", "--subject", "customer_id=1", "--yes", "--json"]));
    assert_eq!(count(&db.url, "SELECT count(*) FROM public.write_log"), 0);
    ws.dsar_ok(&["restore", "--request", &id, "--identity", "keys/recovery.key"]);
    let after = dumps(&db.url);
    for ((table, _), (b, a)) in TABLES.iter().zip(before.iter().zip(&after)) {
        assert_eq!(a, b, "{table} differs after restore");
    }
    assert_eq!(
        psql(
            &db.url,
            "SELECT string_agg(DISTINCT tbl || ' ' || statement, ', ' ORDER BY tbl || ' ' || statement) FROM public.write_log"
        ),
        "Customers COPY, order COPY, shipments INSERT",
        "plain tables are copied; the one under row security is inserted into"
    );
    assert_eq!(
        psql(
            &db.url,
            "SELECT string_agg(order_id || '/' || line_no, ' ' ORDER BY order_id, line_no) FROM public.item_log"
        ),
        "100/1 100/2 101/1",
        "the rule ran for each restored item"
    );
}

/// A table partitioned the old way (inheritance, and a trigger on the parent that inserts
/// each row into a child and returns NULL, so the parent's insert counts nothing): a delete
/// takes the person's rows from the child, and a restore writes them back through the parent,
/// where the trigger sends them to the child again. Every row is back, none is left in
/// quarantine, and the restore says done: the rows are read back through the parent, which
/// holds its children, not judged by the count of the insert.
#[test]
fn rows_a_trigger_sends_to_a_child_table_are_restored_there() {
    let map =
        format!("{MAP}\n[[sources.tables]]\ntable = \"Shop.notes\"\nmatch = {{ customer_id = \"CustomerId\" }}\n");
    let (db, ws) = shop(&map);
    psql(
        &db.url,
        r#"CREATE TABLE "Shop".notes (note_id int PRIMARY KEY, "CustomerId" int NOT NULL, body text);
        CREATE TABLE "Shop".notes_2024 () INHERITS ("Shop".notes);
        CREATE FUNCTION "Shop".notes_route() RETURNS trigger LANGUAGE plpgsql AS
          $f$ BEGIN INSERT INTO "Shop".notes_2024 VALUES (NEW.*); RETURN NULL; END $f$;
        CREATE TRIGGER route BEFORE INSERT ON "Shop".notes FOR EACH ROW EXECUTE FUNCTION "Shop".notes_route();
        INSERT INTO "Shop".notes VALUES (1, 1, 'first'), (2, 1, E'second\tline'), (3, 2, 'bob''s'), (4, 1, NULL);"#,
    );
    let child = |url: &str| dump_table(url, "ONLY \"Shop\".notes_2024", "1");
    let before = child(&db.url);
    assert_eq!(
        count(&db.url, "SELECT count(*) FROM ONLY \"Shop\".notes"),
        0,
        "the rows are in the child"
    );
    let id = request_id(&ws.dsar_ok(&["delete", "--subject", "customer_id=1", "--yes", "--json"]));
    assert_eq!(
        count(&db.url, "SELECT count(*) FROM \"Shop\".notes"),
        1,
        "bob's note is left"
    );
    let out = ws.dsar(&["restore", "--request", &id, "--identity", "keys/recovery.key"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(child(&db.url), before, "back in the child, byte for byte");
    assert_eq!(
        count(
            &db.url,
            "SELECT coalesce(sum(coalesce(sealed_rows, 1)), 0) FROM dsar.quarantine"
        ),
        0
    );
}
