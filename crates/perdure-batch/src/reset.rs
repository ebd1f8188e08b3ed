//! How a batch reset picks each target's reset point, as Temporal's batcher does
//! (`batcher/activities.go`: getResetEventIDByOptions, getResetEventIDByType,
//! get{First,Last}WorkflowTaskEventID, getResetPoint).
//!
//! Owns the choice only: which event id a target is reset to (from its history, or its auto
//! reset points for a build id) and which reapply settings go with it. Never reads a history
//! or a clock itself: the driver feeds the events and passes the time.

use perdure_core::Time;
use temporalio_protos::temporal::api::batch::v1::BatchOperationReset;
use temporalio_protos::temporal::api::common::v1::reset_options::Target;
use temporalio_protos::temporal::api::enums::v1::{EventType, ResetType};
use temporalio_protos::temporal::api::history::v1::HistoryEvent;
use temporalio_protos::temporal::api::workflow::v1::ResetPointInfo;

/// Where a target is reset to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Point {
    /// The first WorkflowTaskCompleted event, else the first task's started event.
    FirstWorkflowTask,
    /// The last WorkflowTaskCompleted event, else the first task's started event.
    LastWorkflowTask,
    /// The event id named (the batcher takes it as given for every target).
    EventId(i64),
    /// The first workflow task the build id completed, from the run's auto reset points.
    BuildId {
        build_id: String,
        current_run_only: bool,
    },
}

/// What every target of a reset job is reset with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResetPlan {
    pub point: Point,
    pub reapply_type: i32,
    pub reapply_exclude_types: Vec<i32>,
}

/// Why one target could not be given a reset point (counted as a failed target).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// The batcher's NoWorkflowTaskFound.
    #[error("unable to find any scheduled or completed task")]
    NoWorkflowTask,
    #[error("provided reset type ({0}) is not supported.")]
    UnsupportedType(String),
    #[error("{0}")]
    BuildId(String),
}

/// The options when the operation has them; the deprecated `reset_type` and
/// `reset_reapply_type` otherwise (no exclude types then), as the batcher reads them.
#[allow(deprecated)]
pub fn plan(op: &BatchOperationReset) -> Result<ResetPlan, TargetError> {
    if let Some(o) = &op.options {
        let point = match &o.target {
            Some(Target::FirstWorkflowTask(())) => Point::FirstWorkflowTask,
            Some(Target::LastWorkflowTask(())) => Point::LastWorkflowTask,
            Some(Target::WorkflowTaskId(id)) => Point::EventId(*id),
            Some(Target::BuildId(b)) => Point::BuildId {
                build_id: b.clone(),
                current_run_only: o.current_run_only,
            },
            None => return Err(TargetError::UnsupportedType("<nil>".into())),
        };
        return Ok(ResetPlan {
            point,
            reapply_type: o.reset_reapply_type,
            reapply_exclude_types: o.reset_reapply_exclude_types.clone(),
        });
    }
    let point = match ResetType::try_from(op.reset_type) {
        Ok(ResetType::FirstWorkflowTask) => Point::FirstWorkflowTask,
        Ok(ResetType::LastWorkflowTask) => Point::LastWorkflowTask,
        Ok(t) => return Err(TargetError::UnsupportedType(format!("{t:?}"))),
        Err(_) => return Err(TargetError::UnsupportedType(op.reset_type.to_string())),
    };
    Ok(ResetPlan {
        point,
        reapply_type: op.reset_reapply_type,
        reapply_exclude_types: Vec::new(),
    })
}

/// Reads a target's history in order, page by page, for the first or last workflow task.
#[derive(Debug, Clone)]
pub struct WorkflowTaskScan {
    last: bool,
    completed: Option<i64>,
    first_scheduled: Option<i64>,
}

impl WorkflowTaskScan {
    /// `last`: the last completed task is wanted, else the first.
    pub fn new(last: bool) -> Self {
        WorkflowTaskScan {
            last,
            completed: None,
            first_scheduled: None,
        }
    }

    /// Takes the next event; true when the answer is known and no more need be read.
    pub fn observe(&mut self, event: &HistoryEvent) -> bool {
        if event.event_type == EventType::WorkflowTaskCompleted as i32 {
            self.completed = Some(event.event_id);
            return !self.last;
        }
        if event.event_type == EventType::WorkflowTaskScheduled as i32 {
            self.first_scheduled.get_or_insert(event.event_id);
        }
        false
    }

    /// The event id to reset to: a completed task's event, else the first task's started one.
    pub fn finish(&self) -> Result<i64, TargetError> {
        self.completed
            .or(self.first_scheduled.map(|s| s + 1))
            .ok_or(TargetError::NoWorkflowTask)
    }
}

/// A build id's reset point among the run's auto reset points: the run to reset (it may be an
/// earlier run of the chain) and the event id.
pub fn build_id_point(
    points: &[ResetPointInfo],
    build_id: &str,
    current_run_only: bool,
    run_id: &str,
    now: Time,
) -> Result<(String, i64), TargetError> {
    let Some(p) = points.iter().find(|p| p.build_id == build_id) else {
        return Err(TargetError::BuildId(format!(
            "Can't find reset point for {build_id}"
        )));
    };
    if !p.resettable {
        return Err(TargetError::BuildId(format!(
            "Reset point for {build_id} is not resettable"
        )));
    }
    if let Some(t) = &p.expire_time {
        if Time::from_timestamp(t).0 < now.0 {
            return Err(TargetError::BuildId(format!(
                "Reset point for {build_id} is expired"
            )));
        }
    }
    if current_run_only && p.run_id != run_id {
        return Err(TargetError::BuildId(format!(
            "Reset point for {build_id} points to previous run and CurrentRunOnly is set"
        )));
    }
    Ok((p.run_id.clone(), p.first_workflow_task_completed_id))
}
