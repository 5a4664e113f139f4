use axum::Json;
use serde::Deserialize;

#[derive(Deserialize)]
struct Unchecked {
    name: String,
}

#[derive(Deserialize, warden::Validate)]
#[serde(deny_unknown_fields)]
struct Page<T> {
    items: Vec<T>,
}

// A type parameter is never skipped in silence: `Page<Unchecked>` is not
// `Validate`, because `Unchecked` is not.
#[warden::validate]
async fn list(Json(page): Json<Page<Unchecked>>) -> String {
    page.items.len().to_string()
}

fn main() {}
