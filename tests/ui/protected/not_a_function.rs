use warden::protected;

#[protected]
struct Handler;

fn main() {}
