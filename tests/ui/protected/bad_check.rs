use warden::protected;

fn not_async(_: &warden::auth::Claims) -> bool {
    true
}

#[protected(check = not_async)]
async fn handler() {}

async fn wrong_answer(_: &warden::auth::Claims, _: &mut http::request::Parts) -> String {
    String::new()
}

#[protected(check = wrong_answer)]
async fn other_handler() {}

fn main() {}
