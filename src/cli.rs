//! The `worker-host` command line: the host's commands (`run`, `validate`, `status`, `schema`),
//! the indexing workload's (`index`, and `graph` and `mcp` to ask the code graph) and shell
//! completions. It parses arguments and hands them to the libraries.

use crate::{
    Registry, config,
    graph::{GraphSettings, command as graph_command, mcp},
    host::cli as host_cli,
    indexing::{index_command, settings::IndexingSettings},
};
use clap::{CommandFactory, Parser, Subcommand};
use std::{path::Path, path::PathBuf, process::ExitCode};

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
    /// Ask the code graph (the store of `[indexing.graph]`; no Temporal server needed):
    /// repositories, sizes, definitions, callers, callees, files.
    Graph {
        #[command(flatten)]
        args: graph_command::GraphArgs,
        #[command(flatten)]
        config: host_cli::ConfigPath,
    },
    /// Serve the `graph` questions as tools of a Model Context Protocol server on stdio, for
    /// coding agents. Read-only.
    Mcp {
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
        Command::Graph { args, config } => {
            let Some((settings, data_dir)) = graph_settings(&config.config, &registry) else {
                return ExitCode::from(graph_command::EXIT_STORE);
            };
            let Some(runtime) = host_cli::tokio_runtime() else {
                return ExitCode::FAILURE;
            };
            runtime.block_on(graph_command::run(&settings, &data_dir, &args))
        }
        Command::Mcp { config } => {
            let Some((settings, data_dir)) = graph_settings(&config.config, &registry) else {
                return ExitCode::from(graph_command::EXIT_STORE);
            };
            let Some(runtime) = host_cli::tokio_runtime() else {
                return ExitCode::FAILURE;
            };
            match runtime.block_on(mcp::serve(settings, data_dir)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// `[indexing.graph]` and `[host] data_dir` of the config at `path`, or the defaults (the
/// embedded store under `.worker-host/`) when there is no such file; none (the errors
/// printed) when the file is invalid.
fn graph_settings(path: &Path, registry: &Registry) -> Option<(GraphSettings, PathBuf)> {
    let config = match config::load_or_default(path, registry) {
        Ok(config) => config,
        Err(errors) => {
            eprint!("{errors}");
            return None;
        }
    };
    let indexing = config.sections.get::<IndexingSettings>();
    Some((indexing.graph.clone(), config.host.data_dir))
}
