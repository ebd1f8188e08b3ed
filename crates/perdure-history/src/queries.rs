//! Queries waiting for a workflow task: the leader's in-memory registry of "consistent"
//! queries, which arrived while events no worker has seen were pending.
//!
//! Each waits until a workflow task carries it to a worker (RecordWorkflowTaskStarted attaches
//! every waiting query of the run) and the completion answers it, or until the run has no task
//! pending any more (the completion scheduled none, or the run closed): then it is unblocked
//! and goes to a worker directly. Nothing here is persisted: a query is a read, and a caller
//! whose leader goes away gets Unavailable and may ask again.
//!
//! This module never writes and never blocks; the caller's deadline bounds every wait.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use perdure_core::MutableState;
use temporalio_protos::temporal::api::query::v1::{WorkflowQuery, WorkflowQueryResult};
use tokio::sync::oneshot;

use crate::cache::ExecKey;

/// Queries one run may have waiting at a time (Temporal's history.MaxBufferedQueryCount).
pub const MAX_BUFFERED_QUERIES: usize = 1;

/// How a buffered query's wait ended.
#[derive(Debug)]
pub enum Buffered {
    /// The worker answered it in a workflow task completion.
    Answered(Box<WorkflowQueryResult>),
    /// No task is pending any more: ask a worker directly.
    Unblocked,
}

struct Waiting {
    id: String,
    query: WorkflowQuery,
    tx: oneshot::Sender<Buffered>,
}

#[derive(Default)]
pub(crate) struct QueryRegistry {
    runs: Mutex<HashMap<ExecKey, Vec<Waiting>>>,
    /// Queries waiting on this shard, so writes skip the lock when there are none (the usual
    /// case: this is checked on every committed write).
    count: AtomicUsize,
}

/// The run already has [`MAX_BUFFERED_QUERIES`] waiting.
#[derive(Debug)]
pub(crate) struct BufferFull;

impl QueryRegistry {
    fn runs(&self) -> std::sync::MutexGuard<'_, HashMap<ExecKey, Vec<Waiting>>> {
        self.runs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a query for the run's next workflow task. The caller must hold the run's lock
    /// and have checked that a task is pending, so no write can slip between the check and this.
    pub(crate) fn buffer(
        &self,
        key: &ExecKey,
        id: &str,
        query: WorkflowQuery,
    ) -> Result<oneshot::Receiver<Buffered>, BufferFull> {
        let mut runs = self.runs();
        let waiting = runs.entry(key.clone()).or_default();
        if waiting.len() >= MAX_BUFFERED_QUERIES {
            return Err(BufferFull);
        }
        let (tx, rx) = oneshot::channel();
        waiting.push(Waiting {
            id: id.to_string(),
            query,
            tx,
        });
        self.count.fetch_add(1, Ordering::SeqCst);
        Ok(rx)
    }

    /// Forgets a query whose caller stopped waiting (deadline, cancellation).
    pub(crate) fn remove(&self, key: &ExecKey, id: &str) {
        self.take(key, |w| w.id == id);
    }

    /// The queries a workflow task of the run carries to its worker, by id.
    pub(crate) fn attached(&self, key: &ExecKey) -> HashMap<String, WorkflowQuery> {
        if self.count.load(Ordering::SeqCst) == 0 {
            return HashMap::new();
        }
        self.runs().get(key).map_or_else(HashMap::new, |waiting| {
            waiting
                .iter()
                .map(|w| (w.id.clone(), w.query.clone()))
                .collect()
        })
    }

    /// Hands the worker's answers to the queries of this run that wait for them; answers to
    /// queries this run does not have waiting are ignored.
    pub(crate) fn answer(&self, key: &ExecKey, results: &HashMap<String, WorkflowQueryResult>) {
        if results.is_empty() {
            return;
        }
        for w in self.take(key, |w| results.contains_key(&w.id)) {
            if let Some(result) = results.get(&w.id) {
                let _ = w.tx.send(Buffered::Answered(Box::new(result.clone())));
            }
        }
    }

    /// Called with the run's new state after each committed write (under the run's lock): once
    /// no task is pending (and a worker has completed one), or the run closed, waiting queries
    /// go to a worker directly.
    pub(crate) fn after_write(&self, key: &ExecKey, state: &MutableState) {
        if self.count.load(Ordering::SeqCst) == 0 {
            return;
        }
        if state.buffered_queries_wait() {
            return;
        }
        for w in self.take(key, |_| true) {
            let _ = w.tx.send(Buffered::Unblocked);
        }
    }

    /// Leadership ended: every waiting caller learns it (its receiver closes).
    pub(crate) fn clear(&self) {
        let mut runs = self.runs();
        runs.clear();
        self.count.store(0, Ordering::SeqCst);
    }

    fn take(&self, key: &ExecKey, mut pick: impl FnMut(&Waiting) -> bool) -> Vec<Waiting> {
        let mut runs = self.runs();
        let Some(waiting) = runs.get_mut(key) else {
            return Vec::new();
        };
        let mut taken = Vec::new();
        let mut i = 0;
        while i < waiting.len() {
            if pick(&waiting[i]) {
                taken.push(waiting.remove(i));
            } else {
                i += 1;
            }
        }
        if waiting.is_empty() {
            runs.remove(key);
        }
        self.count.fetch_sub(taken.len(), Ordering::SeqCst);
        taken
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> ExecKey {
        ExecKey::new("ns", "wf", "run")
    }

    fn query(name: &str) -> WorkflowQuery {
        WorkflowQuery {
            query_type: name.into(),
            ..Default::default()
        }
    }

    #[test]
    fn one_query_waits_per_run_and_the_task_carries_it() {
        let r = QueryRegistry::default();
        let _rx = r.buffer(&key(), "q1", query("state")).unwrap();
        assert!(r.buffer(&key(), "q2", query("state")).is_err());
        let other = ExecKey::new("ns", "wf", "other-run");
        assert!(r.buffer(&other, "q3", query("state")).is_ok());
        let attached = r.attached(&key());
        assert_eq!(attached.len(), 1);
        assert_eq!(attached["q1"].query_type, "state");
    }

    #[test]
    fn answers_reach_their_caller_and_others_are_ignored() {
        let r = QueryRegistry::default();
        let mut rx = r.buffer(&key(), "q1", query("state")).unwrap();
        let mut results = HashMap::new();
        results.insert("unknown".to_string(), WorkflowQueryResult::default());
        r.answer(&key(), &results);
        assert!(rx.try_recv().is_err(), "still waiting");
        results.insert(
            "q1".to_string(),
            WorkflowQueryResult {
                error_message: "boom".into(),
                ..Default::default()
            },
        );
        r.answer(&key(), &results);
        match rx.try_recv() {
            Ok(Buffered::Answered(a)) => assert_eq!(a.error_message, "boom"),
            other => panic!("expected an answer, got {other:?}"),
        }
        assert!(r.attached(&key()).is_empty());
        assert_eq!(r.count.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn a_caller_that_leaves_frees_the_slot() {
        let r = QueryRegistry::default();
        let rx = r.buffer(&key(), "q1", query("state")).unwrap();
        drop(rx);
        r.remove(&key(), "q1");
        assert!(r.buffer(&key(), "q2", query("state")).is_ok());
    }

    #[test]
    fn clearing_closes_every_wait() {
        let r = QueryRegistry::default();
        let mut rx = r.buffer(&key(), "q1", query("state")).unwrap();
        r.clear();
        assert!(matches!(
            rx.try_recv(),
            Err(oneshot::error::TryRecvError::Closed)
        ));
    }
}
