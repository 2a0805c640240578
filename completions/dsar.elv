
use builtin;
use str;

set edit:completion:arg-completer[dsar] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'dsar'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'dsar'= {
            cand --config 'The source map that says where personal data lives'
            cand --state-dir 'Where the audit log, the installation key and the request ledger live [default: $XDG_STATE_HOME/dsar or ~/.local/state/dsar]'
            cand --operator 'Who is acting, for the audit log [default: the OS user]'
            cand --json 'Print one machine-readable JSON object on stdout instead of the human summary'
            cand -q 'Print nothing but errors; no progress bars'
            cand --quiet 'Print nothing but errors; no progress bars'
            cand -v 'Say more: purge lists what it removed and prints config warnings; a crash shows where'
            cand --verbose 'Say more: purge lists what it removed and prints config warnings; a crash shows where'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand export 'Collect every row about a subject into one age-encrypted zip archive'
            cand delete 'Erase a subject''s rows, keeping them restorable for the recovery window'
            cand restore 'Bring back a deleted request, or single rows, inside the recovery window'
            cand purge 'Permanently remove what is past its window; remove expired export archives'
            cand audit 'Verify, export or search the tamper-evident audit log'
            cand status 'Show one request from the ledger in detail (the latest by default)'
            cand jobs 'List requests from the ledger, newest first; or the cases that are overdue or due soon'
            cand extend 'Extend a case''s deadline once, as its regime allows (GDPR: two further months; CCPA: 45 days)'
            cand cancel 'Stop a running request after its current batch (from another shell)'
            cand resume 'Continue an interrupted, failed or cancelled request from its last committed batch'
            cand check 'Validate the source map against the live databases; with --erased, look for erased people who are live again (after a restore from backup)'
            cand reapply 'Erase again every person of the erasure register found live (after a restore from backup): one new request per original request, with its ticket and strategies'
            cand register 'The erasure register: who was erased, kept outside the databases (export a copy to keep beside the backups)'
            cand open 'Decrypt an export archive, verify its checksums, list or extract it (audit-logged)'
            cand demo 'A self-contained tour on an embedded copy of the Chinook database (SQLite)'
            cand discover 'Draft a source map from a database catalog (TOML on stdout; --json for JSON)'
            cand completions 'Print a shell completion script'
            cand man 'Write the man pages (dsar.1 and one per subcommand)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'dsar;export'= {
            cand --subject 'An identifier of the person, as KEY=VALUE with KEY from [subject].keys. Repeat it to give several identifiers of the same person'
            cand --subjects-file 'A CSV file of many people: a header row naming subject keys, then one person per row (`-`: standard input)'
            cand --ticket 'The case this run answers (your ticket id, e.g. DSAR-1234): runs with one ticket form one case, with one due date. Letters, digits and `.` `_` `-` `:` `#`, at most 64'
            cand --reason 'Why, for the audit log and the ledger (a ticket summary, the article invoked)'
            cand --received 'When the person''s request was received (YYYY-MM-DD) [default: today]; needs --ticket'
            cand --regime 'The law that sets the deadline [default: `[settings] regime`, else gdpr]; needs --ticket'
            cand --format 'The format of the table files inside the archive (index.html, for reading, is always there)'
            cand -r 'Encrypt to this age recipient (age1…). Repeatable'
            cand --recipient 'Encrypt to this age recipient (age1…). Repeatable'
            cand -R 'Encrypt to the recipients listed in FILE (age''s format: one per line, # comments). Default: [settings].recipients_file'
            cand --recipients-file 'Encrypt to the recipients listed in FILE (age''s format: one per line, # comments). Default: [settings].recipients_file'
            cand -o 'Directory the archives are written to. Default: [settings].export_dir'
            cand --out 'Directory the archives are written to. Default: [settings].export_dir'
            cand --batch-size 'Subjects per batch with --subjects-file: each table is queried once per batch. Each person of a batch holds about 3 KB until it is recorded, and on PostgreSQL a larger batch costs the server more per row: past 1,000, slower and larger, not faster'
            cand --config 'The source map that says where personal data lives'
            cand --state-dir 'Where the audit log, the installation key and the request ledger live [default: $XDG_STATE_HOME/dsar or ~/.local/state/dsar]'
            cand --operator 'Who is acting, for the audit log [default: the OS user]'
            cand --allow-multiple 'Go on when the identifiers of one request match several rows of a table that identifies people (several people, or one person stored twice)'
            cand --no-bom 'With --format csv: no UTF-8 byte-order mark at the start of each file. The mark is what makes Excel read accents and non-Latin text correctly; leave it for tools that choke on it'
            cand --passphrase 'Encrypt with a passphrase instead: asked on the terminal, or read from DSAR_PASSPHRASE'
            cand --json 'Print one machine-readable JSON object on stdout instead of the human summary'
            cand -q 'Print nothing but errors; no progress bars'
            cand --quiet 'Print nothing but errors; no progress bars'
            cand -v 'Say more: purge lists what it removed and prints config warnings; a crash shows where'
            cand --verbose 'Say more: purge lists what it removed and prints config warnings; a crash shows where'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'dsar;delete'= {
            cand --subject 'An identifier of the person, as KEY=VALUE with KEY from [subject].keys. Repeat it to give several identifiers of the same person'
            cand --subjects-file 'A CSV file of many people: a header row naming subject keys, then one person per row (`-`: standard input)'
            cand --ticket 'The case this run answers (your ticket id, e.g. DSAR-1234): runs with one ticket form one case, with one due date. Letters, digits and `.` `_` `-` `:` `#`, at most 64'
            cand --reason 'Why, for the audit log and the ledger (a ticket summary, the article invoked)'
            cand --received 'When the person''s request was received (YYYY-MM-DD) [default: today]; needs --ticket'
            cand --regime 'The law that sets the deadline [default: `[settings] regime`, else gdpr]; needs --ticket'
            cand --config 'The source map that says where personal data lives'
            cand --state-dir 'Where the audit log, the installation key and the request ledger live [default: $XDG_STATE_HOME/dsar or ~/.local/state/dsar]'
            cand --operator 'Who is acting, for the audit log [default: the OS user]'
            cand --allow-multiple 'Go on when the identifiers of one request match several rows of a table that identifies people (several people, or one person stored twice)'
            cand --dry-run 'Print the plan (tables, row counts, strategy) and change nothing'
            cand -y 'Do not ask for confirmation'
            cand --yes 'Do not ask for confirmation'
            cand --json 'Print one machine-readable JSON object on stdout instead of the human summary'
            cand -q 'Print nothing but errors; no progress bars'
            cand --quiet 'Print nothing but errors; no progress bars'
            cand -v 'Say more: purge lists what it removed and prints config warnings; a crash shows where'
            cand --verbose 'Say more: purge lists what it removed and prints config warnings; a crash shows where'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'dsar;restore'= {
            cand --request 'The request to restore'
            cand --ticket 'The case this run answers (your ticket id, e.g. DSAR-1234): runs with one ticket form one case, with one due date. Letters, digits and `.` `_` `-` `:` `#`, at most 64'
            cand --reason 'Why, for the audit log and the ledger (a ticket summary, the article invoked)'
            cand --received 'When the person''s request was received (YYYY-MM-DD) [default: today]; needs --ticket'
            cand --regime 'The law that sets the deadline [default: `[settings] regime`, else gdpr]; needs --ticket'
            cand -i 'An age identity file able to decrypt the quarantine'
            cand --identity 'An age identity file able to decrypt the quarantine'
            cand --table 'Restore single rows of this table only'
            cand --key 'The primary key of a row to restore, as COL=VALUE. Repeatable'
            cand --config 'The source map that says where personal data lives'
            cand --state-dir 'Where the audit log, the installation key and the request ledger live [default: $XDG_STATE_HOME/dsar or ~/.local/state/dsar]'
            cand --operator 'Who is acting, for the audit log [default: the OS user]'
            cand --json 'Print one machine-readable JSON object on stdout instead of the human summary'
            cand -q 'Print nothing but errors; no progress bars'
            cand --quiet 'Print nothing but errors; no progress bars'
            cand -v 'Say more: purge lists what it removed and prints config warnings; a crash shows where'
            cand --verbose 'Say more: purge lists what it removed and prints config warnings; a crash shows where'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'dsar;purge'= {
            cand --ticket 'The case this run answers (your ticket id, e.g. DSAR-1234): runs with one ticket form one case, with one due date. Letters, digits and `.` `_` `-` `:` `#`, at most 64'
            cand --reason 'Why, for the audit log and the ledger (a ticket summary, the article invoked)'
            cand --received 'When the person''s request was received (YYYY-MM-DD) [default: today]; needs --ticket'
            cand --regime 'The law that sets the deadline [default: `[settings] regime`, else gdpr]; needs --ticket'
            cand --config 'The source map that says where personal data lives'
            cand --state-dir 'Where the audit log, the installation key and the request ledger live [default: $XDG_STATE_HOME/dsar or ~/.local/state/dsar]'
            cand --operator 'Who is acting, for the audit log [default: the OS user]'
            cand --dry-run 'Print what would be removed and change nothing'
            cand --json 'Print one machine-readable JSON object on stdout instead of the human summary'
            cand -q 'Print nothing but errors; no progress bars'
            cand --quiet 'Print nothing but errors; no progress bars'
            cand -v 'Say more: purge lists what it removed and prints config warnings; a crash shows where'
            cand --verbose 'Say more: purge lists what it removed and prints config warnings; a crash shows where'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'dsar;audit'= {
            cand --config 'The source map that says where personal data lives'
            cand --state-dir 'Where the audit log, the installation key and the request ledger live [default: $XDG_STATE_HOME/dsar or ~/.local/state/dsar]'
            cand --operator 'Who is acting, for the audit log [default: the OS user]'
            cand --json 'Print one machine-readable JSON object on stdout instead of the human summary'
            cand -q 'Print nothing but errors; no progress bars'
            cand --quiet 'Print nothing but errors; no progress bars'
            cand -v 'Say more: purge lists what it removed and prints config warnings; a crash shows where'
            cand --verbose 'Say more: purge lists what it removed and prints config warnings; a crash shows where'
            cand -h 'Print help'
            cand --help 'Print help'
            cand verify 'Recompute the hash chain; exit 1 naming the first altered, removed, inserted or reordered line, or a truncated tail'
            cand head 'Print the log''s last event (sequence number and hash), to anchor it elsewhere: a ticket, syslog, another machine. `audit verify --head HASH` later proves the log still holds it'
            cand export 'Export events for a regulator: CSV (one row per event, stable columns) or JSON'
            cand show 'Find events by request, subject, action or time'
            cand certificate 'Print an erasure certificate: what was erased, when and by whom, under which ticket, since when it cannot be undone, and the events (sequence numbers, hashes) that prove it. Exit 3 when the erasure does not hold (restored, or never completed)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'dsar;audit;verify'= {
            cand --head 'Also check that the event with this hash (printed by `dsar audit head` earlier) is still in the chain: a log cut back before the anchor, or replaced, fails'
            cand --config 'The source map that says where personal data lives'
            cand --state-dir 'Where the audit log, the installation key and the request ledger live [default: $XDG_STATE_HOME/dsar or ~/.local/state/dsar]'
            cand --operator 'Who is acting, for the audit log [default: the OS user]'
            cand --allow-empty 'Pass on a log that holds no events. Without it, a missing or empty log fails (exit 1): an empty log proves nothing, and a cut one looks just like it'
            cand --seal-legacy 'For a log last written by dsar 0.1, whose head.json and removed.json carry no authentication: check the whole chain taking them at their word, then seal them. Only when you know no one else has written the state dir since'
            cand --record-lost 'Record as failed each request a batch export queued that the ledger has lost (its run''s queue or its record removed, cut or rewritten), from what the log holds of it, and log why: `dsar jobs` lists them again, and the check passes once every one is recorded. They cannot be resumed: export those people again'
            cand --json 'Print one machine-readable JSON object on stdout instead of the human summary'
            cand -q 'Print nothing but errors; no progress bars'
            cand --quiet 'Print nothing but errors; no progress bars'
            cand -v 'Say more: purge lists what it removed and prints config warnings; a crash shows where'
            cand --verbose 'Say more: purge lists what it removed and prints config warnings; a crash shows where'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'dsar;audit;head'= {
            cand --config 'The source map that says where personal data lives'
            cand --state-dir 'Where the audit log, the installation key and the request ledger live [default: $XDG_STATE_HOME/dsar or ~/.local/state/dsar]'
            cand --operator 'Who is acting, for the audit log [default: the OS user]'
            cand --json 'Print one machine-readable JSON object on stdout instead of the human summary'
            cand -q 'Print nothing but errors; no progress bars'
            cand --quiet 'Print nothing but errors; no progress bars'
            cand -v 'Say more: purge lists what it removed and prints config warnings; a crash shows where'
            cand --verbose 'Say more: purge lists what it removed and prints config warnings; a crash shows where'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'dsar;audit;export'= {
            cand --since 'Only events at or after this time (2026-11-25 or 2026-11-25T16:30:00Z)'
            cand --until 'Only events before this time'
            cand --format 'format'
            cand -o 'Write to FILE instead of stdout (`-`: stdout)'
            cand --out 'Write to FILE instead of stdout (`-`: stdout)'
            cand --config 'The source map that says where personal data lives'
            cand --state-dir 'Where the audit log, the installation key and the request ledger live [default: $XDG_STATE_HOME/dsar or ~/.local/state/dsar]'
            cand --operator 'Who is acting, for the audit log [default: the OS user]'
            cand --json 'Print one machine-readable JSON object on stdout instead of the human summary'
            cand -q 'Print nothing but errors; no progress bars'
            cand --quiet 'Print nothing but errors; no progress bars'
            cand -v 'Say more: purge lists what it removed and prints config warnings; a crash shows where'
            cand --verbose 'Say more: purge lists what it removed and prints config warnings; a crash shows where'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'dsar;audit;show'= {
            cand --request 'Events of this request'
            cand --subject 'Events about this person: type the raw identifier; it is hashed with the installation key before searching, as the log only holds hashes'
            cand --action 'Events of this action, or of every action under a prefix (`delete` → delete.*): one of archive, audit, cancel, config, delete, export, notify, purge, restore, optionally followed by `.` and the step (`delete.completed`)'
            cand --since 'Only events at or after this time'
            cand --by 'Only events by this operator (as `--operator`/`DSAR_OPERATOR` recorded them)'
            cand --ticket 'Only events of this case (the runs given `--ticket`)'
            cand --config 'The source map that says where personal data lives'
            cand --state-dir 'Where the audit log, the installation key and the request ledger live [default: $XDG_STATE_HOME/dsar or ~/.local/state/dsar]'
            cand --operator 'Who is acting, for the audit log [default: the OS user]'
            cand --json 'Print one machine-readable JSON object on stdout instead of the human summary'
            cand -q 'Print nothing but errors; no progress bars'
            cand --quiet 'Print nothing but errors; no progress bars'
            cand -v 'Say more: purge lists what it removed and prints config warnings; a crash shows where'
            cand --verbose 'Say more: purge lists what it removed and prints config warnings; a crash shows where'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'dsar;audit;certificate'= {
            cand --request 'The delete request to certify'
            cand --subject 'The person''s latest erasure: type the raw identifier; it is hashed with the installation key before searching, as the log only holds hashes'
            cand --head 'An anchor taken earlier with `dsar audit head`: the certificate is issued only if the log still holds that event at its place (so no later event was cut)'
            cand --config 'The source map that says where personal data lives'
            cand --state-dir 'Where the audit log, the installation key and the request ledger live [default: $XDG_STATE_HOME/dsar or ~/.local/state/dsar]'
            cand --operator 'Who is acting, for the audit log [default: the OS user]'
            cand --json 'Print one machine-readable JSON object on stdout instead of the human summary'
            cand -q 'Print nothing but errors; no progress bars'
            cand --quiet 'Print nothing but errors; no progress bars'
            cand -v 'Say more: purge lists what it removed and prints config warnings; a crash shows where'
            cand --verbose 'Say more: purge lists what it removed and prints config warnings; a crash shows where'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'dsar;audit;help'= {
            cand verify 'Recompute the hash chain; exit 1 naming the first altered, removed, inserted or reordered line, or a truncated tail'
            cand head 'Print the log''s last event (sequence number and hash), to anchor it elsewhere: a ticket, syslog, another machine. `audit verify --head HASH` later proves the log still holds it'
            cand export 'Export events for a regulator: CSV (one row per event, stable columns) or JSON'
            cand show 'Find events by request, subject, action or time'
            cand certificate 'Print an erasure certificate: what was erased, when and by whom, under which ticket, since when it cannot be undone, and the events (sequence numbers, hashes) that prove it. Exit 3 when the erasure does not hold (restored, or never completed)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'dsar;audit;help;verify'= {
        }
        &'dsar;audit;help;head'= {
        }
        &'dsar;audit;help;export'= {
        }
        &'dsar;audit;help;show'= {
        }
        &'dsar;audit;help;certificate'= {
        }
        &'dsar;audit;help;help'= {
        }
        &'dsar;status'= {
            cand --config 'The source map that says where personal data lives'
            cand --state-dir 'Where the audit log, the installation key and the request ledger live [default: $XDG_STATE_HOME/dsar or ~/.local/state/dsar]'
            cand --operator 'Who is acting, for the audit log [default: the OS user]'
            cand --json 'Print one machine-readable JSON object on stdout instead of the human summary'
            cand -q 'Print nothing but errors; no progress bars'
            cand --quiet 'Print nothing but errors; no progress bars'
            cand -v 'Say more: purge lists what it removed and prints config warnings; a crash shows where'
            cand --verbose 'Say more: purge lists what it removed and prints config warnings; a crash shows where'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'dsar;jobs'= {
            cand --state 'Only requests in this state (failed includes interrupted)'
            cand --since 'Only requests started at or after this time (2026-11-25 or 2026-11-25T16:30:00Z)'
            cand --ticket 'Only the requests of this case'
            cand --due-within 'List the unanswered cases due within this time (7d, 48h), overdue ones included, instead of requests'
            cand --config 'The source map that says where personal data lives'
            cand --state-dir 'Where the audit log, the installation key and the request ledger live [default: $XDG_STATE_HOME/dsar or ~/.local/state/dsar]'
            cand --operator 'Who is acting, for the audit log [default: the OS user]'
            cand --overdue 'List the cases past their due date and not answered yet (no export or delete under them has completed), instead of requests'
            cand --json 'Print one machine-readable JSON object on stdout instead of the human summary'
            cand -q 'Print nothing but errors; no progress bars'
            cand --quiet 'Print nothing but errors; no progress bars'
            cand -v 'Say more: purge lists what it removed and prints config warnings; a crash shows where'
            cand --verbose 'Say more: purge lists what it removed and prints config warnings; a crash shows where'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'dsar;extend'= {
            cand --reason 'Why the request needs more time (its complexity or number), as the person must be told'
            cand --config 'The source map that says where personal data lives'
            cand --state-dir 'Where the audit log, the installation key and the request ledger live [default: $XDG_STATE_HOME/dsar or ~/.local/state/dsar]'
            cand --operator 'Who is acting, for the audit log [default: the OS user]'
            cand --json 'Print one machine-readable JSON object on stdout instead of the human summary'
            cand -q 'Print nothing but errors; no progress bars'
            cand --quiet 'Print nothing but errors; no progress bars'
            cand -v 'Say more: purge lists what it removed and prints config warnings; a crash shows where'
            cand --verbose 'Say more: purge lists what it removed and prints config warnings; a crash shows where'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'dsar;cancel'= {
            cand --config 'The source map that says where personal data lives'
            cand --state-dir 'Where the audit log, the installation key and the request ledger live [default: $XDG_STATE_HOME/dsar or ~/.local/state/dsar]'
            cand --operator 'Who is acting, for the audit log [default: the OS user]'
            cand --json 'Print one machine-readable JSON object on stdout instead of the human summary'
            cand -q 'Print nothing but errors; no progress bars'
            cand --quiet 'Print nothing but errors; no progress bars'
            cand -v 'Say more: purge lists what it removed and prints config warnings; a crash shows where'
            cand --verbose 'Say more: purge lists what it removed and prints config warnings; a crash shows where'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'dsar;resume'= {
            cand -i 'A recovery key: a delete''s subjects and key, a restore''s rows and an export''s subject are sealed to it'
            cand --identity 'A recovery key: a delete''s subjects and key, a restore''s rows and an export''s subject are sealed to it'
            cand --config 'The source map that says where personal data lives'
            cand --state-dir 'Where the audit log, the installation key and the request ledger live [default: $XDG_STATE_HOME/dsar or ~/.local/state/dsar]'
            cand --operator 'Who is acting, for the audit log [default: the OS user]'
            cand -y 'Resume a delete without asking: it shows what is left to erase and asks for `yes` otherwise, as delete does'
            cand --yes 'Resume a delete without asking: it shows what is left to erase and asks for `yes` otherwise, as delete does'
            cand --json 'Print one machine-readable JSON object on stdout instead of the human summary'
            cand -q 'Print nothing but errors; no progress bars'
            cand --quiet 'Print nothing but errors; no progress bars'
            cand -v 'Say more: purge lists what it removed and prints config warnings; a crash shows where'
            cand --verbose 'Say more: purge lists what it removed and prints config warnings; a crash shows where'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'dsar;check'= {
            cand --register 'Read the register from this file (written by `dsar register export`) instead of the state dir'
            cand --since 'Only erasures completed on or after this date (YYYY-MM-DD): the day the restored backup was taken'
            cand --config 'The source map that says where personal data lives'
            cand --state-dir 'Where the audit log, the installation key and the request ledger live [default: $XDG_STATE_HOME/dsar or ~/.local/state/dsar]'
            cand --operator 'Who is acting, for the audit log [default: the OS user]'
            cand --erased 'Instead of checking the map, look for erased people of the register who are live again: exit 3 naming the tables (counts and hashes only), silent and exit 0 otherwise'
            cand --json 'Print one machine-readable JSON object on stdout instead of the human summary'
            cand -q 'Print nothing but errors; no progress bars'
            cand --quiet 'Print nothing but errors; no progress bars'
            cand -v 'Say more: purge lists what it removed and prints config warnings; a crash shows where'
            cand --verbose 'Say more: purge lists what it removed and prints config warnings; a crash shows where'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'dsar;reapply'= {
            cand --register 'Read the register from this file (written by `dsar register export`) instead of the state dir'
            cand --since 'Only erasures completed on or after this date (YYYY-MM-DD): the day the restored backup was taken'
            cand --config 'The source map that says where personal data lives'
            cand --state-dir 'Where the audit log, the installation key and the request ledger live [default: $XDG_STATE_HOME/dsar or ~/.local/state/dsar]'
            cand --operator 'Who is acting, for the audit log [default: the OS user]'
            cand --dry-run 'Show who would be erased again, and each plan; change nothing'
            cand -y 'Do not ask for confirmation'
            cand --yes 'Do not ask for confirmation'
            cand --json 'Print one machine-readable JSON object on stdout instead of the human summary'
            cand -q 'Print nothing but errors; no progress bars'
            cand --quiet 'Print nothing but errors; no progress bars'
            cand -v 'Say more: purge lists what it removed and prints config warnings; a crash shows where'
            cand --verbose 'Say more: purge lists what it removed and prints config warnings; a crash shows where'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'dsar;register'= {
            cand --config 'The source map that says where personal data lives'
            cand --state-dir 'Where the audit log, the installation key and the request ledger live [default: $XDG_STATE_HOME/dsar or ~/.local/state/dsar]'
            cand --operator 'Who is acting, for the audit log [default: the OS user]'
            cand --json 'Print one machine-readable JSON object on stdout instead of the human summary'
            cand -q 'Print nothing but errors; no progress bars'
            cand --quiet 'Print nothing but errors; no progress bars'
            cand -v 'Say more: purge lists what it removed and prints config warnings; a crash shows where'
            cand --verbose 'Say more: purge lists what it removed and prints config warnings; a crash shows where'
            cand -h 'Print help'
            cand --help 'Print help'
            cand export 'Write the register to a file, sealed with the installation key, to keep beside the backups (read it back with `--register FILE`)'
            cand list 'List the register''s entries: request, ticket, when, people and tables (no values)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'dsar;register;export'= {
            cand --out 'The file to write'
            cand --config 'The source map that says where personal data lives'
            cand --state-dir 'Where the audit log, the installation key and the request ledger live [default: $XDG_STATE_HOME/dsar or ~/.local/state/dsar]'
            cand --operator 'Who is acting, for the audit log [default: the OS user]'
            cand --json 'Print one machine-readable JSON object on stdout instead of the human summary'
            cand -q 'Print nothing but errors; no progress bars'
            cand --quiet 'Print nothing but errors; no progress bars'
            cand -v 'Say more: purge lists what it removed and prints config warnings; a crash shows where'
            cand --verbose 'Say more: purge lists what it removed and prints config warnings; a crash shows where'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'dsar;register;list'= {
            cand --config 'The source map that says where personal data lives'
            cand --state-dir 'Where the audit log, the installation key and the request ledger live [default: $XDG_STATE_HOME/dsar or ~/.local/state/dsar]'
            cand --operator 'Who is acting, for the audit log [default: the OS user]'
            cand --json 'Print one machine-readable JSON object on stdout instead of the human summary'
            cand -q 'Print nothing but errors; no progress bars'
            cand --quiet 'Print nothing but errors; no progress bars'
            cand -v 'Say more: purge lists what it removed and prints config warnings; a crash shows where'
            cand --verbose 'Say more: purge lists what it removed and prints config warnings; a crash shows where'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'dsar;register;help'= {
            cand export 'Write the register to a file, sealed with the installation key, to keep beside the backups (read it back with `--register FILE`)'
            cand list 'List the register''s entries: request, ticket, when, people and tables (no values)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'dsar;register;help;export'= {
        }
        &'dsar;register;help;list'= {
        }
        &'dsar;register;help;help'= {
        }
        &'dsar;open'= {
            cand --ticket 'The case this run answers (your ticket id, e.g. DSAR-1234): runs with one ticket form one case, with one due date. Letters, digits and `.` `_` `-` `:` `#`, at most 64'
            cand --reason 'Why, for the audit log and the ledger (a ticket summary, the article invoked)'
            cand --received 'When the person''s request was received (YYYY-MM-DD) [default: today]; needs --ticket'
            cand --regime 'The law that sets the deadline [default: `[settings] regime`, else gdpr]; needs --ticket'
            cand -i 'An age identity file (age-keygen output). Without it, the passphrase is asked for, or read from DSAR_PASSPHRASE'
            cand --identity 'An age identity file (age-keygen output). Without it, the passphrase is asked for, or read from DSAR_PASSPHRASE'
            cand --extract 'Write the files into DIR (which must not hold them already)'
            cand --config 'The source map that says where personal data lives'
            cand --state-dir 'Where the audit log, the installation key and the request ledger live [default: $XDG_STATE_HOME/dsar or ~/.local/state/dsar]'
            cand --operator 'Who is acting, for the audit log [default: the OS user]'
            cand --list 'List the files and their checksums (the default)'
            cand --allow-unrecorded 'Open an archive this installation''s audit log records no export of (one made by another installation, say). Without it such an archive is listed, not extracted, and exit is 3: its manifest can claim any request id, and anyone with the public recipient can make one'
            cand --json 'Print one machine-readable JSON object on stdout instead of the human summary'
            cand -q 'Print nothing but errors; no progress bars'
            cand --quiet 'Print nothing but errors; no progress bars'
            cand -v 'Say more: purge lists what it removed and prints config warnings; a crash shows where'
            cand --verbose 'Say more: purge lists what it removed and prints config warnings; a crash shows where'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'dsar;demo'= {
            cand --config 'The source map that says where personal data lives'
            cand --state-dir 'Where the audit log, the installation key and the request ledger live [default: $XDG_STATE_HOME/dsar or ~/.local/state/dsar]'
            cand --operator 'Who is acting, for the audit log [default: the OS user]'
            cand --json 'Print one machine-readable JSON object on stdout instead of the human summary'
            cand -q 'Print nothing but errors; no progress bars'
            cand --quiet 'Print nothing but errors; no progress bars'
            cand -v 'Say more: purge lists what it removed and prints config warnings; a crash shows where'
            cand --verbose 'Say more: purge lists what it removed and prints config warnings; a crash shows where'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'dsar;discover'= {
            cand --source 'The source whose catalog is read (its url from the source map; it may list no tables yet)'
            cand --url 'Read this database instead, no map needed: env:VAR or file:PATH holding a postgres:// or mysql:// URL, or sqlite:PATH for a SQLite file'
            cand --table 'The table the subject lives in [default: a person-like table with an email column]'
            cand --config 'The source map that says where personal data lives'
            cand --state-dir 'Where the audit log, the installation key and the request ledger live [default: $XDG_STATE_HOME/dsar or ~/.local/state/dsar]'
            cand --operator 'Who is acting, for the audit log [default: the OS user]'
            cand --json 'Print one machine-readable JSON object on stdout instead of the human summary'
            cand -q 'Print nothing but errors; no progress bars'
            cand --quiet 'Print nothing but errors; no progress bars'
            cand -v 'Say more: purge lists what it removed and prints config warnings; a crash shows where'
            cand --verbose 'Say more: purge lists what it removed and prints config warnings; a crash shows where'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'dsar;completions'= {
            cand --config 'The source map that says where personal data lives'
            cand --state-dir 'Where the audit log, the installation key and the request ledger live [default: $XDG_STATE_HOME/dsar or ~/.local/state/dsar]'
            cand --operator 'Who is acting, for the audit log [default: the OS user]'
            cand --json 'Print one machine-readable JSON object on stdout instead of the human summary'
            cand -q 'Print nothing but errors; no progress bars'
            cand --quiet 'Print nothing but errors; no progress bars'
            cand -v 'Say more: purge lists what it removed and prints config warnings; a crash shows where'
            cand --verbose 'Say more: purge lists what it removed and prints config warnings; a crash shows where'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'dsar;man'= {
            cand --out 'Directory to write the pages to'
            cand --config 'The source map that says where personal data lives'
            cand --state-dir 'Where the audit log, the installation key and the request ledger live [default: $XDG_STATE_HOME/dsar or ~/.local/state/dsar]'
            cand --operator 'Who is acting, for the audit log [default: the OS user]'
            cand --json 'Print one machine-readable JSON object on stdout instead of the human summary'
            cand -q 'Print nothing but errors; no progress bars'
            cand --quiet 'Print nothing but errors; no progress bars'
            cand -v 'Say more: purge lists what it removed and prints config warnings; a crash shows where'
            cand --verbose 'Say more: purge lists what it removed and prints config warnings; a crash shows where'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'dsar;help'= {
            cand export 'Collect every row about a subject into one age-encrypted zip archive'
            cand delete 'Erase a subject''s rows, keeping them restorable for the recovery window'
            cand restore 'Bring back a deleted request, or single rows, inside the recovery window'
            cand purge 'Permanently remove what is past its window; remove expired export archives'
            cand audit 'Verify, export or search the tamper-evident audit log'
            cand status 'Show one request from the ledger in detail (the latest by default)'
            cand jobs 'List requests from the ledger, newest first; or the cases that are overdue or due soon'
            cand extend 'Extend a case''s deadline once, as its regime allows (GDPR: two further months; CCPA: 45 days)'
            cand cancel 'Stop a running request after its current batch (from another shell)'
            cand resume 'Continue an interrupted, failed or cancelled request from its last committed batch'
            cand check 'Validate the source map against the live databases; with --erased, look for erased people who are live again (after a restore from backup)'
            cand reapply 'Erase again every person of the erasure register found live (after a restore from backup): one new request per original request, with its ticket and strategies'
            cand register 'The erasure register: who was erased, kept outside the databases (export a copy to keep beside the backups)'
            cand open 'Decrypt an export archive, verify its checksums, list or extract it (audit-logged)'
            cand demo 'A self-contained tour on an embedded copy of the Chinook database (SQLite)'
            cand discover 'Draft a source map from a database catalog (TOML on stdout; --json for JSON)'
            cand completions 'Print a shell completion script'
            cand man 'Write the man pages (dsar.1 and one per subcommand)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'dsar;help;export'= {
        }
        &'dsar;help;delete'= {
        }
        &'dsar;help;restore'= {
        }
        &'dsar;help;purge'= {
        }
        &'dsar;help;audit'= {
            cand verify 'Recompute the hash chain; exit 1 naming the first altered, removed, inserted or reordered line, or a truncated tail'
            cand head 'Print the log''s last event (sequence number and hash), to anchor it elsewhere: a ticket, syslog, another machine. `audit verify --head HASH` later proves the log still holds it'
            cand export 'Export events for a regulator: CSV (one row per event, stable columns) or JSON'
            cand show 'Find events by request, subject, action or time'
            cand certificate 'Print an erasure certificate: what was erased, when and by whom, under which ticket, since when it cannot be undone, and the events (sequence numbers, hashes) that prove it. Exit 3 when the erasure does not hold (restored, or never completed)'
        }
        &'dsar;help;audit;verify'= {
        }
        &'dsar;help;audit;head'= {
        }
        &'dsar;help;audit;export'= {
        }
        &'dsar;help;audit;show'= {
        }
        &'dsar;help;audit;certificate'= {
        }
        &'dsar;help;status'= {
        }
        &'dsar;help;jobs'= {
        }
        &'dsar;help;extend'= {
        }
        &'dsar;help;cancel'= {
        }
        &'dsar;help;resume'= {
        }
        &'dsar;help;check'= {
        }
        &'dsar;help;reapply'= {
        }
        &'dsar;help;register'= {
            cand export 'Write the register to a file, sealed with the installation key, to keep beside the backups (read it back with `--register FILE`)'
            cand list 'List the register''s entries: request, ticket, when, people and tables (no values)'
        }
        &'dsar;help;register;export'= {
        }
        &'dsar;help;register;list'= {
        }
        &'dsar;help;open'= {
        }
        &'dsar;help;demo'= {
        }
        &'dsar;help;discover'= {
        }
        &'dsar;help;completions'= {
        }
        &'dsar;help;man'= {
        }
        &'dsar;help;help'= {
        }
    ]
    $completions[$command]
}
