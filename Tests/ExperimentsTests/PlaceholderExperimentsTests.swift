import Testing
import Experiments
