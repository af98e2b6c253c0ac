//! What a request's `model` may name: the base (routed among the installed packs), a pack
//! over it (`BASE+PACK`), or a pack alone — as vLLM and LoRAX let the model name pick the
//! adapter.

use modularbase_pack::PackId;
use modularbase_runtime::{ModelChoice, Runtime};

use crate::openai::{ModelEntry, ModelList, unix_now};

/// The models this server answers for, fixed when it starts.
#[derive(Debug, Clone)]
pub struct Models {
    base: String,
    packs: Vec<String>,
    created: u64,
}

impl Models {
    /// The base and domain packs of `runtime`.
    pub fn of(runtime: &Runtime) -> Self {
        Self {
            base: runtime.base_info().id.to_string(),
            packs: runtime.pack_ids().iter().map(ToString::to_string).collect(),
            created: unix_now(),
        }
    }

    /// Who answers a request for `model`, or `None` when nothing here has that name.
    pub fn resolve(&self, model: &str) -> Option<ModelChoice> {
        if model == self.base {
            return Some(ModelChoice::Routed);
        }
        let pack = match model.split_once('+') {
            Some((base, pack)) if base == self.base => pack,
            Some(_) => return None,
            None => model,
        };
        self.packs
            .iter()
            .find(|p| p.as_str() == pack)
            .and_then(|p| PackId::new(p).ok())
            .map(ModelChoice::Pack)
    }

    /// Whether `id` is one of the packs.
    pub fn has_pack(&self, id: &str) -> bool {
        self.packs.iter().any(|p| p == id)
    }

    /// Every name a request may use, the base first.
    pub fn names(&self) -> Vec<String> {
        std::iter::once(self.base.clone())
            .chain(self.packs.iter().cloned())
            .chain(self.packs.iter().map(|p| format!("{}+{p}", self.base)))
            .collect()
    }

    /// `GET /v1/models`: the base, then each pack with the base as its parent.
    pub fn list(&self) -> ModelList {
        let owner = "modularbase";
        let mut data = vec![ModelEntry::new(&self.base, self.created, owner, None)];
        data.extend(
            self.packs
                .iter()
                .map(|p| ModelEntry::new(p, self.created, owner, Some(self.base.clone()))),
        );
        ModelList::new(data)
    }
}
