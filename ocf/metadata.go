package ocf

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"time"
)

// Metadata describes an agent for the meta-data action. Rendered XML is
// valid against resource-agents' ra-api-1.dtd (what ocf-tester checks) and
// accepted by pcs and crmsh, so it uses only what that DTD allows: one
// longdesc then one shortdesc, parameters with name/required/unique, and
// content types string, integer and boolean.
type Metadata struct {
	Name      string
	Version   string // the agent's own version
	LongDesc  string
	ShortDesc string
	Params    []MetaParam
	Actions   []MetaAction
}

// MetaParam is one <parameter>.
type MetaParam struct {
	Name      string
	Required  bool
	Unique    bool
	LongDesc  string
	ShortDesc string
	Type      string // string, integer or boolean
	Default   string
}

// MetaAction is one <action>.
type MetaAction struct {
	Name     string
	Timeout  time.Duration
	Interval time.Duration // 0: not rendered
	Depth    int           // rendered for monitor/status
}

type xmlAgent struct {
	XMLName   xml.Name   `xml:"resource-agent"`
	Name      string     `xml:"name,attr"`
	Version   string     `xml:"version,attr,omitempty"`
	OCF       string     `xml:"version"`
	LongDesc  xmlDesc    `xml:"longdesc"`
	ShortDesc xmlDesc    `xml:"shortdesc"`
	Params    []xmlParam `xml:"parameters>parameter"`
	Actions   []xmlAct   `xml:"actions>action"`
}

type xmlDesc struct {
	Lang string `xml:"lang,attr"`
	Text string `xml:",chardata"`
}

type xmlParam struct {
	Name      string     `xml:"name,attr"`
	Unique    string     `xml:"unique,attr"`
	Required  string     `xml:"required,attr"`
	LongDesc  xmlDesc    `xml:"longdesc"`
	ShortDesc xmlDesc    `xml:"shortdesc"`
	Content   xmlContent `xml:"content"`
}

type xmlContent struct {
	Type    string `xml:"type,attr"`
	Default string `xml:"default,attr,omitempty"`
}

type xmlAct struct {
	Name     string `xml:"name,attr"`
	Timeout  string `xml:"timeout,attr"`
	Interval string `xml:"interval,attr,omitempty"`
	Depth    string `xml:"depth,attr,omitempty"`
}

func boolAttr(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func seconds(d time.Duration) string {
	if d%time.Second != 0 {
		return fmt.Sprintf("%dms", d.Milliseconds())
	}
	return fmt.Sprintf("%ds", int(d/time.Second))
}

// XML renders the meta-data document, DOCTYPE included (ocf-tester resolves
// ra-api-1.dtd through it).
func (m *Metadata) XML() ([]byte, error) {
	a := xmlAgent{
		Name:      m.Name,
		Version:   m.Version,
		OCF:       "1.1",
		LongDesc:  xmlDesc{"en", m.LongDesc},
		ShortDesc: xmlDesc{"en", m.ShortDesc},
	}
	for _, p := range m.Params {
		switch p.Type {
		case "string", "integer", "boolean":
		default:
			return nil, fmt.Errorf("ocf: parameter %s: content type %q is not in ra-api-1.dtd", p.Name, p.Type)
		}
		a.Params = append(a.Params, xmlParam{
			Name:      p.Name,
			Unique:    boolAttr(p.Unique),
			Required:  boolAttr(p.Required),
			LongDesc:  xmlDesc{"en", p.LongDesc},
			ShortDesc: xmlDesc{"en", p.ShortDesc},
			Content:   xmlContent{Type: p.Type, Default: p.Default},
		})
	}
	for _, act := range m.Actions {
		x := xmlAct{Name: act.Name, Timeout: seconds(act.Timeout)}
		if act.Interval > 0 {
			x.Interval = seconds(act.Interval)
		}
		if act.Name == "monitor" || act.Name == "status" {
			x.Depth = fmt.Sprint(act.Depth)
		}
		a.Actions = append(a.Actions, x)
	}
	var buf bytes.Buffer
	// No encoding declaration: crmsh hands the text to lxml as a str, and lxml
	// refuses str input that declares an encoding ("Cannot parse meta-data XML").
	buf.WriteString(`<?xml version="1.0"?>` + "\n")
	buf.WriteString(`<!DOCTYPE resource-agent SYSTEM "ra-api-1.dtd">` + "\n")
	enc := xml.NewEncoder(&buf)
	enc.Indent("", "  ")
	if err := enc.Encode(a); err != nil {
		return nil, fmt.Errorf("ocf: render meta-data: %w", err)
	}
	buf.WriteString("\n")
	return buf.Bytes(), nil
}
