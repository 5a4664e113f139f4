use warden::protected;

#[protected(scope = "a")]
#[protected(scope = "b")]
async fn twice() {}

fn main() {}
