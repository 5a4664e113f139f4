#[derive(serde::Deserialize, warden::Validate)]
#[serde(deny_unknown_fields)]
struct Signup {
    #[validate(emial)]
    email: String,
    #[validate(len(min = 1), len(max = 9))]
    name: String,
    #[validate(email(messge = "x"))]
    backup: String,
    #[validate(frobnicate)]
    other: String,
    #[validate(len(min = 1, min = 2))]
    nickname: String,
}

fn main() {}
