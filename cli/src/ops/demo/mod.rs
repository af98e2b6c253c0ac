//! The work behind `modularbase demo`: finding the example packs, a registry served from
//! this process, publishing the examples to it, saying why the resolver chose each version,
//! and the runtime tour (routing, the cache under a small budget, a fallback, the monitor).

mod examples;
mod explain;
mod publish;
mod registry;
mod report;
mod tour;

pub(crate) use examples::{ExamplePack, locate_examples, model_packs, read_examples};
pub(crate) use explain::explain;
pub(crate) use publish::publish_examples;
pub(crate) use registry::DemoRegistry;
pub(crate) use report::{heading, show};
pub(crate) use tour::Tour;
