// Package crmsh is an adapter between crmsh's configuration syntax and the typed CIB: Parse reads
// `crm configure` statements (a file for `load update|replace`, or ParseArgs for one command line),
// Update, Replace, Command and Delete apply them to a cib.CIB with crmsh's rules, Show prints a CIB
// exactly as `crm configure show` does, and Verify runs crm_verify's checks. Everything here is pure: no
// I/O, no clocks, no package state; callers own the CIB they pass in.
//
// Supported statements:
//
//	node [ID:] NAME[:witness] [description=...] [attributes k=v...]
//	primitive ID CLASS:[PROVIDER:]TYPE | TYPE (= ocf:heartbeat:TYPE) [description=...] [[params] k=v...]
//	          [meta k=v...] [op NAME k=v...]...
//	group ID RSC... [description=...] [meta k=v...] [params k=v...]
//	clone ID RSC [description=...] [meta k=v...] [params k=v...]   (ms/master: a clone with promotable=true)
//	location ID RSC [role=R] [resource-discovery=...] SCORE: NODE
//	location ID RSC rule [$role=R] [SCORE:] EXPR     (defined, not_defined, ATTR [TYPE:]OP VALUE; and/or)
//	colocation ID SCORE: RSC[:ROLE] WITH-RSC[:ROLE]
//	order ID [Mandatory|Optional|Serialize|SCORE:] FIRST[:ACTION] THEN[:ACTION] [symmetrical=BOOL]
//	property|rsc_defaults|op_defaults [SET-ID:] k=v...
//
// with backslash continuations, # comments and crmsh's quoting. Rejected with "not supported yet" and the
// word: resource sets, templates, tags, tickets, ACLs, alerts, utilization, date rules, score-attribute
// rules, more than one rule or attribute set per object. Errors and warnings carry the file, the line and
// the word: `crm.txt:3: primitive vip: unknown keyword "parms" (did you mean "params"?)`.
package crmsh
