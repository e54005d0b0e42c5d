import Foundation

/// Reader for folders of PNG images, one label per image taken from its sub-folder.
public enum ImageFolderReader {
    /// How labels follow from the folder structure.
    public enum Layout: Sendable, Hashable {
        /// `root/<class>/*.png`; classes are the sub-folder names in sorted order, labels their
        /// positions in that order.
        case classPerSubfolder
        /// `root/normal/*.png` (label 0) and `root/abnormal/*.png` (label 1); either may be absent.
        /// With neither, the images directly in `root`, every one normal (label 0): one-class
        /// data with no anomalies.
        case normalAbnormal
        /// `.normalAbnormal` when the only sub-folders are `normal` and/or `abnormal`, otherwise
        /// `.classPerSubfolder`.
        case automatic
    }

    /// Reads every `*.png` (any letter case) in the class folders under `root`, files sorted
    /// by name within a class. All images must share their size; with `channels` nil they
    /// must also share their channel count, otherwise each is converted to `channels`
    /// (1 grey, 3 RGB, …; see `PNGImage.converted(toChannels:)`). Hidden files are skipped.
    public static func read(root: URL, layout: Layout = .automatic, channels: Int? = nil) throws
        -> LabeledImageBytes
    {
        if let channels { precondition((1...4).contains(channels), "ImageFolderReader: channels must be 1…4") }
        let manager = FileManager.default
        var isDirectory: ObjCBool = false
        guard manager.fileExists(atPath: root.path, isDirectory: &isDirectory) else {
            throw DatasetError.fileNotFound(path: root.path)
        }
        guard isDirectory.boolValue else {
            throw DatasetError.unreadable(path: root.path, reason: "not a folder")
        }
        let (classNames, files, flat) = try labeledFiles(root: root, layout: layout)
        guard let first = files.first else {
            throw DatasetError.corrupt(
                path: root.path, problem: flat ? "no .png images" : "no .png images in \(classNames.joined(separator: ", "))")
        }

        var shape: (width: Int, height: Int, channels: Int)?
        var pixels = [UInt8]()
        for (index, file) in files.enumerated() {
            var image = try PNGDecoder.decode(fileAt: file.url)
            if let channels { image = image.converted(toChannels: channels) }
            if let shape {
                guard image.width == shape.width, image.height == shape.height else {
                    throw DatasetError.mismatch(
                        paths: [file.url.path],
                        problem:
                            "image is \(image.width)×\(image.height), but \(first.url.lastPathComponent) and the images before it are \(shape.width)×\(shape.height); all images in a folder must share their size"
                    )
                }
                guard image.channels == shape.channels else {
                    throw DatasetError.mismatch(
                        paths: [file.url.path],
                        problem:
                            "image has \(image.channels) channels, but \(first.url.lastPathComponent) has \(shape.channels); pass a channel count to convert them"
                    )
                }
            } else {
                // No reservation from files × the first image's size: the first image could be
                // a small file that decodes large, followed by files that are refused.
                shape = (image.width, image.height, image.channels)
            }
            _ = index
            pixels.append(contentsOf: image.planarPixels())
        }
        let size = shape!
        return LabeledImageBytes(
            images: ImageBytes(pixels: pixels, shape: [files.count, size.channels, size.height, size.width]),
            labels: files.map(\.label), classNames: classNames)
    }

    /// The class names and the labelled `*.png` files of `root`, and whether they were read flat
    /// from `root` itself (`.normalAbnormal` without either sub-folder).
    private static func labeledFiles(root: URL, layout: Layout) throws
        -> (classNames: [String], files: [(url: URL, label: Int)], flat: Bool)
    {
        let manager = FileManager.default
        let entries = try contents(of: root)
        let subfolders = entries.filter { url in
            var folder: ObjCBool = false
            return manager.fileExists(atPath: url.path, isDirectory: &folder) && folder.boolValue
        }
        let names = subfolders.map(\.lastPathComponent)
        let useNormalAbnormal: Bool
        switch layout {
        case .normalAbnormal: useNormalAbnormal = true
        case .classPerSubfolder: useNormalAbnormal = false
        case .automatic: useNormalAbnormal = !names.isEmpty && Set(names).isSubset(of: ["normal", "abnormal"])
        }
        let classNames = useNormalAbnormal ? ["normal", "abnormal"] : names
        if useNormalAbnormal && !names.contains("normal") && !names.contains("abnormal") {
            return (classNames, pngFiles(entries).map { ($0, 0) }, true)
        }
        guard !classNames.isEmpty else {
            throw DatasetError.corrupt(path: root.path, problem: "no class sub-folders (expected root/<class>/*.png)")
        }

        var files = [(url: URL, label: Int)]()
        for (label, className) in classNames.enumerated() {
            let folder = root.appendingPathComponent(className, isDirectory: true)
            if useNormalAbnormal && !manager.fileExists(atPath: folder.path) { continue }
            files += pngFiles(try contents(of: folder)).map { ($0, label) }
        }
        return (classNames, files, false)
    }

    /// The `*.png` files (any letter case) among `urls`.
    private static func pngFiles(_ urls: [URL]) -> [URL] { urls.filter { $0.pathExtension.lowercased() == "png" } }

    /// Non-hidden entries of `folder`, sorted by name.
    private static func contents(of folder: URL) throws -> [URL] {
        do {
            return try FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)
                .filter { !$0.lastPathComponent.hasPrefix(".") }
                .sorted { $0.lastPathComponent < $1.lastPathComponent }
        } catch {
            throw DatasetError.unreadable(
                path: folder.path, reason: "cannot list the folder: \(error.localizedDescription)")
        }
    }
}
