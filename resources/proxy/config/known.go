package config

// The keyword lists below name what haproxy 2.6 knows. A keyword haproxy knows but Duet does not implement is
// refused with an error that says so; an unknown keyword gets a "did you mean" from these lists.

var knownGlobal = words(`ca-base chroot cpu-map crt-base daemon default-path description expose-experimental-directives
external-check gid group h1-case-adjust h1-case-adjust-file insecure-fork-wanted insecure-setuid-wanted
issuers-chain-path localpeer log log-tag log-send-hostname lua-load lua-load-per-thread lua-prepend-path master-worker
mworker-max-reloads nbthread node numa-cpu-mapping pidfile pp2-never-send-local presetenv resetenv uid ulimit-n user
set-dumpable set-var setenv ssl-default-bind-ciphers ssl-default-bind-ciphersuites ssl-default-bind-curves
ssl-default-bind-options ssl-default-server-ciphers ssl-default-server-ciphersuites ssl-default-server-options
ssl-dh-param-file ssl-server-verify ssl-skip-self-issued-ca stats strict-limits unix-bind unsetenv busy-polling
max-spread-checks maxconn maxconnrate maxcomprate maxcompcpuusage maxpipes maxsessrate maxsslconn maxsslrate maxzlibmem
noepoll nokqueue noevports nopoll nosplice nogetaddrinfo noreuseport profiling.tasks spread-checks ssl-engine
ssl-mode-async tune.bufsize tune.maxrewrite tune.http.maxhdr tune.ssl.default-dh-param tune.ssl.cachesize
tune.ssl.lifetime tune.maxaccept tune.maxpollevents tune.idletimer tune.rcvbuf.client tune.rcvbuf.server
tune.sndbuf.client tune.sndbuf.server tune.pipesize tune.recv_enough tune.runqueue-depth tune.h2.max-concurrent-streams
debug quiet zero-warning hard-stop-after grace cluster-secret thread-groups fd-hard-limit close-spread-time
httpclient.resolvers.id httpclient.ssl.verify nbproc`)

var knownProxy = words(`acl backlog balance bind capture clitcpka-cnt clitcpka-idle clitcpka-intvl compression cookie
declare default-server default_backend description disabled dispatch email-alert enabled errorfile errorfiles errorloc
errorloc302 errorloc303 error-log-format force-persist filter fullconn hash-type hash-balance-factor http-after-response
http-check http-error http-request http-response http-reuse http-send-name-header id ignore-persist
load-server-state-from-file log log-format log-format-sd log-tag max-keep-alive-queue maxconn mode monitor monitor-uri
option no external-check persist rate-limit redirect retries retry-on server server-state-file-name server-template
source srvtcpka-cnt srvtcpka-idle srvtcpka-intvl stats stick stick-table tcp-check tcp-request tcp-response timeout
transparent unique-id-format unique-id-header use_backend use-fcgi-app use-server`)

var knownOptions = words(`abortonclose accept-invalid-http-request accept-invalid-http-response allbackups checkcache
clitcpka contstats disable-h2-upgrade dontlog-normal dontlognull forwardfor h1-case-adjust-bogus-client
h1-case-adjust-bogus-server http-buffer-request http-ignore-probes http-keep-alive http-no-delay
http-pretend-keepalive http-restrict-req-hdr-names http-server-close http-use-proxy-header httpchk httpclose httplog
httpslog independent-streams ldap-check external-check log-health-checks log-separate-errors logasap mysql-check
nolinger originalto persist pgsql-check prefer-last-server redis-check redispatch smtpchk socket-stats splice-auto
splice-request splice-response spop-check srvtcpka ssl-hello-chk tcp-check tcp-smart-accept tcp-smart-connect tcpka
tcplog transparent idle-close-on-response`)

var knownServer = words(`addr agent-check agent-send agent-inter agent-addr agent-port allow-0rtt alpn backup ca-file
check check-send-proxy check-alpn check-proto check-ssl check-sni check-via-socks4 ciphers ciphersuites cookie crl-file crt
disabled enabled error-limit fall force-sslv3 force-tlsv10 force-tlsv11 force-tlsv12 force-tlsv13 id init-addr inter
fastinter downinter log-proto maxconn maxqueue max-reuse minconn namespace no-agent-check no-backup no-check
no-check-ssl no-send-proxy no-send-proxy-v2 no-ssl no-ssl-reuse no-sslv3 no-tls-tickets no-tlsv10 no-tlsv11 no-tlsv12
no-tlsv13 no-verifyhost no-tfo npn observe on-error on-marked-down on-marked-up pool-low-conn pool-max-conn
pool-purge-delay port proto redir rise resolve-opts resolve-prefer resolve-net resolvers send-proxy send-proxy-v2
send-proxy-v2-ssl send-proxy-v2-ssl-cn set-proxy-v2-tlv-fmt slowstart sni source ssl ssl-max-ver ssl-min-ver
ssl-reuse stick socks4 tcp-ut tfo tls-tickets track verify verifyhost weight ws`)

var knownBind = words(`accept-netscaler-cip accept-proxy allow-0rtt alpn backlog ca-file ca-ignore-err ca-sign-file
ca-sign-pass ca-verify-file ciphers ciphersuites crl-file crt crt-ignore-err crt-list curves defer-accept ecdhe
expose-fd force-sslv3 force-tlsv10 force-tlsv11 force-tlsv12 force-tlsv13 generate-certificates gid group id interface
level severity-output maxconn mode mss name namespace nice no-ca-names no-sslv3 no-tls-tickets no-tlsv10 no-tlsv11
no-tlsv12 no-tlsv13 npn prefer-client-ciphers process proto quic-cc-algo quic-force-retry shards ssl ssl-max-ver
ssl-min-ver strict-sni tcp-ut tfo thread tls-ticket-keys transparent uid user v4v6 v6only verify`)

var knownTimeouts = words(`check client client-fin connect http-keep-alive http-request queue server server-fin tarpit tunnel`)

func words(s string) []string {
	var out []string
	start := -1
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ' ' || s[i] == '\n' || s[i] == '\t' {
			if start >= 0 {
				out = append(out, s[start:i])
				start = -1
			}
			continue
		}
		if start < 0 {
			start = i
		}
	}
	return out
}

func contains(list []string, w string) bool {
	for _, x := range list {
		if x == w {
			return true
		}
	}
	return false
}

// obsolete maps 1.x-era keywords to haproxy 2.6's exact refusal.
var obsolete = map[string]string{
	"reqrep":      "The 'reqrep' directive is not supported anymore since HAProxy 2.1. Use 'http-request replace-path', 'http-request replace-uri' or 'http-request replace-header' instead.",
	"reqirep":     "The 'reqirep' directive is not supported anymore since HAProxy 2.1. Use 'http-request replace-header' instead.",
	"reqadd":      "The 'reqadd' directive is not supported anymore since HAProxy 2.1. Use 'http-request add-header' instead.",
	"reqdel":      "The 'reqdel' directive is not supported anymore since HAProxy 2.1. Use 'http-request del-header' instead.",
	"reqidel":     "The 'reqidel' directive is not supported anymore since HAProxy 2.1. Use 'http-request del-header' instead.",
	"reqdeny":     "The 'reqdeny' not supported anymore since HAProxy 2.1. Use 'http-request deny' instead.",
	"reqideny":    "The 'reqideny' directive is not supported anymore since HAProxy 2.1. Use 'http-request deny' instead.",
	"reqpass":     "The 'reqpass' not supported anymore since HAProxy 2.1.",
	"reqipass":    "The 'reqipass' directive is not supported anymore since HAProxy 2.1.",
	"reqallow":    "The 'reqallow' directive is not supported anymore since HAProxy 2.1. Use 'http-request allow' instead.",
	"reqiallow":   "The 'reqiallow' directive is not supported anymore since HAProxy 2.1. Use 'http-request allow' instead.",
	"reqtarpit":   "The 'reqtarpit' directive is not supported anymore since HAProxy 2.1. Use 'http-request tarpit' instead.",
	"reqitarpit":  "The 'reqitarpit' directive is not supported anymore since HAProxy 2.1. Use 'http-request tarpit' instead.",
	"rsprep":      "The 'rsprep' directive is not supported anymore since HAProxy 2.1. Use 'http-response replace-header' instead.",
	"rspirep":     "The 'rspirep' directive is not supported anymore since HAProxy 2.1. Use 'http-response replace-header' instead.",
	"rspadd":      "The 'rspadd' directive is not supported anymore since HAProxy 2.1. Use 'http-response add-header' instead.",
	"rspdel":      "The 'rspdel' directive is not supported anymore since HAProxy 2.1. Use 'http-response del-header' .",
	"rspidel":     "The 'rspidel' directive is not supported anymore since HAProxy 2.1. Use 'http-response del-header' instead.",
	"rspdeny":     "The 'rspdeny' directive is not supported anymore since HAProxy 2.1. Use 'http-response deny' instead.",
	"rspideny":    "The 'rspideny' directive is not supported anymore since HAProxy 2.1. Use 'http-response deny' instead.",
	"cliexp":      "The 'cliexp' directive is not supported anymore since HAProxy 2.1. Use 'http-request replace-path', 'http-request replace-uri' or 'http-request replace-header' instead.",
	"srvexp":      "The 'srvexp' directive is not supported anymore since HAProxy 2.1. Use 'http-response replace-header' instead.",
	"block":       "The 'block' directive is not supported anymore since HAProxy 2.1. Use 'http-request deny' which uses the exact same syntax.",
	"redispatch":  "keyword 'redispatch' directive is not supported anymore since HAProxy 2.1. Use 'option redispatch'.",
	"redisp":      "keyword 'redisp' directive is not supported anymore since HAProxy 2.1. Use 'option redispatch'.",
	"contimeout":  "the 'contimeout' directive is not supported anymore since HAProxy 2.1. Use 'timeout connect'.",
	"clitimeout":  "the 'clitimeout' directive is not supported anymore since HAProxy 2.1. Use 'timeout client'.",
	"srvtimeout":  "the 'srvtimeout' directive is not supported anymore since HAProxy 2.1. Use 'timeout server'.",
	"monitor-net": "'monitor-net' doesn't exist anymore. Please use 'http-request return status 200 if { src 10.0.0.0/8 }' instead.",
	"appsession":  "'appsession' is not supported anymore since HAProxy 1.6.",
}

var obsoleteOptions = map[string]string{
	"forceclose":  "option 'forceclose' is not supported any more since HAProxy 2.0, please just remove it, or use 'option httpclose' if absolutely needed.",
	"http-tunnel": "option 'http-tunnel' is not supported any more since HAProxy 2.1, please just remove it, it shouldn't be needed.",
	"http_proxy":  "option 'http_proxy' is not supported any more since HAProxy 2.5. This option stopped working in HAProxy 1.9 and usually had nasty side effects. It can be more reliably implemented with combinations of 'http-request set-dst' and 'http-request set-uri', and even 'http-request do-resolve' if DNS resolution is desired.",
}
