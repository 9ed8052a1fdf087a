//! Process-wide settings the engine's latency depends on.
//!
//! Transparent huge pages: with THP, the first touch of a 2 MiB region
//! zeroes all of it inside one page fault. An allocator that asks for huge
//! pages (mimalloc does, with `madvise`; on a system with THP "always",
//! glibc's heap gets them too) then makes the executor that touches fresh
//! memory (new frames, a growing tail cache) stop for the whole zeroing:
//! traced here as runs of 6–13 ms in `clear_page_erms` on an executor
//! thread, during which no I/O completion is reaped and no submission
//! made. The engine alone at 10,000 durable puts/s went from p99 4.8–5.6
//! ms to 1.2–1.25 ms with THP off for the process (BENCHMARKS.md, session
//! 5); with 4 KiB pages the same zeroing happens a page at a time.

/// Turns transparent huge pages off for this process and the processes it
/// starts (`prctl(PR_SET_THP_DISABLE)`); memory already mapped keeps its
/// pages. [`Engine::start`](crate::Engine::start) calls it; an embedder
/// that runs [`LocalEngine`](crate::LocalEngine) on its own executor can
/// call it first thing in `main`.
pub fn disable_transparent_huge_pages() -> std::io::Result<()> {
    // SAFETY: prctl with PR_SET_THP_DISABLE takes integer arguments only
    // and touches no memory of ours.
    let r = unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_process_reports_huge_pages_disabled() {
        super::disable_transparent_huge_pages().expect("prctl");
        // SAFETY: as above, integer arguments only.
        let disabled = unsafe { libc::prctl(libc::PR_GET_THP_DISABLE, 0, 0, 0, 0) };
        assert_eq!(disabled, 1);
    }
}
