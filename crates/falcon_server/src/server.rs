//! The accept loop: HTTP/1.1 connections served by hyper with a header-read
//! timeout, a bounded number of connections, and graceful shutdown.

use std::future::Future;
use std::sync::Arc;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::router::router;
use crate::state::AppState;

/// How the server stopped.
#[derive(Debug, PartialEq, Eq)]
pub enum Stopped {
    /// Every in-flight request finished.
    Drained,
    /// The drain timeout passed with connections still open; they were
    /// abandoned.
    DrainTimedOut { open_connections: usize },
}

/// Serves `state` on `listener` until `shutdown` resolves, then stops
/// accepting, lets in-flight requests finish (at most `drain_timeout`),
/// and returns. Models are loaded in the background: readiness is false
/// until they all are.
pub async fn run(
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
    state: AppState,
) -> std::io::Result<Stopped> {
    let loader = state.clone();
    tokio::spawn(async move {
        match loader.reload().await {
            Ok(0) => tracing::info!("all models loaded; ready"),
            Ok(n) => tracing::error!(failed = n, "some models failed to load; not ready"),
            Err(e) => tracing::error!(error = %e, "model repository scan failed; not ready"),
        }
    });
    let app = router(state.clone());
    let config = state.config().clone();
    // Bounds open connections (each holds buffers and a task); a permit is
    // held for a connection's life. Beyond the bound, new connections are
    // closed at once instead of queuing.
    let connections = Arc::new(Semaphore::new(config.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(config.header_timeout)
        .keep_alive(true)
        .max_buf_size(64 << 10);
    tokio::pin!(shutdown);
    tracing::info!(addr = %listener.local_addr()?, "listening");
    loop {
        let (stream, peer) = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // EMFILE and friends: back off briefly rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = connections.clone().try_acquire_owned() else {
            tracing::warn!(%peer, "connection limit reached; closing new connection");
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let svc = TowerToHyperService::new(app.clone());
        let conn = http.serve_connection(TokioIo::new(stream), svc);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    tracing::info!("shutting down: draining in-flight requests");
    let open = graceful.count();
    match tokio::time::timeout(config.drain_timeout, graceful.shutdown()).await {
        Ok(()) => {
            tracing::info!(connections = open, "drained");
            Ok(Stopped::Drained)
        }
        Err(_) => {
            let open_connections = connections_left(&connections, config.max_connections);
            tracing::warn!(open_connections, "drain timeout passed; exiting anyway");
            Ok(Stopped::DrainTimedOut { open_connections })
        }
    }
}

fn connections_left(sem: &Semaphore, max: usize) -> usize {
    max.max(1) - sem.available_permits()
}
