package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// consoleLogin signs the admin into the agent console and waits until the
// console's socket has made the agent online.
func consoleLogin(t *testing.T, ctx context.Context, s *Server) (token string) {
	t.Helper()
	do(t, ctx, chromedp.Navigate(s.URL+"/console"))
	waitJS(t, ctx, "login form", 10*time.Second, `!!document.getElementById('login-email')`)
	eval[bool](t, ctx, fmt.Sprintf(`(() => { document.getElementById('login-email').value = %q; document.getElementById('login-password').value = %q;
		document.querySelector('form.login-card').requestSubmit(); return true; })()`, s.AdminEmail, s.AdminPassword))
	waitJS(t, ctx, "console", 15*time.Second, `!!document.querySelector('.console .nav-item.active')`)
	_, b := call(t, "POST", s.URL+"/v1/auth/login", "", map[string]string{"email": s.AdminEmail, "password": s.AdminPassword})
	var l struct {
		Token string `json:"token"`
	}
	json.Unmarshal(b, &l)
	checkFor(t, 15*time.Second, func() bool {
		_, b := call(t, "GET", s.URL+"/v1/agent/users", l.Token, nil)
		var r struct {
			Users []struct {
				Email, Presence string
			} `json:"users"`
		}
		json.Unmarshal(b, &r)
		for _, u := range r.Users {
			if u.Email == s.AdminEmail && u.Presence == "online" {
				return true
			}
		}
		return false
	})
	return l.Token
}

// clickButton clicks the console button whose text contains label.
func clickButton(t *testing.T, ctx context.Context, label string) {
	t.Helper()
	ok := eval[bool](t, ctx, fmt.Sprintf(`(() => { const b = [...document.querySelectorAll('button')].find((b) => b.textContent.includes(%q)); if (!b) return false; b.click(); return true; })()`, label))
	if !ok {
		t.Fatalf("no button %q", label)
	}
}

// TestHandoffTwoBrowsers: a visitor and an agent in separate browsers. The
// agent takes over while the bot is streaming (the bot stops at once),
// replies (the reply appears in the widget), hands back, and the bot's
// next answer has the agent's reply in its context. Then a second visitor
// asks for a human and the agent sees the conversation arrive.
func TestHandoffTwoBrowsers(t *testing.T) {
	s := MustRunServer(t, slowStream...)
	agent := MustBrowser(t)
	token := consoleLogin(t, agent, s)

	visitorCtx := MustBrowser(t)
	openWidget(t, visitorCtx, s)
	sendWidget(t, visitorCtx, "Tell me about your plans.")
	waitJS(t, visitorCtx, "bot streaming", 20*time.Second, `(() => { const m = [...`+W+`.querySelectorAll('.msg.bot[data-id]')].pop();
		return !!m && m.dataset.state === 'streaming' && m.querySelector('.bubble').textContent.length > 10; })()`)

	// The agent finds the conversation with the AI assistant and watches the bot stream.
	eval[bool](t, agent, `document.querySelectorAll('.nav-item')[2].click(), true`)
	waitJS(t, agent, "conversation with the bot", 15*time.Second, `!!document.querySelector('.conv-item')`)
	eval[bool](t, agent, `document.querySelector('.conv-item').click(), true`)
	waitJS(t, agent, "bot streaming in the console", 15*time.Second, `!!document.querySelector('.cmsg.bot.streaming')`)
	if id, state, _ := answer(t, visitorCtx); state != "streaming" {
		t.Fatalf("bot answer %s is %q before the takeover; the stream is too fast for this test", id, state)
	}

	clickButton(t, agent, "Take over")
	waitJS(t, visitorCtx, "bot answer stopped by the takeover", 15*time.Second, `(() => { const m = [...`+W+`.querySelectorAll('.msg.bot[data-id]')].pop(); return !!m && m.dataset.state === 'cancelled'; })()`)
	botID, _, botText := answer(t, visitorCtx)
	checkShownOnce(t, visitorCtx, botID, botText, "cancelled") // nothing after the takeover

	const reply = "Hi, I am Ana from support. Our Pro plan includes priority help."
	js, _ := json.Marshal(reply)
	eval[bool](t, agent, `(() => { const ta = document.querySelector('.reply-input'); ta.value = `+string(js)+`; ta.dispatchEvent(new Event('input'));
		document.querySelector('.composer .btn.primary').click(); return true; })()`)
	waitJS(t, visitorCtx, "agent reply in the widget", 15*time.Second, `[...`+W+`.querySelectorAll('.msg.agent .bubble')].some((b) => b.textContent.includes('Ana from support'))`)
	if _, _, again := answer(t, visitorCtx); again != botText {
		t.Fatalf("the bot's answer changed after the takeover: %q -> %q", botText, again)
	}

	clickButton(t, agent, "Hand back")
	_, convs := call(t, "GET", s.URL+"/v1/agent/conversations?status=bot", token, nil)
	var list struct {
		Conversations []struct {
			ID    string `json:"id"`
			Owner string `json:"owner"`
		} `json:"conversations"`
	}
	checkFor(t, 15*time.Second, func() bool {
		_, convs = call(t, "GET", s.URL+"/v1/agent/conversations?status=bot", token, nil)
		json.Unmarshal(convs, &list)
		return len(list.Conversations) == 1 && list.Conversations[0].Owner == "bot"
	})

	sendWidget(t, visitorCtx, "Thanks! Which plan should I pick?")
	waitJS(t, visitorCtx, "the bot answers again", 40*time.Second, `(() => { const m = [...`+W+`.querySelectorAll('.msg.bot[data-id]')].pop();
		return !!m && m.dataset.id !== `+fmt.Sprintf("%q", botID)+` && m.dataset.state === 'complete'; })()`)
	res, err := http.Get(s.SimURL + "/llmsim/requests")
	if err != nil {
		t.Fatal(err)
	}
	var seen []struct {
		Messages []struct{ Role, Text string } `json:"messages"`
	}
	json.NewDecoder(res.Body).Decode(&seen)
	res.Body.Close()
	last := seen[len(seen)-1].Messages
	found := false
	for _, m := range last {
		found = found || (m.Role == "assistant" && m.Text == reply)
	}
	if !found || last[len(last)-1].Text != "Thanks! Which plan should I pick?" {
		t.Fatalf("the bot's context after handback lacks the agent's reply: %+v", last)
	}

	// A second visitor asks for a human: the online agent gets it, live.
	second := MustBrowser(t)
	openWidget(t, second, s)
	sendWidget(t, second, "Hello")
	waitJS(t, second, "first answer", 30*time.Second, `(() => { const m = [...`+W+`.querySelectorAll('.msg.bot[data-id]')].pop(); return !!m && m.dataset.state !== 'streaming'; })()`)
	eval[bool](t, second, W+`.querySelector('.pill').click(), true`)
	waitJS(t, agent, "the new conversation arrives for the agent", 15*time.Second, `document.querySelectorAll('.nav-item')[1].querySelector('.count')?.textContent === '1'`)
	waitJS(t, second, "the visitor sees the agent joined", 15*time.Second, `!`+W+`.querySelector('.subtitle').textContent.includes('AI')`)
}
