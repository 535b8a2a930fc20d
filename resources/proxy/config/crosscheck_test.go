package config

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const std = `defaults
    mode http
    timeout connect 1s
    timeout client 1s
    timeout server 1s
`

// corpus holds configurations with haproxy 2.6.12's verdict (valid or not) as recorded on this machine; the
// cross-check re-runs haproxy -c when it is installed. duetDiffers names a deliberate difference (README).
var corpus = []struct {
	name        string
	text        string
	valid       bool
	duetDiffers string
}{
	{"minimal", std + "listen l\n    bind 127.0.0.1:9001\n    server s1 127.0.0.1:8081\n", true, ""},
	{"two-node", "global\n    maxconn 1000\n    log 127.0.0.1:514 local0 info\n    stats socket /tmp/duet-cc.sock mode 600 level admin\n" + std +
		"    log global\n    option httplog\n    option forwardfor\n    timeout http-request 10s\n    timeout check 2s\n" +
		"frontend www\n    bind :80\n    bind :443 ssl crt SITEPEM\n    default_backend app\n" +
		"backend app\n    balance roundrobin\n    option httpchk GET /health\n    http-check expect status 200\n" +
		"    server web1 10.0.0.11:8080 check inter 2s rise 2 fall 3 weight 10 maxconn 200\n    server web2 10.0.0.12:8080 check inter 2s rise 2 fall 3 weight 10 maxconn 200\n    server sorry 10.0.0.13:8080 backup\n" +
		"backend static\n    balance uri\n    server web1 10.0.0.11:8080 check\n    server web2 10.0.0.12:8080 check\n" +
		"listen stats\n    bind :8404\n    stats enable\n    stats uri /stats\n    stats refresh 10s\n    stats realm LB\\ stats\n    stats auth admin:secret\n    stats admin if TRUE\n", true, ""},
	{"balance-all", std + "backend b1\n    balance static-rr\n    server s 1.1.1.1:80\nbackend b2\n    balance leastconn\n    server s 1.1.1.1:80\n" +
		"backend b3\n    balance first\n    server s 1.1.1.1:80 maxconn 10\nbackend b4\n    balance source\n    hash-type consistent\n    server s 1.1.1.1:80\n" +
		"backend b5\n    balance uri whole len 10 depth 2 path-only\n    server s 1.1.1.1:80\nbackend b6\n    balance url_param id check_post\n    server s 1.1.1.1:80\n" +
		"backend b7\n    balance hdr(Host) use_domain_only\n    hash-type map-based djb2 avalanche\n    server s 1.1.1.1:80\nbackend b8\n    balance random(3)\n    server s 1.1.1.1:80\n" +
		"backend b9\n    mode tcp\n    balance rdp-cookie(mstshash)\n    server s 1.1.1.1:3389\nbackend b10\n    balance hash req.hdr(X-Key)\n    hash-type consistent wt6\n    server s 1.1.1.1:80\n" +
		"backend b11\n    balance source\n    hash-type consistent crc32 avalanche\n    hash-balance-factor 150\n    server s 1.1.1.1:80 weight 256\n", true, ""},
	{"named-defaults", "defaults base\n    mode http\n    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\nfrontend f from base\n    bind 127.0.0.1:9001\n    default_backend b\nbackend b from base\n    server s 1.1.1.1:80\n", true, ""},
	{"missing-defaults", "frontend f from nope\n    bind 127.0.0.1:9001\n", false, ""},
	{"typo-keyword", std + "backend b\n    balanse roundrobin\n    server s 1.1.1.1:80\n", false, ""},
	{"typo-option", std + "backend b\n    option httpchek\n    server s 1.1.1.1:80\n", false, ""},
	{"typo-server-kw", std + "backend b\n    server s 1.1.1.1:80 wieght 3\n", false, ""},
	{"weight-too-big", std + "backend b\n    server s 1.1.1.1:80 weight 257\n", false, ""},
	{"dup-server", std + "backend b\n    server s 1.1.1.1:80\n    server s 1.1.1.2:80\n", false, ""},
	{"dup-backend", std + "backend b\n    server s 1.1.1.1:80\nbackend b\n    server s 1.1.1.1:80\n", false, ""},
	{"fe-be-same-name", std + "frontend x\n    bind 127.0.0.1:9001\n    default_backend x\nbackend x\n    server s 1.1.1.1:80\n", true, ""},
	{"unknown-backend", std + "frontend f\n    bind 127.0.0.1:9001\n    default_backend nope\n", false, ""},
	{"use-backend-missing", std + "frontend f\n    bind 127.0.0.1:9001\n    use_backend nope\n", false, ""},
	{"mode-mismatch", std + "frontend f\n    bind 127.0.0.1:9001\n    default_backend b\nbackend b\n    mode tcp\n    server s 1.1.1.1:80\n", false, ""},
	{"no-bind", std + "frontend f\n    default_backend b\nbackend b\n    server s 1.1.1.1:80\n", true, ""},
	{"bind-no-port", std + "frontend f\n    bind 127.0.0.1\n", false, ""},
	{"bind-range", std + "frontend f\n    bind 127.0.0.1:9001-9003,127.0.0.2:9004\n    bind ipv4@127.0.0.1:9010\n    bind ipv6@[::1]:9011\n    bind unix@/tmp/duet-cc-f.sock\n    bind :::9012 v4v6\n", true, ""},
	{"bind-params", std + "frontend f\n    bind 127.0.0.1:9001 name web maxconn 100 transparent\n", true, ""},
	{"bind-bad-kw", std + "frontend f\n    bind 127.0.0.1:9001 maxcon 100\n", false, ""},
	{"obsolete-reqrep", std + "frontend f\n    bind 127.0.0.1:9001\n    reqrep ^Host:\\ foo Host:\\ bar\n", false, ""},
	{"obsolete-timeouts", "defaults\n    contimeout 5s\n", false, ""},
	{"obsolete-redispatch", std + "backend b\n    redispatch\n    server s 1.1.1.1:80\n", false, ""},
	{"obsolete-forceclose", std + "backend b\n    option forceclose\n", false, ""},
	{"obsolete-hash-avalanche", std + "backend b\n    hash-type avalanche\n", false, ""},
	{"obsolete-nbproc", "global\n    nbproc 2\n", false, ""},
	{"cpu-map", "global\n    nbthread 2\n    cpu-map auto:1/1-2 0-1\n    cpu-map 1/all 0,1 3-2\n    cpu-map 2/1 0\n    cpu-map odd 0-\n    cpu-map auto:1 1\n    cpu-map 1/1- 1023\n", true, ""},
	{"cpu-map-auto-size", "global\n    cpu-map auto:1/1-4 0-1\n", false, ""},
	{"cpu-map-no-cpus", "global\n    cpu-map 1/1\n", false, ""},
	{"cpu-map-thread-0", "global\n    cpu-map 1/0 0\n", false, ""},
	{"cpu-map-thread-65", "global\n    cpu-map 1/65 0\n", false, ""},
	{"cpu-map-bad-thread", "global\n    cpu-map 1/x 0\n", false, ""},
	{"cpu-map-bad-cpu", "global\n    cpu-map 1/1 -1\n", false, ""},
	{"cpu-map-cpu-1024", "global\n    cpu-map 1/1 1024\n", false, ""},
	{"splice-globals", "global\n    nosplice\n    maxpipes 10\n    tune.pipesize 131072\n", true, ""},
	{"nosplice-arg", "global\n    nosplice x\n", false, ""},
	{"maxpipes-no-arg", "global\n    maxpipes\n", false, ""},
	{"maxpipes-two-args", "global\n    maxpipes 10 20\n", false, ""},
	{"pipesize-no-arg", "global\n    tune.pipesize\n", false, ""},
	{"maxpipes-not-number", "global\n    maxpipes x\n", true, "haproxy reads maxpipes with atol (x is 0); Duet refuses what is not a number"},
	{"maxpipes-negative", "global\n    maxpipes -1\n", true, "haproxy takes a negative maxpipes; Duet refuses it"},
	{"mode-health", "defaults\n    mode health\n", false, ""},
	{"bad-mode", "defaults\n    mode udp\n", false, ""},
	{"bad-timeout", "defaults\n    timeout client 5x\n", false, ""},
	{"timeout-unknown", "defaults\n    timeout clien 5s\n", false, ""},
	{"missing-timeouts-warning", "frontend f\n    bind 127.0.0.1:9001\n", true, ""},
	{"tokenizer-quotes", std + "frontend f\n    bind \"127.0.0.1\":'9001'\n    description a\\ b \"c d\" 'e f'#comment\n    default_backend b\nbackend b\n    server s 1.1.1.1:80\n", true, ""},
	{"tokenizer-unmatched", std + "frontend f\n    bind \"127.0.0.1:9001\n", false, ""},
	{"tokenizer-bad-hex", std + "frontend f\n    description \\xZZ\n    bind 127.0.0.1:9001\n", false, ""},
	{"env-quoted", "global\n    maxconn \"${DUET_CC_MAXCONN}\"\n", true, ""},
	{"env-unquoted", std + "frontend f\n    bind 127.0.0.1:${DUET_CC_PORT}\n", true, ""},
	{"description-in-defaults", "defaults\n    description x\n", false, ""},
	{"env-default", std + "frontend f\n    bind \"127.0.0.1:${DUET_CC_NOPE-9001}\"\n", true, ""},
	{"if-blocks", ".if defined(DUET_CC_MAXCONN)\nglobal\n    maxconn 10\n.elif 1\nglobal\n    bogus\n.else\nglobal\n    bogus2\n.endif\n" +
		".if version_atleast(2.5) && !version_before(2.6)\n.if streq(a,b) || feature(OPENSSL)\ndefaults\n    mode http\n.endif\n.endif\n", true, ""},
	{"if-unterminated", ".if 1\nglobal\n    maxconn 10\n", false, ""},
	{"alert-directive", ".alert \"stop here\"\n", false, ""},
	{"missing-lf", "global\n    maxconn 10", false, ""},
	{"too-many-words", "global\n    description " + strings.Repeat("w ", 70) + "\n", false, ""},
	{"out-of-section", "maxconn 10\n", false, ""},
	{"httpchk-expect", std + "backend b\n    option httpchk\n    http-check send meth GET uri /health ver HTTP/1.1 hdr Host www\n    http-check expect rstatus ^2\n    server s 1.1.1.1:80 check port 8080 addr 1.1.1.2 inter 1s fastinter 500ms downinter 5s rise 1 fall 2\n", true, ""},
	{"disable-on-404", std + "backend b\n    option httpchk GET /\n    http-check disable-on-404\n    server s 1.1.1.1:80 check\n", true, ""},
	{"mysql-check", std + "backend db\n    mode tcp\n    option mysql-check user haproxy post-41\n    server s 1.1.1.1:3306 check\n", true, ""},
	{"options", std + "    option http-server-close\n    option redispatch\n    option dontlognull\n    retries 3\n    option forwardfor except 127.0.0.0/8 header X-Real-IP if-none\n" +
		"backend b\n    option allbackups\n    option http-keep-alive\n    default-server inter 3s fall 2 maxconn 50\n    server s1 1.1.1.1:80 check\n    server s2 1.1.1.2:80 backup disabled\n    server s3 1.1.1.3:+10 id 7\n", true, ""},
	{"log-formats", "global\n    log 127.0.0.1:514 len 2048 format rfc5424 local0 info notice\n    log /dev/log local1\n    log stdout format raw daemon\n" + std + "    log global\n    option tcplog\n", true, ""},
	{"log-bad-facility", "global\n    log 127.0.0.1:514 local9\n", false, ""},
	{"userlist", "userlist L\n    group admins users alice,bob\n    user alice insecure-password secret\n    user bob password $6$abc\n    user carol password '$6$Duet$x'\n", true, ""},
	{"auth-rules", "userlist admins\n    group ops users ops\n    user ops insecure-password s3cret\n" + std + "frontend f\n    bind 127.0.0.1:9001\n    acl ok http_auth(admins)\n" +
		"    http-request auth realm Admin\\ area if { path_beg /admin } !ok\n    http-request deny if { path_beg /ops } !{ http_auth_group(admins) ops }\n", true, ""},
	{"stats-admin-in-defaults", "defaults\n    mode http\n    stats admin if TRUE\n", false, ""},
	{"server-no-port-http", std + "backend b\n    server s 1.1.1.1\n", true, ""},
	{"server-bad-addr", std + "backend b\n    server s 1.1.1.1:99999\n", false, ""},
	{"acl-rules", std + "frontend f\n    bind 127.0.0.1:9001\n    acl is_api path_beg /api\n    use_backend b if is_api\n    default_backend b\nbackend b\n    server s 1.1.1.1:80\n", true, ""},
	{"cookie", std + "backend b\n    cookie SRV insert indirect nocache\n    server s 1.1.1.1:80 cookie a\n", true, ""},
	{"cookie-modes", std + "backend a\n    cookie SRV prefix indirect\n    server s 1.1.1.1:80 cookie a\nbackend b\n    cookie JSESSIONID rewrite\n    server s 1.1.1.1:80 cookie b\n" +
		"backend c\n    cookie SRV insert indirect nocache httponly secure domain .example.com postonly\n    server s 1.1.1.1:80 cookie c\n", true, ""},
	{"cookie-bad-option", std + "backend a\n    cookie SRV insert sometimes\n", false, ""},
	{"cookie-nocache-rewrite", std + "backend a\n    cookie SRV rewrite nocache\n", true, ""},
	{"http-request", std + "frontend f\n    bind 127.0.0.1:9001\n    http-request set-header X-A b\n", true, ""},
	{"acl-bad-regex", std + "frontend f\n    bind 127.0.0.1:9001\n    acl a path_reg ([\n", false, ""},
	{"acl-unknown-fetch", std + "frontend f\n    bind 127.0.0.1:9001\n    acl a nosuchfetch x\n", false, ""},
	{"acl-missing-file", std + "frontend f\n    bind 127.0.0.1:9001\n    acl a path -f /nonexistent/duet.lst\n", false, ""},
	{"acl-bad-ip", std + "frontend f\n    bind 127.0.0.1:9001\n    acl a src 10.0.0.300\n", false, ""},
	{"cond-undefined-acl", std + "frontend f\n    bind 127.0.0.1:9001\n    use_backend b if nope\nbackend b\n    server s 1.1.1.1:80\n", false, ""},
	{"acl-anonymous-defaults", std + "    acl a path /x\n", false, ""},
	{"rules", std + "frontend f\n    bind 127.0.0.1:9001\n    acl is_api path_beg /api\n    acl is_api hdr(host) -i api.example.com\n    acl bad src 10.0.0.0/8 192.168.0.0/16\n" +
		"    http-request deny deny_status 429 if bad !LOCALHOST\n    http-request return status 200 content-type text/plain string ok if { path /health }\n" +
		"    http-request set-header X-Client %[src]:%cp\n    http-request del-header X-Secret\n    http-request redirect location /new if { path /old }\n" +
		"    redirect scheme https code 301 if !{ ssl_fc } { hdr(host) -i secure.example.com }\n    redirect prefix /v2 drop-query if { path_beg /v1 }\n" +
		"    use_backend api if is_api or METH_POST\n    use_backend b unless { method GET HEAD }\n    default_backend b\nbackend api\n    server s 1.1.1.1:80\nbackend b\n    server s 1.1.1.2:80\n", true, ""},
	{"response-rules", std + "frontend f\n    bind 127.0.0.1:9001\n    tcp-request connection reject if { src 10.0.0.0/8 }\n    tcp-request inspect-delay 5s\n    tcp-request content accept if HTTP\n" +
		"    http-response set-header X-A b\n    http-response del-header Server\n    http-response deny if { src 10.1.0.0/16 }\n", true, ""},
	{"response-rule-req-fetch", std + "frontend f\n    bind 127.0.0.1:9001\n    http-response set-header X-A %[req.hdr(host)]\n", false, ""},
	{"tcp-conn-req-fetch", std + "frontend f\n    bind 127.0.0.1:9001\n    tcp-request connection reject if { path /x }\n", true, ""},
	{"stick", std + "backend b\n    stick-table type ip size 200k expire 30m\n    stick on src\n    stick match req.hdr(x-user) if { hdr(x-user) -m found }\n    stick store-request cook(SID)\n    server s 1.1.1.1:80\n", true, ""},
	{"stick-no-table", std + "backend b\n    stick on src\n    server s 1.1.1.1:80\n", false, ""},
	{"stick-table-no-size", std + "backend b\n    stick-table type ip\n", false, ""},
	{"legacy-frontend-address", std + "frontend main *:80\n    default_backend b\nbackend b\n    server s 1.1.1.1:80\n", false, ""},
	{"seed", "SEEDCFG", true, ""},
	{"rules-bad-action", std + "frontend f\n    bind 127.0.0.1:9001\n    http-request frobnicate\n", false, ""},
	{"redirect-bad-code", std + "frontend f\n    bind 127.0.0.1:9001\n    redirect location /x code 200\n", false, ""},
	{"errorfiles", std + "frontend f\n    bind 127.0.0.1:9001\n    errorfile 503 ERRFILE\n    errorloc 403 http://example.com/denied\n    errorloc303 404 /nf\n", true, ""},
	{"http-errors", "http-errors site\n    errorfile 503 ERRFILE\n" + std + "frontend f\n    bind 127.0.0.1:9001\n    errorfiles site 503\n", true, ""},
	{"http-errors-unknown", std + "frontend f\n    bind 127.0.0.1:9001\n    errorfiles nope\n", false, ""},
	{"errorfile-missing", std + "frontend f\n    bind 127.0.0.1:9001\n    errorfile 503 /nonexistent/503.http\n", false, ""},
	{"errorfile-bad-code", std + "frontend f\n    bind 127.0.0.1:9001\n    errorloc 302 /x\n", false, ""},
	{"peers-section", "peers p\n    peer a 127.0.0.1:1024\n", true, "peers sections are not supported"},
	{"server-template", std + "backend b\n    server-template s 3 1.1.1.1:80\n", true, "server-template is not supported"},
	{"bind-process-warning", std + "frontend f\n    bind 127.0.0.1:9001\n    bind-process 1\n", true, ""},
	{"timeout-wrong-side", std + "backend b\n    timeout client 3s\n    server s 1.1.1.1:80\n", true, ""},
	{"balance-in-frontend", std + "frontend f\n    bind 127.0.0.1:9001\n    balance roundrobin\n", true, ""},
	{"balance-bad", std + "backend b\n    balance roundrobbin\n", false, ""},
	{"url_param-check_post-max_wait", std + "backend b\n    balance url_param id check_post 64\n    server s 1.1.1.1:80\n", true, ""},
	{"url_param-bad-modifier", std + "backend b\n    balance url_param id check_pots\n    server s 1.1.1.1:80\n", false, ""},
	{"hash-type-bad-fn", std + "backend b\n    hash-type consistent md5\n", false, ""},
	{"rise-zero", std + "backend b\n    server s 1.1.1.1:80 rise 0\n", false, ""},
	{"section-empty-name", "backend\n", false, ""},
	{"global-typo", "global\n    maxcon 10\n", false, ""},
	{"ssl-no-crt", std + "frontend f\n    bind :443 ssl\n", false, ""},
	{"converters-valid", std + "frontend f\n    bind 127.0.0.1:9001\n    acl h req.hdr(host),lower,host_only -m str a.example\n    acl n src,ipmask(24) 10.0.0.0\n" +
		"    http-request set-header X-Net %[src,ipmask(24,64)]\n    http-request set-header X-P %[path,regsub('/+','/',g),field(2,/),upper]\n" +
		"    use_backend %[req.hdr(host),lower,map_dom(/dev/null,b)] if h || n\n    default_backend b\n" +
		"backend b\n    stick-table type ip size 1k\n    stick on src,ipmask(16)\n    balance hash req.hdr(host),lower,djb2\n    server s 1.1.1.1:80\n", true, ""},
	{"converter-unknown", std + "frontend f\n    bind 127.0.0.1:9001\n    http-request set-header X %[path,lowr]\n", false, ""},
	{"converter-bad-flag", std + "frontend f\n    bind 127.0.0.1:9001\n    http-request set-header X %[path,regsub(a,b,gz)]\n", false, ""},
	{"converter-no-map", std + "frontend f\n    bind 127.0.0.1:9001\n    http-request set-header X %[path,map(/nonexistent/duet.map)]\n", false, ""},
	{"converter-type", std + "frontend f\n    bind 127.0.0.1:9001\n    acl a ssl_fc,ipmask(24) 10.0.0.0\n", false, ""},
	{"converter-args", std + "frontend f\n    bind 127.0.0.1:9001\n    http-request set-header X %[path,field(1)]\n", false, ""},
	{"fetch-audit-valid", "userlist L\n    group g1\n    user u insecure-password p groups g1\n" + std + "frontend f\n    bind 127.0.0.1:9001\n    acl a http_auth_group(L) g1\n    acl n nbsrv(b) gt 0\n    acl c cook_cnt(x) 2\n    acl u urlp() x\n    acl v req.cook() x\n" +
		"    acl s str(x),lower x\n    http-request deny if a n c u v s\n    http-response set-header X %[res.ver]-%[res.cook(x)] if { res.cook_cnt(x) gt 0 }\n    default_backend b\n" +
		"backend b\n    acl self nbsrv lt 1\n    http-request deny if self\n    server s 1.1.1.1:80\n", true, ""},
	{"fetch-no-userlist", std + "frontend f\n    bind 127.0.0.1:9001\n    acl a http_auth(nope)\n", false, ""},
	{"fetch-bad-group", "userlist L\n    group g1\n    user u insecure-password p groups g1\n" + std + "frontend f\n    bind 127.0.0.1:9001\n    acl a http_auth_group(L) g1 g2\n", false, ""},
	{"fetch-no-backend", std + "frontend f\n    bind 127.0.0.1:9001\n    acl a nbsrv(nope) gt 0\n", false, ""},
	{"fetch-nbsrv-frontend", std + "frontend f\n    bind 127.0.0.1:9001\n    acl a nbsrv gt 0\n", false, ""},
	{"fetch-typo", std + "frontend f\n    bind 127.0.0.1:9001\n    acl a pth /x\n", false, ""},
	{"variables", std + "frontend f\n    bind 127.0.0.1:9001\n    http-request set-var(txn.host) req.hdr(host),lower\n    http-request set-var(sess.n) var(sess.n,0),add(1)\n    http-request unset-var(txn.host)\n" +
		"    acl same req.hdr(x),strcmp(txn.host) eq 0\n    http-request deny if same\n    http-response set-header X %[var(txn.host)]-%[res.hdr(server),concat(<,txn.host,>)]\n" +
		"    http-response set-var(txn.s) status\n", true, ""},
	{"variable-bad-scope", std + "frontend f\n    bind 127.0.0.1:9001\n    http-request set-var(foo.x) path\n", false, ""},
	{"fetch-counters", std + "frontend f\n    bind 127.0.0.1:9001\n    acl a fe_conn gt 10\n    acl b be_conn(b) gt 10\n    acl c queue(b) gt 1\n    acl d fe_name f\n    http-request deny if a b c d\n    default_backend b\n" +
		"backend b\n    acl e be_conn gt 1\n    http-request set-header X %[req.hdr(x),url_enc]-%[queue]\n    server s 1.1.1.1:80\n", true, ""},
	{"fetch-be-conn-frontend", std + "frontend f\n    bind 127.0.0.1:9001\n    acl a be_conn gt 1\n", false, ""},
	{"fetch-fe-conn-unknown", std + "frontend f\n    bind 127.0.0.1:9001\n    acl a fe_conn(nope) gt 1\n", false, ""},
	{"converter-url-enc-arg", std + "frontend f\n    bind 127.0.0.1:9001\n    http-request set-header x %[path,url_enc(foo)]\n", false, ""},
	{"http-response-valid", std + "frontend f\n    bind 127.0.0.1:9001\n    http-response set-status 404 reason \"Not Here\" if { status 200 }\n    http-response replace-value X-L ^a(.*)$ b\\1\n" +
		"    http-response replace-header X-S ^a(.*)$ b\\1\n    http-response return status 201 content-type text/plain string hi if { status 500 }\n" +
		"    http-response deny deny_status 403 content-type text/plain string no if { status 501 }\n    http-response redirect location /x code 302 if { status 404 }\n" +
		"    http-request replace-value X-L ^a(.*)$ b\\1\n    http-error status 503 content-type text/plain string down hdr X-A b\n    http-error status 502\n", true, ""},
	{"http-response-redirect-prefix", std + "frontend f\n    bind 127.0.0.1:9001\n    http-response redirect prefix /x\n", false, ""},
	{"http-response-set-status-99", std + "frontend f\n    bind 127.0.0.1:9001\n    http-response set-status 99\n", false, ""},
	{"http-response-return-no-ctype", std + "frontend f\n    bind 127.0.0.1:9001\n    http-response return status 201 string hi\n", false, ""},
	{"http-error-418", std + "frontend f\n    bind 127.0.0.1:9001\n    http-error status 418 content-type text/plain string x\n", false, ""},
	{"http-error-no-ctype", std + "frontend f\n    bind 127.0.0.1:9001\n    http-error status 503 string x\n", false, ""},
}

// TestCrossCheckCorpus requires Duet's verdict to equal haproxy's recorded one (except deliberate differences),
// and, when haproxy is installed, re-runs haproxy -c on every file to prove the recorded verdict.
func TestCrossCheckCorpus(t *testing.T) {
	dir := t.TempDir()
	site, err := filepath.Abs("testdata/site.pem")
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"DUET_CC_MAXCONN": "100", "DUET_CC_PORT": "9001"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	haproxy, _ := exec.LookPath("haproxy")
	for _, tc := range corpus {
		t.Run(tc.name, func(t *testing.T) {
			errfile, _ := filepath.Abs("testdata/503.http")
			text := strings.ReplaceAll(strings.ReplaceAll(tc.text, "SITEPEM", site), "ERRFILE", errfile)
			if text == "SEEDCFG" {
				// the seed's configuration (haproxy.cfg of the two-node web cluster, in 2.6 form)
				b, err := os.ReadFile("testdata/seed-haproxy.cfg")
				if err != nil {
					t.Fatal(err)
				}
				text = string(b)
			}
			path := filepath.Join(dir, tc.name+".cfg")
			if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			_, diags, err := Parse([]Source{{Name: path, Data: []byte(text)}}, lookup)
			duetValid := err == nil
			wantDuet := tc.valid
			if tc.duetDiffers != "" {
				wantDuet = !tc.valid
			}
			if duetValid != wantDuet {
				t.Errorf("duet valid=%v, want %v (haproxy: %v); diagnostics:", duetValid, wantDuet, tc.valid)
				for _, d := range diags {
					t.Log(d.String())
				}
			}
			for _, d := range diags {
				if d.Severity == Error && (d.Message == "" || (d.File != "" && d.Line == 0 && d.Keyword != "")) {
					t.Errorf("diagnostic without place or message: %+v", d)
				}
			}
			if haproxy == "" {
				return
			}
			cmd := exec.Command(haproxy, "-c", "-f", path)
			cmd.Env = append(os.Environ(), "DUET_CC_MAXCONN=100", "DUET_CC_PORT=9001")
			out, err := cmd.CombinedOutput()
			// exit 2: "no error but will not start (no listener)": the configuration is valid
			hValid := err == nil || cmd.ProcessState.ExitCode() == 2
			if hValid != tc.valid {
				t.Errorf("haproxy -c valid=%v, recorded %v: %s", hValid, tc.valid, out)
			}
		})
	}
}
