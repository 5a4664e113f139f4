use axum::Router;
use axum::routing::post;
use warden::rate_limit;

#[derive(Clone)]
struct AppState {
    name: String,
}

#[rate_limit(5, "15m", state = AppState)]
async fn login() {}

fn main() {
    let state = AppState { name: String::new() };
    let _ = &state.name;
    let _app: Router = Router::new().route("/", post(login)).with_state(state);
}
