//! The API's OpenAPI document, generated from the handlers' annotations (utoipa); served at
//! `/openapi.json` and kept in docs/openapi.json (a test keeps the two the same).

use utoipa::OpenApi;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};

use super::routes;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "lockbox",
        description = "A lockbox vault served to writers, customers, engineers, monitors and auditors. Every check and every signature happens in the client; see docs/DESIGN.md, \"Server\", and docs/FORMAT.md, \"Server API\"."
    ),
    paths(
        routes::healthz,
        routes::ready,
        routes::metrics,
        serve,
        routes::whoami,
        routes::tenant_view,
        routes::tenant_state,
        routes::list,
        routes::get_envelope,
        routes::put_envelope,
        routes::remove,
        super::batches::put,
        super::batches::get,
        routes::commit
    ),
    components(schemas(super::wire::OpName)),
    modifiers(&Token)
)]
struct Api;

/// The bearer token scheme, named `token` in each route's security.
struct Token;

impl utoipa::Modify for Token {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let components = api.components.get_or_insert_with(Default::default);
        components.add_security_scheme("token", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    }
}

/// The document, as pretty JSON.
pub fn document() -> String {
    let mut api = Api::openapi();
    api.info.version = env!("CARGO_PKG_VERSION").to_owned();
    api.to_pretty_json().unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

/// The API's OpenAPI document.
#[utoipa::path(get, path = "/openapi.json", operation_id = "openapi", tag = "routes", responses((status = 200, description = "This document", body = Object)))]
pub async fn serve() -> axum::response::Response {
    use axum::response::IntoResponse;
    ([(axum::http::header::CONTENT_TYPE, "application/json")], document()).into_response()
}
