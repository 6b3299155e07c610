//! Names that become path components (user names, assignment names). Every
//! operation that builds a path from a name checks it here first, so a user
//! called `../etc` or `a/b` can never address something outside its place.

/// Why a name is not a safe single path component, or Ok.
pub fn check_component(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("is empty".into());
    }
    if name.len() > 255 {
        return Err("is longer than 255 bytes".into());
    }
    if name == "." || name == ".." {
        return Err(format!("`{name}` is not a name"));
    }
    if name.starts_with('.') || name.starts_with('-') {
        return Err(format!(
            "`{}` starts with `{}`",
            name.escape_debug(),
            &name[..1]
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@' | '+')))
    {
        return Err(format!(
            "`{}` contains `{}`; allowed are letters, digits and . _ - @ +",
            name.escape_debug(),
            c.escape_debug()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_component;

    #[test]
    fn accepts_ordinary_names() {
        for n in ["alice", "bob.smith", "s123", "a_b-c", "x@uni.edu"] {
            assert!(check_component(n).is_ok(), "{n}");
        }
    }

    #[test]
    fn refuses_path_tricks() {
        for n in [
            "", ".", "..", "../x", "a/b", ".hidden", "-rf", "a\nb", "a b", "é",
        ] {
            assert!(check_component(n).is_err(), "{n:?}");
        }
    }
}
