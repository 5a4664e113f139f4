use warden::protected;

#[derive(Clone, Copy, warden::Role)]
enum Role {
    Admin,
}

#[protected(rol = Role::Admin)]
async fn near_miss() {}

#[protected(any(scopes = "reports:read"))]
async fn nested_near_miss() {}

#[protected(frobnicate = 3)]
async fn far_miss() {}

fn main() {}
