//! Queries handed to workers outside a workflow task ("direct" queries), on the node that owns
//! the run's task queue.
//!
//! The shard leader that serves QueryWorkflow builds the poll response (history and a query
//! token) and offers it here, on this node or over `Internal.DispatchQuery`. The query goes to
//! the front of the queue's backlog, a poller takes it as it is, and the worker's
//! RespondQueryTaskCompleted (routed here by the token's task queue) wakes the waiting caller.
//! Nothing is written: a query that misses its worker (deadline, queue let go) just fails.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use perdure_api::internal::dispatch_query_reply::Outcome;
use perdure_api::internal::internal_client::InternalClient;
use perdure_api::internal::{DispatchQueryReply, DispatchQueryRequest, QueryMissed};
use perdure_matching::{Matching, TaskKind, TaskQueueKey};
use prost::Message;
use temporalio_protos::temporal::api::workflowservice::v1::{
    PollWorkflowTaskQueueResponse, RespondQueryTaskCompletedRequest,
};
use tokio::sync::oneshot;
use tonic::Status;

use crate::dispatch::{Dispatcher, Work};
use crate::routing::Owner;
use crate::server::Frontend;

/// A query waiting in matching for a poller.
pub struct QueryTask {
    pub id: String,
    pub response: Box<PollWorkflowTaskQueueResponse>,
}

/// Why a query got no answer from a worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Missed {
    /// Nobody polled the sticky queue lately: ask the normal queue.
    StickyUnavailable,
    /// No worker answered in time.
    TimedOut,
    /// Its queue was let go before a worker took it (the owner changed, the sticky worker
    /// shut down): it may be offered again.
    Dropped,
}

enum Reply {
    Answer(Box<RespondQueryTaskCompletedRequest>),
    Dropped,
}

/// Callers waiting on this node for their queries' answers, by query id.
#[derive(Default)]
pub struct QueryWaiters {
    waiting: Mutex<HashMap<String, oneshot::Sender<Reply>>>,
}

impl QueryWaiters {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, oneshot::Sender<Reply>>> {
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn register(&self, id: &str) -> oneshot::Receiver<Reply> {
        let (tx, rx) = oneshot::channel();
        self.lock().insert(id.to_string(), tx);
        rx
    }

    fn forget(&self, id: &str) {
        self.lock().remove(id);
    }

    /// True while the query's caller still waits (a poller may hand it to a worker).
    pub fn is_waiting(&self, id: &str) -> bool {
        self.lock().contains_key(id)
    }

    /// Delivers a worker's answer; false when nobody waits for it any more.
    pub fn answer(&self, id: &str, answer: RespondQueryTaskCompletedRequest) -> bool {
        match self.lock().remove(id) {
            Some(tx) => tx.send(Reply::Answer(Box::new(answer))).is_ok(),
            None => false,
        }
    }

    /// The query left matching without reaching a worker.
    pub(crate) fn dropped(&self, id: &str) {
        if let Some(tx) = self.lock().remove(id) {
            let _ = tx.send(Reply::Dropped);
        }
    }
}

/// Unregisters a query and withdraws it from its queue when its caller stops waiting.
struct Withdraw<'a> {
    matching: &'a Matching<Work>,
    waiters: &'a QueryWaiters,
    key: TaskQueueKey,
    id: String,
}

impl Drop for Withdraw<'_> {
    fn drop(&mut self) {
        self.waiters.forget(&self.id);
        let id = &self.id;
        self.matching
            .retain_in(&self.key, |w| !matches!(w, Work::Query(q) if q.id == *id));
    }
}

impl Dispatcher {
    /// Offers a query on `task_queue` of this node's matching and waits up to `wait` for the
    /// answer. `sticky` says `task_queue` is a worker's sticky queue: if nobody polled it lately
    /// the query is not queued at all.
    pub async fn offer_query(
        &self,
        namespace_id: &str,
        task_queue: &str,
        sticky: bool,
        task: QueryTask,
        wait: Duration,
    ) -> Result<RespondQueryTaskCompletedRequest, Missed> {
        let key = TaskQueueKey::new(namespace_id, task_queue, TaskKind::Workflow);
        offer(self.matching(), &self.queries, key, sticky, task, wait).await
    }
}

async fn offer(
    matching: &Matching<Work>,
    waiters: &QueryWaiters,
    key: TaskQueueKey,
    sticky: bool,
    task: QueryTask,
    wait: Duration,
) -> Result<RespondQueryTaskCompletedRequest, Missed> {
    if sticky && !matching.sticky_worker_available(&key) {
        return Err(Missed::StickyUnavailable);
    }
    let id = task.id.clone();
    let rx = waiters.register(&id);
    let _withdraw = Withdraw {
        matching,
        waiters,
        key: key.clone(),
        id,
    };
    matching.add_first(&key, Work::Query(task));
    match tokio::time::timeout(wait, rx).await {
        Ok(Ok(Reply::Answer(a))) => Ok(*a),
        Ok(Ok(Reply::Dropped)) | Ok(Err(_)) => Err(Missed::Dropped),
        Err(_) => Err(Missed::TimedOut),
    }
}

impl Frontend {
    /// Offers a query to the owner of `normal_queue` (this node or another) on `task_queue`
    /// (the normal queue or the run's sticky queue) and waits up to `wait` for its answer.
    pub(crate) async fn send_query(
        &self,
        namespace_id: &str,
        task_queue: &str,
        normal_queue: &str,
        task: QueryTask,
        wait: Duration,
    ) -> Result<Result<RespondQueryTaskCompletedRequest, Missed>, Status> {
        let sticky = task_queue != normal_queue;
        let group = self.routing.queue_group(namespace_id, normal_queue);
        let addr = match self.routing.owner(group)? {
            Owner::Local => {
                let answer = self
                    .dispatcher
                    .offer_query(namespace_id, task_queue, sticky, task, wait)
                    .await;
                return Ok(answer);
            }
            Owner::Remote { addr, .. } => addr,
        };
        let req = DispatchQueryRequest {
            namespace_id: namespace_id.to_string(),
            task_queue: task_queue.to_string(),
            normal_task_queue: normal_queue.to_string(),
            query_id: task.id,
            poll_response: task.response.encode_to_vec(),
            wait_ms: wait.as_millis() as u64,
        };
        let channel = self.routing.peers().channel(&addr)?;
        let mut req = self.routing.peers().request(req);
        req.set_timeout(wait + Duration::from_secs(5));
        let reply = InternalClient::new(channel).dispatch_query(req).await?;
        decode_reply(reply.into_inner())
    }
}

/// Serves `Internal.DispatchQuery` on the node that owns the query's queue.
pub(crate) async fn serve_dispatch_query(
    dispatcher: &Dispatcher,
    req: DispatchQueryRequest,
) -> Result<DispatchQueryReply, Status> {
    let response = PollWorkflowTaskQueueResponse::decode(req.poll_response.as_slice())
        .map_err(|e| Status::invalid_argument(format!("undecodable query task: {e}")))?;
    let outcome = if !dispatcher.owns_queue(&req.namespace_id, &req.normal_task_queue) {
        // Ownership moved while the call travelled: the caller finds the new owner.
        Outcome::Missed(QueryMissed::Dropped as i32)
    } else {
        let task = QueryTask {
            id: req.query_id,
            response: Box::new(response),
        };
        let sticky = req.task_queue != req.normal_task_queue;
        let wait = Duration::from_millis(req.wait_ms);
        match dispatcher
            .offer_query(&req.namespace_id, &req.task_queue, sticky, task, wait)
            .await
        {
            Ok(answer) => Outcome::Answer(answer.encode_to_vec()),
            Err(missed) => Outcome::Missed(encode_missed(missed) as i32),
        }
    };
    Ok(DispatchQueryReply {
        outcome: Some(outcome),
    })
}

fn encode_missed(m: Missed) -> QueryMissed {
    match m {
        Missed::StickyUnavailable => QueryMissed::StickyUnavailable,
        Missed::TimedOut => QueryMissed::TimedOut,
        Missed::Dropped => QueryMissed::Dropped,
    }
}

fn decode_reply(
    reply: DispatchQueryReply,
) -> Result<Result<RespondQueryTaskCompletedRequest, Missed>, Status> {
    match reply.outcome {
        Some(Outcome::Answer(bytes)) => RespondQueryTaskCompletedRequest::decode(bytes.as_slice())
            .map(Ok)
            .map_err(|e| Status::internal(format!("undecodable query answer: {e}"))),
        Some(Outcome::Missed(m)) => Ok(Err(match QueryMissed::try_from(m) {
            Ok(QueryMissed::StickyUnavailable) => Missed::StickyUnavailable,
            Ok(QueryMissed::TimedOut) => Missed::TimedOut,
            _ => Missed::Dropped,
        })),
        None => Err(Status::internal("empty DispatchQuery reply")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn task(id: &str) -> QueryTask {
        QueryTask {
            id: id.into(),
            response: Box::default(),
        }
    }

    #[derive(Clone, Default)]
    struct Node {
        matching: Matching<Work>,
        waiters: Arc<QueryWaiters>,
    }

    impl Node {
        fn key(queue: &str) -> TaskQueueKey {
            TaskQueueKey::new("ns", queue, TaskKind::Workflow)
        }

        async fn offer(
            &self,
            queue: &str,
            sticky: bool,
            id: &str,
            wait: Duration,
        ) -> Result<RespondQueryTaskCompletedRequest, Missed> {
            offer(
                &self.matching,
                &self.waiters,
                Self::key(queue),
                sticky,
                task(id),
                wait,
            )
            .await
        }
    }

    #[tokio::test]
    async fn a_polled_query_is_answered_and_a_late_answer_finds_nobody() {
        let n = Node::default();
        let n2 = n.clone();
        let caller =
            tokio::spawn(async move { n2.offer("q", false, "q1", Duration::from_secs(10)).await });
        let lease = n
            .matching
            .poll(&Node::key("q"), Duration::from_secs(10))
            .await
            .unwrap();
        let Work::Query(q) = lease.consume() else {
            panic!("a query expected")
        };
        assert!(n.waiters.is_waiting(&q.id));
        let answer = RespondQueryTaskCompletedRequest {
            error_message: "x".into(),
            ..Default::default()
        };
        assert!(n.waiters.answer(&q.id, answer));
        let got = caller.await.unwrap().unwrap();
        assert_eq!(got.error_message, "x");
        assert!(!n.waiters.answer(&q.id, Default::default()));
    }

    #[tokio::test]
    async fn an_unanswered_query_times_out_and_leaves_the_queue() {
        let n = Node::default();
        let missed = n.offer("q", false, "q1", Duration::from_millis(20)).await;
        assert_eq!(missed.unwrap_err(), Missed::TimedOut);
        assert_eq!(n.matching.backlog_len(&Node::key("q")), 0);
        assert!(!n.waiters.is_waiting("q1"));
    }

    #[tokio::test]
    async fn a_sticky_queue_nobody_polls_is_not_used() {
        let n = Node::default();
        let missed = n.offer("sticky", true, "q1", Duration::from_secs(10)).await;
        assert_eq!(missed.unwrap_err(), Missed::StickyUnavailable);
        assert_eq!(n.matching.backlog_len(&Node::key("sticky")), 0);
    }

    #[tokio::test]
    async fn a_drained_queue_tells_the_caller_at_once() {
        let n = Node::default();
        let key = Node::key("sticky");
        // Make the sticky queue look polled.
        assert!(n
            .matching
            .poll(&key, Duration::from_millis(1))
            .await
            .is_none());
        let n2 = n.clone();
        let caller = tokio::spawn(async move {
            n2.offer("sticky", true, "q1", Duration::from_secs(30))
                .await
        });
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while n.matching.backlog_len(&key) == 0 {
            assert!(tokio::time::Instant::now() < deadline, "query never queued");
            tokio::task::yield_now().await;
        }
        for work in n.matching.drain(&key) {
            if let Work::Query(q) = work {
                n.waiters.dropped(&q.id);
            }
        }
        let missed = tokio::time::timeout(Duration::from_secs(5), caller)
            .await
            .expect("caller told at once")
            .unwrap();
        assert_eq!(missed.unwrap_err(), Missed::Dropped);
    }
}
