//! The workflows and activities the Rust end-to-end test and the load generator both run, so the
//! two always exercise the same code. Owns only definitions: no server, no client.

use std::time::Duration;

use temporalio_macros::{activities, workflow, workflow_methods};
use temporalio_sdk::{
    activities::{ActivityContext, ActivityError},
    ActivityOptions, WorkflowContext, WorkflowResult,
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
