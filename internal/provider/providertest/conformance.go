package providertest

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/cloudvip/floatip/internal/fakecloud"
	"github.com/cloudvip/floatip/internal/provider"
	"github.com/cloudvip/floatip/ocf"
)

// World is one provider's fake cloud prepared for the conformance suite:
// the provider opened as "this instance", its fake, and addresses in each
// state. An invalid address skips the cases that need it.
type World struct {
	P    provider.Provider
	Fake Injector
	// Here is routed to this instance; Other to another instance (named
	// OtherName by Check); Free to nobody; Unknown is not the account's;
	// CannotHold is one this instance cannot be given (another subnet or
	// region).
	Here, Other, Free, Unknown, CannotHold netip.Addr
	OtherName                              string
	// Writes counts the requests that change the cloud.
	Writes func() int
	// API and Metadata are path prefixes of the provider's API and of its
	// metadata service (identity not cached, not given as a parameter).
	API, Metadata string
}

// Expect is where the clouds differ.
type Expect struct {
	// CheckOther is what Check says of Other before a claim: "taken by
	// <OtherName>", or "routed to nobody" where sharing is per Linode.
	CheckOther string
	// RetryAfter: the provider documents Retry-After on 429.
	RetryAfter bool
	// Refused are the statuses the cloud refuses credentials with.
	Refused []fakecloud.Fault
}

// Conformance runs the suite every provider passes against its fake.
// setup builds a fresh world for each case.
func Conformance(t *testing.T, setup func(t *testing.T) *World, want Expect) {
	t.Run("claim is idempotent", func(t *testing.T) {
		w := setup(t)
		before := w.Writes()
		if err := w.P.Claim(Deadline(t, 5*time.Second), w.Here); err != nil {
			t.Fatal(err)
		}
		if n := w.Writes() - before; n != 0 {
			t.Fatalf("%d writes for an address already here", n)
		}
		if m, ok := w.P.(provider.MoveReporter); ok && m.Moved() {
			t.Fatal("a claim that wrote nothing says it moved the address")
		}
	})
	t.Run("check", func(t *testing.T) {
		w := setup(t)
		check(t, w, w.Here, "here")
		check(t, w, w.Other, want.CheckOther)
		if w.Free.IsValid() {
			check(t, w, w.Free, "routed to nobody")
		}
	})
	t.Run("claim takes the address", func(t *testing.T) {
		w := setup(t)
		if err := w.P.Claim(Deadline(t, 5*time.Second), w.Other); err != nil {
			t.Fatal(err)
		}
		if m, ok := w.P.(provider.MoveReporter); ok && !m.Moved() {
			t.Fatal("a claim that took the address says it moved nothing")
		}
		check(t, w, w.Other, "here")
		if w.Free.IsValid() {
			if err := w.P.Claim(Deadline(t, 5*time.Second), w.Free); err != nil {
				t.Fatalf("claim of a free address: %v", err)
			}
			check(t, w, w.Free, "here")
		}
	})
	t.Run("failure classes", func(t *testing.T) { failureClasses(t, setup, want) })
	t.Run("transient faults", func(t *testing.T) { transient(t, setup, want) })
}

func check(t *testing.T, w *World, ip netip.Addr, want string) {
	t.Helper()
	h, err := w.P.Check(Deadline(t, 5*time.Second), ip)
	if err != nil || h.String() != want {
		t.Fatalf("check %s: %v %v, want %s", ip, h, err, want)
	}
}

// failureClasses: the exit code of every permanent class (interfaces.md).
func failureClasses(t *testing.T, setup func(t *testing.T) *World, want Expect) {
	w := setup(t)
	if w.Unknown.IsValid() {
		err := w.P.Claim(Deadline(t, 3*time.Second), w.Unknown)
		if ocf.StatusOf(err) != ocf.ErrConfigured {
			t.Errorf("an address the account does not have: %v (%v), want 6", err, ocf.StatusOf(err))
		}
	}
	if w.CannotHold.IsValid() {
		err := w.P.Claim(Deadline(t, 3*time.Second), w.CannotHold)
		if ocf.StatusOf(err) != ocf.ErrInstalled || !errors.Is(err, provider.ErrCannotHold) {
			t.Errorf("an address this instance cannot hold: %v (%v), want 5", err, ocf.StatusOf(err))
		}
		// A depth-10 monitor says 7: the check fails with ErrCannotHold or
		// names another holder or nobody, never here and never transient.
		h, err := w.P.Check(Deadline(t, 3*time.Second), w.CannotHold)
		if (err == nil && h.Where == provider.Here) || (err != nil && !errors.Is(err, provider.ErrCannotHold)) {
			t.Errorf("check of an address this instance cannot hold: %v %v", h, err)
		}
	}
	for _, f := range want.Refused {
		w := setup(t)
		w.Fake.Inject(f)
		t0 := time.Now()
		err := w.P.Claim(Deadline(t, 10*time.Second), w.Other)
		t.Logf("refused %d %s: %v after %v", f.Status, f.Code, ocf.StatusOf(err), time.Since(t0))
		if ocf.StatusOf(err) != ocf.ErrPerm {
			t.Errorf("credentials refused (%d %s) every time: %v (%v), want 4", f.Status, f.Code, err, ocf.StatusOf(err))
		}
		w.Fake.ClearFaults()
		f.Times = 1
		w.Fake.Inject(f)
		if err := w.P.Claim(Deadline(t, 3*time.Second), w.Other); err != nil {
			t.Errorf("credentials refused once (a blip): %v, want success on the second try", err)
		}
	}
}

// transient: 429, 5xx, resets, hangs and a metadata service that is down
// are retried within the deadline, then exit 1 before it.
func transient(t *testing.T, setup func(t *testing.T) *World, want Expect) {
	for _, tc := range []struct {
		name  string
		fault fakecloud.Fault
		ok    bool // the claim succeeds within the budget
		min   time.Duration
	}{
		{"429 once", fakecloud.Fault{Status: 429, RetryAfter: 1, Times: 1}, true, 0},
		{"429 past the deadline", fakecloud.Fault{Status: 429, RetryAfter: 60}, false, 0},
		{"503 once", fakecloud.Fault{Status: 503, Times: 1}, true, 0},
		{"503 always", fakecloud.Fault{Status: 503}, false, 0},
		{"reset always", fakecloud.Fault{Reset: true}, false, 0},
		{"hang", fakecloud.Fault{Delay: time.Minute}, false, 0},
		{"metadata down", fakecloud.Fault{Status: 500}, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := setup(t)
			f := tc.fault
			f.Path = w.API
			if tc.name == "metadata down" {
				f.Path = w.Metadata
			}
			if f.Status == 429 && tc.ok && want.RetryAfter {
				tc.min = time.Second // Retry-After: 1 honoured
			}
			w.Fake.Inject(f)
			budget := 2 * time.Second
			t0 := time.Now()
			err := w.P.Claim(Deadline(t, budget), w.Other)
			took := time.Since(t0)
			switch {
			case tc.ok && err != nil:
				t.Fatalf("%v, want success after retrying", err)
			case !tc.ok && ocf.StatusOf(err) != ocf.ErrGeneric:
				t.Fatalf("%v (%v), want a transient failure (1)", err, ocf.StatusOf(err))
			case took > budget+500*time.Millisecond:
				t.Fatalf("returned %v after a %v deadline", took, budget)
			case took < tc.min:
				t.Fatalf("returned after %v: Retry-After not honoured", took)
			case want.RetryAfter && strings.Contains(tc.name, "past the deadline") && took > budget/2:
				t.Fatalf("waited %v for a Retry-After past the deadline instead of giving up", took)
			}
		})
	}
}
