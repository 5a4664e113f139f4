#[derive(serde::Deserialize, warden::Validate)]
struct Signup {
    #[validate(email)]
    email: String,
}

fn main() {}
