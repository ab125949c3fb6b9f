//! `lockbox serve`: the vault over HTTPS, so that writers, customers and engineers work from
//! their own machines. It holds no private key of any tenant, level, engineer or monitor:
//! only envelopes, signed notes and metadata pass through it (docs/DESIGN.md, "Server").
//!
//! One tokio runtime; each connection is TLS (rustls) then HTTP/1.1 (hyper) into an axum
//! router. SIGTERM or SIGINT stops accepting, lets requests in flight finish (30 s at most),
//! then exits.

mod batches;
mod commits;
mod download;
mod group;
mod limits;
mod metrics;
pub mod openapi;
mod pin;
mod routes;
mod tls;
pub mod webhooks;
pub mod wire;

pub use pin::{Pinned, well_formed as pin_well_formed};

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use lockbox::vault::{Error, Vault};
use tokio::net::TcpListener;

/// The TLS provider of server and client: ring, as the rest of lockbox's cryptography.
/// rustls deprecates it for lacking a post-quantum key exchange (its aws-lc-rs provider has
/// one, but needs cmake and a second crypto library): a recorded limitation (docs/DESIGN.md).
#[allow(deprecated)]
pub fn tls_provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// How the server listens.
pub struct Listen {
    pub addr: SocketAddr,
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Plain HTTP: only on a loopback address.
    pub plain_http: bool,
    /// Requests a second each token may send (bursts of twice that).
    pub rate_limit: u32,
    /// How webhooks are sent.
    pub webhooks: webhooks::Settings,
}

/// How long a client may take to send a request's headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);
/// Connections served at once; more wait to be accepted.
const MAX_CONNECTIONS: usize = 256;
/// How long requests in flight may take to finish after a stop signal.
const DRAIN: Duration = Duration::from_secs(30);

/// Serves `vault` (found in `dir`) until SIGTERM or SIGINT.
pub fn serve(vault: Vault, dir: &Path, listen: Listen) -> Result<(), Error> {
    // Structured lines on standard error: time, level, event and its fields. Handlers log ids,
    // counts and names only: never a header, a query's values, a body or a token.
    let _ =
        tracing_subscriber::fmt().with_writer(std::io::stderr).with_ansi(false).with_target(false).try_init();
    if listen.plain_http && !listen.addr.ip().is_loopback() {
        return Err(Error::usage(format!(
            "plain HTTP is served only on a loopback address, not {}",
            listen.addr.ip()
        )));
    }
    let identity = match listen.plain_http {
        true => None,
        false => {
            let given = listen.tls.as_ref().map(|(c, k)| (c.as_path(), k.as_path()));
            Some(tls::identity(given, &dir.join("server"))?)
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::other(format!("cannot start the server's runtime: {e}")))?;
    runtime.block_on(run(vault, listen.addr, identity, listen.rate_limit, listen.webhooks))
}

async fn run(
    vault: Vault,
    addr: SocketAddr,
    identity: Option<tls::Identity>,
    rate_limit: u32,
    hooks: webhooks::Settings,
) -> Result<(), Error> {
    let listener =
        TcpListener::bind(addr).await.map_err(|e| Error::other(format!("cannot listen on {addr}: {e}")))?;
    let bound = listener.local_addr().map_err(|e| Error::other(format!("cannot listen on {addr}: {e}")))?;
    let acceptor = identity.as_ref().map(|i| tokio_rustls::TlsAcceptor::from(i.config.clone()));
    // Watched before the address is printed: whoever reads it may signal at once.
    let mut stop = stop_signal()?;
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let scheme = if acceptor.is_some() { "https" } else { "http" };
        let _ = writeln!(out, "listening on {scheme}://{bound}");
        if let Some(i) = &identity {
            let _ = writeln!(out, "pin {}", i.pin);
            let _ = writeln!(out, "certificate {}", i.cert_path.display());
        }
        let _ = out.flush();
    }
    let group = group::Group::start(vault.clone())?;
    let app = Arc::new(routes::App {
        vault,
        group,
        metrics: metrics::Metrics::new(),
        limits: limits::RateLimits::new(rate_limit),
        batches: tokio::sync::Semaphore::new(batches::BATCHES_AT_ONCE),
    });
    let connections = app.metrics.connections.clone();
    let sender = tokio::spawn(webhooks::run(app.vault.clone(), hooks));
    let app = routes::router(app.clone())
        .merge(batches::router(app.clone()))
        .route("/openapi.json", axum::routing::get(openapi::serve))
        .layer(axum::middleware::from_fn_with_state(app, log_request));
    let service = TowerToHyperService::new(app);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    // At most this many connections at once: each may hold a thread of the blocking pool.
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => Slot::taken(slot, &connections),
                Err(_) => break,
            },
            _ = stop.recv() => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop.recv() => break,
        };
        let _ = stream.set_nodelay(true);
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new()).header_read_timeout(HEADER_TIMEOUT).max_buf_size(64 * 1024);
        let service = service.clone();
        match &acceptor {
            Some(acceptor) => {
                let acceptor = acceptor.clone();
                let watcher = graceful.watcher();
                tokio::spawn(async move {
                    let _slot = slot;
                    let tls = match tokio::time::timeout(HEADER_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => tls,
                        Ok(Err(e)) => {
                            return tracing::warn!(%peer, error = %e, "TLS handshake failed");
                        }
                        Err(_) => return tracing::warn!(%peer, "TLS handshake timed out"),
                    };
                    let conn = http.serve_connection(TokioIo::new(tls), service);
                    let _ = watcher.watch(conn).await;
                });
            }
            None => {
                let conn = http.serve_connection(TokioIo::new(stream), service);
                let watched = graceful.watch(conn);
                tokio::spawn(async move {
                    let _slot = slot;
                    let _ = watched.await;
                });
            }
        }
    }
    sender.abort();
    tracing::info!("stopping; letting requests in flight finish");
    if tokio::time::timeout(DRAIN, graceful.shutdown()).await.is_err() {
        tracing::warn!(drain_secs = DRAIN.as_secs(), "requests still running; stopping anyway");
    }
    Ok(())
}

/// SIGTERM or SIGINT, as a channel that yields once.
fn stop_signal() -> Result<tokio::sync::mpsc::Receiver<()>, Error> {
    use tokio::signal::unix::{SignalKind, signal};
    let failed = |e: std::io::Error| Error::other(format!("cannot watch for signals: {e}"));
    let mut term = signal(SignalKind::terminate()).map_err(failed)?;
    let mut int = signal(SignalKind::interrupt()).map_err(failed)?;
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        let _ = tx.send(()).await;
    });
    Ok(rx)
}

/// One line per request: method, path, status, time. Never a header (the token is one), a
/// query or a body.
async fn log_request(
    axum::extract::State(app): axum::extract::State<Arc<routes::App>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let (method, path) = (request.method().clone(), request.uri().path().to_owned());
    // The route's pattern, not its path: no tenant or item name in a metric's label.
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or("unmatched", |m| m.as_str())
        .to_owned();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    let elapsed = started.elapsed().as_secs_f64();
    let status = response.status().as_u16();
    let labels = metrics::RequestLabels { method: method.to_string(), route: route.clone(), status };
    app.metrics.requests.get_or_create(&labels).inc();
    app.metrics.latency.get_or_create(&metrics::RouteLabels { route }).observe(elapsed);
    tracing::info!(ms = (elapsed * 10_000.0).round() / 10.0, "{method} {path} {status}");
    response
}

/// A connection's place among the [`MAX_CONNECTIONS`], counted in the connections gauge.
struct Slot {
    _permit: tokio::sync::OwnedSemaphorePermit,
    gauge: prometheus_client::metrics::gauge::Gauge,
}

impl Slot {
    fn taken(
        permit: tokio::sync::OwnedSemaphorePermit,
        gauge: &prometheus_client::metrics::gauge::Gauge,
    ) -> Slot {
        gauge.inc();
        Slot { _permit: permit, gauge: gauge.clone() }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.gauge.dec();
    }
}
