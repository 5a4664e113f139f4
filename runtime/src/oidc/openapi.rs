//! The sign-in routes in OpenAPI (features `oidc` and `utoipa`).

use utoipa::openapi::path::{
    HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn, PathItem, Paths,
};
use utoipa::openapi::response::{Response, ResponseBuilder, Responses};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{RefOr, Required};

use super::SignIn;
use crate::openapi::{problem_response, string_header};

impl SignIn {
    /// The two routes of [`routes`](Self::routes) as OpenAPI paths, for
    /// [`Describe::open_paths`](crate::openapi::Describe::open_paths):
    /// the redirect to the provider and the callback, with every problem
    /// they answer. `answer` is the successful response of the callback:
    /// what the application's `on_identity` returns.
    pub fn openapi_paths(&self, answer: Response) -> Paths {
        let prefix = self.path_prefix();
        let providers: Vec<serde_json::Value> = self.providers().map(Into::into).collect();
        let provider = || {
            ParameterBuilder::new()
                .name("provider")
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .description(Some("A configured provider."))
                .schema(Some(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .enum_values(Some(providers.clone())),
                ))
                .build()
        };
        let query = |name: &str, description: &str| {
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Query)
                .required(Required::False)
                .description(Some(description))
                .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                .build()
        };
        let unknown = problem_response("No provider of that name: `unknown_provider`.", &[]);
        let unavailable = problem_response(
            "The provider cannot be reached, or the callback took too long: \
             `provider_unavailable`; retry after `Retry-After` seconds.",
            &[crate::openapi::RETRY_AFTER],
        );
        let mut start_responses = Responses::new();
        start_responses.responses.insert(
            "302".into(),
            RefOr::T(
                ResponseBuilder::new()
                    .description(
                        "To the provider's authorization endpoint, with `state`, `nonce` and a \
                         PKCE S256 challenge; sets the flow cookie.",
                    )
                    .header("Location", string_header("The authorization URL."))
                    .header("Set-Cookie", string_header("The sealed flow cookie."))
                    .build(),
            ),
        );
        start_responses
            .responses
            .insert("404".into(), RefOr::T(unknown.clone()));
        start_responses
            .responses
            .insert("503".into(), RefOr::T(unavailable.clone()));
        let start = OperationBuilder::new()
            .summary(Some("Sign in through an OpenID Connect provider"))
            .operation_id(Some("sign_in_start"))
            .parameter(provider())
            .responses(start_responses)
            .build();

        let mut callback_responses = Responses::new();
        callback_responses
            .responses
            .insert("200".into(), RefOr::T(answer));
        for (status, response) in [
            (
                "400",
                problem_response(
                    "The state is missing or does not match the flow cookie (no cookie, a \
                     replayed callback): `invalid_state`; or neither a code nor an error was \
                     given: `invalid_request`.",
                    &[],
                ),
            ),
            (
                "401",
                problem_response(
                    "The provider refused (`access_denied`), the code exchange was refused \
                     (`invalid_grant`), the ID token is not valid (`invalid_id_token`), or a \
                     verified email is required (`email_not_verified`).",
                    &[],
                ),
            ),
            ("404", unknown),
            (
                "503",
                problem_response(
                    "The provider cannot be reached or took too long (`provider_unavailable`), \
                     or the store of completed flows cannot answer (`store_unavailable`).",
                    &[crate::openapi::RETRY_AFTER],
                ),
            ),
        ] {
            callback_responses
                .responses
                .insert(status.into(), RefOr::T(response));
        }
        let callback = OperationBuilder::new()
            .summary(Some("The return from the provider"))
            .operation_id(Some("sign_in_callback"))
            .parameter(provider())
            .parameter(query("code", "The authorization code."))
            .parameter(query("state", "The state sent with the redirect."))
            .parameter(query("error", "The provider's refusal, instead of a code."))
            .parameter(query("error_description", "The provider's words on it."))
            .parameter(query("iss", "The issuer (RFC 9207), checked when given."))
            .responses(callback_responses)
            .build();
        let mut paths = Paths::new();
        paths.paths.insert(
            format!("{prefix}/{{provider}}"),
            PathItem::new(HttpMethod::Get, start),
        );
        paths.paths.insert(
            format!("{prefix}/{{provider}}/callback"),
            PathItem::new(HttpMethod::Get, callback),
        );
        paths
    }
}
