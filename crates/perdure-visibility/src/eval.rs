//! Whether a row matches a query, with SQL's three-valued logic.
//!
//! Owns the meaning of each operator on each type as Temporal's dev server (its SQLite store)
//! answers it: a condition on an attribute the row lacks is unknown, so neither it nor its NOT
//! matches; KeywordList and Text conditions are never unknown (`!=` and NOT IN match rows
//! without the attribute); KeywordList values match case-insensitively and Text matches any
//! word; STARTS_WITH ignores ASCII case; datetimes compare to the microsecond. It must never
//! parse or validate.

use std::cmp::Ordering;

use crate::ast::{CompareOp, Expr, Literal, Query};
use crate::attributes::{Attribute, IndexedValueType, NAMESPACE_DIVISION};
use crate::record::{FieldValue, VisibilityRecord};

impl Query {
    /// Whether `record` belongs in this query's result.
    pub fn matches(&self, record: &VisibilityRecord) -> bool {
        if !self.names_namespace_division
            && record.search_attributes.contains_key(NAMESPACE_DIVISION)
        {
            return false;
        }
        self.filter.as_ref().is_none_or(|f| record.matches(f))
    }

    /// The group a row counts in for `GROUP BY`, as Count returns it (the status's name for
    /// ExecutionStatus, the empty string for a row without the attribute).
    pub fn group_value(&self, record: &VisibilityRecord) -> Option<String> {
        let attr = self.group_by.first()?;
        Some(match record.field(&attr.field) {
            FieldValue::Status(s) => s.name().to_string(),
            FieldValue::Str(s) | FieldValue::Text(s) => s.to_string(),
            _ => String::new(),
        })
    }
}

impl VisibilityRecord {
    /// Whether the row satisfies `expr` (unknown counts as no).
    pub fn matches(&self, expr: &Expr) -> bool {
        eval(self, expr) == Some(true)
    }
}

/// `None` is SQL's UNKNOWN.
fn eval(r: &VisibilityRecord, e: &Expr) -> Option<bool> {
    match e {
        Expr::And(all) => {
            let mut result = Some(true);
            for e in all {
                match eval(r, e) {
                    Some(false) => return Some(false),
                    None => result = None,
                    Some(true) => {}
                }
            }
            result
        }
        Expr::Or(any) => {
            let mut result = Some(false);
            for e in any {
                match eval(r, e) {
                    Some(true) => return Some(true),
                    None => result = None,
                    Some(false) => {}
                }
            }
            result
        }
        Expr::Not(a) => eval(r, a).map(|v| !v),
        Expr::IsNull { attr, negated } => {
            Some((r.field(&attr.field) == FieldValue::Null) != *negated)
        }
        Expr::Compare { attr, op, value } => compare(r, attr, *op, value),
        Expr::In {
            attr,
            values,
            negated,
        } => membership(r, attr, values).map(|v| v != *negated),
        Expr::Between {
            attr,
            low,
            high,
            negated,
        } => {
            let v = r.field(&attr.field);
            let lo = order(v, low)?;
            let hi = order(v, high)?;
            Some((lo != Ordering::Less && hi != Ordering::Greater) != *negated)
        }
        Expr::StartsWith {
            attr,
            prefix,
            negated,
        } => match r.field(&attr.field) {
            FieldValue::Str(s) => Some(starts_with_ignore_ascii_case(s, prefix) != *negated),
            _ => None,
        },
    }
}

fn compare(r: &VisibilityRecord, attr: &Attribute, op: CompareOp, value: &Literal) -> Option<bool> {
    match attr.ty {
        // Full-text and list conditions are row-set memberships in Temporal's SQL stores, so
        // they are true or false even for a row without the attribute.
        IndexedValueType::KeywordList | IndexedValueType::Text => {
            let hit = membership(r, attr, std::slice::from_ref(value)).unwrap_or(false);
            Some(if op == CompareOp::Ne { !hit } else { hit })
        }
        _ => {
            let ord = order(r.field(&attr.field), value)?;
            Some(match op {
                CompareOp::Eq => ord == Ordering::Equal,
                CompareOp::Ne => ord != Ordering::Equal,
                CompareOp::Lt => ord == Ordering::Less,
                CompareOp::Le => ord != Ordering::Greater,
                CompareOp::Gt => ord == Ordering::Greater,
                CompareOp::Ge => ord != Ordering::Less,
            })
        }
    }
}

/// Whether the row's value is one of `values` (for KeywordList: shares an element with them;
/// for Text: contains one of their words).
fn membership(r: &VisibilityRecord, attr: &Attribute, values: &[Literal]) -> Option<bool> {
    match (attr.ty, r.field(&attr.field)) {
        (IndexedValueType::KeywordList, FieldValue::List(items)) => Some(values.iter().any(|v| {
            matches!(v, Literal::String(s) if items.iter().any(|i| i.to_lowercase() == s.to_lowercase()))
        })),
        (IndexedValueType::KeywordList, _) => Some(false),
        (IndexedValueType::Text, FieldValue::Text(text) | FieldValue::Str(text)) => {
            let words = words(text);
            Some(values.iter().any(|v| match v {
                Literal::String(s) => s.split(' ').any(|token| {
                    let phrase = words_of(token);
                    !phrase.is_empty() && words.windows(phrase.len()).any(|w| w == phrase.as_slice())
                }),
                _ => false,
            }))
        }
        (IndexedValueType::Text, _) => Some(false),
        (_, v) => {
            let mut unknown = false;
            for value in values {
                match order(v, value) {
                    Some(Ordering::Equal) => return Some(true),
                    None => unknown = true,
                    _ => {}
                }
            }
            if unknown { None } else { Some(false) }
        }
    }
}

/// How the row's value orders against a query value; `None` when either is missing or they
/// cannot be compared (a row whose stored type differs from the registered one).
fn order(v: FieldValue<'_>, lit: &Literal) -> Option<Ordering> {
    match (v, lit) {
        (FieldValue::Str(a), Literal::String(b)) => Some(a.cmp(b.as_str())),
        (FieldValue::Int(a), Literal::Int(b)) => Some(a.cmp(b)),
        (FieldValue::Int(a), Literal::Double(b)) => (a as f64).partial_cmp(b),
        (FieldValue::Double(a), Literal::Int(b)) => a.partial_cmp(&(*b as f64)),
        (FieldValue::Double(a), Literal::Double(b)) => a.partial_cmp(b),
        (FieldValue::Bool(a), Literal::Bool(b)) => Some(a.cmp(b)),
        (FieldValue::Datetime(a), Literal::Datetime(b)) => Some(a.micros().cmp(&b.micros())),
        (FieldValue::Status(a), Literal::Status(b)) => Some(a.number().cmp(&b.number())),
        _ => None,
    }
}

/// SQLite's LIKE 'prefix%': ASCII letters match either case, everything else exactly.
fn starts_with_ignore_ascii_case(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len()
        && s.is_char_boundary(prefix.len())
        && s[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// The words of a Text value as SQLite's unicode61 tokenizer sees them: runs of letters and
/// digits, lower-cased.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

fn words_of(token: &str) -> Vec<String> {
    words(token)
}

#[cfg(test)]
mod tests;
