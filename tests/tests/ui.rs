//! Compile-fail cases: every policy mistake is a compile error that points
//! at the user's token. Regenerate the `.stderr` files with
//! `TRYBUILD=overwrite cargo test -p warden-tests --test ui`, then read each
//! as a user would.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("ui/protected/*.rs");
    cases.compile_fail("ui/public/*.rs");
    cases.compile_fail("ui/rate_limit/*.rs");
    cases.compile_fail("ui/role/*.rs");
    cases.compile_fail("ui/routing/*.rs");
    cases.compile_fail("ui/validate/*.rs");
}
