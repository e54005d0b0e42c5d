import Datasets
import Foundation
import Tensors
import Testing

@Suite struct AugmentRandAugmentTests {
    let fixture: AugmentFixture
    init() throws { fixture = try AugmentFixture("pil.json") }

    static func operation(_ name: String, _ args: [Double]) -> PILOperation {
        switch name {
        case "autoContrast": return .autoContrast
        case "equalize": return .equalize
        case "posterize": return .posterize(bits: Int(args[0]))
        case "solarize": return .solarize(threshold: Int(args[0]))
        case "brightness": return .brightness(Float(args[0]))
        case "color": return .color(Float(args[0]))
        case "contrast": return .contrast(Float(args[0]))
        case "sharpness": return .sharpness(Float(args[0]))
        case "shearX": return .shearX(args[0])
        case "shearY": return .shearY(args[0])
        case "translateX": return .translateX(pixels: Int(args[0]))
        case "translateY": return .translateY(pixels: Int(args[0]))
        case "cutout": return .cutout(x0: Int(args[0]), y0: Int(args[1]), x1: Int(args[2]), y1: Int(args[3]))
        default: fatalError("unknown op \(name)")
        }
    }

    /// Every operation, on RGB and grey images, equals Pillow's output exactly (8-bit values).
    @Test func operationsMatchPillow() {
        let rgb = fixture.tensor("rgb", scale: 1.0 / 255)
        let grey = fixture.tensor("grey", scale: 1.0 / 255)
        let ops = fixture.root["ops"] as! [[String: Any]]
        #expect(ops.count == 28)
        for entry in ops {
            let name = entry["name"] as! String
            let args = (entry["args"] as! [Any]).map { ($0 as! NSNumber).doubleValue }
            let op = Self.operation(name, args)
            for (input, key) in [(rgb, "rgb"), (grey, "grey")] {
                let expected = AugmentFixture.tensor(entry[key]).toArray().map { Int($0) }
                let got = ImageOps.applyPIL([op], to: input).toArray().map { Int(($0 * 255).rounded()) }
                let mismatches = zip(got, expected).filter { $0 != $1 }.count
                #expect(mismatches == 0, "\(name) \(args) on \(key): \(mismatches) of \(got.count) values differ")
            }
        }
    }

    @Test func magnitudeTableMatchesTheReleasedCode() {
        let size = ImageSize(height: 14, width: 17)
        for row in fixture.root["table"] as! [[String: Any]] {
            let level = (row["level"] as! NSNumber).intValue
            let negated = row["negated"] as! Bool
            let values = row["values"] as! [String: Any]
            func value(_ key: String) -> Double { (values[key] as! NSNumber).doubleValue }
            typealias Op = RandAugmentMC.Operation
            func resolve(_ op: Op) -> PILOperation { op.resolved(level: level, negated: negated, imageSize: size) }
            let factor = Float(value("brightness"))
            #expect(resolve(.brightness) == .brightness(factor))
            #expect(resolve(.color) == .color(factor))
            #expect(resolve(.contrast) == .contrast(factor))
            #expect(resolve(.sharpness) == .sharpness(factor))
            #expect(resolve(.posterize) == .posterize(bits: Int(value("posterize"))))
            #expect(resolve(.solarize) == .solarize(threshold: Int(value("solarize"))))
            #expect(resolve(.shearX) == .shearX(value("shear")))
            #expect(resolve(.shearY) == .shearY(value("shear")))
            #expect(resolve(.translateX) == .translateX(pixels: Int(value("translateX"))))
            #expect(resolve(.translateY) == .translateY(pixels: Int(value("translateY"))))
        }
        // The table in METHODS §2.1.7: posterize keeps 8 bits, solarize 256 − ⌊25.6 v⌋.
        let size32 = ImageSize(height: 32, width: 32)
        #expect(
            RandAugmentMC.Operation.solarize.resolved(level: 4, negated: false, imageSize: size32)
                == .solarize(threshold: 154))
        #expect(
            RandAugmentMC.Operation.posterize.resolved(level: 4, negated: false, imageSize: size32)
                == .posterize(bits: 8))
        #expect(
            RandAugmentMC.Operation.translateX.resolved(level: 1, negated: true, imageSize: size32)
                == .translateX(pixels: 8))
    }

    @Test func sampledPoliciesFollowTheProbabilities() {
        var generator = SeededGenerator(seed: 31)
        let size = ImageSize(height: 32, width: 32)
        let policies = RandAugmentMC().sampleOperations(count: 3000, imageSize: size, using: &generator)
        var operationCount = 0
        var cutouts = 0
        for ops in policies {
            let body = ops.filter { if case .cutout = $0 { return false } else { return true } }
            #expect(body.count <= 12)
            #expect(ops.count - body.count <= 1)
            operationCount += body.count
            for op in ops {
                switch op {
                case .cutout(let x0, let y0, let x1, let y1):
                    cutouts += 1
                    #expect(
                        x0 >= 0 && y0 >= 0 && x1 <= 32 && y1 <= 32 && x1 - x0 <= 16 && y1 - y0 <= 16 && x1 > x0
                            && y1 > y0)
                case .posterize(let bits): #expect(bits == 8)
                case .solarize(let t): #expect([231, 205, 180, 154].contains(t))
                case .shearX(let s), .shearY(let s):
                    #expect([0.18, 0.21, 0.24, 0.27].contains { abs(abs(s) - $0) < 1e-9 })
                case .translateX(let t), .translateY(let t): #expect([5, 6, 7, 8].contains(abs(t)))
                default: break
                }
            }
        }
        #expect(abs(Double(operationCount) / 3000 - 12 * 0.8) < 0.15)
        #expect(abs(Double(cutouts) / 3000 - 0.2) < 0.025)
    }

    @Test func outputsAreEightBitAndSeeded() {
        let x = randomImages([8, 3, 32, 32], seed: 32)
        let augment = RandAugmentMC()
        var a = SeededGenerator(seed: 5)
        var b = SeededGenerator(seed: 5)
        var c = SeededGenerator(seed: 6)
        let first = augment(x, using: &a)
        #expect(first.toArray() == augment(x, using: &b).toArray())
        #expect(first.toArray() != augment(x, using: &c).toArray())
        #expect(allInUnitInterval(first))
        #expect(first.toArray().allSatisfy { abs($0 * 255 - ($0 * 255).rounded()) < 1e-4 })
        // Identity on 8-bit input returns it exactly.
        let quantised = ImageOps.applyPIL([.identity], to: x)
        #expect(ImageOps.applyPIL([.identity], to: quantised).toArray() == quantised.toArray())
        #expect(maxAbsDifference(quantised, x) <= 0.5 / 255 + 1e-6)
    }
}
