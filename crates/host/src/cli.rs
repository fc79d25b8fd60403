//! The host's commands (`run`, `validate`, `status`, `schema`) as clap subcommands. A program's command
//! line flattens [`HostCommand`] into its own and adds its workloads' commands beside it; it
//! parses arguments and wires pieces together, holding no logic of its own.

use crate::{
    Registry,
    config::{self, Pollers, WorkerEntry},
    host::{self, EXIT_BAD_CONFIG, RunOptions},
    status_command, temporal,
};
use clap::{Subcommand, ValueEnum};
use std::{path::PathBuf, process::ExitCode};

/// Log format of every command.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

/// The host's own commands.
#[derive(Subcommand, Debug)]
pub enum HostCommand {
    /// Run the host: one Temporal worker per entry, until SIGINT/SIGTERM.
    Run {
        #[command(flatten)]
        config: ConfigPath,
        /// Start `temporal server start-dev` when nothing listens at the address.
        #[arg(long)]
        dev: bool,
    },
    /// Check a config and print one line per entry; exit 2 with every problem otherwise.
    Validate {
        #[command(flatten)]
        config: ConfigPath,
    },
    /// Show a running host's entries, states, uptime and queue backlog (from its /readyz);
    /// exit 1 when it is not ready, 2 when it does not answer.
    Status {
        /// The host's health address; default: `[host] listen` of the config.
        #[arg(long)]
        addr: Option<String>,
        #[command(flatten)]
        config: ConfigPath,
    },
    /// Print the JSON Schema of workers.toml (with every workload table), for editors:
    /// `worker-host schema > workers.schema.json`, then `#:schema ./workers.schema.json` as the
    /// config's first line.
    Schema,
}

/// `--config`: the config file of any command.
#[derive(clap::Args, Debug)]
pub struct ConfigPath {
    /// The config file.
    #[arg(
        long,
        short,
        default_value = "workers.toml",
        env = "WORKER_HOST_CONFIG"
    )]
    pub config: PathBuf,
}

/// A multi-threaded tokio runtime for a command, or the reason (printed) why there is none.
pub fn tokio_runtime() -> Option<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| eprintln!("error: cannot start the async runtime: {e}"))
        .ok()
}

/// Run a host command with `registry`.
pub fn execute(command: HostCommand, registry: Registry) -> ExitCode {
    match command {
        HostCommand::Validate { config } => validate(&config.config, &registry),
        HostCommand::Schema => {
            let schema = config::schema::json_schema(&registry);
            match serde_json::to_string_pretty(&schema) {
                Ok(text) => {
                    println!("{text}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: cannot print the schema: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        HostCommand::Status { addr, config } => {
            status_command::run(addr.as_deref(), &config.config, &registry)
        }
        HostCommand::Run { config, dev } => {
            let Some(runtime) = tokio_runtime() else {
                return ExitCode::FAILURE;
            };
            let local = tokio::task::LocalSet::new();
            let options = RunOptions {
                config: config.config,
                dev,
            };
            match local.block_on(&runtime, host::run(options, registry)) {
                Ok(code) => code,
                Err(e) => {
                    tracing::error!("{e:#}");
                    eprintln!("error: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

fn validate(path: &std::path::Path, registry: &Registry) -> ExitCode {
    match config::load(path, registry) {
        Ok(c) => {
            println!(
                "{}: valid; {} entr{} on {} (namespace {})",
                path.display(),
                c.workers.len(),
                if c.workers.len() == 1 { "y" } else { "ies" },
                c.temporal.address,
                c.temporal.namespace
            );
            if let Some(d) = &c.deployment {
                println!(
                    "  deployment {}, build {}",
                    d.name,
                    temporal::deployment::build_id(d)
                );
            }
            for e in &c.workers {
                println!("  {}", summary(e, &c.host, c.deployment.is_some()));
            }
            ExitCode::SUCCESS
        }
        Err(errors) => {
            eprint!("{errors}");
            ExitCode::from(EXIT_BAD_CONFIG)
        }
    }
}

/// One line that says what an entry will run and with which limits.
fn summary(e: &WorkerEntry, host: &config::HostSettings, versioned: bool) -> String {
    let pollers = match e.pollers {
        None => "default".to_owned(),
        Some(Pollers::Fixed(n)) => n.get().to_string(),
        Some(Pollers::Autoscaling { min, max, initial }) => {
            format!("auto {}..{} from {}", min.get(), max.get(), initial.get())
        }
    };
    let rate =
        |r: Option<config::Rate>| r.map_or("unlimited".to_owned(), |r| format!("{}/s", r.get()));
    format!(
        "{}: queue {}, workflows [{}], activities [{}], slots activity {} / workflow {} / local {}, \
         cache {}, pollers {}, rate worker {} / queue {}, grace {}{}",
        e.name,
        e.polled_queue("<host id>"),
        e.workflows.join(", "),
        e.activities.join(", "),
        e.activity_slots(),
        e.workflow_task_slots(),
        e.local_activity_slots(),
        e.cached_workflows(),
        pollers,
        rate(e.max_activities_per_second),
        rate(e.max_task_queue_activities_per_second),
        humantime::format_duration(e.grace(host)),
        if versioned {
            format!(", versioning {}", e.versioning_behavior().label())
        } else {
            String::new()
        },
    )
}

/// Log to stderr in `format`, filtered by `RUST_LOG` (default `info`).
pub fn init_logging(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
