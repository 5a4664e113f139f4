use warden::{public, rate_limit};

#[public(role = Role::Admin)]
async fn with_arguments() {}

#[public]
#[public]
async fn twice() {}

#[public]
fn not_async() {}

// Beside a limit: fine.
#[public]
#[rate_limit(5, "15m")]
async fn limited() {}

fn main() {}
