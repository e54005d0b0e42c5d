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
/// matching wastes nothing after the first step. Past `limitBytes`, the sizes used least recently
/// (an epoch's short last batch, a scoring pass) go back to the system first, so the blocks of
/// the step that keeps coming back stay warm. Thread-safe.
public final class CachingAllocator: @unchecked Sendable {
    public static let shared = CachingAllocator()

    /// The cached blocks of one size, and when that size was last asked for or given back (a
    /// counter, not a clock). A size leaves the dictionary with its last block.
    private struct FreeList {
        var blocks: [UnsafeMutablePointer<Float>]
        var lastUse: UInt64
    }
    private var free: [Int: FreeList] = [:]
    private var clock: UInt64 = 0
    private var cachedBytes = 0
    private let lock = NSLock()
    /// Most bytes kept in free lists: a quarter of the machine's memory, at least 4 GiB (a
    /// LeNet autoencoder step on 1,024 CIFAR images alone holds about 3 GiB of activations).
    public var limitBytes: Int

    package init(limitBytes: Int = max(4 << 30, Int(clamping: ProcessInfo.processInfo.physicalMemory / 4))) {
        self.limitBytes = limitBytes
    }

    /// Bytes currently held in free lists.
    public var cachedByteCount: Int { lock.withLock { cachedBytes } }

    /// Takes a block of `size` floats out of the cache (lock held), in place: no copy of the list.
    private func take(_ size: Int) -> UnsafeMutablePointer<Float>? {
        guard let block = free[size]?.blocks.popLast() else { return nil }
        if free[size]!.blocks.isEmpty { free[size] = nil }
        cachedBytes -= size * 4
        return block
    }

    package func allocate(_ count: Int) -> UnsafeMutablePointer<Float> {
        let n = max(count, 1)
        lock.lock()
        clock += 1
        free[n]?.lastUse = clock
        let cached = take(n)
        lock.unlock()
        if let cached { return cached }
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

    package func release(_ pointer: UnsafeMutablePointer<Float>, count: Int) {
        let n = max(count, 1)
        var evicted: [UnsafeMutablePointer<Float>] = []
        lock.lock()
        clock += 1
        free[n, default: FreeList(blocks: [], lastUse: 0)].blocks.append(pointer)
        free[n]!.lastUse = clock
        cachedBytes += n * 4
        // Past the limit, the least recently used sizes go first (this one last: it was just used).
        while cachedBytes > limitBytes, let size = free.min(by: { $0.value.lastUse < $1.value.lastUse })?.key,
              let block = take(size) {
            evicted.append(block)
        }
        lock.unlock()
        for block in evicted { Foundation.free(block) }
    }

    /// Returns every cached block to the system.
    public func emptyCache() {
        lock.lock()
        let blocks = free
        free = [:]
        cachedBytes = 0
        lock.unlock()
        for list in blocks.values { for p in list.blocks { Foundation.free(p) } }
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
