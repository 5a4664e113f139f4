use axum::Json;

#[warden::validate(strict)]
async fn handler(Json(body): Json<String>) -> String {
    body
}

fn main() {}
