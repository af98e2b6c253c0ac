//! Standalone registry binary for deployments (the same server `modularbase registry serve`
//! will run in-process). The registry server issue gives it its commands.

use std::process::ExitCode;

fn main() -> ExitCode {
    let usage =
        "modularbase-registry: the registry server is not built yet; see the project's open issues";
    std::io::Write::write_all(&mut std::io::stderr(), format!("{usage}\n").as_bytes()).ok();
    ExitCode::from(2)
}
