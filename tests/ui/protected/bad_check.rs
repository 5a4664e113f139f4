use warden::protected;

fn not_async(_: &warden::auth::Claims) -> bool {
    true
}

#[protected(check = not_async)]
async fn handler() {}

fn main() {}
