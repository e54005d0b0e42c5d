import Testing
import Detectors
