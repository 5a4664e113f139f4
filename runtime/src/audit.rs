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

/// The longest request path an event carries when no route matched.
const MAX_PATH: usize = 128;

/// The matched route (`/users/{id}`), which the application wrote; when no
/// route matched, the request path, which the client wrote: cut to
/// [`MAX_PATH`] bytes, with every byte that is not visible ASCII replaced
/// by `?`, so that a request cannot forge or flood a log line.
fn route(parts: &Parts) -> std::borrow::Cow<'_, str> {
    if let Some(matched) = parts.extensions.get::<MatchedPath>() {
        return matched.as_str().into();
    }
    printable(parts.uri.path())
}

fn printable(path: &str) -> std::borrow::Cow<'_, str> {
    let clean = path.len() <= MAX_PATH && path.bytes().all(|b| b.is_ascii_graphic());
    if clean {
        return path.into();
    }
    let mut bounded: String = path
        .bytes()
        .take(MAX_PATH)
        .map(|b| {
            if b.is_ascii_graphic() {
                char::from(b)
            } else {
                '?'
            }
        })
        .collect();
    if path.len() > MAX_PATH {
        bounded.push_str("...");
    }
    bounded.into()
}

pub(crate) fn auth_rejected(
    handler: &str,
    parts: &Parts,
    client: Option<ClientIp>,
    rejection: AuthRejection,
) {
    tracing::warn!(
        target: TARGET,
        event = "auth_rejected",
        handler,
        route = &*route(parts),
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
        target: TARGET,
        event = "rate_limited",
        handler,
        route = &*route(parts),
        method = %parts.method,
        client_ip = client.map(tracing::field::display),
        status = 429u16,
        reason = "rate_limited",
        limit,
        retry_after,
        "request rejected"
    );
}

pub(crate) fn store_failed(handler: &str, parts: &Parts, error: &crate::StoreError) {
    tracing::error!(
        target: TARGET,
        event = "limits_unavailable",
        handler,
        route = &*route(parts),
        status = 503u16,
        error = %error,
        "rate-limit store unavailable; request refused"
    );
}

pub(crate) fn policy_undefined(handler: &str, parts: &Parts, policy: &str) {
    tracing::error!(
        target: TARGET,
        event = "policy_undefined",
        handler,
        route = &*route(parts),
        status = 500u16,
        policy,
        "the handler names a rate-limit policy this Warden does not define; request refused"
    );
}

pub(crate) fn limits_bypassed(handler: &str, parts: &Parts, error: &crate::StoreError) {
    tracing::error!(
        target: TARGET,
        event = "limits_bypassed",
        handler,
        route = &*route(parts),
        error = %error,
        "rate-limit store unavailable; request admitted uncounted (StoreFailure::FailOpen)"
    );
}

pub(crate) fn keyed_limit_refused(limit: &str, retry_after: u64) {
    tracing::warn!(
        target: TARGET,
        event = "rate_limited",
        status = 429u16,
        reason = "rate_limited",
        limit,
        retry_after,
        "request rejected"
    );
}

pub(crate) fn keyed_limit_failed(limit: &str, error: &crate::StoreError) {
    tracing::error!(
        target: TARGET,
        event = "limits_unavailable",
        limit,
        status = 503u16,
        error = %error,
        "rate-limit store unavailable; request refused"
    );
}

pub(crate) fn keyed_limit_bypassed(limit: &str, error: &crate::StoreError) {
    tracing::error!(
        target: TARGET,
        event = "limits_bypassed",
        limit,
        error = %error,
        "rate-limit store unavailable; request admitted uncounted (StoreFailure::FailOpen)"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(uri: &str) -> Parts {
        http::Request::get(uri).body(()).unwrap().into_parts().0
    }

    #[test]
    fn unmatched_paths_are_bounded_and_printable() {
        assert_eq!(route(&parts("/users/7")), "/users/7");
        let long = format!("/{}", "a".repeat(10_000));
        let long = parts(&long);
        let shown = route(&long);
        assert_eq!(shown.len(), MAX_PATH + 3);
        assert!(shown.ends_with("..."));
        // The URI parser already refuses control bytes; should one get
        // through, it is replaced, never written to the log.
        assert_eq!(printable("/a\nfake line\x1b[31m"), "/a?fake?line?[31m");
    }
}
