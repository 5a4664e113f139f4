#!/usr/bin/env bash
# OpenAPI checks with tools from PyPI, installed on first use into a
# virtualenv of the project's own:
#   ${CARGO_TARGET_DIR:-<repo>/target}/openapi-tools/venv
# (`cargo clean` removes it; target/ is ignored by git). A stamp file in the
# venv records the pinned versions below; when they change, the next run
# rebuilds the venv. Installing holds an flock on openapi-tools/lock, so two
# runs may start at once; a run holds that lock shared while its tool runs,
# so a rebuild never pulls the venv from under it.
#
# Needs CPython >= 3.11 with venv and pip (python3), flock (util-linux), and
# access to PyPI on first use.
#
# Usage:
#   scripts/openapi.sh validate FILE...
#       Validates each FILE (JSON or YAML) as an OpenAPI 3.1 document with
#       openapi-spec-validator, against the official OpenAPI 3.1 schema
#       (https://spec.openapis.org/oas/3.1/schema/2022-10-07), forced with
#       `--schema 3.1` (a 3.0 or 3.2 document fails). Schema `pattern`s
#       are checked as ECMA-262 regexes (the `regress` package), so
#       `\p{L}` and lookaheads are accepted and Python-only syntax such as
#       `(?P<name>...)` is not. Prints "FILE: OK" per valid file; exits
#       non-zero with the validator's message otherwise.
#
#   scripts/openapi.sh fuzz BASE_URL SPEC_URL_OR_FILE [schemathesis run args...]
#       Runs `schemathesis run` against the API at BASE_URL (the spec's
#       `servers` are not needed and are overridden). Phases: all of them
#       (examples, coverage, fuzzing, stateful); data: positive and
#       negative (`--mode all`); one worker. Checks run on every response:
#         not_a_server_error            no 5xx (501 to an unknown method too)
#         status_code_conformance       the status is documented for the operation
#         content_type_conformance      Content-Type is one documented for that status
#         response_headers_conformance  documented required headers present and valid
#         response_schema_conformance   body valid against the documented schema
#       The run also fails on these schemathesis warnings, which mean it
#       tested less than it seems: missing_auth (every request got 401/403),
#       base_url_mismatch, rate_limited (>= 90% of responses were 429),
#       unsupported_regex (a pattern schemathesis cannot generate for),
#       unresolvable_reference.
#       Exits non-zero on any failure or error. Extra arguments go to
#       `schemathesis run` after these, e.g.
#         -H 'Authorization: Bearer TOKEN'   (a token for the http bearer scheme)
#         --mode positive | --phases coverage,fuzzing | --include-path /users
#         --wait-for-schema 30               (SPEC is a URL of a server still starting)
#
#       Environment:
#         OPENAPI_FUZZ_EXAMPLES  test cases per operation and phase (20)
#         OPENAPI_FUZZ_SEED      seed, for reproducible runs (1)
#         OPENAPI_FUZZ_CHECKS    comma-separated checks, replacing the five above;
#                                e.g. add unsupported_method (undocumented methods,
#                                QUERY among them, must get 405 with Allow),
#                                negative_data_rejection, positive_data_acceptance,
#                                missing_required_header, ignored_auth; or `all`
#         OPENAPI_FUZZ_FAIL_ON   comma-separated warnings that fail the run
#                                (the five above; empty: none)
#
#       Nothing is written to the current directory: schemathesis' crash
#       cache is off (it would replay old requests and make runs depend on
#       earlier ones) and Hypothesis' files go to openapi-tools/hypothesis.
#       A schemathesis.toml of the project is not read (the script passes
#       its own, openapi-tools/schemathesis.<pid>.toml, removed at exit).
set -euo pipefail

SCHEMATHESIS_VERSION=4.32.5
OPENAPI_SPEC_VALIDATOR_VERSION=0.9.0
OPENAPI_SCHEMA_VALIDATOR_VERSION=0.9.0
REGRESS_VERSION=2026.9.1
REQUIREMENTS=(
    "schemathesis==$SCHEMATHESIS_VERSION"
    "openapi-spec-validator==$OPENAPI_SPEC_VALIDATOR_VERSION"
    "openapi-schema-validator[ecma-regex]==$OPENAPI_SCHEMA_VALIDATOR_VERSION"
    "regress==$REGRESS_VERSION"
)

DEFAULT_CHECKS=not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance
DEFAULT_FAIL_ON=missing_auth,base_url_mismatch,rate_limited,unsupported_regex,unresolvable_reference

script_dir=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd -- "$script_dir/.." && pwd)
tools_dir="${CARGO_TARGET_DIR:-$repo_root/target}/openapi-tools"
venv="$tools_dir/venv"
stamp="$venv/openapi-tools.stamp"

die() {
    printf 'openapi.sh: %s\n' "$*" >&2
    exit 1
}

usage() {
    cat >&2 <<'EOF'
usage: scripts/openapi.sh validate FILE...
       scripts/openapi.sh fuzz BASE_URL SPEC_URL_OR_FILE [schemathesis run args...]
(see the comment at the top of scripts/openapi.sh)
EOF
    exit 2
}

# Makes sure the venv holds the pinned tools and leaves the lock on
# openapi-tools/lock held shared on fd 9 (kept by the tool we run).
ensure_tools() {
    command -v python3 >/dev/null 2>&1 \
        || die "python3 not found: the OpenAPI checks need CPython 3 (>= 3.11) with venv and pip"
    command -v flock >/dev/null 2>&1 \
        || die "flock not found: it comes with util-linux"
    local python_id
    python_id=$(python3 -c 'import os, sys; print(os.path.realpath(sys.executable), "%d.%d.%d" % sys.version_info[:3])') \
        || die "python3 does not run"
    python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
        || die "python3 is ${python_id#* }: schemathesis $SCHEMATHESIS_VERSION needs CPython >= 3.11"

    local expected
    expected="python ${python_id}; ${REQUIREMENTS[*]}"

    mkdir -p "$tools_dir" || die "cannot create $tools_dir"
    exec 9>>"$tools_dir/lock" || die "cannot open $tools_dir/lock"
    flock -s 9
    if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$expected" ]; then
        return 0
    fi
    flock -x 9
    if ! { [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$expected" ]; }; then
        python3 -c 'import ensurepip, venv' 2>/dev/null \
            || die "python3 has no venv/ensurepip module: install it (Debian/Ubuntu: apt-get install python3-venv)"
        rm -rf "$venv"
        python3 -m venv "$venv" >&2 || { rm -rf "$venv"; die "python3 -m venv $venv failed"; }
        if ! PIP_DISABLE_PIP_VERSION_CHECK=1 "$venv/bin/python" -m pip install --quiet --no-input \
            "${REQUIREMENTS[@]}" >&2; then
            rm -rf "$venv"
            die "pip install of ${REQUIREMENTS[*]} failed (PyPI unreachable?)"
        fi
        printf '%s\n' "$expected" >"$stamp.tmp" && mv -f "$stamp.tmp" "$stamp"
    fi
    flock -s 9
}

cmd_validate() {
    [ $# -ge 1 ] || usage
    local file
    for file in "$@"; do
        [ -f "$file" ] || die "no such file: $file"
    done
    ensure_tools
    exec "$venv/bin/openapi-spec-validator" --schema 3.1 "$@"
}

# Prints a comma-separated list of names as a TOML array.
toml_list() {
    local out="" item
    local -a items
    IFS=, read -r -a items <<<"$1"
    for item in "${items[@]}"; do
        item=${item//[[:space:]]/}
        [ -n "$item" ] || continue
        [[ $item =~ ^[a-z_]+$ ]] || die "not a warning name: '$item'"
        out+="${out:+, }\"$item\""
    done
    printf '[%s]' "$out"
}

cmd_fuzz() {
    [ $# -ge 2 ] || usage
    local base_url=$1 spec=$2
    shift 2
    [[ $base_url =~ ^https?:// ]] || die "BASE_URL must start with http:// or https://: '$base_url'"
    if [[ ! $spec =~ ^https?:// ]] && [ ! -f "$spec" ]; then
        die "SPEC_URL_OR_FILE is neither an http(s) URL nor a file: '$spec'"
    fi
    local examples=${OPENAPI_FUZZ_EXAMPLES:-20} seed=${OPENAPI_FUZZ_SEED:-1}
    local checks=${OPENAPI_FUZZ_CHECKS:-$DEFAULT_CHECKS}
    [[ $examples =~ ^[1-9][0-9]*$ ]] || die "OPENAPI_FUZZ_EXAMPLES must be a positive integer: '$examples'"
    [[ $seed =~ ^[0-9]+$ ]] || die "OPENAPI_FUZZ_SEED must be a non-negative integer: '$seed'"
    [ -n "$checks" ] || die "OPENAPI_FUZZ_CHECKS is empty"
    local fail_on
    fail_on=$(toml_list "${OPENAPI_FUZZ_FAIL_ON-$DEFAULT_FAIL_ON}")

    ensure_tools

    # One file per run (runs may differ in OPENAPI_FUZZ_FAIL_ON), removed at exit.
    config="$tools_dir/schemathesis.$$.toml"
    trap 'rm -f "$config"' EXIT
    printf '%s\n' \
        '# Written by scripts/openapi.sh for one fuzz run.' \
        '[cache]' \
        'enabled = false' \
        '' \
        '[warnings]' \
        "fail-on = $fail_on" >"$config"
    mkdir -p "$tools_dir/hypothesis"

    # Hypothesis writes to ./.hypothesis unless told otherwise, and has no
    # environment variable for it; TTY_INTERACTIVE=0 turns off rich's live
    # progress display on a terminal, NO_COLOR its colours.
    local status=0
    NO_COLOR=1 TTY_INTERACTIVE=0 "$venv/bin/python" -c '
import sys
from hypothesis.configuration import set_hypothesis_home_dir
set_hypothesis_home_dir(sys.argv.pop(1))
from schemathesis.cli import schemathesis
sys.exit(schemathesis(prog_name="schemathesis"))
' "$tools_dir/hypothesis" \
        --config-file "$config" --no-color \
        run "$spec" --no-color \
        --url "$base_url" \
        --checks "$checks" \
        --max-examples "$examples" \
        --seed "$seed" \
        --generation-database none \
        --workers 1 \
        "$@" || status=$?
    exit "$status"
}

[ $# -ge 1 ] || usage
command=$1
shift
case $command in
    validate) cmd_validate "$@" ;;
    fuzz) cmd_fuzz "$@" ;;
    -h | --help | help) sed -n '2,/^set -euo pipefail$/{/^set -euo/d;s/^# \{0,1\}//;p;}' "$0" ;;
    *) usage ;;
esac
