//! Ctrl-C and SIGTERM: finish the current batch, record the request as cancelled, exit 130.
//! A second signal aborts at once (safe too: the open batch's transaction rolls back).

use std::sync::atomic::{AtomicBool, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Catch SIGINT and SIGTERM for the rest of the process (once, however often it is called).
/// The signals are watched on a thread of their own, with a runtime of its own: the main
/// runtime has one thread, which a long statement (a SQLite `VACUUM`, say) can hold for
/// minutes, and a second signal must stop the process at once even then.
pub fn install() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let (ready, registered) = std::sync::mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || watch(ready));
        // Back only once the handlers are in place, so no signal falls between the two.
        if spawned.is_ok() {
            let _ = registered.recv();
        }
    });
}

fn watch(ready: std::sync::mpsc::Sender<()>) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
        return;
    };
    runtime.block_on(async move {
        let signals = (signal(SignalKind::interrupt()), signal(SignalKind::terminate()));
        let _ = ready.send(());
        let (Ok(mut int), Ok(mut term)) = signals else {
            return;
        };
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
