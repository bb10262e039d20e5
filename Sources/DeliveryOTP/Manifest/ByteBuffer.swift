/// A growable block of bytes, freed explicitly: the manifest pipeline's input
/// and output buffers, reused from chunk to chunk so that a chunk neither
/// allocates nor copies. `slack` zeroed bytes after the capacity let a scanner
/// load whole words at the end without reading outside the allocation.
package struct ByteBuffer {
    package static let slack = 16

    private(set) var base: UnsafeMutableRawPointer
    private(set) var capacity: Int
    /// The bytes in use, from `base`.
    var count = 0

    init(capacity: Int) {
        self.capacity = max(capacity, 64)
        base = .allocate(byteCount: self.capacity + Self.slack, alignment: 64)
        (base + self.capacity).initializeMemory(as: UInt8.self, repeating: 0, count: Self.slack)
    }

    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    /// The unused space after `count`.
    var free: UnsafeMutableRawBufferPointer { UnsafeMutableRawBufferPointer(start: base + count, count: capacity - count) }

    /// Grows to hold at least `total` bytes, keeping the bytes in use.
    mutating func reserve(_ total: Int) {
        guard total > capacity else { return }
        let grown = ByteBuffer(capacity: max(total, capacity * 2))
        grown.base.copyMemory(from: base, byteCount: count)
        base.deallocate()
        base = grown.base
        capacity = grown.capacity
    }

    /// Appends `bytes`, growing if needed.
    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        reserve(count + bytes.count)
        (base + count).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        count += bytes.count
    }

    /// Drops the first `prefix` bytes, moving the rest to the front.
    mutating func removeFirst(_ prefix: Int) {
        if prefix < count { base.copyMemory(from: base + prefix, byteCount: count - prefix) }
        count -= min(prefix, count)
    }

    /// Frees the memory; the buffer is not used again.
    func deallocate() { base.deallocate() }
}
