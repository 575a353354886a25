import Glibc

/// Writes all of `bytes` to `fd`, retrying short writes and EINTR.
public func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) throws(SystemError) {
    guard let base = bytes.baseAddress else { return }
    var offset = 0
    while offset < bytes.count {
        let written = Glibc.write(fd, base + offset, bytes.count - offset)
        if written < 0 {
            if errno == EINTR { continue }
            throw SystemError("write", errno: errno)
        }
        offset += written
    }
}

/// The contents of the file at `path`, up to `limit` bytes (a /proc file's length is unknown in advance); nil when
/// it cannot be opened or read.
public func readFile(_ path: String, limit: Int = 1 << 20) -> [UInt8]? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: Swift.min(limit, 16_384))
    while bytes.count < limit {
        let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, Swift.min($0.count, limit - bytes.count)) }
        if count < 0 && errno == EINTR { continue }
        if count < 0 { return nil }
        if count == 0 { break }
        bytes += chunk.prefix(count)
    }
    return bytes
}
