import Glibc

extension Report.Host {
    /// This machine: `gethostname` and the kernel release from `uname`.
    public static func current() -> Report.Host {
        var buffer = [CChar](repeating: 0, count: 256)
        gethostname(&buffer, buffer.count - 1)
        var names = utsname()
        uname(&names)
        let release = withUnsafeBytes(of: names.release) { bytes in
            String(decoding: bytes.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        return Report.Host(hostname: String(cString: buffer), kernel: release)
    }
}
