//! The training loop: AdamW with warm-up and cosine decay over `Var`s, a progress callback
//! per step, and checkpoints so an interrupted run resumes where it stopped.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};

use crate::error::{Result, RuntimeError};

/// How long and how a training run goes.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainOptions {
    /// Optimizer steps.
    pub steps: usize,
    /// Windows per step.
    pub batch: usize,
    /// Tokens per window.
    pub seq: usize,
    /// Peak learning rate.
    pub lr: f64,
    /// Seed for initial weights and data order.
    pub seed: u64,
    /// Save a checkpoint every this many steps (0: never).
    pub checkpoint_every: usize,
    /// Where checkpoints go (`None`: no checkpoints).
    pub checkpoint_dir: Option<PathBuf>,
    /// Pack training only: run the base dequantized with candle's full backward (weight
    /// gradients included) instead of frozen and quantized. The slower reference the frozen
    /// path is measured and tested against.
    pub dense_base: bool,
    /// Pack training only: where the frozen blocks' outputs before the pack are cached
    /// (`None`: computed every step).
    pub prefix_cache: Option<PathBuf>,
}

impl Default for TrainOptions {
    fn default() -> Self {
        Self {
            steps: 300,
            batch: 16,
            seq: 128,
            lr: 3e-3,
            seed: 1,
            checkpoint_every: 50,
            checkpoint_dir: None,
            dense_base: false,
            prefix_cache: None,
        }
    }
}

/// One finished step, for progress displays.
#[derive(Debug, Clone, Copy)]
pub struct StepReport {
    /// Steps done so far (1-based).
    pub step: usize,
    /// Steps in the run.
    pub steps: usize,
    /// This step's loss (nats per byte, plus any auxiliary term).
    pub loss: f32,
}

/// What a run did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainSummary {
    /// The step the run resumed from (0: a fresh run).
    pub resumed_at: usize,
    /// Mean loss of the first (up to) ten steps this run executed.
    pub first_loss: f32,
    /// Mean loss of the last (up to) ten steps.
    pub last_loss: f32,
    /// Seconds per step this run executed (mean).
    pub seconds_per_step: f64,
    /// The process's peak resident memory at the end, in bytes (Linux; `None` elsewhere).
    pub peak_rss: Option<u64>,
    /// Windows whose frozen prefix was read from the prefix cache, and computed.
    pub prefix_cache: (usize, usize),
}

const STATE_FILE: &str = "checkpoint.json";
const TENSORS_FILE: &str = "checkpoint.safetensors";

/// Runs `options.steps` steps of AdamW on `vars` (named), minimising `loss_at(step)`.
///
/// `what` describes the run (shapes, data, seed); a checkpoint written for a different
/// description is refused rather than silently mixed in.
pub(crate) fn optimize(
    vars: &[(String, Var)],
    options: &TrainOptions,
    what: &str,
    mut loss_at: impl FnMut(usize) -> Result<Tensor>,
    progress: &mut dyn FnMut(&StepReport),
) -> Result<TrainSummary> {
    let start = match &options.checkpoint_dir {
        Some(dir) => resume(dir, vars, what)?,
        None => 0,
    };
    let params = ParamsAdamW {
        lr: options.lr,
        weight_decay: 0.0,
        ..ParamsAdamW::default()
    };
    let mut optimizer = AdamW::new(vars.iter().map(|(_, v)| v.clone()).collect(), params)?;
    let mut losses = Vec::new();
    let started = std::time::Instant::now();
    for step in start..options.steps {
        optimizer.set_learning_rate(learning_rate(options, step));
        let loss = loss_at(step)?;
        optimizer.backward_step(&loss)?;
        let value = loss.to_scalar::<f32>()?;
        if !value.is_finite() {
            return Err(RuntimeError::Config(format!(
                "training diverged at step {} (loss {value}); lower --lr",
                step + 1
            )));
        }
        losses.push(value);
        progress(&StepReport {
            step: step + 1,
            steps: options.steps,
            loss: value,
        });
        if let Some(dir) = &options.checkpoint_dir
            && options.checkpoint_every > 0
            && (step + 1) % options.checkpoint_every == 0
            && step + 1 < options.steps
        {
            save(dir, vars, what, step + 1)?;
        }
    }
    let mean = |xs: &[f32]| {
        if xs.is_empty() {
            f32::NAN
        } else {
            xs.iter().sum::<f32>() / xs.len() as f32
        }
    };
    let edge = losses.len().min(10);
    Ok(TrainSummary {
        resumed_at: start,
        first_loss: mean(&losses[..edge]),
        last_loss: mean(&losses[losses.len() - edge..]),
        seconds_per_step: started.elapsed().as_secs_f64() / losses.len().max(1) as f64,
        peak_rss: peak_rss(),
        prefix_cache: (0, 0),
    })
}

/// The process's peak resident set size (`VmHWM` in `/proc/self/status`), in bytes.
pub fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Linear warm-up over the first 5% of steps, then cosine decay to a tenth of the peak.
fn learning_rate(options: &TrainOptions, step: usize) -> f64 {
    let warmup = (options.steps / 20).max(1);
    if step < warmup {
        return options.lr * (step + 1) as f64 / warmup as f64;
    }
    let progress = (step - warmup) as f64 / (options.steps - warmup).max(1) as f64;
    let cosine = 0.5 * (1.0 + (std::f64::consts::PI * progress).cos());
    options.lr * (0.1 + 0.9 * cosine)
}

#[derive(serde::Serialize, serde::Deserialize)]
struct State {
    what: String,
    step: usize,
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> RuntimeError {
    let path = path.to_owned();
    move |source| RuntimeError::Io {
        action,
        path,
        source,
    }
}

/// Writes the weights, then the state naming the step (renamed into place, so a crash
/// leaves the previous checkpoint or this one).
fn save(dir: &Path, vars: &[(String, Var)], what: &str, step: usize) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(io("create", dir))?;
    let tensors: HashMap<String, Tensor> = vars
        .iter()
        .map(|(name, var)| (name.clone(), var.as_tensor().clone()))
        .collect();
    let staged = dir.join(format!("{TENSORS_FILE}.{step}"));
    candle_core::safetensors::save(&tensors, &staged)?;
    let state = serde_json::to_vec(&State {
        what: what.to_owned(),
        step,
    })
    .map_err(|e| RuntimeError::Config(e.to_string()))?;
    let state_tmp = dir.join(format!("{STATE_FILE}.tmp"));
    std::fs::write(&state_tmp, state).map_err(io("write", &state_tmp))?;
    std::fs::rename(&staged, dir.join(TENSORS_FILE)).map_err(io("rename", &staged))?;
    std::fs::rename(&state_tmp, dir.join(STATE_FILE)).map_err(io("rename", &state_tmp))?;
    Ok(())
}

/// Loads a checkpoint in `dir` into `vars`; returns the step to continue from.
fn resume(dir: &Path, vars: &[(String, Var)], what: &str) -> Result<usize> {
    let state_path = dir.join(STATE_FILE);
    let Ok(bytes) = std::fs::read(&state_path) else {
        return Ok(0);
    };
    let state: State = serde_json::from_slice(&bytes).map_err(|e| RuntimeError::BadWeights {
        path: state_path.clone(),
        what: "checkpoint",
        problem: e.to_string(),
    })?;
    if state.what != what {
        return Err(RuntimeError::Config(format!(
            "the checkpoint in `{}` is for a different run ({}); delete that directory to start over",
            dir.display(),
            state.what
        )));
    }
    let device = vars
        .first()
        .map(|(_, v)| v.device().clone())
        .unwrap_or(candle_core::Device::Cpu);
    let saved = candle_core::safetensors::load(dir.join(TENSORS_FILE), &device)?;
    for (name, var) in vars {
        let tensor = saved.get(name).ok_or_else(|| RuntimeError::BadWeights {
            path: dir.join(TENSORS_FILE),
            what: "checkpoint",
            problem: format!("tensor `{name}` is missing"),
        })?;
        var.set(tensor)?;
    }
    Ok(state.step)
}

/// Removes a finished run's checkpoint (call it once the result is written).
pub fn clear_checkpoint(options: &TrainOptions) -> Result<()> {
    if let Some(dir) = &options.checkpoint_dir
        && dir.exists()
    {
        std::fs::remove_dir_all(dir).map_err(io("remove", dir))?;
    }
    Ok(())
}
