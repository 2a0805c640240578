//! Fewer allocator arenas: glibc gives each thread that allocates an arena of its own (up to
//! eight per core), and memory freed in one is not reused by another. dsar's threads (archive
//! builders, the parallel fsyncs of a batch, the runtime's blocking pool) come and go, and a
//! batch export of 10,000 people in one batch held 13 MB more in a dozen arenas than in two.
//! Two arenas keep the main thread and one builder apart; `MALLOC_ARENA_MAX` or
//! `GLIBC_TUNABLES=glibc.malloc.arena_max=N`, when set, wins.

/// Limit glibc's arenas to two, unless the environment sets a limit of its own. Call before any
/// thread starts. Elsewhere than on glibc, nothing.
pub fn limit() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none()
        && !std::env::var("GLIBC_TUNABLES").is_ok_and(|t| t.contains("glibc.malloc.arena_max"))
    {
        unsafe extern "C" {
            /// glibc's `mallopt(3)`.
            fn mallopt(param: std::ffi::c_int, value: std::ffi::c_int) -> std::ffi::c_int;
        }
        /// `M_ARENA_MAX` in glibc's malloc.h.
        const M_ARENA_MAX: std::ffi::c_int = -8;
        // SAFETY: mallopt only sets a tunable of the allocator; it is called before any other
        // thread exists, and a value it refuses leaves the default in place.
        unsafe {
            mallopt(M_ARENA_MAX, 2);
        }
    }
}
