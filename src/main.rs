//! The `tenantry` binary: everything is in the library; this maps its result to an exit code.

/// mimalloc rather than the system allocator (the `mimalloc` feature, on by default): a run
/// makes many small, short-lived allocations (requests, answers, report lines).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(tenantry::cli::main(std::env::args_os()));
}
