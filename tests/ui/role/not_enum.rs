#[derive(warden::Role)]
struct Role {
    name: String,
}

fn main() {}
