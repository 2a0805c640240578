//! `dsar discover`: a draft map from the catalog that `dsar check` accepts and export can use.

mod common;

use common::{Workspace, fresh_db, stderr, stdout};
use serde_json::Value;

/// A map with the source but no tables yet: what a newcomer starts from.
fn bare(name: &str, var: &str) -> String {
    format!(
        "[subject]\nkeys = [\"email\"]\n\n[[sources]]\nname = \"{name}\"\nkind = \"postgres\"\nurl = \"env:{var}\"\n"
    )
}

#[test]
fn on_chinook_it_finds_customer_invoice_and_invoice_line_and_marks_personal_columns() {
    let db = fresh_db("chinook_tpl");
    let ws = Workspace::new(
        &bare("chinook", "CHINOOK_DATABASE_URL"),
        &[("CHINOOK_DATABASE_URL", &db.url)],
    );
    let draft = stdout(&ws.dsar_ok(&["discover", "--source", "chinook"]));
    assert!(
        draft.contains(
            "table = \"public.customer\"\nmatch = { email = { column = \"email\", ignore_case = true }, customer_id = \"customer_id\" }"
        ),
        "{draft}"
    );
    // The invoice's own column says whose it is: matched by it.
    assert!(
        draft.contains("table = \"public.invoice\"\nmatch = { customer_id = \"customer_id\" }"),
        "{draft}"
    );
    assert!(
        draft.contains("table = \"public.invoice_line\"\nvia = { table = \"public.invoice\""),
        "{draft}"
    );
    assert!(
        draft.contains("email (email)") && draft.contains("phone, fax (phone)") && draft.contains("(address)"),
        "{draft}"
    );
    // Staff have an email column: matched by it. The customer's support rep is another way
    // to an employee, someone else's row: shown, not used.
    assert!(
        draft.contains("table = \"public.employee\"\nmatch = { email = { column = \"email\", ignore_case = true } }"),
        "{draft}"
    );
    assert!(
        draft.contains(
            "#   via = { table = \"public.customer\", column = \"employee_id\", parent_column = \"support_rep_id\" }"
        ),
        "{draft}"
    );
    // The catalog the invoice lines point at (tracks, albums) is everyone's, not the person's.
    assert!(!draft.contains("table = \"public.track\""), "{draft}");

    // The draft is a working map: check passes and an export finds customer 1's 46 rows.
    let mut config = draft.clone();
    config.insert_str(0, "[settings]\nrecipients_file = \"keys/exports.txt\"\n\n");
    let ws = Workspace::new(&config, &[("CHINOOK_DATABASE_URL", &db.url)]);
    // The Art. 15 facts are drafted as placeholders, which check names until they are filled.
    assert!(draft.contains("purpose = \"TODO"), "{draft}");
    let checked = stdout(&ws.dsar_ok(&["check", "--json"]));
    assert!(checked.contains("[controller] has no name or contact"), "{checked}");
    assert!(
        checked.contains("no title, purpose, legal_basis, recipients, retention"),
        "{checked}"
    );
    let out = ws.dsar_ok(&["export", "--subject", "email=luisg@embraer.com.br", "--json"]);
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let rows: u64 = report["counts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["rows"].as_u64().unwrap())
        .sum();
    assert_eq!(rows, 46);
}

#[test]
fn on_the_shop_schema_it_follows_composite_keys_and_excludes_secrets() {
    let db = fresh_db("shop_tpl");
    let ws = Workspace::new(&bare("shop", "SHOP_DATABASE_URL"), &[("SHOP_DATABASE_URL", &db.url)]);
    let draft = stdout(&ws.dsar_ok(&["discover", "--source", "shop"]));
    assert!(
        draft.contains(
            "table = \"Shop.Customers\"\nmatch = { email = { column = \"Email\", ignore_case = true }, customer_id = \"CustomerId\" }"
        ),
        "{draft}"
    );
    assert!(
        draft.contains("column = [\"order_id\", \"line_no\"], parent_column = [\"order_id\", \"line_no\"]"),
        "{draft}"
    );
    assert!(draft.contains("exclude_columns = [\"password_hash\"]"), "{draft}");
    // The customer's address is theirs through the row that points at it.
    assert!(
        draft.contains(
            "table = \"Shop.addresses\"\nvia = { table = \"Shop.Customers\", column = \"address_id\", parent_column = \"address_id\" }"
        ),
        "{draft}"
    );
    assert!(
        !draft.contains("table = \"public.Customers\""),
        "the decoy is not the subject table: {draft}"
    );
    let ws = Workspace::new(&draft, &[("SHOP_DATABASE_URL", &db.url)]);
    ws.dsar_ok(&["check"]);
}

#[test]
fn an_unknown_source_or_table_is_named() {
    let db = fresh_db("chinook_tpl");
    let ws = Workspace::new(
        &bare("chinook", "CHINOOK_DATABASE_URL"),
        &[("CHINOOK_DATABASE_URL", &db.url)],
    );
    let out = ws.dsar(&["discover", "--source", "chinok"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("did you mean `chinook`"), "{}", stderr(&out));
    let out = ws.dsar(&["discover", "--source", "chinook", "--table", "public.custmer"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("public.customer"), "{}", stderr(&out));
}

#[test]
fn discover_by_url_says_what_it_cannot_read_and_never_repeats_a_password() {
    let ws = Workspace::new("", &[("FTP_URL", "ftp://files.example/x")]);
    let cases: [(&[&str], &str); 4] = [
        (&["discover"], "--source <NAME>"),
        (
            &["discover", "--url", "env:DSAR_NOT_SET_ANYWHERE"],
            "env:DSAR_NOT_SET_ANYWHERE",
        ),
        (
            &["discover", "--url", "env:FTP_URL"],
            "not a postgres:// or mysql:// URL",
        ),
        (&["discover", "--url", "sqlite:missing.db"], "does not exist"),
    ];
    for (args, said) in cases {
        let out = ws.dsar(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(said), "{args:?}: {}", stderr(&out));
    }
    let out = ws.dsar(&["discover", "--url", "postgres://dsar:s3cret-pw@127.0.0.1:1/x"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(!stderr(&out).contains("s3cret-pw"), "{}", stderr(&out));
}
