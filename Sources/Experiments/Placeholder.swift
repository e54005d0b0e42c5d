import Detectors
