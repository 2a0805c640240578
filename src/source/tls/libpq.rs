//! libpq's TLS settings in a PostgreSQL connection string: `sslmode` in full (tokio-postgres
//! knows only disable/prefer/require), `sslrootcert` (a file, or `system`), `sslcert` and
//! `sslkey`, read from URLs and key=value strings alike and taken out before the rest goes to
//! tokio-postgres. Defaults follow libpq: `prefer`, and the files in `~/.postgresql/`.

use std::path::PathBuf;

use crate::source::tls::{Check, Names, Roots, Settings};

/// libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Allow,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    fn parse(value: &str) -> Option<SslMode> {
        Some(match value {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// How the settings are named in a PostgreSQL connection string, for errors.
pub const NAMES: Names = Names {
    root: "sslrootcert",
    cert: "sslcert",
    key: "sslkey",
};

/// The TLS settings of one connection string, as written.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Written {
    pub sslmode: Option<String>,
    pub sslrootcert: Option<String>,
    pub sslcert: Option<String>,
    pub sslkey: Option<String>,
}

/// What to connect with: the mode, and the TLS settings for it.
#[derive(Debug, Clone)]
pub struct Tls {
    pub mode: SslMode,
    pub settings: Settings,
}

/// Take the TLS keys out of a connection string: the string for tokio-postgres, and what they
/// said. `Err` names the part that does not parse.
pub fn split(conn: &str) -> Result<(String, Written), String> {
    let mut written = Written::default();
    let mut take = |key: &str, value: String| -> bool {
        let slot = match key {
            "sslmode" => &mut written.sslmode,
            "sslrootcert" => &mut written.sslrootcert,
            "sslcert" => &mut written.sslcert,
            "sslkey" => &mut written.sslkey,
            _ => return false,
        };
        *slot = Some(value);
        true
    };
    if conn.starts_with("postgres://") || conn.starts_with("postgresql://") {
        // The query starts at the first `?` after the user info: a `?` may be part of a password.
        let after_user = conn.find('@').map_or(0, |at| at + 1);
        let Some(question) = conn[after_user..].find('?').map(|q| q + after_user) else {
            return Ok((conn.to_string(), written));
        };
        let (base, query) = (&conn[..question], &conn[question + 1..]);
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            // tokio-postgres decodes keys too (`ssl%6dode`): so must we, or one slips past.
            let key =
                crate::source::tls::percent_decode(key).ok_or("a parameter name is not valid percent-encoding")?;
            let value = crate::source::tls::percent_decode(value)
                .ok_or_else(|| format!("the value of `{key}` is not valid percent-encoding"))?;
            if !take(&key, value) {
                kept.push(pair);
            }
        }
        let rest = if kept.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        return Ok((rest, written));
    }
    let mut kept = Vec::new();
    for (key, value, raw) in key_values(conn)? {
        if !take(&key, value) {
            kept.push(raw);
        }
    }
    Ok((kept.join(" "), written))
}

impl Written {
    /// Resolve against libpq's defaults: the mode, and where the roots and client certificate
    /// come from. `Err` is the message of a usage error.
    /// What the connection string left out, from libpq's environment variables (`PGSSLMODE`,
    /// `PGSSLROOTCERT`, `PGSSLCERT`, `PGSSLKEY`): an operator who exported them expects them.
    pub fn with_environment(mut self) -> Written {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        self.sslmode = self.sslmode.or_else(|| env("PGSSLMODE"));
        self.sslrootcert = self.sslrootcert.or_else(|| env("PGSSLROOTCERT"));
        self.sslcert = self.sslcert.or_else(|| env("PGSSLCERT"));
        self.sslkey = self.sslkey.or_else(|| env("PGSSLKEY"));
        self
    }

    pub fn resolve(&self, home: Option<PathBuf>) -> Result<Tls, String> {
        let default_file = |name: &str| {
            home.as_ref()
                .map(|h| h.join(".postgresql").join(name))
                .filter(|p| p.exists())
        };
        let given = match &self.sslmode {
            None => None,
            Some(value) => Some(SslMode::parse(value).ok_or_else(|| {
                format!("sslmode `{value}` is not one of disable, allow, prefer, require, verify-ca, verify-full")
            })?),
        };
        let roots = match self.sslrootcert.as_deref() {
            Some("system") => Roots::System,
            Some(file) => Roots::File(PathBuf::from(file)),
            None => default_file("root.crt").map_or(Roots::None, Roots::File),
        };
        let mode = match (given, &roots) {
            // libpq 16: the system's roots only make sense with the host name checked.
            (None, Roots::System) => SslMode::VerifyFull,
            (Some(mode), Roots::System) if mode != SslMode::VerifyFull => {
                return Err(format!(
                    "sslmode `{}` may not be used with sslrootcert=system (use verify-full)",
                    mode.name()
                ));
            }
            (Some(mode), _) => mode,
            (None, _) => SslMode::Prefer,
        };
        let check = match mode {
            SslMode::Disable | SslMode::Allow | SslMode::Prefer => Check::Nothing,
            // As libpq: `require` with a root certificate at hand checks the chain.
            SslMode::Require if roots == Roots::None => Check::Nothing,
            SslMode::Require | SslMode::VerifyCa => Check::Chain,
            SslMode::VerifyFull => Check::Full,
        };
        let cert = self
            .sslcert
            .as_ref()
            .map(PathBuf::from)
            .or_else(|| default_file("postgresql.crt"));
        let client = match cert {
            None => None,
            Some(cert) => {
                let key = self
                    .sslkey
                    .as_ref()
                    .map(PathBuf::from)
                    .or_else(|| home.as_ref().map(|h| h.join(".postgresql/postgresql.key")))
                    .ok_or("sslcert is set, but no sslkey")?;
                Some((cert, key))
            }
        };
        Ok(Tls {
            mode,
            settings: Settings { check, roots, client },
        })
    }
}

/// libpq refuses a private key file that group or others can read (root-owned keys may be
/// group-readable, 0640); so does dsar, naming it.
pub fn check_key_permissions(key: &std::path::Path, source: &str) -> Result<(), crate::error::UserError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        if let Ok(meta) = std::fs::metadata(key) {
            let mode = meta.permissions().mode();
            let allowed = if meta.uid() == 0 { 0o037 } else { 0o077 };
            if mode & allowed != 0 {
                return Err(crate::error::UserError::usage(format!(
                    "source `{source}`: sslkey {} has group or world access",
                    key.display()
                ))
                .with_hint("chmod 600 it (0640 if owned by root), as libpq requires"));
            }
        }
    }
    let _ = (key, source);
    Ok(())
}

/// The pairs of a libpq key=value string: (key, value, the pair as written).
fn key_values(conn: &str) -> Result<Vec<(String, String, String)>, String> {
    let chars: Vec<char> = conn.chars().collect();
    let mut pairs = Vec::new();
    let mut i = 0;
    let skip_space = |i: &mut usize| {
        while *i < chars.len() && chars[*i].is_whitespace() {
            *i += 1;
        }
    };
    loop {
        skip_space(&mut i);
        if i == chars.len() {
            return Ok(pairs);
        }
        let start = i;
        while i < chars.len() && chars[i] != '=' && !chars[i].is_whitespace() {
            i += 1;
        }
        let key: String = chars[start..i].iter().collect();
        skip_space(&mut i);
        if key.is_empty() {
            return Err("an `=` has no name before it".to_string());
        }
        if i == chars.len() || chars[i] != '=' {
            // Not echoed: a stray word may be part of a password.
            return Err("a word has no `=` and value".to_string());
        }
        i += 1;
        skip_space(&mut i);
        let mut value = String::new();
        if i < chars.len() && chars[i] == '\'' {
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err(format!("the value of `{key}` has no closing quote")),
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some('\\') if i + 1 < chars.len() => {
                        value.push(chars[i + 1]);
                        i += 2;
                    }
                    Some(&c) => {
                        value.push(c);
                        i += 1;
                    }
                }
            }
        } else {
            while i < chars.len() && !chars[i].is_whitespace() {
                if chars[i] == '\\' {
                    // An escape; a backslash at the very end escapes nothing and is dropped.
                    i += 1;
                    if i == chars.len() {
                        break;
                    }
                }
                value.push(chars[i]);
                i += 1;
            }
        }
        pairs.push((key, value, chars[start..i].iter().collect()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_keys_leave_a_url_and_the_rest_stays() {
        let (rest, w) = split(
            "postgres://u:p%40ss@db.example.com:5432/app?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem&application_name=x",
        )
        .unwrap();
        assert_eq!(rest, "postgres://u:p%40ss@db.example.com:5432/app?application_name=x");
        assert_eq!(w.sslmode.as_deref(), Some("verify-full"));
        assert_eq!(w.sslrootcert.as_deref(), Some("/etc/ca.pem"));
        let (rest, _) = split("postgresql://h/db?sslmode=require").unwrap();
        assert_eq!(rest, "postgresql://h/db");
        // A `?` in the password is not the query; an encoded key is still the key.
        let (rest, w) = split("postgres://u:pa?ss@h/db?ssl%6Dode=verify-full").unwrap();
        assert_eq!(
            (rest.as_str(), w.sslmode.as_deref()),
            ("postgres://u:pa?ss@h/db", Some("verify-full"))
        );
    }

    #[test]
    fn tls_keys_leave_a_key_value_string() {
        let (rest, w) =
            split("host=db port=5432 sslmode = verify-ca sslcert='/my certs/c.pem' password='a b\\'c'").unwrap();
        assert_eq!(rest, "host=db port=5432 password='a b\\'c'");
        assert_eq!(w.sslmode.as_deref(), Some("verify-ca"));
        assert_eq!(w.sslcert.as_deref(), Some("/my certs/c.pem"));
        assert!(split("host=db sslmode").is_err());
        assert!(split("host=db =x sslmode=require").is_err(), "an empty name");
        assert_eq!(
            split("host=db\\").unwrap().0,
            "host=db\\",
            "kept as written for tokio-postgres"
        );
        assert!(split("host='db").is_err());
    }

    #[test]
    fn modes_resolve_as_libpq_does() {
        let resolve = |w: Written| w.resolve(None).unwrap();
        let mode = |m: &str| Written {
            sslmode: Some(m.into()),
            ..Default::default()
        };
        let t = resolve(Written::default());
        assert_eq!((t.mode, t.settings.check), (SslMode::Prefer, Check::Nothing));
        assert_eq!(resolve(mode("require")).settings.check, Check::Nothing);
        let with_root = Written {
            sslrootcert: Some("/ca.pem".into()),
            ..mode("require")
        };
        assert_eq!(
            resolve(with_root).settings.check,
            Check::Chain,
            "require + root = verify-ca"
        );
        assert_eq!(resolve(mode("verify-full")).settings.check, Check::Full);
        let system = Written {
            sslrootcert: Some("system".into()),
            ..Default::default()
        };
        let t = resolve(system.clone());
        assert_eq!((t.mode, t.settings.roots), (SslMode::VerifyFull, Roots::System));
        assert!(
            Written {
                sslmode: Some("require".into()),
                ..system
            }
            .resolve(None)
            .is_err()
        );
        assert!(mode("verify_full").resolve(None).is_err());
        let client = Written {
            sslcert: Some("/c.pem".into()),
            sslkey: Some("/k.pem".into()),
            ..Default::default()
        };
        assert_eq!(
            resolve(client).settings.client,
            Some((PathBuf::from("/c.pem"), PathBuf::from("/k.pem")))
        );
    }
}
