//! The search attributes Temporal's history keeps itself from each completed workflow task:
//! `BuildIds` (the "unversioned" sentinel first, then every worker build seen, as
//! `unversioned:<id>` or `versioned:<id>` from the task's version stamp) and
//! `BinaryChecksums` (the checksums of the run's reset points, when a new point is added).
//! Values are KeywordList payloads as Temporal encodes them; a `BuildIds` list over the value
//! size limit drops its oldest builds (keeping the sentinel), as Temporal's does.
//!
//! Pure: reads and writes only the run's search attributes. Never decides reset points
//! (`reset_points.rs`).

use temporalio_protos::temporal::api::common::v1::{Payload, WorkerVersionStamp};

use crate::state::MutableState;

pub(crate) const BUILD_IDS: &str = "BuildIds";
pub(crate) const BINARY_CHECKSUMS: &str = "BinaryChecksums";
/// Temporal's `limit.searchAttributesSizeOfValue`.
const MAX_VALUE_BYTES: usize = 2 * 1024;
const UNVERSIONED: &str = "unversioned";

/// Temporal's value for a stamp: the sentinel when it names no build.
fn stamp_value(stamp: &WorkerVersionStamp) -> String {
    match (stamp.build_id.as_str(), stamp.use_versioning) {
        ("", _) => UNVERSIONED.to_string(),
        (id, true) => format!("versioned:{id}"),
        (id, false) => format!("{UNVERSIONED}:{id}"),
    }
}

/// A KeywordList payload as Temporal's encoder writes it (Go's JSON: `<`, `>`, `&` escaped).
pub(crate) fn keyword_list(values: &[String]) -> Payload {
    let json = serde_json::to_string(values)
        .unwrap_or_else(|_| "[]".to_string())
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026");
    Payload {
        metadata: [
            ("encoding".to_string(), b"json/plain".to_vec()),
            ("type".to_string(), b"KeywordList".to_vec()),
        ]
        .into_iter()
        .collect(),
        data: json.into_bytes(),
        ..Default::default()
    }
}

impl MutableState {
    fn keyword_values(&self, name: &str) -> Vec<String> {
        self.search_attributes
            .as_ref()
            .and_then(|s| s.indexed_fields.get(name))
            .and_then(|p| serde_json::from_slice::<Vec<String>>(&p.data).ok())
            .unwrap_or_default()
    }

    fn set_keyword_list(&mut self, name: &str, values: &[String]) {
        self.search_attributes
            .get_or_insert_with(Default::default)
            .indexed_fields
            .insert(name.to_string(), keyword_list(values));
    }

    /// `BuildIds` after a workflow task completed with `stamp` (Temporal's
    /// addBuildIdToLoadedSearchAttribute, for a run without an assigned build or a versioning
    /// behavior, which Perdure never gives one). Written only when it changes.
    pub(crate) fn record_build_id(&mut self, stamp: Option<&WorkerVersionStamp>) {
        let existing = self.keyword_values(BUILD_IDS);
        let mut next = Vec::with_capacity(existing.len() + 2);
        if !stamp.is_some_and(|s| s.use_versioning) {
            next.push(UNVERSIONED.to_string());
        }
        let value = stamp.map(stamp_value).unwrap_or_default();
        let mut found = false;
        for v in &existing {
            found |= *v == value;
            if v != UNVERSIONED && !v.starts_with("assigned:") && !v.starts_with("pinned") {
                next.push(v.clone());
            }
        }
        if !found && !value.is_empty() {
            next.push(value);
        }
        if next == existing {
            return;
        }
        let keeps_sentinel = next.first().is_some_and(|v| v == UNVERSIONED);
        while !next.is_empty() && keyword_list(&next).data.len() > MAX_VALUE_BYTES {
            if next.len() == 1 {
                next.clear();
            } else if keeps_sentinel {
                next.remove(1);
            } else {
                next.remove(0);
            }
        }
        self.set_keyword_list(BUILD_IDS, &next);
    }

    /// `BinaryChecksums` after a new reset point was added for `checksum` (Temporal updates it
    /// only then, and only for a non-empty checksum): every point's checksum, oldest first.
    #[allow(deprecated)]
    pub(crate) fn record_binary_checksums(&mut self, checksum: &str) {
        if checksum.is_empty() {
            return;
        }
        let sums: Vec<String> = self
            .auto_reset_points
            .as_ref()
            .map(|r| {
                r.points
                    .iter()
                    .filter(|p| !p.binary_checksum.is_empty())
                    .map(|p| p.binary_checksum.clone())
                    .collect()
            })
            .unwrap_or_default();
        if self.keyword_values(BINARY_CHECKSUMS) != sums {
            self.set_keyword_list(BINARY_CHECKSUMS, &sums);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(id: &str, versioned: bool) -> WorkerVersionStamp {
        WorkerVersionStamp {
            build_id: id.into(),
            use_versioning: versioned,
        }
    }

    #[test]
    fn build_ids_keep_the_sentinel_first_and_each_build_once() {
        let mut ms = MutableState::default();
        ms.record_build_id(None);
        assert_eq!(ms.keyword_values(BUILD_IDS), ["unversioned"]);
        ms.record_build_id(Some(&stamp("b1", false)));
        ms.record_build_id(Some(&stamp("b1", false)));
        ms.record_build_id(Some(&stamp("b2", false)));
        assert_eq!(
            ms.keyword_values(BUILD_IDS),
            ["unversioned", "unversioned:b1", "unversioned:b2"]
        );
        let p = &ms.search_attributes.as_ref().unwrap().indexed_fields[BUILD_IDS];
        assert_eq!(
            p.data,
            br#"["unversioned","unversioned:b1","unversioned:b2"]"#
        );
        assert_eq!(p.metadata["type"], b"KeywordList");
        // A versioned stamp has no sentinel.
        let mut v = MutableState::default();
        v.record_build_id(Some(&stamp("b", true)));
        assert_eq!(v.keyword_values(BUILD_IDS), ["versioned:b"]);
    }

    #[test]
    fn an_oversized_list_drops_its_oldest_builds_but_not_the_sentinel() {
        let mut ms = MutableState::default();
        let long = "x".repeat(700);
        for i in 0..4 {
            ms.record_build_id(Some(&stamp(&format!("{i}{long}"), false)));
        }
        let values = ms.keyword_values(BUILD_IDS);
        assert_eq!(values[0], "unversioned");
        assert!(values.last().unwrap().starts_with("unversioned:3"));
        assert!(values.len() < 5);
    }

    #[test]
    fn binary_checksums_list_the_reset_points() {
        let mut ms = MutableState::default();
        ms.add_reset_point("cs1", "", 4, crate::time::Time(1));
        ms.record_binary_checksums("cs1");
        ms.add_reset_point("cs2", "", 8, crate::time::Time(2));
        ms.record_binary_checksums("cs2");
        assert_eq!(ms.keyword_values(BINARY_CHECKSUMS), ["cs1", "cs2"]);
        let before = ms.clone();
        ms.record_binary_checksums("");
        assert_eq!(ms, before);
    }
}
