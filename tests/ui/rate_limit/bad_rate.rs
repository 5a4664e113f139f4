use warden::rate_limit;

#[rate_limit(0, "1m")]
async fn zero() {}

#[rate_limit(4294967296, "1m")]
async fn overflowing() {}

#[rate_limit(5, "15x")]
async fn malformed_window() {}

#[rate_limit(5, "")]
async fn empty_window() {}

#[rate_limit(5, "0s")]
async fn zero_window() {}

#[rate_limit(5, "1m1h")]
async fn units_out_of_order() {}

#[rate_limit(5, "400d")]
async fn window_too_long() {}

#[rate_limit(5)]
async fn no_window() {}

#[rate_limit]
async fn no_rate() {}

fn main() {}
