//! What kind of personal data a column holds, judged by its name (and, for email, its values).

use std::collections::BTreeMap;

use crate::source::discovery::{DbCatalog, DbTable};

/// Kinds a draft excludes from exports: credentials, and a card's security code (which a
/// person's archive must not carry about, and which should not be stored at all).
pub const EXCLUDED: [&str; 2] = ["secret", "card security code"];

/// What kind of personal data a column name suggests; `table` is the table's name, which
/// settles bare names (`name` in `customer` is a person's, `number` in `payment_card` a card's).
pub fn kind(table: &str, column: &str) -> Option<&'static str> {
    let c = column.to_ascii_lowercase();
    let t = table.to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| c.contains(w));
    let person_table = super::draft::PERSON_TABLES.iter().any(|p| t.contains(p));
    let card_table = t.contains("card") || t.contains("payment");
    if has(&["cvv", "cvc", "security_code", "securitycode", "card_code"]) {
        Some("card security code")
    } else if has(&["password", "passwd", "secret", "token", "api_key", "apikey", "hash"]) {
        Some("secret")
    } else if has(&["email", "e_mail"]) {
        Some("email")
    } else if has(&["card_number", "cardnumber", "cc_number", "card_no", "pan"]) && !has(&["company", "span"])
        || (card_table && matches!(c.as_str(), "number" | "card" | "last4" | "last_four"))
    {
        Some("card number")
    } else if has(&["phone", "mobile", "fax", "tel"]) && !has(&["hotel", "intel"]) {
        Some("phone")
    } else if has(&[
        "first_name",
        "last_name",
        "full_name",
        "given_name",
        "surname",
        "firstname",
        "lastname",
        "display_name",
        "middle_name",
        "holder",
        "nickname",
    ]) || (person_table || card_table) && c == "name"
    {
        Some("name")
    } else if has(&["birth", "dob"]) {
        Some("birth date")
    } else if has(&["ip_addr", "last_ip", "remote_addr", "client_ip", "user_ip"]) || c == "ip" || c.ends_with("_ip") {
        Some("IP address")
    } else if has(&["address", "street", "postal", "zip", "postcode", "house_number"]) && !c.ends_with("_id") {
        Some("address")
    } else if has(&["city", "country", "state", "region", "province"]) && !c.ends_with("_id") {
        // A place alone is not a person's: a table of cities is everyone's.
        Some("place")
    } else if has(&["ssn", "national_id", "passport", "iban", "tax_id", "driver_license"]) {
        Some("identifier")
    } else if matches!(
        c.as_str(),
        "note" | "notes" | "comment" | "comments" | "body" | "message" | "remarks" | "description" | "text"
    ) {
        Some("free text")
    } else {
        None
    }
}

/// Personal-looking columns of a table, by kind; text columns whose values look like email
/// addresses count too.
pub async fn columns(catalog: &DbCatalog, table: &DbTable) -> BTreeMap<&'static str, Vec<String>> {
    let mut found: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
    for column in &table.columns {
        let kind = match kind(&table.name.name, &column.name) {
            Some(kind) => Some(kind),
            None if column.text_like && catalog.looks_like_email(&table.name, &column.name).await => Some("email"),
            None => None,
        };
        if let Some(kind) = kind {
            found.entry(kind).or_default().push(column.name.clone());
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::kind;

    #[test]
    fn column_names_are_classified() {
        assert_eq!(kind("orders", "billing_email"), Some("email"));
        assert_eq!(kind("customer", "Phone"), Some("phone"));
        assert_eq!(kind("users", "password_hash"), Some("secret"));
        assert_eq!(kind("address", "postal_code"), Some("address"));
        assert_eq!(kind("orders", "total"), None);
        assert_eq!(kind("product", "name"), None, "a bare `name` is a product's here");
        assert_eq!(kind("customer", "name"), Some("name"));
        assert_eq!(kind("payment_card", "number"), Some("card number"));
        assert_eq!(kind("payment_card", "holder"), Some("name"));
        assert_eq!(kind("payment_card", "security_code"), Some("card security code"));
        assert_eq!(kind("login", "ip"), Some("IP address"));
        assert_eq!(kind("customer", "date_of_birth"), Some("birth date"));
        assert_eq!(kind("service_request", "body"), Some("free text"));
        assert_eq!(
            kind("orders", "shipping_address_id"),
            None,
            "a reference, not an address"
        );
    }
}
