use axum::Router;
use axum::routing::get;
use warden::{Warden, protected, rate_limit};

mod policy {
    #[derive(Clone, Copy, warden::Role)]
    pub enum Role {
        Admin,
    }

    pub async fn owns(_: &warden::auth::Claims, _: &mut http::request::Parts) -> bool {
        true
    }

    pub fn tenant(_: &http::request::Parts) -> Option<String> {
        None
    }

    pub type AppState = warden::Warden;
}

use policy::{AppState, Role, owns, tenant};

// Each handler has one mistake in its attributes, and each is one error:
// the handlers are still there for their routes and callers, and what the
// attributes name is still used.
#[protected(role = Role::Admin, check = owns, state = AppState, frobnicate)]
async fn admin() -> &'static str {
    "admin"
}

#[rate_limit(5, "15x", with = tenant)]
async fn login() -> &'static str {
    "login"
}

fn main() {
    let _app: Router<Warden> = Router::new()
        .route("/admin", get(admin))
        .route("/login", get(login));
    let _ = admin();
}
