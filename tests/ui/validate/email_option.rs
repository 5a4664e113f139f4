use serde::Deserialize;

#[derive(Deserialize, warden::Validate)]
#[serde(deny_unknown_fields)]
struct Contact {
    #[validate(email(utf8))]
    address: String,
}

fn main() {}
