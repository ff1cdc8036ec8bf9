// Package ocf implements the Open Cluster Framework resource agent contract
// (OCF RA API 1.1 as Pacemaker runs it): the environment an agent is called
// with, exit codes, exit reasons, the time budget, logging and meta-data.
// It knows nothing about IP addresses.
package ocf

import (
	"errors"
	"fmt"
)

// Status is an OCF exit code.
type Status int

// Exit codes from the OCF RA API 1.1, section "Exit Status Codes".
const (
	Success          Status = 0
	ErrGeneric       Status = 1
	ErrArgs          Status = 2
	ErrUnimplemented Status = 3
	ErrPerm          Status = 4
	ErrInstalled     Status = 5
	ErrConfigured    Status = 6
	NotRunning       Status = 7
	RunningPromoted  Status = 8
	FailedPromoted   Status = 9
	Degraded         Status = 190
	DegradedPromoted Status = 191
)

var statusNames = map[Status]string{
	Success:          "OCF_SUCCESS",
	ErrGeneric:       "OCF_ERR_GENERIC",
	ErrArgs:          "OCF_ERR_ARGS",
	ErrUnimplemented: "OCF_ERR_UNIMPLEMENTED",
	ErrPerm:          "OCF_ERR_PERM",
	ErrInstalled:     "OCF_ERR_INSTALLED",
	ErrConfigured:    "OCF_ERR_CONFIGURED",
	NotRunning:       "OCF_NOT_RUNNING",
	RunningPromoted:  "OCF_RUNNING_PROMOTED",
	FailedPromoted:   "OCF_FAILED_PROMOTED",
	Degraded:         "OCF_DEGRADED",
	DegradedPromoted: "OCF_DEGRADED_PROMOTED",
}

func (s Status) String() string {
	if n, ok := statusNames[s]; ok {
		return n
	}
	return fmt.Sprintf("OCF_STATUS_%d", int(s))
}

// Error is a failure that carries the OCF status it should exit with. Its
// message becomes the exit reason Pacemaker shows in crm_mon.
type Error struct {
	Status Status
	Err    error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given status and a formatted reason.
func Errorf(s Status, format string, args ...any) error {
	return &Error{Status: s, Err: fmt.Errorf(format, args...)}
}

// WithStatus wraps err so that it exits with status s. A nil err stays nil.
func WithStatus(s Status, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Status: s, Err: err}
}

// StatusOf maps an error to an exit code: nil is Success, an *Error anywhere
// in the chain gives its status, anything else is ErrGeneric.
func StatusOf(err error) Status {
	if err == nil {
		return Success
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return ErrGeneric
}
