package adminapi

import (
	"github.com/gin-gonic/gin"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/paging"
)

// pageRequest reads ?limit= and ?cursor= of a list. ?offset= is refused:
// every list pages by keyset.
func pageRequest(g *gin.Context) (paging.Request, error) {
	if _, ok := g.GetQuery("offset"); ok {
		return paging.Request{}, apperr.Invalid("offset", "offset paging was replaced by cursor paging; pass next_cursor as ?cursor=")
	}
	return paging.Parse(g.Query("limit"), g.Query("cursor"))
}
