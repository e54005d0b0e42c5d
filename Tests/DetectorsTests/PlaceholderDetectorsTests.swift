import Testing
@testable import Detectors
