// Package web holds the browser-facing assets served by the pingauth binary:
// the example widget page (web/example) and, later, the operator console.
package web

import "embed"

// Example is the example widget page, a Go html/template.
//
//go:embed example/*
var Example embed.FS
