//! How API Gateway matches a request path to a resource path of the API: segment by segment,
//! a `{name}` segment taking any one non-empty segment, every other segment itself. The local
//! gateway routes with it, and `explain` says with it whether the API has a method at all.

/// The path parameters `path` gives `template` (`/pets/{id}` and `/pets/7`: `[("id", "7")]`),
/// or `None` when the path is not one of the template's.
pub fn path_parameters<'a>(template: &'a str, path: &'a str) -> Option<Vec<(&'a str, &'a str)>> {
    let parts: Vec<&str> = template.split('/').collect();
    let segments: Vec<&str> = path.split('/').collect();
    if parts.len() != segments.len() {
        return None;
    }
    let mut parameters = Vec::new();
    for (part, segment) in parts.into_iter().zip(segments) {
        match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            Some(name) if !segment.is_empty() => parameters.push((name, segment)),
            _ if part == segment => {}
            _ => return None,
        }
    }
    Some(parameters)
}

/// Which of two resource paths matching one request API Gateway serves: segment by segment
/// from the left, a literal one before a `{name}` one (`/pets/mine` before `/pets/{id}`). The
/// smaller key wins.
pub fn precedence(template: &str) -> Vec<bool> {
    template
        .split('/')
        .map(|part| part.starts_with('{'))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{path_parameters, precedence};

    #[test]
    fn a_literal_segment_takes_precedence_over_a_parameter_from_the_left() {
        let mut templates = ["/a/{x}/c", "/a/b/{y}", "/a/{x}/{z}"];
        templates.sort_by_key(|t| precedence(t));
        assert_eq!(templates, ["/a/b/{y}", "/a/{x}/c", "/a/{x}/{z}"]);
        for t in templates {
            assert!(path_parameters(t, "/a/b/c").is_some(), "{t}");
        }
    }

    #[test]
    fn a_parameter_takes_one_non_empty_segment_and_every_other_segment_is_itself() {
        assert_eq!(
            path_parameters("/pets/{id}", "/pets/7"),
            Some(vec![("id", "7")])
        );
        assert_eq!(path_parameters("/pets", "/pets"), Some(vec![]));
        for path in ["/pets/", "/pets/7/x", "/pet/7", "/pets"] {
            assert_eq!(path_parameters("/pets/{id}", path), None, "{path}");
        }
    }
}
