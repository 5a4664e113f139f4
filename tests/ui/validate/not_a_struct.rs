#[derive(warden::Validate)]
enum Signup {
    A,
}

#[derive(warden::Validate)]
struct Tuple(String);

fn main() {}
