use warden::protected;

#[derive(Clone, Copy, warden::Role)]
enum Role {
    Admin,
    Guest,
}

#[protected(role Role::Admin)]
async fn missing_equals() {}

#[protected(role)]
async fn missing_value() {}

#[protected(not(role = Role::Admin, role = Role::Guest))]
async fn not_with_two() {}

#[protected(scope = "reports read")]
async fn scope_with_space() {}

#[protected(scope = reports)]
async fn scope_not_a_string() {}

#[protected(any(check = is_owner))]
async fn nested_check() {}

#[protected(check = is_owner, check = is_owner)]
async fn duplicate_check() {}

#[protected("admin")]
async fn bare_literal() {}

#[protected(role = Role::Admin,, scope = "a")]
async fn double_comma() {}

async fn is_owner(_: &warden::auth::Claims, _: &mut http::request::Parts) -> bool {
    true
}

fn main() {}
