//! What a name may look like: vclusters, labels, taints, namespaces and logins.
//!
//! Names are printed in tables, used as keys and appear in URLs, so they are kept to
//! a conservative alphabet and length.

/// Longest name accepted, in bytes.
pub const MAX_NAME_LEN: usize = 63;

/// The kinds of names, each with its own alphabet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    /// Vclusters, labels, taints and namespaces: letters, digits, `-`, `_`, `.`.
    Object,
    /// Logins: as objects, plus `@` so e-mail style logins work.
    Login,
}

/// Checks a name; the error says what is wrong without naming the field, which the
/// caller adds.
pub fn check_name(name: &str, kind: NameKind) -> Result<(), String> {
    if name.is_empty() {
        return Err("must not be empty".into());
    }
    if name.len() > MAX_NAME_LEN {
        return Err(format!("'{name}' is longer than {MAX_NAME_LEN} characters"));
    }
    let first = name.chars().next().unwrap_or(' ');
    if !first.is_ascii_alphanumeric() {
        return Err(format!("'{name}' must start with a letter or digit"));
    }
    let allowed = |c: char| {
        c.is_ascii_alphanumeric()
            || matches!(c, '-' | '_' | '.')
            || (kind == NameKind::Login && c == '@')
    };
    if let Some(bad) = name.chars().find(|c| !allowed(*c)) {
        return Err(format!(
            "'{name}' contains '{bad}', allowed are letters, digits, '-', '_', '.'"
        ));
    }
    Ok(())
}

/// Checks a `path_to` value: `/` or slash-separated object names starting with `/`.
pub fn check_path(path: &str) -> Result<(), String> {
    if !path.starts_with('/') {
        return Err(format!("'{path}' must start with '/'"));
    }
    if path.len() > 255 {
        return Err("path is longer than 255 characters".into());
    }
    for part in path.split('/').skip(1).filter(|p| !p.is_empty()) {
        check_name(part, NameKind::Object)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_names() {
        assert!(check_name("web-1.prod_a", NameKind::Object).is_ok());
        assert!(check_name("", NameKind::Object).is_err());
        assert!(check_name("-web", NameKind::Object).is_err());
        assert!(check_name("a b", NameKind::Object).is_err());
        assert!(check_name("a@b", NameKind::Object).is_err());
        assert!(check_name(&"x".repeat(64), NameKind::Object).is_err());
    }

    #[test]
    fn logins_may_hold_an_at_sign() {
        assert!(check_name("ann@example.com", NameKind::Login).is_ok());
    }

    #[test]
    fn paths() {
        assert!(check_path("/").is_ok());
        assert!(check_path("/prod/web").is_ok());
        assert!(check_path("prod").is_err());
        assert!(check_path("/prod/we b").is_err());
    }
}
