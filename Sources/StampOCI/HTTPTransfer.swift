import CCurl
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// One HTTP GET with libcurl's easy interface, with a hard byte limit: the body goes to memory
/// (documents) or straight to a file (layers), and the transfer is stopped the moment more
/// than `limit` bytes arrive or `Content-Length` announces more. Redirects (blob storage
/// behind a registry) are followed here, not by libcurl, so that the Authorization header is
/// dropped when one leads to another origin.
///
/// libcurl rather than URLSession: on Linux, FoundationNetworking offers no way to trust a
/// CA besides the system's (no server-trust delegate, no CA option, no environment variable
/// read outside Android), and a private registry's CA is what `--registry-ca` and
/// `/etc/containers/certs.d` are for. Certificates are always verified.
final class HTTPTransfer {
    struct Response {
        var status: Int
        var headers: [String: String]
        var body: [UInt8]
        var received: Int64
        /// The response came from another origin (scheme, host, port) than the one asked,
        /// through redirects.
        var crossOrigin = false
    }

    /// A URL as messages show it: without its query, fragment and user info (a presigned
    /// storage URL's query holds a signature and a credential).
    static func display(_ url: String) -> String {
        guard var components = URLComponents(string: url) else {
            return String(url.prefix(while: { $0 != "?" && $0 != "#" }))
        }
        components.query = nil
        components.fragment = nil
        components.user = nil
        components.password = nil
        return components.string ?? String(url.prefix(while: { $0 != "?" && $0 != "#" }))
    }

    static let maximumRedirects = 10

    private let limit: Int64
    private let fd: Int32?
    private var status = 0
    private var headers: [String: String] = [:]
    private var body: [UInt8] = []
    private var received: Int64 = 0
    private var overLimit = false
    /// An error body cut off at the document limit: the status is still reported.
    private var truncatedErrorBody = false
    private var writeError: String?

    private init(limit: Int64, fd: Int32?) {
        self.limit = limit
        self.fd = fd
    }

    private static let initialized: Bool = CCurl_global_init() == CURLE_OK

    /// GETs `url`; the body is kept in memory, or written to `file` (created) when given.
    /// - Parameter certificates: PEM certificates to trust instead of libcurl's CA file (pass
    ///   the system bundle with the extra CAs, see ``systemCertificateFile``); nil: the default.
    /// - Throws: ``OCIError/sizeOutOfBounds(what:size:limit:)`` when the body exceeds `limit`,
    ///   ``OCIError/system(path:operation:message:)`` when the server cannot be reached or its
    ///   certificate is not trusted.
    static func get(
        _ url: URL, headers: [String: String], limit: Int64, file: String? = nil, what: String, certificates: [UInt8]? = nil,
        limits: TransferLimits = TransferLimits()
    ) throws -> Response {
        var fd: Int32?
        if let file {
            let opened = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
            guard opened >= 0 else { throw OCIError.system(path: file, operation: "create", message: errnoText()) }
            fd = opened
        }
        defer { if let fd { close(fd) } }
        var current = url.absoluteString
        var headers = headers
        var crossOrigin = false
        for _ in 0...maximumRedirects {
            let transfer = HTTPTransfer(limit: limit, fd: fd)
            let redirect = try transfer.perform(current, headers: headers, certificates: certificates, limits: limits)
            if transfer.overLimit { throw OCIError.sizeOutOfBounds(what: what, size: transfer.received, limit: limit) }
            if let message = transfer.writeError { throw OCIError.system(path: file ?? "", operation: "write", message: message) }
            guard (300..<400).contains(transfer.status), let redirect else {
                return Response(
                    status: transfer.status, headers: transfer.headers, body: transfer.body, received: transfer.received,
                    crossOrigin: crossOrigin)
            }
            guard let next = URL(string: redirect), next.scheme == "https" || next.scheme == "http" else {
                throw OCIError.system(
                    path: display(current), operation: "GET", message: "redirect to '\(display(redirect))' refused")
            }
            if next.host != url.host || next.port != url.port || next.scheme != url.scheme {
                headers = headers.filter { $0.key.lowercased() != "authorization" }
                crossOrigin = true
            }
            current = redirect
        }
        throw OCIError.system(
            path: display(url.absoluteString), operation: "GET", message: "more than \(maximumRedirects) redirects")
    }

    /// The CA file libcurl verifies with by default (`CURLINFO_CAINFO`), if it was built with one.
    static var systemCertificateFile: String? {
        guard initialized, let handle = curl_easy_init() else { return nil }
        defer { curl_easy_cleanup(handle) }
        var path: UnsafeMutablePointer<CChar>?
        guard CCurl_getinfo_string(handle, CURLINFO_CAINFO, &path) == CURLE_OK, let path else { return nil }
        return String(cString: path)
    }

    /// One request, no redirect followed. Returns the redirect's absolute URL for a 3xx.
    private func perform(_ url: String, headers: [String: String], certificates: [UInt8]?, limits: TransferLimits) throws
        -> String?
    {
        guard Self.initialized, let handle = curl_easy_init() else {
            throw OCIError.system(path: url, operation: "GET", message: "libcurl cannot be initialised")
        }
        defer { curl_easy_cleanup(handle) }
        var list: UnsafeMutablePointer<curl_slist>?
        for (name, value) in headers.sorted(by: { $0.key < $1.key }) { list = curl_slist_append(list, "\(name): \(value)") }
        defer { curl_slist_free_all(list) }
        var message = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        let context = Unmanaged.passUnretained(self).toOpaque()
        let code: CURLcode = withExtendedLifetime(self) {
            message.withUnsafeMutableBufferPointer { buffer in
                var ok = CCurl_setopt_string(handle, CURLOPT_URL, url) == CURLE_OK
                ok = ok && CCurl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, buffer.baseAddress) == CURLE_OK
                ok = ok && CCurl_setopt_pointer(handle, CURLOPT_HTTPHEADER, list) == CURLE_OK
                ok = ok && CCurl_setopt_string(handle, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK
                ok = ok && CCurl_setopt_long(handle, CURLOPT_FOLLOWLOCATION, 0) == CURLE_OK
                ok = ok && CCurl_setopt_long(handle, CURLOPT_NOSIGNAL, 1) == CURLE_OK
                // Give up on a server that does not connect for 60 s, that sends less than the
                // minimum rate on average over the window, or that has not finished by the
                // deadline (TransferLimits).
                ok = ok && CCurl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT, min(60, limits.deadlineSeconds)) == CURLE_OK
                ok = ok && CCurl_setopt_long(handle, CURLOPT_LOW_SPEED_LIMIT, limits.minimumRate) == CURLE_OK
                ok = ok && CCurl_setopt_long(handle, CURLOPT_LOW_SPEED_TIME, limits.rateWindowSeconds) == CURLE_OK
                ok = ok && CCurl_setopt_long(handle, CURLOPT_TIMEOUT, limits.deadlineSeconds) == CURLE_OK
                ok = ok && CCurl_setopt_callback(handle, CURLOPT_HEADERFUNCTION, Self.headerCallback) == CURLE_OK
                ok = ok && CCurl_setopt_pointer(handle, CURLOPT_HEADERDATA, context) == CURLE_OK
                ok = ok && CCurl_setopt_callback(handle, CURLOPT_WRITEFUNCTION, Self.writeCallback) == CURLE_OK
                ok = ok && CCurl_setopt_pointer(handle, CURLOPT_WRITEDATA, context) == CURLE_OK
                if let certificates {
                    ok =
                        ok
                        && certificates.withUnsafeBytes { CCurl_setopt_cainfo_blob(handle, $0.baseAddress, $0.count) } == CURLE_OK
                }
                guard ok else { return CURLE_FAILED_INIT }
                return curl_easy_perform(handle)
            }
        }
        if code != CURLE_OK && !overLimit && writeError == nil && !truncatedErrorBody {
            let text =
                message[0] != 0
                ? String(decoding: message.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
                : String(cString: curl_easy_strerror(code))
            let hint = code == CURLE_OPERATION_TIMEDOUT ? " " + limits.hint : ""
            throw OCIError.system(path: Self.display(url), operation: "GET", message: Self.reason(text) + hint)
        }
        var redirect: UnsafeMutablePointer<CChar>?
        guard (300..<400).contains(status), CCurl_getinfo_string(handle, CURLINFO_REDIRECT_URL, &redirect) == CURLE_OK,
            let redirect
        else { return nil }
        return String(cString: redirect)
    }

    /// libcurl's message without a trailing period, its first letter lower-cased unless it
    /// starts an acronym ("SSL certificate problem").
    private static func reason(_ message: String) -> String {
        let text = message.trimmingCharacters(in: CharacterSet(charactersIn: ". \n"))
        if text.dropFirst().first?.isUppercase == true { return text }
        return text.prefix(1).lowercased() + text.dropFirst()
    }

    /// A status line starts a new header block (a proxy's or a redirect's came before); a
    /// `Content-Length` over the limit on a success stops the transfer before the body.
    private func header(_ line: String) -> Bool {
        let line = line.trimmingCharacters(in: .whitespacesAndNewlines)
        if line.hasPrefix("HTTP/") {
            let fields = line.split(separator: " ")
            status = fields.count > 1 ? Int(fields[1]) ?? 0 : 0
            headers = [:]
            return true
        }
        guard let colon = line.firstIndex(of: ":") else { return true }
        let name = line[..<colon].lowercased()
        let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        headers[name] = value
        if name == "content-length", let length = Int64(value), length > limit, (200..<300).contains(status) {
            overLimit = true
            received = length
            return false
        }
        return true
    }

    /// Counts, checks and keeps (or writes) a piece of the body; false stops the transfer.
    private func write(_ data: UnsafeRawBufferPointer) -> Bool {
        if overLimit || writeError != nil || (300..<400).contains(status) { return !overLimit && writeError == nil }
        received += Int64(data.count)
        let success = (200..<300).contains(status)
        // Error bodies are kept (for the message) up to the document limit.
        if received > (success ? limit : Limits.document) {
            if success { overLimit = true } else { truncatedErrorBody = true }
            return false
        }
        guard let fd, success else {
            body += data
            return true
        }
        var done = 0
        while done < data.count, let base = data.baseAddress {
            let n = Glibc.write(fd, base + done, data.count - done)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 {
                writeError = errnoText()
                return false
            }
            done += n
        }
        return true
    }

    private static let headerCallback: CCurl_callback = { data, size, count, context in
        guard let data, let context else { return 0 }
        let transfer = Unmanaged<HTTPTransfer>.fromOpaque(context).takeUnretainedValue()
        let bytes = UnsafeRawBufferPointer(start: data, count: size * count)
        return transfer.header(String(decoding: bytes, as: UTF8.self)) ? size * count : 0
    }

    private static let writeCallback: CCurl_callback = { data, size, count, context in
        guard let data, let context else { return 0 }
        let transfer = Unmanaged<HTTPTransfer>.fromOpaque(context).takeUnretainedValue()
        return transfer.write(UnsafeRawBufferPointer(start: data, count: size * count)) ? size * count : 0
    }
}
