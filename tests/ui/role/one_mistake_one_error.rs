use warden::protected;

// The role type has a mistake; its uses still compile, so it is one error.
#[derive(Clone, Copy, warden::Role)]
enum Role {
    #[role(rename = "")]
    Admin,
}

#[protected(role = Role::Admin)]
async fn admin() {}

fn main() {
    let _ = warden::auth::Role::as_str(&Role::Admin);
}
