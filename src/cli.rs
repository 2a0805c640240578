//! The whole command-line surface of `dsar`, in one place.
//!
//! Names here are a contract (see DESIGN.md): scripts and cron jobs depend on them. The same
//! definition feeds the generated shell completions and man pages.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub const EXIT_CODES: &str = "\
Exit codes:
  0    done
  1    failed at run time
  2    bad usage or configuration (nothing changed)
  3    done, but some items were flagged for manual review
  4    refused for safety (nothing changed)
  130  cancelled";

/// Answer data-subject requests (GDPR Art. 15/17/20, CCPA) straight from your databases.
#[derive(Debug, Parser)]
#[command(name = "dsar", version, about, after_help = EXIT_CODES)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,

    #[command(subcommand)]
    pub command: Command,
}

/// Flags every subcommand understands, listed after each subcommand's own.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Global options")]
pub struct Global {
    /// The source map that says where personal data lives.
    #[arg(
        long,
        global = true,
        env = "DSAR_CONFIG",
        default_value = "sources.toml",
        value_name = "PATH"
    )]
    pub config: PathBuf,

    /// Where the audit log, the installation key and the request ledger live
    /// [default: $XDG_STATE_HOME/dsar or ~/.local/state/dsar].
    #[arg(long, global = true, env = "DSAR_STATE_DIR", value_name = "DIR")]
    pub state_dir: Option<PathBuf>,

    /// Who is acting, for the audit log [default: the OS user].
    #[arg(long, global = true, env = "DSAR_OPERATOR", value_name = "NAME")]
    pub operator: Option<String>,

    /// Print one machine-readable JSON object on stdout instead of the human summary.
    #[arg(long, global = true)]
    pub json: bool,

    /// Print nothing but errors; no progress bars.
    #[arg(long, short, global = true)]
    pub quiet: bool,

    /// Say more: purge lists what it removed and prints config warnings; a crash shows where.
    #[arg(long, short, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// The case this run belongs to (from the command's own --ticket/--reason, or the record
    /// of the request it resumes): the audit log and the ledger stamp it on what they write.
    #[arg(skip)]
    pub case: crate::case::CaseArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Collect every row about a subject into one age-encrypted zip archive.
    #[command(after_help = EXPORT_EXAMPLES)]
    Export(ExportArgs),
    /// Erase a subject's rows, keeping them restorable for the recovery window.
    #[command(after_help = DELETE_EXAMPLES)]
    Delete(DeleteArgs),
    /// Bring back a deleted request, or single rows, inside the recovery window.
    #[command(after_help = RESTORE_EXAMPLES)]
    Restore(RestoreArgs),
    /// Permanently remove what is past its window; remove expired export archives.
    #[command(after_help = PURGE_EXAMPLES)]
    Purge(PurgeArgs),
    /// Verify, export or search the tamper-evident audit log.
    #[command(subcommand, after_help = AUDIT_EXAMPLES)]
    Audit(AuditCommand),
    /// Show one request from the ledger in detail (the latest by default).
    #[command(after_help = "Examples:\n  dsar status\n  dsar status 20261125-165258-4bfd7bcc91e05d2a --json")]
    Status(StatusArgs),
    /// List requests from the ledger, newest first; or the cases that are overdue or due soon.
    #[command(
        after_help = "Examples:\n  dsar jobs\n  dsar jobs --state running\n  dsar jobs --since 2026-11-01 --json\n  dsar jobs --ticket DSAR-1234\n  dsar jobs --overdue\n  dsar jobs --due-within 7d --json"
    )]
    Jobs(JobsArgs),
    /// Extend a case's deadline once, as its regime allows (GDPR: two further months; CCPA: 45 days).
    #[command(
        after_help = "Examples:\n  dsar extend DSAR-1234 --reason \"12 systems to search; the person was told on 2026-12-01\""
    )]
    Extend(ExtendArgs),
    /// Stop a running request after its current batch (from another shell).
    #[command(after_help = "Examples:\n  dsar cancel 20261125-165258-4bfd7bcc91e05d2a")]
    Cancel(RequestIdArg),
    /// Continue an interrupted, failed or cancelled request from its last committed batch.
    #[command(after_help = RESUME_EXAMPLES)]
    Resume(ResumeArgs),
    /// Validate the source map against the live databases; with --erased, look for erased
    /// people who are live again (after a restore from backup).
    #[command(after_help = CHECK_EXAMPLES)]
    Check(CheckArgs),
    /// Erase again every person of the erasure register found live (after a restore from
    /// backup): one new request per original request, with its ticket and strategies.
    #[command(after_help = REAPPLY_EXAMPLES)]
    Reapply(ReapplyArgs),
    /// The erasure register: who was erased, kept outside the databases (export a copy to keep
    /// beside the backups).
    #[command(subcommand, after_help = REGISTER_EXAMPLES)]
    Register(RegisterCommand),
    /// Decrypt an export archive, verify its checksums, list or extract it (audit-logged).
    #[command(after_help = OPEN_EXAMPLES)]
    Open(OpenArgs),
    /// A self-contained tour on an embedded copy of the Chinook database (SQLite).
    #[command(
        after_help = "Examples:\n  dsar demo                  # in a fresh temporary directory\n  dsar demo /tmp/dsar-tour   # there, kept for more commands (it prints how)"
    )]
    Demo(DemoArgs),
    /// Draft a source map from a database catalog (TOML on stdout; --json for JSON).
    #[command(
        after_help = "Examples:\n  dsar discover --url env:APP_DATABASE_URL > sources.toml      # no map needed\n  dsar discover --url sqlite:app.db --table main.users\n  dsar discover --source app > sources.draft.toml               # a source of an existing map\n  dsar --json discover --url file:/etc/dsar/app.url | jq .tables"
    )]
    Discover(DiscoverArgs),
    /// Print a shell completion script.
    #[command(
        after_help = "Examples:\n  dsar completions bash > /etc/bash_completion.d/dsar\n  dsar completions zsh > \"${fpath[1]}/_dsar\""
    )]
    Completions(CompletionsArgs),
    /// Write the man pages (dsar.1 and one per subcommand).
    #[command(after_help = "Examples:\n  dsar man --out /usr/local/share/man/man1")]
    Man(ManArgs),
}

const CHECK_EXAMPLES: &str = "\
Examples:
  dsar check
  dsar --config /etc/dsar/sources.toml check --json

  # After restoring a backup (or nightly from cron): exit 3 if an erased person is live again
  dsar check --erased
  dsar check --erased --register /backups/dsar-register.json";

const REAPPLY_EXAMPLES: &str = "\
Examples:
  # After restoring last week's dump: who would be erased again, changing nothing
  dsar reapply --dry-run

  # Erase them again (new requests linked to the original ones), without asking
  dsar reapply --yes

  # Only people erased since the backup was taken, from the register kept beside it
  dsar reapply --since 2026-11-23 --register /backups/dsar-register.json --yes";

const REGISTER_EXAMPLES: &str = "\
Examples:
  # Keep a copy beside the backups, after every backup:
  dsar register export --out /backups/dsar-register.json
  dsar register list";

const DELETE_EXAMPLES: &str = "\
Examples:
  # See the plan first (tables, strategy, rows, order); nothing changes:
  dsar delete --subject email=luisg@embraer.com.br --dry-run

  # Erase, asking for confirmation on the terminal, with a reason for the audit log:
  dsar delete --subject email=luisg@embraer.com.br --reason \"DSAR-1234\"

  # From a script: many people in one request, no prompt, JSON result:
  dsar delete --subjects-file erasures.csv --yes --json";

const RESTORE_EXAMPLES: &str = "\
Examples:
  dsar restore --request 20261125-165258-4bfd7bcc91e05d2a --identity keys/recovery.key
  dsar restore --request 20261125-165258-4bfd7bcc91e05d2a --identity keys/recovery.key \\
               --table public.customer --key customer_id=1";

const PURGE_EXAMPLES: &str = "\
Examples:
  dsar purge --dry-run -v        # what would go
  dsar purge                     # from cron: silent on success, exit 1 and one line on failure,
                                 # exit 3 naming a delete that did not finish (kept for resume)
  dsar purge --json              # one summary line for log collectors";

const EXPORT_EXAMPLES: &str = "\
Examples:
  # One person, identified by email, encrypted to the keys in a recipients file:
  dsar export --subject email=luisg@embraer.com.br --recipients-file keys/exports.txt --out exports/

  # Several identifiers of the same person, CSV inside the archive, one explicit recipient:
  dsar export --subject email=ada@example.com --subject user_id=42 --format csv \\
              --recipient age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p

  # Many people (CSV with a header naming subject keys), one archive each, passphrase from env:
  DSAR_PASSPHRASE=... dsar export --subjects-file requests.csv --passphrase --json";

const OPEN_EXAMPLES: &str = "\
Examples:
  dsar open exports/20261125-164459-edb99eb83c17a4f0.zip.age --identity keys/exports.key
  dsar open exports/20261125-164459-edb99eb83c17a4f0.zip.age --identity keys/exports.key --extract out/";

/// Who the request is about: one person, or a file of people.
#[derive(Debug, Args)]
pub struct SubjectArgs {
    /// An identifier of the person, as KEY=VALUE with KEY from [subject].keys. Repeat it to give
    /// several identifiers of the same person.
    #[arg(
        long = "subject",
        value_name = "KEY=VALUE",
        required_unless_present = "subjects_file"
    )]
    pub subject: Vec<String>,

    /// A CSV file of many people: a header row naming subject keys, then one person per row
    /// (`-`: standard input).
    #[arg(long, value_name = "FILE", conflicts_with = "subject")]
    pub subjects_file: Option<PathBuf>,

    /// Go on when the identifiers of one request match several rows of a table that
    /// identifies people (several people, or one person stored twice).
    #[arg(long)]
    pub allow_multiple: bool,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub subjects: SubjectArgs,

    #[command(flatten)]
    pub case: crate::case::CaseArgs,

    /// The format of the table files inside the archive (index.html, for reading, is always there).
    #[arg(long, value_enum, default_value_t = Format::Json)]
    pub format: Format,

    /// With --format csv: no UTF-8 byte-order mark at the start of each file. The mark is what
    /// makes Excel read accents and non-Latin text correctly; leave it for tools that choke on it.
    #[arg(long)]
    pub no_bom: bool,

    /// Encrypt to this age recipient (age1…). Repeatable.
    #[arg(long, short = 'r', value_name = "RECIPIENT")]
    pub recipient: Vec<String>,

    /// Encrypt to the recipients listed in FILE (age's format: one per line, # comments).
    /// Default: [settings].recipients_file.
    #[arg(long, short = 'R', value_name = "FILE")]
    pub recipients_file: Vec<PathBuf>,

    /// Encrypt with a passphrase instead: asked on the terminal, or read from DSAR_PASSPHRASE.
    #[arg(long, conflicts_with_all = ["recipient", "recipients_file"])]
    pub passphrase: bool,

    /// Directory the archives are written to. Default: [settings].export_dir.
    #[arg(long, short, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Subjects per batch with --subjects-file: each table is queried once per batch. Each person
    /// of a batch holds about 3 KB until it is recorded, and on PostgreSQL a larger batch costs
    /// the server more per row: past 1,000, slower and larger, not faster.
    #[arg(long, default_value_t = 100, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub batch_size: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One JSON array of row objects per table.
    Json,
    /// One CSV file per table, with a header row.
    Csv,
    /// One JSON object per line.
    Ndjson,
}

impl Format {
    pub fn extension(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Csv => "csv",
            Format::Ndjson => "ndjson",
        }
    }
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    #[command(flatten)]
    pub subjects: SubjectArgs,

    /// Print the plan (tables, row counts, strategy) and change nothing.
    #[arg(long)]
    pub dry_run: bool,

    #[command(flatten)]
    pub case: crate::case::CaseArgs,

    /// Do not ask for confirmation.
    #[arg(long, short)]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The request to restore.
    #[arg(long, value_name = "ID")]
    pub request: String,

    #[command(flatten)]
    pub case: crate::case::CaseArgs,

    /// An age identity file able to decrypt the quarantine.
    #[arg(long, short, value_name = "FILE")]
    pub identity: Option<PathBuf>,

    /// Restore single rows of this table only.
    #[arg(long, value_name = "TABLE", requires = "key")]
    pub table: Option<String>,

    /// The primary key of a row to restore, as COL=VALUE. Repeatable.
    #[arg(long, value_name = "COL=VALUE", requires = "table")]
    pub key: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PurgeArgs {
    /// Print what would be removed and change nothing.
    #[arg(long)]
    pub dry_run: bool,

    #[command(flatten)]
    pub case: crate::case::CaseArgs,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recompute the hash chain; exit 1 naming the first altered, removed, inserted or reordered
    /// line, or a truncated tail.
    #[command(
        after_help = "Examples:\n  dsar audit verify\n  dsar audit verify --json\n  dsar audit verify --allow-empty    # a new state dir\n  dsar audit verify --head 3f9a…    # the log still holds an anchor taken with `dsar audit head`"
    )]
    Verify(AuditVerifyArgs),
    /// Print the log's last event (sequence number and hash), to anchor it elsewhere: a ticket,
    /// syslog, another machine. `audit verify --head HASH` later proves the log still holds it.
    #[command(after_help = "Examples:\n  dsar audit head\n  dsar audit head --json | logger -t dsar-audit-anchor")]
    Head,
    /// Export events for a regulator: CSV (one row per event, stable columns) or JSON.
    #[command(after_help = AUDIT_EXPORT_EXAMPLES)]
    Export(AuditExportArgs),
    /// Find events by request, subject, action or time.
    #[command(after_help = AUDIT_SHOW_EXAMPLES)]
    Show(AuditShowArgs),
    /// Print an erasure certificate: what was erased, when and by whom, under which ticket,
    /// since when it cannot be undone, and the events (sequence numbers, hashes) that prove it.
    /// Exit 3 when the erasure does not hold (restored, or never completed).
    #[command(after_help = AUDIT_CERTIFICATE_EXAMPLES)]
    Certificate(AuditCertificateArgs),
}

const AUDIT_CERTIFICATE_EXAMPLES: &str = "\
Examples:
  dsar audit certificate --request 20261125-165258-4bfd7bcc91e05d2a
  dsar audit certificate --subject email=luisg@embraer.com.br --json > certificate.json";

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("target").required(true).args(["request", "subject"])))]
pub struct AuditCertificateArgs {
    /// The delete request to certify.
    #[arg(long, value_name = "ID")]
    pub request: Option<String>,
    /// The person's latest erasure: type the raw identifier; it is hashed with the
    /// installation key before searching, as the log only holds hashes.
    #[arg(long, value_name = "KEY=VALUE")]
    pub subject: Option<String>,
    /// An anchor taken earlier with `dsar audit head`: the certificate is issued only if the
    /// log still holds that event at its place (so no later event was cut).
    #[arg(long, value_name = "HASH")]
    pub head: Option<String>,
}

const AUDIT_EXAMPLES: &str = "\
Examples:
  dsar audit verify                                      # exit 1 names the first broken line
  dsar audit show --subject email=luisg@embraer.com.br   # what happened to this person
  dsar audit export --since 2026-01-01 --out audit-2026.csv";

const AUDIT_EXPORT_EXAMPLES: &str = "\
Examples:
  dsar audit export --since 2026-01-01 --until 2027-01-01 --out audit-2026.csv
  dsar audit export --format json > audit.json";

const AUDIT_SHOW_EXAMPLES: &str = "\
Examples:
  dsar audit show --subject email=luisg@embraer.com.br     # hashed before searching
  dsar audit show --request 20261125-165258-4bfd7bcc91e05d2a
  dsar audit show --action delete --since 2026-11-01
  dsar audit show --by alice --action export";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuditFormat {
    /// One row per event; opens in a spreadsheet.
    Csv,
    /// A JSON array of the events as logged.
    Json,
}

#[derive(Debug, Args)]
pub struct AuditVerifyArgs {
    /// Pass on a log that holds no events. Without it, a missing or empty log fails (exit 1):
    /// an empty log proves nothing, and a cut one looks just like it.
    #[arg(long)]
    pub allow_empty: bool,

    /// Also check that the event with this hash (printed by `dsar audit head` earlier) is still in
    /// the chain: a log cut back before the anchor, or replaced, fails.
    #[arg(long, value_name = "HASH")]
    pub head: Option<String>,

    /// For a log last written by dsar 0.1, whose head.json and removed.json carry no
    /// authentication: check the whole chain taking them at their word, then seal them. Only
    /// when you know no one else has written the state dir since.
    #[arg(long)]
    pub seal_legacy: bool,

    /// Record as failed each request a batch export queued that the ledger has lost (its run's
    /// queue or its record removed, cut or rewritten), from what the log holds of it, and log why:
    /// `dsar jobs` lists them again, and the check passes once every one is recorded. They
    /// cannot be resumed: export those people again.
    #[arg(long)]
    pub record_lost: bool,
}

#[derive(Debug, Args)]
pub struct AuditExportArgs {
    /// Only events at or after this time (2026-11-25 or 2026-11-25T16:30:00Z).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Only events before this time.
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    #[arg(long, value_enum, default_value_t = AuditFormat::Csv)]
    pub format: AuditFormat,
    /// Write to FILE instead of stdout (`-`: stdout).
    #[arg(long, short, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct AuditShowArgs {
    /// Events of this request.
    #[arg(long, value_name = "ID")]
    pub request: Option<String>,
    /// Events about this person: type the raw identifier; it is hashed with the installation
    /// key before searching, as the log only holds hashes.
    #[arg(long, value_name = "KEY=VALUE")]
    pub subject: Option<String>,
    /// Events of this action, or of every action under a prefix (`delete` → delete.*): one of
    /// archive, audit, cancel, config, delete, export, notify, purge, restore, optionally
    /// followed by `.` and the step (`delete.completed`).
    #[arg(long, value_name = "ACTION", value_parser = parse_action)]
    pub action: Option<String>,
    /// Only events at or after this time.
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Only events by this operator (as `--operator`/`DSAR_OPERATOR` recorded them).
    #[arg(long, value_name = "OPERATOR")]
    pub by: Option<String>,
    /// Only events of this case (the runs given `--ticket`).
    #[arg(long, value_name = "TICKET")]
    pub ticket: Option<String>,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// A request id, or a case's ticket (its whole story) [default: the latest request].
    #[arg(value_name = "ID|TICKET")]
    pub id: Option<String>,
}

#[derive(Debug, Args)]
pub struct ExtendArgs {
    /// The case to extend.
    pub ticket: String,
    /// Why the request needs more time (its complexity or number), as the person must be told.
    #[arg(long, value_name = "TEXT", required = true)]
    pub reason: String,
}

/// The families of audit actions (`delete.planned`, `delete.completed`, … are `delete`).
pub const ACTION_FAMILIES: [&str; 10] = [
    "archive", "audit", "cancel", "case", "config", "delete", "export", "notify", "purge", "restore",
];

/// `--action`: a family, or a family and a step; anything else is a typo that would silently
/// match nothing.
fn parse_action(text: &str) -> Result<String, String> {
    let family = text.split('.').next().unwrap_or_default();
    if ACTION_FAMILIES.contains(&family) {
        return Ok(text.to_string());
    }
    let hint = crate::error::did_you_mean(family, ACTION_FAMILIES)
        .map(|f| format!("; did you mean `{f}`?"))
        .unwrap_or_default();
    Err(format!(
        "unknown action `{text}`{hint} (one of: {})",
        ACTION_FAMILIES.join(", ")
    ))
}

/// The states a request of the ledger can be in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RequestState {
    Queued,
    Running,
    Completed,
    Failed,
    Cancelled,
}

impl RequestState {
    pub fn name(self) -> &'static str {
        match self {
            RequestState::Queued => "queued",
            RequestState::Running => "running",
            RequestState::Completed => "completed",
            RequestState::Failed => "failed",
            RequestState::Cancelled => "cancelled",
        }
    }
}

#[derive(Debug, Args)]
pub struct JobsArgs {
    /// Only requests in this state (failed includes interrupted).
    #[arg(long, value_name = "STATE", value_enum)]
    pub state: Option<RequestState>,
    /// Only requests started at or after this time (2026-11-25 or 2026-11-25T16:30:00Z).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Only the requests of this case.
    #[arg(long, value_name = "TICKET")]
    pub ticket: Option<String>,
    /// List the cases past their due date and not answered yet (no export or delete under them
    /// has completed), instead of requests.
    #[arg(long, conflicts_with_all = ["state", "since"])]
    pub overdue: bool,
    /// List the unanswered cases due within this time (7d, 48h), overdue ones included,
    /// instead of requests.
    #[arg(long, value_name = "DURATION", conflicts_with_all = ["state", "since", "overdue"])]
    pub due_within: Option<String>,
}

const RESUME_EXAMPLES: &str = "\
Examples:
  dsar resume 20261125-165258-4bfd7bcc91e05d2a --identity keys/recovery.key   # a delete or a restore
  dsar resume 20261125-170112-9a8b7c6d5e4f3a2b --identity keys/recovery.key   # an export, made again whole
  dsar resume 20261125-171002-0b1c2d3e4f5a6b7c                                 # a purge";

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Instead of checking the map, look for erased people of the register who are live again:
    /// exit 3 naming the tables (counts and hashes only), silent and exit 0 otherwise.
    #[arg(long)]
    pub erased: bool,

    #[command(flatten)]
    pub register: RegisterArgs,
}

/// Which erasures to look for.
#[derive(Debug, Args)]
pub struct RegisterArgs {
    /// Read the register from this file (written by `dsar register export`) instead of the
    /// state dir.
    #[arg(long, value_name = "FILE")]
    pub register: Option<PathBuf>,

    /// Only erasures completed on or after this date (YYYY-MM-DD): the day the restored
    /// backup was taken.
    #[arg(long, value_name = "DATE", value_parser = crate::case::parse_date)]
    pub since: Option<time::Date>,
}

#[derive(Debug, Args)]
pub struct ReapplyArgs {
    #[command(flatten)]
    pub register: RegisterArgs,

    /// Show who would be erased again, and each plan; change nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Do not ask for confirmation.
    #[arg(long, short)]
    pub yes: bool,
}

#[derive(Debug, Subcommand)]
pub enum RegisterCommand {
    /// Write the register to a file, sealed with the installation key, to keep beside the
    /// backups (read it back with `--register FILE`).
    #[command(
        after_help = "Examples:\n  dsar register export --out /backups/dsar-register.json\n  dsar check --erased --register /backups/dsar-register.json"
    )]
    Export(RegisterExportArgs),
    /// List the register's entries: request, ticket, when, people and tables (no values).
    #[command(after_help = "Examples:\n  dsar register list\n  dsar register list --json")]
    List,
}

#[derive(Debug, Args)]
pub struct RegisterExportArgs {
    /// The file to write.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct ResumeArgs {
    /// The request id (`dsar jobs` lists them).
    pub id: String,
    /// A recovery key: a delete's subjects and key, a restore's rows and an export's subject
    /// are sealed to it.
    #[arg(long, short, value_name = "FILE")]
    pub identity: Option<PathBuf>,
    /// Resume a delete without asking: it shows what is left to erase and asks for `yes`
    /// otherwise, as delete does.
    #[arg(long, short)]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct RequestIdArg {
    /// The request id.
    pub id: String,
}

#[derive(Debug, Args)]
pub struct OpenArgs {
    /// The .zip.age archive.
    pub archive: PathBuf,

    #[command(flatten)]
    pub case: crate::case::CaseArgs,
    /// An age identity file (age-keygen output). Without it, the passphrase is asked for, or
    /// read from DSAR_PASSPHRASE.
    #[arg(long, short, value_name = "FILE")]
    pub identity: Option<PathBuf>,
    /// List the files and their checksums (the default).
    #[arg(long, conflicts_with = "extract")]
    pub list: bool,
    /// Write the files into DIR (which must not hold them already).
    #[arg(long, value_name = "DIR")]
    pub extract: Option<PathBuf>,
    /// Open an archive this installation's audit log records no export of (one made by another
    /// installation, say). Without it such an archive is listed, not extracted, and exit is 3:
    /// its manifest can claim any request id, and anyone with the public recipient can make one.
    #[arg(long)]
    pub allow_unrecorded: bool,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where to create the demo files: a new or empty directory [default: a fresh temporary
    /// directory, kept afterwards].
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DiscoverArgs {
    /// The source whose catalog is read (its url from the source map; it may list no tables yet).
    #[arg(long, value_name = "NAME", required_unless_present = "url", conflicts_with = "url")]
    pub source: Option<String>,
    /// Read this database instead, no map needed: env:VAR or file:PATH holding a postgres:// or
    /// mysql:// URL, or sqlite:PATH for a SQLite file.
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// The table the subject lives in [default: a person-like table with an email column].
    #[arg(long, value_name = "SCHEMA.TABLE")]
    pub table: Option<String>,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Directory to write the pages to.
    #[arg(long, default_value = "man", value_name = "DIR")]
    pub out: PathBuf,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
