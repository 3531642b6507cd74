// The runtime's side of the model schema (CLIPSchema): its config types, tensor names and shapes
// are the runtime's own API, so users of the runtime need not import the schema themselves; and
// the config's activation picks the kernel that computes it.

@_exported import CLIPSchema
import CLIPKernels

/// Applies the config's MLP `activation` in place to `count` values with the fast kernels.
func activateInPlaceFast(_ x: UnsafeMutablePointer<Float>, count: Int, _ activation: Activation) {
    switch activation {
    case .gelu: geluInPlaceFast(x, count: count)
    case .quickGELU: quickGELUInPlaceFast(x, count: count)
    }
}
