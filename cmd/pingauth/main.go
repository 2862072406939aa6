// Command pingauth runs the pingauth service and its operator CLI.
//
//	pingauth serve                       run the HTTP service
//	pingauth tenant add|list             manage tenants (agencies)
//	pingauth project add|list|show|update  manage Pingstreams projects
//	pingauth secret set|rotate|schedule|versions  manage a project's shared secret
//	pingauth user add|list|revoke-refresh  manage a project's end-users
//	pingauth operator add|list|tokens|revoke-token  manage console operators, their roles and API tokens
//	pingauth invite create|list|revoke   invite operators to a tenant (one-time links)
//	pingauth apikey|mode|mapping|idp|role  verification modes (server, exchange), mappings, role rules
//	pingauth migrate                     apply database migrations and exit
//
// Configuration comes from PINGAUTH_* environment variables (see README).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// usageError marks errors that should print usage and exit 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

const usage = `pingauth: custom JWT authentication for Pingstreams chat-widget projects

Usage:
  pingauth serve
  pingauth tenant add -id ID [-name NAME]
  pingauth tenant list
  pingauth tenant deny-emails -tenant ID [-entry EMAIL_OR_DOMAIN]... [-clear]
  pingauth project add -id PROJECT_ID -name NAME [-tenant ID] [-origin URL]... [-ttl 15m] [-refresh-ttl 30d] [-audience-base URL]
  pingauth project update -id PROJECT_ID [-name NAME] [-origin URL]... [-ttl 15m] [-refresh-ttl 30d|0] [-audience-base URL] [-status active|disabled]
  pingauth project list [-tenant ID]
  pingauth project show -id PROJECT_ID
  pingauth secret set -project PROJECT_ID [-grace 24h] < secret.txt   (reads the secret from stdin)
  pingauth secret rotate -project PROJECT_ID [-grace 24h] [-local]     (on the chat server; -grace: pingauth's /verify only)
  pingauth secret rotate -tenant ID [-grace 24h]                       (every project of the tenant; a line per project)
  pingauth secret schedule -project PROJECT_ID -every 30d [-window 02-04] | -off | -show   (scheduled rotation, UTC hours)
  pingauth secret versions -project PROJECT_ID
  pingauth user add -project PROJECT_ID -email EMAIL [-password-stdin] [-firstname F] [-lastname L] [-external-id ID] [-attr k=v]... [-role R]...
  pingauth user list -project PROJECT_ID [-search TEXT]
  pingauth user revoke-refresh -project PROJECT_ID -email EMAIL|-external-id ID   (ends remembered sign-ins)
  pingauth operator add -email EMAIL -role platform-admin|tenant-admin|tenant-operator [-tenant ID] -password-stdin
  pingauth operator list
  pingauth operator tokens -email EMAIL                  (API tokens: expiry, last use, scope)
  pingauth operator revoke-token -email EMAIL -id TOKEN_ID
  pingauth operator totp-reset -email EMAIL   (removes the operator's TOTP second factor; they enrol again)
` + inviteUsage + `  pingauth migrate
  pingauth version
` + modeUsage + `

Configuration is read from the environment; see README.md.
`

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, usage)
		return 0
	}
	cli := &cli{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv}
	var err error
	switch args[0] {
	case "serve":
		err = cli.serve(ctx, args[1:])
	case "version":
		fmt.Fprintln(stdout, "pingauth", version)
	default:
		err = cli.admin(ctx, args)
	}
	if err == nil {
		return 0
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "pingauth: %s\n\n%s", ue.msg, usage)
		return 2
	}
	fmt.Fprintf(stderr, "pingauth: %v\n", err)
	return 1
}

var version = "dev"
