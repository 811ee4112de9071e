//! The `tenantry` binary: everything is in the library; this maps its result to an exit code.

fn main() {
    std::process::exit(tenantry::cli::main(std::env::args_os()));
}
