use warden::protected;

#[derive(Clone, Copy, warden::Role)]
enum Role {
    Admin,
    User,
}

#[protected(role = Role::Admn)]
async fn misspelt_variant() {}

#[protected(any(role = Roles::Admin, role = Role::User))]
async fn misspelt_type() {}

fn main() {}
