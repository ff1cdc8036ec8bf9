package agent

import (
	"strings"
	"testing"

	"github.com/cloudvip/floatip/ocf"
)

// A line longer than the reader takes (64 KiB) is refused, not cut.
func TestConfigFileLongLine(t *testing.T) {
	_, err := ReadConfigFile(strings.NewReader("ip=192.0.2.1\n#"+strings.Repeat("x", 70000)+"\n"), "/etc/cloudvip/vip.conf")
	if ocf.StatusOf(err) != ocf.ErrPerm || !strings.Contains(err.Error(), "--config /etc/cloudvip/vip.conf") {
		t.Fatalf("%v (%v), want ERR_PERM naming the file", err, ocf.StatusOf(err))
	}
}
