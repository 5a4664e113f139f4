//! Placeholder until the guards bench lands.
fn main() {}
