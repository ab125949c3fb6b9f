//! The `lockbox` binary.
#![forbid(unsafe_code)]

mod cli;

// Bulk commands allocate on one thread and free on another; glibc's allocator then contends
// on its arena locks (10 % of an import's worker time was malloc, much of it waiting).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cli::main()
}
