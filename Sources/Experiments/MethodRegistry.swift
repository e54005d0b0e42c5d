import Datasets
import Detectors
import Foundation

/// A detector behind the contract with its concrete type erased, so the runner and the CLI
/// treat every method alike (PyOD's promise: no special cases).
public final class AnyDetector {
    public let method: String
    /// The detector's configuration as JSON (recorded in the run's config.json).
    public let configurationJSON: String
    private let fitBody: (TrainingData, TrainingContext) throws -> Void
    private let scoreBody: (Samples, InferenceContext) throws -> [Float]
    private let saveBody: ((URL) throws -> Void)?
    private let loadBody: ((URL, [Int], UInt64) throws -> Void)?

    public init<D: AnomalyDetector>(method: String, _ detector: D, configuration: D.Configuration) {
        self.method = method
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        configurationJSON = (try? encoder.encode(configuration)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        let box = DetectorBox(detector)
        fitBody = { data, context in try box.detector.fit(data, context: context) }
        scoreBody = { samples, context in try box.detector.score(samples, context: context) }
        if box.detector is any CheckpointableDetector {
            saveBody = { url in try (box.detector as! any CheckpointableDetector).saveCheckpoint(to: url) }
            loadBody = { url, shape, seed in
                var restored = box.detector as! any CheckpointableDetector
                try restored.loadCheckpoint(from: url, sampleShape: shape, seed: seed)
                box.detector = restored as! D
            }
        } else {
            saveBody = nil
            loadBody = nil
        }
    }

    /// Whether the fitted state is a network saved as a checkpoint (deep methods).
    public var savesCheckpoints: Bool { saveBody != nil }

    /// Writes the fitted network (safetensors).
    public func saveCheckpoint(to url: URL) throws { try saveBody?(url) }

    /// Restores the fitted network from a checkpoint instead of fitting.
    public func loadCheckpoint(from url: URL, sampleShape: [Int], seed: UInt64) throws {
        guard let loadBody else { throw ExperimentError.invalidArgument("method '\(method)' has no checkpoint to load") }
        try loadBody(url, sampleShape, seed)
    }

    public func fit(_ data: TrainingData, context: TrainingContext) throws { try fitBody(data, context) }
    public func score(_ samples: Samples, context: InferenceContext) throws -> [Float] { try scoreBody(samples, context) }
}

/// Holds a (possibly value-type) detector so closures can mutate it.
final class DetectorBox<D> {
    var detector: D
    init(_ detector: D) { self.detector = detector }
}

/// Errors in what the user asked for (unknown method or option, bad value).
public enum ExperimentError: Error, CustomStringConvertible, Equatable {
    case unknownMethod(String, known: [String])
    case unknownOption(method: String, option: String, known: [String])
    case invalidOptionValue(method: String, option: String, value: String, reason: String)
    case invalidArgument(String)

    public var description: String {
        switch self {
        case .unknownMethod(let name, let known):
            return "unknown method '\(name)'; known methods: \(known.joined(separator: ", "))"
        case .unknownOption(let method, let option, let known):
            return "method '\(method)' has no option '\(option)'; its options: \(known.joined(separator: ", "))"
        case .invalidOptionValue(let method, let option, let value, let reason):
            return "method '\(method)': option \(option)=\(value) is invalid: \(reason)"
        case .invalidArgument(let message):
            return message
        }
    }
}

/// One method the tool knows: its name, a one-line summary and how to build it from
/// `key=value` options (keys are the configuration's property names).
public struct MethodEntry: Sendable {
    public let name: String
    public let summary: String
    /// Option names with their default values as text.
    public let options: [(name: String, defaultValue: String)]
    private let build: @Sendable ([String: String]) throws -> AnyDetector

    public init<D: AnomalyDetector>(
        _ name: String, _ type: D.Type, defaults: D.Configuration, summary: String
    ) {
        self.name = name
        self.summary = summary
        self.options = MethodEntry.optionList(defaults)
        build = { overrides in
            let configuration = try MethodEntry.configuration(defaults, overrides: overrides, method: name)
            return AnyDetector(method: name, D(configuration), configuration: configuration)
        }
    }

    /// A detector configured by `options` (unknown keys and unparsable values throw).
    public func make(options: [String: String] = [:]) throws -> AnyDetector { try build(options) }

    static func optionList<C: Codable>(_ defaults: C) -> [(name: String, defaultValue: String)] {
        Mirror(reflecting: defaults).children.compactMap { child in
            guard let label = child.label else { return nil }
            return (label, describe(child.value))
        }
    }

    static func describe(_ value: Any) -> String {
        let mirror = Mirror(reflecting: value)
        if mirror.displayStyle == .optional {
            return mirror.children.first.map { describe($0.value) } ?? "none"
        }
        return "\(value)"
    }

    /// Applies text overrides to a Codable configuration through its JSON form; each value is
    /// parsed as the type of the property's default (Bool, number, text; `none` clears an optional).
    static func configuration<C: Codable>(_ defaults: C, overrides: [String: String], method: String) throws -> C {
        guard !overrides.isEmpty else { return defaults }
        let defaultsByName = Dictionary(
            Mirror(reflecting: defaults).children.compactMap { c in c.label.map { ($0, c.value) } },
            uniquingKeysWith: { a, _ in a })
        let data = try JSONEncoder().encode(defaults)
        var object = (try JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:]
        for (key, text) in overrides {
            guard let value = defaultsByName[key] else {
                throw ExperimentError.unknownOption(method: method, option: key, known: defaultsByName.keys.sorted())
            }
            func bad(_ reason: String) -> ExperimentError {
                .invalidOptionValue(method: method, option: key, value: text, reason: reason)
            }
            var unwrapped: Any? = value
            let mirror = Mirror(reflecting: value)
            if mirror.displayStyle == .optional {
                if text == "none" {
                    object[key] = nil
                    continue
                }
                unwrapped = mirror.children.first?.value
            }
            switch unwrapped {
            case is Bool:
                guard let b = Bool(text) else { throw bad("expected true or false") }
                object[key] = b
            case is Int, is UInt64, is UInt32, is Int32:
                guard let i = Int(text) else { throw bad("expected an integer") }
                object[key] = i
            case is Float, is Double:
                guard let d = Double(text) else { throw bad("expected a number") }
                object[key] = d
            case is String:
                object[key] = text
            default:
                // Enums and optionals without a default: a number if it parses, else text.
                if let i = Int(text) { object[key] = i } else if let d = Double(text) { object[key] = d } else if let b = Bool(text) { object[key] = b } else { object[key] = text }
            }
        }
        do {
            let patched = try JSONSerialization.data(withJSONObject: object)
            return try JSONDecoder().decode(C.self, from: patched)
        } catch let error as DecodingError {
            var key = "?"
            switch error {
            case .typeMismatch(_, let c), .valueNotFound(_, let c), .keyNotFound(_, let c), .dataCorrupted(let c):
                key = c.codingPath.first?.stringValue ?? "?"
            @unknown default: break
            }
            throw ExperimentError.invalidOptionValue(
                method: method, option: key, value: overrides[key] ?? "", reason: "not a valid value for this option")
        }
    }
}
