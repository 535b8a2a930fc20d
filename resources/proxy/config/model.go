package config

import (
	"fmt"
	"regexp"
	"time"

	"github.com/duet-ha/duet/resources/proxy/acl"
)

// Severity says whether a Diagnostic stops the configuration from loading.
type Severity int

const (
	// Warning is reported but does not stop loading (haproxy: "[WARNING]").
	Warning Severity = iota
	// Error stops loading (haproxy: "[ALERT]").
	Error
)

// Diagnostic is one problem found in a configuration, with its place and the keyword it concerns.
type Diagnostic struct {
	Severity Severity
	File     string
	Line     int    // 1-based; 0 when the problem concerns the whole configuration
	Keyword  string // the keyword of the statement, "" when not applicable
	Message  string
}

// String renders the diagnostic in haproxy's style, e.g.
// "[ALERT] config : parsing [x.cfg:11] : unknown keyword 'balanse' in 'backend' section; did you mean 'balance' maybe ?".
func (d Diagnostic) String() string {
	sev := "[WARNING]"
	if d.Severity == Error {
		sev = "[ALERT]  "
	}
	if d.File == "" {
		return fmt.Sprintf("%s config : %s", sev, d.Message)
	}
	return fmt.Sprintf("%s config : parsing [%s:%d] : %s", sev, d.File, d.Line, d.Message)
}

// Pos is where a statement was written.
type Pos struct {
	File string
	Line int
}

func (p Pos) String() string { return fmt.Sprintf("%s:%d", p.File, p.Line) }

// Config is one complete, validated haproxy-dialect configuration: the canonical typed model every part of the
// proxy reads. Load and Parse build it; nothing mutates it afterwards.
type Config struct {
	Global    Global
	Proxies   []*Proxy // frontends, backends and listens in declaration order (ID = 1..n)
	Userlists []*Userlist
	Files     []string
}

// Proxy returns the frontend, backend or listen section with that name that has the given capability, or nil.
func (c *Config) Proxy(name string, cap Cap) *Proxy {
	for _, p := range c.Proxies {
		if p.Name == name && p.Cap&cap != 0 {
			return p
		}
	}
	return nil
}

// Global holds the global section.
type Global struct {
	Maxconn      int // 0 = unset (Duet then uses DefaultMaxconn)
	Logs         []LogTarget
	StatsSockets []StatsSocket
	StatsTimeout time.Duration
	Daemon       bool
	MasterWorker bool
	Pidfile      string
	Nbthread     int
	CPUMaps      []CPUMap // cpu-map lines, in order (a later line overrides an earlier one for the same thread)
	Node         string
	Description  string
	LogTag       string
	LogHostname  string // log-send-hostname value ("" = not sent)
	SendHostname bool
	BufSize      int
	MaxRewrite   int
	HardStop     time.Duration
	CABase       string
	CRTBase      string
	SpreadChecks int
	NoReusePort  bool // "noreuseport": listeners do not set SO_REUSEPORT
	NoSplice     bool // "nosplice": TCP-mode streams are never spliced, whatever the options say
	Maxpipes     int  // "maxpipes": kernel pipes for splicing at most (0: maxconn/4, as haproxy)
	PipeSize     int  // "tune.pipesize": pipe capacity in bytes (0: the kernel's, 64 kB)
}

// DefaultMaxconn is the process maxconn when global maxconn is unset.
const DefaultMaxconn = 4096

// Cap is a proxy capability: frontend, backend or both (listen).
type Cap int

const (
	CapFE Cap = 1 << iota
	CapBE
	CapDefaults
)

// Mode is tcp or http.
type Mode int

const (
	ModeTCP Mode = iota
	ModeHTTP
)

func (m Mode) String() string {
	if m == ModeHTTP {
		return "http"
	}
	return "tcp"
}

// Timeouts are the proxy's timeouts; zero means unset.
type Timeouts struct {
	Connect, Client, Server, Queue, Tunnel, HTTPRequest, HTTPKeepAlive, Check, ClientFin, ServerFin, Tarpit time.Duration
}

// Proxy is one frontend, backend, listen or defaults section after defaults were applied.
type Proxy struct {
	Name string
	Cap  Cap // CapFE|CapBE for listen
	Kind string
	ID   int
	Pos  Pos
	From string // the defaults section it inherited from ("" = anonymous or none)

	Mode     Mode
	Disabled bool
	Desc     string

	// Frontend side.
	Binds          []Bind
	Maxconn        int
	DefaultBackend string
	UseBackends    []UseBackend

	// Backend side.
	Servers       []*Server
	DefaultServer ServerParams
	Balance       Balance
	HashType      HashType
	HashBalance   int // hash-balance-factor; 0 = unset
	Retries       int
	Fullconn      int
	Check         CheckConfig

	Timeouts   Timeouts
	Options    Options
	Logs       []LogTarget // after "log global" expansion
	NoLog      bool
	Stats      *Stats
	MonitorURI string

	// Layer 7 (issue 5): ACLs, http-request rules, redirects, error files.
	ACLs         *acl.Set
	HTTPRules    []HTTPRule
	Redirects    []Redirect
	ErrorFiles   map[int][]byte // complete raw responses by status
	Cookie       *Cookie
	TCPConn      []TCPRule // tcp-request connection
	TCPContent   []TCPRule // tcp-request content
	InspectDelay time.Duration
	HTTPResp     []HTTPRule // http-response
	StickTable   *StickTable
	StickRules   []StickRule
	seenRules    map[string]bool
}

// StickTable is a backend's "stick-table" line.
type StickTable struct {
	Pos    Pos
	Type   string // ip, ipv6, integer, string
	Len    int
	Size   int
	Expire time.Duration // 0 = never
}

// StickRule is "stick on|match|store-request <sample> [table T] [if|unless COND]".
type StickRule struct {
	Pos    Pos
	Kind   string // on, match, store-request
	Sample *acl.Sample
	Expr   string
	Cond   *acl.Cond
}

// TCPRule is a "tcp-request connection|content accept|reject [if|unless COND]" rule.
type TCPRule struct {
	Pos    Pos
	Accept bool
	Cond   *acl.Cond
}

// Cookie is the backend's "cookie" persistence line.
type Cookie struct {
	Name     string
	Mode     string // insert, rewrite, prefix
	Indirect bool
	NoCache  bool
	PostOnly bool
	Preserve bool
	HTTPOnly bool
	Secure   bool
	Domains  []string
	Attrs    []string
}

// HTTPRule is one "http-request" rule.
type HTTPRule struct {
	Pos         Pos
	Action      string // deny, allow, redirect, set-header, add-header, del-header, return, set-path
	Status      int    // deny_status / return status
	Name        string // header name
	Value       *acl.Format
	ContentType string
	Body        string
	Redirect    *Redirect
	Regex       *regexp.Regexp // replace-header, replace-value, replace-path
	Cond        *acl.Cond
	// BodyFmt is an lf-string body; Hdrs are the "hdr NAME FMT" lines of return/deny; Reason is set-status's.
	BodyFmt *acl.Format
	Hdrs    []HdrFmt
	Reason  string
	// Expr is set-var's sample expression (Name is the variable).
	Expr *acl.Sample
}

// HdrFmt is one extra header of a return/deny answer: a name and a log-format value.
type HdrFmt struct {
	Name  string
	Value *acl.Format
}

// Redirect is a "redirect" rule (or the redirect of an http-request rule).
type Redirect struct {
	Pos         Pos
	Kind        string // location, prefix, scheme
	To          *acl.Format
	Code        int
	DropQuery   bool
	AppendSlash bool
	Cond        *acl.Cond
}

// Options are the "option" switches Duet implements.
type Options struct {
	HTTPLog, HTTPLogCLF, TCPLog, DontLogNull, DontLogNormal, LogHealthChecks           bool
	Forwardfor                                                                         *Forwardfor
	HTTPServerClose, HTTPKeepAlive, HTTPClose, Redispatch, AllBackups                  bool
	AbortOnClose, TCPKA, CliTCPKA, SrvTCPKA, Persist                                   bool
	LogASAP, HTTPIgnoreProbes, HTTPUseHTX, HTTPBufferRequest, NoLingerCli, NoLingerSrv bool
	// option splice-auto | splice-request | splice-response: TCP-mode streams move through kernel pipes
	SpliceAuto, SpliceRequest, SpliceResponse bool
}

// Forwardfor is "option forwardfor [except NET] [header NAME] [if-none]".
type Forwardfor struct {
	Except string // CIDR or address; "" = none
	Header string // default X-Forwarded-For
	IfNone bool
}

// UseBackend is "use_backend NAME [if|unless COND]". A name with '%' is a log-format (Dynamic): it is rendered
// for each request and names the backend then.
type UseBackend struct {
	Backend string
	Dynamic *acl.Format
	Cond    *acl.Cond
	Pos     Pos
}

// Bind is one bind line expanded to one or more addresses.
type Bind struct {
	Pos         Pos
	Spec        string     // the address word as written
	Addrs       []BindAddr // expanded ranges and comma lists
	Name        string
	Maxconn     int
	SSL         bool
	Certs       []string // crt files or directories
	ALPN        []string
	V4V6        bool
	V6Only      bool
	Transparent bool
	AcceptProxy bool
	Mode        uint32 // unix socket mode
}

// BindAddr is one concrete listening address: Network is tcp, tcp4, tcp6, unix or fd.
type BindAddr struct {
	Network string
	Address string // host:port, a path or an fd number
}

// Server is one server line after default-server was applied.
type Server struct {
	Name         string
	Pos          Pos
	Addr         string // host or IP as written ("" for none)
	Port         int    // 0 = same as the client's destination port
	PortRelative bool   // "+N" or "-N": Port is an offset
	ID           int    // puid: explicit "id" or position (1-based)
	ExplicitID   bool
	ServerParams
}

// ServerParams are the parameters shared by server and default-server lines.
type ServerParams struct {
	Weight      int // 0..256, default 1
	Check       bool
	Inter       time.Duration
	FastInter   time.Duration
	DownInter   time.Duration
	Rise, Fall  int
	Backup      bool
	Disabled    bool
	Cookie      string
	Maxconn     int
	Maxqueue    int
	Minconn     int
	SlowStart   time.Duration
	CheckPort   int
	CheckAddr   string
	SSL         bool
	Verify      string
	SendProxy   bool
	SendProxyV2 bool
	InitAddr    string
	CheckSSL    bool
	Observe     string
	OnError     string
	Agent       bool
	idValue     int
	set         map[string]bool
}

// DefaultServerParams are haproxy's defaults for a server line.
func DefaultServerParams() ServerParams {
	return ServerParams{Weight: 1, Inter: 2 * time.Second, Rise: 2, Fall: 3}
}

// Algo is a balance algorithm.
type Algo string

const (
	AlgoRoundRobin Algo = "roundrobin"
	AlgoStaticRR   Algo = "static-rr"
	AlgoLeastConn  Algo = "leastconn"
	AlgoFirst      Algo = "first"
	AlgoSource     Algo = "source"
	AlgoURI        Algo = "uri"
	AlgoURLParam   Algo = "url_param"
	AlgoHdr        Algo = "hdr"
	AlgoRandom     Algo = "random"
	AlgoRDPCookie  Algo = "rdp-cookie"
	AlgoHash       Algo = "hash"
)

// Balance is the "balance" line.
type Balance struct {
	Algo        Algo
	URIWhole    bool
	URILen      int
	URIDepth    int
	URIPathOnly bool
	Param       string // url_param name
	CheckPost   bool   // "check_post" given; haproxy 2.6 scans POST bodies with or without it
	Header      string // hdr name
	DomainOnly  bool
	Draws       int    // random draws, default 2
	RDPCookie   string // default mstshash
	HashExpr    string // balance hash <expr>
	// HashSample is HashExpr compiled; balance uses it for expressions beyond the few it evaluates itself
	// (converters, other fetches).
	HashSample *acl.Sample
}

// HashType is the "hash-type" line.
type HashType struct {
	Consistent bool
	Function   string // sdbm (default), djb2, wt6, crc32
	Avalanche  bool
}

// CheckKind is the health-check protocol.
type CheckKind int

const (
	CheckTCP CheckKind = iota
	CheckHTTP
	CheckMySQL
)

// CheckConfig is the backend-level health-check configuration.
type CheckConfig struct {
	Kind         CheckKind
	Method       string
	URI          string
	Version      string
	SendHeaders  [][2]string // http-check send hdr
	SendBody     string
	Expect       *Expect
	MySQLUser    string
	MySQLPost41  bool
	DisableOn404 bool
}

// Expect is one "http-check expect" rule.
type Expect struct {
	Negate   bool
	Match    string // status, rstatus, string, rstring, hdr
	Pattern  string
	HdrName  string
	HdrValue string
	MinRecv  int
}

// LogTarget is one "log" destination.
type LogTarget struct {
	Network  string // udp, unixgram, stdout, stderr
	Address  string
	Len      int
	Format   string // rfc3164 (default), rfc5424, short, raw
	Facility int
	Level    int // max level (0..7)
	MinLevel int
	Pos      Pos
}

// StatsSocket is "stats socket PATH [mode M] [level L]".
type StatsSocket struct {
	Pos     Pos
	Network string // unix or tcp
	Address string
	Mode    uint32
	Level   string // user, operator, admin
}

// Stats is the stats page configuration of a proxy.
type Stats struct {
	Enabled     bool
	URI         string
	Realm       string
	Auth        []string // user:pass
	Refresh     time.Duration
	HideVersion bool
	Scope       []string
	AdminCond   *acl.Cond // "stats admin if|unless COND"
	ShowLegends bool
	ShowNode    string
	ShowDesc    string
}

// Userlist is a userlist section.
type Userlist struct {
	Name   string
	Pos    Pos
	Users  []User
	Groups map[string][]string
}

// User is a user of a userlist.
type User struct {
	Name     string
	Password string
	Insecure bool
	Groups   []string
}
