use serde::Deserialize;

#[derive(Deserialize, warden::Validate)]
#[serde(deny_unknown_fields)]
struct Link {
    #[validate(url(schemes = "https, Java Script:"))]
    target: String,
}

fn main() {}
