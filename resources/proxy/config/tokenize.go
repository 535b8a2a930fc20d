package config

import (
	"fmt"
	"strings"
)

// MaxWords is the largest number of words haproxy 2.6 accepts on one configuration line.
const MaxWords = 64

// Env looks up an environment variable; ok is false when it is unset. Load passes os.LookupEnv.
type Env func(name string) (value string, ok bool)

// Tokens is one tokenized line: its words and what the tokenizer had to say about it.
type Tokens struct {
	Words    []string
	Warnings []string // e.g. an empty word that ended the argument list
}

// Tokenize splits one configuration line the way haproxy 2.6's parse_line does: unquoted spaces and tabs
// separate words, an unquoted unescaped '#' starts a comment, double quotes are weak (environment variables
// are expanded inside them and in unquoted text, as haproxy 2.6.12 does), single quotes are strong, backslash escapes work outside single quotes,
// and quoted and unquoted runs join into one word. pseudo supplies ${.FILE}, ${.LINE} and ${.SECTION}.
// It returns an error for an unmatched quote, a bad \x escape, a malformed variable or more than MaxWords words.
// It never panics, whatever the input.
func Tokenize(line string, env Env, pseudo map[string]string) (Tokens, error) {
	var (
		out     Tokens
		cur     strings.Builder
		inWord  bool
		quote   byte // 0, '"' or '\''
		words   []string
		isEmpty []bool
	)
	flush := func() {
		if inWord {
			words = append(words, cur.String())
			isEmpty = append(isEmpty, cur.Len() == 0)
		}
		cur.Reset()
		inWord = false
	}
	i := 0
	for i < len(line) {
		c := line[i]
		switch {
		case quote == '\'':
			if c == '\'' {
				quote = 0
			} else {
				cur.WriteByte(c)
			}
			i++
		case c == '\\':
			if i+1 >= len(line) {
				cur.WriteByte(c)
				inWord = true
				i++
				continue
			}
			n := line[i+1]
			inWord = true
			switch n {
			case ' ', '#', '\\', '\'', '"':
				cur.WriteByte(n)
				i += 2
			case '$':
				cur.WriteByte('$')
				i += 2
			case 't':
				cur.WriteByte('\t')
				i += 2
			case 'n':
				cur.WriteByte('\n')
				i += 2
			case 'r':
				cur.WriteByte('\r')
				i += 2
			case 'x':
				if i+3 < len(line) && isHex(line[i+2]) && isHex(line[i+3]) {
					cur.WriteByte(unhex(line[i+2])<<4 | unhex(line[i+3]))
					i += 4
				} else {
					return out, fmt.Errorf("truncated or invalid hexadecimal sequence at position %d", i+1)
				}
			default:
				cur.WriteByte('\\')
				cur.WriteByte(n)
				i += 2
			}
		case c == '"':
			inWord = true
			if quote == '"' {
				quote = 0
			} else {
				quote = '"'
			}
			i++
		case c == '\'' && quote == 0:
			inWord = true
			quote = '\''
			i++
		case c == '$':
			inWord = true
			name, def, hasDef, split, adv, err := parseVar(line[i:])
			if err != nil {
				return out, fmt.Errorf("%w at position %d", err, i+1)
			}
			if adv == 0 {
				cur.WriteByte('$')
				i++
				continue
			}
			i += adv
			val, ok := "", false
			if strings.HasPrefix(name, ".") {
				val, ok = pseudo[name]
			} else if env != nil {
				val, ok = env(name)
			}
			if !ok && hasDef {
				val, ok = def, true
			}
			if !ok {
				out.Warnings = append(out.Warnings, fmt.Sprintf("environment variable '%s' is not set", name))
			}
			if split {
				parts := strings.Fields(val)
				for k, p := range parts {
					cur.WriteString(p)
					if k < len(parts)-1 {
						flush()
						inWord = true
					}
				}
				continue
			}
			cur.WriteString(val)
		case quote == 0 && (c == ' ' || c == '\t'):
			flush()
			i++
		case quote == 0 && c == '#':
			i = len(line)
		case quote == 0 && (c == '\n' || c == '\r'):
			i++
		default:
			cur.WriteByte(c)
			inWord = true
			i++
		}
	}
	if quote != 0 {
		return out, fmt.Errorf("unmatched quote at position %d", len(line))
	}
	flush()
	if len(words) > MaxWords {
		return out, fmt.Errorf("too many words, truncating after word %d, position %d: <%s>", MaxWords, len(line), words[MaxWords])
	}
	// haproxy terminates argument lists with an empty string: an empty word ends the list.
	for k := range words {
		if isEmpty[k] && k+1 < len(words) {
			out.Warnings = append(out.Warnings, fmt.Sprintf("argument number %d at position %d is empty and marks the end of the argument list; all subsequent arguments will be ignored", k, k+1))
			words = words[:k]
			break
		}
	}
	if len(words) > 0 && isEmpty[len(words)-1] && len(words) == len(isEmpty) {
		words = words[:len(words)-1]
	}
	out.Words = words
	return out, nil
}

// parseVar reads a variable reference starting at s[0] == '$'. adv is how many bytes it used; 0 means the '$'
// is literal (not followed by a name or a brace).
func parseVar(s string) (name, def string, hasDef, split bool, adv int, err error) {
	if len(s) < 2 {
		return "", "", false, false, 0, nil
	}
	if s[1] == '{' {
		end := strings.IndexByte(s, '}')
		if end < 0 {
			return "", "", false, false, 0, fmt.Errorf("variable expansion: missing closing '}'")
		}
		body := s[2:end]
		j := 0
		if j < len(body) && body[j] == '.' {
			j++
		}
		for j < len(body) && isNameChar(body[j], j == 0 || (j == 1 && body[0] == '.')) {
			j++
		}
		name = body[:j]
		if name == "" || name == "." {
			return "", "", false, false, 0, fmt.Errorf("variable expansion: invalid variable name in '%s'", s[:end+1])
		}
		rest := body[j:]
		switch {
		case rest == "":
		case rest == "[*]":
			split = true
		case rest[0] == '-':
			def, hasDef = rest[1:], true
		default:
			return "", "", false, false, 0, fmt.Errorf("variable expansion: unexpected '%s' after variable name", rest)
		}
		return name, def, hasDef, split, end + 1, nil
	}
	j := 1
	for j < len(s) && isNameChar(s[j], j == 1) {
		j++
	}
	if j == 1 {
		return "", "", false, false, 0, nil
	}
	return s[1:j], "", false, false, j, nil
}

func isNameChar(c byte, first bool) bool {
	if c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') {
		return true
	}
	return !first && c >= '0' && c <= '9'
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}
