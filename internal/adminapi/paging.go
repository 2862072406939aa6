package adminapi

import (
	"github.com/gin-gonic/gin"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/paging"
)

// pageRequest reads the keyset page of a list request: ?limit= (1-200,
// default paging.DefaultLimit) and ?cursor= (the next_cursor of the previous
// page). ?offset= is refused with a 400 naming "offset": lists page by
// cursor, never by offset. Errors are apperr.Invalid naming the field.
func pageRequest(g *gin.Context) (paging.Request, error) {
	if _, ok := g.GetQuery("offset"); ok {
		return paging.Request{}, apperr.Invalid("offset", "offset paging was replaced by cursor paging; pass next_cursor as ?cursor=")
	}
	r, err := paging.Parse(g.Query("limit"), g.Query("cursor"))
	if err != nil {
		return paging.Request{}, err
	}
	return r, nil
}

// PageRequest is pageRequest for the console pages (internal/web), which
// page their lists with the same ?limit=/?cursor= and refuse ?offset= alike.
func PageRequest(g *gin.Context) (paging.Request, error) { return pageRequest(g) }
