// Command gatehouse is Gatehouse's one binary: the regional server, the
// schema migrator, the bulk importer and the key tools. This package is the
// only composition root: it reads the configuration and wires every part by
// hand; end-to-end tests start the same run function.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes (contract §1).
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.LookupEnv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// exitCode prints err and maps it to the process's exit status.
func exitCode(err error, stderr io.Writer) int {
	if err == nil || errors.Is(err, flag.ErrHelp) { // --help printed the usage
		return exitOK
	}
	fmt.Fprintln(stderr, "gatehouse:", err)
	var ue *usageError
	var ce *configError
	if errors.As(err, &ue) || errors.As(err, &ce) {
		return exitUsage
	}
	return exitFailure
}

// usageError is a mistake on the command line; it exits 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{msg: fmt.Sprintf(format, args...)} }
