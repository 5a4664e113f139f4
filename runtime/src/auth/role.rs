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
/// assert!(matches!(Role::from_name("support-agent"), Some(Role::Support)));
/// assert!(Role::from_name("Support").is_none());
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a warden role",
    label = "`role = ...` takes a value of a type that implements `warden::auth::Role`",
    note = "derive it on your role enum: `#[derive(warden::Role)]`"
)]
pub trait Role {
    /// The role's name in the `roles` claim of a token.
    fn as_str(&self) -> &'static str;

    /// The role spelt `name` in tokens, if the application has one: for
    /// roles kept in storage by name, so that they are granted as the typed
    /// role again (`Role::from_name(&row.role)`), never as a bare string.
    fn from_name(name: &str) -> Option<Self>
    where
        Self: Sized;
}
