//! Training on candle (DESIGN §5): a base on general text, a pack on domain text with the
//! base frozen, the alignment of a pack to an upgraded base (only its input adapter
//! trained), and the router's projection. Frozen parts are plain tensors; only trained
//! parts are `Var`s. Every loop reports each step and can checkpoint and resume.

mod base_train;
mod corpus;
mod forward;
mod frozen;
mod optimize;
mod pack_net;
mod pack_train;
mod prefix_cache;
mod router_train;

pub use base_train::train_base;
pub use corpus::{Corpus, read_text};
pub use optimize::{StepReport, TrainOptions, TrainSummary, clear_checkpoint, peak_rss};
pub use pack_train::{align_pack, train_pack};
pub use router_train::{key_of_pooled, pack_key, pooled_snippets, train_router};
