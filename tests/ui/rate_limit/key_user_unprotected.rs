use warden::rate_limit;

#[rate_limit(30, "1m", key = user)]
async fn data() {}

fn main() {}
