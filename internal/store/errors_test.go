package store_test

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/dberr"
	"github.com/pingstreams/pingauth/internal/store"
)

type codeErr int

func (c codeErr) Error() string { return fmt.Sprintf("sqlite error %d", int(c)) }
func (c codeErr) Code() int     { return int(c) }

func TestClassify(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name        string
		err         error
		unavailable bool
		full        bool
	}{
		{"nil", nil, false, false},
		{"not found", gorm.ErrRecordNotFound, false, false},
		{"duplicate", fmt.Errorf("x: %w", gorm.ErrDuplicatedKey), false, false},
		{"unique violation pg", &pgconn.PgError{Code: "23505"}, false, false},
		{"syntax error pg", &pgconn.PgError{Code: "42601"}, false, false},
		{"bad conn", fmt.Errorf("query: %w", driver.ErrBadConn), true, false},
		{"refused", &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, true, false},
		{"reset", fmt.Errorf("read: %w", syscall.ECONNRESET), true, false},
		{"unexpected eof", io.ErrUnexpectedEOF, true, false},
		{"pg connect error", &pgconn.ConnectError{}, true, false},
		{"pg admin shutdown", &pgconn.PgError{Code: "57P01"}, true, false},
		{"pg starting up", &pgconn.PgError{Code: "57P03"}, true, false},
		{"pg connection failure", &pgconn.PgError{Code: "08006"}, true, false},
		{"pg too many connections", &pgconn.PgError{Code: "53300"}, true, false},
		{"pg disk full", &pgconn.PgError{Code: "53100"}, true, true},
		{"sqlite full", codeErr(13), true, true},
		{"sqlite ioerr extended", codeErr(10 | 3<<8), true, false},
		{"sqlite busy", codeErr(5), true, false},
		{"sqlite constraint", codeErr(19), false, false},
		{"enospc", fmt.Errorf("write: %w", syscall.ENOSPC), true, true},
		{"pgx conn closed text", errors.New("failed to deallocate cached statement(s): conn closed"), true, false},
		{"deadline", context.DeadlineExceeded, true, false},
		{"canceled", context.Canceled, false, false},
		{"plain", errors.New("some bug"), false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := dberr.IsUnavailable(tc.err); got != tc.unavailable {
				t.Errorf("IsUnavailable = %v, want %v", got, tc.unavailable)
			}
			if got := dberr.IsStorageFull(tc.err); got != tc.full {
				t.Errorf("IsStorageFull = %v, want %v", got, tc.full)
			}
			c := store.Classify(tc.err)
			if errors.Is(c, apperr.ErrUnavailable) != tc.unavailable {
				t.Errorf("Classify(%v) = %v; unavailable kind want %v", tc.err, c, tc.unavailable)
			}
			if tc.err != nil && !errors.Is(c, tc.err) {
				t.Errorf("Classify lost the cause: %v", c)
			}
			var ae *apperr.Error
			if tc.full && (!errors.As(c, &ae) || !strings.Contains(ae.Message, "storage is full")) {
				t.Errorf("full storage message = %v", c)
			}
		})
	}
}

type row struct {
	ID   int `gorm:"primaryKey"`
	Data string
}

// TestSQLiteDiskFull emulates a full disk with PRAGMA max_page_count: writes
// fail as apperr.ErrUnavailable ("storage is full"), reads keep working, no
// data is lost and writes resume once space is available again.
func TestSQLiteDiskFull(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := store.Open(ctx, store.Options{SQLitePath: filepath.Join(t.TempDir(), "full.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	sqlDB, _ := db.DB.DB()
	sqlDB.SetMaxOpenConns(1) // the pragma is per connection
	if err := db.Exec(`CREATE TABLE rows (id INTEGER PRIMARY KEY, data TEXT NOT NULL)`).Error; err != nil {
		t.Fatal(err)
	}
	var pages int
	if err := db.Raw(`PRAGMA page_count`).Scan(&pages).Error; err != nil {
		t.Fatal(err)
	}
	if err := db.Exec(fmt.Sprintf(`PRAGMA max_page_count = %d`, pages+8)).Error; err != nil {
		t.Fatal(err)
	}
	blob := strings.Repeat("x", 2000)
	written := 0
	var werr error
	for i := 1; i <= 1000; i++ {
		if werr = db.WithContext(ctx).Create(&row{ID: i, Data: blob}).Error; werr != nil {
			break
		}
		written++
	}
	if werr == nil || written == 0 {
		t.Fatalf("expected the database to fill up (written %d, err %v)", written, werr)
	}
	if !errors.Is(werr, apperr.ErrUnavailable) || !dberr.IsStorageFull(werr) {
		t.Fatalf("write on full disk = %v; want apperr.ErrUnavailable + storage full", werr)
	}
	var ae *apperr.Error
	if !errors.As(werr, &ae) || !strings.Contains(ae.Message, "storage is full") {
		t.Fatalf("message = %v", werr)
	}
	// Reads continue and nothing written before is lost.
	var n int64
	if err := db.WithContext(ctx).Model(&row{}).Count(&n).Error; err != nil || int(n) != written {
		t.Fatalf("count after full = %d, %v; want %d", n, err, written)
	}
	// Space frees up: writes succeed again.
	if err := db.Exec(`PRAGMA max_page_count = 1073741823`).Error; err != nil {
		t.Fatal(err)
	}
	if err := db.WithContext(ctx).Create(&row{ID: written + 1, Data: blob}).Error; err != nil {
		t.Fatalf("write after space freed: %v", err)
	}
	if err := db.WithContext(ctx).Model(&row{}).Count(&n).Error; err != nil || int(n) != written+1 {
		t.Fatalf("count after recovery = %d, %v", n, err)
	}
}
