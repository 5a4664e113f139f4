use axum::Json;
use serde::Deserialize;
use warden::routing::{Router, get, post};
use warden::{Warden, protected, public, rate_limit, validate};

#[derive(Deserialize, warden::Validate)]
#[serde(deny_unknown_fields)]
struct Body {
    #[validate(len(1..=10))]
    name: String,
}

async fn forgotten() -> &'static str {
    "everyone's data"
}

#[rate_limit(5, "15m")]
async fn only_limited() {}

#[validate]
async fn only_validated(Json(body): Json<Body>) -> String {
    body.name
}

#[public]
async fn open() {}

#[protected]
async fn guarded() {}

fn main() {
    let _: Router<Warden> = Router::new()
        .route("/a", get(forgotten))
        .route("/b", post(only_limited))
        .route("/c", post(only_validated))
        .route("/d", get(open).post(forgotten))
        .route("/e", get(guarded).delete(open));
}
