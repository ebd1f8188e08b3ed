//! The queries a run times, what each must return, and the timing loop.
//!
//! Owns: the filter cases (selective: a rare workflow type, one workflow id, a status and type
//! conjunction, a narrow StartTime window; non-selective: everything, a common status), their
//! expected answers derived from the fill, and timing Count, List's first page and a full page
//! walk of each. Must never: keep a timing whose answer was wrong.

use std::collections::BTreeSet;
use temporalio_client::tonic::Request;
use temporalio_client::Client;
use temporalio_common::protos::temporal::api::workflowservice::v1::ListWorkflowExecutionsRequest;
use tokio::time::Instant;

use crate::args::Config;
use crate::fill::{self, End, Filled, NAMESPACE, RARE_TYPE};
use crate::stats::LatencySummary;
use crate::VisError;

/// List's page size in every List call of the bench.
pub const PAGE_SIZE: i32 = 100;
/// A walk of every page is timed only for results up to this size.
const MAX_WALK: usize = 5_000;

/// One filter and what it must match.
#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    pub filter: String,
    pub selective: bool,
    /// Ids of the workflows that match, in no order.
    pub expected: BTreeSet<String>,
}

/// What is timed for a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Count,
    FirstPage,
    Walk,
}

impl Op {
    pub fn name(self) -> &'static str {
        match self {
            Op::Count => "count",
            Op::FirstPage => "list first page",
            Op::Walk => "list every page",
        }
    }
}

/// One op of one case on one target.
#[derive(Debug, Clone)]
pub struct OpResult {
    pub op: Op,
    /// What it returned (rows or count), the same on every target of a good run.
    pub answer: usize,
    /// List calls per timed repetition (1 for Count).
    pub calls: usize,
    pub summary: LatencySummary,
}

/// The cases for a fill of `workflows`.
pub fn cases(workflows: usize, filled: &Filled) -> Vec<Case> {
    let ids = |keep: &dyn Fn(usize) -> bool| -> BTreeSet<String> {
        (0..workflows)
            .filter(|&i| keep(i))
            .map(fill::workflow_id)
            .collect()
    };
    let split = fill::second_phase(workflows);
    let one = workflows / 2 + 1;
    let boundary = filled.boundary.to_rfc3339();
    vec![
        Case {
            name: "everything".into(),
            filter: String::new(),
            selective: false,
            expected: ids(&|_| true),
        },
        Case {
            name: "status (2/3 of rows)".into(),
            filter: "ExecutionStatus = 'Terminated'".into(),
            selective: false,
            expected: ids(&|i| fill::end(i) == End::Terminated),
        },
        Case {
            name: "rare type (1%)".into(),
            filter: format!("WorkflowType = '{RARE_TYPE}'"),
            selective: true,
            expected: ids(&|i| fill::workflow_type(i) == RARE_TYPE),
        },
        Case {
            name: "one workflow id".into(),
            filter: format!("WorkflowId = '{}'", fill::workflow_id(one)),
            selective: true,
            expected: ids(&|i| i == one),
        },
        Case {
            name: "status and rare type".into(),
            filter: format!("ExecutionStatus = 'Terminated' AND WorkflowType = '{RARE_TYPE}'"),
            selective: true,
            expected: ids(&|i| {
                fill::end(i) == End::Terminated && fill::workflow_type(i) == RARE_TYPE
            }),
        },
        Case {
            name: "start time window (last 1%)".into(),
            filter: format!("StartTime > '{boundary}'"),
            selective: true,
            expected: ids(&|i| i >= split),
        },
        Case {
            name: "close window and status".into(),
            filter: format!("CloseTime > '{boundary}' AND ExecutionStatus = 'TimedOut'"),
            selective: true,
            expected: ids(&|i| i >= split && fill::end(i) == End::TimedOut),
        },
    ]
}

/// Times every op of `case`: one untimed call that must give the expected answer, then up to
/// `reps` timed ones (each checked too).
pub async fn time_case(
    client: &Client,
    case: &Case,
    config: &Config,
) -> Result<Vec<OpResult>, VisError> {
    let mut ops = vec![Op::Count, Op::FirstPage];
    if case.expected.len() <= MAX_WALK {
        ops.push(Op::Walk);
    }
    let mut out = Vec::new();
    for op in ops {
        let want = match op {
            Op::Count | Op::Walk => case.expected.len(),
            Op::FirstPage => case.expected.len().min(PAGE_SIZE as usize),
        };
        let first = run_op(client, case, op).await?;
        if op == Op::Walk && first.ids != case.expected {
            return Err(wrong(
                case,
                op,
                format!("{} other ids", first.ids.len()),
                "the expected ids".into(),
            ));
        }
        let mut samples = Vec::new();
        let started = Instant::now();
        let mut calls = first.calls;
        while samples.len() < config.reps
            && (samples.len() < 3 || started.elapsed() < config.op_budget)
        {
            let t = Instant::now();
            let got = run_op(client, case, op).await?;
            samples.push(t.elapsed());
            if got.answer != want {
                return Err(wrong(case, op, got.answer.to_string(), want.to_string()));
            }
            calls = got.calls;
        }
        if first.answer != want {
            return Err(wrong(case, op, first.answer.to_string(), want.to_string()));
        }
        let summary = LatencySummary::from_samples(&samples).expect("at least 3 samples");
        tracing::info!(case = %case.name, op = op.name(), p50_ms = summary.p50_ms, "timed");
        out.push(OpResult {
            op,
            answer: want,
            calls,
            summary,
        });
    }
    Ok(out)
}

fn wrong(case: &Case, op: Op, got: String, want: String) -> VisError {
    VisError::WrongResult {
        case: format!("{} ({:?})", case.name, case.filter),
        op: op.name(),
        got,
        want,
    }
}

struct Answer {
    answer: usize,
    calls: usize,
    ids: BTreeSet<String>,
}

async fn run_op(client: &Client, case: &Case, op: Op) -> Result<Answer, VisError> {
    match op {
        Op::Count => Ok(Answer {
            answer: usize::try_from(fill::count(client, &case.filter).await?).unwrap_or(0),
            calls: 1,
            ids: BTreeSet::new(),
        }),
        Op::FirstPage | Op::Walk => {
            let mut svc = client.connection().workflow_service();
            let mut token = Vec::new();
            let mut ids = BTreeSet::new();
            let mut rows = 0;
            let mut calls = 0;
            loop {
                let page = svc
                    .list_workflow_executions(Request::new(ListWorkflowExecutionsRequest {
                        namespace: NAMESPACE.into(),
                        page_size: PAGE_SIZE,
                        next_page_token: token,
                        query: case.filter.clone(),
                    }))
                    .await
                    .map_err(VisError::rpc("ListWorkflowExecutions"))?
                    .into_inner();
                calls += 1;
                rows += page.executions.len();
                ids.extend(
                    page.executions
                        .into_iter()
                        .filter_map(|e| e.execution.map(|e| e.workflow_id)),
                );
                token = page.next_page_token;
                if op == Op::FirstPage || token.is_empty() {
                    break;
                }
            }
            Ok(Answer {
                answer: rows,
                calls,
                ids,
            })
        }
    }
}
