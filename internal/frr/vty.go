// Package frr talks to a running FRR daemon through its vty socket, the
// Unix socket vtysh itself uses (<dir>/bgpd.vty): a command is sent
// NUL-terminated, and the daemon answers with its output followed by three
// NUL bytes and a status byte. Going to the socket directly costs a few
// milliseconds where starting vtysh costs some 70 (it connects to every
// daemon and reads its own configuration first), and every monitor pays it.
package frr

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// DefaultDir is where Debian's FRR puts the daemons' vty sockets.
const DefaultDir = "/var/run/frr"

// ErrNotRunning is returned by Dial when the daemon's socket is absent or
// nobody listens on it.
var ErrNotRunning = errors.New("not running")

// Status is a vty command's result code (lib/command.h).
type Status byte

// Status codes a daemon returns.
const (
	Success            Status = 0
	Warning            Status = 1
	NoMatch            Status = 2
	Ambiguous          Status = 3
	Incomplete         Status = 4
	WarningConfigFails Status = 13
)

// CommandError is a command the daemon refused.
type CommandError struct {
	Command string
	Status  Status
	Output  string
}

func (e *CommandError) Error() string {
	out := strings.TrimSpace(e.Output)
	if out == "" {
		out = fmt.Sprintf("status %d", e.Status)
	}
	return fmt.Sprintf("%q: %s", e.Command, strings.ReplaceAll(out, "\n", "; "))
}

// VTY is one connection to a daemon. Its mode (view, enable, configure,
// a router's node) lasts for the connection, as in a terminal.
type VTY struct {
	conn   net.Conn
	daemon string
	buf    []byte
}

// Dial connects to daemon's socket in dir ("" is DefaultDir).
func Dial(ctx context.Context, dir, daemon string) (*VTY, error) {
	if dir == "" {
		dir = DefaultDir
	}
	path := filepath.Join(dir, daemon+".vty")
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("frr: %s (%s): %w", daemon, path, ErrNotRunning)
		}
		return nil, fmt.Errorf("frr: %s (%s): %w", daemon, path, err)
	}
	return &VTY{conn: c, daemon: daemon}, nil
}

// Close ends the connection.
func (v *VTY) Close() error { return v.conn.Close() }

// Run sends one command and returns its output; a status other than
// Success is a *CommandError.
func (v *VTY) Run(ctx context.Context, cmd string) (string, error) {
	if strings.ContainsAny(cmd, "\x00\n") {
		return "", fmt.Errorf("frr: %s: command %q has a NUL or a newline", v.daemon, cmd)
	}
	dl, ok := ctx.Deadline()
	if !ok {
		dl = time.Now().Add(30 * time.Second)
	}
	if err := v.conn.SetDeadline(dl); err != nil {
		return "", err
	}
	if _, err := v.conn.Write(append([]byte(cmd), 0)); err != nil {
		return "", fmt.Errorf("frr: %s: %q: %w", v.daemon, cmd, err)
	}
	out, st, err := v.read()
	if err != nil {
		return "", fmt.Errorf("frr: %s: %q: %w", v.daemon, cmd, err)
	}
	if st != Success {
		return out, &CommandError{Command: cmd, Status: st, Output: out}
	}
	return out, nil
}

// Show runs a show command. bgpd answers some (a summary without a BGP
// instance) with a warning status and a valid empty answer: that output is
// the answer, not an error.
func (v *VTY) Show(ctx context.Context, cmd string) (string, error) {
	out, err := v.Run(ctx, cmd)
	var ce *CommandError
	if errors.As(err, &ce) && ce.Status == Warning {
		return ce.Output, nil
	}
	return out, err
}

// read reads up to the end marker: three NULs and the status byte.
func (v *VTY) read() (string, Status, error) {
	chunk := make([]byte, 16<<10)
	for {
		if i := bytes.Index(v.buf, []byte{0, 0, 0}); i >= 0 && len(v.buf) >= i+4 {
			out, st := string(v.buf[:i]), Status(v.buf[i+3])
			v.buf = v.buf[i+4:]
			return out, st, nil
		}
		n, err := v.conn.Read(chunk)
		v.buf = append(v.buf, chunk[:n]...)
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return "", 0, err
		}
	}
}

// Configure runs lines in configuration mode, then leaves it. Each line is
// one command as it would appear in frr.conf (indentation is ignored, the
// daemon tracks the node).
func (v *VTY) Configure(ctx context.Context, lines []string) error {
	for _, c := range []string{"enable", "configure"} {
		if _, err := v.Run(ctx, c); err != nil {
			return err
		}
	}
	for _, l := range lines {
		if l = strings.TrimSpace(l); l == "" || strings.HasPrefix(l, "!") {
			continue
		}
		if _, err := v.Run(ctx, l); err != nil {
			_, _ = v.Run(ctx, "end")
			return err
		}
	}
	_, err := v.Run(ctx, "end")
	return err
}
