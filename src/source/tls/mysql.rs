//! The mysql client's TLS settings, given in a MySQL URL's query with the client's names
//! (`?ssl-mode=VERIFY_IDENTITY&ssl-ca=…&ssl-cert=…&ssl-key=…`), taken out before the rest goes
//! to mysql_async and turned into its `SslOpts`. The default is `PREFERRED`, as for the client.

use std::path::PathBuf;

use mysql_async::{ClientIdentity, SslOpts};

use crate::source::tls::{Check, Names, Roots, Settings};

/// The mysql client's `--ssl-mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disabled,
    Preferred,
    Required,
    VerifyCa,
    VerifyIdentity,
}

/// How the settings are named in a MySQL URL, for errors.
pub const NAMES: Names = Names {
    root: "ssl-ca",
    cert: "ssl-cert",
    key: "ssl-key",
};

/// What to connect with.
#[derive(Debug, Clone)]
pub struct Tls {
    pub mode: SslMode,
    pub settings: Settings,
}

impl Tls {
    /// mysql_async's options for an encrypted connection; `None` for `DISABLED`.
    ///
    /// `VERIFY_CA` is verified in full against `name`, a name the server's certificate lists
    /// (see [`crate::source::tls::name_in_certificate`]): mysql_async's own "skip the host
    /// name" recognises only the error rustls gave before 0.23.18, so it would refuse a chain
    /// that verifies.
    pub fn ssl_opts(&self, name: Option<String>) -> Option<SslOpts> {
        if self.mode == SslMode::Disabled {
            return None;
        }
        let mut opts = SslOpts::default();
        if let Roots::File(ca) = &self.settings.roots {
            opts = opts
                .with_root_certs(vec![ca.clone().into()])
                .with_disable_built_in_roots(true);
        }
        if let Some((cert, key)) = &self.settings.client {
            opts = opts.with_client_identity(Some(ClientIdentity::new(cert.clone().into(), key.clone().into())));
        }
        Some(match (self.settings.check, name) {
            (Check::Nothing, _) => opts.with_danger_accept_invalid_certs(true),
            (Check::Chain, Some(name)) => opts.with_danger_tls_hostname_override(Some(name)),
            (Check::Chain | Check::Full, _) => opts,
        })
    }
}

/// Take the TLS parameters out of a MySQL URL: the URL for mysql_async, and the settings.
/// `Err` is the message of a usage error (it never echoes a value but the mode's).
pub fn split(url: &str) -> Result<(String, Tls), String> {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut kept = Vec::new();
    let (mut mode, mut ca, mut cert, mut key) = (None, None, None, None);
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = || {
            crate::source::tls::percent_decode(value)
                .ok_or_else(|| format!("the value of `{name}` is not valid percent-encoding"))
        };
        match name.replace('_', "-").as_str() {
            // mysql_async's own switches would be overridden by ssl-mode without a word.
            "require-ssl" | "verify-ca" | "verify-identity" | "built-in-roots" => {
                return Err(format!(
                    "`{name}` is not read by dsar: say it with ssl-mode=REQUIRED, VERIFY_CA or VERIFY_IDENTITY and ssl-ca=FILE"
                ));
            }
            "ssl-mode" => mode = Some(value()?),
            "ssl-ca" => ca = Some(PathBuf::from(value()?)),
            "ssl-cert" => cert = Some(PathBuf::from(value()?)),
            "ssl-key" => key = Some(PathBuf::from(value()?)),
            _ => kept.push(pair),
        }
    }
    let mode = match mode.as_deref().map(str::to_ascii_uppercase).as_deref() {
        // As the mysql client: a CA file alone asks for it to be used.
        None if ca.is_some() => SslMode::VerifyCa,
        None | Some("PREFERRED") => SslMode::Preferred,
        Some("DISABLED") => SslMode::Disabled,
        Some("REQUIRED") if ca.is_some() => SslMode::VerifyCa,
        Some("REQUIRED") => SslMode::Required,
        Some("VERIFY_CA") => SslMode::VerifyCa,
        Some("VERIFY_IDENTITY") => SslMode::VerifyIdentity,
        Some(other) => {
            return Err(format!(
                "ssl-mode `{other}` is not one of DISABLED, PREFERRED, REQUIRED, VERIFY_CA, VERIFY_IDENTITY"
            ));
        }
    };
    if mode == SslMode::VerifyCa && ca.is_none() {
        // Without a CA of its own, any publicly trusted certificate of any name would pass.
        return Err("ssl-mode=VERIFY_CA needs ssl-ca=FILE, the CA that signed the server's certificate".to_string());
    }
    let client = match (cert, key) {
        (None, None) => None,
        (Some(cert), Some(key)) => Some((cert, key)),
        _ => return Err("ssl-cert and ssl-key go together: give both".to_string()),
    };
    let check = match mode {
        SslMode::Disabled | SslMode::Preferred | SslMode::Required => Check::Nothing,
        SslMode::VerifyCa => Check::Chain,
        SslMode::VerifyIdentity => Check::Full,
    };
    let rest = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((
        rest,
        Tls {
            mode,
            settings: Settings {
                check,
                roots: ca.map_or(Roots::None, Roots::File),
                client,
            },
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_parameters_leave_the_url() {
        let (rest, tls) =
            split("mysql://u:pw@db:3306/app?ssl-mode=verify_identity&ssl-ca=%2Fetc%2Fca.pem&prefer_socket=false")
                .unwrap();
        assert_eq!(rest, "mysql://u:pw@db:3306/app?prefer_socket=false");
        assert_eq!(tls.mode, SslMode::VerifyIdentity);
        assert_eq!(tls.settings.roots, Roots::File("/etc/ca.pem".into()));
        assert_eq!(tls.settings.check, Check::Full);
        let (rest, tls) = split("mysql://u@db/app").unwrap();
        assert_eq!((rest.as_str(), tls.mode), ("mysql://u@db/app", SslMode::Preferred));
        assert_eq!(
            split("mysql://db/app?ssl-ca=/ca.pem").unwrap().1.mode,
            SslMode::VerifyCa
        );
        assert!(split("mysql://db/app?ssl-mode=ON").is_err());
        assert!(
            split("mysql://db/app?ssl-mode=VERIFY_CA").is_err(),
            "VERIFY_CA needs its CA"
        );
        assert!(
            split("mysql://db/app?require_ssl=true").is_err(),
            "mysql_async's switches are refused"
        );
        assert!(split("mysql://db/app?ssl-cert=/c.pem").is_err());
    }
}
