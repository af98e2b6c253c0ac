//! `pack train` (base frozen; adapters, gate and experts trained on domain text) and
//! `pack align` (base and experts frozen; only the input adapter trained on a mixed set).

use std::cell::RefCell;

use candle_core::quantized::QTensor;
use candle_core::{Device, Tensor, Var};

use crate::base::BaseWeights;
use crate::error::{Result, RuntimeError};
use crate::init::Init;
use crate::pack_module::{PackConfig, PackWeights};
use crate::train::base_train::check_window;
use crate::train::corpus::Corpus;
use crate::train::forward::{BaseGraph, Named, base_tensors};
use crate::train::frozen::FrozenWeights;
use crate::train::optimize::{StepReport, TrainOptions, TrainSummary, optimize};
use crate::train::pack_net::pack_delta;
use crate::train::prefix_cache::PrefixCache;

/// Weight of the load-balancing term in a pack's loss.
const BALANCE_WEIGHT: f64 = 0.01;

/// Trains a pack of shape `config` on `corpus` over the frozen `base`. Returns the trained
/// tensors in layout order, without `pack.key` (see [`crate::train::pack_key`]).
pub fn train_pack(
    base: &BaseWeights,
    config: &PackConfig,
    corpus: &Corpus,
    options: &TrainOptions,
    device: &Device,
    progress: &mut dyn FnMut(&StepReport),
) -> Result<(Vec<(String, Tensor)>, TrainSummary)> {
    check_fit(base, config)?;
    let mut init = Init::new(options.seed);
    let std_of = |fan_in: usize| 1.0 / (fan_in as f32).sqrt();
    let mut vars = Vec::new();
    for (name, shape) in PackWeights::layout(config) {
        let tensor = match name.as_str() {
            "pack.key" => continue,
            // The pack starts as the identity: its output adapter is zero.
            "pack.out.weight" => {
                Tensor::zeros(shape.as_slice(), candle_core::DType::F32, &Device::Cpu)?
            }
            _ => init.normal(&shape, std_of(shape[1]))?,
        };
        vars.push((name, Var::from_tensor(&tensor.to_device(device)?)?));
    }
    let what = format!(
        "pack {config:?} on base {:?}, {} training bytes, seq {}, batch {}, seed {}, {} steps",
        base.config,
        corpus.train.len(),
        options.seq,
        options.batch,
        options.seed,
        options.steps
    );
    let summary = run(
        base,
        config,
        &vars,
        Named::default(),
        corpus,
        options,
        &what,
        device,
        progress,
    )?;
    let tensors = vars
        .into_iter()
        .map(|(n, v)| (n, v.as_tensor().clone()))
        .collect();
    Ok((tensors, summary))
}

/// Re-trains only `pack.in.weight` of `pack` for the new `base` on the `mix` corpus; every
/// other tensor is kept exactly as stored.
pub fn align_pack(
    base: &BaseWeights,
    mut pack: PackWeights,
    mix: &Corpus,
    options: &TrainOptions,
    device: &Device,
    progress: &mut dyn FnMut(&StepReport),
) -> Result<(PackWeights, TrainSummary)> {
    check_fit(base, &pack.config)?;
    let mut frozen = Named::dequantized(&pack.tensors, device)?;
    let input = frozen
        .0
        .remove(INPUT)
        .ok_or_else(|| RuntimeError::Config(format!("the pack has no `{INPUT}`")))?;
    let vars = vec![(INPUT.to_owned(), Var::from_tensor(&input)?)];
    let what = format!(
        "align {:?} to base {:?}, {} mixed bytes, seq {}, batch {}, seed {}, {} steps",
        pack.config,
        base.config,
        mix.train.len(),
        options.seq,
        options.batch,
        options.seed,
        options.steps
    );
    let summary = run(
        base,
        &pack.config,
        &vars,
        frozen,
        mix,
        options,
        &what,
        device,
        progress,
    )?;
    let trained = vars[0].1.as_tensor().to_device(&Device::Cpu)?;
    // Only the input adapter is replaced; every other tensor keeps its stored bytes.
    for (_, tensor) in pack.tensors.iter_mut().filter(|(n, _)| n == INPUT) {
        *tensor = QTensor::quantize(&trained, tensor.dtype())?;
    }
    Ok((pack, summary))
}

const INPUT: &str = "pack.in.weight";

fn check_fit(base: &BaseWeights, config: &PackConfig) -> Result<()> {
    config.validate()?;
    if config.hidden != base.config.hidden || config.insertion_layer >= base.config.layers {
        return Err(RuntimeError::Config(format!(
            "a pack of width {} plugging in after block {} does not fit a base of width {} with {} blocks",
            config.hidden, config.insertion_layer, base.config.hidden, base.config.layers
        )));
    }
    Ok(())
}

/// The shared loop: base frozen, `vars` (plus `frozen` pack tensors) form the pack.
#[allow(clippy::too_many_arguments)]
fn run(
    base: &BaseWeights,
    config: &PackConfig,
    vars: &[(String, Var)],
    frozen: Named,
    corpus: &Corpus,
    options: &TrainOptions,
    what: &str,
    device: &Device,
    progress: &mut dyn FnMut(&StepReport),
) -> Result<TrainSummary> {
    check_window(options, base.config.context)?;
    let stream = corpus.tokens(&base.vocab)?;
    stream.check_len(options.seq)?;
    let mut pack_named = frozen;
    for (name, var) in vars {
        pack_named.0.insert(name.clone(), var.as_tensor().clone());
    }
    let balance = RefCell::new(None);
    let delta = |h: &Tensor| -> Result<Tensor> {
        let (d, b) = pack_delta(config, &pack_named, h)?;
        balance.replace(Some(b));
        Ok(d)
    };
    let with_balance = |loss: Tensor| -> Result<Tensor> {
        match balance.take() {
            Some(b) => Ok((loss + (b * BALANCE_WEIGHT)?)?),
            None => Ok(loss),
        }
    };
    let batch = |step| stream.batch(options.batch, options.seq, options.seed, step, device);
    let layers = base.config.layers;
    let plug_at = config.insertion_layer;
    if options.dense_base {
        // The reference: every base matrix dequantized, candle's full backward.
        let base_named = base_tensors(base, device)?;
        let graph = BaseGraph::new(base.config, &base_named, options.seq, device)?;
        return optimize(
            vars,
            options,
            what,
            |step| {
                let (x, y) = batch(step)?;
                with_balance(graph.loss(&x, &y, Some((plug_at, &delta)))?)
            },
            progress,
        );
    }
    // The base stays quantized. Blocks up to the pack run without a graph (nothing there is
    // trained); the blocks after it pass gradients to their input only.
    let frozen_base = FrozenWeights::new(base, plug_at + 1, device)?;
    let graph = BaseGraph::new(base.config, &frozen_base, options.seq, device)?;
    let mut cache = match &options.prefix_cache {
        Some(dir) => Some(PrefixCache::new(dir, base, plug_at, device)?),
        None => None,
    };
    let mut summary = optimize(
        vars,
        options,
        what,
        |step| {
            let (x, y) = batch(step)?;
            let h = match cache.as_mut() {
                Some(cache) => cache.get(&x, |rows| graph.prefix(rows, plug_at))?,
                None => graph.prefix(&x, plug_at)?,
            };
            let h = (&h + delta(&h)?)?;
            let h = graph.blocks(h, plug_at + 1..layers, None)?;
            with_balance(graph.loss_of_hidden(&graph.final_norm(&h)?, &y)?)
        },
        progress,
    )?;
    if let Some(cache) = cache {
        summary.prefix_cache = cache.counts();
    }
    Ok(summary)
}
