import Detectors

/// Every method the tool can run, by name.
public enum MethodRegistry {
    public static let all: [MethodEntry] = []

    /// The methods `anomaly demo` compares by default.
    public static let demoMethods: [String] = []

    /// The entry for `name`, or an error listing the known names.
    public static func entry(named name: String) throws -> MethodEntry {
        guard let entry = all.first(where: { $0.name == name }) else {
            throw ExperimentError.unknownMethod(name, known: all.map(\.name))
        }
        return entry
    }
}
