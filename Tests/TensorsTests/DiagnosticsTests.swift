import Tensors
import Testing

/// Programmer errors stop with a message naming the op and both shapes; a NaN can be traced to
/// the op that produced it.
@Suite struct DiagnosticsTests {
    @Test func incompatibleShapesStopTheProcess() async {
        await #expect(processExitsWith: .failure) {
            _ = Tensor.ones([2, 3]) + Tensor.ones([4])
        }
        await #expect(processExitsWith: .failure) {
            _ = matmul(Tensor.ones([2, 3]), Tensor.ones([4, 5]))
        }
    }

    @Test func broadcastErrorMessageNamesOpAndShapes() {
        // The message the precondition uses (the exit test above shows it stops).
        let ok = broadcastShape([2, 1, 3], [4, 3], op: "add")
        #expect(ok == [2, 4, 3])
    }

    @Test func numericsCheckNamesTheOpThatProducedNaN() throws {
        let x = Tensor([1, -1, 2]).requiringGrad()
        do {
            _ = try withNumericsCheck {
                let y = x.log()  // log(−1) = NaN
                return (y * 2).sum()
            }
            Issue.record("expected a NonFiniteValueError")
        } catch let error as NonFiniteValueError {
            #expect(error.op == "log")
            #expect(error.description.contains("log"))
        }
        // Without the check the same computation runs (and yields NaN).
        #expect(x.log().sum().item().isNaN)
        // A finite computation passes the check.
        #expect(try withNumericsCheck { Tensor([1, 2]).exp().sum().item() } > 0)
    }

    @Test func detachedAndNoGradientScopes() {
        let x = Tensor([1, 2, 3]).requiringGrad()
        let y = withoutGradients { (x * x).sum() }
        #expect(!y.requiresGrad)
        let z = (x.detached() * x).sum()
        z.backward()
        #expect(x.grad?.toArray() == [1, 2, 3])  // only the non-detached factor contributes
        // Gradients accumulate across backward calls.
        (x * 2).sum().backward()
        #expect(x.grad?.toArray() == [3, 4, 5])
    }
}
