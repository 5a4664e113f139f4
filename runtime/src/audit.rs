//! Audit events: one `tracing` event per rejection, on the target
//! `warden::audit`. They carry the handler, route, method, client address,
//! status and reason, and never a token, a secret, a rate-limit key or a
//! request body.

use axum::extract::MatchedPath;
use http::request::Parts;

use crate::auth::AuthRejection;
use crate::http::ClientIp;

/// The `tracing` target of every audit event.
pub const TARGET: &str = "warden::audit";

fn route(parts: &Parts) -> &str {
    parts
        .extensions
        .get::<MatchedPath>()
        .map_or_else(|| parts.uri.path(), MatchedPath::as_str)
}

pub(crate) fn auth_rejected(
    handler: &str,
    parts: &Parts,
    client: Option<ClientIp>,
    rejection: AuthRejection,
) {
    tracing::warn!(
        target: "warden::audit",
        event = "auth_rejected",
        handler,
        route = route(parts),
        method = %parts.method,
        client_ip = client.map(tracing::field::display),
        status = rejection.status().as_u16(),
        reason = rejection.reason(),
        "request rejected"
    );
}

pub(crate) fn rate_limited(
    handler: &str,
    parts: &Parts,
    client: Option<ClientIp>,
    limit: &str,
    retry_after: u64,
) {
    tracing::warn!(
        target: "warden::audit",
        event = "rate_limited",
        handler,
        route = route(parts),
        method = %parts.method,
        client_ip = client.map(tracing::field::display),
        status = 429u16,
        reason = "rate_limited",
        limit,
        retry_after,
        "request rejected"
    );
}

pub(crate) fn store_failed(handler: &str, parts: &Parts, error: &crate::limit::StoreError) {
    tracing::error!(
        target: "warden::audit",
        event = "limits_unavailable",
        handler,
        route = route(parts),
        status = 503u16,
        error = %error,
        "rate-limit store unavailable; request refused"
    );
}

pub(crate) fn limits_bypassed(handler: &str, parts: &Parts, error: &crate::limit::StoreError) {
    tracing::error!(
        target: "warden::audit",
        event = "limits_bypassed",
        handler,
        route = route(parts),
        error = %error,
        "rate-limit store unavailable; request admitted uncounted (StoreFailure::FailOpen)"
    );
}
