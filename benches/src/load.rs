//! The load: workflows driven by the official Rust SDK (client and worker), one of three
//! workloads (perdure-e2e's workflows): one activity (`OneActivity`), ten signals the bench
//! sends to a running workflow (`CollectSignals`), or one child workflow (`OneChild`).
//!
//! Owns: the warm-up, the sequential latency phase and the concurrent throughput phase, and
//! sampling server CPU at phase boundaries. Must never: run a phase without a deadline, or count
//! a workflow whose result was wrong as done.

use std::time::Duration;

use perdure_e2e::workflows::{
    join_uppercase, CollectSignals, Greetings, JoinUppercase, OneActivity, OneChild,
};
use temporalio_client::{
    Client, ClientOptions, Connection, ConnectionOptions, WorkflowGetResultOptions,
    WorkflowSignalOptions, WorkflowStartOptions,
};
use temporalio_sdk::{Runtime, Worker, WorkerOptions};
use tokio::task::JoinSet;
use tokio::time::Instant;
use url::Url;

use crate::cpu;
use crate::error::BenchError;

/// How long the gRPC endpoint gets to answer after the port accepts TCP.
const CONNECT_DEADLINE: Duration = Duration::from_secs(30);
/// How long the worker gets to drain after the load is done.
const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(30);

/// Signals each workflow of the signal workload gets.
pub const SIGNALS_PER_WORKFLOW: u32 = 10;

/// What each workflow of the load does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Workload {
    /// One activity, then the result.
    Activity,
    /// Start, ten signals from the bench, complete.
    Signals,
    /// Start one child workflow and return its result.
    Children,
}

impl Workload {
    pub fn name(self) -> &'static str {
        match self {
            Workload::Activity => "activity",
            Workload::Signals => "signals",
            Workload::Children => "children",
        }
    }
}

/// What load to generate.
#[derive(Debug, Clone, Copy)]
pub struct LoadConfig {
    /// Untimed sequential workflows first, so connection setup and pollers are not measured.
    pub warmup: usize,
    /// N: sequential workflows, each timed from start to result.
    pub latency_workflows: usize,
    /// M: workflows in the throughput phase.
    pub throughput_workflows: usize,
    /// C: at most this many throughput-phase workflows in flight at once.
    pub concurrency: usize,
    /// Deadline for each phase (warm-up, latency, throughput) separately.
    pub phase_deadline: Duration,
    pub workload: Workload,
}

/// Raw measurements of one target.
#[derive(Debug, Clone)]
pub struct LoadOutcome {
    pub latencies: Vec<Duration>,
    pub latency_wall: Duration,
    pub throughput_wall: Duration,
    /// Server CPU used during each phase; `None` when the server's pid is unknown.
    pub latency_cpu: Option<Duration>,
    pub throughput_cpu: Option<Duration>,
    /// This process's own CPU (SDK client and worker) during the throughput phase.
    pub loadgen_throughput_cpu: Duration,
}

/// Runs warm-up, latency and throughput phases against the server at `url`, with an SDK worker
/// in this process. The `server_pids` (every node of a cluster) are read for CPU time at the
/// phase boundaries and summed.
pub async fn run(
    url: &str,
    config: LoadConfig,
    server_pids: &[u32],
) -> Result<LoadOutcome, BenchError> {
    let client = connect(url).await?;
    // Unique per run so an `--address` server that already saw a bench never mixes runs.
    let run_id = uuid::Uuid::new_v4().simple().to_string();
    let task_queue = format!("bench-{run_id}");

    let runtime =
        Runtime::from_current_tokio(Default::default()).map_err(BenchError::sdk("sdk runtime"))?;
    let options = WorkerOptions::new(task_queue.as_str())
        .register_workflow::<OneActivity>()
        .map_err(BenchError::sdk("register workflow"))?
        .register_workflow::<CollectSignals>()
        .map_err(BenchError::sdk("register workflow"))?
        .register_workflow::<OneChild>()
        .map_err(BenchError::sdk("register workflow"))?
        .register_workflow::<JoinUppercase>()
        .map_err(BenchError::sdk("register workflow"))?
        .register_activities(Greetings)
        .graceful_shutdown_period(Duration::from_secs(5))
        .build();
    let mut worker =
        Worker::new(&runtime, client.clone(), options).map_err(BenchError::sdk("build worker"))?;
    let shutdown = worker.shutdown_handle();

    // The worker is not Send, so it runs in this task next to the driver; the driver spawns
    // the throughput phase's workflows so they use every runtime thread.
    let worker_run = worker.run();
    tokio::pin!(worker_run);
    let drive = drive(&client, &task_queue, &run_id, config, server_pids);
    let outcome = tokio::select! {
        stopped = &mut worker_run => {
            stopped.map_err(BenchError::sdk("worker failed"))?;
            return Err(BenchError::WorkerStoppedEarly);
        }
        outcome = drive => outcome,
    };
    shutdown();
    let drained = tokio::time::timeout(SHUTDOWN_DEADLINE, worker_run).await;
    // A phase error matters more than a slow shutdown after it.
    let outcome = outcome?;
    drained
        .map_err(|_| BenchError::WorkerShutdown(SHUTDOWN_DEADLINE))?
        .map_err(BenchError::sdk("worker shutdown"))?;
    Ok(outcome)
}

async fn drive(
    client: &Client,
    task_queue: &str,
    run_id: &str,
    config: LoadConfig,
    server_pids: &[u32],
) -> Result<LoadOutcome, BenchError> {
    let deadline = config.phase_deadline;
    let sample = || -> Result<Option<Duration>, BenchError> {
        if server_pids.is_empty() {
            return Ok(None);
        }
        let mut total = Duration::ZERO;
        for pid in server_pids {
            total += cpu::tree_cpu(*pid).map_err(BenchError::Proc)?;
        }
        Ok(Some(total))
    };

    tracing::info!(count = config.warmup, "warm-up");
    sequential(
        "warm-up",
        client,
        task_queue,
        run_id,
        config.warmup,
        deadline,
        config.workload,
    )
    .await?;

    tracing::info!(count = config.latency_workflows, "latency phase");
    let cpu_before = sample()?;
    let started = Instant::now();
    let latencies = sequential(
        "latency",
        client,
        task_queue,
        run_id,
        config.latency_workflows,
        deadline,
        config.workload,
    )
    .await?;
    let latency_wall = started.elapsed();
    let cpu_between = sample()?;

    tracing::info!(
        count = config.throughput_workflows,
        concurrency = config.concurrency,
        "throughput phase"
    );
    let own_before = cpu::own_cpu().map_err(BenchError::Proc)?;
    let started = Instant::now();
    concurrent(client, task_queue, run_id, config).await?;
    let throughput_wall = started.elapsed();
    let cpu_after = sample()?;
    let own_after = cpu::own_cpu().map_err(BenchError::Proc)?;

    let diff = |a: Option<Duration>, b: Option<Duration>| Some(b?.saturating_sub(a?));
    Ok(LoadOutcome {
        latencies,
        latency_wall,
        throughput_wall,
        latency_cpu: diff(cpu_before, cpu_between),
        throughput_cpu: diff(cpu_between, cpu_after),
        loadgen_throughput_cpu: own_after.saturating_sub(own_before),
    })
}

/// `count` workflows one after another; returns each one's start-to-result time.
async fn sequential(
    phase: &'static str,
    client: &Client,
    task_queue: &str,
    run_id: &str,
    count: usize,
    deadline: Duration,
    workload: Workload,
) -> Result<Vec<Duration>, BenchError> {
    let mut times = Vec::with_capacity(count);
    let run = async {
        for i in 0..count {
            let id = format!("{run_id}-{phase}-{i}");
            let started = Instant::now();
            one_workflow(client.clone(), task_queue.to_string(), id, workload).await?;
            times.push(started.elapsed());
        }
        Ok::<_, BenchError>(())
    };
    match tokio::time::timeout(deadline, run).await {
        Ok(done) => done.map(|()| times),
        Err(_) => Err(BenchError::PhaseDeadline {
            phase,
            deadline,
            done: times.len(),
            total: count,
        }),
    }
}

/// The throughput phase: keeps `concurrency` workflows in flight until `throughput_workflows`
/// have returned their result.
async fn concurrent(
    client: &Client,
    task_queue: &str,
    run_id: &str,
    config: LoadConfig,
) -> Result<(), BenchError> {
    let total = config.throughput_workflows;
    let mut in_flight = JoinSet::new();
    let mut next = 0;
    let mut done = 0;
    let run = async {
        while done < total {
            while in_flight.len() < config.concurrency && next < total {
                let id = format!("{run_id}-throughput-{next}");
                in_flight.spawn(one_workflow(
                    client.clone(),
                    task_queue.to_string(),
                    id,
                    config.workload,
                ));
                next += 1;
            }
            match in_flight.join_next().await {
                Some(joined) => {
                    joined??;
                    done += 1;
                }
                None => break,
            }
        }
        Ok::<_, BenchError>(())
    };
    // Dropping the JoinSet on a deadline or error aborts whatever is still in flight.
    match tokio::time::timeout(config.phase_deadline, run).await {
        Ok(result) => result,
        Err(_) => Err(BenchError::PhaseDeadline {
            phase: "throughput",
            deadline: config.phase_deadline,
            done,
            total,
        }),
    }
}

/// Runs one workflow of `workload` to its end and checks its result.
async fn one_workflow(
    client: Client,
    task_queue: String,
    workflow_id: String,
    workload: Workload,
) -> Result<(), BenchError> {
    let options = WorkflowStartOptions::new(task_queue.as_str(), workflow_id.as_str()).build();
    let start = BenchError::sdk("start workflow");
    let result = BenchError::sdk("workflow result");
    let (got, want) = match workload {
        Workload::Activity => {
            let handle = client
                .start_workflow(OneActivity::run, workflow_id.clone(), options)
                .await
                .map_err(start)?;
            let got = handle
                .get_result(WorkflowGetResultOptions::default())
                .await
                .map_err(result)?;
            (got, format!("Hello, {workflow_id}!"))
        }
        Workload::Signals => {
            let handle = client
                .start_workflow(CollectSignals::run, SIGNALS_PER_WORKFLOW, options)
                .await
                .map_err(start)?;
            let values: Vec<String> = (0..SIGNALS_PER_WORKFLOW).map(|i| i.to_string()).collect();
            for v in &values {
                handle
                    .signal(
                        CollectSignals::add,
                        v.clone(),
                        WorkflowSignalOptions::default(),
                    )
                    .await
                    .map_err(BenchError::sdk("signal"))?;
            }
            let got = handle
                .get_result(WorkflowGetResultOptions::default())
                .await
                .map_err(result)?;
            (got, values.join(","))
        }
        Workload::Children => {
            let values = vec![workflow_id.clone()];
            let handle = client
                .start_workflow(OneChild::run, values.clone(), options)
                .await
                .map_err(start)?;
            let got = handle
                .get_result(WorkflowGetResultOptions::default())
                .await
                .map_err(result)?;
            (got, join_uppercase(&values))
        }
    };
    if got != want {
        return Err(BenchError::WrongResult {
            workflow_id,
            got,
            want,
        });
    }
    Ok(())
}

/// The port accepting TCP does not mean the server answers gRPC yet: retry until it does.
pub async fn connect(url: &str) -> Result<Client, BenchError> {
    let parsed = Url::parse(url).map_err(|_| BenchError::BadAddress(url.to_string()))?;
    let deadline = Instant::now() + CONNECT_DEADLINE;
    loop {
        let options = ConnectionOptions::new(parsed.clone()).build();
        match Connection::connect(options).await {
            Ok(conn) => {
                return Client::new(conn, ClientOptions::new("default").build())
                    .map_err(BenchError::sdk("client"));
            }
            Err(e) if Instant::now() < deadline => {
                tracing::debug!(%url, error = %e, "server not answering gRPC yet");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => {
                return Err(BenchError::Connect {
                    url: url.to_string(),
                    deadline: CONNECT_DEADLINE,
                    source: e.into(),
                })
            }
        }
    }
}
