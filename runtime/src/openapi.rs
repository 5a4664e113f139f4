//! OpenAPI that tells the truth about security (cargo feature `utoipa`).
//!
//! The application documents its routes and bodies with
//! [utoipa](https://docs.rs/utoipa), as usual; [`Describe`] then adds what
//! warden knows of each route, from the [`PolicyTable`] of the
//! [`Router`](crate::routing::Router) that serves them:
//!
//! - the bearer security scheme, and each operation's security
//!   requirement: none for `#[public]`, the bearer scheme for
//!   `#[protected]`, with the role names and scopes its requirement asks
//!   for (`any(..)` becomes alternative requirements, as OpenAPI reads a
//!   list of them);
//! - the responses warden itself gives, as RFC 9457 problem+json (a
//!   `Problem` schema): 400 (an invalid body, with its `issues`; a
//!   malformed `Authorization`), 401 with `WWW-Authenticate`, 403 (a role,
//!   scope or object-level check; a write over plain HTTP when HTTPS is
//!   required), 413 and 415 for validated bodies, 429 with `Retry-After`,
//!   `RateLimit-Policy` and `RateLimit`, and 503 while the limits' store or
//!   an external issuer cannot answer; the `RateLimit` fields on the
//!   successful responses of limited routes;
//! - the `#[derive(Validate)]` rules as JSON Schema keywords of the request
//!   body (or query) schema: `format: email`, `minLength`/`maxLength` (in
//!   characters, as `len` counts them), `minItems`/`maxItems`, `pattern`,
//!   `minimum`/`maximum`, `enum` for `one_of`, and
//!   `additionalProperties: false` for a type with
//!   `#[serde(deny_unknown_fields)]`; each schema also lists its rules as
//!   written in `x-warden-rules`;
//! - the whole policy of each operation in `x-warden-policy`, as the
//!   policy table's JSON has it.
//!
//! The document and the routes must agree: a route the document does not
//! describe, an operation no route serves, a validated body the document
//! leaves out, or a field with rules that its schema lacks is an
//! [`OpenApiError`], so a document that builds is a document of every
//! route. Routes merged as a whole with
//! [`Router::merge_open`](crate::routing::Router::merge_open) are
//! documented through [`Describe::open_paths`] (the sign-in routes of
//! `warden::oidc` describe themselves with `SignIn::openapi_paths`).
//!
//! ```
//! use axum::Json;
//! use serde::Deserialize;
//! use utoipa::OpenApi;
//! use warden::routing::{Router, post};
//! use warden::{Warden, auth::Jwt, openapi::Describe, public, validate};
//!
//! #[derive(Deserialize, utoipa::ToSchema, warden::Validate)]
//! #[serde(deny_unknown_fields)]
//! struct Register {
//!     #[validate(email, len(max = 255))]
//!     email: String,
//! }
//!
//! #[utoipa::path(post, path = "/register", request_body = Register,
//!     responses((status = 201, description = "registered")))]
//! #[public]
//! #[validate]
//! async fn register(Json(body): Json<Register>) -> &'static str {
//!     "registered"
//! }
//!
//! #[derive(OpenApi)]
//! #[openapi(paths(register))]
//! struct ApiDoc;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let warden = Warden::builder()
//!     .jwt(Jwt::hs256(b"a secret of at least thirty-two bytes")?.issuer("api").audience("api"))
//!     .build()?;
//! let router: Router<Warden> = Router::new().route("/register", post(register));
//! let document = Describe::new(&router.policy_table())
//!     .warden(&warden)
//!     .apply(ApiDoc::openapi())?;
//! let json = serde_json::to_value(&document)?;
//! let email = &json["components"]["schemas"]["Register"]["properties"]["email"];
//! assert_eq!(email["format"], "email");
//! assert_eq!(email["maxLength"], 255);
//! assert_eq!(json["components"]["schemas"]["Register"]["additionalProperties"], false);
//! assert!(json["paths"]["/register"]["post"]["responses"]["415"].is_object());
//! # Ok(())
//! # }
//! ```

use std::fmt;

use utoipa::openapi::extensions::ExtensionsBuilder;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, ParameterIn, PathItem};
use utoipa::openapi::response::Response;
use utoipa::openapi::schema::{
    AdditionalProperties, AllOf, Array, Object, ObjectBuilder, Schema, SchemaFormat, SchemaType,
    Type,
};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{Components, Content, OpenApi, Paths, Ref, RefOr};

use crate::Warden;
use crate::http::{PROBLEM_JSON, Problem};
use crate::limit::RateSpec;
use crate::manifest::{PolicyRow, PolicyTable, Requirement, RuleSpec, TypeRules};

/// The name of the bearer security scheme [`Describe`] adds, unless
/// another is chosen with [`Describe::security_scheme`].
pub const BEARER_SCHEME: &str = "bearerAuth";
/// The name of the problem+json schema of every error warden describes.
pub const PROBLEM_SCHEMA: &str = "Problem";
/// The name of the schema of one validation issue.
pub const ISSUE_SCHEMA: &str = "ValidationIssue";

/// The most alternatives a requirement is spelt out into (`any` of `all`
/// of ...); past it, the operation asks for the bearer scheme with no
/// role or scope, and `x-warden-policy` keeps the requirement as written.
const MAX_ALTERNATIVES: usize = 16;

/// Adds what warden knows of each route to a utoipa [`OpenApi`] document
/// (see the [module](self)).
#[derive(Clone)]
#[must_use]
pub struct Describe<'a> {
    table: &'a PolicyTable,
    warden: Option<&'a Warden>,
    scheme: String,
    open: Vec<Paths>,
}

impl fmt::Debug for Describe<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Describe")
            .field("routes", &self.table.rows().len())
            .field("warden", &self.warden.is_some())
            .field("scheme", &self.scheme)
            .finish_non_exhaustive()
    }
}

impl<'a> Describe<'a> {
    /// Describes the routes of `table`
    /// ([`Router::policy_table`](crate::routing::Router::policy_table)).
    pub fn new(table: &'a PolicyTable) -> Self {
        Self {
            table,
            warden: None,
            scheme: BEARER_SCHEME.to_owned(),
            open: Vec::new(),
        }
    }

    /// Also describes what the runtime's configuration adds to every route:
    /// the global limit (429 and the `RateLimit` fields, but on its exempt
    /// paths), required HTTPS (308 for `GET` and `HEAD`, 403 for the other
    /// methods, but on its exempt paths), the rates of named limit
    /// policies, and 503 when the access tokens of external issuers are
    /// accepted.
    pub fn warden(mut self, warden: &'a Warden) -> Self {
        self.warden = Some(warden);
        self
    }

    /// The name of the bearer security scheme (default [`BEARER_SCHEME`]).
    pub fn security_scheme(mut self, name: impl Into<String>) -> Self {
        self.scheme = name.into();
        self
    }

    /// Operations of routes merged with
    /// [`Router::merge_open`](crate::routing::Router::merge_open), which
    /// the policy table does not list: added to the document as open
    /// (`security: []`), with the runtime's own responses.
    pub fn open_paths(mut self, paths: Paths) -> Self {
        self.open.push(paths);
        self
    }

    /// The document with warden's description added, or the first place
    /// where it and the routes disagree.
    pub fn apply(&self, mut doc: OpenApi) -> Result<OpenApi, OpenApiError> {
        let mut open_operations = Vec::new();
        for paths in &self.open {
            for (path, item) in &paths.paths {
                for (method, _) in operations(item) {
                    open_operations.push((method, path.clone()));
                }
                let entry = doc.paths.paths.entry(path.clone()).or_default();
                merge_path_item(entry, item.clone());
            }
        }
        // The routes, as OpenAPI spells their paths.
        let routed: Vec<(&'static str, String, &PolicyRow)> = self
            .table
            .rows()
            .iter()
            .filter_map(|row| Some((row.method?, openapi_path(row.path.as_deref()?), row)))
            .collect();
        // Every operation of the document is a route, and the reverse.
        for (path, item) in &doc.paths.paths {
            for (method, _) in operations(item) {
                let known = |(m, p): (&str, &str)| m == method && p == path;
                if !routed.iter().any(|(m, p, _)| known((m, p)))
                    && !open_operations.iter().any(|(m, p)| known((m, p)))
                {
                    return Err(OpenApiError::Unrouted {
                        method,
                        path: path.clone(),
                    });
                }
            }
        }
        let components = doc.components.get_or_insert_with(Components::new);
        add_problem_schemas(components);
        let mut any_protected = false;
        for (method, path, row) in &routed {
            let (method, path) = (*method, path.as_str());
            let Some(operation) = doc
                .paths
                .paths
                .get_mut(path)
                .and_then(|item| operation_mut(item, method))
            else {
                return Err(OpenApiError::Undocumented {
                    method,
                    path: path.to_owned(),
                });
            };
            any_protected |= row.policy.protected.is_some();
            self.describe_operation(operation, row, method, path);
            apply_validation(operation, components, row, method, path)?;
        }
        for (method, path) in &open_operations {
            if let Some(operation) = doc
                .paths
                .paths
                .get_mut(path)
                .and_then(|item| operation_mut(item, method))
            {
                operation.security = Some(Vec::new());
                self.describe_runtime(operation, method, path, false);
            }
        }
        if any_protected {
            components.security_schemes.insert(
                self.scheme.clone(),
                SecurityScheme::Http(
                    Http::builder()
                        .scheme(HttpAuthScheme::Bearer)
                        .bearer_format("JWT")
                        .description(Some(
                            "An access token in `Authorization: Bearer <token>` (RFC 6750). \
                             A token a route refuses gets 401 with `WWW-Authenticate`; a \
                             valid token without the role or scope the route asks for gets 403.",
                        ))
                        .build(),
                ),
            );
        }
        Ok(doc)
    }

    /// Security, responses and headers of one routed operation.
    fn describe_operation(
        &self,
        operation: &mut Operation,
        row: &PolicyRow,
        method: &'static str,
        path: &str,
    ) {
        let policy = row.policy;
        let body = policy
            .validated
            .iter()
            .any(|p| matches!(p.extractor, "Json" | "Form"));
        if policy.protected.is_some() {
            operation.security = Some(self.security(policy.requirements));
            add_problem(
                operation,
                "400",
                "A malformed `Authorization` header (two of them, an empty token): \
                 `invalid_request`.",
                &[WWW_AUTHENTICATE],
            );
            add_problem(
                operation,
                "401",
                "No access token, or one that is not valid (signature, expiry, issuer, \
                 audience, type): `WWW-Authenticate: Bearer` says which.",
                &[WWW_AUTHENTICATE],
            );
            let mut forbidden = Vec::new();
            if !policy.requirements.is_empty() {
                forbidden.push(format!(
                    "The token lacks what the route requires: `{}`.",
                    policy.protected.unwrap_or_default()
                ));
            }
            if let Some(check) = policy.check {
                forbidden.push(format!("The object-level check `{check}` refused."));
                add_problem(
                    operation,
                    "404",
                    &format!(
                        "The object-level check `{check}` refused without revealing that the \
                         resource exists: `not_found`."
                    ),
                    &[],
                );
            }
            if !forbidden.is_empty() {
                add_problem(operation, "403", &forbidden.join(" "), &[WWW_AUTHENTICATE]);
            }
            if self.warden.is_some_and(Warden::trusts_external_issuers) {
                add_problem(
                    operation,
                    "503",
                    "The keys of the token's issuer cannot be fetched right now: \
                     `issuer_unavailable`; retry after `Retry-After` seconds.",
                    &[RETRY_AFTER],
                );
            }
        } else if policy.public {
            operation.security = Some(Vec::new());
        }
        if !policy.validated.is_empty() {
            add_problem(
                operation,
                "400",
                "The input breaks the rules of its schema: every broken rule is listed in \
                 `issues` (wrongly typed, missing and unknown fields included).",
                &[],
            );
        }
        if body {
            let limit = self
                .warden
                .map(|w| format!(" ({} bytes)", w.http_defaults().body_limit))
                .unwrap_or_default();
            add_problem(
                operation,
                "413",
                &format!("The body is larger than the limit{limit}: `body_too_large`."),
                &[],
            );
            add_problem(
                operation,
                "415",
                "The body does not have the media type the route reads.",
                &[],
            );
        }
        if !policy.limits.is_empty() {
            let described: Vec<String> = policy
                .limits
                .iter()
                .zip(policy.limit_lines())
                .map(|(limit, line)| match (limit.rate, self.warden) {
                    (RateSpec::Named(name), Some(warden)) => match warden.named_rate(name) {
                        Some(rate) => format!(
                            "{line}: {} per {} s",
                            rate.count(),
                            rate.window().as_secs_f64()
                        ),
                        None => line,
                    },
                    _ => line,
                })
                .collect();
            add_problem(
                operation,
                "429",
                &format!(
                    "A rate limit of the route is reached ({}): `rate_limited`; retry after \
                     `Retry-After` seconds.",
                    described.join("; ")
                ),
                &[RETRY_AFTER, RATELIMIT_POLICY, RATELIMIT],
            );
            add_problem(
                operation,
                "503",
                "The store of the rate limits cannot answer (a shared store such as Redis is \
                 down): `limits_unavailable`; limits fail closed.",
                &[RETRY_AFTER],
            );
            add_success_headers(operation, &[RATELIMIT_POLICY, RATELIMIT]);
        }
        self.describe_runtime(operation, method, path, !policy.limits.is_empty());
        let mut policy_json = row.policy.to_json();
        policy_json["method"] = method.into();
        policy_json["path"] = path.into();
        let extensions = ExtensionsBuilder::new()
            .add("x-warden-policy", policy_json)
            .build();
        match &mut operation.extensions {
            Some(existing) => existing.merge(extensions),
            none => *none = Some(extensions),
        }
    }

    /// What the runtime's configuration adds to an operation.
    fn describe_runtime(
        &self,
        operation: &mut Operation,
        method: &str,
        path: &str,
        route_limited: bool,
    ) {
        let Some(warden) = self.warden else {
            return;
        };
        if let Some(global) = warden.global_limit()
            && !global.exempt.iter().any(|p| p == path)
        {
            add_problem(
                operation,
                "429",
                &format!(
                    "The global limit of {} requests per {} s per client address is reached \
                     (`limit: \"global\"`); retry after `Retry-After` seconds.",
                    global.rate.count(),
                    global.rate.window().as_secs_f64()
                ),
                &[RETRY_AFTER, RATELIMIT_POLICY, RATELIMIT],
            );
            add_problem(
                operation,
                "503",
                "The store of the rate limits cannot answer: `limits_unavailable`.",
                &[RETRY_AFTER],
            );
            if !route_limited {
                add_success_headers(operation, &[RATELIMIT_POLICY, RATELIMIT]);
            }
        }
        if let Some(exempt) = warden.https_exempt()
            && !exempt.iter().any(|p| p == path)
        {
            if matches!(method, "GET" | "HEAD") {
                add_response(
                    operation,
                    "308",
                    Response::builder()
                        .description(
                            "The request did not arrive over HTTPS: the same URL with `https`.",
                        )
                        .header(
                            "Location",
                            HeaderBuilder::new()
                                .schema(string_schema())
                                .description(Some("The `https` URL."))
                                .build(),
                        )
                        .build(),
                );
            } else {
                add_problem(
                    operation,
                    "403",
                    "The request did not arrive over HTTPS, which this API requires: \
                     `https_required`.",
                    &[],
                );
            }
        }
    }

    /// The security requirements of a `#[protected]` route: alternatives
    /// (OpenAPI's list), each asking for the bearer scheme with the roles
    /// and scopes that must all be held.
    fn security(&self, requirements: &'static [Requirement]) -> Vec<SecurityRequirement> {
        let bare = || vec![SecurityRequirement::new(&self.scheme, Vec::<String>::new())];
        match alternatives(&Requirement::All(requirements)) {
            Some(alternatives) => alternatives
                .into_iter()
                .map(|mut names| {
                    names.sort();
                    names.dedup();
                    SecurityRequirement::new(&self.scheme, names)
                })
                .collect(),
            None => bare(),
        }
    }
}

/// A requirement as alternatives of sets of names that must all be held
/// (its disjunctive normal form), or `None` when it cannot be written so
/// (a `not`, or too many alternatives).
fn alternatives(requirement: &Requirement) -> Option<Vec<Vec<String>>> {
    match requirement {
        Requirement::Role(name) => Some(vec![vec![name().to_owned()]]),
        Requirement::Scope(scope) => Some(vec![vec![(*scope).to_owned()]]),
        Requirement::Not(_) => None,
        Requirement::Any(inner) => {
            let mut all = Vec::new();
            for requirement in *inner {
                all.extend(alternatives(requirement)?);
                if all.len() > MAX_ALTERNATIVES {
                    return None;
                }
            }
            Some(all)
        }
        Requirement::All(inner) => {
            let mut product = vec![Vec::new()];
            for requirement in *inner {
                let next = alternatives(requirement)?;
                let mut combined = Vec::new();
                for left in &product {
                    for right in &next {
                        let mut both: Vec<String> = left.clone();
                        both.extend(right.iter().cloned());
                        combined.push(both);
                    }
                }
                if combined.len() > MAX_ALTERNATIVES {
                    return None;
                }
                product = combined;
            }
            Some(product)
        }
    }
}

/// Where the document and the routes disagree.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OpenApiError {
    /// A route of the policy table that the document does not describe.
    Undocumented {
        /// `GET`, `POST`, ...
        method: &'static str,
        /// The route's path.
        path: String,
    },
    /// An operation of the document that no route serves.
    Unrouted {
        /// `GET`, `POST`, ...
        method: &'static str,
        /// The operation's path.
        path: String,
    },
    /// A validated body or query that the operation does not describe.
    UndescribedInput {
        /// `GET`, `POST`, ...
        method: &'static str,
        /// The route's path.
        path: String,
        /// The parameter as written (`Json<Register>`).
        parameter: &'static str,
    },
    /// A schema the document refers to but does not define.
    MissingSchema {
        /// The reference (`#/components/schemas/Register`).
        reference: String,
    },
    /// A field with rules that its schema does not have.
    MissingField {
        /// The validated type (`Register`).
        schema: &'static str,
        /// The field, by its name in the request.
        field: &'static str,
    },
}

impl fmt::Display for OpenApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Undocumented { method, path } => {
                write!(
                    f,
                    "the route {method} {path} is not in the OpenAPI document"
                )
            }
            Self::Unrouted { method, path } => write!(
                f,
                "the OpenAPI document describes {method} {path}, which no route serves"
            ),
            Self::UndescribedInput {
                method,
                path,
                parameter,
            } => write!(
                f,
                "{method} {path} validates {parameter}, which its OpenAPI operation does not describe"
            ),
            Self::MissingSchema { reference } => {
                write!(f, "the OpenAPI document has no schema {reference}")
            }
            Self::MissingField { schema, field } => write!(
                f,
                "the OpenAPI schema of {schema} has no property {field:?}, which has rules"
            ),
        }
    }
}

impl std::error::Error for OpenApiError {}

/// A response header: its name and description.
pub(crate) type HeaderDoc = (&'static str, &'static str);

const WWW_AUTHENTICATE: HeaderDoc = (
    "WWW-Authenticate",
    "The `Bearer` challenge (RFC 6750), with the `error` when there is one.",
);
pub(crate) const RETRY_AFTER: HeaderDoc = (
    "Retry-After",
    "Seconds to wait before the request can be admitted.",
);
const RATELIMIT_POLICY: HeaderDoc = (
    "RateLimit-Policy",
    "The route's limits (draft-ietf-httpapi-ratelimit-headers): \
     `\"name\";q=<quota>;w=<window seconds>`, one item per limit.",
);
const RATELIMIT: HeaderDoc = (
    "RateLimit",
    "What is left of each limit (draft-ietf-httpapi-ratelimit-headers): \
     `\"name\";r=<remaining>;t=<seconds until reset>`, one item per limit.",
);

fn string_schema() -> Schema {
    Schema::Object(Object::with_type(Type::String))
}

fn header(doc: HeaderDoc) -> utoipa::openapi::header::Header {
    if doc.0 == RETRY_AFTER.0 {
        HeaderBuilder::new()
            .schema(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(1))
                    .build(),
            )
            .description(Some(doc.1))
            .build()
    } else {
        string_header(doc.1)
    }
}

/// A response header with a text value.
pub(crate) fn string_header(description: &str) -> utoipa::openapi::header::Header {
    HeaderBuilder::new()
        .schema(string_schema())
        .description(Some(description))
        .build()
}

/// A problem+json response.
pub(crate) fn problem_response(description: &str, headers: &[HeaderDoc]) -> Response {
    let mut response = Response::builder()
        .description(description)
        .content(PROBLEM_JSON, problem_content())
        .build();
    for &doc in headers {
        response.headers.insert(doc.0.to_owned(), header(doc));
    }
    response
}

fn problem_content() -> Content {
    Content::new(Some(RefOr::Ref(Ref::from_schema_name(PROBLEM_SCHEMA))))
}

/// Adds a problem+json response for `status`, or, when the document
/// describes that status already, adds warden's cause to its description
/// and its headers to it.
fn add_problem(operation: &mut Operation, status: &str, cause: &str, headers: &[HeaderDoc]) {
    let responses = &mut operation.responses.responses;
    match responses.get_mut(status) {
        Some(RefOr::T(response)) => {
            if !response.description.contains(cause) {
                if !response.description.is_empty() {
                    response.description.push(' ');
                }
                response.description.push_str(cause);
            }
            for &doc in headers {
                response
                    .headers
                    .entry(doc.0.to_owned())
                    .or_insert_with(|| header(doc));
            }
            if response.content.is_empty() {
                response
                    .content
                    .insert(PROBLEM_JSON.to_owned(), problem_content());
            }
        }
        Some(RefOr::Ref(_)) => {}
        None => {
            responses.insert(
                status.to_owned(),
                RefOr::T(problem_response(cause, headers)),
            );
        }
    }
}

fn add_response(operation: &mut Operation, status: &str, response: Response) {
    operation
        .responses
        .responses
        .entry(status.to_owned())
        .or_insert(RefOr::T(response));
}

/// Adds `headers` to every 2xx response of the operation.
fn add_success_headers(operation: &mut Operation, headers: &[HeaderDoc]) {
    for (status, response) in &mut operation.responses.responses {
        if let (true, RefOr::T(response)) = (status.starts_with('2'), response) {
            for &doc in headers {
                response
                    .headers
                    .entry(doc.0.to_owned())
                    .or_insert_with(|| header(doc));
            }
        }
    }
}

fn add_problem_schemas(components: &mut Components) {
    let mut schemas = vec![(
        PROBLEM_SCHEMA.to_owned(),
        <Problem as utoipa::PartialSchema>::schema(),
    )];
    <Problem as utoipa::ToSchema>::schemas(&mut schemas);
    for (name, schema) in schemas {
        components.schemas.entry(name).or_insert(schema);
    }
}

/// A schema of one type, described.
fn typed(ty: Type, description: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(ty)
        .description(Some(description))
}

/// Text, described.
fn text(description: &str) -> Object {
    typed(Type::String, description).build()
}

/// The schema of [`Problem`] as warden sends it, for the application's
/// own utoipa annotations: `body = warden::http::Problem` with
/// `content_type = "application/problem+json"`.
impl utoipa::PartialSchema for Problem {
    fn schema() -> RefOr<Schema> {
        RefOr::T(Schema::Object(
            ObjectBuilder::new()
                .schema_type(Type::Object)
                .description(Some(
                    "RFC 9457 problem details: the one shape of every error.",
                ))
                .property("type", text("Always `about:blank`."))
                .property("title", text("The status's reason phrase."))
                .property(
                    "status",
                    typed(Type::Integer, "The HTTP status.")
                        .minimum(Some(400))
                        .maximum(Some(599))
                        .build(),
                )
                .property(
                    "detail",
                    text("What happened, for a person; never a token, a password or an internal error."),
                )
                .property("code", text("The problem's stable, machine-readable name."))
                .property(
                    "issues",
                    Array::builder()
                        .items(RefOr::Ref(Ref::from_schema_name(ISSUE_SCHEMA)))
                        .description(Some("A validation failure's broken rules, all of them."))
                        .build(),
                )
                .property(
                    "truncated",
                    typed(Type::Boolean, "Whether `issues` was cut short.").build(),
                )
                .property(
                    "retryAfter",
                    typed(Type::Integer, "On 429: seconds to wait, as `Retry-After` says.")
                        .minimum(Some(1))
                        .build(),
                )
                .property("limit", text("On 429: the name of the limit that refused."))
                .required("type")
                .required("title")
                .required("status")
                .required("detail")
                .required("code")
                .build(),
        ))
    }
}

impl utoipa::ToSchema for Problem {
    fn name() -> std::borrow::Cow<'static, str> {
        PROBLEM_SCHEMA.into()
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((
            ISSUE_SCHEMA.to_owned(),
            RefOr::T(Schema::Object(
                ObjectBuilder::new()
                    .schema_type(Type::Object)
                    .description(Some("One broken rule of a request's input."))
                    .property(
                        "path",
                        text("Where: field names as the request spells them (`items[2].name`); empty for the input as a whole."),
                    )
                    .property(
                        "code",
                        text("The rule's stable code (`email`, `len`, `required`, ...)."),
                    )
                    .property(
                        "message",
                        text("What to fix, for a person; never echoes the value."),
                    )
                    .required("path")
                    .required("code")
                    .required("message")
                    .build(),
            )),
        ));
    }
}

/// The operations of a path item, with their methods.
fn operations(item: &PathItem) -> Vec<(&'static str, &Operation)> {
    [
        ("GET", &item.get),
        ("PUT", &item.put),
        ("POST", &item.post),
        ("DELETE", &item.delete),
        ("OPTIONS", &item.options),
        ("HEAD", &item.head),
        ("PATCH", &item.patch),
        ("TRACE", &item.trace),
    ]
    .into_iter()
    .filter_map(|(method, op)| op.as_ref().map(|op| (method, op)))
    .collect()
}

fn operation_mut<'i>(item: &'i mut PathItem, method: &str) -> Option<&'i mut Operation> {
    match method {
        "GET" => item.get.as_mut(),
        "PUT" => item.put.as_mut(),
        "POST" => item.post.as_mut(),
        "DELETE" => item.delete.as_mut(),
        "OPTIONS" => item.options.as_mut(),
        "HEAD" => item.head.as_mut(),
        "PATCH" => item.patch.as_mut(),
        "TRACE" => item.trace.as_mut(),
        _ => None,
    }
}

fn merge_path_item(into: &mut PathItem, from: PathItem) {
    macro_rules! take {
        ($($method:ident),*) => {
            $(if from.$method.is_some() { into.$method = from.$method; })*
        };
    }
    take!(get, put, post, delete, options, head, patch, trace);
}

/// The rules of the operation's validated parameters onto their schemas:
/// a body's, inline or by reference into the components, and the query
/// parameters'.
fn apply_validation(
    operation: &mut Operation,
    components: &mut Components,
    row: &PolicyRow,
    method: &'static str,
    path: &str,
) -> Result<(), OpenApiError> {
    for param in row.policy.validated {
        let Some(rules) = param.rules else {
            continue;
        };
        let undescribed = || OpenApiError::UndescribedInput {
            method,
            path: path.to_owned(),
            parameter: param.written,
        };
        match param.extractor {
            "Json" | "Form" => {
                let media = if param.extractor == "Json" {
                    "json"
                } else {
                    "x-www-form-urlencoded"
                };
                let body = operation.request_body.as_mut().ok_or_else(undescribed)?;
                let content = body
                    .content
                    .iter_mut()
                    .find(|(kind, _)| kind.contains(media))
                    .map(|(_, content)| content)
                    .ok_or_else(undescribed)?;
                match content.schema.as_mut().ok_or_else(undescribed)? {
                    RefOr::T(schema) => apply_type_rules(schema, rules)?,
                    RefOr::Ref(reference) => {
                        let name = reference
                            .ref_location
                            .strip_prefix("#/components/schemas/")
                            .ok_or_else(undescribed)?;
                        match components.schemas.get_mut(name) {
                            Some(RefOr::T(schema)) => apply_type_rules(schema, rules)?,
                            _ => {
                                return Err(OpenApiError::MissingSchema {
                                    reference: reference.ref_location.clone(),
                                });
                            }
                        }
                    }
                }
            }
            "Query" => {
                let parameters = operation.parameters.get_or_insert_with(Vec::new);
                for field in rules.fields {
                    let Some(parameter) = parameters
                        .iter_mut()
                        .find(|p| p.name == field.field && p.parameter_in == ParameterIn::Query)
                    else {
                        return Err(OpenApiError::MissingField {
                            schema: rules.name,
                            field: field.field,
                        });
                    };
                    let schema = parameter
                        .schema
                        .get_or_insert_with(|| RefOr::T(string_schema()));
                    apply_field_rules(schema, field.specs);
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// A validated type's rules, onto its object schema.
fn apply_type_rules(schema: &mut Schema, rules: TypeRules) -> Result<(), OpenApiError> {
    let Schema::Object(object) = schema else {
        return Err(OpenApiError::MissingField {
            schema: rules.name,
            field: rules.fields.first().map_or("", |f| f.field),
        });
    };
    if rules.strict {
        object.additional_properties = Some(Box::new(AdditionalProperties::FreeForm(false)));
    }
    let mut written = serde_json::Map::new();
    for field in rules.fields {
        let Some(property) = object.properties.get_mut(field.field) else {
            return Err(OpenApiError::MissingField {
                schema: rules.name,
                field: field.field,
            });
        };
        apply_field_rules(property, field.specs);
        written.insert(field.field.to_owned(), field.rules.into());
    }
    let extensions = ExtensionsBuilder::new()
        .add("x-warden-rules", serde_json::Value::Object(written))
        .build();
    match &mut object.extensions {
        Some(existing) => existing.merge(extensions),
        none => *none = Some(extensions),
    }
    Ok(())
}

/// What one field's rules say, as JSON Schema keywords.
#[derive(Default)]
struct Keywords {
    format: Option<&'static str>,
    min_length: Option<usize>,
    max_length: Option<usize>,
    minimum: Option<f64>,
    maximum: Option<f64>,
    patterns: Vec<String>,
    enumeration: Option<Vec<serde_json::Value>>,
    notes: Vec<String>,
}

impl Keywords {
    fn of(specs: &[RuleSpec]) -> Self {
        let mut k = Self::default();
        let at_least = |slot: &mut Option<usize>, n: u64| {
            let n = usize::try_from(n).unwrap_or(usize::MAX);
            *slot = Some(slot.map_or(n, |old| old.max(n)));
        };
        let at_most = |slot: &mut Option<usize>, n: u64| {
            let n = usize::try_from(n).unwrap_or(usize::MAX);
            *slot = Some(slot.map_or(n, |old| old.min(n)));
        };
        for spec in specs {
            match *spec {
                RuleSpec::Email { unicode_local_part } => {
                    k.format = Some(if unicode_local_part {
                        "idn-email"
                    } else {
                        "email"
                    });
                }
                RuleSpec::Url { schemes } => {
                    k.format = Some("uri");
                    let schemes: Vec<String> = schemes.iter().map(|s| escape(s)).collect();
                    k.patterns.push(format!("^(?:{}):", schemes.join("|")));
                }
                RuleSpec::Len { min, max } => {
                    if let Some(min) = min {
                        at_least(&mut k.min_length, min);
                    }
                    if let Some(max) = max {
                        at_most(&mut k.max_length, max);
                    }
                }
                RuleSpec::NonEmpty => at_least(&mut k.min_length, 1),
                RuleSpec::Range { min, max } => {
                    if let Some(m) = min {
                        k.minimum = Some(k.minimum.map_or(m, |old| old.max(m)));
                    }
                    if let Some(m) = max {
                        k.maximum = Some(k.maximum.map_or(m, |old| old.min(m)));
                    }
                }
                RuleSpec::Regex(pattern) => k.patterns.push(format!("^(?:{pattern})$")),
                RuleSpec::Password { min, max, special } => {
                    at_least(&mut k.min_length, min);
                    at_most(&mut k.max_length, max);
                    let special: String = special.chars().map(class_escape).collect();
                    k.patterns.push(format!(
                        "^(?=[\\s\\S]*\\p{{Lu}})(?=[\\s\\S]*\\p{{Ll}})(?=[\\s\\S]*[0-9])(?=[\\s\\S]*[{special}])"
                    ));
                }
                RuleSpec::OneOfText(values) => {
                    k.enumeration = Some(values.iter().map(|&v| v.into()).collect());
                }
                RuleSpec::OneOfNumber(values) => {
                    k.enumeration = Some(values.iter().map(|&v| number(v)).collect());
                }
                RuleSpec::Ascii => k.patterns.push("^[\\x00-\\x7F]*$".into()),
                RuleSpec::Alphanumeric => k.patterns.push("^[\\p{L}\\p{N}]*$".into()),
                RuleSpec::NoControlChars => k.patterns.push("^\\P{Cc}*$".into()),
                RuleSpec::Prefix(text) => k.patterns.push(format!("^{}", escape(text))),
                RuleSpec::Suffix(text) => k.patterns.push(format!("{}$", escape(text))),
                RuleSpec::Contains(text) => k.patterns.push(escape(text)),
                RuleSpec::MustMatch(other) => k.notes.push(format!("Must equal `{other}`.")),
                RuleSpec::Custom(function) => {
                    k.notes.push(format!("Also checked by `{function}`."))
                }
            }
        }
        k
    }

    /// One pattern that holds when all of them do.
    fn pattern(&self) -> Option<String> {
        match self.patterns.as_slice() {
            [] => None,
            [one] => Some(one.clone()),
            many => Some(format!(
                "^{}",
                many.iter()
                    .map(|p| format!("(?=[\\s\\S]*?(?:{p}))"))
                    .collect::<String>()
            )),
        }
    }

    fn is_empty(&self) -> bool {
        self.format.is_none()
            && self.min_length.is_none()
            && self.max_length.is_none()
            && self.minimum.is_none()
            && self.maximum.is_none()
            && self.patterns.is_empty()
            && self.enumeration.is_none()
            && self.notes.is_empty()
    }
}

/// A number as JSON: an integer when it is one.
fn number(value: f64) -> serde_json::Value {
    if value.fract() == 0.0 && value.abs() < 9.0e15 {
        (value as i64).into()
    } else {
        value.into()
    }
}

fn utoipa_number(value: f64) -> utoipa::Number {
    if value.fract() == 0.0 && value.abs() < 9.0e15 {
        utoipa::Number::Int(value as isize)
    } else {
        utoipa::Number::Float(value)
    }
}

/// `text` as a pattern that matches it literally.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\^$.|?*+()[]{}/".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `c` inside a character class.
fn class_escape(c: char) -> String {
    if "\\]^-[".contains(c) {
        format!("\\{c}")
    } else {
        c.to_string()
    }
}

fn has_type(schema_type: &SchemaType, wanted: Type) -> bool {
    match schema_type {
        SchemaType::Type(t) => *t == wanted,
        SchemaType::Array(types) => types.contains(&wanted),
        SchemaType::AnyValue => false,
    }
}

/// A field's rules onto its property schema: in place for a plain schema,
/// else beside it (`allOf`).
fn apply_field_rules(property: &mut RefOr<Schema>, specs: &[RuleSpec]) {
    let keywords = Keywords::of(specs);
    if keywords.is_empty() {
        return;
    }
    match property {
        RefOr::T(Schema::Object(object)) => apply_to_object(object, &keywords),
        RefOr::T(Schema::Array(array)) => apply_to_array(array, &keywords),
        other => {
            let mut beside = Object::new();
            apply_to_object(&mut beside, &keywords);
            let original = std::mem::replace(other, RefOr::T(Schema::default()));
            let mut all = AllOf::new();
            all.items = vec![original, RefOr::T(Schema::Object(beside))];
            *other = RefOr::T(Schema::AllOf(all));
        }
    }
}

fn apply_to_object(object: &mut Object, k: &Keywords) {
    let is_map = has_type(&object.schema_type, Type::Object);
    let is_text = !is_map;
    if let Some(format) = k.format {
        object.format = Some(SchemaFormat::Custom(format.to_owned()));
    }
    if is_text {
        if let Some(min) = k.min_length {
            object.min_length = Some(object.min_length.map_or(min, |old| old.max(min)));
        }
        if let Some(max) = k.max_length {
            object.max_length = Some(object.max_length.map_or(max, |old| old.min(max)));
        }
        if let Some(pattern) = k.pattern() {
            object.pattern = Some(pattern);
        }
    } else {
        if let Some(min) = k.min_length {
            object.min_properties = Some(object.min_properties.map_or(min, |old| old.max(min)));
        }
        if let Some(max) = k.max_length {
            object.max_properties = Some(object.max_properties.map_or(max, |old| old.min(max)));
        }
    }
    if let Some(min) = k.minimum {
        object.minimum = Some(utoipa_number(min));
    }
    if let Some(max) = k.maximum {
        object.maximum = Some(utoipa_number(max));
    }
    if let Some(values) = &k.enumeration {
        object.enum_values = Some(values.clone());
    }
    add_notes(&mut object.description, &k.notes);
}

fn apply_to_array(array: &mut Array, k: &Keywords) {
    if let Some(min) = k.min_length {
        array.min_items = Some(array.min_items.map_or(min, |old| old.max(min)));
    }
    if let Some(max) = k.max_length {
        array.max_items = Some(array.max_items.map_or(max, |old| old.min(max)));
    }
    add_notes(&mut array.description, &k.notes);
}

fn add_notes(description: &mut Option<String>, notes: &[String]) {
    if notes.is_empty() {
        return;
    }
    let text = description.get_or_insert_with(String::new);
    for note in notes {
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str(note);
    }
}

/// The OpenAPI path of an axum route: `{*rest}` becomes `{rest}`.
pub(crate) fn openapi_path(path: &str) -> String {
    path.replace("{*", "{")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role_admin() -> &'static str {
        "admin"
    }
    fn role_user() -> &'static str {
        "user"
    }

    #[test]
    fn requirements_become_alternatives() {
        let any = Requirement::Any(&[Requirement::Role(role_admin), Requirement::Scope("r:read")]);
        assert_eq!(
            alternatives(&any),
            Some(vec![vec!["admin".to_owned()], vec!["r:read".to_owned()]])
        );
        let all = Requirement::All(&[
            Requirement::Role(role_user),
            Requirement::Any(&[Requirement::Scope("a"), Requirement::Scope("b")]),
        ]);
        assert_eq!(
            alternatives(&all),
            Some(vec![
                vec!["user".to_owned(), "a".to_owned()],
                vec!["user".to_owned(), "b".to_owned()]
            ])
        );
        assert_eq!(
            alternatives(&Requirement::Not(&Requirement::Role(role_admin))),
            None
        );
        assert_eq!(alternatives(&Requirement::All(&[])), Some(vec![vec![]]));
    }

    #[test]
    fn literal_text_is_escaped() {
        assert_eq!(escape("a.b*(c)"), "a\\.b\\*\\(c\\)");
        assert_eq!(class_escape(']'), "\\]");
        assert_eq!(class_escape('@'), "@");
    }

    #[test]
    fn several_patterns_become_one() {
        let k = Keywords::of(&[RuleSpec::Ascii, RuleSpec::Prefix("id-")]);
        assert_eq!(
            k.pattern().as_deref(),
            Some("^(?=[\\s\\S]*?(?:^[\\x00-\\x7F]*$))(?=[\\s\\S]*?(?:^id-))")
        );
    }

    #[test]
    fn wildcards_read_as_parameters() {
        assert_eq!(openapi_path("/files/{*rest}"), "/files/{rest}");
    }
}
