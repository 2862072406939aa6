// Package dberr classifies database driver errors (SQLite, PostgreSQL,
// network) without depending on the store: the HTTP kit maps outage-type
// errors to 503 through it, and the store wraps them as apperr.ErrUnavailable
// on every GORM operation (store.Classify).
package dberr

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"

	"github.com/pingstreams/pingauth/internal/apperr"
)

// SQLite result codes (primary codes; extended codes keep them in the low byte).
const (
	sqliteBusy     = 5
	sqliteLocked   = 6
	sqliteNoMem    = 7
	sqliteReadOnly = 8
	sqliteIOErr    = 10
	sqliteCorrupt  = 11
	sqliteFull     = 13
	sqliteCantOpen = 14
)

// IsStorageFull reports whether err means the database has no space left
// (SQLITE_FULL, PostgreSQL disk_full 53100, ENOSPC).
func IsStorageFull(err error) bool {
	if err == nil {
		return false
	}
	if c, ok := sqliteCode(err); ok && c == sqliteFull {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "53100" {
		return true
	}
	return errors.Is(err, syscall.ENOSPC)
}

// IsUnavailable reports whether err means the database cannot serve right
// now (connection refused/reset/closed, server shutting down or starting,
// too many connections, disk full, I/O errors, lock timeouts) as opposed to
// a bad query or a constraint violation. Such failures become HTTP 503.
func IsUnavailable(err error) bool {
	if err == nil || errors.Is(err, gorm.ErrRecordNotFound) || errors.Is(err, gorm.ErrDuplicatedKey) {
		return false
	}
	if errors.Is(err, apperr.ErrUnavailable) || IsStorageFull(err) {
		return true
	}
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) || pgconn.Timeout(err) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case strings.HasPrefix(pe.Code, "08"), // connection exception
			pe.Code == "57P01", pe.Code == "57P02", pe.Code == "57P03", // admin/crash shutdown, cannot connect now
			strings.HasPrefix(pe.Code, "53"),       // insufficient resources
			pe.Code == "55P03", pe.Code == "57014": // lock not available, statement timeout
			return true
		}
		return false
	}
	if c, ok := sqliteCode(err); ok {
		switch c {
		case sqliteBusy, sqliteLocked, sqliteNoMem, sqliteReadOnly, sqliteIOErr, sqliteCorrupt, sqliteFull, sqliteCantOpen:
			return true
		}
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	// pgx reports use of a connection closed under it without a typed error.
	s := err.Error()
	return strings.Contains(s, "conn closed") || strings.Contains(s, "connection refused") || strings.Contains(s, "connection reset") ||
		strings.Contains(s, "broken pipe") || strings.Contains(s, "database system is shutting down") ||
		strings.Contains(s, "database system is starting up") || strings.Contains(s, "database or disk is full")
}

func sqliteCode(err error) (int, bool) {
	var se interface{ Code() int }
	if errors.As(err, &se) {
		return se.Code() & 0xff, true
	}
	return 0, false
}
