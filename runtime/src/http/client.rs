use std::fmt;
use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use http::request::Parts;

/// The address of the client that sent a request, as far as warden knows it.
///
/// It is the peer address of the TCP connection, taken from axum's
/// [`ConnectInfo`]; serve the router with
/// `into_make_service_with_connect_info::<SocketAddr>()` for it to be known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientIp(pub IpAddr);

impl ClientIp {
    /// The client address of a request, if the server recorded one.
    pub fn from_parts(parts: &Parts) -> Option<Self> {
        parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| ClientIp(addr.ip()))
    }
}

impl fmt::Display for ClientIp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
