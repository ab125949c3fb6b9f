//! The HTTP API: who may call what (a token's role and tenant), and the vault call behind
//! each route. Vault calls block (the store is a file): they run on tokio's blocking pool.

use std::io::Read;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures_util::StreamExt;
use lockbox::vault::{Caller, Error, ErrorKind, ItemFilter, ItemInfo, Op, Principal, Replace, Role, Vault};
use serde::Deserialize;
use tokio::sync::{mpsc, oneshot};

use super::download;
use super::wire::{Failure, FailureBody};

/// What every handler shares: the vault, opened once.
pub struct App {
    pub vault: Vault,
    /// Where small uploads are stored together.
    pub group: super::group::Group,
    pub metrics: super::metrics::Metrics,
    pub limits: super::limits::RateLimits,
    /// Places for batch bodies held at once.
    pub batches: tokio::sync::Semaphore,
}

type Shared = State<Arc<App>>;

/// An error as the API answers it: the vault's kind and message, under an HTTP status.
pub struct ApiError {
    status: StatusCode,
    kind: ErrorKind,
    message: String,
    /// Seconds until a refused request may be sent again (429).
    retry_after: Option<u64>,
}

impl From<Error> for ApiError {
    fn from(e: Error) -> ApiError {
        let status = match e.kind {
            ErrorKind::Usage | ErrorKind::Integrity => StatusCode::BAD_REQUEST,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::AccessDenied => StatusCode::FORBIDDEN,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::InUse => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError { status, kind: e.kind, message: e.message, retry_after: None }
    }
}

impl ApiError {
    fn unauthenticated(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::UNAUTHORIZED,
            kind: ErrorKind::AccessDenied,
            message: message.into(),
            retry_after: None,
        }
    }

    /// A body that took too long to arrive (408).
    pub(super) fn timed_out(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::REQUEST_TIMEOUT,
            kind: ErrorKind::Usage,
            message: message.into(),
            retry_after: None,
        }
    }

    /// A body longer than the route takes (413).
    pub(super) fn too_large(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            kind: ErrorKind::Usage,
            message: message.into(),
            retry_after: None,
        }
    }

    fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::FORBIDDEN,
            kind: ErrorKind::AccessDenied,
            message: message.into(),
            retry_after: None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body =
            Failure { error: FailureBody { kind: self.kind.name().to_owned(), message: self.message } };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
        }
        response
    }
}

/// The routes.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .route("/v1/whoami", get(whoami))
        .route("/v1/tenants/{tenant}", get(tenant_view))
        .route("/v1/tenants/{tenant}/state", get(tenant_state))
        .route(
            "/v1/tenants/{tenant}/commits/{op}",
            axum::routing::post(commit).layer(axum::extract::DefaultBodyLimit::max(MAX_ROTATION_BODY)),
        )
        .route("/v1/tenants/{tenant}/items", get(list))
        .route("/v1/tenants/{tenant}/items/{*item}", get(get_envelope).put(put_envelope).delete(remove))
        .with_state(app)
}

/// Runs a vault call on the blocking pool.
pub(super) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(|_| worker_stopped())?.map_err(ApiError::from)
}

fn worker_stopped() -> ApiError {
    ApiError::from(Error::other("the request's worker stopped"))
}

/// The principal the request's bearer token lets in, if it may act on `tenant` in one of
/// `roles`; and a vault handle that names it in the audit log.
pub(super) async fn authorize(
    app: &App,
    headers: &HeaderMap,
    tenant: &str,
    roles: &[Role],
) -> Result<(Vault, Principal), ApiError> {
    let principal = authenticate(app, headers).await?;
    if principal.tenant != tenant {
        return Err(ApiError::forbidden(format!(
            "access denied: token {} is for tenant {:?}, not {tenant:?}",
            principal.token, principal.tenant
        )));
    }
    if !roles.contains(&principal.role) {
        let allowed: Vec<&str> = roles.iter().map(|r| r.name()).collect();
        return Err(ApiError::forbidden(format!(
            "access denied: a {} token cannot do this (it takes: {})",
            principal.role.name(),
            allowed.join(", ")
        )));
    }
    let vault = app.vault.acting_as(Caller::new(&principal.actor()));
    Ok((vault, principal))
}

/// Who the bearer token lets in: its principal and tenant, the vault's id, and the name the
/// audit log will give its actions.
#[utoipa::path(get, path = "/v1/whoami", security(("token" = [])), responses(
        (status = 200, description = "Who the token lets in", body = super::wire::WhoAmI),
        (status = 400, description = "A bad request", body = Failure),
        (status = 401, description = "No valid token", body = Failure),
        (status = 403, description = "The token may not do this", body = Failure),
        (status = 404, description = "Not found", body = Failure),
        (status = 429, description = "Rate limited", body = Failure)))]
async fn whoami(State(app): Shared, headers: HeaderMap) -> Result<Json<super::wire::WhoAmI>, ApiError> {
    let principal = authenticate(&app, &headers).await?;
    let (vault, tenant) = (app.vault.clone(), principal.tenant.clone());
    Ok(Json(super::wire::WhoAmI {
        vault: lockbox::format::hex(&vault.id()),
        tenant,
        role: principal.role.name().to_owned(),
        engineer: principal.engineer.clone(),
        actor: principal.actor(),
    }))
}

#[derive(Deserialize)]
struct StateQuery {
    /// The first position of the tenant's audit chain to include (none if absent).
    audit_from: Option<u64>,
    #[serde(default)]
    items: bool,
}

/// The rows a party of the tenant reads: its client loads them into a read-only copy and
/// checks them there (see `lockbox::vault::TenantState`).
#[utoipa::path(get, path = "/v1/tenants/{tenant}/state", security(("token" = [])), params(
        ("tenant" = String, Path, description = "Tenant name"),
        ("audit_from" = Option<u64>, Query, description = "First position of the tenant's audit chain to include"),
        ("items" = Option<bool>, Query, description = "Include the item records")),
    responses(
        (status = 200, description = "The rows of the tenant's state (docs/FORMAT.md)", body = lockbox::vault::TenantState),
        (status = 400, description = "A bad request", body = Failure),
        (status = 401, description = "No valid token", body = Failure),
        (status = 403, description = "The token may not do this", body = Failure),
        (status = 404, description = "Not found", body = Failure),
        (status = 429, description = "Rate limited", body = Failure)))]
async fn tenant_state(
    State(app): Shared,
    Path(tenant): Path<String>,
    Query(q): Query<StateQuery>,
    headers: HeaderMap,
) -> Result<Json<lockbox::vault::TenantState>, ApiError> {
    // A writer needs only the tenant view; an engineer sees its own records and no log.
    let roles = [Role::Customer, Role::Engineer, Role::Monitor, Role::Auditor];
    let (vault, principal) = authorize(&app, &headers, &tenant, &roles).await?;
    let engineer = (principal.role == Role::Engineer).then(|| principal.engineer.clone().unwrap_or_default());
    let (from, items) = match engineer {
        Some(_) => (u64::MAX, false),
        None => (q.audit_from.unwrap_or(u64::MAX), q.items),
    };
    // A customer token whose tenant is not there yet was made to create it (no other kind
    // authenticates then): it reads the vault's own rows to create it on.
    let new_tenant = principal.role == Role::Customer;
    let (rows, tenant) = blocking(move || {
        Ok((vault.tenant_rows(&tenant, from, items, engineer.as_deref(), new_tenant)?, tenant))
    })
    .await?;
    tracing::info!(tenant, audit_from = q.audit_from, items = q.items, rows = rows.len(), "tenant state");
    Ok(Json(lockbox::vault::TenantState::of(&rows)))
}

/// The roles that may send `op`.
fn roles_of(op: Op) -> &'static [Role] {
    match op {
        Op::Enroll | Op::Request => &[Role::Engineer],
        Op::MonitorCheckpoint => &[Role::Monitor],
        Op::Deny
        | Op::Approve
        | Op::Revoke
        | Op::Manifest
        | Op::Checkpoint
        | Op::AddLevel
        | Op::Rotate
        | Op::CreateTenant => &[Role::Customer],
    }
}

/// The most a commit's body may hold: an approval of many levels is a few KiB.
const MAX_COMMIT_BODY: usize = 1024 * 1024;
/// The most a rotation's body may hold: one that re-wraps carries each item's old and new
/// header as JSON (some 1.6 KiB an item, so about 40,000 items; a larger level is rotated
/// against the vault itself).
const MAX_ROTATION_BODY: usize = 64 * 1024 * 1024;

/// A change a client prepared and checked on its copy: the same commit step of the library,
/// run here on the vault as the principal the token names.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/commits/{op}", security(("token" = [])), params(
        ("tenant" = String, Path, description = "Tenant name"),
        ("op" = super::wire::OpName, Path, description = "The operation")),
    request_body(content = Object, description = "The operation's body (docs/FORMAT.md, \"Commits\")", content_type = "application/json"),
    responses(
        (status = 200, description = "The commit's answer (a record, or null)", body = Object),
        (status = 409, description = "The vault changed meanwhile", body = Failure),
        (status = 413, description = "Body too large", body = Failure),
        (status = 400, description = "A bad request", body = Failure),
        (status = 401, description = "No valid token", body = Failure),
        (status = 403, description = "The token may not do this", body = Failure),
        (status = 404, description = "Not found", body = Failure),
        (status = 429, description = "Rate limited", body = Failure)))]
async fn commit(
    State(app): Shared,
    Path((tenant, op)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let op = Op::named(&op).ok_or_else(|| ApiError {
        status: StatusCode::NOT_FOUND,
        kind: ErrorKind::NotFound,
        message: format!("no operation {:?}", op.escape_debug().to_string()),
        retry_after: None,
    })?;
    let (vault, principal) = authorize(&app, &headers, &tenant, roles_of(op)).await?;
    let limit = if op == Op::Rotate { MAX_ROTATION_BODY } else { MAX_COMMIT_BODY };
    if body.len() > limit {
        return Err(ApiError {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            kind: ErrorKind::Usage,
            message: format!("a {} commit's body holds at most {limit} bytes", op.name()),
            retry_after: None,
        });
    }
    let answer = blocking(move || super::commits::run(&vault, &principal, &tenant, op, &body)).await?;
    app.metrics.commits.get_or_create(&super::metrics::OpLabels { op: op.name().to_owned() }).inc();
    Ok(Json(answer))
}

/// The principal a request's bearer token lets in (any tenant, any role).
async fn authenticate(app: &App, headers: &HeaderMap) -> Result<Principal, ApiError> {
    let presented = zeroize::Zeroizing::new(
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| ApiError::unauthenticated("access denied: a bearer token is needed"))?
            .to_owned(),
    );
    let vault = app.vault.clone();
    // A refusal is 401 here (no principal yet), not the 403 of a principal refused.
    let principal = blocking(move || vault.authenticate(&presented)).await.map_err(|e| match e.kind {
        ErrorKind::AccessDenied => ApiError::unauthenticated(e.message),
        _ => e,
    })?;
    if let Err(wait) = app.limits.spend(&principal.token) {
        app.metrics.rate_limited.inc();
        return Err(ApiError {
            status: StatusCode::TOO_MANY_REQUESTS,
            kind: ErrorKind::InUse,
            message: format!(
                "token {} sent more requests than the server's rate limit allows; try again in a moment",
                principal.token
            ),
            retry_after: Some(wait.as_secs().max(1)),
        });
    }
    Ok(principal)
}

/// The Prometheus metrics (no tenant, item or token in any label).
#[utoipa::path(get, path = "/metrics", responses((status = 200, description = "Prometheus metrics", body = String, content_type = "application/openmetrics-text")))]
async fn metrics(State(app): Shared) -> Response {
    (
        [(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")],
        app.metrics.encode(),
    )
        .into_response()
}

#[utoipa::path(get, path = "/healthz", responses((status = 200, description = "The server runs", body = String, content_type = "text/plain")))]
async fn healthz() -> &'static str {
    "ok\n"
}

#[utoipa::path(get, path = "/readyz", responses(
        (status = 200, description = "The vault answers", body = String, content_type = "text/plain"),
        (status = 500, description = "The vault does not answer", body = Failure),
        (status = 503, description = "The vault is held by another process", body = Failure)))]
async fn ready(State(app): Shared) -> Result<&'static str, ApiError> {
    let vault = app.vault.clone();
    blocking(move || vault.tenants().map(drop)).await?;
    Ok("ready\n")
}

/// What a remote writer checks and seals to: the tenant's record (signing key, signed
/// manifest), the vault id and the monitor's checkpoint.
#[utoipa::path(get, path = "/v1/tenants/{tenant}", security(("token" = [])), params(("tenant" = String, Path, description = "Tenant name")),
    responses(
        (status = 200, description = "The tenant's record, vault id and monitor checkpoint (docs/FORMAT.md)", body = Object),
        (status = 400, description = "A bad request", body = Failure),
        (status = 401, description = "No valid token", body = Failure),
        (status = 403, description = "The token may not do this", body = Failure),
        (status = 404, description = "Not found", body = Failure),
        (status = 429, description = "Rate limited", body = Failure)))]
async fn tenant_view(
    State(app): Shared,
    Path(tenant): Path<String>,
    headers: HeaderMap,
) -> Result<Json<lockbox::vault::TenantView>, ApiError> {
    let (vault, _) = authorize(&app, &headers, &tenant, &Role::ALL).await?;
    Ok(Json(blocking(move || vault.tenant_view(&tenant)).await?))
}

#[derive(Deserialize)]
struct ListQuery {
    level: Option<String>,
    prefix: Option<String>,
}

#[utoipa::path(get, path = "/v1/tenants/{tenant}/items", security(("token" = [])), params(
        ("tenant" = String, Path, description = "Tenant name"),
        ("level" = Option<String>, Query, description = "Only this level's items"),
        ("prefix" = Option<String>, Query, description = "Only items whose id starts with this")),
    responses(
        (status = 200, description = "The items", body = Vec<ItemInfo>),
        (status = 400, description = "A bad request", body = Failure),
        (status = 401, description = "No valid token", body = Failure),
        (status = 403, description = "The token may not do this", body = Failure),
        (status = 404, description = "Not found", body = Failure),
        (status = 429, description = "Rate limited", body = Failure)))]
async fn list(
    State(app): Shared,
    Path(tenant): Path<String>,
    Query(q): Query<ListQuery>,
    headers: HeaderMap,
) -> Result<Json<Vec<ItemInfo>>, ApiError> {
    let (vault, _) = authorize(&app, &headers, &tenant, &Role::ALL).await?;
    let filter = ItemFilter { level: q.level, prefix: q.prefix };
    let items = blocking(move || vault.list_where(&tenant, &filter)).await?;
    Ok(Json(items))
}

#[utoipa::path(get, path = "/v1/tenants/{tenant}/items/{item}", security(("token" = [])), params(
        ("tenant" = String, Path, description = "Tenant name"),
        ("item" = String, Path, description = "Item id")),
    responses(
        (status = 200, description = "The item's envelope, streamed", body = Vec<u8>, content_type = "application/octet-stream"),
        (status = 400, description = "A bad request", body = Failure),
        (status = 401, description = "No valid token", body = Failure),
        (status = 403, description = "The token may not do this", body = Failure),
        (status = 404, description = "Not found", body = Failure),
        (status = 429, description = "Rate limited", body = Failure)))]
async fn get_envelope(
    State(app): Shared,
    Path((tenant, item)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (vault, principal) = authorize(&app, &headers, &tenant, &[Role::Customer, Role::Engineer]).await?;
    // A small envelope (most are) is read with the others asked for at the same time, and its
    // read logged in their one durable transaction; a larger one streams.
    let get = lockbox::vault::RawGet { tenant: tenant.clone(), item: item.clone(), actor: principal.actor() };
    let grouped = app.group.get_many(vec![get]).await.pop();
    match grouped {
        Some(Ok(Some(envelope))) => {
            return Ok(([(header::CONTENT_TYPE, "application/octet-stream")], envelope).into_response());
        }
        Some(Err(e)) => return Err(e.into()),
        Some(Ok(None)) | None => {}
    }
    let (tx, mut rx) = mpsc::channel::<download::Piece>(download::QUEUED);
    let (ready_tx, ready_rx) = oneshot::channel();
    let failed = tx.clone();
    let task = tokio::task::spawn_blocking(move || {
        let mut out = download::Sink::new(tx, ready_tx);
        let result = vault.get_raw_pieces(&tenant, &item, &mut |piece| out.take(piece)).and_then(|info| {
            out.flush()?;
            Ok(info)
        });
        if let Err(e) = &result {
            // Once streaming, an error can only cut the body short: the client sees it cut,
            // and the log says why (a damaged chunk, say), for the operator the client sends.
            if out.started() && e.kind != ErrorKind::BrokenPipe {
                tracing::warn!(tenant, item, error = %e.message, "an envelope's stream stopped part-way");
            }
            let _ = failed.blocking_send(Err(std::io::Error::other(e.message.clone())));
        }
        result
    });
    if ready_rx.await.is_err() {
        // The call ended before writing anything: its error is the answer.
        task.await.map_err(|_| worker_stopped())??;
    }
    let stream = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], Body::from_stream(stream)).into_response())
}

/// How long an upload may send nothing before it is refused.
const BODY_PIECE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// How much of a refused upload is read and dropped before the answer (beyond it the
/// connection closes, and the client sees it cut).
const DRAIN_BYTES: usize = 64 * 1024 * 1024;

#[derive(Deserialize)]
struct PutQuery {
    #[serde(default)]
    replace: bool,
    /// Replace only the item whose stored header has this SHA-256 (hex): the version read.
    if_header: Option<String>,
}

impl PutQuery {
    fn replace(&self) -> Result<Replace, ApiError> {
        Ok(match (&self.if_header, self.replace) {
            (Some(hash), _) => Replace::IfHeader(
                lockbox::format::hex_array("if_header", hash)
                    .map_err(|_| Error::usage("if_header must be 64 hex digits (a SHA-256)"))?,
            ),
            (None, true) => Replace::Any,
            (None, false) => Replace::No,
        })
    }
}

/// A piece of a request body on its way to the blocking vault call.
/// `first` with the pieces of the body that have arrived already behind it (up to
/// [`GATHER_BYTES`]): one hand-over to the storing thread per batch, not per frame of the
/// HTTP framing (8 KiB from many clients). An end or failure met is left in `after`.
fn gather(
    first: Bytes,
    stream: &mut (impl futures_util::Stream<Item = Result<Bytes, axum::Error>> + Unpin),
    after: &mut Option<Piece>,
) -> Bytes {
    use futures_util::FutureExt;
    let mut joined: Option<Vec<u8>> = None;
    while joined.as_ref().map_or(first.len(), |j| j.len()) < GATHER_BYTES {
        match stream.next().now_or_never() {
            Some(Some(Ok(more))) => {
                let joined = joined.get_or_insert_with(|| {
                    let mut j = Vec::with_capacity(first.len() + more.len());
                    j.extend_from_slice(&first);
                    j
                });
                joined.extend_from_slice(&more)
            }
            Some(Some(Err(e))) => {
                *after = Some(Piece::Failed(std::io::Error::other(e)));
                break;
            }
            Some(None) => {
                *after = Some(Piece::End);
                break;
            }
            None => break,
        }
    }
    joined.map_or(first, Bytes::from)
}

/// The most of a body [`gather`] hands over at once.
const GATHER_BYTES: usize = 256 << 10;

enum Piece {
    Data(Bytes),
    /// The body ended as the client ended it.
    End,
    Failed(std::io::Error),
}

/// Reads a request body from the channel its stream feeds. The body has ended only when the
/// feed says so: a channel closed without [`Piece::End`] (the server stopping, the feed cut) is
/// an error, never the end of an envelope that would then be stored cut short.
struct ChannelReader {
    rx: mpsc::Receiver<Piece>,
    current: Bytes,
    ended: bool,
}

impl Read for ChannelReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            if self.ended {
                return Ok(0);
            }
            match self.rx.blocking_recv() {
                Some(Piece::Data(bytes)) => self.current = bytes,
                Some(Piece::End) => self.ended = true,
                Some(Piece::Failed(e)) => return Err(e),
                None => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "the upload stopped before its end",
                    ));
                }
            }
        }
        let n = out.len().min(self.current.len());
        out[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

#[utoipa::path(put, path = "/v1/tenants/{tenant}/items/{item}", security(("token" = [])), params(
        ("tenant" = String, Path, description = "Tenant name"),
        ("item" = String, Path, description = "Item id"),
        ("replace" = Option<bool>, Query, description = "Replace an item that exists"),
        ("if_header" = Option<String>, Query, description = "Replace only the item whose stored header has this SHA-256 (64 hex digits)")),
    request_body(content = Vec<u8>, description = "An envelope (docs/FORMAT.md)", content_type = "application/octet-stream"),
    responses(
        (status = 200, description = "The item stored", body = ItemInfo),
        (status = 409, description = "The item exists, or the level was re-keyed", body = Failure),
        (status = 400, description = "A bad request", body = Failure),
        (status = 401, description = "No valid token", body = Failure),
        (status = 403, description = "The token may not do this", body = Failure),
        (status = 404, description = "Not found", body = Failure),
        (status = 429, description = "Rate limited", body = Failure)))]
async fn put_envelope(
    State(app): Shared,
    Path((tenant, item)): Path<(String, String)>,
    Query(q): Query<PutQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<ItemInfo>, ApiError> {
    let (vault, principal) = authorize(&app, &headers, &tenant, &[Role::Writer, Role::Customer]).await?;
    let replace = q.replace()?;
    let mut stream = body.into_data_stream();
    // A small envelope (most are) is read whole and stored with the others arriving at the
    // same time, in one durable transaction (group commit); a larger one streams.
    let mut head: Vec<u8> = Vec::new();
    let mut first = None;
    // Only while there is room among the uploads waiting for a group; else it streams.
    let place = app.group.places.clone().try_acquire_owned().ok();
    let limit = if place.is_some() { lockbox::vault::MAX_GROUPED_ENVELOPE } else { 0 };
    while head.len() <= limit {
        match tokio::time::timeout(BODY_PIECE_TIMEOUT, stream.next()).await {
            Ok(Some(Ok(bytes))) => head.extend_from_slice(&bytes),
            Ok(None) => {
                let put = lockbox::vault::RawPut {
                    tenant,
                    item,
                    envelope: head,
                    replace,
                    actor: principal.actor(),
                };
                let stored = app.group.put(put).await;
                drop(place);
                return Ok(Json(stored?));
            }
            Ok(Some(Err(e))) => {
                first = Some(Piece::Failed(std::io::Error::other(e)));
                break;
            }
            Err(_) => {
                first = Some(Piece::Failed(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "the client sent nothing for too long",
                )));
                break;
            }
        }
    }
    let (tx, rx) = mpsc::channel::<Piece>(4);
    let mut feed = tokio::spawn(async move {
        let (mut sink, mut drained) = (Some(tx), 0usize);
        // What was read already goes first.
        if let Some(sink) = &sink {
            let _ = sink.send(Piece::Data(Bytes::from(head))).await;
        }
        if let Some(failed) = first {
            if let Some(sink) = &sink {
                let _ = sink.send(failed).await;
            }
            return;
        }
        // A piece that came with the last batch of data and still has to be sent.
        let mut after: Option<Piece> = None;
        loop {
            let next = match after.take() {
                Some(piece) => piece,
                None => match tokio::time::timeout(BODY_PIECE_TIMEOUT, stream.next()).await {
                    Ok(Some(Ok(bytes))) => Piece::Data(gather(bytes, &mut stream, &mut after)),
                    Ok(Some(Err(e))) => Piece::Failed(std::io::Error::other(e)),
                    Ok(None) => Piece::End,
                    Err(_) => Piece::Failed(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "the client sent nothing for too long",
                    )),
                },
            };
            let last = !matches!(next, Piece::Data(_));
            match (&sink, next) {
                (Some(tx), next) => {
                    if tx.send(next).await.is_err() {
                        sink = None;
                    }
                }
                // The store refused the envelope: the rest is read (up to a limit) and dropped,
                // so that the client, still sending, gets to read the answer.
                (None, Piece::Data(piece)) if drained < DRAIN_BYTES => drained += piece.len(),
                (None, _) => break,
            }
            if last {
                break;
            }
        }
    });
    let stored = blocking(move || {
        // The server checks the envelope against the tenant's record as the vault shows it
        // (its own pins, made here): a courtesy to honest writers. What protects the tenant
        // is the writer's own check of the signed manifest before it encrypted.
        let record = vault.tenant(&tenant)?;
        let pins = lockbox::trust::Pins::in_memory();
        pins.pin(vault.place(), &vault.id(), &tenant, lockbox::crypto::tenant_fingerprint(&record.signer))?;
        let vault = vault.with_pins(Arc::new(pins));
        let mut input = ChannelReader { rx, current: Bytes::new(), ended: false };
        vault.put_raw(&tenant, &item, None, &mut input, replace)
    })
    .await;
    if stored.is_err() {
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), &mut feed).await;
    }
    feed.abort();
    Ok(Json(stored?))
}

#[utoipa::path(delete, path = "/v1/tenants/{tenant}/items/{item}", security(("token" = [])), params(
        ("tenant" = String, Path, description = "Tenant name"),
        ("item" = String, Path, description = "Item id")),
    responses(
        (status = 200, description = "The item was removed", body = ItemInfo),
        (status = 400, description = "A bad request", body = Failure),
        (status = 401, description = "No valid token", body = Failure),
        (status = 403, description = "The token may not do this", body = Failure),
        (status = 404, description = "Not found", body = Failure),
        (status = 429, description = "Rate limited", body = Failure)))]
async fn remove(
    State(app): Shared,
    Path((tenant, item)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<ItemInfo>, ApiError> {
    let (vault, _) = authorize(&app, &headers, &tenant, &[Role::Writer, Role::Customer]).await?;
    Ok(Json(blocking(move || vault.remove(&tenant, &item)).await?))
}
