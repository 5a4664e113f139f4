use axum::Json;
use serde::Deserialize;
use warden::Validate;

// The type has a mistake; its uses as `Validate` still compile, so it is
// one error.
#[derive(Deserialize, Validate)]
#[serde(deny_unknown_fields)]
struct Signup {
    #[validate(regex = "^[a-z+$")]
    name: String,
}

#[warden::validate]
async fn signup(Json(body): Json<Signup>) -> String {
    body.name
}

fn main() {
    let body = Signup { name: String::new() };
    let _ = body.validate();
}
