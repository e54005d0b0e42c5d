import Foundation

/// The one way a detector configuration is read from JSON with defaults: the given JSON object
/// is laid over the JSON of a default configuration (nested objects merged key by key, `null`
/// clearing an optional), and the result is decoded with the synthesised `Decodable`. So no
/// configuration needs a hand-written decoder, and `{}` decodes to the defaults.
public enum ConfigurationDecoding {
    /// A configuration as JSON, keys sorted, non-finite numbers as "inf"/"-inf"/"nan": what run
    /// folders (config.json) and model files record.
    public static func json<C: Encodable>(_ configuration: C) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return String(decoding: try encoder.encode(configuration), as: UTF8.self)
    }

    /// Decodes `data` (a JSON object, possibly partial) over `defaults`.
    public static func decode<C: Codable>(_ type: C.Type = C.self, from data: Data, defaults: C) throws -> C {
        guard let overrides = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "a configuration must be a JSON object"))
        }
        return try decode(type, overriding: overrides, defaults: defaults)
    }

    /// Decodes the JSON object `overrides` over `defaults`.
    public static func decode<C: Codable>(_ type: C.Type = C.self, overriding overrides: [String: Any], defaults: C)
        throws -> C
    {
        let base = (try JSONSerialization.jsonObject(with: JSONEncoder().encode(defaults)) as? [String: Any]) ?? [:]
        let merged = try JSONSerialization.data(withJSONObject: merge(overrides, into: base))
        return try JSONDecoder().decode(C.self, from: merged)
    }

    static func merge(_ overrides: [String: Any], into base: [String: Any]) -> [String: Any] {
        var result = base
        for (key, value) in overrides {
            if value is NSNull {
                result[key] = nil
            } else if let nested = value as? [String: Any], let inner = base[key] as? [String: Any] {
                result[key] = merge(nested, into: inner)
            } else {
                result[key] = value
            }
        }
        return result
    }
}
