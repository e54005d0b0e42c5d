/// A grouping of fine classes into superclasses, e.g. CIFAR-100's 100 classes into 20 groups
/// (METHODS.md §4.6). Map fine labels to group ids with `groupLabels(_:)`, then run the
/// one-class protocols on the group ids; or pass a group's fine ids as `normalClasses`.
public struct SuperclassMapping: Codable, Sendable, Equatable {
    public var name: String
    /// `groups[g]` lists the fine class ids of superclass `g`.
    public var groups: [[Int]]

    public init(name: String, groups: [[Int]]) {
        self.name = name
        self.groups = groups
    }

    /// The superclass of fine class `fineClass`, or `nil` if no group holds it.
    public func group(of fineClass: Int) -> Int? {
        groups.firstIndex { $0.contains(fineClass) }
    }

    /// Superclass ids for a whole label array; throws for a fine id that no group holds.
    public func groupLabels(_ fineLabels: [Int]) throws -> [Int] {
        var lookup: [Int: Int] = [:]
        for (g, members) in groups.enumerated() {
            for fine in members { lookup[fine] = g }
        }
        return try fineLabels.map { fine in
            guard let g = lookup[fine] else {
                throw ProtocolError.unknownClass(
                    option: "\(name) superclass mapping", value: fine, available: lookup.keys.sorted())
            }
            return g
        }
    }

    /// Whether the groups partition `0..<classCount` (every fine class in exactly one group).
    public func isPartition(classCount: Int) -> Bool {
        let all = groups.flatMap { $0 }
        return all.count == classCount && Set(all) == Set(0..<classCount)
    }

    /// The official CIFAR-100 coarse labels (the data set's `coarse_label` field); use for new work.
    public static let cifar100Coarse = SuperclassMapping(
        name: "cifar100-coarse",
        groups: [
            [4, 30, 55, 72, 95], [1, 32, 67, 73, 91], [54, 62, 70, 82, 92], [9, 10, 16, 28, 61],
            [0, 51, 53, 57, 83], [22, 39, 40, 86, 87], [5, 20, 25, 84, 94], [6, 7, 14, 18, 24],
            [3, 42, 43, 88, 97], [12, 17, 37, 68, 76], [23, 33, 49, 60, 71], [15, 19, 21, 31, 38],
            [34, 63, 64, 66, 75], [26, 45, 77, 79, 99], [2, 11, 35, 46, 98], [27, 29, 44, 78, 93],
            [36, 50, 65, 74, 80], [47, 52, 56, 59, 96], [8, 13, 48, 58, 90], [41, 69, 81, 85, 89],
        ])

    /// CSI's list (also HSCL's and Elsa's pre-training fork): a valid partition that differs from
    /// the official coarse labels in 13 of 20 groups (§4.6 and §7 item 12 say 14, but the §4.6
    /// table itself marks 13). Use it to reproduce CSI-derived CIFAR-100 numbers.
    public static let cifar100CSI = SuperclassMapping(
        name: "cifar100-csi",
        groups: [
            [4, 31, 55, 72, 95], [1, 33, 67, 73, 91], [54, 62, 70, 82, 92], [9, 10, 16, 29, 61],
            [0, 51, 53, 57, 83], [22, 25, 40, 86, 87], [5, 20, 26, 84, 94], [6, 7, 14, 18, 24],
            [3, 42, 43, 88, 97], [12, 17, 38, 68, 76], [23, 34, 49, 60, 71], [15, 19, 21, 32, 39],
            [35, 63, 64, 66, 75], [27, 45, 77, 79, 99], [2, 11, 36, 46, 98], [28, 30, 44, 78, 93],
            [37, 50, 65, 74, 80], [47, 52, 56, 59, 96], [8, 13, 48, 58, 90], [41, 69, 81, 85, 89],
        ])
}
