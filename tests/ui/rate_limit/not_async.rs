use warden::rate_limit;

#[rate_limit(5, "1m")]
fn handler() {}

fn main() {}
