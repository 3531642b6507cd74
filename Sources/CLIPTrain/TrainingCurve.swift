// The training curve as a person and a script read it: CSV (one row per logged step, metric
// columns empty where the step was not an evaluation point) and a standalone SVG with two
// panels, loss on a log scale and the metrics in percent, against the step.

import CLIPSupport

extension Trainer {
    /// CSV: step, loss, learning_rate, images_per_second, then one column per metric.
    public func curveCSV() -> String {
        var s = (["step", "loss", "learning_rate", "images_per_second"] + metricNames).joined(separator: ",") + "\n"
        for r in history {
            var cells = ["\(r.step)", "\(r.loss)", "\(r.learningRate)", "\(r.imagesPerSecond)"]
            cells += r.metrics.isEmpty ? Array(repeating: "", count: metricNames.count) : r.metrics.map { "\($0)" }
            s += cells.joined(separator: ",") + "\n"
        }
        return s
    }

    /// An SVG of the curve: training loss (log scale) above, the metrics (0–100%) below.
    public func curveSVG(title: String = "PocketCLIP training") -> String {
        let width = 760.0, panel = 240.0, left = 64.0, right = 180.0, top = 40.0, gap = 50.0
        let plotW = width - left - right
        let maxStep = Double(max(recipe.steps, history.last?.step ?? 1))
        func x(_ step: Int) -> Double { left + plotW * Double(step) / maxStep }
        func fmt(_ v: Double) -> String { String(Int((v * 10).rounded())) .withDecimal }
        var svg = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(top + 2 * panel + gap + 50))" \
        font-family="sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(left)" y="22" font-size="15">\(escape(title))</text>

        """
        // Panel 1: loss, log10 scale.
        let losses = history.map { Double(max($0.loss, 1e-6)) }
        let lo = (losses.min() ?? 0.01).log10Floor, hi = (losses.max() ?? 10).log10Ceil
        let span = max(hi - lo, 1)
        func yLoss(_ v: Double) -> Double { top + panel * (1 - (log10(v) - lo) / span) }
        svg += axes(x0: left, y0: top, w: plotW, h: panel, label: "training loss (log scale)")
        var decade = lo
        while decade <= hi + 1e-9 {
            let y = yLoss(pow(10, decade))
            svg += "<line x1=\"\(left)\" y1=\"\(y)\" x2=\"\(left + plotW)\" y2=\"\(y)\" stroke=\"#ddd\"/>"
            svg += "<text x=\"\(left - 6)\" y=\"\(y + 4)\" text-anchor=\"end\">\(fmtPow10(decade))</text>\n"
            decade += 1
        }
        svg += polyline(history.map { (x($0.step), yLoss(Double(max($0.loss, 1e-6)))) }, color: "#1f77b4")
        // Panel 2: metrics in percent.
        let top2 = top + panel + gap
        svg += axes(x0: left, y0: top2, w: plotW, h: panel, label: "evaluation (%)")
        for pct in stride(from: 0, through: 100, by: 20) {
            let y = top2 + panel * (1 - Double(pct) / 100)
            svg += "<line x1=\"\(left)\" y1=\"\(y)\" x2=\"\(left + plotW)\" y2=\"\(y)\" stroke=\"#ddd\"/>"
            svg += "<text x=\"\(left - 6)\" y=\"\(y + 4)\" text-anchor=\"end\">\(pct)</text>\n"
        }
        let colors = ["#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf"]
        for (k, name) in metricNames.enumerated() {
            let points = history.filter { !$0.metrics.isEmpty }.map { (x($0.step), top2 + panel * (1 - min(max($0.metrics[k], 0), 1))) }
            let color = colors[k % colors.count]
            svg += polyline(points, color: color)
            let last = history.last { !$0.metrics.isEmpty }.map { " \(fmt($0.metrics[k] * 100))%" } ?? ""
            svg += "<text x=\"\(left + plotW + 10)\" y=\"\(top2 + 16 + 18 * Double(k))\" fill=\"\(color)\">\(escape(name))\(last)</text>\n"
        }
        // Step axis labels.
        for k in 0...4 {
            let s = Int(maxStep) * k / 4
            svg += "<text x=\"\(x(s))\" y=\"\(top2 + panel + 16)\" text-anchor=\"middle\">\(s)</text>\n"
        }
        svg += "<text x=\"\(left + plotW / 2)\" y=\"\(top2 + panel + 36)\" text-anchor=\"middle\">step</text>\n</svg>\n"
        return svg
    }
}

private func axes(x0: Double, y0: Double, w: Double, h: Double, label: String) -> String {
    "<rect x=\"\(x0)\" y=\"\(y0)\" width=\"\(w)\" height=\"\(h)\" fill=\"none\" stroke=\"#444\"/>"
        + "<text x=\"\(x0)\" y=\"\(y0 - 6)\">\(escape(label))</text>\n"
}

private func polyline(_ points: [(Double, Double)], color: String) -> String {
    guard !points.isEmpty else { return "" }
    let p = points.map { "\(($0.0 * 10).rounded() / 10),\(($0.1 * 10).rounded() / 10)" }.joined(separator: " ")
    return "<polyline points=\"\(p)\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.5\"/>\n"
}

private func escape(_ s: String) -> String {
    s.replacingAll("&", "&amp;").replacingAll("<", "&lt;").replacingAll(">", "&gt;")
}

private func fmtPow10(_ e: Double) -> String {
    let k = Int(e.rounded())
    if k >= 0 { return "1" + String(repeating: "0", count: k) }
    return "0." + String(repeating: "0", count: -k - 1) + "1"
}

private extension Double {
    var log10Floor: Double { log10(self).rounded(.down) }
    var log10Ceil: Double { log10(self).rounded(.up) }
}

private extension String {
    var withDecimal: String {
        // "123" (tenths) -> "12.3"
        var digits = self
        let negative = digits.hasPrefix("-")
        if negative { digits.removeFirst() }
        while digits.count < 2 { digits = "0" + digits }
        return (negative ? "-" : "") + digits.dropLast() + "." + digits.suffix(1)
    }

    func replacingAll(_ a: String, _ b: String) -> String {
        split(separator: Character(a), omittingEmptySubsequences: false).joined(separator: b)
    }
}
