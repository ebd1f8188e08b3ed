//! Search attributes: their value types, the ones every namespace has, and the registry that
//! resolves a name written in a query to an attribute.
//!
//! This module owns the list of Temporal's system and predefined attributes and the resolution
//! rules (custom first, then system/predefined, then the `ScheduleId` alias and the `Temporal`
//! prefix added or dropped). It must never store or validate registrations (that is the meta
//! group's job); a namespace's custom attributes are handed to it.

use std::collections::BTreeMap;
use std::fmt;

use crate::error::QueryError;

/// The type of a search attribute, as Temporal's `IndexedValueType` (same numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IndexedValueType {
    Text = 1,
    Keyword = 2,
    Int = 3,
    Double = 4,
    Bool = 5,
    Datetime = 6,
    KeywordList = 7,
}

impl IndexedValueType {
    /// From the proto enum's number; `None` for UNSPECIFIED and unknown numbers.
    pub fn from_proto(n: i32) -> Option<Self> {
        Some(match n {
            1 => Self::Text,
            2 => Self::Keyword,
            3 => Self::Int,
            4 => Self::Double,
            5 => Self::Bool,
            6 => Self::Datetime,
            7 => Self::KeywordList,
            _ => return None,
        })
    }

    pub fn to_proto(self) -> i32 {
        self as i32
    }

    /// The name Temporal prints in messages and in a payload's `type` metadata.
    pub fn name(self) -> &'static str {
        match self {
            Self::Text => "Text",
            Self::Keyword => "Keyword",
            Self::Int => "Int",
            Self::Double => "Double",
            Self::Bool => "Bool",
            Self::Datetime => "Datetime",
            Self::KeywordList => "KeywordList",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        [
            Self::Text,
            Self::Keyword,
            Self::Int,
            Self::Double,
            Self::Bool,
            Self::Datetime,
            Self::KeywordList,
        ]
        .into_iter()
        .find(|t| t.name() == name)
    }
}

impl fmt::Display for IndexedValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The attributes a visibility row holds as columns of their own (Temporal's "system" set).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SystemField {
    WorkflowId,
    RunId,
    WorkflowType,
    StartTime,
    ExecutionTime,
    CloseTime,
    ExecutionStatus,
    TaskQueue,
    HistoryLength,
    ExecutionDuration,
    StateTransitionCount,
    HistorySizeBytes,
    ParentWorkflowId,
    ParentRunId,
    RootWorkflowId,
    RootRunId,
}

use IndexedValueType as T;

const SYSTEM: &[(&str, SystemField, IndexedValueType)] = &[
    ("WorkflowId", SystemField::WorkflowId, T::Keyword),
    ("RunId", SystemField::RunId, T::Keyword),
    ("WorkflowType", SystemField::WorkflowType, T::Keyword),
    ("StartTime", SystemField::StartTime, T::Datetime),
    ("ExecutionTime", SystemField::ExecutionTime, T::Datetime),
    ("CloseTime", SystemField::CloseTime, T::Datetime),
    // A Keyword in Temporal's type map, but compared as the status number (see resolve.rs).
    ("ExecutionStatus", SystemField::ExecutionStatus, T::Keyword),
    ("TaskQueue", SystemField::TaskQueue, T::Keyword),
    ("HistoryLength", SystemField::HistoryLength, T::Int),
    ("ExecutionDuration", SystemField::ExecutionDuration, T::Int),
    (
        "StateTransitionCount",
        SystemField::StateTransitionCount,
        T::Int,
    ),
    ("HistorySizeBytes", SystemField::HistorySizeBytes, T::Int),
    (
        "ParentWorkflowId",
        SystemField::ParentWorkflowId,
        T::Keyword,
    ),
    ("ParentRunId", SystemField::ParentRunId, T::Keyword),
    ("RootWorkflowId", SystemField::RootWorkflowId, T::Keyword),
    ("RootRunId", SystemField::RootRunId, T::Keyword),
];

/// Attributes Temporal itself sets, kept with the custom ones in a row's search attributes.
const PREDEFINED: &[(&str, IndexedValueType)] = &[
    ("TemporalChangeVersion", T::KeywordList),
    ("BinaryChecksums", T::KeywordList),
    ("BuildIds", T::KeywordList),
    ("BatcherNamespace", T::Keyword),
    ("BatcherUser", T::Keyword),
    ("TemporalScheduledStartTime", T::Datetime),
    ("TemporalScheduledById", T::Keyword),
    ("TemporalSchedulePaused", T::Bool),
    ("TemporalNamespaceDivision", T::Keyword),
    ("TemporalPauseInfo", T::KeywordList),
    ("TemporalReportedProblems", T::KeywordList),
    ("TemporalWorkerDeploymentVersion", T::Keyword),
    ("TemporalWorkflowVersioningBehavior", T::Keyword),
    ("TemporalWorkerDeployment", T::Keyword),
    ("TemporalUsedWorkerDeploymentVersions", T::KeywordList),
    ("TemporalExternalPayloadCount", T::Int),
    ("TemporalExternalPayloadSizeBytes", T::Int),
];

/// Queries that do not name it see only rows without a namespace division (plain workflows).
pub const NAMESPACE_DIVISION: &str = "TemporalNamespaceDivision";

const RESERVED_PREFIX: &str = "Temporal";
const SCHEDULE_ID: &str = "ScheduleId";

/// Where an attribute's value lives in a [`crate::VisibilityRecord`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Field {
    System(SystemField),
    /// A predefined or custom attribute, by its registered name.
    SearchAttribute(String),
}

/// An attribute named in a query, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    /// The name as the query wrote it (backquotes removed): what error messages show.
    pub alias: String,
    pub field: Field,
    pub ty: IndexedValueType,
}

impl Attribute {
    pub fn is_system(&self, f: SystemField) -> bool {
        self.field == Field::System(f)
    }
}

/// Every attribute a namespace's queries may name: the system and predefined ones plus the
/// namespace's custom attributes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchAttributes {
    custom: BTreeMap<String, IndexedValueType>,
}

impl SearchAttributes {
    /// A namespace with no custom attributes.
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_custom<N: Into<String>>(
        custom: impl IntoIterator<Item = (N, IndexedValueType)>,
    ) -> Self {
        Self {
            custom: custom.into_iter().map(|(n, t)| (n.into(), t)).collect(),
        }
    }

    pub fn insert_custom(&mut self, name: impl Into<String>, ty: IndexedValueType) {
        self.custom.insert(name.into(), ty);
    }

    pub fn custom(&self) -> impl Iterator<Item = (&str, IndexedValueType)> {
        self.custom.iter().map(|(n, t)| (n.as_str(), *t))
    }

    /// The system attributes (own columns), as GetSearchAttributes lists them.
    pub fn system() -> impl Iterator<Item = (&'static str, IndexedValueType)> {
        SYSTEM.iter().map(|(n, _, t)| (*n, *t))
    }

    /// The predefined attributes Temporal sets itself.
    pub fn predefined() -> impl Iterator<Item = (&'static str, IndexedValueType)> {
        PREDEFINED.iter().copied()
    }

    /// Whether `name` may be registered as a custom attribute: not a system or predefined name.
    pub fn is_mappable(name: &str) -> bool {
        builtin(name).is_none()
    }

    /// Resolves a name as written in a query (backquotes already removed).
    pub fn resolve(&self, name: &str) -> Result<Attribute, QueryError> {
        let attr = |field, ty| Attribute {
            alias: name.to_string(),
            field,
            ty,
        };
        if Self::is_mappable(name) {
            if let Some(ty) = self.custom.get(name) {
                return Ok(attr(Field::SearchAttribute(name.to_string()), *ty));
            }
            if name == SCHEDULE_ID {
                return Ok(attr(Field::System(SystemField::WorkflowId), T::Keyword));
            }
        }
        // The custom names are not looked up with the prefix toggled: Temporal's SQL stores
        // know custom attributes only by alias, so `TemporalMyField` is not `MyField`.
        let prefixed = format!("{RESERVED_PREFIX}{name}");
        let candidates = [
            Some(name),
            Some(prefixed.as_str()),
            name.strip_prefix(RESERVED_PREFIX),
        ];
        for candidate in candidates.into_iter().flatten() {
            if let Some((field, ty)) = builtin(candidate) {
                return Ok(attr(field, ty));
            }
        }
        Err(QueryError::UnknownAttribute(name.to_string()))
    }
}

fn builtin(name: &str) -> Option<(Field, IndexedValueType)> {
    if let Some((_, f, t)) = SYSTEM.iter().find(|(n, _, _)| *n == name) {
        return Some((Field::System(*f), *t));
    }
    PREDEFINED
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(n, t)| (Field::SearchAttribute((*n).to_string()), *t))
}

/// Whether Count may group by this attribute (Temporal's allowlist).
pub(crate) fn group_by_allowed(attr: &Attribute) -> bool {
    match &attr.field {
        Field::System(f) => *f == SystemField::ExecutionStatus,
        Field::SearchAttribute(n) => n == NAMESPACE_DIVISION,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns() -> SearchAttributes {
        SearchAttributes::with_custom([("CustomKeywordField", T::Keyword), ("ScheduleId", T::Int)])
    }

    #[test]
    fn resolves_system_predefined_and_custom() {
        let a = ns().resolve("WorkflowId").unwrap();
        assert_eq!(a.field, Field::System(SystemField::WorkflowId));
        let a = ns().resolve("CustomKeywordField").unwrap();
        assert_eq!(a.ty, T::Keyword);
        assert_eq!(a.field, Field::SearchAttribute("CustomKeywordField".into()));
        let a = ns().resolve("BuildIds").unwrap();
        assert_eq!(a.ty, T::KeywordList);
    }

    #[test]
    fn temporal_prefix_is_optional_both_ways() {
        let a = ns().resolve("ScheduledById").unwrap();
        assert_eq!(
            a.field,
            Field::SearchAttribute("TemporalScheduledById".into())
        );
        assert_eq!(a.alias, "ScheduledById");
        let a = ns().resolve("TemporalWorkflowId").unwrap();
        assert_eq!(a.field, Field::System(SystemField::WorkflowId));
        assert!(ns().resolve("TemporalCustomKeywordField").is_err());
    }

    #[test]
    fn schedule_id_is_workflow_id_unless_registered() {
        let plain = SearchAttributes::new().resolve("ScheduleId").unwrap();
        assert_eq!(plain.field, Field::System(SystemField::WorkflowId));
        assert_eq!(ns().resolve("ScheduleId").unwrap().ty, T::Int);
    }

    #[test]
    fn names_are_case_sensitive() {
        assert_eq!(
            ns().resolve("workflowid").unwrap_err().to_string(),
            "invalid query: invalid search attribute: workflowid"
        );
    }

    #[test]
    fn type_names_and_numbers_round_trip() {
        for n in 1..=7 {
            let t = IndexedValueType::from_proto(n).unwrap();
            assert_eq!(t.to_proto(), n);
            assert_eq!(IndexedValueType::from_name(t.name()), Some(t));
        }
        assert_eq!(IndexedValueType::from_proto(0), None);
        assert!(!SearchAttributes::is_mappable("ExecutionStatus"));
        assert!(SearchAttributes::is_mappable("CustomIntField"));
    }
}
