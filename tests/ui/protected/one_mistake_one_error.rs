use axum::Router;
use axum::routing::get;
use warden::{Warden, protected, rate_limit};

#[derive(Clone, Copy, warden::Role)]
enum Role {
    Admin,
}

// Each handler has one mistake in its attributes, and each is one error:
// the handlers are still there for their routes and callers.
#[protected(role = Role::Admin, frobnicate)]
async fn admin() -> &'static str {
    "admin"
}

#[rate_limit(5, "15x")]
async fn login() -> &'static str {
    "login"
}

fn main() {
    let _app: Router<Warden> = Router::new()
        .route("/admin", get(admin))
        .route("/login", get(login));
    let _ = admin();
}
