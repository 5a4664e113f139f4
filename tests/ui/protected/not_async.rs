use warden::protected;

#[protected]
fn handler() -> &'static str {
    "sync"
}

fn main() {}
