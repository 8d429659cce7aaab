package llmsim_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/switchboard-chat/switchboard/llmsim"
)

func TestRequestsLog(t *testing.T) {
	sim := llmsim.New(llmsim.Config{Tokens: 2}, nil)
	srv := httptest.NewServer(sim)
	defer srv.Close()
	for _, q := range []string{"first", "second"} {
		body := `{"model":"m","messages":[{"role":"system","content":"sys"},{"role":"user","content":"` + q + `"}]}`
		res, err := http.Post(srv.URL+"/v1/chat/completions", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	res, err := http.Get(srv.URL + "/llmsim/requests")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var seen []llmsim.Seen
	if err := json.NewDecoder(res.Body).Decode(&seen); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 2 || seen[1].Messages[1].Text != "second" || seen[0].Messages[0].Role != "system" || seen[0].Model != "m" {
		t.Fatalf("seen = %+v", seen)
	}
}
