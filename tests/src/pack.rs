//! Packs on disk and as archives, described in one line.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use modularbase_pack::gguf::{GgmlType, GgufValue};
use modularbase_pack::weights::{sample_metadata, sample_weights, sample_writer};
use modularbase_pack::{BaseShape, DomainShape, ExpertFormat, RouterShape, WeightsShape};

/// The base every test pack is shaped for: width 32, two blocks, 16 tokens.
pub const TEST_BASE: BaseShape = BaseShape {
    hidden: 32,
    layers: 2,
    heads: 2,
    kv_heads: 1,
    ffn: 32,
    vocab: 16,
    context: 64,
    rope_theta: 10_000.0,
    rms_eps: 1e-5,
    tied_embeddings: true,
};

/// The shape of a test pack of `kind`: small weights for [`TEST_BASE`] that pass every
/// check (their tensor data is each pack's id and version, repeated, so that packs differ).
pub fn test_shape(kind: &str) -> WeightsShape {
    match kind {
        "base" => WeightsShape::Base(TEST_BASE),
        "router" => WeightsShape::Router(RouterShape {
            hidden: TEST_BASE.hidden,
            threshold: 0.2,
            general_key: false,
        }),
        _ => WeightsShape::Domain(DomainShape {
            hidden: TEST_BASE.hidden,
            width: 8,
            experts: 1,
            top_k: 1,
            expert_ffn: 8,
            insertion_layer: 0,
            expert_format: ExpertFormat::F16,
        }),
    }
}

/// Valid weights of a `kind` test pack (`base`, `router` or `domain`, shaped for the
/// tests' base) whose tensor data is `data`, as large as it: a base carries it in one
/// extra tensor, a domain pack in F16 experts sized to hold it.
pub fn synthetic_weights(kind: &str, data: &[u8]) -> Vec<u8> {
    let mut writer = match test_shape(kind) {
        WeightsShape::Domain(small) => {
            let experts = (data.len() >> 18).clamp(1, 256);
            let side = ((data.len() / (experts * 4)) as f64).sqrt().max(8.0) as usize;
            let shape = DomainShape {
                width: side,
                expert_ffn: side,
                experts,
                top_k: 1,
                expert_format: ExpertFormat::F16,
                ..small
            };
            return filled(&WeightsShape::Domain(shape), data);
        }
        shape => sample_writer(&shape, b"bench"),
    };
    let values = (data.len() / 2).max(1);
    let mut padding = data.to_vec();
    padding.resize(values * 2, 0);
    writer.tensor("bench.padding", &[values], GgmlType::F16, padding);
    writer.set("general.name", GgufValue::String("bench".into()));
    writer.to_bytes()
}

/// The weights of `shape` with tensor data taken from `data` in order (cycled).
fn filled(shape: &WeightsShape, data: &[u8]) -> Vec<u8> {
    let mut source = data.iter().copied().cycle();
    let mut writer = sample_metadata(shape);
    for t in shape.expected_tensors() {
        let kind = t.types[0];
        let bytes = kind
            .bytes_for(t.shape.iter().product::<usize>() as u64)
            .unwrap_or(0) as usize;
        writer.tensor(
            &t.name,
            &t.shape,
            kind,
            source.by_ref().take(bytes).collect(),
        );
    }
    writer.to_bytes()
}

/// A pack directory under construction: `PackDir::domain(dir, "python_code", "1.0.0").write()`.
#[derive(Debug, Clone)]
pub struct PackDir {
    root: PathBuf,
    pack: Pack,
}

impl PackDir {
    /// A minimal domain pack `id@version` for base `tiny_base` 1.0, in `parent/id`.
    pub fn domain(parent: &Path, id: &str, version: &str) -> Self {
        Self {
            root: parent.join(id),
            pack: Pack::domain(id, version).domain_label("test"),
        }
    }

    /// Replaces the weights bytes.
    pub fn weights(mut self, bytes: Vec<u8>) -> Self {
        self.pack = self.pack.weights(bytes);
        self
    }

    /// Writes the directory and returns its path.
    pub fn write(self) -> std::io::Result<PathBuf> {
        self.pack.write_to(&self.root)?;
        Ok(self.root)
    }
}

/// A pack described the way cargo-test-support describes crates:
/// `Pack::domain("python_code", "1.0.0").dep("reasoning", ">=1.1")`.
#[derive(Debug, Clone)]
pub struct Pack {
    /// The pack id.
    pub id: String,
    /// The version.
    pub version: String,
    kind: &'static str,
    name: String,
    domain: Option<String>,
    description: Option<String>,
    license: Option<String>,
    base: Option<(String, Vec<String>)>,
    deps: Vec<(String, String)>,
    conflicts: Vec<(String, String)>,
    fallback: Vec<String>,
    readme: Option<String>,
    weights: Vec<u8>,
}

impl Pack {
    fn new(id: &str, version: &str, kind: &'static str) -> Self {
        Self {
            id: id.to_owned(),
            version: version.to_owned(),
            kind,
            name: format!("{id} pack"),
            domain: None,
            description: None,
            license: None,
            base: None,
            deps: Vec::new(),
            conflicts: Vec::new(),
            fallback: Vec::new(),
            readme: Some(format!("# {id}\n\nA test pack.\n")),
            weights: sample_weights(&test_shape(kind), format!("{id}@{version}").as_bytes()),
        }
    }

    /// A base core.
    pub fn base(id: &str, version: &str) -> Self {
        Self::new(id, version, "base")
    }

    /// A router for base `tiny_base` 1.0.
    pub fn router(id: &str, version: &str) -> Self {
        Self {
            base: Some(("tiny_base".into(), vec!["1.0".into()])),
            ..Self::new(id, version, "router")
        }
    }

    /// A domain pack for base `tiny_base` 1.0, domain label = its id.
    pub fn domain(id: &str, version: &str) -> Self {
        Self {
            base: Some(("tiny_base".into(), vec!["1.0".into()])),
            domain: Some(id.replace('_', "-")),
            ..Self::new(id, version, "domain")
        }
    }

    /// Sets the base family and its compatible `MAJOR.MINOR` versions.
    pub fn base_compat(mut self, base: &str, compat: &[&str]) -> Self {
        self.base = Some((
            base.to_owned(),
            compat.iter().map(|c| (*c).to_owned()).collect(),
        ));
        self
    }

    /// Adds a dependency.
    pub fn dep(mut self, id: &str, req: &str) -> Self {
        self.deps.push((id.to_owned(), req.to_owned()));
        self
    }

    /// Adds a conflict.
    pub fn conflict(mut self, id: &str, req: &str) -> Self {
        self.conflicts.push((id.to_owned(), req.to_owned()));
        self
    }

    /// Sets the fallback chain.
    pub fn fallback(mut self, ids: &[&str]) -> Self {
        self.fallback = ids.iter().map(|i| (*i).to_owned()).collect();
        self
    }

    /// Sets the title.
    pub fn name(mut self, name: &str) -> Self {
        self.name = name.to_owned();
        self
    }

    /// Sets the domain label.
    pub fn domain_label(mut self, domain: &str) -> Self {
        self.domain = Some(domain.to_owned());
        self
    }

    /// Sets the description.
    pub fn description(mut self, text: &str) -> Self {
        self.description = Some(text.to_owned());
        self
    }

    /// Sets the licence (an SPDX expression).
    pub fn license(mut self, spdx: &str) -> Self {
        self.license = Some(spdx.to_owned());
        self
    }

    /// Sets the model card (`None`: no readme).
    pub fn readme(mut self, text: Option<&str>) -> Self {
        self.readme = text.map(str::to_owned);
        self
    }

    /// Replaces the weights (they must pass the weights checks to be accepted).
    pub fn weights(mut self, bytes: Vec<u8>) -> Self {
        self.weights = bytes;
        self
    }

    /// The `pack.toml` text.
    pub fn manifest(&self) -> String {
        let mut t = String::from("[pack]\n");
        let _ = writeln!(
            t,
            "id = \"{}\"\nversion = \"{}\"\nname = \"{}\"\nkind = \"{}\"",
            self.id, self.version, self.name, self.kind
        );
        if let Some(domain) = &self.domain {
            let _ = writeln!(t, "domain = \"{domain}\"");
        }
        if let Some(description) = &self.description {
            let _ = writeln!(t, "description = \"{description}\"");
        }
        if let Some(license) = &self.license {
            let _ = writeln!(t, "license = \"{license}\"");
        }
        if let Some((base, compat)) = &self.base {
            let _ = writeln!(t, "base = \"{base}\"\nbase_compatibility = {compat:?}");
        }
        if !self.fallback.is_empty() {
            let _ = writeln!(t, "fallback = {:?}", self.fallback);
        }
        if self.readme.is_some() {
            t.push_str("readme = \"README.md\"\n");
        }
        for (section, entries) in [("dependencies", &self.deps), ("conflicts", &self.conflicts)] {
            if !entries.is_empty() {
                let _ = writeln!(t, "\n[{section}]");
                for (id, req) in entries {
                    let _ = writeln!(t, "{id} = \"{req}\"");
                }
            }
        }
        t
    }

    /// Writes the pack directory at `dir`.
    pub fn write_to(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join("pack.toml"), self.manifest())?;
        std::fs::write(dir.join("weights.gguf"), &self.weights)?;
        if let Some(readme) = &self.readme {
            std::fs::write(dir.join("README.md"), readme)?;
        }
        Ok(())
    }

    /// The pack's `.mbpack` archive, built by the pack crate.
    /// The archive as `pack build` would lay it out, without any of its checks: for
    /// uploads that the registry must refuse.
    pub fn unchecked_archive(&self) -> Vec<u8> {
        let mut files = vec![("pack.toml", self.manifest().into_bytes())];
        if let Some(readme) = &self.readme {
            files.push(("README.md", readme.clone().into_bytes()));
        }
        files.push(("weights.gguf", self.weights.clone()));
        let mut tar = tar::Builder::new(Vec::new());
        for (name, data) in files {
            let mut header = tar::Header::new_gnu();
            header.set_path(name).unwrap();
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            tar.append(&header, data.as_slice()).unwrap();
        }
        zstd::encode_all(tar.into_inner().unwrap().as_slice(), 3).unwrap()
    }

    /// The archive `pack build` makes (panics if the pack is refused).
    pub fn archive(&self) -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        self.write_to(dir.path()).unwrap();
        let mut bytes = Vec::new();
        modularbase_pack::build_archive(dir.path(), &mut bytes)
            .unwrap_or_else(|e| panic!("{}@{}: {e}", self.id, self.version));
        bytes
    }
}
