import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// One HTTP exchange as the fetcher needs it, on URLSession (the one program with TLS): the body is capped (an
/// answer past `limit` bytes is cut and refused, never buffered whole), the whole exchange has one deadline (a
/// server that drips a byte at a time cannot hold the timer's run), and a redirect to another origin goes without
/// the provider's credential headers (a token is never sent to a host it was not meant for).
final class BoundedExchange: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    /// Why an exchange gave no answer.
    enum Failure: Error, CustomStringConvertible {
        case tooLarge(limit: Int)
        case deadline(seconds: Double)
        case transport(URLError)

        var description: String {
            switch self {
            case .tooLarge(let limit): "the answer is larger than \(limit / 1_048_576) MiB: refused"
            case .deadline(let seconds): "no answer within \(seconds) s (--timeout; the whole answer, not each read)"
            case .transport(let error): TransportFailure(error: error).description
            }
        }
    }

    private let limit: Int
    private let credentialHeaders: [String]
    private let origin: String
    private let lock = NSLock()
    private var body = Data()
    private var response: URLResponse?
    private var failure: Failure?
    private var continuation: CheckedContinuation<(Data, URLResponse), any Error>?

    private init(limit: Int, credentialHeaders: [String], origin: String) {
        self.limit = limit
        self.credentialHeaders = credentialHeaders
        self.origin = origin
    }

    /// `scheme://host:port` of a URL: what a redirect must keep for credentials to follow it.
    static func origin(of url: URL?) -> String {
        guard let url else { return "" }
        return "\(url.scheme?.lowercased() ?? "")://\(url.host?.lowercased() ?? ""):\(url.port ?? -1)"
    }

    /// Sends `request` and returns the whole answer, or throws `Failure`. `credentialHeaders` are dropped from a
    /// redirect to another origin.
    static func run(
        _ request: URLRequest, credentialHeaders: [String], limit: Int, deadline seconds: Double
    ) async throws -> (Data, URLResponse) {
        let exchange = BoundedExchange(
            limit: limit, credentialHeaders: credentialHeaders, origin: origin(of: request.url))
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = seconds
        configuration.timeoutIntervalForResource = seconds
        let session = URLSession(configuration: configuration, delegate: exchange, delegateQueue: nil)
        defer { session.finishTasksAndInvalidate() }
        return try await withCheckedThrowingContinuation { continuation in
            exchange.lock.withLock { exchange.continuation = continuation }
            let task = session.dataTask(with: request)
            DispatchQueue.global().asyncAfter(deadline: .now() + seconds) {
                exchange.fail(.deadline(seconds: seconds), task)
            }
            task.resume()
        }
    }

    private func fail(_ failure: Failure, _ task: URLSessionTask) {
        let first = lock.withLock { () -> Bool in
            guard continuation != nil, self.failure == nil else { return false }
            self.failure = failure
            return true
        }
        if first { task.cancel() }
    }

    func urlSession(
        _ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
        completionHandler: @escaping (URLSession.ResponseDisposition) -> Void
    ) {
        if response.expectedContentLength > Int64(limit) {
            fail(.tooLarge(limit: limit), dataTask)
            completionHandler(.cancel)
            return
        }
        lock.withLock { self.response = response }
        completionHandler(.allow)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        let over = lock.withLock { () -> Bool in
            guard failure == nil else { return false }
            body.append(data)
            return body.count > limit
        }
        if over {
            fail(.tooLarge(limit: limit), dataTask)
            lock.withLock { body = Data() }
        }
    }

    func urlSession(
        _ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
        newRequest request: URLRequest, completionHandler: @escaping (URLRequest?) -> Void
    ) {
        guard Self.origin(of: request.url) != origin else {
            completionHandler(request)
            return
        }
        var stripped = request
        for name in credentialHeaders + ["Authorization"] { stripped.setValue(nil, forHTTPHeaderField: name) }
        completionHandler(stripped)
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: (any Error)?) {
        let (continuation, result) = lock.withLock {
            () -> (CheckedContinuation<(Data, URLResponse), any Error>?, Result<(Data, URLResponse), any Error>) in
            let waiting = self.continuation
            self.continuation = nil
            if let failure { return (waiting, .failure(failure)) }
            if let error = error as? URLError { return (waiting, .failure(Failure.transport(error))) }
            if let error { return (waiting, .failure(error)) }
            guard let response else { return (waiting, .failure(Failure.transport(URLError(.badServerResponse)))) }
            return (waiting, .success((body, response)))
        }
        continuation?.resume(with: result)
    }
}
