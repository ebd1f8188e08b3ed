//! The partitions themselves: a backlog of tasks and a line of waiting pollers per queue.

use std::collections::{HashMap, VecDeque};
use std::ops::Deref;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::oneshot;

use crate::pollers::{PollerHistory, PollerMeta, PollerRecord};
use crate::rates::RateTracker;
use crate::TaskQueueKey;

/// A sticky queue nobody has polled for this long belongs to a worker that is gone: its tasks
/// go to the normal queue instead (Temporal's stickyPollerUnavailableWindow).
pub const STICKY_POLLER_UNAVAILABLE_WINDOW: Duration = Duration::from_secs(10);

/// A task waiting in a backlog, with the time it first entered this node's backlog.
struct Queued<T> {
    task: T,
    since: SystemTime,
}

/// What DescribeTaskQueue shows of one partition.
#[derive(Clone, Debug, PartialEq)]
pub struct PartitionView {
    /// Pollers seen within the poller history's time to live, most recent first.
    pub pollers: Vec<PollerRecord>,
    /// Counted tasks waiting in the backlog (not those handed to a poll).
    pub backlog_count: usize,
    /// When the oldest counted backlog task entered the backlog.
    pub oldest_backlog: Option<SystemTime>,
    /// Tasks offered per second lately, handed straight to a poller or queued (over 30 s).
    pub tasks_add_rate: f32,
    /// Tasks handed to polls per second lately (over 30 s).
    pub tasks_dispatch_rate: f32,
}

struct Partition<T> {
    backlog: VecDeque<Queued<T>>,
    pollers: VecDeque<(u64, oneshot::Sender<T>)>,
    /// When a poll last began or ended here; `None` for a partition only tasks have touched.
    last_poll: Option<Instant>,
    /// Tells this partition apart from a later one under the same key after a [`Matching::drain`],
    /// so a poll that outlives its partition cannot make the new one look polled.
    generation: u64,
    /// Who polled here lately, for DescribeTaskQueue.
    history: PollerHistory,
    /// Tasks offered here (not counting those given back by a poll) and handed to polls.
    added: RateTracker,
    dispatched: RateTracker,
}

struct Inner<T> {
    partitions: HashMap<TaskQueueKey, Partition<T>>,
    next_poller: u64,
    next_generation: u64,
}

impl<T> Inner<T> {
    fn partition(&mut self, key: &TaskQueueKey) -> &mut Partition<T> {
        let generation = &mut self.next_generation;
        self.partitions.entry(key.clone()).or_insert_with(|| {
            *generation += 1;
            Partition {
                backlog: VecDeque::new(),
                pollers: VecDeque::new(),
                last_poll: None,
                generation: *generation,
                history: PollerHistory::default(),
                added: RateTracker::new(Instant::now()),
                dispatched: RateTracker::new(Instant::now()),
            }
        })
    }

    /// Someone is polling `key` now or polled it within the window before `now`.
    fn sticky_worker_available(&self, key: &TaskQueueKey, now: Instant) -> bool {
        let since = now.checked_sub(STICKY_POLLER_UNAVAILABLE_WINDOW);
        self.partitions.get(key).is_some_and(|p| {
            !p.pollers.is_empty()
                || p.last_poll
                    .is_some_and(|at| since.is_none_or(|since| at >= since))
        })
    }

    /// Hands `task` to a waiting poller of `key`, or appends it to the backlog.
    fn add(&mut self, key: &TaskQueueKey, task: T) -> bool {
        self.add_at(key, task, false, SystemTime::now())
    }

    /// [`Inner::add`], queueing at the front of the backlog when `first`; a queued task counts
    /// as waiting since `since`.
    fn add_at(&mut self, key: &TaskQueueKey, task: T, first: bool, since: SystemTime) -> bool {
        let partition = self.partition(key);
        let mut task = task;
        while let Some((_, poller)) = partition.pollers.pop_front() {
            match poller.send(task) {
                Ok(()) => {
                    perdure_metrics::metrics().sync_matches.inc();
                    return true;
                }
                // That poller went away; try the next one.
                Err(back) => task = back,
            }
        }
        let queued = Queued { task, since };
        if first {
            partition.backlog.push_front(queued);
        } else {
            partition.backlog.push_back(queued);
        }
        perdure_metrics::metrics().backlogged.inc();
        false
    }
}

/// All partitions of this node. Cheap to clone.
pub struct Matching<T> {
    inner: Arc<Mutex<Inner<T>>>,
}

impl<T> Clone for Matching<T> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<T: Send + 'static> Default for Matching<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Send + 'static> Matching<T> {
    pub fn new() -> Self {
        Self {
            inner: Arc::new(Mutex::new(Inner {
                partitions: HashMap::new(),
                next_poller: 0,
                next_generation: 0,
            })),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<T>> {
        // A panic while holding this lock can only come from a bug in this module; the data is
        // still a valid queue, so keep serving rather than poisoning every later poll.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Offers a task: a waiting poller gets it at once, otherwise it joins the backlog.
    /// Returns true when it was handed to a poller.
    pub fn add(&self, key: &TaskQueueKey, task: T) -> bool {
        let mut inner = self.lock();
        inner.partition(key).added.record(Instant::now());
        inner.add(key, task)
    }

    /// Offers a task that must not wait behind the backlog (a query: a caller waits on it and
    /// it writes nothing): a waiting poller gets it, otherwise it goes to the backlog's front.
    pub fn add_first(&self, key: &TaskQueueKey, task: T) -> bool {
        let mut inner = self.lock();
        inner.partition(key).added.record(Instant::now());
        inner.add_at(key, task, true, SystemTime::now())
    }

    /// Someone polls `key` now or polled it within [`STICKY_POLLER_UNAVAILABLE_WINDOW`].
    pub fn sticky_worker_available(&self, key: &TaskQueueKey) -> bool {
        self.lock().sticky_worker_available(key, Instant::now())
    }

    /// Removes the queued tasks of `key` for which `pred` is false (a query whose caller left).
    pub fn retain_in(&self, key: &TaskQueueKey, mut keep: impl FnMut(&T) -> bool) {
        if let Some(p) = self.lock().partitions.get_mut(key) {
            p.backlog.retain(|q| keep(&q.task));
        }
    }

    /// Offers a task meant for a worker's sticky queue. When nobody has polled `sticky` within
    /// [`STICKY_POLLER_UNAVAILABLE_WINDOW`] (the worker died, or shut down and had the queue
    /// drained), the task goes to `normal` instead, where any worker can take it: Temporal's
    /// StickyWorkerUnavailable fallback. Returns true when it went to the sticky queue.
    pub fn add_sticky(&self, sticky: &TaskQueueKey, normal: &TaskQueueKey, task: T) -> bool {
        let mut inner = self.lock();
        let available = inner.sticky_worker_available(sticky, Instant::now());
        let to = if available {
            sticky
        } else {
            tracing::debug!(%sticky, %normal, "sticky worker unavailable, using the normal queue");
            normal
        };
        inner.partition(to).added.record(Instant::now());
        inner.add(to, task);
        available
    }

    /// Forgets the partition `key` (a worker shut down and gave up its sticky queue) and returns
    /// its backlog in queue order, for the caller to re-dispatch. Polls still waiting on it end
    /// empty, and until someone polls `key` again [`Matching::add_sticky`] treats it as gone.
    pub fn drain(&self, key: &TaskQueueKey) -> Vec<T> {
        let removed = self.lock().partitions.remove(key);
        // Dropping the partition drops the waiting pollers' senders, which ends their polls.
        removed.map_or_else(Vec::new, |p| {
            p.backlog.into_iter().map(|q| q.task).collect()
        })
    }

    /// Waits up to `wait` for a task on `key`. The returned lease puts the task back unless the
    /// caller calls [`Lease::consume`].
    pub async fn poll(&self, key: &TaskQueueKey, wait: Duration) -> Option<Lease<T>> {
        let (id, generation, rx) = {
            let mut inner = self.lock();
            inner.next_poller += 1;
            let id = inner.next_poller;
            let partition = inner.partition(key);
            partition.last_poll = Some(Instant::now());
            if let Some(queued) = partition.backlog.pop_front() {
                partition.dispatched.record(Instant::now());
                return Some(self.lease(key, queued.task, queued.since));
            }
            let (tx, rx) = oneshot::channel();
            partition.pollers.push_back((id, tx));
            (id, partition.generation, rx)
        };
        let mut waiter = Waiter {
            matching: self.clone(),
            key: key.clone(),
            id,
            generation,
            rx: Some(rx),
        };
        let rx = waiter.rx.as_mut()?;
        match tokio::time::timeout(wait, rx).await {
            Ok(Ok(task)) => {
                waiter.rx = None;
                if let Some(p) = self.lock().partitions.get_mut(key) {
                    p.dispatched.record(Instant::now());
                }
                Some(self.lease(key, task, SystemTime::now()))
            }
            // Timed out (or the sender vanished): the waiter's drop withdraws the registration
            // and rescues a task that raced in.
            _ => None,
        }
    }

    fn lease(&self, key: &TaskQueueKey, task: T, since: SystemTime) -> Lease<T> {
        Lease {
            matching: self.clone(),
            key: key.clone(),
            task: Some(task),
            since,
        }
    }

    /// Notes that `identity` polls `key` at `now` (called as a poll begins and as it ends), for
    /// [`Matching::describe`]. Creates the partition: a polled queue exists.
    pub fn record_poller(
        &self,
        key: &TaskQueueKey,
        identity: &str,
        meta: PollerMeta,
        now: SystemTime,
    ) {
        self.lock()
            .partition(key)
            .history
            .record(identity, meta, now);
    }

    /// The pollers of `key` seen lately and its backlog at `now`; only tasks for which
    /// `counted` is true are in the backlog's count and age (a query is not a task).
    pub fn describe(
        &self,
        key: &TaskQueueKey,
        now: SystemTime,
        counted: impl Fn(&T) -> bool,
    ) -> PartitionView {
        let mut inner = self.lock();
        let Some(p) = inner.partitions.get_mut(key) else {
            return PartitionView {
                pollers: Vec::new(),
                backlog_count: 0,
                oldest_backlog: None,
                tasks_add_rate: 0.0,
                tasks_dispatch_rate: 0.0,
            };
        };
        let mut backlog_count = 0;
        let mut oldest_backlog: Option<SystemTime> = None;
        for q in p.backlog.iter().filter(|q| counted(&q.task)) {
            backlog_count += 1;
            oldest_backlog = Some(oldest_backlog.map_or(q.since, |o| o.min(q.since)));
        }
        let at = Instant::now();
        PartitionView {
            pollers: p.history.live(now),
            backlog_count,
            oldest_backlog,
            tasks_add_rate: p.added.rate(at),
            tasks_dispatch_rate: p.dispatched.rate(at),
        }
    }

    /// Tasks waiting in the backlog of `key` (not counting those handed to pollers).
    pub fn backlog_len(&self, key: &TaskQueueKey) -> usize {
        self.lock()
            .partitions
            .get(key)
            .map_or(0, |p| p.backlog.len())
    }

    /// Number of pollers currently waiting on `key`.
    pub fn pollers_waiting(&self, key: &TaskQueueKey) -> usize {
        self.lock()
            .partitions
            .get(key)
            .map_or(0, |p| p.pollers.len())
    }

    /// Every partition this node holds (with or without tasks or pollers).
    pub fn keys(&self) -> Vec<TaskQueueKey> {
        self.lock().partitions.keys().cloned().collect()
    }

    /// Removes every queued task for which `pred` is true (used when a shard loses leadership).
    pub fn retain(&self, mut keep: impl FnMut(&T) -> bool) {
        let mut inner = self.lock();
        for partition in inner.partitions.values_mut() {
            partition.backlog.retain(|q| keep(&q.task));
        }
    }

    /// A poll on `key` is over: withdraw its registration (if still there) and note the time,
    /// unless the partition it polled has been drained since.
    fn end_poll(&self, key: &TaskQueueKey, id: u64, generation: u64) {
        let mut inner = self.lock();
        if let Some(partition) = inner.partitions.get_mut(key) {
            if partition.generation == generation {
                partition.pollers.retain(|(p, _)| *p != id);
                partition.last_poll = Some(Instant::now());
            }
        }
    }
}

/// A registered poller. Dropping it (timeout or a cancelled RPC) withdraws the registration and
/// re-queues a task that was sent to it but never read.
struct Waiter<T: Send + 'static> {
    matching: Matching<T>,
    key: TaskQueueKey,
    id: u64,
    generation: u64,
    rx: Option<oneshot::Receiver<T>>,
}

impl<T: Send + 'static> Drop for Waiter<T> {
    fn drop(&mut self) {
        self.matching.end_poll(&self.key, self.id, self.generation);
        if let Some(mut rx) = self.rx.take() {
            rx.close();
            if let Ok(task) = rx.try_recv() {
                self.matching.add(&self.key, task);
            }
        }
    }
}

/// A task handed to a poller. Unless consumed, it goes back to its queue when dropped, so a
/// poll RPC cancelled half-way never loses a task.
pub struct Lease<T: Send + 'static> {
    matching: Matching<T>,
    key: TaskQueueKey,
    task: Option<T>,
    /// When the task entered the backlog: a task given back keeps its age.
    since: SystemTime,
}

impl<T: Send + 'static> Lease<T> {
    /// The task is done with (started, or found stale): it will not be re-queued.
    pub fn consume(mut self) -> T {
        self.task
            .take()
            .expect("lease holds its task until consumed")
    }
}

impl<T: Send + 'static> Deref for Lease<T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.task
            .as_ref()
            .expect("lease holds its task until consumed")
    }
}

impl<T: Send + 'static> Drop for Lease<T> {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            self.matching
                .lock()
                .add_at(&self.key, task, false, self.since);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TaskKind;

    fn key() -> TaskQueueKey {
        TaskQueueKey::new("ns", "q", TaskKind::Workflow)
    }

    #[tokio::test]
    async fn backlog_then_poll() {
        let m = Matching::new();
        assert!(!m.add(&key(), 1));
        assert_eq!(m.backlog_len(&key()), 1);
        let lease = m.poll(&key(), Duration::from_secs(1)).await.unwrap();
        assert_eq!(lease.consume(), 1);
        assert_eq!(m.backlog_len(&key()), 0);
    }

    #[tokio::test]
    async fn urgent_tasks_jump_the_backlog_and_can_be_withdrawn() {
        let m = Matching::new();
        m.add(&key(), 1);
        m.add(&key(), 2);
        m.add_first(&key(), 9);
        m.add_first(&key(), 8);
        m.retain_in(&key(), |t| *t != 9);
        let mut order = Vec::new();
        while let Some(lease) = m.poll(&key(), Duration::from_millis(10)).await {
            order.push(lease.consume());
        }
        assert_eq!(order, vec![8, 1, 2]);
    }

    #[tokio::test]
    async fn sync_match_to_waiting_poller() {
        let m: Matching<u32> = Matching::new();
        let m2 = m.clone();
        let poller = tokio::spawn(async move {
            m2.poll(&key(), Duration::from_secs(10))
                .await
                .map(|l| l.consume())
        });
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while m.pollers_waiting(&key()) == 0 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "poller never registered"
            );
            tokio::task::yield_now().await;
        }
        assert!(m.add(&key(), 7), "waiting poller should take the task");
        assert_eq!(poller.await.unwrap(), Some(7));
        assert_eq!(m.backlog_len(&key()), 0);
    }

    #[tokio::test]
    async fn empty_poll_times_out_and_withdraws() {
        let m: Matching<u32> = Matching::new();
        assert!(m.poll(&key(), Duration::from_millis(20)).await.is_none());
        assert_eq!(m.pollers_waiting(&key()), 0);
        // A task added after the timeout goes to the backlog, not to the vanished poller.
        assert!(!m.add(&key(), 3));
        assert_eq!(m.backlog_len(&key()), 1);
    }

    #[tokio::test]
    async fn dropped_lease_requeues() {
        let m = Matching::new();
        m.add(&key(), 5);
        let lease = m.poll(&key(), Duration::from_secs(1)).await.unwrap();
        assert_eq!(*lease, 5);
        drop(lease);
        assert_eq!(m.backlog_len(&key()), 1);
    }

    #[tokio::test]
    async fn cancelled_poll_loses_nothing() {
        let m: Matching<u32> = Matching::new();
        let m2 = m.clone();
        let poller = tokio::spawn(async move { m2.poll(&key(), Duration::from_secs(30)).await });
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while m.pollers_waiting(&key()) == 0 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "poller never registered"
            );
            tokio::task::yield_now().await;
        }
        poller.abort();
        let _ = poller.await;
        m.add(&key(), 9);
        let got = m.poll(&key(), Duration::from_secs(1)).await.unwrap();
        assert_eq!(got.consume(), 9);
    }

    fn sticky() -> TaskQueueKey {
        TaskQueueKey::new("ns", "worker-1-sticky", TaskKind::Workflow)
    }

    async fn wait_for_poller(m: &Matching<u32>, key: &TaskQueueKey) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while m.pollers_waiting(key) == 0 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "poller never registered"
            );
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test]
    async fn sticky_task_goes_to_the_normal_queue_when_nobody_ever_polled() {
        let m = Matching::new();
        assert!(!m.add_sticky(&sticky(), &key(), 1));
        assert_eq!(m.backlog_len(&sticky()), 0);
        assert_eq!(m.backlog_len(&key()), 1);
    }

    #[tokio::test]
    async fn sticky_task_goes_to_a_waiting_sticky_poller() {
        let m: Matching<u32> = Matching::new();
        let m2 = m.clone();
        let poller = tokio::spawn(async move {
            m2.poll(&sticky(), Duration::from_secs(10))
                .await
                .map(|l| l.consume())
        });
        wait_for_poller(&m, &sticky()).await;
        assert!(m.add_sticky(&sticky(), &key(), 4));
        assert_eq!(poller.await.unwrap(), Some(4));
        assert_eq!(m.backlog_len(&key()), 0);
    }

    #[tokio::test]
    async fn recently_polled_sticky_queue_keeps_its_tasks_until_the_window_passes() {
        let m: Matching<u32> = Matching::new();
        // A poll that ended (empty) a moment ago: the worker is between polls.
        assert!(m.poll(&sticky(), Duration::from_millis(5)).await.is_none());
        assert!(m.add_sticky(&sticky(), &key(), 1));
        assert_eq!(m.backlog_len(&sticky()), 1);
        let inner = m.lock();
        let now = Instant::now();
        assert!(inner.sticky_worker_available(&sticky(), now));
        let later = now + STICKY_POLLER_UNAVAILABLE_WINDOW + Duration::from_secs(1);
        assert!(!inner.sticky_worker_available(&sticky(), later));
    }

    #[tokio::test]
    async fn drain_returns_the_backlog_in_order_and_forgets_the_queue() {
        let m: Matching<u32> = Matching::new();
        assert!(m.poll(&sticky(), Duration::from_millis(5)).await.is_none());
        for t in [1, 2, 3] {
            assert!(m.add_sticky(&sticky(), &key(), t));
        }
        m.add(&key(), 9);
        assert_eq!(m.drain(&sticky()), vec![1, 2, 3]);
        assert_eq!(m.backlog_len(&sticky()), 0);
        assert!(m.drain(&sticky()).is_empty(), "draining twice is harmless");
        // The normal queue is untouched, and the drained sticky queue now counts as gone.
        assert_eq!(m.backlog_len(&key()), 1);
        assert!(!m.add_sticky(&sticky(), &key(), 4));
        assert_eq!(m.backlog_len(&key()), 2);
    }

    #[tokio::test]
    async fn drain_ends_waiting_polls_and_they_do_not_revive_the_queue() {
        let m: Matching<u32> = Matching::new();
        let m2 = m.clone();
        let poller = tokio::spawn(async move { m2.poll(&sticky(), Duration::from_secs(30)).await });
        wait_for_poller(&m, &sticky()).await;
        assert!(m.drain(&sticky()).is_empty());
        // A new partition under the same key, touched only by a task.
        assert!(!m.add(&sticky(), 7));
        let ended = tokio::time::timeout(Duration::from_secs(5), poller)
            .await
            .expect("drain must end a waiting poll")
            .unwrap();
        assert!(ended.is_none(), "the drained poll ends empty");
        // The old poll ending did not make the new partition look polled.
        assert!(!m.add_sticky(&sticky(), &key(), 8));
        assert_eq!(m.backlog_len(&key()), 1);
        // A new poll brings the sticky queue back.
        assert_eq!(
            m.poll(&sticky(), Duration::from_millis(10))
                .await
                .map(|l| l.consume()),
            Some(7)
        );
        assert!(m.add_sticky(&sticky(), &key(), 9));
    }

    #[tokio::test]
    async fn queues_are_separate() {
        let m = Matching::new();
        let other = TaskQueueKey::new("ns", "q", TaskKind::Activity);
        m.add(&key(), 1);
        assert!(m.poll(&other, Duration::from_millis(10)).await.is_none());
        assert_eq!(
            m.poll(&key(), Duration::from_millis(10))
                .await
                .unwrap()
                .consume(),
            1
        );
    }

    #[tokio::test]
    async fn describe_counts_the_backlog_and_its_oldest_task() {
        let m: Matching<u32> = Matching::new();
        let before = SystemTime::now();
        m.add(&key(), 1);
        m.add_first(&key(), 99);
        m.add(&key(), 2);
        let after = SystemTime::now();
        let later = after + Duration::from_secs(7);
        let view = m.describe(&key(), later, |t| *t != 99);
        assert_eq!(view.backlog_count, 2, "the uncounted task is left out");
        let oldest = view.oldest_backlog.expect("a backlog has an oldest task");
        assert!(before <= oldest && oldest <= after);
        assert!(later.duration_since(oldest).unwrap() >= Duration::from_secs(7));
        assert!(view.pollers.is_empty());

        let empty = m.describe(
            &TaskQueueKey::new("ns", "none", TaskKind::Workflow),
            later,
            |_| true,
        );
        assert_eq!((empty.backlog_count, empty.oldest_backlog), (0, None));
    }

    #[tokio::test]
    async fn a_task_given_back_keeps_its_age() {
        let m: Matching<u32> = Matching::new();
        m.add(&key(), 1);
        let since = m
            .describe(&key(), SystemTime::now(), |_| true)
            .oldest_backlog;
        let lease = m.poll(&key(), Duration::from_secs(1)).await.unwrap();
        assert_eq!(
            m.describe(&key(), SystemTime::now(), |_| true)
                .backlog_count,
            0
        );
        drop(lease);
        let view = m.describe(&key(), SystemTime::now(), |_| true);
        assert_eq!((view.backlog_count, view.oldest_backlog), (1, since));
    }

    #[tokio::test]
    async fn describe_lists_recent_pollers_of_that_partition_only() {
        let m: Matching<u32> = Matching::new();
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let meta = PollerMeta {
            max_tasks_per_second: Some(2.0),
            capabilities: None,
        };
        m.record_poller(&key(), "w1", meta.clone(), t0);
        m.record_poller(
            &key(),
            "w2",
            PollerMeta::default(),
            t0 + Duration::from_secs(60),
        );
        let other = TaskQueueKey::new("ns", "q", TaskKind::Activity);
        m.record_poller(&other, "w3", PollerMeta::default(), t0);

        let view = m.describe(&key(), t0 + Duration::from_secs(61), |_| true);
        let who: Vec<_> = view.pollers.iter().map(|p| p.identity.as_str()).collect();
        assert_eq!(who, vec!["w2", "w1"]);
        assert_eq!(view.pollers[1].meta, meta);
        assert_eq!(view.pollers[1].last_access, t0);

        let ttl = crate::POLLER_HISTORY_TTL;
        let view = m.describe(&key(), t0 + ttl + Duration::from_secs(1), |_| true);
        let who: Vec<_> = view.pollers.iter().map(|p| p.identity.as_str()).collect();
        assert_eq!(who, vec!["w2"], "w1 last polled more than the TTL ago");

        assert!(m.drain(&key()).is_empty());
        assert!(
            m.describe(&key(), t0, |_| true).pollers.is_empty(),
            "a drained queue forgets"
        );
    }

    #[tokio::test]
    async fn describe_reports_add_and_dispatch_rates() {
        let m: Matching<u32> = Matching::new();
        for t in 0..4 {
            m.add(&key(), t);
        }
        let lease = m.poll(&key(), Duration::from_secs(1)).await.unwrap();
        // A task given back is not offered again.
        drop(lease);
        let view = m.describe(&key(), SystemTime::now(), |_| true);
        assert!(view.tasks_add_rate > 0.0 && view.tasks_dispatch_rate > 0.0);
        // Four adds and one dispatch over the same (tiny) time.
        let ratio = view.tasks_add_rate / view.tasks_dispatch_rate;
        assert!((3.0..=5.0).contains(&ratio), "{ratio}");
        let idle = m.describe(
            &TaskQueueKey::new("ns", "idle", TaskKind::Activity),
            SystemTime::now(),
            |_| true,
        );
        assert_eq!((idle.tasks_add_rate, idle.tasks_dispatch_rate), (0.0, 0.0));
    }
}
