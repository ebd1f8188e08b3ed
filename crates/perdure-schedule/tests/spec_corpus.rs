//! The spec module against Temporal's own answers: tests/data/schedule_spec_corpus.json was
//! recorded from Temporal's dev server by tests/record_corpus.py (specs, DescribeSchedule's
//! canonical spec, ListScheduleMatchingTimes over a window, or the refusal). Every entry must
//! be reproduced exactly, except the ones listed in `DELIBERATE` with the reason.

use perdure_core::Time;
use perdure_schedule::CompiledSpec;
use prost::Message;
use serde_json::Value;
use temporalio_protos::temporal::api::schedule::v1::ScheduleSpec;

/// Entries where Perdure answers differently on purpose.
const DELIBERATE: &[(&str, &str)] = &[(
    "exclude_structured_left_as_is",
    "Temporal's server crashes (Internal) on an exclude calendar with a negative step; Perdure \
     refuses it with InvalidArgument",
)];

/// Messages are compared exactly, except that Go's protobuf library prints a message (in the
/// "not a valid duration" error) with a space or a no-break space, one or two, chosen at random per
/// process on purpose; there the spacing is not compared.
fn same_message(ours: &str, temporal: &str) -> bool {
    if temporal.contains("duration (seconds:") {
        let squeeze = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
        squeeze(ours) == squeeze(temporal)
    } else {
        ours == temporal
    }
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn time(s: &str) -> Time {
    let ts: jiff::Timestamp = s.parse().unwrap();
    Time(ts.as_nanosecond() as i64)
}

fn show(t: Time) -> String {
    jiff::Timestamp::from_nanosecond(t.0 as i128)
        .unwrap()
        .to_string()
}

#[test]
fn reproduces_temporals_corpus() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/schedule_spec_corpus.json"
    );
    let corpus: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let entries = corpus["entries"].as_array().unwrap();
    assert!(entries.len() >= 60, "corpus too small: {}", entries.len());
    let mut failures = Vec::new();
    let mut deliberate_seen = 0;
    for e in entries {
        let name = e["name"].as_str().unwrap();
        let spec = ScheduleSpec::decode(&hex(e["spec_hex"].as_str().unwrap())[..]).unwrap();
        let got = CompiledSpec::compile(&spec);
        if let Some((_, why)) = DELIBERATE.iter().find(|(n, _)| *n == name) {
            deliberate_seen += 1;
            assert!(got.is_err(), "{name}: expected Perdure's refusal ({why})");
            continue;
        }
        if let Some(error) = e.get("error") {
            assert_eq!(error["code"], "INVALID_ARGUMENT", "{name}");
            match got {
                Ok(_) => failures.push(format!("{name}: accepted, Temporal refused: {error}")),
                Err(err) if same_message(&err.to_string(), error["message"].as_str().unwrap()) => {}
                Err(err) => failures.push(format!(
                    "{name}: message {:?}, Temporal {}",
                    err.to_string(),
                    error["message"]
                )),
            }
            continue;
        }
        let compiled = match got {
            Ok(c) => c,
            Err(err) => {
                failures.push(format!("{name}: refused ({err}), Temporal accepted"));
                continue;
            }
        };
        let want = ScheduleSpec::decode(&hex(e["canonical_hex"].as_str().unwrap())[..]).unwrap();
        let canonical = compiled.canonical(&spec);
        if canonical != want {
            failures.push(format!(
                "{name}: canonical\n  got  {canonical:?}\n  want {want:?}"
            ));
        }
        let window = e["window"].as_array().unwrap();
        let seed = e["jitter_seed"].as_str().unwrap();
        let got: Vec<String> = compiled
            .matching_times(
                time(window[0].as_str().unwrap()),
                time(window[1].as_str().unwrap()),
                seed,
            )
            .unwrap()
            .into_iter()
            .map(show)
            .collect();
        let want: Vec<String> = e["matching_times"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| show(time(t.as_str().unwrap())))
            .collect();
        if got != want {
            failures.push(format!(
                "{name}: matching times\n  got  {got:?}\n  want {want:?}"
            ));
        }
    }
    assert_eq!(
        deliberate_seen,
        DELIBERATE.len(),
        "every deliberate difference is in the corpus"
    );
    assert!(
        failures.is_empty(),
        "{} of {} entries differ:\n{}",
        failures.len(),
        entries.len(),
        failures.join("\n")
    );
}
