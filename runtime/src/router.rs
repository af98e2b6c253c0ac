//! The router: projects a prompt's mean-pooled base hidden state and scores it against each
//! pack's `pack.key` by cosine similarity. A new pack plugs in with its key alone; the
//! router is never retrained for it. Below the confidence threshold, or when the router's
//! own general-text key scores higher than every pack, the prompt goes to the fallback pack
//! (or the base alone): text no pack knows is not handed to one.
//!
//! GGUF layout: `general.architecture = "modularbase-router"`, `modularbase.hidden_size`,
//! `modularbase.router_threshold`, tensor `router.proj.weight` (`[hidden, hidden]`, F16),
//! optionally `router.general.weight` (`[hidden]`, the general-text key in router space).

use std::path::Path;

use candle_core::quantized::gguf_file::Value;
use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
use candle_core::{DType, Device, Module, Tensor};

use modularbase_pack::PackId;
use modularbase_pack::weights::{ROUTER_ARCHITECTURE, ROUTER_GENERAL_KEY, RouterShape};

use crate::error::Result;
use crate::gguf::{GgufFile, u32_value, write_gguf};
use crate::init::Init;

/// Cosine similarity below which no pack is chosen, when the router file sets none.
pub const DEFAULT_THRESHOLD: f32 = 0.2;

/// A pack's score for one prompt.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteScore {
    /// The pack.
    pub id: PackId,
    /// Cosine similarity of the projected prompt and the pack's key.
    pub score: f32,
}

/// Where a prompt goes.
#[derive(Debug, Clone, PartialEq)]
pub enum Route {
    /// The best pack cleared the threshold.
    Pack(RouteScore),
    /// No pack did, or the router's general-text key beat them all, or none is installed:
    /// use the fallback pack.
    LowConfidence(Option<RouteScore>),
}

/// Router weights: a square projection of the base's hidden space, a threshold, and
/// optionally the key of general text.
pub struct Router {
    proj: Option<QMatMul>,
    threshold: f32,
    general: Option<Tensor>,
    bytes: u64,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router")
            .field("threshold", &self.threshold)
            .field("general_key", &self.general.is_some())
            .field("bytes", &self.bytes)
            .finish()
    }
}

impl Router {
    /// No router pack: prompts are matched against pack keys in base hidden space directly.
    pub fn identity() -> Self {
        Self {
            proj: None,
            threshold: DEFAULT_THRESHOLD,
            general: None,
            bytes: 0,
        }
    }

    /// A router with projection `proj` (`[hidden, hidden]`).
    pub fn from_projection(proj: &Tensor, threshold: f32, device: &Device) -> Result<Self> {
        let q = QTensor::quantize(
            &proj.to_device(&Device::Cpu)?.to_dtype(DType::F32)?,
            GgmlDType::F16,
        )?;
        let bytes = q.storage_size_in_bytes() as u64;
        let proj = QMatMul::TensorF16(q.dequantize_f16(device)?);
        Ok(Self {
            proj: Some(proj),
            threshold,
            general: None,
            bytes,
        })
    }

    /// A random router for a base of width `hidden`.
    pub fn random(hidden: usize, seed: u64, device: &Device) -> Result<Self> {
        let proj = Init::new(seed).normal(&[hidden, hidden], 1.0 / (hidden as f32).sqrt())?;
        Self::from_projection(&proj, DEFAULT_THRESHOLD, device)
    }

    /// Reads a router's `weights.gguf`.
    pub fn read(path: &Path, device: &Device) -> Result<Self> {
        let mut file = GgufFile::open(path, "router")?;
        let shape = RouterShape::from_header(&file.header).map_err(|e| file.bad(e.to_string()))?;
        let proj = file.tensor("router.proj.weight", &[shape.hidden, shape.hidden])?;
        let router =
            Self::from_projection(&proj.dequantize(&Device::Cpu)?, shape.threshold, device)?;
        if !shape.general_key {
            return Ok(router);
        }
        let key = file.tensor(ROUTER_GENERAL_KEY, &[shape.hidden])?;
        router.with_general_key(&key.dequantize(&Device::Cpu)?)
    }

    /// Writes the router's `weights.gguf` (identity routers have nothing to write).
    pub fn write(&self, path: &Path, name: &str) -> Result<()> {
        let Some(proj) = &self.proj else {
            return Err(crate::RuntimeError::Config(
                "an identity router has no weights to write".into(),
            ));
        };
        let weight = proj
            .dequantize_f16()?
            .to_device(&Device::Cpu)?
            .to_dtype(DType::F32)?;
        let hidden = weight.dim(0)?;
        let metadata = vec![
            (
                "general.architecture",
                Value::String(ROUTER_ARCHITECTURE.into()),
            ),
            ("general.name", Value::String(name.to_owned())),
            ("modularbase.hidden_size", u32_value(hidden)),
            ("modularbase.router_threshold", Value::F32(self.threshold)),
        ];
        let mut tensors = vec![(
            "router.proj.weight".to_owned(),
            QTensor::quantize(&weight, GgmlDType::F16)?,
        )];
        if let Some(general) = &self.general {
            let general = general.to_device(&Device::Cpu)?.to_dtype(DType::F32)?;
            tensors.push((
                ROUTER_GENERAL_KEY.to_owned(),
                QTensor::quantize(&general, GgmlDType::F32)?,
            ));
        }
        write_gguf(path, &metadata, &tensors)
    }

    /// The same router with `key` (`[hidden]`, in router space) as the key of general text:
    /// a prompt closer to it than to every pack goes to no pack.
    pub fn with_general_key(self, key: &Tensor) -> Result<Self> {
        let general = Some(unit(&key.to_dtype(DType::F32)?)?);
        Ok(Self { general, ..self })
    }

    /// The same router with confidence threshold `threshold`.
    pub fn with_threshold(self, threshold: f32) -> Self {
        Self { threshold, ..self }
    }

    /// Bytes of its weights.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The confidence threshold.
    pub fn threshold(&self) -> f32 {
        self.threshold
    }

    /// A pooled hidden state (`[hidden]`) in router space, as a unit vector: what pack keys
    /// are compared with.
    pub fn project(&self, pooled: &Tensor) -> Result<Tensor> {
        let query = match &self.proj {
            Some(proj) => proj.forward(&pooled.unsqueeze(0)?)?.squeeze(0)?,
            None => pooled.clone(),
        };
        unit(&query.to_dtype(DType::F32)?)
    }

    /// Scores every key against the prompt's pooled hidden state (`[hidden]`), best first,
    /// and decides the route.
    pub fn route(
        &self,
        pooled: &Tensor,
        keys: &[(PackId, Tensor)],
    ) -> Result<(Vec<RouteScore>, Route)> {
        let (scores, contender) = self.ranked(&self.project(pooled)?, keys)?;
        let route = match contender {
            Some(best) if best.score >= self.threshold => Route::Pack(best),
            _ => Route::LowConfidence(scores.first().cloned()),
        };
        Ok((scores, route))
    }

    /// The pack the prompt would go to whatever the threshold: the best-scoring one, unless
    /// the general-text key scores higher (what a threshold is calibrated on).
    pub fn contender(
        &self,
        pooled: &Tensor,
        keys: &[(PackId, Tensor)],
    ) -> Result<Option<RouteScore>> {
        Ok(self.ranked(&self.project(pooled)?, keys)?.1)
    }

    /// Every key's score against the projected prompt `query`, best first, and the
    /// [`Self::contender`].
    fn ranked(
        &self,
        query: &Tensor,
        keys: &[(PackId, Tensor)],
    ) -> Result<(Vec<RouteScore>, Option<RouteScore>)> {
        let mut scores = Vec::with_capacity(keys.len());
        for (id, key) in keys {
            let key = unit(&key.to_device(query.device())?.to_dtype(DType::F32)?)?;
            let score = (query * &key)?.sum_all()?.to_scalar::<f32>()?;
            scores.push(RouteScore {
                id: id.clone(),
                score,
            });
        }
        scores.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.id.cmp(&b.id)));
        let general = self.general_score_of(query)?.unwrap_or(f32::NEG_INFINITY);
        let contender = scores.first().filter(|best| best.score > general).cloned();
        Ok((scores, contender))
    }

    /// The cosine similarity of the prompt's pooled hidden state (`[hidden]`) and the
    /// general-text key, when the router has one.
    pub fn general_score(&self, pooled: &Tensor) -> Result<Option<f32>> {
        self.general_score_of(&self.project(pooled)?)
    }

    /// [`Self::general_score`] of a projected prompt.
    fn general_score_of(&self, query: &Tensor) -> Result<Option<f32>> {
        let Some(key) = &self.general else {
            return Ok(None);
        };
        let key = key.to_device(query.device())?;
        Ok(Some((query * &key)?.sum_all()?.to_scalar::<f32>()?))
    }
}

/// A threshold calibrated on held-out snippets: `domain` holds, per domain snippet, whether
/// its best pack was its own and that best score; `general` the best score of each snippet
/// no pack should take. Returns the threshold that gets the most snippets right (a domain
/// snippet right when it reaches its own pack, a general one when it falls below) — the
/// lowest such, so packs lose as little as possible — with the share of general snippets
/// below it and of domain snippets that still reach their pack.
pub fn calibrate_threshold(domain: &[(bool, f32)], general: &[f32]) -> (f32, f64, f64) {
    let mut candidates: Vec<f32> = domain
        .iter()
        .map(|&(_, s)| s)
        .chain(general.iter().map(|&s| s + f32::EPSILON))
        .chain([DEFAULT_THRESHOLD])
        .filter(|s| s.is_finite())
        .collect();
    candidates.sort_by(f32::total_cmp);
    let right_at = |t: f32| {
        let kept = domain.iter().filter(|&&(own, s)| own && s >= t).count();
        let below = general.iter().filter(|&&s| s < t).count();
        (kept, below)
    };
    let mut best = (DEFAULT_THRESHOLD, right_at(DEFAULT_THRESHOLD));
    for &t in &candidates {
        let counts = right_at(t);
        if counts.0 + counts.1 > best.1.0 + best.1.1 {
            best = (t, counts);
        }
    }
    let share = |n: usize, of: usize| n as f64 / of.max(1) as f64;
    (
        best.0,
        share(best.1.1, general.len()),
        share(best.1.0, domain.len()),
    )
}

/// `v / |v|` (zero stays zero).
fn unit(v: &Tensor) -> Result<Tensor> {
    let norm = v.sqr()?.sum_all()?.sqrt()?.to_scalar::<f32>()?;
    Ok(if norm > 0.0 {
        (v / f64::from(norm))?
    } else {
        v.clone()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_calibrated_threshold_gets_most_snippets_right_and_is_the_lowest_that_does() {
        let domain = [(true, 0.9), (true, 0.8), (false, 0.7), (true, 0.6)];
        let general = [0.5, 0.65, 0.3];
        // Just above 0.5: three domain snippets reach their pack and two general ones fall
        // below (5 right); just above 0.65 also makes 5 (two and three); the lower wins.
        let (threshold, below, kept) = calibrate_threshold(&domain, &general);
        assert!(threshold > 0.5 && threshold < 0.6, "{threshold}");
        assert!((below - 2.0 / 3.0).abs() < 1e-9 && (kept - 0.75).abs() < 1e-9);
        // With nothing to separate, the default stays.
        assert_eq!(calibrate_threshold(&[], &[]).0, DEFAULT_THRESHOLD);
    }

    #[allow(clippy::unwrap_used)]
    #[test]
    fn a_prompt_closer_to_the_general_key_than_to_every_pack_gets_no_pack() {
        let device = Device::Cpu;
        let v = |x: &[f32]| Tensor::new(x, &device).unwrap();
        let keys = vec![
            ("code".parse::<PackId>().unwrap(), v(&[1.0, 0.0, 0.0])),
            ("sums".parse::<PackId>().unwrap(), v(&[0.0, 1.0, 0.0])),
        ];
        let eye = Tensor::eye(3, DType::F32, &device).unwrap();
        let router = Router::from_projection(&eye, 0.1, &device)
            .unwrap()
            .with_general_key(&v(&[0.0, 0.0, 2.0]))
            .unwrap();
        // Mostly general, a little code: code clears the threshold but the general key wins.
        let general_prompt = v(&[0.3, 0.0, 0.9]);
        let (scores, route) = router.route(&general_prompt, &keys).unwrap();
        assert_eq!(scores[0].id.as_str(), "code");
        assert!(scores[0].score > router.threshold());
        assert_eq!(route, Route::LowConfidence(Some(scores[0].clone())));
        let general = router.general_score(&general_prompt).unwrap().unwrap();
        assert!(
            (general - 0.9 / (0.09f32 + 0.81).sqrt()).abs() < 1e-3,
            "{general}"
        );
        // Mostly code: the pack.
        let (_, route) = router.route(&v(&[0.9, 0.0, 0.3]), &keys).unwrap();
        assert!(matches!(route, Route::Pack(best) if best.id.as_str() == "code"));

        // The key survives writing and reading, and a router without one routes as before.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("weights.gguf");
        router.write(&path, "router").unwrap();
        let read = Router::read(&path, &device).unwrap();
        let (_, route) = read.route(&general_prompt, &keys).unwrap();
        assert!(matches!(route, Route::LowConfidence(_)));
        let plain = Router::from_projection(&eye, 0.1, &device).unwrap();
        assert_eq!(plain.general_score(&general_prompt).unwrap(), None);
        let (_, route) = plain.route(&general_prompt, &keys).unwrap();
        assert!(matches!(route, Route::Pack(_)));
    }
}
