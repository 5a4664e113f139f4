#[derive(serde::Deserialize, warden::Validate)]
#[serde(deny_unknown_fields)]
struct Signup {
    #[validate(len(10..=2))]
    name: String,
    #[validate(range(min = 130, max = 18))]
    age: u8,
    #[validate(password(min = 64, max = 12))]
    password: String,
    #[validate(len(1..5))]
    nick: String,
}

fn main() {}
