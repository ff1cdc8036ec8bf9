package lab

import (
	"fmt"
	"html"
	"strings"
	"time"
)

// Chart draws a failover as an SVG: every client request's latency over
// time (failed ones as red marks at the top), with the failure, the new
// membership, the cloud move and the first good reply marked.
func Chart(r *Result) string {
	const W, H, left, right, top, bottom = 960, 420, 60, 20, 40, 50
	from := r.At.Add(-time.Second)
	to := r.FirstReply.Add(1500 * time.Millisecond)
	span := to.Sub(from).Seconds()
	x := func(t time.Time) float64 { return left + (t.Sub(from).Seconds()/span)*float64(W-left-right) }
	const maxMS = 300.0
	y := func(ms float64) float64 {
		if ms > maxMS {
			ms = maxMS
		}
		return float64(H-bottom) - ms/maxMS*float64(H-top-bottom)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", W, H)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", W, H)
	fmt.Fprintf(&b, `<text x="%d" y="20" font-size="14">floatip failover (provider %s): %s killed, %s answers after %.0f ms, %d requests lost</text>`+"\n",
		left, html.EscapeString(r.Provider), r.Victim.Name, r.Survivor.Name, float64(r.Outage.Microseconds())/1000, r.Lost)
	// axes and grid
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>`+"\n", left, H-bottom, W-right, H-bottom)
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>`+"\n", left, top, left, H-bottom)
	for ms := 0.0; ms <= maxMS; ms += 50 {
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#eee"/><text x="%d" y="%.1f" text-anchor="end">%.0f</text>`+"\n",
			left, y(ms), W-right, y(ms), left-5, y(ms)+4, ms)
	}
	fmt.Fprintf(&b, `<text x="15" y="%d" transform="rotate(-90 15 %d)">latency (ms)</text>`+"\n", H/2, H/2)
	for s := -1.0; s <= span; s += 0.5 {
		t := r.At.Add(time.Duration(s * float64(time.Second)))
		if t.After(to) {
			break
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%+.1f s</text>`+"\n", x(t), H-bottom+18, s)
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">time since the failure</text>`+"\n", (W+left)/2, H-12)
	// requests
	for _, rep := range r.Replies {
		if rep.At.Before(from) || rep.At.After(to) {
			continue
		}
		if rep.OK {
			color := "#2a7"
			if rep.Body != r.Survivor.Name {
				color = "#27c"
			}
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="2.5" fill="%s"/>`+"\n", x(rep.At), y(float64(rep.Latency.Microseconds())/1000), color)
		} else {
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#d33" stroke-width="2"/>`+"\n", x(rep.At), top+2, x(rep.At), top+14)
		}
	}
	chartEvents(&b, r, x, H-bottom)
	fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#27c">● %s</text><text x="%d" y="%d" fill="#2a7">● %s</text><text x="%d" y="%d" fill="#d33">| failed request</text>`+"\n",
		W-330, top-8, r.Victim.Name, W-250, top-8, r.Survivor.Name, W-170, top-8)
	b.WriteString("</svg>\n")
	return b.String()
}

// chartEvents marks the failure, the new membership, the agent's start, the
// cloud move and the first good reply, from top to bottom.
func chartEvents(b *strings.Builder, r *Result, x func(time.Time) float64, bottom int) {
	const top = 40
	mark := func(t time.Time, label, color string, row int) {
		if t.IsZero() {
			return
		}
		fmt.Fprintf(b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s" stroke-dasharray="4 3"/>`+"\n", x(t), top, x(t), bottom, color)
		fmt.Fprintf(b, `<text x="%.1f" y="%d" fill="%s">%s</text>`+"\n", x(t)+4, top+30+row*16, color, html.EscapeString(label))
	}
	mark(r.At, r.Kind+" "+r.Victim.Name, "#d33", 0)
	mark(r.Membership, "new membership", "#a60", 1)
	if !r.Started.IsZero() {
		mark(r.Started.Add(-r.Start), "start on "+r.Survivor.Name, "#555", 2)
	}
	mark(r.CloudMoved, "cloud routes to "+r.Survivor.Name, "#707", 3)
	mark(r.FirstReply, "first reply from "+r.Survivor.Name, "#2a7", 4)
}
