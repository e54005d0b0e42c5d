/// An error while downloading a data set. Messages name the URL or file.
public enum DatasetFetchError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The downloaded bytes do not have the expected SHA-256. `what` says which bytes were
    /// hashed (the download itself, or its gunzipped content).
    case hashMismatch(url: String, what: String, expected: String, actual: String)
    /// The download has a different size from the one expected.
    case sizeMismatch(url: String, expected: Int64, actual: Int64)
    /// The server answered with an HTTP error status.
    case httpStatus(url: String, status: Int)
    /// The connection failed.
    case transport(url: String, problem: String)
    /// A local file could not be written, moved or removed.
    case fileSystem(path: String, problem: String)
    /// The data set has no download source.
    case notFetchable(name: String, fetchableNames: [String])

    public var description: String {
        switch self {
        case .hashMismatch(let url, let what, let expected, let actual):
            return "\(url): SHA-256 mismatch for \(what): expected \(expected), got \(actual); the download was deleted"
        case .sizeMismatch(let url, let expected, let actual):
            return "\(url): expected \(expected) bytes, received \(actual); the download was deleted"
        case .httpStatus(let url, let status):
            return "\(url): HTTP status \(status)"
        case .transport(let url, let problem):
            return "\(url): download failed: \(problem)"
        case .fileSystem(let path, let problem):
            return "\(path): \(problem)"
        case .notFetchable(let name, let fetchableNames):
            return "'\(name)' cannot be downloaded; data sets that can: \(fetchableNames.joined(separator: ", "))"
        }
    }
}
