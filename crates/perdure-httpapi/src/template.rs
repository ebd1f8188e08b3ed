//! Path templates of `google.api.http` rules (`/api/v1/namespaces/{namespace}/workflows/
//! {execution.workflow_id}/history`): parsing, and matching a request's path segments against
//! one, yielding the field path and text of each variable. It knows nothing of messages; filling
//! the values into a request is `fields.rs`'s job.
//!
//! Grammar (google/api/http.proto): `Template = "/" Segments [":" Verb]`, a segment is `*`,
//! `**`, a literal or `{field.path[=Segments]}`; a variable without `=` is one segment (`*`).

use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum TemplateError {
    #[error("template {0:?} does not start with '/'")]
    NoLeadingSlash(String),
    #[error("template {0:?} has an unbalanced '{{'")]
    Unbalanced(String),
    #[error("template {0:?} has an empty segment or field path")]
    Empty(String),
    #[error("template {0:?} has '**' before its last segment")]
    DoubleStarNotLast(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    /// One segment, whatever it holds.
    Star,
    /// The rest of the path, possibly several segments.
    DoubleStar,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Variable {
    /// Proto field names, outermost first: `execution.workflow_id` → `["execution", "workflow_id"]`.
    field: Vec<String>,
    /// The template segments the variable spans (`start..end`).
    start: usize,
    end: usize,
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    segments: Vec<Segment>,
    variables: Vec<Variable>,
    verb: Option<String>,
}

/// A variable's value from a matched path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub field: Vec<String>,
    pub value: String,
}

impl Template {
    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        let err_text = || text.to_string();
        let rest = text
            .strip_prefix('/')
            .ok_or_else(|| TemplateError::NoLeadingSlash(err_text()))?;
        // A verb follows the last ':' outside braces.
        let mut depth = 0i32;
        let mut verb_at = None;
        for (i, c) in rest.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ':' if depth == 0 => verb_at = Some(i),
                _ => {}
            }
            if depth < 0 {
                return Err(TemplateError::Unbalanced(err_text()));
            }
        }
        if depth != 0 {
            return Err(TemplateError::Unbalanced(err_text()));
        }
        let (path, verb) = match verb_at {
            Some(i) => (&rest[..i], Some(rest[i + 1..].to_string())),
            None => (rest, None),
        };
        let mut segments = Vec::new();
        let mut variables = Vec::new();
        let mut chars = path;
        while !chars.is_empty() {
            if let Some(inner) = chars.strip_prefix('{') {
                let close = inner
                    .find('}')
                    .ok_or_else(|| TemplateError::Unbalanced(err_text()))?;
                let body = &inner[..close];
                let (field, pattern) = match body.split_once('=') {
                    Some((f, p)) => (f, p),
                    None => (body, "*"),
                };
                let field: Vec<String> = field.split('.').map(str::to_string).collect();
                if field.iter().any(String::is_empty) {
                    return Err(TemplateError::Empty(err_text()));
                }
                let start = segments.len();
                for part in pattern.split('/') {
                    segments.push(segment(part).ok_or_else(|| TemplateError::Empty(err_text()))?);
                }
                variables.push(Variable {
                    field,
                    start,
                    end: segments.len(),
                });
                chars = &inner[close + 1..];
            } else {
                let end = chars.find('/').unwrap_or(chars.len());
                segments
                    .push(segment(&chars[..end]).ok_or_else(|| TemplateError::Empty(err_text()))?);
                chars = &chars[end..];
            }
            match chars.strip_prefix('/') {
                Some("") => return Err(TemplateError::Empty(err_text())),
                Some(after) => chars = after,
                None if chars.is_empty() => {}
                None => return Err(TemplateError::Empty(err_text())),
            }
        }
        if let Some(i) = segments.iter().position(|s| *s == Segment::DoubleStar) {
            if i + 1 != segments.len() {
                return Err(TemplateError::DoubleStarNotLast(err_text()));
            }
        }
        Ok(Self {
            segments,
            variables,
            verb,
        })
    }

    #[cfg(test)]
    /// Whether the template starts with these literal segments (`["api", "v1"]`).
    pub fn has_prefix(&self, prefix: &[&str]) -> bool {
        prefix.len() <= self.segments.len()
            && prefix
                .iter()
                .zip(&self.segments)
                .all(|(p, s)| matches!(s, Segment::Literal(l) if l == p))
    }

    /// How specific the template is, to choose between two that match the same path: literals
    /// beat variables, earliest segment first.
    pub fn specificity(&self) -> Vec<bool> {
        self.segments
            .iter()
            .map(|s| matches!(s, Segment::Literal(_)))
            .collect()
    }

    /// Matches decoded path segments (the path split on '/', without the leading empty one).
    /// Returns the variables' values, or None if the path does not fit.
    pub fn matches(&self, path: &[&str]) -> Option<Vec<Binding>> {
        let mut path: Vec<&str> = path.to_vec();
        if let Some(verb) = &self.verb {
            let last = path.pop()?;
            let stem = last.strip_suffix(verb.as_str())?.strip_suffix(':')?;
            path.push(stem);
        }
        let open_ended = self.segments.last() == Some(&Segment::DoubleStar);
        let fixed = self.segments.len() - usize::from(open_ended);
        if path.len() < fixed || (!open_ended && path.len() != fixed) {
            return None;
        }
        for (seg, got) in self.segments.iter().zip(&path) {
            match seg {
                Segment::Literal(l) if l != got => return None,
                _ => {}
            }
        }
        Some(
            self.variables
                .iter()
                .map(|v| {
                    let end = if v.end == self.segments.len() && open_ended {
                        path.len()
                    } else {
                        v.end
                    };
                    Binding {
                        field: v.field.clone(),
                        value: path[v.start..end].join("/"),
                    }
                })
                .collect(),
        )
    }

    #[cfg(test)]
    /// A path this template matches, with `x` for every variable segment.
    pub fn sample(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .segments
            .iter()
            .map(|s| match s {
                Segment::Literal(l) => l.clone(),
                _ => "x".to_string(),
            })
            .collect();
        if let (Some(verb), Some(last)) = (&self.verb, out.last_mut()) {
            last.push(':');
            last.push_str(verb);
        }
        out
    }

    /// Top-level field names bound by the path: they are not read from the query string.
    pub fn bound_fields(&self) -> impl Iterator<Item = &[String]> {
        self.variables.iter().map(|v| v.field.as_slice())
    }
}

fn segment(text: &str) -> Option<Segment> {
    match text {
        "" => None,
        "*" => Some(Segment::Star),
        "**" => Some(Segment::DoubleStar),
        l => Some(Segment::Literal(l.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(p: &str) -> Vec<&str> {
        p.trim_start_matches('/').split('/').collect()
    }

    #[test]
    fn nested_field_variables_bind_one_segment_each() {
        let t = Template::parse(
            "/api/v1/namespaces/{namespace}/workflows/{execution.workflow_id}/history",
        )
        .unwrap();
        let b = t
            .matches(&split("/api/v1/namespaces/ns/workflows/w 1/history"))
            .unwrap();
        assert_eq!(
            b,
            vec![
                Binding {
                    field: vec!["namespace".into()],
                    value: "ns".into()
                },
                Binding {
                    field: vec!["execution".into(), "workflow_id".into()],
                    value: "w 1".into()
                },
            ]
        );
        assert!(t
            .matches(&split("/api/v1/namespaces/ns/workflows/w"))
            .is_none());
        assert!(t
            .matches(&split("/api/v1/namespaces/ns/workflows/w/history/x"))
            .is_none());
        assert!(t
            .matches(&split("/api/v1/namespaces/ns/schedules/w/history"))
            .is_none());
        assert!(t.has_prefix(&["api", "v1"]));
        assert!(!t.has_prefix(&["namespaces"]));
    }

    #[test]
    fn patterns_and_verbs() {
        let t = Template::parse("/v1/{name=projects/*/things/**}:run").unwrap();
        let b = t.matches(&split("/v1/projects/p/things/a/b:run")).unwrap();
        assert_eq!(b[0].field, vec!["name".to_string()]);
        assert_eq!(b[0].value, "projects/p/things/a/b");
        assert!(t.matches(&split("/v1/projects/p/things/a/b")).is_none());
        assert!(t.matches(&split("/v1/projects/p/other/a:run")).is_none());
    }

    #[test]
    fn malformed_templates_are_refused() {
        assert!(matches!(
            Template::parse("api/v1"),
            Err(TemplateError::NoLeadingSlash(_))
        ));
        assert!(matches!(
            Template::parse("/a/{b"),
            Err(TemplateError::Unbalanced(_))
        ));
        assert!(matches!(
            Template::parse("/a//b"),
            Err(TemplateError::Empty(_))
        ));
        assert!(matches!(
            Template::parse("/a/**/b"),
            Err(TemplateError::DoubleStarNotLast(_))
        ));
        assert!(matches!(
            Template::parse("/a/"),
            Err(TemplateError::Empty(_))
        ));
    }

    #[test]
    fn literals_are_more_specific_than_variables() {
        let a = Template::parse("/x/{a}/y").unwrap();
        let b = Template::parse("/x/lit/{b}").unwrap();
        assert!(b.specificity() > a.specificity());
    }
}
