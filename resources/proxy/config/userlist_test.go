package config

import (
	"strings"
	"testing"
)

// TestUserlistPasswordWarnings: hashes Duet verifies load silently; yescrypt and legacy bcrypt (haproxy verifies them
// through crypt(3)) and hashes crypt(3) refuses load with a warning naming the user, file and line; a duplicated
// user or group is ignored with haproxy's warning.
func TestUserlistPasswordWarnings(t *testing.T) {
	text := "userlist L\n" +
		"    user md5 password '$1$DuetSalt$v059ARZd344JFaxhwwBYA1'\n" +
		"    user des password 'DuWqnyzF4IfII'\n" +
		"    user bsdi password '_J9..DuetFZFHVK703AQ'\n" +
		"    user sha password '$6$abc$x'\n" +
		"    user yes password '$y$j9T$F5Jx5fExrKuPp53xLKQ..1$rcY.sqsUoG/SGw/FPteloCsldYkxZWdAV7MUEZonz53'\n" +
		"    user bf password '$2x$05$abcdefghijklmnopqrstuuHIrMEWpUCQe2YqFR3sXwQ75u4od..9q'\n" +
		"    user apr password '$apr1$x$y'\n" +
		"    user plain insecure-password x\n" +
		"    user plain insecure-password y\n" +
		"    group g users plain\n" +
		"    group g users md5\n" +
		"    user bcrypt password '$2y$04$DuetSaltDuetSaltDuetSOggIpqV3JzHHAoqpS02fXPIQL4dLi9bu'\n"
	_, diags := parse(t, text)
	want := []struct {
		line int
		msg  string
	}{
		{6, "'user yes' : Duet cannot verify yescrypt ($y$) hashes"},
		{7, "'user bf' : Duet cannot verify bcrypt ($2x$) hashes"},
		{8, "'user apr' : the password is not a hash crypt(3) accepts"},
		{10, "ignoring duplicated user 'plain' in userlist 'L'."},
		{12, "ignoring duplicated group 'g' in userlist 'L'."},
	}
	var warns []Diagnostic
	for _, d := range diags {
		if d.Severity != Error {
			warns = append(warns, d)
		}
	}
	if len(warns) != len(want) {
		t.Fatalf("got %v, want %d warnings", warns, len(want))
	}
	for i, w := range want {
		if d := warns[i]; d.Line != w.line || d.File != "t.cfg" || (d.Keyword != "user" && d.Keyword != "group") || !strings.HasPrefix(d.Message, w.msg) {
			t.Errorf("warning %d = %+v, want line %d %q", i, d, w.line, w.msg)
		}
	}
}
