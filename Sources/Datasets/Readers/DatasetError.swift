/// An error caused by data on disk: a missing, truncated, corrupt or unsupported file, or a
/// data set name or layout that does not match what is there. Every message names the file
/// (or folder) and the problem, so it can be shown to a user as it is.
public enum DatasetError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file or folder does not exist.
    case fileNotFound(path: String)
    /// The file could not be read (permissions, I/O error, not a regular file…).
    case unreadable(path: String, reason: String)
    /// The file ends before the data its header announces.
    case truncated(path: String, problem: String)
    /// The file's bytes contradict its format (bad magic number, bad checksum, bad header…).
    case corrupt(path: String, problem: String)
    /// The file is valid but uses a feature these readers do not implement.
    case unsupported(path: String, feature: String)
    /// The file asks for more than a stated limit (see `ReadLimits`).
    case tooLarge(path: String, problem: String)
    /// A field of a text table is missing, non-numeric, or its row has the wrong length.
    /// `line` and `column` are 1-based.
    case invalidField(path: String, line: Int, column: Int, problem: String)
    /// Two files that must agree do not (for example image and label counts).
    case mismatch(paths: [String], problem: String)
    /// A data set name that the catalogue does not know.
    case unknownDataset(name: String, knownNames: [String])
    /// A known data set whose files are not under the data root.
    case datasetNotFound(name: String, searched: [String], hint: String)

    public var description: String {
        switch self {
        case .fileNotFound(let path):
            return "\(path): no such file or folder"
        case .unreadable(let path, let reason):
            return "\(path): cannot be read: \(reason)"
        case .truncated(let path, let problem):
            return "\(path): truncated: \(problem)"
        case .corrupt(let path, let problem):
            return "\(path): corrupt: \(problem)"
        case .unsupported(let path, let feature):
            return "\(path): unsupported: \(feature)"
        case .tooLarge(let path, let problem):
            return "\(path): too large: \(problem)"
        case .invalidField(let path, let line, let column, let problem):
            return "\(path):\(line): column \(column): \(problem)"
        case .mismatch(let paths, let problem):
            return "\(paths.joined(separator: " and ")): \(problem)"
        case .unknownDataset(let name, let knownNames):
            return "unknown data set '\(name)'; known data sets: \(knownNames.joined(separator: ", "))"
        case .datasetNotFound(let name, let searched, let hint):
            return "data set '\(name)' not found; looked in: \(searched.joined(separator: ", ")). \(hint)"
        }
    }
}
