//! `modularbase monitor`: the memory dashboard of a base and its packs.

use crate::cli::MonitorArgs;
use crate::printer::Printer;

/// Opens the set (base and router resident) and prints the dashboard.
pub(crate) fn run(args: &MonitorArgs, printer: &Printer) -> anyhow::Result<()> {
    let (runtime, _) = super::pack_set::open_runtime(&args.set, printer)?;
    printer.output(runtime.monitor().render().trim_end());
    Ok(())
}
