package adminapi

import (
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/paging"
)

func TestPageRequest(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		query string
		limit int
		field string
	}{
		{"", paging.DefaultLimit, ""},
		{"limit=7&cursor=abc", 7, ""},
		{"limit=0", 0, "limit"},
		{"limit=201", 0, "limit"},
		{"limit=x", 0, "limit"},
		{"offset=0", 0, "offset"},
		{"offset=", 0, "offset"},
		{"limit=5&offset=10", 0, "offset"},
	} {
		g, _ := gin.CreateTestContext(httptest.NewRecorder())
		g.Request = httptest.NewRequest("GET", "/x?"+tc.query, nil)
		r, err := pageRequest(g)
		if tc.field != "" {
			var ae *apperr.Error
			if !errors.As(err, &ae) || ae.Field != tc.field || !errors.Is(err, apperr.ErrInvalid) {
				t.Errorf("%q: err %v, want invalid %s", tc.query, err, tc.field)
			}
			continue
		}
		if err != nil || r.Limit != tc.limit {
			t.Errorf("%q: %+v %v, want limit %d", tc.query, r, err, tc.limit)
		}
	}
}
