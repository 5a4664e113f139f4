//! Audit events: one `tracing` event per rejection, on the target
//! `warden::audit`. They carry the handler, route, method, client address,
//! status and reason, and never a token, a secret or a request body.

use axum::extract::MatchedPath;
use http::request::Parts;

use crate::auth::AuthRejection;
use crate::http::ClientIp;

/// The `tracing` target of every audit event.
pub const TARGET: &str = "warden::audit";

pub(crate) fn auth_rejected(handler: &str, parts: &Parts, rejection: AuthRejection) {
    let route = parts
        .extensions
        .get::<MatchedPath>()
        .map_or_else(|| parts.uri.path(), MatchedPath::as_str);
    let client_ip = ClientIp::from_parts(parts).map(|ip| ip.0);
    tracing::warn!(
        target: "warden::audit",
        event = "auth_rejected",
        handler,
        route,
        method = %parts.method,
        client_ip = client_ip.map(tracing::field::display),
        status = rejection.status().as_u16(),
        reason = rejection.reason(),
        "request rejected"
    );
}
