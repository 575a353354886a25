import Glibc

/// A minimal blocking HTTP/1.1 client over a Unix socket (or plain TCP), one request per connection
/// (`Connection: close`). The wrapper talks to sustain-measured with it, and `report cluster` to a Prometheus on
/// the cluster's network; a full HTTP stack would cost the wrapper more start-up time and memory than its budget
/// allows. No TLS: the one program that speaks to the internet is sustain-intensity.
public struct UnixHTTPClient: Sendable {
    public struct Response: Sendable {
        public var status: Int
        public var body: [UInt8]
    }

    public let socketPath: String
    public let timeoutSeconds: Int
    /// Host and port for plain TCP instead of the socket.
    public let tcp: (host: String, port: UInt16)?
    /// The largest answer read, in bytes: more is an error (EFBIG), read no further.
    public let maximumBytes: Int

    public init(socketPath: String, timeoutSeconds: Int = 30) {
        self.socketPath = socketPath
        self.timeoutSeconds = timeoutSeconds
        tcp = nil
        maximumBytes = Self.maximumResponse
    }

    /// A client for `http://host:port` (plain TCP, IPv4 or IPv6, the first address that answers).
    public init(host: String, port: UInt16, timeoutSeconds: Int = 30, maximumBytes: Int = maximumResponse) {
        socketPath = "\(host):\(port)"
        self.timeoutSeconds = timeoutSeconds
        tcp = (host, port)
        self.maximumBytes = min(maximumBytes, Self.maximumResponse)
    }

    /// True when something accepts connections at the socket.
    public func isReachable() -> Bool { (try? checkReachable()) != nil }

    /// Connects once and hangs up; throws why nothing accepts connections at the socket.
    public func checkReachable() throws(SystemError) {
        close(try connect())
    }

    /// Sends one request with a JSON body and reads the whole response.
    public func send(_ method: String, _ target: String, json body: [UInt8]? = nil) throws(SystemError) -> Response {
        try send(method, target, headers: body == nil ? [] : [("Content-Type", "application/json")], body: body)
    }

    /// Sends one request (`headers` as given, and the length of `body`) and reads the whole response.
    public func send(_ method: String, _ target: String, headers: [(String, String)], body: [UInt8]?)
        throws(SystemError) -> Response
    {
        let fd = try connect()
        defer { close(fd) }
        var head =
            "\(method) \(target) HTTP/1.1\r\nHost: \(tcp.map { "\($0.host):\($0.port)" } ?? "sustain")\r\nConnection: close\r\n"
        for (name, value) in headers where name.lowercased() != "content-length" { head += "\(name): \(value)\r\n" }
        if let body { head += "Content-Length: \(body.count)\r\n" }
        head += "\r\n"
        let request = Array(head.utf8) + (body ?? [])
        // send(MSG_NOSIGNAL): a server that hangs up early is an error here, never a SIGPIPE.
        var offset = 0
        while offset < request.count {
            let sent = request.withUnsafeBytes { raw in
                Glibc.send(fd, raw.baseAddress.map { $0 + offset }, raw.count - offset, Int32(MSG_NOSIGNAL))
            }
            if sent < 0 {
                if errno == EINTR { continue }
                throw SystemError("send", subject: socketPath, errno: errno)
            }
            offset += sent
        }
        // One deadline for the whole answer, not per read: a server that drips a byte just inside each read's
        // timeout cannot hold the caller longer than `timeoutSeconds` in all.
        let deadline = Self.monotonicSeconds() + Double(timeoutSeconds)
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let left = deadline - Self.monotonicSeconds()
            guard left > 0 else { throw SystemError("read", subject: socketPath, errno: ETIMEDOUT) }
            setTimeouts(fd, seconds: left)
            let count = read(fd, &buffer, buffer.count)
            if count < 0 {
                if errno == EINTR { continue }
                throw SystemError("read", subject: socketPath, errno: errno == EAGAIN ? ETIMEDOUT : errno)
            }
            if count == 0 { break }
            data += buffer[0..<count]
            if data.count > maximumBytes { throw SystemError("read", subject: socketPath, errno: EFBIG) }
        }
        return try Self.parse(data, subject: socketPath)
    }

    private func connect() throws(SystemError) -> Int32 {
        if let tcp { return try connectTCP(host: tcp.host, port: tcp.port) }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SystemError("socket", errno: errno) }
        setTimeouts(fd)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(socketPath.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            close(fd)
            throw SystemError("connect", subject: socketPath, errno: ENAMETOOLONG)
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard rc == 0 else {
            let code = errno
            close(fd)
            throw SystemError("connect", subject: socketPath, errno: code)
        }
        return fd
    }

    /// The largest answer read, in bytes.
    public static let maximumResponse = 64 * 1024 * 1024

    static func monotonicSeconds() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) * 1e-9
    }

    /// Reads and writes on `fd` give up after `seconds` (default `timeoutSeconds`).
    private func setTimeouts(_ fd: Int32, seconds: Double? = nil) {
        let seconds = max(0.001, seconds ?? Double(timeoutSeconds))
        var timeout = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - Double(Int(seconds))) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    private func connectTCP(host: String, port: UInt16) throws(SystemError) -> Int32 {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let resolved = getaddrinfo(host, String(port), &hints, &list)
        guard resolved == 0, let first = list else {
            throw SystemError("resolve", subject: socketPath, errno: resolved == EAI_SYSTEM ? errno : EHOSTUNREACH)
        }
        defer { freeaddrinfo(list) }
        var lastError = ECONNREFUSED
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let address = entry {
            entry = address.pointee.ai_next
            let fd = socket(address.pointee.ai_family, address.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else {
                lastError = errno
                continue
            }
            setTimeouts(fd)
            if Glibc.connect(fd, address.pointee.ai_addr, address.pointee.ai_addrlen) == 0 { return fd }
            lastError = errno
            close(fd)
        }
        throw SystemError("connect", subject: socketPath, errno: lastError)
    }

    /// Status line, headers, then the body (Content-Length, chunked, or to the end).
    static func parse(_ data: [UInt8], subject: String) throws(SystemError) -> Response {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard let end = data.indices.first(where: { data[$0...].starts(with: separator) }) else {
            throw SystemError("HTTP response", subject: subject, errno: EPROTO)
        }
        let head = String(decoding: data[..<end], as: UTF8.self).split(separator: "\r\n")
        guard let statusLine = head.first, statusLine.hasPrefix("HTTP/1."),
            let status = Int(statusLine.split(separator: " ").dropFirst().first ?? "")
        else { throw SystemError("HTTP response", subject: subject, errno: EPROTO) }
        var body = Array(data[(end + 4)...])
        let headers = head.dropFirst().map { $0.lowercased() }
        if headers.contains(where: { $0.hasPrefix("transfer-encoding:") && $0.contains("chunked") }) {
            body = try dechunk(body, subject: subject)
        } else if let length = headers.first(where: { $0.hasPrefix("content-length:") })
            .flatMap({ Int($0.dropFirst("content-length:".count).drop(while: { $0 == " " })) }), length >= 0,
            length <= body.count
        {
            body = Array(body.prefix(length))
        }
        return Response(status: status, body: body)
    }

    static func dechunk(_ data: [UInt8], subject: String) throws(SystemError) -> [UInt8] {
        var result: [UInt8] = []
        var index = 0
        while index < data.count {
            guard let lineEnd = data[index...].indices.first(where: { data[$0...].starts(with: [13, 10]) }),
                let size = Int(
                    String(decoding: data[index..<lineEnd], as: UTF8.self).split(separator: ";").first ?? "", radix: 16)
            else { throw SystemError("HTTP chunk", subject: subject, errno: EPROTO) }
            if size == 0 { break }
            let start = lineEnd + 2
            // A size from the server is checked before any arithmetic: 7fffffffffffffff or -5 is an error, not a trap.
            guard size > 0, size <= data.count - start else {
                throw SystemError("HTTP chunk", subject: subject, errno: EPROTO)
            }
            result += data[start..<(start + size)]
            index = start + size + 2
        }
        return result
    }
}
