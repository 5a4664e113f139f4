use std::fmt;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::str::FromStr;

use axum::extract::{ConnectInfo, FromRef, FromRequestParts, OptionalFromRequestParts};
use http::request::Parts;
use http::{Extensions, HeaderMap, HeaderName, StatusCode};
use ipnet::IpNet;

use super::Problem;
use crate::Warden;

/// The address of the client that sent a request, as far as warden knows it.
///
/// It is the peer address of the TCP connection (axum's [`ConnectInfo`]:
/// serve the router with `into_make_service_with_connect_info::<SocketAddr>()`),
/// unless that peer is one of the [`TrustedProxies`]: then it is the
/// rightmost address of the forwarding header that is not itself a trusted
/// proxy. The leftmost address, which the client writes itself, is never
/// believed. IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) are the IPv4
/// addresses they are.
///
/// There is one resolution, [`Warden::client_ip`]: per-address rate limits,
/// the global limit, audit events and this extractor all read the address
/// through it, so a handler sees exactly the address its limits counted.
///
/// As an extractor it needs a [`Warden`] in the router state (or
/// `Warden: FromRef<State>`). `ClientIp` refuses the request with `500`
/// problem+json (`client_ip_unknown`) when the server records no peer
/// addresses, a deployment mistake; `Option<ClientIp>` is `None` then.
///
/// ```
/// use std::net::SocketAddr;
/// use axum::{Router, body::Body, extract::ConnectInfo, routing::get};
/// use http::Request;
/// use tower::ServiceExt;
/// use warden::{Warden, http::ClientIp};
///
/// async fn whoami(ClientIp(ip): ClientIp) -> String {
///     ip.to_string()
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let warden = Warden::builder()
/// #   .jwt(warden::auth::Jwt::hs256([7u8; 32])?.issuer("i").audience("a"))
///     .trusted_proxies(["10.0.0.0/8"])
///     .build()?;
/// let app = Router::new().route("/whoami", get(whoami)).with_state(warden);
///
/// // From a trusted proxy: the address it appended. The client wrote the
/// // leftmost one itself, and it is not believed.
/// let mut request = Request::get("/whoami")
///     .header("x-forwarded-for", "6.6.6.6, 198.51.100.7")
///     .body(Body::empty())?;
/// request
///     .extensions_mut()
///     .insert(ConnectInfo(SocketAddr::from(([10, 0, 0, 2], 40000))));
/// let response = app.oneshot(request).await?;
/// let body = axum::body::to_bytes(response.into_body(), 64).await?;
/// assert_eq!(body, "198.51.100.7");
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientIp(pub IpAddr);

impl fmt::Display for ClientIp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<S> FromRequestParts<S> for ClientIp
where
    S: Send + Sync,
    Warden: FromRef<S>,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Warden::from_ref(state).client_ip(parts).ok_or_else(|| {
            Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "client_ip_unknown",
                "the server could not determine the client address",
            )
        })
    }
}

impl<S> OptionalFromRequestParts<S> for ClientIp
where
    S: Send + Sync,
    Warden: FromRef<S>,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(Warden::from_ref(state).client_ip(parts))
    }
}

/// The socket peer address of a request, if the server recorded one: not
/// the client when the peer is a proxy (see [`Resolved`]).
#[inline]
pub(crate) fn peer(extensions: &Extensions) -> Option<IpAddr> {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| canonical(addr.ip()))
}

/// How the client address of a request was found: the one resolution
/// behind [`Warden::client_ip`] and [`TrustedProxies::resolve`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resolved {
    /// The peer is not a trusted proxy: it is the client, and whatever
    /// forwarding header it sent is ignored.
    Peer(IpAddr),
    /// The peer is a trusted proxy: the client is what the forwarding
    /// chain says (the proxy itself when it says nothing).
    Forwarded(IpAddr),
}

impl Resolved {
    /// The client address.
    pub(crate) fn ip(self) -> IpAddr {
        match self {
            Self::Peer(ip) | Self::Forwarded(ip) => ip,
        }
    }
}

/// Whether a request carries a forwarding header of either kind.
pub(crate) fn has_forwarding_header(headers: &HeaderMap) -> bool {
    headers.contains_key(X_FORWARDED_FOR) || headers.contains_key(http::header::FORWARDED)
}

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// `::ffff:a.b.c.d` is `a.b.c.d`.
pub(crate) fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// The header a trusted proxy appends the client address to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2` (the default).
    #[default]
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=client, for=proxy1`.
    Forwarded,
}

impl ForwardedHeader {
    fn name(self) -> HeaderName {
        match self {
            Self::XForwardedFor => HeaderName::from_static("x-forwarded-for"),
            Self::Forwarded => http::header::FORWARDED,
        }
    }
}

/// A proxy address or network that [`TrustedProxies::new`] cannot read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidProxy(pub String);

impl fmt::Display for InvalidProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} is not an IP address or CIDR network (such as \"10.0.0.0/8\")",
            self.0
        )
    }
}

impl std::error::Error for InvalidProxy {}

/// The proxies whose forwarding header is believed.
///
/// Empty by default: then every forwarding header is ignored and the client
/// is the socket peer.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    networks: Vec<IpNet>,
    header: ForwardedHeader,
}

impl TrustedProxies {
    /// Proxies given as addresses (`"10.1.2.3"`, `"::1"`) or CIDR networks
    /// (`"10.0.0.0/8"`).
    pub fn new<I, S>(proxies: I) -> Result<Self, InvalidProxy>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let networks = proxies
            .into_iter()
            .map(|p| {
                let text = p.as_ref().trim();
                IpNet::from_str(text)
                    .map(|net| net.trunc())
                    .or_else(|_| IpAddr::from_str(text).map(IpNet::from))
                    .map_err(|_| InvalidProxy(text.to_owned()))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            networks,
            header: ForwardedHeader::default(),
        })
    }

    /// Reads the client address from this header (X-Forwarded-For by
    /// default). Name the one your proxy writes: a client can send either.
    pub fn header(mut self, header: ForwardedHeader) -> Self {
        self.header = header;
        self
    }

    /// Whether `ip` is a trusted proxy.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.networks.iter().any(|net| match (net, ip) {
            (IpNet::V4(net), IpAddr::V4(v4)) => net.contains(&v4),
            (IpNet::V6(net), IpAddr::V6(v6)) => net.contains(&v6),
            _ => false,
        })
    }

    /// Whether any proxy is trusted.
    pub fn is_empty(&self) -> bool {
        self.networks.is_empty()
    }

    /// Whether the nearest trusted proxy reports that the client's request
    /// arrived over HTTPS: the last `X-Forwarded-Proto` value, or the
    /// `proto=` of the last `Forwarded` element, as the configured
    /// [`ForwardedHeader`] says. `None` when `peer` is not a trusted proxy
    /// (what a client claims about itself is never believed) or reports
    /// nothing.
    pub fn forwarded_https(&self, peer: IpAddr, headers: &HeaderMap) -> Option<bool> {
        if !self.contains(canonical(peer)) {
            return None;
        }
        let name = match self.header {
            ForwardedHeader::XForwardedFor => HeaderName::from_static("x-forwarded-proto"),
            ForwardedHeader::Forwarded => http::header::FORWARDED,
        };
        // The nearest proxy appends: its report is the last one.
        let value = headers.get_all(name).iter().next_back()?;
        let last_hop = value.as_bytes().rsplit(|&b| b == b',').next()?;
        let last_hop = std::str::from_utf8(last_hop).ok()?;
        let proto = match self.header {
            ForwardedHeader::XForwardedFor => last_hop.trim(),
            ForwardedHeader::Forwarded => last_hop.split(';').find_map(|pair| {
                let (name, value) = pair.trim().split_once('=')?;
                name.trim()
                    .eq_ignore_ascii_case("proto")
                    .then(|| value.trim().trim_matches('"'))
            })?,
        };
        Some(proto.eq_ignore_ascii_case("https"))
    }

    /// The client address of a request that arrived from `peer`.
    pub fn resolve(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        self.resolve_peer(canonical(peer), headers).ip()
    }

    /// The client of a request: its peer address from axum's
    /// [`ConnectInfo`], resolved through the forwarding header when the
    /// peer is a trusted proxy; `None` when the server recorded no peer.
    #[inline]
    pub(crate) fn resolve_request(
        &self,
        extensions: &Extensions,
        headers: &HeaderMap,
    ) -> Option<Resolved> {
        peer(extensions).map(|peer| self.resolve_peer(peer, headers))
    }

    /// [`resolve`](Self::resolve) of a canonical address.
    #[inline]
    fn resolve_peer(&self, peer: IpAddr, headers: &HeaderMap) -> Resolved {
        if self.contains(peer) {
            Resolved::Forwarded(self.forwarded_client(peer, headers))
        } else {
            Resolved::Peer(peer)
        }
    }

    /// The client named by the forwarding chain of a request from the
    /// trusted proxy `peer`.
    fn forwarded_client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        // Each hop is read on its own, from the bytes: a byte that is not
        // visible ASCII spoils its hop, not the whole header (the part a
        // client writes is on the left, beyond the hops that decide).
        let mut hops: Vec<Option<IpAddr>> = Vec::new();
        for value in headers.get_all(self.header.name()) {
            for hop in value.as_bytes().split(|&b| b == b',') {
                let hop = std::str::from_utf8(hop).ok().filter(|hop| {
                    hop.bytes()
                        .all(|b| b == b' ' || b == b'\t' || b.is_ascii_graphic())
                });
                hops.push(hop.and_then(|hop| match self.header {
                    ForwardedHeader::XForwardedFor => parse_hop(hop.trim()),
                    ForwardedHeader::Forwarded => forwarded_for(hop),
                }));
            }
        }
        // Walk from the nearest hop outwards: the client is the rightmost
        // address that no trusted proxy vouches for.
        let mut client = peer;
        for hop in hops.iter().rev() {
            match hop {
                Some(ip) if self.contains(*ip) => client = *ip,
                Some(ip) => return *ip,
                // A trusted proxy never writes garbage; what it could not
                // vouch for ends the chain at the last trusted hop.
                None => return client,
            }
        }
        client
    }
}

/// `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1`, `[2001:db8::1]:443`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim_matches('"');
    IpAddr::from_str(hop)
        .or_else(|_| SocketAddr::from_str(hop).map(|s| s.ip()))
        .or_else(|_| {
            hop.strip_prefix('[')
                .and_then(|h| h.strip_suffix(']'))
                .ok_or(())
                .and_then(|h| Ipv6Addr::from_str(h).map(IpAddr::V6).map_err(|_| ()))
        })
        .ok()
        .map(canonical)
}

/// The `for=` node of one RFC 7239 element; obfuscated and unknown nodes
/// are `None`.
fn forwarded_for(element: &str) -> Option<IpAddr> {
    element.split(';').find_map(|pair| {
        let (name, value) = pair.trim().split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("for")
            .then(|| parse_hop(value.trim()))?
    })
}

/// The bytes a client is keyed by: an IPv4 address whole, an IPv6 address
/// by its first `v6_prefix` bits (a /56 by default, what one subscriber is
/// usually given, so rotating through its addresses does not help).
pub(crate) fn ip_key(ip: IpAddr, v6_prefix: u8) -> ([u8; 17], usize) {
    let mut key = [0u8; 17];
    match canonical(ip) {
        IpAddr::V4(v4) => {
            key[0] = 4;
            key[1..5].copy_from_slice(&v4.octets());
            (key, 5)
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let prefix = u32::from(v6_prefix.min(128));
            let masked = if prefix == 0 {
                0
            } else {
                bits & (u128::MAX << (128 - prefix))
            };
            key[0] = 6;
            key[1..].copy_from_slice(&masked.to_be_bytes());
            (key, 17)
        }
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn headers(name: &str, values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for v in values {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        map
    }

    #[test]
    fn untrusted_peers_are_the_client_whatever_they_claim() {
        let proxies = TrustedProxies::new(["10.0.0.0/8"]).unwrap();
        let h = headers("x-forwarded-for", &["1.2.3.4"]);
        assert_eq!(proxies.resolve(ip("203.0.113.9"), &h), ip("203.0.113.9"));
        let none = TrustedProxies::default();
        assert_eq!(none.resolve(ip("10.0.0.1"), &h), ip("10.0.0.1"));
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client() {
        let proxies = TrustedProxies::new(["10.0.0.0/8", "192.168.1.1"]).unwrap();
        // The client forged "6.6.6.6" on the left; proxies appended the rest.
        let h = headers("x-forwarded-for", &["6.6.6.6, 198.51.100.7", "192.168.1.1"]);
        assert_eq!(proxies.resolve(ip("10.0.0.2"), &h), ip("198.51.100.7"));
        // Every hop trusted: the furthest is the client.
        let h = headers("x-forwarded-for", &["10.9.9.9, 192.168.1.1"]);
        assert_eq!(proxies.resolve(ip("10.0.0.2"), &h), ip("10.9.9.9"));
        // No header: the proxy itself.
        assert_eq!(
            proxies.resolve(ip("10.0.0.2"), &HeaderMap::new()),
            ip("10.0.0.2")
        );
        // Garbage in the chain stops it at the last trusted hop.
        let h = headers("x-forwarded-for", &["1.1.1.1, nonsense, 10.1.1.1"]);
        assert_eq!(proxies.resolve(ip("10.0.0.2"), &h), ip("10.1.1.1"));
        // Ports and brackets are tolerated.
        let h = headers("x-forwarded-for", &["[2001:db8::7]:443"]);
        assert_eq!(proxies.resolve(ip("10.0.0.2"), &h), ip("2001:db8::7"));
    }

    #[test]
    fn a_stray_byte_spoils_its_hop_not_the_header() {
        let proxies = TrustedProxies::new(["10.0.0.0/8"]).unwrap();
        let mut h = HeaderMap::new();
        // The client wrote a non-ASCII byte on the left; the proxy appended
        // the address it saw. That address is still the client.
        h.append(
            "x-forwarded-for",
            HeaderValue::from_bytes(b"caf\xc3\xa9 \xff, 6.6.6.6, 198.51.100.7").unwrap(),
        );
        assert_eq!(proxies.resolve(ip("10.0.0.2"), &h), ip("198.51.100.7"));
        let mut h = HeaderMap::new();
        h.append(
            "forwarded",
            HeaderValue::from_bytes(b"for=\"\xfe\", for=198.51.100.8").unwrap(),
        );
        let forwarded = TrustedProxies::new(["10.0.0.0/8"])
            .unwrap()
            .header(ForwardedHeader::Forwarded);
        assert_eq!(forwarded.resolve(ip("10.0.0.2"), &h), ip("198.51.100.8"));
        // A spoiled hop nearer than any untrusted address still ends the
        // chain at the last trusted hop: nobody vouches for what is beyond.
        let mut h = HeaderMap::new();
        h.append(
            "x-forwarded-for",
            HeaderValue::from_bytes(b"6.6.6.6, \xff, 10.1.1.1").unwrap(),
        );
        assert_eq!(proxies.resolve(ip("10.0.0.2"), &h), ip("10.1.1.1"));
    }

    #[test]
    fn rfc_7239_forwarded_is_read_when_named() {
        let proxies = TrustedProxies::new(["10.0.0.0/8"])
            .unwrap()
            .header(ForwardedHeader::Forwarded);
        let h = headers(
            "forwarded",
            &[
                r#"for=6.6.6.6, for="[2001:db8:cafe::17]:4711";proto=https, For=10.2.2.2;by=10.0.0.1"#,
            ],
        );
        assert_eq!(proxies.resolve(ip("10.0.0.1"), &h), ip("2001:db8:cafe::17"));
        // X-Forwarded-For is ignored once Forwarded is the named header.
        let h = headers("x-forwarded-for", &["6.6.6.6"]);
        assert_eq!(proxies.resolve(ip("10.0.0.1"), &h), ip("10.0.0.1"));
        let h = headers("forwarded", &["for=_hidden, for=10.3.3.3"]);
        assert_eq!(proxies.resolve(ip("10.0.0.1"), &h), ip("10.3.3.3"));
    }

    #[test]
    fn ipv4_mapped_addresses_are_ipv4() {
        let proxies = TrustedProxies::new(["10.0.0.0/8"]).unwrap();
        assert!(proxies.contains(ip("::ffff:10.1.2.3")));
        let h = headers("x-forwarded-for", &["::ffff:198.51.100.7"]);
        assert_eq!(
            proxies.resolve(ip("::ffff:10.0.0.2"), &h),
            ip("198.51.100.7")
        );
        assert_eq!(
            ip_key(ip("::ffff:198.51.100.7"), 56),
            ip_key(ip("198.51.100.7"), 56)
        );
    }

    #[test]
    fn ipv6_clients_are_grouped_by_prefix() {
        let a = ip_key(ip("2001:db8:1:ab00::1"), 56);
        let b = ip_key(ip("2001:db8:1:abff:ffff::9"), 56);
        let c = ip_key(ip("2001:db8:1:ac00::1"), 56);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(
            ip_key(ip("2001:db8::1"), 128),
            ip_key(ip("2001:db8::2"), 128)
        );
        assert_eq!(ip_key(ip("2001:db8::1"), 0), ip_key(ip("ffff::1"), 0));
    }

    #[test]
    fn bad_proxies_are_refused() {
        assert_eq!(
            TrustedProxies::new(["10.0.0.0/33"]).unwrap_err(),
            InvalidProxy("10.0.0.0/33".into())
        );
        assert!(TrustedProxies::new(["localhost"]).is_err());
        assert!(
            TrustedProxies::new(["10.0.0.7/8"])
                .unwrap()
                .contains(ip("10.200.0.1"))
        );
    }
}
