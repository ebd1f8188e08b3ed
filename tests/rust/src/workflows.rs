//! The workflows and activities the Rust end-to-end tests and the load generator run, so the
//! two always exercise the same code. Owns only definitions: no server, no client.

use std::time::Duration;

use temporalio_macros::{activities, workflow, workflow_methods};
use temporalio_sdk::{
    activities::{ActivityContext, ActivityError},
    ActivityOptions, ChildWorkflowOptions, SyncWorkflowContext, WorkflowContext,
    WorkflowContextView, WorkflowResult,
};

pub struct Greetings;

#[activities]
impl Greetings {
    #[activity]
    pub async fn greet(_ctx: ActivityContext, name: String) -> Result<String, ActivityError> {
        Ok(format!("Hello, {name}!"))
    }
}

/// One activity, then its result: the hello-world of durable execution.
#[workflow]
#[derive(Default)]
pub struct OneActivity;

#[workflow_methods]
impl OneActivity {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, name: String) -> WorkflowResult<String> {
        let greeting = ctx
            .execute_activity(
                Greetings::greet,
                name,
                ActivityOptions::start_to_close_timeout(Duration::from_secs(10)),
            )
            .await?;
        Ok(greeting)
    }
}

/// Waits for `expected` `add` signals, answers `collected` with the values it has so far (in
/// arrival order), then hands the first `expected` of them to a [`JoinUppercase`] child and
/// returns the child's result. Signal, query and child workflow in one run.
#[workflow]
#[derive(Default)]
pub struct CollectThenDelegate {
    values: Vec<String>,
}

#[workflow_methods]
impl CollectThenDelegate {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, expected: u32) -> WorkflowResult<String> {
        let expected = expected as usize;
        ctx.wait_condition(|s| s.values.len() >= expected).await?;
        let values = ctx.state(|s| s.values[..expected].to_vec());
        let child = ctx
            .start_child_workflow(
                JoinUppercase::run,
                values,
                ChildWorkflowOptions::workflow_id(child_workflow_id(ctx.workflow_id())),
            )
            .await?;
        Ok(child.result().await?)
    }

    #[signal]
    pub fn add(&mut self, _ctx: &mut SyncWorkflowContext<Self>, value: String) {
        self.values.push(value);
    }

    #[query]
    pub fn collected(&self, _ctx: &WorkflowContextView) -> Vec<String> {
        self.values.clone()
    }
}

/// The workflow id [`CollectThenDelegate`] gives its child: fixed, so a test can find it.
pub fn child_workflow_id(parent_workflow_id: &str) -> String {
    format!("{parent_workflow_id}-child")
}

/// The child of [`CollectThenDelegate`]: its input upper-cased and joined with commas.
#[workflow]
#[derive(Default)]
pub struct JoinUppercase;

#[workflow_methods]
impl JoinUppercase {
    #[run]
    pub async fn run(
        _ctx: &mut WorkflowContext<Self>,
        values: Vec<String>,
    ) -> WorkflowResult<String> {
        Ok(join_uppercase(&values))
    }
}

/// What [`JoinUppercase`] returns for `values`, so a test can compute the expected result.
pub fn join_uppercase(values: &[String]) -> String {
    values
        .iter()
        .map(|v| v.to_uppercase())
        .collect::<Vec<_>>()
        .join(",")
}

/// Waits for `expected` `add` signals and returns them joined with commas: the load
/// generator's signal workload (start, signals, complete).
#[workflow]
#[derive(Default)]
pub struct CollectSignals {
    values: Vec<String>,
}

#[workflow_methods]
impl CollectSignals {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, expected: u32) -> WorkflowResult<String> {
        let expected = expected as usize;
        ctx.wait_condition(|s| s.values.len() >= expected).await?;
        Ok(ctx.state(|s| s.values[..expected].join(",")))
    }

    #[signal]
    pub fn add(&mut self, _ctx: &mut SyncWorkflowContext<Self>, value: String) {
        self.values.push(value);
    }
}

/// Starts one [`JoinUppercase`] child with `values` and returns its result: the load
/// generator's child-workflow workload.
#[workflow]
#[derive(Default)]
pub struct OneChild;

#[workflow_methods]
impl OneChild {
    #[run]
    pub async fn run(
        ctx: &mut WorkflowContext<Self>,
        values: Vec<String>,
    ) -> WorkflowResult<String> {
        let child = ctx
            .start_child_workflow(
                JoinUppercase::run,
                values,
                ChildWorkflowOptions::workflow_id(child_workflow_id(ctx.workflow_id())),
            )
            .await?;
        Ok(child.result().await?)
    }
}
