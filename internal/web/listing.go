package web

import (
	"net/url"

	"github.com/gin-gonic/gin"

	"github.com/pingstreams/pingauth/internal/adminapi"
	"github.com/pingstreams/pingauth/internal/paging"
)

// consolePage reads a console list's ?limit= and ?cursor= (keyset paging;
// ?offset= refused), as the API does.
func consolePage(g *gin.Context) (paging.Request, error) {
	return adminapi.PageRequest(g)
}

// pageLinks are the "Next page" and "First page" links of a list at path:
// keep holds the list's other query values (search, filters); param is the
// cursor's query name. next is "" on the last page, first "" on the first.
func pageLinks(path string, keep url.Values, param, cursor string, later bool) (next, first string) {
	if cursor != "" {
		q := url.Values{}
		for k, v := range keep {
			q[k] = v
		}
		q.Set(param, cursor)
		next = path + "?" + q.Encode()
	}
	if later {
		first = path
		if len(keep) > 0 {
			first += "?" + keep.Encode()
		}
	}
	return next, first
}
