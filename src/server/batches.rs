//! Batches: many small envelopes stored, or read, in one request (import and export through
//! a server). A stored batch joins the group writer's queue, so batches from many clients
//! share durable transactions; a read batch is read from one snapshot and logged in one.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use base64ct::{Base64, Encoding};
use lockbox::vault::{
    Error, ErrorKind, MAX_GROUP_BYTES as MAX_BATCH_BYTES, MAX_GROUP_ITEMS, MAX_GROUPED_ENVELOPE, RawGet,
    RawPut, Replace, Role,
};

use super::routes::{ApiError, App, authorize, blocking};
use super::wire::{Failure, FailureBody, GetBatch, GetOutcome, PutBatch, PutOutcome};

/// A stored batch's body at most: the envelopes in base64 and the JSON around them.
const MAX_BATCH_BODY: usize = 12 * 1024 * 1024;
/// A read batch's body at most: 256 item ids of up to 1,024 bytes, escaped, and the JSON
/// around them (so a body of many tiny strings cannot make millions of them).
const MAX_GET_BODY: usize = 1024 * 1024;
/// Batches handled at once, from reading the body to the answer built; more wait their turn
/// (memory stays under this times about 32 MiB: a body, its decoded envelopes, an answer).
pub const BATCHES_AT_ONCE: usize = 3;
/// How long a batch may wait for its turn (then 503), and take to send its body (then 408).
const TURN_WAIT: std::time::Duration = std::time::Duration::from_secs(30);
const BODY_TIME: std::time::Duration = std::time::Duration::from_secs(60);

/// The routes.
pub fn router(app: Arc<App>) -> axum::Router {
    axum::Router::new()
        .route("/v1/tenants/{tenant}/batches/put", axum::routing::post(put))
        .route("/v1/tenants/{tenant}/batches/get", axum::routing::post(get))
        .with_state(app)
}

/// Takes a place among the batches at once (held by the caller until its answer is built),
/// then reads a batch body of at most `limit` bytes, as JSON.
async fn read_body<T: serde::de::DeserializeOwned>(
    app: &App,
    body: Body,
    limit: usize,
) -> Result<(tokio::sync::SemaphorePermit<'_>, T), ApiError> {
    let place = tokio::time::timeout(TURN_WAIT, app.batches.acquire())
        .await
        .map_err(|_| Error::new(ErrorKind::InUse, "the server is busy with other batches; try again"))?
        .map_err(|_| Error::other("the server is stopping"))?;
    let bytes = tokio::time::timeout(BODY_TIME, axum::body::to_bytes(body, limit))
        .await
        .map_err(|_| ApiError::timed_out("the batch's body took too long to arrive"))?
        .map_err(|_| {
            ApiError::too_large(format!("a batch's body holds at most {limit} bytes (or it was cut short)"))
        })?;
    let batch = serde_json::from_slice(&bytes)
        .map_err(|e| Error::usage(format!("the batch does not decode: {e}")))?;
    Ok((place, batch))
}

/// A JSON answer built while the batch still holds its place.
fn answer<T: serde::Serialize>(value: &T) -> Result<Response, ApiError> {
    let body =
        serde_json::to_vec(value).map_err(|e| Error::other(format!("cannot encode the answer: {e}")))?;
    Ok(([(axum::http::header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// Stores up to 256 envelopes (each at most 256 KiB, together at most 8 MiB), each checked and
/// logged as a single put; each gets its own outcome, in order, once durable.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/batches/put", security(("token" = [])), params(
        ("tenant" = String, Path, description = "Tenant name")),
    request_body(content = PutBatch, description = "The envelopes"),
    responses(
        (status = 200, description = "Each envelope's outcome, in order", body = Vec<PutOutcome>),
        (status = 400, description = "A bad request", body = Failure),
        (status = 401, description = "No valid token", body = Failure),
        (status = 403, description = "The token may not do this", body = Failure),
        (status = 404, description = "Not found", body = Failure),
        (status = 408, description = "The body took too long to arrive", body = Failure),
        (status = 413, description = "The batch is too large", body = Failure),
        (status = 429, description = "Rate limited", body = Failure),
        (status = 503, description = "Busy: try again", body = Failure)))]
pub async fn put(
    State(app): State<Arc<App>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let (_, principal) = authorize(&app, &headers, &tenant, &[Role::Writer]).await?;
    let (_place, batch): (_, PutBatch) = read_body(&app, body, MAX_BATCH_BODY).await?;
    if batch.items.len() > MAX_GROUP_ITEMS {
        return Err(Error::usage(format!("a batch holds at most {MAX_GROUP_ITEMS} envelopes")).into());
    }
    let mut puts = Vec::with_capacity(batch.items.len());
    let mut bytes = 0usize;
    for one in batch.items {
        // A base64 text longer than an envelope's limit allows is refused before decoding.
        if one.envelope.len() > MAX_GROUPED_ENVELOPE.div_ceil(3) * 4 {
            return Err(Error::usage(format!(
                "the envelope of {:?} is larger than {MAX_GROUPED_ENVELOPE} bytes: put it alone",
                one.item
            ))
            .into());
        }
        let envelope = Base64::decode_vec(&one.envelope)
            .map_err(|_| Error::usage(format!("the envelope of {:?} is not standard base64", one.item)))?;
        bytes += envelope.len();
        if bytes > MAX_BATCH_BYTES {
            return Err(ApiError::too_large(format!(
                "a batch's envelopes hold at most {MAX_BATCH_BYTES} bytes"
            )));
        }
        let replace = if batch.replace { Replace::Any } else { Replace::No };
        puts.push(RawPut {
            tenant: tenant.clone(),
            item: one.item,
            envelope,
            replace,
            actor: principal.actor(),
        });
    }
    let items: Vec<String> = puts.iter().map(|p| p.item.clone()).collect();
    let results = app.group.put_many(puts).await;
    let outcomes: Vec<PutOutcome> = items
        .into_iter()
        .zip(results)
        .map(|(item, r)| match r {
            Ok(info) => PutOutcome { item, stored: Some(info), error: None },
            Err(e) => PutOutcome { item, stored: None, error: Some(FailureBody::of(&e)) },
        })
        .collect();
    answer(&outcomes)
}

/// The envelopes of up to 256 items, each read logged before the answer; an item missing,
/// damaged or larger than 256 KiB gets its own error (read a large one alone).
#[utoipa::path(post, path = "/v1/tenants/{tenant}/batches/get", security(("token" = [])), params(
        ("tenant" = String, Path, description = "Tenant name")),
    request_body(content = GetBatch, description = "The item ids"),
    responses(
        (status = 200, description = "Each item's envelope or error, in order", body = Vec<GetOutcome>),
        (status = 400, description = "A bad request", body = Failure),
        (status = 401, description = "No valid token", body = Failure),
        (status = 403, description = "The token may not do this", body = Failure),
        (status = 404, description = "Not found", body = Failure),
        (status = 408, description = "The body took too long to arrive", body = Failure),
        (status = 413, description = "The batch is too large", body = Failure),
        (status = 429, description = "Rate limited", body = Failure),
        (status = 503, description = "Busy: try again", body = Failure)))]
pub async fn get(
    State(app): State<Arc<App>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let (vault, principal) = authorize(&app, &headers, &tenant, &[Role::Customer, Role::Engineer]).await?;
    let (_place, batch): (_, GetBatch) = read_body(&app, body, MAX_GET_BODY).await?;
    let items = batch.items;
    if items.len() > MAX_GROUP_ITEMS {
        return Err(Error::usage(format!("a batch reads at most {MAX_GROUP_ITEMS} items")).into());
    }
    let gets: Vec<RawGet> = items
        .iter()
        .map(|item| RawGet { tenant: tenant.clone(), item: item.clone(), actor: principal.actor() })
        .collect();
    // Its own group (not merged with single reads): the batch's bytes are bounded by itself.
    let read = blocking(move || vault.get_raw_group(&gets)).await?;
    let outcomes: Vec<GetOutcome> = items
            .into_iter()
            .zip(read)
            .map(|(item, r)| match r {
                Ok(Some(envelope)) => {
                    GetOutcome { item, envelope: Some(Base64::encode_string(&envelope)), error: None }
                }
                Ok(None) => GetOutcome {
                    item,
                    envelope: None,
                    error: Some(FailureBody::of(&Error::usage(format!(
                        "the envelope is larger than {MAX_GROUPED_ENVELOPE} bytes, or than the rest of the batch's {MAX_BATCH_BYTES}: read it alone"
                    )))),
                },
                Err(e) => GetOutcome { item, envelope: None, error: Some(FailureBody::of(&e)) },
            })
            .collect();
    answer(&outcomes)
}
