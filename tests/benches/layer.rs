//! What `warden.layer()` adds to a request: the same routes with and
//! without it, timed in alternation.
//!
//! `cargo bench -p warden-tests --bench layer`

#![allow(missing_docs)]

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::Instant;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::routing::{get, post};
use http::{Request, StatusCode, header};
use tower::ServiceExt;
use warden::Warden;

const ROUNDS: usize = 41;
const N: u32 = 5_000;

fn routes() -> Router {
    Router::new()
        .route("/bare", get(|| async { "ok" }))
        .route("/echo", post(|body: Bytes| async move { body }))
}

fn request(path: &str) -> Request<Body> {
    let mut request = if path == "/echo" {
        Request::post(path)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(r#"{"name":"ana","email":"ana@example.com"}"#))
    } else {
        Request::get(path).body(Body::empty())
    }
    .expect("request");
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([203, 0, 113, 7], 40000))));
    request
}

/// Nanoseconds per request through `router`, body read, over `N` requests.
fn per_request(runtime: &tokio::runtime::Runtime, router: &Router, path: &str) -> f64 {
    let start = Instant::now();
    runtime.block_on(async {
        for _ in 0..N {
            let response = router
                .clone()
                .oneshot(request(path))
                .await
                .expect("response");
            let body = axum::body::to_bytes(response.into_body(), 1024)
                .await
                .expect("body");
            black_box(body);
        }
    });
    start.elapsed().as_nanos() as f64 / f64::from(N)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let warden = Warden::builder().build().expect("warden");
    // `with_state` turns the handlers into routes once, as serving does;
    // a `Router` called as it is would do it again on every request.
    let bare = routes().with_state(());
    let layered = routes().layer(warden.layer()).with_state(());
    for (router, path) in [(&bare, "/bare"), (&layered, "/bare"), (&layered, "/echo")] {
        let response = runtime
            .block_on(router.clone().oneshot(request(path)))
            .expect("response");
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }

    println!("warden.layer() ({ROUNDS} alternating rounds of {N} requests each):");
    println!(
        "{:<8} {:>12} {:>12} {:>10} {:>8}",
        "route", "without ns", "with ns", "added ns", "ratio"
    );
    for path in ["/bare", "/echo"] {
        let (mut without, mut with, mut added, mut ratios) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            let a = per_request(&runtime, &bare, path);
            let b = per_request(&runtime, &layered, path);
            without.push(a);
            with.push(b);
            added.push(b - a);
            ratios.push(b / a);
        }
        println!(
            "{:<8} {:>12.0} {:>12.0} {:>10.0} {:>8.3}",
            path,
            median(without),
            median(with),
            median(added),
            median(ratios)
        );
    }
}
