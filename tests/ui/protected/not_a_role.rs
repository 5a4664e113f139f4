use warden::protected;

#[derive(Clone, Copy)]
enum Permission {
    Admin,
}

#[protected(role = Permission::Admin)]
async fn type_without_role() {}

#[protected(role = "admin")]
async fn string_role() {}

fn main() {}
