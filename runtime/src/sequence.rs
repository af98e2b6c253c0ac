//! One answer being generated: its tokens still to run, its own KV cache and pack, its
//! sampler, and the text it has made so far with the stop strings held back.

use std::sync::Arc;

use modularbase_pack::PackId;
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::base::KvCache;
use crate::fallback::Substitution;
use crate::generate::Sampling;
use crate::keep_alive::KeepAlive;
use crate::pack_module::PackModule;
use crate::router::{Route, RouteScore};

/// Why an answer ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishReason {
    /// The model ended its turn, or a stop string was reached.
    Stop,
    /// The token limit (or the end of the context) was reached.
    Length,
}

impl FinishReason {
    /// `stop` or `length`, as the OpenAI API writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stop => "stop",
            Self::Length => "length",
        }
    }
}

/// How the runtime chose what answers a sequence.
#[derive(Debug, Clone, Default)]
pub struct Routing {
    /// Routing scores, best first (empty when a pack was asked for by name).
    pub scores: Vec<RouteScore>,
    /// The routing decision (`None` when a pack was asked for, or none is installed).
    pub route: Option<Route>,
    /// The pack asked for (by routing or by name).
    pub wanted: Option<PackId>,
    /// The pack that answers (`None`: the base alone).
    pub used: Option<PackId>,
    /// Packs that could not be used, with causes, in the order they were tried.
    pub substitutions: Vec<Substitution>,
}

/// One answer in progress (see [`crate::Runtime::start`] and [`crate::Runtime::step`]).
pub struct Sequence {
    /// Tokens to run before the next token is sampled: the prompt, then the last token.
    pub(crate) pending: Vec<u32>,
    pub(crate) kv: KvCache,
    pub(crate) pack: Option<Arc<PackModule>>,
    pub(crate) keep_alive: Option<KeepAlive>,
    pub(crate) usage_before: Vec<u64>,
    rng: StdRng,
    sampling: Sampling,
    limit: usize,
    stop: Vec<String>,
    generated: Vec<u32>,
    text: String,
    shown: usize,
    finish: Option<FinishReason>,
    prompt_tokens: usize,
    routing: Routing,
}

impl std::fmt::Debug for Sequence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sequence")
            .field("prompt_tokens", &self.prompt_tokens)
            .field("generated", &self.generated.len())
            .field("finish", &self.finish)
            .field("routing", &self.routing)
            .finish()
    }
}

impl Sequence {
    /// A sequence for `prompt` generating at most `limit` tokens.
    pub(crate) fn new(
        prompt: Vec<u32>,
        limit: usize,
        sampling: Sampling,
        stop: Vec<String>,
        pack: Option<Arc<PackModule>>,
        keep_alive: Option<KeepAlive>,
        routing: Routing,
    ) -> Self {
        let usage_before = pack.as_ref().map(|p| p.expert_usage()).unwrap_or_default();
        Self {
            prompt_tokens: prompt.len(),
            pending: prompt,
            kv: KvCache::new(),
            pack,
            keep_alive,
            usage_before,
            rng: StdRng::seed_from_u64(sampling.seed),
            sampling,
            finish: (limit == 0).then_some(FinishReason::Length),
            limit,
            stop: stop.into_iter().filter(|s| !s.is_empty()).collect(),
            generated: Vec::new(),
            text: String::new(),
            shown: 0,
            routing,
        }
    }

    /// Why it ended, once it has.
    pub fn finish_reason(&self) -> Option<FinishReason> {
        self.finish
    }

    /// Tokens in the prompt.
    pub fn prompt_tokens(&self) -> usize {
        self.prompt_tokens
    }

    /// Tokens generated so far (a stop string's tokens included).
    pub fn generated(&self) -> &[u32] {
        &self.generated
    }

    /// Whether the prompt has run and tokens are being generated.
    pub fn is_decoding(&self) -> bool {
        !self.generated.is_empty() || self.finish.is_some()
    }

    /// How the answering pack was chosen.
    pub fn routing(&self) -> &Routing {
        &self.routing
    }

    /// The whole answer so far (cut before a stop string that was reached).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The text made since the last call that is safe to show: it holds back what could be
    /// the start of a stop string or of a character still being spelled out in bytes, and
    /// hands out the rest once the sequence has finished. Concatenated, the pieces are
    /// [`Self::text`].
    pub fn take_text(&mut self) -> String {
        let safe = if self.finish.is_some() {
            self.text.len()
        } else {
            self.safe_len()
        };
        if safe <= self.shown {
            return String::new();
        }
        let piece = self.text[self.shown..safe].to_owned();
        self.shown = safe;
        piece
    }

    /// Bytes of the text that no later token can change.
    fn safe_len(&self) -> usize {
        let mut safe = self.text.len();
        if self.text.ends_with('\u{FFFD}') {
            safe -= '\u{FFFD}'.len_utf8();
        }
        let head = &self.text[..safe];
        let held = self
            .stop
            .iter()
            .map(|stop| {
                (1..stop.len())
                    .rev()
                    .filter(|&n| stop.is_char_boundary(n))
                    .find(|&n| head.ends_with(&stop[..n]))
                    .unwrap_or(0)
            })
            .max()
            .unwrap_or(0);
        safe - held
    }

    /// Samples the next token from `logits` (`[vocab]`).
    pub(crate) fn sample(&mut self, logits: &candle_core::Tensor) -> crate::Result<u32> {
        crate::generate::sample_token(logits, &self.sampling, &mut self.rng)
    }

    /// Takes the sampled `token`: a stop token, a stop string or the limit ends the
    /// sequence; otherwise it is the next token to run. `text` is the decoding of every
    /// token generated with this one.
    pub(crate) fn accept(
        &mut self,
        token: u32,
        stop_tokens: &[u32],
        decode: impl FnOnce(&[u32]) -> crate::Result<String>,
    ) -> crate::Result<()> {
        if stop_tokens.contains(&token) {
            self.finish = Some(FinishReason::Stop);
            return Ok(());
        }
        self.generated.push(token);
        self.text = decode(&self.generated)?;
        let from = self
            .shown
            .saturating_sub(self.stop.iter().map(String::len).max().unwrap_or(0));
        let from = (0..=from)
            .rev()
            .find(|&i| self.text.is_char_boundary(i))
            .unwrap_or(0);
        if let Some(cut) = self
            .stop
            .iter()
            .filter_map(|s| self.text[from..].find(s.as_str()).map(|i| from + i))
            .min()
        {
            self.text.truncate(cut);
            self.finish = Some(FinishReason::Stop);
            return Ok(());
        }
        if self.generated.len() >= self.limit {
            self.finish = Some(FinishReason::Length);
            return Ok(());
        }
        self.pending = vec![token];
        Ok(())
    }

    /// The pack module answering, if any.
    pub(crate) fn pack(&self) -> Option<&Arc<PackModule>> {
        self.pack.as_ref()
    }
}
