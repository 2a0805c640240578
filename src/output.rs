//! Writing results to standard output.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::UserError;

/// Write `bytes` to standard output. A reader that went away (`dsar … | head`) is not an
/// error: what it did not read was not wanted, as in ripgrep.
pub fn write_stdout(bytes: &[u8]) -> Result<(), UserError> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(UserError::runtime(format!("cannot write to standard output: {e}")))
        }
        _ => Ok(()),
    }
}

/// Whether this process has printed its `--json` result: a command that then fails (exit 3
/// after its report, say) has said all it has to say on stdout.
static RESULT_PRINTED: AtomicBool = AtomicBool::new(false);

/// Print a command's `--json` result, one object on one line (a closed pipe is a quiet stop).
pub fn print_json(value: &impl serde::Serialize) {
    RESULT_PRINTED.store(true, Ordering::SeqCst);
    let mut line = serde_json::to_string(value).unwrap_or_default();
    line.push('\n');
    let _ = write_stdout(line.as_bytes());
}

/// With `--json`, a failure is a result too: `{"state":"error","error":…,"hint":…,"exit":N}` on
/// stdout (as well as the `error:` line on stderr), unless the command printed its own result.
pub fn print_json_error(error: &UserError) {
    if RESULT_PRINTED.load(Ordering::SeqCst) {
        return;
    }
    print_json(&serde_json::json!({
        "state": "error",
        "error": error.message,
        "hint": error.hint,
        "exit": error.kind.code(),
    }));
}
