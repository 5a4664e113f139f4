use warden::rate_limit;

fn key_of(_: &str) -> String {
    String::new()
}

#[rate_limit(5, "1m", with = key_of)]
async fn handler() {}

fn main() {}
