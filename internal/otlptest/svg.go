package otlptest

import (
	"fmt"
	"html"
	"strings"
	"time"
)

// SVG renders spans as a waterfall picture: one row per span in tree order,
// its label (name, kind, process) indented by depth, and a bar from its
// start to its end on a time axis shared by all, with its duration. The
// rows' labels are Tree's lines, so a test can check a picture against the
// trace it shows.
func SVG(spans []Span) []byte {
	const (
		labelW, barW, rowH, top = 430, 420, 26, 34
		font                    = `font-family="monospace" font-size="12"`
	)
	var first, last time.Time
	for _, s := range spans {
		if first.IsZero() || s.Start.Before(first) {
			first = s.Start
		}
		if s.End.After(last) {
			last = s.End
		}
	}
	total := max(last.Sub(first), time.Microsecond)
	x := func(t time.Time) float64 { return labelW + float64(t.Sub(first))/float64(total)*barW }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" %s>`+"\n",
		labelW+barW+90, top+rowH*len(spans)+10, font)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="4" y="18" font-weight="bold">one trace: %s over %v</text>`+"\n",
		html.EscapeString(spans[0].TraceID), total.Round(time.Microsecond))
	colors := map[string]string{"server": "#6a9fd4", "client": "#e8a33d"}
	row := 0
	for s, depth := range inTreeOrder(spans) {
		y := top + row*rowH
		label := fmt.Sprintf("%s%s  [%s, %s]", strings.Repeat("    ", depth), s.Name, s.Kind, s.Process)
		fmt.Fprintf(&b, `<text x="4" y="%d" xml:space="preserve">%s</text>`+"\n", y+15, html.EscapeString(label))
		x0, x1 := x(s.Start), x(s.End)
		fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="%.1f" height="18" fill="%s"/>`+"\n",
			x0, y+2, max(x1-x0, 1), colors[s.Kind])
		fmt.Fprintf(&b, `<text x="%.1f" y="%d">%v</text>`+"\n", x1+4, y+15, s.End.Sub(s.Start).Round(time.Microsecond))
		row++
	}
	b.WriteString("</svg>\n")
	return []byte(b.String())
}

// SVGLabels returns the row labels of a picture SVG made, unescaped, one
// per line as Tree writes them.
func SVGLabels(svg []byte) string {
	var b strings.Builder
	for _, line := range strings.Split(string(svg), "\n") {
		const open = `xml:space="preserve">`
		if i := strings.Index(line, open); i >= 0 {
			b.WriteString(html.UnescapeString(strings.TrimSuffix(line[i+len(open):], "</text>")) + "\n")
		}
	}
	return b.String()
}
