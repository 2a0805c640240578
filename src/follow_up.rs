//! Commands dsar prints for the operator to run next (`undo with: …`, `finish with: …`). They
//! carry the `--config` and `--state-dir` of this run and real key paths where dsar knows them,
//! so they work pasted as printed.

use std::path::{Path, PathBuf};

use crate::cli::Global;
use crate::config::Settings;

/// `dsar [--config P] [--state-dir D] ARGS`: the map and state of this run, unless defaults.
pub fn command(global: &Global, args: &str) -> String {
    let mut line = String::from("dsar");
    if global.config != Path::new("sources.toml") {
        line.push_str(&format!(" --config {}", quote(&absolute(&global.config))));
    }
    if let Some(dir) = &global.state_dir {
        line.push_str(&format!(" --state-dir {}", quote(&absolute(dir))));
    }
    format!("{line} {args}")
}

/// The recovery identity to pass as `--identity`: the secret key beside the recovery recipients
/// file (`keys/recovery.txt` → `keys/recovery.key`) when it is there, else a placeholder.
pub fn recovery_identity(settings: &Settings) -> String {
    settings
        .recovery_recipients_file
        .as_ref()
        .map(|f| f.with_extension("key"))
        .filter(|key| key.is_file())
        .map_or_else(|| "RECOVERY_KEY_FILE".to_string(), |key| quote(&absolute(&key)))
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// A path as a shell word: quoted when it holds anything but plain characters.
fn quote(path: &Path) -> String {
    let text = path.display().to_string();
    if text.chars().all(|c| c.is_ascii_alphanumeric() || "/._-+:@".contains(c)) {
        text
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_with_spaces_or_quotes_are_quoted_for_the_shell() {
        assert_eq!(quote(Path::new("/tmp/a-b/c.toml")), "/tmp/a-b/c.toml");
        assert_eq!(quote(Path::new("/tmp/my dir/it's")), "'/tmp/my dir/it'\\''s'");
    }
}
