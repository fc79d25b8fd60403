//! The `worker-host` binary: the CLI over the library with the built-in registry.

fn main() -> std::process::ExitCode {
    worker_host::cli::main(worker_host::Registry::builtin())
}
