package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pingstreams/pingauth/internal/admin"
	"github.com/pingstreams/pingauth/internal/audit"
	"github.com/pingstreams/pingauth/internal/enduser"
	"github.com/pingstreams/pingauth/internal/paging"
	"github.com/pingstreams/pingauth/internal/rbac"
	"github.com/pingstreams/pingauth/internal/store"
)

// importShop is a tenant-admin's session on project "shop" with one
// existing end-user (old@example.com).
func importShop(t *testing.T, d store.Dialect) (*env, *client) {
	t.Helper()
	e := newEnv(t, d)
	e.tenant("acme")
	e.project("acme", "shop")
	e.user("shop", "old@example.com")
	e.operator("admin@acme.example", rbac.RoleTenantAdmin, "acme")
	return e, e.login("admin@acme.example")
}

func (e *env) userCount(projectID string) int64 {
	e.t.Helper()
	_, n, err := e.a.Users.List(context.Background(), projectID, enduser.ListOptions{Page: paging.Request{Limit: 1}})
	if err != nil {
		e.t.Fatal(err)
	}
	return n.Count
}

// importAudits are the project's enduser.import events, newest first.
func (e *env) importAudits(projectID string) []audit.Event {
	e.t.Helper()
	evs, err := e.a.Admin.AuditEvents(context.Background(), audit.Query{ProjectID: projectID, Action: audit.EndUserImport, Limit: 50})
	if err != nil {
		e.t.Fatal(err)
	}
	return evs
}

func csvRows(prefix string, n int) string {
	var b strings.Builder
	b.WriteString("email,password\n")
	for i := range n {
		fmt.Fprintf(&b, "%s%04d@example.com,password-%04d\n", prefix, i, i)
	}
	return b.String()
}

// refusedBody is the JSON of a refused import.
type refusedBody struct {
	Error struct {
		Code, Message, Field string
	} `json:"error"`
	Report admin.ImportReport `json:"report"`
}

// TestImportRefusedOverHTTP: scenario 5 of issue 12 through the API and
// the console form. A malformed quoted row, a 1,001-row file and duplicate
// emails (within the file, against an existing end-user) are each refused
// with 400, the error lines, zero end-users created, and an audit event.
func TestImportRefusedOverHTTP(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, csv string
		lines     []int
		msg       string
	}{
		{"malformed quoted row", "email,password\nann@example.com,password-123456\nbob@example.com,\"pass\"word-123456\ncy@example.com,password-123456\n",
			[]int{3}, "line 3: malformed CSV"},
		{"1,001 rows", csvRows("many", admin.MaxImportRows+1), nil, "at most 1000 rows"},
		{"duplicate emails", "email,password\nann@example.com,password-123456\nOLD@example.com,password-123456\nann@example.com,password-123456\n",
			[]int{3, 4}, `line 3: an end-user with email "old@example.com" already exists; line 4: email "ann@example.com" also appears on line 2`},
	}
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			e, c := importShop(t, d)
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					audits := len(e.importAudits("shop"))
					res, body := c.do("POST", "/api/v1/projects/shop/users/import", tc.csv)
					if res.StatusCode != http.StatusBadRequest {
						t.Fatalf("API import: %d %s, want 400", res.StatusCode, truncateBody(body))
					}
					var rb refusedBody
					if err := json.Unmarshal(body, &rb); err != nil {
						t.Fatalf("refusal body: %v: %s", err, truncateBody(body))
					}
					if rb.Error.Field != "file" || !strings.Contains(rb.Error.Message, tc.msg) || !strings.Contains(rb.Error.Message, "nothing was imported") {
						t.Errorf("refusal %+v, want field file and %q", rb.Error, tc.msg)
					}
					var lines []int
					for _, r := range rb.Report.Rows {
						lines = append(lines, r.Line)
					}
					if fmt.Sprint(lines) != fmt.Sprint(tc.lines) || rb.Report.Created != 0 || !rb.Report.Refused {
						t.Errorf("report %+v, want failed lines %v and nothing created", rb.Report, tc.lines)
					}
					// The console form (CSRF in the form, read by the guard) alike.
					res, page := c.consoleImport(tc.csv)
					if res.StatusCode != http.StatusBadRequest || !strings.Contains(page, "nothing was imported") {
						t.Errorf("console import: %d %s", res.StatusCode, truncateBody([]byte(page)))
					}
					if len(tc.lines) > 0 && !strings.Contains(page, fmt.Sprintf("<td>%d</td>", tc.lines[0])) {
						t.Errorf("console report lacks line %d: %s", tc.lines[0], truncateBody([]byte(page)))
					}
					if n := e.userCount("shop"); n != 1 {
						t.Errorf("%d end-users after the refused import, want the 1 existing", n)
					}
					evs := e.importAudits("shop")
					if len(evs) != audits+2 || evs[0].Details["outcome"] != "refused" || evs[1].Details["outcome"] != "refused" {
						t.Errorf("import audit events %+v, want 2 more, refused", evs)
					}
				})
			}
			// The project's audit (API) lists the refusals with their counts.
			_, body := c.do("GET", "/api/v1/projects/shop/audit", nil)
			if !strings.Contains(string(body), `"outcome":"refused"`) || !strings.Contains(string(body), `"reason":"too_many_rows"`) {
				t.Errorf("project audit lacks the refused imports: %s", truncateBody(body))
			}
		})
	}
}

// importForm is the console's import form as a browser sends it: the CSRF
// token is a field of the multipart form (so the guard reads the upload).
func importForm(csrf, content string) (body, contentType string) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("_csrf", csrf)
	fw, _ := mw.CreateFormFile("file", "users.csv")
	_, _ = io.WriteString(fw, content)
	_ = mw.Close()
	return buf.String(), mw.FormDataContentType()
}

// consoleImport posts the console's import form.
func (c *client) consoleImport(content string) (*http.Response, string) {
	c.e.t.Helper()
	body, ct := importForm(c.csrf, content)
	return c.post("/console/projects/shop/users/import", ct, strings.NewReader(body), false)
}

// post sends body with the session cookie (and the CSRF header when
// csrfHeader) and returns the response and its body.
func (c *client) post(path, contentType string, body io.Reader, csrfHeader bool) (*http.Response, string) {
	c.e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, c.e.url+path, body)
	req.Header.Set("Content-Type", contentType)
	req.AddCookie(c.cookie)
	if csrfHeader {
		req.Header.Set("X-CSRF-Token", c.csrf)
	}
	res, err := c.hc.Do(req)
	if err != nil {
		c.e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

// shortTimeouts serves the app on a second listener whose read and write
// timeouts (readTimeout) every trickled upload below outlasts, and returns
// a copy of c that talks to it.
func shortTimeouts(t *testing.T, e *env, c *client, readTimeout time.Duration) *client {
	t.Helper()
	short := httptest.NewUnstartedServer(e.a.HTTP())
	short.Config.ReadTimeout, short.Config.WriteTimeout = readTimeout, readTimeout
	short.Start()
	t.Cleanup(short.Close)
	viaShort := *e
	viaShort.url = short.URL
	sc := *c
	sc.e = &viaShort
	return &sc
}

// trickle is a request body that sends content in parts, pausing between
// them, so the whole upload takes longer than the server's read timeout.
func trickle(content string, parts int, pause time.Duration) io.Reader {
	pr, pw := io.Pipe()
	go func() {
		step := (len(content) + parts - 1) / parts
		for i := 0; i < len(content); i += step {
			if _, err := io.WriteString(pw, content[i:min(i+step, len(content))]); err != nil {
				return
			}
			time.Sleep(pause)
		}
		_ = pw.Close()
	}()
	return pr
}

// TestImportSlowUploadOutlastsReadTimeout: scenario 5c of issue 12. A
// client trickles its upload for longer than the server's read timeout
// (300 ms here, 15 s in `pingauth serve`). The import deadlines replace the
// read timeout before the upload is read (the API's text/csv body and the
// console form, whose CSRF field the guard reads), so the import succeeds
// in full, with its audit event. An upload cut off mid-way creates nobody
// and is audited as refused.
func TestImportSlowUploadOutlastsReadTimeout(t *testing.T) {
	t.Parallel()
	const readTimeout = 300 * time.Millisecond
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			e, c := importShop(t, d)
			sc := shortTimeouts(t, e, c, readTimeout)
			const rows = 40
			// API, text/csv.
			start := time.Now()
			res, body := sc.post("/api/v1/projects/shop/users/import", "text/csv", trickle(csvRows("api", rows), 8, readTimeout/4), true)
			if took := time.Since(start); took < readTimeout {
				t.Fatalf("the upload took %s, not longer than the read timeout %s", took, readTimeout)
			}
			var rep admin.ImportReport
			_ = json.Unmarshal([]byte(body), &rep)
			if res.StatusCode != http.StatusOK || rep.Created != rows {
				t.Fatalf("trickled API import: %d %s, want 200 and %d created", res.StatusCode, truncateBody([]byte(body)), rows)
			}
			// Console form, CSRF inside the trickled multipart body.
			form, ct := importForm(sc.csrf, csvRows("form", rows))
			res, page := sc.post("/console/projects/shop/users/import", ct, trickle(form, 8, readTimeout/4), false)
			if res.StatusCode != http.StatusOK || !strings.Contains(page, fmt.Sprintf("%d created", rows)) {
				t.Fatalf("trickled console import: %d %s", res.StatusCode, truncateBody([]byte(page)))
			}
			if n := e.userCount("shop"); n != 1+2*rows {
				t.Fatalf("%d end-users, want %d", n, 1+2*rows)
			}
			evs := e.importAudits("shop")
			if len(evs) != 2 || evs[0].Details["outcome"] != "created" || evs[1].Details["outcome"] != "created" {
				t.Fatalf("import audit events %+v, want 2 created", evs)
			}

			// An upload cut off: the client sends half its announced body and
			// hangs up.
			cut := csvRows("cut", rows)
			conn, err := net.Dial("tcp", strings.TrimPrefix(sc.e.url, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(conn, "POST /api/v1/projects/shop/users/import HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\nContent-Length: %d\r\nCookie: %s=%s\r\nX-CSRF-Token: %s\r\n\r\n%s",
				len(cut), sc.cookie.Name, sc.cookie.Value, sc.csrf, cut[:len(cut)/2])
			_ = conn.Close()
			deadline := time.Now().Add(30 * time.Second)
			for len(e.importAudits("shop")) < 3 {
				if time.Now().After(deadline) {
					t.Fatal("no audit event for the cut-off import")
				}
				time.Sleep(20 * time.Millisecond)
			}
			if ev := e.importAudits("shop")[0]; ev.Details["outcome"] != "refused" || ev.Details["reason"] != "upload_unreadable" {
				t.Errorf("cut-off import audited as %v", ev.Details)
			}
			if n := e.userCount("shop"); n != 1+2*rows {
				t.Errorf("%d end-users after the cut-off import, want %d (none of it)", n, 1+2*rows)
			}
		})
	}
}
