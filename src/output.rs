//! Writing results to standard output.

use std::io::Write;

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
