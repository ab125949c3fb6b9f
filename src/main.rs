//! The `lockbox` binary.
// One function holds unsafe code, and says why: `release_freed_memory`.
#![deny(unsafe_code)]

mod cli;
mod server;

// Bulk commands allocate on one thread and free on another; glibc's allocator then contends
// on its arena locks (measured: docs/PERFORMANCE.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Hands memory freed so far back to the system at once. mimalloc keeps freed memory a while
/// before returning it; called once a key file is open, so that Argon2's 64 MiB is no longer
/// resident when a large get starts filling its buffers (which peaked at 88-91 MiB with the
/// default keyring, Argon2's block and the pipeline's buffers resident together).
#[allow(unsafe_code)]
fn release_freed_memory() {
    // SAFETY: mi_collect takes no pointer and only walks mimalloc's own lists of free memory.
    unsafe { libmimalloc_sys::mi_collect(true) }
}

fn main() -> std::process::ExitCode {
    cli::main()
}
