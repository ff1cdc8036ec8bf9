package agent

import (
	"bufio"
	"io"
	"strings"

	"github.com/cloudvip/floatip/ocf"
)

// ReadConfigFile reads the key=value lines of a CLI config file (floatip
// up --config, keepalived-fifo's INSTANCE.conf, ucarp's --xparam):
// parameter names with '-' or '_', blank lines and '#' comments; a later
// line for a parameter wins. path names the file in errors, which give the
// line. The caller opens the file and checks who may write it.
func ReadConfigFile(r io.Reader, path string) (map[string]string, error) {
	known := map[string]bool{}
	for _, p := range Specs() {
		known[p.Name] = true
	}
	params := map[string]string{}
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		k, v, ok := strings.Cut(s, "=")
		k = strings.ReplaceAll(strings.TrimSpace(k), "-", "_")
		if !ok {
			return nil, ocf.Errorf(ocf.ErrConfigured, "--config %s line %d: %q is not name=value", path, line, s)
		}
		if !known[k] {
			return nil, ocf.Errorf(ocf.ErrConfigured, "--config %s line %d: %s is not a parameter (floatip meta-data lists them)", path, line, k)
		}
		params[k] = strings.TrimSpace(v)
	}
	if err := sc.Err(); err != nil {
		return nil, ocf.Errorf(ocf.ErrPerm, "--config %s: %w", path, err)
	}
	return params, nil
}
