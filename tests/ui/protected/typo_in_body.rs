use warden::protected;

// A mistake inside the body is reported as that mistake: the attribute
// reads the signature and leaves the body to rustc.
#[protected]
async fn handler() -> u32 {
    let answer = 42
    answer
}

fn main() {}
