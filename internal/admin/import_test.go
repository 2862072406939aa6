package admin_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/pingstreams/pingauth/internal/admin"
	"github.com/pingstreams/pingauth/internal/app"
	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/audit"
	"github.com/pingstreams/pingauth/internal/enduser"
	"github.com/pingstreams/pingauth/internal/paging"
	"github.com/pingstreams/pingauth/internal/project"
	"github.com/pingstreams/pingauth/internal/store"
)

// importFixture is a tenant, a project and one existing end-user.
func importFixture(t *testing.T, a *app.App) *project.Project {
	t.Helper()
	ctx := t.Context()
	must[*project.Tenant](t)(a.Admin.CreateTenant(ctx, admin.CLI(), admin.TenantInput{ID: "acme", Name: "Acme"}))
	p := must[*project.Project](t)(a.Admin.CreateProject(ctx, admin.CLI(), admin.ProjectInput{ID: "shop", TenantID: "acme", Name: "Shop"}))
	must[*enduser.User](t)(a.Admin.CreateUser(ctx, admin.CLI(), p, admin.UserInput{Email: "old@shop.test", Username: "olduser", Password: "password-123456"}))
	return p
}

func userCount(t *testing.T, a *app.App, projectID string) int64 {
	t.Helper()
	_, n, err := a.Users.List(t.Context(), projectID, enduser.ListOptions{Page: paging.Request{Limit: 1}})
	ok(t, err)
	return n.Count
}

// importEvents are the project's enduser.import audit events, newest first.
func importEvents(t *testing.T, a *app.App, p *project.Project) []audit.Event {
	t.Helper()
	return must[[]audit.Event](t)(a.Admin.AuditEvents(t.Context(), audit.Query{TenantIDs: []string{p.TenantID}, ProjectID: p.ID, Action: audit.EndUserImport, Limit: 10}))
}

func num(v any) int {
	switch n := v.(type) {
	case int:
		return n
	case float64:
		return int(n)
	}
	return -1
}

func rowsCSV(prefix string, n int) string {
	var b strings.Builder
	b.WriteString("email,password\n")
	for i := range n {
		fmt.Fprintf(&b, "%s%04d@shop.test,password-%04d\n", prefix, i, i)
	}
	return b.String()
}

// TestImportIsAllOrNothing: a CSV import is checked as a whole; any error
// refuses it with every error's line and creates nobody (scenario 5 of
// issue 12: a malformed quoted row, 1,001 rows, an upload that cannot be
// read to its end); a clean file creates every row. Every import, refused
// or not, records one audit event with its counts.
func TestImportIsAllOrNothing(t *testing.T) {
	t.Parallel()
	type want struct {
		created int
		lines   []int    // lines of the report's failed rows
		errs    []string // substrings of those rows' errors, in order
		msg     string   // substring of the refusal
		reason  string
	}
	cases := []struct {
		name string
		body func() io.Reader
		want want
	}{
		{"malformed quoted row", func() io.Reader {
			return strings.NewReader("email,password\nann@shop.test,password-123456\nbob@shop.test,\"pass\"word-123456\ncy@shop.test,password-123456\n")
		}, want{lines: []int{3}, errs: []string{"malformed CSV"}, msg: "line 3", reason: "invalid_rows"}},
		{"1,001 rows", func() io.Reader { return strings.NewReader(rowsCSV("many", admin.MaxImportRows+1)) },
			want{msg: "at most 1000 rows", reason: "too_many_rows"}},
		{"every error with its line", func() io.Reader {
			return strings.NewReader("email,username,password,enabled\n" +
				"ann@shop.test,ann,password-123456,true\n" + // 2 fine
				"not-an-email,,password-123456,\n" + // 3 invalid email
				"cy@shop.test,,short,\n" + // 4 password policy
				"dee@shop.test,,password-123456,maybe\n" + // 5 enabled
				"ANN@shop.test,,password-123456,\n" + // 6 same email as line 2 (case-insensitive)
				"old@shop.test,,password-123456,\n" + // 7 existing email
				"eve@shop.test,olduser,password-123456,\n" + // 8 existing username
				"fay@shop.test,ann,password-123456,\n" + // 9 same username as line 2
				"gus@shop.test,,password-123456\n") // 10 field count
		}, want{lines: []int{3, 4, 5, 6, 7, 8, 9, 10},
			errs: []string{"email", "password", "enabled", "also appears on line 2", "already exists", "already exists", "also appears on line 2", "expected 4 fields"},
			msg:  "8 of 9 rows have errors", reason: "invalid_rows"}},
		{"upload cut off", func() io.Reader {
			return io.MultiReader(strings.NewReader(rowsCSV("cut", 5)), iotest.ErrReader(io.ErrUnexpectedEOF))
		}, want{msg: "could not be read to its end", reason: "upload_unreadable"}},
		{"read deadline passed", func() io.Reader {
			return io.MultiReader(strings.NewReader(rowsCSV("slow", 5)), iotest.ErrReader(os.ErrDeadlineExceeded))
		}, want{msg: "could not be read to its end", reason: "upload_unreadable"}},
		{"unknown column", func() io.Reader { return strings.NewReader("email,colour\nann@shop.test,red\n") },
			want{msg: "unknown column", reason: "invalid_header"}},
		{"clean file", func() io.Reader {
			return strings.NewReader("email,password,roles,enabled,attr.plan\n" +
				"ann@shop.test,password-123456,vip;gold,true,pro\n" +
				"bob@shop.test,,,false,\n" +
				"\"cy@shop.test\",\"pass,word-123456\",,,\n")
		}, want{created: 3}},
	}
	dialects(t, func(t *testing.T, a *app.App) {
		p := importFixture(t, a)
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				ctx := t.Context()
				before, evBefore := userCount(t, a, p.ID), len(importEvents(t, a, p))
				rep, err := a.Admin.ImportUsers(ctx, admin.CLI(), p, tc.body())
				if tc.want.created > 0 {
					ok(t, err)
					if rep.Created != tc.want.created || rep.Failed != 0 || rep.Refused || len(rep.Rows) != tc.want.created {
						t.Fatalf("report %+v", rep)
					}
					defer func() { // leave the fixture as it was for the other cases
						us, _, _ := a.Users.List(context.Background(), p.ID, enduser.ListOptions{Page: paging.Request{Limit: 100}})
						for _, u := range us.Items {
							if u.Email != "old@shop.test" {
								_ = a.Users.Delete(context.Background(), p.ID, u.ID)
							}
						}
					}()
				} else {
					if !errors.Is(err, apperr.ErrInvalid) {
						t.Fatalf("import: %v, want invalid input", err)
					}
					if !strings.Contains(apperr.Message(err), tc.want.msg) {
						t.Errorf("refusal %q lacks %q", apperr.Message(err), tc.want.msg)
					}
					if rep == nil || !rep.Refused || rep.Created != 0 {
						t.Fatalf("refused report %+v", rep)
					}
					var lines []int
					for i, row := range rep.Rows {
						lines = append(lines, row.Line)
						if i < len(tc.want.errs) && !strings.Contains(row.Error, tc.want.errs[i]) {
							t.Errorf("line %d: error %q lacks %q", row.Line, row.Error, tc.want.errs[i])
						}
					}
					if !slices.Equal(lines, tc.want.lines) {
						t.Errorf("failed lines %v, want %v (%+v)", lines, tc.want.lines, rep.Rows)
					}
				}
				if got := userCount(t, a, p.ID) - before; got != int64(tc.want.created) {
					t.Errorf("%d end-users created, want %d", got, tc.want.created)
				}
				evs := importEvents(t, a, p)
				if len(evs) != evBefore+1 {
					t.Fatalf("%d import audit events, want %d", len(evs), evBefore+1)
				}
				d := evs[0].Details
				if num(d["created"]) != tc.want.created || (tc.want.reason == "") != (d["outcome"] == "created") ||
					(tc.want.reason != "" && d["reason"] != tc.want.reason) {
					t.Errorf("audit details %v, want created %d reason %q", d, tc.want.created, tc.want.reason)
				}
				if tc.want.reason == "invalid_rows" && num(d["failed"]) != len(tc.want.lines) {
					t.Errorf("audit failed %v, want %d", d["failed"], len(tc.want.lines))
				}
			})
		}
		// The clean file's users were stored as given.
		rep, err := a.Admin.ImportUsers(t.Context(), admin.CLI(), p, strings.NewReader("email,password,roles,enabled,attr.plan\nann@shop.test,password-123456,vip;gold,false,pro\n"))
		ok(t, err)
		u := must[*enduser.User](t)(a.Users.FindByExternalID(t.Context(), p.ID, rep.Rows[0].ExternalID))
		if u.Enabled || !slices.Equal(u.Roles, []string{"vip", "gold"}) || u.Attributes["plan"] != "pro" || !u.HasPassword() {
			t.Errorf("imported as %+v", u)
		}
		if _, err := a.Users.Authenticate(t.Context(), p.ID, "ann@shop.test", "password-123456"); err == nil {
			t.Error("a disabled imported user signed in")
		}
	})
}

// TestImportCancelledCreatesNothing: an import whose request is cancelled
// (the client went away, a deadline passed) creates nobody and is still
// audited.
func TestImportCancelledCreatesNothing(t *testing.T) {
	t.Parallel()
	dialects(t, func(t *testing.T, a *app.App) {
		p := importFixture(t, a)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		rep, err := a.Admin.ImportUsers(ctx, admin.CLI(), p, strings.NewReader(rowsCSV("gone", 20)))
		if err == nil || rep == nil || !rep.Refused {
			t.Fatalf("cancelled import: %v %+v", err, rep)
		}
		if n := userCount(t, a, p.ID); n != 1 {
			t.Errorf("%d end-users, want the 1 existing", n)
		}
		evs := importEvents(t, a, p)
		if len(evs) != 1 || evs[0].Details["outcome"] != "refused" {
			t.Errorf("audit of the cancelled import: %+v", evs)
		}
	})
}

// TestImportPasswordsVerify: the imported passwords were hashed (argon2id,
// in the bounded pool) and sign in.
func TestImportPasswordsVerify(t *testing.T) {
	t.Parallel()
	a := openApp(t, store.SQLite)
	p := importFixture(t, a)
	_, err := a.Admin.ImportUsers(t.Context(), admin.CLI(), p, strings.NewReader(rowsCSV("pw", 3)))
	ok(t, err)
	u, err := a.Users.Authenticate(t.Context(), p.ID, "pw0002@shop.test", "password-0002")
	if err != nil || !strings.HasPrefix(u.PasswordHash, "$argon2id$") {
		t.Fatalf("imported user sign-in: %v", err)
	}
}
