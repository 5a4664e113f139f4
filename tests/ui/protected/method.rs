use warden::protected;

struct Api;

impl Api {
    #[protected]
    async fn handler(&self) {}
}

fn main() {}
