package announce

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

var mac = net.HardwareAddr{2, 0, 0, 0, 0, 1}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestARPBytes(t *testing.T) {
	ip := netip.MustParseAddr("192.0.2.10")
	for _, tc := range []struct {
		op   uint16
		want string
	}{
		// htype ptype hlen plen op | sha | spa | tha | tpa
		{OpRequest, "0001 0800 06 04 0001 020000000001 c000020a 000000000000 c000020a"},
		{OpReply, "0001 0800 06 04 0002 020000000001 c000020a ffffffffffff c000020a"},
	} {
		if got, want := ARP(tc.op, mac, ip), unhex(t, tc.want); string(got) != string(want) {
			t.Errorf("op %d:\n got %x\nwant %x", tc.op, got, want)
		}
	}
}

func TestNABytes(t *testing.T) {
	got := NA(mac, netip.MustParseAddr("2001:db8::10"))
	want := unhex(t, `
		60000000 0020 3a ff
		20010db8000000000000000000000010
		ff020000000000000000000000000001
		88 00 f90c 20000000
		20010db8000000000000000000000010
		02 01 020000000001`)
	if string(got) != string(want) {
		t.Fatalf("\n got %x\nwant %x", got, want)
	}
}

// TestChecksum checks the RFC 1071 property: summing a message that carries
// its checksum gives all ones.
func TestChecksum(t *testing.T) {
	for _, ip := range []string{"2001:db8::1", "2001:db8:ffff::ffff", "fd00::1"} {
		p := NA(net.HardwareAddr{0xde, 0xad, 0xbe, 0xef, 0, 1}, netip.MustParseAddr(ip))
		src, dst := [16]byte(p[8:24]), [16]byte(p[24:40])
		if c := icmpChecksum(src, dst, p[40:]); c != 0 {
			t.Errorf("%s: checksum over a checksummed message is %#x, want 0", ip, c)
		}
	}
}

type frame struct {
	at        time.Time
	etherType uint16
	dst       net.HardwareAddr
	payload   []byte
}

type fakeConn struct {
	frames []frame
	fail   error
}

func (f *fakeConn) WriteTo(p []byte, et uint16, dst net.HardwareAddr) error {
	if f.fail != nil {
		return f.fail
	}
	f.frames = append(f.frames, frame{time.Now(), et, dst, p})
	return nil
}
func (f *fakeConn) Close() error { return nil }

func TestRepeat(t *testing.T) {
	for _, tc := range []struct {
		ip     string
		frames int
		et     uint16
		dst    net.HardwareAddr
	}{
		{"192.0.2.10", 8, EtherTypeARP, Broadcast},
		{"2001:db8::10", 4, EtherTypeIPv6, AllNodesMAC},
	} {
		c := &fakeConn{}
		a := &Announcer{Conn: c, MAC: mac, IP: netip.MustParseAddr(tc.ip)}
		if err := a.Repeat(context.Background(), 4, 20*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		if len(c.frames) != tc.frames {
			t.Fatalf("%s: %d frames, want %d", tc.ip, len(c.frames), tc.frames)
		}
		step := tc.frames / 4
		for i, f := range c.frames {
			if f.etherType != tc.et || f.dst.String() != tc.dst.String() {
				t.Fatalf("%s frame %d: ethertype %#x to %s", tc.ip, i, f.etherType, f.dst)
			}
			if i >= step && i%step == 0 {
				if gap := f.at.Sub(c.frames[i-step].at); gap < 20*time.Millisecond {
					t.Fatalf("%s: gap %v shorter than the interval", tc.ip, gap)
				}
			}
		}
	}
}

func TestRepeatStopsOnCancelAndError(t *testing.T) {
	c := &fakeConn{}
	a := &Announcer{Conn: c, MAC: mac, IP: netip.MustParseAddr("192.0.2.10")}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if err := a.Repeat(ctx, 100, 20*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want deadline", err)
	}
	if n := len(c.frames); n < 2 || n > 6 {
		t.Fatalf("%d frames before the deadline", n)
	}
	c.fail = errors.New("link gone")
	if err := a.Once(); err == nil || !strings.Contains(err.Error(), "192.0.2.10") {
		t.Fatalf("error %v does not name the address", err)
	}
}

// icmpChecksum is the ICMPv6 checksum over the IPv6 pseudo-header
// (RFC 8200 section 8.1) and msg, computed here independently of ndp.
func icmpChecksum(src, dst [16]byte, msg []byte) uint16 {
	var sum uint32
	add := func(p []byte) {
		for i := 0; i+1 < len(p); i += 2 {
			sum += uint32(p[i])<<8 | uint32(p[i+1])
		}
		if len(p)%2 == 1 {
			sum += uint32(p[len(p)-1]) << 8
		}
	}
	add(src[:])
	add(dst[:])
	var l [8]byte
	binary.BigEndian.PutUint32(l[0:], uint32(len(msg)))
	l[7] = 58
	add(l[:])
	add(msg)
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}
