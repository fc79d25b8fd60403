//! The `worker-host` binary: the command line over the built-in registry.

/// mimalloc, not glibc's malloc: parsing a big repository on every core allocates and frees
/// millions of small objects from many threads, where glibc's arenas fragment and its
/// consolidation grows faster than the repository (see `docs/benchmarks.md`, "Issue 15,
/// thirteenth session").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    worker_host::cli::main(worker_host::builtin())
}
