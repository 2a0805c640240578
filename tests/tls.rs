//! TLS to real servers that refuse plaintext (`scripts/server.sh up postgres-tls` and
//! `mariadb-tls`: a throwaway CA, a server certificate for `localhost` only, another CA that
//! signed nothing, a client certificate for `certuser`): what verifies, what is refused and
//! how the refusal reads, and what `dsar check` says of each connection.

mod common;

use common::{Workspace, stderr, stdout};
use serde_json::Value;

/// A map with one source `crm` at `env:CRM_URL` (and `more` lines), one table of people
/// matched by email.
fn map(kind: &str, more: &str) -> String {
    format!(
        "[settings]\nrecipients_file = \"keys/exports.txt\"\nrecovery_recipients_file = \"keys/recovery.txt\"\n\n\
         [subject]\nkeys = [\"email\"]\n\n\
         [[sources]]\nname = \"crm\"\nkind = \"{kind}\"\nurl = \"env:CRM_URL\"\n{more}\n\n\
         [[sources.tables]]\ntable = \"people\"\nmatch = {{ email = \"email\" }}\n"
    )
}

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run `scripts/test.sh`, or eval \"$(scripts/server.sh up postgres-tls)\" and mariadb-tls first")
    })
}

/// A certificate file of the TLS servers' (`ca.crt`, `other-ca.crt`, `client.crt`, …).
fn cert(dir_var: &str, name: &str) -> String {
    format!("{}/tls/{name}", var(dir_var))
}

/// The TLS-only PostgreSQL server: a fresh database with a `people` table; its name.
fn pg_database() -> String {
    let name = format!("t_tls_{:08x}", rand::random::<u32>());
    // Over the server's Unix socket, where pg_hba.conf trusts the superuser.
    let admin = format!(
        "host={} port={} user=postgres dbname=dsar_test",
        var("PGTLS_DIR"),
        var("PGTLS_PORT")
    );
    common::psql(&admin, &format!("CREATE DATABASE {name}"));
    let db = format!(
        "host={} port={} user=postgres dbname={name}",
        var("PGTLS_DIR"),
        var("PGTLS_PORT")
    );
    common::psql(
        &db,
        "CREATE TABLE people (id int PRIMARY KEY, email text); \
         INSERT INTO people VALUES (1, 'a@example.org'), (2, 'b@example.org')",
    );
    name
}

/// `postgres://USER@HOST:PORT/DB?QUERY` on the TLS-only server.
fn pg_url(user: &str, host: &str, db: &str, query: &str) -> String {
    format!("postgres://{user}@{host}:{}/{db}?{query}", var("PGTLS_PORT"))
}

fn workspace(kind: &str, url: &str) -> Workspace {
    Workspace::new(&map(kind, ""), &[("CRM_URL", url)])
}

/// `dsar check --json` succeeds; the one connection it reports.
fn connection(ws: &Workspace) -> Value {
    let out = ws.dsar_ok(&["check", "--json"]);
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["connections"].as_array().map(Vec::len), Some(1), "{report}");
    report["connections"][0].clone()
}

/// A refused connection: exit 2, one `error:` line naming the source and host:port, a hint
/// containing `hint`, and no password; from `export` (nothing written) and from `check`.
fn refused(ws: &Workspace, cause: &str, hint: &str) {
    let out = ws.dsar(&["export", "--subject", "email=a@example.org"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{err}");
    assert!(
        errors[0].contains("source `crm`") && errors[0].contains(&var_port(ws)),
        "{err}"
    );
    assert!(errors[0].contains(cause), "wanted {cause:?}: {err}");
    assert!(
        err.lines().any(|l| l.starts_with("hint:") && l.contains(hint)),
        "wanted a hint with {hint:?}: {err}"
    );
    assert!(!err.contains("pw-secret"), "{err}");
    assert!(ws.archives().is_empty(), "no archive");
    let out = ws.dsar(&["check"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(cause) && stderr(&out).contains(hint),
        "{}",
        stderr(&out)
    );
}

/// `c` is a TLS connection whose certificate was checked as `verified` says (`full`, `chain`,
/// `no`).
fn assert_tls(c: &Value, verified: &str) {
    assert_eq!(
        (c["transport"].as_str(), c["verified"].as_str()),
        (Some("TLS"), Some(verified)),
        "{c}"
    );
}

/// `c` is TLS 1.3 with the certificate verified in full for `localhost`.
fn assert_verified_for_localhost(c: &Value) {
    assert_tls(c, "full");
    assert_eq!(
        (c["protocol"].as_str(), c["host"].as_str()),
        (Some("TLSv1.3"), Some("localhost")),
        "{c}"
    );
}

/// The port of the workspace's source, as errors show it (`host:port`).
fn var_port(ws: &Workspace) -> String {
    let url = &ws.env().iter().find(|(k, _)| k == "CRM_URL").unwrap().1;
    let port = url.rsplit_once(':').unwrap().1.split('/').next().unwrap();
    format!(":{port}")
}

#[test]
fn postgres_verify_full_connects_and_check_says_how() {
    let db = pg_database();
    let ca = cert("PGTLS_DIR", "ca.crt");
    let ws = workspace(
        "postgres",
        &pg_url(
            "postgres",
            "localhost",
            &db,
            &format!("sslmode=verify-full&sslrootcert={ca}"),
        ),
    );
    let c = connection(&ws);
    assert_verified_for_localhost(&c);
    let human = stdout(&ws.dsar_ok(&["check"]));
    assert!(
        human.contains("crm: 1 tables, TLS (TLSv1.3, certificate verified for localhost)"),
        "{human}"
    );
    // The data goes over it.
    ws.dsar_ok(&["export", "--subject", "email=a@example.org", "--quiet"]);
    assert_eq!(ws.archives().len(), 1);
    // The key=value form says the same.
    let kv = format!(
        "host=localhost port={} user=postgres dbname={db} sslmode=verify-full sslrootcert='{ca}'",
        var("PGTLS_PORT")
    );
    assert_eq!(connection(&workspace("postgres", &kv))["verified"], "full");
}

#[test]
fn postgres_plaintext_and_a_server_without_tls_are_refused() {
    let db = pg_database();
    refused(
        &workspace("postgres", &pg_url("postgres", "127.0.0.1", &db, "sslmode=disable")),
        "no encryption",
        "check that the server is up",
    );
    // The plain test server has no TLS: verify-full says so, and what to set.
    let plain = std::env::var("DATABASE_URL").expect("DATABASE_URL");
    let ws = workspace(
        "postgres",
        &format!(
            "{plain}?sslmode=verify-full&sslrootcert={}",
            cert("PGTLS_DIR", "ca.crt")
        ),
    );
    let out = ws.dsar(&["check"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("sslmode=verify-full needs TLS, and the server does not offer it"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn postgres_a_wrong_ca_and_a_wrong_host_name_are_refused_with_what_to_set() {
    let db = pg_database();
    let other = cert("PGTLS_DIR", "other-ca.crt");
    let ca = cert("PGTLS_DIR", "ca.crt");
    refused(
        &workspace(
            "postgres",
            &pg_url(
                "postgres",
                "localhost",
                &db,
                &format!("sslmode=verify-full&sslrootcert={other}"),
            ),
        ),
        "not signed by a trusted root",
        "sslrootcert",
    );
    // require with a root certificate checks the chain, as libpq does.
    refused(
        &workspace(
            "postgres",
            &pg_url(
                "postgres",
                "localhost",
                &db,
                &format!("sslmode=require&sslrootcert={other}"),
            ),
        ),
        "not signed by a trusted root",
        "sslrootcert",
    );
    // The certificate names `localhost` only: 127.0.0.1 is refused under verify-full…
    refused(
        &workspace(
            "postgres",
            &pg_url(
                "postgres",
                "127.0.0.1",
                &db,
                &format!("sslmode=verify-full&sslrootcert={ca}"),
            ),
        ),
        "not valid for the host name `127.0.0.1`",
        "sslmode=verify-ca",
    );
    // …and accepted under verify-ca, which checks the chain only.
    let c = connection(&workspace(
        "postgres",
        &pg_url(
            "postgres",
            "127.0.0.1",
            &db,
            &format!("sslmode=verify-ca&sslrootcert={ca}"),
        ),
    ));
    assert_tls(&c, "chain");
    // require without a root certificate encrypts without verifying.
    let c = connection(&workspace(
        "postgres",
        &pg_url("postgres", "127.0.0.1", &db, "sslmode=require"),
    ));
    assert_tls(&c, "no");
    // A mode libpq does not know is a usage error naming the choices.
    let out = workspace("postgres", &pg_url("postgres", "localhost", &db, "sslmode=verify_full")).dsar(&["check"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("verify-ca, verify-full"), "{}", stderr(&out));
}

#[test]
fn postgres_a_client_certificate_authenticates_and_a_bad_key_file_is_named() {
    let db = pg_database();
    let (ca, client, key) = (
        cert("PGTLS_DIR", "ca.crt"),
        cert("PGTLS_DIR", "client.crt"),
        cert("PGTLS_DIR", "client.key"),
    );
    let c = connection(&workspace(
        "postgres",
        &pg_url(
            "certuser",
            "localhost",
            &db,
            &format!("sslmode=verify-full&sslrootcert={ca}&sslcert={client}&sslkey={key}"),
        ),
    ));
    assert_eq!(c["verified"], "full", "{c}");
    // Without it, certuser is refused by the server.
    let out = workspace(
        "postgres",
        &pg_url(
            "certuser",
            "localhost",
            &db,
            &format!("sslmode=verify-full&sslrootcert={ca}"),
        ),
    )
    .dsar(&["check"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    // A key file that cannot be read: one line naming sslkey, before any connection.
    let ws = workspace(
        "postgres",
        &pg_url(
            "certuser",
            "localhost",
            &db,
            &format!("sslmode=verify-full&sslrootcert={ca}&sslcert={client}&sslkey=/nonexistent/client.key"),
        ),
    );
    let out = ws.dsar(&["check"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("sslkey /nonexistent/client.key"),
        "{}",
        stderr(&out)
    );
}

/// The TLS-only MariaDB server: a fresh database with a `people` table; its name.
fn my_database() -> String {
    let name = format!("t_tls_{:08x}", rand::random::<u32>());
    let out = std::process::Command::new("mariadb")
        .args([
            "--no-defaults",
            "-uroot",
            "-h127.0.0.1",
            "-P",
            &var("MYSQLTLS_PORT"),
            "--ssl",
        ])
        .arg(format!("--ssl-ca={}", cert("MYSQLTLS_DIR", "ca.crt")))
        .arg("-e")
        .arg(format!(
            "CREATE DATABASE {name}; CREATE TABLE {name}.people (id int PRIMARY KEY, email varchar(100)); \
             INSERT INTO {name}.people VALUES (1, 'a@example.org'), (2, 'b@example.org'); \
             CREATE USER IF NOT EXISTS certuser@'%' REQUIRE SUBJECT '/CN=certuser'; GRANT ALL ON *.* TO certuser@'%'"
        ))
        .output()
        .expect("the mariadb client runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    name
}

/// `mysql://USER@HOST:PORT/DB?prefer_socket=false&QUERY` on the TLS-only server (a socket would
/// not be TLS, and is local anyway).
fn my_url(user: &str, host: &str, db: &str, query: &str) -> String {
    format!(
        "mysql://{user}@{host}:{}/{db}?prefer_socket=false&{query}",
        var("MYSQLTLS_PORT")
    )
}

#[test]
fn mysql_verify_identity_connects_and_check_says_how() {
    let db = my_database();
    let ca = cert("MYSQLTLS_DIR", "ca.crt");
    let ws = workspace(
        "mysql",
        &my_url(
            "root",
            "localhost",
            &db,
            &format!("ssl-mode=VERIFY_IDENTITY&ssl-ca={ca}"),
        ),
    );
    let c = connection(&ws);
    assert_verified_for_localhost(&c);
    ws.dsar_ok(&["export", "--subject", "email=a@example.org", "--quiet"]);
    assert_eq!(ws.archives().len(), 1);
}

#[test]
fn mysql_plaintext_a_wrong_ca_and_a_wrong_host_name_are_refused() {
    let db = my_database();
    let (ca, other) = (cert("MYSQLTLS_DIR", "ca.crt"), cert("MYSQLTLS_DIR", "other-ca.crt"));
    let out = workspace("mysql", &my_url("root", "127.0.0.1", &db, "ssl-mode=DISABLED")).dsar(&["check"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    refused(
        &workspace(
            "mysql",
            &my_url(
                "root",
                "localhost",
                &db,
                &format!("ssl-mode=VERIFY_IDENTITY&ssl-ca={other}"),
            ),
        ),
        "not signed by a trusted root",
        "ssl-ca",
    );
    refused(
        &workspace(
            "mysql",
            &my_url(
                "root",
                "127.0.0.1",
                &db,
                &format!("ssl-mode=VERIFY_IDENTITY&ssl-ca={ca}"),
            ),
        ),
        "not valid for the host name `127.0.0.1`",
        "ssl-mode=VERIFY_CA",
    );
    let c = connection(&workspace(
        "mysql",
        &my_url("root", "127.0.0.1", &db, &format!("ssl-mode=VERIFY_CA&ssl-ca={ca}")),
    ));
    assert_tls(&c, "chain");
    // The default, PREFERRED, encrypts when the server offers TLS; so does REQUIRED.
    for query in ["", "ssl-mode=REQUIRED"] {
        let c = connection(&workspace("mysql", &my_url("root", "127.0.0.1", &db, query)));
        assert_tls(&c, "no");
    }
    // REQUIRED against the plain test server, which has no TLS: refused, saying why.
    let plain = std::env::var("MYSQL_URL").expect("MYSQL_URL");
    let out = workspace("mysql", &format!("{plain}?ssl-mode=REQUIRED")).dsar(&["check"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("ssl-mode asks for TLS, and the server does not offer it"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn mysql_a_client_certificate_authenticates() {
    let db = my_database();
    let (ca, client, key) = (
        cert("MYSQLTLS_DIR", "ca.crt"),
        cert("MYSQLTLS_DIR", "client.crt"),
        cert("MYSQLTLS_DIR", "client.key"),
    );
    let c = connection(&workspace(
        "mysql",
        &my_url(
            "certuser",
            "localhost",
            &db,
            &format!("ssl-mode=VERIFY_IDENTITY&ssl-ca={ca}&ssl-cert={client}&ssl-key={key}"),
        ),
    ));
    assert_eq!(c["verified"], "full", "{c}");
    let out = workspace(
        "mysql",
        &my_url(
            "certuser",
            "localhost",
            &db,
            &format!("ssl-mode=VERIFY_IDENTITY&ssl-ca={ca}"),
        ),
    )
    .dsar(&["check"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "refused without its certificate: {}",
        stderr(&out)
    );
}

/// `password_command` supplies the password for each connection (pwuser authenticates by
/// SCRAM); what it prints never reaches the output or the audit log; a failing one is one line
/// naming the source and the program.
#[test]
fn postgres_password_command_supplies_the_password() {
    let db = pg_database();
    let ca = cert("PGTLS_DIR", "ca.crt");
    let url = pg_url(
        "pwuser",
        "localhost",
        &db,
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    );
    let ws = Workspace::new(
        &map(
            "postgres",
            "password_command = [\"sh\", \"-c\", \"printf 'pw-secret\\\\n'\"]",
        ),
        &[("CRM_URL", &url)],
    );
    let out = ws.dsar_ok(&["export", "--subject", "email=a@example.org"]);
    assert!(!format!("{}{}", stdout(&out), stderr(&out)).contains("pw-secret"));
    let log = serde_json::to_string(&ws.audit_events()).unwrap();
    assert!(log.contains("export"), "{log}");
    assert!(!log.contains("pw-secret"), "the audit log holds no password");
    // Without it, pwuser has no password: refused.
    let out = workspace("postgres", &url).dsar(&["check"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    // A command that fails: one line, the program named, its stderr's first line, exit 2.
    let ws = Workspace::new(
        &map(
            "postgres",
            "password_command = [\"sh\", \"-c\", \"echo token expired >&2; exit 3\"]",
        ),
        &[("CRM_URL", &url)],
    );
    let out = ws.dsar(&["export", "--subject", "email=a@example.org"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("source `crm`: password_command `sh` failed") && err.contains("token expired"),
        "{err}"
    );
    assert!(ws.archives().is_empty());
}

/// libpq's password file (`PGPASSFILE`) supplies the password; one others can read is ignored
/// with a warning, as libpq does.
#[test]
fn postgres_a_password_file_supplies_the_password() {
    use std::os::unix::fs::PermissionsExt;
    let db = pg_database();
    let ca = cert("PGTLS_DIR", "ca.crt");
    let url = pg_url(
        "pwuser",
        "localhost",
        &db,
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    );
    let dir = tempfile::tempdir().unwrap();
    let pgpass = dir.path().join("pgpass");
    std::fs::write(
        &pgpass,
        format!(
            "# dsar test\nelsewhere:5432:*:pwuser:wrong\nlocalhost:{}:*:pwuser:pw-secret\n",
            var("PGTLS_PORT")
        ),
    )
    .unwrap();
    std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o600)).unwrap();
    let pgpass_env = pgpass.display().to_string();
    let ws = Workspace::new(&map("postgres", ""), &[("CRM_URL", &url), ("PGPASSFILE", &pgpass_env)]);
    assert_eq!(connection(&ws)["verified"], "full");
    std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = ws.dsar(&["export", "--subject", "email=a@example.org"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("group or world access"), "{}", stderr(&out));
}

/// A Unix-socket host works, and plaintext there is local: no TLS, no warning.
#[test]
fn postgres_a_unix_socket_host_connects_without_tls_or_warning() {
    let db = pg_database();
    let kv = format!(
        "host={} port={} user=postgres dbname={db}",
        var("PGTLS_DIR"),
        var("PGTLS_PORT")
    );
    let ws = workspace("postgres", &kv);
    let c = connection(&ws);
    assert_eq!(
        (c["transport"].as_str(), c["local"].as_bool()),
        (Some("plaintext"), Some(true)),
        "{c}"
    );
    let out = ws.dsar_ok(&["export", "--subject", "email=a@example.org"]);
    assert!(!stderr(&out).contains("without TLS"), "{}", stderr(&out));
}

/// Plaintext to a host that is not loopback by name warns once per source, and `check` flags
/// it. The test reaches the plain server under this machine's host name, when that name
/// resolves to a loopback address (no traffic leaves the machine); elsewhere it says so.
#[test]
fn plaintext_to_a_remote_host_is_visible() {
    use std::net::ToSocketAddrs;
    let name = String::from_utf8(std::process::Command::new("hostname").output().unwrap().stdout).unwrap();
    let name = name.trim();
    let loopback = (name, 5432)
        .to_socket_addrs()
        .is_ok_and(|mut addrs| addrs.all(|a| a.ip().is_loopback()));
    if name.is_empty() || name == "localhost" || !loopback {
        eprintln!("skipped: this machine's host name does not resolve to loopback only");
        return;
    }
    let db = common::fresh_db("chinook_tpl");
    let url = db.url.replace("127.0.0.1", name);
    let config = "[subject]\nkeys = [\"email\"]\n\n[[sources]]\nname = \"shop\"\nkind = \"postgres\"\nurl = \"env:SHOP_URL\"\n\n\
         [[sources.tables]]\ntable = \"public.customer\"\nmatch = { email = \"email\" }\non_delete = \"retain\"\nretain_reason = \"read only here\"\n";
    let ws = Workspace::new(config, &[("SHOP_URL", &url)]);
    let out = ws.dsar_ok(&["check", "--json"]);
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["connections"][0]["transport"], "plaintext", "{report}");
    assert_eq!(report["connections"][0]["local"], false, "{report}");
    assert!(report["warnings"].to_string().contains("without TLS"), "{report}");
    let out = ws.dsar(&[
        "export",
        "--subject",
        "email=nobody@example.org",
        "--recipient",
        &ws.recipient,
    ]);
    let warnings = stderr(&out).matches("connected without TLS").count();
    assert_eq!(warnings, 1, "one warning per source: {}", stderr(&out));
}

/// libpq's environment variables count when the connection string is silent (an operator's
/// exported `PGSSLMODE=verify-full` is not quietly `prefer`); the default, `prefer`, encrypts
/// when the server offers TLS; a client key others can read is refused, as libpq does.
#[test]
fn postgres_environment_defaults_and_key_permissions_are_libpqs() {
    use std::os::unix::fs::PermissionsExt;
    let db = pg_database();
    let ca = cert("PGTLS_DIR", "ca.crt");
    let url = pg_url("postgres", "localhost", &db, "");
    let ws = Workspace::new(
        &map("postgres", ""),
        &[("CRM_URL", &url), ("PGSSLMODE", "verify-full"), ("PGSSLROOTCERT", &ca)],
    );
    assert_eq!(connection(&ws)["verified"], "full");
    let ws = Workspace::new(
        &map("postgres", ""),
        &[
            ("CRM_URL", &pg_url("postgres", "127.0.0.1", &db, "")),
            ("PGSSLMODE", "verify-full"),
            ("PGSSLROOTCERT", &ca),
        ],
    );
    let out = ws.dsar(&["check"]);
    assert!(stderr(&out).contains("not valid for the host name"), "{}", stderr(&out));
    let c = connection(&workspace("postgres", &url));
    assert_tls(&c, "no");

    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("client.key");
    std::fs::copy(cert("PGTLS_DIR", "client.key"), &key).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let query = format!(
        "sslmode=verify-full&sslrootcert={ca}&sslcert={}&sslkey={}",
        cert("PGTLS_DIR", "client.crt"),
        key.display()
    );
    let out = workspace("postgres", &pg_url("certuser", "localhost", &db, &query)).dsar(&["check"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("has group or world access"), "{}", stderr(&out));
}
