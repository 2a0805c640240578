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
        draft.contains("table = \"public.customer\"\nmatch = { email = \"email\", customer_id = \"customer_id\" }"),
        "{draft}"
    );
    assert!(
        draft.contains(
            "via = { table = \"public.customer\", column = \"customer_id\", parent_column = \"customer_id\" }"
        )
    );
    assert!(
        draft.contains("table = \"public.invoice_line\"\nvia = { table = \"public.invoice\""),
        "{draft}"
    );
    assert!(
        draft.contains("email (email)") && draft.contains("phone, fax (phone)") && draft.contains("(address)"),
        "{draft}"
    );
    assert!(
        draft.contains("# unmapped: decide") && draft.contains("public.employee"),
        "{draft}"
    );

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
        draft.contains("table = \"Shop.Customers\"\nmatch = { email = \"Email\", customer_id = \"CustomerId\" }"),
        "{draft}"
    );
    assert!(
        draft.contains("column = [\"order_id\", \"line_no\"], parent_column = [\"order_id\", \"line_no\"]"),
        "{draft}"
    );
    assert!(draft.contains("exclude_columns = [\"password_hash\"]"), "{draft}");
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
