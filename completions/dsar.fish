# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_dsar_global_optspecs
    string join \n config= state-dir= operator= json q/quiet v/verbose h/help V/version
end

function __fish_dsar_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_dsar_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_dsar_using_subcommand
    set -l cmd (__fish_dsar_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c dsar -n "__fish_dsar_needs_command" -l config -d 'The source map that says where personal data lives' -r -F
complete -c dsar -n "__fish_dsar_needs_command" -l state-dir -d 'Where the audit log, the installation key and the request ledger live [default: $XDG_STATE_HOME/dsar or ~/.local/state/dsar]' -r -F
complete -c dsar -n "__fish_dsar_needs_command" -l operator -d 'Who is acting, for the audit log [default: the OS user]' -r
complete -c dsar -n "__fish_dsar_needs_command" -l json -d 'Print one machine-readable JSON object on stdout instead of the human summary'
complete -c dsar -n "__fish_dsar_needs_command" -s q -l quiet -d 'Print nothing but errors; no progress bars'
complete -c dsar -n "__fish_dsar_needs_command" -s v -l verbose -d 'Say more: purge lists what it removed and prints config warnings; a crash shows where'
complete -c dsar -n "__fish_dsar_needs_command" -s h -l help -d 'Print help'
complete -c dsar -n "__fish_dsar_needs_command" -s V -l version -d 'Print version'
complete -c dsar -n "__fish_dsar_needs_command" -f -a "export" -d 'Collect every row about a subject into one age-encrypted zip archive'
complete -c dsar -n "__fish_dsar_needs_command" -f -a "delete" -d 'Erase a subject\'s rows, keeping them restorable for the recovery window'
complete -c dsar -n "__fish_dsar_needs_command" -f -a "restore" -d 'Bring back a deleted request, or single rows, inside the recovery window'
complete -c dsar -n "__fish_dsar_needs_command" -f -a "purge" -d 'Permanently remove what is past its window; remove expired export archives'
complete -c dsar -n "__fish_dsar_needs_command" -f -a "audit" -d 'Verify, export or search the tamper-evident audit log'
complete -c dsar -n "__fish_dsar_needs_command" -f -a "status" -d 'Show one request from the ledger in detail (the latest by default)'
complete -c dsar -n "__fish_dsar_needs_command" -f -a "jobs" -d 'List requests from the ledger, newest first; or the cases that are overdue or due soon'
complete -c dsar -n "__fish_dsar_needs_command" -f -a "extend" -d 'Extend a case\'s deadline once, as its regime allows (GDPR: two further months; CCPA: 45 days)'
complete -c dsar -n "__fish_dsar_needs_command" -f -a "cancel" -d 'Stop a running request after its current batch (from another shell)'
complete -c dsar -n "__fish_dsar_needs_command" -f -a "resume" -d 'Continue an interrupted, failed or cancelled request from its last committed batch'
complete -c dsar -n "__fish_dsar_needs_command" -f -a "check" -d 'Validate the source map against the live databases; with --erased, look for erased people who are live again (after a restore from backup)'
complete -c dsar -n "__fish_dsar_needs_command" -f -a "reapply" -d 'Erase again every person of the erasure register found live (after a restore from backup): one new request per original request, with its ticket and strategies'
complete -c dsar -n "__fish_dsar_needs_command" -f -a "register" -d 'The erasure register: who was erased, kept outside the databases (export a copy to keep beside the backups)'
complete -c dsar -n "__fish_dsar_needs_command" -f -a "open" -d 'Decrypt an export archive, verify its checksums, list or extract it (audit-logged)'
complete -c dsar -n "__fish_dsar_needs_command" -f -a "demo" -d 'A self-contained tour on an embedded copy of the Chinook database (SQLite)'
complete -c dsar -n "__fish_dsar_needs_command" -f -a "discover" -d 'Draft a source map from a database catalog (TOML on stdout; --json for JSON)'
complete -c dsar -n "__fish_dsar_needs_command" -f -a "completions" -d 'Print a shell completion script'
complete -c dsar -n "__fish_dsar_needs_command" -f -a "man" -d 'Write the man pages (dsar.1 and one per subcommand)'
complete -c dsar -n "__fish_dsar_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c dsar -n "__fish_dsar_using_subcommand export" -l subject -d 'An identifier of the person, as KEY=VALUE with KEY from [subject].keys. Repeat it to give several identifiers of the same person' -r
complete -c dsar -n "__fish_dsar_using_subcommand export" -l subjects-file -d 'A CSV file of many people: a header row naming subject keys, then one person per row (`-`: standard input)' -r -F
complete -c dsar -n "__fish_dsar_using_subcommand export" -l ticket -d 'The case this run answers (your ticket id, e.g. DSAR-1234): runs with one ticket form one case, with one due date. Letters, digits and `.` `_` `-` `:` `#`, at most 64' -r
complete -c dsar -n "__fish_dsar_using_subcommand export" -l reason -d 'Why, for the audit log and the ledger (a ticket summary, the article invoked)' -r
complete -c dsar -n "__fish_dsar_using_subcommand export" -l received -d 'When the person\'s request was received (YYYY-MM-DD) [default: today]; needs --ticket' -r
complete -c dsar -n "__fish_dsar_using_subcommand export" -l regime -d 'The law that sets the deadline [default: `[settings] regime`, else gdpr]; needs --ticket' -r -f -a "gdpr\t'EU/UK GDPR: one month, extendable by two further months'
ccpa\t'California CCPA/CPRA: 45 days, extendable by 45 more'"
complete -c dsar -n "__fish_dsar_using_subcommand export" -l format -d 'The format of the table files inside the archive (index.html, for reading, is always there)' -r -f -a "json\t'One JSON array of row objects per table'
csv\t'One CSV file per table, with a header row'
ndjson\t'One JSON object per line'"
complete -c dsar -n "__fish_dsar_using_subcommand export" -s r -l recipient -d 'Encrypt to this age recipient (age1…). Repeatable' -r
complete -c dsar -n "__fish_dsar_using_subcommand export" -s R -l recipients-file -d 'Encrypt to the recipients listed in FILE (age\'s format: one per line, # comments). Default: [settings].recipients_file' -r -F
complete -c dsar -n "__fish_dsar_using_subcommand export" -s o -l out -d 'Directory the archives are written to. Default: [settings].export_dir' -r -F
complete -c dsar -n "__fish_dsar_using_subcommand export" -l batch-size -d 'Subjects per batch with --subjects-file: each table is queried once per batch. Each person of a batch holds about 3 KB until it is recorded, and on PostgreSQL a larger batch costs the server more per row: past 1,000, slower and larger, not faster' -r
complete -c dsar -n "__fish_dsar_using_subcommand export" -l config -d 'The source map that says where personal data lives' -r -F
complete -c dsar -n "__fish_dsar_using_subcommand export" -l state-dir -d 'Where the audit log, the installation key and the request ledger live [default: $XDG_STATE_HOME/dsar or ~/.local/state/dsar]' -r -F
complete -c dsar -n "__fish_dsar_using_subcommand export" -l operator -d 'Who is acting, for the audit log [default: the OS user]' -r
complete -c dsar -n "__fish_dsar_using_subcommand export" -l allow-multiple -d 'Go on when the identifiers of one request match several rows of a table that identifies people (several people, or one person stored twice)'
complete -c dsar -n "__fish_dsar_using_subcommand export" -l no-bom -d 'With --format csv: no UTF-8 byte-order mark at the start of each file. The mark is what makes Excel read accents and non-Latin text correctly; leave it for tools that choke on it'
complete -c dsar -n "__fish_dsar_using_subcommand export" -l passphrase -d 'Encrypt with a passphrase instead: asked on the terminal, or read from DSAR_PASSPHRASE'
complete -c dsar -n "__fish_dsar_using_subcommand export" -l json -d 'Print one machine-readable JSON object on stdout instead of the human summary'
complete -c dsar -n "__fish_dsar_using_subcommand export" -s q -l quiet -d 'Print nothing but errors; no progress bars'
complete -c dsar -n "__fish_dsar_using_subcommand export" -s v -l verbose -d 'Say more: purge lists what it removed and prints config warnings; a crash shows where'
complete -c dsar -n "__fish_dsar_using_subcommand export" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c dsar -n "__fish_dsar_using_subcommand delete" -l subject -d 'An identifier of the person, as KEY=VALUE with KEY from [subject].keys. Repeat it to give several identifiers of the same person' -r
complete -c dsar -n "__fish_dsar_using_subcommand delete" -l subjects-file -d 'A CSV file of many people: a header row naming subject keys, then one person per row (`-`: standard input)' -r -F
complete -c dsar -n "__fish_dsar_using_subcommand delete" -l ticket -d 'The case this run answers (your ticket id, e.g. DSAR-1234): runs with one ticket form one case, with one due date. Letters, digits and `.` `_` `-` `:` `#`, at most 64' -r
complete -c dsar -n "__fish_dsar_using_subcommand delete" -l reason -d 'Why, for the audit log and the ledger (a ticket summary, the article invoked)' -r
complete -c dsar -n "__fish_dsar_using_subcommand delete" -l received -d 'When the person\'s request was received (YYYY-MM-DD) [default: today]; needs --ticket' -r
complete -c dsar -n "__fish_dsar_using_subcommand delete" -l regime -d 'The law that sets the deadline [default: `[settings] regime`, else gdpr]; needs --ticket' -r -f -a "gdpr\t'EU/UK GDPR: one month, extendable by two further months'
ccpa\t'California CCPA/CPRA: 45 days, extendable by 45 more'"
complete -c dsar -n "__fish_dsar_using_subcommand delete" -l config -d 'The source map that says where personal data lives' -r -F
complete -c dsar -n "__fish_dsar_using_subcommand delete" -l state-dir -d 'Where the audit log, the installation key and the request ledger live [default: $XDG_STATE_HOME/dsar or ~/.local/state/dsar]' -r -F
complete -c dsar -n "__fish_dsar_using_subcommand delete" -l operator -d 'Who is acting, for the audit log [default: the OS user]' -r
complete -c dsar -n "__fish_dsar_using_subcommand delete" -l allow-multiple -d 'Go on when the identifiers of one request match several rows of a table that identifies people (several people, or one person stored twice)'
complete -c dsar -n "__fish_dsar_using_subcommand delete" -l dry-run -d 'Print the plan (tables, row counts, strategy) and change nothing'
complete -c dsar -n "__fish_dsar_using_subcommand delete" -s y -l yes -d 'Do not ask for confirmation'
complete -c dsar -n "__fish_dsar_using_subcommand delete" -l json -d 'Print one machine-readable JSON object on stdout instead of the human summary'
complete -c dsar -n "__fish_dsar_using_subcommand delete" -s q -l quiet -d 'Print nothing but errors; no progress bars'
complete -c dsar -n "__fish_dsar_using_subcommand delete" -s v -l verbose -d 'Say more: purge lists what it removed and prints config warnings; a crash shows where'
complete -c dsar -n "__fish_dsar_using_subcommand delete" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c dsar -n "__fish_dsar_using_subcommand restore" -l request -d 'The request to restore' -r
complete -c dsar -n "__fish_dsar_using_subcommand restore" -l ticket -d 'The case this run answers (your ticket id, e.g. DSAR-1234): runs with one ticket form one case, with one due date. Letters, digits and `.` `_` `-` `:` `#`, at most 64' -r
complete -c dsar -n "__fish_dsar_using_subcommand restore" -l reason -d 'Why, for the audit log and the ledger (a ticket summary, the article invoked)' -r
complete -c dsar -n "__fish_dsar_using_subcommand restore" -l received -d 'When the person\'s request was received (YYYY-MM-DD) [default: today]; needs --ticket' -r
complete -c dsar -n "__fish_dsar_using_subcommand restore" -l regime -d 'The law that sets the deadline [default: `[settings] regime`, else gdpr]; needs --ticket' -r -f -a "gdpr\t'EU/UK GDPR: one month, extendable by two further months'
ccpa\t'California CCPA/CPRA: 45 days, extendable by 45 more'"
complete -c dsar -n "__fish_dsar_using_subcommand restore" -s i -l identity -d 'An age identity file able to decrypt the quarantine' -r -F
complete -c dsar -n "__fish_dsar_using_subcommand restore" -l table -d 'Restore single rows of this table only' -r
complete -c dsar -n "__fish_dsar_using_subcommand restore" -l key -d 'The primary key of a row to restore, as COL=VALUE. Repeatable' -r
complete -c dsar -n "__fish_dsar_using_subcommand restore" -l config -d 'The source map that says where personal data lives' -r -F
complete -c dsar -n "__fish_dsar_using_subcommand restore" -l state-dir -d 'Where the audit log, the installation key and the request ledger live [default: $XDG_STATE_HOME/dsar or ~/.local/state/dsar]' -r -F
complete -c dsar -n "__fish_dsar_using_subcommand restore" -l operator -d 'Who is acting, for the audit log [default: the OS user]' -r
complete -c dsar -n "__fish_dsar_using_subcommand restore" -l json -d 'Print one machine-readable JSON object on stdout instead of the human summary'
complete -c dsar -n "__fish_dsar_using_subcommand restore" -s q -l quiet -d 'Print nothing but errors; no progress bars'
complete -c dsar -n "__fish_dsar_using_subcommand restore" -s v -l verbose -d 'Say more: purge lists what it removed and prints config warnings; a crash shows where'
complete -c dsar -n "__fish_dsar_using_subcommand restore" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c dsar -n "__fish_dsar_using_subcommand purge" -l ticket -d 'The case this run answers (your ticket id, e.g. DSAR-1234): runs with one ticket form one case, with one due date. Letters, digits and `.` `_` `-` `:` `#`, at most 64' -r
complete -c dsar -n "__fish_dsar_using_subcommand purge" -l reason -d 'Why, for the audit log and the ledger (a ticket summary, the article invoked)' -r
complete -c dsar -n "__fish_dsar_using_subcommand purge" -l received -d 'When the person\'s request was received (YYYY-MM-DD) [default: today]; needs --ticket' -r
complete -c dsar -n "__fish_dsar_using_subcommand purge" -l regime -d 'The law that sets the deadline [default: `[settings] regime`, else gdpr]; needs --ticket' -r -f -a "gdpr\t'EU/UK GDPR: one month, extendable by two further months'
ccpa\t'California CCPA/CPRA: 45 days, extendable by 45 more'"
complete -c dsar -n "__fish_dsar_using_subcommand purge" -l config -d 'The source map that says where personal data lives' -r -F
complete -c dsar -n "__fish_dsar_using_subcommand purge" -l state-dir -d 'Where the audit log, the installation key and the request ledger live [default: $XDG_STATE_HOME/dsar or ~/.local/state/dsar]' -r -F
complete -c dsar -n "__fish_dsar_using_subcommand purge" -l operator -d 'Who is acting, for the audit log [default: the OS user]' -r
complete -c dsar -n "__fish_dsar_using_subcommand purge" -l dry-run -d 'Print what would be removed and change nothing'
complete -c dsar -n "__fish_dsar_using_subcommand purge" -l json -d 'Print one machine-readable JSON object on stdout instead of the human summary'
complete -c dsar -n "__fish_dsar_using_subcommand purge" -s q -l quiet -d 'Print nothing but errors; no progress bars'
complete -c dsar -n "__fish_dsar_using_subcommand purge" -s v -l verbose -d 'Say more: purge lists what it removed and prints config warnings; a crash shows where'
complete -c dsar -n "__fish_dsar_using_subcommand purge" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c dsar -n "__fish_dsar_using_subcommand audit; and not __fish_seen_subcommand_from verify head export show certificate help" -l config -d 'The source map that says where personal data lives' -r -F
complete -c dsar -n "__fish_dsar_using_subcommand audit; and not __fish_seen_subcommand_from verify head export show certificate help" -l state-dir -d 'Where the audit log, the installation key and the request ledger live [default: $XDG_STATE_HOME/dsar or ~/.local/state/dsar]' -r -F
complete -c dsar -n "__fish_dsar_using_subcommand audit; and not __fish_seen_subcommand_from verify head export show certificate help" -l operator -d 'Who is acting, for the audit log [default: the OS user]' -r
complete -c dsar -n "__fish_dsar_using_subcommand audit; and not __fish_seen_subcommand_from verify head export show certificate help" -l json -d 'Print one machine-readable JSON object on stdout instead of the human summary'
complete -c dsar -n "__fish_dsar_using_subcommand audit; and not __fish_seen_subcommand_from verify head export show certificate help" -s q -l quiet -d 'Print nothing but errors; no progress bars'
complete -c dsar -n "__fish_dsar_using_subcommand audit; and not __fish_seen_subcommand_from verify head export show certificate help" -s v -l verbose -d 'Say more: purge lists what it removed and prints config warnings; a crash shows where'
complete -c dsar -n "__fish_dsar_using_subcommand audit; and not __fish_seen_subcommand_from verify head export show certificate help" -s h -l help -d 'Print help'
complete -c dsar -n "__fish_dsar_using_subcommand audit; and not __fish_seen_subcommand_from verify head export show certificate help" -f -a "verify" -d 'Recompute the hash chain; exit 1 naming the first altered, removed, inserted or reordered line, or a truncated tail'
complete -c dsar -n "__fish_dsar_using_subcommand audit; and not __fish_seen_subcommand_from verify head export show certificate help" -f -a "head" -d 'Print the log\'s last event (sequence number and hash), to anchor it elsewhere: a ticket, syslog, another machine. `audit verify --head HASH` later proves the log still holds it'
complete -c dsar -n "__fish_dsar_using_subcommand audit; and not __fish_seen_subcommand_from verify head export show certificate help" -f -a "export" -d 'Export events for a regulator: CSV (one row per event, stable columns) or JSON'
complete -c dsar -n "__fish_dsar_using_subcommand audit; and not __fish_seen_subcommand_from verify head export show certificate help" -f -a "show" -d 'Find events by request, subject, action or time'
complete -c dsar -n "__fish_dsar_using_subcommand audit; and not __fish_seen_subcommand_from verify head export show certificate help" -f -a "certificate" -d 'Print an erasure certificate: what was erased, when and by whom, under which ticket, since when it cannot be undone, and the events (sequence numbers, hashes) that prove it. Exit 3 when the erasure does not hold (restored, or never completed)'
complete -c dsar -n "__fish_dsar_using_subcommand audit; and not __fish_seen_subcommand_from verify head export show certificate help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c dsar -n "__fish_dsar_using_subcommand audit; and __fish_seen_subcommand_from verify" -l head -d 'Also check that the event with this hash (printed by `dsar audit head` earlier) is still in the chain: a log cut back before the anchor, or replaced, fails' -r
complete -c dsar -n "__fish_dsar_using_subcommand audit; and __fish_seen_subcommand_from verify" -l config -d 'The source map that says where personal data lives' -r -F
complete -c dsar -n "__fish_dsar_using_subcommand audit; and __fish_seen_subcommand_from verify" -l state-dir -d 'Where the audit log, the installation key and the request ledger live [default: $XDG_STATE_HOME/dsar or ~/.local/state/dsar]' -r -F
complete -c dsar -n "__fish_dsar_using_subcommand audit; and __fish_seen_subcommand_from verify" -l operator -d 'Who is acting, for the audit log [default: the OS user]' -r
complete -c dsar -n "__fish_dsar_using_subcommand audit; and __fish_seen_subcommand_from verify" -l allow-empty -d 'Pass on a log that holds no events. Without it, a missing or empty log fails (exit 1): an empty log proves nothing, and a cut one looks just like it'
complete -c dsar -n "__fish_dsar_using_subcommand audit; and __fish_seen_subcommand_from verify" -l seal-legacy -d 'For a log last written by dsar 0.1, whose head.json and removed.json carry no authentication: check the whole chain taking them at their word, then seal them. Only when you know no one else has written the state dir since'
complete -c dsar -n "__fish_dsar_using_subcommand audit; and __fish_seen_subcommand_from verify" -l record-lost -d 'Record as failed each request a batch export queued that the ledger has lost (its run\'s queue or its record removed, cut or rewritten), from what the log holds of it, and log why: `dsar jobs` lists them again, and the check passes once every one is recorded. They cannot be resumed: export those people again'
complete -c dsar -n "__fish_dsar_using_subcommand audit; and __fish_seen_subcommand_from verify" -l json -d 'Print one machine-readable JSON object on stdout instead of the human summary'
complete -c dsar -n "__fish_dsar_using_subcommand audit; and __fish_seen_subcommand_from verify" -s q -l quiet -d 'Print nothing but errors; no progress bars'
complete -c dsar -n "__fish_dsar_using_subcommand audit; and __fish_seen_subcommand_from verify" -s v -l verbose -d 'Say more: purge lists what it removed and prints config warnings; a crash shows where'
complete -c dsar -n "__fish_dsar_using_subcommand audit; and __fish_seen_subcommand_from verify" -s h -l help -d 'Print help'
complete -c dsar -n "__fish_dsar_using_subcommand audit; and __fish_seen_subcommand_from head" -l config -d 'The source map that says where personal data lives' -r -F
complete -c dsar -n "__fish_dsar_using_subcommand audit; and __fish_seen_subcommand_from head" -l state-dir -d 'Where the audit log, the installation key and the request ledger live [default: $XDG_STATE_HOME/dsar or ~/.local/state/dsar]' -r -F
complete -c dsar -n "__fish_dsar_using_subcommand audit; and __fish_seen_subcommand_from head" -l operator -d 'Who is acting, for the audit log [default: the OS user]' -r
complete -c dsar -n "__fish_dsar_using_subcommand audit; and __fish_seen_subcommand_from head" -l json -d 'Print one machine-readable JSON object on stdout instead of the human summary'
complete -c dsar -n "__fish_dsar_using_subcommand audit; and __fish_seen_subcommand_from head" -s q -l quiet -d 'Print nothing but errors; no progress bars'
complete -c dsar -n "__fish_dsar_using_subcommand audit; and __fish_seen_subcommand_from head" -s v -l verbose -d 'Say more: purge lists what it removed and prints config warnings; a crash shows where'
complete -c dsar -n "__fish_dsar_using_subcommand audit; and __fish_seen_subcommand_from head" -s h -l help -d 'Print help'
complete -c dsar -n "__fish_dsar_using_subcommand audit; and __fish_seen_subcommand_from export" -l since -d 'Only events at or after this time (2026-11-25 or 2026-11-25T16:30:00Z)' -r
complete -c dsar -n "__fish_dsar_using_subcommand audit; and __fish_seen_subcommand_from export" -l until -d 'Only events before this time' -r
complete -c dsar -n "__fish_dsar_using_subcommand audit; and __fish_seen_subcommand_from export" -l format -r -f -a "csv\t'One row per event; opens in a spreadsheet'
json\t'A JSON array of the events as logged'"
complete -c dsar -n "__fish_dsar_using_subcommand audit; and __fish_seen_subcommand_from export" -s o -l out -d 'Write to FILE instead of stdout (`-`: stdout)' -r -F
complete -c dsar -n "__fish_dsar_using_subcommand audit; and __fish_seen_subcommand_from export" -l config -d 'The source map that says where personal data lives' -r -F
complete -c dsar -n "__fish_dsar_using_subcommand audit; and __fish_seen_subcommand_from export" -l state-dir -d 'Where the audit log, the installation key and the request ledger live [default: $XDG_STATE_HOME/dsar or ~/.local/state/dsar]' -r -F
complete -c dsar -n "__fish_dsar_using_subcommand audit; and __fish_seen_subcommand_from export" -l operator -d 'Who is acting, for the audit log [default: the OS user]' -r
complete -c dsar -n "__fish_dsar_using_subcommand audit; and __fish_seen_subcommand_from export" -l json -d 'Print one machine-readable JSON object on stdout instead of the human summary'
complete -c dsar -n "__fish_dsar_using_subcommand audit; and __fish_seen_subcommand_from export" -s q -l quiet -d 'Print nothing but errors; no progress bars'
complete -c dsar -n "__fish_dsar_using_subcommand audit; and __fish_seen_subcommand_from export" -s v -l verbose -d 'Say more: purge lists what it removed and prints config warnings; a crash shows where'
complete -c dsar -n "__fish_dsar_using_subcommand audit; and __fish_seen_subcommand_from export" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c dsar -n "__fish_dsar_using_subcommand audit; and __fish_seen_subcommand_from show" -l request -d 'Events of this request' -r
complete -c dsar -n "__fish_dsar_using_subcommand audit; and __fish_seen_subcommand_from show" -l subject -d 'Events about this person: type the raw identifier; it is hashed with the installation key before searching, as the log only holds hashes' -r
complete -c dsar -n "__fish_dsar_using_subcommand audit; and __fish_seen_subcommand_from show" -l action -d 'Events of this action, or of every action under a prefix (`delete` → delete.*): one of archive, audit, cancel, config, delete, export, notify, purge, restore, optionally followed by `.` and the step (`delete.completed`)' -r
complete -c dsar -n "__fish_dsar_using_subcommand audit; and __fish_seen_subcommand_from show" -l since -d 'Only events at or after this time' -r
complete -c dsar -n "__fish_dsar_using_subcommand audit; and __fish_seen_subcommand_from show" -l by -d 'Only events by this operator (as `--operator`/`DSAR_OPERATOR` recorded them)' -r
complete -c dsar -n "__fish_dsar_using_subcommand audit; and __fish_seen_subcommand_from show" -l ticket -d 'Only events of this case (the runs given `--ticket`)' -r
complete -c dsar -n "__fish_dsar_using_subcommand audit; and __fish_seen_subcommand_from show" -l config -d 'The source map that says where personal data lives' -r -F
complete -c dsar -n "__fish_dsar_using_subcommand audit; and __fish_seen_subcommand_from show" -l state-dir -d 'Where the audit log, the installation key and the request ledger live [default: $XDG_STATE_HOME/dsar or ~/.local/state/dsar]' -r -F
complete -c dsar -n "__fish_dsar_using_subcommand audit; and __fish_seen_subcommand_from show" -l operator -d 'Who is acting, for the audit log [default: the OS user]' -r
complete -c dsar -n "__fish_dsar_using_subcommand audit; and __fish_seen_subcommand_from show" -l json -d 'Print one machine-readable JSON object on stdout instead of the human summary'
complete -c dsar -n "__fish_dsar_using_subcommand audit; and __fish_seen_subcommand_from show" -s q -l quiet -d 'Print nothing but errors; no progress bars'
complete -c dsar -n "__fish_dsar_using_subcommand audit; and __fish_seen_subcommand_from show" -s v -l verbose -d 'Say more: purge lists what it removed and prints config warnings; a crash shows where'
complete -c dsar -n "__fish_dsar_using_subcommand audit; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c dsar -n "__fish_dsar_using_subcommand audit; and __fish_seen_subcommand_from certificate" -l request -d 'The delete request to certify' -r
complete -c dsar -n "__fish_dsar_using_subcommand audit; and __fish_seen_subcommand_from certificate" -l subject -d 'The person\'s latest erasure: type the raw identifier; it is hashed with the installation key before searching, as the log only holds hashes' -r
complete -c dsar -n "__fish_dsar_using_subcommand audit; and __fish_seen_subcommand_from certificate" -l head -d 'An anchor taken earlier with `dsar audit head`: the certificate is issued only if the log still holds that event at its place (so no later event was cut)' -r
complete -c dsar -n "__fish_dsar_using_subcommand audit; and __fish_seen_subcommand_from certificate" -l config -d 'The source map that says where personal data lives' -r -F
complete -c dsar -n "__fish_dsar_using_subcommand audit; and __fish_seen_subcommand_from certificate" -l state-dir -d 'Where the audit log, the installation key and the request ledger live [default: $XDG_STATE_HOME/dsar or ~/.local/state/dsar]' -r -F
complete -c dsar -n "__fish_dsar_using_subcommand audit; and __fish_seen_subcommand_from certificate" -l operator -d 'Who is acting, for the audit log [default: the OS user]' -r
complete -c dsar -n "__fish_dsar_using_subcommand audit; and __fish_seen_subcommand_from certificate" -l json -d 'Print one machine-readable JSON object on stdout instead of the human summary'
complete -c dsar -n "__fish_dsar_using_subcommand audit; and __fish_seen_subcommand_from certificate" -s q -l quiet -d 'Print nothing but errors; no progress bars'
complete -c dsar -n "__fish_dsar_using_subcommand audit; and __fish_seen_subcommand_from certificate" -s v -l verbose -d 'Say more: purge lists what it removed and prints config warnings; a crash shows where'
complete -c dsar -n "__fish_dsar_using_subcommand audit; and __fish_seen_subcommand_from certificate" -s h -l help -d 'Print help'
complete -c dsar -n "__fish_dsar_using_subcommand audit; and __fish_seen_subcommand_from help" -f -a "verify" -d 'Recompute the hash chain; exit 1 naming the first altered, removed, inserted or reordered line, or a truncated tail'
complete -c dsar -n "__fish_dsar_using_subcommand audit; and __fish_seen_subcommand_from help" -f -a "head" -d 'Print the log\'s last event (sequence number and hash), to anchor it elsewhere: a ticket, syslog, another machine. `audit verify --head HASH` later proves the log still holds it'
complete -c dsar -n "__fish_dsar_using_subcommand audit; and __fish_seen_subcommand_from help" -f -a "export" -d 'Export events for a regulator: CSV (one row per event, stable columns) or JSON'
complete -c dsar -n "__fish_dsar_using_subcommand audit; and __fish_seen_subcommand_from help" -f -a "show" -d 'Find events by request, subject, action or time'
complete -c dsar -n "__fish_dsar_using_subcommand audit; and __fish_seen_subcommand_from help" -f -a "certificate" -d 'Print an erasure certificate: what was erased, when and by whom, under which ticket, since when it cannot be undone, and the events (sequence numbers, hashes) that prove it. Exit 3 when the erasure does not hold (restored, or never completed)'
complete -c dsar -n "__fish_dsar_using_subcommand audit; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c dsar -n "__fish_dsar_using_subcommand status" -l config -d 'The source map that says where personal data lives' -r -F
complete -c dsar -n "__fish_dsar_using_subcommand status" -l state-dir -d 'Where the audit log, the installation key and the request ledger live [default: $XDG_STATE_HOME/dsar or ~/.local/state/dsar]' -r -F
complete -c dsar -n "__fish_dsar_using_subcommand status" -l operator -d 'Who is acting, for the audit log [default: the OS user]' -r
complete -c dsar -n "__fish_dsar_using_subcommand status" -l json -d 'Print one machine-readable JSON object on stdout instead of the human summary'
complete -c dsar -n "__fish_dsar_using_subcommand status" -s q -l quiet -d 'Print nothing but errors; no progress bars'
complete -c dsar -n "__fish_dsar_using_subcommand status" -s v -l verbose -d 'Say more: purge lists what it removed and prints config warnings; a crash shows where'
complete -c dsar -n "__fish_dsar_using_subcommand status" -s h -l help -d 'Print help'
complete -c dsar -n "__fish_dsar_using_subcommand jobs" -l state -d 'Only requests in this state (failed includes interrupted)' -r -f -a "queued\t''
running\t''
completed\t''
failed\t''
cancelled\t''"
complete -c dsar -n "__fish_dsar_using_subcommand jobs" -l since -d 'Only requests started at or after this time (2026-11-25 or 2026-11-25T16:30:00Z)' -r
complete -c dsar -n "__fish_dsar_using_subcommand jobs" -l ticket -d 'Only the requests of this case' -r
complete -c dsar -n "__fish_dsar_using_subcommand jobs" -l due-within -d 'List the unanswered cases due within this time (7d, 48h), overdue ones included, instead of requests' -r
complete -c dsar -n "__fish_dsar_using_subcommand jobs" -l config -d 'The source map that says where personal data lives' -r -F
complete -c dsar -n "__fish_dsar_using_subcommand jobs" -l state-dir -d 'Where the audit log, the installation key and the request ledger live [default: $XDG_STATE_HOME/dsar or ~/.local/state/dsar]' -r -F
complete -c dsar -n "__fish_dsar_using_subcommand jobs" -l operator -d 'Who is acting, for the audit log [default: the OS user]' -r
complete -c dsar -n "__fish_dsar_using_subcommand jobs" -l overdue -d 'List the cases past their due date and not answered yet (no export or delete under them has completed), instead of requests'
complete -c dsar -n "__fish_dsar_using_subcommand jobs" -l json -d 'Print one machine-readable JSON object on stdout instead of the human summary'
complete -c dsar -n "__fish_dsar_using_subcommand jobs" -s q -l quiet -d 'Print nothing but errors; no progress bars'
complete -c dsar -n "__fish_dsar_using_subcommand jobs" -s v -l verbose -d 'Say more: purge lists what it removed and prints config warnings; a crash shows where'
complete -c dsar -n "__fish_dsar_using_subcommand jobs" -s h -l help -d 'Print help'
complete -c dsar -n "__fish_dsar_using_subcommand extend" -l reason -d 'Why the request needs more time (its complexity or number), as the person must be told' -r
complete -c dsar -n "__fish_dsar_using_subcommand extend" -l config -d 'The source map that says where personal data lives' -r -F
complete -c dsar -n "__fish_dsar_using_subcommand extend" -l state-dir -d 'Where the audit log, the installation key and the request ledger live [default: $XDG_STATE_HOME/dsar or ~/.local/state/dsar]' -r -F
complete -c dsar -n "__fish_dsar_using_subcommand extend" -l operator -d 'Who is acting, for the audit log [default: the OS user]' -r
complete -c dsar -n "__fish_dsar_using_subcommand extend" -l json -d 'Print one machine-readable JSON object on stdout instead of the human summary'
complete -c dsar -n "__fish_dsar_using_subcommand extend" -s q -l quiet -d 'Print nothing but errors; no progress bars'
complete -c dsar -n "__fish_dsar_using_subcommand extend" -s v -l verbose -d 'Say more: purge lists what it removed and prints config warnings; a crash shows where'
complete -c dsar -n "__fish_dsar_using_subcommand extend" -s h -l help -d 'Print help'
complete -c dsar -n "__fish_dsar_using_subcommand cancel" -l config -d 'The source map that says where personal data lives' -r -F
complete -c dsar -n "__fish_dsar_using_subcommand cancel" -l state-dir -d 'Where the audit log, the installation key and the request ledger live [default: $XDG_STATE_HOME/dsar or ~/.local/state/dsar]' -r -F
complete -c dsar -n "__fish_dsar_using_subcommand cancel" -l operator -d 'Who is acting, for the audit log [default: the OS user]' -r
complete -c dsar -n "__fish_dsar_using_subcommand cancel" -l json -d 'Print one machine-readable JSON object on stdout instead of the human summary'
complete -c dsar -n "__fish_dsar_using_subcommand cancel" -s q -l quiet -d 'Print nothing but errors; no progress bars'
complete -c dsar -n "__fish_dsar_using_subcommand cancel" -s v -l verbose -d 'Say more: purge lists what it removed and prints config warnings; a crash shows where'
complete -c dsar -n "__fish_dsar_using_subcommand cancel" -s h -l help -d 'Print help'
complete -c dsar -n "__fish_dsar_using_subcommand resume" -s i -l identity -d 'A recovery key: a delete\'s subjects and key, a restore\'s rows and an export\'s subject are sealed to it' -r -F
complete -c dsar -n "__fish_dsar_using_subcommand resume" -l config -d 'The source map that says where personal data lives' -r -F
complete -c dsar -n "__fish_dsar_using_subcommand resume" -l state-dir -d 'Where the audit log, the installation key and the request ledger live [default: $XDG_STATE_HOME/dsar or ~/.local/state/dsar]' -r -F
complete -c dsar -n "__fish_dsar_using_subcommand resume" -l operator -d 'Who is acting, for the audit log [default: the OS user]' -r
complete -c dsar -n "__fish_dsar_using_subcommand resume" -s y -l yes -d 'Resume a delete without asking: it shows what is left to erase and asks for `yes` otherwise, as delete does'
complete -c dsar -n "__fish_dsar_using_subcommand resume" -l json -d 'Print one machine-readable JSON object on stdout instead of the human summary'
complete -c dsar -n "__fish_dsar_using_subcommand resume" -s q -l quiet -d 'Print nothing but errors; no progress bars'
complete -c dsar -n "__fish_dsar_using_subcommand resume" -s v -l verbose -d 'Say more: purge lists what it removed and prints config warnings; a crash shows where'
complete -c dsar -n "__fish_dsar_using_subcommand resume" -s h -l help -d 'Print help'
complete -c dsar -n "__fish_dsar_using_subcommand check" -l register -d 'Read the register from this file (written by `dsar register export`) instead of the state dir' -r -F
complete -c dsar -n "__fish_dsar_using_subcommand check" -l since -d 'Only erasures completed on or after this date (YYYY-MM-DD): the day the restored backup was taken' -r
complete -c dsar -n "__fish_dsar_using_subcommand check" -l config -d 'The source map that says where personal data lives' -r -F
complete -c dsar -n "__fish_dsar_using_subcommand check" -l state-dir -d 'Where the audit log, the installation key and the request ledger live [default: $XDG_STATE_HOME/dsar or ~/.local/state/dsar]' -r -F
complete -c dsar -n "__fish_dsar_using_subcommand check" -l operator -d 'Who is acting, for the audit log [default: the OS user]' -r
complete -c dsar -n "__fish_dsar_using_subcommand check" -l erased -d 'Instead of checking the map, look for erased people of the register who are live again: exit 3 naming the tables (counts and hashes only), silent and exit 0 otherwise'
complete -c dsar -n "__fish_dsar_using_subcommand check" -l json -d 'Print one machine-readable JSON object on stdout instead of the human summary'
complete -c dsar -n "__fish_dsar_using_subcommand check" -s q -l quiet -d 'Print nothing but errors; no progress bars'
complete -c dsar -n "__fish_dsar_using_subcommand check" -s v -l verbose -d 'Say more: purge lists what it removed and prints config warnings; a crash shows where'
complete -c dsar -n "__fish_dsar_using_subcommand check" -s h -l help -d 'Print help'
complete -c dsar -n "__fish_dsar_using_subcommand reapply" -l register -d 'Read the register from this file (written by `dsar register export`) instead of the state dir' -r -F
complete -c dsar -n "__fish_dsar_using_subcommand reapply" -l since -d 'Only erasures completed on or after this date (YYYY-MM-DD): the day the restored backup was taken' -r
complete -c dsar -n "__fish_dsar_using_subcommand reapply" -l config -d 'The source map that says where personal data lives' -r -F
complete -c dsar -n "__fish_dsar_using_subcommand reapply" -l state-dir -d 'Where the audit log, the installation key and the request ledger live [default: $XDG_STATE_HOME/dsar or ~/.local/state/dsar]' -r -F
complete -c dsar -n "__fish_dsar_using_subcommand reapply" -l operator -d 'Who is acting, for the audit log [default: the OS user]' -r
complete -c dsar -n "__fish_dsar_using_subcommand reapply" -l dry-run -d 'Show who would be erased again, and each plan; change nothing'
complete -c dsar -n "__fish_dsar_using_subcommand reapply" -s y -l yes -d 'Do not ask for confirmation'
complete -c dsar -n "__fish_dsar_using_subcommand reapply" -l json -d 'Print one machine-readable JSON object on stdout instead of the human summary'
complete -c dsar -n "__fish_dsar_using_subcommand reapply" -s q -l quiet -d 'Print nothing but errors; no progress bars'
complete -c dsar -n "__fish_dsar_using_subcommand reapply" -s v -l verbose -d 'Say more: purge lists what it removed and prints config warnings; a crash shows where'
complete -c dsar -n "__fish_dsar_using_subcommand reapply" -s h -l help -d 'Print help'
complete -c dsar -n "__fish_dsar_using_subcommand register; and not __fish_seen_subcommand_from export list help" -l config -d 'The source map that says where personal data lives' -r -F
complete -c dsar -n "__fish_dsar_using_subcommand register; and not __fish_seen_subcommand_from export list help" -l state-dir -d 'Where the audit log, the installation key and the request ledger live [default: $XDG_STATE_HOME/dsar or ~/.local/state/dsar]' -r -F
complete -c dsar -n "__fish_dsar_using_subcommand register; and not __fish_seen_subcommand_from export list help" -l operator -d 'Who is acting, for the audit log [default: the OS user]' -r
complete -c dsar -n "__fish_dsar_using_subcommand register; and not __fish_seen_subcommand_from export list help" -l json -d 'Print one machine-readable JSON object on stdout instead of the human summary'
complete -c dsar -n "__fish_dsar_using_subcommand register; and not __fish_seen_subcommand_from export list help" -s q -l quiet -d 'Print nothing but errors; no progress bars'
complete -c dsar -n "__fish_dsar_using_subcommand register; and not __fish_seen_subcommand_from export list help" -s v -l verbose -d 'Say more: purge lists what it removed and prints config warnings; a crash shows where'
complete -c dsar -n "__fish_dsar_using_subcommand register; and not __fish_seen_subcommand_from export list help" -s h -l help -d 'Print help'
complete -c dsar -n "__fish_dsar_using_subcommand register; and not __fish_seen_subcommand_from export list help" -f -a "export" -d 'Write the register to a file, sealed with the installation key, to keep beside the backups (read it back with `--register FILE`)'
complete -c dsar -n "__fish_dsar_using_subcommand register; and not __fish_seen_subcommand_from export list help" -f -a "list" -d 'List the register\'s entries: request, ticket, when, people and tables (no values)'
complete -c dsar -n "__fish_dsar_using_subcommand register; and not __fish_seen_subcommand_from export list help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c dsar -n "__fish_dsar_using_subcommand register; and __fish_seen_subcommand_from export" -l out -d 'The file to write' -r -F
complete -c dsar -n "__fish_dsar_using_subcommand register; and __fish_seen_subcommand_from export" -l config -d 'The source map that says where personal data lives' -r -F
complete -c dsar -n "__fish_dsar_using_subcommand register; and __fish_seen_subcommand_from export" -l state-dir -d 'Where the audit log, the installation key and the request ledger live [default: $XDG_STATE_HOME/dsar or ~/.local/state/dsar]' -r -F
complete -c dsar -n "__fish_dsar_using_subcommand register; and __fish_seen_subcommand_from export" -l operator -d 'Who is acting, for the audit log [default: the OS user]' -r
complete -c dsar -n "__fish_dsar_using_subcommand register; and __fish_seen_subcommand_from export" -l json -d 'Print one machine-readable JSON object on stdout instead of the human summary'
complete -c dsar -n "__fish_dsar_using_subcommand register; and __fish_seen_subcommand_from export" -s q -l quiet -d 'Print nothing but errors; no progress bars'
complete -c dsar -n "__fish_dsar_using_subcommand register; and __fish_seen_subcommand_from export" -s v -l verbose -d 'Say more: purge lists what it removed and prints config warnings; a crash shows where'
complete -c dsar -n "__fish_dsar_using_subcommand register; and __fish_seen_subcommand_from export" -s h -l help -d 'Print help'
complete -c dsar -n "__fish_dsar_using_subcommand register; and __fish_seen_subcommand_from list" -l config -d 'The source map that says where personal data lives' -r -F
complete -c dsar -n "__fish_dsar_using_subcommand register; and __fish_seen_subcommand_from list" -l state-dir -d 'Where the audit log, the installation key and the request ledger live [default: $XDG_STATE_HOME/dsar or ~/.local/state/dsar]' -r -F
complete -c dsar -n "__fish_dsar_using_subcommand register; and __fish_seen_subcommand_from list" -l operator -d 'Who is acting, for the audit log [default: the OS user]' -r
complete -c dsar -n "__fish_dsar_using_subcommand register; and __fish_seen_subcommand_from list" -l json -d 'Print one machine-readable JSON object on stdout instead of the human summary'
complete -c dsar -n "__fish_dsar_using_subcommand register; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Print nothing but errors; no progress bars'
complete -c dsar -n "__fish_dsar_using_subcommand register; and __fish_seen_subcommand_from list" -s v -l verbose -d 'Say more: purge lists what it removed and prints config warnings; a crash shows where'
complete -c dsar -n "__fish_dsar_using_subcommand register; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c dsar -n "__fish_dsar_using_subcommand register; and __fish_seen_subcommand_from help" -f -a "export" -d 'Write the register to a file, sealed with the installation key, to keep beside the backups (read it back with `--register FILE`)'
complete -c dsar -n "__fish_dsar_using_subcommand register; and __fish_seen_subcommand_from help" -f -a "list" -d 'List the register\'s entries: request, ticket, when, people and tables (no values)'
complete -c dsar -n "__fish_dsar_using_subcommand register; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c dsar -n "__fish_dsar_using_subcommand open" -l ticket -d 'The case this run answers (your ticket id, e.g. DSAR-1234): runs with one ticket form one case, with one due date. Letters, digits and `.` `_` `-` `:` `#`, at most 64' -r
complete -c dsar -n "__fish_dsar_using_subcommand open" -l reason -d 'Why, for the audit log and the ledger (a ticket summary, the article invoked)' -r
complete -c dsar -n "__fish_dsar_using_subcommand open" -l received -d 'When the person\'s request was received (YYYY-MM-DD) [default: today]; needs --ticket' -r
complete -c dsar -n "__fish_dsar_using_subcommand open" -l regime -d 'The law that sets the deadline [default: `[settings] regime`, else gdpr]; needs --ticket' -r -f -a "gdpr\t'EU/UK GDPR: one month, extendable by two further months'
ccpa\t'California CCPA/CPRA: 45 days, extendable by 45 more'"
complete -c dsar -n "__fish_dsar_using_subcommand open" -s i -l identity -d 'An age identity file (age-keygen output). Without it, the passphrase is asked for, or read from DSAR_PASSPHRASE' -r -F
complete -c dsar -n "__fish_dsar_using_subcommand open" -l extract -d 'Write the files into DIR (which must not hold them already)' -r -F
complete -c dsar -n "__fish_dsar_using_subcommand open" -l config -d 'The source map that says where personal data lives' -r -F
complete -c dsar -n "__fish_dsar_using_subcommand open" -l state-dir -d 'Where the audit log, the installation key and the request ledger live [default: $XDG_STATE_HOME/dsar or ~/.local/state/dsar]' -r -F
complete -c dsar -n "__fish_dsar_using_subcommand open" -l operator -d 'Who is acting, for the audit log [default: the OS user]' -r
complete -c dsar -n "__fish_dsar_using_subcommand open" -l list -d 'List the files and their checksums (the default)'
complete -c dsar -n "__fish_dsar_using_subcommand open" -l allow-unrecorded -d 'Open an archive this installation\'s audit log records no export of (one made by another installation, say). Without it such an archive is listed, not extracted, and exit is 3: its manifest can claim any request id, and anyone with the public recipient can make one'
complete -c dsar -n "__fish_dsar_using_subcommand open" -l json -d 'Print one machine-readable JSON object on stdout instead of the human summary'
complete -c dsar -n "__fish_dsar_using_subcommand open" -s q -l quiet -d 'Print nothing but errors; no progress bars'
complete -c dsar -n "__fish_dsar_using_subcommand open" -s v -l verbose -d 'Say more: purge lists what it removed and prints config warnings; a crash shows where'
complete -c dsar -n "__fish_dsar_using_subcommand open" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c dsar -n "__fish_dsar_using_subcommand demo" -l config -d 'The source map that says where personal data lives' -r -F
complete -c dsar -n "__fish_dsar_using_subcommand demo" -l state-dir -d 'Where the audit log, the installation key and the request ledger live [default: $XDG_STATE_HOME/dsar or ~/.local/state/dsar]' -r -F
complete -c dsar -n "__fish_dsar_using_subcommand demo" -l operator -d 'Who is acting, for the audit log [default: the OS user]' -r
complete -c dsar -n "__fish_dsar_using_subcommand demo" -l json -d 'Print one machine-readable JSON object on stdout instead of the human summary'
complete -c dsar -n "__fish_dsar_using_subcommand demo" -s q -l quiet -d 'Print nothing but errors; no progress bars'
complete -c dsar -n "__fish_dsar_using_subcommand demo" -s v -l verbose -d 'Say more: purge lists what it removed and prints config warnings; a crash shows where'
complete -c dsar -n "__fish_dsar_using_subcommand demo" -s h -l help -d 'Print help'
complete -c dsar -n "__fish_dsar_using_subcommand discover" -l source -d 'The source whose catalog is read (its url from the source map; it may list no tables yet)' -r
complete -c dsar -n "__fish_dsar_using_subcommand discover" -l url -d 'Read this database instead, no map needed: env:VAR or file:PATH holding a postgres:// or mysql:// URL, or sqlite:PATH for a SQLite file' -r
complete -c dsar -n "__fish_dsar_using_subcommand discover" -l table -d 'The table the subject lives in [default: a person-like table with an email column]' -r
complete -c dsar -n "__fish_dsar_using_subcommand discover" -l config -d 'The source map that says where personal data lives' -r -F
complete -c dsar -n "__fish_dsar_using_subcommand discover" -l state-dir -d 'Where the audit log, the installation key and the request ledger live [default: $XDG_STATE_HOME/dsar or ~/.local/state/dsar]' -r -F
complete -c dsar -n "__fish_dsar_using_subcommand discover" -l operator -d 'Who is acting, for the audit log [default: the OS user]' -r
complete -c dsar -n "__fish_dsar_using_subcommand discover" -l json -d 'Print one machine-readable JSON object on stdout instead of the human summary'
complete -c dsar -n "__fish_dsar_using_subcommand discover" -s q -l quiet -d 'Print nothing but errors; no progress bars'
complete -c dsar -n "__fish_dsar_using_subcommand discover" -s v -l verbose -d 'Say more: purge lists what it removed and prints config warnings; a crash shows where'
complete -c dsar -n "__fish_dsar_using_subcommand discover" -s h -l help -d 'Print help'
complete -c dsar -n "__fish_dsar_using_subcommand completions" -l config -d 'The source map that says where personal data lives' -r -F
complete -c dsar -n "__fish_dsar_using_subcommand completions" -l state-dir -d 'Where the audit log, the installation key and the request ledger live [default: $XDG_STATE_HOME/dsar or ~/.local/state/dsar]' -r -F
complete -c dsar -n "__fish_dsar_using_subcommand completions" -l operator -d 'Who is acting, for the audit log [default: the OS user]' -r
complete -c dsar -n "__fish_dsar_using_subcommand completions" -l json -d 'Print one machine-readable JSON object on stdout instead of the human summary'
complete -c dsar -n "__fish_dsar_using_subcommand completions" -s q -l quiet -d 'Print nothing but errors; no progress bars'
complete -c dsar -n "__fish_dsar_using_subcommand completions" -s v -l verbose -d 'Say more: purge lists what it removed and prints config warnings; a crash shows where'
complete -c dsar -n "__fish_dsar_using_subcommand completions" -s h -l help -d 'Print help'
complete -c dsar -n "__fish_dsar_using_subcommand man" -l out -d 'Directory to write the pages to' -r -F
complete -c dsar -n "__fish_dsar_using_subcommand man" -l config -d 'The source map that says where personal data lives' -r -F
complete -c dsar -n "__fish_dsar_using_subcommand man" -l state-dir -d 'Where the audit log, the installation key and the request ledger live [default: $XDG_STATE_HOME/dsar or ~/.local/state/dsar]' -r -F
complete -c dsar -n "__fish_dsar_using_subcommand man" -l operator -d 'Who is acting, for the audit log [default: the OS user]' -r
complete -c dsar -n "__fish_dsar_using_subcommand man" -l json -d 'Print one machine-readable JSON object on stdout instead of the human summary'
complete -c dsar -n "__fish_dsar_using_subcommand man" -s q -l quiet -d 'Print nothing but errors; no progress bars'
complete -c dsar -n "__fish_dsar_using_subcommand man" -s v -l verbose -d 'Say more: purge lists what it removed and prints config warnings; a crash shows where'
complete -c dsar -n "__fish_dsar_using_subcommand man" -s h -l help -d 'Print help'
complete -c dsar -n "__fish_dsar_using_subcommand help; and not __fish_seen_subcommand_from export delete restore purge audit status jobs extend cancel resume check reapply register open demo discover completions man help" -f -a "export" -d 'Collect every row about a subject into one age-encrypted zip archive'
complete -c dsar -n "__fish_dsar_using_subcommand help; and not __fish_seen_subcommand_from export delete restore purge audit status jobs extend cancel resume check reapply register open demo discover completions man help" -f -a "delete" -d 'Erase a subject\'s rows, keeping them restorable for the recovery window'
complete -c dsar -n "__fish_dsar_using_subcommand help; and not __fish_seen_subcommand_from export delete restore purge audit status jobs extend cancel resume check reapply register open demo discover completions man help" -f -a "restore" -d 'Bring back a deleted request, or single rows, inside the recovery window'
complete -c dsar -n "__fish_dsar_using_subcommand help; and not __fish_seen_subcommand_from export delete restore purge audit status jobs extend cancel resume check reapply register open demo discover completions man help" -f -a "purge" -d 'Permanently remove what is past its window; remove expired export archives'
complete -c dsar -n "__fish_dsar_using_subcommand help; and not __fish_seen_subcommand_from export delete restore purge audit status jobs extend cancel resume check reapply register open demo discover completions man help" -f -a "audit" -d 'Verify, export or search the tamper-evident audit log'
complete -c dsar -n "__fish_dsar_using_subcommand help; and not __fish_seen_subcommand_from export delete restore purge audit status jobs extend cancel resume check reapply register open demo discover completions man help" -f -a "status" -d 'Show one request from the ledger in detail (the latest by default)'
complete -c dsar -n "__fish_dsar_using_subcommand help; and not __fish_seen_subcommand_from export delete restore purge audit status jobs extend cancel resume check reapply register open demo discover completions man help" -f -a "jobs" -d 'List requests from the ledger, newest first; or the cases that are overdue or due soon'
complete -c dsar -n "__fish_dsar_using_subcommand help; and not __fish_seen_subcommand_from export delete restore purge audit status jobs extend cancel resume check reapply register open demo discover completions man help" -f -a "extend" -d 'Extend a case\'s deadline once, as its regime allows (GDPR: two further months; CCPA: 45 days)'
complete -c dsar -n "__fish_dsar_using_subcommand help; and not __fish_seen_subcommand_from export delete restore purge audit status jobs extend cancel resume check reapply register open demo discover completions man help" -f -a "cancel" -d 'Stop a running request after its current batch (from another shell)'
complete -c dsar -n "__fish_dsar_using_subcommand help; and not __fish_seen_subcommand_from export delete restore purge audit status jobs extend cancel resume check reapply register open demo discover completions man help" -f -a "resume" -d 'Continue an interrupted, failed or cancelled request from its last committed batch'
complete -c dsar -n "__fish_dsar_using_subcommand help; and not __fish_seen_subcommand_from export delete restore purge audit status jobs extend cancel resume check reapply register open demo discover completions man help" -f -a "check" -d 'Validate the source map against the live databases; with --erased, look for erased people who are live again (after a restore from backup)'
complete -c dsar -n "__fish_dsar_using_subcommand help; and not __fish_seen_subcommand_from export delete restore purge audit status jobs extend cancel resume check reapply register open demo discover completions man help" -f -a "reapply" -d 'Erase again every person of the erasure register found live (after a restore from backup): one new request per original request, with its ticket and strategies'
complete -c dsar -n "__fish_dsar_using_subcommand help; and not __fish_seen_subcommand_from export delete restore purge audit status jobs extend cancel resume check reapply register open demo discover completions man help" -f -a "register" -d 'The erasure register: who was erased, kept outside the databases (export a copy to keep beside the backups)'
complete -c dsar -n "__fish_dsar_using_subcommand help; and not __fish_seen_subcommand_from export delete restore purge audit status jobs extend cancel resume check reapply register open demo discover completions man help" -f -a "open" -d 'Decrypt an export archive, verify its checksums, list or extract it (audit-logged)'
complete -c dsar -n "__fish_dsar_using_subcommand help; and not __fish_seen_subcommand_from export delete restore purge audit status jobs extend cancel resume check reapply register open demo discover completions man help" -f -a "demo" -d 'A self-contained tour on an embedded copy of the Chinook database (SQLite)'
complete -c dsar -n "__fish_dsar_using_subcommand help; and not __fish_seen_subcommand_from export delete restore purge audit status jobs extend cancel resume check reapply register open demo discover completions man help" -f -a "discover" -d 'Draft a source map from a database catalog (TOML on stdout; --json for JSON)'
complete -c dsar -n "__fish_dsar_using_subcommand help; and not __fish_seen_subcommand_from export delete restore purge audit status jobs extend cancel resume check reapply register open demo discover completions man help" -f -a "completions" -d 'Print a shell completion script'
complete -c dsar -n "__fish_dsar_using_subcommand help; and not __fish_seen_subcommand_from export delete restore purge audit status jobs extend cancel resume check reapply register open demo discover completions man help" -f -a "man" -d 'Write the man pages (dsar.1 and one per subcommand)'
complete -c dsar -n "__fish_dsar_using_subcommand help; and not __fish_seen_subcommand_from export delete restore purge audit status jobs extend cancel resume check reapply register open demo discover completions man help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c dsar -n "__fish_dsar_using_subcommand help; and __fish_seen_subcommand_from audit" -f -a "verify" -d 'Recompute the hash chain; exit 1 naming the first altered, removed, inserted or reordered line, or a truncated tail'
complete -c dsar -n "__fish_dsar_using_subcommand help; and __fish_seen_subcommand_from audit" -f -a "head" -d 'Print the log\'s last event (sequence number and hash), to anchor it elsewhere: a ticket, syslog, another machine. `audit verify --head HASH` later proves the log still holds it'
complete -c dsar -n "__fish_dsar_using_subcommand help; and __fish_seen_subcommand_from audit" -f -a "export" -d 'Export events for a regulator: CSV (one row per event, stable columns) or JSON'
complete -c dsar -n "__fish_dsar_using_subcommand help; and __fish_seen_subcommand_from audit" -f -a "show" -d 'Find events by request, subject, action or time'
complete -c dsar -n "__fish_dsar_using_subcommand help; and __fish_seen_subcommand_from audit" -f -a "certificate" -d 'Print an erasure certificate: what was erased, when and by whom, under which ticket, since when it cannot be undone, and the events (sequence numbers, hashes) that prove it. Exit 3 when the erasure does not hold (restored, or never completed)'
complete -c dsar -n "__fish_dsar_using_subcommand help; and __fish_seen_subcommand_from register" -f -a "export" -d 'Write the register to a file, sealed with the installation key, to keep beside the backups (read it back with `--register FILE`)'
complete -c dsar -n "__fish_dsar_using_subcommand help; and __fish_seen_subcommand_from register" -f -a "list" -d 'List the register\'s entries: request, ticket, when, people and tables (no values)'
