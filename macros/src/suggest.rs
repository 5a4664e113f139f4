//! "Did you mean" for near misses.

/// The candidate closest to `name`, if it is close enough to be a typo.
pub(crate) fn closest<'a>(name: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (strsim::jaro_winkler(name, c), *c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// `unknown option `x``, with a suggestion or the list of valid options.
pub(crate) fn unknown(what: &str, name: &str, candidates: &[&str]) -> String {
    match closest(name, candidates) {
        Some(c) => format!("unknown {what} `{name}`; did you mean `{c}`?"),
        None => format!(
            "unknown {what} `{name}`; expected one of: {}",
            candidates
                .iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_misses_are_suggested() {
        let options = crate::symbol::PROTECTED_OPTIONS;
        assert_eq!(closest("rol", options), Some("role"));
        assert_eq!(closest("roles", options), Some("role"));
        assert_eq!(closest("scopes", options), Some("scope"));
        assert_eq!(closest("chek", options), Some("check"));
        assert_eq!(closest("frobnicate", options), None);
    }

    #[test]
    fn far_misses_list_the_options() {
        let message = unknown("option", "frobnicate", &["a", "b"]);
        assert_eq!(
            message,
            "unknown option `frobnicate`; expected one of: `a`, `b`"
        );
    }
}
