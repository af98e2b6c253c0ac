//! `GET /v1/models`: every model this server answers for, as OpenAI lists them, with vLLM's
//! `parent` and `root` for packs (adapters) over the base.

use serde::Serialize;

/// `{"object": "list", "data": […]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelList {
    /// Always `list`.
    pub object: &'static str,
    /// The models.
    pub data: Vec<ModelEntry>,
}

impl ModelList {
    /// A list of `data`.
    pub fn new(data: Vec<ModelEntry>) -> Self {
        Self {
            object: "list",
            data,
        }
    }
}

/// One model (`object: "model"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelEntry {
    /// What requests put in `model`.
    pub id: String,
    /// Always `model`.
    pub object: &'static str,
    /// Unix seconds: when it was installed.
    pub created: u64,
    /// Who published it.
    pub owned_by: String,
    /// The model it adapts (a pack's base); `None` for the base itself.
    pub parent: Option<String>,
    /// The model at the root of the chain (the base); for the base itself, its own id.
    pub root: Option<String>,
}

impl ModelEntry {
    /// A model `id`, over `parent` (`None` for a base, which is then its own root).
    pub fn new(
        id: impl Into<String>,
        created: u64,
        owned_by: impl Into<String>,
        parent: Option<String>,
    ) -> Self {
        let id = id.into();
        let root = Some(parent.clone().unwrap_or_else(|| id.clone()));
        Self {
            id,
            object: "model",
            created,
            owned_by: owned_by.into(),
            parent,
            root,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn list_has_openai_fields() {
        let list = ModelList::new(vec![
            ModelEntry::new("tiny-base", 10, "modularbase", None),
            ModelEntry::new("python_code", 20, "acme", Some("tiny-base".to_owned())),
        ]);
        assert_eq!(
            serde_json::to_value(&list).expect("serializes"),
            json!({"object": "list", "data": [
                {"id": "tiny-base", "object": "model", "created": 10, "owned_by": "modularbase",
                 "parent": null, "root": "tiny-base"},
                {"id": "python_code", "object": "model", "created": 20, "owned_by": "acme",
                 "parent": "tiny-base", "root": "tiny-base"},
            ]})
        );
    }
}
