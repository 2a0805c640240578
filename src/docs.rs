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
    let root = Cli::command().disable_help_subcommand(true);
    render(&root, &["dsar"], &mut pages)?;
    Ok(pages)
}

/// The man page of the command `path` names (`["dsar", "audit", "show"]`): what clap_mangen makes
/// of the clap definition (NAME, SYNOPSIS as it is typed, DESCRIPTION, OPTIONS, COMMANDS), then
/// EXAMPLES verbatim from `--help`, EXIT STATUS, ENVIRONMENT, FILES and SEE ALSO.
fn render(command: &clap::Command, path: &[&str], pages: &mut Vec<(String, Vec<u8>)>) -> Result<(), UserError> {
    let name = path.join("-");
    let command = command
        .clone()
        .name(name.clone())
        .display_name(name.clone())
        .bin_name(path.join(" "))
        .disable_help_subcommand(true);
    let examples = command.get_after_help().map(|h| h.to_string()).unwrap_or_default();
    let man = clap_mangen::Man::new(command.clone().after_help(None::<&str>));
    let failed = |e: std::io::Error| UserError::runtime(format!("cannot render the man page of {name}: {e}"));
    let mut out = Vec::new();
    man.render_title(&mut out).map_err(failed)?;
    man.render_name_section(&mut out).map_err(failed)?;
    man.render_synopsis_section(&mut out).map_err(failed)?;
    man.render_description_section(&mut out).map_err(failed)?;
    if command.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(&mut out).map_err(failed)?;
    }
    let subcommands: Vec<&clap::Command> = command.get_subcommands().filter(|s| !s.is_hide_set()).collect();
    if !subcommands.is_empty() {
        man.render_subcommands_section(&mut out).map_err(failed)?;
    }
    if let Some(lines) = examples.strip_prefix("Examples:\n") {
        out.extend(section("EXAMPLES", &verbatim(lines)).into_bytes());
    }
    // What each exit code means, as `dsar --help` lists them.
    let exit_codes = crate::cli::EXIT_CODES.strip_prefix("Exit codes:\n").unwrap_or_default();
    out.extend(section("EXIT STATUS", &verbatim(exit_codes)).into_bytes());
    out.extend(section("ENVIRONMENT", &tagged(ENVIRONMENT)).into_bytes());
    out.extend(section("FILES", &tagged(FILES)).into_bytes());
    let mut see_also: Vec<String> = Vec::new();
    if path.len() > 1 {
        see_also.push(format!("{}(1)", path[..path.len() - 1].join("-")));
    }
    see_also.extend(subcommands.iter().map(|s| format!("{name}-{}(1)", s.get_name())));
    see_also.extend(["age(1)".to_string(), "pg_dump(1)".to_string()]);
    let mut body = escape(&see_also.join(", "));
    if path.len() > 1 {
        body.push_str("\n.PP\nThe global options (\\-\\-config, \\-\\-state\\-dir, \\-\\-operator, \\-\\-json, \\-\\-quiet, \\-v) are in dsar(1).");
    }
    body.push('\n');
    out.extend(section("SEE ALSO", &body).into_bytes());
    pages.push((format!("{name}.1"), out));
    for sub in subcommands {
        let mut sub_path = path.to_vec();
        sub_path.push(sub.get_name());
        render(sub, &sub_path, pages)?;
    }
    Ok(())
}

const ENVIRONMENT: &[(&str, &str)] = &[
    ("DSAR_CONFIG", "The source map, as --config."),
    (
        "DSAR_STATE_DIR",
        "The state dir (audit log, installation key, request ledger), as --state-dir.",
    ),
    ("DSAR_OPERATOR", "Who is acting, for the audit log, as --operator."),
    ("DSAR_PASSPHRASE", "The passphrase of export --passphrase, for scripts."),
    ("NO_COLOR", "No colour anywhere, even on a terminal."),
    (
        "PGPASSFILE",
        "libpq's password file, read for PostgreSQL sources without a password (default ~/.pgpass).",
    ),
    (
        "XDG_STATE_HOME",
        "Where the default state dir is ($XDG_STATE_HOME/dsar).",
    ),
];

const FILES: &[(&str, &str)] = &[
    (
        "sources.toml",
        "The source map: where a person's data lives, and what delete does with it.",
    ),
    (
        "~/.local/state/dsar/",
        "The default state dir: audit/ (the tamper-evident log), the installation key, the request ledger.",
    ),
    ("~/.pgpass", "libpq's password file (mode 0600)."),
    (
        "~/.postgresql/root.crt",
        "The root certificate sslmode=require and verify-* use when sslrootcert is not set.",
    ),
];

/// A `.SH` section with a body that is already roff.
fn section(title: &str, body: &str) -> String {
    format!(".SH \"{title}\"\n{body}")
}

/// Lines shown as they are, in a monospaced block.
fn verbatim(lines: &str) -> String {
    let mut out = String::from(".PP\n.nf\n.RS 2\n");
    for line in lines.lines() {
        out.push_str(&escape(line.strip_prefix("  ").unwrap_or(line)));
        out.push('\n');
    }
    out.push_str(".RE\n.fi\n");
    out
}

/// A list of names, each with a paragraph.
fn tagged(items: &[(&str, &str)]) -> String {
    items
        .iter()
        .map(|(name, what)| format!(".TP\n\\fB{}\\fR\n{}\n", escape(name), escape(what)))
        .collect()
}

/// Text safe in roff: backslashes and hyphens escaped, a leading `.` or `'` neutralised.
fn escape(text: &str) -> String {
    let text = text.replace('\\', "\\e").replace('-', "\\-");
    if text.starts_with('.') || text.starts_with('\'') {
        format!("\\&{text}")
    } else {
        text
    }
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

    /// Every page renders with groff (as `man` does) without a single warning: no broken
    /// escapes, no undefined macros, no lines it cannot set.
    #[test]
    fn every_man_page_renders_without_a_warning() {
        use std::io::Write;
        for (name, page) in man_pages().unwrap() {
            let mut groff = std::process::Command::new("groff")
                .args(["-k", "-man", "-Tutf8", "-ww", "-z"])
                .stdin(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("groff renders man pages: apt-get install groff-base (scripts/test.sh does)");
            groff.stdin.take().unwrap().write_all(&page).unwrap();
            let out = groff.wait_with_output().unwrap();
            let warnings = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success() && warnings.is_empty(), "{name}: {warnings}");
            let text = String::from_utf8_lossy(&page);
            for heading in [
                "NAME",
                "SYNOPSIS",
                "DESCRIPTION",
                "EXIT STATUS",
                "ENVIRONMENT",
                "FILES",
                "SEE ALSO",
            ] {
                assert!(
                    text.contains(&format!(".SH {heading}")) || text.contains(&format!(".SH \"{heading}\"")),
                    "{name}: no {heading}"
                );
            }
            if name != "dsar.1" {
                assert!(text.contains(".SH \"EXAMPLES\""), "{name}: no EXAMPLES");
                let typed = name.trim_end_matches(".1").replace('-', " ");
                assert!(
                    text.contains(&format!(".SH SYNOPSIS\n\\fB{typed}\\fR")),
                    "{name}: the synopsis reads as typed"
                );
            }
        }
    }

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
