package crmmon

import (
	"encoding/xml"
	"fmt"
	"strings"

	"github.com/duet-ha/duet/cluster/api"
	"github.com/duet-ha/duet/cluster/cib"
)

type xmlResult struct {
	XMLName    xml.Name   `xml:"pacemaker-result"`
	APIVersion string     `xml:"api-version,attr"`
	Request    string     `xml:"request,attr"`
	Summary    xmlSummary `xml:"summary"`
	Nodes      []xmlNode  `xml:"nodes>node"`
	Resources  xmlRscs    `xml:"resources"`
	Failures   []xmlFail  `xml:"failures>failure,omitempty"`
	Fencing    []xmlFence `xml:"fence_history>fence_event,omitempty"`
	Timeline   []xmlEvent `xml:"failover_timeline>event,omitempty"`
	Status     xmlStatus  `xml:"status"`
}

type xmlSummary struct {
	Stack struct {
		Type string `xml:"type,attr"`
	} `xml:"stack"`
	DC struct {
		Present    bool   `xml:"present,attr"`
		Version    string `xml:"version,attr,omitempty"`
		Name       string `xml:"name,attr,omitempty"`
		ID         string `xml:"id,attr,omitempty"`
		WithQuorum bool   `xml:"with_quorum,attr"`
		Mixed      bool   `xml:"mixed_version,attr"`
	} `xml:"current_dc"`
	LastUpdate struct {
		Time   string `xml:"time,attr"`
		Origin string `xml:"origin,attr"`
	} `xml:"last_update"`
	LastChange struct {
		Time   string `xml:"time,attr"`
		User   string `xml:"user,attr"`
		Client string `xml:"client,attr"`
		Origin string `xml:"origin,attr"`
	} `xml:"last_change"`
	NodesConfigured struct {
		Number int `xml:"number,attr"`
	} `xml:"nodes_configured"`
	ResourcesConfigured struct {
		Number   int `xml:"number,attr"`
		Disabled int `xml:"disabled,attr"`
		Blocked  int `xml:"blocked,attr"`
	} `xml:"resources_configured"`
	Options struct {
		StonithEnabled   string `xml:"stonith-enabled,attr"`
		Symmetric        string `xml:"symmetric-cluster,attr"`
		NoQuorumPolicy   string `xml:"no-quorum-policy,attr"`
		MaintenanceMode  string `xml:"maintenance-mode,attr"`
		StopAll          string `xml:"stop-all-resources,attr"`
		StonithTimeoutMS int64  `xml:"stonith-timeout-ms,attr"`
		PriorityFenceMS  int64  `xml:"priority-fencing-delay-ms,attr"`
		CIBEpoch         uint64 `xml:"cib-epoch,attr"`
		CIBAdminEpoch    uint64 `xml:"cib-admin-epoch,attr"`
		QuorumVotes      int    `xml:"quorum-votes,attr"`
		QuorumExpected   int    `xml:"quorum-expected-votes,attr"`
	} `xml:"cluster_options"`
}

type xmlNode struct {
	Name             string `xml:"name,attr"`
	ID               int    `xml:"id,attr"`
	Online           bool   `xml:"online,attr"`
	Standby          bool   `xml:"standby,attr"`
	StandbyOnFail    bool   `xml:"standby_onfail,attr"`
	Maintenance      bool   `xml:"maintenance,attr"`
	Pending          bool   `xml:"pending,attr"`
	Unclean          bool   `xml:"unclean,attr"`
	Health           string `xml:"health,attr"`
	Shutdown         bool   `xml:"shutdown,attr"`
	ExpectedUp       bool   `xml:"expected_up,attr"`
	IsDC             bool   `xml:"is_dc,attr"`
	ResourcesRunning int    `xml:"resources_running,attr"`
	Type             string `xml:"type,attr"`
	Witness          bool   `xml:"witness,attr,omitempty"`
}

type xmlRscs struct {
	Items []any
}

func (r xmlRscs) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	if err := e.EncodeToken(start); err != nil {
		return err
	}
	for _, it := range r.Items {
		if err := e.Encode(it); err != nil {
			return err
		}
	}
	return e.EncodeToken(start.End())
}

type xmlResource struct {
	XMLName        xml.Name     `xml:"resource"`
	ID             string       `xml:"id,attr"`
	Agent          string       `xml:"resource_agent,attr"`
	Role           string       `xml:"role,attr"`
	Active         bool         `xml:"active,attr"`
	Orphaned       bool         `xml:"orphaned,attr"`
	Blocked        bool         `xml:"blocked,attr"`
	Managed        bool         `xml:"managed,attr"`
	Failed         bool         `xml:"failed,attr"`
	FailureIgnored bool         `xml:"failure_ignored,attr"`
	NodesRunningOn int          `xml:"nodes_running_on,attr"`
	BlockedReason  string       `xml:"blocked_reason,attr,omitempty"`
	Nodes          []xmlRscNode `xml:"node"`
}

type xmlRscNode struct {
	Name   string `xml:"name,attr"`
	ID     int    `xml:"id,attr"`
	Cached bool   `xml:"cached,attr"`
}

type xmlGroup struct {
	XMLName   xml.Name      `xml:"group"`
	ID        string        `xml:"id,attr"`
	Number    int           `xml:"number_resources,attr"`
	Managed   bool          `xml:"managed,attr"`
	Disabled  bool          `xml:"disabled,attr"`
	Resources []xmlResource `xml:"resource"`
}

type xmlClone struct {
	XMLName   xml.Name      `xml:"clone"`
	ID        string        `xml:"id,attr"`
	MultiSt   bool          `xml:"multi_state,attr"`
	Unique    bool          `xml:"unique,attr"`
	Managed   bool          `xml:"managed,attr"`
	Disabled  bool          `xml:"disabled,attr"`
	Failed    bool          `xml:"failed,attr"`
	Resources []xmlResource `xml:"resource"`
}

type xmlFail struct {
	OpKey    string `xml:"op_key,attr"`
	Node     string `xml:"node,attr"`
	ExitStr  string `xml:"exitstatus,attr"`
	ExitRsn  string `xml:"exitreason,attr"`
	ExitCode int    `xml:"exitcode,attr"`
	Status   string `xml:"status,attr"`
	Task     string `xml:"task,attr"`
	Interval int64  `xml:"interval,attr"`
	Change   string `xml:"last-rc-change,attr"`
	Exec     int64  `xml:"exec,attr"`
}

type xmlFence struct {
	Action    string `xml:"action,attr"`
	Target    string `xml:"target,attr"`
	Delegate  string `xml:"delegate,attr"`
	Origin    string `xml:"origin,attr"`
	Status    string `xml:"status,attr"`
	Completed string `xml:"completed,attr"`
}

type xmlEvent struct {
	AtMS float64 `xml:"at-ms,attr"`
	What string  `xml:"what,attr"`
}

type xmlStatus struct {
	Code    int    `xml:"code,attr"`
	Message string `xml:"message,attr"`
}

const xmlTime = "2006-01-02 15:04:05Z07:00"

// XML renders the status as crm_mon --output-as=xml does (pacemaker.md section 2.4), with Duet's failover
// timeline as an extra element.
func XML(st *api.Status, request string) (string, error) {
	c := st.CIB
	if c == nil {
		c = &cib.CIB{}
	}
	var r xmlResult
	r.APIVersion, r.Request = "2.25", request
	s := &r.Summary
	s.Stack.Type = st.Stack
	s.DC.Present = st.DC != ""
	s.DC.WithQuorum = st.Quorum.Quorate
	if st.DC != "" {
		s.DC.Name, s.DC.Version = st.DC, st.Version
		for _, n := range st.Nodes {
			if n.Name == st.DC {
				s.DC.ID = fmt.Sprint(n.ID)
			}
		}
	}
	s.LastUpdate.Time, s.LastUpdate.Origin = ctime(st.LastUpdated), st.Node
	if !c.LastChange.When.IsZero() {
		s.LastChange.Time = ctime(c.LastChange.When)
	}
	s.LastChange.User, s.LastChange.Client, s.LastChange.Origin = c.LastChange.User, c.LastChange.Via, c.LastChange.Node
	s.NodesConfigured.Number = len(st.Nodes)
	rscs := Resources(st)
	s.ResourcesConfigured.Number, s.ResourcesConfigured.Disabled = Configured(st, rscs)
	for _, x := range rscs {
		if x.Blocked != "" {
			s.ResourcesConfigured.Blocked++
		}
	}
	o := &s.Options
	o.StonithEnabled = boolStr(c.Property("stonith-enabled"))
	o.Symmetric = boolStr(c.Property("symmetric-cluster"))
	o.NoQuorumPolicy = c.Property("no-quorum-policy")
	o.MaintenanceMode = boolStr(c.Property("maintenance-mode"))
	o.StopAll = boolStr(c.Property("stop-all-resources"))
	if d, err := cib.ParseDuration(c.Property("stonith-timeout")); err == nil {
		o.StonithTimeoutMS = d.Milliseconds()
	}
	if d, err := cib.ParseDuration(c.Property("priority-fencing-delay")); err == nil {
		o.PriorityFenceMS = d.Milliseconds()
	}
	o.CIBEpoch, o.CIBAdminEpoch = c.Epoch, c.AdminEpoch
	o.QuorumVotes, o.QuorumExpected = st.Quorum.Votes, st.Quorum.Expected

	ids := map[string]int{}
	for _, n := range st.Nodes {
		ids[n.Name] = n.ID
		running := 0
		for _, x := range rscs {
			for _, rn := range append(append([]string{}, x.Running...), x.Failed...) {
				if rn == n.Name {
					running++
				}
			}
		}
		r.Nodes = append(r.Nodes, xmlNode{Name: n.Name, ID: n.ID, Online: n.Online, Standby: n.Standby, Maintenance: n.Maintenance,
			Pending: n.Pending, Unclean: n.Unclean, Health: "green", ExpectedUp: n.Online, IsDC: n.DC, ResourcesRunning: running,
			Type: "member", Witness: n.Witness})
	}
	mk := func(x Rsc) xmlResource {
		nodes := append(append([]string{}, x.Running...), x.Failed...)
		xr := xmlResource{ID: x.ID, Agent: x.Agent, Role: x.Role(), Active: len(nodes) > 0, Managed: x.Managed,
			Failed: len(x.Failed) > 0, NodesRunningOn: len(nodes), Blocked: x.Blocked != ""}
		if xr.Blocked {
			xr.BlockedReason = x.Blocked
		}
		for _, n := range nodes {
			xr.Nodes = append(xr.Nodes, xmlRscNode{Name: n, ID: ids[n], Cached: true})
		}
		return xr
	}
	seen := map[string]bool{}
	for _, x := range rscs {
		if x.Parent == "" {
			r.Resources.Items = append(r.Resources.Items, mk(x))
			continue
		}
		if seen[x.Parent] {
			continue
		}
		seen[x.Parent] = true
		var members []xmlResource
		for _, y := range rscs {
			if y.Parent == x.Parent {
				members = append(members, mk(y))
			}
		}
		if _, ok := cloneByID(c, x.Parent); ok {
			r.Resources.Items = append(r.Resources.Items, xmlClone{ID: x.Parent, Managed: true, Resources: members,
				Disabled: metaOf(c, x.Parent, "target-role") == "Stopped"})
		} else {
			r.Resources.Items = append(r.Resources.Items, xmlGroup{ID: x.Parent, Number: len(members), Managed: true, Resources: members,
				Disabled: metaOf(c, x.Parent, "target-role") == "Stopped"})
		}
	}
	for _, f := range FailedActions(st) {
		r.Failures = append(r.Failures, xmlFail{OpKey: fmt.Sprintf("%s_%s_%d", f.Rsc, f.Op.Op, f.Op.Interval.Milliseconds()), Node: f.Node,
			ExitStr: f.Op.RCText, ExitRsn: f.Op.Reason, ExitCode: f.Op.RC, Status: execStatus(f.Op.RC), Task: f.Op.Op, Interval: f.Op.Interval.Milliseconds(),
			Change: f.Op.When.Format(xmlTime), Exec: f.Op.Exec.Milliseconds()})
	}
	for _, f := range st.Store.Fencing {
		status := "success"
		if !f.OK {
			status = "failed"
		}
		r.Fencing = append(r.Fencing, xmlFence{Action: f.Action, Target: f.Target, Delegate: f.Device, Origin: f.By, Status: status, Completed: f.Completed.Format(xmlTime)})
	}
	if tl := st.Store.Timeline; tl != nil {
		for _, e := range tl.Events {
			r.Timeline = append(r.Timeline, xmlEvent{AtMS: float64(e.At.Microseconds()) / 1000, What: e.What})
		}
	}
	r.Status = xmlStatus{Code: 0, Message: "OK"}
	var b strings.Builder
	b.WriteString(xml.Header)
	enc := xml.NewEncoder(&b)
	enc.Indent("", "  ")
	if err := enc.Encode(r); err != nil {
		return "", fmt.Errorf("render xml: %w", err)
	}
	b.WriteString("\n")
	return b.String(), nil
}

func boolStr(v string) string {
	if cib.IsTrue(v) {
		return "true"
	}
	return "false"
}
