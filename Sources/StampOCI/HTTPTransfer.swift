import Foundation

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// One HTTP GET with URLSession, synchronous for the caller, with a hard byte limit: the
/// body goes to memory (documents) or straight to a file (layers), and the transfer is
/// cancelled the moment more than `limit` bytes arrive or `Content-Length` announces more.
/// Redirects (blob storage behind a registry) are followed, without the Authorization header
/// when they lead to another origin.
final class HTTPTransfer: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    // @unchecked: every mutable field is touched under `lock` (the delegate queue is serial,
    // and the caller reads them only after `done` is signalled).
    struct Response {
        var status: Int
        var headers: [String: String]
        var body: [UInt8]
        var received: Int64
    }

    private let lock = NSLock()
    private let done = DispatchSemaphore(value: 0)
    private let limit: Int64
    private let fd: Int32?
    private var response: HTTPURLResponse?
    private var body: [UInt8] = []
    private var received: Int64 = 0
    private var failure: Error?
    private var overLimit = false
    private var writeError: String?

    private init(limit: Int64, fd: Int32?) {
        self.limit = limit
        self.fd = fd
    }

    /// GETs `url`; the body is kept in memory, or written to `file` (created) when given.
    /// - Throws: ``OCIError/sizeOutOfBounds(what:size:limit:)`` when the body exceeds `limit`,
    ///   ``OCIError/system(path:operation:message:)`` when the server cannot be reached.
    static func get(_ url: URL, headers: [String: String], limit: Int64, file: String? = nil, what: String) throws -> Response {
        var fd: Int32?
        if let file {
            let opened = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
            guard opened >= 0 else { throw OCIError.system(path: file, operation: "create", message: errnoText()) }
            fd = opened
        }
        defer { if let fd { close(fd) } }
        let transfer = HTTPTransfer(limit: limit, fd: fd)
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = 60
        let session = URLSession(configuration: configuration, delegate: transfer, delegateQueue: nil)
        var request = URLRequest(url: url)
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        session.dataTask(with: request).resume()
        transfer.done.wait()
        session.finishTasksAndInvalidate()
        return try transfer.lock.withLock {
            if transfer.overLimit {
                throw OCIError.sizeOutOfBounds(what: what, size: transfer.received, limit: limit)
            }
            if let message = transfer.writeError { throw OCIError.system(path: file ?? "", operation: "write", message: message) }
            if let error = transfer.failure {
                throw OCIError.system(path: url.absoluteString, operation: "GET", message: Self.reason(error))
            }
            guard let response = transfer.response else {
                throw OCIError.system(path: url.absoluteString, operation: "GET", message: "no response")
            }
            var headers: [String: String] = [:]
            for (key, value) in response.allHeaderFields {
                if let key = key as? String, let value = value as? String { headers[key.lowercased()] = value }
            }
            return Response(status: response.statusCode, headers: headers, body: transfer.body, received: transfer.received)
        }
    }

    private static func reason(_ error: Error) -> String {
        let text = (error as NSError).localizedDescription.trimmingCharacters(in: CharacterSet(charactersIn: ". "))
        // Lower-case the first letter, not the first of an acronym ("SSL certificate problem").
        let second = text.dropFirst().first
        if second?.isUppercase == true { return text }
        return text.prefix(1).lowercased() + text.dropFirst()
    }

    func urlSession(
        _ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
        completionHandler: @escaping @Sendable (URLSession.ResponseDisposition) -> Void
    ) {
        let http = response as? HTTPURLResponse
        let tooBig = lock.withLock {
            self.response = http
            if response.expectedContentLength > limit, (200..<300).contains(http?.statusCode ?? 0) {
                overLimit = true
                received = response.expectedContentLength
                return true
            }
            return false
        }
        completionHandler(tooBig ? .cancel : .allow)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        let cancel: Bool = lock.withLock {
            if overLimit || writeError != nil { return true }  // already refused: count nothing more
            received += Int64(data.count)
            let success = (200..<300).contains(response?.statusCode ?? 0)
            // Error bodies are kept (for the message) up to the document limit.
            if received > (success ? limit : Limits.document) {
                overLimit = success
                return true
            }
            if let fd, success {
                let ok = data.withUnsafeBytes { raw -> Bool in
                    var done = 0
                    while done < raw.count {
                        let n = write(fd, raw.baseAddress! + done, raw.count - done)
                        if n < 0 && errno == EINTR { continue }
                        if n <= 0 { return false }
                        done += n
                    }
                    return true
                }
                if !ok { writeError = errnoText() }
                return !ok
            }
            body += data
            return false
        }
        if cancel { dataTask.cancel() }
    }

    /// Follows a redirect (a registry sending a blob to its storage), but never carries the
    /// registry's bearer token to another host.
    func urlSession(
        _ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
        newRequest request: URLRequest, completionHandler: @escaping @Sendable (URLRequest?) -> Void
    ) {
        var next = request
        let from = task.originalRequest?.url
        if next.url?.host != from?.host || next.url?.port != from?.port || next.url?.scheme != from?.scheme {
            next.setValue(nil, forHTTPHeaderField: "Authorization")
        }
        completionHandler(next)
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
        lock.withLock {
            if !overLimit && writeError == nil { failure = error }
        }
        done.signal()
    }
}
