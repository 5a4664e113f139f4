//! One client address per request: the `ClientIp` extractor,
//! `Warden::client_ip` and the key the limiters count under (per-route and
//! global) agree, behind a trusted proxy and in front of an untrusted one.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::routing::get;
use http::request::Parts;
use http::{Request, StatusCode};
use serde_json::json;
use warden::http::{ClientIp, ForwardedHeader};
use warden::limit::{LimitCheck, MemoryStore, Store, Verdict};
use warden::{StoreError, StoreFuture};
use warden::{Warden, rate_limit};
use warden_tests::{Answer, Captured, jwt, send};

/// A limit's policy id and the key a request was counted under.
type Counted = (String, Vec<u8>);

/// A memory store that also writes down every key it is asked about.
#[derive(Clone, Default)]
struct Recording {
    store: Arc<MemoryStore>,
    keys: Arc<Mutex<Vec<Counted>>>,
}

impl Recording {
    /// The keys checked since the last call.
    fn take(&self) -> Vec<Counted> {
        std::mem::take(&mut *self.keys.lock().unwrap())
    }
}

impl Store for Recording {
    fn check<'a>(
        &'a self,
        checks: &'a [LimitCheck<'a>],
    ) -> StoreFuture<'a, Result<Verdict, StoreError>> {
        self.keys
            .lock()
            .unwrap()
            .extend(checks.iter().map(|c| (c.policy.to_owned(), c.key.to_vec())));
        self.store.check(checks)
    }

    fn refund<'a>(
        &'a self,
        checks: &'a [LimitCheck<'a>],
    ) -> StoreFuture<'a, Result<(), StoreError>> {
        self.store.refund(checks)
    }
}

/// Per address, with a limit that refuses the third request.
#[rate_limit(2, "1m")]
async fn limited(
    State(warden): State<Warden>,
    ClientIp(extracted): ClientIp,
    parts: Parts,
) -> axum::Json<serde_json::Value> {
    let resolved = warden.client_ip(&parts).map(|c| c.0.to_string());
    axum::Json(json!({ "extractor": extracted.to_string(), "warden": resolved }))
}

async fn optional(client: Option<ClientIp>) -> String {
    client.map_or_else(|| "unknown".to_owned(), |c| c.to_string())
}

async fn required(ClientIp(ip): ClientIp) -> String {
    ip.to_string()
}

fn app(builder: warden::WardenBuilder) -> (Router, Recording) {
    let recording = Recording::default();
    let warden = builder
        .jwt(jwt())
        .store(recording.clone())
        .global_limit("100/1m".parse().unwrap())
        .build()
        .unwrap();
    let router = Router::new()
        .route("/limited", get(limited))
        .route("/optional", get(optional))
        .route("/required", get(required))
        .layer(warden.layer())
        .with_state(warden);
    (router, recording)
}

fn from(peer: [u8; 4], path: &str, headers: &[(&str, &str)]) -> Request<Body> {
    let mut request = Request::get(path);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let mut request = request.body(Body::empty()).unwrap();
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from((peer, 40000))));
    request
}

/// The key per-address limits count an IPv4 client under.
fn ipv4_key(ip: &str) -> Vec<u8> {
    let IpAddr::V4(v4) = ip.parse::<IpAddr>().unwrap() else {
        panic!("{ip} is not IPv4")
    };
    let mut key = vec![4];
    key.extend_from_slice(&v4.octets());
    key
}

/// Sends the request to `/limited` and checks that the extractor, the
/// `Warden` and both limiters saw `expected`.
async fn assert_one_address(
    router: &Router,
    recording: &Recording,
    request: Request<Body>,
    expected: &str,
) -> Answer {
    let answer = send(router, request).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(answer.body["extractor"], expected, "{answer:?}");
    assert_eq!(answer.body["warden"], expected, "{answer:?}");
    let keys = recording.take();
    let policies: Vec<&str> = keys.iter().map(|(policy, _)| policy.as_str()).collect();
    assert_eq!(policies, ["warden::global", "client_ip::limited#0"]);
    for (policy, key) in &keys {
        assert_eq!(*key, ipv4_key(expected), "{policy} counted another address");
    }
    answer
}

#[tokio::test]
async fn behind_a_trusted_proxy_every_reader_sees_the_forwarded_client() {
    let (router, recording) = app(Warden::builder().trusted_proxies(["10.0.0.0/8"]));
    // The client forged the leftmost hop; the proxies appended the rest.
    let request = from(
        [10, 0, 0, 2],
        "/limited",
        &[("x-forwarded-for", "6.6.6.6, 198.51.100.9, 10.1.1.1")],
    );
    assert_one_address(&router, &recording, request, "198.51.100.9").await;
    // A trusted proxy that names nobody: the proxy is the client.
    let request = from([10, 0, 0, 2], "/limited", &[]);
    assert_one_address(&router, &recording, request, "10.0.0.2").await;

    // RFC 7239, when the proxy writes Forwarded.
    let (router, recording) = app(Warden::builder()
        .trusted_proxies(["10.0.0.0/8"])
        .forwarded_header(ForwardedHeader::Forwarded));
    let request = from(
        [10, 0, 0, 2],
        "/limited",
        &[
            ("forwarded", "for=6.6.6.6, for=198.51.100.10;proto=https"),
            ("x-forwarded-for", "7.7.7.7"),
        ],
    );
    assert_one_address(&router, &recording, request, "198.51.100.10").await;
}

#[tokio::test]
async fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
    let captured = Captured::default();
    let _guard = captured.install();
    let (router, recording) = app(Warden::builder().trusted_proxies(["10.0.0.0/8"]));
    // Spoofed hops, one of them claiming a trusted proxy's address.
    for spoof in [
        ("x-forwarded-for", "198.51.100.9, 10.0.0.3"),
        ("forwarded", "for=198.51.100.9"),
    ] {
        let request = from([203, 0, 113, 5], "/limited", &[spoof]);
        assert_one_address(&router, &recording, request, "203.0.113.5").await;
    }
    // Both counted against the peer: its third request is refused,
    // whatever it claims, and the audit event names the peer.
    let request = from(
        [203, 0, 113, 5],
        "/limited",
        &[("x-forwarded-for", "198.51.100.9")],
    );
    send(&router, request)
        .await
        .assert_problem(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    let text = captured.text();
    let event = text
        .lines()
        .find(|l| l.contains("rate_limited") && l.contains("route=\"/limited\""))
        .unwrap_or_else(|| panic!("no event: {text}"));
    assert!(event.contains("client_ip=203.0.113.5"), "{event}");
    assert!(!event.contains("198.51.100.9"), "{event}");
}

#[tokio::test]
async fn without_a_peer_address_the_required_extractor_refuses_and_the_optional_one_is_none() {
    let (router, _) = app(Warden::builder());
    // In process, no ConnectInfo: the server records no peer addresses.
    let request = || Request::get("/required").body(Body::empty()).unwrap();
    let answer = send(&router, request()).await;
    answer.assert_problem(StatusCode::INTERNAL_SERVER_ERROR, "client_ip_unknown");
    let answer = send(
        &router,
        Request::get("/optional").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(answer.body, "unknown");
    // With one: both give it.
    let answer = send(&router, from([192, 0, 2, 1], "/required", &[])).await;
    assert_eq!(answer.body, "192.0.2.1");
    let answer = send(&router, from([192, 0, 2, 1], "/optional", &[])).await;
    assert_eq!(answer.body, "192.0.2.1");
}
