//! The `modularbase` command line as a library: clap definitions, thin commands that parse
//! and report, and `ops` that do the work (so tests and other front ends can call them).

mod cli;
mod client;
mod commands;
mod home;
mod ops;
mod printer;
mod resolve;
mod serve_client;

pub use cli::{
    BaseCommand, Bytes, Cli, Command, ConfigCommand, KeyCommand, PackCommand, RouterCommand,
};
pub use client::{NetFlags, NetOptions, RegistryClient};
pub use home::{
    CONFIG_KEYS, Config, Credentials, Home, HomeGuard, HomeTransaction, Lock, LockedPack,
    NetConfig, RegistryCredential, Requests, StagedPack, TrustedKeys,
};
pub use ops::{
    BuiltArchive, Change, ChangeKind, HttpIndex, InstallOptions, Outcome, Plan, Prepared,
    Published, SignatureStatus, Source, Unlock, apply, build_pack, check_signature, generate_key,
    inspect_pack, install, login, plan, prepare, public_key, publish, register_key, sign_archive,
    signature_path, signing_key, trust_key,
};
pub use printer::Printer;
pub use resolve::{IndexSource, Node, Resolution, ResolveError, resolve};

/// Runs one parsed command line.
pub fn run(cli: Cli, printer: &Printer) -> anyhow::Result<()> {
    match cli.command {
        Command::Pack(PackCommand::Build(args)) => commands::pack_build::run(&args, printer),
        Command::Pack(PackCommand::Inspect(args)) => commands::pack_inspect::run(&args, printer),
        Command::Pack(PackCommand::Publish(args)) => commands::pack_publish::run(&args, printer),
        Command::Pack(PackCommand::Search(args)) => commands::pack_registry::search(&args, printer),
        Command::Pack(PackCommand::Info(args)) => commands::pack_registry::info(&args, printer),
        Command::Pack(PackCommand::Yank(args)) => commands::pack_registry::yank(&args, printer),
        Command::Pack(PackCommand::Owner(args)) => commands::pack_registry::owner(&args, printer),
        Command::Pack(PackCommand::Resolve(args)) => commands::pack_resolve::run(&args, printer),
        Command::Pack(PackCommand::Install(args)) => {
            commands::pack_install::install(&args, printer)
        }
        Command::Pack(PackCommand::List(args)) => commands::pack_install::list(&args, printer),
        Command::Pack(PackCommand::Verify(args)) => commands::pack_verify::run(&args, printer),
        Command::Pack(PackCommand::Remove(args)) => commands::pack_install::remove(&args, printer),
        Command::Pack(PackCommand::Update(args)) => commands::pack_install::update(&args, printer),
        Command::Registry(command) => modularbase_registry::run_command(command),
        Command::Base(BaseCommand::Init(args)) => commands::base_init::run(&args, printer),
        Command::Base(BaseCommand::Train(args)) => commands::train::base(&args, printer),
        Command::Base(BaseCommand::Import(args)) => commands::base_import::run(&args, printer),
        Command::Pack(PackCommand::Train(args)) => commands::train::pack(&args, printer),
        Command::Pack(PackCommand::Align(args)) => commands::train::align(&args, printer),
        Command::Router(RouterCommand::Train(args)) => commands::train::router(&args, printer),
        Command::Eval(args) => commands::eval::run(&args, printer),
        Command::Run(args) => commands::run::run(&args, printer),
        Command::Monitor(args) => commands::monitor::run(&args, printer),
        Command::Serve(args) => commands::serve::serve(&args, printer),
        Command::Ps(args) => commands::serve::ps(&args, printer),
        Command::Stop(args) => commands::serve::stop(&args, printer),
        Command::Demo(args) => commands::demo::run(&args, printer),
        Command::Login(args) => commands::login::run(&args, printer),
        Command::Config(command) => commands::config::run(&command, printer),
        Command::Completions(args) => commands::completions::run(&args),
        Command::Pack(PackCommand::Init(args)) => commands::pack_init::run(&args, printer),
        Command::Key(command) => commands::key::run(&command, printer),
    }
}
