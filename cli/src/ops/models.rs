//! Real models that `scripts/fetch-model.sh` fetches from PyPI, found by name where it puts
//! them (`$MODULARBASE_MODELS`, default `~/.cache/modularbase/models`), never downloaded here.

use std::path::PathBuf;

use anyhow::bail;

/// A model `scripts/fetch-model.sh` knows, and the base it becomes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KnownModel {
    /// The script's name for it.
    pub(crate) name: &'static str,
    /// The GGUF's file name in `DIR/NAME/`.
    pub(crate) file: &'static str,
    /// The base id it is imported as.
    pub(crate) base_id: &'static str,
    /// The base version it is imported as.
    pub(crate) version: &'static str,
    /// Chat prompts it answers well enough to show.
    pub(crate) prompts: &'static [&'static str],
    /// The directory beside `examples/packs` holding the example packs trained over it
    /// (`examples/build-smollm2.sh` writes them).
    pub(crate) packs: &'static str,
    /// The domain pack the demo installs first, as an install request.
    pub(crate) first_pack: &'static str,
    /// The other packs the demo installs.
    pub(crate) then_packs: &'static [&'static str],
    /// Text prompts of its packs' domains: the domain in words and the prompt.
    pub(crate) domain_prompts: &'static [(&'static str, &'static str)],
}

/// The models `scripts/fetch-model.sh` fetches.
pub(crate) const KNOWN_MODELS: &[KnownModel] = &[KnownModel {
    name: "smollm2-135m",
    file: "SmolLM2-135M-Instruct.Q4_1.gguf",
    base_id: "smollm2_135m",
    version: "1.0.0",
    prompts: &[
        "Write a Python function that returns the square of a number.",
        "What is 2+2?",
        "Give me three tips for staying healthy.",
    ],
    packs: "smollm2-packs",
    first_pack: "python_code@0.1.0",
    then_packs: &["smollm2_router", "rust_code@0.1.0", "reasoning@0.1.0"],
    domain_prompts: &[
        (
            "Python code",
            "import os\n\n\ndef list_python_files(directory):\n    ",
        ),
        (
            "Rust code",
            "use std::collections::HashMap;\n\n/// Counts the words in `text`.\npub fn word_counts(text: &str) -> HashMap<",
        ),
        (
            "reasoning",
            "Q: Eli has 12 apples and buys 3 bags of 5 apples. How many apples now?\nA:",
        ),
        (
            "general English",
            "The history of the printing press begins",
        ),
    ],
}];

/// The model named `name` and its GGUF, which must have been fetched.
pub(crate) fn locate_model(name: &str) -> anyhow::Result<(KnownModel, PathBuf)> {
    let Some(model) = KNOWN_MODELS.iter().find(|m| m.name == name) else {
        let known: Vec<&str> = KNOWN_MODELS.iter().map(|m| m.name).collect();
        bail!("unknown model `{name}`; known models: {}", known.join(", "));
    };
    let dir = match std::env::var_os("MODULARBASE_MODELS") {
        Some(dir) => PathBuf::from(dir),
        None => match std::env::var_os("HOME") {
            Some(home) => PathBuf::from(home).join(".cache/modularbase/models"),
            None => bail!("neither MODULARBASE_MODELS nor HOME is set: cannot find fetched models"),
        },
    };
    let path = dir.join(model.name).join(model.file);
    if !path.is_file() {
        bail!(
            "model `{name}` has not been fetched: `{}` is missing\nhelp: run `scripts/fetch-model.sh {name}` (it downloads the model from PyPI and checks it)",
            path.display()
        );
    }
    Ok((*model, path))
}
