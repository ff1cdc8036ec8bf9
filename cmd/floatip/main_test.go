package main_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/cloudvip/floatip/internal/provider"
)

// bin is the agent built once for all tests, the way `make build` builds it.
var bin string

func TestMain(m *testing.M) {
	// Every agent run under test, ocf-tester's included, refuses the
	// clouds' real endpoints.
	os.Setenv(provider.ForbidRealEndpoints, "1")
	dir, err := os.MkdirTemp("", "floatip-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// ocf-tester runs meta-data as nobody: the binary must be reachable.
	os.Chmod(dir, 0o755)
	bin = filepath.Join(dir, "floatip")
	build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0") // static, as `make build`
	out, err := build.CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is one agent run.
type result struct {
	rc             int
	stdout, stderr string
}

// reason is the last exit-reason line, as Pacemaker picks it.
func (r result) reason() string {
	var last string
	for _, l := range strings.Split(r.stderr, "\n") {
		if i := strings.Index(l, "ocf-exit-reason:"); i >= 0 {
			last = l[i+len("ocf-exit-reason:"):]
		}
	}
	return last
}

// call runs the agent with action in namespace ns ("" for the current one)
// with params as OCF_RESKEY_* and extra environment entries. The
// environment is otherwise empty but for PATH and the state directory.
func call(t testing.TB, ns, state, action string, params map[string]string, extra ...string) result {
	t.Helper()
	args := []string{bin, action}
	for _, e := range extra {
		if e == "FLOATIP_TEST_AS=nobody" { // run as nobody, without capabilities
			args = append([]string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"}, args...)
		}
	}
	if ns != "" {
		args = append([]string{"ip", "netns", "exec", ns}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "OCF_ROOT=/usr/lib/ocf", "OCF_RESOURCE_INSTANCE=vip",
		provider.ForbidRealEndpoints + "=1"}
	if state != "" {
		cmd.Env = append(cmd.Env, "HA_RSCTMP="+state)
	}
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		cmd.Env = append(cmd.Env, "OCF_RESKEY_"+k+"="+params[k])
	}
	cmd.Env = append(cmd.Env, extra...)
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	r := result{stdout: so.String(), stderr: se.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.rc = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			t.Fatalf("%s killed by %v\n%s", action, ws.Signal(), r.stderr)
		}
	default:
		t.Fatalf("run %s: %v", action, err)
	}
	return r
}

// want fails t unless r exited with rc.
func want(t testing.TB, r result, rc int, what string) {
	t.Helper()
	if r.rc != rc {
		t.Fatalf("%s: rc %d, want %d\nstdout: %s\nstderr: %s", what, r.rc, rc, r.stdout, r.stderr)
	}
}

func TestActionsWithoutParameters(t *testing.T) {
	for _, tc := range []struct {
		args []string
		rc   int
		out  string
	}{
		{nil, 2, "usage:"},
		{[]string{"usage"}, 0, "usage:"},
		{[]string{"help"}, 0, "usage:"},
		{[]string{"promote"}, 3, "usage:"},
		{[]string{"demote"}, 3, "usage:"},
		{[]string{"notify"}, 3, "usage:"},
		{[]string{"migrate_to"}, 3, "usage:"},
		{[]string{"reload"}, 3, "usage:"},
		{[]string{"reload-agent"}, 3, "usage:"},
		{[]string{"meta-data"}, 0, `<resource-agent name="floatip"`},
	} {
		t.Run(strings.Join(tc.args, "_"), func(t *testing.T) {
			cmd := exec.Command(bin, tc.args...)
			cmd.Env = []string{}
			out, err := cmd.CombinedOutput()
			rc := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				rc = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if rc != tc.rc || !strings.Contains(string(out), tc.out) {
				t.Fatalf("rc %d (want %d), output:\n%s", rc, tc.rc, out)
			}
		})
	}
}
