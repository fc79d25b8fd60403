//! The `worker-host` binary: the command line over the built-in registry.

fn main() -> std::process::ExitCode {
    worker_host::cli::main(worker_host::builtin())
}
