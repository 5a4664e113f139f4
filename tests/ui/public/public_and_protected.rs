use warden::{protected, public};

#[public]
#[protected]
async fn confused() {}

#[protected]
#[public]
async fn confused_the_other_way() {}

fn main() {}
