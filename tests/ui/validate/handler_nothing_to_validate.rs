use axum::extract::State;

#[warden::validate]
async fn handler(State(_): State<()>) {}

fn main() {}
