//! `dsar completions` and `dsar man`: generated from the clap definition, so they never drift
//! from `--help` (a test compares them with the copies in `completions/` and `man/`).

use std::path::Path;

use clap::CommandFactory;

use crate::cli::Cli;
use crate::error::UserError;

/// The completion script for `shell`.
pub fn completion(shell: clap_complete::Shell) -> Vec<u8> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "dsar", &mut out);
    out
}

/// Every man page: `dsar.1`, then `dsar-<sub>.1` (and `dsar-<sub>-<subsub>.1`).
pub fn man_pages() -> Result<Vec<(String, Vec<u8>)>, UserError> {
    let mut pages = Vec::new();
    let root = Cli::command();
    render(&root, "dsar", &mut pages)?;
    Ok(pages)
}

fn render(command: &clap::Command, name: &str, pages: &mut Vec<(String, Vec<u8>)>) -> Result<(), UserError> {
    let mut out = Vec::new();
    let command = command.clone().name(name.to_string());
    clap_mangen::Man::new(command.clone())
        .render(&mut out)
        .map_err(|e| UserError::runtime(format!("cannot render the man page of {name}: {e}")))?;
    pages.push((format!("{name}.1"), out));
    for sub in command.get_subcommands().filter(|s| s.get_name() != "help") {
        render(sub, &format!("{name}-{}", sub.get_name()), pages)?;
    }
    Ok(())
}

/// The top-level entry point for `dsar completions`.
pub fn run_completions(shell: clap_complete::Shell) -> Result<(), UserError> {
    crate::output::write_stdout(&completion(shell))
}

/// The top-level entry point for `dsar man`.
pub fn run_man(dir: &Path) -> Result<(), UserError> {
    std::fs::create_dir_all(dir).map_err(|e| UserError::usage(format!("cannot create {}: {e}", dir.display())))?;
    for (name, page) in man_pages()? {
        let path = dir.join(name);
        std::fs::write(&path, page).map_err(|e| UserError::runtime(format!("cannot write {}: {e}", path.display())))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `completions/` and `man/` are generated files checked in for packagers; regenerate them
    /// with `scripts/gen-docs.sh` when the CLI changes.
    #[test]
    fn checked_in_completions_and_man_pages_are_current() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let shells = [
            (clap_complete::Shell::Bash, "dsar.bash"),
            (clap_complete::Shell::Zsh, "_dsar"),
            (clap_complete::Shell::Fish, "dsar.fish"),
            (clap_complete::Shell::Elvish, "dsar.elv"),
            (clap_complete::Shell::PowerShell, "_dsar.ps1"),
        ];
        let stale = "is out of date: run scripts/gen-docs.sh and commit the result";
        for (shell, file) in shells {
            let committed = std::fs::read(root.join("completions").join(file)).unwrap_or_default();
            assert!(committed == completion(shell), "completions/{file} {stale}");
        }
        let pages = man_pages().unwrap();
        for (name, page) in &pages {
            let committed = std::fs::read(root.join("man").join(name)).unwrap_or_default();
            assert!(&committed == page, "man/{name} {stale}");
        }
        let on_disk = std::fs::read_dir(root.join("man")).map(|d| d.count()).unwrap_or(0);
        assert_eq!(
            on_disk,
            pages.len(),
            "man/ holds pages for commands that no longer exist {stale}"
        );
    }
}
