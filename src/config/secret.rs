//! Connection strings that never sit in the source map in clear: `env:NAME` or `file:PATH`.

use std::path::Path;

use crate::error::UserError;

/// Where a source's connection string comes from. Its value is only read when connecting and is
/// never printed: errors name the reference, not what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRef {
    Env(String),
    File(std::path::PathBuf),
    /// Written in the map itself; works, but the loader warns.
    Literal(String),
}

impl SecretRef {
    /// `config_dir` anchors relative `file:` paths, so the map works from any working directory.
    pub fn parse(text: &str, config_dir: &Path) -> SecretRef {
        if let Some(name) = text.strip_prefix("env:") {
            SecretRef::Env(name.to_string())
        } else if let Some(path) = text.strip_prefix("file:") {
            SecretRef::File(config_dir.join(path))
        } else {
            SecretRef::Literal(text.to_string())
        }
    }

    /// The secret itself. `source` names the source in errors.
    pub fn resolve(&self, source: &str) -> Result<String, UserError> {
        match self {
            SecretRef::Env(name) => std::env::var(name).map_err(|_| {
                UserError::usage(format!("source `{source}`: url refers to env:{name}, which is not set"))
                    .with_hint(format!("export {name}=postgres://USER@HOST/DB before running dsar"))
            }),
            SecretRef::File(path) => std::fs::read_to_string(path)
                .map(|s| s.trim().to_string())
                .map_err(|e| {
                    UserError::usage(format!(
                        "source `{source}`: cannot read url file {}: {e}",
                        path.display()
                    ))
                }),
            SecretRef::Literal(url) => Ok(url.clone()),
        }
    }

    /// How the reference reads in messages: never the secret.
    pub fn describe(&self) -> String {
        match self {
            SecretRef::Env(name) => format!("env:{name}"),
            SecretRef::File(path) => format!("file:{}", path.display()),
            SecretRef::Literal(_) => "the literal url given".to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_forms() {
        let dir = Path::new("/etc/dsar");
        assert_eq!(SecretRef::parse("env:DB", dir), SecretRef::Env("DB".into()));
        assert_eq!(
            SecretRef::parse("file:db.url", dir),
            SecretRef::File("/etc/dsar/db.url".into())
        );
        assert!(matches!(SecretRef::parse("postgres://x", dir), SecretRef::Literal(_)));
    }

    #[test]
    fn missing_env_names_the_variable_not_a_value() {
        let err = SecretRef::Env("DSAR_TEST_SURELY_UNSET".into())
            .resolve("app")
            .unwrap_err();
        assert!(err.message.contains("env:DSAR_TEST_SURELY_UNSET"));
    }
}
