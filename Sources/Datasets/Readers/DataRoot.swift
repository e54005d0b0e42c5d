import Foundation

/// Where data sets live on disk.
public enum DataRoot {
    /// The environment variable that names the data root when no explicit folder is given.
    public static let environmentVariable = "ANOMALYKIT_DATA"

    /// The data root folder: `explicit` (a `--data-dir` value) when given, else
    /// `$ANOMALYKIT_DATA`, else the per-user cache folder `$XDG_CACHE_HOME/anomalykit`, or
    /// `~/.cache/anomalykit` when `XDG_CACHE_HOME` is unset. Empty values count as unset; a
    /// leading `~/` is expanded with `HOME`; relative paths are taken from the current folder.
    public static func resolve(
        explicit: String?, environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> URL {
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        func folder(_ path: String) -> URL {
            var expanded = path
            if expanded == "~" {
                expanded = home
            } else if expanded.hasPrefix("~/") {
                expanded = home + expanded.dropFirst(1)
            }
            return URL(fileURLWithPath: expanded, isDirectory: true).standardizedFileURL
        }
        if let explicit, !explicit.isEmpty { return folder(explicit) }
        if let fromEnvironment = environment[environmentVariable], !fromEnvironment.isEmpty {
            return folder(fromEnvironment)
        }
        if let cache = environment["XDG_CACHE_HOME"], !cache.isEmpty {
            return folder(cache).appendingPathComponent("anomalykit", isDirectory: true)
        }
        return folder(home).appendingPathComponent(".cache", isDirectory: true)
            .appendingPathComponent("anomalykit", isDirectory: true)
    }
}
