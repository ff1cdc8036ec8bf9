package ocf

import (
	"fmt"
	"io"
	"log/syslog"
	"os"
	"strings"
	"sync"
)

// Logger writes log lines the way resource-agents' ocf_log does:
// "floatip(<instance>)[<pid>]: INFO: text" on stderr, or to syslog with the
// same tag when HA_LOGFACILITY is set. Debug lines only appear with HA_debug.
type Logger struct {
	mu     sync.Mutex
	tag    string
	w      io.Writer
	sys    *syslog.Writer
	debug  bool
	prefix string // exit-reason prefix
}

// NewLogger builds a logger for agent name and env. Lines go to w (normally
// os.Stderr); with a syslog facility they go to syslog instead, as with
// ocf_log, falling back to w if syslog cannot be reached.
func NewLogger(name string, e *Env, w io.Writer) *Logger {
	l := &Logger{
		tag:    fmt.Sprintf("%s(%s)[%d]", name, e.Instance, os.Getpid()),
		w:      w,
		debug:  e.Debug,
		prefix: "ocf-exit-reason:",
	}
	if p, ok := e.lookup("OCF_EXIT_REASON_PREFIX"); ok && p != "" {
		l.prefix = p
	}
	if e.Facility != "" {
		if f, ok := facilities[strings.ToLower(e.Facility)]; ok {
			if s, err := syslog.New(f|syslog.LOG_INFO, fmt.Sprintf("%s(%s)", name, e.Instance)); err == nil {
				l.sys = s
			}
		}
	}
	return l
}

var facilities = map[string]syslog.Priority{
	"daemon": syslog.LOG_DAEMON, "user": syslog.LOG_USER, "local0": syslog.LOG_LOCAL0,
	"local1": syslog.LOG_LOCAL1, "local2": syslog.LOG_LOCAL2, "local3": syslog.LOG_LOCAL3,
	"local4": syslog.LOG_LOCAL4, "local5": syslog.LOG_LOCAL5, "local6": syslog.LOG_LOCAL6,
	"local7": syslog.LOG_LOCAL7, "auth": syslog.LOG_AUTH, "authpriv": syslog.LOG_AUTHPRIV,
}

func (l *Logger) emit(level, msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.sys != nil {
		var err error
		switch level {
		case "ERROR":
			err = l.sys.Err(msg)
		case "WARNING":
			err = l.sys.Warning(msg)
		case "DEBUG":
			err = l.sys.Debug(msg)
		default:
			err = l.sys.Info(msg)
		}
		if err == nil {
			return
		}
	}
	fmt.Fprintf(l.w, "%s: %s: %s\n", l.tag, level, msg)
}

// Debugf logs only when HA_debug is set.
func (l *Logger) Debugf(format string, args ...any) {
	if l.debug {
		l.emit("DEBUG", fmt.Sprintf(format, args...))
	}
}

// Infof logs at INFO.
func (l *Logger) Infof(format string, args ...any) { l.emit("INFO", fmt.Sprintf(format, args...)) }

// Warnf logs at WARNING.
func (l *Logger) Warnf(format string, args ...any) { l.emit("WARNING", fmt.Sprintf(format, args...)) }

// Errorf logs at ERROR.
func (l *Logger) Errorf(format string, args ...any) { l.emit("ERROR", fmt.Sprintf(format, args...)) }

// ExitReason logs reason as an error and prints the single line Pacemaker
// picks up as the operation's exit reason (it keeps the last one on stderr).
func (l *Logger) ExitReason(reason string) {
	reason = strings.ReplaceAll(reason, "\n", " ")
	l.emit("ERROR", reason)
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, "%s%s\n", l.prefix, reason)
}

// Close releases the syslog connection, if any.
func (l *Logger) Close() {
	if l.sys != nil {
		_ = l.sys.Close()
	}
}
