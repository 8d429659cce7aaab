package upstream

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"time"
)

// Open posts a streaming request (JSON body, SSE response) and returns
// once the response headers are in. The request runs on a context derived
// from ctx, returned with its cancel, which ends the request. Failures are
// *switchboard.ProviderError (a transport error, or a non-2xx status
// classified by status and body) and leave nothing open.
func Open(ctx context.Context, hc *http.Client, url string, body []byte, header http.Header, provider, model string, now func() time.Time) (context.Context, context.CancelFunc, *http.Response, error) {
	ctx, cancel := context.WithCancel(ctx)
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		cancel()
		return nil, nil, nil, fmt.Errorf("%s: %w", provider, err)
	}
	for k, v := range header {
		hreq.Header[k] = v
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("Accept", "text/event-stream")
	resp, err := hc.Do(hreq)
	if err != nil {
		perr := TransportError(ctx, provider, model, err)
		cancel()
		return nil, nil, nil, perr
	}
	if resp.StatusCode/100 != 2 {
		cancel()
		return nil, nil, nil, HTTPError(provider, model, resp, now())
	}
	return ctx, cancel, resp, nil
}
