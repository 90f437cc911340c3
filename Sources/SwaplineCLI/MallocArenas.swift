#if canImport(Glibc)
import Glibc
#endif

/// Caps glibc's malloc at two arenas unless `MALLOC_ARENA_MAX` is set.
///
/// glibc gives each thread that meets contention its own arena (up to 8 per core) and keeps the
/// pages freed in each one, so a server whose event loops and task threads all allocate grows its
/// RSS in steps long after its live heap is flat (heaptrack over 600 s of creates: live heap 9–10
/// MiB throughout, RSS 68 → 79 MiB; with two arenas 65 → 69 MiB, docs/PERFORMANCE.md).
/// `mallopt` is not in Swift's Glibc module, so it is looked up by name.
enum MallocArenas {
    static let limit: Int32 = 2

    /// Returns whether the cap was applied (false: not glibc, or the environment chose its own).
    @discardableResult
    static func capUnlessConfigured() -> Bool {
        #if canImport(Glibc)
        guard getenv("MALLOC_ARENA_MAX") == nil, let process = dlopen(nil, RTLD_NOW), let symbol = dlsym(process, "mallopt") else {
            return false
        }
        typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
        let mArenaMax: Int32 = -8  // M_ARENA_MAX in <malloc.h>
        return unsafeBitCast(symbol, to: Mallopt.self)(mArenaMax, limit) == 1
        #else
        return false
        #endif
    }
}
