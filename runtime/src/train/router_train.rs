//! `router train`: the router's projection, learned so that prompts of each domain land
//! near their domain's centroid (a prototype classifier over cosine similarity), and the
//! pack keys that router space gives.

use candle_core::{D, DType, Device, Tensor, Var};

use crate::base::BaseModel;
use crate::error::{Result, RuntimeError};
use crate::router::{DEFAULT_THRESHOLD, Router};
use crate::train::optimize::{StepReport, TrainOptions, TrainSummary, optimize};

/// Sharpness of the cosine scores in the router's training loss.
const SCALE: f64 = 10.0;

/// Mean-pooled base hidden states `[snippets, hidden]` of `snippets`: what the router is
/// trained on and pack keys are made of.
pub fn pooled_snippets(base: &mut BaseModel, snippets: &[Vec<u8>]) -> Result<Tensor> {
    if snippets.is_empty() {
        return Err(RuntimeError::Config("no text to pool".into()));
    }
    let mut rows = Vec::with_capacity(snippets.len());
    for snippet in snippets {
        let text = String::from_utf8_lossy(snippet);
        let tokens = base.vocab().encode(&text)?;
        rows.push(base.pooled_hidden(&tokens)?.to_dtype(DType::F32)?);
    }
    Ok(Tensor::stack(&rows, 0)?.to_device(&Device::Cpu)?)
}

/// Rows scaled to unit length.
fn unit_rows(x: &Tensor) -> Result<Tensor> {
    let norms = (x.sqr()?.sum_keepdim(D::Minus1)? + 1e-12)?.sqrt()?;
    Ok(x.broadcast_div(&norms)?)
}

/// Trains the router's projection on `domains` (a name and the [`pooled_snippets`] of its
/// text each) for a base on `device`. `options.batch` and `options.seq` are unused: every
/// snippet is in every step.
pub fn train_router(
    domains: &[(String, Tensor)],
    options: &TrainOptions,
    device: &Device,
    progress: &mut dyn FnMut(&StepReport),
) -> Result<(Router, TrainSummary)> {
    let count = |pooled: &Tensor| pooled.dim(0).unwrap_or(0);
    if domains.len() < 2 || domains.iter().any(|(_, p)| count(p) == 0) {
        return Err(RuntimeError::Config(
            "a router needs at least two domains, each with some text".into(),
        ));
    }
    let mut features = Vec::new();
    let mut labels = Vec::new();
    for (d, (_, pooled)) in domains.iter().enumerate() {
        features.push(pooled.to_device(&Device::Cpu)?);
        labels.extend(std::iter::repeat_n(d as u32, count(pooled)));
    }
    let cpu = Device::Cpu;
    let features = Tensor::cat(&features, 0)?;
    let (rows, hidden) = features.dims2()?;
    // Row d of `averaging` averages the snippets of domain d.
    let mut averaging = vec![0f32; domains.len() * rows];
    for (r, &d) in labels.iter().enumerate() {
        averaging[d as usize * rows + r] = 1.0 / count(&domains[d as usize].1) as f32;
    }
    let averaging = Tensor::from_vec(averaging, (domains.len(), rows), &cpu)?;
    let labels = Tensor::from_vec(labels, rows, &cpu)?;
    let proj = Var::from_tensor(&Tensor::eye(hidden, DType::F32, &cpu)?)?;
    let vars = vec![("router.proj.weight".to_owned(), proj.clone())];
    let what = format!(
        "router over {} domains, {rows} snippets, seed {}, {} steps",
        domains.len(),
        options.seed,
        options.steps
    );
    let summary = optimize(
        &vars,
        options,
        &what,
        |_| {
            let projected = unit_rows(&features.matmul(&proj.as_tensor().t()?)?)?;
            let centroids = unit_rows(&averaging.matmul(&projected)?)?;
            let logits = (projected.matmul(&centroids.t()?)? * SCALE)?;
            Ok(candle_nn::loss::cross_entropy(&logits, &labels)?)
        },
        progress,
    )?;
    let router = Router::from_projection(proj.as_tensor(), DEFAULT_THRESHOLD, device)?;
    Ok((router, summary))
}

/// A pack's routing key: the normalised mean of its snippets in `router` space.
pub fn pack_key(base: &mut BaseModel, router: &Router, snippets: &[Vec<u8>]) -> Result<Tensor> {
    key_of_pooled(router, &pooled_snippets(base, snippets)?)
}

/// A pack's routing key from its snippets' [`pooled_snippets`] `[snippets, hidden]`.
pub fn key_of_pooled(router: &Router, pooled: &Tensor) -> Result<Tensor> {
    let mut sum: Option<Tensor> = None;
    for row in 0..pooled.dim(0)? {
        let projected = router.project(&pooled.get(row)?)?.to_device(&Device::Cpu)?;
        sum = Some(match sum {
            Some(acc) => (acc + projected)?,
            None => projected,
        });
    }
    let sum = sum.ok_or_else(|| RuntimeError::Config("a pack key needs some text".into()))?;
    let norm = sum.sqr()?.sum_all()?.sqrt()?;
    Ok(sum.broadcast_div(&norm)?)
}
