//! UpdateActivityOptions: masked fields merged and normalized, the waiting attempt rescheduled
//! under the new policy, restore_original puts the scheduled options back.

use super::*;
use temporalio_protos::temporal::api::activity::v1::ActivityOptions;

fn secs(s: u64) -> Option<prost_wkt_types::Duration> {
    Some(duration_to_proto(Duration::from_secs(s)))
}

fn failed_once() -> Run {
    let mut run = Run::start(None);
    let d = run.poll_wft(at(1));
    run.complete(&d, vec![schedule_activity("1", None)], at(2));
    let a = run.poll_activity(5, at(3));
    let m = run
        .ms
        .fail_activity(&a.token, Some(app_failure("x")), None, "aworker", at(4))
        .unwrap();
    run.apply(m);
    run
}

fn update(
    run: &mut Run,
    req: UpdateOptionsRequest,
    now: Time,
) -> Result<(Mutation, ActivityOptions), CoreError> {
    run.ms
        .update_activity_options(&ActivitySelector::Id("1".into()), &req, now)
}

#[test]
fn masked_fields_change_and_the_waiting_retry_follows_the_new_policy() {
    let mut run = failed_once();
    let req = UpdateOptionsRequest {
        options: Some(ActivityOptions {
            start_to_close_timeout: secs(42),
            heartbeat_timeout: secs(99), // not in the mask
            retry_policy: Some(RetryPolicy {
                initial_interval: secs(10),
                ..Default::default()
            }),
            ..Default::default()
        }),
        paths: Some(vec![
            "start_to_close_timeout".into(),
            "retry_policy.initial_interval".into(),
        ]),
        restore_original: false,
    };
    let (m, options) = update(&mut run, req, at(4)).unwrap();
    let m = run.apply(m);
    assert_eq!(options.start_to_close_timeout, secs(42));
    assert_eq!(
        options.heartbeat_timeout,
        secs(0),
        "unmasked fields keep their value"
    );
    let p = run.ms.describe().pending_activities[0].clone();
    let o = p.activity_options.unwrap();
    assert_eq!(o.start_to_close_timeout, secs(42));
    assert_eq!(o.retry_policy.unwrap().initial_interval, secs(10));
    // Attempt 2 is due one new backoff (10 s × 2^1, Temporal's formula) after attempt 1 ended.
    match m.timer_tasks.as_slice() {
        [t] => assert_eq!(t.fire_time(), at(24)),
        other => panic!("{other:?}"),
    }
    // The retry armed under the old policy is stale.
    run.timers.retain(|t| t.fire_time() != at(24));
    assert!(run.fire(is_activity_retry, at(5)).is_empty());

    let (_, restored) = update(
        &mut run,
        UpdateOptionsRequest {
            restore_original: true,
            ..Default::default()
        },
        at(6),
    )
    .unwrap();
    assert_eq!(restored.start_to_close_timeout, secs(10));
    assert_eq!(run.ms.activities[&5].start_to_close_timeout, secs(10));
}

#[test]
fn update_errors_follow_temporal() {
    let mut run = failed_once();
    let err = |r: Result<(Mutation, ActivityOptions), CoreError>| r.unwrap_err().to_string();
    let both = UpdateOptionsRequest {
        options: Some(ActivityOptions::default()),
        paths: Some(vec!["heartbeat_timeout".into()]),
        restore_original: true,
    };
    assert_eq!(
        err(update(&mut run, both, at(5))),
        "Both UpdateMask and RestoreOriginal are provided"
    );
    assert_eq!(
        err(update(&mut run, UpdateOptionsRequest::default(), at(5))),
        "ActivityOptions are not provided"
    );
    let no_mask = UpdateOptionsRequest {
        options: Some(ActivityOptions::default()),
        ..Default::default()
    };
    assert_eq!(
        err(update(&mut run, no_mask, at(5))),
        "UpdateMask is not provided"
    );
    let bad_policy = UpdateOptionsRequest {
        options: Some(ActivityOptions {
            retry_policy: Some(RetryPolicy {
                backoff_coefficient: 0.5,
                ..Default::default()
            }),
            ..Default::default()
        }),
        paths: Some(vec!["retryPolicy.backoffCoefficient".into()]),
        restore_original: false,
    };
    assert_eq!(
        err(update(&mut run, bad_policy, at(5))),
        "BackoffCoefficient cannot be less than 1 on retry policy."
    );
    let no_timeouts = UpdateOptionsRequest {
        options: Some(ActivityOptions::default()),
        paths: Some(vec!["start_to_close_timeout".into()]),
        restore_original: false,
    };
    assert!(err(update(&mut run, no_timeouts, at(5))).starts_with("a valid StartToCloseTimeout"));
}

#[test]
fn reset_with_restore_original_options_puts_the_scheduled_options_back() {
    let mut run = failed_once();
    let req = UpdateOptionsRequest {
        options: Some(ActivityOptions {
            start_to_close_timeout: secs(42),
            ..Default::default()
        }),
        paths: Some(vec!["startToCloseTimeout".into()]),
        restore_original: false,
    };
    let (m, _) = update(&mut run, req, at(4)).unwrap();
    run.apply(m);
    assert_eq!(run.ms.activities[&5].start_to_close_timeout, secs(42));
    let m = run
        .ms
        .reset_activity(
            &ActivitySelector::Id("1".into()),
            &ResetActivityRequest {
                restore_original_options: true,
                ..Default::default()
            },
            at(5),
        )
        .unwrap();
    run.apply(m);
    let ai = &run.ms.activities[&5];
    assert_eq!((ai.start_to_close_timeout, ai.attempt), (secs(10), 1));
}
