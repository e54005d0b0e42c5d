import Tensors
import Testing

/// The CPU block cache: exact-size reuse, and past its limit the least recently used sizes go
/// back to the system first.
@Suite struct CachingAllocatorTests {
    @Test func reusesAnExactSizeBlock() {
        let cache = CachingAllocator(limitBytes: 1 << 20)
        let block = cache.allocate(1000)
        cache.release(block, count: 1000)
        #expect(cache.cachedByteCount == 4000)
        let again = cache.allocate(1000)
        #expect(again == block)
        #expect(cache.cachedByteCount == 0)
        cache.release(again, count: 1000)
        cache.emptyCache()
        #expect(cache.cachedByteCount == 0)
    }

    @Test func evictsTheLeastRecentlyUsedSizeFirst() {
        let cache = CachingAllocator(limitBytes: 4000)
        let a = cache.allocate(400), b = cache.allocate(300), c = cache.allocate(500)
        cache.release(a, count: 400)  // 1,600 bytes cached
        cache.release(b, count: 300)  // 2,800
        cache.release(c, count: 500)  // 4,800 > 4,000: the 400-float block (oldest) goes
        #expect(cache.cachedByteCount == 3200)
        let b2 = cache.allocate(300)  // still cached
        #expect(b2 == b)
        #expect(cache.cachedByteCount == 2000)
        let a2 = cache.allocate(400)  // evicted: a fresh block, nothing taken from the cache
        #expect(cache.cachedByteCount == 2000)
        // 300 used last, then 400: releasing both (2,800 more) evicts the 500 block, the oldest.
        cache.release(b2, count: 300)
        cache.release(a2, count: 400)
        #expect(cache.cachedByteCount == 2800)
        let c2 = cache.allocate(500)
        #expect(cache.cachedByteCount == 2800)
        cache.release(c2, count: 500)
        cache.emptyCache()
    }

    @Test func aBlockLargerThanTheLimitIsNotKept() {
        let cache = CachingAllocator(limitBytes: 1000)
        let small = cache.allocate(100)
        cache.release(small, count: 100)
        let big = cache.allocate(1000)
        cache.release(big, count: 1000)
        #expect(cache.cachedByteCount == 0)
    }
}
