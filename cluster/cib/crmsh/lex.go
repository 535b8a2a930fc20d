package crmsh

import "strings"

// token is one word of a statement: quotes removed, Line the physical line where it began.
type token struct {
	Text   string
	Line   int
	Quoted bool // some part was quoted, so it is never a keyword
}

// statement is the tokens of one logical line (backslash continuations joined).
type statement struct {
	Line int
	Toks []token
}

// lex splits text into statements the way crmsh reads a file: a backslash before the newline continues
// the statement, a line starting with # is a comment, double quotes group words and take \" and \\
// escapes, single quotes group words literally. An unterminated quote is reported with its line.
func lex(text string) ([]statement, []lexError) {
	var (
		stmts []statement
		errs  []lexError
		cur   statement
		tok   strings.Builder
		inTok bool
		tq    bool
		tline int
		line  = 1
	)
	flushTok := func() {
		if inTok {
			cur.Toks = append(cur.Toks, token{Text: tok.String(), Line: tline, Quoted: tq})
			if len(cur.Toks) == 1 {
				cur.Line = tline
			}
		}
		tok.Reset()
		inTok, tq = false, false
	}
	flushStmt := func() {
		flushTok()
		if len(cur.Toks) > 0 {
			stmts = append(stmts, cur)
		}
		cur = statement{}
	}
	startTok := func() {
		if !inTok {
			inTok, tline = true, line
		}
	}
	for i := 0; i < len(text); i++ {
		ch := text[i]
		switch {
		case ch == '\n':
			flushStmt()
			line++
		case ch == '\\' && i+1 < len(text) && text[i+1] == '\n':
			flushTok()
			i++
			line++
		case ch == '\\' && i+2 < len(text) && text[i+1] == '\r' && text[i+2] == '\n':
			flushTok()
			i += 2
			line++
		case ch == ' ' || ch == '\t' || ch == '\r':
			flushTok()
		case ch == '#' && !inTok && len(cur.Toks) == 0:
			for i < len(text) && text[i] != '\n' {
				i++
			}
			i-- // let the newline end the (empty) statement
		case ch == '"' || ch == '\'':
			startTok()
			tq = true
			start := line
			j := i + 1
			closed := false
			for ; j < len(text); j++ {
				c := text[j]
				if c == ch {
					closed = true
					break
				}
				if c == '\n' {
					line++
				}
				if ch == '"' && c == '\\' && j+1 < len(text) && (text[j+1] == '"' || text[j+1] == '\\') {
					j++
					c = text[j]
				}
				tok.WriteByte(c)
			}
			if !closed {
				errs = append(errs, lexError{Line: start, Msg: "unterminated quote " + string(ch)})
			}
			i = j
		default:
			startTok()
			tok.WriteByte(ch)
		}
	}
	flushStmt()
	return stmts, errs
}

type lexError struct {
	Line int
	Msg  string
}
