use axum::Router;
use axum::routing::get;
use warden::protected;

#[derive(Clone)]
struct AppState {
    name: String,
}

// `state = ..` names the router state: a state that cannot provide the
// `Warden` is reported here, once, and the routes below compile.
#[protected(state = AppState)]
async fn handler() {}

fn main() {
    let state = AppState { name: String::new() };
    let _ = &state.name;
    let _app: Router = Router::new().route("/", get(handler)).with_state(state);
}

#[allow(dead_code)]
fn typed_router() -> Router<AppState> {
    Router::new().route("/", get(handler))
}
