package virtd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// errSessionEnded is returned for a command that a virsh session could not finish because the process's
// output ended (virsh exited or was killed).
var errSessionEnded = errors.New("virsh session ended")

// virshMarker starts the end marker of a command line's output (see virshSession).
const virshMarker = "@"

// maxVirshOutput bounds one command's output; a session that exceeds it is stopped.
const maxVirshOutput = 1 << 20

// virshSession is one interactive `virsh -q -c URI` process that runs command lines one at a time, as the
// real daemon keeps one libvirt connection open (it also keeps test:///default's state between requests).
//
// virsh's stdout and stderr share one pipe, so its "error:" lines arrive in order with the output of the
// command they belong to. A reader goroutine reads that pipe all the time (virsh never blocks on a full
// pipe, a dead virsh is noticed at once) and hands over each command's output, cut at the marker that
// every command line ends with: echo "@", two single quotes, SEQ and "." prints "@" SEQ "." as one word,
// which the echoed command line (where the quotes split it) does not contain. A marker counts only at the
// start of a line, where the commands this backend runs print UUIDs, state words or "error:" lines; it is
// short because virsh's readline takes a few microseconds per character.
//
// A session belongs to one caller at a time (Libvirt serialises operations). Stop kills virsh, ends the
// reader and reaps the process; it leaves no goroutine or process behind.
type virshSession struct {
	uri    string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout *os.File // read end of virsh's stdout and stderr
	seq    uint64
	cancel context.CancelFunc
	wg     sync.WaitGroup
	out    chan virshOutput // one element per finished command
	done   chan struct{}    // closed when the reader has stopped
	err    error            // why the reader stopped; set before done is closed
	once   sync.Once
}

// virshOutput is the output of the command line whose marker carried seq.
type virshOutput struct {
	seq  uint64
	text string
}

// startVirsh starts argv (`virsh -q -c URI`, or the libvirt helper) and its reader. The session lives
// until Stop.
func startVirsh(argv []string, uri string, log *slog.Logger) (*virshSession, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("start virsh -c %s: %w", uri, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = w, w
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	cmd.WaitDelay = time.Second
	stdin, err := cmd.StdinPipe()
	if err == nil {
		err = cmd.Start()
	}
	w.Close()
	if err != nil {
		cancel()
		r.Close()
		return nil, fmt.Errorf("start virsh -c %s: %w", uri, err)
	}
	s := &virshSession{uri: uri, cmd: cmd, stdin: stdin, stdout: r, cancel: cancel, out: make(chan virshOutput), done: make(chan struct{})}
	s.wg.Add(1)
	go s.read(ctx)
	log.Debug("virsh session started", "uri", uri, "command", argv[0], "pid", cmd.Process.Pid)
	return s, nil
}

// read collects virsh's output and sends each command's part on s.out until the output ends or ctx is done.
func (s *virshSession) read(ctx context.Context) {
	defer s.wg.Done()
	token := []byte(virshMarker)
	var buf []byte
	chunk := make([]byte, 4096)
	s.err = func() error {
		for {
			n, err := s.stdout.Read(chunk)
			buf = append(buf, chunk[:n]...)
			for {
				seq, text, rest, ok := cutMarker(buf, token)
				if !ok {
					break
				}
				select {
				case s.out <- virshOutput{seq: seq, text: text}:
				case <-ctx.Done():
					return ctx.Err()
				}
				buf = append(buf[:0], rest...)
			}
			if len(buf) > maxVirshOutput {
				return fmt.Errorf("virsh output longer than %d bytes without an end marker", maxVirshOutput)
			}
			if err != nil {
				if errors.Is(err, io.EOF) {
					return errSessionEnded
				}
				return fmt.Errorf("%w: read: %w", errSessionEnded, err)
			}
		}
	}()
	close(s.done)
}

// cutMarker finds the first complete TOKEN<digits>"." that starts a line (or buf) and returns the sequence
// number, the text before it, and what follows.
func cutMarker(buf, token []byte) (seq uint64, text string, rest []byte, ok bool) {
	from := 0
	for {
		i := bytes.Index(buf[from:], token)
		if i < 0 {
			return 0, "", nil, false
		}
		i += from
		j := i + len(token)
		k := j
		for k < len(buf) && buf[k] >= '0' && buf[k] <= '9' {
			k++
		}
		if k == len(buf) {
			return 0, "", nil, false // the marker may still be arriving
		}
		if (i == 0 || buf[i-1] == '\n') && k > j && buf[k] == '.' {
			if seq, err := strconv.ParseUint(string(buf[j:k]), 10, 64); err == nil {
				return seq, string(buf[:i]), buf[k+1:], true
			}
		}
		from = j
	}
}

// run sends one command line (commands separated by ";") and returns its raw output. It gives up when ctx
// is done or after timeout; the session is then unusable (Stop it), as it is after any error.
func (s *virshSession) run(ctx context.Context, line string, timeout time.Duration) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	select {
	case <-s.done:
		return "", s.err
	default:
	}
	s.seq++
	seq := strconv.FormatUint(s.seq, 10)
	if _, err := io.WriteString(s.stdin, line+";echo "+virshMarker+"''"+seq+".\n"); err != nil {
		return "", fmt.Errorf("write to virsh: %w", err)
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		select {
		case o := <-s.out:
			if o.seq == s.seq {
				return o.text, nil
			}
		case <-s.done:
			return "", s.err
		case <-ctx.Done():
			return "", ctx.Err()
		case <-t.C:
			return "", fmt.Errorf("no answer in %v: %w", timeout, context.DeadlineExceeded)
		}
	}
}

// alive reports whether the session's virsh is still running (its output has not ended).
func (s *virshSession) alive() bool {
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// Stop kills virsh, reaps it and waits for the reader. It may be called more than once.
func (s *virshSession) Stop() {
	s.once.Do(func() {
		s.stdin.Close()
		s.cancel()       // kills virsh (exec.CommandContext)
		s.cmd.Wait()     // returns once virsh has exited: its output is an *os.File, not copied by exec
		s.stdout.Close() // ends the reader's Read even if something else still holds the pipe's write end
		s.wg.Wait()
	})
}

// virshLine is one line of a command line's output: an "error:" line (Err) or ordinary output.
type virshLine struct {
	Text string
	Err  bool
}

// parseVirshLines splits raw session output into lines, dropping prompts (with the echoed command line)
// and blank lines.
func parseVirshLines(text string) []virshLine {
	var out []virshLine
	for _, ln := range strings.Split(text, "\n") {
		ln = strings.TrimRight(ln, " \r")
		switch {
		case strings.TrimSpace(ln) == "":
		case strings.HasPrefix(ln, "virsh #"):
		case strings.HasPrefix(ln, "error:"):
			out = append(out, virshLine{Text: strings.TrimSpace(strings.TrimPrefix(ln, "error:")), Err: true})
		default:
			out = append(out, virshLine{Text: ln})
		}
	}
	return out
}

// virshErrors joins the "error:" lines among lines into one error, nil when there are none.
func virshErrors(lines []virshLine) error {
	var errs []string
	for _, l := range lines {
		if l.Err {
			errs = append(errs, l.Text)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return errors.New(strings.Join(errs, "; "))
}
