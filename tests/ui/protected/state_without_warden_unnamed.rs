use axum::Router;
use axum::routing::get;
use warden::protected;

#[derive(Clone)]
struct AppState {
    name: String,
}

// Without `state = ..`, the handler works with any state that provides the
// `Warden`, so the mistake shows where the router is given its state.
#[protected]
async fn handler() {}

fn main() {
    let state = AppState { name: String::new() };
    let _ = &state.name;
    let _app: Router = Router::new().route("/", get(handler)).with_state(state);
}
