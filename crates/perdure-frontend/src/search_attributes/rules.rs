//! Registering and removing a namespace's custom search attributes, with the rules and messages
//! of Temporal's SQL visibility store (the dev server): a fixed number of preallocated columns
//! per type, names reserved by the system, re-adding a name is a no-op whatever its type,
//! removing an unknown name is a no-op and removing a built-in one is refused.
//!
//! Pure: the current registration is handed in and the new one handed back; storing it is
//! `super::Registry`'s job.

use std::collections::{BTreeMap, HashMap};

use perdure_visibility::{IndexedValueType, SearchAttributes};
use tonic::Status;

use crate::errors;

/// A namespace's custom attributes: name -> type.
pub(crate) type Custom = BTreeMap<String, IndexedValueType>;

/// The columns Temporal's SQL schema preallocates for custom attributes, per type: a namespace
/// can register at most this many of each.
pub(crate) const PREALLOCATED: &[(IndexedValueType, usize)] = &[
    (IndexedValueType::Bool, 3),
    (IndexedValueType::Datetime, 3),
    (IndexedValueType::Double, 3),
    (IndexedValueType::Int, 3),
    (IndexedValueType::Keyword, 10),
    (IndexedValueType::KeywordList, 3),
    (IndexedValueType::Text, 3),
];

/// Longer names are refused (Temporal sets no limit below the message size; we do).
pub(crate) const MAX_NAME_LEN: usize = 1000;

/// Field names the system keeps for itself besides the system and predefined attributes.
const RESERVED: &[&str] = &["NamespaceId", "MemoEncoding", "Memo", "VisibilityTaskKey"];
const RESERVED_PREFIX: &str = "Temporal";

fn limit(ty: IndexedValueType) -> usize {
    PREALLOCATED
        .iter()
        .find(|(t, _)| *t == ty)
        .map_or(0, |(_, n)| *n)
}

/// The preallocated column names (`Keyword01`, …), which the SQL store's GetSearchAttributes
/// lists as the cluster's custom attributes.
pub(crate) fn preallocated_columns() -> impl Iterator<Item = (String, IndexedValueType)> {
    PREALLOCATED
        .iter()
        .flat_map(|(t, n)| (1..=*n).map(move |i| (format!("{}{i:02}", t.name()), *t)))
}

/// The namespace's custom attributes by the preallocated column each would take in Temporal's
/// SQL store (`Keyword01` -> its alias), as DescribeNamespace's `customSearchAttributeAliases`
/// lists them. Perdure keeps no columns, so the mapping is derived: each type's names, in name
/// order, take that type's columns in order (Temporal takes the first free column, in no fixed
/// order; the field names mean nothing to a client, which only ever uses the alias).
pub(crate) fn column_aliases<'a>(
    custom: impl Iterator<Item = (&'a str, IndexedValueType)>,
) -> HashMap<String, String> {
    let mut by_type: BTreeMap<&'static str, Vec<&'a str>> = BTreeMap::new();
    for (name, ty) in custom {
        by_type.entry(ty.name()).or_default().push(name);
    }
    by_type
        .into_iter()
        .flat_map(|(ty, mut names)| {
            names.sort_unstable();
            names
                .into_iter()
                .enumerate()
                .map(move |(i, n)| (format!("{ty}{:02}", i + 1), n.to_string()))
        })
        .collect()
}

/// A name no namespace may register: a system, predefined or reserved one, or `Temporal…`.
pub(crate) fn is_reserved(name: &str) -> bool {
    !SearchAttributes::is_mappable(name)
        || RESERVED.contains(&name)
        || name.starts_with(RESERVED_PREFIX)
}

/// Known to the cluster without being a namespace's alias: system, predefined or a column.
fn is_builtin(name: &str) -> bool {
    !SearchAttributes::is_mappable(name) || preallocated_columns().any(|(n, _)| n == name)
}

/// Go's name of an `IndexedValueType` number (as its messages print it), None if unknown.
fn type_name(n: i32) -> Option<&'static str> {
    match n {
        0 => Some("Unspecified"),
        n => IndexedValueType::from_proto(n).map(IndexedValueType::name),
    }
}

fn not_set() -> Status {
    errors::invalid("SearchAttributes are not set on request.")
}

/// What AddSearchAttributes checks before it looks at the namespace.
pub(crate) fn check_add_request(req: &HashMap<String, i32>) -> Result<(), Status> {
    if req.is_empty() {
        return Err(not_set());
    }
    for (name, ty) in sorted(req) {
        if is_reserved(name) {
            return Err(errors::invalid(format!(
                "Search attribute {name} is reserved by system."
            )));
        }
        if type_name(*ty).is_none() {
            return Err(errors::invalid(format!(
                "Unknown search attribute type: {ty}."
            )));
        }
        if name.len() > MAX_NAME_LEN {
            return Err(errors::invalid(format!(
                "Search attribute name exceeds length limit {MAX_NAME_LEN}."
            )));
        }
    }
    Ok(())
}

/// What RemoveSearchAttributes checks before it looks at the namespace.
pub(crate) fn check_remove_request(names: &[String]) -> Result<(), Status> {
    if names.is_empty() {
        return Err(not_set());
    }
    Ok(())
}

/// The namespace's attributes after adding `req` (checked by [`check_add_request`]); None when
/// every name is registered already (with whatever type: Temporal's SQL store keeps the old).
pub(crate) fn plan_add(
    current: &Custom,
    req: &HashMap<String, i32>,
) -> Result<Option<Custom>, Status> {
    let mut next = current.clone();
    for (name, ty) in sorted(req) {
        // An empty alias is how Temporal's namespace update says "free this column": adding
        // one is accepted and changes nothing.
        if name.is_empty() || current.contains_key(name) {
            continue;
        }
        let ty_name = type_name(*ty).unwrap_or("Unspecified");
        let used = |t| next.values().filter(|v| **v == t).count();
        match IndexedValueType::from_proto(*ty) {
            Some(t) if used(t) < limit(t) => {
                next.insert(name.clone(), t);
            }
            t => {
                let used = t.map_or(0, used);
                return Err(errors::invalid(format!(
                    "Unable to create search attributes: cannot have more than {used} search attribute of type {ty_name}."
                )));
            }
        }
    }
    Ok((next != *current).then_some(next))
}

/// The namespace's attributes after removing `names`; None when none of them is registered.
/// A built-in name is refused (nothing is removed then).
pub(crate) fn plan_remove(current: &Custom, names: &[String]) -> Result<Option<Custom>, Status> {
    let mut next = current.clone();
    for name in names {
        if next.remove(name).is_some() || current.contains_key(name) {
            continue;
        }
        if is_builtin(name) {
            return Err(errors::invalid(format!(
                "Unable to remove non-custom search attributes: {name}."
            )));
        }
    }
    Ok((next != *current).then_some(next))
}

/// Temporal iterates a Go map (random order); we go by name so an answer is reproducible.
fn sorted(req: &HashMap<String, i32>) -> Vec<(&String, &i32)> {
    let mut v: Vec<_> = req.iter().collect();
    v.sort();
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use IndexedValueType as T;

    fn req(items: &[(&str, i32)]) -> HashMap<String, i32> {
        items.iter().map(|(n, t)| (n.to_string(), *t)).collect()
    }

    #[test]
    fn aliases_take_each_types_columns_in_name_order() {
        let custom = [
            ("Zed", T::Keyword),
            ("Alpha", T::Keyword),
            ("Flag", T::Bool),
            ("Tags", T::KeywordList),
        ];
        let got = column_aliases(custom.into_iter());
        let want: HashMap<String, String> = [
            ("Keyword01", "Alpha"),
            ("Keyword02", "Zed"),
            ("Bool01", "Flag"),
            ("KeywordList01", "Tags"),
        ]
        .into_iter()
        .map(|(f, a)| (f.to_string(), a.to_string()))
        .collect();
        assert_eq!(got, want);
        // Every field is one of the store's preallocated columns of the alias's type.
        for (field, alias) in &got {
            let ty = custom.iter().find(|(n, _)| n == alias).unwrap().1;
            assert!(preallocated_columns().any(|(c, t)| &c == field && t == ty));
        }
    }

    #[test]
    fn reserved_names_and_unknown_types_are_refused_first() {
        for name in [
            "WorkflowId",
            "BuildIds",
            "TemporalFoo",
            "NamespaceId",
            "Memo",
        ] {
            let e = check_add_request(&req(&[(name, 2)])).unwrap_err();
            assert_eq!(e.code(), tonic::Code::InvalidArgument);
            assert_eq!(
                e.message(),
                format!("Search attribute {name} is reserved by system.")
            );
        }
        let e = check_add_request(&req(&[("X", 99)])).unwrap_err();
        assert_eq!(e.message(), "Unknown search attribute type: 99.");
        assert_eq!(
            check_add_request(&HashMap::new()).unwrap_err().message(),
            "SearchAttributes are not set on request."
        );
        // The dev server takes any other name, even odd ones.
        check_add_request(&req(&[("a b", 2), ("1abc", 3), ("", 2)])).unwrap();
        assert_eq!(plan_add(&Custom::new(), &req(&[("", 2)])).unwrap(), None);
    }

    #[test]
    fn limits_per_type_are_the_sql_columns() {
        let mut cur = Custom::new();
        for i in 0..10 {
            cur = plan_add(&cur, &req(&[(&format!("K{i}"), 2)]))
                .unwrap()
                .unwrap();
        }
        let e = plan_add(&cur, &req(&[("K10", 2)])).unwrap_err();
        assert_eq!(
            e.message(),
            "Unable to create search attributes: cannot have more than 10 search attribute of type Keyword."
        );
        for i in 0..3 {
            cur = plan_add(&cur, &req(&[(&format!("I{i}"), 3)]))
                .unwrap()
                .unwrap();
        }
        let e = plan_add(&cur, &req(&[("I3", 3)])).unwrap_err();
        assert!(e
            .message()
            .ends_with("more than 3 search attribute of type Int."));
        let e = plan_add(&cur, &req(&[("U", 0)])).unwrap_err();
        assert!(e
            .message()
            .ends_with("more than 0 search attribute of type Unspecified."));
        // Two new ones of a type with one slot left: the whole request is refused.
        let two = Custom::from([("A".into(), T::Bool), ("B".into(), T::Bool)]);
        let e = plan_add(&two, &req(&[("C", 5), ("D", 5)])).unwrap_err();
        assert!(e
            .message()
            .ends_with("more than 3 search attribute of type Bool."));
    }

    #[test]
    fn re_adding_is_a_no_op_whatever_the_type() {
        let cur = Custom::from([("A".into(), T::Keyword)]);
        assert_eq!(plan_add(&cur, &req(&[("A", 2)])).unwrap(), None);
        assert_eq!(plan_add(&cur, &req(&[("A", 3)])).unwrap(), None);
        let next = plan_add(&cur, &req(&[("A", 3), ("B", 7)]))
            .unwrap()
            .unwrap();
        assert_eq!(next.get("A"), Some(&T::Keyword));
        assert_eq!(next.get("B"), Some(&T::KeywordList));
    }

    #[test]
    fn removing() {
        let cur = Custom::from([("A".into(), T::Keyword), ("B".into(), T::Int)]);
        assert_eq!(plan_remove(&cur, &["Nope".into()]).unwrap(), None);
        let next = plan_remove(&cur, &["A".into(), "Nope".into()])
            .unwrap()
            .unwrap();
        assert_eq!(next, Custom::from([("B".into(), T::Int)]));
        for name in ["WorkflowId", "BuildIds", "Keyword01", "Bool03"] {
            let e = plan_remove(&cur, &["A".into(), name.into()]).unwrap_err();
            assert_eq!(
                e.message(),
                format!("Unable to remove non-custom search attributes: {name}.")
            );
        }
        // A removed name frees its column.
        let full: Custom = (0..3).map(|i| (format!("I{i}"), T::Int)).collect();
        let freed = plan_remove(&full, &["I0".into()]).unwrap().unwrap();
        assert!(plan_add(&freed, &req(&[("I9", 3)])).unwrap().is_some());
    }

    #[test]
    fn preallocated_columns_are_named_like_the_sql_schema() {
        let cols: Vec<String> = preallocated_columns().map(|(n, _)| n).collect();
        assert_eq!(cols.len(), 28);
        assert!(cols.contains(&"Keyword10".to_string()));
        assert!(cols.contains(&"KeywordList03".to_string()));
        assert!(!cols.contains(&"Int04".to_string()));
    }
}
