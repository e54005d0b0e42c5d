// Allowed ranges of the classical detectors' options, checked by the tool before any data is
// read (`ValidatingConfiguration`) so that a huge or negative value gets one line naming the
// option instead of reaching an allocation. The bounds are generous: they exclude only values
// no machine could run. Data-dependent limits (k ≤ training samples, …) stay in `fit`.

extension IsolationForest.Configuration: ValidatingConfiguration {
    public func validate() throws {
        try OptionCheck.require("treeCount", treeCount, in: 1...100_000)
        try OptionCheck.require("maxSamples", maxSamples, in: 1...100_000_000)
        if let maxDepth { try OptionCheck.require("maxDepth", maxDepth, in: 1...1_000) }
    }
}

extension KNearestNeighbors.Configuration: ValidatingConfiguration {
    public func validate() throws {
        try OptionCheck.require("k", k, in: 1...1_000_000)
    }
}

extension KernelDensity.Configuration: ValidatingConfiguration {
    public func validate() throws {
        if let bandwidth { try OptionCheck.require("bandwidth", bandwidth, in: Double.leastNonzeroMagnitude...1e12) }
        guard bandwidthGrid.count <= 10_000 else {
            throw DetectorError.invalidOption(
                option: "bandwidthGrid", value: "\(bandwidthGrid.count) values", requirement: "at most 10000 values")
        }
        for value in bandwidthGrid { try OptionCheck.require("bandwidthGrid", value, in: Double.leastNonzeroMagnitude...1e12) }
        try OptionCheck.require("folds", folds, in: 2...1_000)
    }
}

extension OneClassSVM.Configuration: ValidatingConfiguration {
    public func validate() throws {
        try OptionCheck.require("nu", nu, in: Double.leastNonzeroMagnitude...1)
        try OptionCheck.require("tolerance", tolerance, in: Double.leastNonzeroMagnitude...1e6)
        try OptionCheck.require("cacheSizeMB", cacheSizeMB, in: 0...65_536)
        if let maxIterations { try OptionCheck.require("maxIterations", maxIterations, in: 1...1_000_000_000) }
    }
}

extension GaussianMixture.Configuration: ValidatingConfiguration {
    public func validate() throws {
        try OptionCheck.require("components", components, in: 1...10_000)
        try OptionCheck.require("covarianceRegularization", covarianceRegularization, in: 0...1e12)
        try OptionCheck.require("tolerance", tolerance, in: 0...1e12)
        try OptionCheck.require("maxIterations", maxIterations, in: 1...1_000_000)
    }
}

extension PCAReconstruction.Configuration: ValidatingConfiguration {
    public func validate() throws {
        if let components { try OptionCheck.require("components", components, in: 1...1_000_000) }
        if let varianceFraction { try OptionCheck.require("varianceFraction", varianceFraction, in: Double.leastNonzeroMagnitude...1) }
        if let selectedComponents { try OptionCheck.require("selectedComponents", selectedComponents, in: 1...1_000_000) }
    }
}
