//! `TrustedProxies::resolve` on arbitrary `X-Forwarded-For` and
//! `Forwarded` header bytes, with either header configured: never panics,
//! and the client it names is the peer or an address written in the
//! configured header.

#![no_main]

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::LazyLock;

use http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;
use warden::http::{ForwardedHeader, TrustedProxies};

const PROXIES: &[&str] = &[
    "10.0.0.0/8",
    "127.0.0.1",
    "::1",
    "fd00::/8",
    "192.168.1.0/24",
];

static PEERS: LazyLock<Vec<IpAddr>> = LazyLock::new(|| {
    [
        "10.1.2.3",
        "127.0.0.1",
        "::1",
        "fd12::7",
        "::ffff:10.9.9.9",
        "::ffff:127.0.0.1",
        "192.168.1.40",
        "203.0.113.5",
        "2001:db8::1",
    ]
    .iter()
    .map(|s| s.parse().unwrap())
    .collect()
});

static PROXY_SETS: LazyLock<[TrustedProxies; 2]> = LazyLock::new(|| {
    let proxies = TrustedProxies::new(PROXIES).expect("proxies");
    [
        proxies.clone().header(ForwardedHeader::XForwardedFor),
        proxies.header(ForwardedHeader::Forwarded),
    ]
});

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// Every address written anywhere in `text`, read independently of warden:
/// each run between separators, with quotes, brackets and ports taken off.
fn addresses_in(text: &str) -> Vec<IpAddr> {
    let mut found = Vec::new();
    for token in text.split([',', ';', '=', ' ', '\t']) {
        let token = token.trim_matches('"');
        let candidates = [
            token.parse::<IpAddr>().ok(),
            token.parse::<SocketAddr>().ok().map(|s| s.ip()),
            token
                .strip_prefix('[')
                .and_then(|t| t.strip_suffix(']'))
                .and_then(|t| t.parse::<Ipv6Addr>().ok())
                .map(IpAddr::V6),
        ];
        found.extend(candidates.into_iter().flatten().map(canonical));
    }
    found
}

fuzz_target!(|data: &[u8]| {
    let [control, peer, rest @ ..] = data else {
        return;
    };
    let peer = PEERS[usize::from(*peer) % PEERS.len()];
    let which = usize::from(control & 1);
    let proxies = &PROXY_SETS[which];
    let (configured, other) = if which == 0 {
        (
            HeaderName::from_static("x-forwarded-for"),
            http::header::FORWARDED,
        )
    } else {
        (
            http::header::FORWARDED,
            HeaderName::from_static("x-forwarded-for"),
        )
    };
    // Up to a few values, split at newlines; each goes to the configured
    // header or the other one, as the control byte says.
    let mut headers = HeaderMap::new();
    let mut only_configured = HeaderMap::new();
    for (i, value) in rest.split(|&b| b == b'\n').take(6).enumerate() {
        let Ok(value) = HeaderValue::from_bytes(value) else {
            continue;
        };
        if (control >> (1 + i)) & 1 == 0 {
            headers.append(configured.clone(), value.clone());
            only_configured.append(configured.clone(), value);
        } else {
            headers.append(other.clone(), value);
        }
    }

    let client = proxies.resolve(peer, &headers);
    let peer = canonical(peer);
    if !proxies.contains(peer) {
        assert_eq!(client, peer, "an untrusted peer's headers were believed");
    }
    if client != peer {
        let written: Vec<IpAddr> = only_configured
            .get_all(&configured)
            .iter()
            // Hop by hop from the bytes, as warden reads them: a byte that
            // is not visible ASCII spoils its own hop only.
            .flat_map(|v| v.as_bytes().split(|&b| b == b',').map(<[u8]>::to_vec).collect::<Vec<_>>())
            .filter_map(|hop| String::from_utf8(hop).ok())
            .flat_map(|hop| addresses_in(&hop))
            .collect();
        assert!(
            written.contains(&client),
            "{client} is neither the peer {peer} nor written in {only_configured:?}"
        );
    }
    // The header that is not configured changes nothing.
    assert_eq!(proxies.resolve(peer, &only_configured), client);
    // Nor does the peer's spelling (IPv4-mapped or not).
    if let IpAddr::V4(v4) = peer {
        assert_eq!(
            proxies.resolve(IpAddr::V6(v4.to_ipv6_mapped()), &headers),
            client
        );
    }
});
