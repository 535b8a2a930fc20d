package agents

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// maxMetadataSize bounds the meta-data XML ParseMetadata accepts; real agents print a few tens of KiB.
const maxMetadataSize = 1 << 20

type xmlAgent struct {
	XMLName   xml.Name `xml:"resource-agent"`
	Name      string   `xml:"name,attr"`
	VerAttr   string   `xml:"version,attr"`
	Version   string   `xml:"version"`
	ShortDesc string   `xml:"shortdesc"`
	Params    []struct {
		Name      string `xml:"name,attr"`
		Required  string `xml:"required,attr"`
		Unique    string `xml:"unique,attr"`
		ShortDesc string `xml:"shortdesc"`
		Content   struct {
			Type    string `xml:"type,attr"`
			Default string `xml:"default,attr"`
		} `xml:"content"`
	} `xml:"parameters>parameter"`
	Actions []struct {
		Name     string `xml:"name,attr"`
		Timeout  string `xml:"timeout,attr"`
		Interval string `xml:"interval,attr"`
	} `xml:"actions>action"`
}

// ParseMetadata parses an agent's meta-data XML (the OCF resource-agent API's ra-api-1.dtd). It needs the
// <resource-agent> root with a name and accepts missing optional parts; it rejects parameters without a
// name, duplicate parameters, and action timeouts or intervals that are not pacemaker durations.
func ParseMetadata(b []byte) (*Metadata, error) {
	if len(b) > maxMetadataSize {
		return nil, fmt.Errorf("parse meta-data: %d bytes is more than %d", len(b), maxMetadataSize)
	}
	var x xmlAgent
	dec := xml.NewDecoder(bytes.NewReader(b))
	dec.Strict = true
	dec.Entity = xml.HTMLEntity
	if err := dec.Decode(&x); err != nil {
		return nil, fmt.Errorf("parse meta-data: %w", err)
	}
	if strings.TrimSpace(x.Name) == "" {
		return nil, fmt.Errorf("parse meta-data: <resource-agent> has no name")
	}
	md := &Metadata{Name: strings.TrimSpace(x.Name), Version: strings.TrimSpace(x.Version), ShortDesc: strings.TrimSpace(x.ShortDesc)}
	if md.Version == "" {
		md.Version = strings.TrimSpace(x.VerAttr)
	}
	seen := map[string]bool{}
	for i, p := range x.Params {
		name := strings.TrimSpace(p.Name)
		if name == "" {
			return nil, fmt.Errorf("parse meta-data of %s: parameter %d has no name", md.Name, i+1)
		}
		if seen[name] {
			return nil, fmt.Errorf("parse meta-data of %s: parameter %q given twice", md.Name, name)
		}
		seen[name] = true
		typ := strings.TrimSpace(p.Content.Type)
		if typ == "" {
			typ = "string"
		}
		md.Parameters = append(md.Parameters, Parameter{
			Name: name, Required: xmlBool(p.Required), Unique: xmlBool(p.Unique), Type: typ,
			Default: p.Content.Default, ShortDesc: strings.TrimSpace(p.ShortDesc),
		})
	}
	for _, a := range x.Actions {
		name := strings.TrimSpace(a.Name)
		if name == "" {
			return nil, fmt.Errorf("parse meta-data of %s: an action has no name", md.Name)
		}
		spec := ActionSpec{Name: name}
		var err error
		if spec.Timeout, err = parseOptDuration(a.Timeout); err != nil {
			return nil, fmt.Errorf("parse meta-data of %s: action %s timeout: %w", md.Name, name, err)
		}
		if spec.Interval, err = parseOptDuration(a.Interval); err != nil {
			return nil, fmt.Errorf("parse meta-data of %s: action %s interval: %w", md.Name, name, err)
		}
		md.Actions = append(md.Actions, spec)
	}
	return md, nil
}

func xmlBool(s string) bool {
	b, _ := ParseBool(s)
	return b
}

func parseOptDuration(s string) (time.Duration, error) {
	if strings.TrimSpace(s) == "" {
		return 0, nil
	}
	return ParseDuration(s)
}

// ParseDuration parses a pacemaker time value: a non-negative number with an optional unit (ms, msec, us,
// usec, s, sec, m, min, h, hr); a bare number means seconds, as pacemaker's crm_get_msec reads it.
func ParseDuration(s string) (time.Duration, error) {
	t := strings.TrimSpace(strings.ToLower(s))
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.') {
		i++
	}
	num, unit := t[:i], strings.TrimSpace(t[i:])
	if num == "" {
		return 0, fmt.Errorf("parse duration %q: no number", s)
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("parse duration %q: %w", s, err)
	}
	var mul time.Duration
	switch unit {
	case "", "s", "sec":
		mul = time.Second
	case "ms", "msec":
		mul = time.Millisecond
	case "us", "usec":
		mul = time.Microsecond
	case "m", "min":
		mul = time.Minute
	case "h", "hr":
		mul = time.Hour
	default:
		return 0, fmt.Errorf("parse duration %q: unknown unit %q", s, unit)
	}
	d := v * float64(mul)
	if d > float64(1<<62) {
		return 0, fmt.Errorf("parse duration %q: too large", s)
	}
	return time.Duration(d), nil
}

// ParseBool parses a pacemaker boolean (true/false, yes/no, on/off, 1/0, y/n), case-insensitively.
func ParseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "yes", "on", "1", "y":
		return true, nil
	case "false", "no", "off", "0", "n":
		return false, nil
	}
	return false, fmt.Errorf("parse boolean %q: want true or false", s)
}

// XML renders the meta-data in the OCF resource-agent API's format, so built-in agents can answer
// crm ra info and the meta-data action; ParseMetadata(m.XML()) gives m back.
func (m *Metadata) XML() []byte {
	var b bytes.Buffer
	b.WriteString("<?xml version=\"1.0\"?>\n<!DOCTYPE resource-agent SYSTEM \"ra-api-1.dtd\">\n")
	fmt.Fprintf(&b, "<resource-agent name=\"%s\" version=\"%s\">\n", esc(m.Name), esc(m.Version))
	fmt.Fprintf(&b, "<version>%s</version>\n<shortdesc lang=\"en\">%s</shortdesc>\n<parameters>\n", esc(m.Version), esc(m.ShortDesc))
	for _, p := range m.Parameters {
		fmt.Fprintf(&b, "<parameter name=\"%s\" required=\"%d\" unique=\"%d\">\n<shortdesc lang=\"en\">%s</shortdesc>\n",
			esc(p.Name), b2i(p.Required), b2i(p.Unique), esc(p.ShortDesc))
		fmt.Fprintf(&b, "<content type=\"%s\" default=\"%s\"/>\n</parameter>\n", esc(p.Type), esc(p.Default))
	}
	b.WriteString("</parameters>\n<actions>\n")
	for _, a := range m.Actions {
		fmt.Fprintf(&b, "<action name=\"%s\" timeout=\"%dms\"", esc(a.Name), a.Timeout.Milliseconds())
		if a.Interval > 0 {
			fmt.Fprintf(&b, " interval=\"%dms\"", a.Interval.Milliseconds())
		}
		b.WriteString("/>\n")
	}
	b.WriteString("</actions>\n</resource-agent>\n")
	return b.Bytes()
}

func esc(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

func b2i(v bool) int {
	if v {
		return 1
	}
	return 0
}
