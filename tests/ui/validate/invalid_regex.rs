#[derive(serde::Deserialize, warden::Validate)]
#[serde(deny_unknown_fields)]
struct Signup {
    #[validate(regex = "^[a-z+$")]
    name: String,
}

fn main() {}
