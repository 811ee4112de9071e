//! Ctrl-C and SIGTERM, for the commands that stop cleanly when asked: `run` (stop dispatching,
//! let calls in flight finish) and `sandbox` (stop serving).

/// Ctrl-C and SIGTERM, registered when created so that no signal sent after it is missed.
pub struct Signals {
    #[cfg(unix)]
    unix: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl Signals {
    /// Registers the handlers. Where they cannot be registered (no signal support in this
    /// process), Ctrl-C is still heard through tokio's portable handler.
    pub fn install() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let unix = signal(SignalKind::interrupt())
                .and_then(|int| Ok((int, signal(SignalKind::terminate())?)))
                .ok();
            Signals { unix }
        }
        #[cfg(not(unix))]
        Signals {}
    }

    /// The next interrupt or termination request.
    pub async fn next(&mut self) {
        #[cfg(unix)]
        if let Some((int, term)) = &mut self.unix {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}
