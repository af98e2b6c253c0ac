//! `base train`: every tensor of a base core trained on general text.

use candle_core::{Device, Var};

use crate::base::BaseWeights;
use crate::config::BaseConfig;
use crate::error::{Result, RuntimeError};
use crate::train::corpus::Corpus;
use crate::train::forward::{BaseGraph, Named, base_tensors};
use crate::train::optimize::{StepReport, TrainOptions, TrainSummary, optimize};

/// Trains a base of shape `config` on `corpus`, from `start` (continued training, as for a
/// base upgrade) or from seeded random weights. The checkpoint stays until the caller has
/// written the result and calls [`clear_checkpoint`](crate::train::clear_checkpoint).
pub fn train_base(
    corpus: &Corpus,
    config: &BaseConfig,
    start: Option<&BaseWeights>,
    options: &TrainOptions,
    device: &Device,
    progress: &mut dyn FnMut(&StepReport),
) -> Result<(BaseWeights, TrainSummary)> {
    config.validate()?;
    check_window(options, config.context)?;
    let stream = corpus.tokens(&crate::vocab::Vocab::bytes())?;
    stream.check_len(options.seq)?;
    let initial = match start {
        Some(weights) if weights.config != *config => {
            return Err(RuntimeError::Config(format!(
                "the starting base has shape {:?}, not the requested {config:?}",
                weights.config
            )));
        }
        Some(weights) => base_tensors(weights, device)?,
        None => base_tensors(&BaseWeights::random(config, options.seed)?, device)?,
    };
    let layout = BaseWeights::layout(config);
    let mut vars = Vec::with_capacity(layout.len());
    for (name, _) in &layout {
        vars.push((name.clone(), Var::from_tensor(initial.get(name)?)?));
    }
    let named = Named(
        vars.iter()
            .map(|(n, v)| (n.clone(), v.as_tensor().clone()))
            .collect(),
    );
    let graph = BaseGraph::new(*config, &named, options.seq, device)?;
    let what = format!(
        "base {config:?}, {} training bytes, seq {}, batch {}, seed {}, {} steps, from {}",
        corpus.train.len(),
        options.seq,
        options.batch,
        options.seed,
        options.steps,
        if start.is_some() {
            "a given base"
        } else {
            "random"
        }
    );
    let summary = optimize(
        &vars,
        options,
        &what,
        |step| {
            let (x, y) = stream.batch(options.batch, options.seq, options.seed, step, device)?;
            graph.loss(&x, &y, None)
        },
        progress,
    )?;
    let weights = BaseWeights::from_f32(
        config,
        vars.iter()
            .map(|(n, v)| (n.clone(), v.as_tensor().clone()))
            .collect(),
    )?;
    Ok((weights, summary))
}

/// Refuses windows longer than the model's context.
pub(crate) fn check_window(options: &TrainOptions, context: usize) -> Result<()> {
    if options.seq == 0 || options.seq > context || options.batch == 0 {
        return Err(RuntimeError::Config(format!(
            "windows of {} tokens in batches of {} do not fit a context of {context}",
            options.seq, options.batch
        )));
    }
    Ok(())
}
