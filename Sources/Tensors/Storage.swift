import Foundation

/// A block of Float32 memory on a device. Tensors share storages (reshape and leading-axis
/// slices are views). CPU blocks come from `CachingAllocator`, so a training loop that asks for
/// the same sizes every step reuses warm pages instead of faulting fresh ones.
public final class TensorStorage: @unchecked Sendable {
    public let pointer: UnsafeMutablePointer<Float>
    public let count: Int
    public let device: Device

    init(count: Int, device: Device) {
        precondition(count >= 0, "storage size must be non-negative")
        self.count = count
        self.device = device
        switch device {
        case .cpu:
            pointer = CachingAllocator.shared.allocate(count)
        case .cuda:
            fatalError("CUDA storage is provided by the CUDA backend (not available in this build)")
        }
    }

    deinit {
        CachingAllocator.shared.release(pointer, count: count)
    }
}

/// Exact-size free lists of CPU blocks. The same shapes recur every training step, so exact
/// matching wastes nothing after the first step; blocks beyond `limitBytes` are returned to the
/// system. Thread-safe.
public final class CachingAllocator: @unchecked Sendable {
    public static let shared = CachingAllocator()

    private var free: [Int: [UnsafeMutablePointer<Float>]] = [:]
    private var cachedBytes = 0
    private let lock = NSLock()
    /// Most bytes kept in free lists.
    public var limitBytes = 4 << 30

    /// Bytes currently held in free lists.
    public var cachedByteCount: Int { lock.withLock { cachedBytes } }

    func allocate(_ count: Int) -> UnsafeMutablePointer<Float> {
        let n = max(count, 1)
        lock.lock()
        if var list = free[n], let block = list.popLast() {
            free[n] = list.isEmpty ? nil : list
            cachedBytes -= n * 4
            lock.unlock()
            return block
        }
        lock.unlock()
        // 64-byte alignment for vector loads.
        var raw: UnsafeMutableRawPointer?
        var status = posix_memalign(&raw, 64, n * MemoryLayout<Float>.stride)
        if status != 0 {
            // The free lists may hold what is needed: give them back and try once more.
            emptyCache()
            status = posix_memalign(&raw, 64, n * MemoryLayout<Float>.stride)
        }
        guard status == 0, let raw else { OutOfMemory.handler(n * 4, "a tensor") }
        return raw.bindMemory(to: Float.self, capacity: n)
    }

    func release(_ pointer: UnsafeMutablePointer<Float>, count: Int) {
        let n = max(count, 1)
        lock.lock()
        if cachedBytes + n * 4 <= limitBytes {
            free[n, default: []].append(pointer)
            cachedBytes += n * 4
            lock.unlock()
        } else {
            lock.unlock()
            Foundation.free(pointer)
        }
    }

    /// Returns every cached block to the system.
    public func emptyCache() {
        lock.lock()
        let blocks = free
        free = [:]
        cachedBytes = 0
        lock.unlock()
        for list in blocks.values { for p in list { Foundation.free(p) } }
    }
}

/// What happens when an allocation fails even after the caches are emptied. The default traps
/// (`fatalError`), as Swift does for any allocation; the `anomaly` tool installs a handler that
/// prints one line naming the request and exits with status 1 — an option at the top of its
/// range (a width, a batch size) can ask for more memory than the machine has.
public enum OutOfMemory {
    /// Called with the bytes requested and what they were for; never returns.
    nonisolated(unsafe) public static var handler: (_ bytes: Int, _ what: String) -> Never = { bytes, what in
        fatalError("out of memory allocating \(bytes) bytes for \(what)")
    }
}
