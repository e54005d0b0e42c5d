import Datasets
import Foundation
import Testing

@Suite("PNG decoder and image folders")
struct ReadersImageTests {
    @Test func decodesEveryColourTypeAndFilter() throws {
        let expected = RepositoryFiles.expectedSection("png")
        #expect(expected.count == 6)
        for (name, value) in expected {
            let info = value as! [String: Any]
            let image = try PNGDecoder.decode(fileAt: RepositoryFiles.fixture(name))
            #expect(image.width == info["width"] as? Int, "\(name)")
            #expect(image.height == info["height"] as? Int, "\(name)")
            #expect(image.channels == info["channels"] as? Int, "\(name)")
            #expect(image.pixels == uint8s(info["pixels"]), "\(name)")
        }
    }

    @Test func interlacedImagesAreRejectedClearly() throws {
        let url = RepositoryFiles.fixture("interlaced.png")
        let message = errorMessage { _ = try PNGDecoder.decode(fileAt: url) }
        #expect(message?.hasPrefix("\(url.path): unsupported: Adam7 interlaced PNG") == true)
    }

    @Test func chunkCRCIsChecked() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        var bytes = try TestBytes.read(RepositoryFiles.fixture("rgb.png"))
        bytes[20] ^= 0x01  // inside IHDR's data
        let url = try folder.write("flipped.png", bytes)
        let message = errorMessage { _ = try PNGDecoder.decode(fileAt: url) }
        #expect(message?.hasPrefix("\(url.path): corrupt: CRC mismatch in chunk IHDR") == true)
        let original = try TestBytes.read(RepositoryFiles.fixture("rgb.png"))
        let cut = try folder.write("cut.png", Array(original.prefix(40)))
        #expect(errorMessage { _ = try PNGDecoder.decode(fileAt: cut) }?.contains("truncated") == true)
    }

    @Test func channelConversion() {
        let rgb = PNGImage(width: 2, height: 1, channels: 3, pixels: [255, 0, 0, 10, 20, 30])
        // Pillow's convert("L"): 255·0.299 = 76.2 → 76; (10·299 + 20·587 + 30·114) / 1000 = 18.1 → 18.
        #expect(rgb.converted(toChannels: 1).pixels == [76, 18])
        #expect(rgb.converted(toChannels: 4).pixels == [255, 0, 0, 255, 10, 20, 30, 255])
        #expect(rgb.planarPixels() == [255, 10, 0, 20, 0, 30])
        let grey = PNGImage(width: 1, height: 1, channels: 2, pixels: [9, 200])
        #expect(grey.converted(toChannels: 3).pixels == [9, 9, 9])
    }

    @Test func folderLayouts() throws {
        let folders = RepositoryFiles.expectedSection("folders")
        for (name, layout) in [
            ("folder_classes", ImageFolderReader.Layout.classPerSubfolder),
            ("folder_normal_abnormal", .automatic),
        ] {
            let info = folders[name] as! [String: Any]
            let read = try ImageFolderReader.read(root: RepositoryFiles.fixture(name), layout: layout)
            #expect(read.classNames == info["classNames"] as? [String], "\(name)")
            #expect(read.labels == ints(info["labels"]), "\(name)")
            let images = (info["images"] as! [Any]).flatMap { uint8s($0) }
            #expect(read.images.pixels == images, "\(name)")
        }
        let classes = try ImageFolderReader.read(root: RepositoryFiles.fixture("folder_classes"))
        #expect(classes.images.shape == [6, 3, 4, 3])
        let normal = try ImageFolderReader.read(root: RepositoryFiles.fixture("folder_normal_abnormal"))
        #expect(normal.classNames == ["normal", "abnormal"])
        #expect(normal.labels == [0, 0, 0, 1, 1])
        #expect(normal.images.shape == [5, 1, 5, 5])
        let asRGB = try ImageFolderReader.read(root: RepositoryFiles.fixture("folder_normal_abnormal"), channels: 3)
        #expect(asRGB.images.shape == [5, 3, 5, 5])
        #expect(asRGB.images.pixels[0..<25] == asRGB.images.pixels[50..<75])
    }

    @Test func imagesOfDifferentSizesAreRejectedNamingTheFile() throws {
        let root = RepositoryFiles.fixture("folder_mixed_sizes")
        let message = errorMessage { _ = try ImageFolderReader.read(root: root) }
        #expect(message?.hasPrefix(root.appendingPathComponent("b/img1.png").path) == true, "\(message ?? "")")
        #expect(message?.contains("4×5") == true)
    }

    @Test func svhnMatFile() throws {
        let info = RepositoryFiles.expectedSection("mat")["svhn_like.mat"] as! [String: Any]
        let read = try SVHNReader.read(at: RepositoryFiles.fixture("svhn_like.mat"))
        #expect(read.labels == ints(info["labels"]))
        #expect(read.images.shape == [5, 3, 32, 32])
        #expect(Array(read.images.pixels[0..<3072]) == uint8s(info["first_image"]))
        #expect(Array(read.images.pixels[(4 * 3072)...]) == uint8s(info["last_image"]))
    }
}
