/// A role of the application, as spelt in tokens.
///
/// Roles are the application's own enum, so `#[protected(role = Role::Admin)]`
/// names a variant the compiler checks: a misspelt role does not compile.
/// Derive it with [`#[derive(Role)]`](macro@crate::Role), which spells each
/// variant in snake case (`SuperUser` is `"super_user"`) unless
/// `#[role(rename = "...")]` says otherwise, or implement it by hand.
///
/// ```
/// #[derive(Clone, Copy, warden::Role)]
/// enum Role {
///     Admin,
///     #[role(rename = "support-agent")]
///     Support,
/// }
///
/// use warden::auth::Role as _;
/// assert_eq!(Role::Admin.as_str(), "admin");
/// assert_eq!(Role::Support.as_str(), "support-agent");
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a warden role",
    label = "`role = ...` takes a value of a type that implements `warden::auth::Role`",
    note = "derive it on your role enum: `#[derive(warden::Role)]`"
)]
pub trait Role {
    /// The role's name in the `roles` claim of a token.
    fn as_str(&self) -> &'static str;
}
