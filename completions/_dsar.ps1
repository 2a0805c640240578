
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'dsar' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'dsar'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'dsar' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'The source map that says where personal data lives')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where the audit log, the installation key and the request ledger live [default: $XDG_STATE_HOME/dsar or ~/.local/state/dsar]')
            [CompletionResult]::new('--operator', '--operator', [CompletionResultType]::ParameterName, 'Who is acting, for the audit log [default: the OS user]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one machine-readable JSON object on stdout instead of the human summary')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors; no progress bars')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors; no progress bars')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more: purge lists what it removed and prints config warnings; a crash shows where')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more: purge lists what it removed and prints config warnings; a crash shows where')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('export', 'export', [CompletionResultType]::ParameterValue, 'Collect every row about a subject into one age-encrypted zip archive')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Erase a subject''s rows, keeping them restorable for the recovery window')
            [CompletionResult]::new('restore', 'restore', [CompletionResultType]::ParameterValue, 'Bring back a deleted request, or single rows, inside the recovery window')
            [CompletionResult]::new('purge', 'purge', [CompletionResultType]::ParameterValue, 'Permanently remove what is past its window; remove expired export archives')
            [CompletionResult]::new('audit', 'audit', [CompletionResultType]::ParameterValue, 'Verify, export or search the tamper-evident audit log')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show one request from the ledger in detail (the latest by default)')
            [CompletionResult]::new('jobs', 'jobs', [CompletionResultType]::ParameterValue, 'List requests from the ledger, newest first; or the cases that are overdue or due soon')
            [CompletionResult]::new('extend', 'extend', [CompletionResultType]::ParameterValue, 'Extend a case''s deadline once, as its regime allows (GDPR: two further months; CCPA: 45 days)')
            [CompletionResult]::new('cancel', 'cancel', [CompletionResultType]::ParameterValue, 'Stop a running request after its current batch (from another shell)')
            [CompletionResult]::new('resume', 'resume', [CompletionResultType]::ParameterValue, 'Continue an interrupted, failed or cancelled request from its last committed batch')
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Validate the source map against the live databases; with --erased, look for erased people who are live again (after a restore from backup)')
            [CompletionResult]::new('reapply', 'reapply', [CompletionResultType]::ParameterValue, 'Erase again every person of the erasure register found live (after a restore from backup): one new request per original request, with its ticket and strategies')
            [CompletionResult]::new('register', 'register', [CompletionResultType]::ParameterValue, 'The erasure register: who was erased, kept outside the databases (export a copy to keep beside the backups)')
            [CompletionResult]::new('open', 'open', [CompletionResultType]::ParameterValue, 'Decrypt an export archive, verify its checksums, list or extract it (audit-logged)')
            [CompletionResult]::new('demo', 'demo', [CompletionResultType]::ParameterValue, 'A self-contained tour on an embedded copy of the Chinook database (SQLite)')
            [CompletionResult]::new('discover', 'discover', [CompletionResultType]::ParameterValue, 'Draft a source map from a database catalog (TOML on stdout; --json for JSON)')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Write the man pages (dsar.1 and one per subcommand)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'dsar;export' {
            [CompletionResult]::new('--subject', '--subject', [CompletionResultType]::ParameterName, 'An identifier of the person, as KEY=VALUE with KEY from [subject].keys. Repeat it to give several identifiers of the same person')
            [CompletionResult]::new('--subjects-file', '--subjects-file', [CompletionResultType]::ParameterName, 'A CSV file of many people: a header row naming subject keys, then one person per row (`-`: standard input)')
            [CompletionResult]::new('--ticket', '--ticket', [CompletionResultType]::ParameterName, 'The case this run answers (your ticket id, e.g. DSAR-1234): runs with one ticket form one case, with one due date. Letters, digits and `.` `_` `-` `:` `#`, at most 64')
            [CompletionResult]::new('--reason', '--reason', [CompletionResultType]::ParameterName, 'Why, for the audit log and the ledger (a ticket summary, the article invoked)')
            [CompletionResult]::new('--received', '--received', [CompletionResultType]::ParameterName, 'When the person''s request was received (YYYY-MM-DD) [default: today]; needs --ticket')
            [CompletionResult]::new('--regime', '--regime', [CompletionResultType]::ParameterName, 'The law that sets the deadline [default: `[settings] regime`, else gdpr]; needs --ticket')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'The format of the table files inside the archive (index.html, for reading, is always there)')
            [CompletionResult]::new('-r', '-r', [CompletionResultType]::ParameterName, 'Encrypt to this age recipient (age1…). Repeatable')
            [CompletionResult]::new('--recipient', '--recipient', [CompletionResultType]::ParameterName, 'Encrypt to this age recipient (age1…). Repeatable')
            [CompletionResult]::new('-R', '-R ', [CompletionResultType]::ParameterName, 'Encrypt to the recipients listed in FILE (age''s format: one per line, # comments). Default: [settings].recipients_file')
            [CompletionResult]::new('--recipients-file', '--recipients-file', [CompletionResultType]::ParameterName, 'Encrypt to the recipients listed in FILE (age''s format: one per line, # comments). Default: [settings].recipients_file')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Directory the archives are written to. Default: [settings].export_dir')
            [CompletionResult]::new('--out', '--out', [CompletionResultType]::ParameterName, 'Directory the archives are written to. Default: [settings].export_dir')
            [CompletionResult]::new('--batch-size', '--batch-size', [CompletionResultType]::ParameterName, 'Subjects per batch with --subjects-file: each table is queried once per batch. Each person of a batch holds about 3 KB until it is recorded, and on PostgreSQL a larger batch costs the server more per row: past 1,000, slower and larger, not faster')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'The source map that says where personal data lives')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where the audit log, the installation key and the request ledger live [default: $XDG_STATE_HOME/dsar or ~/.local/state/dsar]')
            [CompletionResult]::new('--operator', '--operator', [CompletionResultType]::ParameterName, 'Who is acting, for the audit log [default: the OS user]')
            [CompletionResult]::new('--allow-multiple', '--allow-multiple', [CompletionResultType]::ParameterName, 'Go on when the identifiers of one request match several rows of a table that identifies people (several people, or one person stored twice)')
            [CompletionResult]::new('--no-bom', '--no-bom', [CompletionResultType]::ParameterName, 'With --format csv: no UTF-8 byte-order mark at the start of each file. The mark is what makes Excel read accents and non-Latin text correctly; leave it for tools that choke on it')
            [CompletionResult]::new('--passphrase', '--passphrase', [CompletionResultType]::ParameterName, 'Encrypt with a passphrase instead: asked on the terminal, or read from DSAR_PASSPHRASE')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one machine-readable JSON object on stdout instead of the human summary')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors; no progress bars')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors; no progress bars')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more: purge lists what it removed and prints config warnings; a crash shows where')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more: purge lists what it removed and prints config warnings; a crash shows where')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'dsar;delete' {
            [CompletionResult]::new('--subject', '--subject', [CompletionResultType]::ParameterName, 'An identifier of the person, as KEY=VALUE with KEY from [subject].keys. Repeat it to give several identifiers of the same person')
            [CompletionResult]::new('--subjects-file', '--subjects-file', [CompletionResultType]::ParameterName, 'A CSV file of many people: a header row naming subject keys, then one person per row (`-`: standard input)')
            [CompletionResult]::new('--ticket', '--ticket', [CompletionResultType]::ParameterName, 'The case this run answers (your ticket id, e.g. DSAR-1234): runs with one ticket form one case, with one due date. Letters, digits and `.` `_` `-` `:` `#`, at most 64')
            [CompletionResult]::new('--reason', '--reason', [CompletionResultType]::ParameterName, 'Why, for the audit log and the ledger (a ticket summary, the article invoked)')
            [CompletionResult]::new('--received', '--received', [CompletionResultType]::ParameterName, 'When the person''s request was received (YYYY-MM-DD) [default: today]; needs --ticket')
            [CompletionResult]::new('--regime', '--regime', [CompletionResultType]::ParameterName, 'The law that sets the deadline [default: `[settings] regime`, else gdpr]; needs --ticket')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'The source map that says where personal data lives')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where the audit log, the installation key and the request ledger live [default: $XDG_STATE_HOME/dsar or ~/.local/state/dsar]')
            [CompletionResult]::new('--operator', '--operator', [CompletionResultType]::ParameterName, 'Who is acting, for the audit log [default: the OS user]')
            [CompletionResult]::new('--allow-multiple', '--allow-multiple', [CompletionResultType]::ParameterName, 'Go on when the identifiers of one request match several rows of a table that identifies people (several people, or one person stored twice)')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Print the plan (tables, row counts, strategy) and change nothing')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Do not ask for confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Do not ask for confirmation')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one machine-readable JSON object on stdout instead of the human summary')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors; no progress bars')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors; no progress bars')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more: purge lists what it removed and prints config warnings; a crash shows where')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more: purge lists what it removed and prints config warnings; a crash shows where')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'dsar;restore' {
            [CompletionResult]::new('--request', '--request', [CompletionResultType]::ParameterName, 'The request to restore')
            [CompletionResult]::new('--ticket', '--ticket', [CompletionResultType]::ParameterName, 'The case this run answers (your ticket id, e.g. DSAR-1234): runs with one ticket form one case, with one due date. Letters, digits and `.` `_` `-` `:` `#`, at most 64')
            [CompletionResult]::new('--reason', '--reason', [CompletionResultType]::ParameterName, 'Why, for the audit log and the ledger (a ticket summary, the article invoked)')
            [CompletionResult]::new('--received', '--received', [CompletionResultType]::ParameterName, 'When the person''s request was received (YYYY-MM-DD) [default: today]; needs --ticket')
            [CompletionResult]::new('--regime', '--regime', [CompletionResultType]::ParameterName, 'The law that sets the deadline [default: `[settings] regime`, else gdpr]; needs --ticket')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'An age identity file able to decrypt the quarantine')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'An age identity file able to decrypt the quarantine')
            [CompletionResult]::new('--table', '--table', [CompletionResultType]::ParameterName, 'Restore single rows of this table only')
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'The primary key of a row to restore, as COL=VALUE. Repeatable')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'The source map that says where personal data lives')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where the audit log, the installation key and the request ledger live [default: $XDG_STATE_HOME/dsar or ~/.local/state/dsar]')
            [CompletionResult]::new('--operator', '--operator', [CompletionResultType]::ParameterName, 'Who is acting, for the audit log [default: the OS user]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one machine-readable JSON object on stdout instead of the human summary')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors; no progress bars')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors; no progress bars')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more: purge lists what it removed and prints config warnings; a crash shows where')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more: purge lists what it removed and prints config warnings; a crash shows where')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'dsar;purge' {
            [CompletionResult]::new('--ticket', '--ticket', [CompletionResultType]::ParameterName, 'The case this run answers (your ticket id, e.g. DSAR-1234): runs with one ticket form one case, with one due date. Letters, digits and `.` `_` `-` `:` `#`, at most 64')
            [CompletionResult]::new('--reason', '--reason', [CompletionResultType]::ParameterName, 'Why, for the audit log and the ledger (a ticket summary, the article invoked)')
            [CompletionResult]::new('--received', '--received', [CompletionResultType]::ParameterName, 'When the person''s request was received (YYYY-MM-DD) [default: today]; needs --ticket')
            [CompletionResult]::new('--regime', '--regime', [CompletionResultType]::ParameterName, 'The law that sets the deadline [default: `[settings] regime`, else gdpr]; needs --ticket')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'The source map that says where personal data lives')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where the audit log, the installation key and the request ledger live [default: $XDG_STATE_HOME/dsar or ~/.local/state/dsar]')
            [CompletionResult]::new('--operator', '--operator', [CompletionResultType]::ParameterName, 'Who is acting, for the audit log [default: the OS user]')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Print what would be removed and change nothing')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one machine-readable JSON object on stdout instead of the human summary')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors; no progress bars')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors; no progress bars')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more: purge lists what it removed and prints config warnings; a crash shows where')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more: purge lists what it removed and prints config warnings; a crash shows where')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'dsar;audit' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'The source map that says where personal data lives')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where the audit log, the installation key and the request ledger live [default: $XDG_STATE_HOME/dsar or ~/.local/state/dsar]')
            [CompletionResult]::new('--operator', '--operator', [CompletionResultType]::ParameterName, 'Who is acting, for the audit log [default: the OS user]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one machine-readable JSON object on stdout instead of the human summary')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors; no progress bars')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors; no progress bars')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more: purge lists what it removed and prints config warnings; a crash shows where')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more: purge lists what it removed and prints config warnings; a crash shows where')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('verify', 'verify', [CompletionResultType]::ParameterValue, 'Recompute the hash chain; exit 1 naming the first altered, removed, inserted or reordered line, or a truncated tail')
            [CompletionResult]::new('head', 'head', [CompletionResultType]::ParameterValue, 'Print the log''s last event (sequence number and hash), to anchor it elsewhere: a ticket, syslog, another machine. `audit verify --head HASH` later proves the log still holds it')
            [CompletionResult]::new('export', 'export', [CompletionResultType]::ParameterValue, 'Export events for a regulator: CSV (one row per event, stable columns) or JSON')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Find events by request, subject, action or time')
            [CompletionResult]::new('certificate', 'certificate', [CompletionResultType]::ParameterValue, 'Print an erasure certificate: what was erased, when and by whom, under which ticket, since when it cannot be undone, and the events (sequence numbers, hashes) that prove it. Exit 3 when the erasure does not hold (restored, or never completed)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'dsar;audit;verify' {
            [CompletionResult]::new('--head', '--head', [CompletionResultType]::ParameterName, 'Also check that the event with this hash (printed by `dsar audit head` earlier) is still in the chain: a log cut back before the anchor, or replaced, fails')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'The source map that says where personal data lives')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where the audit log, the installation key and the request ledger live [default: $XDG_STATE_HOME/dsar or ~/.local/state/dsar]')
            [CompletionResult]::new('--operator', '--operator', [CompletionResultType]::ParameterName, 'Who is acting, for the audit log [default: the OS user]')
            [CompletionResult]::new('--allow-empty', '--allow-empty', [CompletionResultType]::ParameterName, 'Pass on a log that holds no events. Without it, a missing or empty log fails (exit 1): an empty log proves nothing, and a cut one looks just like it')
            [CompletionResult]::new('--seal-legacy', '--seal-legacy', [CompletionResultType]::ParameterName, 'For a log last written by dsar 0.1, whose head.json and removed.json carry no authentication: check the whole chain taking them at their word, then seal them. Only when you know no one else has written the state dir since')
            [CompletionResult]::new('--record-lost', '--record-lost', [CompletionResultType]::ParameterName, 'Record as failed each request a batch export queued that the ledger has lost (its run''s queue or its record removed, cut or rewritten), from what the log holds of it, and log why: `dsar jobs` lists them again, and the check passes once every one is recorded. They cannot be resumed: export those people again')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one machine-readable JSON object on stdout instead of the human summary')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors; no progress bars')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors; no progress bars')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more: purge lists what it removed and prints config warnings; a crash shows where')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more: purge lists what it removed and prints config warnings; a crash shows where')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'dsar;audit;head' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'The source map that says where personal data lives')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where the audit log, the installation key and the request ledger live [default: $XDG_STATE_HOME/dsar or ~/.local/state/dsar]')
            [CompletionResult]::new('--operator', '--operator', [CompletionResultType]::ParameterName, 'Who is acting, for the audit log [default: the OS user]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one machine-readable JSON object on stdout instead of the human summary')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors; no progress bars')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors; no progress bars')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more: purge lists what it removed and prints config warnings; a crash shows where')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more: purge lists what it removed and prints config warnings; a crash shows where')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'dsar;audit;export' {
            [CompletionResult]::new('--since', '--since', [CompletionResultType]::ParameterName, 'Only events at or after this time (2026-11-25 or 2026-11-25T16:30:00Z)')
            [CompletionResult]::new('--until', '--until', [CompletionResultType]::ParameterName, 'Only events before this time')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'format')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Write to FILE instead of stdout (`-`: stdout)')
            [CompletionResult]::new('--out', '--out', [CompletionResultType]::ParameterName, 'Write to FILE instead of stdout (`-`: stdout)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'The source map that says where personal data lives')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where the audit log, the installation key and the request ledger live [default: $XDG_STATE_HOME/dsar or ~/.local/state/dsar]')
            [CompletionResult]::new('--operator', '--operator', [CompletionResultType]::ParameterName, 'Who is acting, for the audit log [default: the OS user]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one machine-readable JSON object on stdout instead of the human summary')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors; no progress bars')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors; no progress bars')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more: purge lists what it removed and prints config warnings; a crash shows where')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more: purge lists what it removed and prints config warnings; a crash shows where')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'dsar;audit;show' {
            [CompletionResult]::new('--request', '--request', [CompletionResultType]::ParameterName, 'Events of this request')
            [CompletionResult]::new('--subject', '--subject', [CompletionResultType]::ParameterName, 'Events about this person: type the raw identifier; it is hashed with the installation key before searching, as the log only holds hashes')
            [CompletionResult]::new('--action', '--action', [CompletionResultType]::ParameterName, 'Events of this action, or of every action under a prefix (`delete` → delete.*): one of archive, audit, cancel, config, delete, export, notify, purge, restore, optionally followed by `.` and the step (`delete.completed`)')
            [CompletionResult]::new('--since', '--since', [CompletionResultType]::ParameterName, 'Only events at or after this time')
            [CompletionResult]::new('--by', '--by', [CompletionResultType]::ParameterName, 'Only events by this operator (as `--operator`/`DSAR_OPERATOR` recorded them)')
            [CompletionResult]::new('--ticket', '--ticket', [CompletionResultType]::ParameterName, 'Only events of this case (the runs given `--ticket`)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'The source map that says where personal data lives')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where the audit log, the installation key and the request ledger live [default: $XDG_STATE_HOME/dsar or ~/.local/state/dsar]')
            [CompletionResult]::new('--operator', '--operator', [CompletionResultType]::ParameterName, 'Who is acting, for the audit log [default: the OS user]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one machine-readable JSON object on stdout instead of the human summary')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors; no progress bars')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors; no progress bars')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more: purge lists what it removed and prints config warnings; a crash shows where')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more: purge lists what it removed and prints config warnings; a crash shows where')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'dsar;audit;certificate' {
            [CompletionResult]::new('--request', '--request', [CompletionResultType]::ParameterName, 'The delete request to certify')
            [CompletionResult]::new('--subject', '--subject', [CompletionResultType]::ParameterName, 'The person''s latest erasure: type the raw identifier; it is hashed with the installation key before searching, as the log only holds hashes')
            [CompletionResult]::new('--head', '--head', [CompletionResultType]::ParameterName, 'An anchor taken earlier with `dsar audit head`: the certificate is issued only if the log still holds that event at its place (so no later event was cut)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'The source map that says where personal data lives')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where the audit log, the installation key and the request ledger live [default: $XDG_STATE_HOME/dsar or ~/.local/state/dsar]')
            [CompletionResult]::new('--operator', '--operator', [CompletionResultType]::ParameterName, 'Who is acting, for the audit log [default: the OS user]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one machine-readable JSON object on stdout instead of the human summary')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors; no progress bars')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors; no progress bars')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more: purge lists what it removed and prints config warnings; a crash shows where')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more: purge lists what it removed and prints config warnings; a crash shows where')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'dsar;audit;help' {
            [CompletionResult]::new('verify', 'verify', [CompletionResultType]::ParameterValue, 'Recompute the hash chain; exit 1 naming the first altered, removed, inserted or reordered line, or a truncated tail')
            [CompletionResult]::new('head', 'head', [CompletionResultType]::ParameterValue, 'Print the log''s last event (sequence number and hash), to anchor it elsewhere: a ticket, syslog, another machine. `audit verify --head HASH` later proves the log still holds it')
            [CompletionResult]::new('export', 'export', [CompletionResultType]::ParameterValue, 'Export events for a regulator: CSV (one row per event, stable columns) or JSON')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Find events by request, subject, action or time')
            [CompletionResult]::new('certificate', 'certificate', [CompletionResultType]::ParameterValue, 'Print an erasure certificate: what was erased, when and by whom, under which ticket, since when it cannot be undone, and the events (sequence numbers, hashes) that prove it. Exit 3 when the erasure does not hold (restored, or never completed)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'dsar;audit;help;verify' {
            break
        }
        'dsar;audit;help;head' {
            break
        }
        'dsar;audit;help;export' {
            break
        }
        'dsar;audit;help;show' {
            break
        }
        'dsar;audit;help;certificate' {
            break
        }
        'dsar;audit;help;help' {
            break
        }
        'dsar;status' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'The source map that says where personal data lives')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where the audit log, the installation key and the request ledger live [default: $XDG_STATE_HOME/dsar or ~/.local/state/dsar]')
            [CompletionResult]::new('--operator', '--operator', [CompletionResultType]::ParameterName, 'Who is acting, for the audit log [default: the OS user]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one machine-readable JSON object on stdout instead of the human summary')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors; no progress bars')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors; no progress bars')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more: purge lists what it removed and prints config warnings; a crash shows where')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more: purge lists what it removed and prints config warnings; a crash shows where')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'dsar;jobs' {
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'Only requests in this state (failed includes interrupted)')
            [CompletionResult]::new('--since', '--since', [CompletionResultType]::ParameterName, 'Only requests started at or after this time (2026-11-25 or 2026-11-25T16:30:00Z)')
            [CompletionResult]::new('--ticket', '--ticket', [CompletionResultType]::ParameterName, 'Only the requests of this case')
            [CompletionResult]::new('--due-within', '--due-within', [CompletionResultType]::ParameterName, 'List the unanswered cases due within this time (7d, 48h), overdue ones included, instead of requests')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'The source map that says where personal data lives')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where the audit log, the installation key and the request ledger live [default: $XDG_STATE_HOME/dsar or ~/.local/state/dsar]')
            [CompletionResult]::new('--operator', '--operator', [CompletionResultType]::ParameterName, 'Who is acting, for the audit log [default: the OS user]')
            [CompletionResult]::new('--overdue', '--overdue', [CompletionResultType]::ParameterName, 'List the cases past their due date and not answered yet (no export or delete under them has completed), instead of requests')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one machine-readable JSON object on stdout instead of the human summary')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors; no progress bars')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors; no progress bars')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more: purge lists what it removed and prints config warnings; a crash shows where')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more: purge lists what it removed and prints config warnings; a crash shows where')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'dsar;extend' {
            [CompletionResult]::new('--reason', '--reason', [CompletionResultType]::ParameterName, 'Why the request needs more time (its complexity or number), as the person must be told')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'The source map that says where personal data lives')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where the audit log, the installation key and the request ledger live [default: $XDG_STATE_HOME/dsar or ~/.local/state/dsar]')
            [CompletionResult]::new('--operator', '--operator', [CompletionResultType]::ParameterName, 'Who is acting, for the audit log [default: the OS user]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one machine-readable JSON object on stdout instead of the human summary')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors; no progress bars')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors; no progress bars')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more: purge lists what it removed and prints config warnings; a crash shows where')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more: purge lists what it removed and prints config warnings; a crash shows where')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'dsar;cancel' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'The source map that says where personal data lives')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where the audit log, the installation key and the request ledger live [default: $XDG_STATE_HOME/dsar or ~/.local/state/dsar]')
            [CompletionResult]::new('--operator', '--operator', [CompletionResultType]::ParameterName, 'Who is acting, for the audit log [default: the OS user]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one machine-readable JSON object on stdout instead of the human summary')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors; no progress bars')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors; no progress bars')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more: purge lists what it removed and prints config warnings; a crash shows where')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more: purge lists what it removed and prints config warnings; a crash shows where')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'dsar;resume' {
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'A recovery key: a delete''s subjects and key, a restore''s rows and an export''s subject are sealed to it')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'A recovery key: a delete''s subjects and key, a restore''s rows and an export''s subject are sealed to it')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'The source map that says where personal data lives')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where the audit log, the installation key and the request ledger live [default: $XDG_STATE_HOME/dsar or ~/.local/state/dsar]')
            [CompletionResult]::new('--operator', '--operator', [CompletionResultType]::ParameterName, 'Who is acting, for the audit log [default: the OS user]')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Resume a delete without asking: it shows what is left to erase and asks for `yes` otherwise, as delete does')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Resume a delete without asking: it shows what is left to erase and asks for `yes` otherwise, as delete does')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one machine-readable JSON object on stdout instead of the human summary')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors; no progress bars')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors; no progress bars')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more: purge lists what it removed and prints config warnings; a crash shows where')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more: purge lists what it removed and prints config warnings; a crash shows where')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'dsar;check' {
            [CompletionResult]::new('--register', '--register', [CompletionResultType]::ParameterName, 'Read the register from this file (written by `dsar register export`) instead of the state dir')
            [CompletionResult]::new('--since', '--since', [CompletionResultType]::ParameterName, 'Only erasures completed on or after this date (YYYY-MM-DD): the day the restored backup was taken')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'The source map that says where personal data lives')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where the audit log, the installation key and the request ledger live [default: $XDG_STATE_HOME/dsar or ~/.local/state/dsar]')
            [CompletionResult]::new('--operator', '--operator', [CompletionResultType]::ParameterName, 'Who is acting, for the audit log [default: the OS user]')
            [CompletionResult]::new('--erased', '--erased', [CompletionResultType]::ParameterName, 'Instead of checking the map, look for erased people of the register who are live again: exit 3 naming the tables (counts and hashes only), silent and exit 0 otherwise')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one machine-readable JSON object on stdout instead of the human summary')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors; no progress bars')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors; no progress bars')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more: purge lists what it removed and prints config warnings; a crash shows where')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more: purge lists what it removed and prints config warnings; a crash shows where')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'dsar;reapply' {
            [CompletionResult]::new('--register', '--register', [CompletionResultType]::ParameterName, 'Read the register from this file (written by `dsar register export`) instead of the state dir')
            [CompletionResult]::new('--since', '--since', [CompletionResultType]::ParameterName, 'Only erasures completed on or after this date (YYYY-MM-DD): the day the restored backup was taken')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'The source map that says where personal data lives')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where the audit log, the installation key and the request ledger live [default: $XDG_STATE_HOME/dsar or ~/.local/state/dsar]')
            [CompletionResult]::new('--operator', '--operator', [CompletionResultType]::ParameterName, 'Who is acting, for the audit log [default: the OS user]')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Show who would be erased again, and each plan; change nothing')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Do not ask for confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Do not ask for confirmation')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one machine-readable JSON object on stdout instead of the human summary')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors; no progress bars')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors; no progress bars')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more: purge lists what it removed and prints config warnings; a crash shows where')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more: purge lists what it removed and prints config warnings; a crash shows where')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'dsar;register' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'The source map that says where personal data lives')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where the audit log, the installation key and the request ledger live [default: $XDG_STATE_HOME/dsar or ~/.local/state/dsar]')
            [CompletionResult]::new('--operator', '--operator', [CompletionResultType]::ParameterName, 'Who is acting, for the audit log [default: the OS user]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one machine-readable JSON object on stdout instead of the human summary')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors; no progress bars')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors; no progress bars')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more: purge lists what it removed and prints config warnings; a crash shows where')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more: purge lists what it removed and prints config warnings; a crash shows where')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('export', 'export', [CompletionResultType]::ParameterValue, 'Write the register to a file, sealed with the installation key, to keep beside the backups (read it back with `--register FILE`)')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the register''s entries: request, ticket, when, people and tables (no values)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'dsar;register;export' {
            [CompletionResult]::new('--out', '--out', [CompletionResultType]::ParameterName, 'The file to write')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'The source map that says where personal data lives')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where the audit log, the installation key and the request ledger live [default: $XDG_STATE_HOME/dsar or ~/.local/state/dsar]')
            [CompletionResult]::new('--operator', '--operator', [CompletionResultType]::ParameterName, 'Who is acting, for the audit log [default: the OS user]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one machine-readable JSON object on stdout instead of the human summary')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors; no progress bars')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors; no progress bars')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more: purge lists what it removed and prints config warnings; a crash shows where')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more: purge lists what it removed and prints config warnings; a crash shows where')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'dsar;register;list' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'The source map that says where personal data lives')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where the audit log, the installation key and the request ledger live [default: $XDG_STATE_HOME/dsar or ~/.local/state/dsar]')
            [CompletionResult]::new('--operator', '--operator', [CompletionResultType]::ParameterName, 'Who is acting, for the audit log [default: the OS user]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one machine-readable JSON object on stdout instead of the human summary')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors; no progress bars')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors; no progress bars')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more: purge lists what it removed and prints config warnings; a crash shows where')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more: purge lists what it removed and prints config warnings; a crash shows where')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'dsar;register;help' {
            [CompletionResult]::new('export', 'export', [CompletionResultType]::ParameterValue, 'Write the register to a file, sealed with the installation key, to keep beside the backups (read it back with `--register FILE`)')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the register''s entries: request, ticket, when, people and tables (no values)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'dsar;register;help;export' {
            break
        }
        'dsar;register;help;list' {
            break
        }
        'dsar;register;help;help' {
            break
        }
        'dsar;open' {
            [CompletionResult]::new('--ticket', '--ticket', [CompletionResultType]::ParameterName, 'The case this run answers (your ticket id, e.g. DSAR-1234): runs with one ticket form one case, with one due date. Letters, digits and `.` `_` `-` `:` `#`, at most 64')
            [CompletionResult]::new('--reason', '--reason', [CompletionResultType]::ParameterName, 'Why, for the audit log and the ledger (a ticket summary, the article invoked)')
            [CompletionResult]::new('--received', '--received', [CompletionResultType]::ParameterName, 'When the person''s request was received (YYYY-MM-DD) [default: today]; needs --ticket')
            [CompletionResult]::new('--regime', '--regime', [CompletionResultType]::ParameterName, 'The law that sets the deadline [default: `[settings] regime`, else gdpr]; needs --ticket')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'An age identity file (age-keygen output). Without it, the passphrase is asked for, or read from DSAR_PASSPHRASE')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'An age identity file (age-keygen output). Without it, the passphrase is asked for, or read from DSAR_PASSPHRASE')
            [CompletionResult]::new('--extract', '--extract', [CompletionResultType]::ParameterName, 'Write the files into DIR (which must not hold them already)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'The source map that says where personal data lives')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where the audit log, the installation key and the request ledger live [default: $XDG_STATE_HOME/dsar or ~/.local/state/dsar]')
            [CompletionResult]::new('--operator', '--operator', [CompletionResultType]::ParameterName, 'Who is acting, for the audit log [default: the OS user]')
            [CompletionResult]::new('--list', '--list', [CompletionResultType]::ParameterName, 'List the files and their checksums (the default)')
            [CompletionResult]::new('--allow-unrecorded', '--allow-unrecorded', [CompletionResultType]::ParameterName, 'Open an archive this installation''s audit log records no export of (one made by another installation, say). Without it such an archive is listed, not extracted, and exit is 3: its manifest can claim any request id, and anyone with the public recipient can make one')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one machine-readable JSON object on stdout instead of the human summary')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors; no progress bars')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors; no progress bars')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more: purge lists what it removed and prints config warnings; a crash shows where')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more: purge lists what it removed and prints config warnings; a crash shows where')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'dsar;demo' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'The source map that says where personal data lives')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where the audit log, the installation key and the request ledger live [default: $XDG_STATE_HOME/dsar or ~/.local/state/dsar]')
            [CompletionResult]::new('--operator', '--operator', [CompletionResultType]::ParameterName, 'Who is acting, for the audit log [default: the OS user]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one machine-readable JSON object on stdout instead of the human summary')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors; no progress bars')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors; no progress bars')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more: purge lists what it removed and prints config warnings; a crash shows where')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more: purge lists what it removed and prints config warnings; a crash shows where')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'dsar;discover' {
            [CompletionResult]::new('--source', '--source', [CompletionResultType]::ParameterName, 'The source whose catalog is read (its url from the source map; it may list no tables yet)')
            [CompletionResult]::new('--url', '--url', [CompletionResultType]::ParameterName, 'Read this database instead, no map needed: env:VAR or file:PATH holding a postgres:// or mysql:// URL, or sqlite:PATH for a SQLite file')
            [CompletionResult]::new('--table', '--table', [CompletionResultType]::ParameterName, 'The table the subject lives in [default: a person-like table with an email column]')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'The source map that says where personal data lives')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where the audit log, the installation key and the request ledger live [default: $XDG_STATE_HOME/dsar or ~/.local/state/dsar]')
            [CompletionResult]::new('--operator', '--operator', [CompletionResultType]::ParameterName, 'Who is acting, for the audit log [default: the OS user]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one machine-readable JSON object on stdout instead of the human summary')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors; no progress bars')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors; no progress bars')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more: purge lists what it removed and prints config warnings; a crash shows where')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more: purge lists what it removed and prints config warnings; a crash shows where')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'dsar;completions' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'The source map that says where personal data lives')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where the audit log, the installation key and the request ledger live [default: $XDG_STATE_HOME/dsar or ~/.local/state/dsar]')
            [CompletionResult]::new('--operator', '--operator', [CompletionResultType]::ParameterName, 'Who is acting, for the audit log [default: the OS user]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one machine-readable JSON object on stdout instead of the human summary')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors; no progress bars')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors; no progress bars')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more: purge lists what it removed and prints config warnings; a crash shows where')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more: purge lists what it removed and prints config warnings; a crash shows where')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'dsar;man' {
            [CompletionResult]::new('--out', '--out', [CompletionResultType]::ParameterName, 'Directory to write the pages to')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'The source map that says where personal data lives')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where the audit log, the installation key and the request ledger live [default: $XDG_STATE_HOME/dsar or ~/.local/state/dsar]')
            [CompletionResult]::new('--operator', '--operator', [CompletionResultType]::ParameterName, 'Who is acting, for the audit log [default: the OS user]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one machine-readable JSON object on stdout instead of the human summary')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors; no progress bars')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors; no progress bars')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more: purge lists what it removed and prints config warnings; a crash shows where')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more: purge lists what it removed and prints config warnings; a crash shows where')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'dsar;help' {
            [CompletionResult]::new('export', 'export', [CompletionResultType]::ParameterValue, 'Collect every row about a subject into one age-encrypted zip archive')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Erase a subject''s rows, keeping them restorable for the recovery window')
            [CompletionResult]::new('restore', 'restore', [CompletionResultType]::ParameterValue, 'Bring back a deleted request, or single rows, inside the recovery window')
            [CompletionResult]::new('purge', 'purge', [CompletionResultType]::ParameterValue, 'Permanently remove what is past its window; remove expired export archives')
            [CompletionResult]::new('audit', 'audit', [CompletionResultType]::ParameterValue, 'Verify, export or search the tamper-evident audit log')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show one request from the ledger in detail (the latest by default)')
            [CompletionResult]::new('jobs', 'jobs', [CompletionResultType]::ParameterValue, 'List requests from the ledger, newest first; or the cases that are overdue or due soon')
            [CompletionResult]::new('extend', 'extend', [CompletionResultType]::ParameterValue, 'Extend a case''s deadline once, as its regime allows (GDPR: two further months; CCPA: 45 days)')
            [CompletionResult]::new('cancel', 'cancel', [CompletionResultType]::ParameterValue, 'Stop a running request after its current batch (from another shell)')
            [CompletionResult]::new('resume', 'resume', [CompletionResultType]::ParameterValue, 'Continue an interrupted, failed or cancelled request from its last committed batch')
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Validate the source map against the live databases; with --erased, look for erased people who are live again (after a restore from backup)')
            [CompletionResult]::new('reapply', 'reapply', [CompletionResultType]::ParameterValue, 'Erase again every person of the erasure register found live (after a restore from backup): one new request per original request, with its ticket and strategies')
            [CompletionResult]::new('register', 'register', [CompletionResultType]::ParameterValue, 'The erasure register: who was erased, kept outside the databases (export a copy to keep beside the backups)')
            [CompletionResult]::new('open', 'open', [CompletionResultType]::ParameterValue, 'Decrypt an export archive, verify its checksums, list or extract it (audit-logged)')
            [CompletionResult]::new('demo', 'demo', [CompletionResultType]::ParameterValue, 'A self-contained tour on an embedded copy of the Chinook database (SQLite)')
            [CompletionResult]::new('discover', 'discover', [CompletionResultType]::ParameterValue, 'Draft a source map from a database catalog (TOML on stdout; --json for JSON)')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Write the man pages (dsar.1 and one per subcommand)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'dsar;help;export' {
            break
        }
        'dsar;help;delete' {
            break
        }
        'dsar;help;restore' {
            break
        }
        'dsar;help;purge' {
            break
        }
        'dsar;help;audit' {
            [CompletionResult]::new('verify', 'verify', [CompletionResultType]::ParameterValue, 'Recompute the hash chain; exit 1 naming the first altered, removed, inserted or reordered line, or a truncated tail')
            [CompletionResult]::new('head', 'head', [CompletionResultType]::ParameterValue, 'Print the log''s last event (sequence number and hash), to anchor it elsewhere: a ticket, syslog, another machine. `audit verify --head HASH` later proves the log still holds it')
            [CompletionResult]::new('export', 'export', [CompletionResultType]::ParameterValue, 'Export events for a regulator: CSV (one row per event, stable columns) or JSON')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Find events by request, subject, action or time')
            [CompletionResult]::new('certificate', 'certificate', [CompletionResultType]::ParameterValue, 'Print an erasure certificate: what was erased, when and by whom, under which ticket, since when it cannot be undone, and the events (sequence numbers, hashes) that prove it. Exit 3 when the erasure does not hold (restored, or never completed)')
            break
        }
        'dsar;help;audit;verify' {
            break
        }
        'dsar;help;audit;head' {
            break
        }
        'dsar;help;audit;export' {
            break
        }
        'dsar;help;audit;show' {
            break
        }
        'dsar;help;audit;certificate' {
            break
        }
        'dsar;help;status' {
            break
        }
        'dsar;help;jobs' {
            break
        }
        'dsar;help;extend' {
            break
        }
        'dsar;help;cancel' {
            break
        }
        'dsar;help;resume' {
            break
        }
        'dsar;help;check' {
            break
        }
        'dsar;help;reapply' {
            break
        }
        'dsar;help;register' {
            [CompletionResult]::new('export', 'export', [CompletionResultType]::ParameterValue, 'Write the register to a file, sealed with the installation key, to keep beside the backups (read it back with `--register FILE`)')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the register''s entries: request, ticket, when, people and tables (no values)')
            break
        }
        'dsar;help;register;export' {
            break
        }
        'dsar;help;register;list' {
            break
        }
        'dsar;help;open' {
            break
        }
        'dsar;help;demo' {
            break
        }
        'dsar;help;discover' {
            break
        }
        'dsar;help;completions' {
            break
        }
        'dsar;help;man' {
            break
        }
        'dsar;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
