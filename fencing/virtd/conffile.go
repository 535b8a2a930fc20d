package virtd

import (
	"errors"
	"fmt"
	"strings"
)

// Node is one statement of a fence_virt.conf file: an assignment (`name = "value";`), a block
// (`name { ... }`) or a block with a value (`name = "value" { ... }`).
type Node struct {
	Name     string
	Value    string
	HasValue bool
	Block    bool
	Children []*Node
	Line     int // 1-based line of the name
}

// SyntaxError is a fence_virt.conf syntax error, with the file and line it was found at.
type SyntaxError struct {
	File string
	Line int
	Msg  string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("%s:%d: syntax error: %s", e.File, e.Line, e.Msg)
}

type tokKind int

const (
	tokEOF tokKind = iota
	tokID
	tokString
	tokLBrace
	tokRBrace
	tokSemi
	tokEq
)

func (k tokKind) String() string {
	return [...]string{"end of file", "identifier", "quoted value", "'{'", "'}'", "';'", "'='"}[k]
}

type token struct {
	kind tokKind
	text string
	line int
}

type lexer struct {
	file string
	src  string
	pos  int
	line int
}

func isIDByte(c byte) bool {
	switch c {
	case ' ', '\t', '\r', '\n', '{', '}', ';', '=', '"', '#':
		return false
	}
	return true
}

func (l *lexer) next() (token, error) {
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		switch {
		case c == '\n':
			l.line++
			l.pos++
		case c == ' ' || c == '\t' || c == '\r':
			l.pos++
		case c == '#':
			for l.pos < len(l.src) && l.src[l.pos] != '\n' {
				l.pos++
			}
		default:
			goto tok
		}
	}
	return token{kind: tokEOF, line: l.line}, nil
tok:
	c := l.src[l.pos]
	start := l.line
	switch c {
	case '{':
		l.pos++
		return token{tokLBrace, "{", start}, nil
	case '}':
		l.pos++
		return token{tokRBrace, "}", start}, nil
	case ';':
		l.pos++
		return token{tokSemi, ";", start}, nil
	case '=':
		l.pos++
		return token{tokEq, "=", start}, nil
	case '"':
		end := strings.IndexByte(l.src[l.pos+1:], '"')
		if end < 0 {
			return token{}, &SyntaxError{l.file, start, "unterminated quoted value"}
		}
		val := l.src[l.pos+1 : l.pos+1+end]
		l.pos += end + 2
		l.line += strings.Count(val, "\n")
		if val == "" {
			return token{}, &SyntaxError{l.file, start, `empty value "" (values need at least one character)`}
		}
		return token{tokString, val, start}, nil
	}
	i := l.pos
	for i < len(l.src) && isIDByte(l.src[i]) {
		i++
	}
	t := token{tokID, l.src[l.pos:i], start}
	l.pos = i
	return t, nil
}

type parser struct {
	lx   lexer
	tok  token
	file string
}

func (p *parser) advance() error {
	t, err := p.lx.next()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

func (p *parser) errorf(format string, args ...any) error {
	return &SyntaxError{p.file, p.tok.line, fmt.Sprintf(format, args...)}
}

// maxDepth bounds block nesting so that hostile input cannot exhaust the stack.
const maxDepth = 64

// ParseConfig parses fence_virt.conf text in the real daemon's grammar: `#` comments, identifiers, double-
// quoted values without escapes (at least one character, may span lines), `id = "v";` assignments, `id { }`
// and `id = "v" { }` blocks. At least one statement is required. Errors are *SyntaxError values naming
// file and line. The result is a root block whose children are the top-level statements.
func ParseConfig(file string, src []byte) (*Node, error) {
	p := &parser{lx: lexer{file: file, src: string(src), line: 1}, file: file}
	if err := p.advance(); err != nil {
		return nil, err
	}
	root := &Node{Block: true, Line: 1}
	kids, err := p.statements(0)
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tokEOF {
		return nil, p.errorf("unexpected %s", p.tok.kind)
	}
	if len(kids) == 0 {
		return nil, &SyntaxError{file, p.tok.line, "no statements"}
	}
	root.Children = kids
	return root, nil
}

func (p *parser) statements(depth int) ([]*Node, error) {
	if depth > maxDepth {
		return nil, p.errorf("blocks nested deeper than %d", maxDepth)
	}
	var out []*Node
	for p.tok.kind == tokID {
		n := &Node{Name: p.tok.text, Line: p.tok.line}
		if err := p.advance(); err != nil {
			return nil, err
		}
		if p.tok.kind == tokEq {
			if err := p.advance(); err != nil {
				return nil, err
			}
			if p.tok.kind != tokString {
				if p.tok.kind == tokID {
					return nil, p.errorf("value %s for %q must be double-quoted", p.tok.text, n.Name)
				}
				return nil, p.errorf("unexpected %s after %q =, want a quoted value", p.tok.kind, n.Name)
			}
			n.Value, n.HasValue = p.tok.text, true
			if err := p.advance(); err != nil {
				return nil, err
			}
		}
		switch {
		case p.tok.kind == tokLBrace:
			if err := p.advance(); err != nil {
				return nil, err
			}
			kids, err := p.statements(depth + 1)
			if err != nil {
				return nil, err
			}
			if p.tok.kind != tokRBrace {
				return nil, p.errorf("unexpected %s in block %q (opened on line %d), want '}'", p.tok.kind, n.Name, n.Line)
			}
			n.Block, n.Children = true, kids
			if err := p.advance(); err != nil {
				return nil, err
			}
		case n.HasValue && p.tok.kind == tokSemi:
			if err := p.advance(); err != nil {
				return nil, err
			}
		case n.HasValue:
			return nil, p.errorf("unexpected %s after %s = \"%s\", want ';'", p.tok.kind, n.Name, n.Value)
		default:
			return nil, p.errorf("unexpected %s after %q, want '=' or '{'", p.tok.kind, n.Name)
		}
		out = append(out, n)
	}
	return out, nil
}

// Blocks returns the child blocks named name (case-insensitively), in file order.
func (n *Node) Blocks(name string) []*Node {
	var out []*Node
	for _, c := range n.Children {
		if c.Block && strings.EqualFold(c.Name, name) {
			out = append(out, c)
		}
	}
	return out
}

// Block1 returns the last child block named name, or nil. As in the real daemon, the last one wins.
func (n *Node) Block1(name string) *Node {
	b := n.Blocks(name)
	if len(b) == 0 {
		return nil
	}
	return b[len(b)-1]
}

// Values returns every value assigned to key in this block (case-insensitively), in file order.
func (n *Node) Values(key string) []string {
	var out []string
	for _, c := range n.Children {
		if !c.Block && strings.EqualFold(c.Name, key) {
			out = append(out, c.Value)
		}
	}
	return out
}

// Get returns the last value assigned to key in this block: a key that appears twice keeps the last value,
// as in the real daemon.
func (n *Node) Get(key string) (string, bool) {
	v := n.Values(key)
	if len(v) == 0 {
		return "", false
	}
	return v[len(v)-1], true
}

// Lookup follows a slash-separated path of block names ending in @key, e.g. "listeners/multicast/@port".
func (n *Node) Lookup(path string) (string, bool) {
	parts := strings.Split(path, "/")
	cur := n
	for _, p := range parts[:len(parts)-1] {
		if cur = cur.Block1(p); cur == nil {
			return "", false
		}
	}
	last := parts[len(parts)-1]
	if !strings.HasPrefix(last, "@") {
		return "", false
	}
	return cur.Get(last[1:])
}

// IsSyntaxError reports whether err is (or wraps) a *SyntaxError.
func IsSyntaxError(err error) bool {
	var se *SyntaxError
	return errors.As(err, &se)
}
