//! Ctrl-C and SIGTERM: finish the current batch, record the request as cancelled, exit 130.
//! A second signal aborts at once (safe too: the open batch's transaction rolls back).

use std::sync::atomic::{AtomicBool, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Catch SIGINT and SIGTERM for the rest of the process. Call from inside the runtime.
pub fn install() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) else {
        return;
    };
    tokio::spawn(async move {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        REQUESTED.store(true, Ordering::SeqCst);
        eprintln!("\nstopping after the current batch (send the signal again to stop now)");
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        std::process::exit(130);
    });
}

/// Whether a stop was asked for.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}
