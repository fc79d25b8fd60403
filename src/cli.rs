//! The `worker-host` command line: the host's commands (`run`, `validate`, `status`, `schema`),
//! the indexing workload's (`index`) and shell completions. It parses arguments and hands them
//! to the libraries.

use crate::{Registry, host::cli as host_cli, indexing::index_command};
use clap::{CommandFactory, Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "worker-host",
    version,
    about = "Run many Temporal workers in one process from a workers.toml"
)]
struct Cli {
    /// Log format.
    #[arg(long, value_enum, default_value_t = host_cli::LogFormat::Text, global = true)]
    log_format: host_cli::LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    #[command(flatten)]
    Host(host_cli::HostCommand),
    /// Index a repository: start RepoIndexingWorkflow, show its progress, print its summary.
    Index {
        #[command(flatten)]
        options: index_command::IndexOptions,
        #[command(flatten)]
        config: host_cli::ConfigPath,
    },
    /// Print a shell completion script: `source <(worker-host completions bash)`, or save it
    /// where your shell loads completions from.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// Parse the process arguments and run the command with `registry`.
pub fn main(registry: Registry) -> ExitCode {
    let cli = Cli::parse();
    host_cli::init_logging(cli.log_format);
    match cli.command {
        Command::Host(command) => host_cli::execute(command, registry),
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "worker-host",
                &mut std::io::stdout(),
            );
            ExitCode::SUCCESS
        }
        Command::Index { options, config } => {
            let Some(runtime) = host_cli::tokio_runtime() else {
                return ExitCode::FAILURE;
            };
            match runtime.block_on(index_command::run(&config.config, &registry, options)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
