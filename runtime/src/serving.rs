//! Answering many requests at once: each request becomes a [`Sequence`]; one
//! [`Runtime::step`] runs every active sequence through the base in a single forward pass,
//! each row with its own pack, and samples each one's next token.

use std::time::Instant;

use modularbase_pack::PackId;

use crate::base::{HiddenPlug, Segment};
use crate::cache::CacheEvent;
use crate::chat::ChatMessage;
use crate::error::{Result, RuntimeError};
use crate::fallback::LoadFailure;
use crate::generate::Sampling;
use crate::keep_alive::KeepAlive;
use crate::sequence::{Routing, Sequence};
use crate::session::Runtime;

/// Prompt tokens one sequence runs per step: a long prompt is read in chunks so the other
/// sequences keep decoding meanwhile.
pub const PREFILL_CHUNK: usize = 256;

/// What a request gives the model.
#[derive(Debug, Clone)]
pub enum Prompt {
    /// Text to continue as it is.
    Text(String),
    /// A conversation, put in the base's chat template with the assistant's turn opened.
    Chat(Vec<ChatMessage>),
}

/// Who answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelChoice {
    /// The prompt is routed among the installed packs.
    Routed,
    /// This pack answers (or, when it cannot be used, its fallback chain, reported).
    Pack(PackId),
}

/// One request to answer.
#[derive(Debug, Clone)]
pub struct Request {
    /// The prompt.
    pub prompt: Prompt,
    /// Who answers.
    pub model: ModelChoice,
    /// Most tokens to generate (the context's room bounds it too).
    pub max_tokens: usize,
    /// Sampling settings.
    pub sampling: Sampling,
    /// Strings that end the answer where they appear (not included).
    pub stop: Vec<String>,
    /// How long the pack stays loaded after this request; `None`: the runtime's default.
    pub keep_alive: Option<KeepAlive>,
    /// When the pack fits the budget only once packs in use are released, refuse with
    /// [`RuntimeError::WaitForRoom`] (the caller retries when a request finishes) instead
    /// of falling back.
    pub wait_for_room: bool,
}

impl Prompt {
    /// The text to route on: the last user turn of a conversation, the text itself
    /// otherwise.
    fn routing_text(&self) -> &str {
        match self {
            Self::Text(text) => text,
            Self::Chat(messages) => messages
                .iter()
                .rev()
                .find(|m| m.role == "user")
                .or(messages.last())
                .map_or("", |m| m.content.as_str()),
        }
    }
}

impl Runtime {
    /// Gives packs loaded from now on this keep-alive, and each request without its own.
    pub fn set_default_keep_alive(&mut self, keep_alive: KeepAlive) {
        self.default_keep_alive = Some(keep_alive);
        self.cache.set_default_keep_alive(keep_alive);
    }

    /// The prompt text of `prompt`: the chat template applied for a conversation (bases
    /// without a template get `role: content` lines and an open `assistant:` line).
    pub fn prompt_text(&self, prompt: &Prompt) -> Result<String> {
        match prompt {
            Prompt::Text(text) => Ok(text.clone()),
            Prompt::Chat(messages) => match self.base.vocab().chat_template() {
                Some(template) => template.render(messages, true),
                None => {
                    let mut text: String = messages
                        .iter()
                        .map(|m| format!("{}: {}\n", m.role, m.content))
                        .collect();
                    text.push_str("assistant:");
                    Ok(text)
                }
            },
        }
    }

    /// Routes the request (or takes the pack it names), loads the pack through the cache
    /// with fallback, and returns the sequence ready for [`Self::step`]. A prompt that does
    /// not leave room for one token in the context is refused.
    pub fn start(&mut self, request: &Request) -> Result<Sequence> {
        let text = self.prompt_text(&request.prompt)?;
        let tokens = self.base.vocab().encode(&text)?;
        let context = self.base.config().context;
        if tokens.is_empty() {
            return Err(RuntimeError::Config("the prompt is empty".into()));
        }
        if tokens.len() >= context {
            return Err(RuntimeError::PromptTooLong {
                tokens: tokens.len(),
                context,
            });
        }
        let mut routing = Routing::default();
        match &request.model {
            ModelChoice::Pack(id) => routing.wanted = Some(id.clone()),
            ModelChoice::Routed => {
                let mut routed = self.base.vocab().encode(request.prompt.routing_text())?;
                if routed.is_empty() {
                    routed.clone_from(&tokens);
                }
                let (scores, route, wanted) = self.route_tokens(&routed)?;
                routing.scores = scores;
                routing.route = route;
                routing.wanted = wanted;
            }
        }
        let (pack, substitutions) = self.load(routing.wanted.as_ref(), request.wait_for_room);
        if request.wait_for_room
            && pack.is_none()
            && let Some(held) = substitutions
                .last()
                .filter(|s| matches!(s.cause, LoadFailure::Held(_)))
        {
            return Err(RuntimeError::WaitForRoom(held.cause.to_string()));
        }
        routing.substitutions = substitutions;
        routing.used = pack.as_ref().map(|(id, _)| id.clone());
        let keep_alive = request.keep_alive.or(self.default_keep_alive);
        if let (Some((id, _)), Some(keep)) = (&pack, keep_alive) {
            self.cache.keep_alive(id, keep, Instant::now());
        }
        let limit = request.max_tokens.min(context - tokens.len());
        Ok(Sequence::new(
            tokens,
            limit,
            request.sampling.clone(),
            request.stop.clone(),
            pack.map(|(_, module)| module),
            keep_alive,
            routing,
        ))
    }

    /// Runs one step of every unfinished sequence: those still reading their prompt run
    /// their next chunk of it, each in a pass of its own (the pass it would get alone); all
    /// the others decode their next token together in one pass, each row with its own
    /// pack. Each sequence that has read all its tokens samples its next one. Every
    /// sequence gets exactly the tokens it would get alone.
    pub fn step(&mut self, sequences: &mut [&mut Sequence]) -> Result<()> {
        let (mut reading, mut decoding): (Vec<&mut Sequence>, Vec<&mut Sequence>) = sequences
            .iter_mut()
            .map(|s| &mut **s)
            .filter(|s| s.finish_reason().is_none() && !s.pending.is_empty())
            .partition(|s| s.pending.len() > 1);
        for sequence in &mut reading {
            self.advance(&mut [&mut **sequence])?;
        }
        if !decoding.is_empty() {
            self.advance(&mut decoding)?;
        }
        Ok(())
    }

    /// One forward pass over `active`: a chunk of each one's pending tokens, then a sample
    /// for each that has read them all.
    fn advance(&mut self, active: &mut [&mut Sequence]) -> Result<()> {
        let chunks: Vec<usize> = active
            .iter()
            .map(|s| s.pending.len().min(PREFILL_CHUNK))
            .collect();
        let logits = {
            let mut segments: Vec<Segment<'_>> = active
                .iter_mut()
                .zip(&chunks)
                .map(|(s, &n)| {
                    let plug = s.pack.as_deref().map(|p| p as &dyn HiddenPlug);
                    Segment::new(&s.pending[..n], &mut s.kv, plug)
                })
                .collect();
            self.base.last_logits(&mut segments)?
        };
        let vocab = self.base.vocab();
        for (i, (s, n)) in active.iter_mut().zip(chunks).enumerate() {
            if n < s.pending.len() {
                s.pending.drain(..n);
                continue;
            }
            s.pending.clear();
            let token = s.sample(&logits.get(i)?)?;
            s.accept(token, vocab.stop_tokens(), |t| vocab.decode(t))?;
        }
        Ok(())
    }

    /// Ends `sequence` (finished or abandoned): its pack's keep-alive counts from now, packs
    /// whose keep-alive ran out unload, and the likely next pack may be preloaded.
    pub fn finish(&mut self, sequence: Sequence) {
        let now = Instant::now();
        let used = sequence.routing().used.clone();
        let keep_alive = sequence.keep_alive;
        drop(sequence);
        if let (Some(id), Some(keep)) = (used, keep_alive) {
            self.cache.keep_alive(&id, keep, now);
        }
        self.cache.expire(now);
        self.preload();
    }

    /// Unloads the pack `id` now, or as soon as the requests using it finish; returns
    /// whether it was loaded.
    pub fn stop_pack(&mut self, id: &PackId) -> bool {
        let now = Instant::now();
        let loaded = self.cache.keep_alive(id, KeepAlive::Unload, now);
        self.cache.expire(now);
        loaded
    }

    /// Unloads packs whose keep-alive has run out; returns their ids.
    pub fn expire(&mut self) -> Vec<PackId> {
        self.cache.expire(Instant::now())
    }

    /// When the next loaded pack's keep-alive runs out.
    pub fn next_expiry(&self) -> Option<Instant> {
        self.cache.next_expiry()
    }

    /// Cache events since the last call (drained).
    pub fn take_events(&mut self) -> Vec<CacheEvent> {
        self.cache.take_events()
    }
}
