//! Giving freed memory back to the operating system after a model load.
//!
//! Loading a model builds a large temporary tree of pickled values (tens of
//! MB for the demo model's 240k-term vocabulary) and then frees it. glibc's
//! allocator only returns memory from the top of its heap, and the model's
//! own long-lived allocations land above the freed tree, so without help the
//! process stays resident at its load-time peak — about 3x the model's real
//! footprint. `malloc_trim(0)` releases those free pages.

/// Returns freed heap pages to the OS (glibc's `malloc_trim(0)`); a no-op on
/// other C libraries, whose allocators return memory by themselves. Call it
/// after a model load, off the request path: it briefly locks every arena.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub fn release_freed() {
    // SAFETY: `malloc_trim` takes no pointers and has no caller-side
    // invariants; glibc serialises it with all other allocator calls.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn release_freed() {}
