package admin

import (
	"cmp"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/audit"
	"github.com/pingstreams/pingauth/internal/enduser"
	"github.com/pingstreams/pingauth/internal/project"
)

// MaxImportRows bounds the data rows of one CSV import.
const MaxImportRows = 1000

// importErrorsNamed is how many row errors the refusal message names (the
// report lists them all).
const importErrorsNamed = 5

// ImportRow is the outcome of one CSV data row.
type ImportRow struct {
	Line       int    `json:"line"`
	ExternalID string `json:"external_id,omitempty"`
	OK         bool   `json:"ok"`
	Error      string `json:"error,omitempty"`
}

// ImportReport summarises a CSV import. An import is all or nothing: either
// every data row was created (Created = Total, Rows lists each one) or the
// import was refused (Refused, Created 0, Rows lists the rows with errors).
type ImportReport struct {
	// Total is the number of data rows read.
	Total   int         `json:"total"`
	Created int         `json:"created"`
	Failed  int         `json:"failed"`
	Refused bool        `json:"refused,omitempty"`
	Rows    []ImportRow `json:"rows"`
}

func (r *ImportReport) fail(line int, externalID, msg string) {
	r.Failed++
	r.Rows = append(r.Rows, ImportRow{Line: line, ExternalID: externalID, Error: msg})
}

var importColumns = map[string]bool{"email": true, "username": true, "external_id": true, "firstname": true,
	"lastname": true, "password": true, "roles": true, "enabled": true}

// importUser is a checked data row waiting to be stored.
type importUser struct {
	line     int
	u        *enduser.User
	password string
}

// ImportUsers reads a CSV with a header row. Known columns: email,
// username, external_id, firstname, lastname, password, roles (separated by
// ';'), enabled (true/false); columns named attr.<name> become custom
// attributes.
//
// The file is checked as a whole first — at most MaxImportRows data rows,
// every row's fields, password policy and deny-lists, emails, usernames and
// external ids that appear twice in the file or belong to an existing
// end-user — and every error is reported with its line. Only a file without
// errors is applied: passwords are hashed in the bounded pool, then all
// rows are stored in one transaction. So an import creates every row or
// none; a refused import returns the report (the rows with errors) together
// with an apperr error (400; 409 when a row was taken meanwhile). An upload
// that cannot be read to its end (cut off, too slow, too large) is refused
// as well. Every import, refused or not, records one enduser.import audit
// event with the counts.
func (s *Service) ImportUsers(ctx context.Context, a Actor, p *project.Project, r io.Reader) (*ImportReport, error) {
	rep := &ImportReport{Rows: []ImportRow{}}
	err := s.importUsers(ctx, p, r, rep)
	details := map[string]any{"total": rep.Total, "created": rep.Created, "failed": rep.Failed, "outcome": "created"}
	if err != nil {
		rep.Created, rep.Refused = 0, true
		details["created"], details["outcome"], details["reason"] = 0, "refused", importReason(err)
	}
	// The audit event is written even when the request was cancelled (the
	// client went away, the server's deadline passed): the refusal is what
	// the operator must be able to find.
	s.record(context.WithoutCancel(ctx), a, audit.Event{TenantID: p.TenantID, ProjectID: p.ID, Action: audit.EndUserImport, Details: details})
	if err != nil {
		return rep, err
	}
	return rep, nil
}

// importReason is the audit event's short, value-free reason of a refusal.
func importReason(err error) string {
	switch {
	case errors.Is(err, errImportRows):
		return "invalid_rows"
	case errors.Is(err, errImportTooMany):
		return "too_many_rows"
	case errors.Is(err, errImportRead):
		return "upload_unreadable"
	case errors.Is(err, errImportHeader):
		return "invalid_header"
	case errors.Is(err, apperr.ErrConflict):
		return "conflict"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "cancelled"
	}
	return "error"
}

// Causes of a refused import (wrapped in the apperr error as its Err).
var (
	errImportRows    = errors.New("import: rows with errors")
	errImportTooMany = errors.New("import: too many rows")
	errImportRead    = errors.New("import: upload unreadable")
	errImportHeader  = errors.New("import: invalid header")
)

func invalidFile(cause error, format string, args ...any) error {
	return &apperr.Error{Kind: apperr.ErrInvalid, Field: "file", Message: fmt.Sprintf(format, args...), Err: cause}
}

func (s *Service) importUsers(ctx context.Context, p *project.Project, r io.Reader, rep *ImportReport) error {
	cr := csv.NewReader(r)
	cr.TrimLeadingSpace = true
	cr.FieldsPerRecord = -1
	cols, err := importHeader(cr)
	if err != nil {
		return err
	}
	rows, err := s.readImportRows(ctx, p, cr, cols, rep)
	if err != nil {
		return err
	}
	if err := s.checkImportTaken(ctx, p, rows, rep); err != nil {
		return err
	}
	if rep.Failed > 0 {
		return refusal(rep)
	}
	users := make([]*enduser.User, 0, len(rows))
	for _, row := range rows {
		if row.password != "" {
			h, err := s.d.Users.HashPassword(ctx, row.password)
			if err != nil {
				return err
			}
			row.u.PasswordHash = h
		}
		users = append(users, row.u)
	}
	if err := s.d.Users.CreateAll(ctx, users); err != nil {
		return err
	}
	for _, row := range rows {
		rep.Rows = append(rep.Rows, ImportRow{Line: row.line, ExternalID: row.u.ExternalID, OK: true})
	}
	rep.Created = len(rows)
	return nil
}

// refusal is the error of a file with row errors: it names the first few.
func refusal(rep *ImportReport) error {
	var b strings.Builder
	for i, row := range rep.Rows {
		if i == importErrorsNamed {
			fmt.Fprintf(&b, "; and %d more", len(rep.Rows)-i)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "line %d: %s", row.Line, row.Error)
	}
	return invalidFile(errImportRows, "nothing was imported: %d of %d rows have errors (%s); fix them and import the whole file again",
		rep.Failed, rep.Total, b.String())
}

// importHeader reads and checks the header row.
func importHeader(cr *csv.Reader) ([]string, error) {
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, invalidFile(errImportHeader, "the CSV file is empty")
	}
	if err != nil {
		var pe *csv.ParseError
		if !errors.As(err, &pe) {
			return nil, invalidFile(fmt.Errorf("%w: %w", errImportRead, err), "the upload could not be read to its end (cut off, too slow or too large); nothing was imported")
		}
		return nil, invalidFile(errImportHeader, "cannot read the CSV header: %v", err)
	}
	cols := make([]string, len(header))
	seen := map[string]bool{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if !importColumns[h] && !strings.HasPrefix(h, "attr.") {
			return nil, invalidFile(errImportHeader, "unknown column %q in the header (allowed: email, username, external_id, firstname, lastname, password, roles, enabled, attr.<name>)", truncate(h, 40))
		}
		if seen[h] {
			return nil, invalidFile(errImportHeader, "column %q appears twice in the header", h)
		}
		seen[h] = true
		cols[i] = h
	}
	if !seen["email"] && !seen["username"] && !seen["external_id"] {
		return nil, invalidFile(errImportHeader, "the header needs at least one of email, username, external_id")
	}
	return cols, nil
}

// readImportRows reads and checks every data row; row errors go to rep.
// Duplicates within the file are reported on the later line.
func (s *Service) readImportRows(ctx context.Context, p *project.Project, cr *csv.Reader, cols []string, rep *ImportReport) ([]*importUser, error) {
	var rows []*importUser
	first := map[string]int{} // "email\x00value" -> line of its first row
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return rows, nil
		}
		var pe *csv.ParseError
		if err != nil && !errors.As(err, &pe) {
			// The upload itself failed (cut off, read deadline, too large).
			return nil, invalidFile(fmt.Errorf("%w: %w", errImportRead, err), "the upload could not be read to its end (cut off, too slow or too large); nothing was imported")
		}
		rep.Total++
		line, _ := cr.FieldPos(0)
		if pe != nil {
			line = pe.StartLine
		}
		if rep.Total > MaxImportRows {
			return nil, invalidFile(errImportTooMany, "at most %d rows per import (line %d is row %d); nothing was imported: split the file", MaxImportRows, line, rep.Total)
		}
		if pe != nil {
			rep.fail(line, "", "malformed CSV: "+pe.Error())
			continue
		}
		if len(rec) != len(cols) {
			rep.fail(line, "", fmt.Sprintf("expected %d fields, found %d", len(cols), len(rec)))
			continue
		}
		in, rowErr := importRow(cols, rec)
		u := in.user(p.ID)
		if rowErr == nil {
			rowErr = s.d.Users.PrepareNew(ctx, u, in.Password)
		}
		if rowErr != nil {
			if !errors.Is(rowErr, apperr.ErrInvalid) {
				return nil, rowErr // not the row's fault (storage down, request cancelled)
			}
			rep.fail(line, firstNonEmpty(in.ExternalID, strings.ToLower(strings.TrimSpace(in.Email)), in.Username), apperr.Message(rowErr))
			continue
		}
		dup := ""
		for _, k := range []struct{ col, v string }{{"email", u.Email}, {"username", u.Username}, {"external_id", u.ExternalID}} {
			if k.v == "" {
				continue
			}
			key := k.col + "\x00" + k.v
			if l, ok := first[key]; ok {
				if dup == "" {
					dup = fmt.Sprintf("%s %q also appears on line %d", k.col, truncate(k.v, 60), l)
				}
				continue
			}
			first[key] = line
		}
		if dup != "" {
			rep.fail(line, u.ExternalID, dup)
			continue
		}
		rows = append(rows, &importUser{line: line, u: u, password: in.Password})
	}
}

// checkImportTaken reports the rows whose email, username or external id
// belongs to an existing end-user of the project.
func (s *Service) checkImportTaken(ctx context.Context, p *project.Project, rows []*importUser, rep *ImportReport) error {
	var emails, usernames, ids []string
	for _, row := range rows {
		if row.u.Email != "" {
			emails = append(emails, row.u.Email)
		}
		if row.u.Username != "" {
			usernames = append(usernames, row.u.Username)
		}
		ids = append(ids, row.u.ExternalID)
	}
	taken, err := s.d.Users.Taken(ctx, p.ID, emails, usernames, ids)
	if err != nil {
		return err
	}
	for _, row := range rows {
		switch {
		case taken.Emails[row.u.Email]:
			rep.fail(row.line, row.u.ExternalID, fmt.Sprintf("an end-user with email %q already exists", truncate(row.u.Email, 60)))
		case taken.Usernames[row.u.Username]:
			rep.fail(row.line, row.u.ExternalID, fmt.Sprintf("an end-user with username %q already exists", truncate(row.u.Username, 60)))
		case taken.ExternalIDs[row.u.ExternalID]:
			rep.fail(row.line, row.u.ExternalID, fmt.Sprintf("an end-user with external_id %q already exists", truncate(row.u.ExternalID, 60)))
		}
	}
	slices.SortStableFunc(rep.Rows, func(a, b ImportRow) int { return cmp.Compare(a.Line, b.Line) })
	return nil
}

func importRow(cols, rec []string) (UserInput, error) {
	in := UserInput{Attributes: map[string]any{}}
	var rowErr error
	for i, col := range cols {
		v := strings.TrimSpace(rec[i])
		switch col {
		case "email":
			in.Email = v
		case "username":
			in.Username = v
		case "external_id":
			in.ExternalID = v
		case "firstname":
			in.Firstname = v
		case "lastname":
			in.Lastname = v
		case "password":
			in.Password = rec[i]
		case "roles":
			in.Roles = SplitList(v, ";")
		case "enabled":
			if v != "" {
				b, err := strconv.ParseBool(v)
				if err != nil {
					rowErr = apperr.Invalid("enabled", "enabled must be true or false, not %q", truncate(v, 20))
				}
				in.Enabled = &b
			}
		default:
			if v != "" {
				in.Attributes[strings.TrimPrefix(col, "attr.")] = v
			}
		}
	}
	return in, rowErr
}
