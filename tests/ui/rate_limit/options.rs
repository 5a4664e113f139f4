use warden::rate_limit;

#[rate_limit(5, "15m", skip_successful, skip_failed)]
async fn contradictory_skips() {}

#[rate_limit(5, "15m", skip_sucessful)]
async fn near_miss() {}

#[rate_limit(5, "15m", key = ip, key = ip)]
async fn duplicate_option() {}

#[rate_limit(5, "15m", key = adress)]
async fn unknown_key() {}

#[rate_limit(5, "15m", key = header("bad header"))]
async fn invalid_header() {}

#[rate_limit(5, "15m", frobnicate)]
async fn far_miss() {}

#[rate_limit("login", name = "other")]
async fn named_with_name() {}

#[rate_limit(5, "15m", name = "say \"hi\"")]
async fn quoted_name() {}

#[rate_limit(5, "1m")]
#[rate_limit(5, "1m")]
async fn same_name_twice() {}

fn main() {}
