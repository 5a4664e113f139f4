//! The OpenAPI checks of `scripts/openapi.sh` (tools from PyPI, installed
//! by the script on first use), for the suites.

use std::path::PathBuf;
use std::process::Command;

/// The workspace root.
fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .to_owned()
}

/// Validates `doc` as an OpenAPI 3.1 document with openapi-spec-validator
/// (against the official 3.1 schema), its patterns as ECMA-262 regular
/// expressions: `Err` with the tools' report when it is not valid.
pub fn validate(doc: &serde_json::Value) -> Result<(), String> {
    let dir = std::env::temp_dir().join(format!(
        "warden-openapi-{}-{}",
        std::process::id(),
        crate::free_port()
    ));
    std::fs::create_dir_all(&dir).expect("a temporary folder");
    let file = dir.join("openapi.json");
    std::fs::write(&file, serde_json::to_vec_pretty(doc).expect("JSON")).expect("written");
    let mut command = script("validate");
    let result = run(command.arg(&file));
    let _ = std::fs::remove_dir_all(&dir);
    result.map(drop)
}

/// `scripts/openapi.sh` with its subcommand.
fn script(subcommand: &str) -> Command {
    let mut command = Command::new("bash");
    command
        .arg(root().join("scripts/openapi.sh"))
        .arg(subcommand);
    command
}

/// Runs `command`: its output (stdout, then stderr), `Err` when it failed.
fn run(command: &mut Command) -> Result<String, String> {
    let output = command.output().expect("scripts/openapi.sh runs");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if output.status.success() {
        Ok(report)
    } else {
        Err(report)
    }
}

/// Panics with the validator's report unless `doc` is a valid OpenAPI 3.1
/// document.
pub fn assert_valid(doc: &serde_json::Value) {
    if let Err(report) = validate(doc) {
        panic!("not a valid OpenAPI 3.1 document:\n{report}");
    }
}

/// Runs schemathesis (`scripts/openapi.sh fuzz`) against the API at
/// `base`, from the document it serves at `{base}/openapi.json`, with
/// `headers` on every request, `checks` (comma-separated, or `all`) on
/// every response, and `fail_on` (comma-separated warnings) failing the
/// run: `Err` with its report when anything fails.
pub fn fuzz(base: &str, headers: &[&str], checks: &str, fail_on: &str) -> Result<String, String> {
    let mut command = script("fuzz");
    command
        .arg(base)
        .arg(format!("{base}/openapi.json"))
        .env("OPENAPI_FUZZ_CHECKS", checks)
        .env("OPENAPI_FUZZ_FAIL_ON", fail_on);
    for header in headers {
        command.arg("-H").arg(header);
    }
    run(&mut command)
}
