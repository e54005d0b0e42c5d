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
    private let loadBody: ((URL) throws -> Void)?
    private let reportImagesBody: ((Samples, Int, InferenceContext) throws -> [ReportImages])?
    private let currentConfigurationBody: () -> String?

    public init<D: AnomalyDetector>(method: String, _ detector: D, configuration: D.Configuration) {
        self.method = method
        configurationJSON = (try? ConfigurationDecoding.json(configuration)) ?? "{}"
        let box = DetectorBox(detector)
        fitBody = { data, context in try box.detector.fit(data, context: context) }
        scoreBody = { samples, context in try box.detector.score(samples, context: context) }
        if box.detector is any PersistentDetector {
            saveBody = { url in try (box.detector as! any PersistentDetector).saveFittedState(to: url) }
            loadBody = { url in
                var restored = box.detector as! any PersistentDetector
                try restored.loadFittedState(from: url)
                box.detector = restored as! D
            }
        } else {
            saveBody = nil
            loadBody = nil
        }
        currentConfigurationBody = {
            guard let deep = box.detector as? any DeepDetector else { return nil }
            return try? Self.configurationJSON(of: deep)
        }
        reportImagesBody =
            box.detector is any ImageReporting
            ? { samples, count, context in
                try (box.detector as! any ImageReporting).reportImages(of: samples, count: count, context: context)
            } : nil
    }

    /// The configuration the detector holds now, as JSON: after `fit`, what it trained with. A
    /// detector can adopt options at fit time (Elsa takes the encoder of its `pretrained` run),
    /// so the report shows this rather than `configurationJSON`, the options asked for.
    public var currentConfigurationJSON: String { currentConfigurationBody() ?? configurationJSON }

    private static func configurationJSON<D: DeepDetector>(of detector: D) throws -> String {
        try ConfigurationDecoding.json(detector.configuration)
    }

    /// Whether the detector makes images of its own for the report (`ImageReporting`).
    public var reportsImages: Bool { reportImagesBody != nil }

    /// The images a fitted detector made for the report (`ImageReporting`); none for the others.
    public func reportImages(of samples: Samples, count: Int, context: InferenceContext) throws -> [ReportImages] {
        try reportImagesBody?(samples, count, context) ?? []
    }

    /// Whether the fitted state is saved in the run folder (deep methods), so that scoring
    /// needs only the folder.
    public var savesFittedState: Bool { saveBody != nil }

    /// Writes the fitted state (safetensors).
    public func saveFittedState(to url: URL) throws { try saveBody?(url) }

    /// Restores the fitted state from a run folder's file instead of fitting.
    public func loadFittedState(from url: URL) throws {
        guard let loadBody else { throw ExperimentError.invalidArgument("method '\(method)' has no saved model to load") }
        try loadBody(url)
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
    /// Training stopped with a checkpoint kept in `folder`, from which the run can continue.
    case resumable(reason: String, folder: String)

    public var description: String {
        switch self {
        case .resumable(let reason, let folder):
            return "\(reason); its last checkpoint is kept — continue with: anomaly train --resume \(folder)"
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
            // Always parsed and range-checked, so a bad default or option fails here, not mid-training.
            let configuration = try MethodEntry.configuration(defaults, overrides: overrides, method: name)
            return AnyDetector(method: name, D(configuration), configuration: configuration)
        }
    }

    /// A detector configured by `options` (unknown keys and unparsable values throw).
    public func make(options: [String: String] = [:]) throws -> AnyDetector { try build(options) }

    /// Every option of a configuration with its default as text; nested option groups give
    /// dotted names (`training.epochs`).
    static func optionList(_ value: Any, prefix: String = "") -> [(name: String, defaultValue: String)] {
        Mirror(reflecting: value).children.flatMap { child -> [(name: String, defaultValue: String)] in
            guard let label = child.label else { return [] }
            if isGroup(child.value) { return optionList(child.value, prefix: prefix + label + ".") }
            return [(prefix + label, describe(child.value))]
        }
    }

    /// A nested option group: a structure (numbers, text, arrays, optionals and enums are values).
    static func isGroup(_ value: Any) -> Bool {
        Mirror(reflecting: value).displayStyle == .struct && !(value is String)
    }

    /// The default value of the option at a dotted path.
    static func defaultValue(_ root: Any, path: [Substring]) -> Any? {
        var value: Any = root
        for part in path {
            guard isGroup(value) || part == path.first,
                let child = Mirror(reflecting: value).children.first(where: { $0.label == String(part) })
            else { return nil }
            value = child.value
        }
        return isGroup(value) ? nil : value
    }

    static func describe(_ value: Any) -> String {
        let mirror = Mirror(reflecting: value)
        if mirror.displayStyle == .optional {
            return mirror.children.first.map { describe($0.value) } ?? "none"
        }
        if mirror.displayStyle == .collection { return mirror.children.map { describe($0.value) }.joined(separator: ",") }
        if let raw = value as? any RawRepresentable { return "\(raw.rawValue)" }
        return "\(value)"
    }

    /// Applies text overrides (`training.epochs` → "30") to a Codable configuration through its
    /// JSON form; each value is parsed as the type of the option's default (Bool, finite number,
    /// text, enum case, comma-separated list; `none` clears an optional). Then the
    /// configuration's own range checks run, so a bad value is refused before any training.
    static func configuration<C: Codable>(_ defaults: C, overrides: [String: String], method: String) throws -> C {
        let known = optionList(defaults).map(\.name)
        var object: [String: Any] = [:]
        for (key, text) in overrides.sorted(by: { $0.key < $1.key }) {
            let path = key.split(separator: ".", omittingEmptySubsequences: false)
            guard known.contains(key), let value = defaultValue(defaults, path: path) else {
                throw ExperimentError.unknownOption(method: method, option: key, known: known.sorted())
            }
            let parsed = try parse(text, like: value) {
                ExperimentError.invalidOptionValue(method: method, option: key, value: text, reason: $0)
            }
            set(&object, path: path.map(String.init), to: parsed)
        }
        let configuration: C
        do {
            configuration = try ConfigurationDecoding.decode(overriding: object, defaults: defaults)
        } catch let error as DecodingError {
            var key = "?"
            switch error {
            case .typeMismatch(_, let c), .valueNotFound(_, let c), .keyNotFound(_, let c), .dataCorrupted(let c):
                key = c.codingPath.map(\.stringValue).joined(separator: ".")
            @unknown default: break
            }
            throw ExperimentError.invalidOptionValue(
                method: method, option: key, value: overrides[key] ?? "", reason: "not a valid value for this option")
        }
        if let checked = configuration as? any ValidatingConfiguration {
            do {
                try checked.validate()
            } catch DetectorError.invalidOption(let option, let value, let requirement) {
                throw ExperimentError.invalidOptionValue(
                    method: method, option: option, value: overrides[option] ?? value, reason: requirement)
            }
        }
        return configuration
    }

    /// `text` as a JSON value of the type of `value` (nil: remove the key, for `none`).
    static func parse(_ text: String, like value: Any, _ bad: (String) -> ExperimentError) throws -> Any? {
        let mirror = Mirror(reflecting: value)
        var unwrapped: Any? = value
        if mirror.displayStyle == .optional {
            if text == "none" { return nil }
            unwrapped = mirror.children.first?.value
        }
        func number(_ text: String) throws -> Double {
            guard let d = Double(text), d.isFinite else { throw bad("expected a finite number") }
            return d
        }
        func integer(_ text: String) throws -> Int {
            guard let i = Int(text) else { throw bad("expected an integer") }
            return i
        }
        switch unwrapped {
        case is Bool:
            guard let b = Bool(text) else { throw bad("expected true or false") }
            return b
        case is Int, is UInt64, is UInt32, is Int32:
            return try integer(text)
        case is Float, is Double:
            return try number(text)
        case is String:
            return text
        case let array as [Int]:
            _ = array
            return try text.split(separator: ",").map { try integer(String($0).trimmingCharacters(in: .whitespaces)) }
        case let array as [Double]:
            _ = array
            return try text.split(separator: ",").map { try number(String($0).trimmingCharacters(in: .whitespaces)) }
        case let cases as any CaseIterable & RawRepresentable:
            let allowed = type(of: cases).allCasesRawValues
            guard allowed.contains(text) else { throw bad("expected one of \(allowed.joined(separator: ", "))") }
            return text
        default:
            // An optional without a default: a number if it parses, else text.
            if let i = Int(text) { return i }
            if let d = Double(text) {
                guard d.isFinite else { throw bad("expected a finite number") }
                return d
            }
            if let b = Bool(text) { return b }
            return text
        }
    }

    /// Sets a dotted path in a JSON object (nil → `null`, which clears an optional).
    static func set(_ object: inout [String: Any], path: [String], to value: Any?) {
        guard let first = path.first else { return }
        if path.count == 1 {
            object[first] = value ?? NSNull()
            return
        }
        var child = object[first] as? [String: Any] ?? [:]
        set(&child, path: Array(path.dropFirst()), to: value)
        object[first] = child
    }
}

extension CaseIterable where Self: RawRepresentable {
    /// The raw values of every case, as text (for option errors).
    static var allCasesRawValues: [String] { allCases.map { "\($0.rawValue)" } }
}
