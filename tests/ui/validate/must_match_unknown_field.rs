#[derive(serde::Deserialize, warden::Validate)]
#[serde(deny_unknown_fields)]
struct Signup {
    password: String,
    #[validate(must_match = pasword)]
    confirm: String,
}

fn main() {}
