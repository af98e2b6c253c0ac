//! The engine: one thread owns the runtime and answers every request. Requests wait in a
//! bounded queue for one of `parallel` slots; each step runs every active request through
//! the base in one forward pass (each row with its own pack) and sends each one its new
//! text. A request whose client went away is dropped at the next step, freeing its slot.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use modularbase_pack::PackId;
use modularbase_runtime::{
    CacheEvent, FinishReason, MonitorView, Request, Routing, Runtime, RuntimeError, Sequence,
};
use tokio::sync::{mpsc as async_mpsc, oneshot};

use crate::metrics::{CacheEventKind, ServeMetrics};
use crate::status::{RECENT_REQUESTS, RecentRequest};

/// How many requests run at once and how many may wait.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Requests generating at once (one row each in every forward pass).
    pub parallel: usize,
    /// Requests that may wait for a slot; beyond that a request is refused.
    pub max_queue: usize,
}

/// What a request hears from the engine, in order: `Started` (or `Failed`), then `Text`
/// pieces, then `Done`.
#[derive(Debug)]
pub enum Event {
    /// The request has a slot and its pack: who answers, and the prompt's size.
    Started {
        /// How the pack was chosen, and what was substituted.
        routing: Routing,
        /// Tokens in the prompt.
        prompt_tokens: usize,
    },
    /// More of the answer.
    Text(String),
    /// The answer is complete.
    Done {
        /// Why it ended.
        finish: FinishReason,
        /// Tokens generated.
        completion_tokens: usize,
    },
    /// The request could not be answered; nothing more follows.
    Failed {
        /// What went wrong.
        message: String,
        /// Whether the prompt left no room in the context (the client may shorten it).
        context_full: bool,
    },
}

/// A request on its way to the engine.
struct Job {
    id: String,
    model: String,
    request: Request,
    events: async_mpsc::UnboundedSender<Event>,
    arrived: Instant,
}

/// What the dashboard and `/api/ps` need, taken between two steps.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The memory picture.
    pub view: MonitorView,
    /// Requests generating.
    pub running: usize,
    /// Requests waiting for a slot.
    pub waiting: usize,
    /// The latest finished requests, newest first.
    pub recent: Vec<RecentRequest>,
}

enum Command {
    Generate(Job),
    Snapshot(oneshot::Sender<Snapshot>),
    Stop(PackId, oneshot::Sender<bool>),
}

/// Why a request was not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// Every slot is busy and the queue is full.
    #[error(
        "the server is busy: {running} requests are generating and {waiting} are waiting (--parallel {parallel}, --max-queue {max_queue}); retry shortly"
    )]
    QueueFull {
        /// Requests generating.
        running: usize,
        /// Requests waiting.
        waiting: usize,
        /// Slots.
        parallel: usize,
        /// Queue length.
        max_queue: usize,
    },
    /// The server is shutting down.
    #[error("the server is shutting down and takes no new requests")]
    ShuttingDown,
    /// The engine thread is gone.
    #[error("the engine has stopped; restart `modularbase serve`")]
    Stopped,
}

/// The handle the HTTP side holds: cheap to clone, safe to share.
#[derive(Clone)]
pub struct Engine {
    commands: mpsc::Sender<Command>,
    shared: Arc<Shared>,
}

struct Shared {
    limits: Limits,
    /// Requests taken and not yet finished (running plus waiting).
    admitted: AtomicUsize,
    running: AtomicUsize,
    closing: AtomicBool,
    metrics: Arc<ServeMetrics>,
}

impl Engine {
    /// Starts the engine thread, which owns `runtime` from now on.
    pub fn start(
        runtime: Runtime,
        limits: Limits,
        metrics: Arc<ServeMetrics>,
    ) -> std::io::Result<Self> {
        let (commands, inbox) = mpsc::channel();
        let shared = Arc::new(Shared {
            limits,
            admitted: AtomicUsize::new(0),
            running: AtomicUsize::new(0),
            closing: AtomicBool::new(false),
            metrics,
        });
        let thread_shared = shared.clone();
        std::thread::Builder::new()
            .name("modularbase-engine".into())
            .spawn(move || Worker::new(runtime, thread_shared).run(&inbox))?;
        Ok(Self { commands, shared })
    }

    /// Queues `request`; the receiver hears its [`Event`]s. Refused at once when the queue
    /// is full or the server is closing.
    pub fn submit(
        &self,
        id: String,
        model: String,
        request: Request,
    ) -> Result<async_mpsc::UnboundedReceiver<Event>, Refused> {
        if self.shared.closing.load(Ordering::SeqCst) {
            return Err(Refused::ShuttingDown);
        }
        let limits = self.shared.limits;
        let taken = self
            .shared
            .admitted
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < limits.parallel + limits.max_queue).then_some(n + 1)
            });
        if let Err(n) = taken {
            let running = self.shared.running.load(Ordering::SeqCst);
            return Err(Refused::QueueFull {
                running,
                waiting: n.saturating_sub(running),
                parallel: limits.parallel,
                max_queue: limits.max_queue,
            });
        }
        self.publish_queue();
        let (events, receiver) = async_mpsc::unbounded_channel();
        let job = Job {
            id,
            model,
            request,
            events,
            arrived: Instant::now(),
        };
        if self.commands.send(Command::Generate(job)).is_err() {
            self.shared.admitted.fetch_sub(1, Ordering::SeqCst);
            return Err(Refused::Stopped);
        }
        Ok(receiver)
    }

    /// The memory picture and the queue, taken between two steps.
    pub async fn snapshot(&self) -> Result<Snapshot, Refused> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Snapshot(reply))
            .map_err(|_| Refused::Stopped)?;
        answer.await.map_err(|_| Refused::Stopped)
    }

    /// Unloads pack `id` (at once, or when the requests using it finish); whether it was
    /// loaded.
    pub async fn stop_pack(&self, id: PackId) -> Result<bool, Refused> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Stop(id, reply))
            .map_err(|_| Refused::Stopped)?;
        answer.await.map_err(|_| Refused::Stopped)
    }

    /// Takes no new requests from now on.
    pub fn close(&self) {
        self.shared.closing.store(true, Ordering::SeqCst);
    }

    /// Whether nothing is running or waiting.
    pub fn is_idle(&self) -> bool {
        self.shared.admitted.load(Ordering::SeqCst) == 0
    }

    fn publish_queue(&self) {
        self.shared.publish_queue();
    }
}

impl Shared {
    fn publish_queue(&self) {
        let admitted = self.admitted.load(Ordering::SeqCst);
        let running = self.running.load(Ordering::SeqCst);
        self.metrics
            .set_queue(running, admitted.saturating_sub(running));
    }

    fn release(&self) {
        self.admitted.fetch_sub(1, Ordering::SeqCst);
        self.publish_queue();
    }
}

/// A request with a slot.
struct Active {
    job: Job,
    sequence: Sequence,
    first_token: Option<Instant>,
    last_token: Option<Instant>,
}

/// The engine thread's state.
struct Worker {
    runtime: Runtime,
    shared: Arc<Shared>,
    waiting: VecDeque<Job>,
    active: Vec<Active>,
    recent: VecDeque<RecentRequest>,
    /// The head of the queue waits for room that only a finishing request can make.
    blocked: bool,
}

/// The longest the idle engine sleeps before looking at keep-alives again.
const IDLE_WAKE: Duration = Duration::from_secs(1);

impl Worker {
    fn new(runtime: Runtime, shared: Arc<Shared>) -> Self {
        let mut worker = Self {
            runtime,
            shared,
            waiting: VecDeque::new(),
            active: Vec::new(),
            recent: VecDeque::new(),
            blocked: false,
        };
        worker.publish_memory();
        worker
    }

    fn run(mut self, inbox: &mpsc::Receiver<Command>) {
        loop {
            if self.active.is_empty() && self.waiting.is_empty() {
                let wake = self
                    .runtime
                    .next_expiry()
                    .map_or(IDLE_WAKE, |t| t.saturating_duration_since(Instant::now()))
                    .min(IDLE_WAKE);
                match inbox.recv_timeout(wake) {
                    Ok(command) => self.handle(command),
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                    Err(mpsc::RecvTimeoutError::Disconnected) => return,
                }
            }
            while let Ok(command) = inbox.try_recv() {
                self.handle(command);
            }
            self.admit();
            self.step();
            let expired = self.runtime.expire();
            if !expired.is_empty() {
                tracing::debug!(?expired, "keep-alive ran out");
            }
            self.publish_events();
        }
    }

    fn handle(&mut self, command: Command) {
        match command {
            Command::Generate(job) => self.waiting.push_back(job),
            Command::Snapshot(reply) => {
                let _ = reply.send(Snapshot {
                    view: self.runtime.monitor(),
                    running: self.active.len(),
                    waiting: self.waiting.len(),
                    recent: self.recent.iter().cloned().collect(),
                });
            }
            Command::Stop(id, reply) => {
                let _ = reply.send(self.runtime.stop_pack(&id));
                self.publish_events();
            }
        }
    }

    /// Gives free slots to waiting requests, oldest first; a request whose client left
    /// while it waited is dropped. A request whose pack fits only once packs in use are
    /// released waits at the head of the queue until a request finishes.
    fn admit(&mut self) {
        while !self.blocked && self.active.len() < self.shared.limits.parallel {
            let Some(mut job) = self.waiting.pop_front() else {
                break;
            };
            if job.events.is_closed() {
                self.record(&job, None, "cancelled", 0);
                self.shared.release();
                continue;
            }
            // Waiting makes sense only while some request will release its pack.
            job.request.wait_for_room = !self.active.is_empty();
            match self.runtime.start(&job.request) {
                Ok(sequence) => {
                    let routing = sequence.routing().clone();
                    for s in &routing.substitutions {
                        self.shared
                            .metrics
                            .fallback(s.wanted.as_str(), s.cause.label());
                    }
                    let _ = job.events.send(Event::Started {
                        routing,
                        prompt_tokens: sequence.prompt_tokens(),
                    });
                    self.active.push(Active {
                        job,
                        sequence,
                        first_token: None,
                        last_token: None,
                    });
                    self.shared
                        .running
                        .store(self.active.len(), Ordering::SeqCst);
                }
                Err(RuntimeError::WaitForRoom(why)) => {
                    tracing::debug!("request {} waits: {why}", job.id);
                    self.waiting.push_front(job);
                    self.blocked = true;
                }
                Err(e) => {
                    let context_full = matches!(e, RuntimeError::PromptTooLong { .. });
                    let _ = job.events.send(Event::Failed {
                        message: e.to_string(),
                        context_full,
                    });
                    self.record(&job, None, "error", 0);
                    self.shared.release();
                }
            }
        }
        self.shared.publish_queue();
    }

    /// One forward pass for every active request, then each one's news.
    fn step(&mut self) {
        if self.active.is_empty() {
            return;
        }
        for active in std::mem::take(&mut self.active) {
            if active.job.events.is_closed() {
                self.end(active, "cancelled");
            } else {
                self.active.push(active);
            }
        }
        let mut sequences: Vec<&mut Sequence> =
            self.active.iter_mut().map(|a| &mut a.sequence).collect();
        if let Err(e) = self.runtime.step(&mut sequences) {
            tracing::error!("a generation step failed: {e}");
            for active in std::mem::take(&mut self.active) {
                let _ = active.job.events.send(Event::Failed {
                    message: format!("generation failed: {e}"),
                    context_full: false,
                });
                self.end(active, "error");
            }
            return;
        }
        let now = Instant::now();
        let mut still = Vec::with_capacity(self.active.len());
        for mut active in std::mem::take(&mut self.active) {
            if active.sequence.is_decoding() {
                match active.last_token {
                    None => self
                        .shared
                        .metrics
                        .observe_first_token(now.duration_since(active.job.arrived).as_secs_f64()),
                    Some(last) => self
                        .shared
                        .metrics
                        .observe_inter_token(now.duration_since(last).as_secs_f64()),
                }
                active.first_token.get_or_insert(now);
                active.last_token = Some(now);
            }
            let piece = active.sequence.take_text();
            let gone = !piece.is_empty() && active.job.events.send(Event::Text(piece)).is_err();
            if gone || active.job.events.is_closed() {
                self.end(active, "cancelled");
            } else if let Some(finish) = active.sequence.finish_reason() {
                let _ = active.job.events.send(Event::Done {
                    finish,
                    completion_tokens: active.sequence.generated().len(),
                });
                self.end(active, finish.as_str());
            } else {
                still.push(active);
            }
        }
        self.active = still;
        self.shared
            .running
            .store(self.active.len(), Ordering::SeqCst);
    }

    /// Retires a request: metrics, the recent list, its slot, its pack's keep-alive.
    fn end(&mut self, active: Active, finish: &str) {
        let tokens = active.sequence.generated().len();
        let seconds = active.job.arrived.elapsed().as_secs_f64();
        self.shared.metrics.observe_request(
            seconds,
            finish,
            active.sequence.prompt_tokens() as u64,
            tokens as u64,
        );
        self.record(&active.job, Some(active.sequence.routing()), finish, tokens);
        self.runtime.finish(active.sequence);
        // Its pack is free now: a request waiting for room may fit.
        self.blocked = false;
        self.shared
            .running
            .store(self.active.len(), Ordering::SeqCst);
        self.shared.release();
    }

    fn record(&mut self, job: &Job, routing: Option<&Routing>, finish: &str, tokens: usize) {
        self.recent.push_front(RecentRequest {
            id: job.id.clone(),
            model: job.model.clone(),
            pack: routing
                .and_then(|r| r.used.as_ref())
                .map(ToString::to_string),
            substitutions: routing
                .map(|r| {
                    r.substitutions
                        .iter()
                        .map(|s| format!("{}: {}", s.wanted, s.cause))
                        .collect()
                })
                .unwrap_or_default(),
            tokens,
            seconds: job.arrived.elapsed().as_secs_f64(),
            finish_reason: finish.to_owned(),
        });
        self.recent.truncate(RECENT_REQUESTS);
    }

    /// Cache events into the metrics, and the memory gauges.
    fn publish_events(&mut self) {
        let events = self.runtime.take_events();
        if events.is_empty() {
            return;
        }
        for event in &events {
            let (id, kind) = match event {
                CacheEvent::Hit(id) => (id, CacheEventKind::Hit),
                CacheEvent::Miss(id) => (id, CacheEventKind::Miss),
                CacheEvent::Evicted(id) => (id, CacheEventKind::Eviction),
                CacheEvent::Preloaded(id) => (id, CacheEventKind::Preload),
                CacheEvent::Expired(id) => (id, CacheEventKind::Expiry),
            };
            self.shared.metrics.cache_event(id.as_str(), kind);
        }
        self.publish_memory();
    }

    fn publish_memory(&mut self) {
        let view = self.runtime.monitor();
        let components: Vec<(String, String, u64)> = view
            .rows
            .iter()
            .filter(|r| r.state.in_memory())
            .map(|r| (r.id.to_string(), r.kind.clone(), r.bytes))
            .collect();
        self.shared
            .metrics
            .set_memory(view.budget, view.used, &components);
    }
}
