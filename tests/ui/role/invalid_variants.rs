#[derive(Clone, Copy, warden::Role)]
enum Role {
    Admin,
    #[role(rename = "admin")]
    Administrator,
    Custom(u8),
    #[role(renam = "x")]
    Typo,
    #[role(rename = "two words")]
    Spaced,
}

fn main() {}
