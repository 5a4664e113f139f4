use axum::Json;

#[derive(serde::Deserialize)]
struct Signup {
    email: String,
}

#[warden::validate]
async fn handler(Json(body): Json<Signup>) -> String {
    body.email
}

fn main() {}
