//! dsar: answer data-subject requests straight from your databases.
//!
//! `main` only parses arguments, runs the command and maps the outcome to an exit code; each
//! subcommand lives in the module named after it.

mod age_keys;
mod arenas;
mod audit;
mod case;
mod check;
mod cli;
mod clock;
mod config;
mod demo;
mod discover;
mod docs;
mod engine;
mod envelope;
mod erase;
mod error;
mod export;
mod follow_up;
mod fsync;
mod hex;
mod identity;
mod interrupt;
mod jobs;
mod ledger;
mod notify;
mod open;
mod output;
mod pace;
mod progress;
mod register;
mod source;
mod state;
mod subject;

use clap::Parser;

use cli::{AuditCommand, Cli, Command, Global, RegisterCommand};
use error::{ExitKind, UserError};

fn main() {
    arenas::limit();
    let cli = Cli::parse();
    quiet_panics(cli.global.verbose > 0);
    source::tls::set_quiet(cli.global.quiet);
    // One crypto provider for every TLS connection: ring (never a second one a dependency could
    // switch on, which would make rustls refuse to pick).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let code = match run(&cli) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {}", e.message);
            if let Some(hint) = &e.hint {
                eprintln!("hint: {hint}");
            }
            if cli.global.json {
                output::print_json_error(&e);
            }
            e.kind.code()
        }
    };
    std::process::exit(code);
}

fn run(cli: &Cli) -> Result<(), UserError> {
    // One thread runs every async task: a database session's driver and the work that waits on
    // it take turns on it, where on a thread pool each reply woke another thread (a million-row
    // delete spent a tenth of its CPU switching threads: 4.9 s there, 4.0 s here; export is the
    // same either way). Work that is CPU-bound or blocking (building archives, the age
    // encryptors, fsyncs) runs on threads of its own (`spawn_blocking`), as before.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| UserError::runtime(format!("cannot start the async runtime: {e}")))?;
    // A run that names a case carries it, so everything it logs and records says so.
    let mut global = cli.global.clone();
    if let Some(case) = match &cli.command {
        Command::Export(args) => Some(&args.case),
        Command::Delete(args) => Some(&args.case),
        Command::Restore(args) => Some(&args.case),
        Command::Purge(args) => Some(&args.case),
        Command::Open(args) => Some(&args.case),
        _ => None,
    } {
        global.case = case.clone();
        case::begin(&global)?;
    }
    runtime.block_on(async {
        match &cli.command {
            Command::Export(args) => export::run(&global, args).await,
            Command::Delete(args) => erase::delete::run(&global, args).await,
            Command::Restore(args) => erase::restore::run(&global, args).await,
            Command::Extend(args) => case::run_extend(&global, args),
            Command::Purge(args) => erase::purge::run(&global, args).await,
            Command::Audit(AuditCommand::Verify(a)) => audit::command::run_verify(&global, a),
            Command::Audit(AuditCommand::Head) => audit::command::run_head(&global),
            Command::Audit(AuditCommand::Export(args)) => audit::command::run_export(&global, args),
            Command::Audit(AuditCommand::Show(args)) => audit::command::run_show(&global, args),
            Command::Audit(AuditCommand::Certificate(args)) => audit::certificate::run(&global, args),
            Command::Open(args) => open::run(&global, args),
            Command::Check(args) if args.erased => register::command::run_check(&global, &args.register).await,
            Command::Check(args) if args.register.register.is_some() || args.register.since.is_some() => Err(
                UserError::usage("--register and --since choose what `check --erased` looks for")
                    .with_hint("add --erased"),
            ),
            Command::Check(_) => check::run(&global).await,
            Command::Reapply(args) => erase::reapply::run(&global, args).await,
            Command::Register(RegisterCommand::Export(args)) => register::command::run_export(&global, args),
            Command::Register(RegisterCommand::List) => register::command::run_list(&global),
            Command::Status(args) => jobs::run_status(&global, args),
            Command::Jobs(args) => jobs::run_jobs(&global, args),
            Command::Cancel(args) => jobs::run_cancel(&global, args),
            Command::Resume(args) => jobs::run_resume(&global, args).await,
            Command::Discover(args) => discover::run(&global, args).await,
            Command::Completions(args) => docs::run_completions(args.shell),
            Command::Man(args) => docs::run_man(&args.out),
            Command::Demo(args) => demo::run(&global, args).await,
        }
    })
}

/// A bug must still read like every other error: one line and a hint, exit 1, no backtrace
/// unless `-v` (or RUST_BACKTRACE) asks for it. Open database transactions roll back when the
/// process goes.
///
/// A reader that went away (`dsar jobs | head -1`) is a quiet stop with exit 0, as in ripgrep:
/// `println!` panics when stdout is a closed pipe, and the hook recognises that case by the
/// error a probe write to stdout returns, not by the panic's text.
fn quiet_panics(verbose: bool) {
    let noisy = verbose || std::env::var_os("RUST_BACKTRACE").is_some();
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if stdout_is_closed() {
            std::process::exit(0);
        }
        if noisy {
            return default_hook(info);
        }
        let what = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown cause".into());
        eprintln!("error: dsar hit a bug and stopped: {what}");
        eprintln!("hint: nothing half-done was committed; run again with -v to see where, and report it");
        std::process::exit(ExitKind::Runtime.code());
    }));
}

/// Whether standard output is a pipe whose reader has gone: a write there fails with EPIPE.
fn stdout_is_closed() -> bool {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    matches!(
        out.write_all(b"\n").and_then(|()| out.flush()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe
    )
}

/// Print non-fatal remarks on stderr, unless `--quiet`.
pub fn warn_all(global: &Global, warnings: &[String]) {
    if global.quiet {
        return;
    }
    for w in warnings {
        eprintln!("warning: {w}");
    }
}
