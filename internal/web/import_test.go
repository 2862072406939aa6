package web_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pingstreams/pingauth/internal/admin"

	"github.com/pingstreams/pingauth/internal/rbac"
	"github.com/pingstreams/pingauth/internal/store"
)

// TestImportOutlastsWriteTimeout: a CSV import hashes every password, so a
// big file takes longer than the server's write timeout. The import must
// still answer with its report instead of having its connection cut while
// the rows go on being created. The import is sent to a second listener of
// the same app whose write timeout (1 ms) every import exceeds.
func TestImportOutlastsWriteTimeout(t *testing.T) {
	t.Parallel()
	e := newEnv(t, store.SQLite)
	e.tenant("acme")
	e.project("acme", "shop")
	e.operator("admin@acme.example", rbac.RoleTenantAdmin, "acme")
	c := e.login("admin@acme.example")

	short := httptest.NewUnstartedServer(e.a.HTTP())
	short.Config.WriteTimeout = time.Millisecond
	short.Start()
	t.Cleanup(short.Close)
	viaShort := *e
	viaShort.url = short.URL
	sc := *c
	sc.e = &viaShort

	const rows = 300
	var b strings.Builder
	b.WriteString("email,password\n")
	for i := range rows {
		fmt.Fprintf(&b, "user%03d@example.com,password-%03d\n", i, i)
	}
	res, body := sc.do("POST", "/api/v1/projects/shop/users/import", b.String())
	if res.StatusCode != http.StatusOK {
		t.Fatalf("import: %d %s", res.StatusCode, body)
	}
	var rep admin.ImportReport
	if err := json.Unmarshal(body, &rep); err != nil {
		t.Fatalf("import report: %v: %s", err, body)
	}
	if rep.Created != rows || rep.Failed != 0 {
		t.Fatalf("import report: created %d, failed %d; want %d, 0", rep.Created, rep.Failed, rows)
	}

	// The console form takes the same path.
	b.Reset()
	b.WriteString("email,password\n")
	for i := range rows {
		fmt.Fprintf(&b, "form%03d@example.com,password-%03d\n", i, i)
	}
	res, body = sc.upload("/console/projects/shop/users/import", "file", "users.csv", b.String())
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), fmt.Sprintf("%d created", rows)) {
		t.Fatalf("console import: %d %s", res.StatusCode, truncateBody(body))
	}
}

// upload posts one file as multipart/form-data, as the console's form does.
func (c *client) upload(path, field, name, content string) (*http.Response, []byte) {
	c.e.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, err := mw.CreateFormFile(field, name)
	if err != nil {
		c.e.t.Fatal(err)
	}
	_, _ = io.WriteString(fw, content)
	if err := mw.Close(); err != nil {
		c.e.t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, c.e.url+path, &buf)
	if err != nil {
		c.e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.AddCookie(c.cookie)
	req.Header.Set("X-CSRF-Token", c.csrf)
	res, err := c.hc.Do(req)
	if err != nil {
		c.e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

func truncateBody(b []byte) string {
	if len(b) > 400 {
		return string(b[:400]) + "…"
	}
	return string(b)
}
