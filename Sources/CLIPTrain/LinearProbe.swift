// The CLIP paper's linear probe: multinomial logistic regression on frozen image features.
// The paper fits scikit-learn's L-BFGS with a swept L2 strength; here full-batch gradient
// descent with Adam on the mean cross-entropy + λ/2·‖W‖² (the problem is convex, so any
// solver reaches the same optimum given enough steps), λ picked from a small grid on a
// validation slice of the training features, then refitted on all of them.

import CLIPSupport

/// A fitted linear classifier: logits = W·x + b on standardized features.
public struct LinearProbe: Sendable {
    public let dim: Int, classes: Int
    /// The L2 strength the validation slice chose.
    public let lambda: Float
    let mean: [Float], scale: [Float]
    let weights: [Float]  // [classes, dim]
    let bias: [Float]

    /// L2 strengths tried.
    public static let lambdas: [Float] = [1e-5, 1e-4, 1e-3, 1e-2]

    /// Fits on `features` [n, dim] with labels in 0..<classes: the last fifth chooses λ, then all
    /// n rows are refitted with it.
    public static func fit(features: [Float], labels: [Int], dim: Int, classes: Int, iterations: Int = 300) throws -> LinearProbe {
        let n = labels.count
        guard dim > 0, classes >= 2, n >= 10, features.count == n * dim, labels.allSatisfy({ $0 >= 0 && $0 < classes }) else {
            throw TrainError.invalidBatch("linear probe: \(features.count) feature values for \(n) labels of dim \(dim), \(classes) classes (need ≥ 10 rows, labels in range)")
        }
        let cut = n * 4 / 5
        var best = (lambda: lambdas[0], accuracy: -1.0)
        for lambda in lambdas {
            let probe = train(features: Array(features[0..<(cut * dim)]), labels: Array(labels[0..<cut]), dim: dim,
                              classes: classes, lambda: lambda, iterations: iterations)
            let acc = probe.accuracy(features: Array(features[(cut * dim)...]), labels: Array(labels[cut...]))
            if acc > best.accuracy { best = (lambda, acc) }
        }
        return train(features: features, labels: labels, dim: dim, classes: classes, lambda: best.lambda, iterations: iterations)
    }

    /// Predicted class of each row of `features` [n, dim].
    public func predict(features: [Float]) -> [Int] {
        let n = features.count / dim
        return (0..<n).map { i in
            let z = logits(features, row: i)
            return z.indices.max { z[$0] < z[$1] }!
        }
    }

    public func accuracy(features: [Float], labels: [Int]) -> Double {
        let p = predict(features: features)
        return Double(zip(p, labels).filter { $0 == $1 }.count) / Double(max(labels.count, 1))
    }

    func logits(_ x: [Float], row i: Int) -> [Float] {
        (0..<classes).map { c in
            var s = bias[c]
            for d in 0..<dim { s += weights[c * dim + d] * (x[i * dim + d] - mean[d]) * scale[d] }
            return s
        }
    }

    static func train(features x: [Float], labels y: [Int], dim: Int, classes k: Int, lambda: Float, iterations: Int) -> LinearProbe {
        let n = y.count
        // Standardize each feature (the same λ then means the same thing for every model).
        var mean = [Float](repeating: 0, count: dim), scale = [Float](repeating: 1, count: dim)
        for i in 0..<n { for d in 0..<dim { mean[d] += x[i * dim + d] } }
        for d in 0..<dim { mean[d] /= Float(n) }
        var variance = [Float](repeating: 0, count: dim)
        for i in 0..<n { for d in 0..<dim { let v = x[i * dim + d] - mean[d]; variance[d] += v * v } }
        for d in 0..<dim { scale[d] = 1 / max(sqrtf(variance[d] / Float(n)), 1e-6) }
        var z = [Float](repeating: 0, count: n * dim)
        for i in 0..<n { for d in 0..<dim { z[i * dim + d] = (x[i * dim + d] - mean[d]) * scale[d] } }

        let count = k * dim + k
        var w = [Float](repeating: 0, count: count), m = w, v = w, g = w
        let lr: Float = 0.05, b1: Float = 0.9, b2: Float = 0.999
        var logits = [Float](repeating: 0, count: k)
        for t in 1...iterations {
            for j in 0..<count { g[j] = j < k * dim ? lambda * w[j] : 0 }
            for i in 0..<n {
                var top = -Float.infinity
                for c in 0..<k {
                    var s = w[k * dim + c]
                    for d in 0..<dim { s += w[c * dim + d] * z[i * dim + d] }
                    logits[c] = s; top = max(top, s)
                }
                var sum: Float = 0
                for c in 0..<k { logits[c] = expf(logits[c] - top); sum += logits[c] }
                for c in 0..<k {
                    let err = (logits[c] / sum - (c == y[i] ? 1 : 0)) / Float(n)
                    for d in 0..<dim { g[c * dim + d] += err * z[i * dim + d] }
                    g[k * dim + c] += err
                }
            }
            let c1 = 1 - powf(b1, Float(t)), c2 = 1 - powf(b2, Float(t))
            for j in 0..<count {
                m[j] = b1 * m[j] + (1 - b1) * g[j]
                v[j] = b2 * v[j] + (1 - b2) * g[j] * g[j]
                w[j] -= lr * (m[j] / c1) / (sqrtf(v[j] / c2) + 1e-8)
            }
        }
        return LinearProbe(dim: dim, classes: k, lambda: lambda, mean: mean, scale: scale,
                           weights: Array(w[0..<(k * dim)]), bias: Array(w[(k * dim)...]))
    }
}
