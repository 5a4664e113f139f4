#[derive(serde::Deserialize, warden::Validate)]
#[serde(deny_unknown_fields)]
struct Signup {
    #[validate(email)]
    age: u32,
    #[validate(range(1..=10))]
    name: String,
    #[validate(len(max = 3))]
    count: u64,
}

fn main() {}
